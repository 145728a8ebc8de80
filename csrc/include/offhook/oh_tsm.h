/* Time-scale modification for the playout stage of a jitter buffer:
 * play two frames in the time of one (accelerate) or fill a frame from the
 * audio already played (expand), without clicks and keeping the pitch.
 *
 * Every frame played goes through exactly one of oh_tsm_pass(),
 * oh_tsm_accelerate() or oh_tsm_expand(): the object keeps the recent
 * output to find the pitch and to splice seamlessly.
 *
 * Units: sample rate in Hz; frames of frame_samples mono int16 samples.
 * Thread safety: one thread per instance. Only create/destroy allocate. */
#ifndef OFFHOOK_OH_TSM_H
#define OFFHOOK_OH_TSM_H

#include <stddef.h>
#include <stdint.h>

#include "offhook/oh_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct oh_tsm_config {
    int sample_rate;   /* Hz: 8000, 16000, 32000 or 48000 */
    int frame_samples; /* samples per frame: 10 or 20 ms at sample_rate */
} oh_tsm_config;

typedef struct oh_tsm oh_tsm;

/* 8000 Hz, 160 samples. */
void oh_tsm_config_default(oh_tsm_config *cfg);
oh_status oh_tsm_create(const oh_tsm_config *cfg, oh_tsm **out);
void oh_tsm_destroy(oh_tsm *tsm);
void oh_tsm_reset(oh_tsm *tsm);

/* A frame played as is (decoded or concealed); smoothed in place when it
 * follows an expansion. */
void oh_tsm_pass(oh_tsm *tsm, int16_t *frame);

/* Two consecutive frames in (2 * frame_samples) become one frame out
 * (frame_samples): WSOLA at speed 2, starting where the previous output ended
 * and ending where the next frame begins. in and out may not overlap. */
void oh_tsm_accelerate(oh_tsm *tsm, const int16_t *in, int16_t *out);

/* One frame continuing the audio played so far by repeating its last pitch
 * period (fading out after 60 ms of consecutive expansion). */
void oh_tsm_expand(oh_tsm *tsm, int16_t *out);

#ifdef __cplusplus
}
#endif

#endif
