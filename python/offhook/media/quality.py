"""Speech-quality measurements used by the demo, tests and benchmarks."""
from __future__ import annotations

import numpy as np

from offhook.errors import OffhookError


def pesq_score(reference: np.ndarray, degraded: np.ndarray, sample_rate: int,
               mode: str | None = None) -> float:
    """ITU-T P.862 PESQ (MOS-LQO) of degraded against reference.

    mode is "nb" (P.862.1, 8 kHz) or "wb" (P.862.2, 16 kHz); by default "nb"
    at 8 kHz and "wb" at 16 kHz. Lengths may differ; the shorter one is used.
    """
    try:
        from pesq import pesq
    except ImportError as exc:  # optional dependency: offhook[quality]
        raise OffhookError("PESQ needs the 'pesq' package: pip install 'offhook[quality]'") from exc
    if sample_rate not in (8000, 16000):
        raise ValueError(f"PESQ works at 8000 or 16000 Hz, not {sample_rate}")
    mode = mode or ("nb" if sample_rate == 8000 else "wb")
    n = min(len(reference), len(degraded))
    return float(pesq(sample_rate, _as_float(reference[:n]), _as_float(degraded[:n]), mode))


def align(reference: np.ndarray, recorded: np.ndarray) -> np.ndarray:
    """recorded from where reference starts in it (the lag of the cross-correlation's
    peak), at most len(reference) samples: a recording of a call lined up with what was
    played, for PESQ."""
    n = len(reference) + len(recorded)
    size = 1 << (n - 1).bit_length()
    corr = np.fft.irfft(np.fft.rfft(recorded.astype(np.float64), size)
                        * np.conj(np.fft.rfft(reference.astype(np.float64), size)), size)
    lag = int(np.argmax(corr[:len(recorded)]))
    return recorded[lag:lag + len(reference)]


def snr_db(reference: np.ndarray, test: np.ndarray) -> float:
    """Signal-to-noise ratio of test against reference, in dB."""
    n = min(len(reference), len(test))
    ref = reference[:n].astype(np.float64)
    noise = test[:n].astype(np.float64) - ref
    noise_power = float(np.dot(noise, noise))
    if noise_power == 0.0:
        return float("inf")
    return float(10.0 * np.log10(float(np.dot(ref, ref)) / noise_power))


def level_dbfs(signal: np.ndarray) -> float:
    """RMS level in dB relative to full-scale DC (an int16 RMS of 32768 is 0 dBFS)."""
    rms = float(np.sqrt(np.mean(signal.astype(np.float64) ** 2))) if len(signal) else 0.0
    return float(20.0 * np.log10(max(rms, 1e-9) / 32768.0))


def _as_float(pcm: np.ndarray) -> np.ndarray:
    return pcm.astype(np.float64) / 32768.0
