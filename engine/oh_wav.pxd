from libc.stdint cimport int16_t, uint64_t

from oh_status cimport oh_status

cdef extern from "offhook/oh_wav.h":
    enum:
        OH_WAV_MAX_CHANNELS
        OH_WAV_MAX_RATE
        OH_WAV_FORMAT_PCM
        OH_WAV_FORMAT_IEEE_FLOAT
        OH_WAV_FORMAT_EXTENSIBLE

    unsigned long long OH_WAV_MAX_DATA_BYTES

    ctypedef struct oh_wav_error:
        int status
        int sys_errno
        char reason[192]

    ctypedef struct oh_wav_format:
        int sample_rate
        int channels
        int bits
        int valid_bits
        int is_float
        int format_tag
        int block_align
        uint64_t frames
        uint64_t declared_data_bytes
        int truncated

    ctypedef struct oh_wav_reader_config:
        int allow_truncated
        size_t buffer_frames

    ctypedef struct oh_wav_reader:
        pass

    void oh_wav_reader_config_default(oh_wav_reader_config *cfg)
    oh_status oh_wav_reader_open(const char *path, const oh_wav_reader_config *cfg,
                                 oh_wav_reader **out, oh_wav_error *err) nogil
    void oh_wav_reader_close(oh_wav_reader *reader) nogil
    const oh_wav_format *oh_wav_reader_format(const oh_wav_reader *reader)
    int oh_wav_reader_read(oh_wav_reader *reader, int16_t *out, size_t max_frames) nogil
    oh_status oh_wav_reader_seek(oh_wav_reader *reader, uint64_t frame)
    uint64_t oh_wav_reader_tell(const oh_wav_reader *reader)
    const oh_wav_error *oh_wav_reader_error(const oh_wav_reader *reader)

    ctypedef struct oh_wav_writer_config:
        int sample_rate
        int channels
        uint64_t max_data_bytes
        size_t buffer_frames

    ctypedef struct oh_wav_writer:
        pass

    void oh_wav_writer_config_default(oh_wav_writer_config *cfg)
    oh_status oh_wav_writer_open(const char *path, const oh_wav_writer_config *cfg,
                                 oh_wav_writer **out, oh_wav_error *err) nogil
    oh_status oh_wav_writer_write(oh_wav_writer *writer, const int16_t *samples, size_t frames) nogil
    oh_status oh_wav_writer_flush(oh_wav_writer *writer) nogil
    uint64_t oh_wav_writer_frames(const oh_wav_writer *writer)
    const oh_wav_error *oh_wav_writer_error(const oh_wav_writer *writer)
    oh_status oh_wav_writer_close(oh_wav_writer *writer, oh_wav_error *err) nogil
