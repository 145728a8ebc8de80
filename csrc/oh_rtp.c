/* RTP packets and per-source receive statistics (RFC 3550).
 *
 * Parsing. A packet off the network is hostile until proven otherwise, so
 * oh_rtp_parse checks every length before it reads: the 12-byte fixed header
 * (else TRUNCATED), version 2 (BAD_VERSION), the CSRC list (4 * CC bytes,
 * CSRC_OVERRUN), the extension header and its 32-bit length (EXT_OVERRUN),
 * then the padding count in the last byte, which must be at least 1 and fit
 * in what follows the headers (BAD_PADDING). Distinct defects are reported
 * because the engine counts them separately (an "RTP bleed" probe, a broken
 * peer and an SRTP key mismatch look different in the statistics). The
 * extension is skipped, not interpreted: its place is returned so that a
 * later RFC 8285 reader can look at it.
 *
 * Sender. RFC 3550 5.1 wants random initial sequence numbers and timestamps
 * (to make known-plaintext attacks on SRTP harder); they are derived from a
 * caller-provided 64-bit seed with splitmix64, so tests are reproducible and
 * the core never reads an entropy source itself. The marker bit flags the
 * first packet of a talkspurt (RFC 3551 4.1), which the caller knows (after
 * DTX or a DTMF event); the first packet of a stream is always marked.
 *
 * Receiver. oh_rtp_source follows RFC 3550 appendix A closely:
 * - A.1 sequence validation: a new source is on probation until
 *   MIN_SEQUENTIAL packets arrive in sequence; afterwards a forward jump of
 *   less than MAX_DROPOUT is loss, a backward step of up to MAX_MISORDER is
 *   reordering or a duplicate, anything else is "bad" unless the next packet
 *   follows it, which confirms the sender restarted (the statistics restart).
 *   Wrap-around increments the cycle count (kept shifted by 16, as A.1 does).
 * - A.8 interarrival jitter: D = (Rj - Ri) - (Sj - Si) in timestamp units,
 *   J += (|D| - J) / 16. The arrival time comes in ms and is converted to
 *   timestamp units modulo 2^32; the jitter is kept as a double rather than
 *   A.8's scaled integer, and truncated for the report block.
 * - A.3 loss: expected = extended max - base + 1, cumulative lost =
 *   expected - received (clamped to 24 bits signed on the wire), fraction
 *   lost over the interval since the last report, 0 when packets were
 *   duplicated more than lost.
 * Known limits: duplicates count as received (as in A.1), so cumulative loss
 * can go negative; jitter is only meaningful for one payload format at a
 * time (a timestamp clock change shows up as a jitter spike). */
#include "offhook/oh_rtp.h"

#include <math.h>
#include <string.h>

#include "offhook/oh_rtcp.h"
#include "oh_alloc.h"

const char *oh_pkt_defect_str(int defect)
{
    switch (defect) {
    case OH_PKT_OK: return "ok";
    case OH_PKT_TRUNCATED: return "truncated";
    case OH_PKT_BAD_VERSION: return "bad version";
    case OH_PKT_BAD_PADDING: return "bad padding";
    case OH_PKT_CSRC_OVERRUN: return "CSRC list overruns the packet";
    case OH_PKT_EXT_OVERRUN: return "header extension overruns the packet";
    case OH_PKT_BAD_LENGTH: return "bad length";
    case OH_PKT_BAD_TYPE: return "bad packet type";
    case OH_PKT_BAD_ITEM: return "malformed field";
    case OH_PKT_AUTH_FAIL: return "authentication failed";
    case OH_PKT_REPLAY: return "replayed packet";
    case OH_PKT_UNKNOWN_SSRC: return "unknown SSRC";
    default: return "unknown defect";
    }
}

static uint16_t rd16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static uint32_t rd32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static void wr16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

static oh_status bad(oh_pkt_defect *defect, oh_pkt_defect why)
{
    if (defect)
        *defect = why;
    return OH_EBADPKT;
}

oh_status oh_rtp_parse(const uint8_t *pkt, size_t len, oh_rtp_header *h, oh_pkt_defect *defect)
{
    if (defect)
        *defect = OH_PKT_OK;
    if (!pkt || !h)
        return OH_EINVAL;
    if (len < OH_RTP_HEADER_MIN)
        return bad(defect, OH_PKT_TRUNCATED);
    if ((pkt[0] >> 6) != 2)
        return bad(defect, OH_PKT_BAD_VERSION);
    h->padding = (pkt[0] >> 5) & 1;
    h->extension = (pkt[0] >> 4) & 1;
    h->csrc_count = pkt[0] & 0x0f;
    h->marker = pkt[1] >> 7;
    h->payload_type = pkt[1] & 0x7f;
    h->seq = rd16(pkt + 2);
    h->timestamp = rd32(pkt + 4);
    h->ssrc = rd32(pkt + 8);
    size_t off = OH_RTP_HEADER_MIN;
    if ((size_t)h->csrc_count * 4 > len - off)
        return bad(defect, OH_PKT_CSRC_OVERRUN);
    for (int i = 0; i < h->csrc_count; i++, off += 4)
        h->csrc[i] = rd32(pkt + off);
    h->ext_profile = 0;
    h->ext_offset = 0;
    h->ext_len = 0;
    if (h->extension) {
        if (len - off < 4)
            return bad(defect, OH_PKT_EXT_OVERRUN);
        h->ext_profile = rd16(pkt + off);
        size_t words = rd16(pkt + off + 2);
        off += 4;
        if (words * 4 > len - off)
            return bad(defect, OH_PKT_EXT_OVERRUN);
        h->ext_offset = off;
        h->ext_len = words * 4;
        off += words * 4;
    }
    size_t pad = 0;
    if (h->padding) {
        /* the count octet is the packet's last byte, so there must be one after the headers */
        if (len == off)
            return bad(defect, OH_PKT_BAD_PADDING);
        pad = pkt[len - 1];
        if (pad == 0 || pad > len - off)
            return bad(defect, OH_PKT_BAD_PADDING);
    }
    h->payload_offset = off;
    h->payload_len = len - off - pad;
    h->padding_len = pad;
    return OH_OK;
}

int oh_rtp_write(const oh_rtp_header *h, const uint8_t *payload, size_t payload_len,
                 uint8_t *out, size_t cap)
{
    if (!h || !out || (!payload && payload_len) || h->padding || h->extension ||
        h->csrc_count > OH_RTP_MAX_CSRC || h->payload_type > 127 || h->marker > 1)
        return OH_EINVAL;
    size_t hlen = OH_RTP_HEADER_MIN + 4u * h->csrc_count;
    if (payload_len > (size_t)INT32_MAX - hlen)
        return OH_EINVAL;
    if (cap < hlen + payload_len)
        return OH_EBUFSIZE;
    out[0] = (uint8_t)(0x80 | h->csrc_count);
    out[1] = (uint8_t)((h->marker << 7) | h->payload_type);
    wr16(out + 2, h->seq);
    wr32(out + 4, h->timestamp);
    wr32(out + 8, h->ssrc);
    for (int i = 0; i < h->csrc_count; i++)
        wr32(out + 12 + 4 * i, h->csrc[i]);
    if (payload_len)
        memmove(out + hlen, payload, payload_len);
    return (int)(hlen + payload_len);
}

int oh_rtp_is_rtcp(const uint8_t *pkt, size_t len)
{
    return pkt && len >= 2 && pkt[1] >= 192 && pkt[1] <= 223;
}

int oh_rtp_pt_conflicts_with_rtcp(int pt)
{
    return pt >= 64 && pt <= 95;
}

/* ---- sender ---- */

struct oh_rtp_sender {
    uint32_t ssrc;
    uint8_t pt;
    uint16_t seq;
    uint32_t ts;
    int first;
    uint64_t packets, octets;
    uint8_t csrc_count;   /* contributing sources of the audio packets (a mixer's output) */
    uint32_t csrc[OH_RTP_MAX_CSRC];
};

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

void oh_rtp_sender_config_default(oh_rtp_sender_config *cfg)
{
    cfg->ssrc = 0;
    cfg->payload_type = 0;
    cfg->clock_rate = 8000;
    cfg->seed = 0;
}

void oh_rtp_sender_reset(oh_rtp_sender *s, uint64_t seed)
{
    uint64_t st = seed;
    uint64_t r = splitmix64(&st);
    s->seq = (uint16_t)r;
    s->ts = (uint32_t)(r >> 32);
    s->first = 1;
    s->packets = 0;
    s->octets = 0;
}

oh_status oh_rtp_sender_create(const oh_rtp_sender_config *cfg, oh_rtp_sender **out)
{
    if (!cfg || !out)
        return OH_EINVAL;
    *out = NULL;
    if (cfg->payload_type < 0 || cfg->payload_type > 127 || cfg->clock_rate < 1000 ||
        cfg->clock_rate > 192000)
        return OH_EINVAL;
    oh_rtp_sender *s = oh_alloc(sizeof *s);
    if (!s)
        return OH_ENOMEM;
    s->ssrc = cfg->ssrc;
    s->pt = (uint8_t)cfg->payload_type;
    oh_rtp_sender_reset(s, cfg->seed);
    *out = s;
    return OH_OK;
}

void oh_rtp_sender_destroy(oh_rtp_sender *s)
{
    oh_free(s);
}

static int sender_emit(oh_rtp_sender *s, int pt, uint32_t ts, int marker, int with_csrc,
                       const uint8_t *payload, size_t len, uint8_t *out, size_t cap)
{
    oh_rtp_header h;
    memset(&h, 0, sizeof h);
    if (with_csrc) {
        h.csrc_count = s->csrc_count;
        memcpy(h.csrc, s->csrc, s->csrc_count * sizeof h.csrc[0]);
    }
    h.marker = marker ? 1 : 0;
    h.payload_type = (uint8_t)pt;
    h.seq = s->seq;
    h.timestamp = ts;
    h.ssrc = s->ssrc;
    int n = oh_rtp_write(&h, payload, len, out, cap);
    if (n < 0)
        return n;
    s->seq++;
    s->packets++;
    s->octets += len;
    s->first = 0;
    return n;
}

int oh_rtp_sender_write(oh_rtp_sender *s, const uint8_t *payload, size_t len, uint32_t samples,
                        int talkspurt_start, uint8_t *out, size_t cap)
{
    if (!s)
        return OH_EINVAL;
    int n = sender_emit(s, s->pt, s->ts, talkspurt_start || s->first, 1, payload, len, out, cap);
    if (n >= 0)
        s->ts += samples;
    return n;
}

int oh_rtp_sender_write_event(oh_rtp_sender *s, int payload_type, uint32_t timestamp, int marker,
                              const uint8_t *payload, size_t len, uint8_t *out, size_t cap)
{
    if (!s || payload_type < 0 || payload_type > 127)
        return OH_EINVAL;
    return sender_emit(s, payload_type, timestamp, marker, 0, payload, len, out, cap);
}

void oh_rtp_sender_skip(oh_rtp_sender *s, uint32_t samples)
{
    s->ts += samples;
}

oh_status oh_rtp_sender_set_csrcs(oh_rtp_sender *s, const uint32_t *csrc, int count)
{
    if (!s || count < 0 || count > OH_RTP_MAX_CSRC || (count > 0 && !csrc))
        return OH_EINVAL;
    s->csrc_count = (uint8_t)count;
    if (count > 0)
        memcpy(s->csrc, csrc, (size_t)count * sizeof s->csrc[0]);
    return OH_OK;
}

oh_status oh_rtp_sender_set_payload_type(oh_rtp_sender *s, int payload_type)
{
    if (!s || payload_type < 0 || payload_type > 127)
        return OH_EINVAL;
    s->pt = (uint8_t)payload_type;
    return OH_OK;
}

void oh_rtp_sender_get_stats(const oh_rtp_sender *s, oh_rtp_sender_stats *st)
{
    st->ssrc = s->ssrc;
    st->next_seq = s->seq;
    st->timestamp = s->ts;
    st->packets = s->packets;
    st->octets = s->octets;
}

/* ---- receiver-side source ---- */

#define RTP_SEQ_MOD (1u << 16)

struct oh_rtp_source {
    oh_rtp_source_config cfg;
    int have_ssrc;
    uint32_t ssrc;
    /* A.1 */
    uint16_t max_seq;
    uint32_t cycles;
    uint32_t base_seq;
    uint32_t bad_seq;
    uint32_t probation;
    uint64_t received;
    uint64_t expected_prior;
    uint64_t received_prior;
    /* A.8 */
    int have_transit;
    uint32_t transit;
    double jitter;
    /* A.3 and LSR */
    uint8_t last_fraction;
    uint32_t lsr;
    double lsr_arrival_ms;
    int have_sr;
    /* counters */
    uint64_t bad_count, probation_count, resyncs;
};

void oh_rtp_source_config_default(oh_rtp_source_config *cfg)
{
    cfg->clock_rate = 8000;
    cfg->min_sequential = 2;
    cfg->max_dropout = 3000;
    cfg->max_misorder = 100;
}

void oh_rtp_source_reset(oh_rtp_source *src)
{
    oh_rtp_source_config cfg = src->cfg;
    memset(src, 0, sizeof *src);
    src->cfg = cfg;
}

oh_status oh_rtp_source_create(const oh_rtp_source_config *cfg, oh_rtp_source **out)
{
    if (!cfg || !out)
        return OH_EINVAL;
    *out = NULL;
    if (cfg->clock_rate < 1000 || cfg->clock_rate > 192000 || cfg->min_sequential < 1 ||
        cfg->min_sequential > 100 || cfg->max_dropout < 1 || cfg->max_misorder < 0 ||
        cfg->max_dropout + cfg->max_misorder >= (int)RTP_SEQ_MOD)
        return OH_EINVAL;
    oh_rtp_source *src = oh_alloc(sizeof *src);
    if (!src)
        return OH_ENOMEM;
    src->cfg = *cfg;
    oh_rtp_source_reset(src);
    *out = src;
    return OH_OK;
}

void oh_rtp_source_destroy(oh_rtp_source *src)
{
    oh_free(src);
}

/* A.1 init_seq */
static void init_seq(oh_rtp_source *s, uint16_t seq)
{
    s->base_seq = seq;
    s->max_seq = seq;
    s->bad_seq = RTP_SEQ_MOD + 1; /* so seq == bad_seq is false */
    s->cycles = 0;
    s->received = 0;
    s->received_prior = 0;
    s->expected_prior = 0;
    s->have_transit = 0;
    s->jitter = 0.0;
}

/* A.1 update_seq, returning a verdict instead of 0/1. */
static oh_rtp_seq_verdict update_seq(oh_rtp_source *s, uint16_t seq)
{
    uint16_t udelta = (uint16_t)(seq - s->max_seq);
    if (s->probation) {
        if (seq == (uint16_t)(s->max_seq + 1)) {
            s->probation--;
            s->max_seq = seq;
            if (s->probation == 0) {
                init_seq(s, seq);
                s->received++;
                return OH_RTP_SEQ_VALID;
            }
        } else {
            s->probation = (uint32_t)s->cfg.min_sequential - 1;
            s->max_seq = seq;
        }
        return OH_RTP_SEQ_PROBATION;
    }
    if (udelta < (uint32_t)s->cfg.max_dropout) {
        if (seq < s->max_seq)
            s->cycles += RTP_SEQ_MOD;
        s->max_seq = seq;
    } else if (udelta <= RTP_SEQ_MOD - (uint32_t)s->cfg.max_misorder) {
        if (seq == s->bad_seq) {
            /* two sequential packets after a jump: the other side restarted */
            init_seq(s, seq);
            s->received++;
            return OH_RTP_SEQ_RESYNC;
        }
        s->bad_seq = (seq + 1u) & (RTP_SEQ_MOD - 1);
        return OH_RTP_SEQ_BAD;
    }
    /* else: duplicate or reordered, counted */
    s->received++;
    return OH_RTP_SEQ_VALID;
}

static uint32_t arrival_units(const oh_rtp_source *s, double arrival_ms)
{
    /* floor then reduce modulo 2^32, so any origin and negative times work */
    double units = floor(arrival_ms * s->cfg.clock_rate / 1000.0);
    double m = fmod(units, 4294967296.0);
    if (m < 0)
        m += 4294967296.0;
    return (uint32_t)m;
}

int oh_rtp_source_update(oh_rtp_source *s, uint16_t seq, uint32_t ssrc, uint32_t timestamp,
                         double arrival_ms)
{
    if (!s || !isfinite(arrival_ms))
        return OH_EINVAL;
    if (!s->have_ssrc) {
        s->have_ssrc = 1;
        s->ssrc = ssrc;
        init_seq(s, seq);
        s->max_seq = (uint16_t)(seq - 1);
        s->probation = (uint32_t)s->cfg.min_sequential;
    } else if (ssrc != s->ssrc) {
        return OH_ESTATE;
    }
    oh_rtp_seq_verdict v = update_seq(s, seq);
    switch (v) {
    case OH_RTP_SEQ_PROBATION: s->probation_count++; return v;
    case OH_RTP_SEQ_BAD: s->bad_count++; return v;
    case OH_RTP_SEQ_RESYNC: s->resyncs++; break;
    default: break;
    }
    /* A.8 */
    uint32_t transit = arrival_units(s, arrival_ms) - timestamp;
    if (s->have_transit) {
        int32_t d = (int32_t)(transit - s->transit);
        double ad = d < 0 ? -(double)d : (double)d;
        s->jitter += (ad - s->jitter) / 16.0;
    }
    s->transit = transit;
    s->have_transit = 1;
    return v;
}

static uint64_t expected_count(const oh_rtp_source *s)
{
    uint64_t ext_max = (uint64_t)s->cycles + s->max_seq;
    return ext_max + 1 - s->base_seq;
}

void oh_rtp_source_get_stats(const oh_rtp_source *s, oh_rtp_source_stats *st)
{
    memset(st, 0, sizeof *st);
    st->ssrc = s->ssrc;
    st->valid = s->have_ssrc && s->probation == 0;
    if (st->valid) {
        st->received = s->received;
        st->expected = expected_count(s);
        st->cumulative_lost = (int64_t)st->expected - (int64_t)st->received;
        st->extended_max_seq = s->cycles + s->max_seq;
        st->cycles = s->cycles;
        st->jitter = s->jitter;
        st->jitter_ms = s->jitter * 1000.0 / s->cfg.clock_rate;
    }
    st->last_fraction_lost = s->last_fraction;
    st->bad_seq = s->bad_count;
    st->probation_drops = s->probation_count;
    st->resyncs = s->resyncs;
}

void oh_rtp_source_on_sr(oh_rtp_source *s, uint32_t ntp_sec, uint32_t ntp_frac, double arrival_ms)
{
    s->lsr = oh_ntp_middle(ntp_sec, ntp_frac);
    s->lsr_arrival_ms = arrival_ms;
    s->have_sr = 1;
}

oh_status oh_rtp_source_report(oh_rtp_source *s, double now_ms, oh_rtcp_report_block *rb)
{
    if (!s || !rb)
        return OH_EINVAL;
    if (!s->have_ssrc || s->probation)
        return OH_ESTATE;
    uint64_t expected = expected_count(s);
    int64_t lost = (int64_t)expected - (int64_t)s->received;
    if (lost > 0x7fffff)
        lost = 0x7fffff;
    if (lost < -0x800000)
        lost = -0x800000;
    /* A.3: the interval's expected and received, fraction in 1/256 */
    int64_t expected_interval = (int64_t)(expected - s->expected_prior);
    int64_t received_interval = (int64_t)(s->received - s->received_prior);
    s->expected_prior = expected;
    s->received_prior = s->received;
    int64_t lost_interval = expected_interval - received_interval;
    uint8_t fraction = 0;
    if (expected_interval > 0 && lost_interval > 0)
        fraction = (uint8_t)((lost_interval << 8) / expected_interval);
    s->last_fraction = fraction;
    rb->ssrc = s->ssrc;
    rb->fraction_lost = fraction;
    rb->cumulative_lost = (int32_t)lost;
    rb->extended_max_seq = s->cycles + s->max_seq;
    rb->jitter = (uint32_t)s->jitter;
    if (s->have_sr) {
        rb->lsr = s->lsr;
        double d = now_ms - s->lsr_arrival_ms;
        rb->dlsr = oh_ntp_dlsr_from_ms(d < 0 ? 0 : d);
    } else {
        rb->lsr = 0;
        rb->dlsr = 0;
    }
    return OH_OK;
}
