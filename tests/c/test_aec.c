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

/* 16 kHz, 10 ms frames, no suppression: the linear filter alone. */
static oh_aec *linear_canceller(void)
{
    oh_aec_config cfg;
    oh_aec_config_default(&cfg);
    cfg.suppression = 0;
    oh_aec *aec = NULL;
    CHECK_STATUS(oh_aec_create(&cfg, &aec), OH_OK);
    return aec;
}

/* A room-like response: noise decaying by 60 dB over `taps`. */
static void decaying_response(float *h, int taps, unsigned long long *rng)
{
    for (int i = 0; i < taps; i++)
        h[i] = (float)(0.5 * gauss(rng) * exp(-6.9 * i / taps));
}

/* Playback clock `skew` fast or slow: the echo is the (low-passed noise) far end read at
 * 1 + skew samples per sample (linear interpolation) through a short decaying
 * response, 20 ms late. Returns the linear ERLE (dB) over the last second. */
static double run_drift(double skew, double seconds, unsigned long long *rng)
{
    oh_aec *aec = linear_canceller();
    if (!aec)
        return 0.0;
    enum { N = 160, HLEN = 16384, TAPS = 160 };
    static float far_all[HLEN], h[TAPS];
    decaying_response(h, TAPS, rng);
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

/* The streams slip against each other, as device rings do. Capture: a gap
 * filled with silence whose samples come later (the echo is that much later
 * from then on), or samples discarded to cut latency (earlier). Playback: a
 * far frame never played (earlier), or silence played in an underrun
 * (later), from the point where that audio's echo arrives. One slip every
 * half second from 3 s; `hinted`: the canceller is told (process_partial and
 * slip), else it gets the zero-filled frames as if nothing happened. Returns
 * the least linear ERLE (dB) over 0.1..0.4 s after a slip (a playback slip
 * spreads over the echo's response: one move of the filter at its strongest
 * part leaves ~20 ms of transition, then it is exact). */
enum { SLIP_N = 160, SLIP_SECONDS = 7, SLIP_LEN = SLIP_SECONDS * 16000 + 4000, SLIPS = 6 };
static const struct { int frame, capture, playback; } slips[SLIPS] = {
    {300, 100, 0}, {350, 480, 0}, {400, -400, 0}, {450, 0, -SLIP_N}, {500, 0, 240}, {550, -150, 0},
};

static double run_slips(int hinted, unsigned long long *rng)
{
    oh_aec *aec = linear_canceller();
    if (!aec)
        return 0.0;
    enum { N = SLIP_N, DELAY = 80, TAPS = 320 };
    static float far_all[SLIP_LEN], played[SLIP_LEN], mic[SLIP_LEN], h[TAPS];
    decaying_response(h, TAPS, rng);
    for (int m = 0; m < SLIP_LEN; m++)
        far_all[m] = (float)(3000.0 * gauss(rng));
    long src = 0, m = 0; /* what the loudspeaker played: the far frames, slipped */
    for (int k = 0; k < SLIPS && m < SLIP_LEN; k++) {
        if (slips[k].playback == 0)
            continue;
        long upto = (long)(slips[k].frame + 1) * N; /* the far frame given with the slip's frame ends here */
        if (slips[k].playback < 0)
            upto -= N; /* and is the one never played */
        while (src < upto && m < SLIP_LEN)
            played[m++] = far_all[src++];
        if (slips[k].playback < 0)
            src -= slips[k].playback;
        for (int z = 0; z < slips[k].playback && m < SLIP_LEN; z++)
            played[m++] = 0.0f;
    }
    while (m < SLIP_LEN && src < SLIP_LEN)
        played[m++] = far_all[src++];
    for (m = 0; m < SLIP_LEN; m++) {
        double e = 3.0 * gauss(rng);
        for (int i = 0; i < TAPS && i + DELAY <= m; i++)
            e += h[i] * played[m - DELAY - i];
        mic[m] = (float)e;
    }
    int16_t far[N], near[N], out[N];
    long rp = 0; /* the next microphone sample the near stream takes */
    double worst = 1e9, in_e = 0.0, out_e = 0.0;
    int gap_zero = 1, k = 0;
    for (int f = 0; f < SLIP_SECONDS * 100; f++) {
        int gap = 0; /* this frame's zeros, at its end: the part of a capture gap ending with frame slips[k] */
        if (k < SLIPS && slips[k].capture > 0 && f <= slips[k].frame) {
            long z = slips[k].capture - (long)(slips[k].frame - f) * N;
            gap = z < 0 ? 0 : z > N ? N : (int)z;
        }
        for (int n = 0; n < N; n++) {
            far[n] = (int16_t)far_all[(long)f * N + n];
            near[n] = n < N - gap ? (int16_t)mic[rp + n] : 0;
        }
        rp += N - gap;
        if (hinted)
            CHECK_STATUS(oh_aec_process_partial(aec, near, N - gap, far, out), OH_OK);
        else
            CHECK_STATUS(oh_aec_process(aec, near, far, out), OH_OK);
        if (hinted && gap == N)
            for (int n = 0; n < N; n++)
                gap_zero &= out[n] == 0;
        if (k < SLIPS && f == slips[k].frame) {
            if (slips[k].capture < 0)
                rp -= slips[k].capture;
            if (hinted)
                CHECK_STATUS(oh_aec_slip(aec, slips[k].capture, slips[k].playback), OH_OK);
            in_e = out_e = 0.0;
        }
        if (k < SLIPS && f > slips[k].frame + 10 && f <= slips[k].frame + 40) {
            for (int n = 0; n < N; n++) {
                in_e += (double)near[n] * near[n];
                out_e += (double)out[n] * out[n];
            }
            if (f == slips[k].frame + 40) {
                double erle = 10.0 * log10(in_e / (out_e + 1.0));
                worst = erle < worst ? erle : worst;
                k++;
            }
        }
    }
    CHECK(k == SLIPS);
    CHECK(gap_zero);
    oh_aec_stats st;
    oh_aec_get_stats(aec, &st);
    CHECK(st.slips == (hinted ? (uint32_t)SLIPS : 0u));
    CHECK(st.frames == SLIP_SECONDS * 100);
    oh_aec_destroy(aec);
    return worst;
}

static void test_slips(void)
{
    unsigned long long rng = oh_test_seed();
    double told = run_slips(1, &rng), untold = run_slips(0, &rng);
    fprintf(stderr, "slips: least linear ERLE after one %.1f dB told, %.1f dB untold\n", told, untold);
    CHECK(told >= 40.0);
    CHECK(untold < told - 10.0); /* the slips are felt when the canceller is not told */

    oh_aec_config cfg;
    oh_aec_config_default(&cfg);
    oh_aec *aec = NULL;
    CHECK_STATUS(oh_aec_create(&cfg, &aec), OH_OK);
    int16_t buf[160] = {0};
    CHECK_STATUS(oh_aec_process_partial(aec, buf, -1, buf, buf), OH_EINVAL);
    CHECK_STATUS(oh_aec_process_partial(aec, buf, 161, buf, buf), OH_EINVAL);
    CHECK_STATUS(oh_aec_process_partial(NULL, buf, 0, buf, buf), OH_EINVAL);
    CHECK_STATUS(oh_aec_slip(NULL, 1, 0), OH_EINVAL);
    CHECK_STATUS(oh_aec_slip(aec, 0, 0), OH_OK);
    CHECK_STATUS(oh_aec_slip(aec, 1 << 30, 0), OH_OK);  /* far beyond the window: the filter is emptied */
    CHECK_STATUS(oh_aec_slip(aec, -(1 << 30), 0), OH_OK);
    for (int j = 0; j < 12; j++) /* more than can wait: the last one takes the rest */
        CHECK_STATUS(oh_aec_slip(aec, 0, 1), OH_OK);
    oh_aec_stats st;
    oh_aec_get_stats(aec, &st);
    CHECK(st.slips == 2);
    for (int j = 0; j < 20; j++)
        CHECK_STATUS(oh_aec_process(aec, buf, buf, buf), OH_OK);
    oh_aec_get_stats(aec, &st);
    CHECK(st.slips == 2 + 8); /* due within the window (an empty filter: two blocks) */
    oh_aec_destroy(aec);
}

int main(void)
{
    test_bad_config();
    test_enomem();
    test_cancels();
    test_drift();
    test_slips();
    TEST_EXIT();
}
