"""The phone on sound devices: calls through the engine's local audio port, tones on a device.

With `[audio] capture`/`playback` naming devices, the phone opens one DeviceStream
(devices/stream.py: PortAudio callbacks filling and draining a DevicePort's rings without
the GIL) and attaches its port to the media engine, whose C media thread then reads the
microphone, runs the echo canceller with exactly what it played as the reference, and
writes what the user should hear. A call's stream is connected to that local audio
(`DeviceAudio`); in a conference the engine's mixer carries the local participant.

The phone's own sounds (ring, ringback, busy, call waiting) go to the ringer device (or
the playback device) through a separate PortAudio output stream, so a ring tone never
passes through the echo canceller's reference and the ringer can be another device.

That stream is opened once (`DeviceLocalAudio.open()`, at the phone's start) and then
plays silence between sounds.  Opened only when the phone rings it started late: a
device that sat idle takes its time to wake, and a PulseAudio sink that sat idle
consumes a new stream's first seconds at full speed (its backlog), so the first ~3 s
of ring were never heard.  A stream that keeps playing keeps the device awake and in
real time, and a ring then starts with the next callback (tens of ms).  If the stream
dies (the device was unplugged) it is opened again at the next sound.
"""
from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from offhook._devport import DevicePort
from offhook._media import MediaEngine, MediaStream
from offhook.devices.stream import DeviceStream, StreamEvent, StreamMode
from offhook.media.tones import ToneGenerator
from offhook.phone.config import AudioConfig

__all__ = ["DeviceAudio", "DeviceLocalAudio", "open_sound_devices"]

log = logging.getLogger("offhook.phone.devices")
ENGINE_RATE = 16000
TONE_RATE = 16000


class DeviceAudio:
    """CallAudio on the engine's local audio: the call sends the microphone (after the echo
    canceller) and is heard on the playback device. Mute is the engine's (the microphone)."""

    def __init__(self, engine: MediaEngine) -> None:
        self.engine = engine

    def source(self, stream: MediaStream) -> None:
        stream.connect_local()

    def sink(self, stream: MediaStream) -> None:
        return None     # connect_local routes what the stream receives to the playback device

    def mute(self, muted: bool) -> None:
        self.engine.mute_local(muted)

    def __repr__(self) -> str:
        return "DeviceAudio()"


def open_sound_devices(config: AudioConfig, engine: MediaEngine, *,
                       port: DevicePort | None = None,
                       on_event: Callable[[StreamEvent], None] | None = None) -> DeviceStream | None:
    """Attach the configured devices (or a given port, e.g. a test's) as the engine's local
    audio; returns the started DeviceStream (None with a port or `null` devices).  When the
    device in use disappears the stream falls back to `capture_fallback`/`playback_fallback`,
    then the system default, telling `on_event` (from its supervisor thread)."""
    if port is not None:
        engine.attach_audio(port, aec=config.echo_canceller)
        return None
    if config.capture == "null" and config.playback == "null":
        return None
    mode: StreamMode = "duplex" if "null" not in (config.capture, config.playback) else (
        "capture" if config.playback == "null" else "playback")
    stream = DeviceStream(None if config.capture == "null" else config.capture,
                          None if config.playback == "null" else config.playback,
                          mode=mode, engine_rate=ENGINE_RATE, frame_ms=20,
                          preferred_capture=config.capture_fallback,
                          preferred_playback=config.playback_fallback, on_event=on_event)
    stream.start()
    engine.attach_audio(stream.port, aec=config.echo_canceller)
    return stream


class DeviceLocalAudio:
    """LocalAudio on a PortAudio output device: the progress tone and the ring tone (the
    profile's ringback cadence) are generated in the callback and summed."""

    def __init__(self, device: str | None, profile: str = "us", level_dbm0: float = -13.0) -> None:
        self.device = device
        self.profile = profile
        self.level_dbm0 = level_dbm0
        self.gain_db = 0.0           # the phone's volume (set_gain): tones are generated at it
        self.current_tone: str | None = None
        self.ringing = False
        self._tone: ToneGenerator | None = None
        self._ring: ToneGenerator | None = None
        self._lock = threading.Lock()
        self._stream: Any = None
        self._keep_open = False
        self.ring_frames = 0        # ring samples handed to the device since the ring began

    def tone(self, name: str | None) -> None:
        if name == self.current_tone:
            return
        gen = self._generator(name) if name is not None else None
        with self._lock:
            self._tone = gen
        self.current_tone = name
        self._run()

    def ring(self, on: bool) -> None:
        if on == self.ringing:
            return
        gen = self._generator("ringback") if on else None
        with self._lock:
            self._ring = gen
            self.ring_frames = 0
        self.ringing = on
        self._run()

    @property
    def ring_seconds(self) -> float:
        """How much ring tone the device has taken since the ring began: it follows the wall
        clock on a device that plays in real time (less: the device slept; more: a backlog
        swallowed it)."""
        return self.ring_frames / TONE_RATE

    @property
    def is_open(self) -> bool:
        """The output stream is open and running (silent or not)."""
        return self._stream is not None and bool(self._stream.active)

    def open(self) -> None:
        """Open the output stream now and keep it open (playing silence) until close()."""
        self._keep_open = True
        self._run()

    def _generator(self, name: str) -> ToneGenerator | None:
        """A tone at the configured level plus the volume; None when the volume is off."""
        level = self.level_dbm0 + self.gain_db
        if level < -90.0:
            return None
        return ToneGenerator(name, self.profile, TONE_RATE, min(0.0, level))

    def set_gain(self, gain_db: float) -> None:
        """The volume (dB) for tones from now on, and for a tone sounding now (regenerated:
        the level is fixed in a generator, so nothing is scaled per block)."""
        self.gain_db = gain_db
        with self._lock:
            if self._tone is not None and self.current_tone is not None:
                self._tone = self._generator(self.current_tone)
            if self._ring is not None or self.ringing:
                self._ring = self._generator("ringback") if self.ringing else None

    def set_device(self, device: str | None) -> None:
        """Sound on another device (None: the default) from now on; a tone or ring that is
        sounding moves there at once."""
        if device == self.device:
            return
        self.device = device
        if self._stream is not None:
            self._stream.stop()
            self._stream.close()
            self._stream = None
            self._run()

    def close(self) -> None:
        self._keep_open = False
        self.tone(None)
        self.ring(False)
        self._run()

    def _callback(self, out: np.ndarray, frames: int, _time: object, _status: object) -> None:
        with self._lock:
            gens = [g for g in (self._tone, self._ring) if g is not None]
            if self._ring is not None:
                self.ring_frames += frames
        mix = np.zeros(frames, np.int32)
        for gen in gens:
            mix += gen.generate(frames)
        out[:, 0] = np.clip(mix, -32768, 32767)

    def _run(self) -> None:
        """An output stream while open() or while something sounds, none otherwise."""
        wanted = self._keep_open or self.current_tone is not None or self.ringing
        if self._stream is not None and not self._stream.active:   # died under us: unplugged
            with contextlib.suppress(Exception):
                self._stream.close()
            self._stream = None
        if wanted and self._stream is None:
            import sounddevice as sd
            stream = None
            try:
                stream = sd.OutputStream(device=self.device, samplerate=TONE_RATE, channels=1,
                                         dtype="int16", callback=self._callback, latency="low")
                stream.start()
            except Exception as exc:    # PortAudio's errors: the phone works on, the next sound retries
                log.warning("ringer device %r cannot be opened now: %s", self.device, exc)
                if stream is not None:
                    with contextlib.suppress(Exception):
                        stream.close()
                return
            self._stream = stream
        elif not wanted and self._stream is not None:
            self._stream.stop()
            self._stream.close()
            self._stream = None
