/* ITU-T G.722 wideband speech codec (SB-ADPCM, 7 kHz audio at 64 kbit/s).
 *
 * Audio is mono int16 at 16000 Hz. Every two samples (125 µs) become one
 * octet: bits 7-6 carry the higher sub-band's 2-bit code, bits 5-0 the lower
 * sub-band's 6-bit code, which is the layout RTP carries (RFC 3551, payload
 * type 9). So n samples encode to n/2 bytes and n bytes decode to 2n samples.
 *
 * The bit rate selects the G.722 mode (64000, 56000 or 48000 bit/s). The
 * encoder is the same in every mode, as the Recommendation specifies: it
 * always codes 6 lower-band bits and the modes differ only in how many of
 * them the decoder uses (in modes 2 and 3 the one or two least significant
 * bits may carry auxiliary data downstream). The decoder of mode 2 ignores
 * bit 0 of each octet, the decoder of mode 3 bits 0-1.
 *
 * Thread safety: an encoder or decoder is used by one thread at a time;
 * distinct objects are independent. Only _create allocates. */
#ifndef OFFHOOK_OH_G722_H
#define OFFHOOK_OH_G722_H

#include <stddef.h>
#include <stdint.h>

#include "offhook/oh_status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define OH_G722_SAMPLE_RATE 16000

typedef struct oh_g722_config {
    int bitrate; /* bit/s: 64000 (mode 1, the default), 56000 (mode 2) or 48000 (mode 3) */
} oh_g722_config;

typedef struct oh_g722_encoder oh_g722_encoder;
typedef struct oh_g722_decoder oh_g722_decoder;

void oh_g722_config_default(oh_g722_config *cfg);

/* OH_EINVAL for a bitrate other than the three above, OH_ENOMEM. */
oh_status oh_g722_encoder_create(const oh_g722_config *cfg, oh_g722_encoder **out);
void oh_g722_encoder_destroy(oh_g722_encoder *enc);
/* Back to the initial state of the Recommendation (a new stream). */
void oh_g722_encoder_reset(oh_g722_encoder *enc);

/* Encodes n samples (n even) into n/2 octets at out (capacity cap bytes).
 * Returns n/2, OH_EINVAL for an odd n, OH_EBUFSIZE when cap < n/2. */
int oh_g722_encode(oh_g722_encoder *enc, const int16_t *pcm, size_t n, uint8_t *out, size_t cap);

oh_status oh_g722_decoder_create(const oh_g722_config *cfg, oh_g722_decoder **out);
void oh_g722_decoder_destroy(oh_g722_decoder *dec);
void oh_g722_decoder_reset(oh_g722_decoder *dec);

/* Decodes len octets into 2*len samples at pcm (capacity cap samples).
 * Returns 2*len, or OH_EBUFSIZE when cap < 2*len. Every octet is valid. */
int oh_g722_decode(oh_g722_decoder *dec, const uint8_t *in, size_t len, int16_t *pcm, size_t cap);

#ifdef __cplusplus
}
#endif

#endif
