/* The media thread: sockets, clock and the per-stream audio path.
 *
 * Clock. The thread keeps an absolute deadline on CLOCK_MONOTONIC and adds
 * exactly ptime to it after each tick, so ticks never drift however long
 * processing takes (a relative sleep would add the processing time every
 * tick). Between ticks it waits in epoll_wait() on every stream's socket, the
 * command eventfd and a timerfd armed with the absolute deadline
 * (TFD_TIMER_ABSTIME), so packets are read (and time-stamped for the jitter
 * estimate) as they arrive rather than once per tick, and a wake-up costs
 * in proportion to the sockets that are ready, not to the streams open (the
 * ppoll() this replaced rescanned every socket on each wake-up). A ready
 * socket is read with one recvmmsg() of up to RX_BURST datagrams, which
 * also tells that it is empty without the extra EAGAIN read a recvfrom()
 * loop needs; epoll is level-triggered, so a socket with more waiting is
 * reported again at the next wait and no stream starves the others. Each
 * stream owns its socket (symmetric RTP), so sends cannot be batched across
 * streams with sendmmsg(); a stream sends one packet per tick.
 * A tick runs the send half of every stream first (source, encode, sendto),
 * then the receive half (playout, decode, sink), so a packet leaves as soon
 * after the deadline as the sends before it allow; the delay from the
 * deadline to each sendto is measured (send_lag in oh_engine_stats).
 * A tick that starts more than one ptime late is counted; more
 * than ten ptimes late (the process was stopped, the machine suspended), the
 * clock jumps ahead instead of running a burst of catch-up ticks.
 *
 * Commands. Other threads never touch a stream the media thread owns: they
 * build objects in their own thread, post a command in a one-slot mailbox
 * under the engine mutex, kick the eventfd and wait on a condition variable.
 * The media thread applies the command between two ticks (only there does
 * it lock) and hands back whatever it replaced (an old source, an old
 * recording, the removed stream), which the caller frees. So the audio path
 * never allocates or blocks on another thread, and a call returns only once
 * its effect is in place (stats are a consistent snapshot, a closed
 * recording is complete).
 *
 * Receive. RTCP (on the RTP port, or anything on the RTCP port) goes to
 * on_rtcp whatever the direction. Other datagrams are validated in this
 * order: direction (a stream that does not receive drops them),
 * oh_rtp_parse (malformed: dropped_invalid), payload type, then source latching: the first valid packet fixes the source
 * address and SSRC; anything else is a stray. RFC 3550 A.1 sequence checks
 * (oh_rtp_source) drop very old or wildly jumping packets; the rest go to
 * the stream's oh_playout, whose get() yields exactly one tick of PCM per
 * tick whatever arrived (decoded, time-scaled or concealed).
 *
 * Send. The source writes one tick at the engine rate (a WAV file read
 * through a FIFO and a resampler, a tone, or silence), a resampler brings it
 * to the codec's rate, the codec encodes it, oh_rtp_sender numbers it and
 * sendto() sends it. When the direction does not send, the RTP timestamp
 * keeps advancing and the next packet carries the marker bit.
 *
 * DTMF. Digits queued by send_dtmf start at a tick boundary, at the media
 * timestamp the next audio packet would have carried (RFC 4733 2.5.1.1):
 * oh_dtmf_rtp_sender yields one packet per tick (start with the marker,
 * updates, three end packets) and the audio of those ticks is not sent
 * (its timestamp is skipped, the next audio packet is a talkspurt start).
 * DTMF_GAP_MS of audio separates digits. Received telephone-events share
 * the stream's sequence space, latch and source statistics; the receiver
 * (oh_dtmf_rtp_receiver) reports each event once at its end, whatever the
 * retransmitted or stale end packets, into a bounded ring only this thread
 * writes, drained by a command (so it needs no lock; when full, newer events
 * are counted as dropped rather than overwriting undrained ones).
 *
 * RTCP. With rtcp-mux (RFC 5761, the default) reports go out of the RTP
 * socket to the remote address and come in on it (told from RTP by the
 * packet type, RFC 5761 4). Without it (RFC 3550 6.1's default, the SDP
 * did not agree a=rtcp-mux) the stream owns a second socket bound to its
 * RTP port + 1, watched by the same epoll (tagged with the stream pointer's
 * low bit), sending to the remote RTCP address (the remote RTP port + 1,
 * or an RFC 3605 a=rtcp one) and taking every datagram on it as RTCP; from
 * a latched peer it is accepted from the latched host on any port (its
 * RTCP port is its own business), and RTCP arriving on the RTP port is
 * still taken. Port 0 picks an even RTP port whose + 1 was free, with mux
 * too, so a later fallback can usually bind it; a given port binds + 1 or
 * fails. The mode changes with set_remote_rtcp: the calling thread makes
 * the new socket, the command swaps it in (or hands the old one back to be
 * closed). The first is sent half an interval after the stream starts, then
 * every interval x U(0.5, 1.5) (RFC 3550 6.3.1's randomisation; the
 * bandwidth-scaled interval of 6.3 is not computed: two parties and a fixed
 * mean). An SR when RTP was sent since the last report, else an RR, with
 * one report block on the latched source once it is valid, then SDES
 * CNAME. RTCP is handled whatever the direction (it keeps flowing on hold);
 * it is accepted from the latched address, or from anywhere before a latch.
 * Report blocks about our SSRC give the peer's view (fraction and cumulative
 * lost, jitter) and the RTT from LSR/DLSR (NTP times from CLOCK_REALTIME,
 * the delay since the SR on CLOCK_MONOTONIC). Removing a stream (or
 * destroying the engine) sends RR + SDES + BYE.
 *
 * SRTP. With keys, send_rtp and the RTCP sender protect in place (pkt and
 * rtcp_buf have OH_SRTP_MAX_OVERHEAD spare), and on_datagram unprotects in
 * place in the receive buffer before any other check, so forged or replayed
 * packets are counted and never latch, feed statistics or reach playout.
 * libsrtp2 allocates one stream context per new authenticated remote SSRC
 * (once, on the media thread); nothing else on the path allocates.
 *
 * Events. A single-producer (media thread), single-consumer (callers,
 * serialised by ev_mu) ring of oh_engine_event with C11 acquire/release
 * indices, and an eventfd written after each push; the reader clears the
 * eventfd before reading the ring, so a push never goes unsignalled. A full
 * ring drops the new event and counts it: the media thread never waits.
 * RTP timeouts are checked once per tick against the last accepted RTP
 * arrival; the wait restarts when the stream starts receiving again (hold
 * ends) or its remote changes.
 *
 * Conference. Rooms, each with its own oh_mixer and member list: room 0
 * (made at create, sized for every stream plus the local audio) and rooms a
 * caller names, made by the calling thread on their first join (sized by
 * max_room_members) and handed back to a caller to free when their last
 * member leaves, so the media thread never allocates. A member puts the PCM
 * it received each tick into its room's mixer, every room with members is
 * mixed once after every stream's receive half, and the send half of the
 * next tick sends the stream's mix-minus output in place of its source (one
 * tick of added delay through the bridge), with the room's other members as
 * CSRC (from the room's member list: no pass over every stream).
 *
 * Tap. A stream's received audio may also go to an oh_ring (SPSC, made by
 * the caller that turns the tap on, swapped in by a command): the media
 * thread is its producer and never waits (a full ring cuts the frame short
 * and counts it); read_tap is its consumer, under the engine mutex (which
 * also keeps the ring alive), without a command.
 *
 * Local audio. One oh_devport may be attached: each tick starts with
 * local_capture (one frame from the capture ring, stamped with when it was
 * complete; the echo canceller with the frame last written to the playback
 * ring as its far reference, so the reference is exactly what was played;
 * mute; the result put into the mixer as LOCAL_ID and kept for the streams
 * connected with connect_local, which send it this very tick), and ends with
 * local_playback (the local participant's mix-minus plus what the connected
 * streams received, saturated, to the playback ring). The capture-to-send
 * latency is measured per packet from the frame's stamp. Both rings are
 * kept short: capture beyond one frame + max_queue is shed, a steady excess
 * is trimmed once per TRIM_TICKS, and playback frames are dropped while the
 * device does not pull. Recordings may hold what was sent as well (a mono
 * mix, or stereo sent/received). Streams may run an inband DTMF detector
 * (oh_dtmf) on their decoded audio, reported like RFC 4733 events.
 *
 * Limits: telephone-event packets feed the interarrival jitter like
 * audio (their timestamps repeat, so jitter reads high during DTMF); re-latching
 * follows a new SSRC from the latched address only (never a new address); a
 * codec change with another RTP clock restarts the receive statistics; WAV file I/O happens on the media
 * thread; ppoll() over all sockets (epoll would scale better past a few
 * hundred streams). */
#define _GNU_SOURCE

#include "offhook/oh_engine.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "offhook/oh_cng.h"
#include "offhook/oh_dtmf.h"
#include "offhook/oh_dtmf_rtp.h"
#include "offhook/oh_mixer.h"
#include "offhook/oh_playout.h"
#include "offhook/oh_resampler.h"
#include "offhook/oh_ring.h"
#include "offhook/oh_srtp.h"
#include "offhook/oh_tone.h"
#include "offhook/oh_vad.h"
#include "oh_alloc.h"
#include "oh_rand_internal.h"

#define RX_SLOT 4096      /* bytes per received datagram (larger ones are truncated: dropped_invalid) */
#define RX_BURST 16       /* datagrams read per socket per wake-up (one recvmmsg) */
#define EP_BATCH 256      /* epoll events taken per wait */
#define EV_TAG_CMD ((uint64_t)1)
#define EV_TAG_TIMER ((uint64_t)2)
#define ID_SLOT_BITS 12   /* id = generation << 12 | slot (OH_ENGINE_MAX_STREAMS = 4096) */
#define RESYNC_TICKS 10
#define DTMF_GAP_MS 60    /* audio between two queued digits */
#define CN_ORDER 4        /* reflection coefficients in the CN packets sent (vad) */
#define CN_REFRESH_MS 5000 /* a CN packet at least this often in a suppressed pause */
#define RTCP_BUF 1024     /* SR + one block + SDES + BYE with a reason fit easily */
#define RTCP_BUF_CAP (RTCP_BUF + OH_SRTP_MAX_OVERHEAD)

enum src_kind { SRC_SILENCE = 0, SRC_TONE = 1, SRC_WAV = 2, SRC_ECHO = 3, SRC_LOCAL = 4 };

#define REF_GATE_DBFS (-70.0) /* the echo canceller's reference gate (RMS of a frame) */
#define TRIM_TICKS 50 /* the local capture's latency-trim window (1 s at 20 ms) */
#define GAIN_UNITY 16384 /* Q14 */
#define LOCAL_ID UINT32_MAX /* the local participant's id in the mixer (stream ids are < 2^30) */

typedef struct wav_src {
    oh_wav_reader *reader;
    oh_resampler *rs;   /* file rate -> engine rate; NULL when equal */
    int channels;
    size_t chunk;       /* file frames read per refill */
    int16_t *raw;       /* chunk * channels */
    int16_t *mono;      /* chunk */
    int16_t *fifo;      /* engine-rate samples waiting to be played */
    size_t fifo_len, fifo_cap;
    int eof;
} wav_src;

typedef struct source {
    int kind;
    oh_tone *tone;
    wav_src *wav;
} source;

struct oh_engine;
struct stream;

/* A conference room: its own mixer and its members (the media thread's;
 * made by a caller for a new room id, freed by one when it empties). */
typedef struct conf_room {
    int id;
    oh_mixer *mixer;
    struct stream **members;    /* cap */
    int n, cap;
} conf_room;

typedef struct stream {
    int id;
    struct oh_engine *eng;      /* for events */
    int fd;
    int local_port;
    int rtcp_fd;                /* -1: rtcp-mux (RTCP on fd); else bound to local_port + 1 */
    int local_rtcp_port;        /* 0 with rtcp-mux */
    struct sockaddr_storage rtcp_remote; /* rtcp_fd's destination */
    socklen_t rtcp_remote_len;  /* 0: none */
    oh_engine_direction dir;
    int payload_type;
    oh_codec_id codec_id;
    struct sockaddr_storage remote;
    socklen_t remote_len;       /* 0: no remote */

    oh_codec *enc;
    oh_playout *pl;
    oh_rtp_sender *sender;
    oh_rtp_source *rtp_src;
    oh_resampler *rs_send;      /* engine rate -> codec rate; NULL when equal */
    oh_resampler *rs_recv;      /* codec rate -> engine rate; NULL when equal */
    int codec_frame;            /* codec-rate samples per tick */
    uint32_t rtp_samples;       /* RTP timestamp units per tick */
    int send_ticks;             /* ticks of audio per packet sent (send_ptime_ms) */
    int send_split;             /* packets a packet's audio is cut into: 2 for 10 ms on 20 ms ticks */
    int filled_ticks;           /* ticks in codec_buf waiting for the rest of their packet */
    int16_t *eng_buf;           /* engine frame */
    int16_t *echo_buf;          /* engine frame: what was received last tick (SRC_ECHO) */
    int16_t *codec_buf;         /* send_ticks codec frames (+ resampler slack) */
    size_t codec_buf_cap;
    int16_t *dec_buf;           /* one playout tick */
    size_t dec_cap;
    uint8_t *payload;
    size_t payload_cap;
    uint8_t *pkt;
    size_t pkt_cap;
    int talkspurt;              /* the next packet starts a talkspurt */

    source src;
    oh_wav_writer *rec;
    int rec_failed;
    int rec_mode;               /* oh_engine_record_mode */
    int16_t *sent_buf;          /* engine frame: what was sent this tick (REC_MIX, REC_STEREO) */
    int16_t *rec_buf;           /* 2 engine frames: the recording's interleaved or mixed frame */
    oh_dtmf_det *det;           /* inband DTMF detector; NULL: off */

    int latched;
    struct sockaddr_storage latched_addr;
    uint32_t latched_ssrc;
    oh_engine_stream_stats st;  /* counters (the media thread's) */

    int dtmf_pt;                /* -1: no DTMF */
    int cn_pt;                  /* RFC 3389 comfort noise, -1: none */
    oh_vad *vad;                /* silence suppression of what is sent, NULL: off */
    int pausing;                /* vad: frames are being suppressed */
    int cn_level;               /* vad: the level the last CN packet sent described */
    int cn_age;                 /* vad: ticks since it was sent */
    int cn_refresh_ticks;       /* vad: CN_REFRESH_MS in ticks */
    uint32_t rtp_clock;         /* Hz */
    oh_dtmf_rtp_sender *dtx;
    oh_dtmf_rtp_receiver *drx;
    char dq_digit[OH_ENGINE_DTMF_QUEUE]; /* digits to send (ring) */
    int dq_ms[OH_ENGINE_DTMF_QUEUE];
    int dq_head, dq_len;
    int dtmf_gap;               /* ticks of audio before the next digit may start */
    oh_engine_dtmf_event evq[OH_ENGINE_DTMF_QUEUE]; /* received events (ring) */
    int evq_head, evq_len;

    int rtcp_interval_ms;
    double next_rtcp_ms;        /* < 0: not scheduled yet */
    uint64_t rng;
    char cname[OH_ENGINE_CNAME_LEN];
    size_t cname_len;
    uint64_t packets_at_report; /* RTP packets sent when the last report went out */
    uint8_t *rtcp_buf;          /* RTCP_BUF_CAP: room for the SRTCP trailer */

    oh_srtp *srtp;              /* NULL: plain RTP */
    conf_room *room;            /* the conference room it is a member of, NULL: none */
    oh_ring *tap;               /* received-audio tap (the media thread writes), NULL: off */

    uint32_t cand_ssrc;         /* a new SSRC from the latched address, on its way to re-latching */
    uint16_t cand_seq;
    int cand_count;

    int rtp_timeout_ms;         /* 0: off */
    double last_rtp_ms;         /* < 0: start the wait at the next tick */
    int timed_out;
} stream;

enum cmd_type {
    CMD_ADD, CMD_REMOVE, CMD_SET_REMOTE, CMD_SET_DIR, CMD_SET_SOURCE, CMD_SET_RECORD,
    CMD_STATS, CMD_ENGINE_STATS, CMD_STOP, CMD_DTMF_SEND, CMD_DTMF_DRAIN, CMD_SET_CODEC, CMD_CONF,
    CMD_ATTACH, CMD_MUTE, CMD_TAP, CMD_GAIN
};

struct codec_parts;

typedef struct cmd {
    enum cmd_type type;
    stream *s;
    int dir;
    struct sockaddr_storage addr;
    socklen_t addr_len;
    struct sockaddr_storage rtcp_addr; /* CMD_SET_REMOTE: the remote RTCP address (without mux) */
    socklen_t rtcp_addr_len;
    int rtcp_mux;               /* CMD_SET_REMOTE: 1 mux, 0 own socket, -1 keep */
    int rtcp_fd;                /* CMD_SET_REMOTE: in, a new RTCP socket; out, one for the caller to close */
    int rtcp_port;              /* CMD_SET_REMOTE: rtcp_fd's local port */
    source src;                 /* in: the new source; out: the replaced one */
    oh_wav_writer *rec;         /* in: the new recording; out: the replaced one */
    oh_engine_stream_stats *stats;
    oh_engine_stats *estats;
    const char *digits;         /* CMD_DTMF_SEND: validated, upper-case */
    int n;                      /* digits to queue; CMD_DTMF_DRAIN: out, events moved */
    int duration_ms;
    oh_engine_dtmf_event *events; /* CMD_DTMF_DRAIN: room for n_cap */
    int n_cap;
    struct codec_parts *parts;  /* CMD_SET_CODEC: in, the new codec's; out, the old */
    int rec_mode;               /* CMD_SET_RECORD */
    oh_devport *port;           /* CMD_ATTACH: in, the new port (NULL: detach) */
    oh_aec *aec;                /* CMD_ATTACH: in, the new canceller; out, the old one */
    int aec_on;
    int max_queue;            /* CMD_ATTACH: samples */
    conf_room *room;            /* CMD_CONF: in, a new room for the id (or NULL); out, unused */
    conf_room *emptied;         /* CMD_CONF, CMD_REMOVE: out, a room its last member left */
    oh_ring *tap;               /* CMD_TAP: in, the new tap (NULL: off); out, the old one */
    int32_t gain_play, gain_cap;  /* CMD_GAIN: Q14 */
    oh_status result;
} cmd;

struct oh_engine {
    oh_engine_config cfg;
    int frame;                  /* engine-rate samples per tick */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int mu_ok, cv_ok;
    int efd;
    pthread_t thread;
    int thread_started;

    /* under mu: the callers' view */
    stream **registry;          /* max_streams slots */
    unsigned *generation;
    cmd *pending;

    /* the media thread's own */
    stream **active;
    int n_active;
    conf_room **rooms;         /* max_streams + 1: room 0 first, then the rooms in use */
    int n_rooms;                /* written by the media thread under mu; callers read it under mu */
    int epfd;                   /* epoll: the eventfd, the timerfd, each active stream's socket */
    int tfd;                    /* timerfd on CLOCK_MONOTONIC, armed at the next deadline */
    struct epoll_event *epev;   /* EP_BATCH */
    uint8_t *rx;                /* RX_BURST x RX_SLOT */
    struct mmsghdr *rx_msgs;    /* RX_BURST */
    struct iovec *rx_iov;       /* RX_BURST */
    struct sockaddr_storage *rx_from; /* RX_BURST */
    int stop;
    struct timespec t0;
    struct timespec deadline;   /* of the tick being run */
    oh_mixer *mixer;            /* room 0's mixer: the conference with the local audio */
    double lag_sum, lag_max;    /* deadline -> sendto, since the last get_stats */
    uint64_t lag_n;
    oh_engine_stats st;

    /* the local audio endpoint (the media thread's; see local_capture) */
    oh_devport *port;           /* NULL: none attached */
    oh_aec *aec;                /* made by attach, NULL when off */
    int aec_on;
    int max_queue;            /* samples allowed to wait beyond one frame */
    int local_muted;
    int32_t gain_play;          /* Q14 (16384: unity) on what goes to the playback ring */
    int32_t gain_cap;           /* Q14 on the capture after the canceller */
    int16_t *local_near;        /* engine frame: this tick's capture */
    int16_t *local_out;         /* engine frame: this tick's capture after the canceller (sent) */
    int16_t *local_play;        /* engine frame: what was last written to the playback ring */
    int32_t *local_acc;         /* engine frame: received audio of the connected streams */
    int16_t *local_zero;        /* engine frame of zeros: the gated reference */
    double ref_gate;            /* mean square below which the reference is gated */
    int local_heard;            /* a connected stream added to local_acc this tick */
    int64_t local_t_ns;         /* when this tick's capture frame was complete, -1: unknown */
    int64_t play_slip;          /* playback frames dropped (-) since the canceller was last told (oh_aec_slip) */
    uint64_t play_missing_seen; /* the playback ring's missing count when last looked at */
    size_t cap_min_wait;        /* least capture left waiting after a read, this trim window */
    int cap_window;             /* ticks into the trim window */
    double c2s_sum, c2s_max;    /* capture -> sendto, since the last get_stats */
    uint64_t c2s_n;

    /* events: a lock-free SPSC ring, the media thread writes, poll_events reads */
    oh_engine_event *evr;       /* OH_ENGINE_EVENT_QUEUE */
    _Atomic unsigned ev_head;   /* next to read (the reader's) */
    _Atomic unsigned ev_tail;   /* next to write (the media thread's) */
    _Atomic unsigned long long ev_dropped;
    int ev_fd;                  /* eventfd: readable while events wait */
    pthread_mutex_t ev_mu;      /* serialises readers only */
    int ev_mu_ok;
};

/* Media thread only. Never blocks: a full queue counts the event as dropped. */
static void push_event(struct oh_engine *e, const oh_engine_event *ev)
{
    unsigned tail = atomic_load_explicit(&e->ev_tail, memory_order_relaxed);
    unsigned head = atomic_load_explicit(&e->ev_head, memory_order_acquire);
    if (tail - head >= OH_ENGINE_EVENT_QUEUE) {
        atomic_fetch_add_explicit(&e->ev_dropped, 1, memory_order_relaxed);
        return;
    }
    e->evr[tail % OH_ENGINE_EVENT_QUEUE] = *ev;
    atomic_store_explicit(&e->ev_tail, tail + 1, memory_order_release);
    uint64_t one = 1;
    ssize_t w = write(e->ev_fd, &one, sizeof one);
    (void)w; /* fails only when the counter is saturated: it is readable then anyway */
}

static void stream_event(stream *s, int type, oh_engine_event *ev)
{
    ev->type = type;
    ev->stream_id = s->id;
    push_event(s->eng, ev);
}

/* ---- time ---- */

static double ms_between(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) * 1e3 + (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

static void ts_add_ms(struct timespec *t, int ms)
{
    t->tv_nsec += (long)ms * 1000000L;
    while (t->tv_nsec >= 1000000000L) {
        t->tv_nsec -= 1000000000L;
        t->tv_sec++;
    }
}

static int ts_before(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* ---- addresses ---- */

static oh_status parse_addr(const char *addr, int port, struct sockaddr_storage *ss, socklen_t *len)
{
    if (!addr || port < 0 || port > 65535)
        return OH_EINVAL;
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, addr, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        *len = sizeof *v4;
        return OH_OK;
    }
    if (inet_pton(AF_INET6, addr, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        *len = sizeof *v6;
        return OH_OK;
    }
    return OH_EINVAL;
}

static int same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family)
        return 0;
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *x = (const struct sockaddr_in *)a, *y = (const struct sockaddr_in *)b;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    if (a->ss_family == AF_INET6) {
        const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)a, *y = (const struct sockaddr_in6 *)b;
        return x->sin6_port == y->sin6_port &&
               memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0;
    }
    return 0;
}

/* The same host, whatever the port: RTCP on its own port comes from the
 * peer's RTCP port, which only the host of the latched RTP source vouches for. */
static int same_host(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family)
        return 0;
    if (a->ss_family == AF_INET)
        return ((const struct sockaddr_in *)a)->sin_addr.s_addr == ((const struct sockaddr_in *)b)->sin_addr.s_addr;
    if (a->ss_family == AF_INET6)
        return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr, &((const struct sockaddr_in6 *)b)->sin6_addr,
                      sizeof(struct in6_addr)) == 0;
    return 0;
}

static void set_port(struct sockaddr_storage *ss, int port)
{
    if (ss->ss_family == AF_INET)
        ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
}

static int get_port(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)ss)->sin_port);
    return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
}

/* A non-blocking UDP socket bound to local with the given port, or -1 (errno kept). */
static int bind_udp(const struct sockaddr_storage *local, socklen_t len, int port)
{
    struct sockaddr_storage a = *local;
    set_port(&a, port);
    int fd = socket(a.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, len) != 0) {
        int err = errno;
        close(fd);
        errno = err;
        return -1;
    }
    return fd;
}

/* Binds the RTP socket (*fd) and, when want_rtcp, the RTCP one on its port
 * + 1 (*rtcp_fd, else -1). Port 0 picks an even port whose + 1 is free
 * (RFC 3550 11), even with rtcp-mux, so that a later fallback to a separate
 * RTCP port finds it free; the OS names a port and the pair around it is
 * tried, a few times over before giving up (mux: any port then). */
static int bind_pair(const struct sockaddr_storage *local, socklen_t len, int want_rtcp, int *fd, int *rtcp_fd)
{
    *fd = *rtcp_fd = -1;
    int port = get_port(local);
    if (port) {
        if (want_rtcp && port == 65535) {
            errno = EADDRNOTAVAIL;
            return -1;
        }
        if ((*fd = bind_udp(local, len, port)) < 0)
            return -1;
        if (want_rtcp && (*rtcp_fd = bind_udp(local, len, port + 1)) < 0) {
            int err = errno;
            close(*fd);
            *fd = -1;
            errno = err;
            return -1;
        }
        return 0;
    }
    for (int attempt = 0; attempt < 32; attempt++) {
        int probe = bind_udp(local, len, 0);
        if (probe < 0)
            return -1;
        struct sockaddr_storage bound;
        socklen_t blen = sizeof bound;
        int p = getsockname(probe, (struct sockaddr *)&bound, &blen) == 0 ? get_port(&bound) & ~1 : 0;
        close(probe);
        if (p <= 0 || p >= 65535)
            continue;
        int a = bind_udp(local, len, p);
        if (a < 0)
            continue;
        int b = bind_udp(local, len, p + 1);
        if (b < 0) {
            close(a);
            continue;
        }
        *fd = a;
        if (want_rtcp)
            *rtcp_fd = b;
        else
            close(b);
        return 0;
    }
    if (want_rtcp) {
        errno = EADDRINUSE;
        return -1;
    }
    *fd = bind_udp(local, len, 0);
    return *fd < 0 ? -1 : 0;
}

static void addr_to_str(const struct sockaddr_storage *ss, char *out, size_t cap, int *port)
{
    out[0] = 0;
    *port = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &v4->sin_addr, out, (socklen_t)cap);
        *port = ntohs(v4->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &v6->sin6_addr, out, (socklen_t)cap);
        *port = ntohs(v6->sin6_port);
    }
}

static uint64_t random64(void)
{
    uint64_t x = 0;
    if (getrandom(&x, sizeof x, GRND_NONBLOCK) != (ssize_t)sizeof x) {
        /* No entropy yet (early boot): the clock still differs per stream. */
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        x = ((uint64_t)t.tv_sec * 1000000007ULL) ^ (uint64_t)t.tv_nsec ^ (uint64_t)(uintptr_t)&t;
        x ^= x >> 31;
        x *= 0x9E3779B97F4A7C15ULL;
    }
    return x;
}

/* ---- sources ---- */

static void wav_src_free(wav_src *w)
{
    if (!w)
        return;
    oh_wav_reader_close(w->reader);
    oh_resampler_destroy(w->rs);
    oh_free(w->raw);
    oh_free(w->mono);
    oh_free(w->fifo);
    oh_free(w);
}

static void source_free(source *src)
{
    oh_tone_destroy(src->tone);
    wav_src_free(src->wav);
    memset(src, 0, sizeof *src);
}

static void set_reason(oh_wav_error *err, int status, const char *reason)
{
    if (!err)
        return;
    err->status = status;
    err->sys_errno = 0;
    snprintf(err->reason, sizeof err->reason, "%s", reason);
}

static oh_status wav_src_open(const char *path, int rate, int frame, wav_src **out, oh_wav_error *err)
{
    *out = NULL;
    wav_src *w = oh_alloc(sizeof *w);
    if (!w) {
        set_reason(err, OH_ENOMEM, "out of memory");
        return OH_ENOMEM;
    }
    oh_wav_reader_config rcfg;
    oh_wav_reader_config_default(&rcfg);
    oh_status st = oh_wav_reader_open(path, &rcfg, &w->reader, err);
    if (st != OH_OK) {
        oh_free(w);
        return st;
    }
    const oh_wav_format *fmt = oh_wav_reader_format(w->reader);
    if (fmt->sample_rate < OH_RESAMPLER_MIN_RATE || fmt->sample_rate > OH_RESAMPLER_MAX_RATE) {
        char msg[96];
        snprintf(msg, sizeof msg, "sample rate %d Hz is not playable (8000..48000 Hz)", fmt->sample_rate);
        set_reason(err, OH_EUNSUPPORTED, msg);
        wav_src_free(w);
        return OH_EUNSUPPORTED;
    }
    w->channels = fmt->channels;
    w->chunk = (size_t)frame * (size_t)fmt->sample_rate / (size_t)rate + 2;
    size_t fifo_out = w->chunk;
    if (fmt->sample_rate != rate) {
        oh_resampler_config rs;
        oh_resampler_config_default(&rs);
        rs.in_rate = fmt->sample_rate;
        rs.out_rate = rate;
        rs.channels = 1;
        st = oh_resampler_create(&rs, &w->rs);
        if (st != OH_OK) {
            set_reason(err, st, st == OH_ENOMEM ? "out of memory" : "no resampler for this rate");
            wav_src_free(w);
            return st;
        }
        fifo_out = oh_resampler_max_output(w->rs, w->chunk) + 2;
        if (fifo_out < w->chunk * (size_t)rate / (size_t)fmt->sample_rate + 2)
            fifo_out = w->chunk * (size_t)rate / (size_t)fmt->sample_rate + 2;
    }
    w->fifo_cap = (size_t)frame + fifo_out;
    w->raw = oh_alloc(w->chunk * (size_t)w->channels * sizeof *w->raw);
    w->mono = oh_alloc(w->chunk * sizeof *w->mono);
    w->fifo = oh_alloc(w->fifo_cap * sizeof *w->fifo);
    if (!w->raw || !w->mono || !w->fifo) {
        set_reason(err, OH_ENOMEM, "out of memory");
        wav_src_free(w);
        return OH_ENOMEM;
    }
    *out = w;
    return OH_OK;
}

/* One tick of the WAV at the engine rate; zeros after its end. Sets *done at the end. */
static void wav_src_read(wav_src *w, int16_t *out, size_t n, int *done)
{
    while (w->fifo_len < n && !w->eof) {
        int got = oh_wav_reader_read(w->reader, w->raw, w->chunk);
        if (got <= 0) {
            w->eof = 1; /* end of file, or a read error: either way the file is over */
            break;
        }
        const int16_t *mono = w->raw;
        if (w->channels > 1) {
            for (int i = 0; i < got; i++) {
                int32_t acc = 0;
                for (int c = 0; c < w->channels; c++)
                    acc += w->raw[(size_t)i * (size_t)w->channels + (size_t)c];
                w->mono[i] = (int16_t)(acc / w->channels);
            }
            mono = w->mono;
        }
        size_t room = w->fifo_cap - w->fifo_len;
        if (w->rs) {
            int m = oh_resampler_process(w->rs, mono, (size_t)got, w->fifo + w->fifo_len, room);
            if (m > 0)
                w->fifo_len += (size_t)m;
        } else {
            size_t m = (size_t)got < room ? (size_t)got : room;
            memcpy(w->fifo + w->fifo_len, mono, m * sizeof *mono);
            w->fifo_len += m;
        }
    }
    size_t take = w->fifo_len < n ? w->fifo_len : n;
    memcpy(out, w->fifo, take * sizeof *out);
    memset(out + take, 0, (n - take) * sizeof *out);
    memmove(w->fifo, w->fifo + take, (w->fifo_len - take) * sizeof *w->fifo);
    w->fifo_len -= take;
    if (w->eof && w->fifo_len == 0)
        *done = 1;
}

static void source_read(source *src, int16_t *out, size_t n, int *done)
{
    switch (src->kind) {
    case SRC_TONE:
        oh_tone_generate(src->tone, out, n);
        break;
    case SRC_WAV:
        wav_src_read(src->wav, out, n, done);
        break;
    default:
        memset(out, 0, n * sizeof *out);
        break;
    }
}

/* ---- streams ---- */

static void stream_free(stream *s)
{
    if (!s)
        return;
    if (s->fd >= 0)
        close(s->fd);
    if (s->rtcp_fd >= 0)
        close(s->rtcp_fd);
    oh_codec_destroy(s->enc);
    oh_playout_destroy(s->pl);
    oh_rtp_sender_destroy(s->sender);
    oh_rtp_source_destroy(s->rtp_src);
    oh_dtmf_rtp_sender_destroy(s->dtx);
    oh_dtmf_rtp_receiver_destroy(s->drx);
    oh_free(s->rtcp_buf);
    oh_srtp_destroy(s->srtp);
    oh_resampler_destroy(s->rs_send);
    oh_resampler_destroy(s->rs_recv);
    oh_free(s->eng_buf);
    oh_free(s->echo_buf);
    oh_free(s->codec_buf);
    oh_free(s->dec_buf);
    oh_free(s->payload);
    oh_free(s->pkt);
    source_free(&s->src);
    oh_wav_writer_close(s->rec, NULL);
    oh_free(s->sent_buf);
    oh_free(s->rec_buf);
    oh_dtmf_det_destroy(s->det);
    oh_ring_destroy(s->tap);
    oh_vad_destroy(s->vad);
    oh_free(s);
}

/* ---- conference rooms ---- */

static void room_free(conf_room *r)
{
    if (!r)
        return;
    oh_mixer_destroy(r->mixer);
    oh_free(r->members);
    oh_free(r);
}

/* A room of cap members; mixer_cap leaves room 0 a seat for the local audio. */
static oh_status room_create(const oh_engine *e, int id, int cap, int mixer_cap, conf_room **out)
{
    *out = NULL;
    conf_room *r = oh_alloc(sizeof *r);
    if (!r)
        return OH_ENOMEM;
    r->id = id;
    r->cap = cap;
    r->members = oh_alloc((size_t)cap * sizeof *r->members);
    if (!r->members) {
        room_free(r);
        return OH_ENOMEM;
    }
    oh_mixer_config mcfg;
    oh_mixer_config_default(&mcfg);
    mcfg.sample_rate = e->cfg.sample_rate;
    mcfg.frame_size = e->frame;
    mcfg.max_participants = mixer_cap;
    oh_status st = oh_mixer_create(&mcfg, &r->mixer);
    if (st != OH_OK) {
        room_free(r);
        return st;
    }
    *out = r;
    return OH_OK;
}

/* Linear in the rooms in use: called on join only, never per tick. */
static conf_room *find_room(const oh_engine *e, int id)
{
    for (int i = 0; i < e->n_rooms; i++)
        if (e->rooms[i]->id == id)
            return e->rooms[i];
    return NULL;
}

/* Media thread: s leaves its room; a room other than 0 left empty is taken
 * out of the engine and returned, for the caller to free. */
static conf_room *room_leave(oh_engine *e, stream *s)
{
    conf_room *r = s->room;
    if (!r)
        return NULL;
    for (int i = 0; i < r->n; i++) {
        if (r->members[i] == s) {
            r->members[i] = r->members[--r->n];
            break;
        }
    }
    oh_mixer_remove(r->mixer, (uint32_t)s->id);
    oh_rtp_sender_set_csrcs(s->sender, NULL, 0); /* its own audio again */
    s->room = NULL;
    if (r->n > 0 || r == e->rooms[0])
        return NULL;
    for (int i = 1; i < e->n_rooms; i++) {
        if (e->rooms[i] == r) {
            e->rooms[i] = e->rooms[--e->n_rooms];
            break;
        }
    }
    return r;
}

static int sends(oh_engine_direction d)
{
    return d == OH_ENGINE_SENDRECV || d == OH_ENGINE_SENDONLY;
}

static int receives(oh_engine_direction d)
{
    return d == OH_ENGINE_SENDRECV || d == OH_ENGINE_RECVONLY;
}

/* Converts n_in samples with rs (or copies when rs is NULL) into exactly
 * n_out samples: the resampler's output per call can differ by one from the
 * ratio at some phases; a missing sample is zero-padded, never read unset. */
static void convert(oh_resampler *rs, const int16_t *in, size_t n_in, int16_t *out, size_t cap, size_t n_out)
{
    size_t got = 0;
    if (!rs) {
        got = n_in < n_out ? n_in : n_out;
        memcpy(out, in, got * sizeof *in);
    } else {
        int m = oh_resampler_process(rs, in, n_in, out, cap);
        got = m > 0 ? (size_t)m : 0;
        if (got > n_out)
            got = n_out;
    }
    if (got < n_out)
        memset(out + got, 0, (n_out - got) * sizeof *out);
}

static oh_status make_resampler(int in_rate, int out_rate, oh_resampler **out)
{
    *out = NULL;
    if (in_rate == out_rate)
        return OH_OK;
    oh_resampler_config cfg;
    oh_resampler_config_default(&cfg);
    cfg.in_rate = in_rate;
    cfg.out_rate = out_rate;
    cfg.channels = 1;
    return oh_resampler_create(&cfg, out);
}

/* The PCM rate the codec runs at in this engine: the engine's own when the
 * codec can (Opus at 8/16/48 kHz), so no resampling is needed; else native. */
static int codec_rate_for(oh_codec_id id, int engine_rate)
{
    switch (id) {
    case OH_CODEC_PCMU:
    case OH_CODEC_PCMA:
        return 8000;
    case OH_CODEC_G722:
        return 16000;
    case OH_CODEC_OPUS:
        return engine_rate == 32000 ? 48000 : engine_rate;
    }
    return 0;
}

/* Everything a stream's codec decides: built by the calling thread, handed to
 * the media thread whole (stream_create, or CMD_SET_CODEC, which swaps it in
 * and hands back the old one to free). rtp_src, dtx and drx depend only on
 * the RTP clock: a codec change at the same clock keeps the stream's (NULL
 * here), so RFC 3550 statistics and a digit in flight carry on. */
typedef struct codec_parts {
    oh_codec *enc;
    oh_playout *pl;
    oh_resampler *rs_send, *rs_recv;
    oh_rtp_source *rtp_src;
    oh_dtmf_rtp_sender *dtx;
    oh_dtmf_rtp_receiver *drx;
    int16_t *codec_buf;
    size_t codec_buf_cap;
    int16_t *dec_buf;
    size_t dec_cap;
    uint8_t *payload;
    size_t payload_cap;
    uint8_t *pkt;
    size_t pkt_cap;
    int codec_frame;
    uint32_t rtp_samples;
    uint32_t rtp_clock;
    int payload_type;
    oh_codec_id codec_id;
} codec_parts;

static void codec_parts_free(codec_parts *p)
{
    oh_codec_destroy(p->enc);
    oh_playout_destroy(p->pl);
    oh_resampler_destroy(p->rs_send);
    oh_resampler_destroy(p->rs_recv);
    oh_rtp_source_destroy(p->rtp_src);
    oh_dtmf_rtp_sender_destroy(p->dtx);
    oh_dtmf_rtp_receiver_destroy(p->drx);
    oh_free(p->codec_buf);
    oh_free(p->dec_buf);
    oh_free(p->payload);
    oh_free(p->pkt);
    memset(p, 0, sizeof *p);
}

/* keep_clock: the RTP clock of the stream's current rtp_src/dtx/drx (kept
 * when the new codec has the same), 0 to make them. */
static oh_status codec_parts_create(const oh_engine *eng, const oh_codec_config *codec, int payload_type,
                                    int dtmf_pt, uint32_t keep_clock, int send_ticks, codec_parts *p)
{
    memset(p, 0, sizeof *p);
    if ((int)codec->id < 0 || (int)codec->id >= OH_CODEC_COUNT || payload_type < 0 || payload_type > 127 ||
        payload_type == dtmf_pt)
        return OH_EINVAL;
    oh_codec_config ccfg = *codec;
    if (ccfg.sample_rate == 0)
        ccfg.sample_rate = codec_rate_for(ccfg.id, eng->cfg.sample_rate);
    int crate = ccfg.sample_rate;
    oh_playout_config pcfg;
    oh_playout_config_default(&pcfg, ccfg.id);
    pcfg.codec = ccfg;
    pcfg.jitter.frame_ms = eng->cfg.ptime_ms;
    if (ccfg.id == OH_CODEC_OPUS)
        pcfg.jitter.max_payload = 1276; /* RFC 6716: the largest Opus frame */
    /* Room for the playout's largest delay (max_delay_ms, 1 s) in packets of
     * one tick, not the default's 128 at any ptime: the packet store is
     * most of a stream's memory (128 x 512 bytes), and half of it is never
     * used at 20 ms. */
    pcfg.jitter.capacity = eng->cfg.ptime_ms == 20 ? 64 : 128;
    int clock = pcfg.jitter.clock_rate;
    p->codec_id = ccfg.id;
    p->payload_type = payload_type;
    p->rtp_clock = (uint32_t)clock;
    p->codec_frame = crate * eng->cfg.ptime_ms / 1000;
    p->rtp_samples = (uint32_t)(clock * eng->cfg.ptime_ms / 1000);
    oh_status st;
    if ((st = oh_codec_create(&ccfg, &p->enc)) != OH_OK || (st = oh_playout_create(&pcfg, &p->pl)) != OH_OK ||
        (st = make_resampler(eng->cfg.sample_rate, crate, &p->rs_send)) != OH_OK ||
        (st = make_resampler(crate, eng->cfg.sample_rate, &p->rs_recv)) != OH_OK)
        goto fail;
    if ((uint32_t)clock != keep_clock) {
        oh_rtp_source_config rcfg;
        oh_rtp_source_config_default(&rcfg);
        rcfg.clock_rate = clock;
        if ((st = oh_rtp_source_create(&rcfg, &p->rtp_src)) != OH_OK)
            goto fail;
        if (dtmf_pt >= 0) {
            oh_dtmf_rtp_sender_config dcfg;
            oh_dtmf_rtp_sender_config_default(&dcfg);
            dcfg.clock_rate = clock; /* RFC 4733 2.1: the event clock is the audio's */
            dcfg.ptime_ms = eng->cfg.ptime_ms;
            if ((st = oh_dtmf_rtp_sender_create(&dcfg, &p->dtx)) != OH_OK ||
                (st = oh_dtmf_rtp_receiver_create(&p->drx)) != OH_OK)
                goto fail;
        }
    }
    /* a packet's ticks are converted one after the other into codec_buf */
    size_t last_tick = (size_t)p->codec_frame + 8;
    if (p->rs_send && oh_resampler_max_output(p->rs_send, (size_t)eng->frame) + 8 > last_tick)
        last_tick = oh_resampler_max_output(p->rs_send, (size_t)eng->frame) + 8;
    size_t packet_frame = (size_t)send_ticks * (size_t)p->codec_frame;
    p->codec_buf_cap = packet_frame - (size_t)p->codec_frame + last_tick;
    p->dec_cap = oh_playout_frame_samples(p->pl);
    p->payload_cap = oh_codec_max_payload(p->enc, packet_frame);
    if (p->payload_cap < 16)
        p->payload_cap = 16;
    p->pkt_cap = p->payload_cap + OH_RTP_MAX_HEADER + OH_SRTP_MAX_OVERHEAD;
    p->codec_buf = oh_alloc(p->codec_buf_cap * sizeof *p->codec_buf);
    p->dec_buf = oh_alloc(p->dec_cap * sizeof *p->dec_buf);
    p->payload = oh_alloc(p->payload_cap);
    p->pkt = oh_alloc(p->pkt_cap);
    if (!p->codec_buf || !p->dec_buf || !p->payload || !p->pkt) {
        st = OH_ENOMEM;
        goto fail;
    }
    if ((size_t)p->codec_frame * 1000 != (size_t)crate * (size_t)eng->cfg.ptime_ms ||
        oh_codec_max_payload(p->enc, packet_frame) == 0) {
        st = OH_EUNSUPPORTED;
        goto fail;
    }
    return OH_OK;
fail:
    codec_parts_free(p);
    return st;
}

#define SWAP(a, b)                                                                                        \
    do {                                                                                                  \
        __typeof__(a) swap_tmp_ = (a);                                                                    \
        (a) = (b);                                                                                        \
        (b) = swap_tmp_;                                                                                  \
    } while (0)

/* Swaps p's parts into s; p gets the replaced ones (to free). */
/* A packet being filled (send_ptime_ms over several ticks) that will not
 * be sent: its ticks' timestamps pass unused, as a suppressed frame's do. */
static void drop_filled(stream *s)
{
    if (s->filled_ticks == 0)
        return;
    oh_rtp_sender_skip(s->sender, (uint32_t)s->filled_ticks * s->rtp_samples);
    s->filled_ticks = 0;
}

static void codec_parts_swap(stream *s, codec_parts *p)
{
    SWAP(s->enc, p->enc);
    SWAP(s->pl, p->pl);
    SWAP(s->rs_send, p->rs_send);
    SWAP(s->rs_recv, p->rs_recv);
    if (p->rtp_src) {
        SWAP(s->rtp_src, p->rtp_src);
        SWAP(s->dtx, p->dtx);
        SWAP(s->drx, p->drx);
    }
    SWAP(s->codec_buf, p->codec_buf);
    SWAP(s->codec_buf_cap, p->codec_buf_cap);
    SWAP(s->dec_buf, p->dec_buf);
    SWAP(s->dec_cap, p->dec_cap);
    SWAP(s->payload, p->payload);
    SWAP(s->payload_cap, p->payload_cap);
    SWAP(s->pkt, p->pkt);
    SWAP(s->pkt_cap, p->pkt_cap);
    SWAP(s->codec_frame, p->codec_frame);
    SWAP(s->rtp_samples, p->rtp_samples);
    SWAP(s->rtp_clock, p->rtp_clock);
    SWAP(s->payload_type, p->payload_type);
    SWAP(s->codec_id, p->codec_id);
}

static oh_status stream_create(const oh_engine *eng, const oh_engine_stream_config *cfg, stream **out,
                               int *sys_errno)
{
    *out = NULL;
    if (cfg->payload_type < 0 || cfg->payload_type > 127 || cfg->direction < OH_ENGINE_SENDRECV ||
        cfg->direction > OH_ENGINE_INACTIVE || (int)cfg->codec.id < 0 || (int)cfg->codec.id >= OH_CODEC_COUNT ||
        cfg->dtmf_payload_type < -1 || cfg->dtmf_payload_type > 127 ||
        cfg->dtmf_payload_type == cfg->payload_type || cfg->rtcp_interval_ms < 100 ||
        cfg->rtcp_interval_ms > 60000 || memchr(cfg->cname, 0, sizeof cfg->cname) == NULL ||
        (cfg->rtp_timeout_ms != 0 && (cfg->rtp_timeout_ms < 100 || cfg->rtp_timeout_ms > 3600000)) ||
        cfg->inband_dtmf < -1 || cfg->inband_dtmf > 1 || cfg->rtcp_mux < 0 || cfg->rtcp_mux > 1 ||
        memchr(cfg->remote_rtcp_addr, 0, sizeof cfg->remote_rtcp_addr) == NULL || cfg->remote_rtcp_port < 0 ||
        cfg->remote_rtcp_port > 65535 || cfg->cn_payload_type < -1 || cfg->cn_payload_type > 127 ||
        (cfg->cn_payload_type >= 0 && (cfg->cn_payload_type == cfg->payload_type ||
                                       cfg->cn_payload_type == cfg->dtmf_payload_type)) ||
        cfg->vad < 0 || cfg->vad > 1 || (cfg->vad && cfg->cn_payload_type < 0) ||
        (cfg->send_ptime_ms != 0 && (cfg->send_ptime_ms < OH_ENGINE_MIN_SEND_PTIME_MS ||
                                     cfg->send_ptime_ms > OH_ENGINE_MAX_SEND_PTIME_MS ||
                                     (cfg->send_ptime_ms % eng->cfg.ptime_ms != 0 &&
                                      eng->cfg.ptime_ms % cfg->send_ptime_ms != 0))))
        return OH_EINVAL;
    struct sockaddr_storage local;
    socklen_t local_len;
    if (parse_addr(cfg->local_addr, cfg->local_port, &local, &local_len) != OH_OK)
        return OH_EINVAL;
    stream *s = oh_alloc(sizeof *s);
    if (!s)
        return OH_ENOMEM;
    s->fd = -1;
    s->rtcp_fd = -1;
    s->dir = cfg->direction;
    s->talkspurt = 1;
    s->dtmf_pt = cfg->dtmf_payload_type;
    s->cn_pt = cfg->cn_payload_type;
    s->rtcp_interval_ms = cfg->rtcp_interval_ms;
    s->next_rtcp_ms = -1.0;
    s->rng = random64() | 1;
    s->st.rtcp.rtt_ms = -1.0;
    s->rtp_timeout_ms = cfg->rtp_timeout_ms;
    s->last_rtp_ms = -1.0;
    oh_status st = OH_OK;
    if (cfg->remote_addr[0]) {
        st = parse_addr(cfg->remote_addr, cfg->remote_port, &s->remote, &s->remote_len);
        if (st != OH_OK || cfg->remote_port == 0 || s->remote.ss_family != local.ss_family) {
            stream_free(s);
            return OH_EINVAL;
        }
        if (!cfg->rtcp_mux) {
            int rport = cfg->remote_rtcp_port ? cfg->remote_rtcp_port : cfg->remote_port + 1;
            const char *raddr = cfg->remote_rtcp_addr[0] ? cfg->remote_rtcp_addr : cfg->remote_addr;
            if (rport > 65535 || parse_addr(raddr, rport, &s->rtcp_remote, &s->rtcp_remote_len) != OH_OK ||
                s->rtcp_remote.ss_family != local.ss_family) {
                stream_free(s);
                return OH_EINVAL;
            }
        }
    }
    codec_parts parts;
    int tick = eng->cfg.ptime_ms;
    s->send_ticks = cfg->send_ptime_ms >= tick ? cfg->send_ptime_ms / tick : 1;
    s->send_split = cfg->send_ptime_ms && cfg->send_ptime_ms < tick ? tick / cfg->send_ptime_ms : 1;
    if ((st = codec_parts_create(eng, &cfg->codec, cfg->payload_type, s->dtmf_pt, 0, s->send_ticks,
                                 &parts)) != OH_OK) {
        stream_free(s);
        return st;
    }
    codec_parts_swap(s, &parts); /* parts now holds the stream's NULLs */

    oh_rtp_sender_config scfg;
    oh_rtp_sender_config_default(&scfg);
    scfg.ssrc = cfg->ssrc ? cfg->ssrc : (uint32_t)random64();
    if (!scfg.ssrc)
        scfg.ssrc = 1;
    scfg.payload_type = cfg->payload_type;
    scfg.clock_rate = (int)s->rtp_clock;
    scfg.seed = random64();
    if ((st = oh_rtp_sender_create(&scfg, &s->sender)) != OH_OK) {
        stream_free(s);
        return st;
    }
    s->st.local_ssrc = scfg.ssrc;
    if (cfg->cname[0])
        s->cname_len = (size_t)snprintf(s->cname, sizeof s->cname, "%s", cfg->cname);
    else
        s->cname_len = (size_t)snprintf(s->cname, sizeof s->cname, "offhook-%08x", (unsigned)scfg.ssrc);
    s->eng_buf = oh_alloc(((size_t)eng->frame + 8) * sizeof *s->eng_buf);
    s->echo_buf = oh_alloc((size_t)eng->frame * sizeof *s->echo_buf);
    s->rtcp_buf = oh_alloc(RTCP_BUF_CAP);
    s->sent_buf = oh_alloc((size_t)eng->frame * sizeof *s->sent_buf);
    s->rec_buf = oh_alloc(2 * (size_t)eng->frame * sizeof *s->rec_buf);
    if (!s->eng_buf || !s->echo_buf || !s->rtcp_buf || !s->sent_buf || !s->rec_buf) {
        stream_free(s);
        return OH_ENOMEM;
    }
    if (cfg->inband_dtmf == 1 || (cfg->inband_dtmf == -1 && cfg->dtmf_payload_type < 0)) {
        oh_dtmf_det_config dcfg;
        oh_dtmf_det_config_default(&dcfg);
        dcfg.sample_rate = eng->cfg.sample_rate;
        dcfg.max_events = 8;
        if ((st = oh_dtmf_det_create(&dcfg, &s->det)) != OH_OK) {
            stream_free(s);
            return st;
        }
        s->st.inband_dtmf = 1;
    }
    if (cfg->vad && (st = oh_vad_create(eng->cfg.sample_rate, eng->frame, &s->vad)) != OH_OK) {
        stream_free(s);
        return st;
    }
    s->cn_refresh_ticks = CN_REFRESH_MS / eng->cfg.ptime_ms;
    if (cfg->srtp) {
        if ((st = oh_srtp_create(&cfg->srtp_keys, &s->srtp)) != OH_OK) {
            stream_free(s);
            return st;
        }
        s->st.srtp = 1;
    }

    if (bind_pair(&local, local_len, !cfg->rtcp_mux, &s->fd, &s->rtcp_fd) != 0) {
        if (sys_errno)
            *sys_errno = errno;
        stream_free(s);
        return OH_EIO;
    }
    struct sockaddr_storage bound;
    socklen_t blen = sizeof bound;
    if (getsockname(s->fd, (struct sockaddr *)&bound, &blen) != 0) {
        if (sys_errno)
            *sys_errno = errno;
        stream_free(s);
        return OH_EIO;
    }
    char ignored[OH_ENGINE_ADDR_LEN];
    addr_to_str(&bound, ignored, sizeof ignored, &s->local_port);
    if (s->rtcp_fd >= 0)
        s->local_rtcp_port = s->local_port + 1;
    *out = s;
    return OH_OK;
}

/* ---- the media thread ---- */

/* Stream tags are their pointers, with the low bit set for the RTCP socket
 * (a stream is aligned far beyond 2); the eventfd and timerfd use small
 * values no allocation can have. */
static int watch(int epfd, int fd, uint64_t tag)
{
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN;
    ev.data.u64 = tag;
    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

static void stream_snapshot(const stream *s, oh_engine_stream_stats *out)
{
    *out = s->st;
    out->latched = s->latched;
    out->remote_ssrc = s->latched ? s->latched_ssrc : 0;
    if (s->latched)
        addr_to_str(&s->latched_addr, out->latched_addr, sizeof out->latched_addr, &out->latched_port);
    oh_rtp_source_get_stats(s->rtp_src, &out->source);
    oh_playout_get_stats(s->pl, &out->playout);
    out->recorded_frames = s->rec ? oh_wav_writer_frames(s->rec) : 0;
    out->dtmf_pending = s->dq_len + (s->dtx && oh_dtmf_rtp_sender_busy(s->dtx));
    out->rtp_timed_out = s->timed_out;
    out->local = s->src.kind == SRC_LOCAL;
    out->conference_room = s->room ? s->room->id : -1;
    out->tap = s->tap != NULL;
    out->rtcp_mux = s->rtcp_fd < 0;
    out->local_rtcp_port = s->local_rtcp_port;
}

static void local_snapshot(oh_engine *e, oh_engine_local_stats *ls)
{
    *ls = e->st.local;
    ls->attached = e->port != NULL;
    ls->muted = e->local_muted;
    ls->playback_gain_q14 = e->gain_play;
    ls->capture_gain_q14 = e->gain_cap;
    ls->aec = e->aec != NULL;
    ls->aec_latency = e->aec ? oh_aec_latency(e->aec) : 0;
    if (e->aec)
        oh_aec_get_stats(e->aec, &ls->aec_stats);
    else
        memset(&ls->aec_stats, 0, sizeof ls->aec_stats);
    ls->capture_to_send_ms_mean = e->c2s_n ? e->c2s_sum / (double)e->c2s_n : 0.0;
    ls->capture_to_send_ms_max = e->c2s_max;
    ls->capture_to_send_samples = e->c2s_n;
    e->c2s_sum = e->c2s_max = 0.0;
    e->c2s_n = 0;
}

static void apply(oh_engine *e, cmd *c)
{
    stream *s = c->s;
    switch (c->type) {
    case CMD_ADD:
        if (watch(e->epfd, s->fd, (uint64_t)(uintptr_t)s) != 0) {
            c->result = OH_EIO; /* the caller frees the stream */
            break;
        }
        if (s->rtcp_fd >= 0 && watch(e->epfd, s->rtcp_fd, (uint64_t)(uintptr_t)s | 1u) != 0) {
            epoll_ctl(e->epfd, EPOLL_CTL_DEL, s->fd, NULL);
            c->result = OH_EIO;
            break;
        }
        e->active[e->n_active++] = s;
        c->result = OH_OK;
        break;
    case CMD_REMOVE:
        for (int i = 0; i < e->n_active; i++) {
            if (e->active[i] == s) {
                e->active[i] = e->active[--e->n_active];
                break;
            }
        }
        c->emptied = room_leave(e, s);
        epoll_ctl(e->epfd, EPOLL_CTL_DEL, s->fd, NULL);
        if (s->rtcp_fd >= 0)
            epoll_ctl(e->epfd, EPOLL_CTL_DEL, s->rtcp_fd, NULL);
        break;
    case CMD_SET_REMOTE:
        c->result = OH_OK;
        if (c->rtcp_mux == 1 && s->rtcp_fd >= 0) {
            epoll_ctl(e->epfd, EPOLL_CTL_DEL, s->rtcp_fd, NULL);
            c->rtcp_fd = s->rtcp_fd; /* the caller closes it */
            s->rtcp_fd = -1;
            s->local_rtcp_port = 0;
        } else if (c->rtcp_mux == 0 && s->rtcp_fd < 0 && c->rtcp_fd >= 0) {
            if (watch(e->epfd, c->rtcp_fd, (uint64_t)(uintptr_t)s | 1u) != 0) {
                c->result = OH_EIO; /* the caller closes it; nothing changes */
                break;
            }
            s->rtcp_fd = c->rtcp_fd;
            s->local_rtcp_port = c->rtcp_port;
            c->rtcp_fd = -1;
        }
        s->rtcp_remote = c->rtcp_addr;
        s->rtcp_remote_len = c->rtcp_addr_len;
        s->remote = c->addr;
        s->remote_len = c->addr_len;
        s->latched = 0;
        s->cand_count = 0;
        oh_rtp_source_reset(s->rtp_src);
        s->talkspurt = 1;
        s->last_rtp_ms = -1.0;
        s->timed_out = 0;
        break;
    case CMD_SET_DIR:
        if (receives((oh_engine_direction)c->dir) && !receives(s->dir)) {
            oh_playout_reset(s->pl); /* hold ends: old timing means nothing now */
            s->last_rtp_ms = -1.0;   /* and the timeout watch starts again */
            s->timed_out = 0;
        }
        s->dir = (oh_engine_direction)c->dir;
        break;
    case CMD_SET_SOURCE: {
        source old = s->src;
        if (c->src.kind == SRC_ECHO)
            memset(s->echo_buf, 0, (size_t)e->frame * sizeof *s->echo_buf);
        s->src = c->src;
        c->src = old;
        s->st.source_done = 0;
        break;
    }
    case CMD_SET_RECORD: {
        oh_wav_writer *old = s->rec;
        s->rec = c->rec;
        s->rec_mode = c->rec_mode;
        s->rec_failed = 0;
        c->rec = old;
        break;
    }
    case CMD_STATS:
        stream_snapshot(s, c->stats);
        break;
    case CMD_ENGINE_STATS:
        *c->estats = e->st;
        c->estats->streams = e->n_active;
        c->estats->events_dropped = atomic_load_explicit(&e->ev_dropped, memory_order_relaxed);
        c->estats->send_lag_ms_mean = e->lag_n ? e->lag_sum / (double)e->lag_n : 0.0;
        c->estats->send_lag_ms_max = e->lag_max;
        c->estats->send_lag_samples = e->lag_n;
        e->lag_sum = e->lag_max = 0.0;
        e->lag_n = 0;
        local_snapshot(e, &c->estats->local);
        break;
    case CMD_ATTACH: {
        int was = e->port != NULL;
        oh_aec *old = e->aec;
        e->port = c->port;
        e->aec = c->aec;
        e->aec_on = c->aec_on;
        e->max_queue = c->max_queue;
        c->aec = old;
        size_t bytes = (size_t)e->frame * sizeof *e->local_out;
        memset(e->local_near, 0, bytes);
        memset(e->local_out, 0, bytes);
        memset(e->local_play, 0, bytes);
        memset(e->local_acc, 0, (size_t)e->frame * sizeof *e->local_acc);
        e->cap_window = 0;
        e->play_slip = 0;
        if (e->port) {
            oh_devport_stats ds;
            oh_devport_get_stats(e->port, &ds);
            e->play_missing_seen = ds.playback.missing;
        }
        c->result = OH_OK;
        if (e->port && !was) {
            c->result = oh_mixer_add(e->mixer, LOCAL_ID, 1.0);
            if (c->result != OH_OK) { /* the conference is full: nothing attached */
                c->aec = e->aec;      /* not attached before, so no old canceller: free the new */
                e->aec = NULL;
                e->port = NULL;
            }
        } else if (!e->port && was) {
            oh_mixer_remove(e->mixer, LOCAL_ID);
        }
        break;
    }
    case CMD_MUTE:
        e->local_muted = c->dir;
        break;
    case CMD_GAIN:
        e->gain_play = c->gain_play;
        e->gain_cap = c->gain_cap;
        break;
    case CMD_STOP:
        e->stop = 1;
        break;
    case CMD_DTMF_SEND:
        if (s->dq_len + c->n > OH_ENGINE_DTMF_QUEUE) {
            c->result = OH_EBUFSIZE;
            break;
        }
        for (int i = 0; i < c->n; i++) {
            int k = (s->dq_head + s->dq_len++) % OH_ENGINE_DTMF_QUEUE;
            s->dq_digit[k] = c->digits[i];
            s->dq_ms[k] = c->duration_ms;
        }
        c->result = OH_OK;
        break;
    case CMD_CONF: {
        /* c->n: the room to be in, -1 none. A room another caller made in
         * the meantime cannot exist: callers are serialised by mu. */
        conf_room *target = c->n >= 0 ? find_room(e, c->n) : NULL;
        if (c->n >= 0 && !target)
            target = c->room;
        c->result = OH_OK;
        if (target && target == s->room)
            break; /* already there */
        if (target) {
            /* into the new mixer first: when full, the stream stays where it was
             * (and a new room goes back to the caller) */
            c->result = target->n >= target->cap ? OH_EBUFSIZE
                                                 : oh_mixer_add(target->mixer, (uint32_t)s->id, 1.0);
            if (c->result != OH_OK)
                break;
        }
        c->emptied = room_leave(e, s);
        if (!target)
            break;
        if (target == c->room) {
            e->rooms[e->n_rooms++] = target;
            c->room = NULL;
        }
        target->members[target->n++] = s;
        s->room = target;
        break;
    }
    case CMD_TAP: {
        oh_ring *old = s->tap;
        s->tap = c->tap;
        c->tap = old;
        c->result = OH_OK;
        break;
    }
    case CMD_SET_CODEC:
        drop_filled(s); /* the old codec's audio */
        codec_parts_swap(s, c->parts);
        oh_rtp_sender_set_payload_type(s->sender, s->payload_type);
        s->talkspurt = 1; /* a new codec starts a talkspurt (the marker tells the peer) */
        break;
    case CMD_DTMF_DRAIN:
        c->n = 0;
        while (s->evq_len > 0 && c->n < c->n_cap) {
            c->events[c->n++] = s->evq[s->evq_head];
            s->evq_head = (s->evq_head + 1) % OH_ENGINE_DTMF_QUEUE;
            s->evq_len--;
        }
        c->result = OH_OK;
        break;
    }
}

static void take_command(oh_engine *e)
{
    uint64_t v;
    ssize_t r = read(e->efd, &v, sizeof v);
    (void)r; /* EAGAIN when already drained: the mailbox is checked anyway */
    pthread_mutex_lock(&e->mu);
    if (e->pending) {
        apply(e, e->pending);
        e->pending = NULL;
        pthread_cond_broadcast(&e->cv);
    }
    pthread_mutex_unlock(&e->mu);
}

static double ntp_now(uint32_t *sec, uint32_t *frac)
{
    struct timespec rt;
    clock_gettime(CLOCK_REALTIME, &rt);
    double unix_ms = (double)rt.tv_sec * 1e3 + (double)rt.tv_nsec / 1e6;
    oh_ntp_from_unix_ms(unix_ms, sec, frac);
    return unix_ms;
}

/* A received digit (telephone-event or inband) as an event, and into the
 * bounded queue Python drains; a full queue counts the digit as dropped. */
static void queue_dtmf(stream *s, oh_engine_event *ev)
{
    stream_event(s, OH_ENGINE_EV_DTMF, ev);
    if (s->evq_len == OH_ENGINE_DTMF_QUEUE) {
        s->st.dtmf_dropped++;
        return;
    }
    oh_engine_dtmf_event *q = &s->evq[(s->evq_head + s->evq_len++) % OH_ENGINE_DTMF_QUEUE];
    q->digit = ev->digit;
    q->event = ev->event;
    q->duration_ms = ev->duration_ms;
    q->inband = ev->inband;
}

static void on_event(stream *s, const oh_rtp_header *h, const uint8_t *buf, size_t n)
{
    oh_dtmf_rtp_report rep;
    int r = oh_dtmf_rtp_receiver_put(s->drx, h->timestamp, buf + h->payload_offset, h->payload_len, &rep,
                                     NULL);
    if (r < 0) {
        s->st.dropped_invalid++;
        return;
    }
    s->st.packets_received++;
    s->st.bytes_received += n;
    if (!(r & OH_DTMF_RTP_END))
        return;
    s->st.dtmf_received++;
    char d = oh_dtmf_rtp_digit(rep.event);
    oh_engine_event e;
    memset(&e, 0, sizeof e);
    e.digit = d ? d : '?';
    e.event = rep.event;
    e.duration_ms = (int)((uint64_t)rep.duration * 1000u / s->rtp_clock);
    queue_dtmf(s, &e);
}

/* Inband DTMF: the detector on this tick's decoded audio (engine rate);
 * each digit it reports is queued like a telephone-event, with inband = 1. */
static void inband_dtmf(oh_engine *e, stream *s, const int16_t *pcm, size_t n)
{
    size_t done = 0;
    for (int guard = 0; done < n && guard < 64; guard++) {
        int used = oh_dtmf_det_process(s->det, pcm + done, n - done);
        if (used < 0)
            return;
        done += (size_t)used;
        oh_dtmf_event de;
        while (oh_dtmf_det_get_event(s->det, &de) == 1) {
            s->st.dtmf_inband++;
            oh_engine_event ev;
            memset(&ev, 0, sizeof ev);
            ev.digit = de.digit;
            int code = oh_dtmf_rtp_event_code(de.digit);
            ev.event = (uint8_t)(code < 0 ? 0 : code);
            ev.duration_ms = (int)((uint64_t)de.duration * 1000u / (uint64_t)e->cfg.sample_rate);
            ev.inband = 1;
            queue_dtmf(s, &ev);
        }
    }
}

static void on_rtcp(stream *s, const uint8_t *buf, size_t n, const struct sockaddr_storage *from,
                    double arrival_ms, int own_port)
{
    s->st.rtcp_received++;
    if (s->latched && !(own_port ? same_host(from, &s->latched_addr) : same_addr(from, &s->latched_addr)))
        return; /* not our peer's: ignored (RTCP needs no latch of its own) */
    oh_rtcp_info info;
    if (oh_rtcp_parse(buf, n, &info, NULL) != OH_OK) {
        s->st.rtcp.invalid++;
        return;
    }
    oh_engine_rtcp_stats *r = &s->st.rtcp;
    r->received++;
    uint32_t peer = s->latched_ssrc;
    if (info.has_sr && (!s->latched || info.sr.ssrc == peer)) {
        r->sr_received++;
        if (s->latched)
            oh_rtp_source_on_sr(s->rtp_src, info.sr.ntp_sec, info.sr.ntp_frac, arrival_ms);
    }
    for (int i = 0; i < info.block_count; i++) {
        const oh_rtcp_report_block *b = &info.blocks[i];
        if (b->ssrc != s->st.local_ssrc)
            continue;
        r->peer_reports++;
        r->peer_fraction_lost = b->fraction_lost / 256.0;
        r->peer_cumulative_lost = b->cumulative_lost;
        r->peer_jitter_ms = (double)b->jitter * 1000.0 / (double)s->rtp_clock;
        r->peer_extended_max_seq = b->extended_max_seq;
        uint32_t sec, frac;
        ntp_now(&sec, &frac);
        double rtt;
        if (b->lsr && oh_rtcp_rtt(oh_ntp_middle(sec, frac), b->lsr, b->dlsr, &rtt) == OH_OK) {
            r->rtt_ms = rtt;
            r->rtt_samples++;
        }
    }
    if (info.has_cname && (!s->latched || info.cname_ssrc == peer)) {
        size_t len = info.cname_len < OH_RTCP_MAX_TEXT ? info.cname_len : OH_RTCP_MAX_TEXT;
        memcpy(r->peer_cname, info.cname, len);
        r->peer_cname[len] = 0;
    }
    if (info.has_bye) {
        for (int i = 0; i < info.bye_count; i++) {
            if (!s->latched || info.bye_ssrcs[i] == peer) {
                size_t len = info.reason_len;
                memcpy(r->bye_reason, info.reason, len);
                r->bye_reason[len] = 0;
                if (!r->bye) {
                    oh_engine_event ev;
                    memset(&ev, 0, sizeof ev);
                    ev.ssrc = info.bye_ssrcs[i];
                    memcpy(ev.reason, info.reason, len);
                    stream_event(s, OH_ENGINE_EV_BYE, &ev);
                }
                r->bye = 1;
                break;
            }
        }
    }
}

/* RR or SR (+ a block on the peer) + SDES CNAME, and BYE when leaving.
 * Returns the length, or 0 when nothing could be built. */
static size_t build_rtcp(stream *s, double now_ms, int bye)
{
    uint8_t *b = s->rtcp_buf;
    oh_rtcp_report_block rb;
    int nb = s->latched && oh_rtp_source_report(s->rtp_src, now_ms, &rb) == OH_OK;
    oh_rtp_sender_stats ss;
    oh_rtp_sender_get_stats(s->sender, &ss);
    int len;
    if (ss.packets > s->packets_at_report && !bye) {
        oh_rtcp_sender_info si;
        si.ssrc = ss.ssrc;
        ntp_now(&si.ntp_sec, &si.ntp_frac);
        si.rtp_timestamp = ss.timestamp;
        si.packet_count = (uint32_t)ss.packets;
        si.octet_count = (uint32_t)ss.octets;
        len = oh_rtcp_write_sr(&si, &rb, nb, b, RTCP_BUF);
    } else {
        len = oh_rtcp_write_rr(ss.ssrc, &rb, nb, b, RTCP_BUF);
    }
    s->packets_at_report = ss.packets;
    if (len <= 0)
        return 0;
    int m = oh_rtcp_write_sdes_cname(ss.ssrc, s->cname, s->cname_len, b + len, RTCP_BUF - (size_t)len);
    if (m <= 0)
        return 0;
    len += m;
    if (bye) {
        m = oh_rtcp_write_bye(&ss.ssrc, 1, NULL, 0, b + len, RTCP_BUF - (size_t)len);
        if (m <= 0)
            return 0;
        len += m;
    }
    return (size_t)len;
}

static void count_srtp_refusal(stream *s, oh_pkt_defect d)
{
    if (d == OH_PKT_AUTH_FAIL)
        s->st.srtp_auth_failed++;
    else if (d == OH_PKT_REPLAY)
        s->st.srtp_replayed++;
    else
        s->st.srtp_failed++;
}

/* SRTCP-protects the len bytes of rtcp_buf in place when the stream runs
 * SRTP; the length to send, 0 when it cannot be protected. */
static size_t protect_rtcp(stream *s, size_t len)
{
    if (!s->srtp || len == 0)
        return len;
    oh_pkt_defect d = OH_PKT_OK;
    int n = oh_srtp_protect_rtcp(s->srtp, s->rtcp_buf, len, s->rtcp_buf, RTCP_BUF_CAP, &d);
    if (n < 0) {
        s->st.srtp_failed++;
        return 0;
    }
    return (size_t)n;
}

/* U(0.5, 1.5) x the interval (RFC 3550 6.3.1), from the stream's own generator. */
static double rtcp_interval(stream *s)
{
    return s->rtcp_interval_ms * (0.5 + oh_rand_unit(&s->rng));
}

/* Sends len bytes of rtcp_buf on the RTP socket (mux) or the RTCP one. */
static int send_rtcp(const stream *s, size_t len)
{
    if (s->rtcp_fd < 0)
        return sendto(s->fd, s->rtcp_buf, len, MSG_DONTWAIT, (const struct sockaddr *)&s->remote, s->remote_len) ==
               (ssize_t)len;
    if (s->rtcp_remote_len == 0)
        return 0;
    return sendto(s->rtcp_fd, s->rtcp_buf, len, MSG_DONTWAIT, (const struct sockaddr *)&s->rtcp_remote,
                  s->rtcp_remote_len) == (ssize_t)len;
}

static void rtcp_tick(stream *s, double now_ms)
{
    if (s->remote_len == 0)
        return;
    if (s->next_rtcp_ms < 0) {
        s->next_rtcp_ms = now_ms + rtcp_interval(s) / 2;
        return;
    }
    if (now_ms < s->next_rtcp_ms)
        return;
    s->next_rtcp_ms = now_ms + rtcp_interval(s);
    size_t len = protect_rtcp(s, build_rtcp(s, now_ms, 0));
    if (len && send_rtcp(s, len))
        s->st.rtcp.sent++;
}

/* Sends RR + SDES + BYE for a stream no longer on the media thread. */
static void send_bye(stream *s)
{
    if (s->remote_len == 0 || s->fd < 0)
        return;
    size_t len = protect_rtcp(s, build_rtcp(s, 0.0, 1));
    if (len)
        (void)send_rtcp(s, len);
}

static void send_rtp(stream *s, int plen)
{
    if (plen < 0) {
        s->st.send_errors++;
        return;
    }
    if (s->srtp) {
        oh_pkt_defect d = OH_PKT_OK;
        plen = oh_srtp_protect(s->srtp, s->pkt, (size_t)plen, s->pkt, s->pkt_cap, &d);
        if (plen < 0) {
            s->st.srtp_failed++;
            s->st.send_errors++;
            return;
        }
    }
    ssize_t sent = sendto(s->fd, s->pkt, (size_t)plen, MSG_DONTWAIT, (struct sockaddr *)&s->remote,
                          s->remote_len);
    if (sent == plen) {
        s->st.packets_sent++;
        s->st.bytes_sent += (uint64_t)plen;
        struct oh_engine *e = s->eng;
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        double lag = ms_between(&e->deadline, &now);
        e->lag_sum += lag;
        e->lag_n++;
        if (lag > e->lag_max)
            e->lag_max = lag;
    } else {
        s->st.send_errors++;
    }
}

/* Sends this tick's telephone-event packet instead of audio: 1 when it did. */
static int dtmf_tick(oh_engine *e, stream *s)
{
    if (!s->dtx)
        return 0;
    if (!oh_dtmf_rtp_sender_busy(s->dtx)) {
        if (s->dtmf_gap > 0) {
            s->dtmf_gap--;
            return 0;
        }
        if (s->dq_len == 0)
            return 0;
        char d = s->dq_digit[s->dq_head];
        int ms = s->dq_ms[s->dq_head];
        s->dq_head = (s->dq_head + 1) % OH_ENGINE_DTMF_QUEUE;
        s->dq_len--;
        drop_filled(s); /* the event starts now, not with the packet being filled */
        oh_rtp_sender_stats ss;
        oh_rtp_sender_get_stats(s->sender, &ss);
        if (oh_dtmf_rtp_sender_start(s->dtx, oh_dtmf_rtp_event_code(d), ms, ss.timestamp) != OH_OK)
            return 0; /* validated by the caller: not reached */
        s->st.dtmf_sent++;
    }
    oh_dtmf_rtp_packet p;
    if (!oh_dtmf_rtp_sender_poll(s->dtx, &p))
        return 0;
    int plen = oh_rtp_sender_write_event(s->sender, s->dtmf_pt, p.timestamp, p.marker, p.payload,
                                         OH_DTMF_RTP_PAYLOAD, s->pkt, s->pkt_cap);
    oh_rtp_sender_skip(s->sender, s->rtp_samples);
    s->talkspurt = 1;
    if (p.last)
        s->dtmf_gap = (DTMF_GAP_MS + e->cfg.ptime_ms - 1) / e->cfg.ptime_ms;
    send_rtp(s, plen);
    return 1;
}

/* RTP (not an event) from the peer arrived: the timeout watch restarts. */
static void rtp_arrived(stream *s, uint32_t ssrc, double arrival_ms)
{
    if (s->timed_out) {
        s->timed_out = 0;
        oh_engine_event ev;
        memset(&ev, 0, sizeof ev);
        ev.ssrc = ssrc;
        ev.silent_ms = (int)(arrival_ms - s->last_rtp_ms);
        stream_event(s, OH_ENGINE_EV_RTP_RESUMED, &ev);
    }
    s->last_rtp_ms = arrival_ms;
}

/* A packet from the latched address with another SSRC: the peer may have
 * restarted its stream (a new SSRC after a re-INVITE or a transfer, RFC 3550
 * 8.2). OH_ENGINE_RELATCH_PACKETS in sequence, with nothing from the latched
 * SSRC in between, move the latch; a stray from another address never does.
 * 1 when this packet re-latched the stream. */
static int try_relatch(stream *s, const oh_rtp_header *h)
{
    if (s->cand_count > 0 && h->ssrc == s->cand_ssrc && h->seq == (uint16_t)(s->cand_seq + 1)) {
        s->cand_count++;
    } else {
        s->cand_ssrc = h->ssrc;
        s->cand_count = 1;
    }
    s->cand_seq = h->seq;
    if (s->cand_count < OH_ENGINE_RELATCH_PACKETS)
        return 0;
    oh_engine_event ev;
    memset(&ev, 0, sizeof ev);
    ev.old_ssrc = s->latched_ssrc;
    ev.ssrc = h->ssrc;
    s->latched_ssrc = h->ssrc;
    s->cand_count = 0;
    s->st.ssrc_changes++;
    oh_rtp_source_reset(s->rtp_src);
    if (s->drx)
        oh_dtmf_rtp_receiver_reset(s->drx);
    stream_event(s, OH_ENGINE_EV_SSRC_CHANGE, &ev);
    return 1;
}

static void on_datagram(stream *s, uint8_t *buf, size_t n, const struct sockaddr_storage *from,
                        double arrival_ms, int rtcp_port)
{
    if (rtcp_port || oh_rtp_is_rtcp(buf, n)) {
        if (s->srtp) {
            oh_pkt_defect d = OH_PKT_OK;
            int m = oh_srtp_unprotect_rtcp(s->srtp, buf, n, &d);
            if (m < 0) {
                s->st.rtcp_received++;
                count_srtp_refusal(s, d);
                return;
            }
            n = (size_t)m;
        }
        on_rtcp(s, buf, n, from, arrival_ms, rtcp_port);
        return;
    }
    if (s->srtp) {
        /* Before anything else, so only authenticated packets can latch (and
         * the rollover counter follows the peer even while on hold). */
        oh_pkt_defect d = OH_PKT_OK;
        int m = oh_srtp_unprotect(s->srtp, buf, n, &d);
        if (m < 0) {
            count_srtp_refusal(s, d);
            return;
        }
        n = (size_t)m;
    }
    if (!receives(s->dir)) {
        s->st.dropped_inactive++;
        return;
    }
    oh_rtp_header h;
    if (oh_rtp_parse(buf, n, &h, NULL) != OH_OK) {
        s->st.dropped_invalid++;
        return;
    }
    int is_event = s->dtmf_pt >= 0 && h.payload_type == s->dtmf_pt;
    int is_cn = s->cn_pt >= 0 && h.payload_type == s->cn_pt;
    if (h.payload_type != s->payload_type && !is_event && !is_cn) {
        s->st.dropped_payload_type++;
        return;
    }
    if (!s->latched) {
        s->latched = 1;
        s->latched_addr = *from;
        s->latched_ssrc = h.ssrc;
        oh_rtp_source_reset(s->rtp_src);
        if (s->drx)
            oh_dtmf_rtp_receiver_reset(s->drx);
    } else if (!same_addr(from, &s->latched_addr)) {
        s->st.dropped_stray++;
        return;
    } else if (h.ssrc != s->latched_ssrc) {
        if (!try_relatch(s, &h)) {
            s->st.dropped_stray++;
            return;
        }
    } else {
        s->cand_count = 0;
    }
    int v = oh_rtp_source_update(s->rtp_src, h.seq, h.ssrc, h.timestamp, arrival_ms);
    if (v < 0 || v == OH_RTP_SEQ_BAD)
        return; /* counted by the source as bad_seq */
    rtp_arrived(s, h.ssrc, arrival_ms);
    if (is_event) {
        on_event(s, &h, buf, n);
        return;
    }
    s->st.packets_received++;
    s->st.bytes_received += n;
    if (is_cn)
        s->st.cn_received++;
    int flags = (h.marker ? OH_JITTER_MARKER : 0) | (is_cn ? OH_JITTER_COMFORT_NOISE : 0);
    if (oh_playout_put(s->pl, h.seq, h.timestamp, h.ssrc, flags, buf + h.payload_offset, h.payload_len,
                       arrival_ms) != OH_OK)
        s->st.dropped_invalid++; /* a payload the codec cannot size, or over the store's max_payload */
}

/* rtcp_port: the stream's own RTCP socket (no rtcp-mux), where everything is RTCP. */
static void drain_socket(oh_engine *e, stream *s, int rtcp_port)
{
    for (int k = 0; k < RX_BURST; k++) {
        e->rx_msgs[k].msg_hdr.msg_namelen = sizeof e->rx_from[k];
        e->rx_msgs[k].msg_hdr.msg_flags = 0;
        e->rx_msgs[k].msg_len = 0;
    }
    int n = recvmmsg(rtcp_port ? s->rtcp_fd : s->fd, e->rx_msgs, RX_BURST, MSG_DONTWAIT, NULL);
    if (n <= 0)
        return; /* EAGAIN, or an ICMP error reported on the socket: nothing to read */
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double arrival = ms_between(&e->t0, &now);
    for (int k = 0; k < n; k++) {
        if (e->rx_msgs[k].msg_hdr.msg_flags & MSG_TRUNC) {
            s->st.dropped_invalid++;
            continue;
        }
        on_datagram(s, e->rx + (size_t)k * RX_SLOT, e->rx_msgs[k].msg_len, &e->rx_from[k], arrival, rtcp_port);
    }
}

static int16_t sat16(int32_t v)
{
    return (int16_t)(v > INT16_MAX ? INT16_MAX : v < INT16_MIN ? INT16_MIN : v);
}

/* Q14 gain with rounding and saturation: exact unity is skipped by the
 * callers, so the volume costs nothing at its default. */
static void apply_gain(int16_t *x, size_t n, int32_t q14)
{
    for (size_t i = 0; i < n; i++)
        x[i] = sat16((int32_t)(((int64_t)x[i] * q14 + (1 << 13)) >> 14));
}

/* Appends this tick to the recording: eng_buf is what was received,
 * sent_buf what was sent (REC_MIX, REC_STEREO). */
static void record_frame(stream *s, size_t frame)
{
    if (s->rec_failed)
        return;
    const int16_t *pcm = s->eng_buf;
    if (s->rec_mode == OH_ENGINE_REC_MIX) {
        for (size_t i = 0; i < frame; i++)
            s->rec_buf[i] = sat16((int32_t)s->sent_buf[i] + s->eng_buf[i]);
        pcm = s->rec_buf;
    } else if (s->rec_mode == OH_ENGINE_REC_STEREO) {
        for (size_t i = 0; i < frame; i++) {
            s->rec_buf[2 * i] = s->sent_buf[i];
            s->rec_buf[2 * i + 1] = s->eng_buf[i];
        }
        pcm = s->rec_buf;
    }
    if (oh_wav_writer_write(s->rec, pcm, frame) != OH_OK)
        s->rec_failed = 1; /* the writer keeps the reason; stop_recording reports it */
}

/* Hands this tick's received frame (eng_buf) to the tap. The ring never
 * waits: what does not fit is lost and counted, the reader fell behind. */
static void tap_frame(stream *s, size_t frame)
{
    size_t w = oh_ring_write(s->tap, s->eng_buf, frame);
    s->st.tap_samples += w;
    if (w < frame) {
        s->st.tap_overruns++;
        s->st.tap_dropped += frame - w;
    }
}

/* The canceller's reference is every frame the engine wrote for the
 * loudspeaker, its near input every sample the engine read from the
 * microphone (a gap where the capture ring ran short). The echo's delay
 * between them moves by exactly what the engine and the device inserted or
 * discarded: on the capture side the gap (+, its samples come later) and
 * shed samples (-); on the playback side silence the device played in an
 * underrun (+) and frames dropped before the ring (-). The canceller is
 * told, so that its filter moves with the echo instead of re-adapting (on a
 * busy machine such slips came every second or so, and a filter that had
 * converged kept losing the echo: 20 dB of ERLE instead of 45). */
/* A slip as the canceller takes it: more than a second of it loses the
 * filter anyway. */
static int within_a_second(const oh_engine *e, int64_t samples)
{
    const int64_t bound = (int64_t)e->cfg.sample_rate;
    return (int)(samples > bound ? bound : samples < -bound ? -bound : samples);
}

static void aec_follow_slips(oh_engine *e, int64_t capture)
{
    oh_devport_stats ds;
    oh_devport_get_stats(e->port, &ds);
    int64_t playback = e->play_slip + (int64_t)(ds.playback.missing - e->play_missing_seen);
    e->play_missing_seen = ds.playback.missing;
    e->play_slip = 0;
    int c = within_a_second(e, capture), p = within_a_second(e, playback);
    if (c != 0 || p != 0)
        oh_aec_slip(e->aec, c, p);
}

/* The local endpoint's capture half, before the streams send: one frame
 * from the capture ring, the echo canceller against the frame last written
 * to the playback ring (what the loudspeaker is playing), mute, and the
 * result offered to the conference and to the connected streams. */
static void local_capture(oh_engine *e)
{
    size_t frame = (size_t)e->frame;
    e->local_heard = 0;
    e->local_t_ns = -1;
    if (!e->port)
        return;
    oh_engine_local_stats *ls = &e->st.local;
    ls->frames++;
    size_t got = oh_devport_pull_capture_stamped(e->port, e->local_near, frame, &e->local_t_ns);
    if (got < frame) {
        ls->capture_underruns++;
        ls->capture_missing += frame - got;
    }
    /* Latency control. What is left waiting after the read is latency the
     * next frames carry. Beyond one frame + max_queue it is shed at once;
     * and when even the least left over a window of TRIM_TICKS stayed above
     * half a frame + 1 ms (a device that started with a full buffer, or
     * clock drift filling the ring), all but 1 ms of that least is dropped,
     * once: the steady excess goes, callback jitter is left alone. */
    size_t waiting = oh_devport_capture_available(e->port);
    size_t margin = (size_t)e->cfg.sample_rate / 1000;
    size_t shed = 0;
    if (waiting > frame + (size_t)e->max_queue) {
        shed = oh_devport_skip_capture(e->port, waiting - frame);
        waiting -= shed;
    }
    if (e->cap_window == 0 || waiting < e->cap_min_wait)
        e->cap_min_wait = waiting;
    if (++e->cap_window >= TRIM_TICKS) {
        if (e->cap_min_wait > frame / 2 + margin)
            shed += oh_devport_skip_capture(e->port, e->cap_min_wait - margin);
        e->cap_window = 0;
    }
    ls->capture_shed += shed;
    if (e->aec) {
        /* Reference gate: a played frame below REF_GATE_DBFS (codec idle noise
         * of digital silence, -88 dBFS for G.722) goes to the canceller as
         * exact zeros. Its echo would lie under any microphone's noise, and
         * oh_aec takes such a reference for far-end activity and suppresses
         * near speech while it cannot converge (measured: -9 dB on speech,
         * see tests/test_local_audio.py). */
        int64_t pw = 0;
        for (size_t i = 0; i < frame; i++)
            pw += (int32_t)e->local_play[i] * e->local_play[i];
        const int16_t *far = e->local_play;
        if ((double)pw < e->ref_gate * (double)frame)
            far = e->local_zero;
        oh_aec_process_partial(e->aec, e->local_near, (int)got, far, e->local_out);
        aec_follow_slips(e, (int64_t)(frame - got) - (int64_t)shed);
    }
    else
        memcpy(e->local_out, e->local_near, frame * sizeof *e->local_out);
    if (e->local_muted)
        memset(e->local_out, 0, frame * sizeof *e->local_out);
    else if (e->gain_cap != GAIN_UNITY)
        apply_gain(e->local_out, frame, e->gain_cap);
    oh_mixer_put(e->mixer, LOCAL_ID, e->local_out);
}

/* The local endpoint's playback half, after the mix: its conference output
 * plus what the connected streams received, to the playback ring; kept as
 * the canceller's next reference. */
static void local_playback(oh_engine *e)
{
    if (!e->port)
        return;
    size_t frame = (size_t)e->frame;
    const int16_t *conf = oh_mixer_output(e->mixer, LOCAL_ID);
    for (size_t i = 0; i < frame; i++) {
        int32_t v = (conf ? conf[i] : 0) + e->local_acc[i];
        e->local_play[i] = sat16(v);
        e->local_acc[i] = 0;
    }
    /* The volume acts before the frame is kept as the canceller's reference:
     * the echo to cancel is what the loudspeaker plays, at its level. */
    if (e->gain_play != GAIN_UNITY)
        apply_gain(e->local_play, frame, e->gain_play);
    /* A device that does not pull (not started yet, stalled) must not let
     * the playback ring fill with old audio: beyond max_queue the frame is
     * dropped, so what plays once it pulls again is recent. */
    size_t pushed = 0;
    if (oh_devport_playback_queued(e->port) <= (size_t)e->max_queue)
        pushed = oh_devport_push_playback(e->port, e->local_play, frame);
    if (pushed < frame) {
        e->st.local.playback_overruns++;
        e->play_slip -= (int64_t)(frame - pushed);
    }
}

/* The receive half of a tick: one tick of playout to the sink. */
static void stream_tick_receive(oh_engine *e, stream *s, double now_ms)
{
    size_t frame = (size_t)e->frame;
    s->st.ticks++;
    int echo = s->src.kind == SRC_ECHO;
    int local = s->src.kind == SRC_LOCAL && !s->room && e->port;
    if (!receives(s->dir)) {
        if (echo)
            memset(s->echo_buf, 0, frame * sizeof *s->echo_buf);
        if (s->rec || s->tap)
            memset(s->eng_buf, 0, frame * sizeof *s->eng_buf);
        if (s->rec)
            record_frame(s, frame);
        if (s->tap)
            tap_frame(s, frame);
        return; /* nothing to play out: an idle half costs nothing more */
    }
    if (s->rtp_timeout_ms > 0) {
        if (s->last_rtp_ms < 0) {
            s->last_rtp_ms = now_ms;
        } else if (!s->timed_out && now_ms - s->last_rtp_ms >= s->rtp_timeout_ms) {
            s->timed_out = 1;
            oh_engine_event ev;
            memset(&ev, 0, sizeof ev);
            ev.silent_ms = (int)(now_ms - s->last_rtp_ms);
            stream_event(s, OH_ENGINE_EV_RTP_TIMEOUT, &ev);
        }
    }
    oh_jitter_status js;
    int got = oh_playout_get(s->pl, now_ms, s->dec_buf, s->dec_cap, &js);
    if (got < 0) {
        memset(s->dec_buf, 0, s->dec_cap * sizeof *s->dec_buf);
        got = (int)s->dec_cap;
    }
    if (!s->rec && !echo && !s->room && !local && !s->det && !s->tap)
        return; /* decoded (the playout's state and statistics advance); no sink needs the PCM */
    convert(s->rs_recv, s->dec_buf, (size_t)got, s->eng_buf, frame + 8, frame);
    if (s->room)
        oh_mixer_put(s->room->mixer, (uint32_t)s->id, s->eng_buf); /* mixed once all have put */
    if (echo)
        memcpy(s->echo_buf, s->eng_buf, frame * sizeof *s->echo_buf);
    if (local) {
        for (size_t i = 0; i < frame; i++)
            e->local_acc[i] += s->eng_buf[i];
        e->local_heard = 1;
    }
    if (s->det)
        inband_dtmf(e, s, s->eng_buf, frame);
    if (s->rec)
        record_frame(s, frame);
    if (s->tap)
        tap_frame(s, frame);
}

/* A member's CSRC list: the other members of its room whose sources it has
 * latched (RFC 3550 6.4 for a mixer's output). Each room keeps its members,
 * so this costs at most OH_RTP_MAX_CSRC steps, not a pass over every stream. */
static void conference_csrcs(stream *s)
{
    uint32_t csrc[OH_RTP_MAX_CSRC];
    int n = 0;
    const conf_room *r = s->room;
    for (int i = 0; i < r->n && n < OH_RTP_MAX_CSRC; i++) {
        const stream *o = r->members[i];
        if (o != s && o->latched)
            csrc[n++] = o->latched_ssrc;
    }
    oh_rtp_sender_set_csrcs(s->sender, csrc, n);
}

/* A frame of background while the stream suppresses silence (RFC 3389
 * section 4): nothing is sent but, when the pause starts and whenever its
 * level has moved by 3 dB or 5 s have passed, a CN packet describing it
 * (level and 4 reflection coefficients, computed on the codec-rate frame
 * so that the colour fits the rate the receiver plays it at). The media
 * timestamp moves on, and the first frame sent again starts a talkspurt
 * (marker bit). The encoder is not run: both ends' codec states stay where
 * the last sent frame left them, as after any gap. */
static void suppress_frame(stream *s)
{
    uint8_t sid[1 + CN_ORDER];
    size_t n = oh_cng_describe(s->codec_buf, (size_t)s->codec_frame, CN_ORDER, sid);
    s->cn_age++;
    if (!s->pausing || abs((int)sid[0] - s->cn_level) >= 3 || s->cn_age >= s->cn_refresh_ticks) {
        oh_rtp_sender_stats ss;
        oh_rtp_sender_get_stats(s->sender, &ss);
        int plen = oh_rtp_sender_write_event(s->sender, s->cn_pt, ss.timestamp, 0, sid, n, s->pkt, s->pkt_cap);
        uint64_t before = s->st.packets_sent;
        send_rtp(s, plen);
        if (s->st.packets_sent > before)
            s->st.cn_sent++;
        s->cn_level = sid[0];
        s->cn_age = 0;
        s->pausing = 1;
    }
    s->st.frames_suppressed++;
    oh_rtp_sender_skip(s->sender, s->rtp_samples);
    s->talkspurt = 1;
}

static void stream_tick_send(oh_engine *e, stream *s, double now_ms)
{
    size_t frame = (size_t)e->frame;
    rtcp_tick(s, now_ms);
    int keep_sent = s->rec && s->rec_mode != OH_ENGINE_REC_RECEIVED;
    if (keep_sent)
        memset(s->sent_buf, 0, frame * sizeof *s->sent_buf);
    if (!sends(s->dir) || s->remote_len == 0) {
        drop_filled(s);
        oh_rtp_sender_skip(s->sender, s->rtp_samples);
        s->talkspurt = 1;
        s->pausing = 0; /* a pause after this one is described afresh */
        return;
    }
    int local = 0;
    if (s->room) {
        oh_mixer_get(s->room->mixer, (uint32_t)s->id, s->eng_buf); /* everyone else in the room, last tick */
        conference_csrcs(s);
    } else if (s->src.kind == SRC_ECHO) {
        memcpy(s->eng_buf, s->echo_buf, frame * sizeof *s->eng_buf);
    } else if (s->src.kind == SRC_LOCAL) {
        memcpy(s->eng_buf, e->local_out, frame * sizeof *s->eng_buf); /* zeros when detached */
        local = e->local_t_ns >= 0;
    } else {
        source_read(&s->src, s->eng_buf, frame, &s->st.source_done);
    }
    if (keep_sent)
        memcpy(s->sent_buf, s->eng_buf, frame * sizeof *s->sent_buf);
    if (dtmf_tick(e, s))
        return; /* the source kept its pace; its audio of this tick is replaced */
    size_t at = (size_t)s->filled_ticks * (size_t)s->codec_frame;
    convert(s->rs_send, s->eng_buf, frame, s->codec_buf + at, s->codec_buf_cap - at, (size_t)s->codec_frame);
    /* The detector hears every tick; a pause starts only where a packet would. */
    int voice = !s->vad || oh_vad_process(s->vad, s->eng_buf);
    if (!voice && s->filled_ticks == 0) {
        suppress_frame(s);
        return;
    }
    s->pausing = 0;
    if (++s->filled_ticks < s->send_ticks)
        return;
    s->filled_ticks = 0;
    size_t samples = (size_t)s->send_ticks * (size_t)s->codec_frame / (size_t)s->send_split;
    uint32_t units = (uint32_t)s->send_ticks * s->rtp_samples / (uint32_t)s->send_split;
    for (int part = 0; part < s->send_split; part++) {
        int len = oh_codec_encode(s->enc, s->codec_buf + (size_t)part * samples, samples, s->payload,
                                  s->payload_cap);
        if (len <= 0) {
            oh_rtp_sender_skip(s->sender, units);
            s->talkspurt = 1;
            continue;
        }
        int plen = oh_rtp_sender_write(s->sender, s->payload, (size_t)len, units, s->talkspurt, s->pkt,
                                       s->pkt_cap);
        if (plen >= 0)
            s->talkspurt = 0;
        uint64_t before = s->st.packets_sent;
        send_rtp(s, plen);
        if (local && s->st.packets_sent > before) {
            double ms = (double)(oh_devport_now_ns() - e->local_t_ns) / 1e6;
            e->c2s_sum += ms;
            e->c2s_n++;
            if (ms > e->c2s_max)
                e->c2s_max = ms;
        }
    }
}

static void arm_timer(oh_engine *e, const struct timespec *deadline)
{
    struct itimerspec its;
    memset(&its, 0, sizeof its);
    its.it_value = *deadline;
    timerfd_settime(e->tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void *media_thread(void *arg)
{
    oh_engine *e = arg;
    struct timespec next = e->t0;
    ts_add_ms(&next, e->cfg.ptime_ms);
    arm_timer(e, &next);
    while (!e->stop) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        int due = !ts_before(&now, &next);
        /* Wait for the timer, a socket or a command; when a tick is already
         * due, only look (timeout 0), so a thread that runs behind still
         * reads its sockets and takes commands between ticks instead of
         * running tick after tick while its sockets overflow. */
        int n = epoll_wait(e->epfd, e->epev, EP_BATCH, due ? 0 : -1);
        int command = 0;
        /* Sockets first: a command may remove (and free) a stream of this batch. */
        for (int i = 0; i < n; i++) {
            uint64_t tag = e->epev[i].data.u64;
            if (tag == EV_TAG_CMD) {
                command = 1;
            } else if (tag == EV_TAG_TIMER) {
                uint64_t expirations;
                ssize_t r = read(e->tfd, &expirations, sizeof expirations);
                (void)r; /* the clock is read again below */
            } else {
                drain_socket(e, (stream *)(uintptr_t)(tag & ~(uint64_t)1), (int)(tag & 1));
            }
        }
        if (command)
            take_command(e);
        if (e->stop)
            break;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (!ts_before(&now, &next)) {
            double lag = ms_between(&next, &now);
            if (lag > e->cfg.ptime_ms)
                e->st.late_ticks++;
            if (lag > RESYNC_TICKS * e->cfg.ptime_ms) {
                next = now;
                e->st.clock_resyncs++;
            }
            e->deadline = next;
            double tick_ms = ms_between(&e->t0, &next);
            local_capture(e);
            for (int i = 0; i < e->n_active; i++)
                stream_tick_send(e, e->active[i], tick_ms);
            for (int i = 0; i < e->n_active; i++)
                stream_tick_receive(e, e->active[i], tick_ms);
            for (int i = 0; i < e->n_rooms; i++)
                if (oh_mixer_count(e->rooms[i]->mixer) > 0)
                    oh_mixer_mix(e->rooms[i]->mixer); /* cost linear in the members that spoke */
            local_playback(e);
            e->st.ticks++;
            ts_add_ms(&next, e->cfg.ptime_ms);
            arm_timer(e, &next);
        }
    }
    return NULL;
}

/* ---- the callers' side ---- */

/* Posts c and waits until the media thread has applied it. Caller holds mu. */
static void run_command(oh_engine *e, cmd *c)
{
    while (e->pending)
        pthread_cond_wait(&e->cv, &e->mu);
    e->pending = c;
    uint64_t one = 1;
    ssize_t w = write(e->efd, &one, sizeof one);
    (void)w; /* only fails when the counter is saturated, and then the thread is awake anyway */
    while (e->pending == c)
        pthread_cond_wait(&e->cv, &e->mu);
}

void oh_engine_config_default(oh_engine_config *cfg)
{
    cfg->sample_rate = 16000;
    cfg->ptime_ms = 20;
    cfg->max_streams = 256;
    cfg->max_room_members = 16;
}

void oh_engine_stream_config_default(oh_engine_stream_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->local_addr, sizeof cfg->local_addr, "127.0.0.1");
    oh_codec_config_default(&cfg->codec, OH_CODEC_PCMU);
    cfg->payload_type = 0;
    cfg->direction = OH_ENGINE_SENDRECV;
    cfg->dtmf_payload_type = 101;
    cfg->rtcp_interval_ms = 5000;
    cfg->rtcp_mux = 1;
    cfg->inband_dtmf = -1;
    cfg->cn_payload_type = 13;
    oh_srtp_config_default(&cfg->srtp_keys); /* used only when srtp = 1 */
}

static void engine_free(oh_engine *e)
{
    if (e->registry) {
        for (int i = 0; i < e->cfg.max_streams; i++) {
            if (e->registry[i])
                send_bye(e->registry[i]); /* the thread has stopped: the caller owns them */
            stream_free(e->registry[i]);
        }
    }
    if (e->efd >= 0)
        close(e->efd);
    if (e->ev_fd >= 0)
        close(e->ev_fd);
    if (e->ev_mu_ok)
        pthread_mutex_destroy(&e->ev_mu);
    oh_free(e->evr);
    if (e->cv_ok)
        pthread_cond_destroy(&e->cv);
    if (e->mu_ok)
        pthread_mutex_destroy(&e->mu);
    oh_free(e->registry);
    oh_free(e->generation);
    oh_free(e->active);
    if (e->rooms) {
        for (int i = 0; i < e->n_rooms; i++)
            room_free(e->rooms[i]);
        oh_free(e->rooms);
    }
    if (e->epfd >= 0)
        close(e->epfd);
    if (e->tfd >= 0)
        close(e->tfd);
    oh_aec_destroy(e->aec);
    oh_free(e->local_near);
    oh_free(e->local_out);
    oh_free(e->local_play);
    oh_free(e->local_acc);
    oh_free(e->local_zero);
    oh_free(e->epev);
    oh_free(e->rx);
    oh_free(e->rx_msgs);
    oh_free(e->rx_iov);
    oh_free(e->rx_from);
    oh_free(e);
}

oh_status oh_engine_create(const oh_engine_config *cfg, oh_engine **out)
{
    if (!out)
        return OH_EINVAL;
    *out = NULL;
    if (!cfg)
        return OH_EINVAL;
    int r = cfg->sample_rate;
    if ((r != 8000 && r != 16000 && r != 32000 && r != 48000) ||
        (cfg->ptime_ms != 10 && cfg->ptime_ms != 20) || cfg->max_streams < 1 ||
        cfg->max_streams > OH_ENGINE_MAX_STREAMS || cfg->max_room_members < 1 ||
        cfg->max_room_members > OH_ENGINE_MAX_STREAMS)
        return OH_EINVAL;
    oh_engine *e = oh_alloc(sizeof *e);
    if (!e)
        return OH_ENOMEM;
    e->cfg = *cfg;
    e->efd = -1;
    e->ev_fd = -1;
    e->epfd = -1;
    e->tfd = -1;
    e->frame = r * cfg->ptime_ms / 1000;
    size_t n = (size_t)cfg->max_streams;
    e->registry = oh_alloc(n * sizeof *e->registry);
    e->generation = oh_alloc(n * sizeof *e->generation);
    e->active = oh_alloc(n * sizeof *e->active);
    e->rooms = oh_alloc((n + 1) * sizeof *e->rooms);
    e->epev = oh_alloc(EP_BATCH * sizeof *e->epev);
    e->rx = oh_alloc((size_t)RX_BURST * RX_SLOT);
    e->rx_msgs = oh_alloc(RX_BURST * sizeof *e->rx_msgs);
    e->rx_iov = oh_alloc(RX_BURST * sizeof *e->rx_iov);
    e->rx_from = oh_alloc(RX_BURST * sizeof *e->rx_from);
    e->evr = oh_alloc(OH_ENGINE_EVENT_QUEUE * sizeof *e->evr);
    e->local_near = oh_alloc((size_t)e->frame * sizeof *e->local_near);
    e->local_out = oh_alloc((size_t)e->frame * sizeof *e->local_out);
    e->local_play = oh_alloc((size_t)e->frame * sizeof *e->local_play);
    e->local_acc = oh_alloc((size_t)e->frame * sizeof *e->local_acc);
    e->local_zero = oh_alloc((size_t)e->frame * sizeof *e->local_zero);
    /* REF_GATE_DBFS as a mean square of int16 samples */
    e->gain_play = GAIN_UNITY;
    e->gain_cap = GAIN_UNITY;
    e->ref_gate = 32768.0 * 32768.0 * pow(10.0, REF_GATE_DBFS / 10.0);
    if (!e->registry || !e->generation || !e->active || !e->rooms || !e->epev || !e->rx || !e->rx_msgs || !e->rx_iov ||
        !e->rx_from || !e->evr || !e->local_near || !e->local_out || !e->local_play || !e->local_acc ||
        !e->local_zero) {
        engine_free(e);
        return OH_ENOMEM;
    }
    /* room 0: every stream, and the local audio */
    int mixer_cap = cfg->max_streams < OH_MIXER_MAX_PARTICIPANTS ? cfg->max_streams + 1
                                                                 : OH_MIXER_MAX_PARTICIPANTS;
    oh_status mst = room_create(e, 0, cfg->max_streams, mixer_cap, &e->rooms[0]);
    if (mst != OH_OK) {
        engine_free(e);
        return mst;
    }
    e->n_rooms = 1;
    e->mixer = e->rooms[0]->mixer;
    if (pthread_mutex_init(&e->mu, NULL) != 0) {
        engine_free(e);
        return OH_EIO;
    }
    e->mu_ok = 1;
    pthread_condattr_t ca;
    int ok = pthread_condattr_init(&ca) == 0;
    if (ok) {
        ok = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 && pthread_cond_init(&e->cv, &ca) == 0;
        pthread_condattr_destroy(&ca);
    }
    if (!ok) {
        engine_free(e);
        return OH_EIO;
    }
    e->cv_ok = 1;
    if (pthread_mutex_init(&e->ev_mu, NULL) != 0) {
        engine_free(e);
        return OH_EIO;
    }
    e->ev_mu_ok = 1;
    e->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    e->ev_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (e->efd < 0 || e->ev_fd < 0) {
        engine_free(e);
        return OH_EIO;
    }
    for (int k = 0; k < RX_BURST; k++) {
        e->rx_iov[k].iov_base = e->rx + (size_t)k * RX_SLOT;
        e->rx_iov[k].iov_len = RX_SLOT;
        e->rx_msgs[k].msg_hdr.msg_iov = &e->rx_iov[k];
        e->rx_msgs[k].msg_hdr.msg_iovlen = 1;
        e->rx_msgs[k].msg_hdr.msg_name = &e->rx_from[k];
    }
    e->epfd = epoll_create1(EPOLL_CLOEXEC);
    e->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (e->epfd < 0 || e->tfd < 0 || watch(e->epfd, e->efd, EV_TAG_CMD) != 0 ||
        watch(e->epfd, e->tfd, EV_TAG_TIMER) != 0) {
        engine_free(e);
        return OH_EIO;
    }
    clock_gettime(CLOCK_MONOTONIC, &e->t0);
    /* The media thread must not take the process's signals (a Python
     * program's SIGINT belongs to its main thread): block them all in it. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int pr = pthread_create(&e->thread, NULL, media_thread, e);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (pr != 0) {
        engine_free(e);
        return pr == EAGAIN ? OH_ENOMEM : OH_EIO;
    }
    e->thread_started = 1;
    *out = e;
    return OH_OK;
}

void oh_engine_destroy(oh_engine *e)
{
    if (!e)
        return;
    if (e->thread_started) {
        cmd c = {.type = CMD_STOP};
        pthread_mutex_lock(&e->mu);
        run_command(e, &c);
        pthread_mutex_unlock(&e->mu);
        pthread_join(e->thread, NULL);
    }
    engine_free(e);
}

void oh_engine_get_stats(oh_engine *e, oh_engine_stats *stats)
{
    memset(stats, 0, sizeof *stats);
    if (!e)
        return;
    cmd c = {.type = CMD_ENGINE_STATS, .estats = stats};
    pthread_mutex_lock(&e->mu);
    run_command(e, &c);
    pthread_mutex_unlock(&e->mu);
}

/* The stream an id names, or NULL. Caller holds mu. */
static stream *lookup(oh_engine *e, int id)
{
    if (id < 0)
        return NULL;
    int slot = id & ((1 << ID_SLOT_BITS) - 1);
    if (slot >= e->cfg.max_streams)
        return NULL;
    stream *s = e->registry[slot];
    return s && s->id == id ? s : NULL;
}

oh_status oh_engine_stream_add(oh_engine *e, const oh_engine_stream_config *cfg, int *id, int *sys_errno)
{
    if (sys_errno)
        *sys_errno = 0;
    if (!e || !cfg || !id)
        return OH_EINVAL;
    *id = -1;
    stream *s = NULL;
    oh_status st = stream_create(e, cfg, &s, sys_errno);
    if (st != OH_OK)
        return st;
    pthread_mutex_lock(&e->mu);
    int slot = -1;
    for (int i = 0; i < e->cfg.max_streams; i++) {
        if (!e->registry[i]) {
            slot = i;
            break;
        }
    }
    if (slot < 0) {
        pthread_mutex_unlock(&e->mu);
        stream_free(s);
        return OH_ESTATE;
    }
    e->generation[slot] = (e->generation[slot] + 1) & 0x3FFFF; /* ids stay positive ints */
    s->id = (int)(e->generation[slot] << ID_SLOT_BITS) | slot;
    s->eng = e;
    e->registry[slot] = s;
    cmd c = {.type = CMD_ADD, .s = s};
    run_command(e, &c);
    if (c.result != OH_OK) {
        e->registry[slot] = NULL;
        pthread_mutex_unlock(&e->mu);
        if (sys_errno)
            *sys_errno = ENOMEM; /* epoll_ctl: out of kernel memory or max_user_watches */
        stream_free(s);
        return c.result;
    }
    pthread_mutex_unlock(&e->mu);
    *id = s->id;
    return OH_OK;
}

oh_status oh_engine_stream_remove(oh_engine *e, int id)
{
    if (!e)
        return OH_EINVAL;
    pthread_mutex_lock(&e->mu);
    stream *s = lookup(e, id);
    if (!s) {
        pthread_mutex_unlock(&e->mu);
        return OH_EINVAL;
    }
    cmd c = {.type = CMD_REMOVE, .s = s};
    run_command(e, &c);
    e->registry[id & ((1 << ID_SLOT_BITS) - 1)] = NULL;
    pthread_mutex_unlock(&e->mu);
    room_free(c.emptied);
    send_bye(s);
    stream_free(s);
    return OH_OK;
}

oh_status oh_engine_stream_local_port(oh_engine *e, int id, int *port)
{
    if (!e || !port)
        return OH_EINVAL;
    pthread_mutex_lock(&e->mu);
    stream *s = lookup(e, id);
    if (s)
        *port = s->local_port; /* fixed at create: no command needed */
    pthread_mutex_unlock(&e->mu);
    return s ? OH_OK : OH_EINVAL;
}

oh_status oh_engine_stream_set_remote(oh_engine *e, int id, const char *addr, int port)
{
    return oh_engine_stream_set_remote_rtcp(e, id, addr, port, -1, "", 0, NULL);
}

oh_status oh_engine_stream_set_remote_rtcp(oh_engine *e, int id, const char *addr, int port, int rtcp_mux,
                                           const char *rtcp_addr, int rtcp_port, int *sys_errno)
{
    if (sys_errno)
        *sys_errno = 0;
    if (!e || !addr || !rtcp_addr || rtcp_mux < -1 || rtcp_mux > 1 || rtcp_port < 0 || rtcp_port > 65535)
        return OH_EINVAL;
    cmd c = {.type = CMD_SET_REMOTE, .rtcp_mux = rtcp_mux, .rtcp_fd = -1};
    if (addr[0]) {
        if (port <= 0 || parse_addr(addr, port, &c.addr, &c.addr_len) != OH_OK)
            return OH_EINVAL;
    }
    pthread_mutex_lock(&e->mu);
    stream *s = lookup(e, id);
    oh_status st = OH_EINVAL;
    /* The stream's sockets change only in commands, which run under mu: held here. */
    int mux = s ? (rtcp_mux >= 0 ? rtcp_mux : s->rtcp_fd < 0) : 1;
    if (s && addr[0] && !mux) {
        int rport = rtcp_port ? rtcp_port : port + 1;
        if (rport > 65535 || parse_addr(rtcp_addr[0] ? rtcp_addr : addr, rport, &c.rtcp_addr, &c.rtcp_addr_len) !=
                                 OH_OK || c.rtcp_addr.ss_family != c.addr.ss_family)
            s = NULL; /* OH_EINVAL */
    }
    if (s) {
        struct sockaddr_storage local;
        socklen_t llen = sizeof local;
        if (getsockname(s->fd, (struct sockaddr *)&local, &llen) != 0 ||
            (addr[0] && local.ss_family != c.addr.ss_family)) {
            st = OH_EINVAL; /* an IPv4 socket cannot send to an IPv6 address */
        } else if (!mux && s->rtcp_fd < 0 &&
                   (s->local_port >= 65535 ||
                    (c.rtcp_fd = bind_udp(&local, llen, s->local_port + 1)) < 0)) {
            if (sys_errno)
                *sys_errno = s->local_port >= 65535 ? EADDRNOTAVAIL : errno;
            st = OH_EIO; /* local port + 1 is taken: the stream keeps rtcp-mux */
        } else {
            c.rtcp_port = s->local_port + 1;
            c.s = s;
            run_command(e, &c);
            st = c.result;
            if (st == OH_EIO && sys_errno)
                *sys_errno = ENOMEM; /* epoll_ctl */
        }
    }
    pthread_mutex_unlock(&e->mu);
    if (c.rtcp_fd >= 0)
        close(c.rtcp_fd); /* the old RTCP socket, or a new one the media thread could not watch */
    return st;
}

oh_status oh_engine_stream_set_direction(oh_engine *e, int id, oh_engine_direction dir)
{
    if (!e || dir < OH_ENGINE_SENDRECV || dir > OH_ENGINE_INACTIVE)
        return OH_EINVAL;
    pthread_mutex_lock(&e->mu);
    stream *s = lookup(e, id);
    if (s) {
        cmd c = {.type = CMD_SET_DIR, .s = s, .dir = (int)dir};
        run_command(e, &c);
    }
    pthread_mutex_unlock(&e->mu);
    return s ? OH_OK : OH_EINVAL;
}

/* Swaps in src (which the stream then owns) and frees the replaced source. */
static oh_status set_source(oh_engine *e, int id, source *src)
{
    pthread_mutex_lock(&e->mu);
    stream *s = lookup(e, id);
    if (!s) {
        pthread_mutex_unlock(&e->mu);
        source_free(src);
        return OH_EINVAL;
    }
    cmd c = {.type = CMD_SET_SOURCE, .s = s, .src = *src};
    run_command(e, &c);
    pthread_mutex_unlock(&e->mu);
    source_free(&c.src);
    return OH_OK;
}

oh_status oh_engine_stream_play_wav(oh_engine *e, int id, const char *path, oh_wav_error *err)
{
    if (!e || !path) {
        set_reason(err, OH_EINVAL, "no file name");
        return OH_EINVAL;
    }
    source src = {.kind = SRC_WAV};
    oh_status st = wav_src_open(path, e->cfg.sample_rate, e->frame, &src.wav, err);
    if (st != OH_OK)
        return st;
    st = set_source(e, id, &src);
    if (st != OH_OK)
        set_reason(err, st, "no such stream");
    return st;
}

oh_status oh_engine_stream_play_tone(oh_engine *e, int id, int freq_hz, double level_dbm0)
{
    if (!e || freq_hz <= 0 || 2 * freq_hz >= e->cfg.sample_rate || !(level_dbm0 >= -60.0) || level_dbm0 > 0.0)
        return OH_EINVAL;
    oh_tone_segment seg = {.freq_hz = {freq_hz, 0}, .duration_ms = 0};
    oh_tone_config tcfg;
    oh_tone_config_default(&tcfg);
    tcfg.sample_rate = e->cfg.sample_rate;
    tcfg.level_dbm0 = level_dbm0;
    tcfg.segments = &seg;
    tcfg.n_segments = 1;
    source src = {.kind = SRC_TONE};
    oh_status st = oh_tone_create(&tcfg, &src.tone);
    if (st != OH_OK)
        return st;
    return set_source(e, id, &src);
}

oh_status oh_engine_stream_play_echo(oh_engine *e, int id)
{
    if (!e)
        return OH_EINVAL;
    source src = {.kind = SRC_ECHO};
    return set_source(e, id, &src);
}

oh_status oh_engine_stream_play_silence(oh_engine *e, int id)
{
    if (!e)
        return OH_EINVAL;
    source src = {.kind = SRC_SILENCE};
    return set_source(e, id, &src);
}

/* Swaps in rec (NULL stops recording); closes the replaced recording. */
static oh_status set_record(oh_engine *e, int id, oh_wav_writer *rec, int mode, oh_wav_error *err)
{
    pthread_mutex_lock(&e->mu);
    stream *s = lookup(e, id);
    if (!s) {
        pthread_mutex_unlock(&e->mu);
        oh_wav_writer_close(rec, NULL);
        set_reason(err, OH_EINVAL, "no such stream");
        return OH_EINVAL;
    }
    cmd c = {.type = CMD_SET_RECORD, .s = s, .rec = rec, .rec_mode = mode};
    run_command(e, &c);
    pthread_mutex_unlock(&e->mu);
    if (err) {
        err->status = 0;
        err->sys_errno = 0;
        err->reason[0] = 0;
    }
    return c.rec ? oh_wav_writer_close(c.rec, err) : OH_OK;
}

oh_status oh_engine_stream_record_wav(oh_engine *e, int id, const char *path, oh_wav_error *err)
{
    return oh_engine_stream_record_wav_mode(e, id, path, OH_ENGINE_REC_RECEIVED, err);
}

oh_status oh_engine_stream_record_wav_mode(oh_engine *e, int id, const char *path, int mode, oh_wav_error *err)
{
    if (mode < OH_ENGINE_REC_RECEIVED || mode > OH_ENGINE_REC_STEREO) {
        set_reason(err, OH_EINVAL, "unknown recording mode");
        return OH_EINVAL;
    }
    if (!e || !path) {
        set_reason(err, OH_EINVAL, "no file name");
        return OH_EINVAL;
    }
    oh_wav_writer_config wcfg;
    oh_wav_writer_config_default(&wcfg);
    wcfg.sample_rate = e->cfg.sample_rate;
    wcfg.channels = mode == OH_ENGINE_REC_STEREO ? 2 : 1;
    wcfg.buffer_frames = (size_t)e->frame;
    oh_wav_writer *w = NULL;
    oh_status st = oh_wav_writer_open(path, &wcfg, &w, err);
    if (st != OH_OK)
        return st;
    /* An error finalising the previous recording is not this call's failure. */
    oh_status prev = set_record(e, id, w, mode, err);
    if (prev == OH_EINVAL)
        return OH_EINVAL;
    if (err) {
        err->status = 0;
        err->sys_errno = 0;
        err->reason[0] = 0;
    }
    return OH_OK;
}

oh_status oh_engine_stream_stop_recording(oh_engine *e, int id, oh_wav_error *err)
{
    if (!e)
        return OH_EINVAL;
    return set_record(e, id, NULL, OH_ENGINE_REC_RECEIVED, err);
}

oh_status oh_engine_stream_get_stats(oh_engine *e, int id, oh_engine_stream_stats *stats)
{
    if (!e || !stats)
        return OH_EINVAL;
    pthread_mutex_lock(&e->mu);
    stream *s = lookup(e, id);
    if (s) {
        cmd c = {.type = CMD_STATS, .s = s, .stats = stats};
        run_command(e, &c);
    }
    pthread_mutex_unlock(&e->mu);
    return s ? OH_OK : OH_EINVAL;
}

oh_status oh_engine_stream_send_dtmf(oh_engine *e, int id, const char *digits, int duration_ms)
{
    if (!e || !digits || duration_ms < 40 || duration_ms > 5000)
        return OH_EINVAL;
    size_t n = strlen(digits);
    if (n == 0 || n > OH_ENGINE_DTMF_QUEUE)
        return n == 0 ? OH_EINVAL : OH_EBUFSIZE;
    char up[OH_ENGINE_DTMF_QUEUE];
    for (size_t i = 0; i < n; i++) {
        char d = digits[i];
        if (d >= 'a' && d <= 'd')
            d = (char)(d - 'a' + 'A');
        if (oh_dtmf_rtp_event_code(d) < 0 || oh_dtmf_rtp_event_code(d) > 15)
            return OH_EINVAL;
        up[i] = d;
    }
    pthread_mutex_lock(&e->mu);
    stream *s = lookup(e, id);
    oh_status st = OH_EINVAL;
    if (s && !s->dtx) {
        st = OH_ESTATE;
    } else if (s && (uint64_t)duration_ms * s->rtp_clock / 1000u > 65535u) {
        st = OH_EINVAL; /* RFC 4733's 16-bit duration: 1365 ms at 48 kHz */
    } else if (s) {
        cmd c = {.type = CMD_DTMF_SEND, .s = s, .digits = up, .n = (int)n, .duration_ms = duration_ms};
        run_command(e, &c);
        st = c.result;
    }
    pthread_mutex_unlock(&e->mu);
    return st;
}

oh_status oh_engine_stream_dtmf_events(oh_engine *e, int id, oh_engine_dtmf_event *out, int cap, int *n)
{
    if (n)
        *n = 0;
    if (!e || !out || cap < 0 || !n)
        return OH_EINVAL;
    pthread_mutex_lock(&e->mu);
    stream *s = lookup(e, id);
    if (s) {
        cmd c = {.type = CMD_DTMF_DRAIN, .s = s, .events = out, .n_cap = cap};
        run_command(e, &c);
        *n = c.n;
    }
    pthread_mutex_unlock(&e->mu);
    return s ? OH_OK : OH_EINVAL;
}

int oh_engine_event_fd(oh_engine *e)
{
    return e ? e->ev_fd : -1;
}

oh_status oh_engine_poll_events(oh_engine *e, oh_engine_event *out, int cap, int *n)
{
    if (n)
        *n = 0;
    if (!e || !out || cap < 0 || !n)
        return OH_EINVAL;
    pthread_mutex_lock(&e->ev_mu);
    /* Reset the eventfd before reading the ring: an event pushed after this
     * point makes it readable again, so no wake-up is lost. */
    uint64_t v;
    ssize_t r = read(e->ev_fd, &v, sizeof v);
    (void)r; /* EAGAIN: nothing was signalled */
    unsigned head = atomic_load_explicit(&e->ev_head, memory_order_relaxed);
    unsigned tail = atomic_load_explicit(&e->ev_tail, memory_order_acquire);
    int k = 0;
    while (head != tail && k < cap)
        out[k++] = e->evr[head++ % OH_ENGINE_EVENT_QUEUE];
    atomic_store_explicit(&e->ev_head, head, memory_order_release);
    if (head != tail) {
        uint64_t one = 1; /* more than cap waited: stay readable */
        ssize_t w = write(e->ev_fd, &one, sizeof one);
        (void)w;
    }
    pthread_mutex_unlock(&e->ev_mu);
    *n = k;
    return OH_OK;
}

oh_status oh_engine_stream_set_codec(oh_engine *e, int id, const oh_codec_config *codec, int payload_type)
{
    if (!e || !codec || payload_type < 0 || payload_type > 127)
        return OH_EINVAL;
    pthread_mutex_lock(&e->mu);
    stream *s = lookup(e, id);
    uint32_t clock = s ? s->rtp_clock : 0; /* written only by CMD_SET_CODEC, under mu */
    int dtmf_pt = s ? s->dtmf_pt : -1;
    int cn_pt = s ? s->cn_pt : -1;
    int send_ticks = s ? s->send_ticks : 1; /* set at create, never changed */
    pthread_mutex_unlock(&e->mu);
    if (!s || payload_type == cn_pt)
        return OH_EINVAL;
    /* Built outside the lock, so no other caller (nor the media thread
     * taking a command) waits for codec creation. */
    codec_parts parts;
    oh_status st = codec_parts_create(e, codec, payload_type, dtmf_pt, clock, send_ticks, &parts);
    if (st != OH_OK)
        return st;
    pthread_mutex_lock(&e->mu);
    s = lookup(e, id);
    if (!s || s->rtp_clock != clock) {
        st = s ? OH_ESTATE : OH_EINVAL; /* closed, or changed by another thread meanwhile */
    } else {
        cmd c = {.type = CMD_SET_CODEC, .s = s, .parts = &parts};
        run_command(e, &c);
    }
    pthread_mutex_unlock(&e->mu);
    codec_parts_free(&parts); /* the replaced parts, or the unused new ones */
    return st;
}

oh_status oh_engine_stream_conference(oh_engine *e, int id, int join)
{
    return oh_engine_stream_conference_room(e, id, join ? 0 : -1);
}

oh_status oh_engine_stream_conference_room(oh_engine *e, int id, int room_id)
{
    if (!e || room_id < -1 || room_id > OH_ENGINE_MAX_ROOM)
        return OH_EINVAL;
    pthread_mutex_lock(&e->mu);
    stream *s = lookup(e, id);
    if (!s) {
        pthread_mutex_unlock(&e->mu);
        return OH_EINVAL;
    }
    /* A room id not in use gets its room made here, by the calling thread
     * (rooms only change in apply, under mu, so the look-up is stable). */
    conf_room *fresh = NULL;
    if (room_id > 0 && !find_room(e, room_id)) {
        int cap = e->cfg.max_room_members < e->cfg.max_streams ? e->cfg.max_room_members : e->cfg.max_streams;
        oh_status st = room_create(e, room_id, cap, cap, &fresh);
        if (st != OH_OK) {
            pthread_mutex_unlock(&e->mu);
            return st;
        }
    }
    cmd c = {.type = CMD_CONF, .s = s, .n = room_id, .room = fresh};
    run_command(e, &c);
    pthread_mutex_unlock(&e->mu);
    room_free(c.room);    /* the new room, when the stream could not join it */
    room_free(c.emptied); /* the room it left, when it was the last one */
    return c.result;
}

oh_status oh_engine_stream_tap(oh_engine *e, int id, int ms)
{
    if (!e || ms < 0 || (ms > 0 && ms < 20) || ms > OH_ENGINE_TAP_MAX_MS)
        return OH_EINVAL;
    oh_ring *ring = NULL;
    if (ms > 0) {
        size_t want = (size_t)e->cfg.sample_rate / 1000 * (size_t)ms;
        oh_ring_config rcfg;
        oh_ring_config_default(&rcfg);
        rcfg.capacity = 2;
        while (rcfg.capacity < want)
            rcfg.capacity <<= 1;
        oh_status st = oh_ring_create(&rcfg, &ring);
        if (st != OH_OK)
            return st;
    }
    pthread_mutex_lock(&e->mu);
    stream *s = lookup(e, id);
    cmd c = {.type = CMD_TAP, .s = s, .tap = ring};
    if (s)
        run_command(e, &c);
    pthread_mutex_unlock(&e->mu);
    /* the old tap (or the new one when the stream is unknown): no reader can
     * hold it, read_tap only uses s->tap under mu */
    oh_ring_destroy(c.tap);
    return s ? OH_OK : OH_EINVAL;
}

oh_status oh_engine_stream_read_tap(oh_engine *e, int id, int16_t *out, size_t cap, size_t *n)
{
    if (n)
        *n = 0;
    if (!e || !n || (!out && cap > 0))
        return OH_EINVAL;
    pthread_mutex_lock(&e->mu);
    stream *s = lookup(e, id);
    if (s && s->tap && cap > 0)
        *n = oh_ring_read(s->tap, out, cap); /* the consumer side: no command, no wait */
    pthread_mutex_unlock(&e->mu);
    return s ? OH_OK : OH_EINVAL;
}

void oh_engine_audio_config_default(oh_engine_audio_config *cfg)
{
    cfg->aec = 1;
    cfg->aec_tail_ms = 128;
    cfg->aec_suppression = 1;
    cfg->max_queue_ms = 60;
}

static oh_status run_attach(oh_engine *e, cmd *c)
{
    pthread_mutex_lock(&e->mu);
    run_command(e, c);
    pthread_mutex_unlock(&e->mu);
    oh_aec_destroy(c->aec); /* the replaced canceller, or the new one when refused */
    return c->result;
}

oh_status oh_engine_attach_audio(oh_engine *e, oh_devport *port, const oh_engine_audio_config *cfg)
{
    if (!e)
        return OH_EINVAL;
    if (!port)
        return oh_engine_detach_audio(e);
    oh_engine_audio_config dflt;
    if (!cfg) {
        oh_engine_audio_config_default(&dflt);
        cfg = &dflt;
    }
    if (oh_devport_engine_rate(port) != e->cfg.sample_rate || cfg->aec_tail_ms < 64 || cfg->aec_tail_ms > 500 ||
        cfg->max_queue_ms < 10 || cfg->max_queue_ms > 1000)
        return OH_EINVAL;
    cmd c = {.type = CMD_ATTACH, .port = port, .aec_on = cfg->aec ? 1 : 0};
    c.max_queue = e->cfg.sample_rate / 1000 * cfg->max_queue_ms;
    if (cfg->aec) {
        oh_aec_config acfg;
        oh_aec_config_default(&acfg);
        acfg.sample_rate = e->cfg.sample_rate;
        acfg.frame_size = e->frame;
        acfg.tail_ms = cfg->aec_tail_ms;
        acfg.suppression = cfg->aec_suppression ? 1 : 0;
        oh_status st = oh_aec_create(&acfg, &c.aec);
        if (st != OH_OK)
            return st;
    }
    return run_attach(e, &c);
}

oh_status oh_engine_detach_audio(oh_engine *e)
{
    if (!e)
        return OH_EINVAL;
    cmd c = {.type = CMD_ATTACH};
    return run_attach(e, &c);
}

oh_status oh_engine_mute_local(oh_engine *e, int mute)
{
    if (!e)
        return OH_EINVAL;
    cmd c = {.type = CMD_MUTE, .dir = mute ? 1 : 0};
    pthread_mutex_lock(&e->mu);
    run_command(e, &c);
    pthread_mutex_unlock(&e->mu);
    return OH_OK;
}

oh_status oh_engine_set_local_gain(oh_engine *e, double playback_db, double capture_db)
{
    int32_t q[2];
    const double db[2] = {playback_db, capture_db};
    if (!e)
        return OH_EINVAL;
    for (int k = 0; k < 2; k++) {
        if (db[k] != db[k] || db[k] > OH_ENGINE_GAIN_MAX_DB)
            return OH_EINVAL;
        /* at or below the floor: silence (a volume slider's zero) */
        q[k] = db[k] <= OH_ENGINE_GAIN_MIN_DB ? 0 : (int32_t)lround(GAIN_UNITY * pow(10.0, db[k] / 20.0));
    }
    cmd c = {.type = CMD_GAIN, .gain_play = q[0], .gain_cap = q[1]};
    pthread_mutex_lock(&e->mu);
    run_command(e, &c);
    pthread_mutex_unlock(&e->mu);
    return OH_OK;
}

oh_status oh_engine_stream_connect_local(oh_engine *e, int id)
{
    if (!e)
        return OH_EINVAL;
    source src = {.kind = SRC_LOCAL};
    return set_source(e, id, &src);
}
