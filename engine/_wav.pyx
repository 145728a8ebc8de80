# cython: language_level=3, boundscheck=False, wraparound=False
"""WAV files through the C core's oh_wav reader and writer.

The C side parses, validates and converts; this module moves buffers and turns
an oh_wav_error into an exception naming the file: OSError (FileNotFoundError,
IsADirectoryError, ...) when a system call failed, MemoryError, or WavError
with the C reason. Requirements on a file's format (rate, channels) are
checked by offhook.media.wav.read_wav.
"""
import os

from libc.stdint cimport int16_t, uint64_t

cimport oh_wav as c
from oh_status cimport OH_EIO, OH_ENOMEM, oh_strerror

import numpy as np

from offhook.errors import WavError

MAX_CHANNELS = c.OH_WAV_MAX_CHANNELS
MAX_RATE = c.OH_WAV_MAX_RATE
MAX_DATA_BYTES = c.OH_WAV_MAX_DATA_BYTES
FORMAT_PCM = c.OH_WAV_FORMAT_PCM
FORMAT_IEEE_FLOAT = c.OH_WAV_FORMAT_IEEE_FLOAT
FORMAT_EXTENSIBLE = c.OH_WAV_FORMAT_EXTENSIBLE


cdef int _check(int status, const c.oh_wav_error *err, str path) except -1:
    """Returns status when it is not an error; raises the matching exception otherwise."""
    if status >= 0:
        return status
    reason = err.reason.decode("utf-8", "replace") or oh_strerror(status).decode("ascii")
    if status == OH_ENOMEM:
        raise MemoryError(f"{path}: {reason}")
    if status == OH_EIO and err.sys_errno:
        raise OSError(err.sys_errno, os.strerror(err.sys_errno), path)
    raise WavError(f"{path}: {reason}")


cdef bytes _encode_path(object path):
    encoded = os.fsencode(path)
    if b"\0" in encoded:
        raise ValueError(f"{os.fsdecode(path)!r}: embedded null byte in path")
    return encoded


cdef class WavReader:
    """A WAV file opened for reading as int16 frames (PCM 8/16/24/32-bit, float 32/64-bit,
    WAVE_FORMAT_EXTENSIBLE). Use as a context manager; read() returns (frames, channels)."""
    cdef c.oh_wav_reader *_r
    cdef readonly str path

    def __cinit__(self, path, *, bint allow_truncated=False, size_t buffer_frames=1024):
        cdef c.oh_wav_reader_config cfg
        cdef c.oh_wav_error err
        cdef int st
        self.path = os.fsdecode(path)
        encoded = _encode_path(path)
        cdef const char *cpath = encoded
        c.oh_wav_reader_config_default(&cfg)
        cfg.allow_truncated = allow_truncated
        cfg.buffer_frames = buffer_frames
        with nogil:
            st = c.oh_wav_reader_open(cpath, &cfg, &self._r, &err)
        _check(st, &err, self.path)

    def __dealloc__(self):
        c.oh_wav_reader_close(self._r)

    cdef const c.oh_wav_format *_fmt(self) except NULL:
        if self._r == NULL:
            raise ValueError(f"{self.path}: WAV reader is closed")
        return c.oh_wav_reader_format(self._r)

    def __repr__(self):
        if self._r == NULL:
            return f"<offhook WavReader {self.path!r} closed>"
        return (f"<offhook WavReader {self.path!r} {self.sample_rate} Hz "
                f"{self.channels} ch {self.bits}-bit{' float' if self.is_float else ''} "
                f"{self.frames} frames>")

    def __enter__(self):
        self._fmt()
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        """Closes the file; later calls other than close raise ValueError."""
        c.oh_wav_reader_close(self._r)
        self._r = NULL

    @property
    def closed(self):
        return self._r == NULL

    @property
    def sample_rate(self):
        """Hz."""
        return self._fmt().sample_rate

    @property
    def channels(self):
        return self._fmt().channels

    @property
    def bits(self):
        """Bits per sample as stored in the file (8, 16, 24, 32 or 64)."""
        return self._fmt().bits

    @property
    def valid_bits(self):
        return self._fmt().valid_bits

    @property
    def is_float(self):
        return bool(self._fmt().is_float)

    @property
    def format_tag(self):
        """The fmt chunk's tag: FORMAT_PCM, FORMAT_IEEE_FLOAT or FORMAT_EXTENSIBLE."""
        return self._fmt().format_tag

    @property
    def frames(self):
        """Frames that can be read (all of them, or those present when truncated)."""
        return self._fmt().frames

    @property
    def declared_data_bytes(self):
        return self._fmt().declared_data_bytes

    @property
    def truncated(self):
        """True when the file ends before its data chunk does (allow_truncated=True)."""
        return bool(self._fmt().truncated)

    def tell(self):
        """The current position in frames."""
        self._fmt()
        return c.oh_wav_reader_tell(self._r)

    def seek(self, uint64_t frame):
        """Moves to frame (0 .. frames)."""
        self._fmt()
        _check(c.oh_wav_reader_seek(self._r, frame), c.oh_wav_reader_error(self._r), self.path)

    def rewind(self):
        """Back to the first frame (for looping playback)."""
        self.seek(0)

    def readinto(self, int16_t[::1] out not None):
        """Reads up to len(out) // channels frames into out (interleaved); returns the count."""
        cdef size_t channels = self._fmt().channels
        cdef size_t max_frames = <size_t>out.shape[0] // channels
        cdef int r
        if max_frames == 0:
            return 0
        with nogil:
            r = c.oh_wav_reader_read(self._r, &out[0], max_frames)
        return _check(r, c.oh_wav_reader_error(self._r), self.path)

    def read(self, max_frames=None):
        """Reads up to max_frames frames (default: all that remain) as int16 (frames, channels)."""
        cdef const c.oh_wav_format *f = self._fmt()
        cdef uint64_t left = f.frames - c.oh_wav_reader_tell(self._r)
        if max_frames is not None:
            if max_frames < 0:
                raise ValueError(f"max_frames must be >= 0, got {max_frames}")
            left = min(left, <uint64_t>max_frames)
        pcm = np.empty((left, f.channels), dtype=np.int16)
        cdef int16_t[::1] flat = pcm.reshape(-1)
        cdef size_t done = 0
        cdef int r
        while done < left:
            with nogil:
                r = c.oh_wav_reader_read(self._r, &flat[done * f.channels], left - done)
            _check(r, c.oh_wav_reader_error(self._r), self.path)
            if r == 0:
                break
            done += r
        return pcm if done == left else pcm[:done]


cdef class WavWriter:
    """A 16-bit PCM WAV file being written. flush() makes what was written so far
    a valid file; close() (or leaving the with block) finishes it."""
    cdef c.oh_wav_writer *_w
    cdef readonly str path
    cdef readonly int sample_rate
    cdef readonly int channels

    def __cinit__(self, path, int sample_rate, int channels=1, *,
                  uint64_t max_data_bytes=0, size_t buffer_frames=1024):
        cdef c.oh_wav_writer_config cfg
        cdef c.oh_wav_error err
        cdef int st
        self.path = os.fsdecode(path)
        encoded = _encode_path(path)
        cdef const char *cpath = encoded
        c.oh_wav_writer_config_default(&cfg)
        cfg.sample_rate = sample_rate
        cfg.channels = channels
        cfg.max_data_bytes = max_data_bytes
        cfg.buffer_frames = buffer_frames
        with nogil:
            st = c.oh_wav_writer_open(cpath, &cfg, &self._w, &err)
        _check(st, &err, self.path)
        self.sample_rate = sample_rate
        self.channels = channels

    def __dealloc__(self):
        c.oh_wav_writer_close(self._w, NULL)

    cdef int _open(self) except -1:
        if self._w == NULL:
            raise ValueError(f"{self.path}: WAV writer is closed")
        return 0

    def __repr__(self):
        state = "closed" if self._w == NULL else f"{self.frames} frames"
        return f"<offhook WavWriter {self.path!r} {self.sample_rate} Hz {self.channels} ch {state}>"

    def __enter__(self):
        self._open()
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def closed(self):
        return self._w == NULL

    @property
    def frames(self):
        """Frames written so far."""
        self._open()
        return c.oh_wav_writer_frames(self._w)

    def write(self, samples):
        """Appends int16 samples: (frames,) for mono, (frames, channels), or interleaved 1-D."""
        self._open()
        arr = np.asarray(samples)
        if arr.dtype != np.int16:
            raise WavError(f"{self.path}: samples must be int16, got {arr.dtype}")
        if arr.ndim == 2 and arr.shape[1] != self.channels:
            raise WavError(f"{self.path}: samples have {arr.shape[1]} channels, "
                           f"the file has {self.channels}")
        if arr.ndim not in (1, 2):
            raise WavError(f"{self.path}: samples must have 1 or 2 dimensions, got {arr.ndim}")
        if arr.size % self.channels:
            raise WavError(f"{self.path}: {arr.size} interleaved samples are not whole frames "
                           f"of {self.channels} channels")
        cdef const int16_t[::1] flat = np.ascontiguousarray(arr).reshape(-1)
        cdef size_t frames = <size_t>flat.shape[0] // <size_t>self.channels
        cdef int st
        if frames == 0:
            return
        with nogil:
            st = c.oh_wav_writer_write(self._w, &flat[0], frames)
        _check(st, c.oh_wav_writer_error(self._w), self.path)

    def flush(self):
        """Updates the header so the file is valid up to the last frame written."""
        self._open()
        cdef int st
        with nogil:
            st = c.oh_wav_writer_flush(self._w)
        _check(st, c.oh_wav_writer_error(self._w), self.path)

    def close(self):
        """Finishes the header and closes the file (a no-op when already closed)."""
        cdef c.oh_wav_error err
        cdef int st
        if self._w == NULL:
            return
        with nogil:
            st = c.oh_wav_writer_close(self._w, &err)
        self._w = NULL
        _check(st, &err, self.path)
