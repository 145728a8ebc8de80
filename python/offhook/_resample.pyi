"""Type stubs for the compiled module offhook._resample (engine/_resample.pyx)."""
import numpy as np
import numpy.typing as npt

STANDARD_RATES: tuple[int, ...]
MIN_RATE: int
MAX_RATE: int
MAX_CHANNELS: int

class Resampler:
    in_rate: int
    out_rate: int
    channels: int
    def __init__(self, in_rate: int, out_rate: int, channels: int = 1) -> None: ...
    @property
    def latency(self) -> int: ...
    def output_frames(self, frames: int) -> int: ...
    def process(self, pcm: npt.NDArray[np.int16]) -> npt.NDArray[np.int16]: ...
    def flush(self) -> npt.NDArray[np.int16]: ...
    def reset(self) -> None: ...
