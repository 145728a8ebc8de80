"""A dialer load bed on real SIP, shared by tests/test_dialer_load.py and bench/bench_campaign_sipp.py.

Callees are SIPp UAS processes, one per behaviour, each on its own port:
a person (answers, says "Hello?", waits), an answering machine (answers and
talks on: the dialer's AMD must hang up), busy (486), failing (503) and
ringing out (180 until the dialer's CANCEL).  Each contact's behaviour is drawn
(seeded) from ``LoadMix`` and the originator's route sends its INVITE to that
SIPp.  Agents are SIPp UAS too (one process, one URI per agent) holding every
call for a handle time drawn uniformly from ``handle`` seconds, then hanging
up.  The dialer is the real thing: CampaignRunner + SipOriginator (one
SipAgent, one MediaEngine for the callees, the agents and the bridges, a
conference room per bridge) + a SQLite store.

Utilisation is talk time over agent time (agents x the run, from the first
dial until run() returns); the abandon rate is the regulators' (abandoned /
answered by a person).
"""
from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dialer_sipp import HUMAN_GREETING, MACHINE_GREETING, SippServer, greeting, write_message
from offhook.dialer import Agent, CampaignConfig, CampaignRunner, CampaignStore, Contact, Outcome
from offhook.dialer.amd import AmdConfig
from offhook.dialer.campaign import RetryRule
from offhook.dialer.pacing import PacingPolicy
from offhook.dialer.sim import abandon_by_window
from offhook.dialer.sip_originator import SipOriginator


@dataclass(frozen=True)
class LoadMix:
    """Share of contacts per callee behaviour (normalised)."""

    human: float = 0.25
    machine: float = 0.10
    busy: float = 0.10
    fail: float = 0.05
    ringout: float = 0.50

    def draw(self, rng: random.Random) -> str:
        kinds = ("human", "machine", "busy", "fail", "ringout")
        weights = [getattr(self, k) for k in kinds]
        return rng.choices(kinds, weights)[0]


@dataclass
class LoadResult:
    mode: str
    agents: int
    dials: int
    live: int
    abandoned: int
    talk_seconds: float
    wall_seconds: float
    peak_sip_calls: int
    peak_ringing: int
    outcomes: dict[str, int]
    amd: dict[str, int]
    bridges: int
    bridge_failures: int
    sipp_errors: dict[str, int] = field(default_factory=dict)
    kinds: dict[str, int] = field(default_factory=dict)   # callee behaviours of the numbers dialled
    loop_lag_max: float = 0.0   # the event loop's worst lateness (s) on a 50 ms timer
    abandon_times: list[float] = field(default_factory=list)   # s from the start: abandoned calls' answers
    live_times: list[float] = field(default_factory=list)      # s from the start: each person's answer

    def abandon_windows(self, window: float = 15.0) -> list[tuple[float, int, int]]:
        """(start s, people answered, abandoned) per window of the run."""
        return abandon_by_window(self.live_times, self.abandon_times, window)

    def worst_window(self, window: float = 15.0, min_live: int = 20) -> float:
        """The highest abandon rate of any window with at least ``min_live`` answers."""
        return max((ab / live for _, live, ab in self.abandon_windows(window) if live >= min_live),
                   default=0.0)

    @property
    def utilisation(self) -> float:
        return self.talk_seconds / (self.agents * self.wall_seconds) if self.wall_seconds > 0 else 0.0

    @property
    def abandon_rate(self) -> float:
        return self.abandoned / self.live if self.live else 0.0

    def as_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["utilisation"] = self.utilisation
        d["abandon_rate"] = self.abandon_rate
        return d


class LoadBed:
    """The SIPp processes of one load run (start once, run several modes, stop)."""

    def __init__(self, workdir: Path, *, agents: int, handle: tuple[float, float],
                 ring: tuple[float, float] = (0.1, 1.5)) -> None:
        self.workdir = workdir
        self.n_agents = agents
        ms = (int(handle[0] * 1000), int(handle[1] * 1000))
        ring_ms = (int(ring[0] * 1000), int(ring[1] * 1000))
        self.servers: dict[str, SippServer] = {}
        try:
            self.servers["human"] = SippServer("uas_dial_speak.xml", workdir / "human",
                                               speech=greeting(HUMAN_GREETING, 8000), pause=ring_ms)
            self.servers["machine"] = SippServer("uas_dial_speak.xml", workdir / "machine",
                                                 speech=greeting(MACHINE_GREETING, 8000), pause=ring_ms)
            self.servers["busy"] = SippServer("uas_dial_status.xml", workdir / "busy",
                                              keys={"status": "486"}, pause=ring_ms)
            self.servers["fail"] = SippServer("uas_dial_status.xml", workdir / "fail",
                                              keys={"status": "503"}, pause=ring_ms)
            self.servers["ringout"] = SippServer("uas_cancel.xml", workdir / "ringout")
            self.servers["agents"] = SippServer("uas_dial_agent.xml", workdir / "agents", pause=ms)
        except BaseException:
            self.stop()
            raise
        self.message = write_message(workdir / "sorry.wav", "Sorry, we will call you back.")

    def agents(self, offset: int = 0) -> list[Agent]:
        host = self.servers["agents"].uri_host
        return [Agent(f"agent{i:03d}", f"sip:agent{i:03d}@{host}")
                for i in range(offset, offset + self.n_agents)]

    def stop(self) -> None:
        for s in self.servers.values():
            s.stop()

    def errors(self) -> dict[str, int]:
        return {k: s.errors().count("Aborting call") for k, s in self.servers.items()}

    async def run(self, mode: str, *, contacts: int, mix: LoadMix, seed: int = 1,
                  ring_timeout: float = 4.0, abandon_target: float = 0.03, duration: float | None = None,
                  max_in_flight: int = 400, agent_offset: int = 0,
                  policy: PacingPolicy | None = None, name: str | None = None) -> LoadResult:
        """One campaign of ``contacts`` numbers in ``mode``; stops after ``duration`` s if given."""
        rng = random.Random(seed)
        kinds: dict[str, str] = {}
        numbers = []
        for i in range(contacts):
            number = f"+4420{seed:02d}{i:06d}"
            kinds[number] = mix.draw(rng)
            numbers.append(number)
        label = name or mode
        store = CampaignStore(self.workdir / f"{label.replace(' ', '-')}-{seed}.sqlite")
        config = CampaignConfig(mode=mode, abandon_target=abandon_target,  # type: ignore[arg-type]
                                abandon_grace=2.0, ring_timeout=ring_timeout, max_in_flight=max_in_flight,
                                retries={Outcome.BUSY: RetryRule(3600.0, 1)})
        cid = store.create_campaign(f"load-{label}", time.time())
        store.add_contacts(cid, [Contact(n) for n in numbers])
        servers = self.servers

        def route(number: str) -> str:
            return f"sip:{number}@{servers[kinds[number]].uri_host}"

        originator = await SipOriginator.start(route=route, amd=AmdConfig(), abandon_message=self.message,
                                               max_streams=2048)
        runner = CampaignRunner(store, cid, config, originator, self.agents(agent_offset), policy=policy)
        peak_ringing = 0
        lag = 0.0
        loop = asyncio.get_running_loop()

        async def sample() -> None:
            nonlocal peak_ringing, lag
            while True:
                peak_ringing = max(peak_ringing, runner.in_flight)
                t = loop.time()
                await asyncio.sleep(0.05)
                lag = max(lag, loop.time() - t - 0.05)

        sampler = asyncio.create_task(sample())
        stopper = loop.call_later(duration, runner.stop) if duration is not None else None
        t0 = loop.time()
        epoch0 = time.time()
        try:
            summary = await runner.run()
        finally:
            wall = loop.time() - t0
            sampler.cancel()
            if stopper is not None:
                stopper.cancel()
            await originator.close()
        row = store.connection.execute("SELECT COALESCE(SUM(talk), 0) FROM attempts WHERE campaign_id = ?",
                                       (cid,)).fetchone()
        abandon_times = [round(r[0] - epoch0, 2) for r in store.connection.execute(
            "SELECT answered FROM attempts WHERE campaign_id = ? AND outcome = 'abandoned' "
            "AND answered IS NOT NULL ORDER BY answered", (cid,)).fetchall()]
        live_times = [round(r[0] - epoch0, 2) for r in store.connection.execute(
            "SELECT answered FROM attempts WHERE campaign_id = ? AND answered IS NOT NULL "
            "AND outcome IN ('abandoned', 'answered-human') ORDER BY answered", (cid,)).fetchall()]
        dialled = [r[0] for r in store.connection.execute(
            "SELECT DISTINCT number FROM attempts WHERE campaign_id = ?", (cid,)).fetchall()]
        store.close()
        dialled_kinds: dict[str, int] = {}
        for number in dialled:
            dialled_kinds[kinds[number]] = dialled_kinds.get(kinds[number], 0) + 1
        return LoadResult(mode, self.n_agents, summary.dials, summary.live, summary.abandoned, float(row[0]),
                          wall, originator.stats.peak_calls, peak_ringing, dict(summary.outcomes),
                          dict(originator.stats.amd), originator.stats.bridges,
                          originator.stats.bridge_failures, self.errors(), dialled_kinds, lag, abandon_times,
                          live_times)
