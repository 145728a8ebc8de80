from libc.stdint cimport int16_t

from oh_status cimport oh_status

cdef extern from "offhook/oh_tsm.h":
    ctypedef struct oh_tsm_config:
        int sample_rate
        int frame_samples

    ctypedef struct oh_tsm:
        pass

    void oh_tsm_config_default(oh_tsm_config *cfg)
    oh_status oh_tsm_create(const oh_tsm_config *cfg, oh_tsm **out)
    void oh_tsm_destroy(oh_tsm *tsm)
    void oh_tsm_reset(oh_tsm *tsm) nogil
    void oh_tsm_pass(oh_tsm *tsm, int16_t *frame) nogil
    void oh_tsm_accelerate(oh_tsm *tsm, const int16_t *inp, int16_t *out) nogil
    void oh_tsm_expand(oh_tsm *tsm, int16_t *out) nogil
