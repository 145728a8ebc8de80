/* RTCP: compound SR+SDES+BYE and RR round trips, RTT from LSR/DLSR, NTP
 * conversions, each malformed class with its defect, and random/mutated
 * bytes on exact-size heap copies (ASan catches any over-read). */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "offhook/oh_rtcp.h"
#include "oh_test.h"

static oh_status parse_exact(const uint8_t *pkt, size_t len, oh_rtcp_info *info, oh_pkt_defect *d)
{
    uint8_t *copy = malloc(len ? len : 1);
    if (len)
        memcpy(copy, pkt, len);
    oh_status st = oh_rtcp_parse(copy, len, info, d);
    free(copy);
    return st;
}

static int build_compound(uint8_t *buf, size_t cap)
{
    oh_rtcp_sender_info si = {0x11111111, 3900000000u, 0x80000000u, 123456, 500, 80000};
    oh_rtcp_report_block rb[2] = {
        {0x22222222, 25, -5, 70000, 12, 0x12345678, 65536},
        {0x33333333, 255, 8388607, 1, 0xffffffff, 0, 0}};
    int n = oh_rtcp_write_sr(&si, rb, 2, buf, cap);
    CHECK(n == 28 + 48);
    int m = oh_rtcp_write_sdes_cname(0x11111111, "alice@example.com", 17, buf + n, cap - (size_t)n);
    CHECK(m == 4 + 24); /* SSRC 4 + item 2 + 17 + end 1 = 24, plus the header */
    n += m;
    uint32_t ssrcs[1] = {0x11111111};
    m = oh_rtcp_write_bye(ssrcs, 1, "hangup", 6, buf + n, cap - (size_t)n);
    CHECK(m == 8 + 8);
    return n + m;
}

static void test_round_trip(void)
{
    uint8_t buf[512];
    int n = build_compound(buf, sizeof buf);
    oh_rtcp_info info;
    oh_pkt_defect d;
    CHECK_STATUS(parse_exact(buf, (size_t)n, &info, &d), OH_OK);
    CHECK(info.packets == 3 && info.has_sr && !info.has_rr && info.block_count == 2);
    CHECK(info.sr.ssrc == 0x11111111 && info.sr.ntp_sec == 3900000000u && info.sr.ntp_frac == 0x80000000u);
    CHECK(info.sr.rtp_timestamp == 123456 && info.sr.packet_count == 500 && info.sr.octet_count == 80000);
    CHECK(info.blocks[0].ssrc == 0x22222222 && info.blocks[0].fraction_lost == 25);
    CHECK(info.blocks[0].cumulative_lost == -5 && info.blocks[0].extended_max_seq == 70000);
    CHECK(info.blocks[0].jitter == 12 && info.blocks[0].lsr == 0x12345678 && info.blocks[0].dlsr == 65536);
    CHECK(info.blocks[1].cumulative_lost == 8388607 && info.blocks[1].jitter == 0xffffffff);
    CHECK(info.has_cname && info.cname_len == 17 && strcmp(info.cname, "alice@example.com") == 0);
    CHECK(info.has_bye && info.bye_count == 1 && info.bye_ssrcs[0] == 0x11111111);
    CHECK(info.reason_len == 6 && strcmp(info.reason, "hangup") == 0);
    /* RR + BYE without reason, and an APP packet skipped */
    uint8_t rr[128];
    int k = oh_rtcp_write_rr(0x44444444, NULL, 0, rr, sizeof rr);
    CHECK(k == 8);
    uint8_t app[12] = {0x80, 204, 0, 2, 0, 0, 0, 1, 'n', 'a', 'm', 'e'};
    memcpy(rr + k, app, 12);
    k += 12;
    uint32_t two[2] = {1, 2};
    k += oh_rtcp_write_bye(two, 2, NULL, 0, rr + k, sizeof rr - (size_t)k);
    CHECK_STATUS(parse_exact(rr, (size_t)k, &info, &d), OH_OK);
    CHECK(info.has_rr && info.rr_ssrc == 0x44444444 && info.block_count == 0);
    CHECK(info.unknown_packets == 1 && info.bye_count == 2 && info.reason_len == 0);
    /* SSRC 4 + item 2 + 2 + end 1 = 9, padded to 12 */
    k = oh_rtcp_write_sdes_cname(5, "ab", 2, rr, sizeof rr);
    CHECK(k == 16);
    CHECK_STATUS(oh_rtcp_write_sdes_cname(5, "", 0, rr, sizeof rr), OH_EINVAL);
    CHECK_STATUS(oh_rtcp_write_sr(&(oh_rtcp_sender_info){0}, NULL, 0, rr, 27), OH_EBUFSIZE);
}

static void expect(const uint8_t *pkt, size_t len, oh_pkt_defect want)
{
    oh_rtcp_info info;
    oh_pkt_defect d = OH_PKT_OK;
    CHECK_STATUS(parse_exact(pkt, len, &info, &d), OH_EBADPKT);
    if (d != want)
        fprintf(stderr, "defect %s, expected %s\n", oh_pkt_defect_str((int)d), oh_pkt_defect_str((int)want));
    CHECK(d == want);
}

static void test_malformed(void)
{
    uint8_t buf[512], m[512];
    int n = build_compound(buf, sizeof buf);
    expect(buf, 3, OH_PKT_TRUNCATED);
    memcpy(m, buf, (size_t)n);
    m[0] = 0x40 | (m[0] & 0x3f);
    expect(m, (size_t)n, OH_PKT_BAD_VERSION);
    memcpy(m, buf, (size_t)n);
    m[1] = OH_RTCP_SDES; /* first packet must be SR or RR */
    expect(m, (size_t)n, OH_PKT_BAD_TYPE);
    memcpy(m, buf, (size_t)n);
    m[0] |= 0x20; /* padding on the first packet */
    expect(m, (size_t)n, OH_PKT_BAD_PADDING);
    expect(buf, (size_t)n - 4, OH_PKT_BAD_LENGTH); /* the BYE's length overruns */
    memcpy(m, buf, (size_t)n);
    m[3] = 0xff; /* SR length far beyond the datagram */
    expect(m, (size_t)n, OH_PKT_BAD_LENGTH);
    memcpy(m, buf, (size_t)n);
    m[0] = (uint8_t)(0x80 | 31); /* 31 report blocks announced, 2 present */
    expect(m, (size_t)n, OH_PKT_BAD_LENGTH);
    memcpy(m, buf, (size_t)n);
    m[76 + 9] = 200; /* CNAME item length past its packet */
    expect(m, (size_t)n, OH_PKT_BAD_ITEM);
    memcpy(m, buf, (size_t)n);
    m[104] = 0x80 | 31; /* BYE with 31 SSRCs in 3 words */
    expect(m, (size_t)n, OH_PKT_BAD_ITEM);
    memcpy(m, buf, (size_t)n);
    m[108 + 4] = 250; /* BYE reason longer than the packet */
    expect(m, (size_t)n, OH_PKT_BAD_ITEM);
    memcpy(m, buf, (size_t)n);
    m[105] = 100; /* a non-RTCP type inside the compound */
    expect(m, (size_t)n, OH_PKT_BAD_TYPE);
    /* padding allowed on the last packet only, and must fit */
    uint8_t padded[20] = {0x80, 201, 0, 1, 0, 0, 0, 9, 0xA1, 203, 0, 2, 0, 0, 0, 9, 0, 0, 0, 4};
    oh_rtcp_info info;
    CHECK_STATUS(parse_exact(padded, 20, &info, NULL), OH_OK);
    CHECK(info.has_bye && info.bye_count == 1 && info.reason_len == 0);
    padded[19] = 60;
    expect(padded, 20, OH_PKT_BAD_PADDING);
    memcpy(m, buf, (size_t)n);
    m[76] |= 0x20; /* padding on a middle packet */
    expect(m, (size_t)n, OH_PKT_BAD_PADDING);
}

static void test_fuzz(unsigned long long seed)
{
    unsigned long long rng = seed;
    uint8_t buf[512], m[512];
    int n = build_compound(buf, sizeof buf);
    int accepted = 0;
    for (int iter = 0; iter < 100000; iter++) {
        size_t len;
        if (iter & 1) {
            len = (size_t)(oh_test_rand(&rng) % 128);
            for (size_t i = 0; i < len; i++)
                m[i] = (uint8_t)oh_test_rand(&rng);
            if (len)
                m[0] = (uint8_t)(0x80 | (m[0] & 0x1f));
            if (len > 1)
                m[1] = (uint8_t)(200 + (m[1] & 1));
        } else {
            memcpy(m, buf, (size_t)n);
            len = (size_t)n;
            int flips = 1 + (int)(oh_test_rand(&rng) % 4);
            for (int f = 0; f < flips; f++)
                m[oh_test_rand(&rng) % (size_t)n] ^= (uint8_t)(1u << (oh_test_rand(&rng) % 8));
            if (oh_test_rand(&rng) % 4 == 0)
                len = (size_t)(oh_test_rand(&rng) % (size_t)n);
        }
        oh_rtcp_info info;
        oh_pkt_defect d;
        oh_status st = parse_exact(m, len, &info, &d);
        CHECK(st == OH_OK || st == OH_EBADPKT);
        if (st == OH_OK) {
            accepted++;
            CHECK(info.block_count <= OH_RTCP_MAX_BLOCKS && info.cname_len <= 255);
        } else {
            CHECK(d != OH_PKT_OK);
        }
    }
    CHECK(accepted > 100); /* mutations in counters/SSRCs still parse */
}

static void test_ntp_rtt(void)
{
    uint32_t sec, frac;
    oh_ntp_from_unix_ms(1500.25, &sec, &frac);
    CHECK(sec == OH_NTP_UNIX_OFFSET + 1 && fabs(frac / 4294967296.0 - 0.50025) < 1e-9);
    CHECK(oh_ntp_middle(0x12345678, 0x9abcdef0) == 0x56789abc);
    CHECK(oh_ntp_dlsr_from_ms(1000.0) == 65536 && oh_ntp_dlsr_from_ms(-5) == 0);
    /* RFC 3550 figure 2: A = 0xb710:8000, LSR = 0xb705:2000, DLSR = 0x0005:4000 -> 0x0006:2000 */
    double rtt;
    CHECK_STATUS(oh_rtcp_rtt(0xb7108000u, 0xb7052000u, 0x00054000u, &rtt), OH_OK);
    CHECK(fabs(rtt - 6125.0) < 1e-6);
    CHECK_STATUS(oh_rtcp_rtt(0xb7108000u, 0, 0x00054000u, &rtt), OH_ESTATE);
    CHECK_STATUS(oh_rtcp_rtt(0xb7000000u, 0xb7052000u, 0x00054000u, &rtt), OH_EBADPKT);
    /* across the 16.16 wrap */
    CHECK_STATUS(oh_rtcp_rtt(0x00000010u, 0xfffffff0u, 0, &rtt), OH_OK);
    CHECK(fabs(rtt - 32 / 65.536) < 1e-9);
}

int main(void)
{
    unsigned long long seed = oh_test_seed();
    test_round_trip();
    test_malformed();
    test_fuzz(seed);
    test_ntp_rtt();
    TEST_EXIT();
}
