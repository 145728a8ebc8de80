/* WAV reader and writer: round trips, hand-made files of every supported
 * encoding, every malformation with its reason, the writer's flush and size
 * limit, allocation failure, and a mutation fuzz (run under ASan/UBSan). */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "offhook/oh_wav.h"
#include "oh_test.h"

static char dir[64];
static char path[128];

/* A file under construction, little-endian. */
typedef struct blob {
    uint8_t b[8192];
    size_t n;
} blob;

static void put(blob *f, const void *p, size_t n)
{
    memcpy(f->b + f->n, p, n);
    f->n += n;
}

static void u16(blob *f, unsigned v)
{
    uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    put(f, b, 2);
}

static void u32(blob *f, unsigned long v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put(f, b, 4);
}

static void riff(blob *f)
{
    f->n = 0;
    put(f, "RIFF", 4);
    u32(f, 0); /* patched by finish() */
    put(f, "WAVE", 4);
}

static void fmt_chunk(blob *f, unsigned tag, unsigned ch, unsigned long rate, unsigned align,
                      unsigned bits)
{
    put(f, "fmt ", 4);
    u32(f, 16);
    u16(f, tag);
    u16(f, ch);
    u32(f, rate);
    u32(f, rate * align);
    u16(f, align);
    u16(f, bits);
}

static void extensible_chunk(blob *f, unsigned sub, unsigned ch, unsigned long rate, unsigned bits,
                             unsigned valid)
{
    static const uint8_t tail[14] = {0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80,
                                     0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71};
    unsigned align = ch * bits / 8;
    put(f, "fmt ", 4);
    u32(f, 40);
    u16(f, OH_WAV_FORMAT_EXTENSIBLE);
    u16(f, ch);
    u32(f, rate);
    u32(f, rate * align);
    u16(f, align);
    u16(f, bits);
    u16(f, 22);
    u16(f, valid);
    u32(f, ch == 1 ? 4 : 3);
    u16(f, sub);
    put(f, tail, sizeof tail);
}

static void chunk(blob *f, const char *id, const void *body, unsigned long n)
{
    put(f, id, 4);
    u32(f, n);
    put(f, body, n);
    if (n & 1)
        put(f, "", 1);
}

static void finish(blob *f)
{
    unsigned long size = f->n - 8;
    uint8_t b[4] = {(uint8_t)size, (uint8_t)(size >> 8), (uint8_t)(size >> 16), (uint8_t)(size >> 24)};
    memcpy(f->b + 4, b, 4);
}

static void save(const blob *f)
{
    FILE *fp = fopen(path, "wb");
    if (!fp) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
    fwrite(f->b, 1, f->n, fp);
    fclose(fp);
}

/* Opens the saved file; expects status and, on error, a reason containing `why`. */
static oh_wav_reader *open_expect(const blob *f, int allow_truncated, int status, const char *why)
{
    oh_wav_reader_config cfg;
    oh_wav_error err;
    oh_wav_reader *r = NULL;
    oh_wav_reader_config_default(&cfg);
    cfg.allow_truncated = allow_truncated;
    save(f);
    CHECK_STATUS(oh_wav_reader_open(path, &cfg, &r, &err), status);
    CHECK(err.status == status);
    if (why && !strstr(err.reason, why)) {
        fprintf(stderr, "reason \"%s\" lacks \"%s\"\n", err.reason, why);
        oh_test_failures++;
    }
    if (status != OH_OK)
        CHECK(r == NULL);
    return r;
}

static void test_round_trip(int rate, int channels, size_t frames)
{
    oh_wav_writer_config wc;
    oh_wav_writer *w = NULL;
    oh_wav_writer_config_default(&wc);
    wc.sample_rate = rate;
    wc.channels = channels;
    wc.buffer_frames = 13; /* force several write() calls */
    static int16_t in[4000 * 2], back[4000 * 2];
    unsigned long long seed = 99;
    for (size_t i = 0; i < frames * (size_t)channels; i++)
        in[i] = (int16_t)(oh_test_rand(&seed) >> 48);
    in[0] = -32768;
    in[1] = 32767;
    CHECK_STATUS(oh_wav_writer_open(path, &wc, &w, NULL), OH_OK);
    CHECK_STATUS(oh_wav_writer_write(w, in, frames / 2), OH_OK);
    CHECK_STATUS(oh_wav_writer_write(w, in + frames / 2 * (size_t)channels, frames - frames / 2),
                 OH_OK);
    CHECK(oh_wav_writer_frames(w) == frames);
    CHECK_STATUS(oh_wav_writer_close(w, NULL), OH_OK);

    oh_wav_reader_config rc;
    oh_wav_reader_config_default(&rc);
    rc.buffer_frames = 7;
    oh_wav_reader *r = NULL;
    CHECK_STATUS(oh_wav_reader_open(path, &rc, &r, NULL), OH_OK);
    if (!r)
        return;
    const oh_wav_format *f = oh_wav_reader_format(r);
    CHECK(f->sample_rate == rate && f->channels == channels && f->bits == 16);
    CHECK(f->frames == frames && f->format_tag == OH_WAV_FORMAT_PCM && !f->truncated);
    size_t first = frames < 100 ? frames : 100;
    CHECK_STATUS(oh_wav_reader_read(r, back, 100), (int)first);
    CHECK_STATUS(oh_wav_reader_read(r, back + first * (size_t)channels, frames), (int)(frames - first));
    CHECK_STATUS(oh_wav_reader_read(r, back, 10), 0);
    CHECK(memcmp(in, back, frames * (size_t)channels * 2) == 0);
    /* looping playback: rewind and read again */
    CHECK_STATUS(oh_wav_reader_seek(r, 0), OH_OK);
    CHECK_STATUS(oh_wav_reader_read(r, back, 3), (int)(frames < 3 ? frames : 3));
    CHECK(memcmp(in, back, (frames < 3 ? frames : 3) * (size_t)channels * 2) == 0);
    CHECK_STATUS(oh_wav_reader_seek(r, frames - 1), OH_OK);
    CHECK(oh_wav_reader_tell(r) == frames - 1);
    CHECK_STATUS(oh_wav_reader_read(r, back, 5), 1);
    CHECK(memcmp(in + (frames - 1) * (size_t)channels, back, (size_t)channels * 2) == 0);
    CHECK_STATUS(oh_wav_reader_seek(r, frames + 1), OH_EINVAL);
    CHECK(strstr(oh_wav_reader_error(r)->reason, "past the end") != NULL);
    oh_wav_reader_close(r);
}

static void test_encodings(void)
{
    blob f;
    int16_t out[8];
    oh_wav_reader *r;

    /* 8-bit unsigned, odd data size: pad byte then a LIST chunk */
    riff(&f);
    fmt_chunk(&f, 1, 1, 8000, 1, 8);
    chunk(&f, "data", (const uint8_t[]){0, 128, 255}, 3);
    chunk(&f, "LIST", "INFOx", 5);
    finish(&f);
    r = open_expect(&f, 0, OH_OK, NULL);
    if (r) {
        CHECK_STATUS(oh_wav_reader_read(r, out, 8), 3);
        CHECK(out[0] == -32768 && out[1] == 0 && out[2] == 32512);
        oh_wav_reader_close(r);
    }

    /* 24-bit in EXTENSIBLE, data before fmt, an odd unknown chunk first */
    riff(&f);
    chunk(&f, "junk", "abc", 3);
    chunk(&f, "data",
          (const uint8_t[]){0x80, 0x34, 0x12, 0x7F, 0x34, 0x12, 0xFF, 0xFF, 0x7F, 0x00, 0x00, 0x80}, 12);
    extensible_chunk(&f, OH_WAV_FORMAT_PCM, 1, 48000, 24, 24);
    finish(&f);
    r = open_expect(&f, 0, OH_OK, NULL);
    if (r) {
        const oh_wav_format *fm = oh_wav_reader_format(r);
        CHECK(fm->format_tag == OH_WAV_FORMAT_EXTENSIBLE && fm->bits == 24 && !fm->is_float);
        CHECK_STATUS(oh_wav_reader_read(r, out, 8), 4);
        /* 0x123480 rounds up, 0x12347F down, the maximum clips, the minimum is exact */
        CHECK(out[0] == 0x1235 && out[1] == 0x1234 && out[2] == 32767 && out[3] == -32768);
        oh_wav_reader_close(r);
    }

    /* 32-bit integer */
    riff(&f);
    fmt_chunk(&f, 1, 2, 16000, 8, 32);
    chunk(&f, "data",
          (const uint8_t[]){0x00, 0x80, 0x00, 0x00, 0x00, 0x80, 0x00, 0x80}, 8);
    finish(&f);
    r = open_expect(&f, 0, OH_OK, NULL);
    if (r) {
        CHECK_STATUS(oh_wav_reader_read(r, out, 8), 1);
        CHECK(out[0] == 1 && out[1] == -32767);
        oh_wav_reader_close(r);
    }

    /* float 32: scaling, clipping and NaN */
    const float fl[6] = {0.5f, -1.0f, 2.0f, -3.0f, 0.1f, 0.0f};
    uint8_t fb[24];
    memcpy(fb, fl, sizeof fl);
    const uint32_t nan_bits = 0x7FC00000u;
    memcpy(fb + 20, &nan_bits, 4); /* test host is little-endian */
    riff(&f);
    fmt_chunk(&f, 3, 1, 8000, 4, 32);
    chunk(&f, "fact", "\x06\0\0\0", 4);
    chunk(&f, "data", fb, 24);
    finish(&f);
    r = open_expect(&f, 0, OH_OK, NULL);
    if (r) {
        CHECK(oh_wav_reader_format(r)->is_float);
        CHECK_STATUS(oh_wav_reader_read(r, out, 8), 6);
        /* 0.1 * 32768 = 3276.8 rounds to 3277 */
        CHECK(out[0] == 16384 && out[1] == -32768 && out[2] == 32767 && out[3] == -32768 &&
              out[4] == 3277 && out[5] == 0);
        oh_wav_reader_close(r);
    }

    /* float 64 in EXTENSIBLE */
    const double db[2] = {0.25, -0.25};
    riff(&f);
    extensible_chunk(&f, OH_WAV_FORMAT_IEEE_FLOAT, 2, 8000, 64, 64);
    chunk(&f, "data", db, 16);
    finish(&f);
    r = open_expect(&f, 0, OH_OK, NULL);
    if (r) {
        CHECK_STATUS(oh_wav_reader_read(r, out, 8), 1);
        CHECK(out[0] == 8192 && out[1] == -8192);
        oh_wav_reader_close(r);
    }
}

static void test_malformed(void)
{
    blob f;
    const uint8_t data[8] = {0};

    f.n = 0;
    open_expect(&f, 0, OH_EFORMAT, "empty file");
    f.n = 0;
    put(&f, "OggS\0\0\0\0\0\0\0\0", 12);
    open_expect(&f, 0, OH_EFORMAT, "not a RIFF file (starts with \"OggS\")");
    f.n = 0;
    put(&f, "RIFF\0\0", 6);
    open_expect(&f, 0, OH_EFORMAT, "file too short for a WAV header (6 bytes)");
    f.n = 0;
    put(&f, "RIFF\4\0\0\0AVI ", 12);
    open_expect(&f, 0, OH_EFORMAT, "RIFF file but not WAVE (form type \"AVI \")");
    f.n = 0;
    put(&f, "RF64\xff\xff\xff\xffWAVE", 12);
    open_expect(&f, 0, OH_EFORMAT, "RF64");

    riff(&f);
    chunk(&f, "data", data, 8);
    finish(&f);
    open_expect(&f, 0, OH_EFORMAT, "no fmt chunk");

    riff(&f);
    fmt_chunk(&f, 1, 1, 8000, 2, 16);
    finish(&f);
    open_expect(&f, 0, OH_EFORMAT, "no data chunk");

    riff(&f);
    chunk(&f, "fmt ", "\1\0\1\0\x40\x1f\0\0", 8);
    chunk(&f, "data", data, 8);
    finish(&f);
    open_expect(&f, 0, OH_EFORMAT, "fmt chunk too short (8 bytes, at least 16 needed)");

    riff(&f);
    fmt_chunk(&f, 0x55, 1, 8000, 1, 0);
    chunk(&f, "data", data, 8);
    finish(&f);
    open_expect(&f, 0, OH_EFORMAT, "unsupported format tag 0x0055 (MP3)");

    riff(&f);
    fmt_chunk(&f, 2, 1, 8000, 1, 4);
    chunk(&f, "data", data, 8);
    finish(&f);
    open_expect(&f, 0, OH_EFORMAT, "unsupported format tag 0x0002 (Microsoft ADPCM)");

    riff(&f);
    extensible_chunk(&f, 0x11, 1, 8000, 16, 16);
    chunk(&f, "data", data, 8);
    finish(&f);
    open_expect(&f, 0, OH_EFORMAT, "sub-format 0x0011 (IMA ADPCM)");

    riff(&f);
    fmt_chunk(&f, 1, 0, 8000, 0, 16);
    chunk(&f, "data", data, 8);
    finish(&f);
    open_expect(&f, 0, OH_EFORMAT, "0 channels");

    riff(&f);
    fmt_chunk(&f, 1, 1, 0, 2, 16);
    chunk(&f, "data", data, 8);
    finish(&f);
    open_expect(&f, 0, OH_EFORMAT, "sample rate 0 Hz out of range");

    riff(&f);
    fmt_chunk(&f, 1, 1, 4000000000UL, 2, 16);
    chunk(&f, "data", data, 8);
    finish(&f);
    open_expect(&f, 0, OH_EFORMAT, "sample rate 4000000000 Hz out of range");

    riff(&f);
    fmt_chunk(&f, 1, 2, 8000, 2, 16);
    chunk(&f, "data", data, 8);
    finish(&f);
    open_expect(&f, 0, OH_EFORMAT, "block align 2 does not match 2 channel(s) of 16 bits (expected 4)");

    riff(&f);
    fmt_chunk(&f, 1, 1, 8000, 2, 12);
    chunk(&f, "data", data, 8);
    finish(&f);
    open_expect(&f, 0, OH_EFORMAT, "unsupported PCM sample size 12 bits");

    riff(&f);
    fmt_chunk(&f, 1, 1, 8000, 2, 16);
    put(&f, "LIST", 4);
    u32(&f, 1000);
    put(&f, "INFO", 4);
    finish(&f);
    open_expect(&f, 0, OH_EFORMAT, "chunk \"LIST\" size exceeds file (1000 bytes declared, 4 remain)");

    /* truncated data: an error, or the whole frames present when allowed */
    riff(&f);
    fmt_chunk(&f, 1, 1, 8000, 2, 16);
    put(&f, "data", 4);
    u32(&f, 32000);
    put(&f, "\1\0\2\0\3\0\4", 7);
    finish(&f);
    open_expect(&f, 0, OH_EFORMAT, "data chunk truncated (header says 32000 bytes, file has 7)");
    oh_wav_reader *r = open_expect(&f, 1, OH_OK, NULL);
    if (r) {
        int16_t out[8];
        CHECK(oh_wav_reader_format(r)->truncated && oh_wav_reader_format(r)->frames == 3);
        CHECK(oh_wav_reader_format(r)->declared_data_bytes == 32000);
        CHECK_STATUS(oh_wav_reader_read(r, out, 8), 3);
        CHECK(out[0] == 1 && out[1] == 2 && out[2] == 3);
        oh_wav_reader_close(r);
    }

    /* a broken chunk after fmt and data does not matter */
    riff(&f);
    fmt_chunk(&f, 1, 1, 8000, 2, 16);
    chunk(&f, "data", data, 8);
    put(&f, "LIST", 4);
    u32(&f, 1000);
    finish(&f);
    r = open_expect(&f, 0, OH_OK, NULL);
    if (r) {
        CHECK(oh_wav_reader_format(r)->frames == 4);
        oh_wav_reader_close(r);
    }
}

static void test_system_errors(void)
{
    oh_wav_error err;
    oh_wav_reader *r = NULL;
    char missing[160];
    snprintf(missing, sizeof missing, "%s/none.wav", dir);
    CHECK_STATUS(oh_wav_reader_open(missing, NULL, &r, &err), OH_EIO);
    CHECK(err.sys_errno == ENOENT && r == NULL);
    CHECK_STATUS(oh_wav_reader_open(dir, NULL, &r, &err), OH_EIO);
    CHECK(err.sys_errno == EISDIR);
    oh_wav_writer *w = NULL;
    CHECK_STATUS(oh_wav_writer_open(dir, NULL, &w, &err), OH_EIO);
    CHECK(err.sys_errno == EISDIR && w == NULL);
    snprintf(missing, sizeof missing, "%s/no/such/dir.wav", dir);
    CHECK_STATUS(oh_wav_writer_open(missing, NULL, &w, &err), OH_EIO);
    CHECK(err.sys_errno == ENOENT);
    CHECK_STATUS(oh_wav_reader_open(NULL, NULL, &r, &err), OH_EINVAL);
}

static void test_writer(void)
{
    oh_wav_writer_config wc;
    oh_wav_writer *w = NULL;
    oh_wav_reader *r = NULL;
    oh_wav_error err;
    int16_t pcm[200] = {0}, back[200];
    for (int i = 0; i < 200; i++)
        pcm[i] = (int16_t)(i * 100 - 10000);

    oh_wav_writer_config_default(&wc);
    wc.sample_rate = 0;
    CHECK_STATUS(oh_wav_writer_open(path, &wc, &w, &err), OH_EINVAL);
    CHECK(strstr(err.reason, "sample rate 0 Hz") != NULL);
    oh_wav_writer_config_default(&wc);
    wc.channels = 0;
    CHECK_STATUS(oh_wav_writer_open(path, &wc, &w, &err), OH_EINVAL);
    CHECK(strstr(err.reason, "0 channels") != NULL);

    /* flush makes a readable file while the writer stays open */
    oh_wav_writer_config_default(&wc);
    wc.max_data_bytes = 301; /* rounds down to 150 mono frames */
    CHECK_STATUS(oh_wav_writer_open(path, &wc, &w, NULL), OH_OK);
    if (!w)
        return;
    CHECK_STATUS(oh_wav_reader_open(path, NULL, &r, NULL), OH_OK);
    CHECK(r && oh_wav_reader_format(r)->frames == 0);
    oh_wav_reader_close(r);
    CHECK_STATUS(oh_wav_writer_write(w, pcm, 100), OH_OK);
    CHECK_STATUS(oh_wav_writer_flush(w), OH_OK);
    CHECK_STATUS(oh_wav_writer_write(w, pcm + 100, 20), OH_OK); /* not flushed */
    CHECK_STATUS(oh_wav_reader_open(path, NULL, &r, NULL), OH_OK);
    if (r) {
        CHECK(oh_wav_reader_format(r)->frames == 100);
        CHECK_STATUS(oh_wav_reader_read(r, back, 200), 100);
        CHECK(memcmp(back, pcm, 200) == 0);
        oh_wav_reader_close(r);
    }
    /* the size limit refuses whole writes */
    CHECK_STATUS(oh_wav_writer_write(w, pcm, 31), OH_EUNSUPPORTED);
    CHECK(strstr(oh_wav_writer_error(w)->reason, "size limit") != NULL);
    CHECK_STATUS(oh_wav_writer_write(w, pcm + 120, 30), OH_OK);
    CHECK_STATUS(oh_wav_writer_write(w, pcm, 1), OH_EUNSUPPORTED);
    CHECK(oh_wav_writer_frames(w) == 150);
    CHECK_STATUS(oh_wav_writer_close(w, &err), OH_OK);
    CHECK(err.reason[0] == '\0');
    CHECK_STATUS(oh_wav_reader_open(path, NULL, &r, NULL), OH_OK);
    if (r) {
        CHECK_STATUS(oh_wav_reader_read(r, back, 200), 150);
        CHECK(memcmp(back, pcm, 300) == 0);
        oh_wav_reader_close(r);
    }
    CHECK_STATUS(oh_wav_writer_close(NULL, NULL), OH_OK);
}

static void close_writer(oh_wav_writer *w)
{
    oh_wav_writer_close(w, NULL);
}

static void test_enomem(void)
{
    oh_wav_writer *w = NULL;
    oh_wav_reader *r = NULL;
    CHECK_CREATE_SURVIVES_ENOMEM(oh_wav_writer_open(path, NULL, &w, NULL), w, close_writer);
    CHECK_CREATE_SURVIVES_ENOMEM(oh_wav_reader_open(path, NULL, &r, NULL), r, oh_wav_reader_close);
}

/* Random byte mutations of a valid file: open either fails with a reason or
 * succeeds and reads to the end without touching memory it should not. */
static void test_fuzz(void)
{
    unsigned long long state = oh_test_seed();
    blob base, f;
    uint8_t data[64];
    for (int i = 0; i < 64; i++)
        data[i] = (uint8_t)(i * 7);
    riff(&base);
    chunk(&base, "LIST", "INFOab", 6);
    extensible_chunk(&base, OH_WAV_FORMAT_PCM, 2, 8000, 24, 24);
    chunk(&base, "data", data, 60);
    finish(&base);
    int opened = 0;
    for (int iter = 0; iter < 3000; iter++) {
        f = base;
        int edits = 1 + (int)(oh_test_rand(&state) % 4);
        for (int e = 0; e < edits; e++) {
            unsigned long long x = oh_test_rand(&state);
            f.b[(x >> 8) % f.n] = (uint8_t)x;
        }
        if (oh_test_rand(&state) % 4 == 0)
            f.n = (size_t)(oh_test_rand(&state) % f.n);
        save(&f);
        oh_wav_reader_config cfg;
        oh_wav_reader_config_default(&cfg);
        cfg.allow_truncated = iter & 1;
        cfg.buffer_frames = 3;
        oh_wav_reader *r = NULL;
        oh_wav_error err;
        int st = oh_wav_reader_open(path, &cfg, &r, &err);
        if (st == OH_OK) {
            int16_t out[64];
            const oh_wav_format *fm = oh_wav_reader_format(r);
            uint64_t total = 0;
            int n;
            CHECK(fm->channels >= 1 && fm->block_align >= 1);
            while ((n = oh_wav_reader_read(r, out, 64 / (size_t)fm->channels)) > 0)
                total += (uint64_t)n;
            CHECK(n == 0 && total == fm->frames);
            oh_wav_reader_close(r);
            opened++;
        } else {
            CHECK(st == OH_EFORMAT && err.reason[0] != '\0' && r == NULL);
        }
    }
    CHECK(opened > 0);
}

int main(void)
{
    strcpy(dir, "/tmp/oh_test_wav_XXXXXX");
    if (!mkdtemp(dir)) {
        fprintf(stderr, "mkdtemp failed\n");
        return 1;
    }
    snprintf(path, sizeof path, "%s/t.wav", dir);
    test_round_trip(8000, 1, 1000);
    test_round_trip(16000, 2, 3999);
    test_round_trip(48000, 1, 1);
    test_encodings();
    test_malformed();
    test_system_errors();
    test_writer();
    test_enomem();
    test_fuzz();
    unlink(path);
    rmdir(dir);
    TEST_EXIT();
}
