/* Streaming polyphase FIR sample-rate conversion.
 *
 * Algorithm. The ratio out_rate / in_rate is reduced by the gcd to L/M.
 * Conceptually the input is upsampled by L (L-1 zeros between samples),
 * low-pass filtered at the high rate L * in_rate, and every M-th sample is
 * kept (Crochiere & Rabiner, "Multirate Digital Signal Processing", 1983,
 * ch. 4). Only the kept samples are computed, and only the non-zero products:
 * output m sits at high-rate time t = m*M + t0, its newest input sample is
 * n = floor(t / L) and it needs the taps h[p], h[p+L], h[p+2L], ... with
 * p = t mod L. Those taps are row p of a polyphase table, stored reversed so
 * that each output is one contiguous dot product of a row with the last T
 * input samples, T a multiple of 16.
 *
 * Filter. A Kaiser-windowed sinc (J. F. Kaiser, "Nonrecursive digital filter
 * design using the I0-sinh window function", 1974), with Kaiser's formulas
 * for beta and the length: beta = 0.1102 (A - 8.7) and
 * N = (A - 7.95) / (2.285 dw) + 1 for attenuation A dB over a transition of
 * dw rad/sample. The passband ends at 0.90 and the stopband starts at 1.00 of
 * the lower Nyquist frequency, cutoff in the middle; A = 85 dB, 5 dB above
 * the requirement, which float rounding and the int16 output leave intact
 * (measured >= 85 dB). T is then rounded up to a multiple of 16 and N grown
 * to fill the table (an odd N, so the centre tap is on the grid): the longer
 * filter with the same beta only narrows the transition. The whole filter is
 * scaled to a DC gain of L, the gain the zero-stuffing took away. Design runs
 * in double at create time; the table is float.
 *
 * Latency. The filter is linear phase, delay c = (N-1)/2 high-rate samples.
 * Starting the output clock at t0 = c mod M makes the delay an integer
 * number of output frames, (c - t0) / M, reported by oh_resampler_latency.
 *
 * Streaming. Each channel has a float buffer: the last T-1 input samples
 * (history, zeros after create; for general ratios a few more, see below)
 * followed by room for a block of new input. Input is converted into the
 * buffer block by block, every output whose window is complete is computed,
 * and the history is moved to the front. The arithmetic for an output
 * depends only on its window and its row, never on where a call started or
 * which lane of a vector it fell in, so any chunking gives bit-identical
 * output.
 *
 * Speed. Float accumulation (24-bit mantissa: rounding noise far below the
 * int16 output's). Outputs are computed a vector (8 lanes) at a time rather
 * than as separate dot products, which would cost two loads per
 * multiply-add, half of them unaligned and splitting cache lines, plus a
 * horizontal sum per output:
 *   - integer upsampling (M = 1): all L rows at 16 consecutive input
 *     positions in one pass over the windows, each input vector loaded once
 *     for up to 3 rows, each coefficient broadcast once for 2 vectors;
 *   - integer downsampling (L = 1): the windows are split into their M
 *     phases, after which 32 consecutive outputs read consecutive samples of
 *     each phase, against one broadcast coefficient per tap;
 *   - other ratios (44.1 <-> 16 kHz...): groups of 16 consecutive outputs
 *     (always the same 16 rows) with a lane-interleaved table, one broadcast
 *     input sample against two aligned coefficient vectors; the rows are
 *     stored in the order the outputs visit them, so the table (too big for
 *     L1) is read as a forward stream.
 * Written with GCC/Clang vector extensions (no fast-math, no FMA contraction
 * under -std=c11: the order of every addition is fixed); the output loops
 * are compiled twice, baseline x86-64 (SSE2) and AVX2 (OH_SIMD_CLONES; the
 * loader picks one), which do the same operations in the same order and so
 * give the same samples (checked on all 81 standard pairs). FMA clones were
 * measured and gave nothing here: the loops are bound by loads. Rounding to
 * int16 is branch-free vector code. Coefficient rows start on cache lines.
 *
 * Known limits. Fixed quality (one filter spec). Single-stage: a large
 * downsampling ratio (48k -> 8k) costs in_rate / out_rate times more per
 * output than a half-band cascade would. The table holds L rows, so ratios
 * with L > OH_RESAMPLER_MAX_PHASES (odd rates such as 8001 Hz) are refused
 * rather than interpolating coefficients. About 55 / min(rate) seconds of
 * delay, the price of an 85 dB, 10 %-transition linear-phase filter; a
 * minimum-phase design would halve it at the cost of phase distortion. */
#include "offhook/oh_resampler.h"

#include <limits.h>
#include <math.h>
#include <string.h>

#include "oh_alloc.h"
#include "oh_simd.h"

#define PASSBAND 0.90    /* of the lower Nyquist frequency */
#define STOPBAND 1.00    /* idem */
#define ATTENUATION 85.0 /* dB, design target */
#define TAP_ALIGN 16     /* taps per row are a multiple of this */
#define BLOCK 512        /* input frames converted per pass */
#define LANES 8          /* outputs per vector in the integer-ratio kernels */
#define DOWN_K 4         /* vectors of outputs per block, integer downsampling */
#define UP_K 2           /* idem, integer upsampling */
#define PAD 64           /* floats past the end of the buffers, >= LANES * max K */
#define GROUP 16         /* outputs per group, general ratios (two vectors) */
#define PI 3.14159265358979323846

struct oh_resampler {
    int in_rate, out_rate, channels;
    int up, down;            /* L, M */
    int taps;                /* T, per row */
    int step_int, step_frac; /* M / L and M % L */
    int latency;             /* output frames */
    size_t start_pos;        /* pos and phase after reset */
    int start_phase;
    float *coefs;            /* L rows of T taps, reversed, 64-byte aligned */
    void *coef_mem;          /* the allocation coefs points into */
    float *buf;              /* channels x cap floats, then PAD zeros */
    float *sub;              /* integer downsampling (L = 1): M sub-rows of Q taps */
    float *phases;           /* idem: scratch for M phase arrays of plen floats */
    int sub_taps;            /* Q */
    size_t plen;
    size_t cap;              /* per channel: hist + BLOCK */
    size_t hist;             /* samples kept between blocks: T - 1 + extra */
    size_t pad;              /* floats readable past the last channel's cap */
    /* general ratios: groups of GROUP outputs in slot order, lane-interleaved */
    float *gcoefs;           /* groups x gtaps x GROUP, 64-byte aligned */
    void *gcoef_mem;
    int *goffs;              /* groups x GROUP: lane's window start - lane 0's */
    int gtaps, groups;
    size_t fill;             /* valid samples per channel */
    size_t pos;              /* newest sample of the next output's window */
    int phase;               /* row of the next output */
    int slot_of_phase1;      /* (M mod L)^-1 mod L: row p is stored at p * it mod L */
};

static int gcd(int a, int b)
{
    while (b) {
        int t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* Modified Bessel function of the first kind, order 0, by its power series
 * (converges quickly for the beta <= 10 used here). */
static double bessel_i0(double x)
{
    double sum = 1.0, term = 1.0, q = x * x / 4.0;
    for (int k = 1; k < 200; k++) {
        term *= q / ((double)k * (double)k);
        sum += term;
        if (term < sum * 1e-17)
            break;
    }
    return sum;
}

/* The table row of phase p. Consecutive outputs step the phase by M mod L,
 * so rows are stored in that order: the general path then reads the table
 * as one forward stream (the 44.1 <-> 16 kHz tables, 160 or 441 rows, do
 * not fit in L1, and a stream is what the prefetchers follow). With M = 1
 * or L = 1 the order is the natural one. */
static size_t slot(const oh_resampler *rs, int p)
{
    return (size_t)((long long)p * rs->slot_of_phase1 % rs->up);
}

/* x with (a * x) mod m = 1, for gcd(a, m) = 1 (m >= 1). */
static int inverse_mod(int a, int m)
{
    long long r0 = m, r1 = a % m, s0 = 0, s1 = 1;
    while (r1) {
        const long long q = r0 / r1, r2 = r0 - q * r1, s2 = s0 - q * s1;
        r0 = r1;
        r1 = r2;
        s0 = s1;
        s1 = s2;
    }
    return (int)(((s0 % m) + m) % m);
}

static void design(oh_resampler *rs, long n_taps)
{
    const int L = rs->up, T = rs->taps;
    const double high_rate = (double)L * rs->in_rate;
    const double nyquist = 0.5 * (rs->in_rate < rs->out_rate ? rs->in_rate : rs->out_rate);
    const double fc = 0.5 * (PASSBAND + STOPBAND) * nyquist / high_rate; /* cycles/sample */
    const double beta = 0.1102 * (ATTENUATION - 8.7);
    const double centre = 0.5 * (double)(n_taps - 1);
    const double i0_beta = bessel_i0(beta);
    double sum = 0.0;

    for (int p = 0; p < L; p++) {
        for (int j = 0; j < T; j++) {
            long n = p + (long)(T - 1 - j) * L;
            double h = 0.0;
            if (n < n_taps) {
                double x = (double)n - centre;
                double r = x / centre;
                double arg = PI * 2.0 * fc * x;
                double sinc = x == 0.0 ? 1.0 : sin(arg) / arg;
                h = 2.0 * fc * sinc * bessel_i0(beta * sqrt(fmax(0.0, 1.0 - r * r))) / i0_beta;
            }
            rs->coefs[slot(rs, p) * (size_t)T + (size_t)j] = (float)h;
            sum += h;
        }
    }
    const float scale = (float)(L / sum);
    for (size_t i = 0; i < (size_t)L * T; i++)
        rs->coefs[i] *= scale;
}

/* The dot product of a table row with an input window, n a multiple of 16,
 * in GCC/Clang vector extensions: four 8-float accumulators are independent
 * chains, so the loop runs at load speed rather than waiting on the adder;
 * on baseline x86-64 each becomes a pair of SSE registers. The order of
 * additions is fixed, so results depend neither on alignment nor on how the
 * input was chunked. */
typedef float v8f __attribute__((vector_size(32)));
typedef float v4f __attribute__((vector_size(16)));
/* The same, for unaligned loads from float arrays. */
typedef float v8f_unaligned __attribute__((vector_size(32), aligned(4), may_alias));
#define LOAD8(p) (*(const v8f_unaligned *)(const void *)(p))

#define INLINE static inline __attribute__((always_inline))

/* The integer-ratio kernels compute LANES outputs per vector, one output per
 * lane, instead of one output per dot product: with out_rate = L * in_rate
 * the outputs of L rows at LANES consecutive input positions read LANES
 * consecutive input samples for every tap, so each tap is one load of the
 * input, one broadcast coefficient per row and one multiply-add per row and
 * vector of outputs (no horizontal sums, and one load of x serves R rows and
 * a coefficient serves K vectors). Integer downsampling (L = 1) first splits
 * the window into its M phases so that the same holds there.
 *
 * acc[(r * K + k) * S + s] gets row r, vector k, taps j = s (mod S): S = 2
 * splits the taps into two independent chains where R * K alone would leave
 * the adder waiting. Each lane's sum is formed in an order fixed by its row
 * and tap count alone, whichever block or lane it falls in, so chunking
 * cannot change the result. R, K and S are constants after inlining. */
INLINE void mac_block(v8f *acc, const float *x, const float *c, size_t c_stride, int n,
                      int R, int K, int S)
{
    for (int j = 0; j < n; j += S)
        for (int s = 0; s < S; s++)
            for (int k = 0; k < K; k++) {
                const v8f xv = LOAD8(x + j + s + LANES * k);
                for (int r = 0; r < R; r++)
                    acc[(r * K + k) * S + s] += xv * c[(size_t)r * c_stride + (size_t)(j + s)];
            }
}

typedef int32_t v8i __attribute__((vector_size(32)));

/* Eight samples to int16: saturate, then round half away from zero, in
 * vector bit operations (a scalar version compiles to branches on the sign
 * and the limits, which audio mispredicts; lrintf would be a libm call). */
INLINE void to_int16x8(const v8f *v, int16_t *o)
{
    const v8f lo = {-32768.0f, -32768.0f, -32768.0f, -32768.0f,
                    -32768.0f, -32768.0f, -32768.0f, -32768.0f};
    const v8f hi = -lo - 1.0f;
    v8i below = *v < lo, above = *v > hi; /* -1 where true */
    v8i bits = (v8i)*v;
    bits = (bits & ~below) | ((v8i)lo & below);
    bits = (bits & ~above) | ((v8i)hi & above);
    const v8i half = (v8i)(lo * 0.0f + 0.5f);
    const v8i sign = bits & (v8i){INT32_MIN, INT32_MIN, INT32_MIN, INT32_MIN,
                                  INT32_MIN, INT32_MIN, INT32_MIN, INT32_MIN};
    const v8f rounded = (v8f)bits + (v8f)(half | sign);
    const v8i n = __builtin_convertvector(rounded, v8i);
    for (int l = 0; l < LANES; l++)
        o[l] = (int16_t)n[l];
}

/* The general ratio L/M. Outputs are taken in groups of GROUP consecutive
 * ones (in slot order, so a group always holds the same rows); the windows
 * of a group's outputs start goffs[l] samples after lane 0's, so the group
 * table holds, for every sample j of the span, the coefficient each lane
 * applies to it (zero outside the lane's window). Each input sample is then
 * one broadcast, and the coefficients two aligned loads, for 16 outputs:
 * 1.5 loads per multiply-add where per-output dot products need 2, plus
 * their line-splitting unaligned loads and horizontal sums. The span is
 * longer than a row by the spread of the windows, and a last group may be
 * partly empty: 5 to 26 % more products (15 % for 44.1 -> 16 kHz), still
 * faster on every ratio measured. A group that starts before the stream
 * position (after a call ended mid-group) is computed whole and only its new
 * lanes written; the buffer keeps enough extra history (the largest offset)
 * for those earlier lanes. Lanes past the input read stale but finite
 * samples and are not written. Each lane's sum is formed in an order fixed
 * by its slot. */
INLINE void group_dot(v8f *y, const float *g, const float *x, int n)
{
    v8f a[4][2] = {{{0}}};
    for (int j = 0; j < n; j += 4)
        for (int c = 0; c < 4; c++) {
            const float xv = x[j + c];
            const v8f *row = (const v8f *)(const void *)(g + (size_t)(j + c) * GROUP);
            a[c][0] += row[0] * xv;
            a[c][1] += row[1] * xv;
        }
    y[0] = (a[0][0] + a[1][0]) + (a[2][0] + a[3][0]);
    y[1] = (a[0][1] + a[1][1]) + (a[2][1] + a[3][1]);
}

INLINE size_t emit(oh_resampler *rs, int16_t *out, size_t produced, size_t limit)
{
    const int C = rs->channels, T = rs->taps, L = rs->up;
    const int step_int = rs->step_int, step_frac = rs->step_frac;
    const size_t fill = rs->fill;
    if (rs->pos >= fill || produced >= limit)
        return produced;
    size_t pos = 0, done = 0;
    int phase = 0;
    for (int ch = 0; ch < C; ch++) {
        const float *x = rs->buf + (size_t)ch * rs->cap;
        pos = rs->pos;
        phase = rs->phase;
        done = produced;
        size_t k = slot(rs, phase);
        while (pos < fill && done < limit) {
            const size_t g = k / GROUP, l0 = k % GROUP;
            const size_t lanes = (size_t)L - g * GROUP < GROUP ? (size_t)L - g * GROUP : GROUP;
            const int *d = rs->goffs + g * GROUP;
            const float *w = x + pos + 1 - (size_t)T - (size_t)d[l0];
            size_t l = l0;
            for (; l < lanes && pos < fill && done + (l - l0) < limit; l++) {
                pos += (size_t)step_int;
                phase += step_frac;
                if (phase >= L) {
                    phase -= L;
                    pos++;
                }
            }
            v8f y[2];
            group_dot(y, rs->gcoefs + g * (size_t)rs->gtaps * GROUP, w, rs->gtaps);
            int16_t v[GROUP];
            to_int16x8(&y[0], v);
            to_int16x8(&y[1], v + LANES);
            int16_t *o = out + done * (size_t)C + (size_t)ch;
            for (size_t i = l0; i < l; i++)
                o[(i - l0) * (size_t)C] = v[i];
            done += l - l0;
            k = l == (size_t)L - g * GROUP ? 0 : g * GROUP + l;
        }
    }
    rs->pos = pos;
    rs->phase = phase;
    return done;
}

/* Integer downsampling (L = 1, M > 1): output m is
 * sum_r sum_q sub[r][q] * P_r[m + q] with P_r[i] = x[b0 + M i + r], b0 the
 * start of output 0's window; the phase arrays make the input of LANES
 * consecutive outputs contiguous. Returns the new output count. */
INLINE size_t emit_down(oh_resampler *rs, int16_t *out, size_t produced, size_t limit)
{
    const int C = rs->channels, T = rs->taps, M = rs->down, Q = rs->sub_taps;
    const size_t pos = rs->pos, fill = rs->fill, plen = rs->plen;
    if (pos >= fill || produced >= limit)
        return produced;
    size_t n = (fill - 1 - pos) / (size_t)M + 1;
    if (n > limit - produced)
        n = limit - produced;
    const size_t b0 = pos + 1 - (size_t)T;
    for (int ch = 0; ch < C; ch++) {
        const float *x = rs->buf + (size_t)ch * rs->cap + b0;
        const size_t have = fill - b0;
        for (int r = 0; r < M; r++) {
            float *p = rs->phases + (size_t)r * plen;
            size_t i = 0;
            for (size_t k = (size_t)r; i < n + (size_t)Q - 1 && k < have; k += (size_t)M)
                p[i++] = x[k];
        }
        for (size_t m0 = 0; m0 < n; m0 += LANES * DOWN_K) {
            v8f acc[DOWN_K * 2] = {{0}};
            for (int r = 0; r < M; r++)
                mac_block(acc, rs->phases + (size_t)r * plen + m0, rs->sub + (size_t)r * Q, 0, Q,
                          1, DOWN_K, 2);
            int16_t *o = out + (produced + m0) * (size_t)C + (size_t)ch;
            for (int k = 0; k < DOWN_K; k++) {
                int16_t y[LANES];
                const v8f sum = acc[2 * k] + acc[2 * k + 1];
                to_int16x8(&sum, y);
                for (int l = 0; l < LANES; l++) {
                    const size_t m = m0 + (size_t)(LANES * k + l);
                    if (m < n)
                        o[(size_t)(LANES * k + l) * (size_t)C] = y[l];
                }
            }
        }
    }
    rs->pos = pos + n * (size_t)M;
    return produced + n;
}

/* Rows r0 .. r0 + R - 1 at LANES * UP_K input positions from first; output
 * index (position - first) * L + row - skip, written when in [0, n). */
INLINE void up_rows(const oh_resampler *rs, const float *x, int16_t *o, int r0, int R,
                    size_t first, size_t skip, size_t n)
{
    const int C = rs->channels, T = rs->taps, L = rs->up;
    v8f acc[3 * UP_K] = {{0}};
    mac_block(acc, x, rs->coefs + (size_t)r0 * (size_t)T, (size_t)T, T, R, UP_K, 1);
    for (int r = 0; r < R; r++)
        for (int k = 0; k < UP_K; k++) {
            int16_t y[LANES];
            to_int16x8(&acc[r * UP_K + k], y);
            for (int l = 0; l < LANES; l++) {
                const size_t idx = (first + (size_t)(LANES * k + l)) * (size_t)L + (size_t)(r0 + r);
                if (idx >= skip && idx - skip < n)
                    o[(idx - skip) * (size_t)C] = y[l];
            }
        }
}

/* Integer upsampling (M = 1, L > 1): all L rows of LANES * UP_K
 * consecutive input positions in one pass over their windows. */
INLINE size_t emit_up(oh_resampler *rs, int16_t *out, size_t produced, size_t limit)
{
    const int C = rs->channels, T = rs->taps, L = rs->up;
    const size_t pos = rs->pos, fill = rs->fill;
    if (pos >= fill || produced >= limit)
        return produced;
    /* outputs counted from phase 0 of position pos; the first `skip` are done */
    const size_t skip = (size_t)rs->phase;
    size_t n = (fill - pos) * (size_t)L - skip;
    if (n > limit - produced)
        n = limit - produced;
    const size_t positions = (skip + n + (size_t)L - 1) / (size_t)L;
    for (int ch = 0; ch < C; ch++) {
        const float *x = rs->buf + (size_t)ch * rs->cap + pos + 1 - (size_t)T;
        int16_t *o = out + produced * (size_t)C + (size_t)ch;
        for (size_t i0 = 0; i0 < positions; i0 += LANES * UP_K) {
            int r0 = 0;
            for (; r0 + 3 <= L; r0 += 3)
                up_rows(rs, x + i0, o, r0, 3, i0, skip, n);
            if (L - r0 == 2)
                up_rows(rs, x + i0, o, r0, 2, i0, skip, n);
            else if (L - r0 == 1)
                up_rows(rs, x + i0, o, r0, 1, i0, skip, n);
        }
    }
    const size_t done = skip + n;
    rs->pos = pos + done / (size_t)L;
    rs->phase = (int)(done % (size_t)L);
    return produced + n;
}

/* The dispatch point: OH_SIMD_CLONES builds emit() once for baseline x86-64
 * and once for AVX2 (256-bit registers); the loader picks one. Same
 * operations in the same order, so both give the same samples. */
OH_SIMD_CLONES static size_t emit_outputs(oh_resampler *rs, int16_t *out, size_t produced, size_t limit)
{
    if (rs->up == 1)
        return emit_down(rs, out, produced, limit);
    if (rs->down == 1)
        return emit_up(rs, out, produced, limit);
    return emit(rs, out, produced, limit);
}

void oh_resampler_config_default(oh_resampler_config *cfg)
{
    cfg->in_rate = 16000;
    cfg->out_rate = 16000;
    cfg->channels = 1;
}

static int rate_ok(int rate)
{
    return rate >= OH_RESAMPLER_MIN_RATE && rate <= OH_RESAMPLER_MAX_RATE;
}

oh_status oh_resampler_create(const oh_resampler_config *cfg, oh_resampler **out)
{
    if (!out)
        return OH_EINVAL;
    *out = NULL;
    if (!cfg || !rate_ok(cfg->in_rate) || !rate_ok(cfg->out_rate) || cfg->channels < 1 ||
        cfg->channels > OH_RESAMPLER_MAX_CHANNELS)
        return OH_EINVAL;
    const int g = gcd(cfg->in_rate, cfg->out_rate);
    const int L = cfg->out_rate / g, M = cfg->in_rate / g;
    if (L > OH_RESAMPLER_MAX_PHASES)
        return OH_EUNSUPPORTED;

    oh_resampler *rs = oh_alloc(sizeof *rs);
    if (!rs)
        return OH_ENOMEM;
    rs->in_rate = cfg->in_rate;
    rs->out_rate = cfg->out_rate;
    rs->channels = cfg->channels;
    rs->up = L;
    rs->down = M;
    if (L == 1 && M == 1) {
        *out = rs; /* pass-through: no table, no buffer */
        return OH_OK;
    }

    /* Transition width in rad/sample at the high rate L * in_rate. */
    const double nyquist = 0.5 * (cfg->in_rate < cfg->out_rate ? cfg->in_rate : cfg->out_rate);
    const double dw = 2.0 * PI * (STOPBAND - PASSBAND) * nyquist / ((double)L * cfg->in_rate);
    const long n_min = (long)ceil((ATTENUATION - 7.95) / (2.285 * dw)) + 1;
    long t = (n_min + L - 1) / L;
    t = (t + TAP_ALIGN - 1) / TAP_ALIGN * TAP_ALIGN;
    rs->taps = (int)t;
    long n_taps = t * L;
    if (n_taps % 2 == 0)
        n_taps--;
    const long centre = (n_taps - 1) / 2;
    const long t0 = centre % M;
    rs->latency = (int)((centre - t0) / M);
    rs->step_int = M / L;
    rs->step_frac = M % L;
    rs->slot_of_phase1 = L == 1 ? 0 : inverse_mod(M % L, L);
    rs->start_phase = (int)(t0 % L);
    size_t extra = 0;
    rs->pad = PAD;
    if (L > 1 && M > 1) {
        rs->groups = (L + GROUP - 1) / GROUP;
        rs->goffs = oh_alloc((size_t)rs->groups * GROUP * sizeof *rs->goffs);
        if (!rs->goffs) {
            oh_resampler_destroy(rs);
            return OH_ENOMEM;
        }
        int spread = 0;
        for (int k = 0; k < rs->groups * GROUP; k++) {
            const int grp = k / GROUP, l = k % GROUP;
            const long long p0 = (long long)grp * GROUP * (M % L) % L; /* phase of lane 0 */
            const int d = k < L ? (int)((p0 + (long long)l * M) / L) : 0;
            rs->goffs[k] = d;
            spread = d > spread ? d : spread;
        }
        extra = (size_t)spread;
        rs->gtaps = (int)(t + spread + 3) / 4 * 4;
        rs->pad = (size_t)(rs->gtaps - t) + PAD;
    }
    rs->hist = (size_t)(t - 1) + extra;
    rs->start_pos = rs->hist + (size_t)(t0 / L);
    rs->cap = rs->hist + BLOCK;

    /* Rows start on cache lines (T is a multiple of 8 floats, 32 bytes), so
     * half the coefficient loads do not straddle two lines. */
    rs->coef_mem = oh_alloc((size_t)L * (size_t)t * sizeof *rs->coefs + 64);
    rs->buf = oh_alloc(((size_t)cfg->channels * rs->cap + rs->pad) * sizeof *rs->buf);
    if (L > 1 && M > 1)
        rs->gcoef_mem =
            oh_alloc((size_t)rs->groups * (size_t)rs->gtaps * GROUP * sizeof *rs->gcoefs + 64);
    if (L == 1) {
        /* Q taps per phase, even for the two chains of mac_block */
        rs->sub_taps = (int)((t + M - 1) / M + 1) / 2 * 2;
        rs->plen = rs->cap / (size_t)M + 1 + (size_t)rs->sub_taps + PAD;
        rs->sub = oh_alloc((size_t)M * (size_t)rs->sub_taps * sizeof *rs->sub);
        rs->phases = oh_alloc((size_t)M * rs->plen * sizeof *rs->phases);
    }
    if (!rs->coef_mem || !rs->buf || (L == 1 && (!rs->sub || !rs->phases)) ||
        (L > 1 && M > 1 && !rs->gcoef_mem)) {
        oh_resampler_destroy(rs);
        return OH_ENOMEM;
    }
    rs->coefs = (float *)(((uintptr_t)rs->coef_mem + 63) & ~(uintptr_t)63);
    design(rs, n_taps);
    memset(rs->buf, 0, ((size_t)cfg->channels * rs->cap + rs->pad) * sizeof *rs->buf);
    if (L > 1 && M > 1) {
        /* gcoefs[g][j][l] = row of slot g GROUP + l at j - goffs, zero outside */
        rs->gcoefs = (float *)(((uintptr_t)rs->gcoef_mem + 63) & ~(uintptr_t)63);
        for (int grp = 0; grp < rs->groups; grp++)
            for (int j = 0; j < rs->gtaps; j++)
                for (int l = 0; l < GROUP; l++) {
                    const int k = grp * GROUP + l, i = j - rs->goffs[k];
                    const size_t at = ((size_t)grp * (size_t)rs->gtaps + (size_t)j) * GROUP + (size_t)l;
                    rs->gcoefs[at] =
                        k < L && i >= 0 && i < t ? rs->coefs[(size_t)k * (size_t)t + (size_t)i] : 0.0f;
                }
    }
    if (L == 1) {
        /* sub[r][q] = row[M q + r], zero past the row; phases start finite */
        for (int r = 0; r < M; r++)
            for (int q = 0; q < rs->sub_taps; q++) {
                const long j = (long)M * q + r;
                rs->sub[(size_t)r * (size_t)rs->sub_taps + (size_t)q] = j < t ? rs->coefs[j] : 0.0f;
            }
        memset(rs->phases, 0, (size_t)M * rs->plen * sizeof *rs->phases);
    }
    oh_resampler_reset(rs);
    *out = rs;
    return OH_OK;
}

void oh_resampler_destroy(oh_resampler *rs)
{
    if (!rs)
        return;
    oh_free(rs->coef_mem);
    oh_free(rs->buf);
    oh_free(rs->sub);
    oh_free(rs->phases);
    oh_free(rs->goffs);
    oh_free(rs->gcoef_mem);
    oh_free(rs);
}

void oh_resampler_reset(oh_resampler *rs)
{
    if (!rs || !rs->buf)
        return;
    memset(rs->buf, 0, (size_t)rs->channels * rs->cap * sizeof *rs->buf);
    rs->fill = rs->hist;
    rs->pos = rs->start_pos;
    rs->phase = rs->start_phase;
}

int oh_resampler_latency(const oh_resampler *rs)
{
    return rs && rs->buf ? rs->latency : 0;
}

int oh_resampler_up(const oh_resampler *rs)
{
    return rs ? rs->up : 0;
}

int oh_resampler_down(const oh_resampler *rs)
{
    return rs ? rs->down : 0;
}

size_t oh_resampler_max_output(const oh_resampler *rs, size_t frames)
{
    if (!rs)
        return 0;
    if (!rs->buf)
        return frames;
    /* Between calls pos >= fill: the next output waits for input frame r0. */
    const uint64_t r0 = rs->pos - rs->fill;
    if (frames > ((uint64_t)1 << 40))
        frames = (size_t)1 << 40; /* far beyond what process accepts; no overflow */
    if ((uint64_t)frames <= r0)
        return 0;
    const uint64_t L = (uint64_t)rs->up;
    const uint64_t span = (uint64_t)frames * L - 1 - r0 * L - (uint64_t)rs->phase;
    return (size_t)(span / (uint64_t)rs->down + 1);
}

/* Feeds `frames` frames (silence when in is NULL) and writes up to `limit`
 * outputs; returns how many were written. Stops early only at the limit,
 * which flush uses and process never reaches. */
static size_t run(oh_resampler *rs, const int16_t *in, size_t frames, int16_t *out, size_t limit)
{
    const int C = rs->channels;
    size_t produced = 0;
    while (frames > 0) {
        size_t n = rs->cap - rs->fill;
        if (n > frames)
            n = frames;
        for (int ch = 0; ch < C; ch++) {
            float *b = rs->buf + (size_t)ch * rs->cap + rs->fill;
            if (!in)
                memset(b, 0, n * sizeof *b);
            else if (C == 1)
                for (size_t i = 0; i < n; i++)
                    b[i] = (float)in[i];
            else
                for (size_t i = 0; i < n; i++)
                    b[i] = (float)in[i * (size_t)C + (size_t)ch];
        }
        if (in)
            in += n * (size_t)C;
        frames -= n;
        rs->fill += n;

        produced = emit_outputs(rs, out, produced, limit);
        if (produced == limit && rs->pos < rs->fill)
            return produced;

        const size_t drop = rs->fill - rs->hist;
        if (drop) {
            for (int ch = 0; ch < C; ch++) {
                float *b = rs->buf + (size_t)ch * rs->cap;
                memmove(b, b + drop, rs->hist * sizeof *b);
            }
            rs->fill -= drop;
            rs->pos -= drop;
        }
    }
    return produced;
}

int oh_resampler_process(oh_resampler *rs, const int16_t *in, size_t frames,
                         int16_t *out, size_t out_frames)
{
    if (!rs || (frames && !in) || frames > INT_MAX)
        return OH_EINVAL;
    const size_t need = oh_resampler_max_output(rs, frames);
    if (need > out_frames)
        return OH_EBUFSIZE;
    if (need > INT_MAX || (need && !out))
        return OH_EINVAL;
    if (!rs->buf) {
        if (frames)
            memcpy(out, in, frames * (size_t)rs->channels * sizeof *out);
        return (int)frames;
    }
    return (int)run(rs, in, frames, out, need);
}

int oh_resampler_flush(oh_resampler *rs, int16_t *out, size_t out_frames)
{
    if (!rs)
        return OH_EINVAL;
    const size_t need = (size_t)oh_resampler_latency(rs);
    if (need > out_frames)
        return OH_EBUFSIZE;
    if (need && !out)
        return OH_EINVAL;
    size_t produced = 0;
    while (produced < need)
        produced += run(rs, NULL, BLOCK, out + produced * (size_t)rs->channels, need - produced);
    oh_resampler_reset(rs);
    return (int)produced;
}
