/* RTCP (RFC 3550 section 6): build and parse SR, RR, SDES (CNAME) and BYE in
 * compound packets; RTT from LSR/DLSR; NTP timestamp helpers.
 *
 * Building: each oh_rtcp_write_* appends one RTCP packet at out and returns
 * its length; a compound packet is the concatenation (SR or RR first, then
 * SDES with the CNAME, then BYE when leaving, RFC 3550 6.1).
 *
 * Parsing: oh_rtcp_parse() walks a compound packet with the validity checks of
 * RFC 3550 A.2 (version 2, first packet SR or RR without padding, padding only
 * in the last packet, lengths summing exactly to the datagram) and fills one
 * oh_rtcp_info. Unknown packet types (APP, XR, feedback) are skipped by their
 * length and counted. Never reads past len.
 *
 * rtcp-mux (RFC 5761): see oh_rtp_is_rtcp() in oh_rtp.h.
 *
 * Units: NTP timestamps as (seconds since 1900, 1/2^32 fractions); "middle"
 * NTP values (LSR, DLSR) in 1/65536 s; times in ms.
 *
 * Thread safety: all functions are reentrant and never allocate. */
#ifndef OFFHOOK_OH_RTCP_H
#define OFFHOOK_OH_RTCP_H

#include <stddef.h>
#include <stdint.h>

#include "offhook/oh_rtp.h"
#include "offhook/oh_status.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
    OH_RTCP_SR = 200,
    OH_RTCP_RR = 201,
    OH_RTCP_SDES = 202,
    OH_RTCP_BYE = 203,
    OH_RTCP_APP = 204
};

#define OH_RTCP_MAX_BLOCKS 31   /* report blocks in one SR/RR (5-bit count) */
#define OH_RTCP_MAX_TEXT 255    /* CNAME and BYE reason, bytes */
#define OH_NTP_UNIX_OFFSET 2208988800u /* seconds from 1900-01-01 to 1970-01-01 */

typedef struct oh_rtcp_report_block {
    uint32_t ssrc;            /* the source reported on */
    uint8_t fraction_lost;    /* since the previous report, in 1/256 */
    int32_t cumulative_lost;  /* 24-bit signed on the wire: -8388608..8388607 */
    uint32_t extended_max_seq;
    uint32_t jitter;          /* timestamp units */
    uint32_t lsr;             /* middle 32 bits of the last SR's NTP time, 0 if none */
    uint32_t dlsr;            /* delay since that SR, 1/65536 s */
} oh_rtcp_report_block;

typedef struct oh_rtcp_sender_info {
    uint32_t ssrc;
    uint32_t ntp_sec;
    uint32_t ntp_frac;
    uint32_t rtp_timestamp;
    uint32_t packet_count;
    uint32_t octet_count;
} oh_rtcp_sender_info;

/* Everything a compound packet said that the engine uses. */
typedef struct oh_rtcp_info {
    int has_sr;
    oh_rtcp_sender_info sr;
    int has_rr;
    uint32_t rr_ssrc;         /* the RR's sender */
    int block_count;          /* report blocks from the SR/RR packets, in order */
    oh_rtcp_report_block blocks[OH_RTCP_MAX_BLOCKS];
    int blocks_dropped;       /* blocks beyond OH_RTCP_MAX_BLOCKS (several SR/RR packets) */
    int has_cname;
    uint32_t cname_ssrc;
    uint8_t cname_len;
    char cname[OH_RTCP_MAX_TEXT + 1]; /* NUL-terminated copy (may contain other NULs: use cname_len) */
    int has_bye;
    int bye_count;
    uint32_t bye_ssrcs[31];
    uint8_t reason_len;
    char reason[OH_RTCP_MAX_TEXT + 1];
    int packets;              /* RTCP packets in the compound */
    int unknown_packets;      /* skipped: APP, XR, feedback, ... */
} oh_rtcp_info;

/* SR with up to 31 report blocks. Returns bytes written (28 + 24 * n) or a negative status. */
int oh_rtcp_write_sr(const oh_rtcp_sender_info *si, const oh_rtcp_report_block *blocks, int n,
                     uint8_t *out, size_t cap);
/* RR from ssrc with up to 31 report blocks (8 + 24 * n bytes). */
int oh_rtcp_write_rr(uint32_t ssrc, const oh_rtcp_report_block *blocks, int n, uint8_t *out,
                     size_t cap);
/* SDES with one chunk holding a CNAME item of 1..255 bytes, padded to 32 bits. */
int oh_rtcp_write_sdes_cname(uint32_t ssrc, const char *cname, size_t cname_len, uint8_t *out,
                             size_t cap);
/* BYE for 1..31 SSRCs, with an optional reason (0..255 bytes, reason may be NULL when 0). */
int oh_rtcp_write_bye(const uint32_t *ssrcs, int n, const char *reason, size_t reason_len,
                      uint8_t *out, size_t cap);

/* Parses a compound packet into *info. OH_EBADPKT with *defect (if not NULL)
 * for the check that failed. */
oh_status oh_rtcp_parse(const uint8_t *pkt, size_t len, oh_rtcp_info *info, oh_pkt_defect *defect);

/* NTP time (seconds since 1900 + 32-bit fraction) of a Unix time in ms. */
void oh_ntp_from_unix_ms(double unix_ms, uint32_t *sec, uint32_t *frac);
/* The middle 32 bits of an NTP timestamp (16.16 seconds), as in LSR. */
uint32_t oh_ntp_middle(uint32_t sec, uint32_t frac);
/* A delay in ms as a DLSR value (1/65536 s units), saturating at 2^32 - 1. */
uint32_t oh_ntp_dlsr_from_ms(double ms);

/* Round-trip time (RFC 3550 6.4.1): A - LSR - DLSR, where A is the middle 32
 * bits of the NTP time the report block arrived. OH_ESTATE when lsr is 0 (the
 * peer had no SR from us), OH_EBADPKT when the result is negative (clocks or
 * the peer's DLSR disagree). *rtt_ms in ms. */
oh_status oh_rtcp_rtt(uint32_t arrival_middle, uint32_t lsr, uint32_t dlsr, double *rtt_ms);

#ifdef __cplusplus
}
#endif

#endif
