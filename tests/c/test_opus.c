/* Opus through the generic codec interface: round trip at every rate, frame
 * sizes, config validation, malformed payloads (and a fuzz loop that must
 * only ever see OH_EBADPKT or success), concealment, FEC, DTX, CBR, and
 * create under allocation failure. Speech quality is measured in
 * tests/test_opus.py with PESQ. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "offhook/oh_codec.h"
#include "oh_test.h"

#define MAX_FRAME 2880 /* 60 ms at 48 kHz */
#define RATES 5

static const int rates[RATES] = {8000, 12000, 16000, 24000, 48000};
static const double pi = 3.14159265358979323846;

/* 2.5, 5, 10, 20, 40 or 60 ms at rate */
static int is_opus_frame(size_t n, int rate)
{
    size_t unit = (size_t)rate / 400;
    if (n == 0 || n % unit)
        return 0;
    size_t k = n / unit;
    return k == 1 || k == 2 || k == 4 || k == 8 || k == 16 || k == 24;
}

/* A voiced-speech-like test signal: 150 Hz fundamental with harmonics under
 * a slow amplitude envelope, kept below 4 kHz so every rate codes it. */
static int16_t voiced(long i, int rate)
{
    double t = (double)i / rate;
    double env = 0.6 + 0.4 * sin(2 * pi * 3.0 * t);
    double s = 0;
    for (int h = 1; h <= 12; h++)
        s += sin(2 * pi * 150.0 * h * t) / h;
    return (int16_t)(6000.0 * env * s);
}

static oh_codec *make(int rate, int bitrate)
{
    oh_codec_config cfg;
    oh_codec_config_default(&cfg, OH_CODEC_OPUS);
    cfg.sample_rate = rate;
    cfg.bitrate = bitrate;
    oh_codec *codec = NULL;
    CHECK_STATUS(oh_codec_create(&cfg, &codec), OH_OK);
    return codec;
}

static double energy(const int16_t *x, size_t n)
{
    double e = 0;
    for (size_t i = 0; i < n; i++)
        e += (double)x[i] * x[i];
    return e;
}

/* Best normalised cross-correlation of out against in over lags 0..max_lag
 * (the codec delays its output by its look-ahead). */
static double best_correlation(const int16_t *in, const int16_t *out, size_t n, size_t max_lag)
{
    double best = 0;
    for (size_t lag = 0; lag <= max_lag; lag++) {
        double xy = 0, xx = 0, yy = 0;
        for (size_t i = 0; i + lag < n; i++) {
            xy += (double)in[i] * out[i + lag];
            xx += (double)in[i] * in[i];
            yy += (double)out[i + lag] * out[i + lag];
        }
        double c = (xx > 0 && yy > 0) ? xy / sqrt(xx * yy) : 0;
        if (c > best)
            best = c;
    }
    return best;
}

static void test_round_trip_every_rate(void)
{
    for (int r = 0; r < RATES; r++) {
        int rate = rates[r];
        oh_codec *codec = make(rate, 32000);
        if (!codec)
            continue;
        CHECK(oh_codec_sample_rate(codec) == rate);
        CHECK(oh_codec_get_id(codec) == OH_CODEC_OPUS);
        size_t frame = (size_t)rate / 50;
        enum { FRAMES = 25 };
        static int16_t in[FRAMES * 960], out[FRAMES * 960];
        uint8_t payload[1500];
        for (size_t i = 0; i < FRAMES * frame; i++)
            in[i] = voiced((long)i, rate);
        for (int f = 0; f < FRAMES; f++) {
            int len = oh_codec_encode(codec, in + f * frame, frame, payload, sizeof payload);
            CHECK(len > 0 && (size_t)len <= oh_codec_max_payload(codec, frame));
            if (len <= 0)
                break;
            CHECK_STATUS(oh_codec_decoded_samples(codec, payload, (size_t)len), (int)frame);
            CHECK_STATUS(oh_codec_decode(codec, payload, (size_t)len, out + f * frame, frame), (int)frame);
        }
        /* skip the first 100 ms while the encoder settles */
        size_t skip = (size_t)rate / 10, n = FRAMES * frame - skip;
        double c = best_correlation(in + skip, out + skip, n - (size_t)rate / 50, (size_t)rate / 50);
        double gain = energy(out + skip, n) / energy(in + skip, n);
        if (c < 0.8 || gain < 0.5 || gain > 2)
            fprintf(stderr, "rate %d: correlation %.3f, energy ratio %.2f\n", rate, c, gain);
        CHECK(c >= 0.8);            /* not waveform-exact: Opus codes perceptually */
        CHECK(gain > 0.5 && gain < 2); /* within 3 dB of the input level */
        oh_codec_destroy(codec);
    }
}

static void test_frame_sizes(void)
{
    static const double ok_ms[] = {2.5, 5, 10, 20, 40, 60};
    static const int bad[] = {1, 19, 161, 300, 480 * 3, 2880 * 2};
    int16_t pcm[2 * MAX_FRAME] = {0}, out[MAX_FRAME];
    uint8_t payload[4000];
    for (int r = 0; r < RATES; r++) {
        oh_codec *codec = make(rates[r], 0);
        if (!codec)
            continue;
        for (size_t k = 0; k < sizeof ok_ms / sizeof ok_ms[0]; k++) {
            size_t n = (size_t)(rates[r] * ok_ms[k] / 1000);
            size_t cap = oh_codec_max_payload(codec, n);
            CHECK(cap <= sizeof payload);
            int len = oh_codec_encode(codec, pcm, n, payload, cap);
            CHECK(len > 0);
            if (len <= 0)
                continue;
            CHECK_STATUS(oh_codec_decoded_samples(codec, payload, (size_t)len), (int)n);
            CHECK_STATUS(oh_codec_decode(codec, payload, (size_t)len, out, n), (int)n);
            if (n > 1) /* a buffer one sample short is refused, not overrun */
                CHECK_STATUS(oh_codec_decode(codec, payload, (size_t)len, out, n - 1), OH_EBUFSIZE);
        }
        for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
            size_t n = (size_t)bad[k];
            if (is_opus_frame(n, rates[r]))
                continue; /* happens to be a valid duration at this rate */
            CHECK_STATUS(oh_codec_encode(codec, pcm, n, payload, sizeof payload), OH_EINVAL);
        }
        CHECK_STATUS(oh_codec_encode(codec, pcm, 0, payload, sizeof payload), OH_EINVAL);
        oh_codec_destroy(codec);
    }
    oh_codec *codec = make(16000, 0);
    if (codec) {
        /* 30 ms is a whole number of 2.5 ms units but no Opus frame size */
        CHECK_STATUS(oh_codec_encode(codec, pcm, 480, payload, sizeof payload), OH_EINVAL);
        /* libopus treats a small buffer as an instant bitrate cap: the frame
         * shrinks to fit (at worst to a TOC-only packet). */
        int len = oh_codec_encode(codec, pcm, 320, payload, 2);
        CHECK(len >= 1 && len <= 2);
        CHECK_STATUS(oh_codec_encode(codec, pcm, 320, payload, 0), OH_EBUFSIZE);
        oh_codec_destroy(codec);
    }
}

static void test_bad_config(void)
{
    oh_codec_config cfg;
    oh_codec *codec = (oh_codec *)&cfg; /* must be reset to NULL on failure */
    static const int bad_rates[] = {44100, 32000, 11025, 96000, -16000};
    for (size_t i = 0; i < sizeof bad_rates / sizeof bad_rates[0]; i++) {
        oh_codec_config_default(&cfg, OH_CODEC_OPUS);
        cfg.sample_rate = bad_rates[i];
        CHECK_STATUS(oh_codec_create(&cfg, &codec), OH_EINVAL);
        CHECK(codec == NULL);
    }
#define BAD(field, value)                                                      \
    do {                                                                       \
        oh_codec_config_default(&cfg, OH_CODEC_OPUS);                          \
        cfg.field = (value);                                                   \
        CHECK_STATUS(oh_codec_create(&cfg, &codec), OH_EINVAL);                \
    } while (0)
    BAD(bitrate, 5999);
    BAD(bitrate, 510001);
    BAD(bitrate, -1);
    BAD(complexity, 11);
    BAD(complexity, -2);
    BAD(vbr, 2);
    BAD(fec, -1);
    BAD(dtx, 7);
    BAD(packet_loss_pct, 101);
    BAD(packet_loss_pct, -1);
#undef BAD
    /* the edges are accepted, and sample_rate 0 means 48 kHz */
    oh_codec_config_default(&cfg, OH_CODEC_OPUS);
    cfg.bitrate = 6000;
    cfg.complexity = 0;
    cfg.packet_loss_pct = 100;
    cfg.vbr = 0;
    cfg.fec = 1;
    cfg.dtx = 1;
    CHECK_STATUS(oh_codec_create(&cfg, &codec), OH_OK);
    if (codec) {
        CHECK(oh_codec_sample_rate(codec) == 48000);
        oh_codec_destroy(codec);
    }
    cfg.bitrate = 510000;
    cfg.complexity = 10;
    CHECK_STATUS(oh_codec_create(&cfg, &codec), OH_OK);
    oh_codec_destroy(codec);
}

static void test_malformed_payloads(void)
{
    oh_codec *codec = make(16000, 0);
    if (!codec)
        return;
    int16_t out[MAX_FRAME * 2];
    /* RFC 6716 3.4 rules a decoder must refuse: */
    static const uint8_t code1_odd[] = {0x01, 0xAA};       /* R2: two equal frames need an even length */
    static const uint8_t code2_long[] = {0x02, 0xFB, 0x00};      /* R4: first frame longer than the packet */
    static const uint8_t code3_zero[] = {0x03, 0x00};            /* R5: zero frames */
    static const uint8_t code3_many[] = {0x1B, 0x03, 0, 0, 0};   /* 3 x 60 ms > 120 ms (R5) */
    static const uint8_t code3_short[] = {0x03};                 /* no frame-count byte */
    const struct { const uint8_t *p; size_t len; } cases[] = {
        {code1_odd, sizeof code1_odd},
        {code2_long, sizeof code2_long},
        {code3_zero, sizeof code3_zero},
        {code3_many, sizeof code3_many},
        {code3_short, sizeof code3_short},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CHECK_STATUS(oh_codec_decode(codec, cases[i].p, cases[i].len, out, sizeof out / sizeof out[0]),
                     OH_EBADPKT);
        int n = oh_codec_decoded_samples(codec, cases[i].p, cases[i].len);
        CHECK(n == OH_EBADPKT || n > 0); /* the TOC check is shallower than decode */
    }
    CHECK_STATUS(oh_codec_decode(codec, code1_odd, 0, out, 320), OH_EBADPKT);
    CHECK_STATUS(oh_codec_decoded_samples(codec, code1_odd, 0), OH_EBADPKT);
    CHECK_STATUS(oh_codec_decode(codec, NULL, 3, out, 320), OH_EINVAL);

    /* Fuzz: random bytes must decode or be refused, never crash (ASan watches). */
    unsigned long long rng = oh_test_seed();
    uint8_t junk[400];
    int refused = 0, decoded = 0;
    for (int round = 0; round < 2000; round++) {
        size_t len = 1 + (size_t)(oh_test_rand(&rng) % sizeof junk);
        for (size_t i = 0; i < len; i++)
            junk[i] = (uint8_t)(oh_test_rand(&rng) >> 56);
        int n = oh_codec_decode(codec, junk, len, out, sizeof out / sizeof out[0]);
        if (n == OH_EBADPKT)
            refused++;
        else if (n > 0 && n <= 1920)
            decoded++;
        else
            CHECK_STATUS(n, OH_EBADPKT);
        int fec = oh_codec_decode_fec(codec, junk, len, out, 320);
        CHECK(fec == 320 || fec == OH_EBADPKT || fec == OH_EBUFSIZE);
    }
    CHECK(refused > 0 && decoded > 0);
    oh_codec_destroy(codec);
}

/* Conceals after some voiced frames: exactly n samples, energy fading out. */
static void test_conceal(void)
{
    oh_codec *codec = make(16000, 24000);
    if (!codec)
        return;
    int16_t pcm[320], out[320];
    uint8_t payload[1500];
    long t = 0;
    for (int f = 0; f < 20; f++) {
        for (int i = 0; i < 320; i++)
            pcm[i] = voiced(t++, 16000);
        int len = oh_codec_encode(codec, pcm, 320, payload, sizeof payload);
        CHECK(len > 0);
        CHECK_STATUS(oh_codec_decode(codec, payload, (size_t)len, out, 320), 320);
    }
    double speech_energy = energy(out, 320);
    static int16_t lost[16000]; /* 1 s, concealed in chunks of at most 60 ms inside */
    CHECK_STATUS(oh_codec_conceal(codec, lost, 16000), 16000);
    double first = energy(lost, 320), last = energy(lost + 16000 - 320, 320);
    CHECK(first > 0.05 * speech_energy); /* the first lost frame continues the voice */
    CHECK(last < 0.01 * first);          /* a long loss fades to (near) silence */
    CHECK_STATUS(oh_codec_conceal(codec, lost, 41), OH_EINVAL); /* not a multiple of 2.5 ms */
    CHECK_STATUS(oh_codec_conceal(codec, lost, 0), 0);
    CHECK_STATUS(oh_codec_conceal(codec, lost, 40), 40);
    CHECK_STATUS(oh_codec_decode_fec(codec, payload, 0, lost, 320), 320);
    CHECK_STATUS(oh_codec_decode_fec(codec, payload, 1, lost, 330), OH_EINVAL);
    CHECK_STATUS(oh_codec_decode_fec(codec, payload, 1, lost, 0), OH_EINVAL);
    oh_codec_destroy(codec);
}

/* With FEC on, the frame before a packet is recovered from it: the recovered
 * frame resembles the lost original far more than plain concealment does. */
static void test_fec(void)
{
    oh_codec_config cfg;
    oh_codec_config_default(&cfg, OH_CODEC_OPUS);
    cfg.sample_rate = 16000;
    cfg.bitrate = 32000;
    cfg.fec = 1;
    cfg.packet_loss_pct = 20;
    oh_codec *enc = NULL, *dec = NULL;
    CHECK_STATUS(oh_codec_create(&cfg, &enc), OH_OK);
    CHECK_STATUS(oh_codec_create(&cfg, &dec), OH_OK);
    if (!enc || !dec) {
        oh_codec_destroy(enc);
        oh_codec_destroy(dec);
        return;
    }
    enum { FRAMES = 30, N = 320 };
    static int16_t in[FRAMES * N], out[FRAMES * N];
    static uint8_t payloads[FRAMES][1500];
    int lens[FRAMES];
    for (long i = 0; i < FRAMES * N; i++)
        in[i] = voiced(i, 16000);
    for (int f = 0; f < FRAMES; f++) {
        lens[f] = oh_codec_encode(enc, in + f * N, N, payloads[f], sizeof payloads[f]);
        CHECK(lens[f] > 0);
        if (lens[f] <= 0)
            goto done;
    }
    /* frame 20 is lost: recover it from frame 21, then decode 21 */
    for (int f = 0; f < 20; f++)
        oh_codec_decode(dec, payloads[f], (size_t)lens[f], out + f * N, N);
    CHECK_STATUS(oh_codec_decode_fec(dec, payloads[21], (size_t)lens[21], out + 20 * N, N), N);
    CHECK_STATUS(oh_codec_decode(dec, payloads[21], (size_t)lens[21], out + 21 * N, N), N);
    double c_fec = best_correlation(in + 19 * N, out + 19 * N, 2 * N, 160);

    oh_codec_reset(dec);
    for (int f = 0; f < 20; f++)
        oh_codec_decode(dec, payloads[f], (size_t)lens[f], out + f * N, N);
    CHECK_STATUS(oh_codec_conceal(dec, out + 20 * N, N), N);
    double c_plc = best_correlation(in + 19 * N, out + 19 * N, 2 * N, 160);
    if (!(c_fec > c_plc))
        fprintf(stderr, "FEC correlation %.3f, PLC %.3f\n", c_fec, c_plc);
    CHECK(c_fec > c_plc);
    CHECK(c_fec > 0.8);
done:
    oh_codec_destroy(enc);
    oh_codec_destroy(dec);
}

static void test_cbr_and_dtx(void)
{
    oh_codec_config cfg;
    oh_codec_config_default(&cfg, OH_CODEC_OPUS);
    cfg.sample_rate = 16000;
    cfg.bitrate = 32000;
    cfg.vbr = 0;
    oh_codec *codec = NULL;
    CHECK_STATUS(oh_codec_create(&cfg, &codec), OH_OK);
    int16_t pcm[320] = {0};
    uint8_t payload[1500];
    long t = 0;
    for (int f = 0; f < 10 && codec; f++) {
        for (int i = 0; i < 320; i++)
            pcm[i] = voiced(t++, 16000);
        CHECK_STATUS(oh_codec_encode(codec, pcm, 320, payload, sizeof payload), 80); /* 32 kbit/s x 20 ms */
    }
    oh_codec_destroy(codec);

    oh_codec_config_default(&cfg, OH_CODEC_OPUS);
    cfg.sample_rate = 16000;
    cfg.dtx = 1;
    CHECK_STATUS(oh_codec_create(&cfg, &codec), OH_OK);
    memset(pcm, 0, sizeof pcm);
    int tiny = 0;
    for (int f = 0; f < 100 && codec; f++) {
        int len = oh_codec_encode(codec, pcm, 320, payload, sizeof payload);
        CHECK(len > 0);
        if (len > 0 && len <= 2) {
            tiny++;
            int16_t out[320];
            CHECK_STATUS(oh_codec_decode(codec, payload, (size_t)len, out, 320), 320);
        }
    }
    /* after ~200 ms of silence libopus sends one real frame per 400 ms */
    if (tiny < 75)
        fprintf(stderr, "DTX: %d of 100 silent frames were tiny\n", tiny);
    CHECK(tiny >= 75);
    oh_codec_destroy(codec);
}

static void test_enomem(void)
{
    oh_codec_config cfg;
    oh_codec_config_default(&cfg, OH_CODEC_OPUS);
    cfg.sample_rate = 16000;
    cfg.fec = 1;
    oh_codec *codec = NULL;
    CHECK_CREATE_SURVIVES_ENOMEM(oh_codec_create(&cfg, &codec), codec, oh_codec_destroy);
}

int main(void)
{
    test_round_trip_every_rate();
    test_frame_sizes();
    test_bad_config();
    test_malformed_payloads();
    test_conceal();
    test_fec();
    test_cbr_and_dtx();
    test_enomem();
    TEST_EXIT();
}
