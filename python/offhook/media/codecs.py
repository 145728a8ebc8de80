"""The codec registry: what each codec is, and the factory that builds one.

SDP negotiation reads these descriptors directly (payload type, RTP clock rate,
channels, fmtp); offhook.engine.codec() builds instances from them after
checking the options, so that a mistake gets a message naming the codec, the
option and what is allowed.
"""
from __future__ import annotations

import numbers
import operator
from dataclasses import dataclass, field
from typing import Any

from offhook import _codecs
from offhook.errors import CodecError


@dataclass(frozen=True)
class CodecInfo:
    name: str                      # as in SDP a=rtpmap
    codec_id: int                  # the C core's oh_codec_id
    payload_type: int | None       # static RTP payload type, None when dynamic
    clock_rate: int                # RTP timestamp clock (SDP), not always the audio rate
    sdp_channels: int              # channel count written in a=rtpmap
    sample_rates: tuple[int, ...]  # PCM rates the instance can work at
    native_rate: int               # the rate used when none is asked for
    options: dict[str, Any] = field(default_factory=dict)  # option -> allowed values (range or tuple)
    fmtp: str = ""
    frame_ms: tuple[float, ...] = ()  # durations encode() takes; () = any length
    sample_multiple: int = 1          # encode() takes a multiple of this many samples

    def frame_rule(self) -> str:
        """The frame durations in words, for error messages ("" when any length goes)."""
        if self.sample_multiple > 1:
            return f"{self.name} codes groups of {self.sample_multiple} samples"
        if not self.frame_ms:
            return ""
        shown = [f"{ms:g}" for ms in self.frame_ms]
        return f"{self.name} frames last {', '.join(shown[:-1])} or {shown[-1]} ms"

    def frame_samples(self, sample_rate: int, frame_ms: float) -> int:
        return int(sample_rate * frame_ms / 1000)


CODECS: dict[str, CodecInfo] = {
    info.name.lower(): info
    for info in (
        CodecInfo("PCMU", _codecs.PCMU, 0, 8000, 1, (8000,), 8000),
        CodecInfo("PCMA", _codecs.PCMA, 8, 8000, 1, (8000,), 8000),
        # RFC 3551: G.722's RTP clock is 8000 although it samples at 16 kHz.
        CodecInfo("G722", _codecs.G722, 9, 8000, 1, (16000,), 16000,
                  options={"bitrate": (64000, 56000, 48000)}, sample_multiple=2),
        CodecInfo("opus", _codecs.OPUS, None, 48000, 2, (8000, 12000, 16000, 24000, 48000), 48000,
                  options={"bitrate": range(6000, 510001), "complexity": range(0, 11),
                           "vbr": (True, False), "fec": (True, False), "dtx": (True, False),
                           "packet_loss_pct": range(0, 101)},
                  fmtp="useinbandfec=1", frame_ms=(2.5, 5, 10, 20, 40, 60)),
    )
}


def lookup(name: str) -> CodecInfo:
    """The descriptor for a codec name (case-insensitive), or CodecError."""
    try:
        return CODECS[name.lower()]
    except (KeyError, AttributeError):
        known = ", ".join(info.name for info in CODECS.values())
        raise CodecError(f"unknown codec {name!r}; offhook has {known}") from None


def codec(name: str, sample_rate: int | None = None, **opts: Any) -> _codecs.Codec:
    """An encoder/decoder instance: codec("PCMU"), codec("opus", 16000, fec=True)."""
    info = lookup(name)
    rate = info.native_rate if sample_rate is None else sample_rate
    if rate not in info.sample_rates:
        allowed = ", ".join(str(r) for r in info.sample_rates)
        raise CodecError(f"{info.name} works at {allowed} Hz, not {sample_rate!r}")
    for key, value in opts.items():
        if key not in info.options:
            takes = ", ".join(info.options) or "no options"
            raise CodecError(f"{info.name} has no option {key!r} (it takes {takes})")
        allowed_values = info.options[key]
        if isinstance(allowed_values, range):
            # bool is an int to Python but never a count; numpy integers are fine.
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise CodecError(f"{info.name} option {key} must be an integer, not {value!r}")
            if operator.index(value) not in allowed_values:
                raise CodecError(f"{info.name} option {key}={value!r} is out of range "
                                 f"({allowed_values.start}..{allowed_values.stop - 1})")
        elif not isinstance(value, bool) and allowed_values == (True, False):
            raise CodecError(f"{info.name} option {key} must be True or False, not {value!r}")
        elif value not in allowed_values:
            shown = " or ".join(str(v) for v in allowed_values)
            raise CodecError(f"{info.name} option {key}={value!r} is out of range ({shown})")
    return _codecs.Codec(info.codec_id, sample_rate=rate, frame_rule=info.frame_rule(), **opts)
