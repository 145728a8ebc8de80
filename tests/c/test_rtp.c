/* RTP: header round trips, every malformed-packet class with its defect,
 * random and mutated bytes (never a crash or an out-of-bounds read under
 * ASan: packets are copied into exact-size heap buffers), the sender's
 * numbering and marker, and the RFC 3550 A.1/A.3/A.8 source statistics. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "offhook/oh_rtcp.h"
#include "offhook/oh_rtp.h"
#include "oh_test.h"

/* parse from an exact-size heap copy, so ASan sees any read past len */
static oh_status parse_exact(const uint8_t *pkt, size_t len, oh_rtp_header *h, oh_pkt_defect *d)
{
    uint8_t *copy = malloc(len ? len : 1);
    if (len)
        memcpy(copy, pkt, len);
    oh_status st = oh_rtp_parse(copy, len, h, d);
    free(copy);
    return st;
}

static void test_round_trip(void)
{
    oh_rtp_header h;
    memset(&h, 0, sizeof h);
    h.marker = 1;
    h.payload_type = 96;
    h.seq = 65535;
    h.timestamp = 0xdeadbeef;
    h.ssrc = 0x01020304;
    h.csrc_count = 2;
    h.csrc[0] = 11;
    h.csrc[1] = 0xffffffff;
    uint8_t payload[160], out[300];
    for (int i = 0; i < 160; i++)
        payload[i] = (uint8_t)i;
    int n = oh_rtp_write(&h, payload, 160, out, sizeof out);
    CHECK(n == 12 + 8 + 160);
    CHECK(out[0] == 0x82 && out[1] == (0x80 | 96));
    oh_rtp_header p;
    oh_pkt_defect d;
    CHECK_STATUS(parse_exact(out, (size_t)n, &p, &d), OH_OK);
    CHECK(d == OH_PKT_OK);
    CHECK(p.marker == 1 && p.payload_type == 96 && p.seq == 65535 && p.timestamp == 0xdeadbeef);
    CHECK(p.ssrc == 0x01020304 && p.csrc_count == 2 && p.csrc[1] == 0xffffffff);
    CHECK(p.payload_offset == 20 && p.payload_len == 160 && p.padding_len == 0);
    CHECK(memcmp(out + p.payload_offset, payload, 160) == 0);
    uint8_t again[300];
    CHECK(oh_rtp_write(&p, out + p.payload_offset, p.payload_len, again, sizeof again) == n);
    CHECK(memcmp(again, out, (size_t)n) == 0);
    CHECK_STATUS(oh_rtp_write(&h, payload, 160, out, 179), OH_EBUFSIZE);
    h.padding = 1;
    CHECK_STATUS(oh_rtp_write(&h, payload, 160, out, sizeof out), OH_EINVAL);
    h.padding = 0;
    h.payload_type = 128;
    CHECK_STATUS(oh_rtp_write(&h, payload, 160, out, sizeof out), OH_EINVAL);
}

static void test_extension_and_padding(void)
{
    /* V=2 P=1 X=1 CC=1, ext profile 0xBEDE with 1 word, 3 payload bytes, 4 padding */
    uint8_t pkt[] = {0xB1, 0x00, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 9,
                     0xBE, 0xDE, 0, 1, 0x10, 0xAA, 0, 0, 'a', 'b', 'c', 0, 0, 0, 4};
    oh_rtp_header h;
    oh_pkt_defect d;
    CHECK_STATUS(parse_exact(pkt, sizeof pkt, &h, &d), OH_OK);
    CHECK(h.extension && h.padding && h.csrc_count == 1 && h.csrc[0] == 9);
    CHECK(h.ext_profile == 0xBEDE && h.ext_offset == 20 && h.ext_len == 4);
    CHECK(h.payload_offset == 24 && h.payload_len == 3 && h.padding_len == 4);
    CHECK(memcmp(pkt + h.payload_offset, "abc", 3) == 0);
}

static void expect_defect(const uint8_t *pkt, size_t len, oh_pkt_defect want)
{
    oh_rtp_header h;
    oh_pkt_defect d = OH_PKT_OK;
    CHECK_STATUS(parse_exact(pkt, len, &h, &d), OH_EBADPKT);
    if (d != want)
        fprintf(stderr, "defect %d (%s), expected %d (%s)\n", d, oh_pkt_defect_str((int)d), want,
                oh_pkt_defect_str((int)want));
    CHECK(d == want);
}

static void test_malformed(void)
{
    uint8_t ok[12] = {0x80, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3};
    for (size_t n = 0; n < 12; n++)
        expect_defect(ok, n, OH_PKT_TRUNCATED);
    uint8_t v[12];
    for (int ver = 0; ver < 4; ver++) {
        if (ver == 2)
            continue;
        memcpy(v, ok, 12);
        v[0] = (uint8_t)(ver << 6);
        expect_defect(v, 12, OH_PKT_BAD_VERSION);
    }
    uint8_t cc[20];
    memset(cc, 0, sizeof cc);
    memcpy(cc, ok, 12);
    cc[0] = 0x8F; /* 15 CSRCs need 60 bytes */
    expect_defect(cc, 20, OH_PKT_CSRC_OVERRUN);
    cc[0] = 0x82; /* 2 CSRCs: exactly 20 bytes is fine */
    oh_rtp_header h;
    CHECK_STATUS(parse_exact(cc, 20, &h, NULL), OH_OK);
    expect_defect(cc, 19, OH_PKT_CSRC_OVERRUN);
    uint8_t ext[24];
    memset(ext, 0, sizeof ext);
    memcpy(ext, ok, 12);
    ext[0] = 0x90;
    expect_defect(ext, 14, OH_PKT_EXT_OVERRUN); /* no room for the extension header */
    ext[14] = 0;
    ext[15] = 3; /* 3 words = 12 bytes, only 8 present */
    expect_defect(ext, 24, OH_PKT_EXT_OVERRUN);
    ext[15] = 0xff;
    ext[14] = 0xff;
    expect_defect(ext, 24, OH_PKT_EXT_OVERRUN);
    uint8_t pad[16];
    memcpy(pad, ok, 12);
    pad[0] = 0xA0;
    pad[12] = 1; pad[13] = 2; pad[14] = 3;
    pad[15] = 5; /* only 4 bytes follow the header */
    expect_defect(pad, 16, OH_PKT_BAD_PADDING);
    pad[15] = 0;
    expect_defect(pad, 16, OH_PKT_BAD_PADDING);
    pad[15] = 4; /* all padding, empty payload: valid */
    CHECK_STATUS(parse_exact(pad, 16, &h, NULL), OH_OK);
    CHECK(h.payload_len == 0 && h.padding_len == 4);
    expect_defect(pad, 12, OH_PKT_BAD_PADDING); /* P bit, no byte to hold the count */
    CHECK_STATUS(oh_rtp_parse(NULL, 12, &h, NULL), OH_EINVAL);
}

static void test_fuzz(unsigned long long seed)
{
    unsigned long long rng = seed;
    uint8_t base[64];
    for (int iter = 0; iter < 200000; iter++) {
        size_t len = (size_t)(oh_test_rand(&rng) % 64);
        for (size_t i = 0; i < len; i++)
            base[i] = (uint8_t)oh_test_rand(&rng);
        if (iter & 1 && len > 0)
            base[0] = (uint8_t)(0x80 | (base[0] & 0x3f)); /* mostly version 2 */
        oh_rtp_header h;
        oh_pkt_defect d;
        oh_status st = parse_exact(base, len, &h, &d);
        CHECK(st == OH_OK || st == OH_EBADPKT);
        if (st == OH_OK) {
            CHECK(h.payload_offset + h.payload_len + h.padding_len == len);
            CHECK(d == OH_PKT_OK);
        } else {
            CHECK(d >= OH_PKT_TRUNCATED && d <= OH_PKT_EXT_OVERRUN);
        }
        CHECK(oh_rtp_is_rtcp(base, len) == (len >= 2 && base[1] >= 192 && base[1] <= 223));
    }
}

static void test_sender(void)
{
    oh_rtp_sender_config cfg;
    oh_rtp_sender_config_default(&cfg);
    cfg.ssrc = 0xabcdef01;
    cfg.payload_type = 8;
    cfg.seed = 42;
    oh_rtp_sender *s = NULL;
    CHECK_STATUS(oh_rtp_sender_create(&cfg, &s), OH_OK);
    oh_rtp_sender_stats st;
    oh_rtp_sender_get_stats(s, &st);
    uint16_t seq0 = st.next_seq;
    uint32_t ts0 = st.timestamp;
    uint8_t pl[160] = {0}, out[200];
    oh_rtp_header h;
    int n = oh_rtp_sender_write(s, pl, 160, 160, 0, out, sizeof out);
    CHECK(n == 172);
    CHECK_STATUS(oh_rtp_parse(out, (size_t)n, &h, NULL), OH_OK);
    CHECK(h.marker == 1 && h.seq == seq0 && h.timestamp == ts0 && h.ssrc == 0xabcdef01 && h.payload_type == 8);
    n = oh_rtp_sender_write(s, pl, 160, 160, 0, out, sizeof out);
    CHECK_STATUS(oh_rtp_parse(out, (size_t)n, &h, NULL), OH_OK);
    CHECK(h.marker == 0 && h.seq == (uint16_t)(seq0 + 1) && h.timestamp == ts0 + 160);
    /* a DTMF event packet takes a sequence number but not the media clock */
    uint8_t ev[4] = {1, 10, 0, 160};
    n = oh_rtp_sender_write_event(s, 101, ts0 + 320, 1, ev, 4, out, sizeof out);
    CHECK_STATUS(oh_rtp_parse(out, (size_t)n, &h, NULL), OH_OK);
    CHECK(h.payload_type == 101 && h.marker && h.seq == (uint16_t)(seq0 + 2) && h.timestamp == ts0 + 320);
    oh_rtp_sender_skip(s, 480);
    n = oh_rtp_sender_write(s, pl, 160, 160, 1, out, sizeof out);
    CHECK_STATUS(oh_rtp_parse(out, (size_t)n, &h, NULL), OH_OK);
    CHECK(h.marker == 1 && h.seq == (uint16_t)(seq0 + 3) && h.timestamp == ts0 + 320 + 480);
    CHECK(oh_rtp_sender_write(s, pl, 160, 160, 0, out, 100) == OH_EBUFSIZE);
    oh_rtp_sender_get_stats(s, &st);
    CHECK(st.packets == 4 && st.octets == 3 * 160 + 4 && st.next_seq == (uint16_t)(seq0 + 4));
    /* the same seed gives the same start; another seed another one */
    oh_rtp_sender_reset(s, 42);
    oh_rtp_sender_get_stats(s, &st);
    CHECK(st.next_seq == seq0 && st.timestamp == ts0 && st.packets == 0);
    oh_rtp_sender_reset(s, 43);
    oh_rtp_sender_get_stats(s, &st);
    CHECK(st.next_seq != seq0 || st.timestamp != ts0);
    oh_rtp_sender_destroy(s);
    cfg.payload_type = 128;
    CHECK_STATUS(oh_rtp_sender_create(&cfg, &s), OH_EINVAL);
    CHECK(oh_rtp_pt_conflicts_with_rtcp(72) && !oh_rtp_pt_conflicts_with_rtcp(96));
}

static oh_rtp_source *make_source(void)
{
    oh_rtp_source_config cfg;
    oh_rtp_source_config_default(&cfg);
    oh_rtp_source *src = NULL;
    CHECK_STATUS(oh_rtp_source_create(&cfg, &src), OH_OK);
    return src;
}

static void test_source(void)
{
    oh_rtp_source *src = make_source();
    oh_rtp_source_stats st;
    /* probation: the first packet is not counted, the second validates */
    CHECK(oh_rtp_source_update(src, 65530, 7, 0, 0.0) == OH_RTP_SEQ_PROBATION);
    oh_rtcp_report_block rb;
    CHECK_STATUS(oh_rtp_source_report(src, 0.0, &rb), OH_ESTATE);
    uint16_t seq = 65531;
    uint32_t ts = 160;
    double t = 20.0;
    int lost = 0;
    for (int i = 0; i < 100; i++, seq++, ts += 160, t += 20.0) {
        if (i % 10 == 5) { /* lose one in ten */
            lost++;
            continue;
        }
        CHECK(oh_rtp_source_update(src, seq, 7, ts, t) == OH_RTP_SEQ_VALID);
    }
    oh_rtp_source_get_stats(src, &st);
    CHECK(st.valid && st.received == 100u - (unsigned)lost && st.cumulative_lost == lost);
    CHECK(st.cycles == 65536); /* wrapped once */
    CHECK(st.extended_max_seq == 65536u + (uint16_t)(seq - 1));
    CHECK(st.jitter < 1e-9); /* perfectly paced */
    CHECK(oh_rtp_source_update(src, seq, 8, ts, t) == OH_ESTATE);
    CHECK_STATUS(oh_rtp_source_report(src, t, &rb), OH_OK);
    CHECK(rb.cumulative_lost == lost && rb.fraction_lost == (uint8_t)(lost * 256 / 100));
    CHECK(rb.lsr == 0 && rb.dlsr == 0 && rb.ssrc == 7);
    /* a constant 8 ms (64 units) of extra delay on every other packet: jitter -> 64 */
    for (int i = 0; i < 400; i++, seq++, ts += 160, t += 20.0)
        oh_rtp_source_update(src, seq, 7, ts, t + (i & 1) * 8.0);
    oh_rtp_source_get_stats(src, &st);
    CHECK(fabs(st.jitter - 64.0) < 1.0 && fabs(st.jitter_ms - 8.0) < 0.2);
    /* interval with no loss */
    CHECK_STATUS(oh_rtp_source_report(src, t, &rb), OH_OK);
    CHECK(rb.fraction_lost == 0);
    /* a huge jump is bad; a second sequential packet confirms a restart */
    CHECK(oh_rtp_source_update(src, (uint16_t)(seq + 20000), 7, ts, t) == OH_RTP_SEQ_BAD);
    CHECK(oh_rtp_source_update(src, (uint16_t)(seq + 20001), 7, ts + 160, t + 20) == OH_RTP_SEQ_RESYNC);
    oh_rtp_source_get_stats(src, &st);
    CHECK(st.received == 1 && st.bad_seq == 1 && st.resyncs == 1 && st.cumulative_lost == 0);
    /* SR bookkeeping: LSR is the middle of the NTP time, DLSR the wait in 1/65536 s */
    oh_rtp_source_on_sr(src, 0x12345678, 0x9abcdef0, 1000.0);
    CHECK_STATUS(oh_rtp_source_report(src, 1500.0, &rb), OH_OK);
    CHECK(rb.lsr == 0x56789abc && rb.dlsr == 32768);
    oh_rtp_source_reset(src);
    CHECK(oh_rtp_source_update(src, 1, 9, 0, 0) == OH_RTP_SEQ_PROBATION);
    oh_rtp_source_destroy(src);
}

static void test_create_enomem(void)
{
    oh_rtp_sender_config sc;
    oh_rtp_sender_config_default(&sc);
    oh_rtp_sender *s = NULL;
    CHECK_CREATE_SURVIVES_ENOMEM(oh_rtp_sender_create(&sc, &s), s, oh_rtp_sender_destroy);
    oh_rtp_source_config rc;
    oh_rtp_source_config_default(&rc);
    oh_rtp_source *r = NULL;
    CHECK_CREATE_SURVIVES_ENOMEM(oh_rtp_source_create(&rc, &r), r, oh_rtp_source_destroy);
    rc.min_sequential = 0;
    CHECK_STATUS(oh_rtp_source_create(&rc, &r), OH_EINVAL);
}

int main(void)
{
    unsigned long long seed = oh_test_seed();
    test_round_trip();
    test_extension_and_padding();
    test_malformed();
    test_fuzz(seed);
    test_sender();
    test_source();
    test_create_enomem();
    TEST_EXIT();
}
