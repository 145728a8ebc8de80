"""The asyncio campaign runner: pacing policy + store + a call-placing Originator.

The runner never speaks SIP itself.  It drives an :class:`Originator` — the
interface the SIP user agent / ``offhook.Phone`` implements — with two calls:

``await originate(number, *, timeout) -> CallOutcome``
    Place one call; return when it is answered (by a person or a machine, as
    far as answering-machine detection can tell), or has failed, been
    rejected, found busy, or rung for ``timeout`` seconds.  An answered call
    comes back with an :class:`AnsweredCall` handle.

``await bridge(call, agent) -> BridgeResult``
    Connect an answered call to an agent (an offhook phone or SIP URI) and
    return when the conversation ends, with its talk time and (optionally) MOS.

And one on the answered call: ``await call.hangup(reason)`` — ``"abandoned"``
when no agent was free within the grace time (the SIP layer should play the
information message regulators require before hanging up), ``"machine"``
after answering-machine detection.

Life of a number: the store claims it (``dialing``, committed) before
``originate``; the outcome and the contact's next state are committed in one
transaction afterwards.  A runner that is cancelled or killed leaves claimed
contacts ``dialing``/``interrupted``; they are never redialled automatically
(see ``CampaignStore.recover``).  ``stop()`` is graceful: no new dials, calls
in progress run to their end, then ``run()`` returns; running a new runner
on the same store resumes the campaign, including its measured abandon rate.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from offhook.dialer.campaign import CampaignConfig, Outcome
from offhook.dialer.pacing import PacingPolicy, PacingState, make_policy
from offhook.dialer.store import AttemptResult, CampaignStore, Claim
from offhook.errors import CampaignError

__all__ = [
    "Agent",
    "AgentPool",
    "AnsweredCall",
    "BridgeResult",
    "CallOutcome",
    "CampaignRunner",
    "Originator",
    "RunSummary",
]

log = logging.getLogger("offhook.dialer")

#: The outcomes an Originator may return.
ORIGINATE_OUTCOMES = frozenset({Outcome.ANSWERED_HUMAN, Outcome.ANSWERING_MACHINE, Outcome.NO_ANSWER,
                                Outcome.BUSY, Outcome.FAILED, Outcome.REJECTED})


class AnsweredCall(Protocol):
    """An answered outbound call, as the SIP layer hands it to the dialer."""

    async def hangup(self, reason: str) -> None: ...


@dataclass(frozen=True)
class CallOutcome:
    """How ``originate`` ended: ``call`` is set when someone (or something) answered.

    ``ring_seconds`` is dial → answer/failure as the SIP layer measured it (the
    runner measures it itself when left at None); ``detail`` a short reason
    for logs and reports, e.g. ``"486 Busy Here"``.
    """

    outcome: Outcome
    call: AnsweredCall | None = None
    ring_seconds: float | None = None
    detail: str = ""


@dataclass(frozen=True)
class Agent:
    """Someone who takes answered calls: ``uri`` is their phone (SIP URI) or empty."""

    id: str
    uri: str = ""


@dataclass(frozen=True)
class BridgeResult:
    talk_seconds: float | None = None  # measured by the runner when None
    mos: float | None = None


class Originator(Protocol):
    """The interface the SIP layer implements for the dialer (see the module docstring)."""

    async def originate(self, number: str, *, timeout: float) -> CallOutcome: ...
    async def bridge(self, call: AnsweredCall, agent: Agent) -> BridgeResult: ...


class AgentPool:
    """Free and busy agents; answered calls queue for the longest-idle agent."""

    def __init__(self, agents: Sequence[Agent], now: Callable[[], float]) -> None:
        ids = [a.id for a in agents]
        if not agents or len(set(ids)) != len(ids):
            raise CampaignError(f"agents {ids}: need at least one agent, each with a distinct id")
        self._now = now
        self._free: dict[str, tuple[Agent, float]] = {a.id: (a, now()) for a in agents}
        self._busy: dict[str, tuple[Agent, float]] = {}
        self._waiters: list[asyncio.Future[Agent]] = []

    @property
    def waiting(self) -> int:
        return sum(1 for w in self._waiters if not w.done())

    def snapshot(self) -> tuple[list[float], list[float]]:
        now = self._now()
        return ([now - t for _, t in self._free.values()], [now - t for _, t in self._busy.values()])

    async def acquire(self, timeout: float) -> Agent | None:
        """The longest-idle free agent, waiting up to ``timeout`` s for one; None if none came."""
        if self._free:
            agent_id = min(self._free, key=lambda k: self._free[k][1])
            agent, _ = self._free.pop(agent_id)
            self._busy[agent_id] = (agent, self._now())
            return agent
        fut: asyncio.Future[Agent] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        try:
            await asyncio.wait({fut}, timeout=timeout)
        finally:
            if not fut.done():
                fut.cancel()
            with contextlib.suppress(ValueError):
                self._waiters.remove(fut)
        return None if fut.cancelled() else fut.result()

    def release(self, agent: Agent) -> None:
        """The agent is ready again: a waiting call gets them, else they join the free list."""
        self._busy.pop(agent.id, None)
        while self._waiters:
            fut = self._waiters.pop(0)
            if not fut.done():
                fut.set_result(agent)
                self._busy[agent.id] = (agent, self._now())
                return
        self._free[agent.id] = (agent, self._now())


@dataclass
class RunSummary:
    dials: int = 0
    live: int = 0
    abandoned: int = 0
    peak_in_flight: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    stopped: bool = False

    @property
    def abandon_rate(self) -> float:
        return self.abandoned / self.live if self.live else 0.0


class CampaignRunner:
    """Runs one campaign of ``store`` until it has nothing due, or until ``stop()``.

    ``clock`` gives wall-clock epoch seconds (calling hours, stored times);
    durations use the event loop's monotonic clock.  ``recover`` first turns
    contacts a crashed runner left ``dialing`` into ``interrupted`` — leave it
    on for a single worker, off when several workers share the store.
    """

    def __init__(self, store: CampaignStore, campaign_id: int, config: CampaignConfig,
                 originator: Originator, agents: Sequence[Agent], *,
                 policy: PacingPolicy | None = None, clock: Callable[[], float] = time.time,
                 tick: float = 0.05, calls_per_second: float | None = None,
                 recover: bool = True, wait_for_retries: bool = False) -> None:
        if tick <= 0 or (calls_per_second is not None and calls_per_second <= 0):
            raise CampaignError("tick and calls_per_second must be > 0")
        self.store = store
        self.campaign_id = campaign_id
        self.config = config
        self.originator = originator
        self.policy = policy or make_policy(config.mode, abandon_target=config.abandon_target,
                                            grace=config.abandon_grace, ring_timeout=config.ring_timeout)
        self.clock = clock
        self.tick = tick
        self.calls_per_second = calls_per_second
        self.recover = recover
        self.wait_for_retries = wait_for_retries
        self.summary = RunSummary()
        self._agents = list(agents)
        self._stopping = False
        self._in_flight = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake: asyncio.Event | None = None
        self._pool: AgentPool | None = None

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def stop(self) -> None:
        """Graceful stop: no new calls; ``run()`` returns once calls in progress have ended."""
        self._stopping = True
        if self._wake is not None:
            self._wake.set()

    async def run(self) -> RunSummary:
        loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._pool = AgentPool(self._agents, loop.time)
        if self.recover:
            n = self.store.recover(self.campaign_id, self.clock())
            if n:
                log.warning("campaign %d: %d call(s) were in progress when the dialer stopped; "
                            "marked interrupted, not redialled", self.campaign_id, n)
        live, abandoned = self.store.live_and_abandoned(self.campaign_id)
        for i in range(live):  # the campaign's abandon rate spans restarts
            self.policy.observe_live(i < abandoned)
        tokens = 1.0
        last = loop.time()
        try:
            while not self._stopping:
                free_idle, busy = self._pool.snapshot()
                state = PacingState(free_idle, busy, self._in_flight, self._pool.waiting,
                                    self.config.max_in_flight, now=loop.time())
                want = self.policy.calls_to_place(state)
                if self.calls_per_second is not None:
                    t = loop.time()
                    tokens = min(max(1.0, self.calls_per_second), tokens + (t - last) * self.calls_per_second)
                    last = t
                    want = min(want, int(tokens))
                claims = self.store.claim_due(self.campaign_id, self.clock(), want, self.config) \
                    if want > 0 else []
                tokens -= len(claims)
                for claim in claims:
                    self._start(claim)
                if not claims and self._in_flight == 0 and not self._tasks and self._exhausted():
                    break
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.tick)
            self.summary.stopped = self._stopping
            if self._tasks:
                await asyncio.gather(*self._tasks)
        except asyncio.CancelledError:
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            raise
        return self.summary

    def _exhausted(self) -> bool:
        nxt = self.store.next_due(self.campaign_id)
        if nxt is None:
            return True
        return nxt > self.clock() and not self.wait_for_retries

    def _start(self, claim: Claim) -> None:
        self._in_flight += 1
        self.summary.dials += 1
        self.summary.peak_in_flight = max(self.summary.peak_in_flight, self._in_flight)
        task = asyncio.create_task(self._call(claim), name=f"dial {claim.number}")
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _require_pool(self) -> AgentPool:
        if self._pool is None:
            raise CampaignError("the runner is not running (call run() first)")
        return self._pool

    def _notify(self) -> None:
        if self._wake is not None:
            self._wake.set()

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("dialer task %s failed: %r", task.get_name(), task.exception())
        if self._wake is not None:
            self._wake.set()

    async def _call(self, claim: Claim) -> None:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        dialing = True
        try:
            try:
                res = await self.originator.originate(claim.number, timeout=self.config.ring_timeout)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the SIP layer's failure is this number's outcome, not ours
                log.warning("originate %s failed: %r", claim.number, exc)
                res = CallOutcome(Outcome.FAILED, detail=repr(exc))
            if res.outcome not in ORIGINATE_OUTCOMES:
                raise CampaignError(f"originator returned {res.outcome!r} for {claim.number}; "
                                    f"expected one of {sorted(o.value for o in ORIGINATE_OUTCOMES)}")
            ring = res.ring_seconds if res.ring_seconds is not None else loop.time() - t0
            dialing = False
            self._in_flight -= 1
            self._notify()
            self.policy.observe_dial(res.outcome, ring, loop.time())
            result = await self._after_answer(claim, res)
            self.summary.outcomes[result.outcome.value] += 1
            self.store.finish(claim, result, self.config)
        except asyncio.CancelledError:
            if dialing:
                self._in_flight -= 1
            with contextlib.suppress(CampaignError):
                self.store.finish(claim, AttemptResult(Outcome.INTERRUPTED, self.clock()), self.config)
            raise

    async def _after_answer(self, claim: Claim, res: CallOutcome) -> AttemptResult:
        pool = self._require_pool()
        loop = asyncio.get_running_loop()
        if res.outcome is not Outcome.ANSWERED_HUMAN or res.call is None:
            if res.call is not None:
                await res.call.hangup("machine" if res.outcome is Outcome.ANSWERING_MACHINE else "done")
            answered = self.clock() if res.outcome is Outcome.ANSWERING_MACHINE else None
            return AttemptResult(res.outcome, self.clock(), answered=answered)
        answered = self.clock()
        t_answer = loop.time()
        self.summary.live += 1
        agent = await pool.acquire(self.config.abandon_grace)
        wait = loop.time() - t_answer
        if agent is None:
            self.summary.abandoned += 1
            self.policy.observe_live(True)
            await res.call.hangup("abandoned")
            return AttemptResult(Outcome.ABANDONED, self.clock(), answered=answered, wait=wait)
        self.policy.observe_live(False)
        connected = self.clock()
        t_connect = loop.time()
        try:
            bridged = await self.originator.bridge(res.call, agent)
            talk = bridged.talk_seconds if bridged.talk_seconds is not None else loop.time() - t_connect
            mos = bridged.mos
        except asyncio.CancelledError:
            pool.release(agent)
            raise
        except Exception as exc:
            log.warning("bridge %s to agent %s failed: %r", claim.number, agent.id, exc)
            talk, mos = loop.time() - t_connect, None
        ended = self.clock()
        if self.config.wrap_up > 0:
            await asyncio.sleep(self.config.wrap_up)
        self.policy.observe_handle(loop.time() - t_connect)
        pool.release(agent)
        self._notify()
        return AttemptResult(Outcome.ANSWERED_HUMAN, ended, answered=answered, connected=connected,
                             agent=agent.id, wait=wait, talk=talk, wrap=self.config.wrap_up, mos=mos)

