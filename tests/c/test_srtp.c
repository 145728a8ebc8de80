/* SRTP: protect/unprotect round trips for each suite (RTP and RTCP), the
 * tag length each adds, a flipped bit gives AUTH_FAIL, a replayed packet
 * REPLAY, malformed packets their defect, and RFC 4568 SDES parse/format. */
#include <stdint.h>
#include <string.h>

#include "offhook/oh_rtcp.h"
#include "offhook/oh_rtp.h"
#include "offhook/oh_srtp.h"
#include "oh_test.h"

static void make_pair(int suite, oh_srtp **a, oh_srtp **b)
{
    oh_srtp_config ca, cb;
    oh_srtp_config_default(&ca);
    ca.suite = (oh_srtp_suite)suite;
    CHECK_STATUS(oh_srtp_random_key(ca.local_key, sizeof ca.local_key), OH_OK);
    CHECK_STATUS(oh_srtp_random_key(ca.remote_key, sizeof ca.remote_key), OH_OK);
    cb = ca;
    memcpy(cb.local_key, ca.remote_key, sizeof cb.local_key);
    memcpy(cb.remote_key, ca.local_key, sizeof cb.remote_key);
    *a = *b = NULL;
    CHECK_STATUS(oh_srtp_create(&ca, a), OH_OK);
    CHECK_STATUS(oh_srtp_create(&cb, b), OH_OK);
}

static int rtp_packet(uint16_t seq, uint8_t *out, size_t cap)
{
    oh_rtp_header h;
    memset(&h, 0, sizeof h);
    h.seq = seq;
    h.timestamp = 160u * seq;
    h.ssrc = 0x5eed;
    uint8_t payload[160];
    for (int i = 0; i < 160; i++)
        payload[i] = (uint8_t)(i * 7 + seq);
    return oh_rtp_write(&h, payload, 160, out, cap);
}

static void test_suite(int suite)
{
    oh_srtp *a, *b;
    make_pair(suite, &a, &b);
    if (!a || !b)
        return;
    uint8_t plain[512], wire[512];
    oh_pkt_defect d;
    for (uint16_t seq = 65530; seq != 10; seq++) { /* across the ROC wrap */
        int n = rtp_packet(seq, plain, sizeof plain);
        int m = oh_srtp_protect(a, plain, (size_t)n, wire, sizeof wire, &d);
        CHECK(m == n + oh_srtp_tag_len(suite));
        CHECK(memcmp(wire + 12, plain + 12, 160) != 0); /* encrypted */
        uint8_t saved[512];
        memcpy(saved, wire, (size_t)m);
        if (seq == 4) {
            /* forgeries first (afterwards they would be replays) */
            wire[40] ^= 1; /* payload bit */
            CHECK(oh_srtp_unprotect(b, wire, (size_t)m, &d) == OH_EBADPKT);
            if (d != OH_PKT_AUTH_FAIL)
                fprintf(stderr, "suite %d: forged packet gave %s\n", suite, oh_pkt_defect_str((int)d));
            CHECK(d == OH_PKT_AUTH_FAIL);
            memcpy(wire, saved, (size_t)m);
            wire[m - 1] ^= 0x80; /* tag bit */
            CHECK(oh_srtp_unprotect(b, wire, (size_t)m, &d) == OH_EBADPKT);
            CHECK(d == OH_PKT_AUTH_FAIL);
            memcpy(wire, saved, (size_t)m);
            wire[2] ^= 1; /* sequence number (authenticated header) */
            CHECK(oh_srtp_unprotect(b, wire, (size_t)m, &d) == OH_EBADPKT);
            CHECK(d == OH_PKT_AUTH_FAIL);
            memcpy(wire, saved, (size_t)m);
        }
        int k = oh_srtp_unprotect(b, wire, (size_t)m, &d);
        CHECK(k == n && d == OH_PKT_OK);
        CHECK(memcmp(wire, plain, (size_t)n) == 0);
        if (seq == 3) {
            memcpy(wire, saved, (size_t)m); /* the same packet again */
            CHECK(oh_srtp_unprotect(b, wire, (size_t)m, &d) == OH_EBADPKT);
            CHECK(d == OH_PKT_REPLAY);
        }
    }
    /* the other direction with the other key */
    int n = rtp_packet(100, plain, sizeof plain);
    int m = oh_srtp_protect(b, plain, (size_t)n, wire, sizeof wire, &d);
    CHECK(m > n);
    uint8_t copy[512];
    memcpy(copy, wire, (size_t)m);
    CHECK(oh_srtp_unprotect(b, copy, (size_t)m, &d) == OH_EBADPKT); /* b cannot read its own */
    CHECK(d == OH_PKT_AUTH_FAIL);
    CHECK(oh_srtp_unprotect(a, wire, (size_t)m, &d) == n);
    /* SRTCP */
    uint8_t rtcp[128], srtcp[300];
    int r = oh_rtcp_write_rr(0x5eed, NULL, 0, rtcp, sizeof rtcp);
    r += oh_rtcp_write_sdes_cname(0x5eed, "a@b", 3, rtcp + r, sizeof rtcp - (size_t)r);
    int sr = oh_srtp_protect_rtcp(a, rtcp, (size_t)r, srtcp, sizeof srtcp, &d);
    int rtcp_tag = suite == OH_SRTP_AEAD_AES_128_GCM ? 16 : 10;
    CHECK(sr == r + 4 + rtcp_tag);
    memcpy(copy, srtcp, (size_t)sr);
    CHECK(oh_srtp_unprotect_rtcp(b, srtcp, (size_t)sr, &d) == r);
    CHECK(memcmp(srtcp, rtcp, (size_t)r) == 0);
    CHECK(oh_srtp_unprotect_rtcp(b, copy, (size_t)sr, &d) == OH_EBADPKT);
    CHECK(d == OH_PKT_REPLAY);
    /* malformed */
    CHECK(oh_srtp_unprotect(b, wire, 11, &d) == OH_EBADPKT && d == OH_PKT_TRUNCATED);
    memcpy(copy, wire, 40);
    copy[0] = 0x40;
    CHECK(oh_srtp_unprotect(b, copy, 40, &d) == OH_EBADPKT && d == OH_PKT_BAD_VERSION);
    copy[0] = 0x8f; /* 15 CSRCs in 40 bytes */
    CHECK(oh_srtp_unprotect(b, copy, 40, &d) == OH_EBADPKT && d == OH_PKT_CSRC_OVERRUN);
    copy[0] = 0x90;
    copy[14] = 0xff;
    CHECK(oh_srtp_unprotect(b, copy, 40, &d) == OH_EBADPKT && d == OH_PKT_EXT_OVERRUN);
    memcpy(copy, wire, 16);
    CHECK(oh_srtp_unprotect(b, copy, 14, &d) == OH_EBADPKT); /* shorter than any tag */
    CHECK(oh_srtp_protect(a, plain, (size_t)n, wire, (size_t)n + 10, &d) == OH_EBUFSIZE);
    plain[0] = 0x8f;
    CHECK(oh_srtp_protect(a, plain, 20, wire, sizeof wire, &d) == OH_EBADPKT && d == OH_PKT_CSRC_OVERRUN);
    oh_srtp_destroy(a);
    oh_srtp_destroy(b);
}

static void test_fuzz_unprotect(unsigned long long seed)
{
    oh_srtp *a, *b;
    make_pair(OH_SRTP_AES_CM_128_HMAC_SHA1_80, &a, &b);
    unsigned long long rng = seed;
    for (int i = 0; i < 20000; i++) {
        size_t len = (size_t)(oh_test_rand(&rng) % 200);
        uint8_t *p = malloc(len ? len : 1);
        for (size_t k = 0; k < len; k++)
            p[k] = (uint8_t)oh_test_rand(&rng);
        if (len)
            p[0] = (uint8_t)(0x80 | (p[0] & 0x3f));
        oh_pkt_defect d;
        int r = (i & 1) ? oh_srtp_unprotect(b, p, len, &d) : oh_srtp_unprotect_rtcp(b, p, len, &d);
        if (r != OH_EBADPKT)
            fprintf(stderr, "len %zu: %d %s\n", len, r, oh_strerror(r));
        CHECK(r == OH_EBADPKT);
        free(p);
    }
    oh_srtp_destroy(a);
    oh_srtp_destroy(b);
}

static void test_sdes(void)
{
    /* RFC 4568 section 4's example key */
    const char *ex = "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:4";
    oh_srtp_sdes sd;
    CHECK_STATUS(oh_srtp_sdes_parse(ex, strlen(ex), &sd), OH_OK);
    CHECK(sd.tag == 1 && sd.suite == OH_SRTP_AES_CM_128_HMAC_SHA1_80);
    CHECK(sd.lifetime == (1u << 20) && sd.mki == 1 && sd.mki_len == 4);
    CHECK(sd.key[0] == 0x3d && sd.key[1] == 0x2d && sd.key[29] == 0x51);
    char out[OH_SRTP_MAX_INLINE + 64];
    int n = oh_srtp_sdes_format(&sd, out, sizeof out);
    CHECK(n == (int)strlen(ex) && strcmp(out, ex) == 0);
    CHECK(oh_srtp_sdes_format(&sd, out, (size_t)n) == OH_EBUFSIZE);
    /* GCM: 28-byte key||salt, base64 with padding */
    memset(&sd, 0, sizeof sd);
    sd.tag = 7;
    sd.suite = OH_SRTP_AEAD_AES_128_GCM;
    for (int i = 0; i < 28; i++)
        sd.key[i] = (uint8_t)(i * 9);
    n = oh_srtp_sdes_format(&sd, out, sizeof out);
    CHECK(n > 0 && strstr(out, "==") != NULL);
    oh_srtp_sdes back;
    CHECK_STATUS(oh_srtp_sdes_parse(out, (size_t)n, &back), OH_OK);
    CHECK(back.suite == OH_SRTP_AEAD_AES_128_GCM && memcmp(back.key, sd.key, 28) == 0 && back.lifetime == 0);
    const char *bad_fmt[] = {
        "1 AES_CM_128_HMAC_SHA1_80",
        "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVB",   /* short key */
        "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVB!",  /* alphabet */
        "1 AES_CM_128_HMAC_SHA1_80 PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR",         /* no inline: */
        "x AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR",
        "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^49",
        "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|1:0",
        "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|256:1",
        "1 AEAD_AES_128_GCM inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR",         /* 30 bytes for GCM */
    };
    for (size_t i = 0; i < sizeof bad_fmt / sizeof *bad_fmt; i++) {
        oh_status st = oh_srtp_sdes_parse(bad_fmt[i], strlen(bad_fmt[i]), &sd);
        if (st != OH_EFORMAT)
            fprintf(stderr, "case %zu: %s\n", i, bad_fmt[i]);
        CHECK_STATUS(st, OH_EFORMAT);
    }
    const char *unsup[] = {
        "1 F8_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR",
        "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR KDR=1",
        "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR;inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR",
    };
    for (size_t i = 0; i < sizeof unsup / sizeof *unsup; i++)
        CHECK_STATUS(oh_srtp_sdes_parse(unsup[i], strlen(unsup[i]), &sd), OH_EUNSUPPORTED);
    CHECK(oh_srtp_suite_from_name("AEAD_AES_128_GCM", 16) == OH_SRTP_AEAD_AES_128_GCM);
    CHECK(oh_srtp_key_len(OH_SRTP_AES_CM_128_HMAC_SHA1_32) == 30 && oh_srtp_key_len(9) == OH_EINVAL);
}

static void test_enomem(void)
{
    oh_srtp_config cfg;
    oh_srtp_config_default(&cfg);
    oh_srtp *s = NULL;
    CHECK_CREATE_SURVIVES_ENOMEM(oh_srtp_create(&cfg, &s), s, oh_srtp_destroy);
    cfg.replay_window = 10;
    CHECK_STATUS(oh_srtp_create(&cfg, &s), OH_EINVAL);
}

int main(void)
{
    unsigned long long seed = oh_test_seed();
    for (int suite = 0; suite < OH_SRTP_SUITE_COUNT; suite++)
        test_suite(suite);
    test_fuzz_unprotect(seed);
    test_sdes();
    test_enomem();
    TEST_EXIT();
}
