"""Screen pop: the glue between the phone's call events and the customer directory, the
front-ends (console, web handset) and the call hooks.

    cti = CtiService.from_config(load_config("~/.config/offhook/config.toml"))
    unsubscribe = cti.subscribe(show_card)    # front-ends: called with each ScreenPop
    cti.call_event(call)                      # the phone, on every call state change
    await cti.aclose()                        # at exit

``call_event`` is synchronous and returns at once (it never awaits a lookup or a hook, and
never raises), so the phone keeps ringing.  On a call's first event it reads the remote
number (numbers.py), starts the directory lookup and emits a first ScreenPop
(``lookup="pending"``, ``final=False``) straight away, then a second one when the lookup
finishes or its deadline (``lookup_timeout``) passes; an answer that comes after the
deadline but within ``late_timeout`` emits a third, updated pop if the call is still on.
Each of ringing, answered and hung up fires the hooks once per call, with the card when
the lookup found one (hooks wait for the lookup, never longer than its deadline).

A call is anything with the attributes of :class:`CallEventLike` (the phone's Call, or a
:class:`CallSnapshot` built from it); ``local_uri`` and ``result`` are read when present.
"""
from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import datetime as _dt
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Literal, Protocol

from offhook.cti.config import CsvSourceConfig, CtiConfig, HttpSourceConfig, SourceConfig, SqliteSourceConfig
from offhook.cti.directory import (
    CsvDirectory,
    CustomerCard,
    Directory,
    DirectorySource,
    HttpDirectory,
    LookupResult,
    LookupStatus,
    SqliteDirectory,
)
from offhook.cti.hooks import CallData, HookEvent, HookRunner
from offhook.cti.numbers import PhoneNumber, parse_number
from offhook.errors import DirectoryError, NumberFormatError

__all__ = ["CallEventLike", "CallSnapshot", "CtiService", "ScreenPop", "build_sources", "event_for_state"]

log = logging.getLogger("offhook.cti")

Direction = Literal["inbound", "outbound"]
Timestamp = float | _dt.datetime | None

_STATE_NAMES: tuple[tuple[HookEvent, tuple[str, ...]], ...] = (
    ("ringing", ("ringing", "incoming", "early", "calling", "alerting", "progress", "proceeding", "trying")),
    ("answered", ("answered", "established", "connected", "confirmed", "active", "up")),
    ("hungup", ("hungup", "hung_up", "ended", "terminated", "disconnected", "closed", "failed", "rejected",
                "cancelled", "canceled", "busy")),
)
_STATES: dict[str, HookEvent] = {name: event for event, names in _STATE_NAMES for name in names}
_DIRECTIONS: dict[str, Direction] = {"inbound": "inbound", "incoming": "inbound", "in": "inbound",
                                     "outbound": "outbound", "outgoing": "outbound", "out": "outbound"}


def event_for_state(state: object) -> HookEvent | None:
    """The hook event a call state stands for ("ringing", "answered", "hungup"), or None
    for states that are none of them (held, transferring...).  Accepts the usual
    spellings (incoming/early/calling, established/connected, ended/terminated...) and
    enum members (by name or value)."""
    name = _state_name(state)
    return _STATES.get(name) if name is not None else None


def _state_name(state: object) -> str | None:
    for candidate in (getattr(state, "value", None), getattr(state, "name", None), state):
        if isinstance(candidate, str) and candidate.strip().lower() in _STATES:
            return candidate.strip().lower()
    return None


class CallEventLike(Protocol):
    """What CTI reads from a call.  Timestamps are Unix seconds (time.time()) or aware
    datetimes.  Optional attributes read when present: ``local_uri`` (our AOR, for the
    callee/caller number of our side) and ``result`` (how the call ended)."""

    @property
    def call_id(self) -> str: ...
    @property
    def direction(self) -> str: ...
    @property
    def remote_uri(self) -> str: ...
    @property
    def display_name(self) -> str | None: ...
    @property
    def account(self) -> str | None: ...
    @property
    def state(self) -> object: ...
    @property
    def started_at(self) -> Timestamp: ...
    @property
    def answered_at(self) -> Timestamp: ...
    @property
    def ended_at(self) -> Timestamp: ...


def _epoch(value: object) -> float | None:
    if isinstance(value, _dt.datetime):
        return value.timestamp()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _opt_str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


@dataclass(frozen=True)
class CallSnapshot:
    """A frozen CallEventLike: the phone may build one per event, and CTI keeps one of
    each event it was given (the call object itself may change before hooks run)."""

    call_id: str
    direction: str
    remote_uri: str
    state: str
    display_name: str | None = None
    account: str | None = None
    started_at: float | None = None
    answered_at: float | None = None
    ended_at: float | None = None
    local_uri: str | None = None
    result: str | None = None

    @classmethod
    def of(cls, call: CallEventLike) -> CallSnapshot:
        state = call.state
        return cls(call_id=str(call.call_id), direction=str(call.direction),
                   remote_uri=str(call.remote_uri or ""), state=_state_name(state) or str(state),
                   display_name=_opt_str(call.display_name),
                   account=_opt_str(call.account), started_at=_epoch(call.started_at),
                   answered_at=_epoch(call.answered_at), ended_at=_epoch(call.ended_at),
                   local_uri=_opt_str(getattr(call, "local_uri", None)),
                   result=_opt_str(getattr(call, "result", None)))


PopLookup = LookupStatus | Literal["pending", "off"]


@dataclass(frozen=True)
class ScreenPop:
    """One update of a call's screen pop for front-ends.  `number` is the remote party
    in E.164 (None when unreadable: `number_error` says why; show `remote_uri` and
    `display_name` instead).  `lookup` is "pending" (first pop, card to follow), "found"
    (`card` set), "not_found", "error", "timeout" (`lookup_error` says why; a late card
    may still follow), "no_number" or "off" (no directory).  `final` is False only on the
    pending pop.  `event` is the call event that was current ("ringing", "answered")."""

    call_id: str
    event: HookEvent
    direction: Direction
    remote_uri: str
    number: str | None
    display_name: str | None
    account: str | None
    lookup: PopLookup
    card: CustomerCard | None = None
    number_error: str | None = None
    lookup_error: str | None = None
    final: bool = True

    def describe(self) -> str:
        """One line for a console: "incoming call from +442079460018 (Ada) — Ada Lovelace,
        AE Ltd, account A1"."""
        who = self.number or self.remote_uri or "an unknown caller"
        if self.display_name:
            who += f" ({self.display_name})"
        head = f"{'incoming call from' if self.direction == 'inbound' else 'calling'} {who}"
        if self.card is not None:
            parts = [self.card.name or self.card.number]
            parts += [p for p in (self.card.company,) if p]
            if self.card.account_id:
                parts.append(f"account {self.card.account_id}")
            if self.card.url:
                parts.append(self.card.url)
            return f"{head} — {', '.join(parts)}"
        tail = {"pending": "looking up…", "not_found": "not in the directory",
                "timeout": "directory slow, card may follow", "error": "directory unavailable",
                "no_number": "no number to look up", "off": "", "found": ""}[self.lookup]
        return f"{head} — {tail}" if tail else head

    def to_dict(self) -> dict[str, object]:
        """JSON-ready dict (for the web handset's WebSocket)."""
        return {"type": "screen_pop", "call_id": self.call_id, "event": self.event,
                "direction": self.direction, "remote_uri": self.remote_uri, "number": self.number,
                "display_name": self.display_name, "account": self.account, "lookup": self.lookup,
                "card": self.card.to_dict() if self.card else None, "number_error": self.number_error,
                "lookup_error": self.lookup_error, "final": self.final}


@dataclass
class _Call:
    direction: Direction
    number: PhoneNumber | None
    number_error: str | None
    lookup: asyncio.Task[LookupResult] | None
    result: LookupResult | None = None
    last_event: HookEvent = "ringing"
    events: set[str] = dataclasses.field(default_factory=set)
    hooks_tail: asyncio.Task[None] | None = None
    ended: bool = False


def build_sources(config: CtiConfig) -> list[DirectorySource]:
    """The directory sources a CtiConfig names (DirectoryError when a file or column is
    missing)."""
    sources: list[DirectorySource] = []
    for source in config.directory:
        sources.append(_build_source(source, config.default_country))
    return sources


def _build_source(source: SourceConfig, country: str) -> DirectorySource:
    if isinstance(source, CsvSourceConfig):
        return CsvDirectory(source.path, columns=source.columns, default_country=country,
                            delimiter=source.delimiter, encoding=source.encoding)
    if isinstance(source, SqliteSourceConfig):
        return SqliteDirectory(source.path, table=source.table, columns=source.columns, match=source.match,
                               default_country=country)
    if isinstance(source, HttpSourceConfig):
        return HttpDirectory(source.url, fields=source.fields, headers=source.headers, timeout=source.timeout,
                             max_bytes=source.max_bytes)
    raise DirectoryError(f"unknown directory source {source!r}")


class CtiService:
    """Screen pops and hooks for one phone.  Use from the phone's event loop."""

    def __init__(self, config: CtiConfig | None = None, *, directory: Directory | None = None,
                 hooks: HookRunner | None = None, max_calls: int = 1000) -> None:
        self.config = config or CtiConfig()
        self.directory = directory
        self.hooks = hooks
        self._subscribers: list[Callable[[ScreenPop], None]] = []
        self._calls: collections.OrderedDict[str, _Call] = collections.OrderedDict()
        self._max_calls = max_calls
        self._tasks: set[asyncio.Task[None]] = set()
        self._latest: dict[str, ScreenPop] = {}

    @classmethod
    def from_config(cls, config: CtiConfig) -> CtiService:
        """A service with the directory and hooks of `config` (DirectoryError when a
        directory file is unusable)."""
        if not config.enabled:
            return cls(config)
        sources = build_sources(config)
        directory = Directory(sources, timeout=config.lookup_timeout, cache_ttl=config.cache_ttl,
                              negative_ttl=config.negative_ttl, default_country=config.default_country)
        return cls(config, directory=directory if sources else None,
                   hooks=HookRunner(config.hooks) if config.hooks else None)

    def subscribe(self, callback: Callable[[ScreenPop], None]) -> Callable[[], None]:
        """Call `callback` with every ScreenPop (from the event loop; keep it quick, and
        its exceptions are logged, not raised).  Returns a function that unsubscribes."""
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._subscribers.remove(callback)
        return unsubscribe

    def latest(self, call_id: str) -> ScreenPop | None:
        """The last pop emitted for a call still on (for a front-end that connects late)."""
        return self._latest.get(call_id)

    def active_pops(self) -> list[ScreenPop]:
        return list(self._latest.values())

    def call_event(self, call: CallEventLike) -> ScreenPop | None:
        """Tell CTI about a call's state.  Returns the ScreenPop emitted now (the first
        event of a call, when pops are on for its direction), else None.  Never blocks
        and never raises (a problem is logged).  Needs a running event loop."""
        if not self.config.enabled:
            return None
        try:
            return self._call_event(CallSnapshot.of(call))
        except Exception:
            log.exception("CTI: call event for %r failed", getattr(call, "call_id", "?"))
            return None

    def call_event_threadsafe(self, loop: asyncio.AbstractEventLoop, call: CallEventLike) -> None:
        """call_event from another thread (a SIP or audio thread): the call is copied now and
        handed to `loop`, which must be the loop the service runs on."""
        try:
            snap = CallSnapshot.of(call)
        except Exception:
            log.exception("CTI: call event for %r failed", getattr(call, "call_id", "?"))
            return
        loop.call_soon_threadsafe(self.call_event, snap)

    def _call_event(self, snap: CallSnapshot) -> ScreenPop | None:
        event = event_for_state(snap.state)
        if event is None:
            return None
        direction = _DIRECTIONS.get(snap.direction.strip().lower())
        if direction is None:
            log.warning("CTI: call %s has direction %r (expected inbound or outbound); ignored",
                        snap.call_id, snap.direction)
            return None
        record = self._calls.get(snap.call_id)
        first: ScreenPop | None = None
        if record is None:
            record, first = self._new_call(snap, direction, event)
        if event in record.events or record.ended:
            return first
        if event == "hungup" and "ringing" not in record.events and "answered" not in record.events:
            # A call that ended before we heard it ring: its ringing hooks still go first.
            record.events.add("ringing")
            self._chain_hooks(snap.call_id, record, dataclasses.replace(snap, state="ringing"), "ringing")
        record.events.add(event)
        record.last_event = event
        self._chain_hooks(snap.call_id, record, snap, event)
        if event == "hungup":
            record.ended = True
        return first

    def _new_call(self, snap: CallSnapshot, direction: Direction,
                  event: HookEvent) -> tuple[_Call, ScreenPop | None]:
        number: PhoneNumber | None = None
        error: str | None = None
        try:
            number = parse_number(snap.remote_uri, self.config.default_country)
        except NumberFormatError as exc:
            error = exc.reason
        lookup = None
        if number is not None and self.directory is not None:
            lookup = self.directory.start_lookup(number, self.config.lookup_timeout)
        record = _Call(direction, number, error, lookup)
        self._calls[snap.call_id] = record
        while len(self._calls) > self._max_calls:
            old_id, _ = self._calls.popitem(last=False)
            self._latest.pop(old_id, None)
        popping = direction == "inbound" or self.config.pop_outbound
        first: ScreenPop | None = None
        if lookup is not None:
            if popping:
                first = self._emit(self._pop(snap.call_id, snap, record, event, "pending", final=False))
            self._spawn(self._follow(snap.call_id, snap, record, lookup, popping))
        elif popping:
            status: PopLookup = "no_number" if number is None else "off"
            first = self._emit(self._pop(snap.call_id, snap, record, event, status, error=error))
        return record, first

    def _pop(self, call_id: str, snap: CallSnapshot, record: _Call, event: HookEvent, status: PopLookup,
             card: CustomerCard | None = None, error: str | None = None, final: bool = True) -> ScreenPop:
        return ScreenPop(call_id=call_id, event=event, direction=record.direction, remote_uri=snap.remote_uri,
                         number=record.number.e164 if record.number else None,
                         display_name=snap.display_name, account=snap.account, lookup=status, card=card,
                         number_error=record.number_error, lookup_error=error, final=final)

    def _emit(self, pop: ScreenPop) -> ScreenPop:
        self._latest[pop.call_id] = pop
        for callback in list(self._subscribers):
            try:
                callback(pop)
            except Exception:
                log.exception("CTI: screen pop subscriber failed")
        return pop

    def _spawn(self, coro: Coroutine[object, object, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _follow(self, call_id: str, snap: CallSnapshot, record: _Call,
                      lookup: asyncio.Task[LookupResult], popping: bool) -> None:
        result = await lookup
        record.result = result
        if popping and not record.ended:
            self._emit(self._pop(call_id, snap, record, record.last_event, result.status, result.card,
                                 result.error))
        if (result.status == "timeout" and self.directory is not None and record.number is not None
                and self.config.late_timeout > 0):
            late = await self.directory.lookup(record.number, self.config.late_timeout)
            if late.status in ("found", "not_found"):
                record.result = late
                if popping and not record.ended and late.status == "found":
                    self._emit(self._pop(call_id, snap, record, record.last_event, late.status, late.card))

    def _chain_hooks(self, call_id: str, record: _Call, snap: CallSnapshot, event: HookEvent) -> None:
        if self.hooks is None:
            if event == "hungup":
                self._forget(call_id, record)
            return
        previous = record.hooks_tail

        async def fire() -> None:
            if previous is not None:
                await asyncio.wait([previous])
            if record.lookup is not None:
                await asyncio.wait([record.lookup])
            result = record.result or (record.lookup.result() if record.lookup and record.lookup.done()
                                       and not record.lookup.cancelled() else None)
            if self.hooks is not None:
                self.hooks.fire(self._call_data(snap, record, event, result))
            if event == "hungup":
                self._forget(call_id, record)

        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(fire())
        record.hooks_tail = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _forget(self, call_id: str, record: _Call) -> None:
        if self._calls.get(call_id) is record:
            del self._calls[call_id]
            self._latest.pop(call_id, None)

    def _call_data(self, snap: CallSnapshot, record: _Call, event: HookEvent,
                   result: LookupResult | None) -> CallData:
        local: str | None = None
        if snap.local_uri:
            try:
                local = parse_number(snap.local_uri, self.config.default_country).e164
            except NumberFormatError:
                local = None
        remote = record.number.e164 if record.number else None
        inbound = record.direction == "inbound"
        duration: float | None = None
        outcome = snap.result
        if event == "hungup":
            if snap.answered_at is not None and snap.ended_at is not None:
                duration = max(0.0, snap.ended_at - snap.answered_at)
            else:
                duration = 0.0
            if outcome is None:
                outcome = ("answered" if snap.answered_at is not None
                           else "missed" if inbound else "unanswered")
        return CallData(
            event=event, call_id=snap.call_id, direction=record.direction,
            caller=remote if inbound else local, callee=local if inbound else remote,
            caller_uri=snap.remote_uri if inbound else (snap.local_uri or ""),
            callee_uri=(snap.local_uri or "") if inbound else snap.remote_uri,
            display_name=snap.display_name, account=snap.account, started_at=snap.started_at,
            answered_at=snap.answered_at, ended_at=snap.ended_at, duration=duration, result=outcome,
            customer=result.card if result else None,
            lookup_status=result.status if result else ("no_number" if record.number is None else "off"),
        )

    async def drain(self, timeout: float | None = None) -> bool:
        """Wait until pops and hooks scheduled so far are done (True), or `timeout` s."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while self._tasks:
            left = None if deadline is None else deadline - loop.time()
            if left is not None and left <= 0:
                return False
            await asyncio.wait(set(self._tasks), timeout=left)
        if self.hooks is not None:
            left = None if deadline is None else max(0.0, deadline - loop.time())
            return await self.hooks.drain(left)
        return True

    async def aclose(self, timeout: float = 5.0) -> None:
        """Deliver what is pending (up to `timeout` s), then stop."""
        await self.drain(timeout)
        for task in list(self._tasks):
            task.cancel()
        if self.hooks is not None:
            await self.hooks.aclose(timeout=1.0)
        if self.directory is not None:
            await self.directory.aclose()
