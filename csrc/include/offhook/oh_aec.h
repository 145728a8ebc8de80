/* Acoustic echo canceller: removes from the microphone signal ("near") the
 * echo of what the loudspeaker played ("far").
 *
 * Feed it one frame at a time: the far frame is exactly what was handed to
 * the loudspeaker in the same period as the near frame was captured. Echo may
 * arrive up to cfg.max_delay_ms late (device and OS buffering); the canceller
 * finds that bulk delay itself and spends its adaptive filter (cfg.tail_ms
 * long) on the room's response only.
 *
 * With residual echo suppression on (the default), the output is delayed by
 * oh_aec_latency() samples (one 10 ms block: the suppressor's overlap-add);
 * without it there is no added latency.
 *
 * Units: sample_rate in Hz; frame_size in samples per channel (10 or 20 ms);
 * tail and delay in milliseconds. Samples are mono int16.
 *
 * Thread safety: one thread per instance (process, reset and stats must not
 * run concurrently on the same instance). Only create/destroy allocate. */
#ifndef OFFHOOK_OH_AEC_H
#define OFFHOOK_OH_AEC_H

#include <stddef.h>
#include <stdint.h>

#include "offhook/oh_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct oh_aec_config {
    int sample_rate;  /* Hz: 8000, 16000, 32000 or 48000 (default 16000) */
    int frame_size;   /* samples per process() call: 10 or 20 ms (default 160) */
    int tail_ms;      /* adaptive filter length, 64..500 ms (default 128) */
    int max_delay_ms; /* bulk delay searched, 0..500 ms (default 500); 0 disables the search */
    int suppression;  /* nonzero: residual echo suppression + comfort noise (default 1) */
    int comfort_noise;/* nonzero: fill suppressed bins with the near-end noise floor (default 1) */
} oh_aec_config;

typedef struct oh_aec_stats {
    float erle_db;          /* echo return loss enhancement of the output, smoothed over far-end activity */
    float linear_erle_db;   /* the same, for the adaptive filter alone (before suppression) */
    int delay_ms;           /* estimated echo delay: bulk delay + position of the strongest filter part */
    int bulk_delay_ms;      /* bulk delay currently compensated (a multiple of 10 ms) */
    int double_talk;        /* 1 if the last frame was judged double talk (both ends active) */
    int far_active;         /* 1 if the last frame carried far-end signal */
    int converged;          /* 1 while the linear filter removes ~15 dB of echo or more */
    float drift_ppm;        /* clock drift compensated on the far end (ppm; positive: the far end is read faster) */
    uint32_t divergence_resets; /* times the adapting filter was reset to the output filter (or both to zero) */
    uint32_t delay_changes;     /* times the bulk delay was moved */
    uint32_t slips;             /* slips followed (oh_aec_slip: a capture and a playback part count apart) */
    uint64_t frames;            /* frames processed since create/reset */
} oh_aec_stats;

typedef struct oh_aec oh_aec;

void oh_aec_config_default(oh_aec_config *cfg);

/* OH_EINVAL for a NULL argument or a value out of range. */
oh_status oh_aec_create(const oh_aec_config *cfg, oh_aec **out);
void oh_aec_destroy(oh_aec *aec);

/* Forgets everything learned (filters, delay, statistics), as at create. */
void oh_aec_reset(oh_aec *aec);

/* near, far: cfg.frame_size samples each; out: cfg.frame_size samples (may
 * alias near). OH_EINVAL for NULL pointers. Never allocates. */
oh_status oh_aec_process(oh_aec *aec, const int16_t *near, const int16_t *far, int16_t *out);

/* oh_aec_process for a frame whose microphone signal ends after near_valid
 * samples (0..frame_size; the capture ran short). The rest is a gap: every
 * 10 ms block it touches comes out as silence, and nothing is learnt from
 * it; the far frame is taken whole. Follow it with oh_aec_slip by the
 * gap's length (capture) when the missing samples come later. */
oh_status oh_aec_process_partial(oh_aec *aec, const int16_t *near, int near_valid, const int16_t *far,
                                 int16_t *out);

/* Tells the canceller that its two streams slipped against each other, the
 * room unchanged, so that its filter moves with the echo instead of
 * re-adapting. capture: samples the near stream gained (+: a gap filled with
 * silence, whose samples come later) or lost (-: samples discarded to cut
 * latency) after the frame just processed; the echo is that much later
 * (earlier) from the next frame on. playback: the same for what the
 * loudspeaker played against the far frames given (+: silence played in an
 * underrun, -: a far frame never played); it takes effect when that point's
 * echo reaches the microphone. A real change of the echo path is found
 * without this. OH_EINVAL for NULL. Never allocates. */
oh_status oh_aec_slip(oh_aec *aec, int capture, int playback);

void oh_aec_get_stats(const oh_aec *aec, oh_aec_stats *stats);

/* Samples by which the output lags the near input (0 without suppression). */
int oh_aec_latency(const oh_aec *aec);

#ifdef __cplusplus
}
#endif

#endif
