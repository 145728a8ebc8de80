from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t

from oh_status cimport oh_status

cdef extern from "offhook/oh_jitter.h":
    ctypedef enum oh_jitter_status:
        OH_JITTER_NORMAL
        OH_JITTER_LOST
        OH_JITTER_LATE
        OH_JITTER_ACCELERATED
        OH_JITTER_EXPANDED
        OH_JITTER_SILENCE
        OH_JITTER_CONTINUED

    enum:
        OH_JITTER_MARKER
        OH_JITTER_COMFORT_NOISE

    ctypedef struct oh_jitter_config:
        int clock_rate
        int frame_ms
        int min_delay_ms
        int max_delay_ms
        int capacity
        int max_payload
        double late_ratio
        double memory_s
        int fec_delay

    enum: OH_JITTER_MAX_MORE

    ctypedef struct oh_jitter_part:
        const uint8_t *payload
        size_t len
        uint16_t seq
        uint32_t timestamp
        int samples

    ctypedef struct oh_jitter_frame:
        oh_jitter_status status
        const uint8_t *payload
        size_t len
        uint16_t seq
        uint32_t timestamp
        int samples
        const uint8_t *skipped
        size_t skipped_len
        const uint8_t *fec
        int comfort_noise
        size_t fec_len
        oh_jitter_part more[OH_JITTER_MAX_MORE]
        int nmore

    ctypedef struct oh_jitter_stats:
        double current_delay_ms
        double target_delay_ms
        uint64_t received
        uint64_t played
        uint64_t late
        uint64_t lost
        uint64_t concealed
        uint64_t accelerated
        uint64_t expanded
        uint64_t silence
        uint64_t duplicates
        uint64_t overflow
        uint64_t resyncs
        uint32_t max_burst
        uint64_t comfort_noise

    ctypedef struct oh_jitter:
        pass

    void oh_jitter_config_default(oh_jitter_config *cfg)
    oh_status oh_jitter_create(const oh_jitter_config *cfg, oh_jitter **out)
    void oh_jitter_destroy(oh_jitter *jb)
    void oh_jitter_reset(oh_jitter *jb) nogil
    oh_status oh_jitter_put(oh_jitter *jb, uint16_t seq, uint32_t timestamp, uint32_t ssrc, int flags,
                            const uint8_t *payload, size_t len, int samples, double arrival_ms) nogil
    oh_status oh_jitter_get(oh_jitter *jb, double now_ms, oh_jitter_frame *frame) nogil
    void oh_jitter_set_speech(oh_jitter *jb, int speech) nogil
    void oh_jitter_get_stats(const oh_jitter *jb, oh_jitter_stats *stats) nogil
