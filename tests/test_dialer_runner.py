"""The asyncio campaign runner, driven through the Originator protocol.

The originator here is tests/dialer_fake.py FakeOriginator: an in-process
stand-in (asyncio.sleep for ringing and talking) until the SIP user agent
lands; the real load test against SIPp UAS scenarios comes at integration.
"""
import asyncio
import itertools
import time
from datetime import UTC, datetime

import pytest

from dialer_fake import FakeOriginator
from offhook.dialer import CallingHours, CampaignConfig, CampaignStore, Contact, Outcome, PacingState
from offhook.dialer.campaign import RetryRule
from offhook.dialer.pacing import ProgressivePacing
from offhook.dialer.runner import Agent, CallOutcome, CampaignRunner
from offhook.errors import CampaignError


def store_with(n, name="c"):
    store = CampaignStore(":memory:")
    cid = store.create_campaign(name, time.time())
    numbers = [f"+4915{i:07d}" for i in range(n)]
    store.add_contacts(cid, [Contact(x) for x in numbers])
    return store, cid, numbers


def agents(n):
    return [Agent(f"agent{i}", f"sip:agent{i}@127.0.0.1") for i in range(n)]


def stored_outcomes(store):
    return dict(store.connection.execute("SELECT outcome, COUNT(*) FROM attempts GROUP BY outcome"))


def test_hundreds_of_simultaneous_calls_each_number_once():
    store, cid, numbers = store_with(900)
    fake = FakeOriginator(seed=1, ring=(0.15, 0.25), talk=(0.01, 0.03))
    cfg = CampaignConfig(mode="progressive", max_in_flight=300, retries={})
    summary = asyncio.run(CampaignRunner(store, cid, cfg, fake, agents(300)).run())
    assert fake.peak_active >= 250  # hundreds of calls ringing at once
    assert summary.peak_in_flight <= 300
    assert sorted(fake.dialled) == numbers and max(fake.dialled.values()) == 1
    assert store.state_counts(cid) == {"done": 900}
    assert summary.dials == 900 and summary.abandoned == 0
    assert stored_outcomes(store) == dict(summary.outcomes)
    assert sum(fake.bridged.values()) == summary.live == summary.outcomes["answered-human"]
    # Every answered person talked to an agent, with talk time and MOS stored.
    row = store.connection.execute("SELECT MIN(talk), MIN(mos), COUNT(agent) FROM attempts "
                                   "WHERE outcome = 'answered-human'").fetchone()
    assert row[0] > 0 and row[1] >= 3.5 and row[2] == summary.live


def test_predictive_overdials_within_target():
    store, cid, _ = store_with(700)
    fake = FakeOriginator(seed=2, p_human=0.25, ring=(0.03, 0.1), talk=(0.15, 0.3))
    cfg = CampaignConfig(mode="predictive", ring_timeout=0.3, abandon_grace=0.2, retries={})
    runner = CampaignRunner(store, cid, cfg, fake, agents(20))
    summary = asyncio.run(runner.run())
    assert summary.peak_in_flight > 20  # more lines than agents
    assert summary.abandon_rate <= 0.03
    live, abandoned = store.live_and_abandoned(cid)
    assert (live, abandoned) == (summary.live, summary.abandoned)


class Greedy(ProgressivePacing):
    """Places `lines` calls whatever the agents: to exercise the abandon path."""

    def __init__(self, lines):
        super().__init__()
        self.lines = lines

    def calls_to_place(self, state: PacingState) -> int:
        return max(0, self.lines - state.in_flight)


def test_no_agent_within_grace_is_an_abandoned_call():
    store, cid, _ = store_with(6)
    fake = FakeOriginator(seed=3, p_human=1.0, ring=(0.01, 0.02), talk=(0.5, 0.6))
    cfg = CampaignConfig(abandon_grace=0.05, retries={})
    summary = asyncio.run(CampaignRunner(store, cid, cfg, fake, agents(1), policy=Greedy(6)).run())
    assert summary.abandoned >= 4 and summary.live == 6
    assert sum(1 for c in fake.calls if c.hung_up == "abandoned") == summary.abandoned
    waits = [w for (w,) in store.connection.execute("SELECT wait FROM attempts WHERE outcome = 'abandoned'")]
    assert all(0.04 <= w < 0.5 for w in waits)
    assert stored_outcomes(store)["abandoned"] == summary.abandoned


def test_graceful_stop_then_resume():
    store, cid, numbers = store_with(120)
    cfg = CampaignConfig(mode="progressive", retries={})

    async def first_part():
        fake = FakeOriginator(seed=4, ring=(0.01, 0.03), talk=(0.02, 0.05))
        runner = CampaignRunner(store, cid, cfg, fake, agents(10))
        task = asyncio.create_task(runner.run())
        while runner.summary.dials < 30:
            await asyncio.sleep(0.005)
        runner.stop()
        summary = await task
        return fake, summary

    fake1, s1 = asyncio.run(first_part())
    assert s1.stopped and 30 <= s1.dials < 120
    counts = store.state_counts(cid)
    assert "dialing" not in counts  # calls in progress ran to their end
    assert counts["done"] == s1.dials
    fake2 = FakeOriginator(seed=5, ring=(0.001, 0.003), talk=(0.001, 0.003))
    s2 = asyncio.run(CampaignRunner(store, cid, cfg, fake2, agents(10)).run())
    assert not s2.stopped and s1.dials + s2.dials == 120
    assert not set(fake1.dialled) & set(fake2.dialled)
    assert sorted({**fake1.dialled, **fake2.dialled}) == numbers


def test_cancelled_runner_leaves_calls_interrupted_never_redialled():
    store, cid, _ = store_with(60)
    cfg = CampaignConfig(mode="progressive", retries={})

    async def main():
        fake = FakeOriginator(seed=6, ring=(0.2, 0.3), talk=(0.2, 0.3))
        runner = CampaignRunner(store, cid, cfg, fake, agents(8))
        task = asyncio.create_task(runner.run())
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return fake

    fake = asyncio.run(main())
    assert len(fake.dialled) == 8
    assert store.state_counts(cid) == {"interrupted": 8, "pending": 52}
    fake2 = FakeOriginator(seed=7, ring=(0.001, 0.002), talk=(0.001, 0.002))
    asyncio.run(CampaignRunner(store, cid, cfg, fake2, agents(8)).run())
    assert not set(fake2.dialled) & set(fake.dialled) and len(fake2.dialled) == 52


def test_originate_errors_become_failed_outcomes():
    store, cid, _ = store_with(3)

    class Broken(FakeOriginator):
        async def originate(self, number, *, timeout):
            raise OSError("no route to trunk")

    summary = asyncio.run(CampaignRunner(store, cid, CampaignConfig(retries={}), Broken(),
                                         agents(2)).run())
    assert summary.outcomes == {"failed": 3}
    assert store.state_counts(cid) == {"done": 3}


def test_originator_returning_a_non_dial_outcome_is_refused():
    store, cid, _ = store_with(1)

    class Wrong(FakeOriginator):
        async def originate(self, number, *, timeout):
            return CallOutcome(Outcome.ABANDONED)

    runner = CampaignRunner(store, cid, CampaignConfig(retries={}), Wrong(), agents(1))
    with pytest.raises(CampaignError, match="originator returned"):
        asyncio.run(runner._call(store.claim_due(cid, time.time(), 1, runner.config)[0]))


def test_retries_follow_their_schedule_while_waiting():
    store, cid, numbers = store_with(2)
    fake = FakeOriginator(forced={numbers[0]: Outcome.BUSY, numbers[1]: Outcome.ANSWERED_HUMAN},
                          ring=(0.001, 0.002), talk=(0.001, 0.002))
    cfg = CampaignConfig(retries={Outcome.BUSY: RetryRule(0.05, 2)})
    runner = CampaignRunner(store, cid, cfg, fake, agents(1), wait_for_retries=True, tick=0.01)
    asyncio.run(runner.run())
    assert fake.dialled == {numbers[0]: 3, numbers[1]: 1}
    starts = [r["started"] for r in store.attempts_for(numbers[0])]
    assert all(b - a >= 0.05 for a, b in itertools.pairwise(starts))


def test_outside_calling_hours_nothing_is_dialled():
    store, cid, _ = store_with(5)
    sunday = datetime(2026, 3, 1, 12, 0, tzinfo=UTC).timestamp()
    cfg = CampaignConfig(calling_hours=CallingHours.from_mapping({"mon-fri": "09:00-20:00"}))
    fake = FakeOriginator()
    summary = asyncio.run(CampaignRunner(store, cid, cfg, fake, agents(2), clock=lambda: sunday).run())
    assert summary.dials == 0 and not fake.dialled
    assert store.next_due(cid) == datetime(2026, 3, 2, 9, 0, tzinfo=UTC).timestamp()


def test_abandon_rate_carries_over_a_restart():
    store, cid, _ = store_with(4)
    fake = FakeOriginator(seed=3, p_human=1.0, ring=(0.01, 0.02), talk=(0.3, 0.4))
    asyncio.run(CampaignRunner(store, cid, CampaignConfig(abandon_grace=0.02, retries={}), fake, agents(1),
                               policy=Greedy(4)).run())
    live, abandoned = store.live_and_abandoned(cid)
    assert abandoned > 0
    store.add_contacts(cid, [Contact("+4915999999")])
    runner = CampaignRunner(store, cid, CampaignConfig(retries={}), FakeOriginator(), agents(1))
    asyncio.run(runner.run())
    est = runner.policy.estimates  # type: ignore[attr-defined]
    assert est.abandoned == abandoned and est.live >= live


def test_agents_must_be_distinct():
    store, cid, _ = store_with(1)
    runner = CampaignRunner(store, cid, CampaignConfig(), FakeOriginator(), [Agent("a"), Agent("a")])
    with pytest.raises(CampaignError, match="each with a distinct id"):
        asyncio.run(runner.run())


def test_calls_per_second_limit_spaces_the_dials():
    store, cid, numbers = store_with(30)
    cfg = CampaignConfig(mode="progressive", retries={})
    fake = FakeOriginator(seed=8, ring=(0.001, 0.002), talk=(0.001, 0.002))
    runner = CampaignRunner(store, cid, cfg, fake, agents(30), calls_per_second=100.0, tick=0.01)
    asyncio.run(runner.run())
    starts = sorted(r["started"] for n in numbers for r in store.attempts_for(n))
    assert len(starts) == 30
    assert starts[-1] - starts[0] >= 0.25  # 30 calls at <= 100/s, one token to start with
