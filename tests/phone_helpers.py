"""Helpers for the softphone tests: phones on loopback, and measuring what they played."""
from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt

import offhook.engine as eng
from offhook.media.wav import read_wav
from offhook.phone import (
    CallAudio,
    CallState,
    CallStateChanged,
    Phone,
    PhoneConfig,
    PolicyConfig,
    ToneRecorder,
)


def dominant_hz(pcm: npt.NDArray[np.int16], rate: int) -> float:
    """The strongest frequency (Hz) of a stretch of audio (Hann window, 1 Hz bins or finer)."""
    x = pcm.astype(np.float64)
    x = x - x.mean()
    n = max(len(x), rate)
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x)), n))
    return float(np.argmax(spec) * rate / n)


def band_share(pcm: npt.NDArray[np.int16], rate: int, freqs: tuple[int, ...], width: float = 15.0) -> float:
    """The share (0..1) of the signal's energy within ±width Hz of `freqs`."""
    x = pcm.astype(np.float64)
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x)))) ** 2
    hz = np.fft.rfftfreq(len(x), 1 / rate)
    mask = np.zeros_like(hz, dtype=bool)
    for f in freqs:
        mask |= np.abs(hz - f) <= width
    total = float(spec.sum())
    return float(spec[mask].sum()) / total if total > 0 else 0.0


def rms_db(pcm: npt.NDArray[np.int16]) -> float:
    x = pcm.astype(np.float64)
    return float(10 * np.log10(np.mean(x * x) / 32768.0**2 + 1e-12))


def recorded(path: Path) -> tuple[npt.NDArray[np.int16], int]:
    wav = read_wav(path)
    return wav.samples.ravel(), wav.sample_rate


def uri_of(phone: Phone) -> str:
    host, port = next(iter(phone.lines.values())).agent.transport.local["UDP"]
    return f"sip:offhook@{host}:{port}"


@contextlib.asynccontextmanager
async def phones(*specs: tuple[Callable[[], CallAudio], PolicyConfig | None]) -> AsyncIterator[list[Phone]]:
    """Peer-to-peer phones on 127.0.0.1, each with a ToneRecorder as its local speaker."""
    started: list[Phone] = []
    try:
        for audio, policy in specs:
            phone = Phone(PhoneConfig(policy=policy or PolicyConfig()), audio=audio,
                          local_audio=ToneRecorder())
            await phone.start()
            started.append(phone)
        yield started
    finally:
        for phone in started:
            await phone.stop()


_RATE = 16000
_FRAME = _RATE // 50


class FakeSoundCard:
    """Plays `freq_hz` into the port's microphone side and keeps what comes out of its
    speaker side, 20 ms at a time in real time (a thread, as a device callback would)."""

    def __init__(self, port: eng.DevicePort, freq_hz: float) -> None:
        self.port, self.freq = port, freq_hz
        self.heard: list[np.ndarray] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        n = 0
        out = np.zeros(_FRAME, np.int16)
        while not self._stop.wait(0.02):
            t = (np.arange(_FRAME) + n) / _RATE
            self.port.push_capture((3000 * np.sin(2 * np.pi * self.freq * t)).astype(np.int16))
            self.port.pull_playback(out)
            self.heard.append(out.copy())
            n += _FRAME

    def __enter__(self) -> FakeSoundCard:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(2)

    def last(self, seconds: float) -> np.ndarray:
        return np.concatenate(self.heard[-int(seconds * 50):])


async def incoming(phone: Phone, timeout: float = 5.0) -> CallStateChanged:
    """The phone's next incoming-call event (other events are passed over)."""
    async with asyncio.timeout(timeout):
        while True:
            ev = await phone.next_event()
            if isinstance(ev, CallStateChanged) and ev.state is CallState.INCOMING:
                return ev
