"""An in-process stand-in for the SIP layer (tests only), for tests of the campaign runner.

**This is not a phone.**  ``FakeOriginator`` implements the
:class:`~offhook.dialer.runner.Originator` protocol with ``asyncio.sleep``:
each number's outcome and ring time are drawn from fixed probabilities (or
forced per number), and ``bridge`` "talks" for a drawn time.  It stands in
until the SIP user agent / ``offhook.Phone`` lands; the real load test (SIPp
UAS scenarios answering, ringing out, busy or failing in given proportions)
replaces it at integration.  It records what a test needs to check the
runner: every number dialled (to catch a double dial), the peak number of
simultaneous calls, and how each answered call was hung up.
"""
from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from offhook.dialer.campaign import Outcome
from offhook.dialer.runner import Agent, AnsweredCall, BridgeResult, CallOutcome

__all__ = ["FakeCall", "FakeOriginator"]


@dataclass
class FakeCall:
    number: str
    hung_up: str | None = None

    async def hangup(self, reason: str) -> None:
        self.hung_up = reason


@dataclass
class FakeOriginator:
    """Outcomes by probability (no answer takes the rest); times in seconds (keep them small)."""

    seed: int = 0
    p_human: float = 0.4
    p_machine: float = 0.1
    p_busy: float = 0.1
    p_failed: float = 0.05
    ring: tuple[float, float] = (0.01, 0.05)
    talk: tuple[float, float] = (0.05, 0.15)
    forced: Mapping[str, Outcome] = field(default_factory=dict)
    dialled: Counter[str] = field(default_factory=Counter)
    calls: list[FakeCall] = field(default_factory=list)
    bridged: Counter[str] = field(default_factory=Counter)
    active: int = 0
    peak_active: int = 0

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    async def originate(self, number: str, *, timeout: float) -> CallOutcome:
        self.dialled[number] += 1
        self.active += 1
        self.peak_active = max(self.peak_active, self.active)
        try:
            outcome = self.forced.get(number)
            if outcome is None:
                u = self._rng.random()
                edges = ((self.p_human, Outcome.ANSWERED_HUMAN), (self.p_machine, Outcome.ANSWERING_MACHINE),
                         (self.p_busy, Outcome.BUSY), (self.p_failed, Outcome.FAILED))
                acc = 0.0
                outcome = Outcome.NO_ANSWER
                for p, o in edges:
                    acc += p
                    if u < acc:
                        outcome = o
                        break
            ring = min(timeout, self._rng.uniform(*self.ring))
            await asyncio.sleep(ring)
            if outcome in (Outcome.ANSWERED_HUMAN, Outcome.ANSWERING_MACHINE):
                call = FakeCall(number)
                self.calls.append(call)
                return CallOutcome(outcome, call, ring)
            return CallOutcome(outcome, None, ring, detail=outcome.value)
        finally:
            self.active -= 1

    async def bridge(self, call: AnsweredCall, agent: Agent) -> BridgeResult:
        self.bridged[agent.id] += 1
        talk = self._rng.uniform(*self.talk)
        await asyncio.sleep(talk)
        if isinstance(call, FakeCall):
            call.hung_up = "done"
        return BridgeResult(talk, mos=round(self._rng.uniform(3.5, 4.4), 2))
