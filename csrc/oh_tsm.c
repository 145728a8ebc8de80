/* Time-scale modification for jitter-buffer playout.
 *
 * Accelerate is WSOLA (Verhelst and Roelands, "An overlap-add technique
 * based on waveform similarity (WSOLA) for high quality time-scale
 * modification of speech", ICASSP 1993) at speed 2 over exactly two frames:
 * the output frame is cut into m = frame/H pieces (H = 10 ms for 20 ms
 * frames, 5 ms for 10 ms frames: fewer splices scored better in PESQ on
 * espeak speech at 8 and 16 kHz than 5 ms pieces); piece j
 * cross-fades (raised cosine, length H) from the natural continuation of
 * the previous piece's source into a source segment taken near 2jH in the
 * input, at the offset (within +-H) whose waveform best matches that
 * continuation (normalised cross-correlation; above 8 kHz a decimated
 * search refined sample by sample). Both ends are pinned: the
 * first piece starts at input sample 0 (continuing what was played) and the
 * last one ends at input sample 2N (where the next frame begins), so the
 * frame fits the playout clock exactly and nothing needs smoothing
 * afterwards. The last free segment is chosen for its fit with both
 * neighbours. Because segments are copied, not resampled, the pitch is kept;
 * what is dropped is whole stretches of waveform that resemble what is kept.
 *
 * Expand repeats the last pitch period of the recent output (pitch by
 * normalised autocorrelation over 2.5..15 ms, decimated above 8 kHz and
 * refined), as waveform-substitution PLC does (ITU-T G.711 Appendix I is the
 * classic description). The next frame played is cross-faded over one
 * period from the continued repetition into the new audio. Consecutive
 * expansions fade out after 60 ms (to silence by 120 ms): beyond that,
 * repetition buzzes. The waveform is generated here rather than by the
 * codec's PLC because expansion is a playout decision, taken also when no
 * packet is missing; loss concealment stays with oh_codec_conceal.
 *
 * Limits: an output of exactly one frame forces a phase slip of
 * (N mod pitch period) somewhere in it (removing whole periods would not
 * fit the playout clock); the search puts it where the waveform fits both
 * neighbours best and the raised-cosine crossfade spreads it over H.
 * Speed 2 over one frame is audible on steady vowels as a slight stutter; the jitter buffer accelerates at most every fourth tick unless the
 * excess delay is large. Unvoiced audio has no pitch: expansion then repeats
 * 15 ms of noise-like waveform, which is inoffensive for the short runs used. */
#include "offhook/oh_tsm.h"

#include <math.h>
#include <string.h>

#include "oh_alloc.h"

struct oh_tsm {
    int rate, n, h, m;
    int pmin, pmax, dec;
    int hl;                 /* history length: 2 * pmax */
    int16_t *hist;          /* the last hl samples output */
    int16_t *scratch;       /* 2n samples */
    int16_t *per;           /* the period an expansion repeats (pmax) */
    int expanding;          /* samples of consecutive expansion so far */
    int period;             /* pitch used by the expansion in progress */
    int phase;              /* where in that period the next sample is */
};

void oh_tsm_config_default(oh_tsm_config *cfg)
{
    cfg->sample_rate = 8000;
    cfg->frame_samples = 160;
}

oh_status oh_tsm_create(const oh_tsm_config *cfg, oh_tsm **out)
{
    if (!out)
        return OH_EINVAL;
    *out = NULL;
    if (!cfg)
        return OH_EINVAL;
    int rate = cfg->sample_rate;
    if (rate != 8000 && rate != 16000 && rate != 32000 && rate != 48000)
        return OH_EINVAL;
    if (cfg->frame_samples != rate / 100 && cfg->frame_samples != rate / 50)
        return OH_EINVAL;
    oh_tsm *t = oh_alloc(sizeof *t);
    if (!t)
        return OH_ENOMEM;
    t->rate = rate;
    t->n = cfg->frame_samples;
    t->h = t->n == rate / 50 ? rate / 100 : rate / 200;
    t->m = t->n / t->h;
    t->pmin = rate / 400;
    t->pmax = rate * 15 / 1000;
    t->dec = rate / 8000;
    t->hl = 2 * t->pmax;
    t->hist = oh_alloc((size_t)t->hl * sizeof *t->hist);
    t->scratch = oh_alloc((size_t)(2 * t->n) * sizeof *t->scratch);
    t->per = oh_alloc((size_t)t->pmax * sizeof *t->per);
    if (!t->hist || !t->scratch || !t->per) {
        oh_tsm_destroy(t);
        return OH_ENOMEM;
    }
    oh_tsm_reset(t);
    *out = t;
    return OH_OK;
}

void oh_tsm_destroy(oh_tsm *tsm)
{
    if (!tsm)
        return;
    oh_free(tsm->hist);
    oh_free(tsm->scratch);
    oh_free(tsm->per);
    oh_free(tsm);
}

void oh_tsm_reset(oh_tsm *tsm)
{
    memset(tsm->hist, 0, (size_t)tsm->hl * sizeof *tsm->hist);
    tsm->expanding = 0;
    tsm->period = 0;
    tsm->phase = 0;
}

/* raised cosine from 0 to 1 over len samples (len <= pmax) */
static float rc(int k, int len)
{
    return 0.5f - 0.5f * cosf(3.14159265f * ((float)k + 0.5f) / (float)len);
}

static int16_t clip16(float v)
{
    return (int16_t)(v > 32767.0f ? 32767 : v < -32768.0f ? -32768 : lrintf(v));
}

static void remember(oh_tsm *t, const int16_t *x, int len)
{
    if (len >= t->hl) {
        memcpy(t->hist, x + len - t->hl, (size_t)t->hl * sizeof *x);
    } else {
        memmove(t->hist, t->hist + len, (size_t)(t->hl - len) * sizeof *x);
        memcpy(t->hist + t->hl - len, x, (size_t)len * sizeof *x);
    }
}

/* normalised correlation of a[0..len) and b[0..len), every step-th sample */
static double ncorr(const int16_t *a, const int16_t *b, int len, int step)
{
    double ab = 0.0, aa = 0.0, bb = 0.0;
    for (int i = 0; i < len; i += step) {
        ab += (double)a[i] * b[i];
        aa += (double)a[i] * a[i];
        bb += (double)b[i] * b[i];
    }
    return aa > 0.0 && bb > 0.0 ? ab / sqrt(aa * bb) : 0.0;
}

static int pitch_of_history(const oh_tsm *t)
{
    const int16_t *end = t->hist + t->hl;
    int best = t->pmax;
    double best_c = -2.0;
    for (int p = t->pmin; p <= t->pmax; p += t->dec) {
        double c = ncorr(end - p, end - 2 * p, p, t->dec);
        if (c > best_c) {
            best_c = c;
            best = p;
        }
    }
    int lo = best - t->dec + 1 < t->pmin ? t->pmin : best - t->dec + 1;
    int hi = best + t->dec - 1 > t->pmax ? t->pmax : best + t->dec - 1;
    for (int p = lo; p <= hi; p++) {
        double c = ncorr(end - p, end - 2 * p, p, 1);
        if (c > best_c) {
            best_c = c;
            best = p;
        }
    }
    return best;
}

/* the gain of the repetition after done samples of consecutive expansion */
static float expansion_gain(const oh_tsm *t, int done)
{
    int start = t->rate * 60 / 1000, len = t->rate * 60 / 1000;
    if (done < start)
        return 1.0f;
    if (done >= start + len)
        return 0.0f;
    return 1.0f - (float)(done - start) / (float)len;
}

/* After an expansion, fade from the continued repetition into x. */
static void splice_after_expansion(oh_tsm *t, int16_t *x)
{
    if (!t->expanding)
        return;
    int p = t->period, len = p < t->n ? p : t->n;
    const int16_t *per = t->per;
    for (int k = 0; k < len; k++) {
        float w = rc(k, len);
        float rep = expansion_gain(t, t->expanding + k) * (float)per[(t->phase + k) % p];
        x[k] = clip16(rep * (1.0f - w) + (float)x[k] * w);
    }
    t->expanding = 0;
}

void oh_tsm_pass(oh_tsm *tsm, int16_t *frame)
{
    splice_after_expansion(tsm, frame);
    remember(tsm, frame, tsm->n);
}

/* How well a segment starting at q - h continues x[prev..prev+h) (and, for
 * the last free segment, leads into the pinned end of the input). */
static double fit(const oh_tsm *t, const int16_t *x, int q, int prev, int last, int step)
{
    double c = ncorr(x + q - t->h, x + prev, t->h, step);
    if (last)
        c += ncorr(x + q, x + 2 * t->n - t->h, t->h, step);
    return c;
}

void oh_tsm_accelerate(oh_tsm *t, const int16_t *in, int16_t *out)
{
    const int n = t->n, h = t->h, m = t->m;
    int16_t *x = t->scratch;
    memcpy(x, in, (size_t)(2 * n) * sizeof *x);
    splice_after_expansion(t, x);

    int prev = 0; /* source position of the piece being continued */
    for (int j = 1; j <= m; j++) {
        int p;
        if (j == m) {
            p = 2 * n;
        } else {
            int lo = 2 * j * h - h, hi = 2 * j * h + h;
            if (lo < h)
                lo = h;
            if (hi > 2 * n - h)
                hi = 2 * n - h;
            p = 2 * j * h;
            double best = -4.0;
            for (int q = lo; q <= hi; q += t->dec) { /* coarse: every dec-th lag and sample */
                double c = fit(t, x, q, prev, j == m - 1, t->dec);
                if (c > best) {
                    best = c;
                    p = q;
                }
            }
            if (t->dec > 1) { /* fine: every lag and sample around the coarse best */
                int centre = p;
                best = -4.0;
                for (int q = centre - t->dec + 1; q <= centre + t->dec - 1; q++) {
                    if (q < lo || q > hi)
                        continue;
                    double c = fit(t, x, q, prev, j == m - 1, 1);
                    if (c > best) {
                        best = c;
                        p = q;
                    }
                }
            }
        }
        int16_t *y = out + (j - 1) * h;
        for (int k = 0; k < h; k++) {
            float w = rc(k, h);
            y[k] = clip16((float)x[prev + k] * (1.0f - w) + (float)x[p - h + k] * w);
        }
        prev = p;
    }
    remember(t, out, n);
}

void oh_tsm_expand(oh_tsm *t, int16_t *out)
{
    if (!t->expanding) {
        t->period = pitch_of_history(t);
        t->phase = 0;
        memcpy(t->per, t->hist + t->hl - t->period, (size_t)t->period * sizeof *t->per);
    }
    const int p = t->period;
    const int16_t *per = t->per;
    for (int k = 0; k < t->n; k++)
        out[k] = clip16(expansion_gain(t, t->expanding + k) * (float)per[(t->phase + k) % p]);
    t->phase = (t->phase + t->n) % p;
    t->expanding += t->n;
    remember(t, out, t->n);
}
