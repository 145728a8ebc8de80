/* Comfort noise generation from RFC 3389 payloads.
 *
 * Model. White noise e[n] through the all-pole filter 1 / A(z), A(z) = 1 +
 * sum a_j z^-j, where a comes from the payload's reflection coefficients by
 * the step-up recursion (a_i^(i) = k_i, a_j^(i) = a_j^(i-1) + k_i a_(i-j)^(i-1)).
 * For white input of variance s2 that filter's output has variance
 * s2 / prod(1 - k_i^2), so the excitation is scaled by prod(1 - k_i^2) to
 * give the payload's level whatever its colour. A payload without
 * coefficients is plain white noise at its level.
 *
 * Why glide. A sender updates the model whenever the background changes;
 * jumping to the new level and colour at a block boundary is audible as a
 * step. Each generate() call moves the coefficients and the gain part of the
 * way to the new model (time constant 10 ms) and recomputes the filter
 * once per call: the cost stays per block, and reflection coefficients
 * interpolated between two stable sets stay below 1 in magnitude, so the
 * filter stays stable. Coefficients are clamped to +-0.99 for the same
 * reason (a byte of 255 would be exactly 1).
 *
 * Describing (the sender's side). The level byte is the frame's mean
 * square in -dBov, rounded and clamped to 0..127; the coefficients come
 * from the frame's autocorrelation by Levinson-Durbin, whose reflection
 * coefficients are exactly the k of the model above (same sign: k_1 < 0
 * for a background with more low than high frequencies), quantised as
 * round(128 k) + 127 within 0..254. A 1.0001 factor on r[0] (a -40 dB
 * white-noise floor) keeps the recursion well conditioned on tonal or
 * digitally silent frames.
 *
 * The noise source is the core's xorshift (oh_rand_internal.h), one state
 * per instance, uniform on [-1, 1); the first payload after create or reset starts the model at
 * once, without a glide from silence. */
#include "offhook/oh_cng.h"

#include <math.h>
#include <string.h>

#include "oh_alloc.h"
#include "oh_rand_internal.h"

#define GLIDE_S 0.010
#define MAX_K 0.99

struct oh_cng {
    int rate;
    int active;
    int level;                     /* -dBov of the last payload */
    int order;                     /* coefficients in use (the longer of old and new while gliding) */
    double k[OH_CNG_MAX_ORDER];    /* reflection coefficients now */
    double k_to[OH_CNG_MAX_ORDER]; /* and those of the last payload */
    double power, power_to;        /* wanted output mean square */
    double a[OH_CNG_MAX_ORDER];    /* direct-form coefficients of A(z) for this block */
    double y[OH_CNG_MAX_ORDER];    /* the filter's last outputs, newest first */
    uint64_t seed;
};

oh_status oh_cng_create(int sample_rate, oh_cng **out)
{
    if (!out)
        return OH_EINVAL;
    *out = NULL;
    if (sample_rate < 8000 || sample_rate > 48000)
        return OH_EINVAL;
    oh_cng *cng = oh_alloc(sizeof *cng);
    if (!cng)
        return OH_ENOMEM;
    cng->rate = sample_rate;
    oh_cng_reset(cng);
    *out = cng;
    return OH_OK;
}

void oh_cng_destroy(oh_cng *cng)
{
    oh_free(cng);
}

void oh_cng_reset(oh_cng *cng)
{
    int rate = cng->rate;
    memset(cng, 0, sizeof *cng);
    cng->rate = rate;
    cng->level = -1;
    cng->seed = 0x2545F4914F6CDD1DULL;
}

oh_status oh_cng_update(oh_cng *cng, const uint8_t *payload, size_t len)
{
    if (!cng || (!payload && len))
        return OH_EINVAL;
    if (len == 0)
        return OH_EBADPKT;
    cng->level = payload[0] & 0x7F;
    cng->power_to = 32767.0 * 32767.0 * pow(10.0, -(double)cng->level / 10.0);
    size_t order = len - 1 < OH_CNG_MAX_ORDER ? len - 1 : OH_CNG_MAX_ORDER;
    memset(cng->k_to, 0, sizeof cng->k_to);
    for (size_t i = 0; i < order; i++) {
        double k = ((double)payload[1 + i] - 127.0) / 128.0;
        cng->k_to[i] = k > MAX_K ? MAX_K : k < -MAX_K ? -MAX_K : k;
    }
    if (!cng->active) {
        memcpy(cng->k, cng->k_to, sizeof cng->k);
        cng->power = cng->power_to;
        memset(cng->y, 0, sizeof cng->y);
        cng->order = (int)order;
        cng->active = 1;
    } else if ((int)order > cng->order) {
        cng->order = (int)order;
    }
    return OH_OK;
}

int oh_cng_active(const oh_cng *cng)
{
    return cng && cng->active;
}

int oh_cng_level(const oh_cng *cng)
{
    return cng ? cng->level : -1;
}

/* One step of the step-up recursion: a[0..i-1] (order i) to order i + 1 with k. */
static void step_up_once(double *a, int i, double k)
{
    double prev[OH_CNG_MAX_ORDER];
    memcpy(prev, a, (size_t)i * sizeof *prev);
    for (int j = 0; j < i; j++)
        a[j] = prev[j] + k * prev[i - 1 - j];
    a[i] = k;
}

/* a[] from k[] by the step-up recursion; returns prod(1 - k^2). */
static double step_up(oh_cng *cng)
{
    double gain = 1.0;
    for (int i = 0; i < cng->order; i++) {
        step_up_once(cng->a, i, cng->k[i]);
        gain *= 1.0 - cng->k[i] * cng->k[i];
    }
    return gain;
}

void oh_cng_generate(oh_cng *cng, int16_t *pcm, size_t n)
{
    if (!cng || !pcm)
        return;
    if (!cng->active) {
        memset(pcm, 0, n * sizeof *pcm);
        return;
    }
    double glide = 1.0 - exp(-(double)n / (GLIDE_S * cng->rate));
    for (int i = 0; i < OH_CNG_MAX_ORDER; i++)
        cng->k[i] += glide * (cng->k_to[i] - cng->k[i]);
    cng->power += glide * (cng->power_to - cng->power);
    double excitation_power = cng->power * step_up(cng);
    double scale = sqrt(3.0 * excitation_power); /* uniform on [-1, 1) has variance 1/3 */
    int p = cng->order;
    for (size_t t = 0; t < n; t++) {
        double v = scale * (2.0 * oh_rand_unit(&cng->seed) - 1.0);
        for (int j = 0; j < p; j++)
            v -= cng->a[j] * cng->y[j];
        if (p) {
            memmove(cng->y + 1, cng->y, (size_t)(p - 1) * sizeof *cng->y);
            cng->y[0] = v;
        }
        pcm[t] = (int16_t)(v > 32767.0 ? 32767 : v < -32768.0 ? -32768 : lrint(v));
    }
}

size_t oh_cng_describe(const int16_t *pcm, size_t n, int order, uint8_t *out)
{
    if (order < 0)
        order = 0;
    if (order > OH_CNG_MAX_ORDER)
        order = OH_CNG_MAX_ORDER;
    double r[OH_CNG_MAX_ORDER + 1];
    for (int lag = 0; lag <= order; lag++) {
        double acc = 0.0;
        for (size_t i = (size_t)lag; i < n; i++)
            acc += (double)pcm[i] * pcm[i - (size_t)lag];
        r[lag] = acc;
    }
    double ms = n ? r[0] / (double)n : 0.0;
    double level = ms > 0.0 ? -10.0 * log10(ms / (32767.0 * 32767.0)) : 127.0;
    out[0] = (uint8_t)(level < 0.0 ? 0 : level > 127.0 ? 127 : lrint(level));
    double a[OH_CNG_MAX_ORDER];
    double err = r[0] * 1.0001;
    for (int i = 0; i < order; i++) {
        double k = 0.0;
        if (err > 0.0) {
            double acc = r[i + 1];
            for (int j = 0; j < i; j++)
                acc += a[j] * r[i - j];
            k = -acc / err;
        }
        k = k > MAX_K ? MAX_K : k < -MAX_K ? -MAX_K : k;
        step_up_once(a, i, k);
        err *= 1.0 - k * k;
        long q = lrint(128.0 * k) + 127;
        out[1 + i] = (uint8_t)(q < 0 ? 0 : q > 254 ? 254 : q);
    }
    return 1 + (size_t)order;
}
