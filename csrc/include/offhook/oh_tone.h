/* Call-progress tones (dial, ringback, busy, congestion, call waiting) for
 * the US, European (ETSI) and UK tone plans, or for a cadence of your own.
 *
 * A tone is a cadence: a table of segments, each a set of up to
 * OH_TONE_MAX_FREQS frequencies sounding together (none = silence) for a
 * duration; the table loops. oh_tone_generate() writes the next n samples
 * into the caller's buffer, continuing the cadence and the oscillators' phase
 * from the previous call, so any frame size can be used.
 *
 * Units: frequencies in Hz, durations in ms, levels in dBm0 per frequency
 * component (as the tone plans state them: US dial tone is 350 Hz and 440 Hz
 * each at -13 dBm0), sample rates 8000, 16000, 32000 or 48000 Hz.
 *
 * Thread safety: an instance is used by one thread at a time; distinct
 * instances are independent. Only create/destroy allocate. */
#ifndef OFFHOOK_OH_TONE_H
#define OFFHOOK_OH_TONE_H

#include <stddef.h>
#include <stdint.h>

#include "offhook/oh_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The level of a sine whose peak is 16-bit full scale (32767), in dBm0: the
 * A-law overload point of ITU-T G.711. Every dBm0 figure in offhook uses it. */
#define OH_DBM0_FULL_SCALE 3.14

typedef enum oh_tone_id {
    OH_TONE_DIAL = 0,
    OH_TONE_RINGBACK = 1,     /* audible ringing, heard by the caller */
    OH_TONE_BUSY = 2,
    OH_TONE_CONGESTION = 3,   /* US "reorder" / fast busy */
    OH_TONE_CALL_WAITING = 4
} oh_tone_id;
#define OH_TONE_COUNT 5

typedef enum oh_tone_profile {
    OH_TONE_PROFILE_US = 0,   /* North American precise tone plan */
    OH_TONE_PROFILE_ETSI = 1, /* European harmonised 425 Hz tones */
    OH_TONE_PROFILE_UK = 2    /* BT SIN 350 */
} oh_tone_profile;
#define OH_TONE_PROFILE_COUNT 3

#define OH_TONE_MAX_FREQS 2
#define OH_TONE_MAX_SEGMENTS 8

typedef struct oh_tone_segment {
    int freq_hz[OH_TONE_MAX_FREQS]; /* 0 = unused; all 0 = silence */
    int duration_ms;                /* > 0; or 0 = forever (last segment only) */
} oh_tone_segment;

typedef struct oh_tone_config {
    int sample_rate;         /* Hz: 8000, 16000, 32000 or 48000 */
    oh_tone_profile profile; /* used when segments is NULL */
    oh_tone_id tone;         /* used when segments is NULL */
    double level_dbm0;       /* per frequency component, -60..0 */
    /* Optional cadence of your own (copied at create): 1..OH_TONE_MAX_SEGMENTS
     * segments, frequencies below sample_rate / 2. NULL = profile's tone. */
    const oh_tone_segment *segments;
    size_t n_segments;
} oh_tone_config;

typedef struct oh_tone oh_tone;

/* US dial tone at 8000 Hz, -13 dBm0 per component. */
void oh_tone_config_default(oh_tone_config *cfg);

oh_status oh_tone_create(const oh_tone_config *cfg, oh_tone **out);
void oh_tone_destroy(oh_tone *tone);

/* Restarts the cadence from its first segment. */
void oh_tone_reset(oh_tone *tone);

/* Writes the next n samples into out. Returns n, or OH_EINVAL when out is
 * NULL and n > 0. Never allocates. */
int oh_tone_generate(oh_tone *tone, int16_t *out, size_t n);

/* The cadence table of a profile's tone (static storage). */
oh_status oh_tone_cadence(oh_tone_profile profile, oh_tone_id tone,
                          const oh_tone_segment **segments, size_t *n_segments);

#ifdef __cplusplus
}
#endif

#endif
