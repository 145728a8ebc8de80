/* Opus (RFC 6716, RTP payload RFC 7587) as an oh_codec kind, through libopus.
 *
 * What this file adds to libopus is the offhook contract, not signal
 * processing: one mono encoder and one mono decoder per instance, allocated
 * once with opus_{encoder,decoder}_get_size() + _init() through oh_alloc (so
 * the allocation-failure tests reach them and nothing is allocated per
 * frame), a config validated at create time, and libopus error codes turned
 * into oh_status. The application is OPUS_APPLICATION_VOIP: speech-tuned
 * SILK/hybrid modes, the high-pass and the intelligibility-first choices a
 * phone wants.
 *
 * Choices and their reasons:
 * - Frames are 2.5, 5, 10, 20, 40 or 60 ms at the instance rate, the durations
 *   libopus encodes into one packet; anything else is OH_EINVAL, never padded
 *   or split behind the caller's back.
 * - decoded_samples() reads only the TOC and frame count (RFC 6716 3.1-3.2)
 *   through opus_packet_get_nb_samples(); the full packet structure is checked
 *   by decode(). Both report malformed payloads as OH_EBADPKT.
 * - The empty payload is refused by decode() (OH_EBADPKT): a lost packet is
 *   announced with conceal(), not with a zero-length payload, so that a
 *   truncated packet is never silently turned into concealment.
 * - Concealment is libopus's own PLC (opus_decode() with no data): it knows
 *   the codec's internal state (SILK LPC/pitch, CELT energies) and fades a
 *   long loss towards silence by itself. libopus requires a multiple of 2.5 ms;
 *   long losses are concealed in chunks of at most 60 ms, because libopus's
 *   int16 entry point in float builds stages the whole request in a
 *   stack-allocated float buffer and the media thread's stack is not large.
 * - decode_fec() asks libopus for the in-band FEC (SILK LBRR) of the frame
 *   before next_payload. Where the packet carries none (CELT-only mode, FEC
 *   off at the far end, the bitrate too low for LBRR) libopus conceals, so the
 *   call is always safe to make; a loss longer than the FEC can cover is
 *   concealed first and only its last frame is recovered from FEC.
 * - DTX: with dtx on, libopus codes silence as 1-byte (TOC only) payloads,
 *   with a real packet every 400 ms to refresh comfort noise. A payload of
 *   2 bytes or less carries no audio: an RTP sender may skip it (RFC 7587
 *   3.1.3 lets the timestamp jump); the receiver calls conceal() for the gap
 *   (libopus then produces comfort noise, not a frozen frame). Decoding the
 *   1-byte payload instead is equally valid and gives the same result.
 * - The output capacity is passed to libopus as is: below
 *   oh_codec_max_payload() it acts as libopus's instant bitrate cap (a frame
 *   shrinks to fit, down to a TOC-only packet), which is how a caller bounds
 *   packets to an MTU. Only a zero capacity is OH_EBUFSIZE.
 * - Opus's own bitrate range is 500..512000 bit/s but it clamps silently; the
 *   range accepted here (6000..510000) is the one RFC 7587 and libopus
 *   document as meaningful, and out-of-range values are errors.
 *
 * Known limits: mono only; the decoder runs at the instance rate whatever the
 * sender's bandwidth (libopus resamples internally, as RFC 7587 allows);
 * libopus 1.3's PLC is the classic one (no deep PLC / DRED). */
#include <limits.h>
#include <opus.h>

#include "oh_alloc.h"
#include "oh_codec_internal.h"

#define OH_OPUS_MAX_BITRATE 510000
#define OH_OPUS_MIN_BITRATE 6000
/* A single Opus frame (RFC 6716 3.2.1) is at most 1275 bytes; a 40/60 ms
 * packet holds up to three 20 ms frames behind a TOC, a frame-count byte and
 * two-byte lengths. */
#define OH_OPUS_MAX_FRAME_BYTES 1275

typedef struct opus_state {
    OpusEncoder *enc;
    OpusDecoder *dec;
    int sample_rate;
    int samples_2_5ms; /* the unit every Opus duration is a multiple of */
} opus_state;

static int rate_supported(int rate)
{
    return rate == 8000 || rate == 12000 || rate == 16000 || rate == 24000 || rate == 48000;
}

static int config_valid(const oh_codec_config *cfg)
{
    if (!rate_supported(cfg->sample_rate))
        return 0;
    if (cfg->bitrate != 0 && (cfg->bitrate < OH_OPUS_MIN_BITRATE || cfg->bitrate > OH_OPUS_MAX_BITRATE))
        return 0;
    if (cfg->complexity != -1 && (cfg->complexity < 0 || cfg->complexity > 10))
        return 0;
    if ((cfg->vbr != 0 && cfg->vbr != 1) || (cfg->fec != 0 && cfg->fec != 1) ||
        (cfg->dtx != 0 && cfg->dtx != 1))
        return 0;
    return cfg->packet_loss_pct >= 0 && cfg->packet_loss_pct <= 100;
}

static oh_status from_opus(int err)
{
    switch (err) {
    case OPUS_BAD_ARG: return OH_EINVAL;
    case OPUS_BUFFER_TOO_SMALL: return OH_EBUFSIZE;
    case OPUS_INVALID_PACKET: return OH_EBADPKT;
    case OPUS_ALLOC_FAIL: return OH_ENOMEM;
    default: return OH_EINTERNAL;
    }
}

/* 1, 2, 4, 8, 16 or 24 units of 2.5 ms; 0 when n is no Opus frame duration. */
static int frame_units(const opus_state *st, size_t n)
{
    size_t unit = (size_t)st->samples_2_5ms;
    if (n == 0 || n % unit != 0)
        return 0;
    size_t k = n / unit;
    return (k == 1 || k == 2 || k == 4 || k == 8 || k == 16 || k == 24) ? (int)k : 0;
}

static void opus_codec_destroy(void *state)
{
    opus_state *st = state;
    if (!st)
        return;
    oh_free(st->enc);
    oh_free(st->dec);
    oh_free(st);
}

static oh_status configure_encoder(OpusEncoder *enc, const oh_codec_config *cfg)
{
    int bitrate = cfg->bitrate ? cfg->bitrate : OPUS_AUTO;
    int err = opus_encoder_ctl(enc, OPUS_SET_BITRATE(bitrate));
    if (err == OPUS_OK && cfg->complexity >= 0)
        err = opus_encoder_ctl(enc, OPUS_SET_COMPLEXITY(cfg->complexity));
    if (err == OPUS_OK)
        err = opus_encoder_ctl(enc, OPUS_SET_VBR(cfg->vbr));
    if (err == OPUS_OK)
        err = opus_encoder_ctl(enc, OPUS_SET_INBAND_FEC(cfg->fec));
    if (err == OPUS_OK)
        err = opus_encoder_ctl(enc, OPUS_SET_DTX(cfg->dtx));
    if (err == OPUS_OK)
        err = opus_encoder_ctl(enc, OPUS_SET_PACKET_LOSS_PERC(cfg->packet_loss_pct));
    if (err == OPUS_OK)
        err = opus_encoder_ctl(enc, OPUS_SET_SIGNAL(OPUS_SIGNAL_VOICE));
    return err == OPUS_OK ? OH_OK : from_opus(err);
}

static oh_status opus_codec_create(const oh_codec_config *cfg, void **state)
{
    if (!config_valid(cfg))
        return OH_EINVAL;
    opus_state *st = oh_alloc(sizeof *st);
    if (!st)
        return OH_ENOMEM;
    st->sample_rate = cfg->sample_rate;
    st->samples_2_5ms = cfg->sample_rate / 400;

    oh_status status = OH_ENOMEM;
    int enc_size = opus_encoder_get_size(1);
    int dec_size = opus_decoder_get_size(1);
    if (enc_size <= 0 || dec_size <= 0) {
        status = OH_EINTERNAL;
        goto fail;
    }
    st->enc = oh_alloc((size_t)enc_size);
    if (!st->enc)
        goto fail;
    st->dec = oh_alloc((size_t)dec_size);
    if (!st->dec)
        goto fail;

    int err = opus_encoder_init(st->enc, cfg->sample_rate, 1, OPUS_APPLICATION_VOIP);
    if (err == OPUS_OK)
        err = opus_decoder_init(st->dec, cfg->sample_rate, 1);
    if (err != OPUS_OK) {
        status = from_opus(err);
        goto fail;
    }
    status = configure_encoder(st->enc, cfg);
    if (status != OH_OK)
        goto fail;
    *state = st;
    return OH_OK;

fail:
    opus_codec_destroy(st);
    return status;
}

static void opus_codec_reset(void *state)
{
    opus_state *st = state;
    /* Clears the signal history; the CTL settings (bitrate, FEC...) stay. */
    opus_encoder_ctl(st->enc, OPUS_RESET_STATE);
    opus_decoder_ctl(st->dec, OPUS_RESET_STATE);
}

static size_t opus_codec_max_payload(const void *state, size_t n)
{
    const opus_state *st = state;
    size_t per_20ms = (size_t)st->sample_rate / 50;
    size_t frames = n <= per_20ms ? 1 : (n + per_20ms - 1) / per_20ms;
    if (frames > 3)
        frames = 3; /* longer requests are refused by encode() anyway */
    return 2 + frames * (OH_OPUS_MAX_FRAME_BYTES + 2);
}

static int opus_codec_encode(void *state, const int16_t *pcm, size_t n, uint8_t *out, size_t cap)
{
    opus_state *st = state;
    if (!frame_units(st, n))
        return OH_EINVAL;
    if (cap == 0)
        return OH_EBUFSIZE;
    opus_int32 room = cap > INT32_MAX ? INT32_MAX : (opus_int32)cap;
    int r = opus_encode(st->enc, pcm, (int)n, out, room);
    return r >= 0 ? r : from_opus(r);
}

static int opus_codec_decoded_samples(const void *state, const uint8_t *payload, size_t len)
{
    const opus_state *st = state;
    if (len == 0 || len > INT32_MAX)
        return OH_EBADPKT;
    int r = opus_packet_get_nb_samples(payload, (opus_int32)len, st->sample_rate);
    return r > 0 ? r : OH_EBADPKT; /* 0 frames is malformed too (RFC 6716 R5) */
}

static int opus_codec_decode(void *state, const uint8_t *payload, size_t len, int16_t *pcm, size_t cap)
{
    opus_state *st = state;
    if (len == 0 || len > INT32_MAX)
        return OH_EBADPKT;
    int room = cap > INT_MAX ? INT_MAX : (int)cap;
    if (room == 0)
        return OH_EBUFSIZE;
    int r = opus_decode(st->dec, payload, (opus_int32)len, pcm, room, 0);
    /* A payload whose TOC claims more audio than fits is OH_EBUFSIZE, one
     * libopus cannot parse OH_EBADPKT. */
    return r >= 0 ? r : from_opus(r);
}

static int opus_codec_conceal(void *state, int16_t *pcm, size_t n)
{
    opus_state *st = state;
    size_t unit = (size_t)st->samples_2_5ms;
    if (n % unit != 0)
        return OH_EINVAL;
    size_t chunk_max = 24 * unit; /* 60 ms */
    size_t done = 0;
    while (done < n) {
        size_t chunk = n - done < chunk_max ? n - done : chunk_max;
        int r = opus_decode(st->dec, NULL, 0, pcm + done, (int)chunk, 0);
        if (r < 0)
            return from_opus(r);
        if (r == 0)
            return OH_EINTERNAL; /* never seen; guards against an endless loop */
        done += (size_t)r;
    }
    return (int)n;
}

static int opus_codec_decode_fec(void *state, const uint8_t *next, size_t len, int16_t *pcm, size_t n)
{
    opus_state *st = state;
    size_t unit = (size_t)st->samples_2_5ms;
    if (n == 0 || n % unit != 0)
        return OH_EINVAL;
    if (len == 0)
        return opus_codec_conceal(st, pcm, n);
    if (len > INT32_MAX)
        return OH_EBADPKT;
    /* FEC covers at most one 60 ms SILK frame: conceal whatever comes before. */
    size_t fec_max = 24 * unit;
    size_t head = n > fec_max ? n - fec_max : 0;
    if (head) {
        int r = opus_codec_conceal(st, pcm, head);
        if (r < 0)
            return r;
    }
    int r = opus_decode(st->dec, next, (opus_int32)len, pcm + head, (int)(n - head), 1);
    if (r < 0)
        return from_opus(r);
    return (int)n;
}

const oh_codec_ops oh_codec_ops_opus = {
    .id = OH_CODEC_OPUS,
    .native_rate = 48000,
    .create = opus_codec_create,
    .destroy = opus_codec_destroy,
    .reset = opus_codec_reset,
    .max_payload = opus_codec_max_payload,
    .encode = opus_codec_encode,
    .decoded_samples = opus_codec_decoded_samples,
    .decode = opus_codec_decode,
    .conceal = opus_codec_conceal,
    .decode_fec = opus_codec_decode_fec,
};
