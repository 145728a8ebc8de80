/* RFC 4733: payload coding, the sender's packet series (marker, durations,
 * three end packets with one timestamp), and a receiver that reports each
 * digit exactly once through loss, duplicated end packets and reordering. */
#include <stdint.h>
#include <string.h>

#include "offhook/oh_dtmf_rtp.h"
#include "oh_test.h"

static void test_codec(void)
{
    oh_dtmf_rtp_event ev = {11, 1, 10, 1600}, back;
    uint8_t p[4];
    CHECK_STATUS(oh_dtmf_rtp_encode(&ev, p), OH_OK);
    CHECK(p[0] == 11 && p[1] == 0x8a && p[2] == 0x06 && p[3] == 0x40);
    oh_pkt_defect d;
    CHECK_STATUS(oh_dtmf_rtp_decode(p, 4, &back, &d), OH_OK);
    CHECK(back.event == 11 && back.end == 1 && back.volume == 10 && back.duration == 1600);
    p[1] |= 0x40; /* R bit: ignored */
    CHECK_STATUS(oh_dtmf_rtp_decode(p, 4, &back, &d), OH_OK);
    CHECK(back.volume == 10);
    CHECK_STATUS(oh_dtmf_rtp_decode(p, 3, &back, &d), OH_EBADPKT);
    CHECK(d == OH_PKT_TRUNCATED);
    CHECK_STATUS(oh_dtmf_rtp_decode(p, 0, &back, &d), OH_EBADPKT);
    uint8_t eight[8] = {0};
    CHECK_STATUS(oh_dtmf_rtp_decode(eight, 8, &back, &d), OH_EBADPKT);
    CHECK(d == OH_PKT_BAD_LENGTH);
    ev.volume = 64;
    CHECK_STATUS(oh_dtmf_rtp_encode(&ev, p), OH_EINVAL);
    CHECK(oh_dtmf_rtp_digit(10) == '*' && oh_dtmf_rtp_digit(11) == '#' && oh_dtmf_rtp_digit(15) == 'D');
    CHECK(oh_dtmf_rtp_digit(16) == 0 && oh_dtmf_rtp_event_code('#') == 11 && oh_dtmf_rtp_event_code('b') == 13);
    CHECK(oh_dtmf_rtp_event_code('x') == OH_EINVAL);
}

typedef struct sent {
    oh_dtmf_rtp_packet p[64];
    int n;
} sent;

static void send_event(oh_dtmf_rtp_sender *tx, int event, int ms, uint32_t ts, sent *out)
{
    out->n = 0;
    CHECK_STATUS(oh_dtmf_rtp_sender_start(tx, event, ms, ts), OH_OK);
    CHECK_STATUS(oh_dtmf_rtp_sender_start(tx, event, ms, ts), OH_ESTATE);
    while (out->n < 64 && oh_dtmf_rtp_sender_poll(tx, &out->p[out->n]))
        out->n++;
    CHECK(!oh_dtmf_rtp_sender_busy(tx));
}

static void test_sender(void)
{
    oh_dtmf_rtp_sender_config cfg;
    oh_dtmf_rtp_sender_config_default(&cfg);
    oh_dtmf_rtp_sender *tx = NULL;
    CHECK_STATUS(oh_dtmf_rtp_sender_create(&cfg, &tx), OH_OK);
    sent s;
    send_event(tx, 5, 100, 4000, &s); /* 800 units at 160 per tick */
    /* 160, 320, 480, 640 (updates), then 800 with E three times */
    CHECK(s.n == 4 + 3);
    oh_dtmf_rtp_event ev;
    for (int i = 0; i < s.n; i++) {
        CHECK_STATUS(oh_dtmf_rtp_decode(s.p[i].payload, 4, &ev, NULL), OH_OK);
        CHECK(s.p[i].timestamp == 4000 && ev.event == 5 && ev.volume == 10);
        CHECK(s.p[i].marker == (i == 0));
        CHECK(ev.end == (i >= 4));
        CHECK(ev.duration == (i < 4 ? 160 * (i + 1) : 800));
        CHECK(s.p[i].last == (i == s.n - 1));
    }
    /* a length that is not a whole number of ticks ends exactly on it */
    send_event(tx, 1, 50, 0xfffffff0u, &s);
    CHECK(s.n == 2 + 3);
    CHECK_STATUS(oh_dtmf_rtp_decode(s.p[4].payload, 4, &ev, NULL), OH_OK);
    CHECK(ev.duration == 400 && ev.end);
    CHECK_STATUS(oh_dtmf_rtp_sender_start(tx, 1, 10, 0), OH_EINVAL);      /* shorter than ptime */
    CHECK_STATUS(oh_dtmf_rtp_sender_start(tx, 1, 9000, 0), OH_EINVAL);    /* > 65535 units */
    CHECK_STATUS(oh_dtmf_rtp_sender_start(tx, 256, 100, 0), OH_EINVAL);
    oh_dtmf_rtp_sender_destroy(tx);
}

static void test_receiver(unsigned long long seed)
{
    oh_dtmf_rtp_sender_config cfg;
    oh_dtmf_rtp_sender_config_default(&cfg);
    oh_dtmf_rtp_sender *tx = NULL;
    oh_dtmf_rtp_receiver *rx = NULL;
    CHECK_STATUS(oh_dtmf_rtp_sender_create(&cfg, &tx), OH_OK);
    CHECK_STATUS(oh_dtmf_rtp_receiver_create(&rx), OH_OK);
    unsigned long long rng = seed;
    /* "1123#" with the timestamp wrapping, through loss, duplication and
     * local reordering; the digits must come out once each, in order */
    const char *digits = "1123#1";
    for (int trial = 0; trial < 200; trial++) {
        oh_dtmf_rtp_receiver_reset(rx);
        char got[16];
        int ngot = 0, nend = 0;
        uint32_t ts = 0xffffff00u + (uint32_t)trial * 37u;
        oh_dtmf_rtp_packet stream[400];
        int n = 0;
        for (int k = 0; digits[k]; k++) {
            sent s;
            send_event(tx, oh_dtmf_rtp_event_code(digits[k]), 60 + (int)(oh_test_rand(&rng) % 100), ts, &s);
            for (int i = 0; i < s.n; i++) {
                if (oh_test_rand(&rng) % 5 == 0 && !s.p[i].last)
                    continue; /* lost (the last end packet always arrives) */
                stream[n++] = s.p[i];
                if (oh_test_rand(&rng) % 4 == 0)
                    stream[n++] = s.p[i]; /* duplicated */
            }
            ts += 8000;
        }
        /* swap neighbours of one event now and then (a packet of the next
         * event overtaking every packet of this one would make it stale) */
        for (int i = 0; i + 1 < n; i++)
            if (oh_test_rand(&rng) % 6 == 0 && stream[i].timestamp == stream[i + 1].timestamp) {
                oh_dtmf_rtp_packet t = stream[i];
                stream[i] = stream[i + 1];
                stream[i + 1] = t;
            }
        for (int i = 0; i < n; i++) {
            oh_dtmf_rtp_report r;
            int f = oh_dtmf_rtp_receiver_put(rx, stream[i].timestamp, stream[i].payload, 4, &r, NULL);
            CHECK(f >= 0);
            if ((f & OH_DTMF_RTP_BEGIN) && ngot < 15)
                got[ngot++] = oh_dtmf_rtp_digit(r.event);
            if (f & OH_DTMF_RTP_END)
                nend++;
        }
        got[ngot] = 0;
        if (strcmp(got, digits) != 0)
            fprintf(stderr, "trial %d: got \"%s\"\n", trial, got);
        CHECK(strcmp(got, digits) == 0);
        CHECK(nend <= 6);
    }
    /* only an end packet arrives: begin and end together, once */
    oh_dtmf_rtp_receiver_reset(rx);
    uint8_t p[4] = {9, 0x80 | 10, 0x03, 0x20};
    oh_dtmf_rtp_report r;
    CHECK(oh_dtmf_rtp_receiver_put(rx, 100, p, 4, &r, NULL) == (OH_DTMF_RTP_BEGIN | OH_DTMF_RTP_END));
    CHECK(r.event == 9 && r.duration == 800 && r.timestamp == 100);
    CHECK(oh_dtmf_rtp_receiver_put(rx, 100, p, 4, &r, NULL) == OH_DTMF_RTP_NONE);
    CHECK(oh_dtmf_rtp_receiver_put(rx, 50, p, 4, &r, NULL) == OH_DTMF_RTP_NONE); /* stale */
    oh_pkt_defect d;
    CHECK(oh_dtmf_rtp_receiver_put(rx, 200, p, 2, &r, &d) == OH_EBADPKT);
    CHECK(d == OH_PKT_TRUNCATED);
    oh_dtmf_rtp_sender_destroy(tx);
    oh_dtmf_rtp_receiver_destroy(rx);
}

static void test_enomem(void)
{
    oh_dtmf_rtp_sender_config cfg;
    oh_dtmf_rtp_sender_config_default(&cfg);
    oh_dtmf_rtp_sender *tx = NULL;
    CHECK_CREATE_SURVIVES_ENOMEM(oh_dtmf_rtp_sender_create(&cfg, &tx), tx, oh_dtmf_rtp_sender_destroy);
    oh_dtmf_rtp_receiver *rx = NULL;
    CHECK_CREATE_SURVIVES_ENOMEM(oh_dtmf_rtp_receiver_create(&rx), rx, oh_dtmf_rtp_receiver_destroy);
    cfg.ptime_ms = 5;
    CHECK_STATUS(oh_dtmf_rtp_sender_create(&cfg, &tx), OH_EINVAL);
}

int main(void)
{
    unsigned long long seed = oh_test_seed();
    test_codec();
    test_sender();
    test_receiver(seed);
    test_enomem();
    TEST_EXIT();
}
