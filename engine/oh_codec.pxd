from libc.stdint cimport int16_t, uint8_t

from oh_status cimport oh_status

cdef extern from "offhook/oh_codec.h":
    ctypedef enum oh_codec_id:
        OH_CODEC_PCMU
        OH_CODEC_PCMA
        OH_CODEC_G722
        OH_CODEC_OPUS

    ctypedef struct oh_codec_config:
        oh_codec_id id
        int sample_rate
        int bitrate
        int complexity
        int vbr
        int fec
        int dtx
        int packet_loss_pct

    ctypedef struct oh_codec:
        pass

    void oh_codec_config_default(oh_codec_config *cfg, oh_codec_id id)
    oh_status oh_codec_create(const oh_codec_config *cfg, oh_codec **out)
    void oh_codec_destroy(oh_codec *codec)
    void oh_codec_reset(oh_codec *codec) nogil
    oh_codec_id oh_codec_get_id(const oh_codec *codec)
    int oh_codec_sample_rate(const oh_codec *codec)
    size_t oh_codec_max_payload(const oh_codec *codec, size_t n) nogil
    int oh_codec_encode(oh_codec *codec, const int16_t *pcm, size_t n, uint8_t *out, size_t cap) nogil
    int oh_codec_decoded_samples(const oh_codec *codec, const uint8_t *payload, size_t len) nogil
    int oh_codec_decode(oh_codec *codec, const uint8_t *payload, size_t len, int16_t *pcm, size_t cap) nogil
    int oh_codec_conceal(oh_codec *codec, int16_t *pcm, size_t n) nogil
    int oh_codec_decode_fec(oh_codec *codec, const uint8_t *next_payload, size_t len, int16_t *pcm, size_t n) nogil
    int oh_codec_decode_after_gap(oh_codec *codec, const uint8_t *payload, size_t len, int16_t *gap,
                                  size_t gap_n, int16_t *pcm, size_t cap) nogil
