/* WAV file reading and writing.
 *
 * The format: a RIFF container ("RIFF", size, "WAVE") holding chunks, each an
 * 8-byte header (four-character id, little-endian 32-bit size) and a body
 * padded to an even length. A WAV needs a "fmt " chunk (format tag, channels,
 * rate, byte rate, block align, bits per sample, and for
 * WAVE_FORMAT_EXTENSIBLE a cbSize, valid bits, channel mask and sub-format
 * GUID) and a "data" chunk. Sources: the Microsoft RIFF specification (1991),
 * the WAVEFORMATEXTENSIBLE documentation (mmreg.h / ksmedia.h), and the notes
 * on real-world files in the EBU's and libsndfile's documentation.
 *
 * Choices:
 * - The parser walks chunks from offset 12 with pread(), trusting the real
 *   file size (fstat) rather than the RIFF size field, which crashed or
 *   streaming writers leave at 0 or 0xFFFFFFFF. It stops as soon as it has
 *   both fmt and data, so a broken chunk after them does not matter.
 * - A data chunk longer than the file is "truncated": an error unless the
 *   caller allows it, then the whole frames present are readable. A data size
 *   that is not a whole number of frames is read as the whole frames in it.
 * - The byte rate and EXTENSIBLE's channel mask are not checked: they are
 *   informative and often wrong, and nothing here depends on them. The block
 *   align is checked, because reading depends on it.
 * - Conversion to int16 rounds half up and clips (as SoX does), so a 24-bit
 *   file made from 16-bit audio reads back bit-exact, and floats are scaled
 *   by 32768 so that v/32768 reads back as v.
 * - The reader keeps no file position: pread() at data_offset + frame *
 *   block_align, so seek is arithmetic and cannot fail on I/O.
 * - The writer writes the canonical 44-byte header at open and pwrite()s the
 *   two size fields on flush and close; frames go through a fixed buffer that
 *   puts them in little-endian order whatever the host.
 *
 * - G.711 A-law and µ-law files (tags 6 and 7, common in telephony) are
 *   decoded with the core's G.711, so they read as the codec would play them.
 *
 * Limits: no RF64/BW64 (files over 4 GiB), no RIFX (big-endian), no other
 * compressed codecs (ADPCM, MP3...): they are refused with a reason. */
#define _POSIX_C_SOURCE 200809L

#include "offhook/oh_wav.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "offhook/oh_g711.h"
#include "oh_alloc.h"

enum sample_kind { KIND_U8, KIND_S16, KIND_S24, KIND_S32, KIND_F32, KIND_F64, KIND_ALAW, KIND_ULAW };

struct oh_wav_reader {
    int fd;
    oh_wav_format fmt;
    enum sample_kind kind;
    uint64_t data_offset;
    uint64_t position; /* frames */
    uint8_t *buf;
    size_t buf_frames;
    oh_wav_error err;
};

struct oh_wav_writer {
    int fd;
    int channels;
    int failed;
    uint64_t data_bytes;     /* bytes of sample data written (possibly a partial frame after failure) */
    uint64_t max_data_bytes; /* whole frames only */
    uint8_t *buf;
    size_t buf_frames;
    oh_wav_error err;
};

#define WAV_HEADER_BYTES 44

/* The GUID tail KSDATAFORMAT_SUBTYPE_PCM/_IEEE_FLOAT share after their first
 * two bytes (the format tag): xxxxxxxx-0000-0010-8000-00aa00389b71. */
static const uint8_t ks_guid_tail[14] = {0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80,
                                         0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71};

static const struct {
    uint16_t tag;
    const char *name;
} known_tags[] = {
    {0x0002, "Microsoft ADPCM"}, {0x0006, "A-law"},      {0x0007, "mu-law"},
    {0x0011, "IMA ADPCM"},       {0x0031, "GSM 6.10"},   {0x0050, "MPEG"},
    {0x0055, "MP3"},             {0x00FF, "AAC"},        {0x0161, "WMA"},
    {0xF1AC, "FLAC"},
};

static const char *tag_name(unsigned tag)
{
    for (size_t i = 0; i < sizeof known_tags / sizeof known_tags[0]; i++)
        if (known_tags[i].tag == tag)
            return known_tags[i].name;
    return "unknown codec";
}

static oh_status fail(oh_wav_error *err, oh_status status, int sys_errno, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        err->status = status;
        err->sys_errno = sys_errno;
        va_start(ap, fmt);
        vsnprintf(err->reason, sizeof err->reason, fmt, ap);
        va_end(ap);
    }
    return status;
}

static void clear_error(oh_wav_error *err)
{
    if (err) {
        err->status = OH_OK;
        err->sys_errno = 0;
        err->reason[0] = '\0';
    }
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void put_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

/* A chunk id made safe to print: printable ASCII kept, anything else '?'. */
static void fourcc_text(const uint8_t *id, char out[5])
{
    for (int i = 0; i < 4; i++)
        out[i] = (id[i] >= 0x20 && id[i] < 0x7F) ? (char)id[i] : '?';
    out[4] = '\0';
}

/* Reads exactly n bytes at off. Returns n, the (shorter) count at end of
 * file, or -1 with errno set. */
static ssize_t pread_full(int fd, void *buf, size_t n, uint64_t off)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = pread(fd, (uint8_t *)buf + done, n - done, (off_t)(off + done));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (r == 0)
            break;
        done += (size_t)r;
    }
    return (ssize_t)done;
}

static int pwrite_full(int fd, const void *buf, size_t n, uint64_t off)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = pwrite(fd, (const uint8_t *)buf + done, n - done, (off_t)(off + done));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        done += (size_t)r;
    }
    return 0;
}

/* ---- reader ---- */

void oh_wav_reader_config_default(oh_wav_reader_config *cfg)
{
    cfg->allow_truncated = 0;
    cfg->buffer_frames = 1024;
}

/* Interprets a fmt chunk body (len bytes, at least 16) into fmt and kind. */
static oh_status parse_fmt(const uint8_t *b, uint32_t len, oh_wav_format *fmt,
                           enum sample_kind *kind, oh_wav_error *err)
{
    unsigned tag = le16(b);
    unsigned channels = le16(b + 2);
    uint32_t rate = le32(b + 4);
    unsigned block_align = le16(b + 12);
    unsigned bits = le16(b + 14);
    unsigned codec = tag;
    unsigned valid_bits = bits;

    if (tag == OH_WAV_FORMAT_EXTENSIBLE) {
        if (len < 40)
            return fail(err, OH_EFORMAT, 0,
                        "WAVE_FORMAT_EXTENSIBLE fmt chunk too short (%u bytes, 40 needed)",
                        (unsigned)len);
        if (le16(b + 16) < 22)
            return fail(err, OH_EFORMAT, 0,
                        "WAVE_FORMAT_EXTENSIBLE extension too short (cbSize %u, 22 needed)",
                        (unsigned)le16(b + 16));
        valid_bits = le16(b + 18);
        codec = le16(b + 24);
        if (memcmp(b + 26, ks_guid_tail, sizeof ks_guid_tail) != 0)
            return fail(err, OH_EFORMAT, 0,
                        "unsupported WAVE_FORMAT_EXTENSIBLE sub-format (not a standard GUID)");
        if (codec != OH_WAV_FORMAT_PCM && codec != OH_WAV_FORMAT_IEEE_FLOAT)
            return fail(err, OH_EFORMAT, 0,
                        "unsupported WAVE_FORMAT_EXTENSIBLE sub-format 0x%04X (%s)", codec,
                        tag_name(codec));
        if (valid_bits == 0 || valid_bits > bits)
            valid_bits = bits; /* informative only; 0 is common */
    } else if (tag != OH_WAV_FORMAT_PCM && tag != OH_WAV_FORMAT_IEEE_FLOAT &&
               tag != OH_WAV_FORMAT_ALAW && tag != OH_WAV_FORMAT_MULAW) {
        return fail(err, OH_EFORMAT, 0, "unsupported format tag 0x%04X (%s)", tag, tag_name(tag));
    }

    if (channels == 0)
        return fail(err, OH_EFORMAT, 0, "0 channels");
    if (channels > OH_WAV_MAX_CHANNELS)
        return fail(err, OH_EFORMAT, 0, "%u channels (at most %d supported)", channels,
                    OH_WAV_MAX_CHANNELS);
    if (rate == 0 || rate > OH_WAV_MAX_RATE)
        return fail(err, OH_EFORMAT, 0, "sample rate %lu Hz out of range (1 to %d Hz)",
                    (unsigned long)rate, OH_WAV_MAX_RATE);

    if (codec == OH_WAV_FORMAT_PCM) {
        switch (bits) {
        case 8: *kind = KIND_U8; break;
        case 16: *kind = KIND_S16; break;
        case 24: *kind = KIND_S24; break;
        case 32: *kind = KIND_S32; break;
        default:
            return fail(err, OH_EFORMAT, 0,
                        "unsupported PCM sample size %u bits (8, 16, 24 or 32 supported)", bits);
        }
    } else if (codec == OH_WAV_FORMAT_ALAW || codec == OH_WAV_FORMAT_MULAW) {
        if (bits != 8)
            return fail(err, OH_EFORMAT, 0, "G.711 %s with %u bits per sample (8 expected)",
                        tag_name(codec), bits);
        *kind = codec == OH_WAV_FORMAT_ALAW ? KIND_ALAW : KIND_ULAW;
    } else {
        switch (bits) {
        case 32: *kind = KIND_F32; break;
        case 64: *kind = KIND_F64; break;
        default:
            return fail(err, OH_EFORMAT, 0,
                        "unsupported float sample size %u bits (32 or 64 supported)", bits);
        }
    }
    unsigned expected = channels * (bits / 8);
    if (block_align != expected)
        return fail(err, OH_EFORMAT, 0,
                    "block align %u does not match %u channel(s) of %u bits (expected %u)",
                    block_align, channels, bits, expected);

    fmt->sample_rate = (int)rate;
    fmt->channels = (int)channels;
    fmt->bits = (int)bits;
    fmt->valid_bits = (int)valid_bits;
    fmt->is_float = codec == OH_WAV_FORMAT_IEEE_FLOAT;
    fmt->format_tag = (int)tag;
    fmt->block_align = (int)block_align;
    return OH_OK;
}

/* Walks the file's chunks and fills the reader's format and data location. */
static oh_status parse(oh_wav_reader *r, uint64_t file_size, int allow_truncated,
                       oh_wav_error *err)
{
    uint8_t head[12];
    char id[5];

    if (file_size == 0)
        return fail(err, OH_EFORMAT, 0, "empty file");
    ssize_t got = pread_full(r->fd, head, file_size < 12 ? (size_t)file_size : 12, 0);
    if (got < 0)
        return fail(err, OH_EIO, errno, "read failed (errno %d)", errno);
    if ((uint64_t)got != (file_size < 12 ? file_size : 12))
        return fail(err, OH_EFORMAT, 0, "file shrank while being read");
    if (file_size >= 4 && memcmp(head, "RIFF", 4) != 0) {
        if (memcmp(head, "RF64", 4) == 0 || memcmp(head, "BW64", 4) == 0)
            return fail(err, OH_EFORMAT, 0, "RF64 (64-bit WAV) files are not supported");
        if (memcmp(head, "RIFX", 4) == 0)
            return fail(err, OH_EFORMAT, 0, "big-endian RIFX files are not supported");
        fourcc_text(head, id);
        return fail(err, OH_EFORMAT, 0, "not a RIFF file (starts with \"%s\")", id);
    }
    if (file_size < 12)
        return fail(err, OH_EFORMAT, 0, "file too short for a WAV header (%lu bytes)",
                    (unsigned long)file_size);
    if (memcmp(head + 8, "WAVE", 4) != 0) {
        fourcc_text(head + 8, id);
        return fail(err, OH_EFORMAT, 0, "RIFF file but not WAVE (form type \"%s\")", id);
    }

    int have_fmt = 0, have_data = 0;
    uint64_t data_avail = 0;
    uint64_t off = 12;
    while (!(have_fmt && have_data) && off + 8 <= file_size) {
        uint8_t ch[8];
        got = pread_full(r->fd, ch, 8, off);
        if (got < 0)
            return fail(err, OH_EIO, errno, "read failed (errno %d)", errno);
        if (got != 8)
            return fail(err, OH_EFORMAT, 0, "file shrank while being read");
        uint64_t size = le32(ch + 4);
        uint64_t body = off + 8;
        uint64_t remain = file_size - body;

        if (memcmp(ch, "data", 4) == 0) {
            if (!have_data) {
                have_data = 1;
                r->data_offset = body;
                r->fmt.declared_data_bytes = size;
                data_avail = size;
                if (size > remain) {
                    if (!allow_truncated)
                        return fail(err, OH_EFORMAT, 0,
                                    "data chunk truncated (header says %lu bytes, file has %lu)",
                                    (unsigned long)size, (unsigned long)remain);
                    r->fmt.truncated = 1;
                    data_avail = remain;
                    break; /* the data runs to the end: nothing can follow */
                }
            }
        } else if (memcmp(ch, "fmt ", 4) == 0) {
            if (!have_fmt) {
                uint8_t b[40];
                if (size < 16)
                    return fail(err, OH_EFORMAT, 0,
                                "fmt chunk too short (%lu bytes, at least 16 needed)",
                                (unsigned long)size);
                if (size > remain)
                    return fail(err, OH_EFORMAT, 0,
                                "fmt chunk size exceeds file (%lu bytes declared, %lu remain)",
                                (unsigned long)size, (unsigned long)remain);
                size_t want = size < sizeof b ? (size_t)size : sizeof b;
                got = pread_full(r->fd, b, want, body);
                if (got < 0)
                    return fail(err, OH_EIO, errno, "read failed (errno %d)", errno);
                if ((size_t)got != want)
                    return fail(err, OH_EFORMAT, 0, "file shrank while being read");
                oh_status st = parse_fmt(b, (uint32_t)size, &r->fmt, &r->kind, err);
                if (st != OH_OK)
                    return st;
                have_fmt = 1;
            }
        } else if (size > remain) {
            fourcc_text(ch, id);
            return fail(err, OH_EFORMAT, 0,
                        "chunk \"%s\" size exceeds file (%lu bytes declared, %lu remain)", id,
                        (unsigned long)size, (unsigned long)remain);
        }
        off = body + size + (size & 1);
    }
    if (!have_fmt)
        return fail(err, OH_EFORMAT, 0, "no fmt chunk");
    if (!have_data)
        return fail(err, OH_EFORMAT, 0, "no data chunk");
    r->fmt.frames = data_avail / (uint64_t)r->fmt.block_align;
    return OH_OK;
}

oh_status oh_wav_reader_open(const char *path, const oh_wav_reader_config *cfg,
                             oh_wav_reader **out, oh_wav_error *err)
{
    oh_wav_reader_config defaults;
    struct stat sb;

    clear_error(err);
    if (!out)
        return fail(err, OH_EINVAL, 0, "no output pointer");
    *out = NULL;
    if (!cfg) {
        oh_wav_reader_config_default(&defaults);
        cfg = &defaults;
    }
    if (!path || cfg->buffer_frames == 0 || cfg->buffer_frames > (1u << 20))
        return fail(err, OH_EINVAL, 0,
                    path ? "buffer_frames must be 1 to 1048576" : "no path given");

    oh_wav_reader *r = oh_alloc(sizeof *r);
    if (!r)
        return fail(err, OH_ENOMEM, 0, "out of memory");
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0) {
        int e = errno;
        oh_free(r);
        return fail(err, OH_EIO, e, "cannot open (errno %d)", e);
    }
    oh_status st;
    if (fstat(r->fd, &sb) != 0) {
        st = fail(err, OH_EIO, errno, "cannot stat (errno %d)", errno);
        goto failed;
    }
    if (S_ISDIR(sb.st_mode)) {
        st = fail(err, OH_EIO, EISDIR, "is a directory");
        goto failed;
    }
    if (!S_ISREG(sb.st_mode)) {
        st = fail(err, OH_EFORMAT, 0, "not a regular file");
        goto failed;
    }
    st = parse(r, (uint64_t)sb.st_size, cfg->allow_truncated, err);
    if (st != OH_OK)
        goto failed;
    r->buf_frames = cfg->buffer_frames;
    r->buf = oh_alloc(r->buf_frames * (size_t)r->fmt.block_align);
    if (!r->buf) {
        st = fail(err, OH_ENOMEM, 0, "out of memory");
        goto failed;
    }
    clear_error(&r->err);
    *out = r;
    return OH_OK;

failed:
    close(r->fd);
    oh_free(r);
    return st;
}

void oh_wav_reader_close(oh_wav_reader *reader)
{
    if (!reader)
        return;
    close(reader->fd);
    oh_free(reader->buf);
    oh_free(reader);
}

const oh_wav_format *oh_wav_reader_format(const oh_wav_reader *reader)
{
    return &reader->fmt;
}

const oh_wav_error *oh_wav_reader_error(const oh_wav_reader *reader)
{
    return &reader->err;
}

uint64_t oh_wav_reader_tell(const oh_wav_reader *reader)
{
    return reader->position;
}

oh_status oh_wav_reader_seek(oh_wav_reader *reader, uint64_t frame)
{
    if (!reader)
        return OH_EINVAL;
    if (frame > reader->fmt.frames)
        return fail(&reader->err, OH_EINVAL, 0, "seek to frame %llu past the end (%llu frames)",
                    (unsigned long long)frame, (unsigned long long)reader->fmt.frames);
    reader->position = frame;
    return OH_OK;
}

static int16_t clip16_from_scaled(double v)
{
    if (v != v)
        return 0; /* NaN */
    if (v >= 32767.0)
        return 32767;
    if (v <= -32768.0)
        return -32768;
    return (int16_t)floor(v + 0.5);
}

/* Rounds a signed integer with `shift` surplus low bits to 16 bits, half up, clipped. */
static int16_t round_shift(int64_t v, int shift)
{
    int64_t r = (v + ((int64_t)1 << (shift - 1))) >> shift;
    return r > 32767 ? 32767 : (int16_t)r;
}

static void convert(enum sample_kind kind, const uint8_t *src, size_t n, int16_t *dst)
{
    size_t i;
    switch (kind) {
    case KIND_U8:
        for (i = 0; i < n; i++)
            dst[i] = (int16_t)((src[i] - 128) * 256);
        break;
    case KIND_S16:
        for (i = 0; i < n; i++, src += 2)
            dst[i] = (int16_t)le16(src);
        break;
    case KIND_S24:
        for (i = 0; i < n; i++, src += 3) {
            int32_t v = (int32_t)((uint32_t)src[0] | (uint32_t)src[1] << 8 | (uint32_t)src[2] << 16);
            v = (v ^ 0x800000) - 0x800000; /* sign-extend 24 bits */
            dst[i] = round_shift(v, 8);
        }
        break;
    case KIND_S32:
        for (i = 0; i < n; i++, src += 4)
            dst[i] = round_shift((int32_t)le32(src), 16);
        break;
    case KIND_F32:
        for (i = 0; i < n; i++, src += 4) {
            uint32_t u = le32(src);
            float f;
            memcpy(&f, &u, sizeof f);
            dst[i] = clip16_from_scaled((double)f * 32768.0);
        }
        break;
    case KIND_F64:
        for (i = 0; i < n; i++, src += 8) {
            uint64_t u = (uint64_t)le32(src) | (uint64_t)le32(src + 4) << 32;
            double d;
            memcpy(&d, &u, sizeof d);
            dst[i] = clip16_from_scaled(d * 32768.0);
        }
        break;
    case KIND_ALAW:
        oh_g711_alaw_decode(src, n, dst);
        break;
    case KIND_ULAW:
        oh_g711_ulaw_decode(src, n, dst);
        break;
    }
}

int oh_wav_reader_read(oh_wav_reader *reader, int16_t *out, size_t max_frames)
{
    if (!reader || (!out && max_frames))
        return OH_EINVAL;
    const oh_wav_format *f = &reader->fmt;
    uint64_t left = f->frames - reader->position;
    size_t n = max_frames;
    if (n > (size_t)INT32_MAX / (size_t)f->channels)
        n = (size_t)INT32_MAX / (size_t)f->channels;
    if ((uint64_t)n > left)
        n = (size_t)left;
    size_t done = 0;
    while (done < n) {
        size_t chunk = n - done < reader->buf_frames ? n - done : reader->buf_frames;
        size_t bytes = chunk * (size_t)f->block_align;
        uint64_t off = reader->data_offset + reader->position * (uint64_t)f->block_align;
        ssize_t got = pread_full(reader->fd, reader->buf, bytes, off);
        if (got < 0)
            return fail(&reader->err, OH_EIO, errno, "read failed (errno %d)", errno);
        if ((size_t)got != bytes)
            return fail(&reader->err, OH_EFORMAT, 0,
                        "file ended early (at frame %llu of %llu): was it truncated while open?",
                        (unsigned long long)(reader->position + (uint64_t)got / (uint64_t)f->block_align),
                        (unsigned long long)f->frames);
        convert(reader->kind, reader->buf, chunk * (size_t)f->channels,
                out + done * (size_t)f->channels);
        reader->position += chunk;
        done += chunk;
    }
    return (int)done;
}

/* ---- writer ---- */

void oh_wav_writer_config_default(oh_wav_writer_config *cfg)
{
    cfg->sample_rate = 8000;
    cfg->channels = 1;
    cfg->max_data_bytes = 0;
    cfg->buffer_frames = 1024;
}

static void make_header(uint8_t h[WAV_HEADER_BYTES], int rate, int channels, uint32_t data_bytes)
{
    memcpy(h, "RIFF", 4);
    put_le32(h + 4, 36u + data_bytes);
    memcpy(h + 8, "WAVEfmt ", 8);
    put_le32(h + 16, 16);
    put_le16(h + 20, OH_WAV_FORMAT_PCM);
    put_le16(h + 22, (uint16_t)channels);
    put_le32(h + 24, (uint32_t)rate);
    put_le32(h + 28, (uint32_t)rate * 2u * (uint32_t)channels);
    put_le16(h + 32, (uint16_t)(2 * channels));
    put_le16(h + 34, 16);
    memcpy(h + 36, "data", 4);
    put_le32(h + 40, data_bytes);
}

oh_status oh_wav_writer_open(const char *path, const oh_wav_writer_config *cfg,
                             oh_wav_writer **out, oh_wav_error *err)
{
    oh_wav_writer_config defaults;
    clear_error(err);
    if (!out)
        return fail(err, OH_EINVAL, 0, "no output pointer");
    *out = NULL;
    if (!cfg) {
        oh_wav_writer_config_default(&defaults);
        cfg = &defaults;
    }
    if (!path)
        return fail(err, OH_EINVAL, 0, "no path given");
    if (cfg->sample_rate < 1 || cfg->sample_rate > OH_WAV_MAX_RATE)
        return fail(err, OH_EINVAL, 0, "sample rate %d Hz out of range (1 to %d Hz)",
                    cfg->sample_rate, OH_WAV_MAX_RATE);
    if (cfg->channels < 1 || cfg->channels > OH_WAV_MAX_CHANNELS)
        return fail(err, OH_EINVAL, 0, "%d channels out of range (1 to %d)", cfg->channels,
                    OH_WAV_MAX_CHANNELS);
    if (cfg->buffer_frames == 0 || cfg->buffer_frames > (1u << 20))
        return fail(err, OH_EINVAL, 0, "buffer_frames must be 1 to 1048576");

    oh_wav_writer *w = oh_alloc(sizeof *w);
    if (!w)
        return fail(err, OH_ENOMEM, 0, "out of memory");
    w->channels = cfg->channels;
    w->buf_frames = cfg->buffer_frames;
    uint64_t block = 2u * (uint64_t)cfg->channels;
    uint64_t limit = cfg->max_data_bytes && cfg->max_data_bytes < OH_WAV_MAX_DATA_BYTES
                         ? cfg->max_data_bytes
                         : OH_WAV_MAX_DATA_BYTES;
    w->max_data_bytes = limit / block * block;
    w->buf = oh_alloc(w->buf_frames * (size_t)block);
    if (!w->buf) {
        oh_free(w);
        return fail(err, OH_ENOMEM, 0, "out of memory");
    }
    w->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (w->fd < 0) {
        int e = errno;
        oh_free(w->buf);
        oh_free(w);
        return fail(err, OH_EIO, e, "cannot create (errno %d)", e);
    }
    uint8_t h[WAV_HEADER_BYTES];
    make_header(h, cfg->sample_rate, cfg->channels, 0);
    if (pwrite_full(w->fd, h, sizeof h, 0) != 0) {
        int e = errno;
        close(w->fd);
        oh_free(w->buf);
        oh_free(w);
        return fail(err, OH_EIO, e, "cannot write the header (errno %d)", e);
    }
    clear_error(&w->err);
    *out = w;
    return OH_OK;
}

oh_status oh_wav_writer_write(oh_wav_writer *writer, const int16_t *samples, size_t frames)
{
    if (!writer || (!samples && frames))
        return OH_EINVAL;
    if (writer->failed)
        return fail(&writer->err, OH_ESTATE, 0, "an earlier write failed; only close remains");
    uint64_t block = 2u * (uint64_t)writer->channels;
    if ((uint64_t)frames > (writer->max_data_bytes - writer->data_bytes) / block)
        return fail(&writer->err, OH_EUNSUPPORTED, 0,
                    "writing %llu more frames would pass the size limit of %llu data bytes",
                    (unsigned long long)frames, (unsigned long long)writer->max_data_bytes);
    size_t done = 0;
    while (done < frames) {
        size_t chunk = frames - done < writer->buf_frames ? frames - done : writer->buf_frames;
        size_t n = chunk * (size_t)writer->channels;
        const int16_t *src = samples + done * (size_t)writer->channels;
        for (size_t i = 0; i < n; i++)
            put_le16(writer->buf + 2 * i, (uint16_t)src[i]);
        if (pwrite_full(writer->fd, writer->buf, 2 * n, WAV_HEADER_BYTES + writer->data_bytes) != 0) {
            int e = errno;
            writer->failed = 1;
            return fail(&writer->err, OH_EIO, e, "write failed (errno %d)", e);
        }
        writer->data_bytes += 2 * n;
        done += chunk;
    }
    return OH_OK;
}

oh_status oh_wav_writer_flush(oh_wav_writer *writer)
{
    if (!writer)
        return OH_EINVAL;
    uint64_t block = 2u * (uint64_t)writer->channels;
    uint32_t data = (uint32_t)(writer->data_bytes / block * block);
    uint8_t b[4];
    put_le32(b, 36u + data);
    if (pwrite_full(writer->fd, b, 4, 4) != 0)
        return fail(&writer->err, OH_EIO, errno, "cannot update the header (errno %d)", errno);
    put_le32(b, data);
    if (pwrite_full(writer->fd, b, 4, 40) != 0)
        return fail(&writer->err, OH_EIO, errno, "cannot update the header (errno %d)", errno);
    return OH_OK;
}

uint64_t oh_wav_writer_frames(const oh_wav_writer *writer)
{
    return writer->data_bytes / (2u * (uint64_t)writer->channels);
}

const oh_wav_error *oh_wav_writer_error(const oh_wav_writer *writer)
{
    return &writer->err;
}

oh_status oh_wav_writer_close(oh_wav_writer *writer, oh_wav_error *err)
{
    clear_error(err);
    if (!writer)
        return OH_OK;
    oh_status st = oh_wav_writer_flush(writer);
    if (st != OH_OK && err)
        *err = writer->err;
    if (close(writer->fd) != 0 && st == OH_OK)
        st = fail(err, OH_EIO, errno, "close failed (errno %d)", errno);
    oh_free(writer->buf);
    oh_free(writer);
    return st;
}
