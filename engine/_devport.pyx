# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""DevicePort: the hand-over point between a sound device and the engine.

A port is two lock-free SPSC rings (csrc/oh_ring.c) at the engine's rate, with
a resampler on each device side:

    capture:   device callback --push_capture(block)--> [resample] -> ring -> pull_capture(n) --> engine
    playback:  engine --push_playback(frame)--> ring -> [resample] --pull_playback(block)--> device callback

"Frames go in on one side and come out on the other." Each of the four calls
belongs to one thread: push_capture to the capture device's callback,
pull_playback to the playback device's callback, pull_capture and
push_playback to the engine's (media) thread. Copying, down-mixing and
resampling run with the GIL released; nothing allocates in the device-side
calls. A short write (ring full) is an overrun, a short read (ring empty) an
underrun: both are counted by the rings and the missing samples are zeros.

The rings hold mono int16 at `engine_rate`; device blocks are interleaved
int16 with `channels` channels at `device_rate` (capture is down-mixed by
averaging, playback is copied to every channel). The C media thread can take
the rings themselves through `capture_ring` / `playback_ring` (PyCapsules named
"offhook.oh_ring" holding an `oh_ring *`): it then becomes the capture ring's
consumer and the playback ring's producer, in place of the Python calls.
"""
from cpython.buffer cimport PyBUF_C_CONTIGUOUS, PyBUF_WRITABLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.pycapsule cimport PyCapsule_New
from libc.stdint cimport int16_t, int32_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy, memmove, memset

cimport numpy as cnp
cimport oh_resampler as rs
cimport oh_ring as rg
from _buffers cimport new_pcm
from _status cimport check

from offhook.errors import DeviceFormatError

cnp.import_array()

ENGINE_RATES = (8000, 16000, 32000, 48000)
DEVICE_RATES = (8000, 16000, 22050, 32000, 44100, 48000)
MAX_CHANNELS = 8
# Device samples handled per resampler call; longer blocks are cut into chunks of this size.
cdef enum:
    CHUNK = 4096


cdef size_t _pow2_at_least(size_t n) noexcept:
    cdef size_t p = 2
    while p < n:
        p <<= 1
    return p


cdef class DevicePort:
    """DevicePort(engine_rate, device_rate, channels=1, buffer_ms=200).

    engine_rate: 8000, 16000, 32000 or 48000 Hz (the rings' rate).
    device_rate: the sound device's rate (44100 or 48000 usually; 8000..48000).
    channels: interleaved channels of the device blocks (1..8).
    buffer_ms: capacity of each ring (rounded up to a power of two of samples);
        more audio than this waiting on either side is an overrun.
    """
    cdef rg.oh_ring *_cap
    cdef rg.oh_ring *_play
    cdef rs.oh_resampler *_rs_cap   # device -> engine rate, capture thread only
    cdef rs.oh_resampler *_rs_play  # engine -> device rate, playback thread only
    cdef int16_t *_cap_mono         # CHUNK device frames, down-mixed
    cdef int16_t *_cap_eng          # resampled chunk
    cdef size_t _cap_eng_len
    cdef int16_t *_play_eng         # engine samples read for one refill
    cdef size_t _play_eng_len
    cdef int16_t *_fifo             # device-rate playback samples resampled but not yet handed out
    cdef size_t _fifo_len, _fifo_cap
    cdef int _up, _down             # device_rate / engine_rate = _up / _down
    cdef readonly int engine_rate
    cdef readonly int device_rate
    cdef readonly int channels

    def __cinit__(self, int engine_rate, int device_rate, int channels=1, int buffer_ms=200):
        cdef rg.oh_ring_config rcfg
        cdef rs.oh_resampler_config scfg
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
        self.engine_rate = engine_rate
        self.device_rate = device_rate
        self.channels = channels
        rg.oh_ring_config_default(&rcfg)
        rcfg.capacity = _pow2_at_least(<size_t>engine_rate * buffer_ms // 1000)
        check(rg.oh_ring_create(&rcfg, &self._cap), DeviceFormatError, "DevicePort capture ring")
        check(rg.oh_ring_create(&rcfg, &self._play), DeviceFormatError, "DevicePort playback ring")
        rs.oh_resampler_config_default(&scfg)
        scfg.in_rate, scfg.out_rate, scfg.channels = device_rate, engine_rate, 1
        check(rs.oh_resampler_create(&scfg, &self._rs_cap), DeviceFormatError,
              f"DevicePort resampler {device_rate} -> {engine_rate} Hz")
        scfg.in_rate, scfg.out_rate = engine_rate, device_rate
        check(rs.oh_resampler_create(&scfg, &self._rs_play), DeviceFormatError,
              f"DevicePort resampler {engine_rate} -> {device_rate} Hz")
        self._up = rs.oh_resampler_up(self._rs_play)
        self._down = rs.oh_resampler_down(self._rs_play)
        # Bounds: n input frames give at most n * out / in + 1 output frames.
        self._cap_eng_len = <size_t>CHUNK * engine_rate // device_rate + 2
        self._play_eng_len = <size_t>CHUNK * engine_rate // device_rate + 2
        self._fifo_cap = <size_t>CHUNK + <size_t>self._play_eng_len * device_rate // engine_rate + 4
        self._cap_mono = <int16_t *>malloc(CHUNK * sizeof(int16_t))
        self._cap_eng = <int16_t *>malloc(self._cap_eng_len * sizeof(int16_t))
        self._play_eng = <int16_t *>malloc(self._play_eng_len * sizeof(int16_t))
        self._fifo = <int16_t *>malloc(self._fifo_cap * sizeof(int16_t))
        if not (self._cap_mono and self._cap_eng and self._play_eng and self._fifo):
            raise MemoryError("DevicePort buffers")
        self._fifo_len = 0

    def __dealloc__(self):
        rg.oh_ring_destroy(self._cap)
        rg.oh_ring_destroy(self._play)
        rs.oh_resampler_destroy(self._rs_cap)
        rs.oh_resampler_destroy(self._rs_play)
        free(self._cap_mono)
        free(self._cap_eng)
        free(self._play_eng)
        free(self._fifo)

    def __repr__(self):
        return (f"<offhook DevicePort engine {self.engine_rate} Hz <-> device {self.device_rate} Hz, "
                f"{self.channels} channel(s), rings of {self.capacity} samples>")

    @property
    def capacity(self):
        """Samples (at engine_rate) each ring holds."""
        return rg.oh_ring_capacity(self._cap)

    @property
    def latency(self):
        """(capture, playback) resampler group delays in engine-rate samples."""
        cap = rs.oh_resampler_latency(self._rs_cap)
        play = rs.oh_resampler_latency(self._rs_play) * self.engine_rate // self.device_rate
        return cap, play

    # -- device side: called from PortAudio callbacks -----------------------------------
    def push_capture(self, block):
        """Capture callback: stores a block of interleaved int16 device samples (any
        contiguous buffer: bytes, a cffi buffer, a NumPy array), resampled to the engine
        rate. Returns the engine samples stored (fewer than produced = overrun)."""
        cdef Py_buffer view
        cdef size_t frames, done = 0, k, stored = 0, i
        cdef int got, ch, c
        cdef int32_t acc
        cdef const int16_t *src
        PyObject_GetBuffer(block, &view, PyBUF_C_CONTIGUOUS)
        try:
            ch = self.channels
            if view.len % (2 * ch):
                raise DeviceFormatError(f"capture block of {view.len} bytes is not a whole number of "
                                  f"{ch}-channel int16 frames")
            frames = <size_t>view.len // (2 * ch)
            src = <const int16_t *>view.buf
            with nogil:
                while done < frames:
                    k = frames - done
                    if k > CHUNK:
                        k = CHUNK
                    if ch == 1:
                        memcpy(self._cap_mono, src + done, k * sizeof(int16_t))
                    else:
                        for i in range(k):
                            acc = 0
                            for c in range(ch):
                                acc = acc + src[(done + i) * ch + c]
                            self._cap_mono[i] = <int16_t>(acc // ch)
                    got = rs.oh_resampler_process(self._rs_cap, self._cap_mono, k,
                                                  self._cap_eng, self._cap_eng_len)
                    if got > 0:
                        stored += rg.oh_ring_write(self._cap, self._cap_eng, <size_t>got)
                    done += k
        finally:
            PyBuffer_Release(&view)
        return stored

    def pull_playback(self, block):
        """Playback callback: fills a writable block of interleaved int16 device samples
        from the playback ring, resampled to the device rate; what the engine has not
        supplied is silence (an underrun). Returns the frames filled."""
        cdef Py_buffer view
        cdef size_t frames, done = 0, k, need, want, got, i
        cdef int out, ch, c
        cdef int16_t *dst
        PyObject_GetBuffer(block, &view, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE)
        try:
            ch = self.channels
            if view.len % (2 * ch):
                raise DeviceFormatError(f"playback block of {view.len} bytes is not a whole number of "
                                  f"{ch}-channel int16 frames")
            frames = <size_t>view.len // (2 * ch)
            dst = <int16_t *>view.buf
            with nogil:
                while done < frames:
                    k = frames - done
                    if k > CHUNK:
                        k = CHUNK
                    while self._fifo_len < k:
                        need = k - self._fifo_len
                        want = (need * <size_t>self._down + <size_t>self._up - 1) // <size_t>self._up
                        if want > self._play_eng_len - 1:
                            want = self._play_eng_len - 1
                        if want < 1:
                            want = 1
                        got = rg.oh_ring_read(self._play, self._play_eng, want)
                        if got < want:  # underrun: the gap is played as silence
                            memset(self._play_eng + got, 0, (want - got) * sizeof(int16_t))
                        out = rs.oh_resampler_process(self._rs_play, self._play_eng, want,
                                                      self._fifo + self._fifo_len,
                                                      self._fifo_cap - self._fifo_len)
                        if out < 0:  # cannot happen with the bounds above; play silence
                            memset(self._fifo + self._fifo_len, 0, need * sizeof(int16_t))
                            out = <int>need
                        self._fifo_len += <size_t>out
                    if ch == 1:
                        memcpy(dst + done, self._fifo, k * sizeof(int16_t))
                    else:
                        for i in range(k):
                            for c in range(ch):
                                dst[(done + i) * ch + c] = self._fifo[i]
                    self._fifo_len -= k
                    memmove(self._fifo, self._fifo + k, self._fifo_len * sizeof(int16_t))
                    done += k
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
            stored = rg.oh_ring_write(self._play, &mv[0], n)
        return stored

    def pull_capture(self, Py_ssize_t n):
        """Engine: the next n mono int16 samples at engine_rate from the capture device;
        samples not yet captured are zeros (an underrun)."""
        cdef cnp.ndarray out
        cdef size_t got
        cdef int16_t *dst
        if n < 0:
            raise DeviceFormatError(f"pull_capture needs a sample count >= 0, got {n}")
        out = new_pcm(n)
        if n == 0:
            return out
        dst = <int16_t *>cnp.PyArray_DATA(out)
        with nogil:
            got = rg.oh_ring_read(self._cap, dst, <size_t>n)
            if got < <size_t>n:
                memset(dst + got, 0, (<size_t>n - got) * sizeof(int16_t))
        return out

    @property
    def capture_available(self):
        """Captured engine-rate samples waiting to be pulled."""
        return rg.oh_ring_available(self._cap)

    @property
    def playback_queued(self):
        """Engine-rate samples queued for the playback device."""
        return rg.oh_ring_available(self._play)

    def stats(self):
        """Counters of both rings: {"capture": {...}, "playback": {...}} with written, read,
        overruns, dropped, underruns, missing (calls and samples, engine rate)."""
        return {"capture": _stats(self._cap), "playback": _stats(self._play)}

    def reset(self):
        """Empties both rings, zeroes the counters and the resampler history.
        Only while no device callback and no engine thread is using the port."""
        rg.oh_ring_reset(self._cap)
        rg.oh_ring_reset(self._play)
        rs.oh_resampler_reset(self._rs_cap)
        rs.oh_resampler_reset(self._rs_play)
        self._fifo_len = 0

    @property
    def capture_ring(self):
        """PyCapsule "offhook.oh_ring" of the capture ring (the engine reads it). Valid while
        this port is alive; keep a reference to the port."""
        return PyCapsule_New(<void *>self._cap, b"offhook.oh_ring", NULL)

    @property
    def playback_ring(self):
        """PyCapsule "offhook.oh_ring" of the playback ring (the engine writes it)."""
        return PyCapsule_New(<void *>self._play, b"offhook.oh_ring", NULL)


cdef dict _stats(rg.oh_ring *ring):
    cdef rg.oh_ring_stats s
    rg.oh_ring_get_stats(ring, &s)
    return {"written": s.written, "read": s.read, "overruns": s.overruns, "dropped": s.dropped,
            "underruns": s.underruns, "missing": s.missing}


def _describe(obj):
    dtype = getattr(obj, "dtype", None)
    if dtype is not None:
        return f"a {dtype} array of shape {getattr(obj, 'shape', None)}"
    return f"a {type(obj).__name__}"
