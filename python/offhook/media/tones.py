"""Call-progress tones and DTMF: names, argument checks and results.

The C core does the work (csrc/oh_tone.c, csrc/oh_dtmf.c, through the
offhook._tones binding); this module turns names into the core's ids and
checks arguments so that a mistake gets a message naming what is allowed.

Levels are in dBm0 per frequency component; a full-scale 16-bit sine is
DBM0_FULL_SCALE (+3.14 dBm0, G.711 A-law's overload point).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from offhook import _tones
from offhook.errors import ToneError

SAMPLE_RATES = (8000, 16000, 32000, 48000)
DBM0_FULL_SCALE: float = _tones.DBM0_FULL_SCALE

TONES: dict[str, int] = {
    "dial": _tones.TONE_DIAL,
    "ringback": _tones.TONE_RINGBACK,
    "busy": _tones.TONE_BUSY,
    "congestion": _tones.TONE_CONGESTION,
    "call_waiting": _tones.TONE_CALL_WAITING,
}
_TONE_ALIASES = {"reorder": "congestion", "ringing": "ringback", "call-waiting": "call_waiting"}

PROFILES: dict[str, int] = {
    "us": _tones.PROFILE_US,     # North American precise tone plan
    "etsi": _tones.PROFILE_ETSI,  # European harmonised 425 Hz tones
    "uk": _tones.PROFILE_UK,     # BT SIN 350
}
_PROFILE_ALIASES = {"eu": "etsi", "gb": "uk", "na": "us"}

DTMF_DIGITS = "0123456789*#ABCD"


@dataclass(frozen=True)
class ToneSegment:
    """One step of a cadence: these frequencies together (none = silence) for duration_ms."""
    frequencies: tuple[int, ...]
    duration_ms: int  # 0 = continuous


@dataclass(frozen=True)
class DtmfEvent:
    """A detected digit: its first sample and its length, in samples."""
    digit: str
    start: int
    duration: int


def _name(kind: str, value: object, table: dict[str, int], aliases: dict[str, str]) -> str:
    key = value.lower() if isinstance(value, str) else ""
    key = aliases.get(key, key)
    if key not in table:
        raise ToneError(f"unknown {kind} {value!r}; offhook has {', '.join(table)}")
    return key


def _rate(sample_rate: object) -> int:
    if isinstance(sample_rate, bool) or sample_rate not in SAMPLE_RATES:
        allowed = ", ".join(str(r) for r in SAMPLE_RATES)
        raise ToneError(f"sample_rate must be one of {allowed} Hz, not {sample_rate!r}")
    return int(sample_rate)


def _number(name: str, value: object, low: float, high: float) -> float:
    if (isinstance(value, bool) or not isinstance(value, (int, float))
            or not math.isfinite(value) or not low <= value <= high):
        raise ToneError(f"{name} must be a number from {low:g} to {high:g}, got {value!r}")
    return float(value)


def _int(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ToneError(f"{name} must be an integer from {low} to {high}, got {value!r}")
    return value


def cadence(tone: str, profile: str = "us") -> tuple[ToneSegment, ...]:
    """The cadence table of a profile's tone, as the generator plays it (it loops)."""
    t = _name("tone", tone, TONES, _TONE_ALIASES)
    p = _name("profile", profile, PROFILES, _PROFILE_ALIASES)
    table = _tones.cadence(PROFILES[p], TONES[t])
    return tuple(ToneSegment(tuple(freqs), ms) for freqs, ms in table)


class ToneGenerator:
    """A call-progress tone, generated frame by frame with continuous phase and cadence.

    ToneGenerator("busy", profile="etsi", sample_rate=16000).generate(320)
    """

    def __init__(self, tone: str, profile: str = "us", sample_rate: int = 8000,
                 level_dbm0: float = -13.0) -> None:
        self.tone = _name("tone", tone, TONES, _TONE_ALIASES)
        self.profile = _name("profile", profile, PROFILES, _PROFILE_ALIASES)
        self.sample_rate = _rate(sample_rate)
        self.level_dbm0 = _number("level_dbm0", level_dbm0, -90.0, 0.0)
        self._gen = _tones.ToneGenerator(PROFILES[self.profile], TONES[self.tone],
                                         self.sample_rate, self.level_dbm0)

    def __repr__(self) -> str:
        return (f"<ToneGenerator {self.profile} {self.tone} {self.sample_rate} Hz "
                f"{self.level_dbm0:g} dBm0>")

    @property
    def cadence(self) -> tuple[ToneSegment, ...]:
        return cadence(self.tone, self.profile)

    def generate(self, n: int) -> np.ndarray:
        """The next n samples (mono int16)."""
        count = _int("sample count", n, 0, 2**31 - 1)
        return self._gen.generate(count)

    def reset(self) -> None:
        """Restarts the cadence from the beginning."""
        self._gen.reset()


def _digits(digits: object) -> str:
    if not isinstance(digits, str):
        raise ToneError(f"DTMF digits must be a str, got {type(digits).__name__}")
    bad = sorted({c for c in digits.upper() if c not in DTMF_DIGITS})
    if bad:
        raise ToneError(f"not DTMF digits: {''.join(bad)!r} (DTMF has {DTMF_DIGITS})")
    return digits.upper()


def dtmf_tones(digits: str, sample_rate: int = 8000, on_ms: int = 80, off_ms: int = 80,
               level_dbm0: float = -10.0, twist_db: float = 2.0) -> np.ndarray:
    """The digits as DTMF (int16): on_ms of tone then off_ms of silence each.

    level_dbm0 is the low-group component's level; the high group is twist_db above it.
    """
    text = _digits(digits)
    gen = _tones.DtmfGenerator(
        _rate(sample_rate), _number("level_dbm0", level_dbm0, -60.0, 0.0),
        _number("twist_db", twist_db, -10.0, 10.0), _int("on_ms", on_ms, 1, 10000),
        _int("off_ms", off_ms, 0, 10000), max(1, len(text)))
    gen.send(text.encode("ascii"))
    return gen.generate(gen.pending())


def _pcm(pcm: Any) -> np.ndarray:
    if not isinstance(pcm, np.ndarray):
        raise ToneError(f"pcm must be a numpy int16 array, got {type(pcm).__name__}")
    if pcm.dtype != np.int16:
        raise ToneError(f"pcm must have dtype int16, got {pcm.dtype}")
    if pcm.ndim != 1:
        raise ToneError(f"pcm must be mono (1 dimension), got {pcm.ndim} dimensions")
    return np.ascontiguousarray(pcm)


class DtmfDetector:
    """A DTMF receiver for a stream: feed any number of samples per call.

    Digits are reported once they end (about 25 ms after the tone stops);
    call flush() at the end of a stream for one still sounding. Event
    positions count samples from creation (or reset()).
    """

    def __init__(self, sample_rate: int = 8000, min_level_dbm0: float = -40.0,
                 normal_twist_db: float = 8.0, reverse_twist_db: float = 4.0) -> None:
        self.sample_rate = _rate(sample_rate)
        self._det = _tones.DtmfDetector(
            self.sample_rate, _number("min_level_dbm0", min_level_dbm0, -60.0, 0.0),
            _number("normal_twist_db", normal_twist_db, 0.0, 20.0),
            _number("reverse_twist_db", reverse_twist_db, 0.0, 20.0))

    def process(self, pcm: np.ndarray) -> list[DtmfEvent]:
        """Analyses the samples; returns the digits that ended within them."""
        try:
            events = self._det.process(pcm)  # the common case: a contiguous int16 array
        except ValueError:
            # nothing was analysed: explain what is wrong, or take a contiguous copy
            events = self._det.process(_pcm(pcm))
        # most frames end no digit: skip building the comprehension
        return [DtmfEvent(*e) for e in events] if events else []

    def flush(self) -> list[DtmfEvent]:
        """Ends a digit still sounding (end of stream) and returns it."""
        return [DtmfEvent(*e) for e in self._det.flush()]

    def reset(self) -> None:
        self._det.reset()
