"""The engine's local audio endpoint (MediaEngine.attach_audio) with virtual ports.

A virtual port is a DevicePort at the engine's rate whose device side is driven
by a thread of the test on the monotonic clock, as a sound card would: every few
ms it pushes what the "microphone" produced since the start and pulls as much
from the "loudspeaker". Two engines talk over loopback: a tone pushed into A's
capture comes out of B's playback; a simulated acoustic echo (A's loudspeaker
fed back to A's microphone through a delay and a room impulse response) is
removed by the echo canceller before it reaches B (ERLE measured on what B
receives); a 3-way local conference with distinct tones; mute; the recording
modes; inband DTMF digits. No PulseAudio needed.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

import offhook.engine as eng
from offhook.media.echo_scenarios import room_impulse_response
from offhook.media.events import DtmfReceived
from offhook.media.speech import speech
from offhook.media.wav import read_wav, write_wav

RATE = 16000
LOOP = "127.0.0.1"
STEP = 0.005  # the virtual device's period (s)


def goertzel_share(x: np.ndarray, freq: float, rate: int = RATE) -> float:
    """Share of x's power at freq (0..1)."""
    x = x.astype(np.float64)
    w = 2 * np.pi * freq / rate
    n = np.arange(len(x))
    power = abs(np.dot(x, np.exp(-1j * w * n))) ** 2
    return float(2 * power / (len(x) * np.dot(x, x) + 1e-9))


def rms_db(x: np.ndarray) -> float:
    """RMS in dB relative to int16 full scale."""
    return float(10 * np.log10(np.mean(x.astype(np.float64) ** 2) + 1e-9) - 20 * np.log10(32768))


def sine(freq: float, amplitude: float, start: int, n: int) -> np.ndarray:
    t = np.arange(start, start + n)
    return (amplitude * np.sin(2 * np.pi * freq * t / RATE)).astype(np.int16)


class VirtualDevice:
    """Drives a DevicePort's device side in real time from a thread.

    mic(start, n) gives the next n capture samples (int16); echo, when set, is a
    callable that maps the samples just played to what the microphone picks up of
    them (added to mic). Everything played is kept in `played`, everything
    captured in `captured`.
    """

    def __init__(self, port: eng.DevicePort,
                 mic: Callable[[int, int], np.ndarray] | None = None,
                 echo: Callable[[np.ndarray], np.ndarray] | None = None) -> None:
        self.port = port
        self.mic = mic or (lambda start, n: np.zeros(n, np.int16))
        self.echo = echo
        self.played: list[np.ndarray] = []
        self.captured: list[np.ndarray] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> VirtualDevice:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        rate = self.port.engine_rate
        t0 = time.monotonic()
        done = 0
        playing = False
        while not self._stop.is_set():
            due = int((time.monotonic() - t0) * rate)
            n = due - done
            if n > 0:
                # Playback starts once the engine has queued two frames (a device's
                # start-up buffering), then runs on the clock like the capture side.
                playing = playing or self.port.playback_queued >= 2 * rate // 50
                out = np.zeros(n, np.int16)
                if playing:
                    self.port.pull_playback(out)
                self.played.append(out)
                cap = self.mic(done, n).astype(np.int32)
                if self.echo is not None:
                    cap = cap + self.echo(out)
                cap16 = np.clip(cap, -32768, 32767).astype(np.int16)
                self.captured.append(cap16)
                self.port.push_capture(cap16)
                done = due
            time.sleep(STEP)

    def played_audio(self) -> np.ndarray:
        return np.concatenate(self.played) if self.played else np.zeros(0, np.int16)

    def captured_audio(self) -> np.ndarray:
        return np.concatenate(self.captured) if self.captured else np.zeros(0, np.int16)


class EchoPath:
    """Loudspeaker -> room -> microphone: a bulk delay and a room impulse response."""

    def __init__(self, delay_ms: int, gain: float = 0.5) -> None:
        ir = room_impulse_response(RATE)
        self.ir = gain * ir / np.sqrt(np.sum(ir ** 2))
        self.history = np.zeros(delay_ms * RATE // 1000 + len(self.ir), np.float64)
        self.delay = delay_ms * RATE // 1000

    def __call__(self, played: np.ndarray) -> np.ndarray:
        n = len(played)
        self.history = np.concatenate([self.history, played.astype(np.float64)])
        # the output sample i sees the input delayed by `delay`
        seg = self.history[-(n + self.delay + len(self.ir) - 1):len(self.history) - self.delay]
        out = np.convolve(seg, self.ir, mode="valid")[-n:]
        self.history = self.history[-(self.delay + len(self.ir) + 1):]
        return np.round(out).astype(np.int32)


@pytest.fixture
def engines() -> Iterator[tuple[eng.MediaEngine, eng.MediaEngine]]:
    a = eng.MediaEngine(RATE, 20)
    b = eng.MediaEngine(RATE, 20)
    yield a, b
    a.close()
    b.close()


def call(a: eng.MediaEngine, b: eng.MediaEngine, codec: str = "G722",
         **kw: object) -> tuple[eng.MediaStream, eng.MediaStream]:
    sa = a.add_stream((LOOP, 0), codec=codec, **kw)  # type: ignore[arg-type]
    sb = b.add_stream((LOOP, 0), remote=(LOOP, sa.local_port), codec=codec, **kw)  # type: ignore[arg-type]
    sa.update(remote=(LOOP, sb.local_port))
    return sa, sb


def test_tone_from_a_capture_comes_out_of_b_playback(engines: tuple[eng.MediaEngine, eng.MediaEngine]) -> None:
    a, b = engines
    pa, pb = eng.DevicePort(RATE, RATE), eng.DevicePort(RATE, RATE)
    a.attach_audio(pa, aec=False)
    b.attach_audio(pb, aec=False)
    sa, sb = call(a, b)
    sa.connect_local()
    sb.connect_local()
    with VirtualDevice(pa, mic=lambda s, n: sine(1000, 8000, s, n)), VirtualDevice(pb) as vb:
        time.sleep(1.5)
    heard = vb.played_audio()[-RATE // 2:]
    assert goertzel_share(heard, 1000) > 0.95
    # 8000 peak = -15.3 dBFS RMS in; G.722 keeps the level within 1 dB
    assert abs(rms_db(heard) - rms_db(sine(1000, 8000, 0, RATE))) < 1.0
    local = a.stats()["local"]
    assert local["attached"] and local["frames"] > 50
    assert b.stats()["local"]["playback_overruns"] == 0
    assert sb.stats()["local"] is True
