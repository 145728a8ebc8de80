# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""DevicePort: the hand-over point between a sound device and the engine (csrc/oh_devport.c).

A port is two lock-free SPSC rings at the engine's rate, with a resampler on each
device side:

    capture:   device callback --push_capture(block)--> [resample] -> ring -> pull_capture(n) --> engine
    playback:  engine --push_playback(frame)--> ring -> [resample] --pull_playback(block)--> device callback

"Frames go in on one side and come out on the other." Each of the four calls
belongs to one thread: push_capture to the capture device's callback,
pull_playback to the playback device's callback, pull_capture and
push_playback to the engine's (media) thread. Copying, down-mixing and
resampling run in C with the GIL released; nothing allocates in the device-side
calls. A short write (ring full) is an overrun, a short read (ring empty) an
underrun: both are counted and the missing samples are zeros.

The rings hold mono int16 at `engine_rate`; device blocks are interleaved
int16 with `channels` channels at `device_rate` (capture is down-mixed by
averaging, playback is copied to every channel). MediaEngine.attach_audio(port)
makes the C media thread the capture ring's consumer and the playback ring's
producer, in place of the Python calls.
"""
from cpython.buffer cimport PyBUF_C_CONTIGUOUS, PyBUF_WRITABLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.pycapsule cimport PyCapsule_New
from libc.stdint cimport int16_t

cimport numpy as cnp
cimport oh_devport as dp
cimport oh_resampler as rs
from oh_ring cimport oh_ring_stats
from _buffers cimport new_pcm
from _status cimport check

from offhook.errors import DeviceFormatError

cnp.import_array()

ENGINE_RATES = (8000, 16000, 32000, 48000)
DEVICE_RATES = (8000, 16000, 22050, 32000, 44100, 48000)
MAX_CHANNELS = dp.OH_DEVPORT_MAX_CHANNELS


cdef class DevicePort:
    """DevicePort(engine_rate, device_rate, channels=1, buffer_ms=200).

    engine_rate: 8000, 16000, 32000 or 48000 Hz (the rings' rate).
    device_rate: the sound device's rate (44100 or 48000 usually; 8000..48000).
    channels: interleaved channels of the device blocks (1..8).
    buffer_ms: capacity of each ring (rounded up to a power of two of samples);
        more audio than this waiting on either side is an overrun.
    """
    cdef dp.oh_devport *_p
    cdef readonly int engine_rate
    cdef readonly int device_rate
    cdef readonly int channels

    def __cinit__(self, int engine_rate, int device_rate, int channels=1, int buffer_ms=200):
        if engine_rate not in ENGINE_RATES:
            raise DeviceFormatError(f"engine_rate must be one of {', '.join(map(str, ENGINE_RATES))} Hz, "
                              f"got {engine_rate}")
        if not rs.OH_RESAMPLER_MIN_RATE <= device_rate <= rs.OH_RESAMPLER_MAX_RATE:
            raise DeviceFormatError(f"device_rate must be {rs.OH_RESAMPLER_MIN_RATE}.."
                              f"{rs.OH_RESAMPLER_MAX_RATE} Hz (44100 or 48000 usually), got {device_rate}")
        if not 1 <= channels <= MAX_CHANNELS:
            raise DeviceFormatError(f"channels must be 1..{MAX_CHANNELS}, got {channels}")
        if not 10 <= buffer_ms <= 10000:
            raise DeviceFormatError(f"buffer_ms must be 10..10000 ms, got {buffer_ms}")
        cdef dp.oh_devport_config cfg
        dp.oh_devport_config_default(&cfg)
        cfg.engine_rate, cfg.device_rate, cfg.channels, cfg.buffer_ms = engine_rate, device_rate, channels, buffer_ms
        check(dp.oh_devport_create(&cfg, &self._p), DeviceFormatError,
              f"DevicePort {device_rate} Hz x {channels} <-> {engine_rate} Hz")
        self.engine_rate = engine_rate
        self.device_rate = device_rate
        self.channels = channels

    def __dealloc__(self):
        dp.oh_devport_destroy(self._p)

    def __repr__(self):
        return (f"<offhook DevicePort engine {self.engine_rate} Hz <-> device {self.device_rate} Hz, "
                f"{self.channels} channel(s), rings of {self.capacity} samples>")

    @property
    def capacity(self):
        """Samples (at engine_rate) each ring holds."""
        return dp.oh_devport_capacity(self._p)

    @property
    def latency(self):
        """(capture, playback) resampler group delays in engine-rate samples."""
        cdef int cap = 0, play = 0
        dp.oh_devport_latency(self._p, &cap, &play)
        return cap, play

    # -- device side: called from PortAudio callbacks -----------------------------------
    def push_capture(self, block):
        """Capture callback: stores a block of interleaved int16 device samples (any
        contiguous buffer: bytes, a cffi buffer, a NumPy array), resampled to the engine
        rate. Returns the engine samples stored (fewer than produced = overrun)."""
        cdef Py_buffer view
        cdef size_t frames, stored
        PyObject_GetBuffer(block, &view, PyBUF_C_CONTIGUOUS)
        try:
            if view.len % (2 * self.channels):
                raise DeviceFormatError(f"capture block of {view.len} bytes is not a whole number of "
                                  f"{self.channels}-channel int16 frames")
            frames = <size_t>view.len // (2 * self.channels)
            with nogil:
                stored = dp.oh_devport_push_capture(self._p, <const int16_t *>view.buf, frames)
        finally:
            PyBuffer_Release(&view)
        return stored

    def pull_playback(self, block):
        """Playback callback: fills a writable block of interleaved int16 device samples
        from the playback ring, resampled to the device rate; what the engine has not
        supplied is silence (an underrun). Returns the frames filled."""
        cdef Py_buffer view
        cdef size_t frames
        PyObject_GetBuffer(block, &view, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE)
        try:
            if view.len % (2 * self.channels):
                raise DeviceFormatError(f"playback block of {view.len} bytes is not a whole number of "
                                  f"{self.channels}-channel int16 frames")
            frames = <size_t>view.len // (2 * self.channels)
            with nogil:
                frames = dp.oh_devport_pull_playback(self._p, <int16_t *>view.buf, frames)
        finally:
            PyBuffer_Release(&view)
        return frames

    # -- engine side: called from the media thread --------------------------------------
    def push_playback(self, pcm):
        """Engine: queues mono int16 samples at engine_rate for the playback device.
        Returns how many were stored (fewer = overrun: the device is not keeping up)."""
        cdef const int16_t[::1] mv
        cdef size_t n, stored
        try:
            mv = pcm
        except (TypeError, ValueError, BufferError):
            raise DeviceFormatError(f"push_playback takes a 1-D C-contiguous int16 array, "
                              f"got {_describe(pcm)}") from None
        n = mv.shape[0]
        if n == 0:
            return 0
        with nogil:
            stored = dp.oh_devport_push_playback(self._p, &mv[0], n)
        return stored

    def pull_capture(self, Py_ssize_t n):
        """Engine: the next n mono int16 samples at engine_rate from the capture device;
        samples not yet captured are zeros (an underrun)."""
        cdef cnp.ndarray out
        cdef int16_t *dst
        if n < 0:
            raise DeviceFormatError(f"pull_capture needs a sample count >= 0, got {n}")
        out = new_pcm(n)
        if n == 0:
            return out
        dst = <int16_t *>cnp.PyArray_DATA(out)
        with nogil:
            dp.oh_devport_pull_capture(self._p, dst, <size_t>n)
        return out

    @property
    def capture_available(self):
        """Captured engine-rate samples waiting to be pulled."""
        return dp.oh_devport_capture_available(self._p)

    @property
    def playback_queued(self):
        """Engine-rate samples queued for the playback device."""
        return dp.oh_devport_playback_queued(self._p)

    def stats(self):
        """Counters of both rings: {"capture": {...}, "playback": {...}} with written, read,
        overruns, dropped, underruns, missing (calls and samples, engine rate)."""
        cdef dp.oh_devport_stats s
        dp.oh_devport_get_stats(self._p, &s)
        return {"capture": _ring_stats(&s.capture), "playback": _ring_stats(&s.playback)}

    def reset(self):
        """Empties both rings, zeroes the counters and the resampler history.
        Only while no device callback and no engine thread is using the port."""
        dp.oh_devport_reset(self._p)

    @property
    def capture_ring(self):
        """PyCapsule "offhook.oh_ring" of the capture ring (the engine reads it). Valid while
        this port is alive; keep a reference to the port."""
        return PyCapsule_New(<void *>dp.oh_devport_capture_ring(self._p), b"offhook.oh_ring", NULL)

    @property
    def playback_ring(self):
        """PyCapsule "offhook.oh_ring" of the playback ring (the engine writes it)."""
        return PyCapsule_New(<void *>dp.oh_devport_playback_ring(self._p), b"offhook.oh_ring", NULL)

    @property
    def c_port(self):
        """PyCapsule "offhook.oh_devport" of the port (MediaEngine.attach_audio takes it).
        Valid while this port is alive; keep a reference to the port."""
        return PyCapsule_New(<void *>self._p, b"offhook.oh_devport", NULL)


cdef dict _ring_stats(const oh_ring_stats *s):
    return {"written": s.written, "read": s.read, "overruns": s.overruns, "dropped": s.dropped,
            "underruns": s.underruns, "missing": s.missing}


def _describe(obj):
    dtype = getattr(obj, "dtype", None)
    if dtype is not None:
        return f"a {dtype} array of shape {getattr(obj, 'shape', None)}"
    return f"a {type(obj).__name__}"
