"""Answering-machine detection from the first seconds of a call's received audio.

The classifier is deliberately simple, documented and cheap enough to run on
hundreds of calls at once: frame energy plus the cadence of speech and
silence, the rules every dialer's "AMD" starts from (Asterisk's app_amd is
the best-known written-down version; this is an independent, smaller one).

1. The audio is cut into 20 ms frames; a frame is *voiced* when its RMS level
   is above ``threshold_dbfs`` (-42 dBFS: telephone speech sits around
   -20..-30 dBFS, line noise and comfort noise below -50) and at least
   ``snr_db`` above the quietest frame seen so far (the noise floor).
2. Voiced frames separated by less than ``word_gap`` (0.45 s) of silence
   belong to one *utterance*: the pauses between the words and short
   sentences of one greeting do not split it.
3. Decisions, taken as soon as they are certain:
   - an utterance lasting ``machine_speech`` (2.5 s) or more -> **machine**:
     a person answers with a short "Hello?" / "Hello, Anna speaking" and
     waits; a recorded greeting talks on ("You have reached ... please leave
     a message after the tone");
   - an utterance shorter than that followed by ``human_silence`` (0.8 s) of
     silence -> **human** (they said hello and are waiting for us);
   - nothing voiced for ``initial_silence`` (2.5 s) -> **unknown** (dead air:
     a person who says nothing, or a silent line), and reaching
     ``max_window`` (4 s) undecided -> **unknown**.  The originator treats
     unknown as human: hanging up on a person is worse than sending an agent
     to a machine (regulators count the former as an abandoned call).

Known limits: a person who answers with a long sentence (> 2.5 s without a
0.45 s pause) is taken for a machine; a machine whose greeting is one short
word followed by a long silence is taken for a person; music or tones on
answer count as speech.  No beep detection.
"""
from __future__ import annotations

import enum
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from offhook.errors import CampaignError

__all__ = ["AmdConfig", "AmdDetector", "AmdResult", "Verdict", "classify"]


class Verdict(enum.StrEnum):
    HUMAN = "human"
    MACHINE = "machine"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class AmdConfig:
    """The classifier's thresholds (seconds and dB); see the module docstring."""

    threshold_dbfs: float = -42.0
    snr_db: float = 10.0
    word_gap: float = 0.45
    machine_speech: float = 2.5
    human_silence: float = 0.8
    initial_silence: float = 2.5
    max_window: float = 4.0
    frame_ms: int = 20

    def __post_init__(self) -> None:
        for name in ("word_gap", "machine_speech", "human_silence", "initial_silence", "max_window"):
            if getattr(self, name) <= 0:
                raise CampaignError(f"AmdConfig.{name} must be > 0 seconds, got {getattr(self, name)}")
        if self.frame_ms not in (10, 20, 30):
            raise CampaignError(f"AmdConfig.frame_ms must be 10, 20 or 30, got {self.frame_ms}")
        if self.human_silence < self.word_gap:
            raise CampaignError("AmdConfig.human_silence must be >= word_gap (a word gap is not an end)")


@dataclass(frozen=True)
class AmdResult:
    verdict: Verdict
    reason: str
    decided_at: float     # seconds of audio it took
    longest_utterance: float


class AmdDetector:
    """Streaming form: ``feed(pcm)`` chunks as they arrive; ``result`` is set once decided."""

    def __init__(self, sample_rate: int, config: AmdConfig | None = None) -> None:
        if sample_rate not in (8000, 16000, 32000, 48000):
            raise CampaignError(f"AMD sample rate {sample_rate}: expected 8000, 16000, 32000 or 48000 Hz")
        self.config = config or AmdConfig()
        self.sample_rate = sample_rate
        self._frame = sample_rate * self.config.frame_ms // 1000
        self._dt = self.config.frame_ms / 1000.0
        self._pending = np.zeros(0, dtype=np.int16)
        self._t = 0.0                 # audio seen, s
        self._floor = math.inf        # quietest frame, dBFS
        self._utt_start: float | None = None
        self._last_voiced: float | None = None
        self._longest = 0.0
        self.result: AmdResult | None = None

    def feed(self, pcm: npt.NDArray[np.int16]) -> AmdResult | None:
        if pcm.dtype != np.int16 or pcm.ndim != 1:
            raise CampaignError(f"AMD takes mono int16 PCM, got {pcm.dtype} with shape {pcm.shape}")
        if self.result is not None:
            return self.result
        data = np.concatenate([self._pending, pcm]) if self._pending.size else pcm
        n = len(data) // self._frame
        frames = data[: n * self._frame].reshape(n, self._frame).astype(np.float64)
        self._pending = data[n * self._frame:].copy()
        rms = np.sqrt(np.mean(frames * frames, axis=1)) if n else np.zeros(0)
        levels = 20.0 * np.log10(np.maximum(rms, 1.0) / 32768.0)
        for level in levels:
            self._step(float(level))
            if self.result is not None:
                break
        return self.result

    def finish(self) -> AmdResult:
        """The verdict with the audio so far (the call ended or the caller gave up waiting)."""
        if self.result is not None:
            return self.result
        return self._decide(Verdict.UNKNOWN, "audio ended before a decision")

    def _decide(self, verdict: Verdict, reason: str) -> AmdResult:
        self.result = AmdResult(verdict, reason, round(self._t, 3), round(self._longest, 3))
        return self.result

    def _step(self, level: float) -> None:
        c = self.config
        self._floor = min(self._floor, level)
        voiced = level > c.threshold_dbfs and level > self._floor + c.snr_db
        t = self._t
        self._t += self._dt
        if voiced:
            if self._utt_start is None or self._last_voiced is None or t - self._last_voiced > c.word_gap:
                self._utt_start = t
            self._last_voiced = self._t
            self._longest = max(self._longest, self._t - self._utt_start)
            if self._longest >= c.machine_speech:
                self._decide(Verdict.MACHINE, f"speech for {self._longest:.1f} s without a pause")
                return
        elif self._last_voiced is not None:
            if self._t - self._last_voiced >= c.human_silence:
                self._decide(Verdict.HUMAN, f"a {self._longest:.1f} s greeting, then silence")
                return
        elif self._t >= c.initial_silence:
            self._decide(Verdict.UNKNOWN, f"silence for {c.initial_silence:.1f} s after the answer")
            return
        if self._t >= c.max_window:
            self._decide(Verdict.UNKNOWN, f"no decision within {c.max_window:.1f} s")


def classify(pcm: npt.NDArray[np.int16], sample_rate: int, config: AmdConfig | None = None) -> AmdResult:
    """The verdict on a whole clip (the first seconds of a call's received audio)."""
    detector = AmdDetector(sample_rate, config)
    detector.feed(pcm)
    return detector.finish()
