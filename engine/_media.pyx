# cython: language_level=3, boundscheck=False, wraparound=False
"""The media engine (csrc/oh_engine.c): a C thread that owns the RTP sockets and the clock.

Python configures streams and reads statistics; audio never passes through
here and the media thread never takes the GIL. Every call below releases
the GIL while it waits for the media thread to apply it (at most a few ms).
"""
import os

import numpy as np

from cpython.pycapsule cimport PyCapsule_GetPointer
from libc.stdint cimport int16_t
from libc.string cimport memcpy, memset, strncpy

cimport numpy as cnp

cimport oh_engine as c
from oh_aec cimport aec_stats_dict
from oh_devport cimport oh_devport
from oh_srtp cimport oh_srtp_suite
from oh_codec cimport oh_codec_config, oh_codec_config_default, oh_codec_id
from oh_status cimport OH_EBUFSIZE, OH_EINVAL, OH_EIO, OH_ENOMEM, OH_ESTATE, OH_EUNSUPPORTED, oh_strerror
from oh_wav cimport oh_wav_error
from _buffers cimport new_pcm

cnp.import_array()

from offhook.errors import MediaError, SrtpError, WavError
from offhook.media.codecs import lookup as _lookup_codec
from offhook.media.events import DtmfReceived, RtcpBye, RtpResumed, RtpTimeout, SsrcChanged
from offhook.media.srtp import SrtpParams

from offhook._devport import DevicePort
from offhook._rtp import SRTP_SUITES

DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")
RELATCH_PACKETS = c.OH_ENGINE_RELATCH_PACKETS  # in-sequence packets of a new SSRC that re-latch
DEFAULT_DYNAMIC_PT = 111  # opus has no static payload type (the common choice in SDP offers)
RECORD_MODES = ("received", "mix", "stereo")  # index = oh_engine_record_mode
MAX_ROOM = c.OH_ENGINE_MAX_ROOM  # conference room ids are 0..MAX_ROOM
TAP_MAX_SECONDS = c.OH_ENGINE_TAP_MAX_MS / 1000.0
MAX_SEND_PTIME = c.OH_ENGINE_MAX_SEND_PTIME_MS  # ms: the longest packet a stream sends
MIN_SEND_PTIME = c.OH_ENGINE_MIN_SEND_PTIME_MS  # ms: the shortest


cdef int _check(int status, str context) except -1:
    if status >= 0:
        return status
    reason = oh_strerror(status).decode("ascii")
    if status == OH_ENOMEM:
        raise MemoryError(f"{context}: {reason}")
    raise MediaError(f"{context}: {reason}")


cdef int _check_wav(int status, const oh_wav_error *err, object path) except -1:
    if status >= 0:
        return status
    reason = err.reason.decode("utf-8", "replace") or oh_strerror(status).decode("ascii")
    if status == OH_ENOMEM:
        raise MemoryError(f"{path}: {reason}")
    if status == OH_EIO and err.sys_errno:
        raise OSError(err.sys_errno, os.strerror(err.sys_errno), os.fsdecode(path))
    if status == OH_EINVAL:
        raise MediaError(f"{os.fsdecode(path)}: {reason}")
    raise WavError(f"{os.fsdecode(path)}: {reason}")


cdef bytes _path(object path):
    encoded = os.fsencode(path)
    if b"\0" in encoded:
        raise ValueError(f"{os.fsdecode(path)!r}: embedded null byte in path")
    return encoded


cdef tuple _address(object addr, str role, bint port_zero_ok):
    """(host bytes, port) from a (host, port) pair, with messages naming role."""
    if not isinstance(addr, tuple) or len(addr) != 2:
        raise ValueError(f"{role} must be a (host, port) tuple, got {addr!r}")
    host, port = addr
    if not isinstance(host, str) or not isinstance(port, int) or isinstance(port, bool):
        raise ValueError(f"{role} must be a (str, int) tuple, got {addr!r}")
    if not (0 if port_zero_ok else 1) <= port <= 65535:
        raise ValueError(f"{role} port must be {'0' if port_zero_ok else '1'}..65535, got {port}")
    encoded = host.encode("ascii", "replace")
    if len(encoded) >= c.OH_ENGINE_ADDR_LEN:
        raise ValueError(f"{role} host {host!r} is too long for a numeric IP address")
    return encoded, port


cdef int _direction(object direction) except -1:
    try:
        return DIRECTIONS.index(direction)
    except ValueError:
        raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}; got {direction!r}") from None


cdef dict _stream_stats(const c.oh_engine_stream_stats *s):
    src = &s.source
    pl = &s.playout
    r = &s.rtcp
    return {
        "packets_sent": s.packets_sent, "bytes_sent": s.bytes_sent, "send_errors": s.send_errors,
        "packets_received": s.packets_received, "bytes_received": s.bytes_received,
        "dropped_invalid": s.dropped_invalid, "dropped_payload_type": s.dropped_payload_type,
        "dropped_stray": s.dropped_stray, "dropped_inactive": s.dropped_inactive,
        "rtcp_received": s.rtcp_received, "ticks": s.ticks, "recorded_frames": s.recorded_frames,
        "latched": (s.latched_addr.decode("ascii"), s.latched_port) if s.latched else None,
        "remote_ssrc": s.remote_ssrc if s.latched else None, "local_ssrc": s.local_ssrc,
        "source_done": bool(s.source_done),
        "jitter_ms": src.jitter_ms, "lost": src.cumulative_lost, "expected": src.expected,
        "bad_seq": src.bad_seq,
        "dtmf_sent": s.dtmf_sent, "dtmf_received": s.dtmf_received, "dtmf_dropped": s.dtmf_dropped,
        "dtmf_pending": s.dtmf_pending,
        "srtp": bool(s.srtp), "srtp_auth_failed": s.srtp_auth_failed,
        "srtp_replayed": s.srtp_replayed, "srtp_failed": s.srtp_failed,
        "ssrc_changes": s.ssrc_changes, "rtp_timed_out": bool(s.rtp_timed_out),
        "rtcp_mux": bool(s.rtcp_mux), "local_rtcp_port": s.local_rtcp_port if not s.rtcp_mux else None,
        "inband_dtmf": bool(s.inband_dtmf), "dtmf_inband": s.dtmf_inband, "local": bool(s.local),
        "conference_room": s.conference_room if s.conference_room >= 0 else None,
        "tap": bool(s.tap), "tap_samples": s.tap_samples, "tap_overruns": s.tap_overruns,
        "tap_dropped": s.tap_dropped, "cn_received": s.cn_received, "cn_sent": s.cn_sent,
        "frames_suppressed": s.frames_suppressed,
        "rtcp": {"sent": r.sent, "received": r.received, "invalid": r.invalid,
                 "sr_received": r.sr_received, "peer_reports": r.peer_reports,
                 "peer_fraction_lost": r.peer_fraction_lost,
                 "peer_cumulative_lost": r.peer_cumulative_lost,
                 "peer_jitter_ms": r.peer_jitter_ms,
                 "peer_extended_max_seq": r.peer_extended_max_seq,
                 "rtt_ms": r.rtt_ms if r.rtt_samples else None, "rtt_samples": r.rtt_samples,
                 "bye": bool(r.bye), "bye_reason": r.bye_reason.decode("utf-8", "replace"),
                 "peer_cname": r.peer_cname.decode("utf-8", "replace")},
        "playout": {"current_delay_ms": pl.current_delay_ms, "target_delay_ms": pl.target_delay_ms,
                    "received": pl.received, "played": pl.played, "late": pl.late, "lost": pl.lost,
                    "concealed": pl.concealed, "accelerated": pl.accelerated,
                    "expanded": pl.expanded, "silence": pl.silence, "duplicates": pl.duplicates,
                    "overflow": pl.overflow, "resyncs": pl.resyncs, "max_burst": pl.max_burst,
                    "comfort_noise": pl.comfort_noise},
    }


cdef dict _local_stats(const c.oh_engine_local_stats *l):
    a = &l.aec_stats
    return {
        "attached": bool(l.attached), "muted": bool(l.muted), "frames": l.frames,
        "playback_gain": l.playback_gain_q14 / 16384.0, "capture_gain": l.capture_gain_q14 / 16384.0,
        "capture_underruns": l.capture_underruns, "capture_missing": l.capture_missing,
        "capture_shed": l.capture_shed, "playback_overruns": l.playback_overruns,
        "aec": bool(l.aec), "aec_latency_samples": l.aec_latency,
        "aec_stats": aec_stats_dict(a) if l.aec else None,
        "capture_to_send_ms_mean": l.capture_to_send_ms_mean,
        "capture_to_send_ms_max": l.capture_to_send_ms_max,
        "capture_to_send_samples": l.capture_to_send_samples,
    }


cdef object _event(const c.oh_engine_event *e, object stream):
    if stream is None:
        return None  # the stream was closed before its events were read
    if e.type == c.OH_ENGINE_EV_DTMF:
        return DtmfReceived(stream, chr(e.digit), e.event, e.duration_ms,
                            "inband" if e.inband else "rfc4733")
    if e.type == c.OH_ENGINE_EV_BYE:
        return RtcpBye(stream, e.ssrc, e.reason.decode("utf-8", "replace"))
    if e.type == c.OH_ENGINE_EV_SSRC_CHANGE:
        return SsrcChanged(stream, e.old_ssrc, e.ssrc)
    if e.type == c.OH_ENGINE_EV_RTP_TIMEOUT:
        return RtpTimeout(stream, e.silent_ms)
    if e.type == c.OH_ENGINE_EV_RTP_RESUMED:
        return RtpResumed(stream, e.silent_ms, e.ssrc)
    return None


cdef class MediaEngine:
    """MediaEngine(sample_rate=16000, ptime=20, *, max_streams=256, max_room_members=16):
    starts the media thread.

    sample_rate (8000, 16000, 32000 or 48000 Hz) is the rate of played and
    recorded audio; ptime (10 or 20 ms) is the tick and every stream's packet
    duration. max_room_members bounds each conference room but room 0 (see
    MediaStream.join_conference). close() (or leaving a with block) stops the
    thread and closes every stream.
    """
    cdef c.oh_engine *_eng
    cdef readonly int sample_rate
    cdef readonly int ptime
    cdef object _streams  # id -> MediaStream, so close() can mark them closed
    cdef object _port     # the attached DevicePort, kept alive while the engine uses it

    def __cinit__(self, int sample_rate=16000, int ptime=20, *, int max_streams=256,
                  int max_room_members=16):
        if sample_rate not in (8000, 16000, 32000, 48000):
            raise ValueError(f"sample_rate must be 8000, 16000, 32000 or 48000 Hz, got {sample_rate}")
        if ptime not in (10, 20):
            raise ValueError(f"ptime must be 10 or 20 ms, got {ptime}")
        if not 1 <= max_streams <= c.OH_ENGINE_MAX_STREAMS:
            raise ValueError(f"max_streams must be 1..{c.OH_ENGINE_MAX_STREAMS}, got {max_streams}")
        if not 1 <= max_room_members <= c.OH_ENGINE_MAX_STREAMS:
            raise ValueError(f"max_room_members must be 1..{c.OH_ENGINE_MAX_STREAMS}, got {max_room_members}")
        cdef c.oh_engine_config cfg
        c.oh_engine_config_default(&cfg)
        cfg.sample_rate = sample_rate
        cfg.ptime_ms = ptime
        cfg.max_streams = max_streams
        cfg.max_room_members = max_room_members
        cdef int st
        with nogil:
            st = c.oh_engine_create(&cfg, &self._eng)
        if st == OH_EIO:
            raise OSError("media engine: cannot start the media thread")
        _check(st, "media engine")
        self.sample_rate = sample_rate
        self.ptime = ptime
        self._streams = {}

    def __dealloc__(self):
        if self._eng != NULL:
            with nogil:
                c.oh_engine_destroy(self._eng)
            self._eng = NULL

    cdef c.oh_engine *_get(self) except NULL:
        if self._eng == NULL:
            raise MediaError("the media engine is closed")
        return self._eng

    def __enter__(self):
        self._get()
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        state = "closed" if self._eng == NULL else f"{len(self._streams)} streams"
        return f"<offhook MediaEngine {self.sample_rate} Hz {self.ptime} ms, {state}>"

    @property
    def closed(self):
        return self._eng == NULL

    def close(self):
        """Stops the media thread and closes every stream (recordings are finalised)."""
        cdef c.oh_engine *eng = self._eng
        if eng == NULL:
            return
        for s in list(self._streams.values()):
            (<MediaStream>s)._id = -1
        self._streams.clear()
        self._eng = NULL
        with nogil:
            c.oh_engine_destroy(eng)
        self._port = None

    def stats(self):
        """Counters of the media thread: ticks, late_ticks, clock_resyncs, streams,
        events_dropped, and the send lag (ms from a tick's deadline to each RTP packet's
        sendto: send_lag_ms_mean, send_lag_ms_max, send_lag_samples) over the packets
        sent since the previous stats() call."""
        cdef c.oh_engine_stats st
        cdef c.oh_engine *eng = self._get()
        with nogil:
            c.oh_engine_get_stats(eng, &st)
        return {"ticks": st.ticks, "late_ticks": st.late_ticks, "clock_resyncs": st.clock_resyncs,
                "events_dropped": st.events_dropped, "streams": st.streams,
                "send_lag_ms_mean": st.send_lag_ms_mean, "send_lag_ms_max": st.send_lag_ms_max,
                "send_lag_samples": st.send_lag_samples, "local": _local_stats(&st.local)}

    def attach_audio(self, port, *, aec=True, aec_tail_ms=128, aec_suppression=True, max_queue_ms=60):
        """Makes port (an offhook.engine.DevicePort at the engine's rate: a sound device's
        through DeviceStream, or one a program drives) the engine's local audio. The media
        thread then reads one frame of its capture ring per tick (missing samples are
        silence, counted), runs the echo canceller with the frame it last wrote to the
        playback ring as reference (aec; aec_tail_ms 64..500; aec_suppression adds one
        10 ms block of latency), and offers the result as the local participant: streams
        connected with connect_local() send it, and the conference (join_conference) has
        it as a member. The playback ring gets the local participant's conference mix plus
        what connected streams receive. max_queue_ms (10..1000) bounds the latency of
        both rings: captured audio waiting longer than one frame + max_queue_ms is shed,
        and a playback frame is dropped rather than queued behind more than max_queue_ms
        (a steady excess of capture is trimmed too). While attached, nothing else may
        call the port's engine side (pull_capture, push_playback). Attaching again
        replaces the port; stats()["local"] has the counters."""
        cdef c.oh_engine *eng = self._get()
        if not isinstance(port, DevicePort):
            raise ValueError(f"attach_audio takes an offhook.engine.DevicePort, got {type(port).__name__}")
        if port.engine_rate != self.sample_rate:
            raise ValueError(f"the port runs at {port.engine_rate} Hz but the engine at {self.sample_rate} Hz; "
                             f"make the DevicePort with engine_rate={self.sample_rate}")
        if not isinstance(aec_tail_ms, int) or not 64 <= aec_tail_ms <= 500:
            raise ValueError(f"aec_tail_ms must be an int 64..500, got {aec_tail_ms!r}")
        if not isinstance(max_queue_ms, int) or not 10 <= max_queue_ms <= 1000:
            raise ValueError(f"max_queue_ms must be an int 10..1000, got {max_queue_ms!r}")
        cdef c.oh_engine_audio_config cfg
        c.oh_engine_audio_config_default(&cfg)
        cfg.aec = 1 if aec else 0
        cfg.aec_tail_ms = aec_tail_ms
        cfg.aec_suppression = 1 if aec_suppression else 0
        cfg.max_queue_ms = max_queue_ms
        cdef oh_devport *p = <oh_devport *>PyCapsule_GetPointer(port.c_port, b"offhook.oh_devport")
        cdef int st
        with nogil:
            st = c.oh_engine_attach_audio(eng, p, &cfg)
        if st == OH_EBUFSIZE:
            raise MediaError("attach_audio: the conference is full (max_streams members)")
        _check(st, "attach_audio")
        self._port = port

    def detach_audio(self):
        """Stops using the attached port (no-op when none): the local participant is silent."""
        cdef c.oh_engine *eng = self._get()
        cdef int st
        with nogil:
            st = c.oh_engine_detach_audio(eng)
        _check(st, "detach_audio")
        self._port = None

    @property
    def audio_port(self):
        """The attached DevicePort, or None."""
        return self._port

    def mute_local(self, muted=True):
        """Mutes (or unmutes) the local capture: silence is sent and mixed in its place."""
        cdef c.oh_engine *eng = self._get()
        cdef int m = 1 if muted else 0
        with nogil:
            c.oh_engine_mute_local(eng, m)

    def set_local_gain(self, double playback_db=0.0, double capture_db=0.0):
        """Volume of the local audio (dB): playback_db on what the playback device plays
        (before it becomes the echo canceller's reference), capture_db on the microphone
        after the canceller. -96 dB or less: silence; above +24 dB or NaN: MediaError."""
        cdef c.oh_engine *eng = self._get()
        cdef int st
        with nogil:
            st = c.oh_engine_set_local_gain(eng, playback_db, capture_db)
        _check(st, "set_local_gain")

    @property
    def event_fd(self):
        """A file descriptor that polls readable while events wait (for asyncio's
        loop.add_reader or offhook.media.events.next_events); owned by the engine."""
        return c.oh_engine_event_fd(self._get())

    def events(self):
        """The events queued since the last call, oldest first (never blocks): DtmfReceived,
        RtcpBye, SsrcChanged, RtpTimeout, RtpResumed (offhook.media.events)."""
        cdef c.oh_engine *eng = self._get()
        cdef c.oh_engine_event evs[32]
        cdef int n = 0, st, i
        out = []
        while True:
            with nogil:
                st = c.oh_engine_poll_events(eng, evs, 32, &n)
            _check(st, "events")
            for i in range(n):
                ev = _event(&evs[i], self._streams.get(evs[i].stream_id))
                if ev is not None:
                    out.append(ev)
            if n < 32:
                return out

    def add_stream(self, local=("127.0.0.1", 0), remote=None, codec="PCMU", payload_type=None,
                   direction="sendrecv", srtp=None, *, dtmf_payload_type=101,
                   rtcp_interval_ms=5000, cname=None, rtp_timeout_ms=None, inband_dtmf=None,
                   rtcp_mux=True, remote_rtcp=None, cn_payload_type=13, vad=False, send_ptime=None):
        """A new RTP stream: a UDP socket bound to local (port 0: the OS picks; see
        local_port) sending to remote (None: nothing is sent until update(remote=...)).

        codec is "PCMU", "PCMA", "G722" or "opus"; payload_type defaults to the codec's
        static one (opus: 111). Until something is played the stream sends silence.

        dtmf_payload_type (0..127, not the audio's; None: no DTMF) carries RFC 4733
        telephone-events (send_dtmf, dtmf_events). RTCP goes out on the RTP port
        (rtcp_mux True, RFC 5761) or, with rtcp_mux False (RFC 3550's default: the
        peer did not agree a=rtcp-mux), from a second socket on local port + 1 to
        remote_rtcp (None: the remote's port + 1; ignored with rtcp_mux), about every
        rtcp_interval_ms (100..60000, randomised 0.5..1.5x;
        5000 is RFC 3550's minimum, shorter is for tests and lab use) with the SDES
        CNAME cname (default "offhook-<ssrc>").

        srtp (offhook.media.srtp.SrtpParams, or a dict with its fields "suite",
        "local_key", "remote_key") turns on SRTP and SRTCP with replay protection: only
        authenticated packets are played or latch the stream; refused ones are counted
        (stats() srtp_auth_failed, srtp_replayed, srtp_failed). None: plain RTP.

        rtp_timeout_ms (100..3600000, None: off) queues an RtpTimeout event (events())
        when no RTP arrived for that long while the stream receives.

        inband_dtmf runs a Goertzel DTMF detector on the decoded received audio; its
        digits arrive like telephone-events (DtmfReceived with source "inband",
        dtmf_events()). None (default): on exactly when dtmf_payload_type is None.

        cn_payload_type (0..127, neither the audio's nor the DTMF one; None: none)
        is taken as RFC 3389 comfort noise: the pause it starts is played with the
        noise it describes, not counted as loss. Default 13, CN's static type.

        vad=True suppresses silence on what the stream sends (RFC 3389 section 4):
        frames the voice activity detector finds to be background are not sent, a
        CN packet on cn_payload_type (which must then be set, and agreed with the
        peer) describes each pause (stats() frames_suppressed, cn_sent).

        send_ptime (ms: 10..60, a multiple or a divisor of the engine's ptime; None: the
        ptime) is the audio per packet sent: what the peer's a=ptime asks for, as far as the tick
        allows (calls pick it from the negotiated ptime). A pause (vad) starts only where
        a packet would; a DTMF event starts at once, dropping the packet being filled.
        """
        cdef c.oh_engine *eng = self._get()
        if isinstance(srtp, dict):
            unknown = set(srtp) - {"suite", "local_key", "remote_key"}
            if unknown:
                raise SrtpError(f"srtp: unknown key(s) {', '.join(sorted(unknown))}; "
                                f"expected suite, local_key, remote_key")
            try:
                srtp = SrtpParams(**srtp)
            except TypeError:
                raise SrtpError("srtp needs suite, local_key and remote_key") from None
        if srtp is not None and not isinstance(srtp, SrtpParams):
            raise SrtpError(f"srtp must be an offhook.media.srtp.SrtpParams, a dict or None, "
                            f"got {type(srtp).__name__}")
        if rtp_timeout_ms is not None and (
                not isinstance(rtp_timeout_ms, int) or isinstance(rtp_timeout_ms, bool)
                or not 100 <= rtp_timeout_ms <= 3600000):
            raise ValueError(f"rtp_timeout_ms must be an int 100..3600000 or None, got {rtp_timeout_ms!r}")
        info = _lookup_codec(codec)
        if payload_type is None:
            payload_type = info.payload_type if info.payload_type is not None else DEFAULT_DYNAMIC_PT
        if not isinstance(payload_type, int) or isinstance(payload_type, bool) or not 0 <= payload_type <= 127:
            raise ValueError(f"payload_type must be an int 0..127, got {payload_type!r}")
        if dtmf_payload_type is not None and (
                not isinstance(dtmf_payload_type, int) or isinstance(dtmf_payload_type, bool)
                or not 0 <= dtmf_payload_type <= 127 or dtmf_payload_type == payload_type):
            raise ValueError(f"dtmf_payload_type must be an int 0..127 other than the audio's "
                             f"payload type {payload_type}, or None; got {dtmf_payload_type!r}")
        if cn_payload_type is not None and (
                not isinstance(cn_payload_type, int) or isinstance(cn_payload_type, bool)
                or not 0 <= cn_payload_type <= 127 or cn_payload_type in (payload_type, dtmf_payload_type)):
            raise ValueError(f"cn_payload_type must be an int 0..127 other than the audio's ({payload_type}) "
                             f"and the DTMF one ({dtmf_payload_type}), or None; got {cn_payload_type!r}")
        if not isinstance(vad, bool):
            raise ValueError(f"vad must be True or False, got {vad!r}")
        if send_ptime is not None and (
                not isinstance(send_ptime, int) or isinstance(send_ptime, bool)
                or not c.OH_ENGINE_MIN_SEND_PTIME_MS <= send_ptime <= c.OH_ENGINE_MAX_SEND_PTIME_MS
                or (send_ptime % self.ptime and self.ptime % send_ptime)):
            raise ValueError(f"send_ptime must be {c.OH_ENGINE_MIN_SEND_PTIME_MS}..{c.OH_ENGINE_MAX_SEND_PTIME_MS} "
                             f"ms and a multiple or a divisor of the engine's ptime ({self.ptime} ms), "
                             f"or None; got {send_ptime!r}")
        if vad and cn_payload_type is None:
            raise ValueError("vad=True needs cn_payload_type: the pauses it leaves are described by "
                             "comfort-noise packets")
        if (not isinstance(rtcp_interval_ms, int) or isinstance(rtcp_interval_ms, bool)
                or not 100 <= rtcp_interval_ms <= 60000):
            raise ValueError(f"rtcp_interval_ms must be an int 100..60000, got {rtcp_interval_ms!r}")
        cname_bytes = b""
        if cname is not None:
            cname_bytes = cname.encode("utf-8") if isinstance(cname, str) else b""
            if not isinstance(cname, str) or not 1 <= len(cname_bytes) < c.OH_ENGINE_CNAME_LEN \
                    or b"\0" in cname_bytes:
                raise ValueError(f"cname must be a str of 1..{c.OH_ENGINE_CNAME_LEN - 1} UTF-8 bytes "
                                 f"without NUL, got {cname!r}")
        cdef c.oh_engine_stream_config cfg
        c.oh_engine_stream_config_default(&cfg)
        cfg.dtmf_payload_type = -1 if dtmf_payload_type is None else dtmf_payload_type
        cfg.cn_payload_type = -1 if cn_payload_type is None else cn_payload_type
        cfg.vad = 1 if vad else 0
        cfg.send_ptime_ms = send_ptime or 0
        cfg.rtcp_interval_ms = rtcp_interval_ms
        cfg.rtp_timeout_ms = rtp_timeout_ms or 0
        if inband_dtmf is not None and not isinstance(inband_dtmf, bool):
            raise ValueError(f"inband_dtmf must be True, False or None, got {inband_dtmf!r}")
        cfg.inband_dtmf = -1 if inband_dtmf is None else (1 if inband_dtmf else 0)
        if not isinstance(rtcp_mux, bool):
            raise ValueError(f"rtcp_mux must be True or False, got {rtcp_mux!r}")
        cfg.rtcp_mux = 1 if rtcp_mux else 0
        if remote_rtcp is not None and not rtcp_mux:
            if remote is None:
                raise ValueError("remote_rtcp needs remote (RTCP follows the RTP remote)")
            chost_b, cport = _address(remote_rtcp, "remote_rtcp", False)
            strncpy(cfg.remote_rtcp_addr, <const char *>chost_b, c.OH_ENGINE_ADDR_LEN - 1)
            cfg.remote_rtcp_port = cport
        if srtp is not None:
            local_key, remote_key = srtp.keys()
            cfg.srtp = 1
            cfg.srtp_keys.suite = <oh_srtp_suite><int>SRTP_SUITES.index(srtp.suite)
            memcpy(cfg.srtp_keys.local_key, <const char *>local_key, len(local_key))
            memcpy(cfg.srtp_keys.remote_key, <const char *>remote_key, len(remote_key))
        if cname_bytes:
            strncpy(cfg.cname, <const char *>cname_bytes, c.OH_ENGINE_CNAME_LEN - 1)
        lhost, lport = _address(local, "local", True)
        strncpy(cfg.local_addr, <const char *>lhost, c.OH_ENGINE_ADDR_LEN - 1)
        cfg.local_port = lport
        if remote is not None:
            rhost, rport = _address(remote, "remote", False)
            strncpy(cfg.remote_addr, <const char *>rhost, c.OH_ENGINE_ADDR_LEN - 1)
            cfg.remote_port = rport
        oh_codec_config_default(&cfg.codec, <oh_codec_id><int>info.codec_id)
        cfg.payload_type = payload_type
        cfg.direction = <c.oh_engine_direction>_direction(direction)
        cdef int sid = -1, err = 0, st
        with nogil:
            st = c.oh_engine_stream_add(eng, &cfg, &sid, &err)
        if st == OH_EIO and not rtcp_mux:
            raise OSError(err, f"cannot bind {local[0]}:{local[1]} and the RTCP port above it "
                               f"(rtcp_mux=False): {os.strerror(err)}")
        if st == OH_EIO:
            raise OSError(err, f"cannot bind {local[0]}:{local[1]}: {os.strerror(err)}")
        if st == OH_EINVAL:
            raise ValueError(f"add_stream: local {local!r} and remote {remote!r} must be numeric IP "
                             f"addresses of the same family (remote_rtcp {remote_rtcp!r} too; "
                             f"without rtcp-mux a remote port below 65535)")
        if st == OH_ESTATE:
            raise MediaError(f"add_stream: the engine already has its maximum number of streams")
        if st == OH_EUNSUPPORTED and srtp is not None:
            raise SrtpError(f"add_stream: {srtp.suite} is not available in this libsrtp2 build")
        if st == OH_EUNSUPPORTED:
            raise MediaError(f"add_stream: {info.name} cannot run with {self.ptime} ms packets")
        _check(st, "add_stream")
        cdef MediaStream stream = MediaStream.__new__(MediaStream)
        stream._engine = self
        stream._id = sid
        stream.codec = info.name
        stream.payload_type = payload_type
        stream.direction = direction
        stream.dtmf_payload_type = dtmf_payload_type
        stream.cn_payload_type = cn_payload_type
        stream.srtp_suite = srtp.suite if srtp is not None else None
        cdef int port = 0
        c.oh_engine_stream_local_port(eng, sid, &port)
        stream.local_port = port
        self._streams[sid] = stream
        return stream


cdef class MediaStream:
    """One RTP stream of a MediaEngine (made by MediaEngine.add_stream)."""
    cdef MediaEngine _engine
    cdef int _id
    cdef readonly int local_port
    cdef readonly str codec
    cdef readonly int payload_type
    cdef readonly str direction
    cdef readonly object dtmf_payload_type
    cdef readonly object cn_payload_type
    cdef readonly object srtp_suite

    def __init__(self):
        raise TypeError("streams are made by MediaEngine.add_stream()")

    def __dealloc__(self):
        # A stream dropped without close() stops, like a file object.
        if self._engine is not None and self._id >= 0 and self._engine._eng != NULL:
            c.oh_engine_stream_remove(self._engine._eng, self._id)

    cdef c.oh_engine *_get(self) except NULL:
        if self._id < 0 or self._engine is None or self._engine._eng == NULL:
            raise MediaError("the stream is closed")
        return self._engine._eng

    def __repr__(self):
        state = "closed" if self.closed else f"local port {self.local_port}"
        return f"<offhook MediaStream {self.codec}/{self.payload_type} {self.direction}, {state}>"

    def __enter__(self):
        self._get()
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def closed(self):
        return self._id < 0 or self._engine is None or self._engine._eng == NULL

    def close(self):
        """Stops the stream, closes its socket and finalises its recording."""
        if self.closed:
            self._id = -1
            return
        cdef c.oh_engine *eng = self._engine._eng
        cdef int sid = self._id
        self._engine._streams.pop(sid, None)
        self._id = -1
        with nogil:
            c.oh_engine_stream_remove(eng, sid)

    def play_wav(self, path):
        """Sends a WAV file (8..48 kHz, any channel count, mixed to mono) once, then silence."""
        cdef c.oh_engine *eng = self._get()
        encoded = _path(path)
        cdef const char *cpath = encoded
        cdef oh_wav_error err
        memset(&err, 0, sizeof(err))
        cdef int st
        with nogil:
            st = c.oh_engine_stream_play_wav(eng, self._id, cpath, &err)
        _check_wav(st, &err, path)

    def play_tone(self, int freq_hz, double level_dbm0=-10.0):
        """Sends a steady sine of freq_hz at level_dbm0 (-60..0) until something else is played."""
        cdef c.oh_engine *eng = self._get()
        if not 0 < 2 * freq_hz < self._engine.sample_rate:
            raise ValueError(f"tone frequency must be 1..{self._engine.sample_rate // 2 - 1} Hz "
                             f"at {self._engine.sample_rate} Hz, got {freq_hz}")
        if not -60.0 <= level_dbm0 <= 0.0:
            raise ValueError(f"tone level must be -60..0 dBm0, got {level_dbm0}")
        cdef int st
        with nogil:
            st = c.oh_engine_stream_play_tone(eng, self._id, freq_hz, level_dbm0)
        _check(st, "play_tone")

    def play_echo(self):
        """Sends back what the stream receives, re-encoded, one tick later (an echo test;
        also what a relaying media server does per call)."""
        cdef c.oh_engine *eng = self._get()
        cdef int st
        with nogil:
            st = c.oh_engine_stream_play_echo(eng, self._id)
        _check(st, "play_echo")

    def join_conference(self, room=0):
        """Joins a conference room of the engine: the stream then sends the mix of every
        other member of that room (mix-minus) instead of its source, and its received
        audio is mixed for them. Room 0 (the default) is the engine's conference, which
        also has the local audio (attach_audio); rooms 1..MAX_ROOM are independent
        mixes, made by their first member and gone with their last. A stream is in one
        room at most: joining another moves it."""
        cdef c.oh_engine *eng = self._get()
        if not isinstance(room, int) or isinstance(room, bool) or not 0 <= room <= c.OH_ENGINE_MAX_ROOM:
            raise ValueError(f"room must be an int 0..{c.OH_ENGINE_MAX_ROOM}, got {room!r}")
        cdef int r = room
        cdef int st
        with nogil:
            st = c.oh_engine_stream_conference_room(eng, self._id, r)
        if st == OH_EBUFSIZE:
            limit = "max_room_members" if room else "max_streams"
            raise MediaError(f"join_conference: room {room} is full ({limit}); the stream stays where it was")
        _check(st, "join_conference")

    def leave_conference(self):
        """Leaves its conference room (no-op when in none): the stream sends its source again."""
        cdef c.oh_engine *eng = self._get()
        cdef int st
        with nogil:
            st = c.oh_engine_stream_conference_room(eng, self._id, -1)
        _check(st, "leave_conference")

    def tap(self, seconds):
        """Taps the stream's decoded received audio (int16 mono at the engine's rate, one
        frame per tick; zeros while the stream does not receive) into a ring of at least
        `seconds` (0.02..TAP_MAX_SECONDS) that read_tap() drains; 0 turns the tap off. A
        new tap starts empty. The media thread never waits for the reader: audio that
        does not fit is lost and counted (stats()["tap_overruns"], ["tap_dropped"])."""
        cdef c.oh_engine *eng = self._get()
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not (
                seconds == 0 or 0.02 <= seconds <= c.OH_ENGINE_TAP_MAX_MS / 1000.0):
            raise ValueError(f"tap seconds must be 0 (off) or 0.02..{c.OH_ENGINE_TAP_MAX_MS / 1000.0:g}, "
                             f"got {seconds!r}")
        cdef int ms = int(round(seconds * 1000))
        cdef int st
        with nogil:
            st = c.oh_engine_stream_tap(eng, self._id, ms)
        _check(st, "tap")

    def read_tap(self, max_samples=None):
        """The tapped audio waiting, oldest first, at most max_samples (default: all of
        it), as an int16 array (empty when none waits or no tap is on). Never waits."""
        cdef c.oh_engine *eng = self._get()
        if max_samples is not None and (isinstance(max_samples, bool) or not isinstance(max_samples, int)
                                        or max_samples < 0):
            raise ValueError(f"max_samples must be an int >= 0 or None, got {max_samples!r}")
        chunks = []
        cdef Py_ssize_t left = -1 if max_samples is None else max_samples
        cdef Py_ssize_t chunk = self._engine.sample_rate  # 1 s per read
        cdef cnp.ndarray out
        cdef size_t n = 0, want
        cdef int16_t *buf
        cdef int st
        while left != 0:
            want = <size_t>(chunk if left < 0 or left > chunk else left)
            out = new_pcm(<Py_ssize_t>want)
            buf = <int16_t *>cnp.PyArray_DATA(out)
            with nogil:
                st = c.oh_engine_stream_read_tap(eng, self._id, buf, want, &n)
            _check(st, "read_tap")
            chunks.append(out if n == want else out[:n].copy())
            if left > 0:
                left -= <Py_ssize_t>n
            if n < want:
                break
        if len(chunks) == 1:
            return chunks[0]
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)

    def play_silence(self):
        """Stops playing: sends silence."""
        cdef c.oh_engine *eng = self._get()
        cdef int st
        with nogil:
            st = c.oh_engine_stream_play_silence(eng, self._id)
        _check(st, "play_silence")

    def connect_local(self):
        """Connects the stream to the engine's local audio (attach_audio): it sends the
        local capture (after the echo canceller) and what it receives is played there
        (a 1:1 call). Any play_* call replaces it; silence while no port is attached."""
        cdef c.oh_engine *eng = self._get()
        cdef int st
        with nogil:
            st = c.oh_engine_stream_connect_local(eng, self._id)
        _check(st, "connect_local")

    def record_wav(self, path, mode="received"):
        """Records the call to path (16-bit at the engine's rate), replacing any previous
        recording; stop_recording() or close() finalises it. mode "received" (default):
        mono, what the stream receives; "mix": mono, received + sent; "stereo": left =
        what the stream sends, right = what it receives."""
        cdef c.oh_engine *eng = self._get()
        if mode not in RECORD_MODES:
            raise ValueError(f"mode must be one of {', '.join(RECORD_MODES)}; got {mode!r}")
        cdef int m = RECORD_MODES.index(mode)
        encoded = _path(path)
        cdef const char *cpath = encoded
        cdef oh_wav_error err
        memset(&err, 0, sizeof(err))
        cdef int st
        with nogil:
            st = c.oh_engine_stream_record_wav_mode(eng, self._id, cpath, m, &err)
        _check_wav(st, &err, path)

    def stop_recording(self):
        """Finalises the current recording (no-op when not recording)."""
        cdef c.oh_engine *eng = self._get()
        cdef oh_wav_error err
        memset(&err, 0, sizeof(err))
        cdef int st
        with nogil:
            st = c.oh_engine_stream_stop_recording(eng, self._id, &err)
        _check_wav(st, &err, "recording")

    def update(self, *, remote=None, direction=None, codec=None, payload_type=None,
               rtcp_mux=None, remote_rtcp=None):
        """Changes, while the stream runs: the remote address (clears the source latch)
        with, optionally, the RTCP mode (rtcp_mux True/False; None keeps it: without
        mux RTCP then goes to the new remote's port + 1) and remote_rtcp (None: remote
        port + 1; ignored with mux); turning mux off binds local port + 1 (OSError
        when taken; the stream keeps mux),
        the direction (hold: "sendonly", "inactive"), and/or the codec with its payload
        type (default: the codec's static one, opus 111). After a codec change the
        stream sends the new payload type at once and drops the old one on receipt."""
        cdef c.oh_engine *eng = self._get()
        cdef oh_codec_config ccfg
        if payload_type is not None and codec is None:
            raise ValueError("payload_type is changed together with codec: update(codec=..., payload_type=...)")
        if codec is not None:
            info = _lookup_codec(codec)
            if payload_type is None:
                payload_type = info.payload_type if info.payload_type is not None else DEFAULT_DYNAMIC_PT
            if (not isinstance(payload_type, int) or isinstance(payload_type, bool)
                    or not 0 <= payload_type <= 127
                    or payload_type in (self.dtmf_payload_type, self.cn_payload_type)):
                raise ValueError(f"payload_type must be an int 0..127 other than the DTMF payload type "
                                 f"{self.dtmf_payload_type} and the comfort-noise one "
                                 f"{self.cn_payload_type}, got {payload_type!r}")
        if rtcp_mux is not None and not isinstance(rtcp_mux, bool):
            raise ValueError(f"rtcp_mux must be True, False or None, got {rtcp_mux!r}")
        if remote is None and (rtcp_mux is not None or remote_rtcp is not None):
            raise ValueError("rtcp_mux and remote_rtcp are changed together with remote: "
                             "update(remote=..., rtcp_mux=..., remote_rtcp=...)")
        cdef int d = -1
        if direction is not None:
            d = _direction(direction)
        cdef int st, port, mux = -1 if rtcp_mux is None else (1 if rtcp_mux else 0)
        cdef int cport = 0, err = 0
        cdef const char *chost
        cdef const char *crhost = b""
        if remote_rtcp is not None and rtcp_mux is not True:
            rchost_b, cport = _address(remote_rtcp, "remote_rtcp", False)
            crhost = rchost_b
        if remote is not None:
            rhost, port = _address(remote, "remote", False)
            chost = rhost
            with nogil:
                st = c.oh_engine_stream_set_remote_rtcp(eng, self._id, chost, port, mux, crhost, cport, &err)
            if st == OH_EINVAL:
                raise ValueError(f"remote {remote!r} must be a numeric IP address of the local "
                                 f"address's family (remote_rtcp {remote_rtcp!r} too; without "
                                 f"rtcp-mux a remote port below 65535)")
            if st == OH_EIO:
                raise OSError(err, f"update: cannot bind the RTCP port {self.local_port + 1} "
                                   f"(rtcp_mux=False): {os.strerror(err)}")
            _check(st, "update")
        if d >= 0:
            with nogil:
                st = c.oh_engine_stream_set_direction(eng, self._id, <c.oh_engine_direction>d)
            _check(st, "update")
            self.direction = direction
        cdef int pt
        if codec is not None:
            oh_codec_config_default(&ccfg, <oh_codec_id><int>info.codec_id)
            pt = payload_type
            with nogil:
                st = c.oh_engine_stream_set_codec(eng, self._id, &ccfg, pt)
            if st == OH_EUNSUPPORTED:
                raise MediaError(f"update: {info.name} cannot run with {self._engine.ptime} ms packets")
            _check(st, "update")
            self.codec = info.name
            self.payload_type = payload_type

    def stats(self):
        """Counters of the stream: packets/bytes sent and received, drops by reason,
        the latched source, RFC 3550 jitter (ms) and loss, the playout's statistics, DTMF
        counters, and "rtcp": what the peer's reports said about our packets
        (peer_fraction_lost 0..1, peer_cumulative_lost, peer_jitter_ms), rtt_ms from
        LSR/DLSR (None until known), bye (the peer left) and the peer's CNAME."""
        cdef c.oh_engine *eng = self._get()
        cdef c.oh_engine_stream_stats st
        cdef int r
        with nogil:
            r = c.oh_engine_stream_get_stats(eng, self._id, &st)
        _check(r, "stats")
        return _stream_stats(&st)

    def send_dtmf(self, digits, int duration_ms=100):
        """Queues digits ("0"-"9", "*", "#", "A"-"D") as RFC 4733 telephone-events of
        duration_ms (40..5000) each, sent after any digits already queued; they replace
        the stream's audio while they play. Returns at once (see stats()["dtmf_pending"])."""
        cdef c.oh_engine *eng = self._get()
        if self.dtmf_payload_type is None:
            raise MediaError("send_dtmf: this stream has no DTMF payload type "
                             "(add_stream(dtmf_payload_type=None))")
        if not isinstance(digits, str) or not digits:
            raise ValueError(f"digits must be a non-empty str, got {digits!r}")
        bad = [d for d in digits if d.upper() not in "0123456789*#ABCD"]
        if bad:
            raise ValueError(f"digits may only hold 0-9, *, #, A-D; got {bad[0]!r} in {digits!r}")
        if not 40 <= duration_ms <= 5000:
            raise ValueError(f"duration_ms must be 40..5000, got {duration_ms}")
        encoded = digits.encode("ascii")
        cdef const char *cd = encoded
        cdef int st
        with nogil:
            st = c.oh_engine_stream_send_dtmf(eng, self._id, cd, duration_ms)
        if st == OH_EBUFSIZE:
            raise MediaError(f"send_dtmf: at most {c.OH_ENGINE_DTMF_QUEUE} digits can wait to be "
                             f"sent; wait for stats()['dtmf_pending'] to fall")
        if st == OH_EINVAL:
            raise ValueError(f"send_dtmf: {duration_ms} ms does not fit RFC 4733's 16-bit "
                             f"duration at this codec's clock rate")
        _check(st, "send_dtmf")

    def dtmf_events(self):
        """Telephone-events received since the last call, oldest first, as
        (digit, duration_ms) tuples; each event is reported once, when it ends."""
        cdef c.oh_engine *eng = self._get()
        cdef c.oh_engine_dtmf_event evs[64]
        cdef int n = 0, st
        out = []
        while True:
            with nogil:
                st = c.oh_engine_stream_dtmf_events(eng, self._id, evs, 64, &n)
            _check(st, "dtmf_events")
            for i in range(n):
                out.append((chr(evs[i].digit), evs[i].duration_ms))
            if n < 64:
                return out
