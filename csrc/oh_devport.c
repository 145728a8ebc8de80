/* Device port: two SPSC rings with resampling and channel conversion.
 *
 * The capture side down-mixes each device chunk by averaging its channels
 * (integer division, truncating towards zero), resamples it to the engine
 * rate with the port's own streaming resampler and writes what comes out to
 * the capture ring. The playback side keeps a small FIFO of device-rate
 * samples: when a device block needs more than the FIFO holds, it reads
 * just enough engine samples (ceil(need x down / up)) from the playback
 * ring, zero-filling what the ring lacks, resamples them into the FIFO and
 * hands out the block, copying the mono sample to every channel. Because
 * the resamplers are streaming and the FIFO carries the remainder, the
 * samples do not depend on how the device cuts its stream into blocks.
 *
 * Capture stamps: a second tiny SPSC ring, written by the capture thread
 * after each block, of (end position, time): the ring position just past
 * the block's last stored sample and CLOCK_MONOTONIC when it was stored.
 * The consumer keeps its own read position; after a read it drops stamps
 * that end before it and looks at the first that ends at or after it: the
 * time at which the last sample read arrived. A block stamped after the
 * consumer read its samples (the samples are published before the stamp)
 * gives no time for that read (-1); a full stamp ring drops the newest
 * stamp (counted) and the next one stands in for it, reading a shorter
 * latency by at most one block until the ring drains.
 *
 * Limits: the down-mix is a plain average (no per-channel gains); the
 * playback up-mix copies the same signal to every channel. */
#define _GNU_SOURCE

#include "offhook/oh_devport.h"

#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "offhook/oh_resampler.h"
#include "oh_alloc.h"

typedef struct stamp {
    uint64_t end; /* capture ring position just past the block's last sample */
    int64_t t_ns;
} stamp;

struct oh_devport {
    oh_devport_config cfg;
    oh_ring *cap, *play;
    oh_resampler *rs_cap;   /* device -> engine rate, capture thread */
    oh_resampler *rs_play;  /* engine -> device rate, playback thread */
    int16_t *cap_mono;      /* OH_DEVPORT_CHUNK down-mixed device frames */
    int16_t *cap_eng;       /* one resampled chunk */
    size_t cap_eng_len;
    int16_t *play_eng;      /* engine samples read for one refill */
    size_t play_eng_len;
    int16_t *fifo;          /* device-rate playback samples not yet handed out */
    size_t fifo_len, fifo_cap;
    size_t up, down;        /* device_rate / engine_rate = up / down */

    /* capture stamps: the capture thread writes, the engine thread reads */
    stamp stamps[OH_DEVPORT_STAMPS];
    _Atomic unsigned st_head;         /* next to read (engine) */
    _Atomic unsigned st_tail;         /* next to write (capture) */
    _Atomic unsigned long long st_dropped;
    uint64_t cap_written;             /* capture thread's: samples stored so far */
    uint64_t cap_read;                /* engine thread's: samples read or skipped so far */
};

int64_t oh_devport_now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

void oh_devport_config_default(oh_devport_config *cfg)
{
    cfg->engine_rate = 16000;
    cfg->device_rate = 48000;
    cfg->channels = 1;
    cfg->buffer_ms = 200;
}

static size_t pow2_at_least(size_t n)
{
    size_t p = 2;
    while (p < n)
        p <<= 1;
    return p;
}

void oh_devport_destroy(oh_devport *p)
{
    if (!p)
        return;
    oh_ring_destroy(p->cap);
    oh_ring_destroy(p->play);
    oh_resampler_destroy(p->rs_cap);
    oh_resampler_destroy(p->rs_play);
    oh_free(p->cap_mono);
    oh_free(p->cap_eng);
    oh_free(p->play_eng);
    oh_free(p->fifo);
    oh_free(p);
}

oh_status oh_devport_create(const oh_devport_config *cfg, oh_devport **out)
{
    if (!out)
        return OH_EINVAL;
    *out = NULL;
    if (!cfg)
        return OH_EINVAL;
    int er = cfg->engine_rate, dr = cfg->device_rate;
    if ((er != 8000 && er != 16000 && er != 32000 && er != 48000) || dr < OH_RESAMPLER_MIN_RATE ||
        dr > OH_RESAMPLER_MAX_RATE || cfg->channels < 1 || cfg->channels > OH_DEVPORT_MAX_CHANNELS ||
        cfg->buffer_ms < 10 || cfg->buffer_ms > 10000)
        return OH_EINVAL;
    oh_devport *p = oh_alloc(sizeof *p);
    if (!p)
        return OH_ENOMEM;
    p->cfg = *cfg;
    oh_ring_config rcfg;
    oh_ring_config_default(&rcfg);
    rcfg.capacity = pow2_at_least((size_t)er * (size_t)cfg->buffer_ms / 1000);
    oh_resampler_config scfg;
    oh_resampler_config_default(&scfg);
    scfg.in_rate = dr;
    scfg.out_rate = er;
    scfg.channels = 1;
    oh_status st;
    if ((st = oh_ring_create(&rcfg, &p->cap)) != OH_OK || (st = oh_ring_create(&rcfg, &p->play)) != OH_OK ||
        (st = oh_resampler_create(&scfg, &p->rs_cap)) != OH_OK)
        goto fail;
    scfg.in_rate = er;
    scfg.out_rate = dr;
    if ((st = oh_resampler_create(&scfg, &p->rs_play)) != OH_OK)
        goto fail;
    p->up = (size_t)oh_resampler_up(p->rs_play);
    p->down = (size_t)oh_resampler_down(p->rs_play);
    /* n input frames give at most n x out / in + 1 output frames. */
    p->cap_eng_len = (size_t)OH_DEVPORT_CHUNK * (size_t)er / (size_t)dr + 2;
    p->play_eng_len = p->cap_eng_len;
    p->fifo_cap = (size_t)OH_DEVPORT_CHUNK + p->play_eng_len * (size_t)dr / (size_t)er + 4;
    p->cap_mono = oh_alloc((size_t)OH_DEVPORT_CHUNK * sizeof *p->cap_mono);
    p->cap_eng = oh_alloc(p->cap_eng_len * sizeof *p->cap_eng);
    p->play_eng = oh_alloc(p->play_eng_len * sizeof *p->play_eng);
    p->fifo = oh_alloc(p->fifo_cap * sizeof *p->fifo);
    if (!p->cap_mono || !p->cap_eng || !p->play_eng || !p->fifo) {
        st = OH_ENOMEM;
        goto fail;
    }
    *out = p;
    return OH_OK;
fail:
    oh_devport_destroy(p);
    return st;
}

void oh_devport_reset(oh_devport *p)
{
    oh_ring_reset(p->cap);
    oh_ring_reset(p->play);
    oh_resampler_reset(p->rs_cap);
    oh_resampler_reset(p->rs_play);
    p->fifo_len = 0;
    atomic_store(&p->st_head, 0u);
    atomic_store(&p->st_tail, 0u);
    atomic_store(&p->st_dropped, 0ull);
    p->cap_written = 0;
    p->cap_read = 0;
}

static void push_stamp(oh_devport *p, int64_t t_ns)
{
    unsigned tail = atomic_load_explicit(&p->st_tail, memory_order_relaxed);
    unsigned head = atomic_load_explicit(&p->st_head, memory_order_acquire);
    if (tail - head >= OH_DEVPORT_STAMPS) {
        atomic_fetch_add_explicit(&p->st_dropped, 1, memory_order_relaxed);
        return;
    }
    p->stamps[tail % OH_DEVPORT_STAMPS] = (stamp){.end = p->cap_written, .t_ns = t_ns};
    atomic_store_explicit(&p->st_tail, tail + 1, memory_order_release);
}

size_t oh_devport_push_capture_at(oh_devport *p, const int16_t *block, size_t frames, int64_t t_ns)
{
    if (!p || (!block && frames))
        return 0;
    size_t ch = (size_t)p->cfg.channels, done = 0, stored = 0;
    while (done < frames) {
        size_t k = frames - done;
        if (k > OH_DEVPORT_CHUNK)
            k = OH_DEVPORT_CHUNK;
        const int16_t *src = block + done * ch;
        if (ch == 1) {
            memcpy(p->cap_mono, src, k * sizeof *src);
        } else {
            for (size_t i = 0; i < k; i++) {
                int32_t acc = 0;
                for (size_t c = 0; c < ch; c++)
                    acc += src[i * ch + c];
                p->cap_mono[i] = (int16_t)(acc / (int32_t)ch);
            }
        }
        int got = oh_resampler_process(p->rs_cap, p->cap_mono, k, p->cap_eng, p->cap_eng_len);
        if (got > 0)
            stored += oh_ring_write(p->cap, p->cap_eng, (size_t)got);
        done += k;
    }
    if (stored) {
        p->cap_written += stored;
        push_stamp(p, t_ns);
    }
    return stored;
}

size_t oh_devport_push_capture(oh_devport *p, const int16_t *block, size_t frames)
{
    return oh_devport_push_capture_at(p, block, frames, oh_devport_now_ns());
}

size_t oh_devport_pull_playback(oh_devport *p, int16_t *block, size_t frames)
{
    if (!p || (!block && frames))
        return 0;
    size_t ch = (size_t)p->cfg.channels, done = 0;
    while (done < frames) {
        size_t k = frames - done;
        if (k > OH_DEVPORT_CHUNK)
            k = OH_DEVPORT_CHUNK;
        while (p->fifo_len < k) {
            size_t need = k - p->fifo_len;
            size_t want = (need * p->down + p->up - 1) / p->up;
            if (want > p->play_eng_len - 1)
                want = p->play_eng_len - 1;
            if (want < 1)
                want = 1;
            size_t got = oh_ring_read(p->play, p->play_eng, want);
            if (got < want) /* underrun: the gap is played as silence */
                memset(p->play_eng + got, 0, (want - got) * sizeof *p->play_eng);
            int out = oh_resampler_process(p->rs_play, p->play_eng, want, p->fifo + p->fifo_len,
                                           p->fifo_cap - p->fifo_len);
            if (out < 0) { /* not reached with the bounds above; play silence */
                memset(p->fifo + p->fifo_len, 0, need * sizeof *p->fifo);
                out = (int)need;
            }
            p->fifo_len += (size_t)out;
        }
        int16_t *dst = block + done * ch;
        if (ch == 1) {
            memcpy(dst, p->fifo, k * sizeof *dst);
        } else {
            for (size_t i = 0; i < k; i++)
                for (size_t c = 0; c < ch; c++)
                    dst[i * ch + c] = p->fifo[i];
        }
        p->fifo_len -= k;
        memmove(p->fifo, p->fifo + k, p->fifo_len * sizeof *p->fifo);
        done += k;
    }
    return frames;
}

/* The arrival time of the sample just before position pos, or -1. */
static int64_t stamp_for(oh_devport *p, uint64_t pos)
{
    unsigned head = atomic_load_explicit(&p->st_head, memory_order_relaxed);
    unsigned tail = atomic_load_explicit(&p->st_tail, memory_order_acquire);
    while (head != tail && p->stamps[head % OH_DEVPORT_STAMPS].end < pos)
        head++;
    int64_t t = -1;
    if (head != tail) {
        t = p->stamps[head % OH_DEVPORT_STAMPS].t_ns;
        if (p->stamps[head % OH_DEVPORT_STAMPS].end == pos)
            head++; /* all of that block has been read */
    }
    atomic_store_explicit(&p->st_head, head, memory_order_release);
    return t;
}

size_t oh_devport_pull_capture_stamped(oh_devport *p, int16_t *dst, size_t n, int64_t *t_ns)
{
    if (t_ns)
        *t_ns = -1;
    if (!p || (!dst && n))
        return 0;
    size_t got = oh_ring_read(p->cap, dst, n);
    if (got < n)
        memset(dst + got, 0, (n - got) * sizeof *dst);
    p->cap_read += got;
    if (got) {
        int64_t t = stamp_for(p, p->cap_read);
        if (t_ns)
            *t_ns = t;
    }
    return got;
}

size_t oh_devport_pull_capture(oh_devport *p, int16_t *dst, size_t n)
{
    return oh_devport_pull_capture_stamped(p, dst, n, NULL);
}

size_t oh_devport_skip_capture(oh_devport *p, size_t n)
{
    if (!p)
        return 0;
    size_t k = oh_ring_skip(p->cap, n);
    p->cap_read += k;
    return k;
}

size_t oh_devport_push_playback(oh_devport *p, const int16_t *pcm, size_t n)
{
    if (!p || (!pcm && n))
        return 0;
    return oh_ring_write(p->play, pcm, n);
}

size_t oh_devport_capture_available(const oh_devport *p)
{
    return oh_ring_available(p->cap);
}

size_t oh_devport_playback_queued(const oh_devport *p)
{
    return oh_ring_available(p->play);
}

size_t oh_devport_capacity(const oh_devport *p)
{
    return oh_ring_capacity(p->cap);
}

int oh_devport_engine_rate(const oh_devport *p)
{
    return p->cfg.engine_rate;
}

void oh_devport_latency(const oh_devport *p, int *capture, int *playback)
{
    if (capture)
        *capture = oh_resampler_latency(p->rs_cap);
    if (playback)
        *playback = oh_resampler_latency(p->rs_play) * p->cfg.engine_rate / p->cfg.device_rate;
}

void oh_devport_get_stats(const oh_devport *p, oh_devport_stats *stats)
{
    memset(stats, 0, sizeof *stats);
    oh_ring_get_stats(p->cap, &stats->capture);
    oh_ring_get_stats(p->play, &stats->playback);
    stats->stamps_dropped = atomic_load_explicit(&p->st_dropped, memory_order_relaxed);
}

oh_ring *oh_devport_capture_ring(oh_devport *p)
{
    return p->cap;
}

oh_ring *oh_devport_playback_ring(oh_devport *p)
{
    return p->play;
}
