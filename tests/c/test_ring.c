/* SPSC ring buffer: partial writes and reads, wrap-around, counters, bad
 * configs, allocation failure, and a two-thread stress test in which a
 * producer and a consumer move a numbered sample stream through a small ring
 * in random-sized chunks; every sample must arrive exactly once, in order.
 * (Built a second time with ThreadSanitizer as test_ring_tsan when the
 * compiler supports it.) */
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>

#include "offhook/oh_ring.h"
#include "oh_test.h"

static oh_ring *make(size_t capacity)
{
    oh_ring_config cfg;
    oh_ring_config_default(&cfg);
    cfg.capacity = capacity;
    oh_ring *r = NULL;
    CHECK_STATUS(oh_ring_create(&cfg, &r), OH_OK);
    return r;
}

static void test_config(void)
{
    oh_ring_config cfg;
    oh_ring_config_default(&cfg);
    CHECK(cfg.capacity == 4096);
    oh_ring *r = (oh_ring *)&cfg; /* must be overwritten with NULL on failure */
    size_t bad[] = {0, 1, 3, 100, OH_RING_MAX_CAPACITY * 2, OH_RING_MAX_CAPACITY + 1};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cfg.capacity = bad[i];
        CHECK_STATUS(oh_ring_create(&cfg, &r), OH_EINVAL);
        CHECK(r == NULL);
    }
    CHECK_STATUS(oh_ring_create(NULL, &r), OH_EINVAL);
    cfg.capacity = 2;
    CHECK_STATUS(oh_ring_create(&cfg, NULL), OH_EINVAL);
    CHECK_STATUS(oh_ring_create(&cfg, &r), OH_OK);
    CHECK(oh_ring_capacity(r) == 2);
    oh_ring_destroy(r);
    oh_ring_destroy(NULL);
    oh_ring_config_default(&cfg);
    CHECK_CREATE_SURVIVES_ENOMEM(oh_ring_create(&cfg, &r), r, oh_ring_destroy);
}

static void test_single_thread(void)
{
    oh_ring *r = make(8);
    int16_t in[20], out[20];
    for (int i = 0; i < 20; i++)
        in[i] = (int16_t)(i * 1000 - 9000);
    CHECK(oh_ring_available(r) == 0);
    CHECK(oh_ring_space(r) == 8);
    CHECK(oh_ring_read(r, out, 3) == 0); /* underrun of 3 */
    CHECK(oh_ring_write(r, in, 5) == 5);
    CHECK(oh_ring_available(r) == 5 && oh_ring_space(r) == 3);
    CHECK(oh_ring_write(r, in + 5, 6) == 3); /* overrun: 3 of 6 stored */
    CHECK(oh_ring_space(r) == 0 && oh_ring_available(r) == 8);
    CHECK(oh_ring_write(r, in, 1) == 0);     /* overrun: 0 of 1 */
    CHECK(oh_ring_read(r, out, 6) == 6);
    CHECK(memcmp(out, in, 6 * sizeof(int16_t)) == 0);
    CHECK(oh_ring_write(r, in + 8, 5) == 5); /* wraps around the end */
    CHECK(oh_ring_available(r) == 7);
    CHECK(oh_ring_skip(r, 1) == 1);          /* drops in[6] */
    memset(out, 0, sizeof out);
    CHECK(oh_ring_read(r, out, 10) == 6);    /* underrun of 4 */
    CHECK(out[0] == in[7]);
    CHECK(memcmp(out + 1, in + 8, 5 * sizeof(int16_t)) == 0);
    CHECK(oh_ring_skip(r, 4) == 0);
    CHECK(oh_ring_write(r, in, 0) == 0 && oh_ring_read(r, out, 0) == 0);

    oh_ring_stats s;
    oh_ring_get_stats(r, &s);
    CHECK(s.written == 13 && s.read == 13);
    CHECK(s.overruns == 2 && s.dropped == 4);
    CHECK(s.underruns == 2 && s.missing == 7);

    CHECK(oh_ring_write(r, in, 4) == 4);
    oh_ring_reset(r);
    oh_ring_get_stats(r, &s);
    CHECK(oh_ring_available(r) == 0 && oh_ring_space(r) == 8);
    CHECK(s.written == 0 && s.read == 0 && s.overruns == 0 && s.underruns == 0);
    /* the full capacity is usable, over many wraps */
    for (int round = 0; round < 50; round++) {
        for (int i = 0; i < 8; i++)
            in[i] = (int16_t)(round * 8 + i);
        CHECK(oh_ring_write(r, in, 8) == 8);
        CHECK(oh_ring_read(r, out, 8) == 8);
        CHECK(memcmp(in, out, 8 * sizeof(int16_t)) == 0);
        CHECK(oh_ring_write(r, in, 3) == 3 && oh_ring_read(r, out, 3) == 3);
    }
    oh_ring_destroy(r);
}

/* Two threads, a numbered stream: sample k carries (int16)k. */
#define STRESS_SAMPLES 2000000UL

typedef struct stress {
    oh_ring *ring;
    unsigned long long seed;
    unsigned long errors;       /* consumer: samples out of order */
    unsigned long received;
    unsigned long short_writes; /* producer's own count of partial writes */
    unsigned long short_reads;
} stress;

static void *producer(void *arg)
{
    stress *st = arg;
    unsigned long long rng = st->seed;
    int16_t chunk[257];
    unsigned long sent = 0;
    while (sent < STRESS_SAMPLES) {
        size_t n = 1 + (size_t)(oh_test_rand(&rng) % 256);
        if (n > STRESS_SAMPLES - sent)
            n = STRESS_SAMPLES - sent;
        for (size_t i = 0; i < n; i++)
            chunk[i] = (int16_t)(uint16_t)(sent + i);
        size_t done = 0;
        while (done < n) {
            size_t k = oh_ring_write(st->ring, chunk + done, n - done);
            if (k < n - done) {
                st->short_writes++;
                sched_yield();
            }
            done += k;
        }
        sent += n;
    }
    return NULL;
}

static void *consumer(void *arg)
{
    stress *st = arg;
    unsigned long long rng = st->seed ^ 0x9e3779b97f4a7c15ULL;
    int16_t chunk[300];
    while (st->received < STRESS_SAMPLES) {
        size_t n = 1 + (size_t)(oh_test_rand(&rng) % 300);
        size_t k = oh_ring_read(st->ring, chunk, n);
        for (size_t i = 0; i < k; i++)
            if (chunk[i] != (int16_t)(uint16_t)(st->received + i))
                st->errors++;
        st->received += k;
        if (k < n) {
            st->short_reads++;
            sched_yield();
        }
    }
    return NULL;
}

static void test_two_threads(unsigned long long seed, size_t capacity)
{
    stress st;
    memset(&st, 0, sizeof st);
    st.ring = make(capacity);
    st.seed = seed;
    pthread_t p, c;
    CHECK(pthread_create(&c, NULL, consumer, &st) == 0);
    CHECK(pthread_create(&p, NULL, producer, &st) == 0);
    pthread_join(p, NULL);
    pthread_join(c, NULL);
    CHECK(st.errors == 0);
    CHECK(st.received == STRESS_SAMPLES);
    oh_ring_stats s;
    oh_ring_get_stats(st.ring, &s);
    CHECK(s.written == STRESS_SAMPLES && s.read == STRESS_SAMPLES);
    CHECK(s.overruns == st.short_writes);
    CHECK(s.underruns == st.short_reads);
    CHECK(oh_ring_available(st.ring) == 0);
    if (capacity < 256) /* chunks up to 256/300 samples: both sides must have hit the wall */
        CHECK(st.short_writes > 0 && st.short_reads > 0);
    if (st.errors)
        fprintf(stderr, "capacity %zu: %lu samples out of order\n", capacity, st.errors);
    oh_ring_destroy(st.ring);
}

int main(void)
{
    unsigned long long seed = oh_test_seed();
    test_config();
    test_single_thread();
    test_two_threads(seed, 64);   /* smaller than a chunk: constant full/empty */
    test_two_threads(seed + 1, 4096);
    TEST_EXIT();
}
