"""Where a call's audio comes from and goes to, and the phone's own sounds (tones, ringer).

CallAudio is what a call sends (its source) and what it does with what it receives
(its sink). The phone connects it to the call's engine stream whenever the stream
is (re)created, so it survives codec changes. Implementations here:

- NullAudio: sends silence, drops what arrives (the default: `--audio null`);
- WavAudio(play=..., record=...): a WAV file as the microphone, a WAV file as the speaker;
- ToneAudio(freq_hz): a steady tone as the microphone (tests, line checks).

The sound-card implementation is phone/devices.py's DeviceAudio: the call is connected
to the engine's local audio port, which the configured devices feed.

LocalAudio is the user's own speaker and ringer for what the phone itself plays:
progress tones (ringback while an outgoing call rings, busy on 486, the call-waiting
beep during a call) and the ring tone. `NullLocalAudio` only keeps the state (what
the console shows); `ToneRecorder` renders every tone with the engine's tone
generator for as long as it sounded (wall clock) and can write it to a WAV file —
how tests hear and measure what the phone played locally.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from offhook._media import MediaStream
from offhook.media.tones import ToneGenerator
from offhook.media.wav import write_wav

__all__ = [
    "CallAudio",
    "LocalAudio",
    "NullAudio",
    "NullLocalAudio",
    "ToneAudio",
    "ToneRecorder",
    "WavAudio",
]

StrPath = str | os.PathLike[str]


class CallAudio(Protocol):
    """A call's microphone and speaker, attached to each engine stream the call gets."""

    def source(self, stream: MediaStream) -> None:
        """Start sending this audio on the stream (also called on unmute)."""

    def sink(self, stream: MediaStream) -> None:
        """Start taking what the stream receives."""


class NullAudio:
    def source(self, stream: MediaStream) -> None:
        stream.play_silence()

    def sink(self, stream: MediaStream) -> None:
        return None

    def __repr__(self) -> str:
        return "NullAudio()"


@dataclass
class WavAudio:
    """play: a WAV sent from the start (and again from the start after unmute); record: a WAV
    of what arrives (a re-created stream — codec change — starts the file again)."""

    play: StrPath | None = None
    record: StrPath | None = None

    def source(self, stream: MediaStream) -> None:
        if self.play is not None:
            stream.play_wav(self.play)
        else:
            stream.play_silence()

    def sink(self, stream: MediaStream) -> None:
        if self.record is not None:
            stream.record_wav(self.record)


@dataclass
class ToneAudio:
    freq_hz: int
    level_dbm0: float = -10.0

    def source(self, stream: MediaStream) -> None:
        stream.play_tone(self.freq_hz, self.level_dbm0)

    def sink(self, stream: MediaStream) -> None:
        return None


class LocalAudio(Protocol):
    """The user's speaker (progress tones) and ringer. `tone(None)` stops the tone."""

    def tone(self, name: str | None) -> None: ...

    def ring(self, on: bool) -> None: ...

    def close(self) -> None: ...


class NullLocalAudio:
    """Plays nothing; remembers what would sound (`current_tone`, `ringing`)."""

    def __init__(self) -> None:
        self.current_tone: str | None = None
        self.ringing = False

    def tone(self, name: str | None) -> None:
        self.current_tone = name

    def ring(self, on: bool) -> None:
        self.ringing = on

    def close(self) -> None:
        self.current_tone = None
        self.ringing = False


@dataclass
class _Segment:
    name: str
    start: float
    end: float | None = None


@dataclass
class ToneRecorder:
    """LocalAudio that renders what it was told to play, for as long as it played.

    `segments` lists (name, start, end); `samples(name)` is the audio of every stretch
    of that tone (the ring tone is named "ring": the profile's ringback cadence);
    `write(path)` writes the whole timeline (silence between tones) as a WAV file."""

    profile: str = "us"
    sample_rate: int = 8000
    level_dbm0: float = -13.0
    segments: list[_Segment] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.created = time.monotonic()
        self._tone: _Segment | None = None
        self._ring: _Segment | None = None
        self.current_tone: str | None = None
        self.ringing = False

    def tone(self, name: str | None) -> None:
        if name == self.current_tone:
            return
        now = time.monotonic()
        if self._tone is not None:
            self._tone.end = now
        self._tone = None
        if name is not None:
            ToneGenerator(name, self.profile, self.sample_rate)   # an unknown name fails here, at once
            self._tone = _Segment(name, now)
            self.segments.append(self._tone)
        self.current_tone = name

    def ring(self, on: bool) -> None:
        if on == self.ringing:
            return
        now = time.monotonic()
        if on:
            self._ring = _Segment("ring", now)
            self.segments.append(self._ring)
        elif self._ring is not None:
            self._ring.end = now
            self._ring = None
        self.ringing = on

    def close(self) -> None:
        self.tone(None)
        self.ring(False)

    def _render(self, seg: _Segment) -> npt.NDArray[np.int16]:
        end = seg.end if seg.end is not None else time.monotonic()
        n = int((end - seg.start) * self.sample_rate)
        tone = "ringback" if seg.name == "ring" else seg.name
        return ToneGenerator(tone, self.profile, self.sample_rate, self.level_dbm0).generate(n)

    def samples(self, name: str) -> npt.NDArray[np.int16]:
        parts = [self._render(s) for s in self.segments if s.name == name]
        return np.concatenate(parts) if parts else np.zeros(0, np.int16)

    def names(self) -> list[str]:
        return [s.name for s in self.segments]

    def write(self, path: StrPath) -> Path:
        end = max([s.end or time.monotonic() for s in self.segments], default=self.created)
        out = np.zeros(int((end - self.created) * self.sample_rate) + 1, np.int32)
        for seg in self.segments:
            pcm = self._render(seg)
            at = int((seg.start - self.created) * self.sample_rate)
            out[at:at + len(pcm)] += pcm[:max(0, len(out) - at)]
        write_wav(path, np.clip(out, -32768, 32767).astype(np.int16), self.sample_rate)
        return Path(path)
