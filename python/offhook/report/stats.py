"""Call statistics from the campaign store, grouped per campaign, agent, hour, day, direction.

Definitions (the dialer's, and the regulators' for the abandon rate):

* calls — attempts that ended (an interrupted attempt counts; it may have rung);
* live — answered by a person: connected to an agent or abandoned;
* answer rate — live / calls; abandon rate — abandoned / live;
* wait — answer → agent (abandoned calls count their wait to the hang-up);
* talk — agent connected → hang-up; handle — talk + wrap-up;
* MOS — mean of the calls that carry a score (None when none do).

Hour and day are local to the report's time zone (``zoneinfo``), keyed by
when the attempt started.
"""
from __future__ import annotations

import sqlite3
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from offhook.dialer.campaign import Outcome
from offhook.errors import CampaignError

__all__ = ["GROUPINGS", "AttemptRow", "GroupStats", "group_stats", "load_attempts", "summarise"]


@dataclass(frozen=True)
class AttemptRow:
    campaign: str
    direction: str
    number: str
    agent: str | None
    started: float
    outcome: str
    wait: float | None
    talk: float | None
    wrap: float | None
    mos: float | None


def load_attempts(db: sqlite3.Connection, *, campaign: str | None = None, since: float | None = None,
                  until: float | None = None) -> list[AttemptRow]:
    """Finished attempts (outcome set), optionally of one campaign and a time range."""
    sql = ("SELECT COALESCE(c.name, '') AS campaign, a.direction, a.number, a.agent, a.started, a.outcome, "
           "a.wait, a.talk, a.wrap, a.mos FROM attempts a LEFT JOIN campaigns c ON c.id = a.campaign_id "
           "WHERE a.outcome IS NOT NULL")
    args: list[Any] = []
    if campaign is not None:
        if db.execute("SELECT 1 FROM campaigns WHERE name = ?", (campaign,)).fetchone() is None:
            raise CampaignError(f"no campaign {campaign!r} in the store")
        sql += " AND c.name = ?"
        args.append(campaign)
    if since is not None:
        sql += " AND a.started >= ?"
        args.append(since)
    if until is not None:
        sql += " AND a.started < ?"
        args.append(until)
    sql += " ORDER BY a.started, a.id"
    cur = db.execute(sql, args)
    return [AttemptRow(*tuple(r)) for r in cur.fetchall()]


@dataclass
class GroupStats:
    key: str
    calls: int = 0
    live: int = 0
    connected: int = 0
    abandoned: int = 0
    wait_total: float = 0.0
    talk_total: float = 0.0
    handle_total: float = 0.0
    mos_total: float = 0.0
    mos_count: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)

    def add(self, row: AttemptRow) -> None:
        self.calls += 1
        self.outcomes[row.outcome] += 1
        if row.outcome in (Outcome.ANSWERED_HUMAN.value, Outcome.ABANDONED.value):
            self.live += 1
            self.wait_total += row.wait or 0.0
        if row.outcome == Outcome.ABANDONED.value:
            self.abandoned += 1
        if row.outcome == Outcome.ANSWERED_HUMAN.value:
            self.connected += 1
            self.talk_total += row.talk or 0.0
            self.handle_total += (row.talk or 0.0) + (row.wrap or 0.0)
        if row.mos is not None:
            self.mos_total += row.mos
            self.mos_count += 1

    @property
    def answer_rate(self) -> float:
        return self.live / self.calls if self.calls else 0.0

    @property
    def abandon_rate(self) -> float:
        return self.abandoned / self.live if self.live else 0.0

    @property
    def average_wait(self) -> float:
        return self.wait_total / self.live if self.live else 0.0

    @property
    def average_talk(self) -> float:
        return self.talk_total / self.connected if self.connected else 0.0

    @property
    def average_handle(self) -> float:
        return self.handle_total / self.connected if self.connected else 0.0

    @property
    def mos(self) -> float | None:
        return self.mos_total / self.mos_count if self.mos_count else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key, "calls": self.calls, "live": self.live, "connected": self.connected,
            "abandoned": self.abandoned, "answer_rate": self.answer_rate,
            "abandon_rate": self.abandon_rate, "average_wait": self.average_wait,
            "average_talk": self.average_talk, "average_handle": self.average_handle,
            "talk_total": self.talk_total, "mos": self.mos,
            "outcomes": {o.value: self.outcomes.get(o.value, 0) for o in Outcome},
        }


def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise CampaignError(f"report time zone {tz!r}: use an IANA name such as 'Europe/London'") from None


def _keyers(zone: ZoneInfo) -> dict[str, Callable[[AttemptRow], str]]:
    def local(r: AttemptRow) -> datetime:
        return datetime.fromtimestamp(r.started, UTC).astimezone(zone)
    return {
        "campaign": lambda r: r.campaign or "(inbound)",
        "agent": lambda r: r.agent or "(none)",
        "hour": lambda r: f"{local(r).hour:02d}",
        "day": lambda r: local(r).date().isoformat(),
        "direction": lambda r: r.direction,
    }


GROUPINGS: Sequence[str] = ("campaign", "agent", "hour", "day", "direction")


def group_stats(rows: Iterable[AttemptRow], by: str, *, tz: str = "UTC") -> list[GroupStats]:
    """Stats per group, sorted by key.  ``by``: campaign, agent, hour, day or direction.

    Per agent, only calls an agent took are counted (calls, talk, handle); the
    other groupings count every attempt.
    """
    keyers = _keyers(_zone(tz))
    if by not in keyers:
        raise CampaignError(f"report grouping {by!r}: expected one of {list(GROUPINGS)}")
    keyer = keyers[by]
    groups: dict[str, GroupStats] = defaultdict(lambda: GroupStats(""))
    for r in rows:
        if by == "agent" and r.agent is None:
            continue
        k = keyer(r)
        g = groups[k]
        g.key = k
        g.add(r)
    return [groups[k] for k in sorted(groups)]


def summarise(rows: Iterable[AttemptRow], key: str = "all") -> GroupStats:
    g = GroupStats(key)
    for r in rows:
        g.add(r)
    return g
