/* Streaming sample-rate conversion of int16 PCM between any two rates from
 * 8000 to 48000 Hz (8, 11.025, 12, 16, 22.05, 24, 32, 44.1, 48 kHz and any
 * other pair whose reduced ratio L/M has L <= OH_RESAMPLER_MAX_PHASES).
 *
 * A polyphase FIR (Kaiser-windowed sinc, designed at create time). With
 * f_n = min(in_rate, out_rate) / 2, the lower of the two Nyquist frequencies:
 *
 *   passband       0 .. 0.90 f_n (3.6 kHz at 8 kHz, 7.2 kHz at 16 kHz),
 *                  ripple below +-0.001 dB (measured +-0.0005 dB)
 *   transition     0.90 f_n .. 1.00 f_n (-6 dB at 0.95 f_n)
 *   stopband       from 1.00 f_n up, attenuation 85 dB by design, >= 85 dB
 *                  measured on the standard rate pairs (the requirement is
 *                  80 dB): tones above the output Nyquist do not alias and
 *                  the images of upsampling are removed.
 *   latency        linear phase; oh_resampler_latency() output frames of
 *                  group delay, 55..58 / min(in_rate, out_rate) seconds:
 *                  6.9 ms when one side is 8 kHz, 3.4 ms at 16 kHz, 1.3 ms
 *                  for 44.1 <-> 48 kHz (e.g. 55 frames 48k->16k, 167 frames
 *                  16k->48k, 111 frames 8k->16k).
 *   cost           about 107 * max(1, in_rate / out_rate) multiply-adds per
 *                  output sample and channel (5 to 26 % more for ratios
 *                  that are not integers), float, computed 8 or 16 outputs at a time
 *                  (AVX2 when the CPU has it).
 *
 * Streaming: history is kept across calls, so cutting the input into chunks
 * of any sizes gives bit-identical output to one call with all of it. Output
 * frame m is the input delayed by oh_resampler_latency() frames; after n input
 * frames the total output is within one frame of n * out_rate / in_rate
 * (oh_resampler_flush() then drains the delayed tail).
 *
 * Multichannel audio (1..OH_RESAMPLER_MAX_CHANNELS) is interleaved; counts
 * are in frames (one sample per channel).
 *
 * Thread safety: one thread per instance; distinct instances are
 * independent. Only create/destroy allocate; process/flush/reset never
 * allocate, lock or block. */
#ifndef OFFHOOK_OH_RESAMPLER_H
#define OFFHOOK_OH_RESAMPLER_H

#include <stddef.h>
#include <stdint.h>

#include "offhook/oh_status.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
    OH_RESAMPLER_MIN_RATE = 8000,  /* Hz */
    OH_RESAMPLER_MAX_RATE = 48000, /* Hz */
    OH_RESAMPLER_MAX_CHANNELS = 8,
    /* Largest L in the reduced ratio L/M; pairs above it (e.g. 8001 -> 48000)
     * are refused with OH_EUNSUPPORTED, since the table would hold L phases. */
    OH_RESAMPLER_MAX_PHASES = 4096
};

typedef struct oh_resampler_config {
    int in_rate;  /* Hz, OH_RESAMPLER_MIN_RATE..OH_RESAMPLER_MAX_RATE */
    int out_rate; /* Hz, same range; equal rates give a pass-through copy */
    int channels; /* 1..OH_RESAMPLER_MAX_CHANNELS, interleaved */
} oh_resampler_config;

typedef struct oh_resampler oh_resampler;

/* 16000 -> 16000 Hz, mono. */
void oh_resampler_config_default(oh_resampler_config *cfg);

/* OH_EINVAL for rates or channels out of range, OH_EUNSUPPORTED when the
 * reduced ratio needs more than OH_RESAMPLER_MAX_PHASES phases, OH_ENOMEM.
 * *out is NULL on failure. */
oh_status oh_resampler_create(const oh_resampler_config *cfg, oh_resampler **out);
void oh_resampler_destroy(oh_resampler *rs);

/* Back to the state just after create: history cleared. */
void oh_resampler_reset(oh_resampler *rs);

/* Group delay in output frames (an integer by construction). 0 when the
 * rates are equal. */
int oh_resampler_latency(const oh_resampler *rs);

/* Exactly how many frames the next oh_resampler_process() call will write
 * for `frames` input frames (it depends on the phase the stream is at; it
 * never exceeds frames * out_rate / in_rate + 1). */
size_t oh_resampler_max_output(const oh_resampler *rs, size_t frames);

/* Converts `frames` interleaved input frames. Writes the output frames that
 * became available into out (capacity out_frames) and returns their count,
 * or OH_EBUFSIZE (nothing consumed) when out_frames is below
 * oh_resampler_max_output(rs, frames), OH_EINVAL for NULL pointers with a
 * non-zero count. */
int oh_resampler_process(oh_resampler *rs, const int16_t *in, size_t frames,
                         int16_t *out, size_t out_frames);

/* Ends the stream: writes the oh_resampler_latency() frames still held in the
 * filter (as if silence followed the input) and resets. Returns that count,
 * or OH_EBUFSIZE when out_frames is smaller (nothing changes). */
int oh_resampler_flush(oh_resampler *rs, int16_t *out, size_t out_frames);

/* The reduced conversion ratio out_rate / in_rate = up / down. */
int oh_resampler_up(const oh_resampler *rs);
int oh_resampler_down(const oh_resampler *rs);

#ifdef __cplusplus
}
#endif

#endif
