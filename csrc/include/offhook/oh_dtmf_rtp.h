/* RFC 4733 telephone-event payloads: DTMF digits carried in RTP.
 *
 * Payload (4 bytes): event code (0-9, 10 '*', 11 '#', 12-15 'A'-'D', 16
 * flash...), E (end) bit, R bit, volume (0..63, -dBm0), duration (16 bits,
 * timestamp units since the event's start).
 *
 * Sender: oh_dtmf_rtp_sender_start() begins an event at an RTP timestamp;
 * oh_dtmf_rtp_sender_poll() is called once per packet interval (ptime) and
 * returns the packet to send in that tick: the first with the marker bit,
 * then updates with growing duration, then three end packets carrying the
 * same timestamp and final duration (RFC 4733 2.5.1). Packets are handed to
 * oh_rtp_sender_write_event() by the caller.
 *
 * Receiver: oh_dtmf_rtp_receiver_put() turns packets into a begin and an end
 * per event exactly once, whatever the packet loss, retransmitted end
 * packets and reordering (stale packets of older events are ignored).
 *
 * Units: timestamps and durations in RTP clock units (8000 Hz for the usual
 * telephone-event/8000), ptime in ms. Thread safety: one thread per object;
 * only _create allocates. */
#ifndef OFFHOOK_OH_DTMF_RTP_H
#define OFFHOOK_OH_DTMF_RTP_H

#include <stddef.h>
#include <stdint.h>

#include "offhook/oh_rtp.h"
#include "offhook/oh_status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define OH_DTMF_RTP_PAYLOAD 4

typedef struct oh_dtmf_rtp_event {
    uint8_t event;      /* 0..255 (0..15 are the DTMF digits) */
    uint8_t end;        /* E bit */
    uint8_t volume;     /* 0..63, -dBm0 */
    uint16_t duration;  /* timestamp units */
} oh_dtmf_rtp_event;

/* Encodes one payload (4 bytes). OH_EINVAL for volume > 63. */
oh_status oh_dtmf_rtp_encode(const oh_dtmf_rtp_event *ev, uint8_t out[OH_DTMF_RTP_PAYLOAD]);
/* Decodes a payload; OH_EBADPKT (defect TRUNCATED) when len < 4, BAD_LENGTH
 * when len is not 4. The R bit is ignored as the RFC asks. */
oh_status oh_dtmf_rtp_decode(const uint8_t *payload, size_t len, oh_dtmf_rtp_event *ev,
                             oh_pkt_defect *defect);

/* The digit character of an event code ('0'-'9', '*', '#', 'A'-'D'), or 0. */
char oh_dtmf_rtp_digit(int event);
/* The event code of a digit character, or OH_EINVAL. */
int oh_dtmf_rtp_event_code(char digit);

/* ---- sender ---- */

typedef struct oh_dtmf_rtp_sender_config {
    int clock_rate;     /* Hz of the telephone-event clock (8000) */
    int ptime_ms;       /* packet interval: 10..100 ms (20, 50 is also common) */
    int volume;         /* 0..63 */
    int end_repeats;    /* end packets sent (3, RFC 4733 2.5.1.4), 1..10 */
} oh_dtmf_rtp_sender_config;

typedef struct oh_dtmf_rtp_packet {
    uint8_t payload[OH_DTMF_RTP_PAYLOAD];
    int marker;
    uint32_t timestamp; /* the event's start: the same in every packet of an event */
    int last;           /* the last packet of the event */
} oh_dtmf_rtp_packet;

typedef struct oh_dtmf_rtp_sender oh_dtmf_rtp_sender;

/* 8000 Hz, 20 ms, volume 10, 3 end packets. */
void oh_dtmf_rtp_sender_config_default(oh_dtmf_rtp_sender_config *cfg);
oh_status oh_dtmf_rtp_sender_create(const oh_dtmf_rtp_sender_config *cfg, oh_dtmf_rtp_sender **out);
void oh_dtmf_rtp_sender_destroy(oh_dtmf_rtp_sender *tx);
/* Abandons an event in progress (no end packets). */
void oh_dtmf_rtp_sender_reset(oh_dtmf_rtp_sender *tx);

/* Starts an event lasting duration_ms (at least one ptime, at most 65535
 * timestamp units) at RTP timestamp `timestamp`. OH_ESTATE while another
 * event is being sent; OH_EINVAL for bad arguments. */
oh_status oh_dtmf_rtp_sender_start(oh_dtmf_rtp_sender *tx, int event, int duration_ms,
                                   uint32_t timestamp);

/* The packet of this tick: returns 1 and fills *pkt, or 0 when idle. */
int oh_dtmf_rtp_sender_poll(oh_dtmf_rtp_sender *tx, oh_dtmf_rtp_packet *pkt);

/* 1 while an event is being sent (including its end packets). */
int oh_dtmf_rtp_sender_busy(const oh_dtmf_rtp_sender *tx);

/* ---- receiver ---- */

/* What a packet told the receiver (bit flags, returned by _put). */
enum {
    OH_DTMF_RTP_NONE = 0,
    OH_DTMF_RTP_BEGIN = 1, /* a new event started: *report has its code */
    OH_DTMF_RTP_END = 2    /* the event ended: *report has its final duration */
};

typedef struct oh_dtmf_rtp_report {
    uint8_t event;
    uint8_t volume;
    uint32_t timestamp;  /* identifies the event */
    uint32_t duration;   /* timestamp units, as known so far */
} oh_dtmf_rtp_report;

typedef struct oh_dtmf_rtp_receiver oh_dtmf_rtp_receiver;

oh_status oh_dtmf_rtp_receiver_create(oh_dtmf_rtp_receiver **out);
void oh_dtmf_rtp_receiver_destroy(oh_dtmf_rtp_receiver *rx);
/* Forgets past events (a new stream or SSRC). */
void oh_dtmf_rtp_receiver_reset(oh_dtmf_rtp_receiver *rx);

/* Feeds one telephone-event packet's RTP timestamp and payload. Returns a
 * combination of OH_DTMF_RTP_BEGIN / OH_DTMF_RTP_END (both when the first
 * packet seen of an event is already an end packet), OH_DTMF_RTP_NONE for
 * updates, retransmissions and stale packets, or OH_EBADPKT (*defect set). */
int oh_dtmf_rtp_receiver_put(oh_dtmf_rtp_receiver *rx, uint32_t timestamp, const uint8_t *payload,
                             size_t len, oh_dtmf_rtp_report *report, oh_pkt_defect *defect);

#ifdef __cplusplus
}
#endif

#endif
