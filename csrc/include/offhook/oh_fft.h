/* Real FFT of even sizes n with n/2 = 2^a 3^b 5^c (all powers of two, and
 * the 10 ms blocks 160/320/640/960 at 8-48 kHz), for the core's frequency-domain DSP
 * (echo canceller, suppressors).
 *
 * Spectra are kept as separate real and imaginary arrays of n/2+1 bins
 * ("split" layout), so that the per-bin loops of the callers vectorise.
 * The forward transform is unscaled (as numpy.fft.rfft); the inverse scales
 * by 1/n, so inverse(forward(x)) == x up to rounding.
 *
 * Thread safety: an oh_fft holds scratch memory, so one thread per instance.
 * Only create/destroy allocate. */
#ifndef OFFHOOK_OH_FFT_H
#define OFFHOOK_OH_FFT_H

#include <stddef.h>

#include "offhook/oh_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct oh_fft oh_fft;

/* n: transform size in samples, 4 to 65536, even, with n/2 a product of
 * 2, 3 and 5 (OH_EINVAL otherwise). */
oh_status oh_fft_create(size_t n, oh_fft **out);
void oh_fft_destroy(oh_fft *fft);
size_t oh_fft_size(const oh_fft *fft);

/* in: n real samples. re, im: n/2+1 bins each (im[0] and im[n/2] come out 0).
 * in may not alias re or im. */
void oh_fft_forward(oh_fft *fft, const float *in, float *re, float *im);

/* re, im: n/2+1 bins (the imaginary parts of bins 0 and n/2 are ignored).
 * out: n real samples, scaled by 1/n. out may not alias re or im. */
void oh_fft_inverse(oh_fft *fft, const float *re, const float *im, float *out);

#ifdef __cplusplus
}
#endif

#endif
