"""The tests' one measure of a tone in a signal."""
from __future__ import annotations

import numpy as np
import numpy.typing as npt


def tone_share(x: npt.NDArray[np.generic], freq: float, rate: int) -> float:
    """Share of x's power at `freq` Hz (0..1): the DFT bin at exactly that frequency
    (a Goertzel filter's output), so a pure tone gives ~1 and anything else less."""
    x = np.asarray(x, dtype=np.float64)
    power = abs(np.dot(x, np.exp(-2j * np.pi * freq / rate * np.arange(len(x))))) ** 2
    return float(2 * power / (len(x) * max(float(np.dot(x, x)), 1e-9)))
