/* The interface each codec implementation provides to oh_codec.c.
 *
 * A codec kind is a const table of functions; oh_codec.c holds one table per
 * oh_codec_id and adds what is common (the generic PLC for codecs without
 * their own concealment). Adding a codec means one oh_<codec>_codec.c file and
 * one line in oh_codec.c's table. */
#ifndef OFFHOOK_OH_CODEC_INTERNAL_H
#define OFFHOOK_OH_CODEC_INTERNAL_H

#include "offhook/oh_codec.h"

typedef struct oh_codec_ops {
    oh_codec_id id;
    int native_rate;
    /* Validates cfg (sample_rate already resolved, never 0) and allocates. */
    oh_status (*create)(const oh_codec_config *cfg, void **state);
    void (*destroy)(void *state);
    void (*reset)(void *state);
    size_t (*max_payload)(const void *state, size_t n);
    int (*encode)(void *state, const int16_t *pcm, size_t n, uint8_t *out, size_t cap);
    int (*decoded_samples)(const void *state, const uint8_t *payload, size_t len);
    int (*decode)(void *state, const uint8_t *payload, size_t len, int16_t *pcm, size_t cap);
    /* NULL when the codec has no concealment of its own: oh_plc is used. */
    int (*conceal)(void *state, int16_t *pcm, size_t n);
    /* NULL when the codec has no FEC: concealment is used. */
    int (*decode_fec)(void *state, const uint8_t *next, size_t len, int16_t *pcm, size_t n);
} oh_codec_ops;

extern const oh_codec_ops oh_codec_ops_pcmu;
extern const oh_codec_ops oh_codec_ops_pcma;
extern const oh_codec_ops oh_codec_ops_g722;
extern const oh_codec_ops oh_codec_ops_opus;

#endif
