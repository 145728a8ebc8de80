/* Comfort noise (RFC 3389): the level a payload asks for at every rate and
 * colour, the colour its coefficients ask for, gliding between models,
 * bounded output for any payload, bad arguments and ENOMEM. */
#include <math.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include "offhook/oh_cng.h"
#include "oh_test.h"

#define SECOND 48000

static int16_t pcm[SECOND];

static double level_dbov(const int16_t *x, size_t n)
{
    double e = 0.0;
    for (size_t i = 0; i < n; i++)
        e += (double)x[i] * x[i];
    return -10.0 * log10(e / (double)n / (32767.0 * 32767.0));
}

/* Energy share above a quarter of the sample rate, by first differences:
 * mean square of x[i] - x[i-1] over that of x (2 for white noise, ~0 for a
 * low-passed signal, up to 4 for a high-passed one). */
static double difference_ratio(const int16_t *x, size_t n)
{
    double e = 0.0, d = 0.0;
    for (size_t i = 1; i < n; i++) {
        e += (double)x[i] * x[i];
        double v = (double)x[i] - x[i - 1];
        d += v * v;
    }
    return d / e;
}

static oh_cng *make(int rate)
{
    oh_cng *cng = NULL;
    CHECK_STATUS(oh_cng_create(rate, &cng), OH_OK);
    return cng;
}

static void test_level_at_every_rate_and_colour(void)
{
    static const int rates[] = {8000, 16000, 48000};
    static const uint8_t colours[][5] = {
        {0, 0, 0, 0, 0},         /* level only (length 1 below) */
        {0, 20, 200, 127, 90},   /* low-pass-ish, order 4 */
        {0, 230, 60, 140, 127},  /* high-pass-ish */
    };
    for (size_t r = 0; r < sizeof rates / sizeof *rates; r++) {
        for (size_t c = 0; c < 3; c++) {
            for (int level = 30; level <= 70; level += 20) {
                oh_cng *cng = make(rates[r]);
                uint8_t sid[5];
                memcpy(sid, colours[c], sizeof sid);
                sid[0] = (uint8_t)level;
                CHECK_STATUS(oh_cng_update(cng, sid, c == 0 ? 1 : 5), OH_OK);
                CHECK(oh_cng_active(cng) && oh_cng_level(cng) == level);
                size_t n = (size_t)rates[r];
                oh_cng_generate(cng, pcm, n);
                double got = level_dbov(pcm, n);
                if (fabs(got - level) > 1.0)
                    fprintf(stderr, "rate %d colour %zu level %d: got %.2f\n", rates[r], c, level, got);
                CHECK(fabs(got - level) <= 1.0);
                oh_cng_destroy(cng);
            }
        }
    }
}

static void test_coefficients_colour_the_noise(void)
{
    oh_cng *cng = make(8000);
    const uint8_t white[] = {40};
    const uint8_t low[] = {40, 10};   /* k1 = -0.91: a strong low-pass in A(z) = 1 + k1 z^-1 */
    const uint8_t high[] = {40, 245}; /* k1 = +0.92: high-pass */
    CHECK_STATUS(oh_cng_update(cng, white, sizeof white), OH_OK);
    oh_cng_generate(cng, pcm, 8000);
    double w = difference_ratio(pcm, 8000);
    oh_cng_reset(cng);
    CHECK(!oh_cng_active(cng) && oh_cng_level(cng) == -1);
    CHECK_STATUS(oh_cng_update(cng, low, sizeof low), OH_OK);
    oh_cng_generate(cng, pcm, 8000);
    double l = difference_ratio(pcm, 8000);
    oh_cng_reset(cng);
    CHECK_STATUS(oh_cng_update(cng, high, sizeof high), OH_OK);
    oh_cng_generate(cng, pcm, 8000);
    double h = difference_ratio(pcm, 8000);
    CHECK(w > 1.8 && w < 2.2);
    CHECK(l < 0.5);
    CHECK(h > 3.0);
    oh_cng_destroy(cng);
}

static void test_a_new_model_is_glided_into(void)
{
    oh_cng *cng = make(16000);
    const uint8_t loud[] = {30}, quiet[] = {60};
    CHECK_STATUS(oh_cng_update(cng, loud, 1), OH_OK);
    oh_cng_generate(cng, pcm, 3200);
    CHECK_STATUS(oh_cng_update(cng, quiet, 1), OH_OK);
    /* the first 2.5 ms after the update are still close to the old level,
     * 100 ms later the new level holds */
    oh_cng_generate(cng, pcm, 40);
    CHECK(level_dbov(pcm, 40) < 40.0);
    oh_cng_generate(cng, pcm, 1600);
    oh_cng_generate(cng, pcm, 16000);
    CHECK(fabs(level_dbov(pcm, 16000) - 60.0) <= 1.0);
    /* in pieces of any size: the same stream of samples as in one piece */
    oh_cng *a = make(8000), *b = make(8000);
    const uint8_t sid[] = {45, 100, 150};
    oh_cng_update(a, sid, 3);
    oh_cng_update(b, sid, 3);
    static int16_t one[800], pieces[800];
    oh_cng_generate(a, one, 800);
    for (size_t at = 0; at < 800; at += 160)
        oh_cng_generate(b, pieces + at, 160);
    CHECK(memcmp(one, pieces, sizeof one) == 0);
    oh_cng_destroy(a);
    oh_cng_destroy(b);
    oh_cng_destroy(cng);
}

static void test_any_payload_gives_bounded_noise(void)
{
    unsigned long long state = oh_test_seed();
    oh_cng *cng = make(8000);
    uint8_t sid[40];
    for (int round = 0; round < 500; round++) {
        size_t len = 1 + (size_t)(oh_test_rand(&state) % sizeof sid);
        for (size_t i = 0; i < len; i++)
            sid[i] = (uint8_t)oh_test_rand(&state);
        if (round % 7 == 0)
            memset(sid + 1, 255, len - 1); /* k = +1 everywhere: clamped, still stable */
        CHECK_STATUS(oh_cng_update(cng, sid, len), OH_OK);
        oh_cng_generate(cng, pcm, 160);
        double e = 0.0;
        for (int i = 0; i < 160; i++)
            e += (double)pcm[i] * pcm[i];
        CHECK(isfinite(e));
    }
    /* and the level still follows the payload after all that */
    const uint8_t sid50[] = {50, 127, 127};
    oh_cng_reset(cng);
    oh_cng_update(cng, sid50, 3);
    oh_cng_generate(cng, pcm, 8000);
    CHECK(fabs(level_dbov(pcm, 8000) - 50.0) <= 1.0);
    oh_cng_destroy(cng);
}

static void test_describe_round_trips_level_and_colour(void)
{
    /* noise of a known model, described again by the sender's side */
    static const uint8_t model[][5] = {{52, 20, 200, 127, 90}, {35, 230, 60, 140, 127}, {60, 127, 127, 127, 127}};
    for (size_t m = 0; m < 3; m++) {
        oh_cng *cng = make(8000);
        CHECK_STATUS(oh_cng_update(cng, model[m], 5), OH_OK);
        oh_cng_generate(cng, pcm, 8000);
        uint8_t sid[5];
        CHECK(oh_cng_describe(pcm, 8000, 4, sid) == 5);
        CHECK(abs((int)sid[0] - (int)model[m][0]) <= 1);
        for (int i = 1; i < 5; i++) {
            if (abs((int)sid[i] - (int)model[m][i]) > 8)
                fprintf(stderr, "model %zu coefficient %d: %d, sent %d\n", m, i, sid[i], model[m][i]);
            CHECK(abs((int)sid[i] - (int)model[m][i]) <= 8);
        }
        /* and the noise made from the description sounds like the original */
        oh_cng *again = make(8000);
        CHECK_STATUS(oh_cng_update(again, sid, 5), OH_OK);
        static int16_t copy[8000];
        oh_cng_generate(again, copy, 8000);
        CHECK(fabs(level_dbov(copy, 8000) - level_dbov(pcm, 8000)) <= 1.0);
        CHECK(fabs(difference_ratio(copy, 8000) - difference_ratio(pcm, 8000)) <= 0.15);
        oh_cng_destroy(again);
        oh_cng_destroy(cng);
    }
    /* digital silence and full scale stay in range; order 0 is the level alone */
    uint8_t sid[OH_CNG_MAX_ORDER + 1];
    memset(pcm, 0, 160 * sizeof *pcm);
    CHECK(oh_cng_describe(pcm, 160, 4, sid) == 5 && sid[0] == 127);
    for (int i = 1; i < 5; i++)
        CHECK(sid[i] <= 254);
    for (int i = 0; i < 160; i++)
        pcm[i] = (int16_t)(i % 2 ? 32767 : -32767);
    CHECK(oh_cng_describe(pcm, 160, 99, sid) == OH_CNG_MAX_ORDER + 1 && sid[0] == 0);
    CHECK(oh_cng_describe(pcm, 160, 0, sid) == 1);
}

static void test_bad_arguments_and_enomem(void)
{
    oh_cng *cng = (oh_cng *)pcm;
    CHECK_STATUS(oh_cng_create(7999, &cng), OH_EINVAL);
    CHECK(cng == NULL);
    CHECK_STATUS(oh_cng_create(96000, &cng), OH_EINVAL);
    CHECK_STATUS(oh_cng_create(8000, NULL), OH_EINVAL);
    cng = make(8000);
    CHECK_STATUS(oh_cng_update(cng, NULL, 0), OH_EBADPKT);
    CHECK_STATUS(oh_cng_update(cng, NULL, 3), OH_EINVAL);
    CHECK_STATUS(oh_cng_update(NULL, (const uint8_t *)pcm, 3), OH_EINVAL);
    CHECK(!oh_cng_active(cng));
    pcm[0] = 1234;
    oh_cng_generate(cng, pcm, 10); /* nothing taken yet: silence */
    CHECK(pcm[0] == 0);
    const uint8_t with_top_bit[] = {0x80 | 40};
    CHECK_STATUS(oh_cng_update(cng, with_top_bit, 1), OH_OK);
    CHECK(oh_cng_level(cng) == 40);
    oh_cng_destroy(cng);
    oh_cng_destroy(NULL);
    CHECK_CREATE_SURVIVES_ENOMEM(oh_cng_create(16000, &cng), cng, oh_cng_destroy);
}

int main(void)
{
    test_level_at_every_rate_and_colour();
    test_coefficients_colour_the_noise();
    test_a_new_model_is_glided_into();
    test_any_payload_gives_bounded_noise();
    test_describe_round_trips_level_and_colour();
    test_bad_arguments_and_enomem();
    TEST_EXIT();
}
