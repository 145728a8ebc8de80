"""Speech with a pause over room noise, and levels in -dBov, for the comfort-noise and
silence-suppression tests."""
from __future__ import annotations

import numpy as np
import numpy.typing as npt

from offhook.media.speech import speech

ROOM_DBOV = 50  # the background's level, -dBov (white noise)


def talk_pause_talk(pause_s: float, rate: int = 16000, talk_s: float = 1.0,
                    seed: int = 11) -> npt.NDArray[np.int16]:
    """talk_s of speech, pause_s without it, talk_s more; white noise at -ROOM_DBOV throughout."""
    talk = speech(2 * talk_s, rate)
    half = len(talk) // 2
    x = np.concatenate([talk[:half], np.zeros(int(pause_s * rate), dtype=np.int16), talk[half:]])
    noisy = x.astype(np.float64) + np.random.default_rng(seed).normal(
        0.0, 32767.0 * 10 ** (-ROOM_DBOV / 20), len(x))
    return np.clip(np.round(noisy), -32768, 32767).astype(np.int16)


def blocks_dbov(pcm: npt.NDArray[np.int16], block: int) -> npt.NDArray[np.float64]:
    """The level of each whole block of `block` samples in -dBov (inf: digital silence)."""
    x = pcm[: len(pcm) // block * block].astype(np.float64).reshape(-1, block)
    with np.errstate(divide="ignore"):
        return -10.0 * np.log10(np.mean(x**2, axis=1) / 32767.0**2)
