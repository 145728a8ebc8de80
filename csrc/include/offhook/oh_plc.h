/* Packet loss concealment on decoded PCM, for codecs that have none of their
 * own (G.711, G.722): pitch-synchronous waveform repetition in the spirit of
 * ITU-T G.711 Appendix I.
 *
 * Feed every decoded frame through oh_plc_good() (it keeps the history and,
 * on the first frame after a loss, cross-fades out of the concealment); call
 * oh_plc_conceal() for each lost frame.
 *
 * Thread safety: one thread per instance. Only create/destroy allocate. */
#ifndef OFFHOOK_OH_PLC_H
#define OFFHOOK_OH_PLC_H

#include <stddef.h>
#include <stdint.h>

#include "offhook/oh_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct oh_plc_config {
    int sample_rate; /* Hz: 8000, 16000, 32000 or 48000 */
} oh_plc_config;

typedef struct oh_plc oh_plc;

void oh_plc_config_default(oh_plc_config *cfg);
oh_status oh_plc_create(const oh_plc_config *cfg, oh_plc **out);
void oh_plc_destroy(oh_plc *plc);
void oh_plc_reset(oh_plc *plc);

/* Records n good samples; if they follow concealment, smooths them in place. */
void oh_plc_good(oh_plc *plc, int16_t *pcm, size_t n);

/* Writes n samples of concealment. Long losses fade to silence. */
void oh_plc_conceal(oh_plc *plc, int16_t *pcm, size_t n);

#ifdef __cplusplus
}
#endif

#endif
