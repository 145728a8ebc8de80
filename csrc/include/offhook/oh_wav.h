/* WAV (RIFF/WAVE) files: a reader that turns PCM and float WAVs into int16
 * frames, and a writer of 16-bit PCM WAVs that keeps its header valid.
 *
 * This is what the media engine plays and records by itself (play_wav,
 * record_wav), without going through Python.
 *
 * Reader: chunks may come in any order; unknown chunks (LIST, fact, cue, ...)
 * are skipped, honouring the pad byte after odd-sized chunks. Supported
 * encodings: WAVE_FORMAT_PCM with 8 (unsigned), 16, 24 or 32-bit samples,
 * WAVE_FORMAT_IEEE_FLOAT with 32 or 64-bit samples, G.711 A-law and µ-law
 * (8-bit, decoded as oh_g711 does), and WAVE_FORMAT_EXTENSIBLE whose
 * sub-format is PCM or float. Every sample is converted to int16:
 * wider integers are rounded (half up) and clipped, floats are scaled by 32768,
 * rounded and clipped (NaN reads as 0). The RIFF size field and the fmt byte
 * rate are not trusted (many writers get them wrong); the real file size is.
 *
 * Writer: 16-bit PCM at a given rate and channel count. The header is written
 * at open with empty sizes and patched by oh_wav_writer_flush() and
 * oh_wav_writer_close(), so a recording whose process dies keeps a valid
 * header up to the last flush (the data after it is still on disk and can be
 * read back with allow_truncated). A file that would pass the format's 4 GiB
 * limit (or the configured max_data_bytes) is refused before anything is written.
 *
 * Errors: OH_EIO when a system call fails (the errno is kept in
 * oh_wav_error.sys_errno), OH_EFORMAT when a file is malformed or not a WAV
 * we can read, OH_EINVAL for bad arguments, OH_EUNSUPPORTED when the writer's
 * size limit would be passed. Each error also leaves a specific reason, e.g.
 * "unsupported format tag 0x0055 (MP3)" or
 * "data chunk truncated (header says 32000 bytes, file has 1200)".
 *
 * Units: rates in Hz, lengths in frames (one sample per channel), samples
 * interleaved. Files are POSIX file descriptors (open/pread/pwrite).
 *
 * Thread safety: one thread per reader or writer; distinct objects are
 * independent. Only open allocates; read, write, seek and flush never do. */
#ifndef OFFHOOK_OH_WAV_H
#define OFFHOOK_OH_WAV_H

#include <stddef.h>
#include <stdint.h>

#include "offhook/oh_status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define OH_WAV_MAX_CHANNELS 256
#define OH_WAV_MAX_RATE 10000000 /* Hz; enough for software-radio recordings */
/* The largest data chunk a RIFF file can describe: its size field is 32 bits
 * and counts the 36 header bytes after it too. */
#define OH_WAV_MAX_DATA_BYTES 0xFFFFFFDBULL

#define OH_WAV_FORMAT_PCM 0x0001
#define OH_WAV_FORMAT_IEEE_FLOAT 0x0003
#define OH_WAV_FORMAT_ALAW 0x0006
#define OH_WAV_FORMAT_MULAW 0x0007
#define OH_WAV_FORMAT_EXTENSIBLE 0xFFFE

/* Why the last call failed. reason is "" after success. */
typedef struct oh_wav_error {
    int status;       /* the oh_status returned */
    int sys_errno;    /* errno of the failing system call, 0 when none failed */
    char reason[192]; /* human-readable, without the file name */
} oh_wav_error;

typedef struct oh_wav_format {
    int sample_rate;              /* Hz */
    int channels;
    int bits;                     /* stored bits per sample: 8, 16, 24, 32 or 64 */
    int valid_bits;               /* significant bits (EXTENSIBLE may say fewer); else = bits */
    int is_float;                 /* 1 for IEEE float samples */
    int format_tag;               /* fmt tag as stored: PCM, IEEE_FLOAT or EXTENSIBLE */
    int block_align;              /* bytes per frame */
    uint64_t frames;              /* frames that can be read */
    uint64_t declared_data_bytes; /* the data chunk size the header states */
    int truncated;                /* 1: the file ends before the declared data (allow_truncated) */
} oh_wav_format;

/* ---- reader ---- */

typedef struct oh_wav_reader_config {
    /* 0: a data chunk that runs past the end of the file is an error (OH_EFORMAT).
     * 1: accept it and read the whole frames that are there (a recorder that
     *    crashed before fixing its header leaves such files). */
    int allow_truncated;
    size_t buffer_frames; /* frames converted per internal read (>= 1); memory = this * block_align */
} oh_wav_reader_config;

typedef struct oh_wav_reader oh_wav_reader;

void oh_wav_reader_config_default(oh_wav_reader_config *cfg);

/* Opens and parses path. cfg may be NULL for the defaults. On failure *out is
 * NULL and, when err is not NULL, err says why. */
oh_status oh_wav_reader_open(const char *path, const oh_wav_reader_config *cfg,
                             oh_wav_reader **out, oh_wav_error *err);
void oh_wav_reader_close(oh_wav_reader *reader);

const oh_wav_format *oh_wav_reader_format(const oh_wav_reader *reader);

/* Reads up to max_frames frames from the current position into out
 * (capacity max_frames * channels samples, interleaved). Returns the frames
 * read, 0 at the end, or a negative oh_status (see oh_wav_reader_error). */
int oh_wav_reader_read(oh_wav_reader *reader, int16_t *out, size_t max_frames);

/* Moves to frame (0 .. frames; frames = the end). For looping playback,
 * oh_wav_reader_seek(r, 0) rewinds. */
oh_status oh_wav_reader_seek(oh_wav_reader *reader, uint64_t frame);
uint64_t oh_wav_reader_tell(const oh_wav_reader *reader);

/* The reason of the last failing read or seek. */
const oh_wav_error *oh_wav_reader_error(const oh_wav_reader *reader);

/* ---- writer ---- */

typedef struct oh_wav_writer_config {
    int sample_rate;         /* Hz, 1 .. OH_WAV_MAX_RATE */
    int channels;            /* 1 .. OH_WAV_MAX_CHANNELS */
    uint64_t max_data_bytes; /* 0 or above OH_WAV_MAX_DATA_BYTES: the format's limit */
    size_t buffer_frames;    /* frames byte-swapped per write() call (>= 1) */
} oh_wav_writer_config;

typedef struct oh_wav_writer oh_wav_writer;

/* 8000 Hz mono, the format's own size limit. */
void oh_wav_writer_config_default(oh_wav_writer_config *cfg);

/* Creates (or truncates) path and writes a header for an empty recording. */
oh_status oh_wav_writer_open(const char *path, const oh_wav_writer_config *cfg,
                             oh_wav_writer **out, oh_wav_error *err);

/* Appends frames (frames * channels interleaved samples). Refuses with
 * OH_EUNSUPPORTED, writing nothing, when the data would pass the size limit.
 * After an I/O error the writer only accepts flush and close (OH_ESTATE). */
oh_status oh_wav_writer_write(oh_wav_writer *writer, const int16_t *samples, size_t frames);

/* Patches the header's sizes to cover every frame written so far. */
oh_status oh_wav_writer_flush(oh_wav_writer *writer);

uint64_t oh_wav_writer_frames(const oh_wav_writer *writer);
const oh_wav_error *oh_wav_writer_error(const oh_wav_writer *writer);

/* Flushes, closes and frees the writer (always, even on error); returns the
 * first error met, described in err when not NULL. NULL is a no-op. */
oh_status oh_wav_writer_close(oh_wav_writer *writer, oh_wav_error *err);

#ifdef __cplusplus
}
#endif

#endif
