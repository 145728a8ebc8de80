/* Minimal test harness for the C tests: CHECK records a failure and goes on,
 * the exit status says whether anything failed. Randomised tests print the
 * seed they used (OH_TEST_SEED overrides it), so a failure can be replayed. */
#ifndef OFFHOOK_TEST_H
#define OFFHOOK_TEST_H

#include <stdio.h>
#include <stdlib.h>

#include "failalloc.h"
#include "offhook/oh_status.h"

static int oh_test_failures;

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            oh_test_failures++;                                                \
        }                                                                      \
    } while (0)

#define CHECK_STATUS(expr, expected)                                           \
    do {                                                                       \
        int got_ = (int)(expr);                                                \
        if (got_ != (int)(expected)) {                                         \
            fprintf(stderr, "%s:%d: %s returned %d (%s), expected %d (%s)\n",  \
                    __FILE__, __LINE__, #expr, got_, oh_strerror(got_),        \
                    (int)(expected), oh_strerror((int)(expected)));            \
            oh_test_failures++;                                                \
        }                                                                      \
    } while (0)

static inline unsigned long oh_test_seed(void)
{
    const char *env = getenv("OH_TEST_SEED");
    unsigned long seed = env ? strtoul(env, NULL, 10) : 12345UL;
    fprintf(stderr, "seed %lu (set OH_TEST_SEED to replay)\n", seed);
    return seed;
}

/* xorshift64*: deterministic, seedable noise for tests. */
static inline unsigned long long oh_test_rand(unsigned long long *state)
{
    unsigned long long x = *state ? *state : 88172645463325252ULL;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 2685821657736338717ULL;
}

/* Calls create() with the 1st, 2nd, ... allocation failing until it succeeds;
 * every failing attempt must return OH_ENOMEM and leave nothing allocated.
 * create returns a status and stores into *obj; destroy frees obj. */
#define CHECK_CREATE_SURVIVES_ENOMEM(create_expr, obj, destroy)                \
    do {                                                                       \
        for (long nth_ = 1; nth_ < 1000; nth_++) {                             \
            long before_ = failalloc_outstanding();                            \
            failalloc_fail_at(nth_);                                           \
            int st_ = (int)(create_expr);                                      \
            failalloc_fail_at(0);                                              \
            if (st_ == OH_OK) {                                                \
                destroy(obj);                                                  \
                CHECK(failalloc_outstanding() == before_);                     \
                break;                                                         \
            }                                                                  \
            CHECK_STATUS(st_, OH_ENOMEM);                                      \
            CHECK(failalloc_outstanding() == before_);                         \
        }                                                                      \
    } while (0)

#define TEST_EXIT()                                                            \
    do {                                                                       \
        if (oh_test_failures)                                                  \
            fprintf(stderr, "%d check(s) failed\n", oh_test_failures);         \
        return oh_test_failures ? EXIT_FAILURE : EXIT_SUCCESS;                 \
    } while (0)

#endif
