import numpy as np
import numpy.typing as npt
from typing_extensions import Buffer

PCMU: int
PCMA: int
G722: int
OPUS: int

class Codec:
    name: str
    sample_rate: int
    frame_rule: str
    def __init__(self, codec_id: int, *, sample_rate: int = ..., bitrate: int = ...,
                 complexity: int = ..., vbr: bool = ..., fec: bool = ..., dtx: bool = ...,
                 packet_loss_pct: int = ..., frame_rule: str = ...) -> None: ...
    def encode(self, pcm: npt.NDArray[np.int16] | Buffer) -> bytes: ...
    def decode(self, payload: Buffer) -> npt.NDArray[np.int16]: ...
    def conceal(self, n: int) -> npt.NDArray[np.int16]: ...
    def decode_fec(self, next_payload: Buffer, n: int) -> npt.NDArray[np.int16]: ...
    def reset(self) -> None: ...
