# cython: language_level=3, boundscheck=False, wraparound=False
"""The adaptive jitter buffer of the C core (oh_jitter), one per RTP stream.

Only moves arguments and results; the algorithm is in csrc/oh_jitter.c.
put/get keep the GIL: each call takes well under a microsecond, less than
releasing and retaking it would cost.
"""
from cpython.bytes cimport PyBytes_FromStringAndSize
from libc.math cimport isfinite
from libc.stdint cimport int16_t, uint8_t, uint16_t, uint32_t
from libc.string cimport memcpy

cimport numpy as cnp

cimport oh_jitter as c
cimport oh_playout as p
cimport oh_tsm as t
from _buffers cimport Borrowed, acquire_bytes, acquire_pcm, new_pcm, release
from _status cimport check
from oh_status cimport OH_EBUFSIZE
from oh_codec cimport oh_codec_id

from enum import IntEnum

from offhook.media.codecs import lookup

cnp.import_array()


class JitterStatus(IntEnum):
    """What one playout tick plays (see csrc/include/offhook/oh_jitter.h)."""
    NORMAL = c.OH_JITTER_NORMAL            # play the payload
    LOST = c.OH_JITTER_LOST                # conceal: missing while later frames are here
    LATE = c.OH_JITTER_LATE                # conceal: nothing here yet when its time came
    ACCELERATED = c.OH_JITTER_ACCELERATED  # payload and .last_skipped in one tick (b"": one 2-tick payload)
    EXPANDED = c.OH_JITTER_EXPANDED        # nothing consumed: stretch the previous audio
    SILENCE = c.OH_JITTER_SILENCE          # no stream yet, or a DTX gap
    CONTINUED = c.OH_JITTER_CONTINUED      # the previous payload still covers this tick


cdef tuple _STATUS = tuple(JitterStatus(i) for i in range(7))


cdef int _jitter_config(c.oh_jitter_config *cfg, int clock_rate, int frame_ms, int min_delay_ms,
                        int max_delay_ms, int capacity, int max_payload, double late_ratio,
                        double memory_s) except -1:
    """Checks the options with messages a user can act on, and fills cfg."""
    if clock_rate < 1000 or clock_rate > 192000:
        raise ValueError(f"clock_rate must be 1000..192000 Hz, got {clock_rate}")
    if frame_ms not in (10, 20):
        raise ValueError(f"frame_ms must be 10 or 20, got {frame_ms}")
    if clock_rate * frame_ms % 1000:
        raise ValueError(f"a {frame_ms} ms tick is not a whole number of samples at {clock_rate} Hz")
    if not 0 <= min_delay_ms <= max_delay_ms <= 10000:
        raise ValueError(f"need 0 <= min_delay_ms <= max_delay_ms <= 10000, "
                         f"got {min_delay_ms} and {max_delay_ms}")
    if not 16 <= capacity <= 4096 or capacity & (capacity - 1):
        raise ValueError(f"capacity must be a power of two in 16..4096, got {capacity}")
    if not 1 <= max_payload <= 65536:
        raise ValueError(f"max_payload must be 1..65536 bytes, got {max_payload}")
    if not 0.0005 <= late_ratio <= 0.2:
        raise ValueError(f"late_ratio must be 0.0005..0.2, got {late_ratio}")
    if not 2.0 <= memory_s <= 600.0:
        raise ValueError(f"memory_s must be 2..600 s, got {memory_s}")
    c.oh_jitter_config_default(cfg)
    cfg.clock_rate = clock_rate
    cfg.frame_ms = frame_ms
    cfg.min_delay_ms = min_delay_ms
    cfg.max_delay_ms = max_delay_ms
    cfg.capacity = capacity
    cfg.max_payload = max_payload
    cfg.late_ratio = late_ratio
    cfg.memory_s = memory_s
    return 0


cdef dict _stats_dict(const c.oh_jitter_stats *s):
    return {"current_delay_ms": s.current_delay_ms, "target_delay_ms": s.target_delay_ms,
            "received": s.received, "played": s.played, "late": s.late, "lost": s.lost,
            "concealed": s.concealed, "accelerated": s.accelerated, "expanded": s.expanded,
            "silence": s.silence, "duplicates": s.duplicates, "overflow": s.overflow,
            "resyncs": s.resyncs, "max_burst": s.max_burst, "comfort_noise": s.comfort_noise}


cdef int _put_flags(bint marker, bint comfort_noise):
    return (c.OH_JITTER_MARKER if marker else 0) | (c.OH_JITTER_COMFORT_NOISE if comfort_noise else 0)


cdef class JitterBuffer:
    """Adaptive jitter buffer: put() packets as they arrive, get() once per tick.

    JitterBuffer(clock_rate=8000, frame_ms=20, *, min_delay_ms=0, max_delay_ms=1000,
                 capacity=128, max_payload=512, late_ratio=0.0095, memory_s=20.0,
                 fec_delay=False)

    fec_delay: one packet more delay while the link is lossy (see Playout).
    clock_rate is the RTP timestamp rate (Hz); frame_ms the playout tick (10 or
    20). Times are milliseconds on the receiver's clock. get() returns
    (payload or None, JitterStatus); after an ACCELERATED tick the second
    payload of the tick is in .last_skipped (b"" when the payload alone lasts two
    ticks, e.g. 20 ms packets on a 10 ms clock: all of it is played in one tick).
    Packets shorter than a tick, or not a whole number of ticks long (a peer's
    ptime of 10 or 30 ms on a 20 ms clock), fill a tick together: .last_more holds
    the payloads the tick plays after the first (and the skipped one), in order,
    None for one that was missing and is concealed in its place; () otherwise.
    """
    cdef c.oh_jitter *_jb
    cdef readonly int clock_rate
    cdef readonly int frame_ms
    cdef readonly object last_skipped
    cdef readonly tuple last_more

    def __cinit__(self, int clock_rate=8000, int frame_ms=20, *, int min_delay_ms=0,
                  int max_delay_ms=1000, int capacity=128, int max_payload=512,
                  double late_ratio=0.0095, double memory_s=20.0, bint fec_delay=False):
        cdef c.oh_jitter_config cfg
        _jitter_config(&cfg, clock_rate, frame_ms, min_delay_ms, max_delay_ms, capacity,
                       max_payload, late_ratio, memory_s)
        cfg.fec_delay = fec_delay
        check(c.oh_jitter_create(&cfg, &self._jb), ValueError, "jitter buffer create")
        self.clock_rate = clock_rate
        self.frame_ms = frame_ms
        self.last_skipped = None
        self.last_more = ()

    def __dealloc__(self):
        c.oh_jitter_destroy(self._jb)

    def __repr__(self):
        return f"<offhook JitterBuffer {self.clock_rate} Hz, {self.frame_ms} ms ticks>"

    def put(self, long long seq, long long timestamp, payload, double arrival_ms,
            bint marker=False, long long ssrc=0, int samples=0, *, bint comfort_noise=False):
        """Stores one RTP payload (bytes-like) received at arrival_ms.

        samples is the audio it holds in timestamp units when known (0: infer).
        comfort_noise: the payload is RFC 3389 comfort noise (payload type CN): a
        pause starts; get() hands it out with a SILENCE tick and plays SILENCE
        until the next packet, without counting the pause as late or lost.
        Duplicates, late and overflowing packets are dropped and counted in stats().
        """
        if seq < 0 or seq > 0xFFFF:
            raise ValueError(f"seq must be 0..65535, got {seq}")
        if timestamp < 0 or timestamp > 0xFFFFFFFF:
            raise ValueError(f"timestamp must be 0..4294967295, got {timestamp}")
        if ssrc < 0 or ssrc > 0xFFFFFFFF:
            raise ValueError(f"ssrc must be 0..4294967295, got {ssrc}")
        if samples < 0:
            raise ValueError(f"samples must be >= 0, got {samples}")
        if not isfinite(arrival_ms):
            raise ValueError(f"arrival_ms must be finite, got {arrival_ms}")
        cdef Borrowed view
        acquire_bytes(payload, &view, "JitterBuffer", "payload")
        cdef int r
        try:
            r = c.oh_jitter_put(self._jb, <uint16_t>seq, <uint32_t>timestamp, <uint32_t>ssrc,
                                _put_flags(marker, comfort_noise), <const uint8_t *>view.buf,
                                <size_t>view.len, samples, arrival_ms)
        finally:
            release(&view)
        if r < 0:
            check(r, ValueError, f"JitterBuffer.put of {view.len} bytes (max_payload?)")

    def get(self, double now_ms):
        """(payload or None, JitterStatus) for the tick starting at now_ms."""
        cdef c.oh_jitter_frame f
        cdef int r = c.oh_jitter_get(self._jb, now_ms, &f)
        if r < 0:
            check(r, ValueError, f"JitterBuffer.get at {now_ms} ms (must be finite)")
        if f.status == c.OH_JITTER_ACCELERATED:
            self.last_skipped = PyBytes_FromStringAndSize(<const char *>f.skipped, f.skipped_len)
        more = []
        for i in range(f.nmore):
            more.append(None if f.more[i].payload == NULL
                        else PyBytes_FromStringAndSize(<const char *>f.more[i].payload, f.more[i].len))
        self.last_more = tuple(more)
        if f.payload == NULL:
            return None, _STATUS[f.status]
        return PyBytes_FromStringAndSize(<const char *>f.payload, f.len), _STATUS[f.status]

    def stats(self):
        """Delays (ms) and counters: see oh_jitter_stats in oh_jitter.h."""
        cdef c.oh_jitter_stats s
        c.oh_jitter_get_stats(self._jb, &s)
        return _stats_dict(&s)

    def reset(self):
        """Forgets the stream and the delay statistics (a new call)."""
        c.oh_jitter_reset(self._jb)
        self.last_skipped = None
        self.last_more = ()


cdef class TimeScaler:
    """Pitch-preserving accelerate/expand for the playout side of a JitterBuffer.

    TimeScaler(sample_rate=8000, frame_samples=160). Feed every frame played
    through exactly one of pass_frame(), accelerate() (ACCELERATED ticks: two
    decoded frames in, one frame out) or expand() (EXPANDED ticks).
    """
    cdef t.oh_tsm *_tsm
    cdef readonly int sample_rate
    cdef readonly int frame_samples

    def __cinit__(self, int sample_rate=8000, int frame_samples=160):
        cdef t.oh_tsm_config cfg
        if sample_rate not in (8000, 16000, 32000, 48000):
            raise ValueError(f"sample_rate must be 8000, 16000, 32000 or 48000 Hz, got {sample_rate}")
        if frame_samples not in (sample_rate // 100, sample_rate // 50):
            raise ValueError(f"frame_samples must be 10 or 20 ms ({sample_rate // 100} or "
                             f"{sample_rate // 50} at {sample_rate} Hz), got {frame_samples}")
        cfg.sample_rate = sample_rate
        cfg.frame_samples = frame_samples
        check(t.oh_tsm_create(&cfg, &self._tsm), ValueError, "time scaler create")
        self.sample_rate = sample_rate
        self.frame_samples = frame_samples

    def __dealloc__(self):
        t.oh_tsm_destroy(self._tsm)

    cdef const int16_t *_frames(self, object pcm, Borrowed *view, Py_ssize_t count) except NULL:
        acquire_pcm(pcm, view, "TimeScaler", "input")
        if view.len != count * self.frame_samples * 2:
            n = view.len // 2
            release(view)
            raise ValueError(f"TimeScaler input must be {count * self.frame_samples} samples "
                             f"({count} frame{'s' if count > 1 else ''}), got {n}")
        return <const int16_t *>view.buf

    def pass_frame(self, pcm):
        """A frame played as is; returns it (smoothed when it follows an expansion)."""
        cdef Borrowed view
        cdef const int16_t *src = self._frames(pcm, &view, 1)
        out = new_pcm(self.frame_samples)
        cdef int16_t *dst = <int16_t *>cnp.PyArray_DATA(out)
        memcpy(dst, src, self.frame_samples * 2)
        release(&view)
        t.oh_tsm_pass(self._tsm, dst)
        return out

    def accelerate(self, pcm):
        """Two consecutive frames (2 * frame_samples) played in the time of one."""
        cdef Borrowed view
        cdef const int16_t *src = self._frames(pcm, &view, 2)
        out = new_pcm(self.frame_samples)
        try:
            t.oh_tsm_accelerate(self._tsm, src, <int16_t *>cnp.PyArray_DATA(out))
        finally:
            release(&view)
        return out

    def expand(self):
        """One frame continuing what was played (pitch-period repetition)."""
        out = new_pcm(self.frame_samples)
        t.oh_tsm_expand(self._tsm, <int16_t *>cnp.PyArray_DATA(out))
        return out

    def reset(self):
        t.oh_tsm_reset(self._tsm)


cdef class Playout:
    """One received stream from RTP payloads to PCM: jitter buffer, decoder with
    its concealment, and time scaling (what the media engine holds per stream).

    Playout(codec="PCMU", sample_rate=None, *, frame_ms=20, **jitter options as JitterBuffer,
            stretch_in_pauses=True, interpolate=True, fec_delay=False)

    stretch_in_pauses: accelerations that can wait are postponed (up to 2 s)
    until the audio played is a pause; False plays exactly what a
    JitterBuffer with the same packets decides.
    interpolate: a lost frame whose successor is already buffered is
    interpolated between the past and that successor (decoded a tick early)
    rather than extrapolated from the past alone.
    fec_delay: while the link loses packets (> 1.5 % recently), aim one packet
    later so that the packet after a lost one is here for its in-band FEC
    (Opus with FEC on at the sender): a packet's worth of delay bought for
    quality on lossy links only.

    put() payloads as they arrive; get(now_ms) once per tick returns
    (int16 array of one tick, JitterStatus).
    """
    cdef p.oh_playout *_pl
    cdef readonly str codec
    cdef readonly int sample_rate
    cdef readonly int frame_samples
    cdef readonly int max_payload

    def __cinit__(self, str codec="PCMU", sample_rate=None, *, int frame_ms=20, int min_delay_ms=0,
                  int max_delay_ms=1000, int capacity=128, int max_payload=0,
                  double late_ratio=0.0095, double memory_s=20.0, bint stretch_in_pauses=True,
                  bint interpolate=True, bint fec_delay=False):
        info = lookup(codec)
        rate = info.native_rate if sample_rate is None else sample_rate
        if rate not in info.sample_rates:
            allowed = ", ".join(str(r) for r in info.sample_rates)
            raise ValueError(f"{info.name} works at {allowed} Hz, not {sample_rate!r}")
        cdef p.oh_playout_config cfg
        p.oh_playout_config_default(&cfg, <oh_codec_id>info.codec_id)
        _jitter_config(&cfg.jitter, info.clock_rate, frame_ms, min_delay_ms, max_delay_ms, capacity,
                       max_payload or cfg.jitter.max_payload, late_ratio, memory_s)
        cfg.codec.sample_rate = rate
        cfg.stretch_in_pauses = stretch_in_pauses
        cfg.interpolate = interpolate
        cfg.jitter.fec_delay = fec_delay
        check(p.oh_playout_create(&cfg, &self._pl), ValueError, f"{info.name} playout create")
        self.codec = info.name
        self.sample_rate = rate
        self.frame_samples = p.oh_playout_frame_samples(self._pl)
        self.max_payload = cfg.jitter.max_payload

    def __dealloc__(self):
        p.oh_playout_destroy(self._pl)

    def __repr__(self):
        return f"<offhook Playout {self.codec} {self.sample_rate} Hz, {self.frame_samples} samples per tick>"

    def put(self, long long seq, long long timestamp, payload, double arrival_ms,
            bint marker=False, long long ssrc=0, *, bint comfort_noise=False):
        """Stores one RTP payload (bytes-like) received at arrival_ms.

        comfort_noise: an RFC 3389 CN payload (level, optional spectrum); the
        pause it starts is played with that noise until the next frame.
        """
        if seq < 0 or seq > 0xFFFF:
            raise ValueError(f"seq must be 0..65535, got {seq}")
        if timestamp < 0 or timestamp > 0xFFFFFFFF:
            raise ValueError(f"timestamp must be 0..4294967295, got {timestamp}")
        if ssrc < 0 or ssrc > 0xFFFFFFFF:
            raise ValueError(f"ssrc must be 0..4294967295, got {ssrc}")
        if not isfinite(arrival_ms):
            raise ValueError(f"arrival_ms must be finite, got {arrival_ms}")
        cdef Borrowed view
        acquire_bytes(payload, &view, "Playout", "payload")
        cdef int r
        try:
            r = p.oh_playout_put(self._pl, <uint16_t>seq, <uint32_t>timestamp, <uint32_t>ssrc,
                                 _put_flags(marker, comfort_noise), <const uint8_t *>view.buf,
                                 <size_t>view.len, arrival_ms)
        finally:
            release(&view)
        if r == OH_EBUFSIZE:
            raise ValueError(f"{self.codec} Playout.put: a payload of {view.len} bytes, more than "
                             f"max_payload ({self.max_payload})")
        if r < 0:
            check(r, ValueError, f"{self.codec} Playout.put of {view.len} bytes")

    def get(self, double now_ms):
        """(one tick of PCM as an int16 array, JitterStatus) for the tick starting at now_ms."""
        if not isfinite(now_ms):
            raise ValueError(f"now_ms must be finite, got {now_ms}")
        out = new_pcm(self.frame_samples)
        cdef c.oh_jitter_status status
        cdef int r = p.oh_playout_get(self._pl, now_ms, <int16_t *>cnp.PyArray_DATA(out),
                                      self.frame_samples, &status)
        if r < 0:
            check(r, ValueError, f"{self.codec} Playout.get")
        return out, _STATUS[status]

    def stats(self):
        """The jitter buffer's statistics (see JitterBuffer.stats)."""
        cdef c.oh_jitter_stats s
        p.oh_playout_get_stats(self._pl, &s)
        return _stats_dict(&s)

    def reset(self):
        """Forgets the stream, the decoder state and the delay statistics."""
        p.oh_playout_reset(self._pl)
