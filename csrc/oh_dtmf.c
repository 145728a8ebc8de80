/* DTMF generation and detection.
 *
 * Generator: two oscillators (oh_osc_internal.h) per digit, low group at
 * level_dbm0 and high group twist_db above it, on_ms of tone then off_ms of
 * silence per queued digit. Digits wait in a ring buffer sized at create.
 *
 * Detector: a block Goertzel receiver in the classic shape (G. Goertzel,
 * "An algorithm for the evaluation of finite trigonometric series", 1958;
 * the receiver around it as in the DSP vendors' DTMF application notes),
 * with the decision rules tuned against ITU-T Q.24 and ETSI ES 201 235-3
 * style limits. Everything is specified in time, so the same code runs at
 * every rate: at 8 kHz a window is N = 102 samples (12.75 ms, the usual
 * DTMF block: 78 Hz bins separate the 73 Hz-spaced rows), at 16 kHz 204, and
 * so on. Windows overlap by half (a decision every 51 samples at 8 kHz).
 *
 * For each window:
 * 1. Goertzel powers of the eight frequencies over the (rectangular) window;
 *    the strongest row and column are the candidate. The DFT is linear, so
 *    each hop's eight DFT values are computed once (Goertzel, then its state
 *    turned into the complex sum) and a window's are the previous hop's plus
 *    this hop's rotated by e^{-j omega hop}: every sample passes through the
 *    recurrences once, not twice, and hops of windows below the minimum
 *    level are not analysed at all (lazily, when a louder window needs them).
 * 2. Energy ratio: the two tones must hold >= 70 % of the window's energy.
 *    A window the tone only partly covers scores its coverage, which is what
 *    makes the duration rules below work; speech rarely concentrates so.
 * 3. Relative peak: the candidate row (column) must beat every other row
 *    (column) by 8 dB.
 * 4. Frequency: the rectangular Goertzel is too blunt to tell 1.5 % from
 *    3.5 % (its bins are 78 Hz wide), so the candidate's frequency is
 *    measured: two Hann-windowed correlations, W = 2N/3 samples long and
 *    L = N/3 apart, give the offset from the phase they advance
 *    (unambiguous to +-fs/2L = 117 Hz). Hann sidelobes keep the other
 *    group's tone out of the estimate. Estimates within 2.5 % (midway between
 *    Q.24's must-accept 1.5 % and must-reject 3.5 %) pass; measured, the
 *    acceptance edge lies between 1.9 % and 2.5 % across digits and phases.
 * 5. Level and twist, from the same Hann correlations, corrected for the
 *    window's loss at the measured offset: each component >= min_level_dbm0
 *    (-40 dBm0 by default, so -36 dBm0 is safely accepted), high group at
 *    most 8 dB above (normal twist) and at most 4 dB below (reverse twist)
 *    the low group.
 * 6. Second harmonics: the energy at twice each measured frequency must be
 *    12 dB below the fundamental -- real keypads are clean, voiced speech is
 *    harmonic-rich. Twice a row frequency lies within 60 Hz of a column
 *    (2 x 697 = 1394 vs 1336), inside one bin, so the two tones' own
 *    contributions (known from steps 4-5) are subtracted before comparing.
 *
 * Timing: a digit starts after 4 consecutive windows agree and ends after
 * 4 consecutive windows without it. With the 70 % energy ratio, a partly
 * covered window counts only when the tone covers >= 70 % of it, so
 * (measured at 8 kHz over digits and alignments) tones of 34 ms and more are
 * always accepted, 22 ms and less never; dropouts up to 10 ms are bridged,
 * gaps of 20 ms and more separate digits. Events report the first sample of
 * the first agreeing window and the span to the end of the last one: within
 * a third of a window (~4 ms) of the tone's own edges.
 *
 * Known limits: the detector does not look for the digit's absence of
 * other tones beyond the energy ratio (a dial tone under a digit lowers the
 * ratio); above 8 kHz the band above 4 kHz counts in the energy ratio, so
 * wideband noise hurts more there; the duration thresholds are fixed.
 * Talk-off was measured on espeak-ng speech only (4 talkers x 60 s, also
 * through G.711 µ-law: not one window passed even the per-window checks, the
 * energy ratio alone rejecting them all); a recorded talk-off corpus such as
 * the Bellcore tape was not available.
 *
 * Cost: the eight recurrences run side by side in float vectors (one AVX2
 * register, OH_SIMD_CLONES), a hop split into PARTS independent pieces so
 * the loop is not bound by one recurrence's latency; steps 4-6 run only for
 * windows that pass the energy tests, from per-frequency tables of the Hann
 * window times the nominal exponentials made at create, with the row's and
 * the column's correlations (and both harmonics) computed in one pass and
 * the exponentials they need derived from two per tone. About 0.25 µs per
 * 20 ms frame of speech and 0.7 µs per frame of back-to-back digits at
 * 8 kHz (AVX2; ~1.5x that on the SSE2 build): below spandsp's receiver,
 * which analyses non-overlapping blocks and measures no frequency offset
 * (bench/bench_dtmf.py).
 */
#include "offhook/oh_dtmf.h"

#include <complex.h>
#include <math.h>
#include <string.h>

#include "oh_alloc.h"
#include "oh_osc_internal.h"
#include "oh_simd.h"

static const double ROWS[4] = { 697.0, 770.0, 852.0, 941.0 };
static const double COLS[4] = { 1209.0, 1336.0, 1477.0, 1633.0 };
static const char KEYS[16] = {
    '1', '2', '3', 'A',
    '4', '5', '6', 'B',
    '7', '8', '9', 'C',
    '*', '0', '#', 'D',
};

static int key_index(char c)
{
    if (c >= 'a' && c <= 'd')
        c = (char)(c - 'a' + 'A');
    for (int i = 0; i < 16; i++)
        if (KEYS[i] == c)
            return i;
    return -1;
}

int oh_dtmf_is_digit(char c)
{
    return c != '\0' && key_index(c) >= 0;
}

static int rate_ok(int rate)
{
    return rate == 8000 || rate == 16000 || rate == 32000 || rate == 48000;
}

/* ---- Generator ---------------------------------------------------------- */

#define SCRATCH 256

struct oh_dtmf_gen {
    int sample_rate;
    double amp_lo, amp_hi;
    size_t on, off;  /* samples */
    char *queue;     /* ring of key indices */
    size_t cap, head, count;
    int playing;     /* a digit (tone or its pause) is under way */
    size_t pos;      /* samples into it */
    oh_osc lo, hi;
    double acc[SCRATCH];
};

void oh_dtmf_gen_config_default(oh_dtmf_gen_config *cfg)
{
    cfg->sample_rate = 8000;
    cfg->level_dbm0 = -10.0;
    cfg->twist_db = 2.0;
    cfg->on_ms = 80;
    cfg->off_ms = 80;
    cfg->max_queued = 64;
}

oh_status oh_dtmf_gen_create(const oh_dtmf_gen_config *cfg, oh_dtmf_gen **out)
{
    if (!out)
        return OH_EINVAL;
    *out = NULL;
    if (!cfg || !rate_ok(cfg->sample_rate) || !(cfg->level_dbm0 >= -60.0 && cfg->level_dbm0 <= 0.0) ||
        !(cfg->twist_db >= -10.0 && cfg->twist_db <= 10.0) || cfg->on_ms < 1 || cfg->on_ms > 10000 ||
        cfg->off_ms < 0 || cfg->off_ms > 10000 || cfg->max_queued < 1 || cfg->max_queued > 1000000)
        return OH_EINVAL;
    oh_dtmf_gen *g = oh_alloc(sizeof *g);
    if (!g)
        return OH_ENOMEM;
    g->queue = oh_alloc(cfg->max_queued);
    if (!g->queue) {
        oh_free(g);
        return OH_ENOMEM;
    }
    g->sample_rate = cfg->sample_rate;
    g->amp_lo = oh_osc_amplitude(cfg->level_dbm0);
    g->amp_hi = oh_osc_amplitude(cfg->level_dbm0 + cfg->twist_db);
    g->on = (size_t)cfg->on_ms * (size_t)cfg->sample_rate / 1000;
    g->off = (size_t)cfg->off_ms * (size_t)cfg->sample_rate / 1000;
    g->cap = cfg->max_queued;
    oh_dtmf_gen_reset(g);
    *out = g;
    return OH_OK;
}

void oh_dtmf_gen_destroy(oh_dtmf_gen *gen)
{
    if (!gen)
        return;
    oh_free(gen->queue);
    oh_free(gen);
}

void oh_dtmf_gen_reset(oh_dtmf_gen *gen)
{
    gen->head = gen->count = 0;
    gen->playing = 0;
    gen->pos = 0;
    gen->lo.freq = gen->hi.freq = 0.0;
}

oh_status oh_dtmf_gen_send(oh_dtmf_gen *gen, const char *digits)
{
    if (!gen || !digits)
        return OH_EINVAL;
    size_t n = 0;
    for (const char *p = digits; *p; p++, n++)
        if (key_index(*p) < 0)
            return OH_EINVAL;
    if (n > gen->cap - gen->count)
        return OH_EBUFSIZE;
    for (size_t i = 0; i < n; i++)
        gen->queue[(gen->head + gen->count + i) % gen->cap] = (char)key_index(digits[i]);
    gen->count += n;
    return OH_OK;
}

size_t oh_dtmf_gen_pending(const oh_dtmf_gen *gen)
{
    size_t period = gen->on + gen->off;
    return (gen->playing ? period - gen->pos : 0) + gen->count * period;
}

int oh_dtmf_gen_generate(oh_dtmf_gen *gen, int16_t *out, size_t n)
{
    if (!gen || (!out && n > 0) || n > INT32_MAX)
        return OH_EINVAL;
    size_t done = 0;
    while (done < n) {
        if (!gen->playing) {
            if (gen->count == 0) {
                memset(out + done, 0, (n - done) * sizeof *out);
                break;
            }
            int key = gen->queue[gen->head];
            gen->head = (gen->head + 1) % gen->cap;
            gen->count--;
            gen->lo.freq = gen->hi.freq = 0.0; /* each digit starts at phase 0 */
            oh_osc_set(&gen->lo, ROWS[key / 4], gen->amp_lo, gen->sample_rate);
            oh_osc_set(&gen->hi, COLS[key % 4], gen->amp_hi, gen->sample_rate);
            gen->playing = 1;
            gen->pos = 0;
        }
        size_t chunk = n - done;
        if (gen->pos < gen->on) {
            if (chunk > gen->on - gen->pos)
                chunk = gen->on - gen->pos;
            if (chunk > SCRATCH)
                chunk = SCRATCH;
            memset(gen->acc, 0, chunk * sizeof gen->acc[0]);
            oh_osc_add(&gen->lo, gen->acc, chunk);
            oh_osc_add(&gen->hi, gen->acc, chunk);
            for (size_t i = 0; i < chunk; i++)
                out[done + i] = oh_osc_saturate(gen->acc[i]);
        } else {
            if (chunk > gen->on + gen->off - gen->pos)
                chunk = gen->on + gen->off - gen->pos;
            memset(out + done, 0, chunk * sizeof *out);
        }
        done += chunk;
        gen->pos += chunk;
        if (gen->pos >= gen->on + gen->off)
            gen->playing = 0;
    }
    return (int)n;
}

/* ---- Detector ----------------------------------------------------------- */

#define ENERGY_RATIO 0.70    /* the two tones' share of the window's energy */
#define REL_PEAK_DB 8.0      /* candidate over the rest of its group */
#define MAX_DEVIATION 0.025  /* relative frequency offset accepted */
#define HARMONIC_DB 12.0     /* fundamental over its second harmonic */
#define START_WINDOWS 4      /* consecutive agreeing windows to start a digit */
#define END_WINDOWS 4        /* consecutive other windows to end it */
#define LANES 8              /* the eight frequencies, or eight samples, side by side */
#define PARTS 4              /* a hop's Goertzel runs as this many independent pieces */
#define TAIL 16              /* zero floats after the window: whole-vector reads past its end */

/* GCC/Clang vector extensions: eight floats, two SSE registers on baseline
 * x86-64, one AVX register in the OH_SIMD_CLONES builds. Struct members stay
 * plain float arrays (the allocator gives no 32-byte alignment) and are
 * read with unaligned loads. */
typedef float v8f __attribute__((vector_size(32)));
typedef float v8f_unaligned __attribute__((vector_size(32), aligned(4), may_alias));
#define LOAD8(p) (*(const v8f_unaligned *)(const void *)(p))
#define STORE8(p, v) (*(v8f_unaligned *)(void *)(p) = (v))

/* by pointer: passing 32-byte vectors by value is ABI-sensitive */
static inline __attribute__((always_inline)) float hsum(const v8f *v)
{
    float s = 0.0f;
    for (int l = 0; l < LANES; l++)
        s += (*v)[l];
    return s;
}

static int round_up(int x, int to)
{
    return (x + to - 1) / to * to;
}

struct oh_dtmf_det {
    int sample_rate;
    int n, hop, w, lag;      /* window, hop (n/2), Hann length (2n/3), lag (n - w) */
    int part;                /* samples per Goertzel piece: hop / PARTS rounded up */
    int wp;                  /* w rounded up to LANES: the Hann table rows (zero tail) */
    double omega[8];         /* of ROWS then COLS, rad/sample */
    float coef[8];           /* Goertzel 2 cos(omega) */
    float e1_re[8], e1_im[8];  /* e^{-j omega}: Goertzel state to DFT */
    float piece_re[PARTS][8], piece_im[PARTS][8]; /* e^{-j omega (p part + part - 1)} */
    float hop_re[8], hop_im[8];  /* e^{-j omega hop}: the second hop's phase in the window */
    double complex rot_lag[8];   /* e^{-j omega lag}: the second Hann correlation's phase */
    double complex e1_nominal[8]; /* e^{j omega} */
    double complex hann_step;    /* e^{j 2 pi / w} */
    float *hann_cs;          /* per frequency: hann[i] cos(omega i), then -hann[i] sin(omega i) */
    float *buf;              /* the current window: previous hop, then this one; TAIL zeros */
    int fill;                /* samples of this hop received */
    int64_t hop_energy;      /* sum of squares of this hop so far */
    int64_t prev_energy;     /* of the previous hop */
    float prev_re[8], prev_im[8]; /* the previous hop's DFT at the eight frequencies */
    int prev_ok;             /* 0: not computed (its windows failed the energy test) */
    uint64_t pos;            /* samples consumed since create/reset */
    double min_power, normal_twist, reverse_twist, rel_peak, harmonic;

    int active;              /* key being reported, -1 none */
    uint64_t active_start, active_end;
    int misses;
    int cand, cand_count;    /* key building up to a start */
    uint64_t cand_start;

    oh_dtmf_event *events;   /* ring */
    size_t ev_cap, ev_head, ev_count;
};

void oh_dtmf_det_config_default(oh_dtmf_det_config *cfg)
{
    cfg->sample_rate = 8000;
    cfg->min_level_dbm0 = -40.0;
    cfg->normal_twist_db = 8.0;
    cfg->reverse_twist_db = 4.0;
    cfg->max_events = 32;
}

oh_status oh_dtmf_det_create(const oh_dtmf_det_config *cfg, oh_dtmf_det **out)
{
    if (!out)
        return OH_EINVAL;
    *out = NULL;
    if (!cfg || !rate_ok(cfg->sample_rate) || !(cfg->min_level_dbm0 >= -60.0 && cfg->min_level_dbm0 <= 0.0) ||
        !(cfg->normal_twist_db >= 0.0 && cfg->normal_twist_db <= 20.0) ||
        !(cfg->reverse_twist_db >= 0.0 && cfg->reverse_twist_db <= 20.0) ||
        cfg->max_events < 1 || cfg->max_events > 1000000)
        return OH_EINVAL;

    oh_dtmf_det *d = oh_alloc(sizeof *d);
    if (!d)
        return OH_ENOMEM;
    int r = cfg->sample_rate / 8000;
    d->sample_rate = cfg->sample_rate;
    d->n = 102 * r;
    d->hop = d->n / 2;
    d->w = 68 * r;
    d->lag = d->n - d->w;
    d->part = round_up(d->hop, PARTS) / PARTS;
    d->wp = round_up(d->w, LANES);
    /* reads past the window's end: lag + wp <= n + LANES, round_up(n) and
     * the last Goertzel piece < n + PARTS */
    d->buf = oh_alloc(((size_t)d->n + TAIL) * sizeof *d->buf);
    d->hann_cs = oh_alloc(16 * (size_t)d->wp * sizeof *d->hann_cs);
    d->events = oh_alloc(cfg->max_events * sizeof *d->events);
    if (!d->buf || !d->hann_cs || !d->events) {
        oh_dtmf_det_destroy(d);
        return OH_ENOMEM;
    }
    memset(d->hann_cs, 0, 16 * (size_t)d->wp * sizeof *d->hann_cs);
    for (int k = 0; k < 8; k++) {
        double f = k < 4 ? ROWS[k] : COLS[k - 4];
        double omega = 2.0 * M_PI * f / d->sample_rate;
        d->omega[k] = omega;
        d->coef[k] = (float)(2.0 * cos(omega));
        d->e1_re[k] = (float)cos(omega);
        d->e1_im[k] = (float)-sin(omega);
        for (int p = 0; p < PARTS; p++) {
            double phase = omega * (p * d->part + d->part - 1);
            d->piece_re[p][k] = (float)cos(phase);
            d->piece_im[p][k] = (float)-sin(phase);
        }
        d->hop_re[k] = (float)cos(omega * d->hop);
        d->hop_im[k] = (float)-sin(omega * d->hop);
        d->rot_lag[k] = cexp(-I * omega * d->lag);
        d->e1_nominal[k] = cexp(I * omega);
        float *re = d->hann_cs + (size_t)(2 * k) * (size_t)d->wp, *im = re + d->wp;
        for (int i = 0; i < d->w; i++) {
            double hann = 0.5 - 0.5 * cos(2.0 * M_PI * i / d->w);
            re[i] = (float)(hann * cos(omega * i));
            im[i] = (float)(-hann * sin(omega * i));
        }
    }
    d->hann_step = cexp(I * 2.0 * M_PI / d->w);
    double a = oh_osc_amplitude(cfg->min_level_dbm0);
    d->min_power = a * a / 2.0;
    d->normal_twist = pow(10.0, cfg->normal_twist_db / 10.0);
    d->reverse_twist = pow(10.0, cfg->reverse_twist_db / 10.0);
    d->rel_peak = pow(10.0, REL_PEAK_DB / 10.0);
    d->harmonic = pow(10.0, -HARMONIC_DB / 10.0);
    d->ev_cap = cfg->max_events;
    oh_dtmf_det_reset(d);
    *out = d;
    return OH_OK;
}

void oh_dtmf_det_destroy(oh_dtmf_det *det)
{
    if (!det)
        return;
    oh_free(det->buf);
    oh_free(det->hann_cs);
    oh_free(det->events);
    oh_free(det);
}

void oh_dtmf_det_reset(oh_dtmf_det *det)
{
    memset(det->buf, 0, ((size_t)det->n + TAIL) * sizeof *det->buf);
    det->fill = 0;
    det->hop_energy = det->prev_energy = 0;
    memset(det->prev_re, 0, sizeof det->prev_re);
    memset(det->prev_im, 0, sizeof det->prev_im);
    det->prev_ok = 1;
    det->pos = 0;
    det->active = -1;
    det->misses = 0;
    det->cand = -1;
    det->cand_count = 0;
    det->ev_head = det->ev_count = 0;
}

/* The eight Goertzel recurrences, one per lane, over PARTS consecutive
 * pieces of `len` samples at once: independent chains, so the pieces cost
 * about what one does. x - s2 is off the dependency chain. */
OH_SIMD_CLONES static void goertzel_pieces(const float *x, int len, const float *coef, float *s1_out, float *s2_out)
{
    const v8f c = LOAD8(coef);
    v8f a1 = { 0 }, a2 = { 0 }, b1 = { 0 }, b2 = { 0 }, c1 = { 0 }, c2 = { 0 }, d1 = { 0 }, d2 = { 0 };
    const float *xa = x, *xb = x + len, *xc = x + 2 * len, *xd = x + 3 * len;
    for (int i = 0; i < len; i++) {
        v8f t;
        t = (xa[i] - a2) + c * a1;
        a2 = a1;
        a1 = t;
        t = (xb[i] - b2) + c * b1;
        b2 = b1;
        b1 = t;
        t = (xc[i] - c2) + c * c1;
        c2 = c1;
        c1 = t;
        t = (xd[i] - d2) + c * d1;
        d2 = d1;
        d1 = t;
    }
    STORE8(s1_out, a1);
    STORE8(s1_out + 8, b1);
    STORE8(s1_out + 16, c1);
    STORE8(s1_out + 24, d1);
    STORE8(s2_out, a2);
    STORE8(s2_out + 8, b2);
    STORE8(s2_out + 16, c2);
    STORE8(s2_out + 24, d2);
}

/* The DFT of the hop at x (phase referred to x[0]) at the eight frequencies.
 * The pieces cover PARTS * part >= hop samples; the few beyond the hop are
 * zeroed for the call (trailing zeros leave the sum unchanged). */
static void hop_dft(const oh_dtmf_det *d, float *x, float *re_out, float *im_out)
{
    float s1[PARTS * 8], s2[PARTS * 8], saved[PARTS];
    int pad = PARTS * d->part - d->hop;
    for (int i = 0; i < pad; i++) {
        saved[i] = x[d->hop + i];
        x[d->hop + i] = 0.0f;
    }
    goertzel_pieces(x, d->part, d->coef, s1, s2);
    for (int i = 0; i < pad; i++)
        x[d->hop + i] = saved[i];
    const v8f er = LOAD8(d->e1_re), ei = LOAD8(d->e1_im);
    v8f re = { 0 }, im = { 0 };
    for (int p = 0; p < PARTS; p++) {
        /* piece DFT = e^{-j omega (part - 1)} (s1 - e^{-j omega} s2), turned to its start */
        v8f a = LOAD8(s1 + 8 * p), b = LOAD8(s2 + 8 * p);
        v8f ur = a - er * b, ui = -(ei * b);
        v8f pr = LOAD8(d->piece_re[p]), pi = LOAD8(d->piece_im[p]);
        re += pr * ur - pi * ui;
        im += pr * ui + pi * ur;
    }
    STORE8(re_out, re);
    STORE8(im_out, im);
}

/* The Hann-windowed correlations of fit_tone for a row and a column at once:
 * out = {row at 0, row at lag, column at 0, column at lag}, re/im pairs. */
OH_SIMD_CLONES static void hann_correlations(const float *x, int lag, const float *row, const float *col, int wp,
                                             double *out)
{
    v8f acc[8] = { { 0 } };
    for (int i = 0; i < wp; i += LANES) {
        v8f x0 = LOAD8(x + i), x1 = LOAD8(x + lag + i);
        v8f rr = LOAD8(row + i), ri = LOAD8(row + wp + i);
        v8f cr = LOAD8(col + i), ci = LOAD8(col + wp + i);
        acc[0] += x0 * rr;
        acc[1] += x0 * ri;
        acc[2] += x1 * rr;
        acc[3] += x1 * ri;
        acc[4] += x0 * cr;
        acc[5] += x0 * ci;
        acc[6] += x1 * cr;
        acc[7] += x1 * ci;
    }
    for (int j = 0; j < 8; j++)
        out[j] = hsum(&acc[j]);
}

/* sum_{i<len} x[i] e^{-j omega i} at two frequencies, given a = e^{-j omega_a}
 * and b = e^{-j omega_b}; len a multiple of LANES. Lane l holds samples
 * i = l mod LANES, its exponential advanced by rotation (a dozen rotations
 * keep float accuracy). out = {a re, a im, b re, b im}. */
OH_SIMD_CLONES static void correlate2(const float *x, int len, double complex a, double complex b, double *out)
{
    v8f ar, ai, br, bi, acc_ar = { 0 }, acc_ai = { 0 }, acc_br = { 0 }, acc_bi = { 0 };
    double complex za = 1.0, zb = 1.0;
    for (int l = 0; l < LANES; l++) {
        ar[l] = (float)creal(za);
        ai[l] = (float)cimag(za);
        br[l] = (float)creal(zb);
        bi[l] = (float)cimag(zb);
        za *= a;
        zb *= b;
    }
    const float sar = (float)creal(za), sai = (float)cimag(za); /* LANES samples on */
    const float sbr = (float)creal(zb), sbi = (float)cimag(zb);
    for (int i = 0; i < len; i += LANES) {
        v8f xv = LOAD8(x + i), t;
        acc_ar += xv * ar;
        acc_ai += xv * ai;
        acc_br += xv * br;
        acc_bi += xv * bi;
        t = ar * sar - ai * sai;
        ai = ar * sai + ai * sar;
        ar = t;
        t = br * sbr - bi * sbi;
        bi = br * sbi + bi * sbr;
        br = t;
    }
    out[0] = hsum(&acc_ar);
    out[1] = hsum(&acc_ai);
    out[2] = hsum(&acc_br);
    out[3] = hsum(&acc_bi);
}

/* sum_{n<len} e^{j d n}, given z = e^{j d} and z_len = e^{j d len} */
static double complex geometric(double complex z, double complex z_len, int len)
{
    double complex den = 1.0 - z;
    double norm = creal(den) * creal(den) + cimag(den) * cimag(den);
    if (norm < 1e-18)
        return len;
    return (1.0 - z_len) * conj(den) / norm;
}

typedef struct tone_fit {
    double omega;         /* measured, rad/sample */
    double power;         /* mean square of the component */
    double complex half;  /* a/2 for x[n] = Re(a e^{j omega n}) over the window */
    double complex e1;    /* e^{j omega} */
    double complex en;    /* e^{j omega n}, n the window length */
} tone_fit;

/* Measures the component near nominal frequency k from its two Hann
 * correlations (c: at 0 and at lag, the second not yet turned by
 * e^{-j omega lag}); 0 if it is off frequency. */
static int fit_tone(const oh_dtmf_det *d, int k, const double *c, tone_fit *fit)
{
    double omega0 = d->omega[k];
    double complex s1 = CMPLX(c[0], c[1]);
    double complex s2 = d->rot_lag[k] * CMPLX(c[2], c[3]);
    double delta = carg(s2 * conj(s1)) / d->lag;
    if (fabs(delta) > MAX_DEVIATION * omega0)
        return 0;
    /* the periodic Hann window's response at offset delta: three geometric
     * sums at delta and delta -+ 2 pi / w, which share e^{j delta w} */
    double complex z = cexp(I * delta), z_w = cexp(I * delta * d->w);
    double complex h = 0.5 * geometric(z, z_w, d->w) - 0.25 * geometric(z * d->hann_step, z_w, d->w) -
                       0.25 * geometric(z * conj(d->hann_step), z_w, d->w);
    double hh = creal(h * conj(h));
    if (hh <= 0.0)
        return 0;
    fit->omega = omega0 + delta;
    fit->power = (creal(s1 * conj(s1)) + creal(s2 * conj(s2))) / hh;
    fit->half = s1 * conj(h) / hh;
    fit->e1 = d->e1_nominal[k] * z;
    fit->en = cexp(I * fit->omega * d->n);
    return 1;
}

/* A fitted tone's contribution to sum_{n<N} x[n] e^{-j omega n}, given
 * e1 = e^{j omega} and en = e^{j omega N}. */
static double complex leak(const oh_dtmf_det *d, const tone_fit *t, double complex e1, double complex en)
{
    return t->half * geometric(t->e1 * conj(e1), t->en * conj(en), d->n) +
           conj(t->half) * geometric(conj(t->e1 * e1), conj(t->en * en), d->n);
}

/* The energy at twice t's frequency, once both tones' own contributions
 * (their leakage into that bin) are removed, given the raw correlation x. */
static int harmonic_ok(const oh_dtmf_det *d, const tone_fit *t, const tone_fit *other, double complex x)
{
    if (2.0 * t->omega > 0.95 * M_PI)
        return 1; /* above the band: nothing to measure */
    double complex e1 = t->e1 * t->e1, en = t->en * t->en; /* at twice the tone's frequency */
    x -= leak(d, t, e1, en) + leak(d, other, e1, en);
    double power = 2.0 * creal(x * conj(x)) / ((double)d->n * d->n);
    return power <= d->harmonic * t->power;
}

/* Analyses the hop just completed (buf[hop..n)) and returns the key the
 * window (previous hop + this one) holds, or -1. The DFT is linear, so the
 * window's is the previous hop's plus this hop's turned by e^{-j omega hop}:
 * each sample goes through the recurrences once, and only for windows loud
 * enough to be analysed. */
static int classify(oh_dtmf_det *d)
{
    const int n = d->n;
    double energy = (double)(d->prev_energy + d->hop_energy);
    d->prev_energy = d->hop_energy;
    d->hop_energy = 0;
    double mean_square = energy / n;
    if (mean_square < d->min_power) {
        /* this hop's DFT is computed later, from buf, if the next window needs it */
        d->prev_ok = 0;
        return -1;
    }
    if (!d->prev_ok)
        hop_dft(d, d->buf, d->prev_re, d->prev_im);
    float cur_re[8], cur_im[8], pw[8];
    hop_dft(d, d->buf + d->hop, cur_re, cur_im);
    {
        v8f cr = LOAD8(cur_re), ci = LOAD8(cur_im), hr = LOAD8(d->hop_re), hi = LOAD8(d->hop_im);
        v8f wr = LOAD8(d->prev_re) + (hr * cr - hi * ci);
        v8f wi = LOAD8(d->prev_im) + (hr * ci + hi * cr);
        STORE8(pw, wr * wr + wi * wi);
    }
    memcpy(d->prev_re, cur_re, sizeof cur_re);
    memcpy(d->prev_im, cur_im, sizeof cur_im);
    d->prev_ok = 1;

    double p[8];
    for (int k = 0; k < 8; k++)
        p[k] = 2.0 * pw[k] / ((double)n * n);
    int r = 0, c = 4;
    for (int k = 1; k < 4; k++) {
        if (p[k] > p[r])
            r = k;
        if (p[k + 4] > p[c])
            c = k + 4;
    }
    if (p[r] + p[c] < ENERGY_RATIO * mean_square)
        return -1;
    for (int k = 0; k < 4; k++) {
        if (k != r && p[k] * d->rel_peak > p[r])
            return -1;
        if (k + 4 != c && p[k + 4] * d->rel_peak > p[c])
            return -1;
    }

    double corr[8];
    hann_correlations(d->buf, d->lag, d->hann_cs + (size_t)(2 * r) * (size_t)d->wp,
                      d->hann_cs + (size_t)(2 * c) * (size_t)d->wp, d->wp, corr);
    tone_fit row, col;
    if (!fit_tone(d, r, corr, &row) || !fit_tone(d, c, corr + 4, &col))
        return -1;
    if (row.power < d->min_power || col.power < d->min_power)
        return -1;
    if (col.power > d->normal_twist * row.power || row.power > d->reverse_twist * col.power)
        return -1;
    double h[4];
    correlate2(d->buf, round_up(n, LANES), conj(row.e1 * row.e1), conj(col.e1 * col.e1), h);
    if (!harmonic_ok(d, &row, &col, CMPLX(h[0], h[1])) || !harmonic_ok(d, &col, &row, CMPLX(h[2], h[3])))
        return -1;
    return r * 4 + (c - 4);
}

static void emit(oh_dtmf_det *d)
{
    oh_dtmf_event *ev = &d->events[(d->ev_head + d->ev_count) % d->ev_cap];
    uint64_t span = d->active_end - d->active_start;
    ev->digit = KEYS[d->active];
    ev->start = d->active_start;
    ev->duration = span > UINT32_MAX ? UINT32_MAX : (uint32_t)span;
    d->ev_count++;
    d->active = -1;
}

/* Runs the timing rules on the key of the window that ends at d->pos. */
static void decide(oh_dtmf_det *d, int key)
{
    uint64_t end = d->pos;
    uint64_t start = end > (uint64_t)d->n ? end - (uint64_t)d->n : 0;
    if (d->active >= 0 && key == d->active) {
        d->active_end = end;
        d->misses = 0;
        d->cand = -1;
        d->cand_count = 0;
        return;
    }
    if (d->active >= 0 && ++d->misses >= END_WINDOWS)
        emit(d);
    if (key < 0) {
        d->cand = -1;
        d->cand_count = 0;
        return;
    }
    if (key == d->cand) {
        d->cand_count++;
    } else {
        d->cand = key;
        d->cand_count = 1;
        d->cand_start = start;
    }
    if (d->cand_count >= START_WINDOWS) {
        if (d->active >= 0)
            emit(d);
        d->active = key;
        d->active_start = d->cand_start;
        d->active_end = end;
        d->misses = 0;
        d->cand = -1;
        d->cand_count = 0;
    }
}

int oh_dtmf_det_process(oh_dtmf_det *det, const int16_t *pcm, size_t n)
{
    if (!det || (!pcm && n > 0) || n > INT32_MAX)
        return OH_EINVAL;
    size_t done = 0;
    while (done < n) {
        /* a decision can queue one event: stop while there is no room */
        if (det->ev_count == det->ev_cap)
            break;
        size_t take = (size_t)(det->hop - det->fill);
        if (take > n - done)
            take = n - done;
        float *dst = det->buf + det->hop + det->fill;
        const int16_t *src = pcm + done;
        int64_t energy = 0; /* exact: at most hop (<= 306) squares of 2^15 */
        for (size_t i = 0; i < take; i++) {
            dst[i] = src[i];
            energy += (int32_t)src[i] * src[i];
        }
        det->hop_energy += energy;
        det->fill += (int)take;
        det->pos += take;
        done += take;
        if (det->fill == det->hop) {
            decide(det, classify(det));
            memmove(det->buf, det->buf + det->hop, (size_t)det->hop * sizeof *det->buf);
            det->fill = 0;
        }
    }
    return (int)done;
}

oh_status oh_dtmf_det_flush(oh_dtmf_det *det)
{
    if (!det)
        return OH_EINVAL;
    if (det->active < 0)
        return OH_OK;
    if (det->ev_count == det->ev_cap)
        return OH_EBUFSIZE;
    emit(det);
    det->misses = 0;
    return OH_OK;
}

int oh_dtmf_det_get_event(oh_dtmf_det *det, oh_dtmf_event *ev)
{
    if (!det || !ev || det->ev_count == 0)
        return 0;
    *ev = det->events[det->ev_head];
    det->ev_head = (det->ev_head + 1) % det->ev_cap;
    det->ev_count--;
    return 1;
}
