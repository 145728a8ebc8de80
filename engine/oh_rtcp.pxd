from libc.stdint cimport int32_t, uint8_t, uint32_t

from oh_rtp cimport oh_pkt_defect, oh_rtp_source
from oh_status cimport oh_status

cdef extern from "offhook/oh_rtcp.h":
    enum:
        OH_RTCP_SR
        OH_RTCP_RR
        OH_RTCP_SDES
        OH_RTCP_BYE
        OH_RTCP_APP
        OH_RTCP_MAX_BLOCKS
        OH_RTCP_MAX_TEXT
        OH_NTP_UNIX_OFFSET

    ctypedef struct oh_rtcp_report_block:
        uint32_t ssrc
        uint8_t fraction_lost
        int32_t cumulative_lost
        uint32_t extended_max_seq
        uint32_t jitter
        uint32_t lsr
        uint32_t dlsr

    ctypedef struct oh_rtcp_sender_info:
        uint32_t ssrc
        uint32_t ntp_sec
        uint32_t ntp_frac
        uint32_t rtp_timestamp
        uint32_t packet_count
        uint32_t octet_count

    ctypedef struct oh_rtcp_info:
        int has_sr
        oh_rtcp_sender_info sr
        int has_rr
        uint32_t rr_ssrc
        int block_count
        oh_rtcp_report_block blocks[31]
        int blocks_dropped
        int has_cname
        uint32_t cname_ssrc
        uint8_t cname_len
        char cname[256]
        int has_bye
        int bye_count
        uint32_t bye_ssrcs[31]
        uint8_t reason_len
        char reason[256]
        int packets
        int unknown_packets

    int oh_rtcp_write_sr(const oh_rtcp_sender_info *si, const oh_rtcp_report_block *blocks, int n,
                         uint8_t *out, size_t cap) nogil
    int oh_rtcp_write_rr(uint32_t ssrc, const oh_rtcp_report_block *blocks, int n, uint8_t *out,
                         size_t cap) nogil
    int oh_rtcp_write_sdes_cname(uint32_t ssrc, const char *cname, size_t cname_len, uint8_t *out,
                                 size_t cap) nogil
    int oh_rtcp_write_bye(const uint32_t *ssrcs, int n, const char *reason, size_t reason_len,
                          uint8_t *out, size_t cap) nogil
    oh_status oh_rtcp_parse(const uint8_t *pkt, size_t len, oh_rtcp_info *info, oh_pkt_defect *defect) nogil
    void oh_ntp_from_unix_ms(double unix_ms, uint32_t *sec, uint32_t *frac) nogil
    uint32_t oh_ntp_middle(uint32_t sec, uint32_t frac) nogil
    uint32_t oh_ntp_dlsr_from_ms(double ms) nogil
    oh_status oh_rtcp_rtt(uint32_t arrival_middle, uint32_t lsr, uint32_t dlsr, double *rtt_ms) nogil

cdef extern from "offhook/oh_rtp.h":
    # declared in oh_rtp.h, takes the report block type of oh_rtcp.h
    oh_status oh_rtp_source_report(oh_rtp_source *src, double now_ms, oh_rtcp_report_block *rb) nogil
