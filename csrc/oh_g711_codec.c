/* G.711 as an oh_codec kind: stateless, 8 kHz only, one byte per sample.
 * Concealment comes from the generic oh_plc (see oh_codec.c). */
#include "offhook/oh_g711.h"
#include "oh_alloc.h"
#include "oh_codec_internal.h"

/* G.711 keeps no history: the state only says which law. */
typedef struct g711_state {
    oh_codec_id law;
} g711_state;

static oh_status g711_create(const oh_codec_config *cfg, void **state)
{
    if (cfg->sample_rate != 8000 || (cfg->bitrate != 0 && cfg->bitrate != 64000))
        return OH_EINVAL;
    g711_state *st = oh_alloc(sizeof *st);
    if (!st)
        return OH_ENOMEM;
    st->law = cfg->id;
    *state = st;
    return OH_OK;
}

static void g711_destroy(void *state)
{
    oh_free(state);
}

static void g711_reset(void *state)
{
    (void)state;
}

static size_t g711_max_payload(const void *state, size_t n)
{
    (void)state;
    return n;
}

static int g711_decoded_samples(const void *state, const uint8_t *payload, size_t len)
{
    (void)state;
    (void)payload;
    return len > INT32_MAX ? OH_EINVAL : (int)len;
}

static int g711_encode(void *state, const int16_t *pcm, size_t n, uint8_t *out, size_t cap)
{
    const g711_state *st = state;
    if (n > INT32_MAX)
        return OH_EINVAL;
    if (cap < n)
        return OH_EBUFSIZE;
    if (st->law == OH_CODEC_PCMU)
        oh_g711_ulaw_encode(pcm, n, out);
    else
        oh_g711_alaw_encode(pcm, n, out);
    return (int)n;
}

static int g711_decode(void *state, const uint8_t *payload, size_t len, int16_t *pcm, size_t cap)
{
    const g711_state *st = state;
    if (len > INT32_MAX)
        return OH_EINVAL;
    if (cap < len)
        return OH_EBUFSIZE;
    if (st->law == OH_CODEC_PCMU)
        oh_g711_ulaw_decode(payload, len, pcm);
    else
        oh_g711_alaw_decode(payload, len, pcm);
    return (int)len;
}

const oh_codec_ops oh_codec_ops_pcmu = {
    .id = OH_CODEC_PCMU,
    .native_rate = 8000,
    .create = g711_create,
    .destroy = g711_destroy,
    .reset = g711_reset,
    .max_payload = g711_max_payload,
    .encode = g711_encode,
    .decoded_samples = g711_decoded_samples,
    .decode = g711_decode,
    .conceal = NULL,
    .decode_fec = NULL,
};

const oh_codec_ops oh_codec_ops_pcma = {
    .id = OH_CODEC_PCMA,
    .native_rate = 8000,
    .create = g711_create,
    .destroy = g711_destroy,
    .reset = g711_reset,
    .max_payload = g711_max_payload,
    .encode = g711_encode,
    .decoded_samples = g711_decoded_samples,
    .decode = g711_decode,
    .conceal = NULL,
    .decode_fec = NULL,
};
