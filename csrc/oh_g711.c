/* G.711 companding, written for SIMD.
 *
 * The reference coder (ITU-T G.191, the Sun g711.c lineage that Python's
 * audioop follows) finds a magnitude's segment by searching a table of
 * segment end points and shifts by a segment-dependent amount: branches and
 * variable shifts, which no compiler vectorises for plain SSE2. Both are
 * avoidable because the segment end points are powers of two:
 *
 *   Encoding. Convert the biased magnitude to float (exact below 2^24). Its
 *   exponent field is floor(log2(mag)), i.e. the segment plus a constant, and
 *   the four mantissa bits just below the implicit one are exactly the four
 *   quantisation bits G.711 keeps. So the code (segment << 4 | bits) is the
 *   float's bits 19..30 less a constant: one conversion, one shift, one
 *   subtraction.
 *
 *   Decoding. Every decoded magnitude has the shape (2m + 33) << (seg + 2)
 *   (µ-law before its bias is removed; A-law for seg >= 1), a 6-bit odd-ish
 *   mantissa with its top bit set: build that float directly from seg and m
 *   and convert back to an integer.
 *
 * Segment saturation falls out of clipping the µ-law magnitude one step lower
 * than the reference (8158 instead of 8159: both give code 0x7F). Sign
 * handling is done with masks. With -O3 the four loops vectorise to 16-byte
 * vectors, several times faster than the reference while bit-exact with it
 * (tests compare all 65,536 inputs and all 256 codes with audioop).
 * OH_SIMD_CLONES adds AVX2 builds of the encoders where the CPU has it; on
 * AVX2 the decoders switch to a different kernel (16-bit lanes and byte
 * shuffles, at the end of this file) and keep the float form for tails and
 * for CPUs without AVX2.
 */
#include "offhook/oh_g711.h"

#include <string.h>

#include "oh_simd.h"

static inline uint32_t float_bits(float f)
{
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    return bits;
}

static inline float float_from_bits(uint32_t bits)
{
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* Bits 19..30 of a float: the biased exponent above the top four mantissa bits. */
#define EXPONENT_AND_TOP4(f) (float_bits(f) >> 19)
/* The biased float exponent of 2^k is k + 127, shifted left by 4 in EXPONENT_AND_TOP4. */
#define ULAW_CODE_OFFSET ((127u + 5u) << 4) /* µ-law segment 0 starts at 2^5 (bias 33) */
#define ALAW_CODE_OFFSET ((127u + 4u) << 4) /* A-law segment 1 starts at 2^5, coded as seg 1 */
#define DECODED_EXPONENT_BASE (127u + 7u)  /* (2m + 33) << (seg + 2) has exponent seg + 7 */

OH_SIMD_CLONES void oh_g711_ulaw_encode(const int16_t *pcm, size_t n, uint8_t *out)
{
    for (size_t i = 0; i < n; i++) {
        int32_t v = pcm[i] >> 2; /* the 14-bit sample; the arithmetic shift floors */
        int32_t negative = v >> 31;
        int32_t mag = (v ^ negative) - negative;
        mag = (mag > 8158 ? 8158 : mag) + 33;
        uint32_t code = EXPONENT_AND_TOP4((float)mag) - ULAW_CODE_OFFSET;
        uint32_t invert = 0xFFu ^ (uint32_t)(negative & 0x80);
        out[i] = (uint8_t)(code ^ invert);
    }
}

static void ulaw_decode_float(const uint8_t *in, size_t n, int16_t *pcm)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t u = (uint8_t)~in[i];
        uint32_t seg = (u >> 4) & 7u, m = u & 0x0Fu;
        int32_t mag = (int32_t)float_from_bits(((seg + DECODED_EXPONENT_BASE) << 23) | ((2 * m + 1) << 18)) - 0x84;
        int32_t negative = -(int32_t)(u >> 7);
        pcm[i] = (int16_t)((mag ^ negative) - negative);
    }
}

OH_SIMD_CLONES void oh_g711_alaw_encode(const int16_t *pcm, size_t n, uint8_t *out)
{
    for (size_t i = 0; i < n; i++) {
        int32_t v = pcm[i] >> 3; /* the 13-bit sample */
        int32_t negative = v >> 31;
        int32_t mag = v ^ negative; /* -v - 1 for negative samples, as the reference does */
        /* Segments 0 and 1 are both linear with step 2, so below 64 the code is
         * mag >> 1. Split mag at 32: the float trick codes max(mag, 32) (16 for
         * everything below 32) and the part below 32 adds its own mag >> 1. */
        int32_t high = mag > 32 ? mag : 32;
        int32_t low = mag < 32 ? mag : 32;
        uint32_t code = EXPONENT_AND_TOP4((float)high) - ALAW_CODE_OFFSET - 16u + ((uint32_t)low >> 1);
        uint32_t invert = 0xD5u ^ (uint32_t)(negative & 0x80);
        out[i] = (uint8_t)(code ^ invert);
    }
}

static void alaw_decode_float(const uint8_t *in, size_t n, int16_t *pcm)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t a = in[i] ^ 0x55u;
        uint32_t seg = (a >> 4) & 7u, m = a & 0x0Fu;
        /* Segment 0 is segment 1's float less 256: (2m + 33) << 3 = 16m + 264. */
        uint32_t exponent_seg = seg | (seg == 0);
        int32_t mag = (int32_t)float_from_bits(((exponent_seg + DECODED_EXPONENT_BASE) << 23) | ((2 * m + 1) << 18)) -
                      (int32_t)((seg == 0) << 8);
        int32_t negative = (int32_t)(a >> 7) - 1;
        pcm[i] = (int16_t)((mag ^ negative) - negative);
    }
}

#if OH_HAVE_AVX2_KERNELS
/* Decoding with AVX2: every decoded magnitude is (a small base) times a
 * power of two that depends only on the segment, so two 8-entry byte tables
 * (looked up with a byte shuffle) and one 16-bit multiply decode 16 codes at
 * a time in 16-bit lanes — twice the lanes of the float form above.
 *   µ-law: (8m + 132) * 2^seg - 132
 *   A-law: 8 * (2m + a[seg]) * p[seg], a = {1, 33, 33, ...}, p = {1, 1, 2, 4, ...}
 * Both are the reference's expansions regrouped, and bit-exact with them. */
typedef uint8_t u8x16 __attribute__((vector_size(16)));
typedef uint16_t u16x16 __attribute__((vector_size(32)));
typedef int16_t i16x16 __attribute__((vector_size(32)));

OH_TARGET_AVX2 static void ulaw_decode_avx2(const uint8_t *in, size_t n, int16_t *pcm)
{
    const u8x16 pow2 = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        u8x16 u;
        memcpy(&u, in + i, sizeof u);
        u = ~u;
        u8x16 seg = (u >> 4) & 7;
        u16x16 base = __builtin_convertvector(((u & 15) << 3) + 132, u16x16);
        u16x16 scale = __builtin_convertvector(__builtin_shuffle(pow2, seg), u16x16);
        i16x16 mag = (i16x16)(base * scale) - 132;
        i16x16 negative = -__builtin_convertvector(u >> 7, i16x16);
        i16x16 out = (mag ^ negative) - negative;
        memcpy(pcm + i, &out, sizeof out);
    }
    ulaw_decode_float(in + i, n - i, pcm + i);
}

OH_TARGET_AVX2 static void alaw_decode_avx2(const uint8_t *in, size_t n, int16_t *pcm)
{
    const u8x16 pow2 = {1, 1, 2, 4, 8, 16, 32, 64, 1, 1, 2, 4, 8, 16, 32, 64};
    const u8x16 add = {1, 33, 33, 33, 33, 33, 33, 33, 1, 33, 33, 33, 33, 33, 33, 33};
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        u8x16 a;
        memcpy(&a, in + i, sizeof a);
        a ^= 0x55;
        u8x16 seg = (a >> 4) & 7;
        u16x16 base = __builtin_convertvector(((a & 15) << 1) + __builtin_shuffle(add, seg), u16x16);
        u16x16 scale = __builtin_convertvector(__builtin_shuffle(pow2, seg), u16x16);
        i16x16 mag = (i16x16)((base << 3) * scale);
        i16x16 negative = -(__builtin_convertvector(a >> 7, i16x16) ^ 1);
        i16x16 out = (mag ^ negative) - negative;
        memcpy(pcm + i, &out, sizeof out);
    }
    alaw_decode_float(in + i, n - i, pcm + i);
}
#endif

void oh_g711_ulaw_decode(const uint8_t *in, size_t n, int16_t *pcm)
{
#if OH_HAVE_AVX2_KERNELS
    if (OH_CPU_HAS_AVX2()) {
        ulaw_decode_avx2(in, n, pcm);
        return;
    }
#endif
    ulaw_decode_float(in, n, pcm);
}

void oh_g711_alaw_decode(const uint8_t *in, size_t n, int16_t *pcm)
{
#if OH_HAVE_AVX2_KERNELS
    if (OH_CPU_HAS_AVX2()) {
        alaw_decode_avx2(in, n, pcm);
        return;
    }
#endif
    alaw_decode_float(in, n, pcm);
}
