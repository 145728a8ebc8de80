"""Pacing: how many calls to have in flight, as sans-I/O policies.

A policy sees a :class:`PacingState` snapshot (free agents, how long each busy
agent has been on its current call, calls ringing, answered calls waiting for
an agent) and answers :meth:`calls_to_place`.  It learns from ``observe_*``
calls.  No clock, no I/O: the asyncio runner and the discrete-event simulator
drive the same objects.

Modes
-----
* **preview** — an agent sees the next record for ``preview_seconds`` before
  the call is placed for them; one call per ready agent.  Never abandons.
* **progressive** — one call per free agent, at once.  Never abandons: every
  call in flight has an idle agent reserved for it.
* **predictive** — overdials: places calls for agents that are free *and* for
  agents expected to become free by the time the calls are answered, keeping
  the abandon rate under a target.

The predictive model
--------------------
The abandon rate is the regulators' one: abandoned calls / calls answered by a
person, over the campaign.  A call is abandoned when a person answers and no
agent takes it within ``grace`` seconds (2 s: Ofcom's *Persistent misuse*
statement, 2016, Annex 3 and its 3 % rule of 2006-2016 measured per campaign
per 24 h; the US FTC Telemarketing Sales Rule 16 CFR 310.4(b)(4)(i), 3 % per
campaign per 30 days).  Answering-machine outcomes need no agent.

Estimated online (exponentially weighted, α = ``alpha``, plain means until
1/α samples): *p*, the probability that a dial reaches a person; *τ*, the mean
ring time of those calls; and the handle-time distribution (talk + wrap-up) as
a window of recent samples.

With *K* calls in flight (ringing now), the number of people who will answer
is modelled as A ~ Binomial(K, p), over a horizon of τ + grace.  The agent
supply over that horizon is S = free − waiting + Σ Bernoulli(qᵢ) over busy
agents, where qᵢ = P(H ≤ eᵢ + τ + grace | H > eᵢ) is agent *i*'s chance of
finishing, given the eᵢ seconds it has already spent, from the empirical
handle-time window (exponential fallback where the window is thin).  S's
distribution is computed exactly (Poisson-binomial by convolution).  The
expected overflow E[(A − S)⁺] / E[A] estimates the share of these answers
that would be abandoned; the policy raises *K* while that share stays within
an allowance ``r``, and places the difference to the calls already ringing.

The allowance is a feedback controller on the *measured* campaign rate m:
r = target · clamp(2(1 − m/target), 0, 1.5) — generous while m is well under
target, shrinking to 0 (no overflow allowed: progressive behaviour, which
cannot abandon) as m reaches it.  This corrects the model's errors (calls in
flight at different ring ages, non-binomial answers, shifts in p) the way
Samuelson's real-time updating did.  Until ``warmup_dials`` outcomes and
``warmup_handles`` handle times are seen, predictive runs as progressive.

Sources: D. A. Samuelson, "Predictive dialing for outbound telephone call
centers", Interfaces 29(5), 1999 (queueing + simulation, online updating);
J. Lindén, "Predictive Dialing", Uppsala University IT 10 047, 2010 (the
overdial-to-expected-free-agents algorithm and its busy/abandon trade-off);
Ofcom, "Persistent Misuse: a statement of Ofcom's general policy", 2016.

Known limits: one skill, one queue; ring-time is summarised by its mean; the
model ignores answering-machine detection errors (a person classed as a
machine is an unrecorded silent call — Ofcom asks that it be estimated and
counted; the store's outcome mix is where to do that).
"""
from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from offhook.dialer.campaign import Outcome, PacingMode
from offhook.errors import CampaignError

__all__ = [
    "Estimates",
    "PacingPolicy",
    "PacingState",
    "PredictivePacing",
    "PreviewPacing",
    "ProgressivePacing",
    "expected_overflow",
    "make_policy",
]


@dataclass(frozen=True)
class PacingState:
    """What the dialer knows at one instant.

    ``free_idle``: seconds each idle agent has been idle (its length is the
    number of free agents); ``busy_elapsed``: seconds each busy agent has spent
    on its current call including wrap-up; ``in_flight``: calls dialled and not
    yet answered or failed; ``waiting``: answered people waiting for an agent.
    """

    free_idle: Sequence[float]
    busy_elapsed: Sequence[float]
    in_flight: int
    waiting: int = 0
    max_in_flight: int = 1000

    @property
    def free_agents(self) -> int:
        return len(self.free_idle)


class PacingPolicy(Protocol):
    """What the runner and the simulator drive."""

    mode: PacingMode

    def calls_to_place(self, state: PacingState) -> int: ...
    def observe_dial(self, outcome: Outcome, ring_seconds: float) -> None: ...
    def observe_handle(self, seconds: float) -> None: ...
    def observe_live(self, abandoned: bool) -> None: ...


@dataclass
class Estimates:
    """Online estimates shared by all policies (reports read them too)."""

    alpha: float = 0.02
    window: int = 400
    dials: int = 0
    p_human: float = 0.0
    ring_human: float = 0.0
    handles: int = 0
    aht: float = 0.0
    live: int = 0
    abandoned: int = 0
    _recent: deque[float] = field(default_factory=deque)
    _sorted: list[float] = field(default_factory=list)

    def _weight(self, n: int) -> float:
        return max(self.alpha, 1.0 / n)

    def observe_dial(self, outcome: Outcome, ring_seconds: float) -> None:
        if outcome is Outcome.INTERRUPTED:
            return
        self.dials += 1
        human = outcome in (Outcome.ANSWERED_HUMAN, Outcome.ABANDONED)
        w = self._weight(self.dials)
        self.p_human += w * ((1.0 if human else 0.0) - self.p_human)
        if human:
            n_h = max(1, round(self.p_human * self.dials))
            self.ring_human += self._weight(n_h) * (max(0.0, ring_seconds) - self.ring_human)

    def observe_handle(self, seconds: float) -> None:
        seconds = max(0.0, seconds)
        self.handles += 1
        self.aht += self._weight(self.handles) * (seconds - self.aht)
        self._recent.append(seconds)
        bisect.insort(self._sorted, seconds)
        if len(self._recent) > self.window:
            old = self._recent.popleft()
            del self._sorted[bisect.bisect_left(self._sorted, old)]

    def observe_live(self, abandoned: bool) -> None:
        self.live += 1
        self.abandoned += int(abandoned)

    @property
    def abandon_rate(self) -> float:
        return self.abandoned / self.live if self.live else 0.0

    def p_finish(self, elapsed: float, horizon: float) -> float:
        """P(handle time ≤ elapsed + horizon | handle time > elapsed)."""
        s = self._sorted
        beyond = len(s) - bisect.bisect_right(s, elapsed)
        if beyond >= 5:
            within = bisect.bisect_right(s, elapsed + horizon) - (len(s) - beyond)
            return within / beyond
        aht = self.aht if self.aht > 0 else 60.0
        return 1.0 - math.exp(-horizon / aht)


class _Base:
    mode: PacingMode

    def __init__(self, estimates: Estimates | None = None) -> None:
        self.estimates = estimates or Estimates()

    def observe_dial(self, outcome: Outcome, ring_seconds: float) -> None:
        self.estimates.observe_dial(outcome, ring_seconds)

    def observe_handle(self, seconds: float) -> None:
        self.estimates.observe_handle(seconds)

    def observe_live(self, abandoned: bool) -> None:
        self.estimates.observe_live(abandoned)


def _progressive(state: PacingState, agents: int) -> int:
    room = state.max_in_flight - state.in_flight
    return max(0, min(room, agents - state.waiting - state.in_flight))


class ProgressivePacing(_Base):
    """One call per free agent."""

    mode = PacingMode.PROGRESSIVE

    def calls_to_place(self, state: PacingState) -> int:
        return _progressive(state, state.free_agents)


class PreviewPacing(_Base):
    """One call per free agent who has had ``preview_seconds`` to read the record."""

    mode = PacingMode.PREVIEW

    def __init__(self, preview_seconds: float = 5.0, estimates: Estimates | None = None) -> None:
        if preview_seconds < 0:
            raise CampaignError(f"preview_seconds {preview_seconds}: must be >= 0")
        super().__init__(estimates)
        self.preview_seconds = preview_seconds

    def calls_to_place(self, state: PacingState) -> int:
        ready = sum(1 for t in state.free_idle if t >= self.preview_seconds)
        return _progressive(state, ready)


def _poisson_binomial(qs: Sequence[float]) -> list[float]:
    pmf = [1.0]
    for q in qs:
        if q <= 0.0:
            continue
        nxt = [0.0] * (len(pmf) + 1)
        r = 1.0 - q
        for k, v in enumerate(pmf):
            nxt[k] += v * r
            nxt[k + 1] += v * q
        pmf = nxt
    return pmf


def _binomial(n: int, p: float) -> list[float]:
    if n == 0 or p <= 0.0:
        return [1.0] + [0.0] * n
    if p >= 1.0:
        return [0.0] * n + [1.0]
    log_step = math.log(p) - math.log1p(-p)
    logs = [n * math.log1p(-p)]
    for a in range(n):
        logs.append(logs[-1] + math.log(n - a) - math.log(a + 1) + log_step)
    top = max(logs)
    pmf = [math.exp(v - top) for v in logs]
    total = sum(pmf)
    return [v / total for v in pmf]


def expected_overflow(k: int, p: float, supply_offset: int, supply_pmf: Sequence[float]) -> float:
    """E[(A − S)⁺] with A ~ Binomial(k, p), S = supply_offset + X, X ~ supply_pmf."""
    if k <= 0:
        return 0.0
    a_pmf = _binomial(k, p)
    # G(a) = E[(a - S)^+] is 0 at a = min(0, offset) and grows by P(S <= a) per step.
    lo = min(0, supply_offset)
    g = 0.0
    cdf = 0.0
    total = 0.0
    for a in range(lo, k + 1):
        if a >= 0:
            total += a_pmf[a] * g
        j = a - supply_offset  # P(S <= a) = P(X <= j)
        if 0 <= j < len(supply_pmf):
            cdf += supply_pmf[j]
        elif j >= len(supply_pmf):
            cdf = 1.0
        g += min(1.0, cdf)
    return total


class PredictivePacing(_Base):
    """Overdials to keep agents busy under an abandon-rate target (see the module essay)."""

    mode = PacingMode.PREDICTIVE

    def __init__(self, abandon_target: float = 0.03, *, grace: float = 2.0, warmup_dials: int = 30,
                 warmup_handles: int = 5, max_lines_per_agent: float = 8.0,
                 estimates: Estimates | None = None) -> None:
        if not 0.0 <= abandon_target < 1.0:
            raise CampaignError(f"abandon_target {abandon_target}: expected a fraction in [0, 1)")
        if grace < 0 or warmup_dials < 0 or warmup_handles < 0 or max_lines_per_agent < 1:
            raise CampaignError("grace, warmup_dials, warmup_handles must be >= 0 and "
                                "max_lines_per_agent >= 1")
        super().__init__(estimates)
        self.abandon_target = abandon_target
        self.grace = grace
        self.warmup_dials = warmup_dials
        self.warmup_handles = warmup_handles
        self.max_lines_per_agent = max_lines_per_agent

    @property
    def warmed_up(self) -> bool:
        e = self.estimates
        return e.dials >= self.warmup_dials and e.handles >= self.warmup_handles and e.p_human > 0

    def allowance(self) -> float:
        """The overflow share allowed now, from the measured campaign abandon rate."""
        if self.abandon_target <= 0:
            return 0.0
        m = self.estimates.abandon_rate
        return self.abandon_target * min(1.5, max(0.0, 2.0 * (1.0 - m / self.abandon_target)))

    def target_in_flight(self, state: PacingState) -> int:
        """K: how many calls should be ringing now (before the max_in_flight cap)."""
        base = state.free_agents - state.waiting
        if not self.warmed_up:
            return max(0, base)
        e = self.estimates
        allowance = self.allowance()
        agents = state.free_agents + len(state.busy_elapsed)
        ceiling = min(state.max_in_flight, int(agents * self.max_lines_per_agent))
        if allowance <= 0.0:
            return max(0, min(base, ceiling))
        horizon = e.ring_human + self.grace
        pmf = _poisson_binomial([e.p_finish(t, horizon) for t in state.busy_elapsed])
        k = max(0, base)
        while k < ceiling:
            over = expected_overflow(k + 1, e.p_human, base, pmf)
            if over > allowance * (k + 1) * e.p_human:
                break
            k += 1
        return k

    def calls_to_place(self, state: PacingState) -> int:
        k = min(self.target_in_flight(state), state.max_in_flight)
        return max(0, k - state.in_flight)


def make_policy(mode: PacingMode | str, *, abandon_target: float = 0.03, grace: float = 2.0,
                preview_seconds: float = 5.0) -> PacingPolicy:
    """The policy for a campaign mode."""
    try:
        m = PacingMode(mode)
    except ValueError:
        raise CampaignError(f"pacing mode {mode!r}: expected preview, progressive or predictive") from None
    if m is PacingMode.PREVIEW:
        return PreviewPacing(preview_seconds)
    if m is PacingMode.PROGRESSIVE:
        return ProgressivePacing()
    return PredictivePacing(abandon_target, grace=grace)
