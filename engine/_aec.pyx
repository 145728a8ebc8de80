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

    def process(self, near, far, near_valid=None):
        """Cancels one frame: near (microphone) and far (played) int16 frames -> int16 output.

        near_valid: where the microphone signal ends when the capture ran short (the rest of
        `near` is a gap: its 10 ms blocks come out silent and teach nothing); default all.
        """
        cdef int valid = self.frame_size if near_valid is None else near_valid
        if valid < 0 or valid > self.frame_size:
            raise EchoCancellerError(
                f"echo canceller near_valid must be 0..{self.frame_size}, not {near_valid}")
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
                r = c.oh_aec_process_partial(self._aec, <const int16_t *>n.buf, valid,
                                             <const int16_t *>f.buf, <int16_t *>cnp.PyArray_DATA(out))
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
        return c.aec_stats_dict(&s)

    def slip(self, int capture=0, int playback=0):
        """The two streams slipped against each other, the room unchanged; the filter moves with
        the echo instead of re-adapting. capture: samples the near stream gained (+: a gap of
        silence whose samples come later) or lost (-: shed) after the frame just processed,
        effective from the next frame. playback: the same for what the loudspeaker played
        against the far frames given (+: silence played in an underrun, -: a far frame never
        played), effective when its echo arrives. A real change of the echo path is found
        without this."""
        check(c.oh_aec_slip(self._aec, capture, playback), EchoCancellerError, "echo canceller slip")

    def reset(self):
        """Forgets the echo path, delay and statistics, as at creation."""
        c.oh_aec_reset(self._aec)
