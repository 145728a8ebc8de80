/* G.711 µ-law and A-law (ITU-T G.711), 8 kHz, one byte per sample.
 *
 * Bit-exact with the ITU-T G.191 reference implementation (and with Python's
 * audioop, which follows it): µ-law quantises the 14-bit sample (s16 >> 2),
 * A-law the 13-bit sample (s16 >> 3). Stateless; safe from any thread. */
#ifndef OFFHOOK_OH_G711_H
#define OFFHOOK_OH_G711_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

void oh_g711_ulaw_encode(const int16_t *pcm, size_t n, uint8_t *out);
void oh_g711_ulaw_decode(const uint8_t *in, size_t n, int16_t *pcm);
void oh_g711_alaw_encode(const int16_t *pcm, size_t n, uint8_t *out);
void oh_g711_alaw_decode(const uint8_t *in, size_t n, int16_t *pcm);

#ifdef __cplusplus
}
#endif

#endif
