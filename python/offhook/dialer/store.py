"""The campaign store: contacts, attempts and the do-not-call list in one SQLite file.

Crash safety (``kill -9`` mid-campaign) rests on three rules:

* WAL journal, ``synchronous=FULL``: a committed transaction survives the
  process dying at any instant; an uncommitted one vanishes whole.
* A number is *claimed* (contact ``dialing``, attempt row inserted, commit)
  before the originator is asked to dial it, and an attempt is *finished*
  (attempt outcome + contact's next state) in one transaction.  So after a
  crash every contact is either untouched, finished, or ``dialing``.
* ``recover()`` turns leftover ``dialing`` contacts into ``interrupted``: the
  call may or may not have reached the callee, so the store never redials it
  on its own; ``requeue_interrupted()`` is the operator's explicit choice.

Claims run in ``BEGIN IMMEDIATE`` transactions, so two dialer processes
sharing a file (or two runners in one process) never claim the same contact.
Times are epoch seconds (float, UTC).
"""
from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from offhook.dialer.campaign import (
    CampaignConfig,
    Contact,
    ContactState,
    Outcome,
    decide_retry,
    extra_json,
    normalise_number,
    zone_for,
)
from offhook.errors import CampaignError

__all__ = ["AttemptResult", "CampaignStore", "Claim"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS campaigns (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created REAL NOT NULL,
    config TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS contacts (
    id INTEGER PRIMARY KEY,
    campaign_id INTEGER NOT NULL REFERENCES campaigns(id),
    number TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    tz TEXT,
    extra TEXT NOT NULL DEFAULT '{}',
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL,
    last_outcome TEXT,
    UNIQUE (campaign_id, number)
);
CREATE INDEX IF NOT EXISTS contacts_due ON contacts(campaign_id, state, next_at);
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY,
    campaign_id INTEGER REFERENCES campaigns(id),
    contact_id INTEGER REFERENCES contacts(id),
    number TEXT NOT NULL,
    direction TEXT NOT NULL DEFAULT 'outbound',
    agent TEXT,
    started REAL NOT NULL,
    answered REAL,
    connected REAL,
    ended REAL,
    outcome TEXT,
    wait REAL,
    talk REAL,
    wrap REAL,
    mos REAL
);
CREATE INDEX IF NOT EXISTS attempts_campaign ON attempts(campaign_id, outcome);
CREATE TABLE IF NOT EXISTS campaign_control (
    campaign_id INTEGER PRIMARY KEY REFERENCES campaigns(id),
    status TEXT NOT NULL,
    changed REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS dnc (
    number TEXT PRIMARY KEY,
    added REAL NOT NULL,
    reason TEXT NOT NULL DEFAULT ''
);
"""


@dataclass(frozen=True)
class Claim:
    """A contact the store has marked ``dialing`` for one attempt."""

    campaign_id: int
    contact_id: int
    attempt_id: int
    number: str
    name: str
    extra: Mapping[str, str]


@dataclass(frozen=True)
class AttemptResult:
    """What happened on one attempt; times are epoch seconds, durations seconds."""

    outcome: Outcome
    ended: float
    answered: float | None = None
    connected: float | None = None
    agent: str | None = None
    wait: float | None = None  # answer → agent (or → abandon)
    talk: float | None = None  # agent connected → hang-up
    wrap: float | None = None  # agent's after-call work
    mos: float | None = None


class CampaignStore:
    """One SQLite file (``":memory:"`` for tests).  Not thread-safe: one per thread/loop."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, timeout=30.0)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise CampaignError(f"{self.path}: not a usable campaign store: {exc}") from None

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> CampaignStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def connection(self) -> sqlite3.Connection:
        """The underlying connection (read-only use: reports)."""
        return self._db

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # -- campaigns and contacts -------------------------------------------------------------
    def create_campaign(self, name: str, now: float, config: Mapping[str, Any] | None = None) -> int:
        if not name.strip():
            raise CampaignError("campaign name must not be empty")
        with self._tx() as db:
            try:
                cur = db.execute("INSERT INTO campaigns(name, created, config) VALUES (?, ?, ?)",
                                 (name, now, json.dumps(dict(config or {}), default=str)))
            except sqlite3.IntegrityError:
                raise CampaignError(f"campaign {name!r} already exists in {self.path}") from None
            return int(cur.lastrowid or 0)

    def campaign_id(self, name: str) -> int:
        row = self._db.execute("SELECT id FROM campaigns WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise CampaignError(f"no campaign {name!r} in {self.path}")
        return int(row["id"])

    def campaign_config(self, campaign_id: int) -> dict[str, Any]:
        """The mapping the campaign was created with (``CampaignConfig.from_mapping`` reads it)."""
        row = self._db.execute("SELECT config FROM campaigns WHERE id = ?", (campaign_id,)).fetchone()
        if row is None:
            raise CampaignError(f"no campaign with id {campaign_id} in {self.path}")
        value = json.loads(row["config"])
        return dict(value) if isinstance(value, dict) else {}

    def set_status(self, campaign_id: int, status: str, now: float) -> None:
        """The operator's wish for the campaign: ``running`` or ``stopped`` (workers poll it)."""
        if status not in ("created", "running", "stopped"):
            raise CampaignError(f"campaign status {status!r}: expected created, running or stopped")
        with self._tx() as db:
            db.execute("INSERT INTO campaign_control(campaign_id, status, changed) VALUES (?, ?, ?) "
                       "ON CONFLICT(campaign_id) DO UPDATE SET status = excluded.status, "
                       "changed = excluded.changed", (campaign_id, status, now))

    def status(self, campaign_id: int) -> str:
        row = self._db.execute("SELECT status FROM campaign_control WHERE campaign_id = ?",
                               (campaign_id,)).fetchone()
        return "created" if row is None else str(row["status"])

    def add_contacts(self, campaign_id: int, contacts: Iterable[Contact]) -> dict[str, int]:
        """Adds contacts as ``pending`` (``do-not-call`` when listed).  Returns counts of
        ``added``, ``duplicate`` (number already in the campaign) and ``do_not_call``."""
        counts = {"added": 0, "duplicate": 0, "do_not_call": 0}
        batch = list(contacts)
        for c in batch:  # a bad zone is refused here, not mid-campaign
            if c.tz:
                zone_for(c.number, c.tz, {}, "UTC")
        with self._tx() as db:
            for c in batch:
                dnc = self._is_dnc(c.number)
                state = ContactState.DO_NOT_CALL if dnc else ContactState.PENDING
                cur = db.execute(
                    "INSERT OR IGNORE INTO contacts(campaign_id, number, name, tz, extra, state) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (campaign_id, c.number, c.name, c.tz, extra_json(c), state.value))
                if cur.rowcount == 0:
                    counts["duplicate"] += 1
                else:
                    counts["do_not_call" if dnc else "added"] += 1
        return counts

    # -- do-not-call --------------------------------------------------------------------------
    def add_dnc(self, numbers: Iterable[str], now: float, reason: str = "") -> int:
        """Adds numbers to the do-not-call list; pending/retry contacts with them stop at once."""
        normal = [normalise_number(n) for n in numbers]
        with self._tx() as db:
            added = 0
            for n in normal:
                added += db.execute("INSERT OR IGNORE INTO dnc(number, added, reason) VALUES (?, ?, ?)",
                                    (n, now, reason)).rowcount
                db.execute("UPDATE contacts SET state = ?, next_at = NULL WHERE number = ? "
                           "AND state IN (?, ?)", (ContactState.DO_NOT_CALL.value, n,
                                                    ContactState.PENDING.value, ContactState.RETRY.value))
        return added

    def is_dnc(self, number: str) -> bool:
        return self._is_dnc(normalise_number(number))

    def _is_dnc(self, number: str) -> bool:
        return self._db.execute("SELECT 1 FROM dnc WHERE number = ?", (number,)).fetchone() is not None

    # -- the dialing cycle --------------------------------------------------------------------
    def claim_due(self, campaign_id: int, now: float, limit: int, config: CampaignConfig) -> list[Claim]:
        """Claims up to ``limit`` contacts that may be dialled at ``now``.

        A due contact outside its calling hours is pushed to its next window
        (``next_at``) without being claimed; one on the do-not-call list is
        closed as ``do-not-call``.  Claimed contacts are ``dialing`` with an open
        attempt row, committed before this returns.
        """
        if limit <= 0:
            return []
        claims: list[Claim] = []
        moment = datetime.fromtimestamp(now, UTC)
        with self._tx() as db:
            while len(claims) < limit:
                rows = db.execute(
                    "SELECT id, number, name, tz, extra FROM contacts WHERE campaign_id = ? "
                    "AND state IN (?, ?) AND (next_at IS NULL OR next_at <= ?) "
                    "ORDER BY next_at IS NOT NULL, next_at, id LIMIT ?",
                    (campaign_id, ContactState.PENDING.value, ContactState.RETRY.value, now,
                     limit - len(claims))).fetchall()
                if not rows:
                    break
                for r in rows:
                    if self._is_dnc(r["number"]):
                        db.execute("UPDATE contacts SET state = ?, next_at = NULL WHERE id = ?",
                                   (ContactState.DO_NOT_CALL.value, r["id"]))
                        continue
                    zone = config.zone(r["number"], r["tz"])
                    if not config.calling_hours.is_open(moment, zone):
                        nxt = config.calling_hours.next_open(moment, zone)
                        if nxt is None:
                            db.execute("UPDATE contacts SET state = ?, next_at = NULL, last_outcome = ? "
                                       "WHERE id = ?", (ContactState.DONE.value, "no-calling-hours",
                                                        r["id"]))
                        else:
                            db.execute("UPDATE contacts SET next_at = ? WHERE id = ?",
                                       (nxt.timestamp(), r["id"]))
                        continue
                    db.execute("UPDATE contacts SET state = ?, attempts = attempts + 1 WHERE id = ?",
                               (ContactState.DIALING.value, r["id"]))
                    cur = db.execute("INSERT INTO attempts(campaign_id, contact_id, number, started) "
                                     "VALUES (?, ?, ?, ?)", (campaign_id, r["id"], r["number"], now))
                    claims.append(Claim(campaign_id, int(r["id"]), int(cur.lastrowid or 0), r["number"],
                                        r["name"], json.loads(r["extra"])))
        return claims

    def finish(self, claim: Claim, result: AttemptResult, config: CampaignConfig) -> ContactState:
        """Records an attempt's result and moves its contact on (retry, done) atomically."""
        with self._tx() as db:
            row = db.execute("SELECT state FROM contacts WHERE id = ?", (claim.contact_id,)).fetchone()
            if row is None or row["state"] != ContactState.DIALING.value:
                raise CampaignError(f"attempt {claim.attempt_id} for {claim.number} is not in progress "
                                    f"(contact state {row['state'] if row else 'missing'})")
            used = db.execute("SELECT COUNT(*) FROM attempts WHERE contact_id = ? AND outcome = ?",
                              (claim.contact_id, result.outcome.value)).fetchone()[0]
            db.execute("UPDATE attempts SET answered = ?, connected = ?, ended = ?, outcome = ?, "
                       "agent = ?, wait = ?, talk = ?, wrap = ?, mos = ? WHERE id = ?",
                       (result.answered, result.connected, result.ended, result.outcome.value,
                        result.agent, result.wait, result.talk, result.wrap, result.mos,
                        claim.attempt_id))
            decision = decide_retry(result.outcome, int(used), result.ended, config.retries)
            state = decision.state
            if result.outcome is Outcome.INTERRUPTED:
                state = ContactState.INTERRUPTED
            elif state is ContactState.RETRY and self._is_dnc(claim.number):
                state = ContactState.DO_NOT_CALL
            db.execute("UPDATE contacts SET state = ?, next_at = ?, last_outcome = ? WHERE id = ?",
                       (state.value, decision.next_at if state is ContactState.RETRY else None,
                        result.outcome.value, claim.contact_id))
        return state

    def set_wrap(self, attempt_id: int, wrap: float) -> None:
        """Adds the agent's after-call work time to a finished attempt."""
        with self._tx() as db:
            db.execute("UPDATE attempts SET wrap = ? WHERE id = ?", (wrap, attempt_id))

    def recover(self, campaign_id: int, now: float) -> int:
        """After a crash: contacts left ``dialing`` become ``interrupted`` (never redialled
        automatically) and their open attempts are closed.  Returns how many."""
        with self._tx() as db:
            db.execute("UPDATE attempts SET outcome = ?, ended = ? WHERE campaign_id = ? "
                       "AND outcome IS NULL", (Outcome.INTERRUPTED.value, now, campaign_id))
            return db.execute("UPDATE contacts SET state = ?, last_outcome = ? WHERE campaign_id = ? "
                              "AND state = ?", (ContactState.INTERRUPTED.value, Outcome.INTERRUPTED.value,
                                                campaign_id, ContactState.DIALING.value)).rowcount

    def requeue_interrupted(self, campaign_id: int, at: float) -> int:
        """Operator's choice: dial interrupted contacts again from ``at``."""
        with self._tx() as db:
            return db.execute("UPDATE contacts SET state = ?, next_at = ? WHERE campaign_id = ? "
                              "AND state = ?", (ContactState.RETRY.value, at, campaign_id,
                                                ContactState.INTERRUPTED.value)).rowcount

    def record_inbound(self, number: str, result: AttemptResult, *, started: float,
                       campaign_id: int | None = None) -> int:
        """Stores an inbound call so reports cover both directions."""
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO attempts(campaign_id, number, direction, agent, started, answered, "
                "connected, ended, outcome, wait, talk, wrap, mos) "
                "VALUES (?, ?, 'inbound', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (campaign_id, number, result.agent, started, result.answered, result.connected,
                 result.ended, result.outcome.value, result.wait, result.talk, result.wrap, result.mos))
            return int(cur.lastrowid or 0)

    # -- queries ------------------------------------------------------------------------------
    def state_counts(self, campaign_id: int) -> dict[str, int]:
        rows = self._db.execute("SELECT state, COUNT(*) AS n FROM contacts WHERE campaign_id = ? "
                                "GROUP BY state", (campaign_id,)).fetchall()
        return {r["state"]: int(r["n"]) for r in rows}

    def next_due(self, campaign_id: int) -> float | None:
        """Earliest ``next_at`` of a waiting contact (0.0 when one is due now; None: none left)."""
        row = self._db.execute(
            "SELECT MIN(COALESCE(next_at, 0)) AS t, COUNT(*) AS n FROM contacts WHERE campaign_id = ? "
            "AND state IN (?, ?)", (campaign_id, ContactState.PENDING.value,
                                    ContactState.RETRY.value)).fetchone()
        return None if row["n"] == 0 else float(row["t"])

    def live_and_abandoned(self, campaign_id: int) -> tuple[int, int]:
        """(calls answered by a person, of which abandoned) — the abandon rate's terms."""
        row = self._db.execute(
            "SELECT SUM(outcome IN (?, ?)) AS live, SUM(outcome = ?) AS ab FROM attempts "
            "WHERE campaign_id = ?", (Outcome.ANSWERED_HUMAN.value, Outcome.ABANDONED.value,
                                      Outcome.ABANDONED.value, campaign_id)).fetchone()
        return int(row["live"] or 0), int(row["ab"] or 0)

    def attempts_for(self, number: str) -> list[sqlite3.Row]:
        return self._db.execute("SELECT * FROM attempts WHERE number = ? ORDER BY id",
                                (normalise_number(number),)).fetchall()
