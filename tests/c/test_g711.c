/* G.711 through the generic codec interface: round trip, bad arguments,
 * and create under allocation failure. (Bit-exactness against the reference
 * is tested exhaustively in tests/test_g711.py.) */
#include <stdint.h>

#include "offhook/oh_codec.h"
#include "oh_test.h"

static void test_round_trip(oh_codec_id id)
{
    oh_codec_config cfg;
    oh_codec_config_default(&cfg, id);
    oh_codec *codec = NULL;
    CHECK_STATUS(oh_codec_create(&cfg, &codec), OH_OK);
    if (!codec)
        return;
    CHECK(oh_codec_sample_rate(codec) == 8000);

    int16_t pcm[160], back[160];
    uint8_t payload[160];
    for (int i = 0; i < 160; i++)
        pcm[i] = (int16_t)((i - 80) * 300);
    CHECK_STATUS(oh_codec_encode(codec, pcm, 160, payload, sizeof payload), 160);
    CHECK_STATUS(oh_codec_encode(codec, pcm, 160, payload, 159), OH_EBUFSIZE);
    CHECK_STATUS(oh_codec_decoded_samples(codec, payload, 160), 160);
    CHECK_STATUS(oh_codec_decode(codec, payload, 160, back, 160), 160);
    CHECK_STATUS(oh_codec_decode(codec, payload, 160, back, 100), OH_EBUFSIZE);
    for (int i = 0; i < 160; i++) {
        int err = pcm[i] - back[i];
        /* companding error is at most half a step of the coarsest segment */
        CHECK(err <= 1024 && err >= -1024);
    }
    CHECK_STATUS(oh_codec_encode(codec, NULL, 160, payload, 160), OH_EINVAL);
    CHECK_STATUS(oh_codec_encode(codec, NULL, 0, payload, 160), 0);
    CHECK_STATUS(oh_codec_conceal(codec, back, 160), 160);
    oh_codec_destroy(codec);
}

static void test_bad_config(void)
{
    oh_codec_config cfg;
    oh_codec *codec = (oh_codec *)&cfg; /* must be reset to NULL on failure */
    oh_codec_config_default(&cfg, OH_CODEC_PCMU);
    cfg.sample_rate = 16000;
    CHECK_STATUS(oh_codec_create(&cfg, &codec), OH_EINVAL);
    CHECK(codec == NULL);
    cfg.sample_rate = 8000;
    cfg.id = (oh_codec_id)42;
    CHECK_STATUS(oh_codec_create(&cfg, &codec), OH_EINVAL);
    CHECK_STATUS(oh_codec_create(NULL, &codec), OH_EINVAL);
    oh_codec_destroy(NULL);
}

static void test_enomem(void)
{
    oh_codec_config cfg;
    oh_codec_config_default(&cfg, OH_CODEC_PCMA);
    oh_codec *codec = NULL;
    CHECK_CREATE_SURVIVES_ENOMEM(oh_codec_create(&cfg, &codec), codec, oh_codec_destroy);
}

int main(void)
{
    test_round_trip(OH_CODEC_PCMU);
    test_round_trip(OH_CODEC_PCMA);
    test_bad_config();
    test_enomem();
    TEST_EXIT();
}
