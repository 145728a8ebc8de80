/* The receive side of one stream, from RTP payloads to PCM: a jitter buffer
 * (oh_jitter), the decoder with its loss concealment (oh_codec) and
 * time-scale modification (oh_tsm). This is what the media engine owns per
 * stream; oh_jitter alone is for callers that decode elsewhere.
 *
 * put() payloads as they arrive; get() once per tick (frame_ms on the
 * receiver's clock) writes exactly one tick of PCM and says what it was.
 *
 * Units: times in ms on the receiver's clock; the RTP clock rate and the
 * PCM rate in Hz (they differ for G.722: 8000 and 16000); PCM mono int16.
 * Thread safety: one thread per instance. Only create/destroy allocate. */
#ifndef OFFHOOK_OH_PLAYOUT_H
#define OFFHOOK_OH_PLAYOUT_H

#include <stddef.h>
#include <stdint.h>

#include "offhook/oh_codec.h"
#include "offhook/oh_jitter.h"
#include "offhook/oh_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct oh_playout_config {
    oh_codec_config codec;   /* the decoder; its sample_rate is the PCM rate */
    oh_jitter_config jitter; /* clock_rate = the RTP clock; frame_ms = the tick */
    int stretch_in_pauses;   /* 1 (default): tell the buffer when speech is playing, so that
                                accelerations that can wait fall into pauses (oh_jitter_set_speech);
                                0: play exactly what oh_jitter alone decides */
    int interpolate;         /* 1 (default): a LOST tick whose next frame is already here is
                                interpolated between the past and that frame (decoded a tick early;
                                oh_codec_decode_after_gap); 0: concealed from the past alone */
} oh_playout_config;

typedef struct oh_playout oh_playout;

/* Defaults for codec id: its native rate, its RTP clock, 20 ms ticks. */
void oh_playout_config_default(oh_playout_config *cfg, oh_codec_id id);
oh_status oh_playout_create(const oh_playout_config *cfg, oh_playout **out);
void oh_playout_destroy(oh_playout *pl);
void oh_playout_reset(oh_playout *pl);

/* PCM samples get() writes per tick. */
size_t oh_playout_frame_samples(const oh_playout *pl);

/* Stores one RTP payload received at arrival_ms (see oh_jitter_put; flags
 * OH_JITTER_MARKER, OH_JITTER_COMFORT_NOISE for an RFC 3389 CN payload, whose
 * noise then fills the pause it starts: oh_cng). OH_EBADPKT when the codec
 * cannot tell its duration, or for an empty CN payload. */
oh_status oh_playout_put(oh_playout *pl, uint16_t seq, uint32_t timestamp, uint32_t ssrc, int flags,
                         const uint8_t *payload, size_t len, double arrival_ms);

/* Writes one tick of PCM (oh_playout_frame_samples; cap must hold it) and
 * the jitter status of the tick to *status. Returns the sample count or a
 * negative status (a payload the decoder rejects is concealed instead). */
int oh_playout_get(oh_playout *pl, double now_ms, int16_t *pcm, size_t cap, oh_jitter_status *status);

void oh_playout_get_stats(const oh_playout *pl, oh_jitter_stats *stats);

#ifdef __cplusplus
}
#endif

#endif
