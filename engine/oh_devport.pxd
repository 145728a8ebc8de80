from libc.stdint cimport int16_t, int64_t, uint64_t

from oh_ring cimport oh_ring, oh_ring_stats
from oh_status cimport oh_status

cdef extern from "offhook/oh_devport.h":
    int OH_DEVPORT_MAX_CHANNELS
    int OH_DEVPORT_CHUNK
    int OH_DEVPORT_STAMPS

    ctypedef struct oh_devport_config:
        int engine_rate
        int device_rate
        int channels
        int buffer_ms

    ctypedef struct oh_devport_stats:
        oh_ring_stats capture
        oh_ring_stats playback
        uint64_t stamps_dropped

    ctypedef struct oh_devport:
        pass

    void oh_devport_config_default(oh_devport_config *cfg)
    oh_status oh_devport_create(const oh_devport_config *cfg, oh_devport **out)
    void oh_devport_destroy(oh_devport *p)
    void oh_devport_reset(oh_devport *p)
    size_t oh_devport_push_capture(oh_devport *p, const int16_t *block, size_t frames) nogil
    size_t oh_devport_push_capture_at(oh_devport *p, const int16_t *block, size_t frames, int64_t t_ns) nogil
    size_t oh_devport_pull_playback(oh_devport *p, int16_t *block, size_t frames) nogil
    size_t oh_devport_pull_capture(oh_devport *p, int16_t *dst, size_t n) nogil
    size_t oh_devport_pull_capture_stamped(oh_devport *p, int16_t *dst, size_t n, int64_t *t_ns) nogil
    size_t oh_devport_skip_capture(oh_devport *p, size_t n) nogil
    size_t oh_devport_push_playback(oh_devport *p, const int16_t *pcm, size_t n) nogil
    size_t oh_devport_capture_available(const oh_devport *p) nogil
    size_t oh_devport_playback_queued(const oh_devport *p) nogil
    size_t oh_devport_capacity(const oh_devport *p) nogil
    int oh_devport_engine_rate(const oh_devport *p) nogil
    void oh_devport_latency(const oh_devport *p, int *capture, int *playback) nogil
    void oh_devport_get_stats(const oh_devport *p, oh_devport_stats *stats) nogil
    oh_ring *oh_devport_capture_ring(oh_devport *p) nogil
    oh_ring *oh_devport_playback_ring(oh_devport *p) nogil
    int64_t oh_devport_now_ns() nogil
