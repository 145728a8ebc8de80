"""Instant messages (MESSAGE, RFC 3428), INFO DTMF (application/dtmf-relay), and the
incoming-call policy (Do Not Disturb, auto-answer, forwarding), sans I/O.

- MESSAGE: `message_body(text)` -> (headers, body) for a text/plain;charset=UTF-8
  request, refusing bodies over `max_bytes` (RFC 3428 §8: a MESSAGE that may cross
  UDP must stay under 1300 bytes in all; the default body limit leaves ~500 bytes
  for headers). `receive_message(request)` -> `InstantMessage` or `MessageReject`
  (415 with an Accept header for other content types, 413 over the limit, 400 for
  text that does not decode).
- INFO DTMF: the de-facto `application/dtmf-relay` body (`Signal=5\\r\\nDuration=160`,
  duration in ms) and the plainer `application/dtmf` (just the digit). Signals are
  0-9 * # A-D; numeric 10 and 11 mean * and # (some gateways send those).
- `CallPolicy.decide(invite, active_calls=...)`: what to do with a new INVITE, in this
  order: unconditional forward (302 with Contact), Do Not Disturb (486, 480 or 603
  as configured), busy (already `max_calls` or call waiting off: 486), auto-answer
  (policy-wide, or an intercom request with `Call-Info: ...;answer-after=N` or
  `Answer-Mode: Auto` (RFC 5373) when `allow_intercom`), else ring — with
  forward-on-no-answer after `no_answer_forward_after` seconds if a target is set.
"""
from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from typing import Literal

from offhook.errors import SipParseError
from offhook.sip.grammar import Address
from offhook.sip.message import Request
from offhook.sip.uri import SipURI, TelURI, parse_uri

__all__ = [
    "DTMF_SIGNALS",
    "MESSAGE_BODY_LIMIT",
    "AutoAnswer",
    "CallDecision",
    "CallPolicy",
    "DtmfRelay",
    "Forward",
    "InstantMessage",
    "MessageReject",
    "Reject",
    "Ring",
    "dtmf_relay_body",
    "message_body",
    "parse_dtmf_info",
    "parse_dtmf_relay",
    "receive_message",
]

MESSAGE_BODY_LIMIT = 800
DTMF_SIGNALS = "0123456789*#ABCD"
_NUMERIC_SIGNALS = {"10": "*", "11": "#", "12": "A", "13": "B", "14": "C", "15": "D"}


# --- MESSAGE -----------------------------------------------------------------------------------


def message_body(text: str, *, max_bytes: int = MESSAGE_BODY_LIMIT) -> tuple[list[tuple[str, str]], bytes]:
    """Headers (Content-Type) and body for a MESSAGE carrying `text`; ValueError if the
    UTF-8 text is longer than `max_bytes` (raise it only over TCP/TLS)."""
    body = text.encode("utf-8")
    if len(body) > max_bytes:
        raise ValueError(f"message of {len(body)} bytes exceeds the limit of {max_bytes} "
                         "(RFC 3428: keep a MESSAGE over UDP under 1300 bytes)")
    return [("Content-Type", "text/plain;charset=UTF-8")], body


@dataclass(frozen=True)
class InstantMessage:
    text: str
    sender: Address
    content_type: str = "text/plain"


@dataclass(frozen=True)
class MessageReject:
    status: int
    reason: str
    headers: list[tuple[str, str]] = field(default_factory=list)


def receive_message(request: Request, *, max_bytes: int = 65535) -> InstantMessage | MessageReject:
    """An incoming MESSAGE: the text to show (answer 200) or the rejection to send."""
    if request.method != "MESSAGE":
        raise ValueError(f"receive_message() takes a MESSAGE, not {request.method}")
    if len(request.body) > max_bytes:
        return MessageReject(413, "Request Entity Too Large")
    ctype = request.content_type
    if ctype is None or ctype.mime != "text/plain":
        return MessageReject(415, "Unsupported Media Type", [("Accept", "text/plain")])
    charset = (ctype.params.get("charset") or "utf-8").strip('"')
    try:
        codecs.lookup(charset)
        text = request.body.decode(charset)
    except (LookupError, UnicodeDecodeError):
        return MessageReject(400, "Bad Request")
    return InstantMessage(text, request.from_, ctype.mime)


# --- INFO DTMF --------------------------------------------------------------------------------


@dataclass(frozen=True)
class DtmfRelay:
    """One key press: `signal` in 0-9 * # A-D, `duration_ms` (0 when not given)."""

    signal: str
    duration_ms: int = 0


def _signal(value: str) -> str:
    value = value.strip().upper()
    value = _NUMERIC_SIGNALS.get(value, value)
    if len(value) != 1 or value not in DTMF_SIGNALS:
        raise SipParseError(f"DTMF signal {value[:10]!r} is not one of 0-9 * # A-D", status=400)
    return value


def dtmf_relay_body(signal: str, duration_ms: int = 160) -> tuple[list[tuple[str, str]], bytes]:
    """Headers and body of an INFO carrying one digit as application/dtmf-relay."""
    try:
        digit = _signal(signal)
    except SipParseError as exc:
        raise ValueError(exc.detail) from None
    if isinstance(duration_ms, bool) or not isinstance(duration_ms, int) or not 0 < duration_ms <= 10000:
        raise ValueError(f"DTMF duration must be 1..10000 ms, not {duration_ms!r}")
    return ([("Content-Type", "application/dtmf-relay")],
            f"Signal={digit}\r\nDuration={duration_ms}\r\n".encode())


def parse_dtmf_relay(body: bytes) -> DtmfRelay:
    """Parse an application/dtmf-relay body (`Signal=` required, `Duration=` optional)."""
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError:
        raise SipParseError("dtmf-relay body is not ASCII", status=400) from None
    fields: dict[str, str] = {}
    for line in re.split(r"\r\n|\n|\r", text):
        if not line.strip():
            continue
        name, eq, value = line.partition("=")
        if not eq:
            raise SipParseError(f"dtmf-relay line {line[:40]!r} is not 'Name=value'", status=400)
        fields[name.strip().lower()] = value.strip()
    if "signal" not in fields:
        raise SipParseError("dtmf-relay body has no Signal= line", status=400)
    duration = fields.get("duration", "0")
    if not duration.isascii() or not duration.isdigit() or len(duration) > 6:
        raise SipParseError(f"dtmf-relay Duration {duration[:10]!r} is not milliseconds", status=400)
    return DtmfRelay(_signal(fields["signal"]), int(duration))


def parse_dtmf_info(request: Request) -> DtmfRelay | None:
    """The digit an INFO carries (dtmf-relay or application/dtmf), or None when the INFO
    is about something else (answer it 415 then). SipParseError for a broken body."""
    ctype = request.content_type
    if ctype is None:
        return None
    if ctype.mime == "application/dtmf-relay":
        return parse_dtmf_relay(request.body)
    if ctype.mime == "application/dtmf":
        try:
            return DtmfRelay(_signal(request.body.decode("ascii")))
        except UnicodeDecodeError:
            raise SipParseError("application/dtmf body is not ASCII", status=400) from None
    return None


# --- incoming-call policy ------------------------------------------------------------------------


@dataclass(frozen=True)
class Ring:
    """Alert the user (180); `forward_after`/`forward_to`: redirect if unanswered."""

    forward_after: float | None = None
    forward_to: str | None = None


@dataclass(frozen=True)
class AutoAnswer:
    """Answer by ourselves after `after` seconds (ring meanwhile); `intercom`: the
    caller asked for it (Call-Info answer-after / Answer-Mode)."""

    after: float
    intercom: bool = False


@dataclass(frozen=True)
class Reject:
    status: int
    reason: str


@dataclass(frozen=True)
class Forward:
    """Answer 302 Moved Temporarily with `Contact: <target>`."""

    target: str
    status: int = 302
    reason: str = "Moved Temporarily"

    @property
    def headers(self) -> list[tuple[str, str]]:
        return [("Contact", f"<{self.target}>")]


CallDecision = Ring | AutoAnswer | Reject | Forward
DndStatus = Literal[486, 480, 603]
_DND_REASONS = {486: "Busy Here", 480: "Temporarily Unavailable", 603: "Decline"}
_ANSWER_AFTER = re.compile(r";\s*answer-after\s*=\s*([0-9]{1,5})", re.IGNORECASE)


@dataclass
class CallPolicy:
    """The phone's rules for new calls; change fields at run time (the UI's toggles)."""

    dnd: bool = False
    dnd_status: DndStatus = 486
    auto_answer: bool = False
    auto_answer_after: float = 0.0
    allow_intercom: bool = False
    forward_to: str | None = None              # unconditional forward
    no_answer_forward_to: str | None = None
    no_answer_forward_after: float = 20.0
    max_calls: int = 4
    call_waiting: bool = True

    def __post_init__(self) -> None:
        if self.dnd_status not in _DND_REASONS:
            raise ValueError(f"dnd_status must be 486, 480 or 603, not {self.dnd_status!r}")
        for name in ("auto_answer_after", "no_answer_forward_after"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"{name} must be a number of seconds >= 0, not {value!r}")
        for name in ("forward_to", "no_answer_forward_to"):
            target = getattr(self, name)
            if target is not None:
                try:
                    uri = parse_uri(target, allow_headers=False)
                except SipParseError as exc:
                    raise ValueError(f"{name} {target!r} is not a URI to forward to: {exc}") from None
                if not isinstance(uri, (SipURI, TelURI)):
                    raise ValueError(f"{name} must be a sip:, sips: or tel: URI, not {target!r}")
        if isinstance(self.max_calls, bool) or not isinstance(self.max_calls, int) or self.max_calls < 1:
            raise ValueError(f"max_calls must be >= 1, not {self.max_calls!r}")

    def decide(self, invite: Request, *, active_calls: int = 0) -> CallDecision:
        if invite.method != "INVITE":
            raise ValueError(f"decide() takes an INVITE, not {invite.method}")
        if self.forward_to is not None:
            return Forward(self.forward_to)
        if self.dnd:
            return Reject(self.dnd_status, _DND_REASONS[self.dnd_status])
        if active_calls >= self.max_calls or (active_calls > 0 and not self.call_waiting):
            return Reject(486, "Busy Here")
        intercom = self._intercom_delay(invite)
        if intercom is not None and self.allow_intercom and active_calls == 0:
            return AutoAnswer(intercom, intercom=True)
        if self.auto_answer and active_calls == 0:
            return AutoAnswer(self.auto_answer_after)
        if self.no_answer_forward_to is not None:
            return Ring(self.no_answer_forward_after, self.no_answer_forward_to)
        return Ring()

    @staticmethod
    def _intercom_delay(invite: Request) -> float | None:
        for value in invite.get_all("Call-Info"):
            m = _ANSWER_AFTER.search(value)
            if m is not None:
                return float(m.group(1))
        mode = (invite.get("Answer-Mode") or "").split(";")[0].strip().lower()
        return 0.0 if mode == "auto" else None
