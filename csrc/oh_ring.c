/* Lock-free SPSC ring buffer of int16 samples.
 *
 * The classic Lamport queue with free-running indices: `head` counts samples
 * ever written, `tail` samples ever read; head - tail (unsigned arithmetic,
 * so wrap-around of size_t is harmless) is the fill level, in 0..capacity,
 * and index & mask is the position in the buffer. Keeping counts rather than
 * positions means a full ring and an empty one are told apart without
 * sacrificing a slot, so all `capacity` samples are usable.
 *
 * Ordering (C11 atomics). Only the producer stores `head`, only the consumer
 * stores `tail`. The producer copies samples in, then publishes them with a
 * release store of `head`; the consumer's acquire load of `head` therefore
 * sees the samples. Symmetrically the consumer copies samples out, then
 * releases the space with a release store of `tail`, and the producer's
 * acquire load of `tail` guarantees the consumer is done with the slots
 * before they are overwritten. Each side reads its own index relaxed (it is
 * the only writer). No read-modify-write operations are needed at all.
 *
 * Each side also keeps a private copy of the other side's index and reloads
 * it only when the copy says the ring looks full (producer) or empty
 * (consumer), so in steady state a call touches the shared cache line of the
 * other side about once per wrap instead of on every call (the idea behind
 * Rigtorp's SPSCQueue and the Linux kernel's kfifo). The two indices sit on
 * separate 64-byte lines so the two cores do not false-share them.
 *
 * Counters are written by one side only (overruns by the producer, underruns
 * by the consumer) and are atomics with relaxed ordering so stats can be read
 * from a third thread without a data race; they are statistics, not
 * synchronisation.
 *
 * Limits: exactly one producer and one consumer thread at a time; both sides
 * must be idle for reset/destroy. There is no blocking wait: the media
 * thread polls on its clock and the device callback must never block. */
#include "offhook/oh_ring.h"

#include <stdatomic.h>
#include <string.h>

#include "oh_alloc.h"

#define LINE 64

#if ATOMIC_LONG_LOCK_FREE != 2 || ATOMIC_LLONG_LOCK_FREE != 2
#error "oh_ring needs lock-free atomic size_t and uint64_t"
#endif

struct oh_ring {
    /* producer's line */
    _Atomic size_t head;
    size_t tail_cache;
    _Atomic uint64_t written, overruns, dropped;
    char pad1[LINE - sizeof(size_t) * 2 - sizeof(uint64_t) * 3];
    /* consumer's line */
    _Atomic size_t tail;
    size_t head_cache;
    _Atomic uint64_t read, underruns, missing;
    char pad2[LINE - sizeof(size_t) * 2 - sizeof(uint64_t) * 3];
    /* read-only after create */
    size_t capacity, mask;
    int16_t *buf;
};

void oh_ring_config_default(oh_ring_config *cfg)
{
    cfg->capacity = 4096;
}

oh_status oh_ring_create(const oh_ring_config *cfg, oh_ring **out)
{
    if (!cfg || !out)
        return OH_EINVAL;
    *out = NULL;
    size_t cap = cfg->capacity;
    if (cap < 2 || cap > OH_RING_MAX_CAPACITY || (cap & (cap - 1)))
        return OH_EINVAL;
    oh_ring *r = oh_alloc(sizeof *r);
    if (!r)
        return OH_ENOMEM;
    r->buf = oh_alloc(cap * sizeof(int16_t));
    if (!r->buf) {
        oh_free(r);
        return OH_ENOMEM;
    }
    r->capacity = cap;
    r->mask = cap - 1;
    oh_ring_reset(r);
    *out = r;
    return OH_OK;
}

void oh_ring_destroy(oh_ring *ring)
{
    if (!ring)
        return;
    oh_free(ring->buf);
    oh_free(ring);
}

void oh_ring_reset(oh_ring *r)
{
    atomic_store(&r->head, 0);
    atomic_store(&r->tail, 0);
    r->tail_cache = 0;
    r->head_cache = 0;
    atomic_store(&r->written, 0);
    atomic_store(&r->overruns, 0);
    atomic_store(&r->dropped, 0);
    atomic_store(&r->read, 0);
    atomic_store(&r->underruns, 0);
    atomic_store(&r->missing, 0);
}

/* A counter only its owning thread updates: no read-modify-write needed. */
static void bump(_Atomic uint64_t *c, uint64_t by)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + by,
                          memory_order_relaxed);
}

size_t oh_ring_write(oh_ring *r, const int16_t *src, size_t n)
{
    size_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    size_t space = r->capacity - (head - r->tail_cache);
    if (space < n) {
        r->tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
        space = r->capacity - (head - r->tail_cache);
    }
    size_t k = n < space ? n : space;
    if (k) {
        size_t at = head & r->mask;
        size_t first = r->capacity - at < k ? r->capacity - at : k;
        memcpy(r->buf + at, src, first * sizeof(int16_t));
        memcpy(r->buf, src + first, (k - first) * sizeof(int16_t));
        atomic_store_explicit(&r->head, head + k, memory_order_release);
        bump(&r->written, k);
    }
    if (k < n) {
        bump(&r->overruns, 1);
        bump(&r->dropped, n - k);
    }
    return k;
}

/* Consumer side: how many samples are readable, refreshing the cached head
 * only when the cache says fewer than `want` are there. */
static size_t readable(oh_ring *r, size_t tail, size_t want)
{
    size_t avail = r->head_cache - tail;
    if (avail < want) {
        r->head_cache = atomic_load_explicit(&r->head, memory_order_acquire);
        avail = r->head_cache - tail;
    }
    return avail;
}

size_t oh_ring_read(oh_ring *r, int16_t *dst, size_t n)
{
    size_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    size_t avail = readable(r, tail, n);
    size_t k = n < avail ? n : avail;
    if (k) {
        size_t at = tail & r->mask;
        size_t first = r->capacity - at < k ? r->capacity - at : k;
        memcpy(dst, r->buf + at, first * sizeof(int16_t));
        memcpy(dst + first, r->buf, (k - first) * sizeof(int16_t));
        atomic_store_explicit(&r->tail, tail + k, memory_order_release);
        bump(&r->read, k);
    }
    if (k < n) {
        bump(&r->underruns, 1);
        bump(&r->missing, n - k);
    }
    return k;
}

size_t oh_ring_skip(oh_ring *r, size_t n)
{
    size_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    size_t avail = readable(r, tail, n);
    size_t k = n < avail ? n : avail;
    if (k) {
        atomic_store_explicit(&r->tail, tail + k, memory_order_release);
        bump(&r->read, k);
    }
    return k;
}

size_t oh_ring_available(const oh_ring *r)
{
    /* tail first: head only grows, so head - tail never underflows */
    size_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
    size_t head = atomic_load_explicit(&r->head, memory_order_acquire);
    size_t used = head - tail;
    return used > r->capacity ? r->capacity : used; /* a third thread may see tail lag */
}

size_t oh_ring_space(const oh_ring *r)
{
    /* head first: tail never passes it, so the difference never exceeds capacity */
    size_t head = atomic_load_explicit(&r->head, memory_order_acquire);
    size_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
    size_t used = head - tail;
    if (used > r->capacity) /* a third thread saw tail pass the head it loaded */
        used = 0;
    return r->capacity - used;
}

size_t oh_ring_capacity(const oh_ring *r)
{
    return r->capacity;
}

void oh_ring_get_stats(const oh_ring *r, oh_ring_stats *s)
{
    s->written = atomic_load_explicit(&r->written, memory_order_relaxed);
    s->read = atomic_load_explicit(&r->read, memory_order_relaxed);
    s->overruns = atomic_load_explicit(&r->overruns, memory_order_relaxed);
    s->dropped = atomic_load_explicit(&r->dropped, memory_order_relaxed);
    s->underruns = atomic_load_explicit(&r->underruns, memory_order_relaxed);
    s->missing = atomic_load_explicit(&r->missing, memory_order_relaxed);
}
