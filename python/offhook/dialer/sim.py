"""A deterministic discrete-event simulator of an outbound call centre.

N agents; each dial ends, after a ring time, in one outcome drawn from the
scenario's probabilities (person, answering machine — known after an AMD
delay —, busy, failed, rejected, no answer at the ring timeout).  A person
is connected to a free agent at once, else waits up to ``grace`` seconds and
is then abandoned.  A connected call holds its agent for talk + wrap-up.
Talk and ring times are log-normal (mean, coefficient of variation).

The pacing policy under test is asked how many calls to place after every
event and on a 1 s tick, exactly as the asyncio runner asks it; all
randomness comes from one ``random.Random(seed)``, so a (scenario, seed,
policy) triple always gives the same result.  Dialling stops at
``duration``; calls in progress then run out, and utilisation is measured
over ``[0, duration]``.
"""
from __future__ import annotations

import heapq
import math
import random
from collections import Counter
from dataclasses import dataclass, field

from offhook.dialer.campaign import Outcome
from offhook.dialer.pacing import PacingPolicy, PacingState
from offhook.errors import CampaignError

__all__ = ["Scenario", "SimResult", "abandon_by_window", "simulate"]


@dataclass(frozen=True)
class Scenario:
    """Probabilities per dial (no answer takes the rest); times in seconds."""

    name: str = "default"
    agents: int = 20
    duration: float = 3600.0
    p_human: float = 0.30
    p_machine: float = 0.15
    p_busy: float = 0.10
    p_failed: float = 0.05
    p_rejected: float = 0.02
    ring_mean: float = 9.0
    ring_cv: float = 0.5
    ring_timeout: float = 30.0
    amd_seconds: float = 3.0
    talk_mean: float = 90.0
    talk_cv: float = 0.8
    wrap: float = 10.0
    grace: float = 2.0
    max_in_flight: int = 1000

    def __post_init__(self) -> None:
        ps = (self.p_human, self.p_machine, self.p_busy, self.p_failed, self.p_rejected)
        if any(p < 0 for p in ps) or sum(ps) > 1.0 + 1e-9:
            raise CampaignError(f"scenario {self.name}: outcome probabilities must be >= 0 and sum to <= 1")
        if self.agents < 1 or self.duration <= 0:
            raise CampaignError(f"scenario {self.name}: needs >= 1 agent and a positive duration")


@dataclass
class SimResult:
    scenario: str
    mode: str
    seed: int
    dials: int = 0
    live: int = 0
    abandoned: int = 0
    talk_seconds: float = 0.0  # within [0, duration]
    busy_seconds: float = 0.0  # talk + wrap within [0, duration]
    agent_seconds: float = 0.0
    wait_total: float = 0.0
    peak_in_flight: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    live_times: list[float] = field(default_factory=list)      # when each person answered
    abandon_times: list[float] = field(default_factory=list)   # when each of them was abandoned

    @property
    def abandon_rate(self) -> float:
        return self.abandoned / self.live if self.live else 0.0

    def abandon_by_window(self, window: float) -> list[tuple[float, int, int]]:
        """:func:`abandon_by_window` of this run."""
        return abandon_by_window(self.live_times, self.abandon_times, window)

    @property
    def utilisation(self) -> float:
        """Share of agent time spent talking to a customer."""
        return self.talk_seconds / self.agent_seconds if self.agent_seconds else 0.0

    @property
    def occupancy(self) -> float:
        """Share of agent time on calls including wrap-up."""
        return self.busy_seconds / self.agent_seconds if self.agent_seconds else 0.0

    @property
    def average_wait(self) -> float:
        connected = self.live - self.abandoned
        return self.wait_total / connected if connected else 0.0


def abandon_by_window(live_times: list[float], abandon_times: list[float],
                      window: float) -> list[tuple[float, int, int]]:
    """(window start, people answered, abandoned) per ``window`` seconds, by answer time:
    the abandon rate through a campaign, not only over it (a burst of abandons that the
    campaign's total hides shows here).  An abandon counts in the window of its answer,
    which is ``grace`` before it; pass ``abandon_times`` as answer times to be exact."""
    if window <= 0:
        raise CampaignError(f"window {window}: must be > 0 s")
    if not live_times:
        return []
    n = int(max(live_times) // window) + 1
    live = [0] * n
    ab = [0] * n
    for t in live_times:
        live[int(t // window)] += 1
    for t in abandon_times:
        ab[min(n - 1, int(t // window))] += 1
    return [(i * window, live[i], ab[i]) for i in range(n)]


def _lognormal(rng: random.Random, mean: float, cv: float) -> float:
    if cv <= 0:
        return mean
    sigma2 = math.log1p(cv * cv)
    return rng.lognormvariate(math.log(mean) - sigma2 / 2, math.sqrt(sigma2))


_DIAL, _DONE, _ABANDON, _TICK = 0, 1, 2, 3


def simulate(scenario: Scenario, policy: PacingPolicy, seed: int, mode: str | None = None) -> SimResult:
    """Runs one campaign of ``scenario`` under ``policy``; deterministic per seed."""
    sc = scenario
    rng = random.Random(seed)
    res = SimResult(sc.name, mode or str(policy.mode), seed, agent_seconds=sc.agents * sc.duration)
    events: list[tuple[float, int, int, int]] = []  # (time, seq, kind, payload)
    seq = 0

    def push(t: float, kind: int, payload: int = 0) -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(events, (t, seq, kind, payload))

    idle_since: dict[int, float] = dict.fromkeys(range(sc.agents), 0.0)  # free agents
    busy_start: dict[int, float] = {}  # agent -> start of its current handle
    call_outcome: dict[int, tuple[Outcome, float]] = {}  # call id -> (outcome, ring seconds)
    waiting: dict[int, float] = {}  # call id -> answered at (insertion order = arrival order)
    in_flight = 0
    next_call = 0
    p_cum = []
    acc = 0.0
    for o, p in ((Outcome.ANSWERED_HUMAN, sc.p_human), (Outcome.ANSWERING_MACHINE, sc.p_machine),
                 (Outcome.BUSY, sc.p_busy), (Outcome.FAILED, sc.p_failed),
                 (Outcome.REJECTED, sc.p_rejected)):
        acc += p
        p_cum.append((acc, o))

    def draw() -> tuple[Outcome, float]:
        u = rng.random()
        outcome = next((o for c, o in p_cum if u < c), Outcome.NO_ANSWER)
        if outcome is Outcome.NO_ANSWER:
            return outcome, sc.ring_timeout
        if outcome in (Outcome.BUSY, Outcome.FAILED):
            return outcome, rng.uniform(0.5, 2.5)
        ring = min(_lognormal(rng, sc.ring_mean, sc.ring_cv), sc.ring_timeout - 0.1)
        if outcome is Outcome.ANSWERING_MACHINE:
            ring += sc.amd_seconds
        return outcome, ring

    def add_busy(start: float, end: float, talk_end: float) -> None:
        clip = sc.duration
        res.busy_seconds += max(0.0, min(end, clip) - min(start, clip))
        res.talk_seconds += max(0.0, min(talk_end, clip) - min(start, clip))

    def connect(now: float, agent: int, wait: float) -> None:
        del idle_since[agent]
        busy_start[agent] = now
        talk = _lognormal(rng, sc.talk_mean, sc.talk_cv)
        add_busy(now, now + talk + sc.wrap, now + talk)
        res.wait_total += wait
        policy.observe_live(False)
        push(now + talk + sc.wrap, _DONE, agent)

    def decide(now: float) -> None:
        nonlocal in_flight, next_call
        if now >= sc.duration:
            return
        state = PacingState(free_idle=[now - t for t in idle_since.values()],
                            busy_elapsed=[now - t for t in busy_start.values()],
                            in_flight=in_flight, waiting=len(waiting),
                            max_in_flight=sc.max_in_flight, now=now)
        n = policy.calls_to_place(state)
        for _ in range(n):
            outcome, ring = draw()
            call_outcome[next_call] = (outcome, ring)
            push(now + ring, _DIAL, next_call)
            next_call += 1
            in_flight += 1
            res.dials += 1
        res.peak_in_flight = max(res.peak_in_flight, in_flight)

    push(0.0, _TICK)
    while events:
        now, _, kind, payload = heapq.heappop(events)
        if kind == _TICK:
            if now < sc.duration:
                push(now + 1.0, _TICK)
        elif kind == _DIAL:
            in_flight -= 1
            outcome, ring = call_outcome.pop(payload)
            policy.observe_dial(outcome, ring, now)
            res.outcomes[outcome.value] += 1
            if outcome is Outcome.ANSWERED_HUMAN:
                res.live += 1
                res.live_times.append(now)
                if idle_since:
                    connect(now, min(idle_since, key=idle_since.__getitem__), 0.0)
                else:
                    waiting[payload] = now
                    push(now + sc.grace, _ABANDON, payload)
            elif idle_since:
                # The agent this call was (notionally) for starts over on the next record.
                longest = min(idle_since, key=idle_since.__getitem__)
                idle_since[longest] = now
        elif kind == _DONE:
            start = busy_start.pop(payload)
            policy.observe_handle(now - start)
            idle_since[payload] = now
            if waiting:
                call = next(iter(waiting))
                connect(now, payload, now - waiting.pop(call))
        elif kind == _ABANDON and payload in waiting:
            answered = waiting.pop(payload)
            res.abandoned += 1
            res.abandon_times.append(answered)
            res.outcomes[Outcome.ANSWERED_HUMAN.value] -= 1
            res.outcomes[Outcome.ABANDONED.value] += 1
            policy.observe_live(True)
        decide(now)
    return res
