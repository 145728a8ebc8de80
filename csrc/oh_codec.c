#include "offhook/oh_codec.h"

#include "offhook/oh_plc.h"
#include "oh_alloc.h"
#include "oh_codec_internal.h"

struct oh_codec {
    const oh_codec_ops *ops;
    void *state;
    oh_plc *plc; /* NULL when the codec conceals on its own */
    int sample_rate;
};

static const oh_codec_ops *ops_for(oh_codec_id id)
{
    switch (id) {
    case OH_CODEC_PCMU: return &oh_codec_ops_pcmu;
    case OH_CODEC_PCMA: return &oh_codec_ops_pcma;
    case OH_CODEC_OPUS: return &oh_codec_ops_opus;
    case OH_CODEC_G722: return &oh_codec_ops_g722;
    }
    return NULL;
}

void oh_codec_config_default(oh_codec_config *cfg, oh_codec_id id)
{
    cfg->id = id;
    cfg->sample_rate = 0;
    cfg->bitrate = 0;
    cfg->complexity = -1;
    cfg->vbr = 1;
    cfg->fec = 0;
    cfg->dtx = 0;
    cfg->packet_loss_pct = 0;
}

oh_status oh_codec_create(const oh_codec_config *cfg, oh_codec **out)
{
    if (!cfg || !out)
        return OH_EINVAL;
    *out = NULL;
    if ((int)cfg->id < 0 || (int)cfg->id >= OH_CODEC_COUNT)
        return OH_EINVAL;
    const oh_codec_ops *ops = ops_for(cfg->id);
    if (!ops)
        return OH_EUNSUPPORTED;

    oh_codec_config resolved = *cfg;
    if (resolved.sample_rate == 0)
        resolved.sample_rate = ops->native_rate;

    oh_codec *codec = oh_alloc(sizeof *codec);
    if (!codec)
        return OH_ENOMEM;
    codec->ops = ops;
    codec->sample_rate = resolved.sample_rate;
    oh_status st = ops->create(&resolved, &codec->state);
    if (st != OH_OK)
        goto fail;
    if (!ops->conceal) {
        oh_plc_config pcfg;
        oh_plc_config_default(&pcfg);
        pcfg.sample_rate = resolved.sample_rate;
        st = oh_plc_create(&pcfg, &codec->plc);
        if (st != OH_OK)
            goto fail;
    }
    *out = codec;
    return OH_OK;

fail:
    oh_codec_destroy(codec);
    return st;
}

void oh_codec_destroy(oh_codec *codec)
{
    if (!codec)
        return;
    if (codec->state)
        codec->ops->destroy(codec->state);
    oh_plc_destroy(codec->plc);
    oh_free(codec);
}

void oh_codec_reset(oh_codec *codec)
{
    codec->ops->reset(codec->state);
    if (codec->plc)
        oh_plc_reset(codec->plc);
}

oh_codec_id oh_codec_get_id(const oh_codec *codec)
{
    return codec->ops->id;
}

int oh_codec_sample_rate(const oh_codec *codec)
{
    return codec->sample_rate;
}

size_t oh_codec_max_payload(const oh_codec *codec, size_t n)
{
    return codec->ops->max_payload(codec->state, n);
}

int oh_codec_encode(oh_codec *codec, const int16_t *pcm, size_t n, uint8_t *out, size_t cap)
{
    if ((!pcm && n) || (!out && cap))
        return OH_EINVAL;
    return codec->ops->encode(codec->state, pcm, n, out, cap);
}

int oh_codec_decoded_samples(const oh_codec *codec, const uint8_t *payload, size_t len)
{
    if (!payload && len)
        return OH_EINVAL;
    return codec->ops->decoded_samples(codec->state, payload, len);
}

int oh_codec_decode(oh_codec *codec, const uint8_t *payload, size_t len, int16_t *pcm, size_t cap)
{
    if ((!payload && len) || (!pcm && cap))
        return OH_EINVAL;
    int n = codec->ops->decode(codec->state, payload, len, pcm, cap);
    if (n > 0 && codec->plc)
        oh_plc_good(codec->plc, pcm, (size_t)n);
    return n;
}

int oh_codec_conceal(oh_codec *codec, int16_t *pcm, size_t n)
{
    if (!pcm || n > INT32_MAX)
        return OH_EINVAL;
    if (codec->ops->conceal)
        return codec->ops->conceal(codec->state, pcm, n);
    oh_plc_conceal(codec->plc, pcm, n);
    return (int)n;
}

int oh_codec_decode_fec(oh_codec *codec, const uint8_t *next_payload, size_t len, int16_t *pcm, size_t n)
{
    if ((!next_payload && len) || !pcm || n > INT32_MAX)
        return OH_EINVAL;
    if (codec->ops->decode_fec)
        return codec->ops->decode_fec(codec->state, next_payload, len, pcm, n);
    return oh_codec_conceal(codec, pcm, n);
}

int oh_codec_decode_after_gap(oh_codec *codec, const uint8_t *payload, size_t len, int16_t *gap, size_t gap_n,
                              int16_t *pcm, size_t cap)
{
    if ((!payload && len) || (!pcm && cap) || !gap || gap_n > INT32_MAX)
        return OH_EINVAL;
    if (!codec->plc) {
        int r = oh_codec_decode_fec(codec, payload, len, gap, gap_n);
        if (r < 0)
            return r;
        return oh_codec_decode(codec, payload, len, pcm, cap);
    }
    int n = codec->ops->decode(codec->state, payload, len, pcm, cap);
    if (n <= 0) {
        oh_plc_conceal(codec->plc, gap, gap_n);
        return n;
    }
    /* G.722's ADPCM predictors missed the gap: its first ms are unsure, so
     * the interpolation repeats the frame from 2.5 ms in. Measured, PESQ-WB
     * gain over extrapolation on single losses (20 s, seeds 1-4): settle 0
     * -0.07 (30 s), 1.25 ms +0.07, 2.5 ms +0.07, 5 ms +0.04, 10 ms -0.14
     * (too little frame left for the pitch search). G.711 is stateless. */
    size_t settle = codec->ops->id == OH_CODEC_G722 ? (size_t)codec->sample_rate / 400 : 0;
    oh_plc_conceal_into(codec->plc, gap, gap_n, pcm, (size_t)n, settle);
    return n;
}
