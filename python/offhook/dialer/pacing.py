"""Pacing: how many calls to have in flight, as sans-I/O policies.

A policy sees a :class:`PacingState` snapshot (free agents, how long each busy
agent has been on its current call, calls ringing, answered calls waiting for
an agent) and answers :meth:`calls_to_place`.  It learns from ``observe_*``
calls.  No clock of its own (times come in the snapshot and the
observations), no I/O: the asyncio runner and the discrete-event simulator
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
agent takes it within ``grace`` seconds (2 s).  Sources: Ofcom's persistent
misuse statements (2006-2010: at most 3 % abandoned calls per campaign per
24 h, an abandoned call being one answered by a person with no agent within
2 s; the 2016 statement keeps the definition and the rate's calculation in
its Annex 3 but, as trade commentary notes, no longer names a safe figure);
the US FTC Telemarketing Sales Rule, 16 CFR 310.4(b)(4)(i): 3 % per campaign
per 30 days, 2 s.  Answering-machine outcomes need no agent.

Estimated online (exponentially weighted, α = ``alpha``, plain means until
1/α samples): *p*, the probability that a dial reaches a person; *τ*, the mean
ring time of those calls; and the handle-time distribution (talk + wrap-up) as
a window of recent samples.  Outcomes are counted in the order the calls were
placed (see ``Estimates.observe_dial``), and the model uses an upper
confidence bound on *p* (``confidence_z`` standard errors): both biases of a
naive estimate — quick outcomes first, noise — push a dialer to overdial.

With *K* calls in flight (ringing now), the number of people who will answer
is modelled as A ~ Binomial(K, p), over a horizon of τ + grace.  The agent
supply over that horizon is S = free − waiting + Σ Bernoulli(qᵢ) over busy
agents, where qᵢ = P(H ≤ eᵢ + τ + grace | H > eᵢ) is agent *i*'s chance of
finishing, given the eᵢ seconds it has already spent, from a Kaplan-Meier
curve of recent handle times (exponential fallback where it is thin).  S's
distribution is computed exactly (Poisson-binomial, by FFT).  The
expected overflow E[(A − S)⁺] / E[A] estimates the share of these answers
that would be abandoned; the policy raises *K* while that share stays within
an allowance ``r``, and places the difference to the calls already ringing.

The allowance is a feedback controller on the *measured* campaign rate m:
r = target · clamp(2(1 − m/target), 0, 1.5) — generous while m is well under
target, shrinking to 0 (no overflow allowed: progressive behaviour, which
cannot abandon) as m reaches it.  This corrects the model's errors (calls in
flight at different ring ages, non-binomial answers, shifts in p) the way
Samuelson's real-time updating did.  Until ``warmup_dials`` outcomes and
``warmup_handles`` handle times per agent are seen, predictive runs as
progressive: the first outcomes back are the quick ones (busy, failed) and
the first talks to end the short ones, so early estimates are biased; the
handle-time curve is Kaplan-Meier, counting calls still in progress as
censored, for the same reason.

After the warm-up the lines in flight are ramped: the model's K may grow by at most
``ramp_per_agent`` lines per agent per second from the lines allowed at the previous
decision (it may fall at once).  Without the ramp the first decision after the warm-up
jumped from one line per free agent to the model's several (×5 on the SIPp bed), and
those calls, placed at one instant, were answered at one instant — far from the
binomial spread the model assumes; on SIPp every abandon of a run came in that burst,
and in the simulator the burst's ring-outs coming back together at the ring timeout
set off an echo of it every ``ring_timeout`` seconds.  The same echo fed the estimate:
outcomes of calls placed together are counted as one batch (see ``Estimates.flush``),
never in the order they came back in.

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
import heapq
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

from offhook.dialer.campaign import Outcome, PacingMode
from offhook.errors import CampaignError

FloatArray = npt.NDArray[np.float64]

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
    now: float | None = None  # monotonic seconds, the clock given to observe_dial

    @property
    def free_agents(self) -> int:
        return len(self.free_idle)


class PacingPolicy(Protocol):
    """What the runner and the simulator drive."""

    mode: PacingMode

    def calls_to_place(self, state: PacingState) -> int: ...
    def observe_dial(self, outcome: Outcome, ring_seconds: float, now: float | None = None) -> None: ...
    def observe_handle(self, seconds: float) -> None: ...
    def observe_live(self, abandoned: bool) -> None: ...


@dataclass
class Estimates:
    """Online estimates shared by all policies (reports read them too)."""

    alpha: float = 0.01
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
    _pending: list[tuple[float, int, bool, float]] = field(default_factory=list)
    _seq: int = 0
    #: seconds within which every call ends (the ring timeout plus answering-machine
    #: detection); raised when a longer ring is seen
    settle: float = 0.0

    def _weight(self, n: int) -> float:
        return max(self.alpha, 1.0 / n)

    def observe_dial(self, outcome: Outcome, ring_seconds: float, now: float | None = None) -> None:
        """One dial's outcome, ``ring_seconds`` after it was placed.

        With ``now`` (any monotonic clock, seconds), outcomes are counted in the
        order the calls were *placed*, once every call placed at that time must
        have ended (``settle``: the longest ring seen).  Counted as they come
        back instead, a burst of dials reports its quick outcomes (busy,
        failed) first, the answer rate looks low, the dialer dials more and
        the error feeds itself.
        """
        if outcome is Outcome.INTERRUPTED:
            return
        human = outcome in (Outcome.ANSWERED_HUMAN, Outcome.ABANDONED)
        ring = max(0.0, ring_seconds)
        if now is None:
            self._count_dial(human, ring)
            return
        self.settle = max(self.settle, ring)
        self._seq += 1
        heapq.heappush(self._pending, (now - ring, self._seq, human, ring))
        self.flush(now)

    def flush(self, now: float) -> None:
        """Counts the outcomes of calls placed before ``now - settle``, as one batch.

        A batch is counted as a whole (its mean, with the weight its size would have had
        one by one), not call by call: the calls of a burst were placed at the same
        instant and came back in outcome order (people and busy first, ring-outs last),
        and an EWMA fed in that order swings — measured in the simulator, the answer rate
        of a 15 % campaign read 4 % after a burst's ring-outs, then 21 % after the next
        burst's answers — and with it the number of lines."""
        horizon = now - self.settle
        batch: list[tuple[bool, float]] = []
        # strictly before: the calls that rang out exactly at `settle` (a burst's last
        # outcomes) join the rest of their burst at the next flush, not one by one
        while self._pending and self._pending[0][0] < horizon:
            _, _, human, ring = heapq.heappop(self._pending)
            batch.append((human, ring))
        if batch:
            self._count_batch(batch)

    def _count_dial(self, human: bool, ring: float) -> None:
        self._count_batch([(human, ring)])

    def _count_batch(self, batch: Sequence[tuple[bool, float]]) -> None:
        n = len(batch)
        humans = [ring for human, ring in batch if human]
        # the weight n updates of the running mean would have given, in any order
        keep = 1.0
        for i in range(n):
            keep *= 1.0 - self._weight(self.dials + i + 1)
        self.dials += n
        self.p_human += (1.0 - keep) * (len(humans) / n - self.p_human)
        if humans:
            n_h0 = max(0, round(self.p_human * self.dials) - len(humans))
            keep = 1.0
            for i in range(len(humans)):
                keep *= 1.0 - self._weight(n_h0 + i + 1)
            self.ring_human += (1.0 - keep) * (sum(humans) / len(humans) - self.ring_human)

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

    def p_human_upper(self, z: float) -> float:
        """An upper confidence bound on the answer rate: p + z·sd, with the EWMA's
        effective sample size (2/α − 1, or the count while smaller).  Pacing with
        an underestimated p overdials — a low p means many lines per agent — so
        the dialer plans with the bound, not the point estimate."""
        p = self.p_human
        n = min(self.dials, 2.0 / self.alpha - 1.0)
        if n <= 0:
            return 1.0
        return min(1.0, p + z * math.sqrt(max(p * (1.0 - p), 0.25 / n) / n))

    @property
    def abandon_rate(self) -> float:
        return self.abandoned / self.live if self.live else 0.0

    def survival(self, censored: Sequence[float]) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Kaplan-Meier estimate of P(handle time > t) from the window of finished calls and
        the calls still going on (``censored``: their elapsed times).

        Without the censored ones, the first finished calls of a campaign — the
        short ones — would make every busy agent look about to finish.
        Returns (distinct event times, survival just after each, number at risk at each).
        """
        done = np.asarray(self._sorted, dtype=np.float64)
        cens = np.sort(np.asarray(censored, dtype=np.float64))
        if done.size == 0:
            empty = np.zeros(0)
            return empty, empty, empty
        times, first = np.unique(done, return_index=True)
        deaths = np.diff(np.append(first, done.size)).astype(np.float64)
        # At risk at t: finished calls lasting >= t, plus calls still going at >= t.
        at_risk = (done.size - first + cens.size - np.searchsorted(cens, times, "left")).astype(np.float64)
        surv = np.cumprod(1.0 - deaths / at_risk, dtype=np.float64)
        return times, surv, at_risk

    def finish_probabilities(self, elapsed: Sequence[float], horizon: float,
                             curve: tuple[FloatArray, FloatArray, FloatArray] | None = None) -> FloatArray:
        """P(handle time <= e + horizon | handle time > e) for each elapsed time e, from the
        Kaplan-Meier ``curve`` (:meth:`survival`) where it has data (5 or more calls at
        risk, the horizon's end inside it), else an exponential tail whose mean is at
        least the time already spent (a long call is taken to go on as long again)."""
        e = np.asarray(elapsed, dtype=np.float64)
        times, surv, at_risk = curve if curve is not None else self.survival(())
        mean = np.maximum(self.aht if self.aht > 0 else 60.0, e)
        fallback = 1.0 - np.exp(-horizon / mean)
        if times.size == 0 or e.size == 0:
            return fallback
        k0 = np.searchsorted(times, e, "right")
        k1 = np.searchsorted(times, e + horizon, "right")
        s_ext = np.concatenate(([1.0], surv))
        s0 = s_ext[k0]
        s1 = s_ext[k1]
        risk = np.concatenate((at_risk, [0.0]))[k0]
        ok = (k1 < times.size) & (risk >= 5) & (s0 > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            km = 1.0 - s1 / s0
        return np.where(ok, km, fallback)

    def p_finish(self, elapsed: float, horizon: float) -> float:
        """:meth:`finish_probabilities` for one busy agent, with no other call in progress."""
        return float(self.finish_probabilities([elapsed], horizon)[0])


class _Base:
    mode: PacingMode

    def __init__(self, estimates: Estimates | None = None) -> None:
        self.estimates = estimates or Estimates()

    def observe_dial(self, outcome: Outcome, ring_seconds: float, now: float | None = None) -> None:
        self.estimates.observe_dial(outcome, ring_seconds, now)

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


def _poisson_binomial(qs: FloatArray) -> tuple[int, list[float]]:
    """Distribution of a sum of independent Bernoulli(qᵢ) as (offset, pmf): P(X = offset + i)
    = pmf[i], computed exactly through its characteristic function and an FFT
    (Fernández & Williams, "Closed-form expression for the Poisson-binomial
    probability density function", IEEE Trans. AES 46(2), 2010)."""
    q = np.clip(np.asarray(qs, dtype=np.float64), 0.0, 1.0)
    sure = int(np.count_nonzero(q >= 1.0))
    q = q[(q > 0.0) & (q < 1.0)]
    if q.size == 0:
        return sure, [1.0]
    n = q.size + 1
    w = np.exp(2j * np.pi * np.arange(n) / n)
    phi = np.prod(1.0 - q[:, None] + q[:, None] * w[None, :], axis=0)
    pmf = np.clip(np.fft.fft(phi).real / n, 0.0, None)
    pmf /= pmf.sum()
    nz = np.nonzero(pmf > 1e-12)[0]
    lo, hi = int(nz[0]), int(nz[-1]) + 1
    return sure + lo, [float(v) for v in pmf[lo:hi]]


def _binomial(n: int, p: float) -> FloatArray:
    if n == 0 or p <= 0.0:
        out = np.zeros(n + 1)
        out[0] = 1.0
        return out
    if p >= 1.0:
        out = np.zeros(n + 1)
        out[n] = 1.0
        return out
    j = np.arange(n, dtype=np.float64)
    steps = np.log(n - j) - np.log(j + 1.0) + (math.log(p) - math.log1p(-p))
    logs = np.concatenate(([0.0], np.cumsum(steps)))
    pmf: FloatArray = np.exp(logs - logs.max())
    return pmf / float(pmf.sum())


def expected_overflow(k: int, p: float, supply_offset: int, supply_pmf: Sequence[float]) -> float:
    """E[(A − S)⁺] with A ~ Binomial(k, p), S = supply_offset + X, X ~ supply_pmf."""
    if k < 0:
        raise CampaignError(f"expected_overflow: k {k} must be >= 0")
    x = np.asarray(supply_pmf, dtype=np.float64)
    s_values = supply_offset + np.arange(x.size)
    g0 = float(np.sum(np.where(s_values < 0, -s_values, 0) * x))  # E[(0 - S)^+]
    # G(a) = E[(a - S)^+] = G(0) + sum over b < a of P(S <= b).
    cdf = np.cumsum(x)
    j = np.arange(k) - supply_offset
    f = np.where(j < 0, 0.0, np.where(j >= x.size, 1.0, cdf[np.clip(j, 0, x.size - 1)]))
    g = np.concatenate(([g0], g0 + np.cumsum(np.minimum(f, 1.0))))
    return float(np.dot(_binomial(k, p), g))


class PredictivePacing(_Base):
    """Overdials to keep agents busy under an abandon-rate target (see the module essay)."""

    mode = PacingMode.PREDICTIVE

    def __init__(self, abandon_target: float = 0.03, *, grace: float = 2.0, warmup_dials: int = 3,
                 warmup_handles: int = 1, max_lines_per_agent: float = 8.0, confidence_z: float = 2.0,
                 ring_timeout: float = 30.0, ramp_per_agent: float = 2.0,
                 estimates: Estimates | None = None) -> None:
        if not 0.0 <= abandon_target < 1.0:
            raise CampaignError(f"abandon_target {abandon_target}: expected a fraction in [0, 1)")
        if grace < 0 or warmup_dials < 0 or warmup_handles < 0 or max_lines_per_agent < 1:
            raise CampaignError("grace, warmup_dials, warmup_handles must be >= 0 and "
                                "max_lines_per_agent >= 1")
        super().__init__(estimates)
        self.estimates.settle = max(self.estimates.settle, ring_timeout)
        self.abandon_target = abandon_target
        self.grace = grace
        self.warmup_dials = warmup_dials
        self.warmup_handles = warmup_handles
        self.max_lines_per_agent = max_lines_per_agent
        self.confidence_z = confidence_z
        if ramp_per_agent < 0:
            raise CampaignError(f"ramp_per_agent {ramp_per_agent}: must be >= 0 (0: no ramp)")
        self.ramp_per_agent = ramp_per_agent
        self._ramp: tuple[float, int] | None = None   # (when, the lines allowed then)

    def warmed_up(self, agents: int) -> bool:
        """Enough outcomes to trust the estimates: ``warmup_dials`` and ``warmup_handles``
        per agent (so the burst of first calls, whose quick outcomes — busy, failed —
        and short talks come back first, has washed out), and at least 30 and 5."""
        e = self.estimates
        return (e.dials >= max(30, self.warmup_dials * agents)
                and e.handles >= max(5, self.warmup_handles * agents) and e.p_human > 0)

    def allowance(self) -> float:
        """The overflow share allowed now, from the measured campaign abandon rate."""
        if self.abandon_target <= 0:
            return 0.0
        m = self.estimates.abandon_rate
        return self.abandon_target * min(1.5, max(0.0, 2.0 * (1.0 - m / self.abandon_target)))

    def target_in_flight(self, state: PacingState) -> int:
        """K: how many calls should be ringing now (before the max_in_flight cap)."""
        base = state.free_agents - state.waiting
        agents = state.free_agents + len(state.busy_elapsed)
        if state.now is not None:
            self.estimates.flush(state.now)
        if not self.warmed_up(agents):
            return max(0, base)
        e = self.estimates
        allowance = self.allowance()
        ceiling = min(state.max_in_flight, int(agents * self.max_lines_per_agent))
        if allowance <= 0.0:
            return max(0, min(base, ceiling))
        horizon = e.ring_human + self.grace
        curve = e.survival(state.busy_elapsed)
        shift, pmf = _poisson_binomial(e.finish_probabilities(state.busy_elapsed, horizon, curve))
        p = e.p_human_upper(self.confidence_z)
        # The overflow share grows with K, and only K beyond the calls already ringing
        # matters to the caller, so the search starts there.
        k = max(0, base, min(state.in_flight, ceiling))
        while k < ceiling:
            over = expected_overflow(k + 1, p, base + shift, pmf)
            if over > allowance * (k + 1) * p:
                break
            k += 1
        return k

    def ramped(self, state: PacingState, k: int) -> int:
        """K limited in how fast it may grow: by ``ramp_per_agent`` lines per agent per
        second from the lines allowed at the previous decision (falling at once).

        Without it the first decision after the warm-up jumps from one line per free
        agent to the model's several — measured on SIPp, every abandon of a run came in
        the burst that followed — and a burst placed at one instant is answered at one
        instant, far from the binomial spread the model assumes.  Ramping places the
        overdial a step at a time, each step's answers seen (and the measured abandon
        rate fed back) before the next is large."""
        if state.now is None or self.ramp_per_agent <= 0:
            return k
        agents = state.free_agents + len(state.busy_elapsed)
        base = max(0, state.free_agents - state.waiting)
        floor = max(base, state.in_flight)
        if self._ramp is None:
            allowed = floor
        else:
            then, last = self._ramp
            step = self.ramp_per_agent * max(1, agents) * max(0.0, state.now - then)
            allowed = max(floor if last < floor else last, int(last + step))
        k = min(k, allowed)
        # progress kept only when a whole line was earned: fractions accumulate in time
        if self._ramp is None or k != self._ramp[1]:
            self._ramp = (state.now, max(k, floor))
        return k

    def calls_to_place(self, state: PacingState) -> int:
        k = min(self.target_in_flight(state), state.max_in_flight)
        if self.warmed_up(state.free_agents + len(state.busy_elapsed)):
            k = self.ramped(state, k)
        else:
            self._ramp = None
        return max(0, k - state.in_flight)


def make_policy(mode: PacingMode | str, *, abandon_target: float = 0.03, grace: float = 2.0,
                preview_seconds: float = 5.0, ring_timeout: float = 30.0) -> PacingPolicy:
    """The policy for a campaign mode."""
    try:
        m = PacingMode(mode)
    except ValueError:
        raise CampaignError(f"pacing mode {mode!r}: expected preview, progressive or predictive") from None
    if m is PacingMode.PREVIEW:
        return PreviewPacing(preview_seconds)
    if m is PacingMode.PROGRESSIVE:
        return ProgressivePacing()
    return PredictivePacing(abandon_target, grace=grace, ring_timeout=ring_timeout)
