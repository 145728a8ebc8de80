from libc.stdint cimport uint8_t, uint32_t, uint64_t

from oh_rtp cimport oh_pkt_defect
from oh_status cimport oh_status

cdef extern from "offhook/oh_srtp.h":
    ctypedef enum oh_srtp_suite:
        OH_SRTP_AES_CM_128_HMAC_SHA1_80
        OH_SRTP_AES_CM_128_HMAC_SHA1_32
        OH_SRTP_AEAD_AES_128_GCM

    enum:
        OH_SRTP_SUITE_COUNT
        OH_SRTP_MAX_KEY
        OH_SRTP_MAX_OVERHEAD
        OH_SRTP_MAX_INLINE

    const char *oh_srtp_suite_name(int suite) nogil
    int oh_srtp_suite_from_name(const char *name, size_t len) nogil
    int oh_srtp_key_len(int suite) nogil
    int oh_srtp_tag_len(int suite) nogil

    ctypedef struct oh_srtp_config:
        oh_srtp_suite suite
        uint8_t local_key[30]
        uint8_t remote_key[30]
        unsigned replay_window

    ctypedef struct oh_srtp:
        pass

    void oh_srtp_config_default(oh_srtp_config *cfg)
    oh_status oh_srtp_create(const oh_srtp_config *cfg, oh_srtp **out)
    void oh_srtp_destroy(oh_srtp *s)
    int oh_srtp_protect(oh_srtp *s, const uint8_t *inp, size_t len, uint8_t *out, size_t cap,
                        oh_pkt_defect *defect) nogil
    int oh_srtp_unprotect(oh_srtp *s, uint8_t *pkt, size_t len, oh_pkt_defect *defect) nogil
    int oh_srtp_protect_rtcp(oh_srtp *s, const uint8_t *inp, size_t len, uint8_t *out, size_t cap,
                             oh_pkt_defect *defect) nogil
    int oh_srtp_unprotect_rtcp(oh_srtp *s, uint8_t *pkt, size_t len, oh_pkt_defect *defect) nogil

    ctypedef struct oh_srtp_sdes:
        int tag
        oh_srtp_suite suite
        uint8_t key[30]
        uint64_t lifetime
        uint32_t mki
        int mki_len

    oh_status oh_srtp_sdes_parse(const char *text, size_t len, oh_srtp_sdes *out) nogil
    int oh_srtp_sdes_format(const oh_srtp_sdes *sdes, char *out, size_t cap) nogil
    oh_status oh_srtp_random_key(uint8_t *key, size_t len) nogil
