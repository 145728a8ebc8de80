from libc.stdint cimport int16_t, uint64_t

from oh_status cimport oh_status

cdef extern from "offhook/oh_ring.h":
    size_t OH_RING_MAX_CAPACITY

    ctypedef struct oh_ring_config:
        size_t capacity

    ctypedef struct oh_ring_stats:
        uint64_t written
        uint64_t read
        uint64_t overruns
        uint64_t dropped
        uint64_t underruns
        uint64_t missing

    ctypedef struct oh_ring:
        pass

    void oh_ring_config_default(oh_ring_config *cfg)
    oh_status oh_ring_create(const oh_ring_config *cfg, oh_ring **out)
    void oh_ring_destroy(oh_ring *ring)
    void oh_ring_reset(oh_ring *ring)
    size_t oh_ring_write(oh_ring *ring, const int16_t *src, size_t n) nogil
    size_t oh_ring_read(oh_ring *ring, int16_t *dst, size_t n) nogil
    size_t oh_ring_skip(oh_ring *ring, size_t n) nogil
    size_t oh_ring_available(const oh_ring *ring) nogil
    size_t oh_ring_space(const oh_ring *ring) nogil
    size_t oh_ring_capacity(const oh_ring *ring) nogil
    void oh_ring_get_stats(const oh_ring *ring, oh_ring_stats *stats) nogil
