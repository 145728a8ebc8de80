"""A SIPp flood at 2000 requests/s leaves offhook's agent bounded and responsive: its
transaction table never exceeds its limit (overload is answered 503, completed OPTIONS
transactions are shed first), and a normal call placed right after the flood succeeds."""
from __future__ import annotations

import asyncio
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from offhook.sip.agent import SipAgent
from offhook.sip.message_im import CallPolicy
from offhook.sip.ua import CallState
from sip_peers import SIPP_DIR, free_port, need, stop

RATE = 2000
COUNT = 4000      # two seconds of flood


def flood(scenario: str, port: int, workdir: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [need("sipp"), "-sf", str(SIPP_DIR / scenario), "-i", "127.0.0.1", "-p", str(free_port()),
         "-r", str(RATE), "-rp", "1000", "-m", str(COUNT), "-l", str(COUNT), "-timeout", "8s",
         "-nostdin", "-timeout_error", f"127.0.0.1:{port}"],
        cwd=workdir, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def flood_then_call(scenario: str, workdir: Path, max_transactions: int, *,
                          ring: bool = False) -> tuple[Counter[str], int, bool]:
    """Flood the agent, then place a normal call to it. `ring`: every INVITE rings (nobody
    answers) until the flood is over, then the user rejects them all; else the user is
    on Do Not Disturb (every INVITE gets 486 at once)."""
    agent = await SipAgent.start(("127.0.0.1", 0), transports=("UDP",))
    caller = await SipAgent.start(("127.0.0.1", 0), transports=("UDP",))
    agent.ua.transactions.max_transactions = max_transactions
    if ring:
        agent.ua.max_calls = COUNT
    else:
        agent.ua.policy = CallPolicy(dnd=True)
    statuses: Counter[str] = Counter()
    send = agent.transport.send
    peak = 0

    def counting_send(data: bytes, address: tuple[str, int], transport: str) -> None:
        nonlocal peak
        if data.startswith(b"SIP/2.0 "):
            statuses[data[8:11].decode()] += 1
        peak = max(peak, len(agent.ua.transactions))
        send(data, address, transport)

    agent.transport.send = counting_send  # type: ignore[method-assign]
    host, port = agent.transport.local["UDP"]
    proc = flood(scenario, port, workdir)
    try:
        await asyncio.to_thread(proc.wait, 60)
    finally:
        stop(proc)
    live = [c for c in agent.ua.calls.values() if c.state is not CallState.ENDED]
    peak = max(peak, len(agent.ua.transactions))
    assert len(live) <= max_transactions
    for ringing in live:
        agent.reject(ringing, 486)
    try:
        agent.ua.policy = None
        call = caller.call(f"sip:alice@{host}:{port}", caller.capabilities())
        incoming = await agent.next_incoming(timeout=10)
        while incoming.call_id != call.call_id:   # the flood's calls queued before ours
            incoming = await agent.next_incoming(timeout=10)
        agent.answer(incoming)
        while call.state is not CallState.ESTABLISHED:
            await caller.next_event(call, timeout=10)
        caller.hangup(call)
        await agent.wait_ended(incoming, timeout=10)
        return statuses, peak, incoming.ended_by_remote
    finally:
        await caller.close()
        await agent.close()


def test_options_flood_sheds_completed_transactions_and_stays_responsive(tmp_path: Path) -> None:
    statuses, peak, ok = asyncio.run(flood_then_call("flood_options.xml", tmp_path, 1000))
    assert peak <= 1000 and ok
    assert statuses["200"] >= COUNT * 0.9, statuses   # answered, not refused: old ones were shed


def test_invite_flood_on_dnd_is_answered_and_bounded(tmp_path: Path) -> None:
    statuses, peak, ok = asyncio.run(flood_then_call("flood_invite.xml", tmp_path, 1000))
    assert peak <= 1000 and ok
    assert statuses["486"] >= COUNT * 0.9, statuses


def test_ringing_invite_flood_gets_503_once_the_table_is_full(tmp_path: Path) -> None:
    statuses, peak, ok = asyncio.run(flood_then_call("flood_invite.xml", tmp_path, 1000, ring=True))
    assert peak <= 1000 and ok
    # the table holds 1000 ringing INVITEs; beyond it they are refused, not queued
    assert statuses["100"] <= 1000 + 2 and statuses["503"] >= 100, statuses


@pytest.fixture(autouse=True)
def _sipp_installed() -> None:
    need("sipp")
