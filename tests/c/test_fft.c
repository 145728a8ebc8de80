/* Real FFT: against a direct DFT in double precision (the reference
 * numpy.fft.rfft computes) for every size the echo canceller uses, round trip, bad sizes,
 * and create under allocation failure. */
#include <math.h>
#include <stdint.h>

#include "offhook/oh_fft.h"
#include "oh_test.h"

static void test_against_dft(size_t n, unsigned long long *rng)
{
    oh_fft *fft = NULL;
    CHECK_STATUS(oh_fft_create(n, &fft), OH_OK);
    if (!fft)
        return;
    CHECK(oh_fft_size(fft) == n);
    float x[1024], y[1024], re[513], im[513];
    for (size_t i = 0; i < n; i++)
        x[i] = (float)((double)(oh_test_rand(rng) >> 11) / 9007199254740992.0 * 2.0 - 1.0);
    oh_fft_forward(fft, x, re, im);
    double worst = 0.0;
    for (size_t k = 0; k <= n / 2; k++) {
        double sr = 0.0, si = 0.0;
        for (size_t t = 0; t < n; t++) {
            double a = -2.0 * 3.14159265358979323846 * (double)(k * t % n) / (double)n;
            sr += x[t] * cos(a);
            si += x[t] * sin(a);
        }
        double err = hypot(re[k] - sr, im[k] - si);
        if (err > worst)
            worst = err;
    }
    /* float rounding grows like sqrt(n) log n; inputs are in [-1, 1) */
    CHECK(worst < 1e-5 * n);
    oh_fft_inverse(fft, re, im, y);
    float back = 0.0f;
    for (size_t i = 0; i < n; i++)
        back = fmaxf(back, fabsf(y[i] - x[i]));
    CHECK(back < 1e-5f);
    oh_fft_destroy(fft);
}

static void test_bad_sizes(void)
{
    oh_fft *fft = (oh_fft *)&fft;
    CHECK_STATUS(oh_fft_create(0, &fft), OH_EINVAL);
    CHECK(fft == NULL);
    CHECK_STATUS(oh_fft_create(2, &fft), OH_EINVAL);
    CHECK_STATUS(oh_fft_create(15, &fft), OH_EINVAL);  /* odd */
    CHECK_STATUS(oh_fft_create(14, &fft), OH_EINVAL);  /* 7 */
    CHECK_STATUS(oh_fft_create(2 * 3 * 11, &fft), OH_EINVAL);
    CHECK_STATUS(oh_fft_create(1u << 17, &fft), OH_EINVAL);
    CHECK_STATUS(oh_fft_create(512, NULL), OH_EINVAL);
    oh_fft_destroy(NULL);
}

static void test_enomem(void)
{
    oh_fft *fft = NULL;
    CHECK_CREATE_SURVIVES_ENOMEM(oh_fft_create(256, &fft), fft, oh_fft_destroy);
}

int main(void)
{
    unsigned long long rng = oh_test_seed();
    for (size_t n = 4; n <= 1024; n *= 2)
        test_against_dft(n, &rng);
    /* the echo canceller's 10 ms blocks (2N at 8, 16, 32, 48 kHz), odd
     * half-sizes, and every radix alone and mixed */
    static const size_t mixed[] = {160, 320, 640, 960, 6, 10, 30, 90, 250, 480, 750, 1000};
    for (size_t i = 0; i < sizeof mixed / sizeof mixed[0]; i++)
        test_against_dft(mixed[i], &rng);
    test_bad_sizes();
    test_enomem();
    TEST_EXIT();
}
