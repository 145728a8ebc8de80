from libc.stdint cimport int16_t, int32_t, int64_t, uint8_t, uint32_t, uint64_t

from oh_aec cimport oh_aec_stats
from oh_codec cimport oh_codec_config
from oh_devport cimport oh_devport
from oh_jitter cimport oh_jitter_stats
from oh_rtp cimport oh_rtp_source_stats
from oh_srtp cimport oh_srtp_config
from oh_status cimport oh_status
from oh_wav cimport oh_wav_error

cdef extern from "offhook/oh_engine.h":
    enum:
        OH_ENGINE_MAX_STREAMS
        OH_ENGINE_ADDR_LEN
        OH_ENGINE_CNAME_LEN
        OH_ENGINE_DTMF_QUEUE
        OH_ENGINE_EVENT_QUEUE
        OH_ENGINE_RELATCH_PACKETS
        OH_ENGINE_MAX_ROOM
        OH_ENGINE_TAP_MAX_MS
        OH_ENGINE_MAX_SEND_PTIME_MS
        OH_ENGINE_MIN_SEND_PTIME_MS

    ctypedef struct oh_engine_config:
        int sample_rate
        int ptime_ms
        int max_streams
        int max_room_members

    ctypedef enum oh_engine_direction:
        OH_ENGINE_SENDRECV
        OH_ENGINE_SENDONLY
        OH_ENGINE_RECVONLY
        OH_ENGINE_INACTIVE

    ctypedef struct oh_engine_stream_config:
        char local_addr[64]
        int local_port
        char remote_addr[64]
        int remote_port
        int rtcp_mux
        char remote_rtcp_addr[64]
        int remote_rtcp_port
        oh_codec_config codec
        int payload_type
        oh_engine_direction direction
        uint32_t ssrc
        int dtmf_payload_type
        int rtcp_interval_ms
        char cname[64]
        int srtp
        oh_srtp_config srtp_keys
        int rtp_timeout_ms
        int inband_dtmf
        int cn_payload_type
        int vad
        int send_ptime_ms

    ctypedef enum oh_engine_record_mode:
        OH_ENGINE_REC_RECEIVED
        OH_ENGINE_REC_MIX
        OH_ENGINE_REC_STEREO

    ctypedef struct oh_engine_audio_config:
        int aec
        int aec_tail_ms
        int aec_suppression
        int max_queue_ms

    ctypedef enum oh_engine_event_type:
        OH_ENGINE_EV_DTMF
        OH_ENGINE_EV_BYE
        OH_ENGINE_EV_SSRC_CHANGE
        OH_ENGINE_EV_RTP_TIMEOUT
        OH_ENGINE_EV_RTP_RESUMED

    ctypedef struct oh_engine_event:
        int type
        int stream_id
        char digit
        uint8_t event
        int duration_ms
        uint32_t ssrc
        uint32_t old_ssrc
        int silent_ms
        char reason[256]
        int inband

    ctypedef struct oh_engine_dtmf_event:
        char digit
        uint8_t event
        int duration_ms
        int inband

    ctypedef struct oh_engine_rtcp_stats:
        uint64_t sent
        uint64_t received
        uint64_t invalid
        uint64_t sr_received
        uint64_t peer_reports
        double peer_fraction_lost
        int64_t peer_cumulative_lost
        double peer_jitter_ms
        uint32_t peer_extended_max_seq
        double rtt_ms
        uint64_t rtt_samples
        int bye
        char bye_reason[256]
        char peer_cname[256]

    ctypedef struct oh_engine_stream_stats:
        uint64_t packets_sent
        uint64_t bytes_sent
        uint64_t send_errors
        uint64_t packets_received
        uint64_t bytes_received
        uint64_t dropped_invalid
        uint64_t dropped_payload_type
        uint64_t dropped_stray
        uint64_t dropped_inactive
        uint64_t rtcp_received
        uint64_t ticks
        uint64_t recorded_frames
        int latched
        char latched_addr[64]
        int latched_port
        uint32_t remote_ssrc
        uint32_t local_ssrc
        int source_done
        oh_rtp_source_stats source
        oh_jitter_stats playout
        uint64_t dtmf_sent
        uint64_t dtmf_received
        uint64_t dtmf_dropped
        int dtmf_pending
        oh_engine_rtcp_stats rtcp
        int srtp
        uint64_t srtp_auth_failed
        uint64_t srtp_replayed
        uint64_t srtp_failed
        uint64_t ssrc_changes
        int rtcp_mux
        int local_rtcp_port
        int rtp_timed_out
        int inband_dtmf
        uint64_t dtmf_inband
        int local
        int conference_room
        int tap
        uint64_t tap_samples
        uint64_t tap_overruns
        uint64_t tap_dropped
        uint64_t cn_received
        uint64_t cn_sent
        uint64_t frames_suppressed

    ctypedef struct oh_engine_local_stats:
        int attached
        int muted
        int32_t playback_gain_q14
        int32_t capture_gain_q14
        uint64_t frames
        uint64_t capture_underruns
        uint64_t capture_missing
        uint64_t capture_shed
        uint64_t playback_overruns
        int aec
        int aec_latency
        oh_aec_stats aec_stats
        double capture_to_send_ms_mean
        double capture_to_send_ms_max
        uint64_t capture_to_send_samples

    ctypedef struct oh_engine_stats:
        uint64_t ticks
        uint64_t late_ticks
        uint64_t clock_resyncs
        uint64_t events_dropped
        double send_lag_ms_mean
        double send_lag_ms_max
        uint64_t send_lag_samples
        int streams
        oh_engine_local_stats local

    ctypedef struct oh_engine:
        pass

    void oh_engine_config_default(oh_engine_config *cfg)
    oh_status oh_engine_create(const oh_engine_config *cfg, oh_engine **out) nogil
    void oh_engine_destroy(oh_engine *eng) nogil
    void oh_engine_get_stats(oh_engine *eng, oh_engine_stats *stats) nogil
    void oh_engine_stream_config_default(oh_engine_stream_config *cfg)
    oh_status oh_engine_stream_add(oh_engine *eng, const oh_engine_stream_config *cfg, int *id,
                                   int *sys_errno) nogil
    oh_status oh_engine_stream_remove(oh_engine *eng, int id) nogil
    oh_status oh_engine_stream_local_port(oh_engine *eng, int id, int *port) nogil
    oh_status oh_engine_stream_set_remote(oh_engine *eng, int id, const char *addr, int port) nogil
    oh_status oh_engine_stream_set_remote_rtcp(oh_engine *eng, int id, const char *addr, int port, int rtcp_mux,
                                               const char *rtcp_addr, int rtcp_port, int *sys_errno) nogil
    oh_status oh_engine_stream_set_direction(oh_engine *eng, int id, oh_engine_direction dir) nogil
    oh_status oh_engine_stream_set_codec(oh_engine *eng, int id, const oh_codec_config *codec,
                                         int payload_type) nogil
    oh_status oh_engine_stream_play_wav(oh_engine *eng, int id, const char *path, oh_wav_error *err) nogil
    oh_status oh_engine_stream_play_tone(oh_engine *eng, int id, int freq_hz, double level_dbm0) nogil
    oh_status oh_engine_stream_play_silence(oh_engine *eng, int id) nogil
    oh_status oh_engine_stream_play_echo(oh_engine *eng, int id) nogil
    oh_status oh_engine_stream_conference(oh_engine *eng, int id, int join) nogil
    oh_status oh_engine_stream_conference_room(oh_engine *eng, int id, int room) nogil
    oh_status oh_engine_stream_record_wav(oh_engine *eng, int id, const char *path, oh_wav_error *err) nogil
    oh_status oh_engine_stream_record_wav_mode(oh_engine *eng, int id, const char *path, int mode,
                                               oh_wav_error *err) nogil
    void oh_engine_audio_config_default(oh_engine_audio_config *cfg)
    oh_status oh_engine_attach_audio(oh_engine *eng, oh_devport *port, const oh_engine_audio_config *cfg) nogil
    oh_status oh_engine_detach_audio(oh_engine *eng) nogil
    oh_status oh_engine_mute_local(oh_engine *eng, int mute) nogil
    oh_status oh_engine_set_local_gain(oh_engine *eng, double playback_db, double capture_db) nogil
    oh_status oh_engine_stream_connect_local(oh_engine *eng, int id) nogil
    oh_status oh_engine_stream_stop_recording(oh_engine *eng, int id, oh_wav_error *err) nogil
    oh_status oh_engine_stream_get_stats(oh_engine *eng, int id, oh_engine_stream_stats *stats) nogil
    oh_status oh_engine_stream_tap(oh_engine *eng, int id, int ms) nogil
    oh_status oh_engine_stream_read_tap(oh_engine *eng, int id, int16_t *out, size_t cap, size_t *n) nogil
    oh_status oh_engine_stream_send_dtmf(oh_engine *eng, int id, const char *digits, int duration_ms) nogil
    oh_status oh_engine_stream_dtmf_events(oh_engine *eng, int id, oh_engine_dtmf_event *out, int cap,
                                           int *n) nogil
    int oh_engine_event_fd(oh_engine *eng) nogil
    oh_status oh_engine_poll_events(oh_engine *eng, oh_engine_event *out, int cap, int *n) nogil
