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
 * saturating where a 16-bit word would overflow, so the output is bit-exact
 * with any conforming implementation; the tests compare it, sample for
 * sample, with libspandsp on speech, noise and full-scale signals.
 *
 * Choices made for speed (the arithmetic is untouched):
 *  - The QMF delay lines are double-written circular buffers (each sample
 *    stored at k and k+12), so the 12-tap dot products read a contiguous
 *    window with no shuffling; int16 history times int16 taps lets the
 *    compiler use multiply-add vector instructions.
 *  - The 30 decision levels of the 6-bit quantiser are searched with a
 *    branch-free binary search (5 multiplies and compares instead of up to
 *    29 in a linear scan), using the fact that floor(Q6(k) * DET / 4096) is
 *    non-decreasing in k.
 *  - Sign comparisons in the predictor adaptation are XORs of the words
 *    (the sign of a ^ b says whether the signs differ), so the inner loops
 *    have no data-dependent branches.
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

/* Transmit/receive QMF taps: h(0), h(2), ..., h(22) and h(1), h(3), ..., h(23)
 * of the 24-tap filter (coefficients in units of 2^-13). */
static const int16_t QMF_EVEN[12] = {3, -11, 12, 32, -210, 951, 3876, -805, 362, -156, 53, -11};
static const int16_t QMF_ODD[12] = {-11, 53, -156, 362, -805, 3876, 951, -210, 32, 12, -11, 3};

/* Lower band, 6-bit quantiser decision levels Q6(1..29), in the units of the
 * scale factor (level = Q6 * DETL / 4096); 30 and 31 pad the table to the
 * binary search's 32 entries without breaking its order (the count is then
 * capped at 29). */
static const int32_t Q6[32] = {
    0, 35, 72, 110, 150, 190, 233, 276, 323, 370, 422, 473, 530, 587, 650, 714,
    786, 858, 940, 1023, 1121, 1219, 1339, 1458, 1612, 1765, 1980, 2195, 2557, 2919,
    32767, 32767};

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
    int32_t b[6];   /* zero coefficients */
    int32_t d[6];   /* quantised difference, d[0] the most recent */
    int32_t nb;     /* log scale factor NBL/NBH */
    int32_t det;    /* linear scale factor DETL/DETH */
} band;

struct oh_g722_encoder {
    band lo, hi;
    /* QMF delay lines: newer and older sample of each pair, each written twice. */
    int16_t x_new[24], x_old[24];
    int pos;
};

struct oh_g722_decoder {
    band lo, hi;
    int16_t x_d[24], x_s[24]; /* receive QMF delay lines of rL - rH and rL + rH */
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
    int32_t nb = clamp(((bd->nb * 32512) >> 15) + w, 0, nb_max);
    bd->nb = nb;
    int32_t mant = (int32_t)ILB[(nb >> 6) & 31] << 1;
    bd->det = (mant >> (shift_base + 1 - (nb >> 11))) << 2;
}

/* Block 4: reconstruction, pole and zero adaptation, delay, prediction.
 * dq is the quantised difference of the feedback loop (DLT or DH). */
static inline void predictor_adapt(band *bd, int32_t dq)
{
    int32_t r = sat16(bd->s + dq);  /* RECONS */
    int32_t p = sat16(bd->sz + dq); /* PARREC */

    /* UPPOL2: the -1/0 masks say whether p's sign differs from p1's, p2's. */
    int32_t differ1 = (p ^ bd->p1) >> 31;
    int32_t differ2 = (p ^ bd->p2) >> 31;
    int32_t wd1 = sat16(bd->a1 * 4);
    int32_t wd2 = differ1 ? wd1 : -wd1;
    if (wd2 > 32767)
        wd2 = 32767;
    int32_t a2 = (wd2 >> 7) + (differ2 ? -128 : 128) + ((bd->a2 * 32512) >> 15);
    a2 = clamp(a2, -12288, 12288);

    /* UPPOL1 */
    int32_t a1 = (differ1 ? -192 : 192) + ((bd->a1 * 32640) >> 15);
    int32_t lim = 15360 - a2;
    a1 = clamp(a1, -lim, lim);

    /* UPZERO: b_i += +-128 (0 when dq is 0) with leakage 255/256; the
     * results stay within int16 without saturating. */
    int32_t g = dq ? 128 : 0;
    for (int i = 0; i < 6; i++) {
        int32_t m = (dq ^ bd->d[i]) >> 31;
        bd->b[i] = ((g ^ m) - m) + ((bd->b[i] * 32640) >> 15);
    }

    /* DELAYA */
    for (int i = 5; i > 0; i--)
        bd->d[i] = bd->d[i - 1];
    bd->d[0] = dq;
    bd->a1 = a1;
    bd->a2 = a2;
    bd->p2 = bd->p1;
    bd->p1 = p;
    bd->r2 = bd->r1;
    bd->r1 = r;

    /* FILTEP */
    int32_t sp = sat16(((a1 * sat16(bd->r1 * 2)) >> 15) + ((a2 * sat16(bd->r2 * 2)) >> 15));
    /* FILTEZ: |dq| <= 10228, so 2 * d needs no saturation. */
    int32_t sz = 0;
    for (int i = 0; i < 6; i++)
        sz += (bd->b[i] * (bd->d[i] * 2)) >> 15;
    sz = sat16(sz);
    bd->sz = sz;
    /* PREDIC */
    bd->s = sat16(sp + sz);
}

static inline int32_t dot12(const int16_t *x, const int16_t *h)
{
    int32_t acc = 0;
    for (int i = 0; i < 12; i++)
        acc += (int32_t)x[i] * h[i];
    return acc;
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
    for (int i = 0; i < 24; i++)
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

/* Block 1L QUANTL: the 6-bit code of the lower band difference el. */
static inline int32_t quantl(int32_t el, int32_t det)
{
    int32_t neg = el < 0;
    int32_t wd = neg ? ~el : el; /* -(el + 1) for negatives, as the Recommendation */
    /* count the decision levels floor(Q6(k) * det / 4096) <= wd, k = 1..29 */
    int32_t k = 0;
    k += ((Q6[k + 16] * det) >> 12 <= wd) << 4;
    k += ((Q6[k + 8] * det) >> 12 <= wd) << 3;
    k += ((Q6[k + 4] * det) >> 12 <= wd) << 2;
    k += ((Q6[k + 2] * det) >> 12 <= wd) << 1;
    k += ((Q6[k + 1] * det) >> 12 <= wd);
    return IL_CODE[neg][k > 29 ? 29 : k];
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

    band *lo = &enc->lo, *hi = &enc->hi;
    int pos = enc->pos;
    for (size_t j = 0; j < pairs; j++) {
        /* Transmit QMF: the newer sample of the pair meets the even taps. */
        pos = pos ? pos - 1 : 11;
        enc->x_old[pos] = enc->x_old[pos + 12] = pcm[2 * j];
        enc->x_new[pos] = enc->x_new[pos + 12] = pcm[2 * j + 1];
        int32_t xa = dot12(&enc->x_new[pos], QMF_EVEN);
        int32_t xb = dot12(&enc->x_old[pos], QMF_ODD);
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
    enc->pos = pos;
    return (int)pairs;
}

/* ---- decoder ---- */

void oh_g722_decoder_reset(oh_g722_decoder *dec)
{
    band_reset(&dec->lo, 32);
    band_reset(&dec->hi, 8);
    for (int i = 0; i < 24; i++)
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

    band *lo = &dec->lo, *hi = &dec->hi;
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
        pos = pos ? pos - 1 : 11;
        dec->x_d[pos] = dec->x_d[pos + 12] = (int16_t)(rl - rh);
        dec->x_s[pos] = dec->x_s[pos + 12] = (int16_t)(rl + rh);
        pcm[2 * j] = (int16_t)sat16(dot12(&dec->x_d[pos], QMF_EVEN) >> 11);
        pcm[2 * j + 1] = (int16_t)sat16(dot12(&dec->x_s[pos], QMF_ODD) >> 11);
    }
    dec->pos = pos;
    return (int)(2 * len);
}
