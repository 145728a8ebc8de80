/* The resampler in C: chunking gives bit-identical output, exact output
 * counts, latency of an impulse, a passband and an aliasing tone, bad
 * arguments, and create under allocation failure. (The full frequency-response
 * measurements are in tests/test_resampler.py.) */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "offhook/oh_resampler.h"
#include "oh_test.h"

#define PI 3.14159265358979323846

static oh_resampler *make(int in_rate, int out_rate, int channels)
{
    oh_resampler_config cfg;
    oh_resampler_config_default(&cfg);
    cfg.in_rate = in_rate;
    cfg.out_rate = out_rate;
    cfg.channels = channels;
    oh_resampler *rs = NULL;
    CHECK_STATUS(oh_resampler_create(&cfg, &rs), OH_OK);
    return rs;
}

static void test_bad_config(void)
{
    oh_resampler_config cfg;
    oh_resampler *rs = (oh_resampler *)&cfg; /* must be reset to NULL on failure */
    oh_resampler_config_default(&cfg);
    CHECK(cfg.in_rate == 16000 && cfg.out_rate == 16000 && cfg.channels == 1);
    cfg.in_rate = 7999;
    CHECK_STATUS(oh_resampler_create(&cfg, &rs), OH_EINVAL);
    CHECK(rs == NULL);
    cfg.in_rate = 48001;
    CHECK_STATUS(oh_resampler_create(&cfg, &rs), OH_EINVAL);
    cfg.in_rate = 8000;
    cfg.channels = 0;
    CHECK_STATUS(oh_resampler_create(&cfg, &rs), OH_EINVAL);
    cfg.channels = 9;
    CHECK_STATUS(oh_resampler_create(&cfg, &rs), OH_EINVAL);
    cfg.channels = 1;
    cfg.in_rate = 8001; /* 48000/8001 = 16000/2667: too many phases */
    cfg.out_rate = 48000;
    CHECK_STATUS(oh_resampler_create(&cfg, &rs), OH_EUNSUPPORTED);
    CHECK(rs == NULL);
    CHECK_STATUS(oh_resampler_create(NULL, &rs), OH_EINVAL);
    CHECK_STATUS(oh_resampler_create(&cfg, NULL), OH_EINVAL);
    oh_resampler_destroy(NULL);
}

static void test_bad_calls(void)
{
    oh_resampler *rs = make(16000, 8000, 1);
    if (!rs)
        return;
    int16_t in[160] = {0}, out[80];
    CHECK_STATUS(oh_resampler_process(rs, NULL, 160, out, 80), OH_EINVAL);
    CHECK_STATUS(oh_resampler_process(rs, in, 160, NULL, 80), OH_EINVAL);
    CHECK_STATUS(oh_resampler_process(rs, in, 160, out, 79), OH_EBUFSIZE);
    CHECK_STATUS(oh_resampler_process(rs, in, 160, out, 80), 80);
    CHECK_STATUS(oh_resampler_process(rs, NULL, 0, NULL, 0), 0);
    CHECK_STATUS(oh_resampler_flush(rs, out, (size_t)oh_resampler_latency(rs) - 1), OH_EBUFSIZE);
    CHECK_STATUS(oh_resampler_process(NULL, in, 160, out, 80), OH_EINVAL);
    CHECK_STATUS(oh_resampler_flush(NULL, out, 80), OH_EINVAL);
    CHECK(oh_resampler_up(rs) == 1 && oh_resampler_down(rs) == 2);
    oh_resampler_destroy(rs);
}

static void test_pass_through(void)
{
    oh_resampler *rs = make(44100, 44100, 2);
    if (!rs)
        return;
    int16_t in[20], out[20];
    for (int i = 0; i < 20; i++)
        in[i] = (int16_t)(i * 1000 - 7000);
    CHECK(oh_resampler_latency(rs) == 0);
    CHECK(oh_resampler_max_output(rs, 10) == 10);
    CHECK_STATUS(oh_resampler_process(rs, in, 10, out, 10), 10);
    CHECK(memcmp(in, out, sizeof in) == 0);
    CHECK_STATUS(oh_resampler_flush(rs, out, 0), 0);
    oh_resampler_destroy(rs);
}

/* Noise through one call, then through random chunks: identical samples,
 * and each call writes exactly what max_output announced. */
static void test_chunking(int in_rate, int out_rate, int channels, unsigned long long *seed)
{
    enum { FRAMES = 6000 };
    static int16_t in[FRAMES * 2], one[FRAMES * 6 * 2 + 64], many[FRAMES * 6 * 2 + 64];
    oh_resampler *a = make(in_rate, out_rate, channels);
    oh_resampler *b = make(in_rate, out_rate, channels);
    if (!a || !b) {
        oh_resampler_destroy(a);
        oh_resampler_destroy(b);
        return;
    }
    for (int i = 0; i < FRAMES * channels; i++)
        in[i] = (int16_t)(oh_test_rand(seed) >> 48);
    size_t cap = sizeof one / sizeof one[0] / (size_t)channels;
    size_t want = oh_resampler_max_output(a, FRAMES);
    int n_one = oh_resampler_process(a, in, FRAMES, one, cap);
    CHECK(n_one >= 0 && (size_t)n_one == want);
    /* the long-run count is in * L / M within one frame */
    double ideal = (double)FRAMES * out_rate / in_rate;
    CHECK(fabs(n_one - ideal) <= 1.0);

    size_t done = 0, n_many = 0;
    while (done < FRAMES) {
        size_t chunk = (size_t)(oh_test_rand(seed) % 700);
        if (chunk > FRAMES - done)
            chunk = FRAMES - done;
        size_t announced = oh_resampler_max_output(b, chunk);
        int r = oh_resampler_process(b, in + done * (size_t)channels, chunk,
                                     many + n_many * (size_t)channels, cap - n_many);
        CHECK(r >= 0 && (size_t)r == announced);
        if (r < 0)
            break;
        n_many += (size_t)r;
        done += chunk;
    }
    CHECK(n_many == (size_t)n_one);
    CHECK(memcmp(one, many, (size_t)n_one * (size_t)channels * sizeof one[0]) == 0);

    /* flush writes the tail, then the state is as new */
    int lat = oh_resampler_latency(a);
    CHECK_STATUS(oh_resampler_flush(a, one, cap), lat);
    CHECK_STATUS(oh_resampler_flush(b, many, cap), lat);
    CHECK(memcmp(one, many, (size_t)lat * (size_t)channels * sizeof one[0]) == 0);
    oh_resampler_reset(b);
    n_one = oh_resampler_process(a, in, 1000, one, cap);
    CHECK(n_one == oh_resampler_process(b, in, 1000, many, cap));
    CHECK(n_one > 0 && memcmp(one, many, (size_t)n_one * (size_t)channels * sizeof one[0]) == 0);
    oh_resampler_destroy(a);
    oh_resampler_destroy(b);
}

/* An impulse at input frame 0 peaks at output frame latency (ratios where
 * the impulse lands on the output grid). */
static void test_latency(int in_rate, int out_rate)
{
    oh_resampler *rs = make(in_rate, out_rate, 1);
    if (!rs)
        return;
    static int16_t in[2000], out[12000];
    memset(in, 0, sizeof in);
    in[0] = 16000;
    int n = oh_resampler_process(rs, in, 2000, out, 12000);
    int peak = 0;
    for (int i = 1; i < n; i++)
        if (abs(out[i]) > abs(out[peak]))
            peak = i;
    CHECK(peak == oh_resampler_latency(rs));
    /* the latency is the documented 55..58 / min(in_rate, out_rate) seconds */
    double ms = 1000.0 * oh_resampler_latency(rs) / out_rate;
    double low = 55000.0 / (in_rate < out_rate ? in_rate : out_rate);
    CHECK(ms >= low * 0.999 && ms <= low * 58.0 / 55.0);
    oh_resampler_destroy(rs);
}

/* Level of frequency f in x (Goertzel), as the amplitude of a sine. */
static double tone_level(const int16_t *x, int n, double f, int rate)
{
    double w = 2.0 * PI * f / rate, s1 = 0, s2 = 0;
    for (int i = 0; i < n; i++) {
        /* Hann window so leakage from other tones stays out */
        double s0 = x[i] * (0.5 - 0.5 * cos(2.0 * PI * i / n)) + 2.0 * cos(w) * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    double power = s1 * s1 + s2 * s2 - 2.0 * cos(w) * s1 * s2;
    return 2.0 * sqrt(power) / (0.5 * n);
}

static void test_tones_48k_to_16k(void)
{
    enum { IN = 48000 / 2, OUT = IN / 3 };
    static int16_t in[IN], out[OUT + 8];
    oh_resampler *rs = make(48000, 16000, 1);
    if (!rs)
        return;
    /* 1 kHz in the passband and 10 kHz, which would alias to 6 kHz */
    for (int i = 0; i < IN; i++)
        in[i] = (int16_t)lrint(10000.0 * sin(2.0 * PI * 1000.0 * i / 48000.0) +
                               10000.0 * sin(2.0 * PI * 10000.0 * i / 48000.0));
    int n = oh_resampler_process(rs, in, IN, out, OUT + 8);
    CHECK(n == OUT);
    const int skip = 200, len = 4000;
    double pass = tone_level(out + skip, len, 1000.0, 16000);
    double alias = tone_level(out + skip, len, 6000.0, 16000);
    CHECK(fabs(20.0 * log10(pass / 10000.0)) < 0.01);
    CHECK(20.0 * log10(alias / 10000.0) < -80.0);
    oh_resampler_destroy(rs);
}

static void test_enomem(void)
{
    oh_resampler_config cfg;
    oh_resampler_config_default(&cfg);
    cfg.in_rate = 44100;
    cfg.out_rate = 16000;
    cfg.channels = 2;
    oh_resampler *rs = NULL;
    CHECK_CREATE_SURVIVES_ENOMEM(oh_resampler_create(&cfg, &rs), rs, oh_resampler_destroy);
    cfg.out_rate = 44100;
    CHECK_CREATE_SURVIVES_ENOMEM(oh_resampler_create(&cfg, &rs), rs, oh_resampler_destroy);
}

int main(void)
{
    unsigned long long seed = oh_test_seed();
    static const int pairs[][2] = {
        {48000, 16000}, {16000, 48000}, {44100, 16000}, {8000, 16000}, {16000, 8000},
        {22050, 16000}, {11025, 48000}, {44100, 48000}, {48000, 44100}, {32000, 12000},
        {24000, 8000},
    };
    test_bad_config();
    test_bad_calls();
    test_pass_through();
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
        test_chunking(pairs[i][0], pairs[i][1], i % 3 == 2 ? 2 : 1, &seed);
    test_latency(48000, 16000);
    test_latency(16000, 48000);
    test_latency(8000, 16000);
    test_latency(16000, 8000);
    test_latency(8000, 48000);
    test_tones_48k_to_16k();
    test_enomem();
    TEST_EXIT();
}
