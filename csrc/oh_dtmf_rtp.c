/* RFC 4733 telephone events (DTMF over RTP).
 *
 * Sending (RFC 4733 2.5.1). An event is one RTP timestamp (its start) and a
 * series of packets: the first has the marker bit and a duration of one
 * packet interval, each later tick extends the duration by one interval, and
 * when the requested length is reached the end bit is set and that packet is
 * sent end_repeats times (3 by default, 2.5.1.4), all with the same
 * timestamp and final duration, so that one or two lost packets cannot
 * leave the far end playing a digit forever. The sender only produces
 * payloads: sequence numbers come from the stream's oh_rtp_sender, so the
 * events interleave correctly with audio. Events longer than 65535 units
 * (8.19 s at 8 kHz) would need 2.5.1.3's segments and are refused.
 *
 * Receiving (2.5.2). The timestamp identifies an event. The receiver keeps
 * the timestamp of the newest event it saw and compares new ones with RTP
 * serial arithmetic: a newer timestamp is a new event (BEGIN, reported even
 * if its first packets were lost); the same timestamp updates the duration
 * and reports END once, on the first end packet (retransmitted end packets
 * and reordered updates report nothing); an older timestamp is a stale
 * packet of a finished event, ignored. So each digit is reported exactly
 * once, which is what a dialled number needs. Known limit: an event whose
 * end packets are all lost has no END; the caller may time it out. */
#include "offhook/oh_dtmf_rtp.h"

#include <string.h>

#include "oh_alloc.h"

oh_status oh_dtmf_rtp_encode(const oh_dtmf_rtp_event *ev, uint8_t out[OH_DTMF_RTP_PAYLOAD])
{
    if (!ev || !out || ev->volume > 63)
        return OH_EINVAL;
    out[0] = ev->event;
    out[1] = (uint8_t)((ev->end ? 0x80 : 0) | ev->volume);
    out[2] = (uint8_t)(ev->duration >> 8);
    out[3] = (uint8_t)ev->duration;
    return OH_OK;
}

oh_status oh_dtmf_rtp_decode(const uint8_t *payload, size_t len, oh_dtmf_rtp_event *ev,
                             oh_pkt_defect *defect)
{
    if (defect)
        *defect = OH_PKT_OK;
    if (!ev || (!payload && len))
        return OH_EINVAL;
    if (len != OH_DTMF_RTP_PAYLOAD) {
        if (defect)
            *defect = len < OH_DTMF_RTP_PAYLOAD ? OH_PKT_TRUNCATED : OH_PKT_BAD_LENGTH;
        return OH_EBADPKT;
    }
    ev->event = payload[0];
    ev->end = payload[1] >> 7;
    ev->volume = payload[1] & 0x3f;
    ev->duration = (uint16_t)((payload[2] << 8) | payload[3]);
    return OH_OK;
}

static const char digits[] = "0123456789*#ABCD";

char oh_dtmf_rtp_digit(int event)
{
    return event >= 0 && event < 16 ? digits[event] : 0;
}

int oh_dtmf_rtp_event_code(char digit)
{
    if (digit >= 'a' && digit <= 'd')
        digit = (char)(digit - 'a' + 'A');
    for (int i = 0; i < 16; i++)
        if (digits[i] == digit)
            return i;
    return OH_EINVAL;
}

/* ---- sender ---- */

struct oh_dtmf_rtp_sender {
    oh_dtmf_rtp_sender_config cfg;
    uint32_t step;       /* timestamp units per tick */
    int active;
    uint8_t event;
    uint32_t timestamp;
    uint32_t target;     /* final duration */
    uint32_t duration;   /* duration of the next update */
    int sent;            /* packets sent for this event */
    int ends_left;
};

void oh_dtmf_rtp_sender_config_default(oh_dtmf_rtp_sender_config *cfg)
{
    cfg->clock_rate = 8000;
    cfg->ptime_ms = 20;
    cfg->volume = 10;
    cfg->end_repeats = 3;
}

oh_status oh_dtmf_rtp_sender_create(const oh_dtmf_rtp_sender_config *cfg, oh_dtmf_rtp_sender **out)
{
    if (!cfg || !out)
        return OH_EINVAL;
    *out = NULL;
    if (cfg->clock_rate < 1000 || cfg->clock_rate > 48000 || cfg->ptime_ms < 10 ||
        cfg->ptime_ms > 100 || cfg->volume < 0 || cfg->volume > 63 || cfg->end_repeats < 1 ||
        cfg->end_repeats > 10 || (cfg->clock_rate * cfg->ptime_ms) % 1000)
        return OH_EINVAL;
    oh_dtmf_rtp_sender *tx = oh_alloc(sizeof *tx);
    if (!tx)
        return OH_ENOMEM;
    tx->cfg = *cfg;
    tx->step = (uint32_t)(cfg->clock_rate * cfg->ptime_ms / 1000);
    *out = tx;
    return OH_OK;
}

void oh_dtmf_rtp_sender_destroy(oh_dtmf_rtp_sender *tx)
{
    oh_free(tx);
}

void oh_dtmf_rtp_sender_reset(oh_dtmf_rtp_sender *tx)
{
    tx->active = 0;
}

oh_status oh_dtmf_rtp_sender_start(oh_dtmf_rtp_sender *tx, int event, int duration_ms,
                                   uint32_t timestamp)
{
    if (!tx || event < 0 || event > 255 || duration_ms < tx->cfg.ptime_ms)
        return OH_EINVAL;
    uint64_t units = (uint64_t)duration_ms * (uint64_t)tx->cfg.clock_rate / 1000u;
    if (units > 0xffff)
        return OH_EINVAL;
    if (tx->active)
        return OH_ESTATE;
    tx->active = 1;
    tx->event = (uint8_t)event;
    tx->timestamp = timestamp;
    tx->target = (uint32_t)units;
    tx->duration = tx->step;
    tx->sent = 0;
    tx->ends_left = tx->cfg.end_repeats;
    return OH_OK;
}

int oh_dtmf_rtp_sender_poll(oh_dtmf_rtp_sender *tx, oh_dtmf_rtp_packet *pkt)
{
    if (!tx || !pkt || !tx->active)
        return 0;
    oh_dtmf_rtp_event ev;
    ev.event = tx->event;
    ev.volume = (uint8_t)tx->cfg.volume;
    if (tx->duration >= tx->target) {
        ev.end = 1;
        ev.duration = (uint16_t)tx->target;
        tx->ends_left--;
    } else {
        ev.end = 0;
        ev.duration = (uint16_t)tx->duration;
        tx->duration += tx->step;
    }
    oh_dtmf_rtp_encode(&ev, pkt->payload);
    pkt->marker = tx->sent == 0;
    pkt->timestamp = tx->timestamp;
    pkt->last = ev.end && tx->ends_left == 0;
    tx->sent++;
    if (pkt->last)
        tx->active = 0;
    return 1;
}

int oh_dtmf_rtp_sender_busy(const oh_dtmf_rtp_sender *tx)
{
    return tx->active;
}

/* ---- receiver ---- */

struct oh_dtmf_rtp_receiver {
    int have;            /* an event has been seen */
    uint32_t timestamp;  /* the newest event's */
    int ended;
    oh_dtmf_rtp_report cur;
};

oh_status oh_dtmf_rtp_receiver_create(oh_dtmf_rtp_receiver **out)
{
    if (!out)
        return OH_EINVAL;
    *out = oh_alloc(sizeof **out);
    return *out ? OH_OK : OH_ENOMEM;
}

void oh_dtmf_rtp_receiver_destroy(oh_dtmf_rtp_receiver *rx)
{
    oh_free(rx);
}

void oh_dtmf_rtp_receiver_reset(oh_dtmf_rtp_receiver *rx)
{
    memset(rx, 0, sizeof *rx);
}

int oh_dtmf_rtp_receiver_put(oh_dtmf_rtp_receiver *rx, uint32_t timestamp, const uint8_t *payload,
                             size_t len, oh_dtmf_rtp_report *report, oh_pkt_defect *defect)
{
    if (!rx || !report)
        return OH_EINVAL;
    oh_dtmf_rtp_event ev;
    oh_status st = oh_dtmf_rtp_decode(payload, len, &ev, defect);
    if (st != OH_OK)
        return st;
    int flags = OH_DTMF_RTP_NONE;
    if (!rx->have || (int32_t)(timestamp - rx->timestamp) > 0) {
        rx->have = 1;
        rx->timestamp = timestamp;
        rx->ended = 0;
        rx->cur.event = ev.event;
        rx->cur.volume = ev.volume;
        rx->cur.timestamp = timestamp;
        rx->cur.duration = ev.duration;
        flags |= OH_DTMF_RTP_BEGIN;
    } else if (timestamp != rx->timestamp) {
        return OH_DTMF_RTP_NONE; /* a stale packet of an older event */
    }
    if (ev.duration > rx->cur.duration)
        rx->cur.duration = ev.duration;
    if (ev.end && !rx->ended) {
        rx->ended = 1;
        rx->cur.duration = ev.duration;
        flags |= OH_DTMF_RTP_END;
    }
    *report = rx->cur;
    return flags;
}
