/* Voice activity detection: speech bursts over a noise floor are active,
 * the floor alone is not (after the warm-up and the hangover), word ends
 * get the hangover, a background that gets louder is followed, very quiet
 * frames are never speech, bad arguments and ENOMEM. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "offhook/oh_vad.h"
#include "oh_test.h"

#define PI 3.14159265358979323846
#define N 160 /* 20 ms at 8 kHz */

static unsigned long long state = 7;

/* White noise at about `dbov`, plus a 300 Hz "vowel" at `speech_dbov` (or none). */
static void frame(int16_t *x, double dbov, double speech_dbov, long t0)
{
    double a = 32767.0 * pow(10.0, dbov / 20.0) * sqrt(3.0);
    double s = speech_dbov > -200 ? 32767.0 * pow(10.0, speech_dbov / 20.0) * sqrt(2.0) : 0.0;
    for (int i = 0; i < N; i++) {
        double u = (double)(oh_test_rand(&state) >> 11) / 9007199254740992.0 * 2.0 - 1.0;
        double v = a * u + s * sin(2.0 * PI * 300.0 * (double)(t0 + i) / 8000.0);
        x[i] = (int16_t)(v > 32767 ? 32767 : v < -32768 ? -32768 : lrint(v));
    }
}

static int run(oh_vad *vad, int frames, double noise, double speech, long *t)
{
    int16_t x[N];
    int active = 0;
    for (int k = 0; k < frames; k++, *t += N) {
        frame(x, noise, speech, *t);
        active += oh_vad_process(vad, x);
    }
    return active;
}

static void test_speech_over_noise(void)
{
    oh_vad *vad = NULL;
    CHECK_STATUS(oh_vad_create(8000, N, &vad), OH_OK);
    long t = 0;
    CHECK(run(vad, 5, -50, -300, &t) == 5);       /* warm-up: everything is sent */
    CHECK(run(vad, 10, -50, -300, &t) == 10);     /* then the 200 ms hangover, then nothing */
    CHECK(run(vad, 50, -50, -300, &t) == 0);
    CHECK(fabs(oh_vad_noise_dbov(vad) + 50.0) < 3.0);
    CHECK(run(vad, 25, -50, -25, &t) == 25);      /* a talkspurt, every frame of it */
    CHECK(run(vad, 10, -50, -300, &t) == 10);     /* its end: hangover */
    CHECK(run(vad, 20, -50, -300, &t) == 0);
    CHECK(run(vad, 1, -50, -38, &t) == 1);        /* a soft onset 12 dB over the noise */
    oh_vad_reset(vad);
    CHECK(oh_vad_noise_dbov(vad) == -96.0);
    oh_vad_destroy(vad);
}

static void test_a_call_that_starts_talking_keeps_its_quiet_syllables(void)
{
    /* no pause yet to learn the room from: 300 ms of loud speech and 300 ms
     * of quiet speech (longer than the hangover) from the first frame; none
     * of it may be suppressed, though the quiet part is the lowest heard */
    oh_vad *vad = NULL;
    CHECK_STATUS(oh_vad_create(8000, N, &vad), OH_OK);
    long t = 0;
    int active = 0;
    for (int k = 0; k < 4; k++)
        active += run(vad, 15, -50, k % 2 ? -36 : -20, &t);
    CHECK(active == 60);
    /* the first pause is still found (the floor used is at most -50 dBov) */
    run(vad, 10, -55, -300, &t); /* the hangover */
    CHECK(run(vad, 20, -55, -300, &t) == 0);
    oh_vad_destroy(vad);
}

static void test_a_louder_background_is_followed(void)
{
    oh_vad *vad = NULL;
    CHECK_STATUS(oh_vad_create(8000, N, &vad), OH_OK);
    long t = 0;
    run(vad, 100, -60, -300, &t);
    /* the fan comes on: 15 dB louder; active at first, silence within 3 s */
    CHECK(run(vad, 5, -45, -300, &t) == 5);
    run(vad, 200, -45, -300, &t);
    CHECK(run(vad, 50, -45, -300, &t) == 0);
    /* digitally quiet frames are never speech, whatever the floor */
    oh_vad_reset(vad);
    run(vad, 100, -90, -300, &t);
    CHECK(run(vad, 20, -90, -75, &t) == 0);
    oh_vad_destroy(vad);
}

static void test_bad_arguments_and_enomem(void)
{
    oh_vad *vad = (oh_vad *)&state;
    CHECK_STATUS(oh_vad_create(8000, 100, &vad), OH_EINVAL);
    CHECK(vad == NULL);
    CHECK_STATUS(oh_vad_create(7000, 70, &vad), OH_EINVAL);
    CHECK_STATUS(oh_vad_create(8000, N, NULL), OH_EINVAL);
    CHECK_STATUS(oh_vad_create(16000, 320, &vad), OH_OK); /* 20 ms at 16 kHz */
    oh_vad_destroy(vad);
    CHECK_STATUS(oh_vad_create(8000, 80, &vad), OH_OK);   /* 10 ms */
    oh_vad_destroy(vad);
    oh_vad_destroy(NULL);
    CHECK_CREATE_SURVIVES_ENOMEM(oh_vad_create(48000, 960, &vad), vad, oh_vad_destroy);
}

int main(void)
{
    test_speech_over_noise();
    test_a_call_that_starts_talking_keeps_its_quiet_syllables();
    test_a_louder_background_is_followed();
    test_bad_arguments_and_enomem();
    TEST_EXIT();
}
