# cython: language_level=3, boundscheck=False, wraparound=False
"""Codec instances backed by the C core's oh_codec.

Argument meaning and validation with user-facing messages live in
offhook.media.codecs (the registry); this module only moves buffers.
"""
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from libc.stdint cimport int16_t, uint8_t

cimport oh_codec as c
from _status cimport check

import numpy as np

from offhook.errors import CodecError

_NAMES = {c.OH_CODEC_PCMU: "PCMU", c.OH_CODEC_PCMA: "PCMA",
          c.OH_CODEC_G722: "G722", c.OH_CODEC_OPUS: "opus"}


cdef class Codec:
    """An encoder/decoder pair with loss concealment (see offhook.engine.codec)."""
    cdef c.oh_codec *_codec
    cdef readonly str name
    cdef readonly int sample_rate
    cdef readonly str frame_rule  # "opus frames last 2.5, ... ms": shown when encode refuses

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

    def __dealloc__(self):
        c.oh_codec_destroy(self._codec)

    def __repr__(self):
        return f"<offhook codec {self.name} {self.sample_rate} Hz>"

    def encode(self, const int16_t[::1] pcm not None):
        """Encodes mono int16 samples; returns the payload as bytes."""
        cdef size_t n = pcm.shape[0]
        cdef size_t cap = c.oh_codec_max_payload(self._codec, n)
        out = PyBytes_FromStringAndSize(NULL, cap)
        cdef uint8_t *dst = <uint8_t *>PyBytes_AS_STRING(out)
        cdef const int16_t *src = &pcm[0] if n else NULL
        cdef int r
        with nogil:
            r = c.oh_codec_encode(self._codec, src, n, dst, cap)
        if r < 0:  # the message is built only when needed: encode is per frame
            hint = f" ({self.frame_rule})" if self.frame_rule else ""
            check(r, CodecError,
                  f"{self.name} encode of {n} samples at {self.sample_rate} Hz{hint}")
        return out if <size_t>r == cap else out[:r]

    def decode(self, const uint8_t[::1] payload not None):
        """Decodes one payload; returns int16 samples."""
        cdef size_t length = payload.shape[0]
        cdef const uint8_t *src = &payload[0] if length else NULL
        cdef int n = c.oh_codec_decoded_samples(self._codec, src, length)
        if n < 0:
            check(n, CodecError, f"{self.name} decode of {length} bytes")
        pcm = np.empty(n, dtype=np.int16)
        cdef int16_t[::1] out = pcm
        cdef int r
        with nogil:
            r = c.oh_codec_decode(self._codec, src, length, &out[0] if n else NULL, n)
        if r < 0:
            check(r, CodecError, f"{self.name} decode of {length} bytes")
        return pcm if r == n else pcm[:r]

    def conceal(self, Py_ssize_t n):
        """Returns n samples to play in place of a lost payload."""
        if n < 0:
            raise ValueError(f"sample count must be >= 0, got {n}")
        pcm = np.empty(n, dtype=np.int16)
        if n == 0:
            return pcm
        cdef int16_t[::1] out = pcm
        cdef int r
        with nogil:
            r = c.oh_codec_conceal(self._codec, &out[0], n)
        check(r, CodecError, f"{self.name} conceal of {n} samples")
        return pcm

    def decode_fec(self, const uint8_t[::1] next_payload not None, Py_ssize_t n):
        """Recovers the n-sample frame lost before next_payload (FEC or concealment)."""
        if n <= 0:
            raise ValueError(f"sample count must be > 0, got {n}")
        cdef size_t length = next_payload.shape[0]
        cdef const uint8_t *src = &next_payload[0] if length else NULL
        pcm = np.empty(n, dtype=np.int16)
        cdef int16_t[::1] out = pcm
        cdef int r
        with nogil:
            r = c.oh_codec_decode_fec(self._codec, src, length, &out[0], n)
        check(r, CodecError, f"{self.name} FEC decode of {length} bytes")
        return pcm

    def reset(self):
        """Forgets all history, as at the start of a new stream."""
        c.oh_codec_reset(self._codec)


PCMU = c.OH_CODEC_PCMU
PCMA = c.OH_CODEC_PCMA
G722 = c.OH_CODEC_G722
OPUS = c.OH_CODEC_OPUS
