from libc.stdint cimport int16_t

from oh_status cimport oh_status

cdef extern from "offhook/oh_tone.h":
    double OH_DBM0_FULL_SCALE

    ctypedef enum oh_tone_id:
        OH_TONE_DIAL
        OH_TONE_RINGBACK
        OH_TONE_BUSY
        OH_TONE_CONGESTION
        OH_TONE_CALL_WAITING

    ctypedef enum oh_tone_profile:
        OH_TONE_PROFILE_US
        OH_TONE_PROFILE_ETSI
        OH_TONE_PROFILE_UK

    int OH_TONE_COUNT
    int OH_TONE_PROFILE_COUNT
    int OH_TONE_MAX_FREQS
    int OH_TONE_MAX_SEGMENTS

    ctypedef struct oh_tone_segment:
        int freq_hz[2]
        int duration_ms

    ctypedef struct oh_tone_config:
        int sample_rate
        oh_tone_profile profile
        oh_tone_id tone
        double level_dbm0
        const oh_tone_segment *segments
        size_t n_segments

    ctypedef struct oh_tone:
        pass

    void oh_tone_config_default(oh_tone_config *cfg)
    oh_status oh_tone_create(const oh_tone_config *cfg, oh_tone **out)
    void oh_tone_destroy(oh_tone *tone)
    void oh_tone_reset(oh_tone *tone) nogil
    int oh_tone_generate(oh_tone *tone, int16_t *out, size_t n) nogil
    oh_status oh_tone_cadence(oh_tone_profile profile, oh_tone_id tone,
                              const oh_tone_segment **segments, size_t *n_segments)
