"""Customer directory: who is calling?  A number (E.164, see numbers.py) in, a
:class:`CustomerCard` out, from a CSV file, an SQLite database or a CRM's HTTP lookup URL.

    directory = Directory([CsvDirectory("customers.csv", default_country="DE"),
                           HttpDirectory("https://crm.example/lookup?number={caller}")],
                          timeout=1.5, cache_ttl=300)
    task = directory.start_lookup("+4930123456")   # returns at once; the phone keeps ringing
    result = await task                              # LookupResult, never raises
    result.status, result.card                       # "found", CustomerCard(name=...)

Sources are asked in order; the first card wins.  A source that fails (file gone, HTTP 500,
bad JSON, timeout) is logged and skipped, never raised to the caller.  Answers are cached
(`cache_ttl` for cards, `negative_ttl` for "not found"; failures are not cached), and
concurrent lookups of one number share one fetch, so a lookup that missed its deadline
still fills the cache — asking again returns the late answer as soon as it arrives.

Matching is on E.164: the CSV is normalised when loaded (rows whose number cannot be read
are listed in ``CsvDirectory.skipped``, not fatal); SQLite compares normalised column values
(``match="normalize"``, a table scan) or the usual spellings of the number against an
indexable column (``match="exact"``, see numbers.lookup_keys).
"""
from __future__ import annotations

import asyncio
import collections
import csv
import json
import logging
import os
import re
import sqlite3
import string
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol
from urllib.parse import quote, urlsplit

from offhook.cti._http import HttpClient, HttpFailure, check_url
from offhook.cti.numbers import PhoneNumber, lookup_keys, parse_number
from offhook.errors import CtiConfigError, DirectoryError, NumberFormatError

__all__ = [
    "CARD_FIELDS",
    "CsvDirectory",
    "CustomerCard",
    "Directory",
    "DirectorySource",
    "HttpDirectory",
    "LookupResult",
    "LookupStatus",
    "SqliteDirectory",
]

log = logging.getLogger("offhook.cti.directory")

#: The card fields a source's column/field mapping may name (besides "number").
CARD_FIELDS = ("name", "company", "account_id", "notes", "url")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_URL_FIELDS = frozenset({"caller", "digits", "national"})


@dataclass(frozen=True)
class CustomerCard:
    """What the agent sees before answering.  `number` is the E.164 number it was found
    under, `extra` the source's other columns/fields (strings), `source` which directory
    answered ("csv:customers.csv", "sqlite:crm.db", "http:crm.example")."""

    name: str
    number: str
    company: str | None = None
    account_id: str | None = None
    notes: str | None = None
    url: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)
    source: str = ""

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict (the shape webhooks and the web handset receive)."""
        return {"name": self.name, "number": self.number, "company": self.company,
                "account_id": self.account_id, "notes": self.notes, "url": self.url,
                "extra": dict(self.extra), "source": self.source}


class DirectorySource(Protocol):
    """One place to look customers up.  `lookup` returns None when the number is not
    there and raises DirectoryError when the source cannot answer."""

    @property
    def name(self) -> str: ...

    async def lookup(self, number: PhoneNumber) -> CustomerCard | None: ...


def _text(value: object) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    text = text.strip()
    return text or None


def _card(values: Mapping[str, object], mapping: Mapping[str, str], number_columns: Iterable[str],
          number: str, source: str) -> CustomerCard:
    """A card from one row/object: mapped fields, everything else (scalars) as extra."""
    fields = {f: _text(values.get(col)) for f, col in mapping.items()}
    used = set(mapping.values()) | set(number_columns)
    extra = {}
    for key, value in values.items():
        if key in used or isinstance(value, dict | list):
            continue
        text = _text(value)
        if text is not None:
            extra[str(key)] = text
    name = fields.get("name") or fields.get("company") or ""
    return CustomerCard(name=name, number=number, company=fields.get("company"),
                        account_id=fields.get("account_id"), notes=fields.get("notes"),
                        url=fields.get("url"), extra=extra, source=source)


def _mapping(columns: Mapping[str, str | Sequence[str]] | None, available: Sequence[str] | None,
             where: str) -> tuple[dict[str, str], tuple[str, ...]]:
    """Card field -> column, and the number column(s).  Explicit names must exist in
    `available` (when known); defaults (field name = column name) are used when present."""
    columns = dict(columns or {})
    unknown = set(columns) - set(CARD_FIELDS) - {"number"}
    if unknown:
        raise CtiConfigError(f"{where}.columns", f"unknown card field(s) {sorted(unknown)}; "
                             f"known: number, {', '.join(CARD_FIELDS)}")
    raw_numbers = columns.pop("number", "number")
    numbers = (raw_numbers,) if isinstance(raw_numbers, str) else tuple(raw_numbers)
    if not numbers or not all(isinstance(n, str) and n for n in numbers):
        raise CtiConfigError(f"{where}.columns.number", "must name a column (or a list of columns)")
    mapping: dict[str, str] = {}
    for f in CARD_FIELDS:
        col = columns.get(f)
        if col is not None and not isinstance(col, str):
            raise CtiConfigError(f"{where}.columns.{f}", f"must be a column name, got {col!r}")
        if available is not None:
            if col is not None and col not in available:
                raise DirectoryError(f"{where}: column {col!r} (for {f}) is not there; "
                                     f"columns: {', '.join(available)}")
            if col is None and f in available:
                col = f
        if col is not None:
            mapping[f] = col
    if available is not None:
        missing = [n for n in numbers if n not in available]
        if missing:
            raise DirectoryError(f"{where}: number column {missing[0]!r} is not there; "
                                 f"columns: {', '.join(available)}")
    return mapping, numbers


class CsvDirectory:
    """Customers from a CSV file with a header row (UTF-8, a BOM is fine).  `columns` maps
    card fields to column names (``{"number": "Phone", "name": "Customer"}``; "number" may
    be a list: ``["Phone", "Mobile"]``); unmapped columns become the card's extra.  The file
    is read at creation (DirectoryError when missing or lacking a column) and read again
    when it changes.  Numbers are read in `default_country`; the first row of a number wins."""

    def __init__(self, path: str | os.PathLike[str], *,
                 columns: Mapping[str, str | Sequence[str]] | None = None, default_country: str = "US",
                 delimiter: str = ",", encoding: str = "utf-8-sig") -> None:
        self.path = Path(path)
        self._columns = dict(columns or {})
        self._country = default_country
        self._delimiter = delimiter
        self._encoding = encoding
        self._stamp: tuple[int, int] | None = None
        self._rows: dict[str, CustomerCard] = {}
        self.skipped: tuple[tuple[int, str], ...] = ()
        _mapping(self._columns, None, self.name)
        self._load()

    @property
    def name(self) -> str:
        return f"csv:{self.path.name}"

    def _load(self) -> None:
        try:
            stat = self.path.stat()
            with self.path.open(newline="", encoding=self._encoding) as f:
                reader = csv.DictReader(f, delimiter=self._delimiter)
                header = list(reader.fieldnames or [])
                if not header:
                    raise DirectoryError(f"{self.name}: the file is empty (a header row is needed)")
                mapping, number_cols = _mapping(self._columns, header, self.name)
                rows: dict[str, CustomerCard] = {}
                skipped: list[tuple[int, str]] = []
                for row in reader:
                    line = reader.line_num
                    values = {k: v for k, v in row.items() if isinstance(k, str)}
                    for col in number_cols:
                        raw = (values.get(col) or "").strip()
                        if not raw:
                            continue
                        try:
                            e164 = parse_number(raw, self._country).e164
                        except NumberFormatError as exc:
                            skipped.append((line, f"{col}: {exc.reason}"))
                            continue
                        rows.setdefault(e164, _card(values, mapping, number_cols, e164, self.name))
        except OSError as exc:
            raise DirectoryError(f"{self.name}: cannot read {self.path}: {exc.strerror or exc}") from None
        except (UnicodeDecodeError, csv.Error) as exc:
            raise DirectoryError(f"{self.name}: {self.path} is not a readable CSV file: {exc}") from None
        self._rows, self.skipped = rows, tuple(skipped)
        self._stamp = (stat.st_mtime_ns, stat.st_size)
        if skipped:
            log.warning("%s: %d row(s) skipped, first at line %d: %s", self.name, len(skipped), *skipped[0])

    def lookup_sync(self, number: PhoneNumber) -> CustomerCard | None:
        """The card for `number` (re-reading the file first if it changed)."""
        try:
            stat = self.path.stat()
        except OSError as exc:
            raise DirectoryError(f"{self.name}: cannot read {self.path}: {exc.strerror or exc}") from None
        if (stat.st_mtime_ns, stat.st_size) != self._stamp:
            self._load()
        return self._rows.get(number.e164)

    async def lookup(self, number: PhoneNumber) -> CustomerCard | None:
        return await asyncio.to_thread(self.lookup_sync, number)

    def __len__(self) -> int:
        return len(self._rows)


def _quote_ident(name: str, where: str) -> str:
    if not isinstance(name, str) or not _IDENTIFIER.match(name):
        raise CtiConfigError(where, f"{name!r} is not a plain SQL name (letters, digits, _)")
    return f'"{name}"'


def _strip_separators(column: str) -> str:
    expr = column
    for sep in (" ", "-", ".", "(", ")", "/", "\u00a0"):
        expr = f"replace({expr}, '{sep}', '')"
    return expr


class SqliteDirectory:
    """Customers from a table of an SQLite database, opened read-only for each lookup (so
    another program may keep writing it).  `columns` as for CsvDirectory.  `match`:
    "normalize" reads every number column as a phone number (any spelling matches, a scan
    of the table), "exact" compares the column with the usual spellings of the number
    (E.164, digits, 00..., national; an index on the column is used).  Normalize matching
    first narrows the rows with SQL (the number's last six digits, separators other than
    - . ( ) / and spaces not expected between them), so a scan costs a couple of
    milliseconds per thousand rows (0.23 s for 100 000 rows on the test machine);
    for bigger tables store E.164 in an indexed column and use "exact"."""

    def __init__(self, path: str | os.PathLike[str], *, table: str = "customers",
                 columns: Mapping[str, str | Sequence[str]] | None = None,
                 match: Literal["normalize", "exact"] = "normalize", default_country: str = "US") -> None:
        self.path = Path(path)
        if match not in ("normalize", "exact"):
            raise CtiConfigError("match", f"must be 'normalize' or 'exact', got {match!r}")
        self._table = _quote_ident(table, "table")
        self._match = match
        self._country = default_country
        try:
            with self._connect() as db:
                info = db.execute(f"PRAGMA table_info({self._table})").fetchall()
        except sqlite3.Error as exc:
            raise DirectoryError(f"{self.name}: cannot open {self.path}: {exc}") from None
        if not info:
            raise DirectoryError(f"{self.name}: no table {table!r} in {self.path}")
        available = [str(row[1]) for row in info]
        self._mapping, self._numbers = _mapping(columns, available, self.name)
        for col in (*self._mapping.values(), *self._numbers):
            _quote_ident(col, "columns")

    @property
    def name(self) -> str:
        return f"sqlite:{self.path.name}"

    def _connect(self) -> sqlite3.Connection:
        if not self.path.is_file():
            raise sqlite3.OperationalError(f"no such file {self.path}")
        db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=1.0)
        db.row_factory = sqlite3.Row
        return db

    def lookup_sync(self, number: PhoneNumber) -> CustomerCard | None:
        country = self._country

        def e164(value: object) -> str | None:
            if value is None:
                return None
            try:
                return parse_number(str(value), country).e164
            except NumberFormatError:
                return None

        cols = [f'"{c}"' for c in self._numbers]
        if self._match == "normalize":
            # Reading every row as a number costs ~15 µs; a C-speed prefilter (the last
            # digits, separators removed) leaves only a few rows for the real comparison.
            tail = f"%{number.national_number[-6:]}%"
            where = " OR ".join(f"({_strip_separators(c)} LIKE ? AND offhook_e164({c}) = ?)" for c in cols)
            args: list[str] = [tail, number.e164] * len(cols)
        else:
            keys = lookup_keys(number)
            marks = ", ".join("?" * len(keys))
            where = " OR ".join(f"{c} IN ({marks})" for c in cols)
            args = list(keys) * len(cols)
        try:
            db = self._connect()
            try:
                db.create_function("offhook_e164", 1, e164, deterministic=True)
                row = db.execute(f"SELECT * FROM {self._table} WHERE {where} LIMIT 1", args).fetchone()
            finally:
                db.close()
        except sqlite3.Error as exc:
            raise DirectoryError(f"{self.name}: lookup failed: {exc}") from None
        if row is None:
            return None
        values = dict(zip(row.keys(), row, strict=True))
        return _card(values, self._mapping, self._numbers, number.e164, self.name)

    async def lookup(self, number: PhoneNumber) -> CustomerCard | None:
        return await asyncio.to_thread(self.lookup_sync, number)


def _dig(obj: object, path: str) -> object:
    for part in path.split("."):
        if isinstance(obj, dict):
            obj = obj.get(part)
        elif isinstance(obj, list) and part.isdigit() and int(part) < len(obj):
            obj = obj[int(part)]
        else:
            return None
    return obj


class HttpDirectory:
    """A CRM's lookup URL.  `url` is a template: ``{caller}`` is the E.164 number
    (URL-encoded, ``%2B49...``), ``{digits}`` the same without "+", ``{national}`` the
    national spelling ("030123456").  GET it; 200 with a JSON object (or a list: its first
    element) is a card, 404, 204, ``null``, ``{}`` or ``[]`` is "not found", anything else
    (other statuses, bad JSON, larger than `max_bytes`, slower than `timeout` s) is a
    DirectoryError.  `fields` maps card fields to (dotted) JSON paths, ``{"name":
    "customer.name"}``; default: the field's own name.  `headers` are sent as they are
    (an Authorization header, say) and never logged."""

    def __init__(self, url: str, *, fields: Mapping[str, str] | None = None,
                 headers: Mapping[str, str] | None = None, timeout: float = 2.0,
                 max_bytes: int = 256 * 1024, client: HttpClient | None = None) -> None:
        problem = check_url(url.replace("{", "").replace("}", "")) if isinstance(url, str) else "not a string"
        if problem:
            raise CtiConfigError("url", problem)
        try:
            names = {f for _, f, _, _ in string.Formatter().parse(url) if f is not None}
        except ValueError as exc:
            raise CtiConfigError("url", f"bad placeholder in {url!r}: {exc}") from None
        if not names or not names <= _URL_FIELDS:
            raise CtiConfigError("url", f"the template must use {{caller}} (or {{digits}}, {{national}}), "
                                 f"found {sorted(names) or 'none'}")
        fields = dict(fields or {})
        unknown = set(fields) - set(CARD_FIELDS)
        if unknown:
            raise CtiConfigError("fields", f"unknown card field(s) {sorted(unknown)}; "
                                 f"known: {', '.join(CARD_FIELDS)}")
        if not timeout > 0:
            raise CtiConfigError("timeout", f"must be > 0 seconds, got {timeout!r}")
        self.url = url
        self._fields = {f: fields.get(f, f) for f in CARD_FIELDS}
        self._headers = {"Accept": "application/json", "User-Agent": "offhook-cti", **(headers or {})}
        self._timeout = float(timeout)
        self._max_bytes = int(max_bytes)
        self._own_client = client is None
        self._client = client or HttpClient()

    @property
    def name(self) -> str:
        return f"http:{urlsplit(self.url.replace('{', '').replace('}', '')).hostname}"

    async def lookup(self, number: PhoneNumber) -> CustomerCard | None:
        url = self.url.format(caller=quote(number.e164, safe=""), digits=number.e164[1:],
                              national=quote(number.national, safe=""))
        try:
            resp = await self._client.request("GET", url, headers=self._headers, timeout=self._timeout,
                                              max_bytes=self._max_bytes)
        except HttpFailure as exc:
            raise DirectoryError(f"{self.name}: lookup failed: {exc}") from None
        if resp.status in (404, 204):
            return None
        if resp.status != 200:
            raise DirectoryError(f"{self.name}: lookup answered {resp.status} {resp.reason}")
        try:
            data = json.loads(resp.body) if resp.body.strip() else None
        except (ValueError, RecursionError) as exc:
            raise DirectoryError(f"{self.name}: the answer is not JSON ({exc})") from None
        if isinstance(data, list):
            data = data[0] if data else None
        if data is None or data == {}:
            return None
        if not isinstance(data, dict):
            raise DirectoryError(f"{self.name}: the answer is JSON {type(data).__name__}, not an object")
        values = {f: _dig(data, path) for f, path in self._fields.items()}
        for f, v in values.items():
            if isinstance(v, dict | list):
                values[f] = json.dumps(v)
        card = _card(values, {f: f for f in CARD_FIELDS}, (), number.e164, self.name)
        top_level = {p.split(".")[0] for p in self._fields.values()}
        extra = {k: t for k, v in data.items()
                 if k not in top_level and not isinstance(v, dict | list) and (t := _text(v)) is not None}
        return CustomerCard(name=card.name, number=card.number, company=card.company,
                            account_id=card.account_id, notes=card.notes, url=card.url,
                            extra=extra, source=card.source)

    def close(self) -> None:
        if self._own_client:
            self._client.close()


LookupStatus = Literal["found", "not_found", "error", "timeout", "no_number"]


@dataclass(frozen=True)
class LookupResult:
    """The outcome of one lookup: `status` "found" (then `card` is set), "not_found",
    "error" (every source that could answer failed; `error` says how), "timeout" (no
    answer by the deadline; ask again later for the late answer) or "no_number" (the
    caller has no readable number; `error` says why).  `cached` when it came from the
    cache, `elapsed` seconds spent waiting."""

    number: str | None
    status: LookupStatus
    card: CustomerCard | None = None
    error: str | None = None
    cached: bool = False
    elapsed: float = 0.0


class Directory:
    """Sources asked in order with a cache and a deadline.  Use from one event loop."""

    def __init__(self, sources: Sequence[DirectorySource], *, timeout: float = 2.0,
                 cache_ttl: float = 300.0, negative_ttl: float = 30.0, cache_size: int = 4096,
                 default_country: str = "US", clock: Callable[[], float] = time.monotonic) -> None:
        for name, value in (("timeout", timeout), ("cache_ttl", cache_ttl), ("negative_ttl", negative_ttl)):
            if not value >= 0:
                raise CtiConfigError(name, f"must be >= 0 seconds, got {value!r}")
        self.sources = tuple(sources)
        self.timeout = float(timeout)
        self._ttl = float(cache_ttl)
        self._negative_ttl = float(negative_ttl)
        self._size = max(1, int(cache_size))
        self._country = default_country
        self._clock = clock
        self._cache: collections.OrderedDict[str, tuple[float, CustomerCard | None]]
        self._cache = collections.OrderedDict()
        self._inflight: dict[str, asyncio.Task[LookupResult]] = {}

    def start_lookup(self, number: PhoneNumber | str,
                     timeout: float | None = None) -> asyncio.Task[LookupResult]:
        """Start looking `number` up and return at once: a task resolving to a LookupResult
        (never an exception) within `timeout` seconds (default: the directory's).  Needs a
        running event loop."""
        return asyncio.get_running_loop().create_task(self.lookup(number, timeout))

    async def lookup(self, number: PhoneNumber | str, timeout: float | None = None) -> LookupResult:
        """Look `number` up (a PhoneNumber, or text read in the default country); never
        raises.  A fetch that misses the deadline goes on and fills the cache."""
        start = self._clock()
        if isinstance(number, str):
            try:
                number = parse_number(number, self._country)
            except NumberFormatError as exc:
                return LookupResult(None, "no_number", error=exc.reason)
        key = number.e164
        hit = self._cache.get(key)
        if hit is not None:
            expires, card = hit
            if self._clock() < expires:
                self._cache.move_to_end(key)
                return LookupResult(key, "found" if card else "not_found", card, cached=True)
            del self._cache[key]
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._fetch(number))
            self._inflight[key] = task
            task.add_done_callback(self._forget)
        limit = self.timeout if timeout is None else timeout
        try:
            result = await asyncio.wait_for(asyncio.shield(task), limit)
        except TimeoutError:
            return LookupResult(key, "timeout", error=f"no answer within {limit:g} s",
                                elapsed=self._clock() - start)
        return LookupResult(result.number, result.status, result.card, result.error,
                            elapsed=self._clock() - start)

    def _forget(self, task: asyncio.Task[LookupResult]) -> None:
        for key, value in list(self._inflight.items()):
            if value is task:
                del self._inflight[key]

    async def _fetch(self, number: PhoneNumber) -> LookupResult:
        errors: list[str] = []
        answered = False
        for source in self.sources:
            try:
                card = await source.lookup(number)
            except DirectoryError as exc:
                log.warning("customer lookup: %s", exc)
                errors.append(str(exc))
                continue
            except Exception as exc:  # a source's bug must not take the screen pop down
                log.exception("customer lookup: %s failed", source.name)
                errors.append(f"{source.name}: {type(exc).__name__}: {exc}")
                continue
            answered = True
            if card is not None:
                self._store(number.e164, card, self._ttl)
                return LookupResult(number.e164, "found", card)
        if answered or not self.sources:
            self._store(number.e164, None, self._negative_ttl)
            return LookupResult(number.e164, "not_found", error="; ".join(errors) or None)
        return LookupResult(number.e164, "error", error="; ".join(errors))

    def _store(self, key: str, card: CustomerCard | None, ttl: float) -> None:
        if ttl <= 0:
            return
        self._cache[key] = (self._clock() + ttl, card)
        self._cache.move_to_end(key)
        while len(self._cache) > self._size:
            self._cache.popitem(last=False)

    def invalidate(self, number: str | None = None) -> None:
        """Forget the cached answer for `number` (E.164), or all of them."""
        if number is None:
            self._cache.clear()
        else:
            self._cache.pop(number, None)

    async def aclose(self) -> None:
        """Cancel fetches in flight and close the sources' HTTP clients."""
        for task in list(self._inflight.values()):
            task.cancel()
        for source in self.sources:
            close = getattr(source, "close", None)
            if callable(close):
                close()
