/* Call-progress tone generator.
 *
 * A tone is a looping table of segments (frequencies sounding together, and
 * for how long). Each frequency slot is a complex recursive oscillator
 * (oh_osc_internal.h): exact frequency, no phase or amplitude drift over
 * minutes, a burst starting at a zero crossing. The cadence position and the
 * oscillators carry over from one oh_tone_generate() call to the next, so
 * the output is the same whatever the frame size. Work is done in blocks of
 * SCRATCH samples in a buffer inside the instance: nothing is allocated
 * after create.
 *
 * The tables:
 * - US, the North American precise tone plan (AT&T "Notes on Distance
 *   Dialing" 1968, as used by ANSI T1.401 and Telcordia GR-506): dial
 *   350+440 Hz continuous; audible ringing 440+480 Hz 2 s on 4 s off; busy
 *   480+620 Hz 0.5 s on 0.5 s off; reorder 480+620 Hz 0.25 s on 0.25 s off;
 *   call waiting 440 Hz 0.3 s, repeated every 10 s. The plan's nominal
 *   levels are -13 dBm0 (dial), -19 (ringing) and -24 (busy, reorder) per
 *   component; here the level is the caller's choice (level_dbm0).
 * - ETSI, the harmonised European values of ETSI ES 201 970 (2002) and
 *   TR 101 041-1, which most of Europe adopted: everything at 425 Hz; dial
 *   continuous; ringing 1 s on 4 s off; busy 0.5 s on 0.5 s off; congestion
 *   0.25 s on 0.25 s off (3GPP TS 22.001 Annex F and several national plans
 *   use 0.2/0.2 instead); call waiting 0.2 on 0.2 off 0.2 on, then 9 s off.
 *   The ES figures were taken from secondary summaries (ITU-T Operational
 *   Bulletin E.180 annexes and vendors' tables that cite it), not the PDF.
 * - UK, BT SIN 350: dial 350+440 Hz continuous; ringing 400+450 Hz
 *   0.4 on 0.2 off 0.4 on 2 s off; busy 400 Hz 0.375/0.375; congestion
 *   400 Hz 0.4 on 0.35 off 0.225 on 0.525 off (SIN 350 plays the second
 *   burst at a different level; here both use level_dbm0); call waiting
 *   400 Hz 0.1 s every 4.1 s.
 *
 * Known limits: bursts start and stop abruptly (at a zero crossing on the way
 * in, wherever the sine is on the way out), as exchange tones do; amplitude-
 * modulated tones (some national plans) are not modelled, only sums.
 */
#include "offhook/oh_tone.h"

#include <stdint.h>
#include <string.h>

#include "oh_alloc.h"
#include "oh_osc_internal.h"

#define SCRATCH 256
#define FOREVER SIZE_MAX

struct oh_tone {
    int sample_rate;
    double amp;
    oh_tone_segment seg[OH_TONE_MAX_SEGMENTS];
    size_t n_seg;
    size_t cur;  /* current segment */
    size_t left; /* samples left in it, FOREVER for a continuous tone */
    oh_osc osc[OH_TONE_MAX_FREQS];
    double acc[SCRATCH];
};

#define SEG1(f, ms) { { f, 0 }, ms }
#define SEG2(f1, f2, ms) { { f1, f2 }, ms }
#define OFF(ms) { { 0, 0 }, ms }

typedef struct cadence {
    size_t n;
    oh_tone_segment seg[4];
} cadence;

static const cadence TABLES[OH_TONE_PROFILE_COUNT][OH_TONE_COUNT] = {
    [OH_TONE_PROFILE_US] = {
        [OH_TONE_DIAL] = { 1, { SEG2(350, 440, 0) } },
        [OH_TONE_RINGBACK] = { 2, { SEG2(440, 480, 2000), OFF(4000) } },
        [OH_TONE_BUSY] = { 2, { SEG2(480, 620, 500), OFF(500) } },
        [OH_TONE_CONGESTION] = { 2, { SEG2(480, 620, 250), OFF(250) } },
        [OH_TONE_CALL_WAITING] = { 2, { SEG1(440, 300), OFF(9700) } },
    },
    [OH_TONE_PROFILE_ETSI] = {
        [OH_TONE_DIAL] = { 1, { SEG1(425, 0) } },
        [OH_TONE_RINGBACK] = { 2, { SEG1(425, 1000), OFF(4000) } },
        [OH_TONE_BUSY] = { 2, { SEG1(425, 500), OFF(500) } },
        [OH_TONE_CONGESTION] = { 2, { SEG1(425, 250), OFF(250) } },
        [OH_TONE_CALL_WAITING] = { 4, { SEG1(425, 200), OFF(200), SEG1(425, 200), OFF(9000) } },
    },
    [OH_TONE_PROFILE_UK] = {
        [OH_TONE_DIAL] = { 1, { SEG2(350, 440, 0) } },
        [OH_TONE_RINGBACK] = { 4, { SEG2(400, 450, 400), OFF(200), SEG2(400, 450, 400), OFF(2000) } },
        [OH_TONE_BUSY] = { 2, { SEG1(400, 375), OFF(375) } },
        [OH_TONE_CONGESTION] = { 4, { SEG1(400, 400), OFF(350), SEG1(400, 225), OFF(525) } },
        [OH_TONE_CALL_WAITING] = { 2, { SEG1(400, 100), OFF(4000) } },
    },
};

static int rate_ok(int rate)
{
    return rate == 8000 || rate == 16000 || rate == 32000 || rate == 48000;
}

oh_status oh_tone_cadence(oh_tone_profile profile, oh_tone_id tone,
                          const oh_tone_segment **segments, size_t *n_segments)
{
    if (!segments || !n_segments || (int)profile < 0 || (int)profile >= OH_TONE_PROFILE_COUNT ||
        (int)tone < 0 || (int)tone >= OH_TONE_COUNT)
        return OH_EINVAL;
    *segments = TABLES[profile][tone].seg;
    *n_segments = TABLES[profile][tone].n;
    return OH_OK;
}

void oh_tone_config_default(oh_tone_config *cfg)
{
    cfg->sample_rate = 8000;
    cfg->profile = OH_TONE_PROFILE_US;
    cfg->tone = OH_TONE_DIAL;
    cfg->level_dbm0 = -13.0;
    cfg->segments = NULL;
    cfg->n_segments = 0;
}

static int segments_ok(const oh_tone_segment *seg, size_t n, int rate)
{
    if (n == 0 || n > OH_TONE_MAX_SEGMENTS)
        return 0;
    for (size_t i = 0; i < n; i++) {
        for (int k = 0; k < OH_TONE_MAX_FREQS; k++)
            if (seg[i].freq_hz[k] < 0 || 2 * seg[i].freq_hz[k] >= rate)
                return 0;
        /* durations up to ten minutes keep ms * rate well inside size_t */
        if (seg[i].duration_ms < 0 || seg[i].duration_ms > 600000)
            return 0;
        if (seg[i].duration_ms == 0 && i + 1 != n)
            return 0;
    }
    return 1;
}

static void start_segment(oh_tone *t, size_t i)
{
    const oh_tone_segment *s = &t->seg[i];
    t->cur = i;
    t->left = s->duration_ms ? (size_t)s->duration_ms * (size_t)t->sample_rate / 1000 : FOREVER;
    for (int k = 0; k < OH_TONE_MAX_FREQS; k++)
        oh_osc_set(&t->osc[k], s->freq_hz[k], t->amp, t->sample_rate);
}

oh_status oh_tone_create(const oh_tone_config *cfg, oh_tone **out)
{
    if (!out)
        return OH_EINVAL;
    *out = NULL;
    if (!cfg || !rate_ok(cfg->sample_rate) || !(cfg->level_dbm0 >= -90.0) ||
        cfg->level_dbm0 > OH_DBM0_FULL_SCALE)
        return OH_EINVAL;
    const oh_tone_segment *seg = cfg->segments;
    size_t n = cfg->n_segments;
    if (!seg && oh_tone_cadence(cfg->profile, cfg->tone, &seg, &n) != OH_OK)
        return OH_EINVAL;
    if (!segments_ok(seg, n, cfg->sample_rate))
        return OH_EINVAL;

    oh_tone *t = oh_alloc(sizeof *t);
    if (!t)
        return OH_ENOMEM;
    t->sample_rate = cfg->sample_rate;
    t->amp = oh_osc_amplitude(cfg->level_dbm0);
    memcpy(t->seg, seg, n * sizeof *seg);
    t->n_seg = n;
    oh_tone_reset(t);
    *out = t;
    return OH_OK;
}

void oh_tone_destroy(oh_tone *tone)
{
    oh_free(tone);
}

void oh_tone_reset(oh_tone *tone)
{
    for (int k = 0; k < OH_TONE_MAX_FREQS; k++)
        tone->osc[k].freq = 0.0;
    start_segment(tone, 0);
}

int oh_tone_generate(oh_tone *tone, int16_t *out, size_t n)
{
    if (!tone || (!out && n > 0) || n > INT32_MAX)
        return OH_EINVAL;
    size_t done = 0;
    while (done < n) {
        if (tone->left == 0)
            start_segment(tone, (tone->cur + 1) % tone->n_seg);
        size_t chunk = n - done;
        if (chunk > SCRATCH)
            chunk = SCRATCH;
        if (chunk > tone->left)
            chunk = tone->left;
        memset(tone->acc, 0, chunk * sizeof tone->acc[0]);
        for (int k = 0; k < OH_TONE_MAX_FREQS; k++)
            oh_osc_add(&tone->osc[k], tone->acc, chunk);
        for (size_t i = 0; i < chunk; i++)
            out[done + i] = oh_osc_saturate(tone->acc[i]);
        done += chunk;
        if (tone->left != FOREVER)
            tone->left -= chunk;
    }
    return (int)n;
}
