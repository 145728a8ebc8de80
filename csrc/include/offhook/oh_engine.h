/* The media engine: one C thread that owns the UDP sockets of every RTP
 * stream and the audio clock, and carries each stream's audio without any
 * help from the caller.
 *
 * Per stream, every tick (ptime_ms, 10 or 20 ms, on CLOCK_MONOTONIC):
 *   send:    source (WAV file, tone or silence, at the engine rate)
 *            -> resample to the codec rate -> encode -> RTP -> sendto(remote)
 *            (with send_ptime_ms a multiple of the tick, the ticks of a packet
 *            are gathered and it is encoded and sent once it is complete;
 *            with 10 ms on 20 ms ticks, each tick is sent as two packets)
 *   receive: recvfrom (as packets arrive) -> RTP validation -> latch on the
 *            first valid source -> jitter buffer + decode + concealment
 *            (oh_playout), one tick of PCM -> resample to the engine rate
 *            -> sink (a WAV recording, or nothing)
 *
 * Source validation: a datagram that is not a well-formed RTP packet
 * (oh_rtp_parse) is dropped and counted (dropped_invalid); one with another
 * payload type than the codec's, the telephone-event's and the comfort
 * noise's (RFC 3389, static 13 by default: the pause it starts is played
 * with its noise) is dropped (dropped_payload_type). The first valid packet
 * latches the stream on its source address and SSRC; later packets from
 * another address or SSRC are dropped and counted (dropped_stray), which is
 * what stops RTP injection and "RTP bleed". A new SSRC from the latched
 * address re-latches (below); set_remote clears the latch.
 *
 * Threads: oh_engine_create starts the media thread; it is the only thread
 * the core starts. Every other function may be called from any thread but
 * the media thread (calls are serialised by the engine's mutex). They talk
 * to the media thread through a command slot under that mutex: the caller
 * posts a command, wakes the media thread through an eventfd and waits on a
 * condition variable until the media thread has applied it between two
 * ticks. So a call returns once its effect is in place, and the per-tick
 * audio path itself takes no lock and allocates nothing: only the step that
 * takes a pending command locks. Objects a stream needs (codec, playout,
 * socket, WAV reader or writer, resamplers) are made and freed by the
 * calling thread, outside the media thread; the command only swaps pointers.
 * File I/O of WAV sources and recordings does happen on the media thread
 * (buffered reads/writes of one tick).
 *
 * Units: rates in Hz, times in ms, ports as host integers. Addresses are
 * numeric IPv4 or IPv6 strings (no name resolution).
 *
 * DTMF (RFC 4733): send_dtmf queues digits in the stream (through the
 * command mailbox); the media thread sends them as telephone-events that
 * replace the audio while they play. Received events go into a bounded
 * per-stream queue that only the media thread writes; callers drain it with
 * oh_engine_stream_dtmf_events, a command like any other, so the queue needs
 * no lock of its own and the media thread never waits on a reader.
 *
 * RTCP (RFC 3550, rtcp-mux RFC 5761): each stream sends SR (when it sent
 * RTP since its last report) or RR, with an SDES CNAME, on its RTP socket
 * to the remote (rtcp_mux, the default) or on a second socket bound to the
 * local RTP port + 1 to the remote RTCP address (rtcp_mux 0; port 0 then
 * picks an even RTP port whose + 1 is free), every rtcp_interval_ms randomised; removing a stream sends
 * a BYE. Incoming SR/RR/SDES/BYE from the latched source (or any source
 * before a latch) fill oh_engine_rtcp_stats.
 *
 * SRTP (RFC 3711, keys from SDES RFC 4568): with srtp = 1 every RTP and
 * RTCP packet is protected on send and unprotected on receive with
 * oh_srtp (replay protection on). Unprotect comes first, so only
 * authenticated packets can latch the stream or reach the jitter buffer;
 * refusals are counted (srtp_auth_failed, srtp_replayed, srtp_failed).
 *
 * Re-latching: a stream latched on an address follows a new SSRC from that
 * same address after OH_ENGINE_RELATCH_PACKETS consecutive in-sequence
 * packets of it with none of the old SSRC in between (the peer restarted
 * its stream); another address never moves the latch.
 *
 * Events: DTMF received, RTCP BYE, SSRC change, RTP timeout and its end go
 * into one per-engine lock-free queue the media thread writes without ever
 * waiting; oh_engine_event_fd polls readable while it holds events and
 * oh_engine_poll_events drains it.
 *
 * Local audio: one device port (oh_devport) may be attached; see
 * oh_engine_attach_audio. Inband DTMF: a stream may run a Goertzel detector
 * (oh_dtmf) on its decoded audio, reported like RFC 4733 events with
 * inband = 1 (the fallback when no telephone-event was negotiated).
 *
 * Lifecycle: oh_engine_config_default, oh_engine_create, oh_engine_stream_add
 * (the stream's create: the only place a stream allocates), ...,
 * oh_engine_stream_remove, oh_engine_destroy (stops the thread, closes every
 * stream left, finalises recordings). */
#ifndef OFFHOOK_OH_ENGINE_H
#define OFFHOOK_OH_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "offhook/oh_aec.h"
#include "offhook/oh_codec.h"
#include "offhook/oh_devport.h"
#include "offhook/oh_jitter.h"
#include "offhook/oh_rtcp.h"
#include "offhook/oh_rtp.h"
#include "offhook/oh_srtp.h"
#include "offhook/oh_status.h"
#include "offhook/oh_wav.h"

#ifdef __cplusplus
extern "C" {
#endif

#define OH_ENGINE_MAX_STREAMS 4096
#define OH_ENGINE_ADDR_LEN 64 /* a numeric IPv6 address with scope fits */
#define OH_ENGINE_CNAME_LEN 64
#define OH_ENGINE_DTMF_QUEUE 64 /* digits waiting to be sent, and events waiting to be drained */
#define OH_ENGINE_EVENT_QUEUE 256 /* engine events waiting for oh_engine_poll_events */
#define OH_ENGINE_RELATCH_PACKETS 5 /* consecutive packets of a new SSRC from the latched address that re-latch */
#define OH_ENGINE_MAX_ROOM 0x3FFFFFFF /* conference room ids are 0..this */
#define OH_ENGINE_TAP_MAX_MS 60000 /* a received-audio tap holds at most this much audio */
#define OH_ENGINE_MAX_SEND_PTIME_MS 60 /* the longest packet a stream sends */
#define OH_ENGINE_MIN_SEND_PTIME_MS 10 /* the shortest (on 20 ms ticks: two packets per tick) */

typedef struct oh_engine_config {
    int sample_rate; /* the engine's PCM rate: 8000, 16000, 32000 or 48000 Hz */
    int ptime_ms;    /* the tick and the packet duration: 10 or 20 ms */
    int max_streams; /* streams at most, 1..OH_ENGINE_MAX_STREAMS */
    int max_room_members; /* members of each conference room other than room 0,
                             1..OH_ENGINE_MAX_STREAMS, default 16 (max_streams when fewer;
                             room 0 takes every stream and the local audio). A room's
                             mixer holds 2 frames of PCM per possible member */
} oh_engine_config;

typedef enum oh_engine_direction {
    OH_ENGINE_SENDRECV = 0,
    OH_ENGINE_SENDONLY = 1,
    OH_ENGINE_RECVONLY = 2,
    OH_ENGINE_INACTIVE = 3
} oh_engine_direction;

typedef struct oh_engine_stream_config {
    char local_addr[OH_ENGINE_ADDR_LEN];  /* numeric address to bind, e.g. "127.0.0.1" */
    int local_port;                       /* 0 = chosen by the OS (see oh_engine_stream_local_port) */
    char remote_addr[OH_ENGINE_ADDR_LEN]; /* "" = no remote yet: nothing is sent */
    int remote_port;
    int rtcp_mux;                         /* 1 (default): RTCP on the RTP socket (RFC 5761);
                                             0: on a second socket bound to local port + 1
                                             (RFC 3550 6.1), sent to the remote RTCP address */
    char remote_rtcp_addr[OH_ENGINE_ADDR_LEN]; /* rtcp_mux 0: "" = remote_addr (RFC 3605 a=rtcp) */
    int remote_rtcp_port;                 /* rtcp_mux 0: 0 = remote_port + 1 */
    oh_codec_config codec;                /* codec.sample_rate 0 = chosen by the engine */
    int payload_type;                     /* 0..127 */
    oh_engine_direction direction;
    uint32_t ssrc;                        /* 0 = random */
    int dtmf_payload_type;                /* RFC 4733 telephone-event PT 0..127 (not payload_type),
                                             -1 = no DTMF; default 101 */
    int rtcp_interval_ms;                 /* mean RTCP report interval, 100..60000 ms (default
                                             5000); each interval is randomised to 0.5..1.5 x */
    char cname[OH_ENGINE_CNAME_LEN];      /* SDES CNAME; "" = "offhook-<ssrc hex>" */
    int srtp;                             /* 1: SRTP and SRTCP (RFC 3711) keyed by srtp_keys; 0: plain */
    oh_srtp_config srtp_keys;             /* suite, local (send) and remote (receive) key||salt */
    int rtp_timeout_ms;                   /* 0 = off; else OH_ENGINE_EV_RTP_TIMEOUT after this long
                                             (100..3600000 ms) without RTP while the stream receives */
    int inband_dtmf;                      /* Goertzel DTMF detection on the decoded received audio:
                                             1 on, 0 off, -1 (default) on exactly when
                                             dtmf_payload_type is -1 (no telephone-event) */
    int cn_payload_type;                  /* RFC 3389 comfort noise PT 0..127 (neither payload_type
                                             nor dtmf_payload_type), -1 = none; default 13 (static
                                             CN): its pauses play the noise it describes (oh_cng) */
    int vad;                              /* 1: silence suppression on what the stream sends: frames
                                             oh_vad finds to be background are not sent; a CN packet
                                             (cn_payload_type, which must be set) describes the pause
                                             when it starts and when its level moves by 3 dB, at least
                                             every 5 s. 0 (default): every frame is sent */
    int send_ptime_ms;                    /* audio per packet sent (what the peer's a=ptime asks
                                             for), MIN..MAX_SEND_PTIME_MS: a multiple of the
                                             engine's ptime, or 10 on 20 ms ticks (two packets a
                                             tick); 0 (default): the ptime. Silence suppression
                                             starts at a packet's start; DTMF events interrupt a
                                             packet being filled */
} oh_engine_stream_config;

/* What a stream's recording holds (oh_engine_stream_record_wav_mode). */
typedef enum oh_engine_record_mode {
    OH_ENGINE_REC_RECEIVED = 0, /* mono: what the stream receives (decoded) */
    OH_ENGINE_REC_MIX = 1,      /* mono: received + sent, summed with saturation */
    OH_ENGINE_REC_STEREO = 2    /* stereo: left = sent, right = received */
} oh_engine_record_mode;

/* The local audio endpoint (oh_engine_attach_audio). */
typedef struct oh_engine_audio_config {
    int aec;             /* 1 (default): echo canceller on the capture, reference = playback */
    int aec_tail_ms;     /* its filter length, 64..500 ms (default 128) */
    int aec_suppression; /* 1 (default): residual echo suppression (adds oh_aec_latency) */
    int max_queue_ms;    /* latency bound of the rings, 10..1000 ms (default 60): captured
                            audio waiting beyond one frame + this is shed, and a playback
                            frame is dropped rather than queued behind more than this */
} oh_engine_audio_config;

/* What oh_engine_poll_events reports. */
typedef enum oh_engine_event_type {
    OH_ENGINE_EV_DTMF = 1,         /* a telephone-event ended: digit, event, duration_ms */
    OH_ENGINE_EV_BYE = 2,          /* the peer sent an RTCP BYE: ssrc, reason */
    OH_ENGINE_EV_SSRC_CHANGE = 3,  /* the latched address changed SSRC (re-latched): old_ssrc, ssrc */
    OH_ENGINE_EV_RTP_TIMEOUT = 4,  /* no RTP for rtp_timeout_ms while receiving: silent_ms */
    OH_ENGINE_EV_RTP_RESUMED = 5   /* RTP arrived again after a timeout: silent_ms, ssrc */
} oh_engine_event_type;

typedef struct oh_engine_event {
    int type;                     /* oh_engine_event_type */
    int stream_id;
    char digit;                   /* DTMF: '0'-'9', '*', '#', 'A'-'D', '?' */
    uint8_t event;                /* DTMF: the RFC 4733 event code */
    int duration_ms;              /* DTMF */
    uint32_t ssrc;                /* BYE, SSRC_CHANGE (the new one), RTP_RESUMED */
    uint32_t old_ssrc;            /* SSRC_CHANGE */
    int silent_ms;                /* RTP_TIMEOUT, RTP_RESUMED: time since the last RTP packet */
    char reason[OH_RTCP_MAX_TEXT + 1]; /* BYE: the reason text, NUL-terminated ("" when none) */
    int inband;                   /* DTMF: 1 when detected in the audio, 0 for RFC 4733 */
} oh_engine_event;

/* A telephone-event the stream received (RFC 4733), reported once at its end. */
typedef struct oh_engine_dtmf_event {
    char digit;        /* '0'-'9', '*', '#', 'A'-'D'; '?' for other event codes */
    uint8_t event;     /* the RFC 4733 event code */
    int duration_ms;   /* the event's final duration */
    int inband;        /* 1: detected in the audio (Goertzel), 0: an RFC 4733 telephone-event */
} oh_engine_dtmf_event;

/* What the peer's RTCP said about us and about itself (RFC 3550 6.4). */
typedef struct oh_engine_rtcp_stats {
    uint64_t sent;             /* compound RTCP packets we sent */
    uint64_t received;         /* valid compound packets accepted from the peer */
    uint64_t invalid;          /* RTCP datagrams refused by oh_rtcp_parse (also in rtcp_received) */
    uint64_t sr_received;      /* SRs from the peer */
    uint64_t peer_reports;     /* report blocks from the peer about our SSRC */
    double peer_fraction_lost; /* the last block: 0..1 of our packets lost in its interval */
    int64_t peer_cumulative_lost;
    double peer_jitter_ms;     /* the jitter the peer measured on our packets */
    uint32_t peer_extended_max_seq;
    double rtt_ms;             /* the last round-trip time from LSR/DLSR, -1 until known */
    uint64_t rtt_samples;
    int bye;                   /* 1 once the peer sent a BYE for its SSRC */
    char bye_reason[OH_RTCP_MAX_TEXT + 1];
    char peer_cname[OH_RTCP_MAX_TEXT + 1];
} oh_engine_rtcp_stats;

typedef struct oh_engine_stream_stats {
    uint64_t packets_sent;
    uint64_t bytes_sent;           /* RTP bytes (header + payload) handed to sendto */
    uint64_t send_errors;          /* sendto failures (buffer full, unreachable...) */
    uint64_t packets_received;     /* RTP packets accepted from the latched source */
    uint64_t bytes_received;       /* their RTP bytes */
    uint64_t dropped_invalid;      /* datagrams that are not valid RTP (oh_rtp_parse refused) */
    uint64_t dropped_payload_type; /* valid RTP with a payload type other than the stream's */
    uint64_t dropped_stray;        /* valid RTP from an address or SSRC other than the latched one */
    uint64_t dropped_inactive;     /* packets arriving while the direction does not receive */
    uint64_t rtcp_received;        /* RTCP datagrams received (either port), valid or not */
    uint64_t ticks;                /* ticks processed for this stream */
    uint64_t recorded_frames;      /* samples written to the current recording */
    int latched;                   /* 1 once a source is latched */
    char latched_addr[OH_ENGINE_ADDR_LEN];
    int latched_port;
    uint32_t remote_ssrc;
    uint32_t local_ssrc;
    int source_done;               /* 1 when a WAV source has reached its end (silence follows) */
    oh_rtp_source_stats source;    /* RFC 3550 state of the latched source (jitter, loss) */
    oh_jitter_stats playout;       /* jitter buffer and concealment */
    uint64_t dtmf_sent;            /* telephone-events sent (digits, not packets) */
    uint64_t dtmf_received;        /* telephone-events received (once each) */
    uint64_t dtmf_dropped;         /* received events lost because nobody drained the queue */
    int dtmf_pending;              /* digits queued or being sent */
    oh_engine_rtcp_stats rtcp;
    int srtp;                      /* 1 when the stream runs SRTP */
    uint64_t srtp_auth_failed;     /* SRTP/SRTCP packets whose authentication tag did not verify */
    uint64_t srtp_replayed;        /* SRTP/SRTCP packets refused as replayed or too old */
    uint64_t srtp_failed;          /* other refusals (truncated, bad version...) and protect errors */
    uint64_t ssrc_changes;         /* re-latches on a new SSRC from the latched address */
    int rtcp_mux;                  /* 1: RTCP on the RTP socket; 0: on local_rtcp_port */
    int local_rtcp_port;           /* the RTCP socket's port (0 with rtcp_mux) */
    int rtp_timed_out;             /* 1 while no RTP has arrived for rtp_timeout_ms */
    int inband_dtmf;               /* 1 when the inband detector runs on this stream */
    uint64_t dtmf_inband;          /* digits the inband detector reported */
    int local;                     /* 1 when connected to the local audio (connect_local) */
    int conference_room;           /* the room the stream is a member of, -1: none */
    int tap;                       /* 1 while a received-audio tap is on (oh_engine_stream_tap) */
    uint64_t tap_samples;          /* samples the tap took (engine rate), since create */
    uint64_t tap_overruns;         /* ticks whose frame did not fit the tap (the reader fell behind) */
    uint64_t tap_dropped;          /* samples those ticks lost */
    uint64_t cn_received;          /* comfort-noise packets accepted (cn_payload_type) */
    uint64_t cn_sent;              /* comfort-noise packets sent (vad) */
    uint64_t frames_suppressed;    /* frames not sent as background (vad) */
} oh_engine_stream_stats;

/* The local audio endpoint's counters (oh_engine_stats.local). */
typedef struct oh_engine_local_stats {
    int attached;                 /* 1 while a port is attached */
    int muted;
    int32_t playback_gain_q14;    /* oh_engine_set_local_gain's, 16384 = 0 dB, 0 = silence */
    int32_t capture_gain_q14;
    uint64_t frames;              /* ticks the local endpoint ran */
    uint64_t capture_underruns;   /* ticks whose capture frame was short (the rest: silence) */
    uint64_t capture_missing;     /* samples those ticks lacked */
    uint64_t capture_shed;        /* samples discarded to keep latency low: more than one frame +
                                     max_queue_ms waiting, or a steady excess (see oh_engine.c) */
    uint64_t playback_overruns;   /* ticks whose playback frame did not fit the ring, or was
                                     dropped because max_queue_ms were already queued */
    int aec;                      /* 1 when the echo canceller runs */
    int aec_latency;              /* samples the canceller delays the capture by */
    oh_aec_stats aec_stats;
    /* Capture-to-send latency: from the instant a capture frame was complete
     * in the capture ring (its last sample's oh_devport stamp) to the sendto
     * of the RTP packet carrying it, for streams connected to the local
     * audio (ms), over the packets since the previous oh_engine_get_stats.
     * The echo canceller's aec_latency comes on top (it is algorithmic). */
    double capture_to_send_ms_mean;
    double capture_to_send_ms_max;
    uint64_t capture_to_send_samples;
} oh_engine_local_stats;

typedef struct oh_engine_stats {
    uint64_t ticks;          /* ticks run since create */
    uint64_t late_ticks;     /* ticks that started more than one tick late */
    uint64_t clock_resyncs;  /* times the clock jumped ahead instead of catching up */
    uint64_t events_dropped; /* events lost because the queue (OH_ENGINE_EVENT_QUEUE) was full */
    /* Send lag: from a tick's deadline to each RTP packet handed to sendto
     * (ms), over the packets sent since the previous oh_engine_get_stats
     * (which restarts the window). With a frame captured just before a
     * deadline, this is what the engine adds on top of one ptime. */
    double send_lag_ms_mean;
    double send_lag_ms_max;
    uint64_t send_lag_samples;
    int streams;
    oh_engine_local_stats local;
} oh_engine_stats;

typedef struct oh_engine oh_engine;

/* 16000 Hz, 20 ms, 256 streams. */
void oh_engine_config_default(oh_engine_config *cfg);

/* Allocates the engine and starts its media thread. OH_EINVAL for a bad
 * config, OH_ENOMEM, OH_EIO when the thread or its eventfd cannot be made. */
oh_status oh_engine_create(const oh_engine_config *cfg, oh_engine **out);

/* Stops the media thread, then closes every stream still open. NULL is a no-op. */
void oh_engine_destroy(oh_engine *eng);

void oh_engine_get_stats(oh_engine *eng, oh_engine_stats *stats);

/* Defaults: bind 127.0.0.1 port 0, no remote, PCMU payload type 0, sendrecv. */
void oh_engine_stream_config_default(oh_engine_stream_config *cfg);

/* Creates a stream (codec, playout, RTP state, its UDP socket bound to the
 * local address) and hands it to the media thread; *id names it from now
 * on. OH_EINVAL for a bad config or address, OH_EIO when the socket cannot
 * be bound (errno kept in *sys_errno when not NULL), OH_EUNSUPPORTED when the
 * codec cannot run at the engine's ptime, OH_ESTATE when max_streams are open. */
oh_status oh_engine_stream_add(oh_engine *eng, const oh_engine_stream_config *cfg, int *id,
                               int *sys_errno);

/* Stops and frees the stream, finalising its recording. OH_EINVAL for an unknown id. */
oh_status oh_engine_stream_remove(oh_engine *eng, int id);

/* The port the stream's socket is bound to. */
oh_status oh_engine_stream_local_port(oh_engine *eng, int id, int *port);

/* New remote address ("" = none: stop sending); clears the latch. The RTCP
 * mode stays; without rtcp-mux, RTCP goes to the new addr, port + 1. */
oh_status oh_engine_stream_set_remote(oh_engine *eng, int id, const char *addr, int port);
/* New remote address with its RTCP mode and address: rtcp_mux 1 sends and
 * receives RTCP on the RTP socket; 0 on a socket bound to local port + 1
 * (made here, in the calling thread, when the stream has none yet: OH_EIO
 * with errno in *sys_errno when that port cannot be bound), sending to
 * rtcp_addr ("" = addr), rtcp_port (0 = port + 1); -1 keeps the mode. */
oh_status oh_engine_stream_set_remote_rtcp(oh_engine *eng, int id, const char *addr, int port, int rtcp_mux,
                                           const char *rtcp_addr, int rtcp_port, int *sys_errno);
oh_status oh_engine_stream_set_direction(oh_engine *eng, int id, oh_engine_direction dir);
/* Switches the stream to another codec and payload type while it runs (after
 * an SDP re-offer). The new codec, playout and resamplers are built by the
 * calling thread and swapped in between two ticks; the next packet carries
 * the new payload type with the marker bit, and packets of the old payload
 * type that still arrive are dropped (dropped_payload_type). SSRC, sequence
 * numbers and, when the RTP clock rate stays the same, the RFC 3550
 * receive statistics carry on. OH_EINVAL for a bad codec or payload type
 * (or the stream's DTMF one), OH_EUNSUPPORTED when the codec cannot run at
 * the engine's ptime, OH_ENOMEM. */
oh_status oh_engine_stream_set_codec(oh_engine *eng, int id, const oh_codec_config *codec, int payload_type);

/* Sources. play_wav reads a WAV once from its start (looping off; silence
 * after its end), any rate 8000..48000 Hz, channels mixed down to mono. */
oh_status oh_engine_stream_play_wav(oh_engine *eng, int id, const char *path, oh_wav_error *err);
/* A steady sine of freq_hz (below half the engine rate) at level_dbm0 (-60..0). */
oh_status oh_engine_stream_play_tone(oh_engine *eng, int id, int freq_hz, double level_dbm0);
oh_status oh_engine_stream_play_silence(oh_engine *eng, int id);
/* Sends back what the stream receives (decoded, re-encoded with the stream's
 * codec, one tick later): an echo test, and the relaying work a media
 * server does per call. */
oh_status oh_engine_stream_play_echo(oh_engine *eng, int id);
/* join 1: the stream becomes a participant of the engine's conference (room
 * 0 below: an oh_mixer, mix-minus with a soft limiter): what it receives is
 * mixed into every other participant's, and it sends the mix of everyone
 * but itself (of the previous tick) instead of its source. join 0: it
 * leaves and sends its source again. Removing a stream leaves too. */
oh_status oh_engine_stream_conference(oh_engine *eng, int id, int join);
/* Conference rooms: independent mixes in one engine. room 0 is the
 * conference above (oh_engine_stream_conference(id, 1) joins it; the local
 * audio is a member of it and of no other room); any other room id
 * (1..OH_ENGINE_MAX_ROOM) names a mix of its own, made when its first
 * member joins and freed when its last one leaves: its members hear each
 * other (mix-minus) and nobody else, and their packets list only that room's
 * other members as CSRC. A stream is in one room at most: joining another
 * moves it (out of the old room, into the new one, in one step between two
 * ticks); room -1 leaves (a no-op when in none). OH_EINVAL for an unknown
 * stream or a room outside -1..OH_ENGINE_MAX_ROOM, OH_EBUFSIZE when the room
 * is full (max_room_members; room 0: max_streams) and then the stream stays
 * where it was, OH_ENOMEM when a new room's mixer cannot be made. */
oh_status oh_engine_stream_conference_room(oh_engine *eng, int id, int room);

/* The local audio endpoint: port (a device port, or one driven by a
 * program) becomes the engine's microphone and loudspeaker. Each tick the
 * media thread reads one frame from the port's capture ring (a short read
 * is silence, counted), runs the echo canceller on it with the frame it
 * last wrote to the playback ring as reference, and offers the result as
 * the "local" participant: streams connected with
 * oh_engine_stream_connect_local send it, and the conference mixer has it
 * as a member (so streams that joined the conference hear it, and it hears
 * them, mix-minus). The frame written to the playback ring each tick is the
 * local participant's conference output plus what the connected streams
 * received. The engine becomes the capture ring's only consumer and the
 * playback ring's only producer: nobody else may call the port's engine
 * side while it is attached, and the port must outlive the attachment
 * (detach, or destroy the engine, first). cfg NULL: defaults. Attaching
 * again replaces the port (the canceller starts afresh). OH_EINVAL for a bad
 * config or a port at another rate than the engine's; OH_ENOMEM. */
void oh_engine_audio_config_default(oh_engine_audio_config *cfg);
oh_status oh_engine_attach_audio(oh_engine *eng, oh_devport *port, const oh_engine_audio_config *cfg);
/* Detaches the port (no-op when none): the local participant is silent. */
oh_status oh_engine_detach_audio(oh_engine *eng);
/* Mute: the local participant sends silence (the canceller keeps adapting). */
oh_status oh_engine_mute_local(oh_engine *eng, int mute);
/* Volume: gains (dB) on the local audio, applied by the media thread each
 * tick. playback_db scales the frame written to the playback ring (so the
 * echo canceller's reference is what the loudspeaker plays, at its level);
 * capture_db scales the capture after the canceller (before mute, the
 * conference and the connected streams). At or below OH_ENGINE_GAIN_MIN_DB:
 * silence. Samples saturate at 16 bits. Takes effect from the next tick;
 * kept across attach/detach. Thread-safe. OH_EINVAL: NaN or above
 * OH_ENGINE_GAIN_MAX_DB. */
#define OH_ENGINE_GAIN_MIN_DB (-96.0)
#define OH_ENGINE_GAIN_MAX_DB 24.0
oh_status oh_engine_set_local_gain(oh_engine *eng, double playback_db, double capture_db);
/* Source: the stream sends the local capture (after the echo canceller) and
 * what it receives is played to the local audio (a 1:1 call). Replaced by
 * any other play_* call; silence while no port is attached. */
oh_status oh_engine_stream_connect_local(oh_engine *eng, int id);

/* Sink: records what the stream receives (16-bit mono at the engine rate),
 * replacing (and finalising) any previous recording. */
oh_status oh_engine_stream_record_wav(oh_engine *eng, int id, const char *path, oh_wav_error *err);
/* The same with a choice of what is recorded (oh_engine_record_mode): what
 * the stream sends is the audio frame it encodes (its source, the local
 * capture or its conference mix), zeros while it does not send. */
oh_status oh_engine_stream_record_wav_mode(oh_engine *eng, int id, const char *path, int mode,
                                           oh_wav_error *err);
/* Stops and finalises the recording; the first error of that recording, if any. */
oh_status oh_engine_stream_stop_recording(oh_engine *eng, int id, oh_wav_error *err);

oh_status oh_engine_stream_get_stats(oh_engine *eng, int id, oh_engine_stream_stats *stats);

/* Received-audio tap: hands the stream's decoded received audio (16-bit
 * mono at the engine rate, one frame per tick, zeros while the stream does
 * not receive) to a reader without files. ms > 0 turns it on with room for
 * at least ms of audio (20..OH_ENGINE_TAP_MAX_MS; the ring is the next power
 * of two of samples, made here by the calling thread, never per frame), a
 * fresh empty one replacing any earlier tap; ms 0 turns it off. The media
 * thread writes each tick into a lock-free single-producer/single-consumer
 * ring (oh_ring) without waiting: a frame that does not fit is cut short
 * and counted (tap_overruns, tap_dropped). OH_EINVAL for an unknown stream
 * or a bad ms, OH_ENOMEM. */
oh_status oh_engine_stream_tap(oh_engine *eng, int id, int ms);
/* Moves up to cap tapped samples, oldest first, into out; *n gets the count
 * (0 when none or no tap is on). Never waits for the media thread (the
 * ring's consumer side; readers are serialised by the engine's mutex).
 * OH_EINVAL for an unknown stream. */
oh_status oh_engine_stream_read_tap(oh_engine *eng, int id, int16_t *out, size_t cap, size_t *n);

/* Queues digits ('0'-'9', '*', '#', 'A'-'D', case-insensitive) to be sent
 * as RFC 4733 telephone-events of duration_ms (40..5000 ms) each, after any
 * digits already queued, with a gap of audio between digits. While an event
 * plays it replaces the stream's audio. Digits wait while the stream does
 * not send (hold, no remote). OH_EINVAL for a bad digit or
 * duration, OH_ESTATE when the stream has no DTMF payload type, OH_EBUFSIZE
 * when the queue (OH_ENGINE_DTMF_QUEUE digits) cannot take them all (then
 * none is queued). */
oh_status oh_engine_stream_send_dtmf(oh_engine *eng, int id, const char *digits, int duration_ms);

/* A file descriptor (an eventfd) that polls readable while events wait in
 * the engine's queue: hand it to select/poll/epoll or asyncio's add_reader
 * and call oh_engine_poll_events when it fires. It belongs to the engine
 * (do not close or read it). */
int oh_engine_event_fd(oh_engine *eng);

/* Moves up to cap waiting events, oldest first, into out; *n gets the count
 * (0 when none: it never blocks and never waits for the media thread). The
 * media thread writes events into a lock-free ring of OH_ENGINE_EVENT_QUEUE
 * (when full, newer events are counted in events_dropped); callers of this
 * function are serialised among themselves. */
oh_status oh_engine_poll_events(oh_engine *eng, oh_engine_event *out, int cap, int *n);

/* Moves up to cap received events, oldest first, into out; *n gets the
 * count. The media thread keeps at most OH_ENGINE_DTMF_QUEUE undrained
 * events (later ones are counted in dtmf_dropped). */
oh_status oh_engine_stream_dtmf_events(oh_engine *eng, int id, oh_engine_dtmf_event *out, int cap,
                                       int *n);

#ifdef __cplusplus
}
#endif

#endif
