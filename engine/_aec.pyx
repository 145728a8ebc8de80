# cython: language_level=3, boundscheck=False, wraparound=False
"""The C core's acoustic echo canceller (oh_aec), one instance per call leg."""
from libc.stdint cimport int16_t

cimport numpy as cnp

cimport oh_aec as c
from _buffers cimport Borrowed, acquire_pcm, new_pcm, release
from _status cimport check

cnp.import_array()

from offhook.errors import EchoCancellerError

_RATES = (8000, 16000, 32000, 48000)


cdef class EchoCanceller:
    """Removes the echo of `far` (what the loudspeaker played) from `near` (the microphone).

    EchoCanceller(sample_rate=16000, frame_size=160, *, tail_ms=128,
    max_delay_ms=500, suppression=True, comfort_noise=True). Frames are
    10 or 20 ms of mono int16. With suppression on, the output lags the
    microphone by `latency` samples.
    """
    cdef c.oh_aec *_aec
    cdef readonly int sample_rate
    cdef readonly int frame_size
    cdef readonly int latency

    def __cinit__(self, int sample_rate=16000, int frame_size=160, *, int tail_ms=128,
                  int max_delay_ms=500, bint suppression=True, bint comfort_noise=True):
        cdef c.oh_aec_config cfg
        if sample_rate not in _RATES:
            raise EchoCancellerError(
                f"echo canceller sample_rate must be 8000, 16000, 32000 or 48000 Hz, not {sample_rate}")
        if frame_size not in (sample_rate // 100, sample_rate // 50):
            raise EchoCancellerError(
                f"echo canceller frame_size must be 10 or 20 ms ({sample_rate // 100} or "
                f"{sample_rate // 50} samples at {sample_rate} Hz), not {frame_size}")
        if not 64 <= tail_ms <= 500:
            raise EchoCancellerError(f"echo canceller tail_ms must be 64..500, not {tail_ms}")
        if not 0 <= max_delay_ms <= 500:
            raise EchoCancellerError(f"echo canceller max_delay_ms must be 0..500, not {max_delay_ms}")
        c.oh_aec_config_default(&cfg)
        cfg.sample_rate = sample_rate
        cfg.frame_size = frame_size
        cfg.tail_ms = tail_ms
        cfg.max_delay_ms = max_delay_ms
        cfg.suppression = suppression
        cfg.comfort_noise = comfort_noise
        check(c.oh_aec_create(&cfg, &self._aec), EchoCancellerError, "echo canceller create")
        self.sample_rate = sample_rate
        self.frame_size = frame_size
        self.latency = c.oh_aec_latency(self._aec)

    def __dealloc__(self):
        c.oh_aec_destroy(self._aec)

    def __repr__(self):
        return f"<offhook EchoCanceller {self.sample_rate} Hz, {self.frame_size}-sample frames>"

    def process(self, near, far):
        """Cancels one frame: near (microphone) and far (played) int16 frames -> int16 output."""
        cdef Borrowed n, f
        acquire_pcm(near, &n, "echo canceller", "near frame")
        try:
            acquire_pcm(far, &f, "echo canceller", "far frame")
        except BaseException:
            release(&n)
            raise
        cdef cnp.ndarray out
        cdef int r
        try:
            if n.len != 2 * self.frame_size or f.len != 2 * self.frame_size:
                raise EchoCancellerError(
                    f"echo canceller frames must be {self.frame_size} samples, got near "
                    f"{n.len // 2} and far {f.len // 2}")
            out = new_pcm(self.frame_size)
            with nogil:
                r = c.oh_aec_process(self._aec, <const int16_t *>n.buf, <const int16_t *>f.buf,
                                     <int16_t *>cnp.PyArray_DATA(out))
        finally:
            release(&f)
            release(&n)
        if r < 0:
            check(r, EchoCancellerError, "echo canceller process")
        return out

    def stats(self):
        """ERLE estimates (dB), delays (ms), double-talk and convergence state, counters."""
        cdef c.oh_aec_stats s
        c.oh_aec_get_stats(self._aec, &s)
        return {"erle_db": s.erle_db, "linear_erle_db": s.linear_erle_db,
                "delay_ms": s.delay_ms, "bulk_delay_ms": s.bulk_delay_ms,
                "double_talk": bool(s.double_talk), "far_active": bool(s.far_active),
                "converged": bool(s.converged), "drift_ppm": s.drift_ppm,
                "divergence_resets": s.divergence_resets,
                "delay_changes": s.delay_changes, "frames": s.frames}

    def reset(self):
        """Forgets the echo path, delay and statistics, as at creation."""
        c.oh_aec_reset(self._aec)
