/* RTP (RFC 3550) packets: header parse/serialise, a sender, and receiver-side
 * source statistics.
 *
 * Sans-I/O: nothing here touches a socket or a clock. Callers pass packets in
 * and out as byte buffers and times as numbers (the media thread owns both).
 *
 * - oh_rtp_parse() validates a packet strictly (version, padding, CSRC list,
 *   header extension, all bounds-checked against len) and never reads past
 *   len. A malformed packet gives OH_EBADPKT and, through *defect, which
 *   check failed (oh_pkt_defect, shared with oh_rtcp, oh_dtmf_rtp and oh_srtp).
 * - oh_rtp_write() serialises a header (with CSRCs) and a payload.
 * - oh_rtp_sender numbers the packets of one outgoing stream: SSRC, random
 *   initial sequence number and timestamp (from a caller-provided seed),
 *   timestamp advance per frame, marker on talkspurt start.
 * - oh_rtp_source is the receiver's per-SSRC state of RFC 3550 A.1 (sequence
 *   validation with probation, wrap-around cycles, MAX_DROPOUT/MAX_MISORDER),
 *   A.8 (interarrival jitter) and A.3 (cumulative and fraction lost), which
 *   oh_rtcp turns into report blocks.
 *
 * Units: timestamps in clock_rate units (Hz), arrival times in milliseconds
 * on the receiver's clock (double, any origin), lengths in bytes.
 *
 * Thread safety: the free functions are reentrant; an oh_rtp_sender or
 * oh_rtp_source is used by one thread at a time. Only _create allocates. */
#ifndef OFFHOOK_OH_RTP_H
#define OFFHOOK_OH_RTP_H

#include <stddef.h>
#include <stdint.h>

#include "offhook/oh_status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define OH_RTP_HEADER_MIN 12   /* bytes of the fixed header */
#define OH_RTP_MAX_CSRC 15
#define OH_RTP_MAX_HEADER (OH_RTP_HEADER_MIN + 4 * OH_RTP_MAX_CSRC) /* oh_rtp_write, no extension */

/* Why a packet was refused (OH_EBADPKT). Shared by the packet components. */
typedef enum oh_pkt_defect {
    OH_PKT_OK = 0,
    OH_PKT_TRUNCATED = 1,       /* shorter than its fixed header */
    OH_PKT_BAD_VERSION = 2,     /* version field is not 2 */
    OH_PKT_BAD_PADDING = 3,     /* padding count 0 or larger than what follows the header */
    OH_PKT_CSRC_OVERRUN = 4,    /* the CSRC list runs past the end of the packet */
    OH_PKT_EXT_OVERRUN = 5,     /* the header extension runs past the end of the packet */
    OH_PKT_BAD_LENGTH = 6,      /* RTCP: a length field disagrees with the packet */
    OH_PKT_BAD_TYPE = 7,        /* RTCP: first packet not SR/RR, or an unknown/unexpected type */
    OH_PKT_BAD_ITEM = 8,        /* RTCP SDES/BYE or RFC 4733: a field is malformed */
    OH_PKT_AUTH_FAIL = 9,       /* SRTP: authentication tag check failed */
    OH_PKT_REPLAY = 10,         /* SRTP: replayed or too old packet */
    OH_PKT_UNKNOWN_SSRC = 11    /* SRTP: no context for this stream */
} oh_pkt_defect;

/* A short static name for a defect ("truncated", "bad version", ...). Never NULL. */
const char *oh_pkt_defect_str(int defect);

typedef struct oh_rtp_header {
    uint8_t padding;        /* P bit (parse: the padding was valid and is excluded from the payload) */
    uint8_t extension;      /* X bit */
    uint8_t csrc_count;     /* 0..15 */
    uint8_t marker;         /* M bit */
    uint8_t payload_type;   /* 0..127 */
    uint16_t seq;
    uint32_t timestamp;
    uint32_t ssrc;
    uint32_t csrc[OH_RTP_MAX_CSRC];
    /* Filled by oh_rtp_parse (ignored by oh_rtp_write): */
    uint16_t ext_profile;   /* the extension's 16-bit profile field, when extension */
    size_t ext_offset;      /* where the extension's data starts (after its 4-byte header) */
    size_t ext_len;         /* its length in bytes (a multiple of 4) */
    size_t payload_offset;  /* where the payload starts */
    size_t payload_len;     /* payload bytes, padding excluded */
    size_t padding_len;     /* padding bytes at the end, including the count octet */
} oh_rtp_header;

/* Parses and validates pkt[0..len). On OH_EBADPKT, *defect (if not NULL)
 * says which check failed; on success it is OH_PKT_OK. Never reads past len.
 * OH_EINVAL for NULL pkt or h. */
oh_status oh_rtp_parse(const uint8_t *pkt, size_t len, oh_rtp_header *h, oh_pkt_defect *defect);

/* Writes h's fixed header and CSRCs (csrc_count of them), then the payload.
 * h->padding and h->extension must be 0 (this writer adds neither).
 * Returns bytes written, OH_EBUFSIZE when cap is too small, OH_EINVAL for
 * out-of-range fields. payload may be NULL when payload_len is 0. */
int oh_rtp_write(const oh_rtp_header *h, const uint8_t *payload, size_t payload_len,
                 uint8_t *out, size_t cap);

/* RFC 5761 rtcp-mux: 1 when a packet on a shared port is RTCP, i.e. its
 * second byte is 192..223 (an RTP packet would need payload type 64..95 with
 * the marker set, which RFC 5761 forbids on a muxed port), else 0. */
int oh_rtp_is_rtcp(const uint8_t *pkt, size_t len);

/* 1 when payload type pt (0..127) must not be used with rtcp-mux (64..95). */
int oh_rtp_pt_conflicts_with_rtcp(int pt);

/* ---- sender ---- */

typedef struct oh_rtp_sender_config {
    uint32_t ssrc;        /* chosen by the caller (at random, RFC 3550 8.1) */
    int payload_type;     /* 0..127: the media payload type */
    int clock_rate;       /* Hz, 1000..192000 */
    uint64_t seed;        /* the initial sequence number and timestamp derive from it */
} oh_rtp_sender_config;

typedef struct oh_rtp_sender_stats {
    uint32_t ssrc;
    uint16_t next_seq;
    uint32_t timestamp;   /* timestamp the next audio frame will carry */
    uint64_t packets;     /* packets written (SR sender's packet count, low 32 bits on the wire) */
    uint64_t octets;      /* payload octets written (SR sender's octet count) */
} oh_rtp_sender_stats;

typedef struct oh_rtp_sender oh_rtp_sender;

/* ssrc 0, payload type 0, 8000 Hz, seed 0. */
void oh_rtp_sender_config_default(oh_rtp_sender_config *cfg);
oh_status oh_rtp_sender_create(const oh_rtp_sender_config *cfg, oh_rtp_sender **out);
void oh_rtp_sender_destroy(oh_rtp_sender *s);
/* Restarts numbering from a new seed (keeps the SSRC). */
void oh_rtp_sender_reset(oh_rtp_sender *s, uint64_t seed);

/* One audio packet carrying `samples` timestamp units: header + payload into
 * out. The marker is set when talkspurt_start is non-zero, and on the
 * stream's first packet. Advances the sequence number, and the timestamp by
 * samples. Returns bytes written or a negative status (nothing advances then). */
int oh_rtp_sender_write(oh_rtp_sender *s, const uint8_t *payload, size_t len, uint32_t samples,
                        int talkspurt_start, uint8_t *out, size_t cap);

/* A packet with its own payload type and timestamp (RFC 4733 events): takes
 * the next sequence number, leaves the media timestamp alone. */
int oh_rtp_sender_write_event(oh_rtp_sender *s, int payload_type, uint32_t timestamp, int marker,
                              const uint8_t *payload, size_t len, uint8_t *out, size_t cap);

/* Advances the media timestamp by samples without sending (silence, DTX, or
 * audio replaced by an RFC 4733 event); the next audio packet should then be
 * marked as a talkspurt start. */
void oh_rtp_sender_skip(oh_rtp_sender *s, uint32_t samples);

/* The contributing sources (RFC 3550 CSRC list) later audio packets carry: a
 * mixer lists the SSRCs whose audio is in its output. count 0..15; 0 clears it.
 * RFC 4733 event packets never carry them (the events are the sender's own). */
oh_status oh_rtp_sender_set_csrcs(oh_rtp_sender *s, const uint32_t *csrc, int count);

/* The payload type of later audio packets (a codec change mid-call); OH_EINVAL outside 0..127. */
oh_status oh_rtp_sender_set_payload_type(oh_rtp_sender *s, int payload_type);

void oh_rtp_sender_get_stats(const oh_rtp_sender *s, oh_rtp_sender_stats *stats);

/* ---- receiver-side source state (RFC 3550 A.1, A.3, A.8) ---- */

typedef struct oh_rtp_source_config {
    int clock_rate;       /* Hz: converts arrival ms into timestamp units for the jitter */
    int min_sequential;   /* packets in sequence before a source is valid, 1..100 (A.1 MIN_SEQUENTIAL, 2) */
    int max_dropout;      /* largest forward jump accepted as loss (A.1 MAX_DROPOUT, 3000) */
    int max_misorder;     /* largest backward step accepted as reordering (A.1 MAX_MISORDER, 100) */
} oh_rtp_source_config;

/* What oh_rtp_source_update decided about a packet. */
typedef enum oh_rtp_seq_verdict {
    OH_RTP_SEQ_VALID = 0,     /* counted: in sequence, a forward jump, or reordered/duplicate */
    OH_RTP_SEQ_PROBATION = 1, /* the source is not yet valid (A.1 probation) */
    OH_RTP_SEQ_BAD = 2,       /* a very large jump or old packet: dropped, remembered */
    OH_RTP_SEQ_RESYNC = 3     /* the second packet after a jump confirmed a restart: counted, stats restarted */
} oh_rtp_seq_verdict;

typedef struct oh_rtp_source_stats {
    uint32_t ssrc;
    int valid;                /* left probation */
    uint64_t received;        /* packets counted (A.1 received; duplicates count, as in the RFC) */
    uint64_t expected;        /* extended highest - base + 1 */
    int64_t cumulative_lost;  /* expected - received (can be negative with duplicates) */
    uint32_t extended_max_seq;/* cycles << 16 | highest sequence number */
    uint32_t cycles;          /* sequence number wraps, already shifted: multiple of 65536 */
    double jitter;            /* A.8 interarrival jitter, timestamp units */
    double jitter_ms;
    uint8_t last_fraction_lost; /* the fraction of the last report (8-bit fixed point) */
    uint64_t bad_seq;         /* packets dropped as OH_RTP_SEQ_BAD */
    uint64_t probation_drops; /* packets seen while on probation */
    uint64_t resyncs;
} oh_rtp_source_stats;

struct oh_rtcp_report_block;
typedef struct oh_rtp_source oh_rtp_source;

/* 8000 Hz, MIN_SEQUENTIAL 2, MAX_DROPOUT 3000, MAX_MISORDER 100. */
void oh_rtp_source_config_default(oh_rtp_source_config *cfg);
oh_status oh_rtp_source_create(const oh_rtp_source_config *cfg, oh_rtp_source **out);
void oh_rtp_source_destroy(oh_rtp_source *src);
/* Forgets the source: the next packet starts probation again. */
void oh_rtp_source_reset(oh_rtp_source *src);

/* Feeds one parsed packet received at arrival_ms. Returns an
 * oh_rtp_seq_verdict (>= 0) or a negative status (OH_EINVAL). The first
 * packet fixes the SSRC; a packet from another SSRC gives OH_ESTATE (the
 * caller decides whether to latch anew and reset). */
int oh_rtp_source_update(oh_rtp_source *src, uint16_t seq, uint32_t ssrc, uint32_t timestamp,
                         double arrival_ms);

void oh_rtp_source_get_stats(const oh_rtp_source *src, oh_rtp_source_stats *stats);

/* Remembers the last SR from this source (for LSR/DLSR): its NTP timestamp
 * and when it arrived. */
void oh_rtp_source_on_sr(oh_rtp_source *src, uint32_t ntp_sec, uint32_t ntp_frac, double arrival_ms);

/* Fills a report block for this source as of now_ms (A.3): fraction lost
 * over the interval since the previous report (and starts a new interval),
 * cumulative lost clamped to 24 bits signed, extended highest sequence,
 * jitter, LSR and DLSR. OH_ESTATE before the first valid packet. */
oh_status oh_rtp_source_report(oh_rtp_source *src, double now_ms, struct oh_rtcp_report_block *rb);

#ifdef __cplusplus
}
#endif

#endif
