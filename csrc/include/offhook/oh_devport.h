/* Device port: the hand-over point between a sound device and the engine.
 *
 * Two lock-free SPSC rings (oh_ring) of mono int16 at the engine's rate,
 * with a resampler and channel conversion on each device side:
 *
 *   capture:  device callback -> push_capture(interleaved block)
 *             -> down-mix (average of the channels) -> resample -> ring
 *             -> pull_capture(n) -> engine
 *   playback: engine -> push_playback(mono) -> ring -> resample
 *             -> up-mix (copied to every channel) -> pull_playback(block)
 *             -> device callback
 *
 * A short write (ring full) is an overrun, a short read (ring empty) an
 * underrun: the rings count both, and the missing samples are zeros. Device
 * blocks of any length are cut into chunks of OH_DEVPORT_CHUNK frames, so
 * cutting a device stream into other blocks gives the same samples.
 *
 * Latency stamps: push_capture notes, for each block, the CLOCK_MONOTONIC
 * time at which its last sample entered the ring; pull_capture_stamped
 * tells the consumer when the last sample it read arrived (the instant the
 * frame became complete), which is how the engine measures what it adds
 * between the capture ring and the RTP packet.
 *
 * Units: rates in Hz; frames are per-channel samples at the device rate;
 * engine-side counts are mono samples at the engine rate; times in ns.
 *
 * Thread safety: push_capture belongs to the capture device's thread,
 * pull_playback to the playback device's thread, pull_capture(_stamped),
 * skip_capture and push_playback to the engine's thread (one thread each;
 * the two device sides may be the same thread). capture_available,
 * playback_queued, capacity and get_stats may be called from any thread.
 * create, reset and destroy need all sides idle. Only create allocates. */
#ifndef OFFHOOK_OH_DEVPORT_H
#define OFFHOOK_OH_DEVPORT_H

#include <stddef.h>
#include <stdint.h>

#include "offhook/oh_ring.h"
#include "offhook/oh_status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define OH_DEVPORT_MAX_CHANNELS 8
#define OH_DEVPORT_CHUNK 4096   /* device frames handled per resampler call */
#define OH_DEVPORT_STAMPS 256   /* capture blocks whose arrival times are kept */

typedef struct oh_devport_config {
    int engine_rate; /* the rings' rate: 8000, 16000, 32000 or 48000 Hz (default 16000) */
    int device_rate; /* the device's rate, OH_RESAMPLER_MIN_RATE..MAX_RATE (default 48000) */
    int channels;    /* interleaved channels of device blocks, 1..OH_DEVPORT_MAX_CHANNELS (default 1) */
    int buffer_ms;   /* each ring's capacity, 10..10000 ms, rounded up to a power of two
                        of samples (default 200) */
} oh_devport_config;

typedef struct oh_devport_stats {
    oh_ring_stats capture;  /* device -> engine */
    oh_ring_stats playback; /* engine -> device */
    uint64_t stamps_dropped; /* capture blocks whose arrival time could not be kept */
} oh_devport_stats;

typedef struct oh_devport oh_devport;

void oh_devport_config_default(oh_devport_config *cfg);
/* OH_EINVAL for a value out of range or NULL; OH_EUNSUPPORTED when no
 * resampler exists for the rate pair; OH_ENOMEM. */
oh_status oh_devport_create(const oh_devport_config *cfg, oh_devport **out);
void oh_devport_destroy(oh_devport *p);
/* Empties both rings, zeroes the counters, resampler histories and stamps. */
void oh_devport_reset(oh_devport *p);

/* Device side (capture thread): frames x channels interleaved samples.
 * Returns the engine-rate samples stored (fewer than produced: overrun). */
size_t oh_devport_push_capture(oh_devport *p, const int16_t *block, size_t frames);
/* The same with the block's arrival time given (ns on CLOCK_MONOTONIC, as
 * oh_devport_now_ns), for callers that time-stamp blocks themselves. */
size_t oh_devport_push_capture_at(oh_devport *p, const int16_t *block, size_t frames, int64_t t_ns);
/* Device side (playback thread): fills frames x channels interleaved
 * samples; what the engine has not supplied is silence. Returns frames. */
size_t oh_devport_pull_playback(oh_devport *p, int16_t *block, size_t frames);

/* Engine side: n mono samples; the missing ones (underrun) are zeros.
 * Returns the samples actually read from the ring. */
size_t oh_devport_pull_capture(oh_devport *p, int16_t *dst, size_t n);
/* The same, and *t_ns gets the arrival time of the last sample read, or -1
 * when unknown (nothing read, or its stamp was dropped). */
size_t oh_devport_pull_capture_stamped(oh_devport *p, int16_t *dst, size_t n, int64_t *t_ns);
/* Engine side: discards up to n of the oldest captured samples (to shed
 * latency when the device delivers faster than the engine reads). */
size_t oh_devport_skip_capture(oh_devport *p, size_t n);
/* Engine side: queues n mono samples; returns how many were stored. */
size_t oh_devport_push_playback(oh_devport *p, const int16_t *pcm, size_t n);

size_t oh_devport_capture_available(const oh_devport *p);
size_t oh_devport_playback_queued(const oh_devport *p);
size_t oh_devport_capacity(const oh_devport *p);
int oh_devport_engine_rate(const oh_devport *p);
/* Group delays of the capture and playback resamplers, in engine-rate samples. */
void oh_devport_latency(const oh_devport *p, int *capture, int *playback);
void oh_devport_get_stats(const oh_devport *p, oh_devport_stats *stats);
/* The rings themselves (valid while the port lives), for a consumer that
 * moves samples without the port's calls. */
oh_ring *oh_devport_capture_ring(oh_devport *p);
oh_ring *oh_devport_playback_ring(oh_devport *p);

/* CLOCK_MONOTONIC in ns: the clock of the capture stamps. */
int64_t oh_devport_now_ns(void);

#ifdef __cplusplus
}
#endif

#endif
