"""Call history in SQLite: one row per call, written when the call starts and completed when it ends.

The database runs in WAL mode with synchronous=FULL, and each write is one transaction,
so a crash or `kill -9` at any moment leaves either the row as it was at the start
(result 'in progress', no end) or the finished row — never a half-written one.
`History.open()` marks rows left 'in progress' by a process that died as 'interrupted'
(their end stays NULL: nobody knows when the call stopped).

Columns: id, direction ('in'/'out'), party (the far end's URI), name (its display
name), account, start, answer, end (Unix seconds, answer/end NULL when they never
happened), duration (seconds talking: end - answer, 0 unanswered), result
('answered', 'missed', 'rejected', 'busy', 'failed', 'cancelled', 'forwarded',
'in progress', 'interrupted'), reason (one line).
"""
from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from offhook.errors import OffhookError

__all__ = ["History", "HistoryEntry", "HistoryError"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    party TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    account TEXT NOT NULL DEFAULT '',
    start REAL NOT NULL,
    answer REAL,
    "end" REAL,
    duration REAL NOT NULL DEFAULT 0,
    result TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS calls_start ON calls (start);
"""
IN_PROGRESS = "in progress"


class HistoryError(OffhookError):
    """The history database cannot be opened or written."""


@dataclass(frozen=True)
class HistoryEntry:
    id: int
    direction: str
    party: str
    name: str
    account: str
    start: float
    answer: float | None
    end: float | None
    duration: float
    result: str
    reason: str


class History:
    """The call log. Not thread-safe; one per process (SQLite serialises writers between processes)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA busy_timeout=5000")
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise HistoryError(f"cannot open the call history {self.path}: {exc}") from None

    @classmethod
    def open(cls, path: str | Path) -> History:
        """Open and mark rows a dead process left 'in progress' as 'interrupted'."""
        history = cls(path)
        with history._tx():
            history._db.execute("UPDATE calls SET result='interrupted' WHERE result=?", (IN_PROGRESS,))
        return history

    @contextmanager
    def _tx(self) -> Iterator[None]:
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise HistoryError(f"cannot write the call history {self.path}: {exc}") from None

    def start(self, direction: str, party: str, *, name: str = "", account: str = "",
              at: float | None = None) -> int:
        """A new row for a call that starts now; returns its id."""
        if direction not in ("in", "out"):
            raise ValueError(f"direction must be 'in' or 'out', not {direction!r}")
        with self._tx():
            cur = self._db.execute(
                "INSERT INTO calls (direction, party, name, account, start, result) VALUES (?,?,?,?,?,?)",
                (direction, party, name, account, time.time() if at is None else at, IN_PROGRESS))
            row_id = cur.lastrowid
        assert row_id is not None  # an INSERT always has one
        return row_id

    def answered(self, row_id: int, at: float | None = None) -> None:
        with self._tx():
            self._db.execute("UPDATE calls SET answer=? WHERE id=?",
                             (time.time() if at is None else at, row_id))

    def finish(self, row_id: int, result: str, reason: str = "", at: float | None = None) -> None:
        """Complete the row: end time, duration (from the answer) and result, in one transaction."""
        end = time.time() if at is None else at
        with self._tx():
            self._db.execute(
                'UPDATE calls SET "end"=?, result=?, reason=?, '
                "duration=CASE WHEN answer IS NULL THEN 0 ELSE MAX(0, ? - answer) END WHERE id=?",
                (end, result, reason, end, row_id))

    def entries(self, limit: int = 50, *, direction: str | None = None) -> list[HistoryEntry]:
        """The newest calls first."""
        sql = ('SELECT id, direction, party, name, account, start, answer, "end", duration, result, reason '
               "FROM calls")
        args: tuple[object, ...] = ()
        if direction is not None:
            sql += " WHERE direction=?"
            args = (direction,)
        sql += " ORDER BY start DESC, id DESC LIMIT ?"
        try:
            rows = self._db.execute(sql, (*args, limit)).fetchall()
        except sqlite3.Error as exc:
            raise HistoryError(f"cannot read the call history {self.path}: {exc}") from None
        return [HistoryEntry(*row) for row in rows]

    def get(self, row_id: int) -> HistoryEntry | None:
        rows = self._db.execute(
            'SELECT id, direction, party, name, account, start, answer, "end", duration, result, reason '
            "FROM calls WHERE id=?", (row_id,)).fetchall()
        return HistoryEntry(*rows[0]) if rows else None

    def last_dialled(self) -> HistoryEntry | None:
        """For redial: the newest outgoing call."""
        rows = self.entries(1, direction="out")
        return rows[0] if rows else None

    def last_caller(self) -> HistoryEntry | None:
        """For call-back: the newest incoming call."""
        rows = self.entries(1, direction="in")
        return rows[0] if rows else None

    def close(self) -> None:
        self._db.close()


def format_entries(entries: list[HistoryEntry]) -> str:
    """The `offhook history` table."""
    lines = [f"{'when':19}  {'dir':3}  {'result':11}  {'duration':>8}  party"]
    for e in entries:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(e.start))
        dur = f"{int(e.duration) // 60}:{int(e.duration) % 60:02d}"
        party = f"{e.name} <{e.party}>" if e.name else e.party
        lines.append(f"{when:19}  {e.direction:3}  {e.result:11}  {dur:>8}  {party}")
    return "\n".join(lines)
