"""Deterministic echo scenarios and echo-canceller metrics, for tests and benchmarks.

A scenario is what a softphone's microphone hears while its loudspeaker plays
the far end: far-end speech (one espeak-ng talker) played through a
loudspeaker model and a synthetic room (image-source impulse response),
optionally delayed and resampled (clock drift), plus near-end speech (another
talker) and a little noise. Everything is computed from fixed seeds, so the
figures are repeatable.

The image-source room follows Allen & Berkley, "Image method for efficiently
simulating small-room acoustics", JASA 65(4), 1979: every mirror image of the
source up to the impulse response's length contributes 1/(4 pi r) times the
wall reflection coefficients it crossed, at its fractional delay (windowed
sinc). One reflection coefficient for all walls is derived from RT60 by
Sabine's formula.
"""
from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable

import numpy as np

from offhook.media.speech import speech

SOUND_SPEED = 343.0  # m/s

SCENARIOS = ("far_single_talk", "double_talk", "path_change", "nonlinear",
             "bulk_delay_250ms", "near_only", "clock_drift", "double_talk_drift",
             "double_talk_drift_reverse")
# Playback clock over capture clock in the drift scenarios.
DRIFT = {"clock_drift": 1.0005, "double_talk_drift": 1.0005, "double_talk_drift_reverse": 0.9995}


@dataclasses.dataclass(frozen=True)
class Scenario:
    """Signals of one scenario (all mono int16 at sample_rate, same length)."""
    name: str
    sample_rate: int
    far: np.ndarray     # what the loudspeaker was given (the canceller's reference)
    mic: np.ndarray     # what the microphone captured: echo + near speech + noise
    near: np.ndarray    # the near-end speech alone, as the microphone captured it
    echo: np.ndarray    # the echo alone
    change_at: float | None = None  # seconds: when the echo path changed, if it did


def room_impulse_response(sample_rate: int, *, room: tuple[float, float, float] = (5.0, 4.0, 2.8),
                          source: tuple[float, float, float] = (1.2, 1.5, 1.1),
                          mic: tuple[float, float, float] = (1.5, 1.9, 1.0),
                          rt60: float = 0.25, length: float = 0.15) -> np.ndarray:
    """An image-source room impulse response (float64, `length` seconds, peak-normalised)."""
    dims = np.asarray(room, dtype=np.float64)
    src = np.asarray(source, dtype=np.float64)
    rcv = np.asarray(mic, dtype=np.float64)
    volume = float(np.prod(dims))
    surface = 2.0 * (dims[0] * dims[1] + dims[0] * dims[2] + dims[1] * dims[2])
    absorption = min(0.99, 0.161 * volume / (rt60 * surface))  # Sabine
    beta = np.sqrt(1.0 - absorption)
    n_taps = round(length * sample_rate)
    max_dist = length * SOUND_SPEED
    orders = [np.arange(-int(max_dist / d) - 1, int(max_dist / d) + 2) for d in dims]
    h = np.zeros(n_taps + 32)
    half = 8
    for parity in np.ndindex(2, 2, 2):
        p = np.asarray(parity)
        grids = np.meshgrid(*orders, indexing="ij")
        m = np.stack([g.ravel() for g in grids], axis=1)
        # image position: 2 m L +- source
        pos = 2.0 * m * dims + np.where(p == 0, src, -src)
        dist = np.linalg.norm(pos - rcv, axis=1)
        keep = dist < max_dist
        dist = dist[keep]
        # walls crossed on each axis: |m - p| + |m| (Allen & Berkley)
        reflections = np.abs(m[keep] - p) + np.abs(m[keep])
        gain = beta ** reflections.sum(axis=1) / (4.0 * np.pi * dist)
        delay = dist / SOUND_SPEED * sample_rate
        base = np.floor(delay).astype(np.int64)
        frac = delay - base
        for k in range(-half + 1, half + 1):
            idx = base + k
            x = k - frac
            tap = np.sinc(x) * (0.5 + 0.5 * np.cos(np.pi * x / half))
            ok = (idx >= 0) & (idx < len(h))
            np.add.at(h, idx[ok], (gain * tap)[ok])
    h = h[:n_taps]
    return np.asarray(h / np.max(np.abs(h)), dtype=np.float64)


def loudspeaker(x: np.ndarray, sample_rate: int, drive: float = 0.0) -> np.ndarray:
    """A small loudspeaker: no bass (150 Hz high-pass); with drive > 0, an amplifier
    that soft-clips (tanh) and then hard-clips at 70 % of the peak."""
    y = x.astype(np.float64)
    if drive > 0:
        peak = max(float(np.max(np.abs(y))), 1.0)
        y = np.tanh(drive * y / peak) / np.tanh(drive) * peak
        y = np.clip(y, -0.7 * peak, 0.7 * peak)
    # linear-phase FIR high-pass: a delta minus a Hann-windowed sinc low-pass
    half = sample_rate // 200  # 5 ms each side
    k = np.arange(-half, half + 1)
    low = 2 * 150.0 / sample_rate * np.sinc(2 * 150.0 / sample_rate * k) * np.hanning(2 * half + 1)
    high = -low
    high[half] += 1.0
    # causal: 5 ms of delay, as a real driver has some
    return np.asarray(np.convolve(y, high)[:len(y)], dtype=np.float64)


def _level(x: np.ndarray, dbfs: float) -> np.ndarray:
    active = np.abs(x) > 0.05 * np.max(np.abs(x)) if np.any(x) else np.ones(len(x), bool)
    rms = np.sqrt(np.mean(x[active].astype(np.float64) ** 2))
    return np.asarray(x * (10.0 ** (dbfs / 20.0) * 32768.0 / max(rms, 1e-9)), dtype=np.float64)


def _resample(x: np.ndarray, ratio: float, half_taps: int = 32) -> np.ndarray:
    """x played by a clock `ratio` times as fast as the capture clock.

    Band-limited (Kaiser-windowed sinc, 2 * half_taps taps, error below -80 dB
    on speech), as two real converters' clocks are: linear interpolation here
    would add a low-pass that swings from 0 to -3 dB at 4 kHz and back every
    1 / (ratio - 1) samples, an echo path no linear filter can follow and no
    real device has.
    """
    t = np.arange(len(x)) * ratio
    base = np.floor(t).astype(np.int64)
    frac = t - base
    padded = np.concatenate([np.zeros(half_taps), x, np.zeros(half_taps + 1)])
    out = np.zeros(len(x))
    beta = 8.0
    for k in range(-half_taps + 1, half_taps + 1):
        u = k - frac
        window = np.i0(beta * np.sqrt(np.clip(1.0 - (u / half_taps) ** 2, 0.0, 1.0))) / np.i0(beta)
        idx = np.clip(base + k + half_taps, 0, len(padded) - 1)
        out += padded[idx] * np.sinc(u) * window
    return out


def _int16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


@functools.lru_cache(maxsize=32)
def make(name: str, sample_rate: int = 16000, seconds: float = 12.0) -> Scenario:
    """One of SCENARIOS, deterministic for a given (name, sample_rate, seconds)."""
    if name not in SCENARIOS:
        raise ValueError(f"unknown echo scenario {name!r}; choose one of {', '.join(SCENARIOS)}")
    if sample_rate not in (8000, 16000, 32000, 48000):
        raise ValueError(f"echo scenarios are made at 8000, 16000, 32000 or 48000 Hz, not {sample_rate}")
    n = int(seconds * sample_rate)
    rng = np.random.default_rng(sum(map(ord, name)) * 7919 + sample_rate)
    far = _level(speech(seconds, sample_rate, talker=0).astype(np.float64)[:n], -20.0)
    far = np.pad(far, (0, n - len(far)))
    near_speech = np.zeros(n)
    if name in ("double_talk", "near_only", "double_talk_drift", "double_talk_drift_reverse"):
        ns = _level(speech(seconds, sample_rate, talker=1).astype(np.float64), -28.0)[:n]
        start = 0 if name == "near_only" else int(4.0 * sample_rate)
        near_speech[start:] = ns[:n - start]
    if name == "near_only":
        far = np.zeros(n)
    played = loudspeaker(far, sample_rate, drive=3.0 if name == "nonlinear" else 0.0)
    if name in DRIFT:
        played = _resample(played, DRIFT[name])
    h1 = room_impulse_response(sample_rate)
    echo = np.convolve(played, h1)[:n]
    change_at = None
    if name == "path_change":
        h2 = room_impulse_response(sample_rate, source=(3.1, 2.2, 1.4), mic=(2.6, 2.9, 0.9))
        echo2 = np.convolve(played, h2)[:n]
        cut = n // 2
        echo = np.concatenate([echo[:cut], echo2[cut:]])
        change_at = cut / sample_rate
    # Playback and capture buffers delay the echo: 20 ms, as a laptop's
    # built-in devices do, or 250 ms, as USB or Bluetooth ones can.
    d = int((0.25 if name == "bulk_delay_250ms" else 0.02) * sample_rate)
    echo = np.concatenate([np.zeros(d), echo[:n - d]])
    # echo at the microphone 6 dB below the played level
    gain = 10 ** (-6 / 20) * np.sqrt(np.mean(played**2)) / max(np.sqrt(np.mean(echo**2)), 1e-9)
    echo = echo * gain
    noise = rng.standard_normal(n) * (10 ** (-70 / 20) * 32768.0)
    mic = echo + near_speech + noise
    return Scenario(name, sample_rate, _int16(far), _int16(mic), _int16(near_speech),
                    _int16(echo), change_at)


def run(process: Callable[[np.ndarray, np.ndarray], np.ndarray], scenario: Scenario,
        frame_size: int) -> np.ndarray:
    """Feeds a scenario frame by frame to process(near, far) -> out; returns the output."""
    n = len(scenario.mic) // frame_size * frame_size
    out = np.zeros(n, np.int16)
    for i in range(0, n, frame_size):
        out[i:i + frame_size] = process(scenario.mic[i:i + frame_size], scenario.far[i:i + frame_size])
    return out


def _frame_energy(x: np.ndarray, frame: int) -> np.ndarray:
    n = len(x) // frame * frame
    return np.asarray(np.sum(x[:n].astype(np.float64).reshape(-1, frame) ** 2, axis=1))


def far_single_talk_frames(scenario: Scenario, frame: int) -> np.ndarray:
    """Boolean per frame: echo present (> -55 dBFS) and no near-end speech (< -70 dBFS)."""
    echo = _frame_energy(scenario.echo, frame) / frame
    near = _frame_energy(scenario.near, frame) / frame
    return (echo > (32768 * 10 ** (-55 / 20)) ** 2) & (near < (32768 * 10 ** (-70 / 20)) ** 2)


def erle_db(scenario: Scenario, out: np.ndarray, *, start: float = 3.0, stop: float | None = None,
            latency: int = 0) -> float:
    """ERLE (dB) over far-end single-talk 10 ms frames between start and stop seconds."""
    frame = scenario.sample_rate // 100
    aligned = out[latency:]
    n = min(len(aligned), len(scenario.mic)) // frame
    mask = far_single_talk_frames(scenario, frame)[:n]
    t = np.arange(n) * frame / scenario.sample_rate
    mask &= t >= start
    if stop is not None:
        mask &= t < stop
    mic_e = _frame_energy(scenario.mic, frame)[:n][mask].sum()
    out_e = _frame_energy(aligned, frame)[:n][mask].sum()
    return float(10 * np.log10(max(mic_e, 1.0) / max(out_e, 1.0)))


def convergence_time(scenario: Scenario, out: np.ndarray, *, target_db: float = 15.0,
                     since: float = 0.0, window: float = 0.5, latency: int = 0) -> float:
    """Seconds from `since` until ERLE over a sliding window of far-only frames first reaches target_db.

    Returns inf if it never does.
    """
    frame = scenario.sample_rate // 100
    aligned = out[latency:]
    n = min(len(aligned), len(scenario.mic)) // frame
    mask = far_single_talk_frames(scenario, frame)[:n]
    mic_e = _frame_energy(scenario.mic, frame)[:n]
    out_e = _frame_energy(aligned, frame)[:n]
    w = int(window * 100)
    first = int(since * 100)
    for end in range(first + w, n + 1, 5):
        m = mask[end - w:end]
        if m.sum() < w // 4:
            continue
        e = 10 * np.log10(max(mic_e[end - w:end][m].sum(), 1.0) / max(out_e[end - w:end][m].sum(), 1.0))
        if e >= target_db:
            return (end - first) / 100.0
    return float("inf")
