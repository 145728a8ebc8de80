/* The portable (plain C) G.722 path against the vectorised one the library
 * was built with: same octets from the encoder, same samples from the
 * decoder, on noise, full-scale runs and random octets at every rate.
 * oh_g722.c is compiled a second time here with OH_G722_PORTABLE and its
 * public names renamed, so both live in one program. */
#include <stdint.h>
#include <string.h>

#include "offhook/oh_g722.h"
#include "oh_test.h"

#define OH_G722_PORTABLE 1
#define oh_g722_config_default portable_config_default
#define oh_g722_encoder_create portable_encoder_create
#define oh_g722_encoder_destroy portable_encoder_destroy
#define oh_g722_encoder_reset portable_encoder_reset
#define oh_g722_encode portable_encode
#define oh_g722_decoder_create portable_decoder_create
#define oh_g722_decoder_destroy portable_decoder_destroy
#define oh_g722_decoder_reset portable_decoder_reset
#define oh_g722_decode portable_decode
#include "oh_g722.c"
#undef oh_g722_config_default
#undef oh_g722_encoder_create
#undef oh_g722_encoder_destroy
#undef oh_g722_encoder_reset
#undef oh_g722_encode
#undef oh_g722_decoder_create
#undef oh_g722_decoder_destroy
#undef oh_g722_decoder_reset
#undef oh_g722_decode

#define N 64000 /* 4 s */

static int16_t pcm[N], out_a[N], out_b[N];
static uint8_t oct_a[N / 2], oct_b[N / 2];

static void compare(int bitrate, unsigned long long *rng)
{
    oh_g722_config cfg = {bitrate};
    oh_g722_encoder *ea = NULL, *eb = NULL;
    oh_g722_decoder *da = NULL, *db = NULL;
    CHECK_STATUS(oh_g722_encoder_create(&cfg, &ea), OH_OK);
    CHECK_STATUS(portable_encoder_create(&cfg, &eb), OH_OK);
    CHECK_STATUS(oh_g722_decoder_create(&cfg, &da), OH_OK);
    CHECK_STATUS(portable_decoder_create(&cfg, &db), OH_OK);
    if (!ea || !eb || !da || !db)
        goto out;

    /* noise at falling levels, then random-length full-scale runs */
    for (int i = 0; i < N / 2; i++)
        pcm[i] = (int16_t)((int64_t)(int16_t)oh_test_rand(rng) >> (i / 4000));
    int16_t level = 32767;
    for (int i = N / 2; i < N; i++) {
        if (oh_test_rand(rng) % 23 == 0)
            level = (oh_test_rand(rng) & 1) ? 32767 : -32768;
        pcm[i] = level;
    }
    CHECK_STATUS(oh_g722_encode(ea, pcm, N, oct_a, N / 2), N / 2);
    CHECK_STATUS(portable_encode(eb, pcm, N, oct_b, N / 2), N / 2);
    CHECK(memcmp(oct_a, oct_b, N / 2) == 0);

    CHECK_STATUS(oh_g722_decode(da, oct_a, N / 2, out_a, N), N);
    CHECK_STATUS(portable_decode(db, oct_a, N / 2, out_b, N), N);
    CHECK(memcmp(out_a, out_b, sizeof out_a) == 0);

    for (int i = 0; i < N / 2; i++)
        oct_a[i] = (uint8_t)oh_test_rand(rng);
    CHECK_STATUS(oh_g722_decode(da, oct_a, N / 2, out_a, N), N);
    CHECK_STATUS(portable_decode(db, oct_a, N / 2, out_b, N), N);
    CHECK(memcmp(out_a, out_b, sizeof out_a) == 0);
out:
    oh_g722_encoder_destroy(ea);
    portable_encoder_destroy(eb);
    oh_g722_decoder_destroy(da);
    portable_decoder_destroy(db);
}

int main(void)
{
    unsigned long long rng = oh_test_seed();
    compare(64000, &rng);
    compare(56000, &rng);
    compare(48000, &rng);
    TEST_EXIT();
}
