"""WAV files as numpy arrays: read_wav() and write_wav().

Parsing, validation and sample conversion happen in the C core (oh_wav), the
same code the media engine uses to play and record by itself; this module adds
the caller's requirements (rate, channels) and names the file in every error.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from offhook._wav import WavReader, WavWriter
from offhook.errors import WavError

__all__ = ["WavAudio", "read_wav", "write_wav"]

StrPath = str | os.PathLike[str]


@dataclass(frozen=True)
class WavAudio:
    """Audio read from a WAV file.

    samples are int16, shaped (frames,) for mono and (frames, channels) otherwise.
    """

    samples: npt.NDArray[np.int16]
    sample_rate: int  # Hz
    channels: int

    @property
    def frames(self) -> int:
        return int(self.samples.shape[0])

    @property
    def duration(self) -> float:
        """Seconds."""
        return self.frames / self.sample_rate


def read_wav(path: StrPath, *, sample_rate: int | None = None, channels: int | None = None,
             allow_truncated: bool = False) -> WavAudio:
    """Reads a whole WAV file (PCM 8/16/24/32-bit, float, EXTENSIBLE) as int16.

    sample_rate / channels, when given, are requirements: a file that differs
    raises WavError ("in.wav: sample rate is 44100 Hz, 8000 Hz needed"); no
    resampling or remixing is done. allow_truncated=True accepts a file whose
    data chunk runs past its end (a crashed recorder's) and returns the frames
    that are there. A missing file raises FileNotFoundError.
    """
    name = os.fsdecode(path)
    with WavReader(path, allow_truncated=allow_truncated) as reader:
        if sample_rate is not None and reader.sample_rate != sample_rate:
            raise WavError(f"{name}: sample rate is {reader.sample_rate} Hz, "
                           f"{sample_rate} Hz needed")
        if channels is not None and reader.channels != channels:
            raise WavError(f"{name}: {_channels(reader.channels)}, {channels} needed")
        data = reader.read()
        rate, count = reader.sample_rate, reader.channels
    samples = data.reshape(-1) if count == 1 else data
    return WavAudio(samples=samples, sample_rate=rate, channels=count)


def write_wav(path: StrPath, samples: npt.NDArray[np.int16], sample_rate: int) -> None:
    """Writes int16 samples, (frames,) mono or (frames, channels), as a 16-bit PCM WAV."""
    name = os.fsdecode(path)
    arr = np.asarray(samples)
    if arr.dtype != np.int16:
        raise WavError(f"{name}: samples must be int16, got {arr.dtype} "
                       "(scale and convert first, e.g. with np.clip(x * 32768, -32768, 32767)"
                       ".astype(np.int16))")
    if arr.ndim not in (1, 2) or (arr.ndim == 2 and arr.shape[1] == 0):
        raise WavError(f"{name}: samples must be (frames,) or (frames, channels), "
                       f"got shape {arr.shape}")
    count = 1 if arr.ndim == 1 else int(arr.shape[1])
    with WavWriter(path, sample_rate, count) as writer:
        writer.write(arr)


def _channels(n: int) -> str:
    return "1 channel" if n == 1 else f"{n} channels"
