/* ITU-T G.722: 7 kHz audio coding within 64 kbit/s (sub-band ADPCM).
 *
 * The algorithm, as the Recommendation lays it out (sections 3-6 and its
 * blocks 1 to 6):
 *
 *  - A 24-tap quadrature mirror filter pair splits the 16 kHz input into a
 *    lower (0-4 kHz) and a higher (4-8 kHz) sub-band, each at 8 kHz. Because
 *    the filter is symmetric, one pass over the even taps (xA) and one over
 *    the odd taps (xB) give both bands: xL = xA + xB, xH = xA - xB. The
 *    receive QMF runs the same filters on rL - rH and rL + rH.
 *  - Each sub-band is coded by backward-adaptive ADPCM. The lower band's
 *    difference signal is quantised with 60 levels (6 bits, block 1L); only
 *    the 4 most significant bits (15 levels) drive the feedback loop
 *    (block 2L, INVQAL), so the decoder may drop 1 or 2 bits (modes 2 and 3,
 *    56 and 48 kbit/s) and stay in step with the encoder. The higher band
 *    uses 4 levels (2 bits).
 *  - The quantiser scale follows a log-domain scale factor with leakage
 *    (block 3, LOGSCL: nb' = nb * 127/128 + W(code)), turned into a linear
 *    step by a 32-entry table of 2^(k/32) and a shift (SCALEL).
 *  - The predictor (block 4) has two poles and six zeros, adapted by the
 *    sign-sign gradient rules UPPOL2, UPPOL1 and UPZERO with leakage, with
 *    the stability limits on the poles |a2| <= 12288 and |a1| <= 15360 - a2
 *    (in Q14/Q15 units).
 *
 * Every step is the Recommendation's fixed-point arithmetic on 16-bit words,
 * saturating where a 16-bit word would overflow. The tests compare the
 * result, octet for octet and sample for sample, with libspandsp (which
 * passes the ITU-T test sequences) on speech, noise, full-scale signals and
 * random octets at all three rates.
 *
 * Choices made for speed (the arithmetic is untouched; spandsp, the
 * reference the tests use, is about 1.7x slower on the same machine):
 *  - The QMF delay lines are double-written circular buffers (each sample
 *    stored at k and k+12), so the 12-tap dot products read a contiguous
 *    window with no shuffling; int16 history times int16 taps is one SSE2
 *    multiply-add (pmaddwd) per 8 taps.
 *  - The 29 decision levels of the 6-bit quantiser are computed and compared
 *    at once in 16-bit lanes (exact: the products fit 27 bits and are
 *    rebuilt from their high and low halves); the levels never decrease, so
 *    the interval is the position of the first level above |el|. A linear
 *    scan would cost up to 29 multiplies and a mispredicted exit branch.
 *  - The six-tap zero predictor (UPZERO, its delay line and FILTEZ) runs in
 *    one 8-lane vector; the leakage factors 255/256 and 127/128 are shifts
 *    (x * 32640 >> 15 == x - ceil(x / 256)), not multiplies.
 *  - Sign comparisons in the pole adaptation are XORs of the words turned
 *    into -1/0 masks: the signs are as good as random, so branches on them
 *    would be mispredicted half the time.
 *  - Without SSE2 (or with OH_G722_PORTABLE defined) plain C does the same
 *    arithmetic; tests/c/test_g722_portable.c checks both agree bit for bit.
 *
 * Where offhook and spandsp differ on purpose: spandsp's receive QMF lets an
 * overloaded output sample wrap around int16 (a full-scale click); here it
 * saturates. This only happens on streams that drive the decoder past full
 * scale (random octets, clipped full-scale input); everything else matches.
 *
 * Input and output scaling follow the common 16-bit convention (the
 * Recommendation's 14-bit PCM in the upper bits of the word): the transmit
 * QMF scales by 2^-14 and the receive QMF by 2^-11 with saturation to int16.
 *
 * Limits: 16 kHz PCM only (no 8 kHz shortcut mode); unpacked octets only
 * (one octet per sample pair, as RTP carries them).
 */
#include "offhook/oh_g722.h"

#include "oh_alloc.h"

#if defined(__SSE2__) && !defined(OH_G722_PORTABLE)
#include <emmintrin.h>
#define OH_G722_SSE2 1
#else
#define OH_G722_SSE2 0
#endif

/* Transmit/receive QMF taps: h(0), h(2), ..., h(22) and h(1), h(3), ..., h(23)
 * of the 24-tap filter (coefficients in units of 2^-13), padded with zeros to
 * 16 so that the dot products vectorise whole. */
#define QMF_TAPS 12
#define QMF_PADDED 16
static const int16_t QMF_EVEN[QMF_PADDED] = {3, -11, 12, 32, -210, 951, 3876, -805, 362, -156, 53, -11};
static const int16_t QMF_ODD[QMF_PADDED] = {-11, 53, -156, 362, -805, 3876, 951, -210, 32, 12, -11, 3};

#if !OH_G722_SSE2
/* Lower band, 6-bit quantiser decision levels Q6(1..29), in the units of the
 * scale factor (level = Q6 * DETL / 4096); 30 and 31 pad the table to the
 * scalar binary search's 32 entries. */
static const int32_t Q6[32] = {
    0, 35, 72, 110, 150, 190, 233, 276, 323, 370, 422, 473, 530, 587, 650, 714,
    786, 858, 940, 1023, 1121, 1219, 1339, 1458, 1612, 1765, 1980, 2195, 2557, 2919,
    32767, 32767};
#else
/* Q6(1..29) and three zeros, for the vector quantiser. */
static const int16_t Q6_LANES[32] __attribute__((aligned(16))) = {
    35, 72, 110, 150, 190, 233, 276, 323, 370, 422, 473, 530, 587, 650, 714,
    786, 858, 940, 1023, 1121, 1219, 1339, 1458, 1612, 1765, 1980, 2195, 2557, 2919,
    0, 0, 0};
#endif

/* The 6-bit code of quantiser interval m (1..30), indexed by m - 1:
 * [0] for a non-negative difference, [1] for a negative one. */
static const uint8_t IL_CODE[2][30] = {
    {61, 60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48, 47,
     46, 45, 44, 43, 42, 41, 40, 39, 38, 37, 36, 35, 34, 33, 32},
    {63, 62, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19,
     18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4}};

/* Inverse quantiser output levels (x8, signed), by code: 6-bit (mode 1),
 * 5-bit (mode 2, code >> 1) and 4-bit (mode 3 and the feedback loop, code >> 2). */
static const int16_t QM6[64] = {
    -136, -136, -136, -136, -24808, -21904, -19008, -16704,
    -14984, -13512, -12280, -11192, -10232, -9360, -8576, -7856,
    -7192, -6576, -6000, -5456, -4944, -4464, -4008, -3576,
    -3168, -2776, -2400, -2032, -1688, -1360, -1040, -728,
    24808, 21904, 19008, 16704, 14984, 13512, 12280, 11192,
    10232, 9360, 8576, 7856, 7192, 6576, 6000, 5456,
    4944, 4464, 4008, 3576, 3168, 2776, 2400, 2032,
    1688, 1360, 1040, 728, 432, 136, -432, -136};
static const int16_t QM5[32] = {
    -280, -280, -23352, -17560, -14120, -11664, -9752, -8184,
    -6864, -5712, -4696, -3784, -2960, -2208, -1520, -880,
    23352, 17560, 14120, 11664, 9752, 8184, 6864, 5712,
    4696, 3784, 2960, 2208, 1520, 880, 280, -280};
static const int16_t QM4[16] = {
    0, -20456, -12896, -8968, -6288, -4240, -2584, -1200,
    20456, 12896, 8968, 6288, 4240, 2584, 1200, 0};

/* Log scale factor multipliers W(I) of the lower band, by 4-bit code. */
static const int16_t WL4[16] = {
    -60, 3042, 1198, 538, 334, 172, 58, -30,
    3042, 1198, 538, 334, 172, 58, -30, -60};

/* Higher band: inverse quantiser levels (x8) and log scale multipliers by
 * 2-bit code, and the one decision level Q2 = 564. */
static const int16_t QM2[4] = {-7408, -1616, 7408, 1616};
static const int16_t WH2[4] = {798, -214, 798, -214};
#define Q2_LEVEL 564

/* 2^(k/32) in Q11: the linear scale factor's mantissa (SCALEL/SCALEH). */
static const int16_t ILB[32] = {
    2048, 2093, 2139, 2186, 2233, 2282, 2332, 2383, 2435, 2489, 2543, 2599, 2656,
    2714, 2774, 2834, 2896, 2960, 3025, 3091, 3158, 3228, 3298, 3371, 3444, 3520,
    3597, 3676, 3756, 3838, 3922, 4008};

#define NBL_MAX 18432 /* lower band log scale factor limit */
#define NBH_MAX 22528 /* higher band */

/* ADPCM state of one sub-band (names after the Recommendation's). */
typedef struct band {
    int32_t s;      /* predictor output SL/SH */
    int32_t sz;     /* zero-section output SZL/SZH */
    int32_t r1, r2; /* reconstructed signal RLT/RHT, delayed 1 and 2 */
    int32_t p1, p2; /* partially reconstructed signal PLT/PH, delayed */
    int32_t a1, a2; /* pole coefficients */
    /* Zero section, one 16-bit lane per tap (both fit int16: |b| <= 32768,
     * |d| <= 10228); lanes 6 and 7 of b stay 0 so that 8-lane vectors can
     * carry the 6 taps. */
    int16_t b[8] __attribute__((aligned(16))); /* zero coefficients */
    int16_t d[8] __attribute__((aligned(16))); /* quantised difference, d[0] the most recent */
    int32_t nb;     /* log scale factor NBL/NBH */
    int32_t det;    /* linear scale factor DETL/DETH */
} band;

struct oh_g722_encoder {
    band lo, hi;
    /* QMF delay lines: newer and older sample of each pair, each written at
     * k and k + 12, plus room for the padded window. */
    int16_t x_new[2 * QMF_TAPS + QMF_PADDED - QMF_TAPS], x_old[2 * QMF_TAPS + QMF_PADDED - QMF_TAPS];
    int pos;
};

struct oh_g722_decoder {
    band lo, hi;
    /* receive QMF delay lines of rL - rH and rL + rH, laid out as the encoder's */
    int16_t x_d[2 * QMF_TAPS + QMF_PADDED - QMF_TAPS], x_s[2 * QMF_TAPS + QMF_PADDED - QMF_TAPS];
    int pos;
    int shift;                /* 0, 1 or 2 lower-band bits ignored (mode 1, 2, 3) */
    const int16_t *levels;    /* QM6, QM5 or QM4 */
};

static inline int32_t sat16(int32_t x)
{
    return x > 32767 ? 32767 : (x < -32768 ? -32768 : x);
}

static inline int32_t clamp(int32_t x, int32_t lo, int32_t hi)
{
    return x > hi ? hi : (x < lo ? lo : x);
}

static void band_reset(band *bd, int32_t det)
{
    *bd = (band){0};
    bd->det = det;
}

/* Block 3, LOGSCL and SCALEL. The shift base is 8 for the lower band and 10
 * for the higher; at the top of the range the shift is -1 (a left shift),
 * handled here by doubling the mantissa and shifting one place further. */
static inline void scale_adapt(band *bd, int32_t w, int32_t nb_max, int32_t shift_base)
{
    int32_t nb = clamp(bd->nb + ((-bd->nb) >> 7) + w, 0, nb_max); /* nb * 32512 >> 15 */
    bd->nb = nb;
    int32_t mant = (int32_t)ILB[(nb >> 6) & 31] << 1;
    bd->det = (mant >> (shift_base + 1 - (nb >> 11))) << 2;
}

/* Block 4, zero section: UPZERO (b_i += +-128, 0 when dq is 0, with leakage
 * 255/256: the results stay within int16), then DELAYA of d, then FILTEZ
 * (sum of (b_i * 2 d_i) >> 15 == (b_i * d_i) >> 14). Returns SZ, saturated. */
static inline int32_t zero_section(band *bd, int32_t dq)
{
#if OH_G722_SSE2
    /* The six taps in 16-bit lanes. The leakage b - ceil(b / 256) is
     * b - (b >> 8) - (b & 255 ? 1 : 0), which no lane can overflow. */
    const __m128i taps = _mm_setr_epi16(-1, -1, -1, -1, -1, -1, 0, 0);
    __m128i b = _mm_load_si128((const __m128i *)bd->b);
    __m128i d = _mm_load_si128((const __m128i *)bd->d);
    __m128i q = _mm_set1_epi16((int16_t)dq);
    __m128i differ = _mm_srai_epi16(_mm_xor_si128(d, q), 15);
    __m128i g = _mm_set1_epi16((int16_t)((dq != 0) << 7));
    __m128i step = _mm_sub_epi16(_mm_xor_si128(g, differ), differ); /* -g where signs differ */
    __m128i low_zero = _mm_cmpeq_epi16(_mm_and_si128(b, _mm_set1_epi16(255)), _mm_setzero_si128());
    b = _mm_sub_epi16(b, _mm_srai_epi16(b, 8));
    b = _mm_add_epi16(b, _mm_andnot_si128(low_zero, _mm_set1_epi16(-1)));
    b = _mm_and_si128(_mm_add_epi16(b, step), taps);
    d = _mm_insert_epi16(_mm_slli_si128(d, 2), dq, 0);
    _mm_store_si128((__m128i *)bd->b, b);
    _mm_store_si128((__m128i *)bd->d, d);
    /* 32-bit products from their 16-bit halves, each floored, then summed */
    __m128i lo = _mm_mullo_epi16(b, d), hi = _mm_mulhi_epi16(b, d);
    __m128i sum = _mm_add_epi32(_mm_srai_epi32(_mm_unpacklo_epi16(lo, hi), 14),
                                _mm_srai_epi32(_mm_unpackhi_epi16(lo, hi), 14));
    sum = _mm_add_epi32(sum, _mm_shuffle_epi32(sum, _MM_SHUFFLE(1, 0, 3, 2)));
    sum = _mm_add_epi32(sum, _mm_shuffle_epi32(sum, _MM_SHUFFLE(2, 3, 0, 1)));
    return sat16(_mm_cvtsi128_si32(sum));
#else
    int32_t g = (dq != 0) << 7;
    for (int i = 0; i < 6; i++) {
        int32_t m = (dq ^ bd->d[i]) >> 31;
        bd->b[i] = (int16_t)(bd->b[i] + ((-bd->b[i]) >> 8) + ((g ^ m) - m));
    }
    for (int i = 5; i > 0; i--)
        bd->d[i] = bd->d[i - 1];
    bd->d[0] = (int16_t)dq;
    int32_t sz = 0;
    for (int i = 0; i < 6; i++)
        sz += (bd->b[i] * bd->d[i]) >> 14;
    return sat16(sz);
#endif
}

/* Block 4: reconstruction, pole and zero adaptation, delay, prediction.
 * dq is the quantised difference of the feedback loop (DLT or DH).
 *
 * The leakage factors are written without multiplies: for any integer x,
 * (x * 32640) >> 15 == x + ((-x) >> 8) and (x * 32512) >> 15 == x + ((-x) >> 7)
 * (32640 = 32768 - 128, 32512 = 32768 - 256; the shifts floor like the
 * Recommendation's). */
static inline void predictor_adapt(band *bd, int32_t dq)
{
    int32_t r = sat16(bd->s + dq);  /* RECONS */
    int32_t p = sat16(bd->sz + dq); /* PARREC */

    /* UPPOL2. The signs of p, p1 and p2 are as good as random, so every
     * choice on them is arithmetic on -1/0 masks (a branch would be
     * mispredicted half the time): differ1 is -1 when p and p1 differ in sign. */
    int32_t differ1 = (p ^ bd->p1) >> 31;
    int32_t differ2 = (p ^ bd->p2) >> 31;
    int32_t same1 = ~differ1;
    int32_t wd1 = sat16(bd->a1 * 4);
    int32_t wd2 = (wd1 ^ same1) - same1; /* -wd1 for equal signs */
    wd2 = wd2 > 32767 ? 32767 : wd2;
    int32_t a2 = (wd2 >> 7) + (128 + (differ2 & -256)) + bd->a2 + ((-bd->a2) >> 7);
    a2 = clamp(a2, -12288, 12288);

    /* UPPOL1 */
    int32_t a1 = (192 + (differ1 & -384)) + bd->a1 + ((-bd->a1) >> 8);
    int32_t lim = 15360 - a2;
    a1 = clamp(a1, -lim, lim);

    /* UPZERO, DELAYA (of d) and FILTEZ */
    int32_t sz = zero_section(bd, dq);

    /* DELAYA */
    bd->a1 = a1;
    bd->a2 = a2;
    bd->p2 = bd->p1;
    bd->p1 = p;
    bd->r2 = bd->r1;
    bd->r1 = r;

    /* FILTEP */
    int32_t sp = sat16(((a1 * sat16(bd->r1 * 2)) >> 15) + ((a2 * sat16(bd->r2 * 2)) >> 15));
    bd->sz = sz;
    /* PREDIC */
    bd->s = sat16(sp + sz);
}

/* A window of the delay line (newest first) times the taps; reads 16
 * entries, the last 4 against zero taps. */
static inline int32_t qmf_dot(const int16_t *x, const int16_t *h)
{
#if OH_G722_SSE2
    /* pmaddwd: int16 x int16 products summed in pairs into int32, exactly */
    __m128i acc = _mm_add_epi32(
        _mm_madd_epi16(_mm_loadu_si128((const __m128i *)x), _mm_loadu_si128((const __m128i *)h)),
        _mm_madd_epi16(_mm_loadu_si128((const __m128i *)(x + 8)), _mm_loadu_si128((const __m128i *)(h + 8))));
    acc = _mm_add_epi32(acc, _mm_shuffle_epi32(acc, _MM_SHUFFLE(1, 0, 3, 2)));
    acc = _mm_add_epi32(acc, _mm_shuffle_epi32(acc, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(acc);
#else
    int32_t acc = 0;
    for (int i = 0; i < QMF_PADDED; i++)
        acc += (int32_t)x[i] * h[i];
    return acc;
#endif
}

static int valid_bitrate(int bitrate)
{
    return bitrate == 64000 || bitrate == 56000 || bitrate == 48000;
}

void oh_g722_config_default(oh_g722_config *cfg)
{
    cfg->bitrate = 64000;
}

/* ---- encoder ---- */

void oh_g722_encoder_reset(oh_g722_encoder *enc)
{
    band_reset(&enc->lo, 32);
    band_reset(&enc->hi, 8);
    for (size_t i = 0; i < sizeof enc->x_new / sizeof enc->x_new[0]; i++)
        enc->x_new[i] = enc->x_old[i] = 0;
    enc->pos = 0;
}

oh_status oh_g722_encoder_create(const oh_g722_config *cfg, oh_g722_encoder **out)
{
    if (!out)
        return OH_EINVAL;
    *out = NULL;
    if (!cfg || !valid_bitrate(cfg->bitrate))
        return OH_EINVAL;
    oh_g722_encoder *enc = oh_alloc(sizeof *enc);
    if (!enc)
        return OH_ENOMEM;
    oh_g722_encoder_reset(enc);
    *out = enc;
    return OH_OK;
}

void oh_g722_encoder_destroy(oh_g722_encoder *enc)
{
    oh_free(enc);
}

/* Block 1L QUANTL: the 6-bit code of the lower band difference el. The
 * interval is 1 + the number of decision levels floor(Q6(k) * det / 4096),
 * k = 1..29, that do not exceed |el| (the levels never decrease in k). */
static inline int32_t quantl(int32_t el, int32_t det)
{
    int32_t neg = el < 0;
    int32_t wd = neg ? ~el : el; /* -(el + 1) for negatives, as the Recommendation */
#if OH_G722_SSE2
    /* All 29 levels at once in 16-bit lanes: Q6 < 2^12 and det <= 2^14, so
     * the product fits 27 bits, and its high and low halves give the level
     * (<= 11676) exactly. Lanes 29-31 hold Q6 = 0, a level always <= wd. */
    __m128i d = _mm_set1_epi16((int16_t)det);
    __m128i w = _mm_set1_epi16((int16_t)wd);
    __m128i above[4];
    for (int v = 0; v < 4; v++) {
        __m128i q = _mm_load_si128((const __m128i *)Q6_LANES + v);
        __m128i level = _mm_or_si128(_mm_slli_epi16(_mm_mulhi_epi16(q, d), 4),
                                     _mm_srli_epi16(_mm_mullo_epi16(q, d), 12));
        above[v] = _mm_cmpgt_epi16(level, w);
    }
    /* Bit i of the mask says level i + 1 is above wd; the levels rise, so the
     * set bits start at the count of levels <= wd (bit 29 stops at 29). */
    uint32_t mask = (uint32_t)_mm_movemask_epi8(_mm_packs_epi16(above[0], above[1]))
                  | (uint32_t)_mm_movemask_epi8(_mm_packs_epi16(above[2], above[3])) << 16;
    int32_t k = __builtin_ctz(mask | (1u << 29));
#else
    /* branch-free binary search; entries 30 and 31 pad without breaking the order */
    int32_t k = 0;
    k += ((Q6[k + 16] * det) >> 12 <= wd) << 4;
    k += ((Q6[k + 8] * det) >> 12 <= wd) << 3;
    k += ((Q6[k + 4] * det) >> 12 <= wd) << 2;
    k += ((Q6[k + 2] * det) >> 12 <= wd) << 1;
    k += ((Q6[k + 1] * det) >> 12 <= wd);
    k = k > 29 ? 29 : k;
#endif
    return IL_CODE[neg][k];
}

int oh_g722_encode(oh_g722_encoder *enc, const int16_t *pcm, size_t n, uint8_t *out, size_t cap)
{
    if (!enc || (!pcm && n) || n > INT32_MAX || (n & 1))
        return OH_EINVAL;
    size_t pairs = n / 2;
    if (cap < pairs)
        return OH_EBUFSIZE;
    if (!out && pairs)
        return OH_EINVAL;

    /* local copies, so the compiler may keep the state in registers */
    band lo_state = enc->lo, hi_state = enc->hi;
    band *lo = &lo_state, *hi = &hi_state;
    int pos = enc->pos;
    for (size_t j = 0; j < pairs; j++) {
        /* Transmit QMF: the newer sample of the pair meets the even taps. */
        pos = pos ? pos - 1 : QMF_TAPS - 1;
        enc->x_old[pos] = enc->x_old[pos + QMF_TAPS] = pcm[2 * j];
        enc->x_new[pos] = enc->x_new[pos + QMF_TAPS] = pcm[2 * j + 1];
        int32_t xa = qmf_dot(&enc->x_new[pos], QMF_EVEN);
        int32_t xb = qmf_dot(&enc->x_old[pos], QMF_ODD);
        int32_t xl = (xa + xb) >> 14;
        int32_t xh = (xa - xb) >> 14;

        /* Lower band: blocks 1L-4L. */
        int32_t il = quantl(sat16(xl - lo->s), lo->det);
        int32_t il4 = il >> 2;
        int32_t dlt = (lo->det * QM4[il4]) >> 15;
        scale_adapt(lo, WL4[il4], NBL_MAX, 8);
        predictor_adapt(lo, dlt);

        /* Higher band: blocks 1H-4H. */
        int32_t eh = sat16(xh - hi->s);
        int32_t wd = eh < 0 ? ~eh : eh;
        int32_t outer = wd >= ((Q2_LEVEL * hi->det) >> 12);
        int32_t ih = ((eh >= 0) << 1) | (outer ^ 1); /* 0/1 negative, 2/3 positive; outer is even */
        int32_t dh = (hi->det * QM2[ih]) >> 15;
        scale_adapt(hi, WH2[ih], NBH_MAX, 10);
        predictor_adapt(hi, dh);

        out[j] = (uint8_t)((ih << 6) | il);
    }
    enc->lo = lo_state;
    enc->hi = hi_state;
    enc->pos = pos;
    return (int)pairs;
}

/* ---- decoder ---- */

void oh_g722_decoder_reset(oh_g722_decoder *dec)
{
    band_reset(&dec->lo, 32);
    band_reset(&dec->hi, 8);
    for (size_t i = 0; i < sizeof dec->x_d / sizeof dec->x_d[0]; i++)
        dec->x_d[i] = dec->x_s[i] = 0;
    dec->pos = 0;
}

oh_status oh_g722_decoder_create(const oh_g722_config *cfg, oh_g722_decoder **out)
{
    if (!out)
        return OH_EINVAL;
    *out = NULL;
    if (!cfg || !valid_bitrate(cfg->bitrate))
        return OH_EINVAL;
    oh_g722_decoder *dec = oh_alloc(sizeof *dec);
    if (!dec)
        return OH_ENOMEM;
    switch (cfg->bitrate) {
    case 56000: dec->shift = 1; dec->levels = QM5; break;
    case 48000: dec->shift = 2; dec->levels = QM4; break;
    default:    dec->shift = 0; dec->levels = QM6; break;
    }
    oh_g722_decoder_reset(dec);
    *out = dec;
    return OH_OK;
}

void oh_g722_decoder_destroy(oh_g722_decoder *dec)
{
    oh_free(dec);
}

int oh_g722_decode(oh_g722_decoder *dec, const uint8_t *in, size_t len, int16_t *pcm, size_t cap)
{
    if (!dec || (!in && len) || len > INT32_MAX / 2)
        return OH_EINVAL;
    if (cap / 2 < len)
        return OH_EBUFSIZE;
    if (!pcm && len)
        return OH_EINVAL;

    band lo_state = dec->lo, hi_state = dec->hi;
    band *lo = &lo_state, *hi = &hi_state;
    const int16_t *levels = dec->levels;
    int shift = dec->shift;
    int pos = dec->pos;
    for (size_t j = 0; j < len; j++) {
        int32_t il = in[j] & 0x3F;
        int32_t ih = in[j] >> 6;

        /* Block 5L: output from all the bits the mode allows, limited. */
        int32_t dl = (lo->det * levels[il >> shift]) >> 15;
        int32_t rl = clamp(lo->s + dl, -16384, 16383);
        /* Block 6L: the feedback loop sees the 4-bit code, as in the encoder. */
        int32_t il4 = il >> 2;
        int32_t dlt = (lo->det * QM4[il4]) >> 15;
        scale_adapt(lo, WL4[il4], NBL_MAX, 8);
        predictor_adapt(lo, dlt);

        /* Blocks 5H, 6H. */
        int32_t dh = (hi->det * QM2[ih]) >> 15;
        int32_t rh = clamp(hi->s + dh, -16384, 16383);
        scale_adapt(hi, WH2[ih], NBH_MAX, 10);
        predictor_adapt(hi, dh);

        /* Receive QMF. */
        pos = pos ? pos - 1 : QMF_TAPS - 1;
        dec->x_d[pos] = dec->x_d[pos + QMF_TAPS] = (int16_t)(rl - rh);
        dec->x_s[pos] = dec->x_s[pos + QMF_TAPS] = (int16_t)(rl + rh);
        pcm[2 * j] = (int16_t)sat16(qmf_dot(&dec->x_d[pos], QMF_EVEN) >> 11);
        pcm[2 * j + 1] = (int16_t)sat16(qmf_dot(&dec->x_s[pos], QMF_ODD) >> 11);
    }
    dec->lo = lo_state;
    dec->hi = hi_state;
    dec->pos = pos;
    return (int)(2 * len);
}
