"""Campaign rules as pure functions: outcomes, retry schedules, calling hours, contact lists.

Nothing here touches a clock, a socket or a database: every decision takes
``now`` (an aware UTC ``datetime`` or epoch seconds) as a parameter, so the
runner, the simulator and the tests all share one implementation.

Calling hours are judged in the *callee's* time zone (``zoneinfo``): a contact
carries an IANA zone name (its own ``tz`` column, else the longest matching
number prefix in ``CampaignConfig.timezone_prefixes``, else the campaign's
``timezone``).  Windows are per weekday, half-open ``[start, end)`` in local
wall-clock time; a daylight-saving gap or overlap is resolved the way
``zoneinfo`` resolves it (``fold=0``).

Retries follow a schedule per outcome (``busy: 10 min × 3``); an outcome with no
rule, or whose rule is used up, is final.  ``rejected`` (the callee declined)
and an answered human are never retried by default.
"""
from __future__ import annotations

import csv
import enum
import json
import re
import sqlite3
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from offhook.errors import CampaignError

__all__ = [
    "DEFAULT_RETRIES",
    "CallingHours",
    "CampaignConfig",
    "Contact",
    "ContactState",
    "Outcome",
    "PacingMode",
    "RetryDecision",
    "RetryRule",
    "decide_retry",
    "normalise_number",
    "parse_duration",
    "read_contacts",
    "zone_for",
]


class Outcome(enum.StrEnum):
    """How one dial attempt ended (the value is what the store and reports hold)."""

    ANSWERED_HUMAN = "answered-human"
    ANSWERING_MACHINE = "answering-machine"
    NO_ANSWER = "no-answer"
    BUSY = "busy"
    FAILED = "failed"
    REJECTED = "rejected"
    #: an answered human got no agent within the grace time (Ofcom/FTC "abandoned call")
    ABANDONED = "abandoned"
    #: the process died while the call was in progress; the number is never redialled
    #: automatically (see ``CampaignStore.recover``)
    INTERRUPTED = "interrupted"


class ContactState(enum.StrEnum):
    PENDING = "pending"
    DIALING = "dialing"
    RETRY = "retry"
    DONE = "done"
    DO_NOT_CALL = "do-not-call"
    INTERRUPTED = "interrupted"


class PacingMode(enum.StrEnum):
    PREVIEW = "preview"
    PROGRESSIVE = "progressive"
    PREDICTIVE = "predictive"


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d)?\s*$")
_UNITS = {None: 1.0, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(value: str | float | int) -> float:
    """``"10m"`` → 600.0; numbers are seconds.  Raises CampaignError on anything else."""
    if isinstance(value, bool):
        raise CampaignError(f"duration {value!r}: expected seconds or a string like '10m', '1h'")
    if isinstance(value, int | float):
        if value < 0:
            raise CampaignError(f"duration {value!r}: must not be negative")
        return float(value)
    m = _DURATION.match(value)
    if not m:
        raise CampaignError(f"duration {value!r}: expected a number with s, m, h or d (e.g. '10m')")
    return float(m.group(1)) * _UNITS[m.group(2)]


@dataclass(frozen=True)
class RetryRule:
    """Retry an outcome after ``delay`` seconds, at most ``max_retries`` times."""

    delay: float
    max_retries: int

    def __post_init__(self) -> None:
        if self.delay < 0 or self.max_retries < 0:
            raise CampaignError(f"retry rule {self}: delay and max_retries must be >= 0")


DEFAULT_RETRIES: Mapping[Outcome, RetryRule] = {
    Outcome.BUSY: RetryRule(600.0, 3),
    Outcome.NO_ANSWER: RetryRule(3600.0, 2),
    Outcome.ANSWERING_MACHINE: RetryRule(4 * 3600.0, 1),
    Outcome.FAILED: RetryRule(1800.0, 1),
}


@dataclass(frozen=True)
class RetryDecision:
    state: ContactState
    next_at: float | None  # epoch seconds of the next attempt (RETRY only)


def decide_retry(outcome: Outcome, retries_used: int, now: float,
                 rules: Mapping[Outcome, RetryRule]) -> RetryDecision:
    """The state a contact goes to after an attempt ended with ``outcome``.

    ``retries_used`` counts earlier retries *for this outcome* (a number that
    was busy twice then unanswered once has used 2 busy retries, 0 no-answer).
    """
    rule = rules.get(outcome)
    if rule is None or retries_used >= rule.max_retries:
        return RetryDecision(ContactState.DONE, None)
    return RetryDecision(ContactState.RETRY, now + rule.delay)


_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WINDOW = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def _parse_days(spec: str) -> list[int]:
    days: list[int] = []
    for part in spec.lower().split(","):
        part = part.strip()
        if "-" in part:
            a, b = (p.strip() for p in part.split("-", 1))
            if a not in _DAYS or b not in _DAYS:
                raise CampaignError(f"calling hours: unknown day range {part!r} (use mon..sun)")
            i, j = _DAYS.index(a), _DAYS.index(b)
            days.extend(range(i, j + 1) if i <= j else [*range(i, 7), *range(0, j + 1)])
        elif part in _DAYS:
            days.append(_DAYS.index(part))
        else:
            raise CampaignError(f"calling hours: unknown day {part!r} (use mon, tue, ... sun)")
    return days


def _parse_window(spec: str) -> tuple[time, time]:
    m = _WINDOW.match(spec)
    if not m:
        raise CampaignError(f"calling hours: window {spec!r} is not HH:MM-HH:MM")
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2 != 0):
        raise CampaignError(f"calling hours: window {spec!r} has an impossible time")
    start = time(h1, m1)
    end = time.max if h2 == 24 else time(h2, m2)
    if end <= start:
        raise CampaignError(f"calling hours: window {spec!r} ends before it starts")
    return start, end


@dataclass(frozen=True)
class CallingHours:
    """Per weekday (0 = Monday) local ``[start, end)`` windows.  Empty = never callable."""

    windows: Mapping[int, tuple[tuple[time, time], ...]]

    @classmethod
    def always(cls) -> CallingHours:
        return cls({d: ((time.min, time.max),) for d in range(7)})

    @classmethod
    def from_mapping(cls, spec: Mapping[str, str | list[str]]) -> CallingHours:
        """``{"mon-fri": "09:00-21:00", "sat": ["10:00-13:00", "14:00-18:00"]}``."""
        windows: dict[int, list[tuple[time, time]]] = {}
        for days, wins in spec.items():
            for w in [wins] if isinstance(wins, str) else wins:
                window = _parse_window(w)
                for d in _parse_days(days):
                    windows.setdefault(d, []).append(window)
        return cls({d: tuple(sorted(ws)) for d, ws in windows.items()})

    def is_open(self, now: datetime, zone: ZoneInfo) -> bool:
        """True when ``now`` (aware) is inside a window in ``zone``'s local time."""
        local = _aware(now).astimezone(zone)
        t = local.time().replace(tzinfo=None)
        return any(a <= t < b or (b == time.max and t >= a)
                   for a, b in self.windows.get(local.weekday(), ()))

    def next_open(self, now: datetime, zone: ZoneInfo) -> datetime | None:
        """The earliest aware UTC instant >= ``now`` at which calling is allowed (None: never)."""
        now = _aware(now)
        if self.is_open(now, zone):
            return now
        local = now.astimezone(zone)
        for day in range(8):
            date = (local + timedelta(days=day)).date()
            for start, _end in self.windows.get(date.weekday(), ()):
                candidate = datetime.combine(date, start, tzinfo=zone)
                # A start inside a DST gap does not exist: step to the first minute that does.
                while candidate.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != \
                        candidate.replace(tzinfo=None):
                    candidate += timedelta(minutes=1)
                utc = candidate.astimezone(UTC)
                if utc >= now and self.is_open(utc, zone):
                    return utc
        return None


def _aware(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise CampaignError("calling hours need an aware datetime (e.g. datetime.now(UTC))")
    return now


_NON_DIGITS = re.compile(r"[\s().\-/]")


def normalise_number(raw: str) -> str:
    """Strips spaces and punctuation; keeps a leading ``+``; ``00`` → ``+``.

    Raises CampaignError for anything that is not a dialable number or SIP URI.
    """
    text = raw.strip()
    if text.startswith(("sip:", "sips:", "tel:")):
        return text
    digits = _NON_DIGITS.sub("", text)
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    body = digits[1:] if digits.startswith("+") else digits
    if not body.isdigit() or not 3 <= len(body) <= 20:
        raise CampaignError(f"number {raw!r} is not a phone number (digits, optional leading +)")
    return digits


def zone_for(number: str, explicit: str | None, prefixes: Mapping[str, str], default: str) -> ZoneInfo:
    """The callee's zone: explicit column, else longest number prefix, else the default."""
    name = explicit or ""
    if not name:
        best = ""
        for prefix, zone in prefixes.items():
            if number.startswith(prefix) and len(prefix) > len(best):
                best, name = prefix, zone
        name = name or default
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise CampaignError(f"number {number}: unknown time zone {name!r} (use an IANA name "
                            "such as 'Europe/London')") from exc


@dataclass(frozen=True)
class CampaignConfig:
    """A campaign's rules; ``from_mapping`` reads the ``[campaign]`` TOML table."""

    mode: PacingMode = PacingMode.PREDICTIVE
    abandon_target: float = 0.03
    abandon_grace: float = 2.0  # s an answered human may wait for an agent (Ofcom, FTC TSR)
    ring_timeout: float = 30.0
    timezone: str = "UTC"
    timezone_prefixes: Mapping[str, str] = field(default_factory=dict)
    calling_hours: CallingHours = field(default_factory=CallingHours.always)
    retries: Mapping[Outcome, RetryRule] = field(default_factory=lambda: dict(DEFAULT_RETRIES))
    max_in_flight: int = 200
    wrap_up: float = 0.0  # s an agent stays unavailable after a call

    def __post_init__(self) -> None:
        if not 0.0 <= self.abandon_target < 1.0:
            raise CampaignError(f"abandon_target {self.abandon_target}: expected a fraction in [0, 1)")
        if self.max_in_flight < 1:
            raise CampaignError(f"max_in_flight {self.max_in_flight}: must be at least 1")
        if self.ring_timeout <= 0 or self.abandon_grace < 0 or self.wrap_up < 0:
            raise CampaignError("ring_timeout must be > 0; abandon_grace and wrap_up >= 0")
        zone_for("", None, {}, self.timezone)

    @classmethod
    def from_mapping(cls, spec: Mapping[str, Any]) -> CampaignConfig:
        known = {"mode", "abandon_target", "abandon_grace", "ring_timeout", "timezone",
                 "timezone_prefixes", "calling_hours", "retry", "max_in_flight", "wrap_up"}
        unknown = set(spec) - known
        if unknown:
            raise CampaignError(f"campaign config: unknown key(s) {sorted(unknown)}; "
                                f"known: {sorted(known)}")
        kwargs: dict[str, Any] = {}
        if "mode" in spec:
            try:
                kwargs["mode"] = PacingMode(spec["mode"])
            except ValueError:
                raise CampaignError(f"campaign mode {spec['mode']!r}: expected preview, "
                                    "progressive or predictive") from None
        for key in ("abandon_target", "max_in_flight"):
            if key in spec:
                kwargs[key] = spec[key]
        for key in ("abandon_grace", "ring_timeout", "wrap_up"):
            if key in spec:
                kwargs[key] = parse_duration(spec[key])
        if "timezone" in spec:
            kwargs["timezone"] = str(spec["timezone"])
        if "timezone_prefixes" in spec:
            kwargs["timezone_prefixes"] = {str(k): str(v) for k, v in spec["timezone_prefixes"].items()}
        if "calling_hours" in spec:
            kwargs["calling_hours"] = CallingHours.from_mapping(spec["calling_hours"])
        if "retry" in spec:
            rules: dict[Outcome, RetryRule] = {}
            for name, rule in spec["retry"].items():
                try:
                    outcome = Outcome(name)
                except ValueError:
                    raise CampaignError(f"retry: unknown outcome {name!r}; expected one of "
                                        f"{[o.value for o in Outcome]}") from None
                rules[outcome] = RetryRule(parse_duration(rule.get("delay", 0)),
                                           int(rule.get("max", 1)))
            kwargs["retries"] = rules
        return cls(**kwargs)

    @classmethod
    def from_toml(cls, path: str | Path) -> CampaignConfig:
        with open(path, "rb") as f:
            data = tomllib.load(f)
        return cls.from_mapping(data.get("campaign", data))

    def zone(self, number: str, explicit: str | None = None) -> ZoneInfo:
        return zone_for(number, explicit, self.timezone_prefixes, self.timezone)


@dataclass(frozen=True)
class Contact:
    """One number of a list: ``extra`` holds every column that is not number/name/tz."""

    number: str
    name: str = ""
    tz: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)


_NUMBER_COLUMNS = ("number", "phone", "msisdn", "tel")


def _contacts_from_rows(rows: Iterable[Mapping[str, Any]], source: str) -> Iterator[Contact]:
    for i, row in enumerate(rows, start=2):
        keys = {k.lower().strip(): k for k in row if k is not None}
        col = next((keys[c] for c in _NUMBER_COLUMNS if c in keys), None)
        if col is None:
            raise CampaignError(f"{source}: no number column (expected one of {list(_NUMBER_COLUMNS)})")
        raw = row[col]
        if raw is None or str(raw).strip() == "":
            raise CampaignError(f"{source} row {i}: empty number")
        try:
            number = normalise_number(str(raw))
        except CampaignError as exc:
            raise CampaignError(f"{source} row {i}: {exc}") from None
        name = str(row[keys["name"]] or "") if "name" in keys else ""
        tz = str(row[keys["tz"]]) if "tz" in keys and row[keys["tz"]] else None
        extra = {k: "" if v is None else str(v) for k, v in row.items()
                 if k is not None and k.lower().strip() not in (*_NUMBER_COLUMNS, "name", "tz")}
        yield Contact(number, name, tz, extra)


def read_contacts(path: str | Path, *, table: str = "contacts") -> list[Contact]:
    """Contacts from a CSV file (header row; a ``number``/``phone`` column, optional
    ``name``, ``tz``, anything else kept as extra) or a SQLite file's ``table``."""
    p = Path(path)
    if not p.exists():
        raise CampaignError(f"{p}: no such contact list")
    with open(p, "rb") as f:
        is_sqlite = f.read(16) == b"SQLite format 3\x00"
    if is_sqlite:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", table):
            raise CampaignError(f"table name {table!r} is not a plain SQL identifier")
        con = sqlite3.connect(f"file:{p}?mode=ro", uri=True)
        try:
            con.row_factory = sqlite3.Row
            try:
                rows = [dict(r) for r in con.execute(f"SELECT * FROM {table}")]
            except sqlite3.OperationalError as exc:
                raise CampaignError(f"{p}: cannot read table {table!r}: {exc}") from None
        finally:
            con.close()
        return list(_contacts_from_rows(rows, str(p)))
    with open(p, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames:
            raise CampaignError(f"{p}: empty CSV (expected a header row with a number column)")
        return list(_contacts_from_rows(reader, str(p)))


def extra_json(contact: Contact) -> str:
    return json.dumps(dict(contact.extra), sort_keys=True)
