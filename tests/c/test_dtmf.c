/* DTMF: generator -> detector round trip at every rate, duration limits,
 * the event queue filling up, bad arguments and ENOMEM. (Frequency, twist,
 * noise and talk-off tolerances are measured in tests/test_tones.py.) */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "offhook/oh_dtmf.h"
#include "oh_test.h"

#define MAX_SAMPLES (48000 * 4)
static int16_t pcm[MAX_SAMPLES];

static size_t render(int rate, const char *digits, int on_ms, int off_ms)
{
    oh_dtmf_gen_config cfg;
    oh_dtmf_gen_config_default(&cfg);
    cfg.sample_rate = rate;
    cfg.on_ms = on_ms;
    cfg.off_ms = off_ms;
    oh_dtmf_gen *g = NULL;
    CHECK_STATUS(oh_dtmf_gen_create(&cfg, &g), OH_OK);
    if (!g)
        return 0;
    size_t lead = (size_t)rate / 20; /* 50 ms of silence first */
    CHECK_STATUS(oh_dtmf_gen_send(g, digits), OH_OK);
    size_t n = lead + oh_dtmf_gen_pending(g);
    CHECK(n <= MAX_SAMPLES);
    memset(pcm, 0, lead * sizeof pcm[0]);
    CHECK_STATUS(oh_dtmf_gen_generate(g, pcm + lead, n - lead), (int)(n - lead));
    CHECK(oh_dtmf_gen_pending(g) == 0);
    oh_dtmf_gen_destroy(g);
    return n;
}

/* Detects pcm[0..n) in frames of `frame` samples; returns the digits found. */
static size_t detect(int rate, size_t n, size_t frame, char *digits, oh_dtmf_event *events, size_t max)
{
    oh_dtmf_det_config cfg;
    oh_dtmf_det_config_default(&cfg);
    cfg.sample_rate = rate;
    cfg.max_events = 2; /* small, so the full-queue path is exercised */
    oh_dtmf_det *d = NULL;
    CHECK_STATUS(oh_dtmf_det_create(&cfg, &d), OH_OK);
    if (!d)
        return 0;
    size_t found = 0, done = 0;
    oh_dtmf_event ev;
    while (done < n) {
        size_t len = frame < n - done ? frame : n - done;
        int r = oh_dtmf_det_process(d, pcm + done, len);
        CHECK(r >= 0);
        if (r < 0)
            break;
        done += (size_t)r;
        while (oh_dtmf_det_get_event(d, &ev))
            if (found < max) {
                events[found] = ev;
                digits[found++] = ev.digit;
            }
    }
    CHECK_STATUS(oh_dtmf_det_flush(d), OH_OK);
    while (oh_dtmf_det_get_event(d, &ev))
        if (found < max) {
            events[found] = ev;
            digits[found++] = ev.digit;
        }
    digits[found] = '\0';
    oh_dtmf_det_destroy(d);
    return found;
}

static void test_round_trip(int rate)
{
    const char *keys = "123A456B789C*0#D";
    size_t n = render(rate, keys, 60, 60);
    char got[40];
    oh_dtmf_event ev[39];
    size_t found = detect(rate, n, (size_t)rate / 50, got, ev, 39);
    CHECK(found == 16);
    CHECK(strcmp(got, keys) == 0);
    if (strcmp(got, keys) != 0)
        fprintf(stderr, "rate %d: detected \"%s\"\n", rate, got);
    /* each digit starts at lead + i * 120 ms and lasts 60 ms */
    for (size_t i = 0; i < found && i < 16; i++) {
        long true_start = rate / 20 + (long)i * rate * 120 / 1000;
        long err = (long)ev[i].start - true_start;
        CHECK(labs(err) <= (long)rate / 200); /* within 5 ms */
        long dur = (long)ev[i].duration - (long)rate * 60 / 1000;
        CHECK(labs(dur) <= (long)rate / 100); /* within 10 ms */
    }
}

static void test_lowercase_and_frame_of_one(void)
{
    size_t n = render(8000, "ad", 50, 50);
    char got[8];
    oh_dtmf_event ev[7];
    CHECK(detect(8000, n, 1, got, ev, 7) == 2);
    CHECK(strcmp(got, "AD") == 0);
}

static void test_duration_limits(void)
{
    char got[8];
    oh_dtmf_event ev[7];
    size_t n = render(8000, "5", 40, 60);
    CHECK(detect(8000, n, 160, got, ev, 7) == 1);
    n = render(8000, "5", 20, 60);
    CHECK(detect(8000, n, 160, got, ev, 7) == 0);
    /* 40 ms pauses separate repeated digits */
    n = render(8000, "555", 45, 40);
    CHECK(detect(8000, n, 160, got, ev, 7) == 3);
}

static void test_silence_and_queue_limits(void)
{
    memset(pcm, 0, 8000 * sizeof pcm[0]);
    char got[4];
    oh_dtmf_event ev[3];
    CHECK(detect(8000, 8000, 80, got, ev, 3) == 0);

    oh_dtmf_gen_config cfg;
    oh_dtmf_gen_config_default(&cfg);
    cfg.max_queued = 3;
    oh_dtmf_gen *g = NULL;
    CHECK_STATUS(oh_dtmf_gen_create(&cfg, &g), OH_OK);
    CHECK_STATUS(oh_dtmf_gen_send(g, "12x"), OH_EINVAL);
    CHECK(oh_dtmf_gen_pending(g) == 0);
    CHECK_STATUS(oh_dtmf_gen_send(g, "1234"), OH_EBUFSIZE);
    CHECK_STATUS(oh_dtmf_gen_send(g, "12"), OH_OK);
    CHECK(oh_dtmf_gen_pending(g) == 2 * 1280);
    CHECK_STATUS(oh_dtmf_gen_send(g, "34"), OH_EBUFSIZE);
    CHECK_STATUS(oh_dtmf_gen_send(g, ""), OH_OK);
    CHECK_STATUS(oh_dtmf_gen_generate(g, NULL, 5), OH_EINVAL);
    oh_dtmf_gen_reset(g);
    CHECK(oh_dtmf_gen_pending(g) == 0);
    int16_t out[100];
    CHECK_STATUS(oh_dtmf_gen_generate(g, out, 100), 100);
    for (int i = 0; i < 100; i++)
        CHECK(out[i] == 0);
    oh_dtmf_gen_destroy(g);
    CHECK(oh_dtmf_is_digit('#') && oh_dtmf_is_digit('b') && !oh_dtmf_is_digit('E') && !oh_dtmf_is_digit('\0'));
}

static void test_bad_config(void)
{
    oh_dtmf_gen_config gcfg;
    oh_dtmf_gen *g = (oh_dtmf_gen *)&gcfg;
    oh_dtmf_gen_config_default(&gcfg);
    gcfg.sample_rate = 44100;
    CHECK_STATUS(oh_dtmf_gen_create(&gcfg, &g), OH_EINVAL);
    CHECK(g == NULL);
    oh_dtmf_gen_config_default(&gcfg);
    gcfg.on_ms = 0;
    CHECK_STATUS(oh_dtmf_gen_create(&gcfg, &g), OH_EINVAL);
    oh_dtmf_gen_config_default(&gcfg);
    gcfg.twist_db = 11.0;
    CHECK_STATUS(oh_dtmf_gen_create(&gcfg, &g), OH_EINVAL);

    oh_dtmf_det_config dcfg;
    oh_dtmf_det *d = (oh_dtmf_det *)&dcfg;
    oh_dtmf_det_config_default(&dcfg);
    dcfg.sample_rate = 22050;
    CHECK_STATUS(oh_dtmf_det_create(&dcfg, &d), OH_EINVAL);
    CHECK(d == NULL);
    oh_dtmf_det_config_default(&dcfg);
    dcfg.max_events = 0;
    CHECK_STATUS(oh_dtmf_det_create(&dcfg, &d), OH_EINVAL);
    CHECK_STATUS(oh_dtmf_det_create(NULL, &d), OH_EINVAL);
    oh_dtmf_det_config_default(&dcfg);
    CHECK_STATUS(oh_dtmf_det_create(&dcfg, &d), OH_OK);
    CHECK_STATUS(oh_dtmf_det_process(d, NULL, 10), OH_EINVAL);
    CHECK_STATUS(oh_dtmf_det_process(d, NULL, 0), 0);
    oh_dtmf_event ev;
    CHECK(oh_dtmf_det_get_event(d, &ev) == 0);
    oh_dtmf_det_destroy(d);
    oh_dtmf_det_destroy(NULL);
    oh_dtmf_gen_destroy(NULL);
}

static void test_enomem(void)
{
    oh_dtmf_gen_config gcfg;
    oh_dtmf_gen_config_default(&gcfg);
    oh_dtmf_gen *g = NULL;
    CHECK_CREATE_SURVIVES_ENOMEM(oh_dtmf_gen_create(&gcfg, &g), g, oh_dtmf_gen_destroy);
    oh_dtmf_det_config dcfg;
    oh_dtmf_det_config_default(&dcfg);
    oh_dtmf_det *d = NULL;
    CHECK_CREATE_SURVIVES_ENOMEM(oh_dtmf_det_create(&dcfg, &d), d, oh_dtmf_det_destroy);
}

int main(void)
{
    test_round_trip(8000);
    test_round_trip(16000);
    test_round_trip(32000);
    test_round_trip(48000);
    test_lowercase_and_frame_of_one();
    test_duration_limits();
    test_silence_and_queue_limits();
    test_bad_config();
    test_enomem();
    TEST_EXIT();
}
