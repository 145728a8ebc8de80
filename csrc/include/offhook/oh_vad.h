/* Voice activity detection for silence suppression (the send side of RFC 3389).
 *
 * oh_vad_process() says, per frame, whether it is worth sending: speech, or
 * the first frames of a pause (the hangover, so that word endings are not
 * clipped). A frame that is not is background noise at about the tracked
 * noise floor, which a comfort-noise description (oh_cng_describe) conveys
 * in a couple of bytes instead of a packet per frame.
 *
 * Units: PCM mono int16, frames of 10 or 20 ms at 8000..48000 Hz; levels in
 * dBov (0 = a full-scale square wave). Thread safety: one thread per
 * instance. Only create/destroy allocate. */
#ifndef OFFHOOK_OH_VAD_H
#define OFFHOOK_OH_VAD_H

#include <stddef.h>
#include <stdint.h>

#include "offhook/oh_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct oh_vad oh_vad;

/* sample_rate 8000..48000 Hz; frame_samples: 10 or 20 ms of it. */
oh_status oh_vad_create(int sample_rate, int frame_samples, oh_vad **out);
void oh_vad_destroy(oh_vad *vad);
void oh_vad_reset(oh_vad *vad);

/* 1: send this frame (speech or hangover), 0: background noise. */
int oh_vad_process(oh_vad *vad, const int16_t *pcm);

/* The tracked background level, dBov (negative; -96 when nothing was seen yet). */
double oh_vad_noise_dbov(const oh_vad *vad);

#ifdef __cplusplus
}
#endif

#endif
