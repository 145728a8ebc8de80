/* Real FFT of power-of-two size n, through a complex FFT of size n/2.
 *
 * Algorithm. The n real samples are packed as n/2 complex ones
 * z[k] = x[2k] + i x[2k+1]; an iterative radix-2 decimation-in-time FFT
 * (bit-reversed load, then log2(n/2) butterfly stages) transforms z, and one
 * "split" pass separates the spectra of the even and odd samples and joins
 * them with the twiddles e^{-2 pi i k / n}:
 *     X[k] = (Z[k] + conj Z[m-k]) / 2 + e^{-2 pi i k/n} (Z[k] - conj Z[m-k]) / (2i).
 * The inverse runs the same steps backwards. This is the textbook method
 * (e.g. Press et al., Numerical Recipes, "FFT of real functions"; Sorensen et
 * al., IEEE Trans. ASSP 35(6), 1987, for the real-valued variants).
 *
 * Choices. Twiddles are stored per stage, contiguous, so the inner loop of
 * each stage reads them with unit stride and the compiler can vectorise it;
 * tables are computed in double precision at create time. Spectra are given
 * in split re/im arrays because every caller (the echo canceller's
 * partitioned filter, the suppressors) runs per-bin loops over them.
 *
 * The first two radix-2 stages are fused into one multiply-free radix-4
 * pass (their twiddles are 1 and -i): it removes the 1- and 2-long inner
 * loops that dominated small stages, 22 % of a 512-point transform.
 *
 * Limits. Power-of-two sizes only: the echo canceller pads its 10 ms blocks
 * into the next power of two instead of needing radix-3/5 passes. The later
 * stages are radix-2 on interleaved complex values (a split-radix or radix-4
 * kernel would save ~20 % of the multiplies); a 512-point forward plus
 * inverse takes ~1.6 us on a 2020s x86-64 core. */
#include "offhook/oh_fft.h"

#include <math.h>

#include "oh_alloc.h"
#include "oh_simd.h"

struct oh_fft {
    size_t n;         /* real size */
    size_t m;         /* complex size, n/2 */
    unsigned *bitrev; /* m entries */
    float *stage_tw;  /* per-stage twiddles, interleaved re/im: 2*(m-1) floats */
    float *split_re;  /* e^{-2 pi i k/n}, k = 0..m/2 */
    float *split_im;
    float *work;      /* 2*m floats: the complex buffer */
};

static const double OH_PI = 3.14159265358979323846;

oh_status oh_fft_create(size_t n, oh_fft **out)
{
    if (!out)
        return OH_EINVAL;
    *out = NULL;
    if (n < 4 || n > 65536 || (n & (n - 1)) != 0)
        return OH_EINVAL;
    oh_fft *f = oh_alloc(sizeof *f);
    if (!f)
        return OH_ENOMEM;
    f->n = n;
    f->m = n / 2;
    size_t m = f->m;
    f->bitrev = oh_alloc(m * sizeof *f->bitrev);
    f->stage_tw = oh_alloc(2 * m * sizeof *f->stage_tw);
    f->split_re = oh_alloc((m / 2 + 1) * sizeof *f->split_re);
    f->split_im = oh_alloc((m / 2 + 1) * sizeof *f->split_im);
    f->work = oh_alloc(2 * m * sizeof *f->work);
    if (!f->bitrev || !f->stage_tw || !f->split_re || !f->split_im || !f->work) {
        oh_fft_destroy(f);
        return OH_ENOMEM;
    }
    unsigned bits = 0;
    while (((size_t)1 << bits) < m)
        bits++;
    for (size_t i = 0; i < m; i++) {
        unsigned r = 0;
        for (unsigned b = 0; b < bits; b++)
            if (i & ((size_t)1 << b))
                r |= 1u << (bits - 1 - b);
        f->bitrev[i] = r;
    }
    /* Stage with half-span h uses e^{-2 pi i j/(2h)}, j = 0..h-1. */
    size_t pos = 0;
    for (size_t h = 1; h < m; h *= 2) {
        for (size_t j = 0; j < h; j++) {
            double a = -OH_PI * (double)j / (double)h;
            f->stage_tw[2 * (pos + j)] = (float)cos(a);
            f->stage_tw[2 * (pos + j) + 1] = (float)sin(a);
        }
        pos += h;
    }
    for (size_t k = 0; k <= m / 2; k++) {
        double a = -2.0 * OH_PI * (double)k / (double)n;
        f->split_re[k] = (float)cos(a);
        f->split_im[k] = (float)sin(a);
    }
    *out = f;
    return OH_OK;
}

void oh_fft_destroy(oh_fft *f)
{
    if (!f)
        return;
    oh_free(f->bitrev);
    oh_free(f->stage_tw);
    oh_free(f->split_re);
    oh_free(f->split_im);
    oh_free(f->work);
    oh_free(f);
}

size_t oh_fft_size(const oh_fft *f)
{
    return f->n;
}

/* In-place complex FFT of the bit-reversed buffer w (m interleaved values).
 * sign = +1: forward; -1: inverse (unscaled), by conjugating the twiddles. */
OH_SIMD_CLONES
static void complex_stages(const oh_fft *f, float *restrict w, float sign)
{
    size_t m = f->m;
    const float *tw = f->stage_tw;
    size_t h = 1;
    if (m >= 4) {
        /* The first two stages fused (a radix-4 pass): their twiddles are
         * 1 and -i (+i inverse), so no multiplies, and no 1- and 2-long
         * inner loops. */
        for (size_t base = 0; base < m; base += 4) {
            float *x = w + 2 * base;
            float a0r = x[0] + x[2], a0i = x[1] + x[3];
            float a1r = x[0] - x[2], a1i = x[1] - x[3];
            float a2r = x[4] + x[6], a2i = x[5] + x[7];
            float a3r = x[4] - x[6], a3i = x[5] - x[7];
            float br = sign * a3i, bi = -sign * a3r;
            x[0] = a0r + a2r;
            x[1] = a0i + a2i;
            x[4] = a0r - a2r;
            x[5] = a0i - a2i;
            x[2] = a1r + br;
            x[3] = a1i + bi;
            x[6] = a1r - br;
            x[7] = a1i - bi;
        }
        tw += 2 * 3;
        h = 4;
    }
    for (; h < m; h *= 2) {
        for (size_t base = 0; base < m; base += 2 * h) {
            float *a = w + 2 * base;
            float *b = a + 2 * h;
            for (size_t j = 0; j < h; j++) {
                float wr = tw[2 * j], wi = sign * tw[2 * j + 1];
                float br = b[2 * j] * wr - b[2 * j + 1] * wi;
                float bi = b[2 * j] * wi + b[2 * j + 1] * wr;
                float ar = a[2 * j], ai = a[2 * j + 1];
                a[2 * j] = ar + br;
                a[2 * j + 1] = ai + bi;
                b[2 * j] = ar - br;
                b[2 * j + 1] = ai - bi;
            }
        }
        tw += 2 * h;
    }
}

void oh_fft_forward(oh_fft *f, const float *in, float *re, float *im)
{
    size_t m = f->m;
    float *w = f->work;
    for (size_t k = 0; k < m; k++) {
        unsigned r = f->bitrev[k];
        w[2 * r] = in[2 * k];
        w[2 * r + 1] = in[2 * k + 1];
    }
    complex_stages(f, w, 1.0f);
    re[0] = w[0] + w[1];
    im[0] = 0.0f;
    re[m] = w[0] - w[1];
    im[m] = 0.0f;
    for (size_t k = 1; k <= m / 2; k++) {
        size_t j = m - k;
        float zr = w[2 * k], zi = w[2 * k + 1];
        float cr = w[2 * j], ci = -w[2 * j + 1]; /* conj Z[m-k] */
        float er = 0.5f * (zr + cr), ei = 0.5f * (zi + ci);
        float dr = 0.5f * (zr - cr), di = 0.5f * (zi - ci);
        /* odd part: (Z[k] - conj Z[m-k]) / (2i) = (di, -dr) */
        float or_ = di, oi = -dr;
        float tr = f->split_re[k], ti = f->split_im[k];
        float pr = or_ * tr - oi * ti, pi = or_ * ti + oi * tr;
        re[k] = er + pr;
        im[k] = ei + pi;
        /* X[m-k] = conj(E[k] - W^k O[k]) by the symmetries of real input */
        re[j] = er - pr;
        im[j] = -(ei - pi);
    }
}

void oh_fft_inverse(oh_fft *f, const float *re, const float *im, float *out)
{
    size_t m = f->m;
    float *w = f->work;
    /* Rebuild Z[k] = E[k] + i O[k] with E = (X[k] + conj X[m-k]) / 2 and
     * O = (X[k] - conj X[m-k]) e^{+2 pi i k/n} / 2, stored bit-reversed. */
    for (size_t k = 0; k <= m / 2; k++) {
        size_t j = m - k;
        float xr = re[k], xi = k == 0 ? 0.0f : im[k];
        float yr = re[j], yi = j == m ? 0.0f : -im[j]; /* conj X[m-k] */
        float er = 0.5f * (xr + yr), ei = 0.5f * (xi + yi);
        float dr = 0.5f * (xr - yr), di = 0.5f * (xi - yi);
        float tr = f->split_re[k], ti = -f->split_im[k];
        float or_ = dr * tr - di * ti, oi = dr * ti + di * tr;
        /* Z[k] = E + i O */
        float zr = er - oi, zi = ei + or_;
        unsigned rk = f->bitrev[k];
        w[2 * rk] = zr;
        w[2 * rk + 1] = zi;
        if (k != 0 && k != j && j < m) {
            /* Z[m-k] = E[m-k] + i O[m-k] = conj E[k] + i conj O[k]: both
             * halves are spectra of real sequences. */
            float zr2 = er + oi, zi2 = -ei + or_;
            unsigned rj = f->bitrev[j];
            w[2 * rj] = zr2;
            w[2 * rj + 1] = zi2;
        }
    }
    complex_stages(f, w, -1.0f);
    float scale = 1.0f / (float)m;
    for (size_t k = 0; k < m; k++) {
        out[2 * k] = w[2 * k] * scale;
        out[2 * k + 1] = w[2 * k + 1] * scale;
    }
}
