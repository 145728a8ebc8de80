"""SIP session timers (RFC 4028), sans I/O.

A dialog whose peer vanished without a BYE would keep its media port and its call
slot for ever; session timers make one side (the refresher) re-INVITE or UPDATE
the session every half interval and let either side end it with a BYE when no
refresh arrives. `SessionTimer` is one dialog's timer state. It never looks at a
clock of its own: every call that changes it takes `now` (seconds, any monotonic
scale), `next_deadline()` says when to call `tick(now)` next, and `tick` says
what to do: "refresh" or "bye".

The roles "uac" and "uas" in `refresher=` are those of the transaction that
negotiated the interval (RFC 4028 §7.1, §9), not of the dialog: after we answer
a re-INVITE, "uac" means the peer. The object therefore works per transaction:

- We send a request that may refresh the session (INVITE, re-INVITE, UPDATE):
  `request_headers()` -> headers to add; then `on_response(response, now)` for its
  2xx, or `on_422(response)` for a 422 (raise the interval to Min-SE and retry).
- We receive one: `on_request(request, now)` -> `TimerAnswer` (headers for our 2xx)
  or `Reject422` (answer 422 with its Min-SE header).

Rules followed (RFC 4028):
- Session-Expires and Min-SE are delta-seconds; Session-Expires may carry
  `refresher=uac|uas`; neither may be below 90 s (§4, §5), a Min-SE below 90 is
  read as 90.
- UAS (§9): a Session-Expires below our minimum is answered 422 with our Min-SE
  when the UAC said `Supported: timer`; when it did not (a proxy inserted the
  header) the interval is raised instead, since a 422 would mean nothing to it.
  A longer interval than we want is lowered to ours, never below the request's
  Min-SE. With no Session-Expires in the request we insert ours when
  `config.uas_inserts`. The refresher is the request's choice, else ours
  (`config.prefer_refresher`) if the UAC supports timers, else "uas" (us).
  `Require: timer` goes into the 2xx only when the UAC supports timers.
- UAC (§7.2): a 2xx without Session-Expires means no timer; with it, `refresher`
  (absent: "uac") says who refreshes. A 422 carries a Min-SE: the retry uses
  max(Min-SE, our interval) and sends that Min-SE too (§7.3).
- Deadlines (§10): the refresher refreshes after half the interval; either side
  sends a BYE if nothing refreshed the session by expiry minus the smaller of 32 s
  and a third of the interval (RFC 4028 §10 says "the minimum of 32 seconds and
  one third of the session interval": 1800 s -> BYE at 1768 s, 90 s -> at 60 s).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from offhook.errors import SipParseError
from offhook.sip.message import Request, Response

__all__ = [
    "MIN_SE_FLOOR",
    "Refresher",
    "Reject422",
    "SessionExpires",
    "SessionTimer",
    "SessionTimerConfig",
    "TimerAnswer",
    "TimerEvent",
    "parse_min_se",
    "parse_session_expires",
]

Refresher = Literal["uac", "uas"]
TimerEvent = Literal["refresh", "bye"]
MIN_SE_FLOOR = 90
_DELTA = re.compile(r"[0-9]{1,10}\Z")
_TOKEN = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+\Z")
_MAX_DELTA = 2**32 - 1


def _delta(text: str, header: str) -> int:
    value = text.strip(" \t")
    if not _DELTA.match(value) or int(value) > _MAX_DELTA:
        raise SipParseError(f"{header}: {value[:30]!r} is not delta-seconds", status=400)
    return int(value)


@dataclass(frozen=True)
class SessionExpires:
    """Session-Expires: <interval>[;refresher=uac|uas][;other params]."""

    interval: int
    refresher: Refresher | None = None
    params: tuple[tuple[str, str | None], ...] = ()

    def __str__(self) -> str:
        text = str(self.interval)
        if self.refresher is not None:
            text += f";refresher={self.refresher}"
        return text + "".join(f";{k}" if v is None else f";{k}={v}" for k, v in self.params)


def parse_session_expires(text: str) -> SessionExpires:
    """Parse a Session-Expires (or compact `x`) value; SipParseError(400) if malformed."""
    first, *rest = text.split(";")
    interval = _delta(first, "Session-Expires")
    refresher: Refresher | None = None
    others: list[tuple[str, str | None]] = []
    for item in rest:
        name, eq, value = item.partition("=")
        name, value = name.strip(" \t").lower(), value.strip(" \t")
        if not _TOKEN.match(name) or (eq and not _TOKEN.match(value)):
            raise SipParseError(f"Session-Expires: malformed parameter {item.strip()!r}", status=400)
        if name == "refresher":
            if value.lower() not in ("uac", "uas"):
                raise SipParseError(f"Session-Expires: refresher must be 'uac' or 'uas', not {value!r}",
                                    status=400)
            refresher = "uac" if value.lower() == "uac" else "uas"
        else:
            others.append((name, value if eq else None))
    return SessionExpires(interval, refresher, tuple(others))


def parse_min_se(text: str) -> int:
    """Parse a Min-SE value (delta-seconds, generic params ignored); below 90 reads as 90."""
    return max(MIN_SE_FLOOR, _delta(text.split(";")[0], "Min-SE"))


@dataclass(frozen=True)
class SessionTimerConfig:
    """session_expires: the interval we ask for (s); min_se: the shortest we accept (>= 90);
    max_interval: the longest Min-SE we agree to raise to after a 422;
    prefer_refresher: who refreshes when we answer and the peer left it open
    ("uas": we do); uas_inserts: put a timer on sessions the peer did not ask one for."""

    session_expires: int = 1800
    min_se: int = MIN_SE_FLOOR
    max_interval: int = 7200
    prefer_refresher: Refresher = "uas"
    uas_inserts: bool = True

    def __post_init__(self) -> None:
        for name in ("session_expires", "min_se", "max_interval"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < MIN_SE_FLOOR:
                raise ValueError(f"SessionTimerConfig.{name} must be an integer >= {MIN_SE_FLOOR} s, "
                                 f"got {value!r}")
        if not self.min_se <= self.session_expires <= self.max_interval:
            raise ValueError(f"SessionTimerConfig needs min_se <= session_expires <= max_interval, got "
                             f"{self.min_se}, {self.session_expires}, {self.max_interval}")
        if self.prefer_refresher not in ("uac", "uas"):
            raise ValueError(f"prefer_refresher must be 'uac' or 'uas', not {self.prefer_refresher!r}")


@dataclass(frozen=True)
class Reject422:
    """Answer the request 422 Session Interval Too Small with these headers."""

    min_se: int
    status: int = 422
    reason: str = "Session Interval Too Small"

    @property
    def headers(self) -> list[tuple[str, str]]:
        return [("Min-SE", str(self.min_se))]


@dataclass(frozen=True)
class TimerAnswer:
    """Accept the request; add `headers` to the 2xx (empty: no timer on this session)."""

    headers: list[tuple[str, str]] = field(default_factory=list)
    session_expires: SessionExpires | None = None


def _supports_timer(msg: Request | Response) -> bool:
    return any(v.strip().lower() == "timer" for name in ("Supported", "Require") for v in msg.get_all(name))


class SessionTimer:
    """One dialog's session timer (see the module docstring for the flow)."""

    def __init__(self, config: SessionTimerConfig | None = None) -> None:
        self.config = config or SessionTimerConfig()
        self.interval: int = self.config.session_expires  # what we ask for next
        self.min_se: int = self.config.min_se              # the Min-SE we send
        self.active = False
        self.we_refresh = False
        self.expires_at: float | None = None
        self.refresh_at: float | None = None
        self.bye_at: float | None = None

    # -- we send the request --------------------------------------------------------

    def request_headers(self) -> list[tuple[str, str]]:
        """Headers for an INVITE/re-INVITE/UPDATE we send. A refresh keeps the current
        refresher (we send it, so "uac" if we refresh); an initial request leaves the
        choice to the UAS."""
        se = str(self.interval)
        if self.active:
            se += f";refresher={'uac' if self.we_refresh else 'uas'}"
        return [("Supported", "timer"), ("Session-Expires", se), ("Min-SE", str(self.min_se))]

    def on_422(self, response: Response) -> bool:
        """A 422 to our request: True if the request should be sent again (with fresh
        request_headers()), False if the peer wants more than config.max_interval or
        repeats a Min-SE we already sent (no progress possible)."""
        if response.status != 422:
            raise ValueError(f"on_422() got a {response.status} response")
        value = response.get("Min-SE")
        if value is None:
            return False  # RFC 4028 §6 requires Min-SE in a 422; without it we cannot adapt
        wanted = parse_min_se(value)
        if wanted > self.config.max_interval or wanted <= self.interval:
            return False
        self.min_se = max(self.min_se, wanted)
        self.interval = max(self.interval, wanted)
        return True

    def on_response(self, response: Response, now: float) -> None:
        """The 2xx to a request we sent: arm the timer it agreed, or stop it."""
        if not 200 <= response.status < 300:
            raise ValueError(f"on_response() takes a 2xx, not {response.status}")
        value = response.get("Session-Expires")
        if value is None:
            self.stop()
            return
        se = parse_session_expires(value)
        if se.interval < MIN_SE_FLOOR:
            raise SipParseError(f"Session-Expires {se.interval} in a 2xx is below 90 s", status=400)
        self._arm(se.interval, (se.refresher or "uac") == "uac", now)

    # -- we receive the request -----------------------------------------------------

    def on_request(self, request: Request, now: float) -> TimerAnswer | Reject422:
        """An INVITE/re-INVITE/UPDATE from the peer: what to answer. A TimerAnswer also
        arms the timer (the 2xx goes out now); a Reject422 leaves the state alone."""
        supports = _supports_timer(request)
        value = request.get("Session-Expires")
        min_se_value = request.get("Min-SE")
        their_min = parse_min_se(min_se_value) if min_se_value is not None else MIN_SE_FLOOR
        floor = max(their_min, self.config.min_se)
        if value is None:
            if not self.config.uas_inserts:
                self.stop()
                return TimerAnswer()
            se = SessionExpires(max(self.config.session_expires, their_min), None)
        else:
            se = parse_session_expires(value)
            if se.interval < self.config.min_se:
                if supports:
                    return Reject422(floor)
                se = SessionExpires(floor, se.refresher)
            elif se.interval > self.config.session_expires:
                se = SessionExpires(max(self.config.session_expires, their_min), se.refresher)
        refresher: Refresher
        if se.refresher is not None and (supports or se.refresher == "uas"):
            refresher = se.refresher
        elif supports:
            refresher = self.config.prefer_refresher
        else:
            refresher = "uas"
        agreed = SessionExpires(se.interval, refresher)
        headers = [("Session-Expires", str(agreed))]
        if supports:
            headers.append(("Require", "timer"))
        self.interval = agreed.interval
        self._arm(agreed.interval, refresher == "uas", now)
        return TimerAnswer(headers, agreed)

    # -- deadlines ------------------------------------------------------------------

    def _arm(self, interval: int, we_refresh: bool, now: float) -> None:
        self.active = True
        self.interval = interval
        self.we_refresh = we_refresh
        self.expires_at = now + interval
        self.refresh_at = now + interval / 2 if we_refresh else None
        self.bye_at = now + interval - min(32.0, interval / 3)

    def stop(self) -> None:
        """No timer on this session (any more)."""
        self.active = False
        self.we_refresh = False
        self.expires_at = self.refresh_at = self.bye_at = None

    def next_deadline(self) -> float | None:
        """When tick() has something to say next (None: never)."""
        times = [t for t in (self.refresh_at, self.bye_at) if t is not None]
        return min(times) if times else None

    def tick(self, now: float) -> TimerEvent | None:
        """"refresh": send a re-INVITE/UPDATE with request_headers() (reported once);
        "bye": the session expired unrefreshed, end it; None: nothing due."""
        if self.bye_at is not None and now >= self.bye_at:
            self.stop()
            return "bye"
        if self.refresh_at is not None and now >= self.refresh_at:
            self.refresh_at = None
            return "refresh"
        return None
