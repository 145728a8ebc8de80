"""The campaign store: claims, retries, do-not-call, calling hours, and surviving kill -9."""
import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dialer_fake import FakeOriginator
from offhook.dialer import AttemptResult, CallingHours, CampaignConfig, CampaignStore, Contact, Outcome
from offhook.dialer.campaign import RetryRule
from offhook.dialer.runner import Agent, CampaignRunner
from offhook.errors import CampaignError

ROOT = Path(__file__).resolve().parents[1]
MONDAY_NOON = datetime(2026, 3, 2, 12, 0, tzinfo=UTC).timestamp()
CFG = CampaignConfig(retries={Outcome.BUSY: RetryRule(600.0, 3), Outcome.NO_ANSWER: RetryRule(3600.0, 2)})


def make(tmp_path, n=5, cfg_name="c"):
    store = CampaignStore(tmp_path / "campaign.db")
    cid = store.create_campaign(cfg_name, MONDAY_NOON)
    store.add_contacts(cid, [Contact(f"+44207946{i:04d}", f"n{i}") for i in range(n)])
    return store, cid


def test_store_is_wal(tmp_path):
    store, _ = make(tmp_path)
    assert store.connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_duplicates_and_dnc_on_import(tmp_path):
    store, cid = make(tmp_path, 3)
    store.add_dnc(["+44 20 7946 9999"], MONDAY_NOON, "asked")
    counts = store.add_contacts(cid, [Contact("+442079460000"), Contact("+442079469999"),
                                      Contact("+442079460100")])
    assert counts == {"added": 1, "duplicate": 1, "do_not_call": 1}
    assert store.state_counts(cid) == {"pending": 4, "do-not-call": 1}
    with pytest.raises(CampaignError, match="already exists"):
        store.create_campaign("c", MONDAY_NOON)


def test_contact_with_unknown_zone_is_refused_on_import(tmp_path):
    store, cid = make(tmp_path, 1)
    with pytest.raises(CampaignError, match=r"number \+15550100: unknown time zone 'EST5'"):
        store.add_contacts(cid, [Contact("+15550100", tz="EST5"), Contact("+15550101")])
    assert store.state_counts(cid) == {"pending": 1}  # nothing of the batch was added


def test_claim_marks_dialing_and_never_hands_out_twice(tmp_path):
    store, cid = make(tmp_path, 5)
    other = CampaignStore(tmp_path / "campaign.db")  # a second worker on the same file
    a = store.claim_due(cid, MONDAY_NOON, 3, CFG)
    b = other.claim_due(cid, MONDAY_NOON, 10, CFG)
    assert len(a) == 3 and len(b) == 2
    assert not {c.number for c in a} & {c.number for c in b}
    assert store.claim_due(cid, MONDAY_NOON, 10, CFG) == []
    assert store.state_counts(cid) == {"dialing": 5}


def test_busy_schedule_then_done(tmp_path):
    store, cid = make(tmp_path, 1)
    now = MONDAY_NOON
    for attempt in range(4):
        (claim,) = store.claim_due(cid, now, 1, CFG)
        state = store.finish(claim, AttemptResult(Outcome.BUSY, now + 2), CFG)
        if attempt < 3:
            assert state == "retry"
            assert store.claim_due(cid, now + 601, 1, CFG) == []  # 10 min from the end of the call
            now += 2 + 600
        else:
            assert state == "done"
    assert len(store.attempts_for("+442079460000")) == 4
    assert store.next_due(cid) is None


def test_dnc_added_mid_campaign_stops_retries(tmp_path):
    store, cid = make(tmp_path, 2)
    claims = store.claim_due(cid, MONDAY_NOON, 2, CFG)
    store.add_dnc([claims[0].number], MONDAY_NOON)
    assert store.finish(claims[0], AttemptResult(Outcome.BUSY, MONDAY_NOON + 1), CFG) == "do-not-call"
    assert store.finish(claims[1], AttemptResult(Outcome.BUSY, MONDAY_NOON + 1), CFG) == "retry"
    assert store.is_dnc("+44 20 7946 0000")


def test_calling_hours_defer_contacts_to_their_window(tmp_path):
    store = CampaignStore(tmp_path / "c.db")
    cid = store.create_campaign("hours", MONDAY_NOON)
    store.add_contacts(cid, [Contact("+12125550100"), Contact("+442079460000"),
                             Contact("+81312345678", tz="Asia/Tokyo")])
    cfg = CampaignConfig(timezone="Europe/London", timezone_prefixes={"+1": "America/New_York"},
                         calling_hours=CallingHours.from_mapping({"mon-fri": "09:00-17:00"}))
    # Monday 12:00 UTC: London 12:00 (open), New York 07:00 (closed), Tokyo 21:00 (closed).
    claims = store.claim_due(cid, MONDAY_NOON, 10, cfg)
    assert [c.number for c in claims] == ["+442079460000"]
    rows = dict(store.connection.execute("SELECT number, next_at FROM contacts WHERE state = 'pending'"))
    assert rows["+12125550100"] == datetime(2026, 3, 2, 14, 0, tzinfo=UTC).timestamp()  # 09:00 EST
    assert rows["+81312345678"] == datetime(2026, 3, 3, 0, 0, tzinfo=UTC).timestamp()  # 09:00 JST
    assert store.next_due(cid) == rows["+12125550100"]


def test_finish_twice_is_refused(tmp_path):
    store, cid = make(tmp_path, 1)
    (claim,) = store.claim_due(cid, MONDAY_NOON, 1, CFG)
    store.finish(claim, AttemptResult(Outcome.ANSWERED_HUMAN, MONDAY_NOON + 60, talk=50.0), CFG)
    with pytest.raises(CampaignError, match="is not in progress"):
        store.finish(claim, AttemptResult(Outcome.BUSY, MONDAY_NOON + 61), CFG)


def test_not_a_store(tmp_path):
    p = tmp_path / "junk.db"
    p.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(CampaignError, match="not a usable campaign store"):
        CampaignStore(p)


CHILD = textwrap.dedent("""
    import asyncio, os, signal, sys
    from offhook.dialer import CampaignConfig, CampaignStore
    from dialer_fake import FakeOriginator
    from offhook.dialer.runner import Agent, CampaignRunner

    db, log_path = sys.argv[1], sys.argv[2]
    log = open(log_path, "a", buffering=1)
    store = CampaignStore(db)
    finish = store.finish
    done = 0

    def logged_finish(claim, result, config):
        global done
        state = finish(claim, result, config)
        log.write(f"finished {claim.number} {result.outcome.value}\\n")  # only after the commit
        done += 1
        if done == 60:
            os.kill(os.getpid(), signal.SIGKILL)
        return state

    store.finish = logged_finish

    class Logging(FakeOriginator):
        async def originate(self, number, *, timeout):
            log.write(f"dialled {number}\\n")
            return await super().originate(number, timeout=timeout)

    cfg = CampaignConfig(mode="predictive", retries={})
    runner = CampaignRunner(store, store.campaign_id("crash"), cfg,
                            Logging(seed=3, ring=(0.005, 0.03), talk=(0.01, 0.03)),
                            [Agent(f"a{i}") for i in range(8)])
    asyncio.run(runner.run())
    sys.exit(3)  # not reached: the process kills itself mid-campaign
""")


def test_kill_minus_9_mid_campaign_loses_nothing_and_never_redials(tmp_path):
    db = tmp_path / "crash.db"
    log = tmp_path / "child.log"
    store = CampaignStore(db)
    cid = store.create_campaign("crash", MONDAY_NOON)
    numbers = [f"+3312345{i:04d}" for i in range(200)]
    store.add_contacts(cid, [Contact(n) for n in numbers])
    store.close()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "python"), str(ROOT / "tests")])}
    proc = subprocess.run([sys.executable, "-c", CHILD, str(db), str(log)], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr

    lines = log.read_text().splitlines()
    dialled = [ln.split()[1] for ln in lines if ln.startswith("dialled")]
    finished = {ln.split()[1]: ln.split()[2] for ln in lines if ln.startswith("finished")}
    assert len(finished) >= 60 and len(dialled) == len(set(dialled))

    store = CampaignStore(db)
    outcomes = dict(store.connection.execute(
        "SELECT number, outcome FROM attempts WHERE outcome IS NOT NULL"))
    for number, outcome in finished.items():  # every committed result survived
        assert outcomes[number] == outcome
    states = dict(store.connection.execute("SELECT number, state FROM contacts"))
    # Claimed before dialling: a call may be in progress, or claimed a moment before the kill.
    in_progress = {n for n, st in states.items() if st == "dialing"}
    assert in_progress and {n for n in dialled if n not in outcomes} <= in_progress
    assert {n for n, st in states.items() if st != "pending"} == in_progress | set(outcomes)
    # Resume: leftovers become interrupted and are not dialled again; everything else is.
    fake = FakeOriginator(seed=4, ring=(0.001, 0.005), talk=(0.001, 0.005))
    runner = CampaignRunner(store, cid, CampaignConfig(retries={}), fake, [Agent(f"a{i}") for i in range(8)])
    asyncio.run(runner.run())
    assert not set(fake.dialled) & (set(dialled) | in_progress)
    assert set(fake.dialled) == set(numbers) - in_progress - set(outcomes)
    assert max(fake.dialled.values()) == 1
    counts = store.state_counts(cid)
    assert counts == {"done": 200 - len(in_progress), "interrupted": len(in_progress)}
    assert store.requeue_interrupted(cid, MONDAY_NOON) == len(in_progress)
