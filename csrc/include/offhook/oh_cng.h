/* Comfort noise from RFC 3389 payloads (the CN payload type, static 13).
 *
 * A sender that stops sending speech in a pause (silence suppression, DTX)
 * may send one CN payload at the start of the pause and again whenever the
 * background changes: a noise level, and optionally the reflection
 * coefficients of an all-pole model of its spectrum. oh_cng_update() takes
 * such a payload; oh_cng_generate() then writes noise of that level and
 * colour for as long as the pause lasts, so the line does not sound dead.
 *
 * Units: PCM mono int16 at the sample rate given at create. A level of L
 * (-dBov) is noise whose mean square is that of a full-scale square wave
 * (32767) lowered by L dB. Thread safety: one thread per instance. Only
 * create/destroy allocate. */
#ifndef OFFHOOK_OH_CNG_H
#define OFFHOOK_OH_CNG_H

#include <stddef.h>
#include <stdint.h>

#include "offhook/oh_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The model orders kept; longer payloads use their first OH_CNG_MAX_ORDER coefficients. */
#define OH_CNG_MAX_ORDER 16

typedef struct oh_cng oh_cng;

/* sample_rate: 8000..48000 Hz. */
oh_status oh_cng_create(int sample_rate, oh_cng **out);
void oh_cng_destroy(oh_cng *cng);

/* Forgets the noise model: nothing to generate until the next update. */
void oh_cng_reset(oh_cng *cng);

/* Takes one CN payload (RFC 3389 section 3): byte 0 is the level in -dBov
 * (0..127; the unused top bit is ignored), each further byte a reflection
 * coefficient (b - 127) / 128. OH_EBADPKT for an empty payload (nothing is
 * changed then). A new model is glided into over about 20 ms. */
oh_status oh_cng_update(oh_cng *cng, const uint8_t *payload, size_t len);

/* Whether a payload has been taken since create or reset. */
int oh_cng_active(const oh_cng *cng);

/* The level of the last payload taken, in -dBov (-1 when none). */
int oh_cng_level(const oh_cng *cng);

/* Writes n samples of comfort noise (zeros when no payload was taken). */
void oh_cng_generate(oh_cng *cng, int16_t *pcm, size_t n);

/* The sender's side: an RFC 3389 payload describing pcm (n samples, the
 * background of a pause): its level and `order` (0..OH_CNG_MAX_ORDER)
 * reflection coefficients of its spectrum. Writes 1 + order bytes to out
 * and returns that count. */
size_t oh_cng_describe(const int16_t *pcm, size_t n, int order, uint8_t *out);

#ifdef __cplusplus
}
#endif

#endif
