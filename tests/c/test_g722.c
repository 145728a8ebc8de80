/* G.722: its own API and through the generic codec interface: round trip,
 * bad arguments, reset, create under allocation failure. (Bit-exactness
 * against libspandsp is tested in tests/test_g722.py.) */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "offhook/oh_codec.h"
#include "offhook/oh_g722.h"
#include "oh_test.h"

#define N 1600 /* 100 ms at 16 kHz */
#define PI 3.14159265358979323846

static void tone(int16_t *pcm, size_t n, double freq, double amp)
{
    for (size_t i = 0; i < n; i++)
        pcm[i] = (int16_t)lrint(amp * sin(2.0 * PI * freq * (double)i / 16000.0));
}

/* SNR in dB of back against pcm, skipping the start-up and aligning for the
 * QMF pair's delay (22 samples). */
static double snr_db(const int16_t *pcm, const int16_t *back, size_t n)
{
    const size_t delay = 22, skip = 400;
    double sig = 0, err = 0;
    for (size_t i = skip; i + delay < n; i++) {
        double e = (double)back[i + delay] - pcm[i];
        sig += (double)pcm[i] * pcm[i];
        err += e * e;
    }
    return 10.0 * log10(sig / (err + 1e-9));
}

static void test_round_trip(int bitrate, double min_snr)
{
    oh_g722_config cfg;
    oh_g722_config_default(&cfg);
    CHECK(cfg.bitrate == 64000);
    cfg.bitrate = bitrate;
    oh_g722_encoder *enc = NULL;
    oh_g722_decoder *dec = NULL;
    CHECK_STATUS(oh_g722_encoder_create(&cfg, &enc), OH_OK);
    CHECK_STATUS(oh_g722_decoder_create(&cfg, &dec), OH_OK);
    if (!enc || !dec)
        goto out;

    static int16_t pcm[N], back[N];
    static uint8_t payload[N / 2];
    tone(pcm, N, 1000.0, 8000.0);
    /* in 20 ms frames, as the media engine feeds it */
    for (size_t f = 0; f < N; f += 320) {
        CHECK_STATUS(oh_g722_encode(enc, pcm + f, 320, payload + f / 2, 160), 160);
        CHECK_STATUS(oh_g722_decode(dec, payload + f / 2, 160, back + f, 320), 320);
    }
    double snr = snr_db(pcm, back, N);
    if (snr < min_snr)
        fprintf(stderr, "G.722 %d bit/s: SNR %.1f dB < %.1f dB\n", bitrate, snr, min_snr);
    CHECK(snr >= min_snr);

    /* reset gives the same output as a fresh encoder */
    static uint8_t again[N / 2];
    oh_g722_encoder_reset(enc);
    CHECK_STATUS(oh_g722_encode(enc, pcm, N, again, sizeof again), N / 2);
    CHECK(memcmp(again, payload, sizeof again) == 0);
    static int16_t back2[N];
    oh_g722_decoder_reset(dec);
    CHECK_STATUS(oh_g722_decode(dec, payload, N / 2, back2, N), N);
    CHECK(memcmp(back2, back, sizeof back) == 0);
out:
    oh_g722_encoder_destroy(enc);
    oh_g722_decoder_destroy(dec);
}

static void test_bad_args(void)
{
    oh_g722_config cfg;
    oh_g722_config_default(&cfg);
    oh_g722_encoder *enc = (oh_g722_encoder *)&cfg; /* must be reset to NULL on failure */
    oh_g722_decoder *dec = (oh_g722_decoder *)&cfg;
    cfg.bitrate = 32000;
    CHECK_STATUS(oh_g722_encoder_create(&cfg, &enc), OH_EINVAL);
    CHECK(enc == NULL);
    CHECK_STATUS(oh_g722_decoder_create(&cfg, &dec), OH_EINVAL);
    CHECK(dec == NULL);
    CHECK_STATUS(oh_g722_encoder_create(NULL, &enc), OH_EINVAL);
    CHECK_STATUS(oh_g722_decoder_create(&cfg, NULL), OH_EINVAL);
    oh_g722_encoder_destroy(NULL);
    oh_g722_decoder_destroy(NULL);

    cfg.bitrate = 64000;
    CHECK_STATUS(oh_g722_encoder_create(&cfg, &enc), OH_OK);
    CHECK_STATUS(oh_g722_decoder_create(&cfg, &dec), OH_OK);
    int16_t pcm[8] = {0};
    uint8_t out[4];
    CHECK_STATUS(oh_g722_encode(enc, pcm, 7, out, 4), OH_EINVAL);  /* odd count */
    CHECK_STATUS(oh_g722_encode(enc, pcm, 8, out, 3), OH_EBUFSIZE);
    CHECK_STATUS(oh_g722_encode(enc, NULL, 8, out, 4), OH_EINVAL);
    CHECK_STATUS(oh_g722_encode(enc, pcm, 8, NULL, 4), OH_EINVAL);
    CHECK_STATUS(oh_g722_encode(enc, NULL, 0, NULL, 0), 0);
    CHECK_STATUS(oh_g722_decode(dec, out, 4, pcm, 7), OH_EBUFSIZE);
    CHECK_STATUS(oh_g722_decode(dec, NULL, 4, pcm, 8), OH_EINVAL);
    CHECK_STATUS(oh_g722_decode(dec, out, 4, NULL, 8), OH_EINVAL);
    CHECK_STATUS(oh_g722_decode(dec, NULL, 0, NULL, 0), 0);
    oh_g722_encoder_destroy(enc);
    oh_g722_decoder_destroy(dec);
}

static void test_codec_interface(void)
{
    oh_codec_config cfg;
    oh_codec_config_default(&cfg, OH_CODEC_G722);
    oh_codec *codec = NULL;
    CHECK_STATUS(oh_codec_create(&cfg, &codec), OH_OK);
    if (!codec)
        return;
    CHECK(oh_codec_get_id(codec) == OH_CODEC_G722);
    CHECK(oh_codec_sample_rate(codec) == 16000);
    CHECK(oh_codec_max_payload(codec, 320) == 160);

    static int16_t pcm[320], back[320];
    uint8_t payload[160];
    tone(pcm, 320, 440.0, 4000.0);
    CHECK_STATUS(oh_codec_encode(codec, pcm, 320, payload, sizeof payload), 160);
    CHECK_STATUS(oh_codec_encode(codec, pcm, 319, payload, sizeof payload), OH_EINVAL);
    CHECK_STATUS(oh_codec_decoded_samples(codec, payload, 160), 320);
    CHECK_STATUS(oh_codec_decode(codec, payload, 160, back, 320), 320);
    CHECK_STATUS(oh_codec_decode(codec, payload, 160, back, 319), OH_EBUFSIZE);
    CHECK_STATUS(oh_codec_conceal(codec, back, 320), 320);
    oh_codec_reset(codec);
    oh_codec_destroy(codec);

    oh_codec_config_default(&cfg, OH_CODEC_G722);
    cfg.sample_rate = 8000;
    CHECK_STATUS(oh_codec_create(&cfg, &codec), OH_EINVAL);
    CHECK(codec == NULL);
    cfg.sample_rate = 16000;
    cfg.bitrate = 24000;
    CHECK_STATUS(oh_codec_create(&cfg, &codec), OH_EINVAL);
    cfg.bitrate = 48000;
    CHECK_STATUS(oh_codec_create(&cfg, &codec), OH_OK);
    oh_codec_destroy(codec);
}

static void test_enomem(void)
{
    oh_g722_config gcfg;
    oh_g722_config_default(&gcfg);
    oh_g722_encoder *enc = NULL;
    oh_g722_decoder *dec = NULL;
    CHECK_CREATE_SURVIVES_ENOMEM(oh_g722_encoder_create(&gcfg, &enc), enc, oh_g722_encoder_destroy);
    CHECK_CREATE_SURVIVES_ENOMEM(oh_g722_decoder_create(&gcfg, &dec), dec, oh_g722_decoder_destroy);

    oh_codec_config cfg;
    oh_codec_config_default(&cfg, OH_CODEC_G722);
    oh_codec *codec = NULL;
    CHECK_CREATE_SURVIVES_ENOMEM(oh_codec_create(&cfg, &codec), codec, oh_codec_destroy);
}

int main(void)
{
    /* a 1 kHz tone at -12 dBFS measures 48.6, 42.6 and 36.7 dB: about 6 dB per
     * lower-band bit, as expected of the embedded quantiser */
    test_round_trip(64000, 40.0);
    test_round_trip(56000, 34.0);
    test_round_trip(48000, 28.0);
    test_bad_args();
    test_codec_interface();
    test_enomem();
    TEST_EXIT();
}
