# cython: language_level=3, boundscheck=False, wraparound=False
"""Call-progress tones and DTMF backed by the C core's oh_tone and oh_dtmf.

Names, ranges and messages a user sees live in offhook.media.tones; this
module takes the C enum values and only moves buffers.
"""
from libc.stdint cimport int16_t

cimport numpy as cnp

cimport oh_dtmf as d
cimport oh_tone as t
from _buffers cimport Borrowed, acquire_pcm, new_pcm, release
from _status cimport check

cnp.import_array()


cdef cnp.ndarray _new_output(Py_ssize_t n):
    if n < 0:
        raise ValueError(f"sample count must be >= 0, got {n}")
    return new_pcm(n)


PROFILE_US = t.OH_TONE_PROFILE_US
PROFILE_ETSI = t.OH_TONE_PROFILE_ETSI
PROFILE_UK = t.OH_TONE_PROFILE_UK
TONE_DIAL = t.OH_TONE_DIAL
TONE_RINGBACK = t.OH_TONE_RINGBACK
TONE_BUSY = t.OH_TONE_BUSY
TONE_CONGESTION = t.OH_TONE_CONGESTION
TONE_CALL_WAITING = t.OH_TONE_CALL_WAITING
DBM0_FULL_SCALE = t.OH_DBM0_FULL_SCALE


def cadence(int profile, int tone):
    """The cadence table: a tuple of ((frequencies...), duration_ms); 0 ms = forever."""
    cdef const t.oh_tone_segment *seg
    cdef size_t n
    check(t.oh_tone_cadence(<t.oh_tone_profile>profile, <t.oh_tone_id>tone, &seg, &n),
          ValueError, f"cadence of tone {tone} in profile {profile}")
    return tuple((tuple(f for f in seg[i].freq_hz[:2] if f), seg[i].duration_ms) for i in range(n))


cdef class ToneGenerator:
    """A looping call-progress tone (see offhook.media.tones.ToneGenerator)."""
    cdef t.oh_tone *_tone

    def __cinit__(self, int profile, int tone, int sample_rate, double level_dbm0):
        cdef t.oh_tone_config cfg
        t.oh_tone_config_default(&cfg)
        cfg.profile = <t.oh_tone_profile>profile
        cfg.tone = <t.oh_tone_id>tone
        cfg.sample_rate = sample_rate
        cfg.level_dbm0 = level_dbm0
        check(t.oh_tone_create(&cfg, &self._tone), ValueError, "tone generator create")

    def __dealloc__(self):
        t.oh_tone_destroy(self._tone)

    def generate(self, Py_ssize_t n):
        """The next n samples (int16)."""
        cdef cnp.ndarray pcm = _new_output(n)
        cdef int16_t *out = <int16_t *>cnp.PyArray_DATA(pcm)
        cdef int r
        with nogil:
            r = t.oh_tone_generate(self._tone, out, n)
        check(r, ValueError, f"tone generation of {n} samples")
        return pcm

    def reset(self):
        t.oh_tone_reset(self._tone)


cdef class DtmfGenerator:
    """Queued DTMF digits rendered as PCM."""
    cdef d.oh_dtmf_gen *_gen

    def __cinit__(self, int sample_rate, double level_dbm0, double twist_db,
                  int on_ms, int off_ms, size_t max_queued):
        cdef d.oh_dtmf_gen_config cfg
        d.oh_dtmf_gen_config_default(&cfg)
        cfg.sample_rate = sample_rate
        cfg.level_dbm0 = level_dbm0
        cfg.twist_db = twist_db
        cfg.on_ms = on_ms
        cfg.off_ms = off_ms
        cfg.max_queued = max_queued
        check(d.oh_dtmf_gen_create(&cfg, &self._gen), ValueError, "DTMF generator create")

    def __dealloc__(self):
        d.oh_dtmf_gen_destroy(self._gen)

    def send(self, bytes digits not None):
        check(d.oh_dtmf_gen_send(self._gen, digits), ValueError, f"DTMF send of {digits!r}")

    def pending(self):
        """Samples still to play before the queue is empty."""
        return d.oh_dtmf_gen_pending(self._gen)

    def generate(self, Py_ssize_t n):
        """The next n samples (int16): queued digits, then silence."""
        cdef cnp.ndarray pcm = _new_output(n)
        cdef int16_t *out = <int16_t *>cnp.PyArray_DATA(pcm)
        cdef int r
        with nogil:
            r = d.oh_dtmf_gen_generate(self._gen, out, n)
        check(r, ValueError, f"DTMF generation of {n} samples")
        return pcm

    def reset(self):
        d.oh_dtmf_gen_reset(self._gen)


cdef class DtmfDetector:
    """Goertzel DTMF receiver; completed digits come back as (digit, start, duration)."""
    cdef d.oh_dtmf_det *_det

    def __cinit__(self, int sample_rate, double min_level_dbm0, double normal_twist_db,
                  double reverse_twist_db):
        cdef d.oh_dtmf_det_config cfg
        d.oh_dtmf_det_config_default(&cfg)
        cfg.sample_rate = sample_rate
        cfg.min_level_dbm0 = min_level_dbm0
        cfg.normal_twist_db = normal_twist_db
        cfg.reverse_twist_db = reverse_twist_db
        check(d.oh_dtmf_det_create(&cfg, &self._det), ValueError, "DTMF detector create")

    def __dealloc__(self):
        d.oh_dtmf_det_destroy(self._det)

    cdef list _drain(self, list events):
        cdef d.oh_dtmf_event ev
        while d.oh_dtmf_det_get_event(self._det, &ev):
            events.append((chr(ev.digit), ev.start, ev.duration))
        return events

    def process(self, pcm):
        """Analyses pcm (1-D C-contiguous int16); returns the digits that ended within it."""
        cdef Borrowed b
        acquire_pcm(pcm, &b, "DTMF detector", "input")
        cdef const int16_t *data = <const int16_t *>b.buf
        cdef size_t n = <size_t>b.len // sizeof(int16_t)
        cdef size_t done = 0
        cdef int r
        events = []
        try:
            while done < n:
                with nogil:
                    r = d.oh_dtmf_det_process(self._det, data + done, n - done)
                check(r, ValueError, f"DTMF detection of {n} samples")
                done += r
                self._drain(events)  # the queue was full if r < n - done
        finally:
            release(&b)
        return events

    def flush(self):
        """Ends a digit still sounding; returns it (or nothing)."""
        check(d.oh_dtmf_det_flush(self._det), ValueError, "DTMF flush")
        return self._drain([])

    def reset(self):
        d.oh_dtmf_det_reset(self._det)
