/* G.722 as an oh_codec kind: 16 kHz PCM, one octet per two samples (so an
 * RTP payload of n bytes decodes to 2n samples). The codec config's bitrate
 * picks the mode (0 means 64000). Concealment comes from the generic oh_plc
 * (see oh_codec.c): G.722 has none of its own. */
#include "offhook/oh_g722.h"
#include "oh_alloc.h"
#include "oh_codec_internal.h"

typedef struct g722_state {
    oh_g722_encoder *enc;
    oh_g722_decoder *dec;
} g722_state;

static void g722_destroy(void *state)
{
    g722_state *st = state;
    oh_g722_encoder_destroy(st->enc);
    oh_g722_decoder_destroy(st->dec);
    oh_free(st);
}

static oh_status g722_create(const oh_codec_config *cfg, void **state)
{
    if (cfg->sample_rate != OH_G722_SAMPLE_RATE)
        return OH_EINVAL;
    oh_g722_config gcfg;
    oh_g722_config_default(&gcfg);
    if (cfg->bitrate != 0)
        gcfg.bitrate = cfg->bitrate;
    g722_state *st = oh_alloc(sizeof *st);
    if (!st)
        return OH_ENOMEM;
    oh_status rc = oh_g722_encoder_create(&gcfg, &st->enc);
    if (rc == OH_OK)
        rc = oh_g722_decoder_create(&gcfg, &st->dec);
    if (rc != OH_OK) {
        g722_destroy(st);
        return rc;
    }
    *state = st;
    return OH_OK;
}

static void g722_reset(void *state)
{
    g722_state *st = state;
    oh_g722_encoder_reset(st->enc);
    oh_g722_decoder_reset(st->dec);
}

static size_t g722_max_payload(const void *state, size_t n)
{
    (void)state;
    return n / 2;
}

static int g722_encode(void *state, const int16_t *pcm, size_t n, uint8_t *out, size_t cap)
{
    g722_state *st = state;
    return oh_g722_encode(st->enc, pcm, n, out, cap);
}

static int g722_decoded_samples(const void *state, const uint8_t *payload, size_t len)
{
    (void)state;
    (void)payload;
    return len > INT32_MAX / 2 ? OH_EINVAL : (int)(2 * len);
}

static int g722_decode(void *state, const uint8_t *payload, size_t len, int16_t *pcm, size_t cap)
{
    g722_state *st = state;
    return oh_g722_decode(st->dec, payload, len, pcm, cap);
}

const oh_codec_ops oh_codec_ops_g722 = {
    .id = OH_CODEC_G722,
    .native_rate = OH_G722_SAMPLE_RATE,
    .create = g722_create,
    .destroy = g722_destroy,
    .reset = g722_reset,
    .max_payload = g722_max_payload,
    .encode = g722_encode,
    .decoded_samples = g722_decoded_samples,
    .decode = g722_decode,
    .conceal = NULL,
    .decode_fec = NULL,
};
