/* A codec instance: one encoder and one decoder of the same kind, with the
 * loss concealment that suits it. This is what the media engine holds per
 * stream and what offhook.engine.codec() returns.
 *
 * Units: sample rates in Hz, sizes in samples (PCM, mono int16) or bytes
 * (payloads). The encoder accepts any frame length the codec can code
 * (G.711: any; G.722: even; Opus: 2.5/5/10/20/40/60 ms). The decoder takes
 * one RTP payload at a time.
 *
 * Thread safety: an instance is used by one thread at a time; distinct
 * instances are independent. Only create/destroy allocate. */
#ifndef OFFHOOK_OH_CODEC_H
#define OFFHOOK_OH_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "offhook/oh_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum oh_codec_id {
    OH_CODEC_PCMU = 0,
    OH_CODEC_PCMA = 1,
    OH_CODEC_G722 = 2,
    OH_CODEC_OPUS = 3
} oh_codec_id;

#define OH_CODEC_COUNT 4

typedef struct oh_codec_config {
    oh_codec_id id;
    int sample_rate;     /* PCM rate in Hz; 0 picks the codec's native rate */
    int bitrate;         /* bit/s; 0 = codec default (G.722: 64000, 56000 or 48000) */
    int complexity;      /* Opus 0..10; -1 = library default */
    int vbr;             /* Opus: 1 variable bitrate, 0 constant */
    int fec;             /* Opus: 1 = in-band forward error correction */
    int dtx;             /* Opus: 1 = discontinuous transmission in silence */
    int packet_loss_pct; /* Opus: expected loss (0..100) the FEC is tuned for */
} oh_codec_config;

typedef struct oh_codec oh_codec;

/* Fills cfg with the defaults for codec id. */
void oh_codec_config_default(oh_codec_config *cfg, oh_codec_id id);

oh_status oh_codec_create(const oh_codec_config *cfg, oh_codec **out);
void oh_codec_destroy(oh_codec *codec);

/* Forgets all history (a new call, an SSRC change). */
void oh_codec_reset(oh_codec *codec);

oh_codec_id oh_codec_get_id(const oh_codec *codec);
int oh_codec_sample_rate(const oh_codec *codec);
/* Upper bound of the payload size encode() can produce for n samples. */
size_t oh_codec_max_payload(const oh_codec *codec, size_t n);

/* Encodes n samples into out (capacity cap bytes). Returns the payload
 * length in bytes or a negative oh_status. Opus with dtx on returns 1-2 byte
 * payloads in silence: they carry no audio and need not be sent (RFC 7587
 * 3.1.3); the receiver conceals the gap, or decodes them, to the same effect.
 * For Opus, a cap below oh_codec_max_payload() caps the frame's bitrate. */
int oh_codec_encode(oh_codec *codec, const int16_t *pcm, size_t n, uint8_t *out, size_t cap);

/* Samples that decoding this payload will produce, or a negative oh_status. */
int oh_codec_decoded_samples(const oh_codec *codec, const uint8_t *payload, size_t len);

/* Decodes one payload into pcm (capacity cap samples). Returns the number of
 * samples or a negative oh_status. After concealed frames, the first decoded
 * frame is cross-faded with the concealment so that no click is heard. */
int oh_codec_decode(oh_codec *codec, const uint8_t *payload, size_t len, int16_t *pcm, size_t cap);

/* Produces n samples in place of a lost payload. Returns n or a negative status. */
int oh_codec_conceal(oh_codec *codec, int16_t *pcm, size_t n);

/* Recovers the lost frame (n samples) just before next_payload from the
 * forward error correction carried in next_payload (Opus in-band FEC); for
 * codecs without FEC, or a payload without it, this conceals. Returns n or a
 * negative status. Decode next_payload itself with oh_codec_decode afterwards. */
int oh_codec_decode_fec(oh_codec *codec, const uint8_t *next_payload, size_t len, int16_t *pcm, size_t n);

/* The lost frame (gap_n samples into gap) and the payload after it (into
 * pcm, capacity cap) in one call, when the payload is already at hand (a
 * jitter buffer that holds it): codecs concealed by oh_plc interpolate the
 * gap between the past and the decoded payload (oh_plc_conceal_into); Opus
 * recovers the gap from the payload's FEC, as oh_codec_decode_fec, then
 * decodes it. Returns the samples decoded into pcm or a negative status
 * (the gap is concealed even then). */
int oh_codec_decode_after_gap(oh_codec *codec, const uint8_t *payload, size_t len, int16_t *gap, size_t gap_n,
                              int16_t *pcm, size_t cap);

#ifdef __cplusplus
}
#endif

#endif
