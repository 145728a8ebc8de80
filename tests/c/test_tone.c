/* Call-progress tones: frequencies, level, cadence timing, frame-size
 * independence, long-run stability, bad configurations and ENOMEM.
 * (Every profile and tone is measured from Python in tests/test_tones.py.) */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "offhook/oh_tone.h"
#include "oh_test.h"

#define PI 3.14159265358979323846

/* Mean square of the component at freq over n samples (Goertzel). */
static double component_power(const int16_t *x, size_t n, double freq, int rate)
{
    double c = 2.0 * cos(2.0 * PI * freq / rate), s1 = 0.0, s2 = 0.0;
    for (size_t i = 0; i < n; i++) {
        double s0 = x[i] + c * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    return 2.0 * (s1 * s1 + s2 * s2 - c * s1 * s2) / ((double)n * n);
}

static double dbm0_of_power(double ms)
{
    /* a full-scale sine (mean square 32767^2 / 2) is OH_DBM0_FULL_SCALE */
    return 10.0 * log10(ms / (32767.0 * 32767.0 / 2.0)) + OH_DBM0_FULL_SCALE;
}

static oh_tone *make(int rate, oh_tone_profile profile, oh_tone_id id, double level)
{
    oh_tone_config cfg;
    oh_tone_config_default(&cfg);
    cfg.sample_rate = rate;
    cfg.profile = profile;
    cfg.tone = id;
    cfg.level_dbm0 = level;
    oh_tone *t = NULL;
    CHECK_STATUS(oh_tone_create(&cfg, &t), OH_OK);
    return t;
}

static void test_dial_frequencies_and_level(void)
{
    static int16_t pcm[8000];
    oh_tone *t = make(8000, OH_TONE_PROFILE_US, OH_TONE_DIAL, -13.0);
    if (!t)
        return;
    CHECK_STATUS(oh_tone_generate(t, pcm, 8000), 8000);
    /* 1 s: 350 and 440 Hz fall on exact bins */
    CHECK(fabs(dbm0_of_power(component_power(pcm, 8000, 350.0, 8000)) + 13.0) < 0.05);
    CHECK(fabs(dbm0_of_power(component_power(pcm, 8000, 440.0, 8000)) + 13.0) < 0.05);
    CHECK(dbm0_of_power(component_power(pcm, 8000, 400.0, 8000)) < -70.0);
    CHECK(dbm0_of_power(component_power(pcm, 8000, 480.0, 8000)) < -70.0);
    oh_tone_destroy(t);
}

static void test_busy_cadence(void)
{
    /* US busy at 16 kHz: 8000 samples on, 8000 off, repeating */
    static int16_t pcm[48000];
    oh_tone *t = make(16000, OH_TONE_PROFILE_US, OH_TONE_BUSY, -24.0);
    if (!t)
        return;
    CHECK_STATUS(oh_tone_generate(t, pcm, 48000), 48000);
    for (int period = 0; period < 3; period++) {
        const int16_t *on = pcm + period * 16000, *off = on + 8000;
        int silent_on = 0, loud_off = 0;
        /* zero crossings aside, the on part is never silent for 4 samples */
        for (int i = 0; i + 4 <= 8000; i += 4)
            silent_on += on[i] == 0 && on[i + 1] == 0 && on[i + 2] == 0 && on[i + 3] == 0;
        for (int i = 0; i < 8000; i++)
            loud_off += off[i] != 0;
        CHECK(silent_on == 0);
        CHECK(loud_off == 0);
    }
    oh_tone_destroy(t);
}

static void test_frame_size_does_not_matter(void)
{
    static int16_t whole[20000], parts[20000];
    oh_tone *a = make(8000, OH_TONE_PROFILE_UK, OH_TONE_CONGESTION, -20.0);
    oh_tone *b = make(8000, OH_TONE_PROFILE_UK, OH_TONE_CONGESTION, -20.0);
    if (!a || !b)
        goto out;
    CHECK_STATUS(oh_tone_generate(a, whole, 20000), 20000);
    size_t done = 0, step = 1;
    while (done < 20000) {
        size_t n = step < 20000 - done ? step : 20000 - done;
        CHECK_STATUS(oh_tone_generate(b, parts + done, n), (int)n);
        done += n;
        step = step * 3 % 331 + 1;
    }
    CHECK(memcmp(whole, parts, sizeof whole) == 0);
    oh_tone_reset(b);
    CHECK_STATUS(oh_tone_generate(b, parts, 20000), 20000);
    CHECK(memcmp(whole, parts, sizeof whole) == 0);
out:
    oh_tone_destroy(a);
    oh_tone_destroy(b);
}

static void test_no_drift_over_ten_minutes(void)
{
    /* After 10 minutes at 48 kHz the output still matches the ideal sines
     * sample for sample (within rounding): no phase or amplitude drift. */
    static int16_t pcm[4800];
    const int rate = 48000;
    oh_tone *t = make(rate, OH_TONE_PROFILE_US, OH_TONE_DIAL, -13.0);
    if (!t)
        return;
    const long total = 600L * rate;
    for (long done = 0; done < total; done += 4800)
        oh_tone_generate(t, pcm, 4800);
    CHECK_STATUS(oh_tone_generate(t, pcm, 4800), 4800);
    double amp = 32767.0 * pow(10.0, (-13.0 - OH_DBM0_FULL_SCALE) / 20.0);
    double worst = 0.0;
    for (int i = 0; i < 4800; i++) {
        long n = total + i;
        double ideal = amp * (sin(2.0 * PI * 350.0 * (double)(n % rate) / rate) +
                              sin(2.0 * PI * 440.0 * (double)(n % rate) / rate));
        double err = fabs(pcm[i] - ideal);
        if (err > worst)
            worst = err;
    }
    CHECK(worst <= 1.0);
    oh_tone_destroy(t);
}

static void test_custom_cadence(void)
{
    static const oh_tone_segment seg[] = { { { 1000, 0 }, 10 }, { { 0, 0 }, 5 }, { { 2000, 3000 }, 0 } };
    oh_tone_config cfg;
    oh_tone_config_default(&cfg);
    cfg.segments = seg;
    cfg.n_segments = 3;
    oh_tone *t = NULL;
    CHECK_STATUS(oh_tone_create(&cfg, &t), OH_OK);
    if (!t)
        return;
    int16_t pcm[400];
    CHECK_STATUS(oh_tone_generate(t, pcm, 400), 400);
    CHECK(component_power(pcm, 80, 1000.0, 8000) > 1e5);
    for (int i = 80; i < 120; i++)
        CHECK(pcm[i] == 0);
    CHECK(component_power(pcm + 120, 280, 3000.0, 8000) > 1e5);
    oh_tone_destroy(t);
}

static void test_bad_config(void)
{
    oh_tone_config cfg;
    oh_tone *t = (oh_tone *)&cfg; /* must be reset to NULL on failure */
    oh_tone_config_default(&cfg);
    cfg.sample_rate = 11025;
    CHECK_STATUS(oh_tone_create(&cfg, &t), OH_EINVAL);
    CHECK(t == NULL);
    oh_tone_config_default(&cfg);
    cfg.level_dbm0 = 6.0;
    CHECK_STATUS(oh_tone_create(&cfg, &t), OH_EINVAL);
    cfg.level_dbm0 = NAN;
    CHECK_STATUS(oh_tone_create(&cfg, &t), OH_EINVAL);
    oh_tone_config_default(&cfg);
    cfg.profile = (oh_tone_profile)7;
    CHECK_STATUS(oh_tone_create(&cfg, &t), OH_EINVAL);
    oh_tone_config_default(&cfg);
    cfg.tone = (oh_tone_id)-1;
    CHECK_STATUS(oh_tone_create(&cfg, &t), OH_EINVAL);

    static const oh_tone_segment forever_first[] = { { { 400, 0 }, 0 }, { { 0, 0 }, 100 } };
    static const oh_tone_segment above_nyquist[] = { { { 4000, 0 }, 100 } };
    oh_tone_config_default(&cfg);
    cfg.segments = forever_first;
    cfg.n_segments = 2;
    CHECK_STATUS(oh_tone_create(&cfg, &t), OH_EINVAL);
    cfg.segments = above_nyquist;
    cfg.n_segments = 1;
    CHECK_STATUS(oh_tone_create(&cfg, &t), OH_EINVAL);
    cfg.n_segments = 0;
    CHECK_STATUS(oh_tone_create(&cfg, &t), OH_EINVAL);
    CHECK_STATUS(oh_tone_create(NULL, &t), OH_EINVAL);

    const oh_tone_segment *seg;
    size_t n;
    CHECK_STATUS(oh_tone_cadence(OH_TONE_PROFILE_ETSI, OH_TONE_RINGBACK, &seg, &n), OH_OK);
    CHECK(n == 2 && seg[0].freq_hz[0] == 425 && seg[0].duration_ms == 1000 && seg[1].duration_ms == 4000);
    CHECK_STATUS(oh_tone_cadence(OH_TONE_PROFILE_COUNT, OH_TONE_DIAL, &seg, &n), OH_EINVAL);

    oh_tone_config_default(&cfg);
    CHECK_STATUS(oh_tone_create(&cfg, &t), OH_OK);
    CHECK_STATUS(oh_tone_generate(t, NULL, 10), OH_EINVAL);
    CHECK_STATUS(oh_tone_generate(t, NULL, 0), 0);
    oh_tone_destroy(t);
    oh_tone_destroy(NULL);
}

static void test_enomem(void)
{
    oh_tone_config cfg;
    oh_tone_config_default(&cfg);
    oh_tone *t = NULL;
    CHECK_CREATE_SURVIVES_ENOMEM(oh_tone_create(&cfg, &t), t, oh_tone_destroy);
}

int main(void)
{
    test_dial_frequencies_and_level();
    test_busy_cadence();
    test_frame_size_does_not_matter();
    test_no_drift_over_ten_minutes();
    test_custom_cadence();
    test_bad_config();
    test_enomem();
    TEST_EXIT();
}
