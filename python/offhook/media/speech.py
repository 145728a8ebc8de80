"""Deterministic speech for demos, tests and benchmarks, synthesised by espeak-ng.

espeak-ng gives the same samples for the same voice and text, so quality
figures computed on this speech are repeatable. It is synthetic speech:
scores compare implementations with each other, not with published figures.
"""
from __future__ import annotations

import functools
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from offhook._resample import Resampler
from offhook.errors import OffhookError
from offhook.media.wav import read_wav

ESPEAK_RATE = 22050

# Phonetically varied sentences (Harvard sentences, public domain), ~3 s each.
SENTENCES = (
    "The birch canoe slid on the smooth planks.",
    "Glue the sheet to the dark blue background.",
    "It's easy to tell the depth of a well.",
    "These days a chicken leg is a rare dish.",
    "Rice is often served in round bowls.",
    "The juice of lemons makes fine punch.",
    "The box was thrown beside the parked truck.",
    "The hogs were fed chopped corn and garbage.",
    "Four hours of steady work faced us.",
    "A large size in stockings is hard to sell.",
)

TALKERS = ("en-us", "en-gb+f3", "en-us+m3", "en-gb-scotland+f2")


class SpeechUnavailable(OffhookError):
    """espeak-ng is not installed."""


@functools.lru_cache(maxsize=64)
def _espeak(text: str, voice: str) -> np.ndarray:
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise SpeechUnavailable(
            "espeak-ng is needed to synthesise speech: install it (Debian/Ubuntu: apt-get install espeak-ng)")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "speech.wav"
        subprocess.run([exe, "-v", voice, "-s", "150", "-w", str(path), text],
                       check=True, capture_output=True)
        samples = read_wav(path, sample_rate=ESPEAK_RATE, channels=1).samples
    samples.flags.writeable = False  # shared by every caller through the cache
    return samples


def speech(seconds: float = 8.0, sample_rate: int = 16000, talker: int = 0) -> np.ndarray:
    """About `seconds` of speech (mono int16) by one of TALKERS, with natural pauses."""
    if seconds <= 0:
        raise ValueError(f"seconds must be positive, got {seconds}")
    voice = TALKERS[talker % len(TALKERS)]
    pieces: list[np.ndarray] = []
    total = 0
    wanted = int(seconds * ESPEAK_RATE)
    for i in range(len(SENTENCES) * 8):
        if total >= wanted:
            break
        sentence = SENTENCES[(i + 3 * talker) % len(SENTENCES)]
        pcm = _espeak(sentence, voice)
        pieces.append(pcm)
        total += len(pcm)
    signal = np.concatenate(pieces)[:wanted]
    return _to_rate(signal, sample_rate)


def _to_rate(signal: np.ndarray, sample_rate: int) -> np.ndarray:
    if sample_rate == ESPEAK_RATE:
        return signal.copy()
    resampler = Resampler(ESPEAK_RATE, sample_rate)
    # Drop the filter's delay so that speech at every rate starts at time 0.
    out = np.concatenate([resampler.process(signal), resampler.flush()])
    return out[resampler.latency:]
