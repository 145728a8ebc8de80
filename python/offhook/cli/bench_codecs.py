"""`offhook bench codecs`: speech through every codec — quality (PESQ) and speed.

Speech is espeak-ng's (deterministic); each codec runs at its own rate
(narrowband PESQ at 8 kHz, wideband at 16 kHz) in 20 ms frames. Loss is
random and seeded, so two runs print the same quality figures; lost frames
are replaced by the codec's concealment.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass

import numpy as np

from offhook.cli.table import print_table
from offhook.media.codecs import codec
from offhook.media.quality import pesq_score
from offhook.media.speech import speech

FRAME_MS = 20


@dataclass(frozen=True)
class CodecSetup:
    label: str
    name: str
    sample_rate: int
    options: tuple[tuple[str, object], ...] = ()


SETUPS = (
    CodecSetup("PCMU", "PCMU", 8000),
    CodecSetup("PCMA", "PCMA", 8000),
    CodecSetup("G722 64k", "G722", 16000),
    CodecSetup("opus 24k", "opus", 16000, (("bitrate", 24000),)),
    CodecSetup("opus 24k FEC", "opus", 16000,
               (("bitrate", 24000), ("fec", True), ("packet_loss_pct", 20))),
)


@dataclass
class CodecResult:
    codec: str
    sample_rate: int
    kbit_s: float
    pesq: dict[str, float]
    encode_decode_us: float
    times_real_time: float


def frames_of(signal: np.ndarray, frame: int) -> list[np.ndarray]:
    usable = len(signal) - len(signal) % frame
    return [np.ascontiguousarray(signal[i:i + frame]) for i in range(0, usable, frame)]


def through_codec(setup: CodecSetup, frames: list[np.ndarray], loss_pct: float,
                  seed: int = 1) -> np.ndarray:
    """Encodes every frame, drops loss_pct % at random, decodes the rest (FEC where it can)."""
    c = codec(setup.name, setup.sample_rate, **dict(setup.options))
    payloads = [c.encode(f) for f in frames]
    lost = np.random.default_rng(seed).random(len(payloads)) < loss_pct / 100.0
    out = []
    n = len(frames[0])
    for i, payload in enumerate(payloads):
        if not lost[i]:
            out.append(c.decode(payload))
        elif i + 1 < len(payloads) and not lost[i + 1]:
            out.append(c.decode_fec(payloads[i + 1], n))
        else:
            out.append(c.conceal(n))
    return np.concatenate(out)


def encode_decode_seconds(setup: CodecSetup, frames: list[np.ndarray], rounds: int = 3) -> float:
    """Best-of-rounds time to encode and decode one frame, call overhead included."""
    c = codec(setup.name, setup.sample_rate, **dict(setup.options))
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for f in frames:
            c.decode(c.encode(f))
        best = min(best, (time.perf_counter() - start) / len(frames))
    return best


def measure(setup: CodecSetup, seconds: float, losses: list[float]) -> CodecResult:
    signal = speech(seconds, setup.sample_rate)
    frame = setup.sample_rate * FRAME_MS // 1000
    frames = frames_of(signal, frame)
    reference = np.concatenate(frames)
    c = codec(setup.name, setup.sample_rate, **dict(setup.options))
    payload_bytes = sum(len(c.encode(f)) for f in frames)
    scores = {f"{loss:g}%": pesq_score(reference, through_codec(setup, frames, loss),
                                       setup.sample_rate)
              for loss in losses}
    cost = encode_decode_seconds(setup, frames)
    return CodecResult(
        codec=setup.label,
        sample_rate=setup.sample_rate,
        kbit_s=payload_bytes * 8 / (len(frames) * FRAME_MS),
        pesq=scores,
        encode_decode_us=cost * 1e6,
        times_real_time=(FRAME_MS / 1000) / cost,
    )


def run(seconds: float, losses: list[float], as_json: bool) -> int:
    results = [measure(setup, seconds, losses) for setup in SETUPS]
    if as_json:
        print(json.dumps([asdict(r) for r in results], indent=2))
        return 0
    loss_cols = [f"PESQ {loss:g}% loss" for loss in losses]
    header = ["codec", "rate", "kbit/s", *loss_cols, "µs/20 ms enc+dec", "× real time"]
    rows = [[r.codec, f"{r.sample_rate // 1000} kHz", f"{r.kbit_s:.1f}",
             *(f"{v:.2f}" for v in r.pesq.values()),
             f"{r.encode_decode_us:.1f}", f"{r.times_real_time:,.0f}"] for r in results]
    print(f"Speech ({seconds:g} s, espeak-ng) through each codec in {FRAME_MS} ms frames; "
          "PESQ narrowband at 8 kHz, wideband at 16 kHz; random loss, concealed.")
    print_table(header, rows)
    return 0
