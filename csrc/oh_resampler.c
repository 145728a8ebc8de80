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
 * (history, zeros after create) followed by room for a block of new input.
 * Input is converted into the buffer block by block, every output whose
 * window is complete is computed, and the history is moved to the front.
 * The arithmetic for an output depends only on its window and its row, never
 * on where a call started, so any chunking gives bit-identical output.
 *
 * Speed. Float accumulation (24-bit mantissa: rounding noise far below the
 * int16 output's). The dot product is written with GCC/Clang vector
 * extensions, four independent 8-float accumulators (no fast-math needed,
 * the order of additions is fixed); the output loop is compiled twice,
 * baseline x86-64 (SSE2) and AVX2 (OH_SIMD_CLONES; the loader picks one).
 * Both do the same operations in the same order. Upsamplers compute two
 * outputs that share a window in one pass over it. Rounding to int16 is
 * branch-free. Coefficient rows start on cache lines.
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
    float *buf;              /* channels x cap floats */
    size_t cap;              /* per channel: T - 1 history + BLOCK */
    size_t fill;             /* valid samples per channel */
    size_t pos;              /* newest sample of the next output's window */
    int phase;               /* row of the next output */
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
            rs->coefs[(size_t)p * T + j] = (float)h;
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

/* Horizontal sum of four accumulators (by pointer: passing 32-byte vectors
 * by value is ABI-sensitive; the function is inlined anyway). */
INLINE float sum8x4(const v8f *a0, const v8f *a1, const v8f *a2, const v8f *a3)
{
    v8f s = (*a0 + *a1) + (*a2 + *a3);
    v4f h = __builtin_shufflevector(s, s, 0, 1, 2, 3) + __builtin_shufflevector(s, s, 4, 5, 6, 7);
    h += __builtin_shufflevector(h, h, 2, 3, 0, 1);
    return h[0] + h[1];
}

INLINE float dot(const float *c, const float *x, int n)
{
    v8f a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
    int j = 0;
    for (; j + 32 <= n; j += 32) {
        a0 += LOAD8(c + j) * LOAD8(x + j);
        a1 += LOAD8(c + j + 8) * LOAD8(x + j + 8);
        a2 += LOAD8(c + j + 16) * LOAD8(x + j + 16);
        a3 += LOAD8(c + j + 24) * LOAD8(x + j + 24);
    }
    if (j < n) {
        a0 += LOAD8(c + j) * LOAD8(x + j);
        a1 += LOAD8(c + j + 8) * LOAD8(x + j + 8);
    }
    return sum8x4(&a0, &a1, &a2, &a3);
}

/* Two rows against one window (consecutive outputs of an upsampler often
 * share their window): each input vector is loaded once for both. Every sum
 * is formed exactly as dot() forms it, so an output is the same whichever
 * of the two computed it. */
INLINE void dot2(const float *c, const float *d, const float *x, int n, float *r, float *s)
{
    v8f a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
    v8f b0 = {0}, b1 = {0}, b2 = {0}, b3 = {0};
    int j = 0;
    for (; j + 32 <= n; j += 32) {
        v8f x0 = LOAD8(x + j), x1 = LOAD8(x + j + 8);
        v8f x2 = LOAD8(x + j + 16), x3 = LOAD8(x + j + 24);
        a0 += LOAD8(c + j) * x0;
        b0 += LOAD8(d + j) * x0;
        a1 += LOAD8(c + j + 8) * x1;
        b1 += LOAD8(d + j + 8) * x1;
        a2 += LOAD8(c + j + 16) * x2;
        b2 += LOAD8(d + j + 16) * x2;
        a3 += LOAD8(c + j + 24) * x3;
        b3 += LOAD8(d + j + 24) * x3;
    }
    if (j < n) {
        v8f x0 = LOAD8(x + j), x1 = LOAD8(x + j + 8);
        a0 += LOAD8(c + j) * x0;
        b0 += LOAD8(d + j) * x0;
        a1 += LOAD8(c + j + 8) * x1;
        b1 += LOAD8(d + j + 8) * x1;
    }
    /* sum8x4 of both, sharing the shuffles: same additions, same order */
    v8f sa = (a0 + a1) + (a2 + a3), sb = (b0 + b1) + (b2 + b3);
    v8f h = __builtin_shufflevector(sa, sb, 0, 1, 2, 3, 8, 9, 10, 11) +
            __builtin_shufflevector(sa, sb, 4, 5, 6, 7, 12, 13, 14, 15);
    h += __builtin_shufflevector(h, h, 2, 3, 0, 1, 6, 7, 4, 5);
    *r = h[0] + h[1];
    *s = h[4] + h[5];
}

/* Saturate, then round half away from zero, without branches: the sign of
 * audio is unpredictable and a mispredicted branch costs more than the
 * arithmetic (lrintf would be a libm call). */
INLINE int16_t to_int16(float v)
{
    v = v < -32768.0f ? -32768.0f : v;
    v = v > 32767.0f ? 32767.0f : v;
    return (int16_t)(v + __builtin_copysignf(0.5f, v));
}

/* Computes every output whose window is in the buffer, up to `limit` in
 * all; returns the new count. Inlined into one function per instruction set. */
INLINE size_t emit(oh_resampler *rs, int16_t *out, size_t produced, size_t limit)
{
    const int C = rs->channels, T = rs->taps, L = rs->up;
    const int step_int = rs->step_int, step_frac = rs->step_frac;
    const size_t cap = rs->cap;
    size_t pos = rs->pos;
    int phase = rs->phase;
    while (pos < rs->fill && produced < limit) {
        const float *row = rs->coefs + (size_t)phase * (size_t)T;
        const float *x = rs->buf + pos + 1 - (size_t)T;
        int16_t *o = out + produced * (size_t)C;
        if (step_int == 0 && phase + step_frac < L && produced + 1 < limit) {
            /* the next output has the same window */
            const float *row2 = row + (size_t)step_frac * (size_t)T;
            for (int ch = 0; ch < C; ch++) {
                float r, r2;
                dot2(row, row2, x + (size_t)ch * cap, T, &r, &r2);
                o[ch] = to_int16(r);
                o[C + ch] = to_int16(r2);
            }
            produced += 2;
            phase += 2 * step_frac;
        } else {
            for (int ch = 0; ch < C; ch++)
                o[ch] = to_int16(dot(row, x + (size_t)ch * cap, T));
            produced++;
            pos += (size_t)step_int;
            phase += step_frac;
        }
        if (phase >= L) {
            phase -= L;
            pos++;
        }
    }
    rs->pos = pos;
    rs->phase = phase;
    return produced;
}

/* The dispatch point: OH_SIMD_CLONES builds emit() once for baseline x86-64
 * and once for AVX2 (256-bit registers); the loader picks one. Same
 * operations in the same order, so both give the same samples. */
OH_SIMD_CLONES static size_t emit_outputs(oh_resampler *rs, int16_t *out, size_t produced, size_t limit)
{
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
    rs->start_pos = (size_t)(t - 1) + (size_t)(t0 / L);
    rs->start_phase = (int)(t0 % L);
    rs->cap = (size_t)(t - 1) + BLOCK;

    /* Rows start on cache lines (T is a multiple of 8 floats, 32 bytes), so
     * half the coefficient loads do not straddle two lines. */
    rs->coef_mem = oh_alloc((size_t)L * (size_t)t * sizeof *rs->coefs + 64);
    rs->buf = oh_alloc((size_t)cfg->channels * rs->cap * sizeof *rs->buf);
    if (!rs->coef_mem || !rs->buf) {
        oh_resampler_destroy(rs);
        return OH_ENOMEM;
    }
    rs->coefs = (float *)(((uintptr_t)rs->coef_mem + 63) & ~(uintptr_t)63);
    design(rs, n_taps);
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
    oh_free(rs);
}

void oh_resampler_reset(oh_resampler *rs)
{
    if (!rs || !rs->buf)
        return;
    memset(rs->buf, 0, (size_t)rs->channels * rs->cap * sizeof *rs->buf);
    rs->fill = (size_t)rs->taps - 1;
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
    const int C = rs->channels, T = rs->taps;
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

        const size_t drop = rs->fill - ((size_t)T - 1);
        if (drop) {
            for (int ch = 0; ch < C; ch++) {
                float *b = rs->buf + (size_t)ch * rs->cap;
                memmove(b, b + drop, ((size_t)T - 1) * sizeof *b);
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
