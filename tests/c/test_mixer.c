/* Conference mixer: config checks, allocation failure, membership (duplicate,
 * full, unknown ids), exact mix-minus below the limiter threshold, gains and
 * mute, silent participants sharing the common mix, the limiter's bounds and
 * monotonicity under overload, and a randomised add/remove/put/mix run
 * checked against a plain reference model. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "offhook/oh_mixer.h"
#include "oh_test.h"

#define N 160

static oh_mixer *make(int max)
{
    oh_mixer_config cfg;
    oh_mixer_config_default(&cfg);
    cfg.max_participants = max;
    oh_mixer *m = NULL;
    CHECK_STATUS(oh_mixer_create(&cfg, &m), OH_OK);
    return m;
}

static void test_config(void)
{
    oh_mixer_config cfg, bad;
    oh_mixer_config_default(&cfg);
    CHECK(cfg.sample_rate == 16000 && cfg.frame_size == 160 && cfg.max_participants == 64);
    oh_mixer *m = NULL;
    bad = cfg; bad.sample_rate = 11025; bad.frame_size = 110;
    CHECK_STATUS(oh_mixer_create(&bad, &m), OH_EINVAL);
    bad = cfg; bad.frame_size = 161;
    CHECK_STATUS(oh_mixer_create(&bad, &m), OH_EINVAL);
    bad = cfg; bad.max_participants = 0;
    CHECK_STATUS(oh_mixer_create(&bad, &m), OH_EINVAL);
    bad = cfg; bad.max_participants = OH_MIXER_MAX_PARTICIPANTS + 1;
    CHECK_STATUS(oh_mixer_create(&bad, &m), OH_EINVAL);
    bad = cfg; bad.limiter_threshold_dbfs = 0.0;
    CHECK_STATUS(oh_mixer_create(&bad, &m), OH_EINVAL);
    bad = cfg; bad.limiter_threshold_dbfs = NAN;
    CHECK_STATUS(oh_mixer_create(&bad, &m), OH_EINVAL);
    CHECK(m == NULL);
    CHECK_STATUS(oh_mixer_create(NULL, &m), OH_EINVAL);
    bad = cfg; bad.sample_rate = 48000; bad.frame_size = 960; bad.max_participants = 1;
    CHECK_STATUS(oh_mixer_create(&bad, &m), OH_OK);
    CHECK(oh_mixer_frame_size(m) == 960);
    oh_mixer_destroy(m);
    oh_mixer_destroy(NULL);
    CHECK_CREATE_SURVIVES_ENOMEM(oh_mixer_create(&cfg, &m), m, oh_mixer_destroy);
}

static void test_membership(void)
{
    oh_mixer *m = make(3);
    int16_t f[N] = {0};
    CHECK_STATUS(oh_mixer_add(m, 7, 1.0), OH_OK);
    CHECK_STATUS(oh_mixer_add(m, 7, 1.0), OH_ESTATE);
    CHECK_STATUS(oh_mixer_add(m, 8, -0.1), OH_EINVAL);
    CHECK_STATUS(oh_mixer_add(m, 8, NAN), OH_EINVAL);
    CHECK_STATUS(oh_mixer_add(m, 8, OH_MIXER_MAX_GAIN + 1), OH_EINVAL);
    CHECK_STATUS(oh_mixer_add(m, 0, 0.0), OH_OK);
    CHECK_STATUS(oh_mixer_add(m, UINT32_MAX, 2.0), OH_OK);
    CHECK_STATUS(oh_mixer_add(m, 9, 1.0), OH_EBUFSIZE);
    CHECK(oh_mixer_count(m) == 3);
    double g = 0;
    int muted = 1;
    CHECK(oh_mixer_find(m, UINT32_MAX, &g, &muted) == 1 && g == 2.0 && muted == 0);
    CHECK(oh_mixer_find(m, 9, NULL, NULL) == 0);
    CHECK_STATUS(oh_mixer_remove(m, 9), OH_EINVAL);
    CHECK_STATUS(oh_mixer_set_gain(m, 9, 1.0), OH_EINVAL);
    CHECK_STATUS(oh_mixer_set_gain(m, 7, 99.0), OH_EINVAL);
    CHECK_STATUS(oh_mixer_set_mute(m, 9, 1), OH_EINVAL);
    CHECK_STATUS(oh_mixer_put(m, 9, f), OH_EINVAL);
    CHECK_STATUS(oh_mixer_put(m, 7, NULL), OH_EINVAL);
    CHECK_STATUS(oh_mixer_get(m, 9, f), OH_EINVAL);
    CHECK(oh_mixer_output(m, 9) == NULL);
    CHECK_STATUS(oh_mixer_remove(m, 0), OH_OK);
    CHECK_STATUS(oh_mixer_remove(m, 0), OH_EINVAL);
    CHECK_STATUS(oh_mixer_add(m, 9, 1.0), OH_OK);
    uint32_t ids[4];
    CHECK(oh_mixer_ids(m, ids, 4) == 3);
    CHECK(oh_mixer_ids(m, ids, 1) == 1);
    oh_mixer_destroy(m);
}

static void tone(int16_t *f, double freq, double amp, int tick)
{
    for (int i = 0; i < N; i++)
        f[i] = (int16_t)lrint(amp * sin(6.283185307179586 * freq * (tick * N + i) / 16000.0));
}

static void test_mix_minus_exact(void)
{
    oh_mixer *m = make(8);
    for (uint32_t id = 1; id <= 5; id++)
        CHECK_STATUS(oh_mixer_add(m, id * 11, 1.0), OH_OK);
    int16_t in[5][N], out[N];
    for (int tick = 0; tick < 5; tick++) {
        for (int k = 0; k < 4; k++) { /* participant 55 is silent */
            tone(in[k], 300.0 + 170.0 * k, 3000.0, tick);
            CHECK_STATUS(oh_mixer_put(m, (uint32_t)(k + 1) * 11, in[k]), OH_OK);
        }
        CHECK_STATUS(oh_mixer_mix(m), OH_OK);
        for (int k = 0; k < 5; k++) {
            CHECK_STATUS(oh_mixer_get(m, (uint32_t)(k + 1) * 11, out), OH_OK);
            int bad = 0;
            for (int i = 0; i < N; i++) {
                int want = 0;
                for (int j = 0; j < 4; j++)
                    want += j == k ? 0 : in[j][i];
                bad += out[i] != want;
            }
            CHECK(bad == 0);
        }
        /* the silent participant shares the common mix */
        CHECK(oh_mixer_output(m, 55) != oh_mixer_output(m, 11));
    }
    /* mute: 11 is no longer heard but still hears; gains scale exactly */
    CHECK_STATUS(oh_mixer_set_mute(m, 11, 1), OH_OK);
    CHECK_STATUS(oh_mixer_set_gain(m, 22, 0.5), OH_OK);
    for (int k = 0; k < 4; k++)
        CHECK_STATUS(oh_mixer_put(m, (uint32_t)(k + 1) * 11, in[k]), OH_OK);
    CHECK_STATUS(oh_mixer_mix(m), OH_OK);
    CHECK(oh_mixer_output(m, 11) == oh_mixer_output(m, 55));
    const int16_t *o33 = oh_mixer_output(m, 33), *o11 = oh_mixer_output(m, 11);
    int bad = 0;
    for (int i = 0; i < N; i++) {
        /* the mixer rounds half away from zero */
        double v = in[3][i] + 0.5 * in[1][i], w = v + in[2][i];
        bad += o33[i] != (int)(v < 0 ? -floor(-v + 0.5) : floor(v + 0.5));
        bad += o11[i] != (int)(w < 0 ? -floor(-w + 0.5) : floor(w + 0.5));
    }
    CHECK(bad == 0);
    /* nobody put anything: everyone hears silence */
    CHECK_STATUS(oh_mixer_mix(m), OH_OK);
    for (int i = 0; i < N; i++)
        CHECK(oh_mixer_output(m, 22)[i] == 0);
    /* an all-zero frame is silence too */
    memset(out, 0, sizeof out);
    CHECK_STATUS(oh_mixer_put(m, 22, out), OH_OK);
    CHECK_STATUS(oh_mixer_mix(m), OH_OK);
    CHECK(oh_mixer_output(m, 22) == oh_mixer_output(m, 55));
    oh_mixer_reset(m);
    CHECK(oh_mixer_output(m, 22)[0] == 0);
    oh_mixer_destroy(m);
}

static void test_limiter(void)
{
    oh_mixer *m = make(64);
    int16_t f[N];
    for (uint32_t id = 0; id < 64; id++)
        CHECK_STATUS(oh_mixer_add(m, id, id % 2 ? 16.0 : 1.0), OH_OK);
    /* 63 full-scale talkers in phase, at up to +24 dB: the sum is ~2^29 */
    for (int i = 0; i < N; i++)
        f[i] = i % 2 ? 32767 : -32768;
    for (uint32_t id = 1; id < 64; id++)
        CHECK_STATUS(oh_mixer_put(m, id, f), OH_OK);
    CHECK_STATUS(oh_mixer_mix(m), OH_OK);
    for (uint32_t id = 0; id < 64; id++) {
        const int16_t *o = oh_mixer_output(m, id);
        for (int i = 0; i < N; i++) {
            CHECK(o[i] <= 32767 && o[i] >= -32767);
            CHECK(i % 2 ? o[i] > 30000 : o[i] < -30000); /* sign kept: no wrap-around */
        }
    }
    oh_mixer_destroy(m);

    /* a ramp through the knee: identity up to the threshold, then monotonic and bounded */
    m = make(2);
    CHECK_STATUS(oh_mixer_add(m, 1, 16.0), OH_OK);
    CHECK_STATUS(oh_mixer_add(m, 2, 1.0), OH_OK);
    double t = 32767.0 * pow(10.0, -6.0 / 20.0);
    int prev = -1, bad = 0;
    for (int level = 0; level < 32768; level += N) {
        for (int i = 0; i < N; i++)
            f[i] = (int16_t)(level + i < 32767 ? level + i : 32767);
        CHECK_STATUS(oh_mixer_set_gain(m, 1, 1.0), OH_OK);
        CHECK_STATUS(oh_mixer_put(m, 1, f), OH_OK);
        CHECK_STATUS(oh_mixer_mix(m), OH_OK);
        const int16_t *o = oh_mixer_output(m, 2);
        for (int i = 0; i < N; i++) {
            if (f[i] <= t)
                bad += o[i] != f[i];
            else
                bad += o[i] < prev || o[i] > f[i] || o[i] < t - 1;
            prev = o[i];
        }
    }
    CHECK(bad == 0);
    CHECK(prev >= 24000 && prev <= 24700); /* full scale in: T + R/2 out */
    oh_mixer_destroy(m);
}

/* Random membership churn against a reference list. */
static void test_random(unsigned long long seed)
{
    enum { MAX = 37 };
    oh_mixer *m = make(MAX);
    uint32_t ref[MAX];
    int n = 0, bad = 0;
    unsigned long long rng = seed;
    int16_t f[MAX][N];
    for (int step = 0; step < 4000; step++) {
        unsigned long long r = oh_test_rand(&rng);
        uint32_t id = (uint32_t)(r >> 20) % 64u * 0x01000193u; /* clustered hashes */
        int at = -1;
        for (int i = 0; i < n; i++)
            if (ref[i] == id)
                at = i;
        if (r % 3 == 0) {
            int st = oh_mixer_remove(m, id);
            bad += st != (at >= 0 ? OH_OK : OH_EINVAL);
            if (at >= 0)
                ref[at] = ref[--n];
        } else {
            int st = oh_mixer_add(m, id, 1.0);
            bad += st != (at >= 0 ? OH_ESTATE : n == MAX ? OH_EBUFSIZE : OH_OK);
            if (at < 0 && n < MAX)
                ref[n++] = id;
        }
        bad += oh_mixer_count(m) != n;
        for (int i = 0; i < n; i++)
            bad += !oh_mixer_find(m, ref[i], NULL, NULL);
        if (step % 50 == 0 && n > 0) {
            int total[N] = {0};
            for (int i = 0; i < n; i++) {
                for (int s = 0; s < N; s++) {
                    f[i][s] = (int16_t)((int)(oh_test_rand(&rng) % 401) - 200);
                    total[s] += f[i][s];
                }
                CHECK_STATUS(oh_mixer_put(m, ref[i], f[i]), OH_OK);
            }
            CHECK_STATUS(oh_mixer_mix(m), OH_OK);
            for (int i = 0; i < n; i++) {
                const int16_t *o = oh_mixer_output(m, ref[i]);
                for (int s = 0; s < N; s++)
                    bad += o[s] != total[s] - f[i][s];
            }
        }
    }
    CHECK(bad == 0);
    if (bad)
        fprintf(stderr, "random membership: %d mismatches\n", bad);
    oh_mixer_destroy(m);
}

int main(void)
{
    unsigned long long seed = oh_test_seed();
    test_config();
    test_membership();
    test_mix_minus_exact();
    test_limiter();
    test_random(seed);
    TEST_EXIT();
}
