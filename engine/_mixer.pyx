# cython: language_level=3, boundscheck=False, wraparound=False
"""The conference mixer of the C core (oh_mixer): mix-minus with a soft limiter.

Only checks arguments and moves buffers; the algorithm is in csrc/oh_mixer.c.
"""
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from libc.math cimport isfinite
from libc.stdint cimport int16_t, uint32_t
from libc.string cimport memcpy

cimport numpy as cnp

cimport oh_mixer as c
from _buffers cimport Borrowed, acquire_pcm, new_pcm, release
from _status cimport check
from oh_status cimport OH_EBUFSIZE, OH_ESTATE

import operator

from offhook.errors import MixerError

cnp.import_array()

MAX_PARTICIPANTS = c.OH_MIXER_MAX_PARTICIPANTS
MAX_GAIN = c.OH_MIXER_MAX_GAIN


cdef uint32_t _id(object pid) except? 0xFFFFFFFF:
    """A participant id as uint32, with a message for anything else."""
    if isinstance(pid, bool):
        raise MixerError("participant id must be an int, got bool")
    try:
        pid = operator.index(pid)  # int, or NumPy's integer scalars
    except TypeError:
        raise MixerError(f"participant id must be an int, got {type(pid).__name__}") from None
    if pid < 0 or pid > 0xFFFFFFFF:
        raise MixerError(f"participant id must be 0..4294967295, got {pid}")
    return <uint32_t>pid


cdef double _gain(double gain) except? -1.0:
    if not (isfinite(gain) and 0.0 <= gain <= c.OH_MIXER_MAX_GAIN):
        raise MixerError(f"gain must be a linear factor in 0..{c.OH_MIXER_MAX_GAIN:g}, got {gain}")
    return gain


cdef class ConferenceMixer:
    """N-party conference: each participant hears everyone but itself (mix-minus).

    ConferenceMixer(sample_rate=16000, frame_size=160, *, max_participants=64,
                    limiter_threshold_dbfs=-6.0)

    Once per tick (frame_size samples): put() a frame for each participant
    that has audio, tick(), then get() each participant's output; or do all
    three with mix({id: frame, ...}) -> {id: output, ...} for every
    participant. Participants that put nothing (or zeros) this tick are
    silent. Outputs go through a soft limiter: bit-exact below
    limiter_threshold_dbfs, never beyond full scale.
    """
    cdef c.oh_mixer *_m
    cdef uint32_t *_ids
    cdef readonly int sample_rate
    cdef readonly int frame_size
    cdef readonly int max_participants
    cdef readonly double limiter_threshold_dbfs

    def __cinit__(self, int sample_rate=16000, int frame_size=160, *, int max_participants=64,
                  double limiter_threshold_dbfs=-6.0):
        if sample_rate not in (8000, 16000, 32000, 48000):
            raise MixerError(f"sample_rate must be 8000, 16000, 32000 or 48000 Hz, got {sample_rate}")
        if frame_size not in (sample_rate // 100, sample_rate // 50):
            raise MixerError(f"frame_size must be 10 or 20 ms ({sample_rate // 100} or "
                             f"{sample_rate // 50} samples at {sample_rate} Hz), got {frame_size}")
        if not 1 <= max_participants <= c.OH_MIXER_MAX_PARTICIPANTS:
            raise MixerError(f"max_participants must be 1..{c.OH_MIXER_MAX_PARTICIPANTS}, "
                             f"got {max_participants}")
        if not (isfinite(limiter_threshold_dbfs) and -24.0 <= limiter_threshold_dbfs <= -1.0):
            raise MixerError(f"limiter_threshold_dbfs must be -24..-1 dBFS, got {limiter_threshold_dbfs}")
        cdef c.oh_mixer_config cfg
        c.oh_mixer_config_default(&cfg)
        cfg.sample_rate = sample_rate
        cfg.frame_size = frame_size
        cfg.max_participants = max_participants
        cfg.limiter_threshold_dbfs = limiter_threshold_dbfs
        self._ids = <uint32_t *>PyMem_Malloc(max_participants * sizeof(uint32_t))
        if self._ids == NULL:
            raise MemoryError("conference mixer create: out of memory")
        check(c.oh_mixer_create(&cfg, &self._m), MixerError, "conference mixer create")
        self.sample_rate = sample_rate
        self.frame_size = frame_size
        self.max_participants = max_participants
        self.limiter_threshold_dbfs = limiter_threshold_dbfs

    def __dealloc__(self):
        c.oh_mixer_destroy(self._m)
        PyMem_Free(self._ids)

    def __repr__(self):
        return (f"<offhook ConferenceMixer {self.sample_rate} Hz, {self.frame_size} samples, "
                f"{len(self)}/{self.max_participants} participants>")

    def __len__(self):
        return c.oh_mixer_count(self._m)

    def __contains__(self, pid):
        try:
            return c.oh_mixer_find(self._m, _id(pid), NULL, NULL) == 1
        except MixerError:
            return False

    @property
    def ids(self):
        """The participants' ids, sorted."""
        cdef int n = c.oh_mixer_ids(self._m, self._ids, self.max_participants)
        return sorted(self._ids[i] for i in range(n))

    cdef int _missing(self, uint32_t pid, int status) except -1:
        if status < 0:
            raise MixerError(f"participant {pid} is not in the conference")
        return 0

    def add(self, pid, double gain=1.0, bint muted=False):
        """Adds participant pid (any int in 0..2**32-1) with an input gain (linear)."""
        cdef uint32_t i = _id(pid)
        _gain(gain)
        cdef int r = c.oh_mixer_add(self._m, i, gain)
        if r == OH_ESTATE:
            raise MixerError(f"participant {i} is already in the conference")
        if r == OH_EBUFSIZE:
            raise MixerError(f"the conference is full ({self.max_participants} participants; "
                             f"raise max_participants)")
        check(r, MixerError, f"adding participant {i}")
        if muted:
            c.oh_mixer_set_mute(self._m, i, 1)

    def remove(self, pid):
        cdef uint32_t i = _id(pid)
        self._missing(i, c.oh_mixer_remove(self._m, i))

    def set_gain(self, pid, double gain):
        """Scales what the others hear of pid (linear, 0..MAX_GAIN)."""
        cdef uint32_t i = _id(pid)
        _gain(gain)
        self._missing(i, c.oh_mixer_set_gain(self._m, i, gain))

    def mute(self, pid, bint muted=True):
        """Mutes (or unmutes) pid for the others; pid still hears them."""
        cdef uint32_t i = _id(pid)
        self._missing(i, c.oh_mixer_set_mute(self._m, i, muted))

    def gain(self, pid):
        cdef uint32_t i = _id(pid)
        cdef double g
        self._missing(i, c.oh_mixer_find(self._m, i, &g, NULL) - 1)
        return g

    def is_muted(self, pid):
        cdef uint32_t i = _id(pid)
        cdef int muted
        self._missing(i, c.oh_mixer_find(self._m, i, NULL, &muted) - 1)
        return muted != 0

    cdef const int16_t *_frame(self, object frame, Borrowed *view) except NULL:
        acquire_pcm(frame, view, "ConferenceMixer", "input frame")
        if view.len != self.frame_size * 2:
            n = view.len // 2
            release(view)
            raise MixerError(f"ConferenceMixer input frame must be {self.frame_size} samples "
                             f"({1000 * self.frame_size // self.sample_rate} ms at "
                             f"{self.sample_rate} Hz), got {n}")
        return <const int16_t *>view.buf

    def put(self, pid, frame):
        """Stages pid's frame (1-D int16, frame_size samples) for the next tick."""
        cdef uint32_t i = _id(pid)
        cdef Borrowed view
        cdef const int16_t *data = self._frame(frame, &view)
        cdef int r = c.oh_mixer_put(self._m, i, data)
        release(&view)
        self._missing(i, r)

    def tick(self):
        """Mixes the frames put since the last tick; get() reads the results."""
        with nogil:
            c.oh_mixer_mix(self._m)

    def get(self, pid):
        """pid's output of the last tick (a new int16 array of frame_size samples)."""
        cdef uint32_t i = _id(pid)
        cdef const int16_t *src = c.oh_mixer_output(self._m, i)
        if src == NULL:
            self._missing(i, -1)
        cdef cnp.ndarray out = new_pcm(self.frame_size)
        memcpy(cnp.PyArray_DATA(out), src, self.frame_size * sizeof(int16_t))
        return out

    def mix(self, inputs=None):
        """One tick: puts inputs ({id: frame}), mixes, returns {id: output} for everyone.

        Participants missing from inputs are silent this tick. Nothing is
        staged unless every id and frame is valid.
        """
        cdef Borrowed view
        cdef uint32_t i
        if inputs:
            for pid, frame in inputs.items():  # check everything before staging anything
                i = _id(pid)
                if c.oh_mixer_find(self._m, i, NULL, NULL) == 0:
                    self._missing(i, -1)
                self._frame(frame, &view)
                release(&view)
            for pid, frame in inputs.items():
                c.oh_mixer_put(self._m, _id(pid), self._frame(frame, &view))
                release(&view)
        with nogil:
            c.oh_mixer_mix(self._m)
        cdef int n = c.oh_mixer_ids(self._m, self._ids, self.max_participants)
        cdef size_t nbytes = self.frame_size * sizeof(int16_t)
        cdef cnp.ndarray out
        result = {}
        for k in range(n):
            out = new_pcm(self.frame_size)
            memcpy(cnp.PyArray_DATA(out), c.oh_mixer_output(self._m, self._ids[k]), nbytes)
            result[self._ids[k]] = out
        return result

    def reset(self):
        """Drops staged frames and the last outputs; participants and settings stay."""
        c.oh_mixer_reset(self._m)
