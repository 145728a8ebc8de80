/* Placeholder until the pitch-repetition concealment lands: silence.
 * (Replaced by the PLC work of the foundation issue.) */
#include "offhook/oh_plc.h"

#include <string.h>

#include "oh_alloc.h"

struct oh_plc {
    int sample_rate;
};

void oh_plc_config_default(oh_plc_config *cfg)
{
    cfg->sample_rate = 8000;
}

oh_status oh_plc_create(const oh_plc_config *cfg, oh_plc **out)
{
    oh_plc *plc = oh_alloc(sizeof *plc);
    if (!plc)
        return OH_ENOMEM;
    plc->sample_rate = cfg->sample_rate;
    *out = plc;
    return OH_OK;
}

void oh_plc_destroy(oh_plc *plc)
{
    oh_free(plc);
}

void oh_plc_reset(oh_plc *plc)
{
    (void)plc;
}

void oh_plc_good(oh_plc *plc, int16_t *pcm, size_t n)
{
    (void)plc;
    (void)pcm;
    (void)n;
}

void oh_plc_conceal(oh_plc *plc, int16_t *pcm, size_t n)
{
    (void)plc;
    memset(pcm, 0, n * sizeof *pcm);
}
