from libc.stdint cimport int16_t, uint32_t, uint64_t

from oh_status cimport oh_status

cdef extern from "offhook/oh_aec.h":
    ctypedef struct oh_aec_config:
        int sample_rate
        int frame_size
        int tail_ms
        int max_delay_ms
        int suppression
        int comfort_noise

    ctypedef struct oh_aec_stats:
        float erle_db
        float linear_erle_db
        int delay_ms
        int bulk_delay_ms
        int double_talk
        int far_active
        int converged
        float drift_ppm
        uint32_t divergence_resets
        uint32_t delay_changes
        uint32_t slips
        uint64_t frames

    ctypedef struct oh_aec:
        pass

    void oh_aec_config_default(oh_aec_config *cfg)
    oh_status oh_aec_create(const oh_aec_config *cfg, oh_aec **out)
    void oh_aec_destroy(oh_aec *aec)
    void oh_aec_reset(oh_aec *aec) nogil
    oh_status oh_aec_process(oh_aec *aec, const int16_t *near, const int16_t *far, int16_t *out) nogil
    oh_status oh_aec_process_partial(oh_aec *aec, const int16_t *near, int near_valid, const int16_t *far,
                                     int16_t *out) nogil
    oh_status oh_aec_slip(oh_aec *aec, int capture, int playback)
    void oh_aec_get_stats(const oh_aec *aec, oh_aec_stats *stats)
    int oh_aec_latency(const oh_aec *aec)


cdef inline dict aec_stats_dict(const oh_aec_stats *s):
    """The canceller's statistics as EchoCanceller.stats() and the engine's local stats give them."""
    return {"erle_db": s.erle_db, "linear_erle_db": s.linear_erle_db,
            "delay_ms": s.delay_ms, "bulk_delay_ms": s.bulk_delay_ms,
            "double_talk": bool(s.double_talk), "far_active": bool(s.far_active),
            "converged": bool(s.converged), "drift_ppm": s.drift_ppm,
            "divergence_resets": s.divergence_resets, "delay_changes": s.delay_changes,
            "slips": s.slips, "frames": s.frames}
