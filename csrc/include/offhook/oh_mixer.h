/* Conference mixer: N participants, each hears everyone but itself.
 *
 * Driven by the caller's clock: every tick the caller puts one frame per
 * participant that has audio (oh_mixer_put), calls oh_mixer_mix once, then
 * takes each participant's output (oh_mixer_output or oh_mixer_get). A
 * participant that was not put this tick, or whose frame is all zeros, is
 * silent: it adds nothing and costs nothing beyond sharing the common mix.
 * Each output goes through a memoryless soft limiter (see csrc/oh_mixer.c):
 * bit-exact below the threshold, never beyond full scale, no wrap-around.
 *
 * Units: sample_rate in Hz; frame_size in samples per tick (10 or 20 ms);
 * gains linear (1.0 = unchanged, 0..OH_MIXER_MAX_GAIN); threshold in dBFS.
 * Participant ids are the caller's (e.g. a stream id), any uint32.
 *
 * Thread safety: one thread per instance (the media thread); no call
 * allocates, locks or blocks except create/destroy, so all of them are safe
 * on the media thread. Cost of a mix: linear in the participants that spoke. */
#ifndef OFFHOOK_OH_MIXER_H
#define OFFHOOK_OH_MIXER_H

#include <stddef.h>
#include <stdint.h>

#include "offhook/oh_status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define OH_MIXER_MAX_PARTICIPANTS 4096
#define OH_MIXER_MAX_GAIN 16.0 /* +24 dB */

typedef struct oh_mixer_config {
    int sample_rate;               /* 8000, 16000, 32000 or 48000 Hz */
    int frame_size;                /* samples per tick: 10 or 20 ms at sample_rate */
    int max_participants;          /* capacity, 1..OH_MIXER_MAX_PARTICIPANTS (default 64) */
    double limiter_threshold_dbfs; /* the soft knee starts here, -24..-1 (default -6) */
} oh_mixer_config;

typedef struct oh_mixer oh_mixer;

void oh_mixer_config_default(oh_mixer_config *cfg);
oh_status oh_mixer_create(const oh_mixer_config *cfg, oh_mixer **out);
void oh_mixer_destroy(oh_mixer *m);
/* Forgets inputs put this tick and the last outputs (zeros); participants,
 * gains and mutes stay. */
void oh_mixer_reset(oh_mixer *m);

/* OH_ESTATE if id is already in, OH_EBUFSIZE when full, OH_EINVAL for a gain
 * outside 0..OH_MIXER_MAX_GAIN (or NaN). Its output reads as silence until
 * the next mix. */
oh_status oh_mixer_add(oh_mixer *m, uint32_t id, double gain);
/* OH_EINVAL if id is not in the mixer (as for every call taking an id). */
oh_status oh_mixer_remove(oh_mixer *m, uint32_t id);
oh_status oh_mixer_set_gain(oh_mixer *m, uint32_t id, double gain);
/* A muted participant is not heard by others; it still hears them. */
oh_status oh_mixer_set_mute(oh_mixer *m, uint32_t id, int muted);
/* 1 if id is in the mixer, else 0. gain and muted may be NULL. */
int oh_mixer_find(const oh_mixer *m, uint32_t id, double *gain, int *muted);
/* Participants in the mixer. */
int oh_mixer_count(const oh_mixer *m);
/* Copies up to cap ids (in no particular order) to ids; returns the count. */
int oh_mixer_ids(const oh_mixer *m, uint32_t *ids, size_t cap);

/* Copies id's frame (frame_size samples) for the next mix. Putting twice in
 * one tick replaces the first frame. */
oh_status oh_mixer_put(oh_mixer *m, uint32_t id, const int16_t *frame);
/* Mixes the frames put since the last mix, then forgets them. */
oh_status oh_mixer_mix(oh_mixer *m);
/* id's output of the last mix (frame_size samples), valid until the next
 * mix, add, remove or reset; NULL for an unknown id. */
const int16_t *oh_mixer_output(const oh_mixer *m, uint32_t id);
/* Copies id's output of the last mix to out (frame_size samples). */
oh_status oh_mixer_get(const oh_mixer *m, uint32_t id, int16_t *out);

int oh_mixer_frame_size(const oh_mixer *m);

#ifdef __cplusplus
}
#endif

#endif
