/* Playout of one received stream: jitter buffer -> decode/conceal -> time
 * scale -> exactly one tick of PCM per call.
 *
 * Why a separate object. The jitter buffer stores opaque payloads and
 * decides, per tick, what should be heard (a frame, two frames squeezed
 * into one tick, a stretch, concealment, silence); carrying that out needs
 * the decoder and the audio history. Keeping the decision in oh_jitter
 * (codec-independent, cheap, testable with frame numbers) and the execution
 * here gives the media engine a single PCM-out object per stream while the
 * packet-level buffer remains usable on its own (the Python binding
 * JitterBuffer is that, as DESIGN.md specifies).
 *
 * Per status: NORMAL decodes (payloads longer than a tick are decoded once
 * and played over the following CONTINUED ticks from a small PCM store,
 * below);
 * ACCELERATED decodes both frames (or the one two-tick frame) and
 * WSOLA-compresses them into one tick (oh_tsm);
 * EXPANDED is a tick of the codec's own concealment (pitch repetition for
 * G.711/G.722, Opus PLC): on espeak speech it scored 0.01-0.05 PESQ above
 * oh_tsm_expand's repetition, and the decoder then cross-fades into the
 * next frame itself; LOST, when the payload after the lost frame is already
 * buffered, decodes that payload a tick early and fills the gap with
 * oh_codec_decode_after_gap: Opus recovers it from the payload's in-band
 * FEC, G.711/G.722 interpolate between the past and the decoded future
 * (oh_plc_conceal_into) instead of extrapolating and then cross-fading into
 * the next frame; the early-decoded frame is played on its own tick (a
 * different frame coming first is cross-faded from it). This is the one
 * concealment that needs the buffer: a decoder-only PLC (a speex-style
 * pipeline, whose jitter buffer does not say whether a later packet is
 * there) can only extrapolate. Without a later payload LOST conceals,
 * LATE conceals (oh_codec_conceal); SILENCE is zeros, or, from a comfort-
 * noise payload (RFC 3389) on until the next frame, the noise it describes
 * (oh_cng): a peer's silence suppression then sounds like its room, not
 * like a dead line. Every tick then goes
 * through oh_tsm so that its history is the audio actually played, and the
 * first frame after an expansion is spliced in without a click. A payload
 * the decoder rejects is concealed: a corrupt packet must not stop playout.
 *
 * Payloads of any length up to 120 ms: what a tick decodes goes into a store,
 * the tick plays its first tick's worth (two, squeezed, when ACCELERATED)
 * and the rest waits there for the next tick (CONTINUED), which adds the
 * packets that follow (oh_jitter_frame.more) when the rest ends inside it;
 * a tick that still comes out short (a DTX gap inside it, a payload shorter
 * than announced, a packet waited for) ends in concealment.
 *
 * Limits: the PCM rate is the codec's (resampling to the device rate is the
 * mixer's job); payloads of at most 120 ms. */
#include "offhook/oh_playout.h"

#include <math.h>
#include <string.h>

#include "offhook/oh_cng.h"
#include "offhook/oh_tsm.h"
#include "oh_alloc.h"

#define MAX_PACKET_MS 120

struct oh_playout {
    oh_codec *codec;
    oh_jitter *jb;
    oh_tsm *tsm;
    oh_cng *cng;       /* the noise of the pause, after a comfort-noise payload */
    int rate;          /* PCM Hz */
    int clock_rate;    /* RTP Hz */
    size_t n;          /* PCM samples per tick */
    int16_t *store;    /* decoded audio of this tick and not yet played (CONTINUED ticks) */
    size_t store_cap, store_len, store_pos;
    int16_t *ahead;    /* the frame after a LOST tick, decoded with it (interpolation) */
    size_t ahead_len;  /* 0: none pending */
    uint16_t ahead_seq;
    int interpolate;
    int hint;          /* stretch_in_pauses */
    double level;      /* speech level: peak of the ticks' mean square, decaying */
    double decay;      /* per tick */
    int quiet_before;  /* the tick before was quiet */
};

void oh_playout_config_default(oh_playout_config *cfg, oh_codec_id id)
{
    oh_codec_config_default(&cfg->codec, id);
    oh_jitter_config_default(&cfg->jitter);
    cfg->jitter.clock_rate = id == OH_CODEC_OPUS ? 48000 : 8000;
    cfg->stretch_in_pauses = 1;
    cfg->interpolate = 1;
    if (id == OH_CODEC_OPUS)
        cfg->jitter.max_payload = 1500;
}

oh_status oh_playout_create(const oh_playout_config *cfg, oh_playout **out)
{
    if (!out)
        return OH_EINVAL;
    *out = NULL;
    if (!cfg)
        return OH_EINVAL;
    oh_playout *pl = oh_alloc(sizeof *pl);
    if (!pl)
        return OH_ENOMEM;
    oh_status st = oh_codec_create(&cfg->codec, &pl->codec);
    if (st != OH_OK)
        goto fail;
    pl->rate = oh_codec_sample_rate(pl->codec);
    pl->clock_rate = cfg->jitter.clock_rate;
    if ((long)pl->rate * cfg->jitter.frame_ms % 1000) {
        st = OH_EINVAL;
        goto fail;
    }
    pl->n = (size_t)pl->rate * (size_t)cfg->jitter.frame_ms / 1000;
    pl->hint = cfg->stretch_in_pauses != 0;
    pl->interpolate = cfg->interpolate != 0;
    pl->ahead_len = 0;
    pl->level = 0.0;
    pl->quiet_before = 0;
    /* the level forgets 20 dB in 5 s: it follows a talker getting quieter */
    pl->decay = pow(10.0, -2.0 * cfg->jitter.frame_ms / 5000.0);
    st = oh_jitter_create(&cfg->jitter, &pl->jb);
    if (st != OH_OK)
        goto fail;
    oh_tsm_config tcfg = {pl->rate, (int)pl->n};
    st = oh_tsm_create(&tcfg, &pl->tsm);
    if (st != OH_OK)
        goto fail;
    st = oh_cng_create(pl->rate, &pl->cng);
    if (st != OH_OK)
        goto fail;
    /* a tick's worth of audio (two when accelerated) and what its last
     * packet holds beyond: at most two ticks plus the longest packet */
    pl->store_cap = 2 * pl->n + (size_t)pl->rate * MAX_PACKET_MS / 1000;
    pl->store = oh_alloc(pl->store_cap * sizeof *pl->store);
    pl->ahead = oh_alloc(pl->store_cap * sizeof *pl->ahead);
    if (!pl->store || !pl->ahead) {
        st = OH_ENOMEM;
        goto fail;
    }
    *out = pl;
    return OH_OK;

fail:
    oh_playout_destroy(pl);
    return st;
}

void oh_playout_destroy(oh_playout *pl)
{
    if (!pl)
        return;
    oh_codec_destroy(pl->codec);
    oh_jitter_destroy(pl->jb);
    oh_tsm_destroy(pl->tsm);
    oh_cng_destroy(pl->cng);
    oh_free(pl->store);
    oh_free(pl->ahead);
    oh_free(pl);
}

void oh_playout_reset(oh_playout *pl)
{
    oh_codec_reset(pl->codec);
    oh_jitter_reset(pl->jb);
    oh_tsm_reset(pl->tsm);
    oh_cng_reset(pl->cng);
    pl->store_len = pl->store_pos = 0;
    pl->ahead_len = 0;
    pl->level = 0.0;
    pl->quiet_before = 0;
}

size_t oh_playout_frame_samples(const oh_playout *pl)
{
    return pl->n;
}

oh_status oh_playout_put(oh_playout *pl, uint16_t seq, uint32_t timestamp, uint32_t ssrc, int flags,
                         const uint8_t *payload, size_t len, double arrival_ms)
{
    if (!pl || (!payload && len))
        return OH_EINVAL;
    if (flags & OH_JITTER_COMFORT_NOISE)
        return len ? oh_jitter_put(pl->jb, seq, timestamp, ssrc, flags, payload, len, 0, arrival_ms)
                   : OH_EBADPKT;
    int pcm = oh_codec_decoded_samples(pl->codec, payload, len);
    if (pcm < 0)
        return OH_EBADPKT;
    long ts_units = (long)pcm * pl->clock_rate / pl->rate;
    return oh_jitter_put(pl->jb, seq, timestamp, ssrc, flags, payload, len, (int)ts_units, arrival_ms);
}

/* PCM samples of a length in timestamp units, within 1..store_cap. */
static size_t pcm_len(const oh_playout *pl, int ts_units)
{
    size_t k = (size_t)((long)ts_units * pl->rate / pl->clock_rate);
    return k < 1 ? 1 : k > pl->store_cap ? pl->store_cap : k;
}

/* Decodes into dst (cap samples); conceals want samples instead if the decoder refuses. */
static size_t decode_or_conceal(oh_playout *pl, const uint8_t *p, size_t len, int16_t *dst, size_t cap,
                                size_t want)
{
    int r = oh_codec_decode(pl->codec, p, len, dst, cap);
    if (r > 0)
        return (size_t)r;
    if (want > cap)
        want = cap;
    oh_codec_conceal(pl->codec, dst, want);
    return want;
}

/* As decode_or_conceal, but a frame decoded ahead with the LOST tick
 * before it is taken from there (decoding it again would run the decoder
 * twice over it). */
static size_t decode_frame(oh_playout *pl, uint16_t seq, const uint8_t *p, size_t len, int16_t *dst,
                           size_t cap, size_t want)
{
    if (pl->ahead_len && seq == pl->ahead_seq) {
        size_t k = pl->ahead_len < cap ? pl->ahead_len : cap;
        memcpy(dst, pl->ahead, k * sizeof *dst);
        pl->ahead_len = 0;
        return k;
    }
    size_t got = decode_or_conceal(pl, p, len, dst, cap, want);
    if (pl->ahead_len) {
        /* a frame other than the one the gap was interpolated into: the
         * concealed frame itself, come a tick late (oh_jitter plays it
         * after all). What was heard last ends where the frame decoded
         * ahead begins, so cross-fade from that into this one (2.5 ms). */
        size_t x = (size_t)pl->rate / 400;
        if (x > pl->ahead_len)
            x = pl->ahead_len;
        if (x > got)
            x = got;
        for (size_t i = 0; i < x; i++) {
            float a = (float)(i + 1) / (float)(x + 1);
            dst[i] = (int16_t)lrintf((1.0f - a) * (float)pl->ahead[i] + a * (float)dst[i]);
        }
        pl->ahead_len = 0;
    }
    return got;
}

/* Room at the end of the store for what a tick adds, the audio not yet
 * played moved to its start. */
static int16_t *store_tail(oh_playout *pl, size_t *room)
{
    if (pl->store_pos) {
        memmove(pl->store, pl->store + pl->store_pos, (pl->store_len - pl->store_pos) * sizeof *pl->store);
        pl->store_len -= pl->store_pos;
        pl->store_pos = 0;
    }
    *room = pl->store_cap - pl->store_len;
    return pl->store + pl->store_len;
}

/* Appends k samples of concealment to the store (as many as fit). */
static void store_concealment(oh_playout *pl, size_t k)
{
    size_t room;
    int16_t *dst = store_tail(pl, &room);
    k = k < room ? k : room;
    oh_codec_conceal(pl->codec, dst, k);
    pl->store_len += k;
}

/* Appends one payload's audio (or want samples of concealment for a
 * missing one) to the store. */
static void store_part(oh_playout *pl, uint16_t seq, const uint8_t *p, size_t len, size_t want)
{
    if (!p) {
        store_concealment(pl, want);
        return;
    }
    size_t room;
    int16_t *dst = store_tail(pl, &room);
    if (room)
        pl->store_len += decode_frame(pl, seq, p, len, dst, room, want);
}

/* Tells the buffer whether this tick was speech: louder than 20 dB below
 * the recent speech level and than -60 dBFS. Pauses and most unvoiced
 * sounds fall below, and a WSOLA squeeze there is inaudible where in a
 * vowel it can be heard (measured: PESQ-WB +0.1 on drift_fast, see
 * bench/RESULTS.md). */
static void hint_speech(oh_playout *pl, const int16_t *pcm)
{
    if (!pl->hint)
        return;
    double e = 0.0;
    for (size_t i = 0; i < pl->n; i++)
        e += (double)pcm[i] * pcm[i];
    e /= (double)pl->n;
    pl->level *= pl->decay;
    if (e > pl->level)
        pl->level = e;
    int quiet = e <= 0.01 * pl->level || e <= 1073.7; /* -60 dBFS */
    oh_jitter_set_speech(pl->jb, !(quiet && pl->quiet_before));
    pl->quiet_before = quiet;
}

int oh_playout_get(oh_playout *pl, double now_ms, int16_t *pcm, size_t cap, oh_jitter_status *status)
{
    if (!pl || !pcm || !status)
        return OH_EINVAL;
    if (cap < pl->n)
        return OH_EBUFSIZE;
    oh_jitter_frame f;
    oh_status st = oh_jitter_get(pl->jb, now_ms, &f);
    if (st != OH_OK)
        return st;
    *status = f.status;
    const size_t n = pl->n;
    if (f.status != OH_JITTER_CONTINUED)
        pl->store_len = pl->store_pos = 0; /* what was decoded before is over */
    if (f.status != OH_JITTER_SILENCE && f.status != OH_JITTER_CONTINUED)
        oh_cng_reset(pl->cng); /* speech again: the pause's noise is over */
    switch (f.status) {
    case OH_JITTER_NORMAL:
    case OH_JITTER_ACCELERATED:
        store_part(pl, f.seq, f.payload, f.len, pcm_len(pl, f.samples));
        if (f.skipped)
            store_part(pl, (uint16_t)(f.seq + 1u), f.skipped, f.skipped_len, pcm_len(pl, f.samples));
        break;
    case OH_JITTER_CONTINUED: /* the rest of a long payload, or of its concealment, is in the store */
        break;
    case OH_JITTER_EXPANDED:
        oh_codec_conceal(pl->codec, pcm, n);
        oh_tsm_pass(pl->tsm, pcm);
        hint_speech(pl, pcm);
        return (int)n;
    case OH_JITTER_LOST:
    case OH_JITTER_LATE: {
        /* the missing packet's length: a tick or more, or less with short
         * packets, whose next ones fill the tick (f.more) */
        size_t gap = pcm_len(pl, f.samples);
        if (f.fec && pl->interpolate) {
            /* the next frame is here: decode it now and end the gap in it
             * (it is played from there on its own tick, or as the next part
             * of this one) */
            int r = oh_codec_decode_after_gap(pl->codec, f.fec, f.fec_len, pl->store, gap, pl->ahead,
                                              pl->store_cap);
            pl->ahead_len = r > 0 ? (size_t)r : 0;
            pl->ahead_seq = (uint16_t)(f.seq + 1u);
            pl->store_len = gap;
            break;
        }
        /* whole ticks are concealed a tick at a time (the CONTINUED ticks
         * conceal the rest from an empty store); any other length all at
         * once, since the packets after it (f.more, or the next tick's)
         * start where it ends */
        size_t now = gap % n ? gap : n;
        if (f.fec)
            oh_codec_decode_fec(pl->codec, f.fec, f.fec_len, pl->store, now);
        else
            oh_codec_conceal(pl->codec, pl->store, now);
        pl->store_len = now;
        break;
    }
    case OH_JITTER_SILENCE:
    default:
        if (f.comfort_noise)
            oh_cng_update(pl->cng, f.payload, f.len); /* never empty: put refused those */
        if (oh_cng_active(pl->cng))
            oh_cng_generate(pl->cng, pcm, n);
        else
            memset(pcm, 0, n * sizeof *pcm);
        oh_tsm_pass(pl->tsm, pcm);
        hint_speech(pl, pcm);
        return (int)n;
    }
    for (int i = 0; i < f.nmore; i++)
        store_part(pl, f.more[i].seq, f.more[i].payload, f.more[i].len, pcm_len(pl, f.more[i].samples));

    /* a tick (two when accelerated) out of the store; what is missing at
     * its end (a payload shorter than announced, a DTX gap inside the tick,
     * a packet inside it waited for) is concealment */
    size_t need = f.status == OH_JITTER_ACCELERATED ? 2 * n : n;
    if (pl->store_len - pl->store_pos < need)
        store_concealment(pl, need - (pl->store_len - pl->store_pos));
    if (f.status == OH_JITTER_ACCELERATED) {
        oh_tsm_accelerate(pl->tsm, pl->store + pl->store_pos, pcm);
        pl->store_pos += need;
        hint_speech(pl, pcm);
        return (int)n;
    }
    memcpy(pcm, pl->store + pl->store_pos, n * sizeof *pcm);
    pl->store_pos += n;
    oh_tsm_pass(pl->tsm, pcm);
    hint_speech(pl, pcm);
    return (int)n;
}

void oh_playout_get_stats(const oh_playout *pl, oh_jitter_stats *stats)
{
    oh_jitter_get_stats(pl->jb, stats);
}
