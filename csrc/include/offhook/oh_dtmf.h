/* DTMF (ITU-T Q.23 keypad tones): a generator and a detector.
 *
 * Digits are the characters 0-9 * # A B C D (a-d accepted as A-D).
 *
 * Units: sample rates in Hz (8000, 16000, 32000 or 48000), durations in ms,
 * sample positions and durations of detected digits in samples, levels in
 * dBm0 per frequency component (see OH_DBM0_FULL_SCALE in oh_tone.h).
 *
 * Thread safety: an instance is used by one thread at a time; distinct
 * instances are independent. Only create/destroy allocate. */
#ifndef OFFHOOK_OH_DTMF_H
#define OFFHOOK_OH_DTMF_H

#include <stddef.h>
#include <stdint.h>

#include "offhook/oh_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* 1 if c is a DTMF digit (0-9 * # A-D a-d), else 0. */
int oh_dtmf_is_digit(char c);

/* ---- Generator ---------------------------------------------------------- */

typedef struct oh_dtmf_gen_config {
    int sample_rate;   /* Hz */
    double level_dbm0; /* low-group component, -60..0 */
    double twist_db;   /* high-group level minus low-group level, -10..10 */
    int on_ms;         /* tone duration per digit, 1..10000 */
    int off_ms;        /* silence after each digit, 0..10000 */
    size_t max_queued; /* digits that can wait in the queue, >= 1 */
} oh_dtmf_gen_config;

typedef struct oh_dtmf_gen oh_dtmf_gen;

/* 8000 Hz, -10 dBm0 low group, +2 dB twist (high group -8 dBm0), 80 ms on,
 * 80 ms off, 64 queued digits. */
void oh_dtmf_gen_config_default(oh_dtmf_gen_config *cfg);
oh_status oh_dtmf_gen_create(const oh_dtmf_gen_config *cfg, oh_dtmf_gen **out);
void oh_dtmf_gen_destroy(oh_dtmf_gen *gen);
/* Drops queued digits and anything half played. */
void oh_dtmf_gen_reset(oh_dtmf_gen *gen);

/* Queues the NUL-terminated digits. OH_EINVAL (nothing queued) if one is not
 * a DTMF digit; OH_EBUFSIZE (nothing queued) if they do not all fit. */
oh_status oh_dtmf_gen_send(oh_dtmf_gen *gen, const char *digits);

/* Samples still to come before the queue is played out (tones and pauses). */
size_t oh_dtmf_gen_pending(const oh_dtmf_gen *gen);

/* Writes the next n samples (silence once the queue is empty). Returns n, or
 * OH_EINVAL. Never allocates. */
int oh_dtmf_gen_generate(oh_dtmf_gen *gen, int16_t *out, size_t n);

/* ---- Detector ----------------------------------------------------------- */

typedef struct oh_dtmf_det_config {
    int sample_rate;         /* Hz */
    double min_level_dbm0;   /* weakest component accepted, default -40 */
    double normal_twist_db;  /* high group louder than low by at most this, default 8 */
    double reverse_twist_db; /* low group louder than high by at most this, default 4 */
    size_t max_events;       /* completed digits held for oh_dtmf_det_get_event, >= 1 */
} oh_dtmf_det_config;

typedef struct oh_dtmf_event {
    char digit;        /* '0'..'9', '*', '#', 'A'..'D' */
    uint64_t start;    /* first sample of the digit, counted from create/reset */
    uint32_t duration; /* samples */
} oh_dtmf_event;

typedef struct oh_dtmf_det oh_dtmf_det;

void oh_dtmf_det_config_default(oh_dtmf_det_config *cfg);
oh_status oh_dtmf_det_create(const oh_dtmf_det_config *cfg, oh_dtmf_det **out);
void oh_dtmf_det_destroy(oh_dtmf_det *det);
/* Forgets everything, including queued events; sample positions restart at 0. */
void oh_dtmf_det_reset(oh_dtmf_det *det);

/* Analyses n samples. A digit is reported when it ends (about 25 ms after
 * the tone stops). Returns the number of samples consumed: n, or fewer when
 * the event queue is full; drain it with oh_dtmf_det_get_event() and pass the
 * rest again. OH_EINVAL for a NULL buffer with n > 0. Never allocates. */
int oh_dtmf_det_process(oh_dtmf_det *det, const int16_t *pcm, size_t n);

/* Ends a digit still sounding (end of stream), queueing its event.
 * OH_EBUFSIZE if the queue is full. */
oh_status oh_dtmf_det_flush(oh_dtmf_det *det);

/* Pops the oldest completed digit into *ev: 1 if there was one, 0 if not. */
int oh_dtmf_det_get_event(oh_dtmf_det *det, oh_dtmf_event *ev);

#ifdef __cplusplus
}
#endif

#endif
