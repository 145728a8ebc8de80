/* Device port: bad configs, allocation failure, bit-exactness against one
 * resampler call whatever the block cutting, down-mix/up-mix, underrun and
 * overrun accounting, capture stamps, and a three-thread test (capture
 * callback, playback callback, engine) moving numbered streams through the
 * rings at equal rates: every sample arrives once, in order. (Built a second
 * time with ThreadSanitizer as test_devport_tsan where supported.) */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "offhook/oh_devport.h"
#include "offhook/oh_resampler.h"
#include "oh_test.h"

static oh_devport *make(int er, int dr, int ch, int ms)
{
    oh_devport_config cfg;
    oh_devport_config_default(&cfg);
    cfg.engine_rate = er;
    cfg.device_rate = dr;
    cfg.channels = ch;
    cfg.buffer_ms = ms;
    oh_devport *p = NULL;
    CHECK_STATUS(oh_devport_create(&cfg, &p), OH_OK);
    return p;
}

static void test_config(void)
{
    oh_devport_config cfg;
    oh_devport_config_default(&cfg);
    CHECK(cfg.engine_rate == 16000 && cfg.device_rate == 48000 && cfg.channels == 1 && cfg.buffer_ms == 200);
    oh_devport *p = (oh_devport *)&cfg;
    oh_devport_config bad = cfg;
    bad.engine_rate = 11025;
    CHECK_STATUS(oh_devport_create(&bad, &p), OH_EINVAL);
    CHECK(p == NULL);
    bad = cfg;
    bad.device_rate = 96000;
    CHECK_STATUS(oh_devport_create(&bad, &p), OH_EINVAL);
    bad = cfg;
    bad.channels = 0;
    CHECK_STATUS(oh_devport_create(&bad, &p), OH_EINVAL);
    bad.channels = OH_DEVPORT_MAX_CHANNELS + 1;
    CHECK_STATUS(oh_devport_create(&bad, &p), OH_EINVAL);
    bad = cfg;
    bad.buffer_ms = 9;
    CHECK_STATUS(oh_devport_create(&bad, &p), OH_EINVAL);
    CHECK_STATUS(oh_devport_create(NULL, &p), OH_EINVAL);
    CHECK_STATUS(oh_devport_create(&cfg, NULL), OH_EINVAL);
    oh_devport_destroy(NULL);
    CHECK_CREATE_SURVIVES_ENOMEM(oh_devport_create(&cfg, &p), p, oh_devport_destroy);
    cfg.channels = 2;
    cfg.device_rate = 44100;
    CHECK_CREATE_SURVIVES_ENOMEM(oh_devport_create(&cfg, &p), p, oh_devport_destroy);
}

/* Capture in odd blocks (some longer than a chunk) equals one resampler call. */
static void test_bit_exact(void)
{
    static const int pairs[][2] = {{16000, 48000}, {8000, 44100}, {48000, 22050}, {16000, 16000}};
    unsigned long long rng = oh_test_seed();
    enum { N = 20000 };
    static int16_t x[N], ref[N * 6 + 16], got[N * 6 + 16];
    for (size_t k = 0; k < sizeof pairs / sizeof pairs[0]; k++) {
        int er = pairs[k][0], dr = pairs[k][1];
        for (int i = 0; i < N; i++)
            x[i] = (int16_t)((int)(oh_test_rand(&rng) % 40000) - 20000);
        oh_resampler_config rc;
        oh_resampler_config_default(&rc);
        rc.in_rate = dr;
        rc.out_rate = er;
        oh_resampler *rs = NULL;
        CHECK_STATUS(oh_resampler_create(&rc, &rs), OH_OK);
        int nref = oh_resampler_process(rs, x, N, ref, sizeof ref / sizeof ref[0]);
        oh_resampler_destroy(rs);
        oh_devport *p = make(er, dr, 1, 10000);
        size_t done = 0, stored = 0;
        while (done < N) {
            size_t b = 1 + (size_t)(oh_test_rand(&rng) % 6000);
            if (b > N - done)
                b = N - done;
            stored += oh_devport_push_capture(p, x + done, b);
            done += b;
        }
        CHECK((int)stored == nref);
        CHECK(oh_devport_capture_available(p) == stored);
        CHECK(oh_devport_pull_capture(p, got, stored) == stored);
        CHECK(memcmp(got, ref, stored * sizeof *got) == 0);
        oh_devport_destroy(p);
    }
}

static void test_channels_and_counters(void)
{
    oh_devport *p = make(16000, 16000, 3, 20); /* 320 samples -> a ring of 512 */
    CHECK(oh_devport_capacity(p) == 512);
    int16_t in[3 * 4] = {300, 0, -300, 3, 3, 3, -7, 0, 0, 100, 200, 300};
    CHECK(oh_devport_push_capture(p, in, 4) == 4);
    int16_t mono[8];
    CHECK(oh_devport_pull_capture(p, mono, 6) == 4); /* underrun of 2: zeros */
    CHECK(mono[0] == 0 && mono[1] == 3 && mono[2] == -2 && mono[3] == 200 && mono[4] == 0 && mono[5] == 0);
    int16_t play[4] = {1000, -1000, 5, 6};
    CHECK(oh_devport_push_playback(p, play, 4) == 4);
    CHECK(oh_devport_playback_queued(p) == 4);
    int16_t out[3 * 6];
    CHECK(oh_devport_pull_playback(p, out, 6) == 6);
    CHECK(out[0] == 1000 && out[1] == 1000 && out[2] == 1000 && out[3] == -1000 && out[11] == 6);
    CHECK(out[12] == 0 && out[17] == 0);
    static int16_t big[3 * 1000];
    CHECK(oh_devport_push_capture(p, big, 1000) == 512); /* overrun */
    oh_devport_stats st;
    oh_devport_get_stats(p, &st);
    CHECK(st.capture.underruns == 1 && st.capture.missing == 2);
    CHECK(st.capture.overruns == 1 && st.capture.dropped == 488);
    CHECK(st.playback.underruns >= 1);
    CHECK(oh_devport_skip_capture(p, 500) == 500);
    CHECK(oh_devport_capture_available(p) == 12);
    oh_devport_reset(p);
    oh_devport_get_stats(p, &st);
    CHECK(st.capture.written == 0 && oh_devport_capture_available(p) == 0);
    oh_devport_destroy(p);
}

static void test_stamps(void)
{
    oh_devport *p = make(16000, 16000, 1, 200);
    int16_t blk[160] = {0}, dst[320];
    int64_t t = 0;
    CHECK(oh_devport_pull_capture_stamped(p, dst, 320, &t) == 0 && t == -1);
    oh_devport_push_capture_at(p, blk, 160, 1000);
    oh_devport_push_capture_at(p, blk, 160, 2000);
    oh_devport_push_capture_at(p, blk, 160, 3000);
    CHECK(oh_devport_pull_capture_stamped(p, dst, 100, &t) == 100 && t == 1000);
    CHECK(oh_devport_pull_capture_stamped(p, dst, 220, &t) == 220 && t == 2000); /* ends at 320 */
    CHECK(oh_devport_pull_capture_stamped(p, dst, 1, &t) == 1 && t == 3000);
    CHECK(oh_devport_skip_capture(p, 159) == 159);
    oh_devport_push_capture_at(p, blk, 160, 4000);
    CHECK(oh_devport_pull_capture_stamped(p, dst, 160, &t) == 160 && t == 4000);
    /* A full stamp ring drops the newest stamps, counted. */
    for (int i = 0; i < OH_DEVPORT_STAMPS + 5; i++)
        oh_devport_push_capture_at(p, blk, 1, 5000 + i);
    oh_devport_stats st;
    oh_devport_get_stats(p, &st);
    CHECK(st.stamps_dropped == 5);
    CHECK(oh_devport_now_ns() > 0);
    oh_devport_destroy(p);
}

/* ---- three threads ---- */

enum { TOTAL = 200000 };

typedef struct shared {
    oh_devport *p;
    _Atomic int engine_done;
    int cap_errors, play_errors;
} shared;

static void *capture_thread(void *arg)
{
    shared *s = arg;
    unsigned long long rng = 99;
    int16_t blk[2 * 700];
    int next = 0;
    while (next < TOTAL) {
        size_t n = 1 + (size_t)(oh_test_rand(&rng) % 700);
        if (n > (size_t)(TOTAL - next))
            n = (size_t)(TOTAL - next);
        if (oh_devport_capacity(s->p) - oh_devport_capture_available(s->p) < n) {
            sched_yield();
            continue;
        }
        for (size_t i = 0; i < n; i++)
            blk[2 * i] = blk[2 * i + 1] = (int16_t)(next + (int)i);
        if (oh_devport_push_capture(s->p, blk, n) != n)
            s->cap_errors++;
        next += (int)n;
    }
    return NULL;
}

static void *engine_thread(void *arg)
{
    shared *s = arg;
    int16_t frame[320];
    int expect = 0, sent = 0;
    while (expect < TOTAL || sent < TOTAL) {
        size_t have = oh_devport_capture_available(s->p);
        if (have > 320)
            have = 320;
        if (have) {
            int64_t t;
            size_t got = oh_devport_pull_capture_stamped(s->p, frame, have, &t);
            for (size_t i = 0; i < got; i++)
                if (frame[i] != (int16_t)(expect + (int)i))
                    s->cap_errors++;
            expect += (int)got;
        }
        if (sent < TOTAL && oh_devport_playback_queued(s->p) < 1024) {
            size_t n = 320;
            if (n > (size_t)(TOTAL - sent))
                n = (size_t)(TOTAL - sent);
            for (size_t i = 0; i < n; i++)
                frame[i] = (int16_t)(sent + (int)i);
            sent += (int)oh_devport_push_playback(s->p, frame, n);
        }
        if (!have)
            sched_yield();
    }
    atomic_store(&s->engine_done, 1);
    return NULL;
}

static void *playback_thread(void *arg)
{
    shared *s = arg;
    int16_t blk[2 * 480];
    int expect = 0;
    while (expect < TOTAL) {
        size_t q = oh_devport_playback_queued(s->p);
        if (q == 0) {
            if (atomic_load(&s->engine_done))
                break;
            sched_yield();
            continue;
        }
        size_t n = q < 480 ? q : 480;
        oh_devport_pull_playback(s->p, blk, n);
        for (size_t i = 0; i < n; i++)
            if (blk[2 * i] != (int16_t)(expect + (int)i) || blk[2 * i + 1] != blk[2 * i])
                s->play_errors++;
        expect += (int)n;
    }
    if (expect != TOTAL)
        s->play_errors++;
    return NULL;
}

static void test_threads(void)
{
    shared s = {.p = NULL};
    oh_devport_config cfg;
    oh_devport_config_default(&cfg);
    cfg.engine_rate = cfg.device_rate = 16000;
    cfg.channels = 2;
    cfg.buffer_ms = 100;
    CHECK_STATUS(oh_devport_create(&cfg, &s.p), OH_OK);
    pthread_t a, b, c;
    pthread_create(&a, NULL, capture_thread, &s);
    pthread_create(&b, NULL, engine_thread, &s);
    pthread_create(&c, NULL, playback_thread, &s);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    pthread_join(c, NULL);
    CHECK(s.cap_errors == 0);
    CHECK(s.play_errors == 0);
    oh_devport_destroy(s.p);
}

int main(void)
{
    test_config();
    test_bit_exact();
    test_channels_and_counters();
    test_stamps();
    test_threads();
    TEST_EXIT();
}
