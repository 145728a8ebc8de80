/* Lock-free single-producer/single-consumer ring buffer of int16 samples.
 *
 * Moves audio between a device callback and the media thread: one thread
 * writes (the producer), one other thread reads (the consumer), neither ever
 * waits for the other, allocates, locks or blocks. Writes and reads are
 * partial: a write stores what fits and says how much; a read takes what is
 * there and says how much. A short write is an overrun, a short read an
 * underrun; both are counted (per call and in samples) for the stats.
 *
 * Units: capacity and counts in samples (int16; interleave channels yourself).
 *
 * Thread safety: oh_ring_write and oh_ring_space belong to the producer
 * thread; oh_ring_read, oh_ring_skip and oh_ring_available to the consumer
 * thread (available/space called from the other side are safe too, and give a
 * value that was true at some instant during the call). oh_ring_get_stats may
 * be called from any thread. create, reset and destroy need both sides idle.
 * See csrc/oh_ring.c for the memory-ordering argument. */
#ifndef OFFHOOK_OH_RING_H
#define OFFHOOK_OH_RING_H

#include <stddef.h>
#include <stdint.h>

#include "offhook/oh_status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define OH_RING_MAX_CAPACITY ((size_t)1 << 24) /* samples: 5.8 min at 48 kHz */

typedef struct oh_ring_config {
    size_t capacity; /* samples the ring holds: a power of two, 2..OH_RING_MAX_CAPACITY
                        (default 4096: 256 ms at 16 kHz) */
} oh_ring_config;

typedef struct oh_ring_stats {
    uint64_t written;         /* samples stored */
    uint64_t read;            /* samples handed out or skipped */
    uint64_t overruns;        /* writes that could not store all their samples */
    uint64_t dropped;         /* samples those writes could not store */
    uint64_t underruns;       /* reads that got fewer samples than asked for */
    uint64_t missing;         /* samples those reads lacked */
} oh_ring_stats;

typedef struct oh_ring oh_ring;

void oh_ring_config_default(oh_ring_config *cfg);
/* OH_EINVAL unless capacity is a power of two in range; OH_ENOMEM. */
oh_status oh_ring_create(const oh_ring_config *cfg, oh_ring **out);
void oh_ring_destroy(oh_ring *ring);
/* Empties the ring and zeroes the stats. Neither side may be running. */
void oh_ring_reset(oh_ring *ring);

/* Producer: stores up to n samples of src; returns how many were stored
 * (fewer than n only when the ring is full: an overrun). */
size_t oh_ring_write(oh_ring *ring, const int16_t *src, size_t n);
/* Consumer: moves up to n samples into dst; returns how many (fewer than n
 * only when the ring ran dry: an underrun, which the caller fills). */
size_t oh_ring_read(oh_ring *ring, int16_t *dst, size_t n);
/* Consumer: discards up to n of the oldest samples (to shed latency);
 * returns how many. Not counted as an underrun. */
size_t oh_ring_skip(oh_ring *ring, size_t n);

/* Samples ready to read. */
size_t oh_ring_available(const oh_ring *ring);
/* Samples that can be written without overrun. */
size_t oh_ring_space(const oh_ring *ring);
size_t oh_ring_capacity(const oh_ring *ring);
void oh_ring_get_stats(const oh_ring *ring, oh_ring_stats *stats);

#ifdef __cplusplus
}
#endif

#endif
