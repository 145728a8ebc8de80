/* Per-packet cost of the RTP packet layer in C, without Python: parse +
 * validate + RFC 3550 source statistics per received packet, and SRTP
 * protect/unprotect of a 160-byte payload per suite, next to libsrtp2 called
 * directly (the anchor: what the oh_srtp wrapper adds). Driven by
 * bench/bench_rtp.py, which compiles it; prints one "name ns_per_packet" line
 * per measurement. */
#include <srtp2/srtp.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "offhook/oh_rtp.h"
#include "offhook/oh_srtp.h"

#define N 200000

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static volatile unsigned sink;

static void bench_parse(void)
{
    static uint8_t pkts[64][172];
    oh_rtp_sender_config sc;
    oh_rtp_sender_config_default(&sc);
    sc.ssrc = 7;
    oh_rtp_sender *tx;
    oh_rtp_sender_create(&sc, &tx);
    uint8_t payload[160] = {0};
    for (int i = 0; i < 64; i++)
        oh_rtp_sender_write(tx, payload, 160, 160, 0, pkts[i], 172);
    oh_rtp_source_config rc;
    oh_rtp_source_config_default(&rc);
    oh_rtp_source *src;
    oh_rtp_source_create(&rc, &src);
    double best = 1e30;
    for (int round = 0; round < 5; round++) {
        double t0 = now_ns();
        for (int i = 0; i < N; i++) {
            uint8_t *p = pkts[i & 63];
            /* rewrite seq/ts so the stream keeps going forward */
            uint16_t seq = (uint16_t)(round * N + i);
            p[2] = (uint8_t)(seq >> 8);
            p[3] = (uint8_t)seq;
            oh_rtp_header h;
            if (oh_rtp_parse(p, 172, &h, NULL) == OH_OK)
                sink += (unsigned)oh_rtp_source_update(src, h.seq, h.ssrc, h.timestamp, i * 20.0);
        }
        double dt = (now_ns() - t0) / N;
        if (dt < best)
            best = dt;
    }
    printf("parse_stats %.2f\n", best);
    oh_rtp_source_destroy(src);
    oh_rtp_sender_destroy(tx);
}

static void bench_srtp(int suite)
{
    oh_srtp_config cfg;
    oh_srtp_config_default(&cfg);
    cfg.suite = (oh_srtp_suite)suite;
    oh_srtp_random_key(cfg.local_key, 30);
    memcpy(cfg.remote_key, cfg.local_key, 30);
    oh_srtp *s;
    if (oh_srtp_create(&cfg, &s) != OH_OK) {
        printf("srtp_%d_unavailable 0\n", suite);
        return;
    }
    /* libsrtp2 directly, same policy and key: the anchor */
    srtp_policy_t pol;
    memset(&pol, 0, sizeof pol);
    if (suite == OH_SRTP_AEAD_AES_128_GCM) {
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&pol.rtp);
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&pol.rtcp);
    } else if (suite == OH_SRTP_AES_CM_128_HMAC_SHA1_32) {
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(&pol.rtp);
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&pol.rtcp);
    } else {
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&pol.rtp);
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&pol.rtcp);
    }
    pol.key = cfg.local_key;
    pol.window_size = 1024;
    srtp_policy_t in_pol = pol;
    pol.ssrc.type = ssrc_any_outbound;
    in_pol.ssrc.type = ssrc_any_inbound;
    srtp_t raw_tx, raw_rx;
    srtp_create(&raw_tx, &pol);
    srtp_create(&raw_rx, &in_pol);

    uint8_t plain[172], buf[172 + OH_SRTP_MAX_OVERHEAD];
    oh_rtp_header h;
    memset(&h, 0, sizeof h);
    h.ssrc = 99;
    uint8_t payload[160] = {1};
    const int n = N / 20; /* short interleaved rounds, best kept: fair on a shared machine */
    double best_oh = 1e30, best_raw = 1e30;
    long failures = 0; /* a failing unprotect would time the wrong thing */
    uint32_t seq = 0, seq_raw = 0; /* one sequence per session pair, so neither sees a jump */
    for (int round = 0; round < 25; round++) {
        double t0 = now_ns();
        for (int i = 0; i < n; i++, seq++) {
            h.seq = (uint16_t)seq;
            h.timestamp = seq * 160;
            oh_rtp_write(&h, payload, 160, plain, sizeof plain);
            int m = oh_srtp_protect(s, plain, 172, buf, sizeof buf, NULL);
            int k = oh_srtp_unprotect(s, buf, (size_t)m, NULL);
            if (k != 172)
                failures++;
            sink += (unsigned)k;
        }
        double dt = (now_ns() - t0) / n;
        if (dt < best_oh)
            best_oh = dt;
        t0 = now_ns();
        for (int i = 0; i < n; i++, seq_raw++) {
            h.seq = (uint16_t)seq_raw;
            h.timestamp = seq_raw * 160;
            oh_rtp_write(&h, payload, 160, buf, sizeof buf);
            int m = 172;
            srtp_protect(raw_tx, buf, &m);
            if (srtp_unprotect(raw_rx, buf, &m) != srtp_err_status_ok)
                failures++;
            sink += (unsigned)m;
        }
        dt = (now_ns() - t0) / n;
        if (dt < best_raw)
            best_raw = dt;
    }
    if (failures)
        printf("srtp_%s_failures %ld\n", oh_srtp_suite_name(suite), failures);
    printf("srtp_%s %.2f\n", oh_srtp_suite_name(suite), best_oh);
    printf("libsrtp2_%s %.2f\n", oh_srtp_suite_name(suite), best_raw);
    srtp_dealloc(raw_tx);
    srtp_dealloc(raw_rx);
    oh_srtp_destroy(s);
}

int main(void)
{
    bench_parse();
    for (int suite = 0; suite < OH_SRTP_SUITE_COUNT; suite++)
        bench_srtp(suite);
    return 0;
}
