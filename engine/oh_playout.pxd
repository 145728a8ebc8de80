from libc.stdint cimport int16_t, uint8_t, uint16_t, uint32_t

from oh_codec cimport oh_codec_config, oh_codec_id
from oh_jitter cimport oh_jitter_config, oh_jitter_stats, oh_jitter_status
from oh_status cimport oh_status

cdef extern from "offhook/oh_playout.h":
    ctypedef struct oh_playout_config:
        oh_codec_config codec
        oh_jitter_config jitter
        int stretch_in_pauses
        int interpolate

    ctypedef struct oh_playout:
        pass

    void oh_playout_config_default(oh_playout_config *cfg, oh_codec_id id)
    oh_status oh_playout_create(const oh_playout_config *cfg, oh_playout **out)
    void oh_playout_destroy(oh_playout *pl)
    void oh_playout_reset(oh_playout *pl) nogil
    size_t oh_playout_frame_samples(const oh_playout *pl)
    oh_status oh_playout_put(oh_playout *pl, uint16_t seq, uint32_t timestamp, uint32_t ssrc, int flags,
                             const uint8_t *payload, size_t len, double arrival_ms) nogil
    int oh_playout_get(oh_playout *pl, double now_ms, int16_t *pcm, size_t cap,
                       oh_jitter_status *status) nogil
    void oh_playout_get_stats(const oh_playout *pl, oh_jitter_stats *stats) nogil
