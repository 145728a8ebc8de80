"""The campaign store on PostgreSQL: the SQLite store's rules, concurrent claims, and two
dialer workers (offhook campaign start --shared) sharing one campaign against SIPp."""
from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from dialer_sipp import HUMAN_GREETING, SippServer, greeting
from offhook.dialer import AttemptResult, CampaignConfig, Contact, ContactState, Outcome
from offhook.dialer.pg_store import PgCampaignStore
from offhook.errors import CampaignError
from offhook.report.build import build_report
from pg_server import postgres
from sip_peers import DATA, free_port, need, stop

NOW = 1_780_000_000.0


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    with postgres() as url:
        yield url


def test_store_rules_on_postgresql(pg_url: str) -> None:
    config = CampaignConfig(mode="progressive")  # type: ignore[arg-type]
    with PgCampaignStore(pg_url) as store:
        cid = store.create_campaign("rules", NOW, {"mode": "progressive"})
        with pytest.raises(CampaignError, match="campaign 'rules' already exists"):
            store.create_campaign("rules", NOW)
        assert store.campaign_config(cid) == {"mode": "progressive"}
        store.add_dnc(["+15550000003"], NOW)
        counts = store.add_contacts(cid, [Contact(f"+1555000000{i}") for i in range(1, 5)]
                                    + [Contact("+15550000001")])
        assert counts == {"added": 3, "duplicate": 1, "do_not_call": 1}
        claims = store.claim_due(cid, NOW, 10, config)
        assert sorted(c.number for c in claims) == ["+15550000001", "+15550000002", "+15550000004"]
        assert store.finish(claims[0], AttemptResult(Outcome.BUSY, NOW + 5), config) is ContactState.RETRY
        store.finish(claims[1], AttemptResult(Outcome.ANSWERED_HUMAN, NOW + 60, answered=NOW + 10,
                                              connected=NOW + 11, agent="a1", wait=1.0, talk=49.0), config)
        store.finish(claims[2], AttemptResult(Outcome.ABANDONED, NOW + 12, answered=NOW + 10, wait=2.0),
                     config)
        assert store.live_and_abandoned(cid) == (2, 1)
        assert store.next_due(cid) == pytest.approx(NOW + 5 + 600)   # busy: 10 min, epoch precision kept
        assert store.state_counts(cid) == {"retry": 1, "done": 2, "do-not-call": 1}
        store.set_status(cid, "stopped", NOW)
        assert store.status(cid) == "stopped"
        report = build_report(store, campaign="rules")
        assert report.overall.calls == 3 and report.overall.abandoned == 1
        # Crash recovery: a claim left dialing becomes interrupted, never redialled on its own.
        again = store.claim_due(cid, NOW + 700, 5, config)
        assert [c.number for c in again] == [claims[0].number]
        assert store.recover(cid, NOW + 800) == 1
        assert store.claim_due(cid, NOW + 900, 5, config) == []


def test_concurrent_claims_never_overlap(pg_url: str) -> None:
    config = CampaignConfig()
    with PgCampaignStore(pg_url) as store:
        cid = store.create_campaign("race", NOW)
        store.add_contacts(cid, [Contact(f"+4420{i:07d}") for i in range(400)])
    got: list[list[str]] = [[], [], [], []]

    def worker(k: int) -> None:
        with PgCampaignStore(pg_url) as mine:
            while True:
                claims = mine.claim_due(cid, NOW, 7, config)
                if not claims:
                    return
                got[k].extend(c.number for c in claims)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    everything = [n for g in got for n in g]
    assert len(everything) == 400 and len(set(everything)) == 400   # each claimed once
    assert sum(1 for g in got if g) >= 2   # the claims really were shared


def test_bad_url_is_a_clear_error() -> None:
    with pytest.raises(CampaignError, match="cannot connect to the campaign store"):
        PgCampaignStore("postgresql://dialer:secret@127.0.0.1:1/none?connect_timeout=2")


def _offhook(*args: str, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "offhook.cli.main", *args], cwd=cwd,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _dispatcher(tmp_path: Path, gateways: list[SippServer]) -> tuple[subprocess.Popen[bytes], int]:
    """Kamailio with the dispatcher module in front of ``gateways`` (set 1, round robin)."""
    binary = need("kamailio")
    port = free_port()
    listing = tmp_path / "dispatcher.list"
    listing.write_text("".join(f"1 sip:{g.uri_host}\n" for g in gateways))
    cfg = tmp_path / "dispatcher.cfg"
    cfg.write_text((DATA / "kamailio" / "dispatcher.cfg").read_text()
                   .replace("@PORT@", str(port)).replace("@LIST@", str(listing)))
    log = (tmp_path / "kamailio.log").open("w")
    proc = subprocess.Popen([binary, "-f", str(cfg), "-DD", "-E", "-m", "32", "-M", "8", "-Y", str(tmp_path),
                             "-w", str(tmp_path)], cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=log,
                            stderr=log)
    log.close()
    time.sleep(0.8)
    if proc.poll() is not None:
        pytest.fail(f"kamailio did not start: {(tmp_path / 'kamailio.log').read_text()[-2000:]}")
    return proc, port


def test_two_workers_share_one_campaign(pg_url: str, tmp_path: Path) -> None:
    """Two `offhook campaign start --shared` workers, one PostgreSQL campaign, their calls
    through Kamailio's dispatcher to two gateways (docs/dialer.md)."""
    need("sipp")
    need("espeak-ng")
    hello = greeting(HUMAN_GREETING, 8000)
    gateways = [SippServer("uas_dial_speak.xml", tmp_path / f"gw{i}", speech=hello, trace_msg=True)
                for i in (1, 2)]
    agents = SippServer("uas_dial_agent.xml", tmp_path / "agents", pause=(300, 600))
    kamailio, lb_port = _dispatcher(tmp_path, gateways)
    contacts = tmp_path / "list.csv"
    contacts.write_text("number\n" + "".join(f"+3120555{i:04d}\n" for i in range(40)))
    try:
        create = subprocess.run([sys.executable, "-m", "offhook.cli.main", "campaign", "create", "shared",
                                 "--db", pg_url, "--contacts", str(contacts), "--mode", "progressive",
                                 "--abandon-grace", "5", "--ring-timeout", "5"],
                                capture_output=True, text=True, cwd=tmp_path)
        assert create.returncode == 0, create.stderr
        workers = []
        for name in ("anna", "ben"):
            agent_args = [a for i in (1, 2) for a in ("--agent", f"sip:{name}{i}@{agents.uri_host}")]
            workers.append(_offhook("campaign", "start", "shared", "--db", pg_url, "--shared", *agent_args,
                                    "--route", f"sip:{{number}}@127.0.0.1:{lb_port}", cwd=tmp_path))
        try:
            results = [w.communicate(timeout=90) for w in workers]
        finally:
            for w in workers:
                stop(w)
        for w, (_out, err) in zip(workers, results, strict=True):
            assert w.returncode == 0, err
            assert "nothing left to dial" in _out
        with PgCampaignStore(pg_url) as store:
            cid = store.campaign_id("shared")
            assert store.state_counts(cid) == {"done": 40}
            rows = store.connection.execute("SELECT number, outcome, agent FROM attempts "
                                            "WHERE campaign_id = ?", (cid,)).fetchall()
        per_number = Counter(r["number"] for r in rows)
        assert len(per_number) == 40 and set(per_number.values()) == {1}   # nobody dialled twice
        assert {r["outcome"] for r in rows} == {"answered-human"}
        by_worker = Counter(str(r["agent"]).rstrip("0123456789") for r in rows)
        assert by_worker["anna"] >= 5 and by_worker["ben"] >= 5, by_worker   # both workers dialled
        status = json.loads(subprocess.run(
            [sys.executable, "-m", "offhook.cli.main", "campaign", "status", "shared", "--db", pg_url,
             "--json"], capture_output=True, text=True, check=True).stdout)
        assert status["live"] == 40 and status["abandoned"] == 0
        invites = [g.invites() for g in gateways]
        assert sum(invites) == 40 and min(invites) >= 15, invites   # the dispatcher spread them
        assert "Aborting call" not in "".join(g.errors() for g in gateways) + agents.errors()
    finally:
        stop(kamailio)
        for g in gateways:
            g.stop()
        agents.stop()
