"""Stub for the compiled module offhook._jitter (engine/_jitter.pyx)."""
from enum import IntEnum

import numpy as np
import numpy.typing as npt

class JitterStatus(IntEnum):
    NORMAL = 0
    LOST = 1
    LATE = 2
    ACCELERATED = 3
    EXPANDED = 4
    SILENCE = 5
    CONTINUED = 6

class JitterBuffer:
    clock_rate: int
    frame_ms: int
    last_skipped: bytes | None
    last_more: tuple[bytes | None, ...]
    def __init__(self, clock_rate: int = 8000, frame_ms: int = 20, *, min_delay_ms: int = 0,
                 max_delay_ms: int = 1000, capacity: int = 128, max_payload: int = 512,
                 late_ratio: float = 0.0095, memory_s: float = 20.0, fec_delay: bool = False) -> None: ...
    def put(self, seq: int, timestamp: int, payload: bytes | bytearray | memoryview,
            arrival_ms: float, marker: bool = False, ssrc: int = 0, samples: int = 0, *,
            comfort_noise: bool = False) -> None: ...
    def get(self, now_ms: float) -> tuple[bytes | None, JitterStatus]: ...
    def stats(self) -> dict[str, float | int]: ...
    def reset(self) -> None: ...

class TimeScaler:
    sample_rate: int
    frame_samples: int
    def __init__(self, sample_rate: int = 8000, frame_samples: int = 160) -> None: ...
    def pass_frame(self, pcm: npt.NDArray[np.int16]) -> npt.NDArray[np.int16]: ...
    def accelerate(self, pcm: npt.NDArray[np.int16]) -> npt.NDArray[np.int16]: ...
    def expand(self) -> npt.NDArray[np.int16]: ...
    def reset(self) -> None: ...

class Playout:
    codec: str
    sample_rate: int
    frame_samples: int
    max_payload: int
    def __init__(self, codec: str = "PCMU", sample_rate: int | None = None, *, frame_ms: int = 20,
                 min_delay_ms: int = 0, max_delay_ms: int = 1000, capacity: int = 128,
                 max_payload: int = 0, late_ratio: float = 0.0095, memory_s: float = 20.0,
                 stretch_in_pauses: bool = True, interpolate: bool = True,
                 fec_delay: bool = False) -> None: ...
    def put(self, seq: int, timestamp: int, payload: bytes | bytearray | memoryview,
            arrival_ms: float, marker: bool = False, ssrc: int = 0, *,
            comfort_noise: bool = False) -> None: ...
    def get(self, now_ms: float) -> tuple[npt.NDArray[np.int16], JitterStatus]: ...
    def stats(self) -> dict[str, float | int]: ...
    def reset(self) -> None: ...
