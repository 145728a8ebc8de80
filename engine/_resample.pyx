# cython: language_level=3, boundscheck=False, wraparound=False
"""Sample-rate conversion backed by the C core's oh_resampler.

This module only checks what it is given (so that mistakes get messages a
user can act on) and moves buffers; the filter lives in csrc/oh_resampler.c.
"""
from cpython.buffer cimport (PyBUF_C_CONTIGUOUS, PyBUF_FORMAT, PyBUF_WRITABLE, PyBuffer_Release,
                             PyObject_GetBuffer)
from libc.stdint cimport int16_t

cimport numpy as cnp
cimport oh_resampler as c
from _buffers cimport new_pcm
from oh_status cimport OH_EUNSUPPORTED
from _status cimport check

import numpy as np

from offhook.errors import ResamplerError

STANDARD_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
MIN_RATE = c.OH_RESAMPLER_MIN_RATE
MAX_RATE = c.OH_RESAMPLER_MAX_RATE
MAX_CHANNELS = c.OH_RESAMPLER_MAX_CHANNELS
_INT16 = np.dtype(np.int16)
_empty = np.empty

cnp.import_array()


cdef class Resampler:
    """Streaming int16 resampler: Resampler(48000, 16000).process(frame).

    History is kept between calls, so a stream cut into chunks of any sizes
    gives the same samples as one call. The output lags the input by
    `latency` output frames; flush() returns that tail at the end of a stream.
    Mono takes and returns 1-D arrays; several channels take and return
    (frames, channels) arrays (a (frames, 1) array works for mono too).
    """
    cdef c.oh_resampler *_rs
    cdef readonly int in_rate
    cdef readonly int out_rate
    cdef readonly int channels

    def __cinit__(self, int in_rate, int out_rate, int channels=1):
        cdef c.oh_resampler_config cfg
        for name, rate in (("in_rate", in_rate), ("out_rate", out_rate)):
            if not MIN_RATE <= rate <= MAX_RATE:
                raise ResamplerError(
                    f"{name} must be {MIN_RATE}..{MAX_RATE} Hz, got {rate}")
        if not 1 <= channels <= MAX_CHANNELS:
            raise ResamplerError(f"channels must be 1..{MAX_CHANNELS}, got {channels}")
        c.oh_resampler_config_default(&cfg)
        cfg.in_rate = in_rate
        cfg.out_rate = out_rate
        cfg.channels = channels
        status = c.oh_resampler_create(&cfg, &self._rs)
        if status == OH_EUNSUPPORTED:
            raise ResamplerError(
                f"cannot convert {in_rate} -> {out_rate} Hz: the reduced ratio needs more than "
                f"{c.OH_RESAMPLER_MAX_PHASES} filter phases; any two of "
                f"{', '.join(map(str, STANDARD_RATES))} Hz work")
        check(status, ResamplerError, f"Resampler {in_rate} -> {out_rate} Hz")
        self.in_rate = in_rate
        self.out_rate = out_rate
        self.channels = channels

    def __dealloc__(self):
        c.oh_resampler_destroy(self._rs)

    def __repr__(self):
        return (f"<offhook Resampler {self.in_rate} -> {self.out_rate} Hz, "
                f"{self.channels} channel(s), latency {self.latency}>")

    @property
    def latency(self):
        """Group delay in output frames: input frame 0 comes out as output frame `latency`."""
        return c.oh_resampler_latency(self._rs)

    def output_frames(self, Py_ssize_t frames):
        """How many frames the next process() call returns for `frames` input frames."""
        if frames < 0:
            raise ResamplerError(f"frame count must be >= 0, got {frames}")
        return c.oh_resampler_max_output(self._rs, frames)

    def process(self, pcm):
        """Converts int16 samples: 1-D for mono, (frames, channels) otherwise."""
        cdef cnp.ndarray arr, res
        cdef size_t count, n_mono
        cdef int got
        if self.channels == 1 and cnp.PyArray_Check(pcm):
            # The per-frame path (mono NumPy int16): checked and allocated through
            # NumPy's C API, several times cheaper than the buffer protocol and
            # np.empty. Anything else takes the general path below, which also
            # words the errors.
            arr = <cnp.ndarray>pcm
            if (cnp.PyArray_TYPE(arr) == cnp.NPY_INT16 and cnp.PyArray_NDIM(arr) == 1
                    and cnp.PyArray_ISNOTSWAPPED(arr) and cnp.PyArray_IS_C_CONTIGUOUS(arr)):
                count = <size_t>cnp.PyArray_DIM(arr, 0)
                n_mono = c.oh_resampler_max_output(self._rs, count)
                res = new_pcm(<Py_ssize_t>n_mono)
                with nogil:  # arr and res are referenced here, so their data stay put
                    got = c.oh_resampler_process(self._rs, <const int16_t *>cnp.PyArray_DATA(arr),
                                                 count, <int16_t *>cnp.PyArray_DATA(res), n_mono)
                if got < 0:
                    check(got, ResamplerError, f"Resampler process of {count} frames")
                return res
        cdef Py_buffer view
        cdef const int16_t *src = NULL
        cdef int16_t *dst = NULL
        cdef size_t frames, n_out
        cdef int r, ndim
        try:
            PyObject_GetBuffer(pcm, &view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT)
        except (TypeError, ValueError, BufferError):
            raise ResamplerError(
                f"Resampler.process takes a C-contiguous numpy int16 array; got {_describe(pcm)}"
            ) from None
        try:
            ndim = view.ndim
            if not _is_native_int16(&view):
                raise ResamplerError(
                    f"Resampler.process takes int16 samples; got {_describe(pcm)}")
            if ndim == 1:
                if self.channels != 1:
                    raise ResamplerError(
                        f"this resampler has {self.channels} channels: pass a "
                        f"(frames, {self.channels}) array, not a 1-D one")
            elif ndim == 2:
                if view.shape[1] != self.channels:
                    raise ResamplerError(
                        f"this resampler has {self.channels} channel(s), got samples of "
                        f"shape {tuple(pcm.shape)} (expected (frames, {self.channels}))")
            else:
                raise ResamplerError(
                    "Resampler.process takes a numpy int16 array, 1-D (mono) or "
                    f"(frames, channels); got {_describe(pcm)}")
            frames = view.shape[0]
            src = <const int16_t *>view.buf
            n_out = c.oh_resampler_max_output(self._rs, frames)
            if ndim == 1:
                out = _empty(n_out, _INT16)
            else:
                out = _empty((n_out, self.channels), _INT16)
            if n_out:
                dst = _data(out)
            with nogil:
                r = c.oh_resampler_process(self._rs, src, frames, dst, n_out)
        finally:
            PyBuffer_Release(&view)  # held until the C call is done with src
        if r < 0:  # the message is only built when needed: this is the per-frame path
            check(r, ResamplerError, f"Resampler process of {frames} frames")
        return out

    def flush(self):
        """Ends the stream: the last `latency` frames (as if silence followed), then resets."""
        cdef size_t n = <size_t>self.latency
        if self.channels == 1:
            out = np.empty(n, dtype=np.int16)
        else:
            out = np.empty((n, self.channels), dtype=np.int16)
        cdef int16_t *dst = NULL
        if n:
            dst = _data(out)
        cdef int r
        with nogil:
            r = c.oh_resampler_flush(self._rs, dst, n)
        check(r, ResamplerError, "Resampler flush")
        return out

    def reset(self):
        """Forgets all history, as at the start of a new stream."""
        c.oh_resampler_reset(self._rs)


cdef inline bint _is_native_int16(const Py_buffer *view) noexcept:
    # struct-module format of a native int16: "h", "@h" or "=h"
    cdef const char *fmt = view.format
    if view.itemsize != 2 or fmt == NULL:
        return False
    if fmt[0] == b"@" or fmt[0] == b"=":
        fmt += 1
    return fmt[0] == b"h" and fmt[1] == 0


cdef int16_t *_data(object array) except NULL:
    # array is a fresh, non-empty, C-contiguous int16 array from np.empty that
    # the caller keeps alive, so the pointer outlives the released view.
    cdef Py_buffer view
    PyObject_GetBuffer(array, &view, PyBUF_WRITABLE)
    cdef int16_t *data = <int16_t *>view.buf
    PyBuffer_Release(&view)
    return data


def _describe(pcm):
    dtype = getattr(pcm, "dtype", None)
    shape = getattr(pcm, "shape", None)
    if dtype is None or shape is None:
        return f"a {type(pcm).__name__}"
    layout = "" if pcm.flags.c_contiguous else "non-contiguous "
    return f"a {layout}{dtype} array of shape {tuple(shape)}"
