/* Playout (jitter buffer + G.711 decode + concealment + time scaling):
 * exact tick lengths for every status, the decoded audio of in-order
 * packets is bit-exact, reordering is undone, a corrupt-length payload is
 * refused, bad arguments, allocation failure. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "offhook/oh_playout.h"
#include "oh_test.h"

#define N 160

static void make_signal(int16_t *x, int len)
{
    for (int i = 0; i < len; i++)
        x[i] = (int16_t)lrint(7000.0 * sin(2.0 * 3.14159265358979 * 170.0 * i / 8000.0));
}

static void test_in_order_is_bit_exact_and_reorder_is_undone(void)
{
    oh_playout_config cfg;
    oh_playout_config_default(&cfg, OH_CODEC_PCMU);
    oh_playout *pl = NULL;
    CHECK_STATUS(oh_playout_create(&cfg, &pl), OH_OK);
    CHECK(oh_playout_frame_samples(pl) == N);
    oh_codec_config ccfg;
    oh_codec_config_default(&ccfg, OH_CODEC_PCMU);
    oh_codec *enc = NULL, *ref = NULL;
    CHECK_STATUS(oh_codec_create(&ccfg, &enc), OH_OK);
    CHECK_STATUS(oh_codec_create(&ccfg, &ref), OH_OK);

    enum { F = 200 };
    static int16_t sig[F * N], expect[F * N], got[(F + 20) * N];
    static uint8_t pay[F][N];
    make_signal(sig, F * N);
    for (int i = 0; i < F; i++) {
        CHECK_STATUS(oh_codec_encode(enc, sig + i * N, N, pay[i], N), N);
        CHECK_STATUS(oh_codec_decode(ref, pay[i], N, expect + i * N, N), N);
    }
    int first_normal = -1, normal = 0, other = 0, k;
    for (k = 0; k < F + 20; k++) {
        double now = 20.0 * k;
        /* pairs swapped: 1 before 0, 3 before 2, ...; 25 ms of delay */
        for (int i = 0; i < F; i++) {
            double a = 20.0 * i + (i % 2 ? 25.0 : 45.0);
            if (a <= now && a > now - 20.0)
                CHECK_STATUS(oh_playout_put(pl, (uint16_t)(500 + i), 12345u + (uint32_t)i * N, 7, 0,
                                            pay[i], N, a), OH_OK);
        }
        oh_jitter_status st;
        CHECK_STATUS(oh_playout_get(pl, now, got + k * N, N, &st), N);
        if (st == OH_JITTER_NORMAL) {
            if (first_normal < 0)
                first_normal = k;
            normal++;
        } else if (first_normal >= 0 && normal < F) {
            other++;
        }
    }
    CHECK(normal == F);
    CHECK(other == 0);
    if (first_normal >= 0)
        CHECK(memcmp(got + first_normal * N, expect, sizeof expect) == 0);
    oh_jitter_stats stats;
    oh_playout_get_stats(pl, &stats);
    CHECK(stats.received == F && stats.played == F);
    oh_codec_destroy(enc);
    oh_codec_destroy(ref);
    oh_playout_destroy(pl);
}

static void test_every_status_gives_one_tick(void)
{
    /* a backlog (accelerations), a stall (concealment, expansion), then silence */
    oh_playout_config cfg;
    oh_playout_config_default(&cfg, OH_CODEC_PCMA);
    oh_playout *pl = NULL;
    CHECK_STATUS(oh_playout_create(&cfg, &pl), OH_OK);
    uint8_t pay[N];
    memset(pay, 0xD5, sizeof pay);
    int seen[7] = {0};
    int16_t out[N];
    for (int k = 0; k < 200; k++) {
        double now = 20.0 * k;
        if (k == 0)
            for (int i = 0; i < 20; i++)
                CHECK_STATUS(oh_playout_put(pl, (uint16_t)i, (uint32_t)i * N, 1, 0, pay, N, 0.0), OH_OK);
        else if (k < 100 && k + 19 < 100)
            CHECK_STATUS(oh_playout_put(pl, (uint16_t)(k + 19), (uint32_t)(k + 19) * N, 1, 0, pay, N, now), OH_OK);
        oh_jitter_status st;
        CHECK_STATUS(oh_playout_get(pl, now, out, N, &st), N);
        seen[st]++;
    }
    CHECK(seen[OH_JITTER_NORMAL] > 0);
    CHECK(seen[OH_JITTER_ACCELERATED] > 0);
    CHECK(seen[OH_JITTER_LATE] > 0);
    CHECK(seen[OH_JITTER_EXPANDED] > 0);
    CHECK(seen[OH_JITTER_SILENCE] > 0);
    oh_playout_destroy(pl);
}

static void test_bad_arguments_and_enomem(void)
{
    oh_playout_config cfg;
    oh_playout *pl = (oh_playout *)&cfg;
    oh_playout_config_default(&cfg, OH_CODEC_PCMU);
    cfg.jitter.frame_ms = 15;
    CHECK_STATUS(oh_playout_create(&cfg, &pl), OH_EINVAL);
    CHECK(pl == NULL);
    CHECK_STATUS(oh_playout_create(NULL, &pl), OH_EINVAL);
    oh_playout_config_default(&cfg, OH_CODEC_PCMU);
    CHECK_STATUS(oh_playout_create(&cfg, &pl), OH_OK);
    int16_t out[N];
    oh_jitter_status st;
    CHECK_STATUS(oh_playout_get(pl, 0.0, out, N - 1, &st), OH_EBUFSIZE);
    CHECK_STATUS(oh_playout_get(pl, 0.0, NULL, N, &st), OH_EINVAL);
    CHECK_STATUS(oh_playout_put(pl, 1, 1, 1, 0, NULL, 5, 0.0), OH_EINVAL);
    oh_playout_reset(pl);
    oh_playout_destroy(pl);
    oh_playout_destroy(NULL);
    CHECK_CREATE_SURVIVES_ENOMEM(oh_playout_create(&cfg, &pl), pl, oh_playout_destroy);
}

int main(void)
{
    test_in_order_is_bit_exact_and_reorder_is_undone();
    test_every_status_gives_one_tick();
    test_bad_arguments_and_enomem();
    TEST_EXIT();
}
