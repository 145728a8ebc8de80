# cython: language_level=3, boundscheck=False, wraparound=False
"""Codec instances backed by the C core's oh_codec.

Argument meaning and validation with user-facing messages live in
offhook.media.codecs (the registry); this module only moves buffers.
"""
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from libc.stdint cimport int16_t, uint8_t

cimport cython
cimport numpy as cnp

cimport oh_codec as c
from _buffers cimport Borrowed, acquire_bytes, acquire_pcm, new_pcm, release
from _status cimport check

cnp.import_array()

from offhook.errors import CodecError

_NAMES = {c.OH_CODEC_PCMU: "PCMU", c.OH_CODEC_PCMA: "PCMA",
          c.OH_CODEC_G722: "G722", c.OH_CODEC_OPUS: "opus"}


cdef class Codec:
    """An encoder/decoder pair with loss concealment (see offhook.engine.codec)."""
    cdef c.oh_codec *_codec
    cdef readonly str name
    cdef readonly int sample_rate
    cdef readonly str frame_rule  # "opus frames last 2.5, ... ms": shown when encode refuses
    # G.711 codes a frame in less time than releasing and retaking the GIL takes.
    cdef bint _release_gil

    def __cinit__(self, int codec_id, *, int sample_rate=0, int bitrate=0,
                  int complexity=-1, bint vbr=True, bint fec=False, bint dtx=False,
                  int packet_loss_pct=0, str frame_rule=""):
        cdef c.oh_codec_config cfg
        if codec_id not in _NAMES:
            raise CodecError(f"unknown codec id {codec_id}")
        c.oh_codec_config_default(&cfg, <c.oh_codec_id>codec_id)
        cfg.sample_rate = sample_rate
        cfg.bitrate = bitrate
        cfg.complexity = complexity
        cfg.vbr = vbr
        cfg.fec = fec
        cfg.dtx = dtx
        cfg.packet_loss_pct = packet_loss_pct
        self.name = _NAMES[codec_id]
        self.frame_rule = frame_rule
        check(c.oh_codec_create(&cfg, &self._codec), CodecError, f"{self.name} create")
        self.sample_rate = c.oh_codec_sample_rate(self._codec)
        self._release_gil = codec_id not in (c.OH_CODEC_PCMU, c.OH_CODEC_PCMA)

    def __dealloc__(self):
        c.oh_codec_destroy(self._codec)

    def __repr__(self):
        return f"<offhook codec {self.name} {self.sample_rate} Hz>"

    @cython.always_allow_keywords(False)  # METH_O: the cheapest call, per frame
    def encode(self, pcm):
        """Encodes mono int16 samples; returns the payload as bytes."""
        cdef Borrowed view
        acquire_pcm(pcm, &view, self.name, "encode input")
        cdef size_t n = <size_t>view.len // 2
        cdef size_t cap = c.oh_codec_max_payload(self._codec, n)
        cdef bytes out
        cdef uint8_t *dst
        cdef int r
        try:
            out = PyBytes_FromStringAndSize(NULL, cap)
            dst = <uint8_t *>PyBytes_AS_STRING(out)
            if self._release_gil:
                with nogil:
                    r = c.oh_codec_encode(self._codec, <const int16_t *>view.buf, n, dst, cap)
            else:
                r = c.oh_codec_encode(self._codec, <const int16_t *>view.buf, n, dst, cap)
        finally:
            release(&view)
        if r < 0:
            hint = f" ({self.frame_rule})" if self.frame_rule else ""
            check(r, CodecError, f"{self.name} encode of {n} samples at {self.sample_rate} Hz{hint}")
        return out if <size_t>r == cap else out[:r]

    @cython.always_allow_keywords(False)
    def decode(self, payload):
        """Decodes one payload (bytes-like); returns int16 samples."""
        cdef Borrowed view
        acquire_bytes(payload, &view, self.name, "payload")
        cdef size_t length = <size_t>view.len
        cdef const uint8_t *src = <const uint8_t *>view.buf
        cdef int n, r = 0
        cdef cnp.ndarray pcm
        cdef int16_t *out
        try:
            n = c.oh_codec_decoded_samples(self._codec, src, length)
            if n < 0:
                check(n, CodecError, f"{self.name} decode of {length} bytes")
            pcm = new_pcm(n)
            out = <int16_t *>cnp.PyArray_DATA(pcm)
            if self._release_gil:
                with nogil:
                    r = c.oh_codec_decode(self._codec, src, length, out, n)
            else:
                r = c.oh_codec_decode(self._codec, src, length, out, n)
        finally:
            release(&view)
        if r < 0:
            check(r, CodecError, f"{self.name} decode of {length} bytes")
        return pcm if r == n else pcm[:r]

    def conceal(self, Py_ssize_t n):
        """Returns n samples to play in place of a lost payload."""
        if n < 0:
            raise ValueError(f"sample count must be >= 0, got {n}")
        cdef cnp.ndarray pcm = new_pcm(n)
        if n == 0:
            return pcm
        cdef int16_t *out = <int16_t *>cnp.PyArray_DATA(pcm)
        cdef int r
        with nogil:
            r = c.oh_codec_conceal(self._codec, out, n)
        if r < 0:
            check(r, CodecError, f"{self.name} conceal of {n} samples at {self.sample_rate} Hz")
        return pcm

    def decode_fec(self, next_payload, Py_ssize_t n):
        """Recovers the n-sample frame lost before next_payload (FEC or concealment)."""
        if n <= 0:
            raise ValueError(f"sample count must be > 0, got {n}")
        cdef Borrowed view
        acquire_bytes(next_payload, &view, self.name, "payload")
        cdef cnp.ndarray pcm = new_pcm(n)
        cdef int16_t *out = <int16_t *>cnp.PyArray_DATA(pcm)
        cdef int r
        try:
            with nogil:
                r = c.oh_codec_decode_fec(self._codec, <const uint8_t *>view.buf,
                                          <size_t>view.len, out, n)
        finally:
            release(&view)
        if r < 0:
            check(r, CodecError, f"{self.name} FEC decode of {view.len} bytes")
        return pcm

    def reset(self):
        """Forgets all history, as at the start of a new stream."""
        c.oh_codec_reset(self._codec)


PCMU = c.OH_CODEC_PCMU
PCMA = c.OH_CODEC_PCMA
G722 = c.OH_CODEC_G722
OPUS = c.OH_CODEC_OPUS
