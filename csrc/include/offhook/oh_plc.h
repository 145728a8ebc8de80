/* Packet loss concealment on decoded PCM, for codecs that have none of their
 * own (G.711, G.722): pitch-synchronous waveform repetition in the spirit of
 * ITU-T G.711 Appendix I, without algorithmic delay.
 *
 * Feed every decoded frame through oh_plc_good() (it keeps the history and,
 * on the first frame after a loss, cross-fades out of the concealment); call
 * oh_plc_conceal() for each lost frame. Calls may carry any number of samples
 * (n = 0 included); splitting a stretch of audio into calls differently gives
 * the same output. Concealment keeps full level for 10 ms, fades by 20 % per
 * further 10 ms and is silent from 60 ms of loss on.
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

/* Default: 8000 Hz. */
void oh_plc_config_default(oh_plc_config *cfg);
/* OH_EINVAL for a NULL argument or an unsupported rate, OH_ENOMEM; *out is
 * NULL on failure. Memory: about 4 * 48.75 + 55 ms of float samples. */
oh_status oh_plc_create(const oh_plc_config *cfg, oh_plc **out);
/* NULL is allowed. */
void oh_plc_destroy(oh_plc *plc);
/* Forgets the history and any loss in progress. */
void oh_plc_reset(oh_plc *plc);

/* Records n good samples; if they follow concealment, smooths them in place. */
void oh_plc_good(oh_plc *plc, int16_t *pcm, size_t n);

/* Writes n samples of concealment. Long losses fade to silence. */
void oh_plc_conceal(oh_plc *plc, int16_t *pcm, size_t n);

/* Writes n samples of concealment for a gap that the next_n samples in next
 * end (decoded audio that follows the gap: a jitter buffer knows it when a
 * later packet is already there). The past is extrapolated forwards as by
 * oh_plc_conceal, the future backwards by repeating its first pitch period,
 * and the two are cross-faded where they agree best; next is then recorded
 * as played, unchanged (no recovery cross-fade: the gap already ends in it)
 * except for its first settle samples (at most 10 ms): a stateful decoder
 * (ADPCM) that missed the gap needs a few ms to settle, so the repetition
 * is taken from after them and they are cross-faded from it into next.
 * Only the last 20 ms of a longer gap are interpolated. With fewer than
 * about 10 ms of future this conceals and then smooths next in place as
 * oh_plc_good does. */
void oh_plc_conceal_into(oh_plc *plc, int16_t *pcm, size_t n, int16_t *next, size_t next_n, size_t settle);

/* Pitch period (samples) estimated at the start of the latest loss; 0 before
 * the first loss. For tests and statistics. */
int oh_plc_pitch_period(const oh_plc *plc);

#ifdef __cplusplus
}
#endif

#endif
