/* RTCP compound packets (RFC 3550 section 6 and appendix A.2).
 *
 * Writers lay out the packets of 6.4 (SR, RR), 6.5 (SDES, CNAME only: the one
 * item RFC 3550 requires) and 6.6 (BYE with an optional reason). Each writes
 * one packet; the caller concatenates them into a compound packet, which is
 * what both SRTCP and rtcp-mux expect.
 *
 * The parser applies A.2's header validity checks to the whole compound
 * (version 2 everywhere, the first packet an SR or RR with no padding,
 * padding only in the last packet, lengths adding up exactly to the
 * datagram), then, inside each packet, checks that the report-block count,
 * the SDES chunks and items and the BYE list with its reason fit in the
 * packet's own length. Every read is preceded by a length check against the
 * packet, never the datagram, so one lying length field cannot make the
 * parser read another packet's bytes as its own. Unknown types are skipped
 * by length and counted (APP, XR, RFC 4585 feedback).
 *
 * NTP: the sender report carries a 64-bit NTP time; LSR is its middle 32
 * bits (16.16 s) and DLSR a delay in 1/65536 s, so RTT = A - LSR - DLSR in
 * the same unit, computed modulo 2^32 (RFC 3550 6.4.1, figure 2).
 * Known limits: only the first CNAME in an SDES is kept; report blocks of
 * more than one SR/RR beyond 31 are counted, not kept. */
#include "offhook/oh_rtcp.h"

#include <math.h>
#include <string.h>

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

static void write_header(uint8_t *out, int count, int type, size_t len)
{
    out[0] = (uint8_t)(0x80 | count);
    out[1] = (uint8_t)type;
    wr16(out + 2, (uint16_t)(len / 4 - 1));
}

static void write_block(uint8_t *p, const oh_rtcp_report_block *b)
{
    int32_t lost = b->cumulative_lost;
    if (lost > 0x7fffff)
        lost = 0x7fffff;
    if (lost < -0x800000)
        lost = -0x800000;
    wr32(p, b->ssrc);
    wr32(p + 4, ((uint32_t)b->fraction_lost << 24) | ((uint32_t)lost & 0xffffffu));
    wr32(p + 8, b->extended_max_seq);
    wr32(p + 12, b->jitter);
    wr32(p + 16, b->lsr);
    wr32(p + 20, b->dlsr);
}

static void read_block(const uint8_t *p, oh_rtcp_report_block *b)
{
    b->ssrc = rd32(p);
    uint32_t w = rd32(p + 4);
    b->fraction_lost = (uint8_t)(w >> 24);
    uint32_t lost = w & 0xffffffu;
    b->cumulative_lost = (lost & 0x800000u) ? (int32_t)lost - 0x1000000 : (int32_t)lost;
    b->extended_max_seq = rd32(p + 8);
    b->jitter = rd32(p + 12);
    b->lsr = rd32(p + 16);
    b->dlsr = rd32(p + 20);
}

int oh_rtcp_write_sr(const oh_rtcp_sender_info *si, const oh_rtcp_report_block *blocks, int n,
                     uint8_t *out, size_t cap)
{
    if (!si || !out || n < 0 || n > OH_RTCP_MAX_BLOCKS || (n && !blocks))
        return OH_EINVAL;
    size_t len = 28 + 24 * (size_t)n;
    if (cap < len)
        return OH_EBUFSIZE;
    write_header(out, n, OH_RTCP_SR, len);
    wr32(out + 4, si->ssrc);
    wr32(out + 8, si->ntp_sec);
    wr32(out + 12, si->ntp_frac);
    wr32(out + 16, si->rtp_timestamp);
    wr32(out + 20, si->packet_count);
    wr32(out + 24, si->octet_count);
    for (int i = 0; i < n; i++)
        write_block(out + 28 + 24 * i, &blocks[i]);
    return (int)len;
}

int oh_rtcp_write_rr(uint32_t ssrc, const oh_rtcp_report_block *blocks, int n, uint8_t *out,
                     size_t cap)
{
    if (!out || n < 0 || n > OH_RTCP_MAX_BLOCKS || (n && !blocks))
        return OH_EINVAL;
    size_t len = 8 + 24 * (size_t)n;
    if (cap < len)
        return OH_EBUFSIZE;
    write_header(out, n, OH_RTCP_RR, len);
    wr32(out + 4, ssrc);
    for (int i = 0; i < n; i++)
        write_block(out + 8 + 24 * i, &blocks[i]);
    return (int)len;
}

int oh_rtcp_write_sdes_cname(uint32_t ssrc, const char *cname, size_t cname_len, uint8_t *out,
                             size_t cap)
{
    if (!out || !cname || cname_len < 1 || cname_len > OH_RTCP_MAX_TEXT)
        return OH_EINVAL;
    /* header 4, SSRC 4, item type+length 2, text, then at least one zero octet
     * ending the item list, up to a 32-bit boundary */
    size_t body = 4 + 2 + cname_len + 1;
    size_t len = 4 + ((body + 3) & ~(size_t)3);
    if (cap < len)
        return OH_EBUFSIZE;
    memset(out, 0, len);
    write_header(out, 1, OH_RTCP_SDES, len);
    wr32(out + 4, ssrc);
    out[8] = 1; /* CNAME */
    out[9] = (uint8_t)cname_len;
    memcpy(out + 10, cname, cname_len);
    return (int)len;
}

int oh_rtcp_write_bye(const uint32_t *ssrcs, int n, const char *reason, size_t reason_len,
                      uint8_t *out, size_t cap)
{
    if (!out || !ssrcs || n < 1 || n > 31 || reason_len > OH_RTCP_MAX_TEXT ||
        (reason_len && !reason))
        return OH_EINVAL;
    size_t len = 4 + 4 * (size_t)n;
    if (reason_len)
        len += (1 + reason_len + 3) & ~(size_t)3;
    if (cap < len)
        return OH_EBUFSIZE;
    memset(out, 0, len);
    write_header(out, n, OH_RTCP_BYE, len);
    for (int i = 0; i < n; i++)
        wr32(out + 4 + 4 * i, ssrcs[i]);
    if (reason_len) {
        out[4 + 4 * n] = (uint8_t)reason_len;
        memcpy(out + 5 + 4 * n, reason, reason_len);
    }
    return (int)len;
}

static oh_status bad(oh_pkt_defect *defect, oh_pkt_defect why)
{
    if (defect)
        *defect = why;
    return OH_EBADPKT;
}

static void add_blocks(oh_rtcp_info *info, const uint8_t *p, int n)
{
    for (int i = 0; i < n; i++) {
        if (info->block_count == OH_RTCP_MAX_BLOCKS) {
            info->blocks_dropped += n - i;
            return;
        }
        read_block(p + 24 * i, &info->blocks[info->block_count++]);
    }
}

/* body/len: the packet after its 4-byte header, padding removed */
static oh_status parse_sdes(oh_rtcp_info *info, const uint8_t *body, size_t len, int chunks,
                            oh_pkt_defect *defect)
{
    size_t off = 0;
    for (int c = 0; c < chunks; c++) {
        if (len - off < 4)
            return bad(defect, OH_PKT_BAD_ITEM);
        uint32_t ssrc = rd32(body + off);
        off += 4;
        for (;;) {
            if (off >= len)
                return bad(defect, OH_PKT_BAD_ITEM); /* no end-of-items octet */
            uint8_t type = body[off];
            if (type == 0) {
                /* end of items: skip to the next 32-bit boundary */
                off = (off + 4) & ~(size_t)3;
                if (off > len)
                    return bad(defect, OH_PKT_BAD_ITEM);
                break;
            }
            if (len - off < 2)
                return bad(defect, OH_PKT_BAD_ITEM);
            size_t ilen = body[off + 1];
            if (ilen > len - off - 2)
                return bad(defect, OH_PKT_BAD_ITEM);
            if (type == 1 && !info->has_cname) {
                info->has_cname = 1;
                info->cname_ssrc = ssrc;
                info->cname_len = (uint8_t)ilen;
                memcpy(info->cname, body + off + 2, ilen);
                info->cname[ilen] = 0;
            }
            off += 2 + ilen;
        }
    }
    return OH_OK;
}

static oh_status parse_bye(oh_rtcp_info *info, const uint8_t *body, size_t len, int count,
                           oh_pkt_defect *defect)
{
    if ((size_t)count * 4 > len)
        return bad(defect, OH_PKT_BAD_ITEM);
    info->has_bye = 1;
    for (int i = 0; i < count; i++) {
        if (info->bye_count < 31)
            info->bye_ssrcs[info->bye_count++] = rd32(body + 4 * i);
    }
    size_t off = 4 * (size_t)count;
    if (off < len) {
        size_t rlen = body[off];
        if (rlen > len - off - 1)
            return bad(defect, OH_PKT_BAD_ITEM);
        info->reason_len = (uint8_t)rlen;
        memcpy(info->reason, body + off + 1, rlen);
        info->reason[rlen] = 0;
    }
    return OH_OK;
}

oh_status oh_rtcp_parse(const uint8_t *pkt, size_t len, oh_rtcp_info *info, oh_pkt_defect *defect)
{
    if (defect)
        *defect = OH_PKT_OK;
    if (!pkt || !info)
        return OH_EINVAL;
    memset(info, 0, sizeof *info);
    if (len < 4)
        return bad(defect, OH_PKT_TRUNCATED);
    if ((pkt[0] >> 6) != 2)
        return bad(defect, OH_PKT_BAD_VERSION);
    if (pkt[0] & 0x20)
        return bad(defect, OH_PKT_BAD_PADDING); /* never on the first packet (A.2) */
    if (pkt[1] != OH_RTCP_SR && pkt[1] != OH_RTCP_RR)
        return bad(defect, OH_PKT_BAD_TYPE);
    if (len % 4)
        return bad(defect, OH_PKT_BAD_LENGTH);
    size_t off = 0;
    while (off < len) {
        const uint8_t *p = pkt + off;
        if (len - off < 4)
            return bad(defect, OH_PKT_TRUNCATED);
        if ((p[0] >> 6) != 2)
            return bad(defect, OH_PKT_BAD_VERSION);
        size_t plen = 4 * ((size_t)rd16(p + 2) + 1);
        if (plen > len - off)
            return bad(defect, OH_PKT_BAD_LENGTH);
        int count = p[0] & 0x1f;
        size_t blen = plen - 4;
        if (p[0] & 0x20) {
            if (off + plen != len)
                return bad(defect, OH_PKT_BAD_PADDING); /* padding only in the last packet */
            size_t pad = p[plen - 1];
            if (pad == 0 || pad > blen)
                return bad(defect, OH_PKT_BAD_PADDING);
            blen -= pad;
        }
        const uint8_t *body = p + 4;
        oh_status st = OH_OK;
        switch (p[1]) {
        case OH_RTCP_SR:
            if (blen < 24 + 24 * (size_t)count)
                return bad(defect, OH_PKT_BAD_LENGTH);
            if (!info->has_sr) {
                info->has_sr = 1;
                info->sr.ssrc = rd32(body);
                info->sr.ntp_sec = rd32(body + 4);
                info->sr.ntp_frac = rd32(body + 8);
                info->sr.rtp_timestamp = rd32(body + 12);
                info->sr.packet_count = rd32(body + 16);
                info->sr.octet_count = rd32(body + 20);
            }
            add_blocks(info, body + 24, count);
            break;
        case OH_RTCP_RR:
            if (blen < 4 + 24 * (size_t)count)
                return bad(defect, OH_PKT_BAD_LENGTH);
            if (!info->has_rr) {
                info->has_rr = 1;
                info->rr_ssrc = rd32(body);
            }
            add_blocks(info, body + 4, count);
            break;
        case OH_RTCP_SDES:
            st = parse_sdes(info, body, blen, count, defect);
            break;
        case OH_RTCP_BYE:
            st = parse_bye(info, body, blen, count, defect);
            break;
        default:
            if (p[1] < 192 || p[1] > 223)
                return bad(defect, OH_PKT_BAD_TYPE); /* not an RTCP type at all */
            info->unknown_packets++;
            break;
        }
        if (st != OH_OK)
            return st;
        info->packets++;
        off += plen;
    }
    return OH_OK;
}

void oh_ntp_from_unix_ms(double unix_ms, uint32_t *sec, uint32_t *frac)
{
    double s = floor(unix_ms / 1000.0);
    double f = (unix_ms / 1000.0 - s) * 4294967296.0;
    if (f >= 4294967296.0)
        f = 4294967295.0;
    if (f < 0)
        f = 0;
    double ntp = fmod(s + (double)OH_NTP_UNIX_OFFSET, 4294967296.0);
    if (ntp < 0)
        ntp += 4294967296.0;
    *sec = (uint32_t)ntp;
    *frac = (uint32_t)f;
}

uint32_t oh_ntp_middle(uint32_t sec, uint32_t frac)
{
    return (sec << 16) | (frac >> 16);
}

uint32_t oh_ntp_dlsr_from_ms(double ms)
{
    if (!(ms > 0))
        return 0;
    double v = ms * 65.536;
    if (v >= 4294967295.0)
        return 0xffffffffu;
    return (uint32_t)v;
}

oh_status oh_rtcp_rtt(uint32_t arrival_middle, uint32_t lsr, uint32_t dlsr, double *rtt_ms)
{
    if (!rtt_ms)
        return OH_EINVAL;
    *rtt_ms = 0;
    if (lsr == 0)
        return OH_ESTATE;
    uint32_t rtt = arrival_middle - lsr - dlsr;
    if (rtt & 0x80000000u)
        return OH_EBADPKT;
    *rtt_ms = rtt / 65.536;
    return OH_OK;
}
