from libc.stdint cimport uint8_t, uint16_t, uint32_t

from oh_rtp cimport oh_pkt_defect
from oh_status cimport oh_status

cdef extern from "offhook/oh_dtmf_rtp.h":
    enum:
        OH_DTMF_RTP_PAYLOAD
        OH_DTMF_RTP_NONE
        OH_DTMF_RTP_BEGIN
        OH_DTMF_RTP_END

    ctypedef struct oh_dtmf_rtp_event:
        uint8_t event
        uint8_t end
        uint8_t volume
        uint16_t duration

    oh_status oh_dtmf_rtp_encode(const oh_dtmf_rtp_event *ev, uint8_t *out) nogil
    oh_status oh_dtmf_rtp_decode(const uint8_t *payload, size_t len, oh_dtmf_rtp_event *ev,
                                 oh_pkt_defect *defect) nogil
    char oh_dtmf_rtp_digit(int event) nogil
    int oh_dtmf_rtp_event_code(char digit) nogil

    ctypedef struct oh_dtmf_rtp_sender_config:
        int clock_rate
        int ptime_ms
        int volume
        int end_repeats

    ctypedef struct oh_dtmf_rtp_packet:
        uint8_t payload[4]
        int marker
        uint32_t timestamp
        int last

    ctypedef struct oh_dtmf_rtp_sender:
        pass

    void oh_dtmf_rtp_sender_config_default(oh_dtmf_rtp_sender_config *cfg)
    oh_status oh_dtmf_rtp_sender_create(const oh_dtmf_rtp_sender_config *cfg, oh_dtmf_rtp_sender **out)
    void oh_dtmf_rtp_sender_destroy(oh_dtmf_rtp_sender *tx)
    void oh_dtmf_rtp_sender_reset(oh_dtmf_rtp_sender *tx) nogil
    oh_status oh_dtmf_rtp_sender_start(oh_dtmf_rtp_sender *tx, int event, int duration_ms,
                                       uint32_t timestamp) nogil
    int oh_dtmf_rtp_sender_poll(oh_dtmf_rtp_sender *tx, oh_dtmf_rtp_packet *pkt) nogil
    int oh_dtmf_rtp_sender_busy(const oh_dtmf_rtp_sender *tx) nogil

    ctypedef struct oh_dtmf_rtp_report:
        uint8_t event
        uint8_t volume
        uint32_t timestamp
        uint32_t duration

    ctypedef struct oh_dtmf_rtp_receiver:
        pass

    oh_status oh_dtmf_rtp_receiver_create(oh_dtmf_rtp_receiver **out)
    void oh_dtmf_rtp_receiver_destroy(oh_dtmf_rtp_receiver *rx)
    void oh_dtmf_rtp_receiver_reset(oh_dtmf_rtp_receiver *rx) nogil
    int oh_dtmf_rtp_receiver_put(oh_dtmf_rtp_receiver *rx, uint32_t timestamp, const uint8_t *payload,
                                 size_t len, oh_dtmf_rtp_report *report, oh_pkt_defect *defect) nogil
