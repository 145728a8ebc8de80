/* Time-scale modification: pitch kept, no clicks at the splices, exact
 * frame lengths, fade-out of long expansions, bad configs, allocation
 * failure. Signals are synthetic voiced sounds (harmonics of a slowly
 * gliding fundamental), where a wrong splice is easy to measure. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "offhook/oh_tsm.h"
#include "oh_test.h"

#define RATE 8000
#define PI 3.14159265358979323846
#define N 160

static double phase_acc;

/* a vowel-like signal: 6 harmonics of f0, f0 gliding by +-5 % */
static void vowel(int16_t *x, int len, double f0, int start)
{
    for (int i = 0; i < len; i++) {
        double f = f0 * (1.0 + 0.05 * sin(2.0 * PI * 0.7 * (start + i) / RATE));
        phase_acc += 2.0 * PI * f / RATE;
        double v = 0.0;
        for (int k = 1; k <= 6; k++)
            v += sin(k * phase_acc) / k;
        x[i] = (int16_t)lrint(6000.0 * v);
    }
}

static int max_step(const int16_t *x, int len)
{
    int m = 0;
    for (int i = 1; i < len; i++) {
        int d = abs(x[i] - x[i - 1]);
        if (d > m)
            m = d;
    }
    return m;
}

/* dominant period by autocorrelation, in samples */
static int period_of(const int16_t *x, int len)
{
    int best = 0;
    double best_c = -1e300;
    for (int p = 20; p <= 120; p++) {
        double c = 0.0, e = 0.0;
        for (int i = p; i < len; i++) {
            c += (double)x[i] * x[i - p];
            e += (double)x[i - p] * x[i - p];
        }
        c /= sqrt(e + 1.0);
        if (c > best_c) {
            best_c = c;
            best = p;
        }
    }
    return best;
}

static oh_tsm *make(int rate, int n)
{
    oh_tsm_config cfg = {rate, n};
    oh_tsm *t = NULL;
    CHECK_STATUS(oh_tsm_create(&cfg, &t), OH_OK);
    return t;
}

static void test_accelerate_keeps_pitch_and_continuity(void)
{
    oh_tsm *t = make(RATE, N);
    static int16_t sig[20 * N], out[20 * N];
    phase_acc = 0.0;
    vowel(sig, 20 * N, 125.0, 0); /* period 64 samples */
    int in_step = max_step(sig, 20 * N);
    int pos = 0, o = 0;
    /* normal, accelerated pair, normal, ... : 20 input frames -> 14 output */
    while (pos + 3 * N <= 20 * N) {
        memcpy(out + o, sig + pos, N * sizeof *out);
        oh_tsm_pass(t, out + o);
        pos += N;
        o += N;
        oh_tsm_accelerate(t, sig + pos, out + o);
        pos += 2 * N;
        o += N;
    }
    /* no click: the largest sample-to-sample step stays that of the input */
    CHECK(max_step(out, o) <= in_step * 12 / 10);
    /* the pitch is that of the input, not doubled */
    int pin = period_of(sig + 4 * N, 4 * N), pout = period_of(out + 4 * N, 4 * N);
    CHECK(abs(pin - pout) <= 3);
    oh_tsm_destroy(t);
}

static void test_expand_continues_and_splices(void)
{
    oh_tsm *t = make(RATE, N);
    static int16_t sig[10 * N], out[10 * N];
    phase_acc = 0.0;
    vowel(sig, 10 * N, 100.0, 0);
    int in_step = max_step(sig, 10 * N);
    for (int f = 0; f < 3; f++) {
        memcpy(out + f * N, sig + f * N, N * sizeof *out);
        oh_tsm_pass(t, out + f * N);
    }
    oh_tsm_expand(t, out + 3 * N);
    memcpy(out + 4 * N, sig + 3 * N, N * sizeof *out); /* the frame it waited for */
    oh_tsm_pass(t, out + 4 * N);
    CHECK(max_step(out, 5 * N) <= in_step * 13 / 10);
    CHECK(abs(period_of(out + 2 * N, 2 * N) - period_of(sig + 2 * N, 2 * N)) <= 3);
    double e = 0.0;
    for (int i = 3 * N; i < 4 * N; i++)
        e += (double)out[i] * out[i];
    CHECK(sqrt(e / N) > 2000.0); /* a real continuation, not silence */
    oh_tsm_destroy(t);
}

static void test_long_expansion_fades(void)
{
    oh_tsm *t = make(16000, 320);
    static int16_t sig[320], out[320];
    phase_acc = 0.0;
    vowel(sig, 320, 200.0, 0);
    oh_tsm_pass(t, sig);
    for (int k = 0; k < 7; k++)
        oh_tsm_expand(t, out);
    int peak = 0;
    for (int i = 0; i < 320; i++)
        peak = abs(out[i]) > peak ? abs(out[i]) : peak;
    CHECK(peak == 0); /* 140 ms in: silent */
    oh_tsm_reset(t);
    oh_tsm_destroy(t);
}

static void test_every_rate(void)
{
    static const int rates[] = {8000, 16000, 32000, 48000};
    static int16_t sig[3 * 960], out[960];
    for (int r = 0; r < 4; r++) {
        for (int ms = 10; ms <= 20; ms += 10) {
            int n = rates[r] * ms / 1000;
            oh_tsm *t = make(rates[r], n);
            for (int i = 0; i < 3 * n; i++)
                sig[i] = (int16_t)lrint(8000.0 * sin(2.0 * PI * 180.0 * i / rates[r]));
            oh_tsm_pass(t, sig);
            oh_tsm_accelerate(t, sig + n, out);
            CHECK(abs(out[0] - sig[n]) < 8000 / 4);
            CHECK(abs(out[n - 1] - sig[3 * n - 1]) < 8000 / 4);
            oh_tsm_expand(t, out);
            oh_tsm_destroy(t);
        }
    }
}

static void test_bad_config_and_enomem(void)
{
    oh_tsm_config cfg;
    oh_tsm *t = (oh_tsm *)&cfg;
    oh_tsm_config_default(&cfg);
    cfg.sample_rate = 11025;
    CHECK_STATUS(oh_tsm_create(&cfg, &t), OH_EINVAL);
    CHECK(t == NULL);
    oh_tsm_config_default(&cfg);
    cfg.frame_samples = 100;
    CHECK_STATUS(oh_tsm_create(&cfg, &t), OH_EINVAL);
    CHECK_STATUS(oh_tsm_create(NULL, &t), OH_EINVAL);
    oh_tsm_config_default(&cfg);
    CHECK_STATUS(oh_tsm_create(&cfg, NULL), OH_EINVAL);
    oh_tsm_destroy(NULL);
    CHECK_CREATE_SURVIVES_ENOMEM(oh_tsm_create(&cfg, &t), t, oh_tsm_destroy);
}

int main(void)
{
    test_accelerate_keeps_pitch_and_continuity();
    test_expand_continues_and_splices();
    test_long_expansion_fades();
    test_every_rate();
    test_bad_config_and_enomem();
    TEST_EXIT();
}
