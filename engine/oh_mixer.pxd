from libc.stdint cimport int16_t, uint32_t

from oh_status cimport oh_status

cdef extern from "offhook/oh_mixer.h":
    int OH_MIXER_MAX_PARTICIPANTS
    double OH_MIXER_MAX_GAIN

    ctypedef struct oh_mixer_config:
        int sample_rate
        int frame_size
        int max_participants
        double limiter_threshold_dbfs

    ctypedef struct oh_mixer:
        pass

    void oh_mixer_config_default(oh_mixer_config *cfg)
    oh_status oh_mixer_create(const oh_mixer_config *cfg, oh_mixer **out)
    void oh_mixer_destroy(oh_mixer *m)
    void oh_mixer_reset(oh_mixer *m)
    oh_status oh_mixer_add(oh_mixer *m, uint32_t id, double gain)
    oh_status oh_mixer_remove(oh_mixer *m, uint32_t id)
    oh_status oh_mixer_set_gain(oh_mixer *m, uint32_t id, double gain)
    oh_status oh_mixer_set_mute(oh_mixer *m, uint32_t id, int muted)
    int oh_mixer_find(const oh_mixer *m, uint32_t id, double *gain, int *muted)
    int oh_mixer_count(const oh_mixer *m)
    int oh_mixer_ids(const oh_mixer *m, uint32_t *ids, size_t cap)
    oh_status oh_mixer_put(oh_mixer *m, uint32_t id, const int16_t *frame)
    oh_status oh_mixer_mix(oh_mixer *m) nogil
    const int16_t *oh_mixer_output(const oh_mixer *m, uint32_t id)
    oh_status oh_mixer_get(const oh_mixer *m, uint32_t id, int16_t *out)
    int oh_mixer_frame_size(const oh_mixer *m)
