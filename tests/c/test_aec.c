/* Echo canceller: configuration checks, create under allocation failure, and
 * a synthetic echo (noise through a short room-like response) that must be
 * cancelled, at every supported rate, and under +-0.1 % clock skew. Speech scenarios are in tests/test_aec.py. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "offhook/oh_aec.h"
#include "oh_test.h"

static double gauss(unsigned long long *rng)
{
    double s = 0.0;
    for (int i = 0; i < 12; i++)
        s += (double)(oh_test_rand(rng) >> 11) / 9007199254740992.0;
    return s - 6.0;
}

/* Runs `seconds` of white-noise far end through h, returns ERLE (dB) over the last second. */
static double run_echo(int rate, int suppression, double seconds, unsigned long long *rng)
{
    oh_aec_config cfg;
    oh_aec_config_default(&cfg);
    cfg.sample_rate = rate;
    cfg.frame_size = rate / 100;
    cfg.suppression = suppression;
    oh_aec *aec = NULL;
    CHECK_STATUS(oh_aec_create(&cfg, &aec), OH_OK);
    if (!aec)
        return 0.0;
    enum { HLEN = 2400 };
    static double h[HLEN], hist[HLEN];
    memset(h, 0, sizeof h);
    memset(hist, 0, sizeof hist);
    int taps = rate / 50; /* 20 ms of decaying response after 1 ms */
    for (int i = 0; i < taps; i++)
        h[rate / 1000 + i] = 0.5 * gauss(rng) * exp(-6.9 * i / taps);
    int N = cfg.frame_size;
    int frames = (int)(seconds * 100);
    int16_t far[480], near[480], out[480];
    int pos = 0;
    double in_e = 0.0, out_e = 0.0;
    int lat = oh_aec_latency(aec);
    CHECK(lat == (suppression ? N : 0));
    for (int f = 0; f < frames; f++) {
        for (int n = 0; n < N; n++) {
            far[n] = (int16_t)(3000.0 * gauss(rng));
            pos = (pos + 1) % HLEN;
            hist[pos] = far[n];
            double e = 0.0;
            for (int i = 0; i < rate / 1000 + taps; i++)
                e += h[i] * hist[(pos - i + HLEN) % HLEN];
            e += 3.0 * gauss(rng);
            near[n] = (int16_t)(e > 32767 ? 32767 : e < -32768 ? -32768 : e);
        }
        CHECK_STATUS(oh_aec_process(aec, near, far, out), OH_OK);
        if (f >= frames - 100) {
            for (int n = 0; n < N; n++) {
                in_e += (double)near[n] * near[n];
                out_e += (double)out[n] * out[n];
            }
        }
    }
    oh_aec_stats st;
    oh_aec_get_stats(aec, &st);
    CHECK(st.frames == (uint64_t)frames);
    CHECK(st.far_active == 1);
    CHECK(st.converged == 1);
    CHECK(st.bulk_delay_ms == 0);
    oh_aec_reset(aec);
    oh_aec_get_stats(aec, &st);
    CHECK(st.frames == 0);
    oh_aec_destroy(aec);
    return 10.0 * log10(in_e / (out_e + 1.0));
}

static void test_cancels(void)
{
    unsigned long long rng = oh_test_seed();
    static const int rates[] = {8000, 16000, 32000, 48000};
    /* a little below what was measured (50, 50, 32, 26.5 dB): the longer
     * 32 and 48 kHz filters converge more slowly in 3 s */
    static const double minimum[] = {45.0, 45.0, 28.0, 24.0};
    for (int i = 0; i < 4; i++) {
        double erle = run_echo(rates[i], 0, 3.0, &rng);
        if (erle < minimum[i])
            fprintf(stderr, "%d Hz linear ERLE %.1f dB\n", rates[i], erle);
        CHECK(erle >= minimum[i]);
    }
    double erle = run_echo(16000, 1, 3.0, &rng);
    if (erle < 50.0)
        fprintf(stderr, "16 kHz ERLE with suppression %.1f dB\n", erle);
    CHECK(erle >= 50.0);
}

static void test_bad_config(void)
{
    oh_aec_config cfg;
    oh_aec *aec = (oh_aec *)&cfg; /* must come back NULL on failure */
    oh_aec_config_default(&cfg);
    CHECK(cfg.sample_rate == 16000 && cfg.frame_size == 160);
    cfg.sample_rate = 44100;
    CHECK_STATUS(oh_aec_create(&cfg, &aec), OH_EINVAL);
    CHECK(aec == NULL);
    oh_aec_config_default(&cfg);
    cfg.frame_size = 128;
    CHECK_STATUS(oh_aec_create(&cfg, &aec), OH_EINVAL);
    oh_aec_config_default(&cfg);
    cfg.tail_ms = 63;
    CHECK_STATUS(oh_aec_create(&cfg, &aec), OH_EINVAL);
    cfg.tail_ms = 501;
    CHECK_STATUS(oh_aec_create(&cfg, &aec), OH_EINVAL);
    oh_aec_config_default(&cfg);
    cfg.max_delay_ms = -1;
    CHECK_STATUS(oh_aec_create(&cfg, &aec), OH_EINVAL);
    cfg.max_delay_ms = 501;
    CHECK_STATUS(oh_aec_create(&cfg, &aec), OH_EINVAL);
    CHECK_STATUS(oh_aec_create(NULL, &aec), OH_EINVAL);
    oh_aec_config_default(&cfg);
    CHECK_STATUS(oh_aec_create(&cfg, NULL), OH_EINVAL);
    oh_aec_destroy(NULL);

    /* 20 ms frames are two blocks; NULL buffers are refused */
    cfg.frame_size = 320;
    CHECK_STATUS(oh_aec_create(&cfg, &aec), OH_OK);
    int16_t buf[320] = {0};
    CHECK_STATUS(oh_aec_process(aec, buf, buf, buf), OH_OK);
    CHECK_STATUS(oh_aec_process(aec, NULL, buf, buf), OH_EINVAL);
    CHECK_STATUS(oh_aec_process(aec, buf, NULL, buf), OH_EINVAL);
    CHECK_STATUS(oh_aec_process(aec, buf, buf, NULL), OH_EINVAL);
    CHECK_STATUS(oh_aec_process(NULL, buf, buf, buf), OH_EINVAL);
    oh_aec_destroy(aec);
}

static void test_enomem(void)
{
    oh_aec_config cfg;
    oh_aec_config_default(&cfg);
    cfg.sample_rate = 8000;
    cfg.frame_size = 80;
    cfg.max_delay_ms = 100;
    oh_aec *aec = NULL;
    CHECK_CREATE_SURVIVES_ENOMEM(oh_aec_create(&cfg, &aec), aec, oh_aec_destroy);
}

/* Playback clock `skew` fast or slow: the echo is the (low-passed noise) far end read at
 * 1 + skew samples per sample (linear interpolation) through a short decaying
 * response, 20 ms late. Returns the linear ERLE (dB) over the last second. */
static double run_drift(double skew, double seconds, unsigned long long *rng)
{
    oh_aec_config cfg;
    oh_aec_config_default(&cfg);
    cfg.suppression = 0;
    oh_aec *aec = NULL;
    CHECK_STATUS(oh_aec_create(&cfg, &aec), OH_OK);
    if (!aec)
        return 0.0;
    enum { N = 160, HLEN = 16384, TAPS = 160 };
    static float far_all[HLEN], h[TAPS];
    for (int i = 0; i < TAPS; i++)
        h[i] = (float)(0.5 * gauss(rng) * exp(-6.9 * i / TAPS));
    int frames = (int)(seconds * 100);
    int16_t far[N], near[N], out[N];
    double in_e = 0.0, out_e = 0.0;
    long written = 0;
    double lp = 0.0;
    for (int f = 0; f < frames; f++) {
        for (int n = 0; n < N; n++) {
            /* low-passed: the linear interpolation above would otherwise
             * be a time-varying filter on the echo's upper band */
            lp = 0.8 * lp + 1000.0 * gauss(rng);
            far[n] = (int16_t)lp;
            far_all[written % HLEN] = far[n];
            written++;
        }
        for (int n = 0; n < N; n++) {
            long m = (long)f * N + n;
            double e = 0.0;
            for (int i = 0; i < TAPS; i++) {
                double p = (double)(m - 320 - i) * (1.0 + skew);
                long i0 = (long)floor(p);
                if (i0 < 0 || i0 + 1 >= written)
                    continue;
                double fr = p - (double)i0;
                e += h[i] * ((1.0 - fr) * far_all[i0 % HLEN] + fr * far_all[(i0 + 1) % HLEN]);
            }
            e += 3.0 * gauss(rng);
            near[n] = (int16_t)(e > 32767 ? 32767 : e < -32768 ? -32768 : e);
        }
        CHECK_STATUS(oh_aec_process(aec, near, far, out), OH_OK);
        if (f >= frames - 100) {
            for (int n = 0; n < N; n++) {
                in_e += (double)near[n] * near[n];
                out_e += (double)out[n] * out[n];
            }
        }
    }
    oh_aec_destroy(aec);
    return 10.0 * log10(in_e / (out_e + 1.0));
}

static void test_drift(void)
{
    unsigned long long rng = oh_test_seed();
    static const double skews[] = {0.0, 1e-3, -1e-3};
    for (int i = 0; i < 3; i++) {
        double erle = run_drift(skews[i], 8.0, &rng);
        fprintf(stderr, "skew %+.4f: linear ERLE %.1f dB\n", skews[i], erle);
        /* measured 57, 21, 24 dB; without compensation ~1-5 dB under skew */
        CHECK(erle >= (skews[i] == 0.0 ? 45.0 : 15.0));
    }
}

int main(void)
{
    test_bad_config();
    test_enomem();
    test_cancels();
    test_drift();
    TEST_EXIT();
}
