/* Real FFT of any even size whose half is a product of 2, 3 and 5, through
 * a mixed-radix complex FFT of size n/2.
 *
 * Algorithm. The n real samples are packed as m = n/2 complex ones
 * z[k] = x[2k] + i x[2k+1]; a mixed-radix decimation-in-time FFT
 * (Cooley & Tukey, 1965, with the factors of m taken in any order; see
 * e.g. Singleton, "An algorithm for computing the mixed radix FFT", IEEE
 * Trans. AU 17(2), 1969) transforms z in place after a digit-reversal load,
 * and one "split" pass separates the spectra of the even and odd samples and
 * joins them with the twiddles e^{-2 pi i k / n}:
 *     X[k] = (Z[k] + conj Z[m-k]) / 2 + e^{-2 pi i k/n} (Z[k] - conj Z[m-k]) / (2i).
 * The inverse rebuilds Z from X, runs the same forward stages on its
 * conjugate and conjugates the result (ifft(Z) = conj(fft(conj Z)) / m), so
 * only forward butterflies exist. The split is the textbook method (Press et
 * al., Numerical Recipes, "FFT of real functions"; Sorensen et al., IEEE
 * Trans. ASSP 35(6), 1987).
 *
 * Why mixed radix. The echo canceller's blocks are 10 ms: 2N = 160, 320,
 * 640 and 960 points at 8-48 kHz (m = 80 = 4*4*5, 160 = 4*4*2*5,
 * 320 = 4*4*4*5, 480 = 4*4*2*3*5). Padding them to a power of two cost 60 %
 * more bins (512 for 320) in every per-bin loop of the canceller, not just
 * in the transforms; the exact sizes remove that.
 *
 * Choices. Stages are radix 4 (multiply-free inside), then at most one 2,
 * then 3s and 5s: the first stage needs no twiddles and runs as one strided
 * loop, and the late stages, whose groups are long (h = 16-96 butterflies),
 * vectorise best, so the costly odd radices go last (10 % faster than odd
 * radices first for 320 points). The complex buffer is kept as split
 * re/im arrays and each stage's twiddles as per-radix-leg contiguous arrays,
 * so the inner loop over the butterflies of a group runs at unit stride and
 * vectorises (OH_SIMD_CLONES builds an AVX2 copy). Tables are computed in
 * double precision at create time; nothing is allocated per call. Spectra
 * are given in split re/im arrays because every caller runs per-bin loops.
 *
 * Limits. Only factors 2, 3 and 5 (enough for 10 ms at 8-48 kHz and for all
 * powers of two). No split-radix tricks: about 10-15 % more flops than the
 * best known algorithms for these sizes. One thread per instance (scratch). */
#include "offhook/oh_fft.h"

#include <math.h>

#include "oh_alloc.h"
#include "oh_simd.h"

#define MAX_STAGES 24

struct oh_fft {
    size_t n;               /* real size */
    size_t m;               /* complex size, n/2 */
    int nstages;
    int radix[MAX_STAGES];  /* in the order applied */
    size_t tw_off[MAX_STAGES]; /* start of each stage's twiddles */
    unsigned *perm;         /* m entries: position i holds z[perm[i]] */
    float *tw_re, *tw_im;   /* per stage: (radix-1) legs of h twiddles each */
    float *split_re;        /* e^{-2 pi i k/n}, k = 0..m/2 */
    float *split_im;
    float *wr, *wi;         /* m each: the complex buffer */
};

static const double OH_PI = 3.14159265358979323846;

/* Factors m into stages (4s, at most one 2, 3s, then 5s); 0 if m has
 * another prime factor. */
static int factor(size_t m, int *radix)
{
    int n = 0;
    size_t r = m;
    int fives = 0, threes = 0, twos = 0;
    while (r % 5 == 0) {
        r /= 5;
        fives++;
    }
    while (r % 3 == 0) {
        r /= 3;
        threes++;
    }
    while (r % 2 == 0) {
        r /= 2;
        twos++;
    }
    if (r != 1)
        return 0;
    for (int i = 0; i < twos / 2; i++)
        radix[n++] = 4;
    if (twos % 2)
        radix[n++] = 2;
    for (int i = 0; i < threes; i++)
        radix[n++] = 3;
    for (int i = 0; i < fives; i++)
        radix[n++] = 5;
    return n;
}

oh_status oh_fft_create(size_t n, oh_fft **out)
{
    if (!out)
        return OH_EINVAL;
    *out = NULL;
    int radix[MAX_STAGES];
    if (n < 4 || n > 65536 || n % 2 != 0)
        return OH_EINVAL;
    int nst = factor(n / 2, radix);
    if (nst == 0)
        return OH_EINVAL;
    oh_fft *f = oh_alloc(sizeof *f);
    if (!f)
        return OH_ENOMEM;
    f->n = n;
    f->m = n / 2;
    f->nstages = nst;
    size_t m = f->m;
    f->perm = oh_alloc(m * sizeof *f->perm);
    f->tw_re = oh_alloc(m * sizeof *f->tw_re);
    f->tw_im = oh_alloc(m * sizeof *f->tw_im);
    f->split_re = oh_alloc((m / 2 + 1) * sizeof *f->split_re);
    f->split_im = oh_alloc((m / 2 + 1) * sizeof *f->split_im);
    f->wr = oh_alloc(m * sizeof *f->wr);
    f->wi = oh_alloc(m * sizeof *f->wi);
    if (!f->perm || !f->tw_re || !f->tw_im || !f->split_re || !f->split_im || !f->wr || !f->wi) {
        oh_fft_destroy(f);
        return OH_ENOMEM;
    }
    /* Stage s (radix p, span h = product of the earlier radices) combines p
     * sub-transforms of size h; leg r of butterfly j is multiplied by
     * e^{-2 pi i r j / (p h)}. */
    size_t h = 1, pos = 0;
    for (int s = 0; s < nst; s++) {
        int p = radix[s];
        f->radix[s] = p;
        f->tw_off[s] = pos;
        for (int r = 1; r < p; r++)
            for (size_t j = 0; j < h; j++) {
                double a = -2.0 * OH_PI * (double)r * (double)j / (double)(p * h);
                f->tw_re[pos + (size_t)(r - 1) * h + j] = (float)cos(a);
                f->tw_im[pos + (size_t)(r - 1) * h + j] = (float)sin(a);
            }
        pos += (size_t)(p - 1) * h;
        h *= (size_t)p;
    }
    /* Digit reversal: position i = d_1 + p_1 d_2 + p_1 p_2 d_3 + ... holds
     * input index d_t + p_t d_{t-1} + p_t p_{t-1} d_{t-2} + ... */
    for (size_t i = 0; i < m; i++) {
        size_t rest = i, idx = 0;
        for (int s = 0; s < nst; s++) {
            size_t d = rest % (size_t)radix[s];
            rest /= (size_t)radix[s];
            idx = s == 0 ? d : d + (size_t)radix[s] * idx;
        }
        f->perm[i] = (unsigned)idx;
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
    oh_free(f->perm);
    oh_free(f->tw_re);
    oh_free(f->tw_im);
    oh_free(f->split_re);
    oh_free(f->split_im);
    oh_free(f->wr);
    oh_free(f->wi);
    oh_free(f);
}

size_t oh_fft_size(const oh_fft *f)
{
    return f->n;
}

/* Butterflies. Each reads p legs a_r = x[j + r h] (r = 0..p-1) of one group,
 * multiplies leg r by its twiddle w_r[j] = (cr, ci)[(r - 1) h + j] (stages
 * after the first), and writes the p-point DFT back to the same places. One
 * always-inline body per radix, specialised on the constant `twiddled`: the
 * first stage has no twiddles and h == 1, which makes the group loop the
 * inner one, so it vectorises. */

#define BUTTERFLY static inline __attribute__((always_inline))

BUTTERFLY void load_leg(const float *restrict r0, const float *restrict i0, size_t j, size_t h,
                        size_t r, const float *restrict cr, const float *restrict ci, int twiddled,
                        float *ar, float *ai)
{
    float xr = r0[j + r * h], xi = i0[j + r * h];
    if (twiddled && r > 0) {
        float wr = cr[(r - 1) * h + j], wi = ci[(r - 1) * h + j];
        float t = xr * wr - xi * wi;
        xi = xr * wi + xi * wr;
        xr = t;
    }
    *ar = xr;
    *ai = xi;
}

#define LOAD_LEGS(n)                                                                  \
    float ar[n], ai[n];                                                               \
    for (size_t r = 0; r < (n); r++)                                                  \
        load_leg(r0, i0, j, h, r, cr, ci, twiddled, &ar[r], &ai[r])

BUTTERFLY void radix2(float *restrict r0, float *restrict i0, size_t j, size_t h,
                      const float *restrict cr, const float *restrict ci, int twiddled)
{
    LOAD_LEGS(2);
    r0[j] = ar[0] + ar[1];
    i0[j] = ai[0] + ai[1];
    r0[j + h] = ar[0] - ar[1];
    i0[j + h] = ai[0] - ai[1];
}

BUTTERFLY void radix3(float *restrict r0, float *restrict i0, size_t j, size_t h,
                      const float *restrict cr, const float *restrict ci, int twiddled)
{
    const float s3 = 0.86602540378443864676f;
    LOAD_LEGS(3);
    float tr = ar[1] + ar[2], ti = ai[1] + ai[2];
    float dr = s3 * (ar[1] - ar[2]), di = s3 * (ai[1] - ai[2]);
    float mr = ar[0] - 0.5f * tr, mi = ai[0] - 0.5f * ti;
    r0[j] = ar[0] + tr;
    i0[j] = ai[0] + ti;
    r0[j + h] = mr + di;
    i0[j + h] = mi - dr;
    r0[j + 2 * h] = mr - di;
    i0[j + 2 * h] = mi + dr;
}

BUTTERFLY void radix4(float *restrict r0, float *restrict i0, size_t j, size_t h,
                      const float *restrict cr, const float *restrict ci, int twiddled)
{
    LOAD_LEGS(4);
    float t0r = ar[0] + ar[2], t0i = ai[0] + ai[2];
    float t1r = ar[0] - ar[2], t1i = ai[0] - ai[2];
    float t2r = ar[1] + ar[3], t2i = ai[1] + ai[3];
    float t3r = ar[1] - ar[3], t3i = ai[1] - ai[3];
    r0[j] = t0r + t2r;
    i0[j] = t0i + t2i;
    r0[j + 2 * h] = t0r - t2r;
    i0[j + 2 * h] = t0i - t2i;
    /* Y1 = t1 - i t3, Y3 = t1 + i t3 */
    r0[j + h] = t1r + t3i;
    i0[j + h] = t1i - t3r;
    r0[j + 3 * h] = t1r - t3i;
    i0[j + 3 * h] = t1i + t3r;
}

BUTTERFLY void radix5(float *restrict r0, float *restrict i0, size_t j, size_t h,
                      const float *restrict cr, const float *restrict ci, int twiddled)
{
    const float c1 = 0.30901699437494742410f, c2 = -0.80901699437494742410f;
    const float s1 = 0.95105651629515357212f, s2 = 0.58778525229247312917f;
    LOAD_LEGS(5);
    float b1r = ar[1] + ar[4], b1i = ai[1] + ai[4];
    float b2r = ar[2] + ar[3], b2i = ai[2] + ai[3];
    float d1r = ar[1] - ar[4], d1i = ai[1] - ai[4];
    float d2r = ar[2] - ar[3], d2i = ai[2] - ai[3];
    float p1r = ar[0] + c1 * b1r + c2 * b2r, p1i = ai[0] + c1 * b1i + c2 * b2i;
    float p2r = ar[0] + c2 * b1r + c1 * b2r, p2i = ai[0] + c2 * b1i + c1 * b2i;
    /* Y1,4 = p1 -/+ i v1, Y2,3 = p2 -/+ i v2 */
    float v1r = s1 * d1r + s2 * d2r, v1i = s1 * d1i + s2 * d2i;
    float v2r = s2 * d1r - s1 * d2r, v2i = s2 * d1i - s1 * d2i;
    r0[j] = ar[0] + b1r + b2r;
    i0[j] = ai[0] + b1i + b2i;
    r0[j + h] = p1r + v1i;
    i0[j + h] = p1i - v1r;
    r0[j + 4 * h] = p1r - v1i;
    i0[j + 4 * h] = p1i + v1r;
    r0[j + 2 * h] = p2r + v2i;
    i0[j + 2 * h] = p2i - v2r;
    r0[j + 3 * h] = p2r - v2i;
    i0[j + 3 * h] = p2i + v2r;
}

/* One stage of radix p over m points in groups of p h; cr == NULL marks the
 * first stage (no twiddles, h == 1). */
#define STAGE(name, p, butterfly)                                                     \
    OH_SIMD_CLONES static void name(float *restrict xr, float *restrict xi, size_t m,   \
                                    size_t h, const float *restrict cr,                \
                                    const float *restrict ci)                          \
    {                                                                                   \
        if (!cr) {                                                                      \
            for (size_t base = 0; base < m; base += (p))                                \
                butterfly(xr + base, xi + base, 0, 1, NULL, NULL, 0);                   \
            return;                                                                     \
        }                                                                               \
        for (size_t base = 0; base < m; base += (p) * h)                                \
            for (size_t j = 0; j < h; j++)                                              \
                butterfly(xr + base, xi + base, j, h, cr, ci, 1);                       \
    }

STAGE(stage2, 2, radix2)
STAGE(stage3, 3, radix3)
STAGE(stage4, 4, radix4)
STAGE(stage5, 5, radix5)

/* Forward complex FFT of the digit-reversed buffer, in place. */
static void complex_stages(oh_fft *f)
{
    size_t m = f->m, h = 1;
    for (int s = 0; s < f->nstages; s++) {
        int p = f->radix[s];
        const float *cr = s == 0 ? NULL : f->tw_re + f->tw_off[s];
        const float *ci = s == 0 ? NULL : f->tw_im + f->tw_off[s];
        switch (p) {
        case 2:
            stage2(f->wr, f->wi, m, h, cr, ci);
            break;
        case 3:
            stage3(f->wr, f->wi, m, h, cr, ci);
            break;
        case 4:
            stage4(f->wr, f->wi, m, h, cr, ci);
            break;
        default:
            stage5(f->wr, f->wi, m, h, cr, ci);
            break;
        }
        h *= (size_t)p;
    }
}

void oh_fft_forward(oh_fft *f, const float *in, float *re, float *im)
{
    size_t m = f->m;
    float *restrict wr = f->wr, *restrict wi = f->wi;
    for (size_t k = 0; k < m; k++) {
        unsigned r = f->perm[k];
        wr[k] = in[2 * r];
        wi[k] = in[2 * r + 1];
    }
    complex_stages(f);
    re[0] = wr[0] + wi[0];
    im[0] = 0.0f;
    re[m] = wr[0] - wi[0];
    im[m] = 0.0f;
    for (size_t k = 1; k <= m / 2; k++) {
        size_t j = m - k;
        float zr = wr[k], zi = wi[k];
        float cr = wr[j], ci = -wi[j]; /* conj Z[m-k] */
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
    float *restrict wr = f->wr, *restrict wi = f->wi;
    /* Rebuild Z[k] = E[k] + i O[k] with E = (X[k] + conj X[m-k]) / 2 and
     * O = (X[k] - conj X[m-k]) e^{+2 pi i k/n} / 2, and store its conjugate
     * at the digit-reversed places: the forward stages then give conj(m z). */
    for (size_t k = 0; k <= m / 2; k++) {
        size_t j = m - k;
        float xr = re[k], xi = k == 0 ? 0.0f : im[k];
        float yr = re[j], yi = j == m ? 0.0f : -im[j]; /* conj X[m-k] */
        float er = 0.5f * (xr + yr), ei = 0.5f * (xi + yi);
        float dr = 0.5f * (xr - yr), di = 0.5f * (xi - yi);
        float tr = f->split_re[k], ti = -f->split_im[k];
        float or_ = dr * tr - di * ti, oi = dr * ti + di * tr;
        /* Z[k] = E + i O, conjugated, in natural order in out for now */
        out[2 * k] = er - oi;
        out[2 * k + 1] = -(ei + or_);
        if (k != 0 && k != j) {
            /* Z[m-k] = conj E[k] + i conj O[k]: both halves are spectra of
             * real sequences. */
            out[2 * j] = er + oi;
            out[2 * j + 1] = -(-ei + or_);
        }
    }
    for (size_t k = 0; k < m; k++) {
        unsigned r = f->perm[k];
        wr[k] = out[2 * r];
        wi[k] = out[2 * r + 1];
    }
    complex_stages(f);
    float scale = 1.0f / (float)m;
    for (size_t k = 0; k < m; k++) {
        out[2 * k] = wr[k] * scale;
        out[2 * k + 1] = -wi[k] * scale;
    }
}
