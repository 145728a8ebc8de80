/* Sine oscillators shared by the call-progress tone and DTMF generators.
 *
 * Each oscillator is a unit phasor z = c + js rotated by w = e^{jω} once per
 * sample (a complex recursive oscillator, four multiplies). In double
 * precision the rotation's rounding error is ~1e-16 per sample, so the
 * frequency is exact to far better than a millihertz and the phase does not
 * drift over hours; the magnitude is pulled back to 1 after every block with
 * one Newton step, so the amplitude does not drift either. The output is the
 * imaginary part, which starts at 0: a burst begins at a zero crossing and
 * does not click.
 *
 * Levels: a sine whose peak is 16-bit full scale (32767) is taken as
 * +3.14 dBm0, the A-law overload point of ITU-T G.711 (µ-law's is 3.17 dBm0);
 * OH_DBM0_FULL_SCALE in oh_tone.h names it. */
#ifndef OFFHOOK_OH_OSC_INTERNAL_H
#define OFFHOOK_OH_OSC_INTERNAL_H

#include <math.h>
#include <stdint.h>

#include "offhook/oh_tone.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

typedef struct oh_osc {
    double c, s;   /* the phasor */
    double wc, ws; /* the per-sample rotation */
    double amp;    /* peak amplitude in 16-bit units */
    double freq;   /* Hz; 0 = silent */
} oh_osc;

/* Peak amplitude of a sine at level dbm0. */
static inline double oh_osc_amplitude(double dbm0)
{
    return 32767.0 * pow(10.0, (dbm0 - OH_DBM0_FULL_SCALE) / 20.0);
}

/* Starts (or retunes) an oscillator. A silent oscillator starts at phase 0;
 * a sounding one keeps its phase, so a change of frequency is seamless. */
static inline void oh_osc_set(oh_osc *o, double freq, double amp, int sample_rate)
{
    if (freq <= 0.0) {
        o->freq = 0.0;
        return;
    }
    if (o->freq <= 0.0) {
        o->c = 1.0;
        o->s = 0.0;
    }
    double w = 2.0 * M_PI * freq / sample_rate;
    o->wc = cos(w);
    o->ws = sin(w);
    o->amp = amp;
    o->freq = freq;
}

static inline void oh_osc_renormalize(oh_osc *o)
{
    double g = 1.5 - 0.5 * (o->c * o->c + o->s * o->s);
    o->c *= g;
    o->s *= g;
}

/* Adds n samples of the oscillator into acc. */
static inline void oh_osc_add(oh_osc *o, double *acc, size_t n)
{
    if (o->freq <= 0.0)
        return;
    double c = o->c, s = o->s;
    const double wc = o->wc, ws = o->ws, amp = o->amp;
    for (size_t i = 0; i < n; i++) {
        acc[i] += amp * s;
        double nc = c * wc - s * ws;
        s = s * wc + c * ws;
        c = nc;
    }
    o->c = c;
    o->s = s;
    oh_osc_renormalize(o);
}

static inline int16_t oh_osc_saturate(double v)
{
    long r = lrint(v);
    if (r > 32767)
        return 32767;
    if (r < -32768)
        return -32768;
    return (int16_t)r;
}

#endif
