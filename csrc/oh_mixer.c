/* Conference mixer: mix-minus with a memoryless soft limiter.
 *
 * Mix-minus. Participant i hears S - g_i x_i, where S = sum_j g_j x_j over
 * the participants that spoke this tick. S is computed once, so a tick costs
 * one pass per talker to build S, one pass per talker for its own output and
 * one pass for the common output that every silent participant shares (a
 * silent or muted participant's S - 0 is just S, limited once). The cost is
 * linear in the talkers, and a 100-party conference with a handful of
 * talkers costs a handful of passes. The sum is kept in float: with unity
 * gains every term and every partial sum is an integer below 2^24 (up to
 * 512 full-scale talkers), so S - x_i is exact and a participant's own
 * signal cancels to the last bit; with other gains the residue is float
 * rounding, a relative 6e-8 of the sum: a small fraction of the final
 * rounding to int16. (int32 would overflow with gains for large
 * conferences; int64 costs more and does not vectorise as well.)
 *
 * Silence is detected for free while put() copies the frame (an OR over the
 * samples): a frame of exact zeros (comfort silence, a held stream, a
 * jitter-buffer SILENCE tick) makes its participant a listener this tick.
 *
 * Limiter. Wrap-around (int16 overflow) is a loud click and hard clipping
 * squares off the waveform. Each output sample y goes through a static,
 * look-ahead-free soft knee instead:
 *     |y| <= T:  out = y                       (bit-exact: transparent)
 *     |y| >  T:  out = sign(y) (T + R e / (R + e)),  e = |y| - T, R = 32767 - T
 * The curve is continuous with slope 1 at the knee (C1: no corner to
 * generate a click), monotonic, and approaches full scale asymptotically, so
 * |out| <= 32767 whatever the sum (never -32768, never wraps). A full-scale
 * input peak (e = R) comes out at T + R/2; with the default T = -6 dBFS that
 * is -2.5 dBFS. It has no state, so it cannot pump: two talkers at normal
 * levels (peaks below -6 dBFS together) pass untouched, and a peak that
 * overshoots is rounded off for exactly as long as it lasts. It is the x/(1+x)
 * sigmoid rather than tanh so that each limited sample costs one division.
 * Its limit: a sustained overload (many loud talkers at once) is compressed
 * sample by sample, which adds harmonic distortion where a gain-riding
 * limiter with attack/release would only turn the level down; per-
 * participant input gains (AGC upstream) are the remedy for talkers that
 * are too loud all the time.
 *
 * Participants live in a dense array (iteration in mix costs no holes) and
 * are found by id through an open-addressing hash table (linear probing,
 * Fibonacci hashing, deletion by backward shift, Knuth 6.4 Algorithm R), so
 * every per-tick call is O(1) per participant. Removal swaps the last
 * participant into the hole; buffers travel with their participant. */
#include "offhook/oh_mixer.h"

#include <math.h>
#include <string.h>

#include "oh_alloc.h"

typedef struct part {
    uint32_t id;
    float gain;
    int muted;
    int has_input;         /* a nonzero frame was put this tick */
    int16_t *in;           /* frame_size samples */
    int16_t *out;          /* frame_size samples, its own mix-minus */
    const int16_t *result; /* out, or the shared bus when it was silent */
} part;

struct oh_mixer {
    int frame;
    int max;
    int count;
    float threshold;       /* T */
    float range;           /* R = 32767 - T */
    part *parts;           /* dense, [0, count) in use */
    int32_t *table;        /* dense index + 1, or 0 for empty */
    uint32_t table_mask;
    int table_shift;
    float *sum;
    int16_t *bus;          /* S limited: what every silent participant hears */
    int16_t *bufs;
};

void oh_mixer_config_default(oh_mixer_config *cfg)
{
    cfg->sample_rate = 16000;
    cfg->frame_size = 160;
    cfg->max_participants = 64;
    cfg->limiter_threshold_dbfs = -6.0;
}

static int valid_gain(double g)
{
    return g >= 0.0 && g <= OH_MIXER_MAX_GAIN; /* false for NaN */
}

oh_status oh_mixer_create(const oh_mixer_config *cfg, oh_mixer **out)
{
    if (!cfg || !out)
        return OH_EINVAL;
    *out = NULL;
    int rate = cfg->sample_rate;
    if (rate != 8000 && rate != 16000 && rate != 32000 && rate != 48000)
        return OH_EINVAL;
    if (cfg->frame_size != rate / 100 && cfg->frame_size != rate / 50)
        return OH_EINVAL;
    if (cfg->max_participants < 1 || cfg->max_participants > OH_MIXER_MAX_PARTICIPANTS)
        return OH_EINVAL;
    double t = cfg->limiter_threshold_dbfs;
    if (!(t >= -24.0 && t <= -1.0))
        return OH_EINVAL;

    oh_mixer *m = oh_alloc(sizeof *m);
    if (!m)
        return OH_ENOMEM;
    m->frame = cfg->frame_size;
    m->max = cfg->max_participants;
    m->threshold = (float)(32767.0 * pow(10.0, t / 20.0));
    m->range = 32767.0f - m->threshold;
    uint32_t size = 2;
    int bits = 1;
    while (size < 2u * (uint32_t)m->max) {
        size <<= 1;
        bits++;
    }
    m->table_mask = size - 1;
    m->table_shift = 32 - bits;
    size_t frame = (size_t)m->frame, max = (size_t)m->max;
    m->parts = oh_alloc(max * sizeof *m->parts);
    m->table = oh_alloc(size * sizeof *m->table);
    m->sum = oh_alloc(frame * sizeof *m->sum);
    m->bus = oh_alloc(frame * sizeof *m->bus);
    m->bufs = oh_alloc(2 * max * frame * sizeof *m->bufs);
    if (!m->parts || !m->table || !m->sum || !m->bus || !m->bufs) {
        oh_mixer_destroy(m);
        return OH_ENOMEM;
    }
    for (size_t i = 0; i < max; i++) {
        m->parts[i].in = m->bufs + 2 * i * frame;
        m->parts[i].out = m->parts[i].in + frame;
        m->parts[i].result = m->parts[i].out;
    }
    *out = m;
    return OH_OK;
}

void oh_mixer_destroy(oh_mixer *m)
{
    if (!m)
        return;
    oh_free(m->parts);
    oh_free(m->table);
    oh_free(m->sum);
    oh_free(m->bus);
    oh_free(m->bufs);
    oh_free(m);
}

void oh_mixer_reset(oh_mixer *m)
{
    for (int i = 0; i < m->count; i++) {
        part *p = &m->parts[i];
        p->has_input = 0;
        memset(p->out, 0, (size_t)m->frame * sizeof *p->out);
        p->result = p->out;
    }
    memset(m->bus, 0, (size_t)m->frame * sizeof *m->bus);
}

/* ---- id -> dense index ---- */

static uint32_t home(const oh_mixer *m, uint32_t id)
{
    return (uint32_t)(id * 2654435769u) >> m->table_shift;
}

/* The table slot holding id, or -1. */
static long slot_of(const oh_mixer *m, uint32_t id)
{
    for (uint32_t s = home(m, id);; s = (s + 1) & m->table_mask) {
        int32_t e = m->table[s];
        if (!e)
            return -1;
        if (m->parts[e - 1].id == id)
            return (long)s;
    }
}

static part *lookup(const oh_mixer *m, uint32_t id)
{
    long s = slot_of(m, id);
    return s < 0 ? NULL : &m->parts[m->table[s] - 1];
}

static void table_insert(oh_mixer *m, uint32_t id, int index)
{
    uint32_t s = home(m, id);
    while (m->table[s])
        s = (s + 1) & m->table_mask;
    m->table[s] = index + 1;
}

/* Empties slot s, moving later members of its probe run back so that every
 * entry stays reachable from its home slot without tombstones. */
static void table_erase(oh_mixer *m, uint32_t s)
{
    uint32_t hole = s;
    for (uint32_t j = (s + 1) & m->table_mask; m->table[j]; j = (j + 1) & m->table_mask) {
        uint32_t h = home(m, m->parts[m->table[j] - 1].id);
        /* entry j may fill the hole unless its home lies cyclically in (hole, j] */
        int stays = hole <= j ? (hole < h && h <= j) : (hole < h || h <= j);
        if (!stays) {
            m->table[hole] = m->table[j];
            hole = j;
        }
    }
    m->table[hole] = 0;
}

/* ---- membership ---- */

oh_status oh_mixer_add(oh_mixer *m, uint32_t id, double gain)
{
    if (!valid_gain(gain))
        return OH_EINVAL;
    if (lookup(m, id))
        return OH_ESTATE;
    if (m->count == m->max)
        return OH_EBUFSIZE;
    part *p = &m->parts[m->count];
    p->id = id;
    p->gain = (float)gain;
    p->muted = 0;
    p->has_input = 0;
    memset(p->out, 0, (size_t)m->frame * sizeof *p->out);
    p->result = p->out;
    table_insert(m, id, m->count);
    m->count++;
    return OH_OK;
}

oh_status oh_mixer_remove(oh_mixer *m, uint32_t id)
{
    long s = slot_of(m, id);
    if (s < 0)
        return OH_EINVAL;
    int index = m->table[s] - 1, last = m->count - 1;
    table_erase(m, (uint32_t)s);
    if (index != last) {
        long moved = slot_of(m, m->parts[last].id); /* found while parts[] still agrees */
        part gone = m->parts[index];
        m->parts[index] = m->parts[last];
        m->parts[last] = gone; /* its buffers wait there for the next add */
        m->table[moved] = index + 1;
    }
    m->count--;
    return OH_OK;
}

oh_status oh_mixer_set_gain(oh_mixer *m, uint32_t id, double gain)
{
    part *p = lookup(m, id);
    if (!p || !valid_gain(gain))
        return OH_EINVAL;
    p->gain = (float)gain;
    return OH_OK;
}

oh_status oh_mixer_set_mute(oh_mixer *m, uint32_t id, int muted)
{
    part *p = lookup(m, id);
    if (!p)
        return OH_EINVAL;
    p->muted = muted != 0;
    return OH_OK;
}

int oh_mixer_find(const oh_mixer *m, uint32_t id, double *gain, int *muted)
{
    const part *p = lookup(m, id);
    if (!p)
        return 0;
    if (gain)
        *gain = p->gain;
    if (muted)
        *muted = p->muted;
    return 1;
}

int oh_mixer_count(const oh_mixer *m)
{
    return m->count;
}

int oh_mixer_ids(const oh_mixer *m, uint32_t *ids, size_t cap)
{
    size_t n = (size_t)m->count < cap ? (size_t)m->count : cap;
    for (size_t i = 0; i < n; i++)
        ids[i] = m->parts[i].id;
    return (int)n;
}

int oh_mixer_frame_size(const oh_mixer *m)
{
    return m->frame;
}

/* ---- per tick ---- */

oh_status oh_mixer_put(oh_mixer *m, uint32_t id, const int16_t *frame)
{
    part *p = lookup(m, id);
    if (!p || !frame)
        return OH_EINVAL;
    int any = 0;
    for (int i = 0; i < m->frame; i++) {
        p->in[i] = frame[i];
        any |= frame[i];
    }
    p->has_input = any != 0;
    return OH_OK;
}

/* The soft knee of the file comment, then rounding half away from zero.
 * Written without branches so that it vectorises: below the knee e = 0 and
 * k = a; min(a, T) is exact, so the result can never pass T + R = 32767
 * by more than float rounding, which the integer clamp removes. The sign
 * goes back on after rounding the magnitude: half away from zero. */
static void limit(const float *restrict y, int16_t *restrict out, int n, float t, float r)
{
    for (int i = 0; i < n; i++) {
        /* Every operation unconditional and ternaries only selecting: GCC
         * will not if-convert a floating-point operation that might trap,
         * and fminf/fmaxf/copysignf are libm calls unless NaNs are ruled
         * out. Either stops vectorisation. */
        float v = y[i];
        float a = fabsf(v);
        float d = a - t;
        float e = d > 0.0f ? d : 0.0f; /* keeps r + e >= r > 0 in every lane */
        float k = (a < t ? a : t) + r * e / (r + e);
        int32_t q = (int32_t)(k + 0.5f); /* k >= 0: rounds half up */
        q = q < 32767 ? q : 32767;
        out[i] = (int16_t)(v < 0.0f ? -q : q);
    }
}

static int talks(const part *p)
{
    return p->has_input && !p->muted && p->gain > 0.0f;
}

oh_status oh_mixer_mix(oh_mixer *m)
{
    const int n = m->frame;
    float *restrict sum = m->sum;
    int talkers = 0;
    memset(sum, 0, (size_t)n * sizeof *sum);
    for (int j = 0; j < m->count; j++) {
        const part *p = &m->parts[j];
        if (!talks(p))
            continue;
        const int16_t *restrict x = p->in;
        const float g = p->gain;
        for (int i = 0; i < n; i++)
            sum[i] += g * (float)x[i];
        talkers++;
    }
    if (talkers)
        limit(sum, m->bus, n, m->threshold, m->range);
    else
        memset(m->bus, 0, (size_t)n * sizeof *m->bus);

    for (int j = 0; j < m->count; j++) {
        part *p = &m->parts[j];
        if (!talks(p)) {
            p->result = m->bus;
            p->has_input = 0;
            continue;
        }
        /* mix-minus in blocks, so the float difference stays in L1 */
        float own[64];
        const int16_t *restrict x = p->in;
        const float g = p->gain;
        for (int at = 0; at < n; at += 64) {
            int len = n - at < 64 ? n - at : 64;
            for (int i = 0; i < len; i++)
                own[i] = sum[at + i] - g * (float)x[at + i];
            limit(own, p->out + at, len, m->threshold, m->range);
        }
        p->result = p->out;
        p->has_input = 0;
    }
    return OH_OK;
}

const int16_t *oh_mixer_output(const oh_mixer *m, uint32_t id)
{
    const part *p = lookup(m, id);
    return p ? p->result : NULL;
}

oh_status oh_mixer_get(const oh_mixer *m, uint32_t id, int16_t *out)
{
    const int16_t *r = oh_mixer_output(m, id);
    if (!r || !out)
        return OH_EINVAL;
    memcpy(out, r, (size_t)m->frame * sizeof *out);
    return OH_OK;
}
