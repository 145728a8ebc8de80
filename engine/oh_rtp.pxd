from libc.stdint cimport int64_t, uint8_t, uint16_t, uint32_t, uint64_t

from oh_status cimport oh_status

cdef extern from "offhook/oh_rtp.h":
    enum:
        OH_RTP_HEADER_MIN
        OH_RTP_MAX_CSRC
        OH_RTP_MAX_HEADER

    ctypedef enum oh_pkt_defect:
        OH_PKT_OK
        OH_PKT_TRUNCATED
        OH_PKT_BAD_VERSION
        OH_PKT_BAD_PADDING
        OH_PKT_CSRC_OVERRUN
        OH_PKT_EXT_OVERRUN
        OH_PKT_BAD_LENGTH
        OH_PKT_BAD_TYPE
        OH_PKT_BAD_ITEM
        OH_PKT_AUTH_FAIL
        OH_PKT_REPLAY
        OH_PKT_UNKNOWN_SSRC

    const char *oh_pkt_defect_str(int defect) nogil

    ctypedef struct oh_rtp_header:
        uint8_t padding
        uint8_t extension
        uint8_t csrc_count
        uint8_t marker
        uint8_t payload_type
        uint16_t seq
        uint32_t timestamp
        uint32_t ssrc
        uint32_t csrc[15]
        uint16_t ext_profile
        size_t ext_offset
        size_t ext_len
        size_t payload_offset
        size_t payload_len
        size_t padding_len

    oh_status oh_rtp_parse(const uint8_t *pkt, size_t len, oh_rtp_header *h, oh_pkt_defect *defect) nogil
    int oh_rtp_write(const oh_rtp_header *h, const uint8_t *payload, size_t payload_len,
                     uint8_t *out, size_t cap) nogil
    int oh_rtp_is_rtcp(const uint8_t *pkt, size_t len) nogil
    int oh_rtp_pt_conflicts_with_rtcp(int pt) nogil

    ctypedef struct oh_rtp_sender_config:
        uint32_t ssrc
        int payload_type
        int clock_rate
        uint64_t seed

    ctypedef struct oh_rtp_sender_stats:
        uint32_t ssrc
        uint16_t next_seq
        uint32_t timestamp
        uint64_t packets
        uint64_t octets

    ctypedef struct oh_rtp_sender:
        pass

    void oh_rtp_sender_config_default(oh_rtp_sender_config *cfg)
    oh_status oh_rtp_sender_create(const oh_rtp_sender_config *cfg, oh_rtp_sender **out)
    void oh_rtp_sender_destroy(oh_rtp_sender *s)
    void oh_rtp_sender_reset(oh_rtp_sender *s, uint64_t seed) nogil
    int oh_rtp_sender_write(oh_rtp_sender *s, const uint8_t *payload, size_t len, uint32_t samples,
                            int talkspurt_start, uint8_t *out, size_t cap) nogil
    int oh_rtp_sender_write_event(oh_rtp_sender *s, int payload_type, uint32_t timestamp, int marker,
                                  const uint8_t *payload, size_t len, uint8_t *out, size_t cap) nogil
    void oh_rtp_sender_skip(oh_rtp_sender *s, uint32_t samples) nogil
    oh_status oh_rtp_sender_set_payload_type(oh_rtp_sender *s, int payload_type) nogil
    void oh_rtp_sender_get_stats(const oh_rtp_sender *s, oh_rtp_sender_stats *stats) nogil

    ctypedef struct oh_rtp_source_config:
        int clock_rate
        int min_sequential
        int max_dropout
        int max_misorder

    ctypedef enum oh_rtp_seq_verdict:
        OH_RTP_SEQ_VALID
        OH_RTP_SEQ_PROBATION
        OH_RTP_SEQ_BAD
        OH_RTP_SEQ_RESYNC

    ctypedef struct oh_rtp_source_stats:
        uint32_t ssrc
        int valid
        uint64_t received
        uint64_t expected
        int64_t cumulative_lost
        uint32_t extended_max_seq
        uint32_t cycles
        double jitter
        double jitter_ms
        uint8_t last_fraction_lost
        uint64_t bad_seq
        uint64_t probation_drops
        uint64_t resyncs

    ctypedef struct oh_rtp_source:
        pass

    void oh_rtp_source_config_default(oh_rtp_source_config *cfg)
    oh_status oh_rtp_source_create(const oh_rtp_source_config *cfg, oh_rtp_source **out)
    void oh_rtp_source_destroy(oh_rtp_source *src)
    void oh_rtp_source_reset(oh_rtp_source *src) nogil
    int oh_rtp_source_update(oh_rtp_source *src, uint16_t seq, uint32_t ssrc, uint32_t timestamp,
                             double arrival_ms) nogil
    void oh_rtp_source_get_stats(const oh_rtp_source *src, oh_rtp_source_stats *stats) nogil
    void oh_rtp_source_on_sr(oh_rtp_source *src, uint32_t ntp_sec, uint32_t ntp_frac, double arrival_ms) nogil
