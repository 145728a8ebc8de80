from libc.stdint cimport int16_t, uint32_t, uint64_t

from oh_status cimport oh_status

cdef extern from "offhook/oh_dtmf.h":
    int oh_dtmf_is_digit(char c)

    ctypedef struct oh_dtmf_gen_config:
        int sample_rate
        double level_dbm0
        double twist_db
        int on_ms
        int off_ms
        size_t max_queued

    ctypedef struct oh_dtmf_gen:
        pass

    void oh_dtmf_gen_config_default(oh_dtmf_gen_config *cfg)
    oh_status oh_dtmf_gen_create(const oh_dtmf_gen_config *cfg, oh_dtmf_gen **out)
    void oh_dtmf_gen_destroy(oh_dtmf_gen *gen)
    void oh_dtmf_gen_reset(oh_dtmf_gen *gen) nogil
    oh_status oh_dtmf_gen_send(oh_dtmf_gen *gen, const char *digits)
    size_t oh_dtmf_gen_pending(const oh_dtmf_gen *gen) nogil
    int oh_dtmf_gen_generate(oh_dtmf_gen *gen, int16_t *out, size_t n) nogil

    ctypedef struct oh_dtmf_det_config:
        int sample_rate
        double min_level_dbm0
        double normal_twist_db
        double reverse_twist_db
        size_t max_events

    ctypedef struct oh_dtmf_event:
        char digit
        uint64_t start
        uint32_t duration

    ctypedef struct oh_dtmf_det:
        pass

    void oh_dtmf_det_config_default(oh_dtmf_det_config *cfg)
    oh_status oh_dtmf_det_create(const oh_dtmf_det_config *cfg, oh_dtmf_det **out)
    void oh_dtmf_det_destroy(oh_dtmf_det *det)
    void oh_dtmf_det_reset(oh_dtmf_det *det) nogil
    int oh_dtmf_det_process(oh_dtmf_det *det, const int16_t *pcm, size_t n) nogil
    oh_status oh_dtmf_det_flush(oh_dtmf_det *det) nogil
    int oh_dtmf_det_get_event(oh_dtmf_det *det, oh_dtmf_event *ev) nogil
