from typing import Any

import numpy as np
import numpy.typing as npt

class EchoCanceller:
    sample_rate: int
    frame_size: int
    latency: int
    def __init__(self, sample_rate: int = 16000, frame_size: int = 160, *, tail_ms: int = 128,
                 max_delay_ms: int = 500, suppression: bool = True,
                 comfort_noise: bool = True) -> None: ...
    def process(self, near: npt.NDArray[np.int16], far: npt.NDArray[np.int16],
                near_valid: int | None = None) -> npt.NDArray[np.int16]: ...
    def stats(self) -> dict[str, Any]: ...
    def slip(self, capture: int = 0, playback: int = 0) -> None: ...
    def reset(self) -> None: ...
