from libc.stdint cimport int16_t

from oh_status cimport oh_status

cdef extern from "offhook/oh_resampler.h":
    enum:
        OH_RESAMPLER_MIN_RATE
        OH_RESAMPLER_MAX_RATE
        OH_RESAMPLER_MAX_CHANNELS
        OH_RESAMPLER_MAX_PHASES

    ctypedef struct oh_resampler_config:
        int in_rate
        int out_rate
        int channels

    ctypedef struct oh_resampler:
        pass

    void oh_resampler_config_default(oh_resampler_config *cfg)
    oh_status oh_resampler_create(const oh_resampler_config *cfg, oh_resampler **out)
    void oh_resampler_destroy(oh_resampler *rs)
    void oh_resampler_reset(oh_resampler *rs) nogil
    int oh_resampler_latency(const oh_resampler *rs) nogil
    size_t oh_resampler_max_output(const oh_resampler *rs, size_t frames) nogil
    int oh_resampler_process(oh_resampler *rs, const int16_t *inp, size_t frames,
                             int16_t *out, size_t out_frames) nogil
    int oh_resampler_flush(oh_resampler *rs, int16_t *out, size_t out_frames) nogil
    int oh_resampler_up(const oh_resampler *rs) nogil
    int oh_resampler_down(const oh_resampler *rs) nogil
