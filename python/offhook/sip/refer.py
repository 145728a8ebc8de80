"""Call transfer: REFER and its NOTIFYs (RFC 3515), message/sipfrag (RFC 3420),
Replaces (RFC 3891) and Referred-By (RFC 3892), sans I/O.

Pieces:
- `Replaces`: the header an attended transfer's INVITE carries to take over a
  dialog; `parse_replaces`, `str()`, and `check_replaces(replaces, dialogs)` giving
  the dialog to replace or the status to reject with (RFC 3891 §3: 481 no such
  dialog / early dialog we did not start, 486 early-only but confirmed, 603 ended).
- `ReferTo`: a Refer-To value, `parse_refer_to(text)`, `build_refer_to(target,
  replaces=...)`. An embedded Replaces travels as a URI header
  (`<sip:carol@b?Replaces=id%40h%3Bto-tag%3D1%3Bfrom-tag%3D2>`): SipURI escapes it
  when written and unescapes it when read.
- sipfrag bodies (`sipfrag(status)`, `parse_sipfrag(body)`), the Subscription-State
  header (`SubscriptionState`, `parse_subscription_state`), and the NOTIFY a
  transferee sends (`refer_notify(status)` -> `NotifyContent` to `apply()` to a
  NOTIFY request built by the dialog layer).
- Two state objects saying what to send when:
  `Transferor` (we send the REFER: its headers, then each NOTIFY -> what to answer
  and whether the transfer succeeded, so we can BYE our leg) and
  `Transferee` (we receive it: accept/reject, the INVITE to send and its headers,
  then one NOTIFY per progress step of that INVITE).

Choices: tags and Call-IDs compare case-sensitively (they are opaque tokens);
NOTIFYs carry `Event: refer;id=<REFER CSeq>` (RFC 3515 §2.4.6, needed when several
REFERs share a dialog) and `Subscription-State: active;expires=60` until the
final sipfrag, which goes with `terminated;reason=noresource` (§2.4.7). Only the
first NOTIFY for each distinct provisional status is sent (100, 180, 183), so a
peer that re-sends 180s does not flood the transferor.
"""
from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from offhook.errors import SipParseError
from offhook.sip.grammar import Address, parse_address
from offhook.sip.message import Request
from offhook.sip.uri import SipURI, parse_uri

__all__ = [
    "DialogRef",
    "NotifyContent",
    "NotifyVerdict",
    "ReferAccept",
    "ReferReject",
    "ReferTo",
    "Replaces",
    "ReplacesCheck",
    "SipFrag",
    "SubscriptionState",
    "Transferee",
    "Transferor",
    "build_refer_to",
    "check_replaces",
    "parse_refer_to",
    "parse_referred_by",
    "parse_replaces",
    "parse_sipfrag",
    "parse_subscription_state",
    "refer_notify",
    "sipfrag",
]

_TOKEN = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+\Z")
_WORD_CHARS = r"[A-Za-z0-9\-.!%*_+`'~()<>:\\\"/\[\]?{}]+"
_WORD = re.compile(rf"{_WORD_CHARS}(?:@{_WORD_CHARS})?\Z")  # a Call-ID
_STATUS_LINE = re.compile(r"SIP/2\.0 ([1-6][0-9][0-9])(?: ([^\r\n]*))?\Z")
SIPFRAG_TYPE = "message/sipfrag;version=2.0"
_REASONS = {100: "Trying", 180: "Ringing", 181: "Call Is Being Forwarded", 182: "Queued",
            183: "Session Progress", 200: "OK", 202: "Accepted", 400: "Bad Request", 403: "Forbidden",
            404: "Not Found", 408: "Request Timeout", 480: "Temporarily Unavailable",
            481: "Call/Transaction Does Not Exist", 486: "Busy Here", 487: "Request Terminated",
            488: "Not Acceptable Here", 500: "Server Internal Error", 503: "Service Unavailable",
            603: "Decline"}


def _err(header: str, detail: str) -> SipParseError:
    return SipParseError(f"{header}: {detail}", status=400)


# --- Replaces (RFC 3891) -------------------------------------------------------------------------


@dataclass(frozen=True)
class Replaces:
    """Replaces: <call-id>;to-tag=<t>;from-tag=<f>[;early-only]. The tags are those of the
    dialog as the *recipient* sees it: to-tag is its local tag, from-tag its remote one."""

    call_id: str
    to_tag: str
    from_tag: str
    early_only: bool = False
    params: tuple[tuple[str, str | None], ...] = ()

    def __str__(self) -> str:
        text = f"{self.call_id};to-tag={self.to_tag};from-tag={self.from_tag}"
        if self.early_only:
            text += ";early-only"
        return text + "".join(f";{k}" if v is None else f";{k}={v}" for k, v in self.params)


def parse_replaces(text: str) -> Replaces:
    """Parse a Replaces value; SipParseError(400) when the Call-ID or a tag is missing."""
    call_id, *items = text.split(";")
    call_id = call_id.strip(" \t")
    if not _WORD.match(call_id):
        raise _err("Replaces", f"{call_id[:40]!r} is not a Call-ID")
    tags: dict[str, str] = {}
    early_only = False
    others: list[tuple[str, str | None]] = []
    for item in items:
        name, eq, value = item.partition("=")
        name, value = name.strip(" \t").lower(), value.strip(" \t")
        if not _TOKEN.match(name) or (eq and not _TOKEN.match(value)):
            raise _err("Replaces", f"malformed parameter {item.strip()[:40]!r}")
        if name in ("to-tag", "from-tag"):
            if not eq:
                raise _err("Replaces", f"{name} has no value")
            if name in tags:
                raise _err("Replaces", f"{name} appears twice")
            tags[name] = value
        elif name == "early-only":
            early_only = True
        else:
            others.append((name, value if eq else None))
    for name in ("to-tag", "from-tag"):
        if name not in tags:
            raise _err("Replaces", f"the {name} parameter is missing")
    return Replaces(call_id, tags["to-tag"], tags["from-tag"], early_only, tuple(others))


DialogState = Literal["early", "confirmed", "terminated"]


@dataclass(frozen=True)
class DialogRef:
    """What check_replaces needs to know of one of our dialogs."""

    call_id: str
    local_tag: str
    remote_tag: str | None
    state: DialogState
    initiated_locally: bool  # we sent the INVITE that created it


@dataclass(frozen=True)
class ReplacesCheck:
    """dialog: the dialog to replace (status None): accept the INVITE, then end that
    dialog (BYE if confirmed, CANCEL if it is our early outgoing call). Otherwise
    reject the INVITE with status/reason."""

    dialog: DialogRef | None
    status: int | None = None
    reason: str = ""


def check_replaces(replaces: Replaces, dialogs: Iterable[DialogRef]) -> ReplacesCheck:
    """RFC 3891 §3: match Call-ID, to-tag = our local tag, from-tag = the remote tag."""
    for d in dialogs:
        if d.call_id != replaces.call_id or d.local_tag != replaces.to_tag:
            continue
        if d.remote_tag != replaces.from_tag:
            continue
        if d.state == "terminated":
            return ReplacesCheck(None, 603, "Declined")
        if d.state == "confirmed" and replaces.early_only:
            return ReplacesCheck(None, 486, "Busy Here")
        if d.state == "early" and not d.initiated_locally:
            return ReplacesCheck(None, 481, "Call/Transaction Does Not Exist")
        return ReplacesCheck(d)
    return ReplacesCheck(None, 481, "Call/Transaction Does Not Exist")


# --- Refer-To / Referred-By ------------------------------------------------------------------------


@dataclass(frozen=True)
class ReferTo:
    """A Refer-To value. `target` is the URI to INVITE (its headers removed);
    `replaces` the embedded Replaces, `headers` any other URI headers (to copy into
    the INVITE, RFC 3261 §19.1.5)."""

    address: Address

    @property
    def uri(self) -> SipURI:
        uri = self.address.uri
        if not isinstance(uri, SipURI):
            raise SipParseError(f"Refer-To: {uri} is not a sip: or sips: URI", status=400)
        return uri

    @property
    def target(self) -> SipURI:
        uri = copy.copy(self.uri)
        uri.headers = []
        uri.params = {k: v for k, v in uri.params.items() if k != "method"}
        return uri

    @property
    def replaces(self) -> Replaces | None:
        for name, value in self.uri.headers:
            if name.lower() == "replaces":
                return parse_replaces(value)
        return None

    @property
    def headers(self) -> list[tuple[str, str]]:
        return [(n, v) for n, v in self.uri.headers if n.lower() != "replaces"]

    def __str__(self) -> str:
        return str(self.address)


def parse_refer_to(text: str) -> ReferTo:
    """Parse a Refer-To (or compact `r`) value: exactly one sip:/sips: URI; an embedded
    Replaces must parse. SipParseError(400) otherwise."""
    address = parse_address(text, "Refer-To")
    refer = ReferTo(address)
    refer.uri  # noqa: B018 - raises for tel:/http: targets
    refer.replaces  # noqa: B018 - raises for a malformed embedded Replaces
    return refer


def build_refer_to(target: SipURI | str, *, replaces: Replaces | None = None,
                   display_name: str | None = None) -> str:
    """A Refer-To value for `target`, with `replaces` embedded (escaped) for an
    attended transfer."""
    uri = parse_uri(target) if isinstance(target, str) else copy.deepcopy(target)
    if not isinstance(uri, SipURI):
        raise ValueError(f"a transfer target must be a sip: or sips: URI, not {target!r}")
    uri.headers = [(n, v) for n, v in uri.headers if n.lower() != "replaces"]
    if replaces is not None:
        uri.headers.append(("Replaces", str(replaces)))
    return str(Address(uri, display_name))


def parse_referred_by(text: str) -> Address:
    """Parse a Referred-By (compact `b`) value: name-addr or addr-spec with params."""
    return parse_address(text, "Referred-By")


# --- sipfrag and Subscription-State ----------------------------------------------------------------


@dataclass(frozen=True)
class SipFrag:
    """A message/sipfrag body holding a response status line (RFC 3420), and any headers."""

    status: int
    reason: str
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def final(self) -> bool:
        return self.status >= 200

    @property
    def success(self) -> bool:
        return 200 <= self.status < 300


def sipfrag(status: int, reason: str | None = None) -> bytes:
    """`SIP/2.0 <status> <reason>\\r\\n` for a NOTIFY body (standard reason when None)."""
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 699:
        raise ValueError(f"a sipfrag status must be 100..699, not {status!r}")
    text = _REASONS.get(status, "Unknown") if reason is None else reason
    if any(ch in text for ch in "\r\n"):
        raise ValueError("a reason phrase cannot hold CR or LF")
    return f"SIP/2.0 {status} {text}\r\n".encode()


def parse_sipfrag(body: bytes) -> SipFrag:
    """Read the status line (and headers, if any) of a sipfrag body; SipParseError(400)
    when it is not a SIP/2.0 response status line."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise SipParseError("sipfrag body is not UTF-8", status=400) from None
    lines = text.replace("\r\n", "\n").split("\n")
    m = _STATUS_LINE.match(lines[0].rstrip(" \t"))
    if m is None:
        raise SipParseError(f"sipfrag body does not start with a status line: {lines[0][:60]!r}",
                            status=400)
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if not line:
            break
        name, colon, value = line.partition(":")
        if not colon or not _TOKEN.match(name.strip(" \t")):
            raise SipParseError(f"sipfrag header line {line[:60]!r} is malformed", status=400)
        headers.append((name.strip(" \t"), value.strip(" \t")))
    return SipFrag(int(m.group(1)), m.group(2) or "", tuple(headers))


@dataclass(frozen=True)
class SubscriptionState:
    """Subscription-State: active|pending|terminated[;expires=N][;reason=R][;retry-after=N]."""

    state: str
    expires: int | None = None
    reason: str | None = None
    retry_after: int | None = None

    def __str__(self) -> str:
        text = self.state
        if self.reason is not None:
            text += f";reason={self.reason}"
        if self.expires is not None:
            text += f";expires={self.expires}"
        if self.retry_after is not None:
            text += f";retry-after={self.retry_after}"
        return text

    @property
    def terminated(self) -> bool:
        return self.state == "terminated"


def parse_subscription_state(text: str) -> SubscriptionState:
    state, *items = text.split(";")
    state = state.strip(" \t").lower()
    if not _TOKEN.match(state):
        raise _err("Subscription-State", f"{state[:30]!r} is not a state")
    values: dict[str, str] = {}
    for item in items:
        name, eq, value = item.partition("=")
        name, value = name.strip(" \t").lower(), value.strip(" \t")
        if not _TOKEN.match(name) or (eq and not _TOKEN.match(value)):
            raise _err("Subscription-State", f"malformed parameter {item.strip()[:40]!r}")
        values[name] = value
    numbers: dict[str, int | None] = {}
    for name in ("expires", "retry-after"):
        raw = values.get(name)
        if raw is not None and (not raw.isascii() or not raw.isdigit() or len(raw) > 10):
            raise _err("Subscription-State", f"{name}={raw!r} is not delta-seconds")
        numbers[name] = int(raw) if raw is not None else None
    return SubscriptionState(state, numbers["expires"], values.get("reason"), numbers["retry-after"])


@dataclass(frozen=True)
class NotifyContent:
    """The REFER-specific part of a NOTIFY: Event, Subscription-State, the sipfrag body."""

    headers: list[tuple[str, str]]
    body: bytes
    final: bool

    def apply(self, request: Request) -> Request:
        """Set these headers, the body and Content-Length on a NOTIFY built by the dialog."""
        if request.method != "NOTIFY":
            raise ValueError(f"refer progress goes in a NOTIFY, not a {request.method}")
        for name, value in self.headers:
            request.set_header(name, value)
        request.body = self.body
        request.set_header("Content-Length", str(len(self.body)))
        return request


def refer_notify(status: int, reason: str | None = None, *, refer_cseq: int | None = None,
                 expires: int = 60) -> NotifyContent:
    """The NOTIFY reporting that the referred INVITE got `status` (100 for "trying"):
    subscription active while provisional, terminated with the final status."""
    final = status >= 200
    state = (SubscriptionState("terminated", reason="noresource") if final
             else SubscriptionState("active", expires=expires))
    event = "refer" if refer_cseq is None else f"refer;id={refer_cseq}"
    headers = [("Event", event), ("Subscription-State", str(state)), ("Content-Type", SIPFRAG_TYPE)]
    return NotifyContent(headers, sipfrag(status, reason), final)


# --- state objects ---------------------------------------------------------------------------------

TransferState = Literal["idle", "requested", "accepted", "progress", "succeeded", "failed"]


@dataclass(frozen=True)
class NotifyVerdict:
    """What the transferor does with a NOTIFY: answer it with `status`; `frag` is the
    progress reported (None if unreadable); `end_call`: the transfer succeeded, BYE our
    leg to the transferee; `finished`: no more NOTIFYs are expected."""

    status: int
    reason: str
    frag: SipFrag | None = None
    end_call: bool = False
    finished: bool = False


class Transferor:
    """We transfer the peer of one of our dialogs to `target` (blind, or attended with
    `replaces` naming our dialog with the target, as *the target* sees it)."""

    def __init__(self, target: SipURI | str, *, replaces: Replaces | None = None,
                 referred_by: Address | str | None = None) -> None:
        self.refer_to = build_refer_to(target, replaces=replaces)
        self.referred_by = None if referred_by is None else str(referred_by)
        self.state: TransferState = "idle"
        self.cseq: int | None = None
        self.result: SipFrag | None = None

    def refer_headers(self, cseq: int) -> list[tuple[str, str]]:
        """Headers to add to the REFER (sent with CSeq `cseq`, remembered for Event ids)."""
        self.cseq = cseq
        self.state = "requested"
        headers = [("Refer-To", self.refer_to)]
        if self.referred_by is not None:
            headers.append(("Referred-By", self.referred_by))
        return headers

    def on_refer_response(self, status: int) -> TransferState:
        """The final response to our REFER: 2xx -> accepted; anything else -> failed."""
        if status < 200:
            return self.state
        self.state = "accepted" if status < 300 else "failed"
        return self.state

    def on_notify(self, request: Request) -> NotifyVerdict:
        """A NOTIFY in the dialog: what to answer and what it means."""
        event = (request.get("Event") or "").split(";")
        if event[0].strip().lower() != "refer":
            return NotifyVerdict(489, "Bad Event")
        ids = [p.strip()[3:] for p in event[1:] if p.strip().lower().startswith("id=")]
        if ids and self.cseq is not None and ids[0] != str(self.cseq):
            return NotifyVerdict(481, "Subscription Does Not Exist")
        if self.state not in ("requested", "accepted", "progress"):
            return NotifyVerdict(481, "Subscription Does Not Exist")
        try:
            sub = parse_subscription_state(request.get("Subscription-State") or "active")
            frag = parse_sipfrag(request.body)
        except SipParseError:
            # RFC 3515 §2.4.5: the body may be unreadable; the subscription may still end.
            terminated = (request.get("Subscription-State") or "").strip().lower().startswith("terminated")
            if terminated:
                self.state = "failed"
            return NotifyVerdict(200, "OK", finished=terminated)
        if frag.final:
            self.result = frag
            self.state = "succeeded" if frag.success else "failed"
        elif self.state != "progress":
            self.state = "progress"
        finished = frag.final or sub.terminated
        if sub.terminated and not frag.final:
            self.state = "failed"
        return NotifyVerdict(200, "OK", frag, end_call=self.state == "succeeded", finished=finished)


@dataclass(frozen=True)
class ReferAccept:
    """Answer the REFER 202, send `notify` (100 Trying), then INVITE `target` with
    `invite_headers` (Replaces, Referred-By, other URI headers)."""

    target: SipURI
    invite_headers: list[tuple[str, str]]
    notify: NotifyContent
    replaces: Replaces | None
    status: int = 202
    reason: str = "Accepted"


@dataclass(frozen=True)
class ReferReject:
    status: int
    reason: str
    detail: str = ""


@dataclass
class Transferee:
    """We were asked to transfer: REFER in, then one NOTIFY per step of our INVITE."""

    allow: bool = True          # policy: accept transfers at all
    expires: int = 60           # Subscription-State expires while active
    refer_cseq: int | None = None
    done: bool = False
    _sent: set[int] = field(default_factory=set)

    def on_refer(self, request: Request) -> ReferAccept | ReferReject:
        if request.method != "REFER":
            raise ValueError(f"on_refer() takes a REFER, not {request.method}")
        lines = request.get_lines("Refer-To")
        if len(lines) != 1:
            return ReferReject(400, "Bad Request", f"a REFER needs exactly one Refer-To ({len(lines)} found)")
        try:
            refer = parse_refer_to(lines[0])
            referred_by = request.get("Referred-By")
            if referred_by is not None:
                parse_referred_by(referred_by)
        except SipParseError as exc:
            return ReferReject(400, "Bad Request", exc.detail)
        if not self.allow:
            return ReferReject(603, "Decline", "transfers are not allowed")
        self.refer_cseq = request.cseq.number
        self.done = False
        self._sent = {100}
        headers = list(refer.headers)
        replaces = refer.replaces
        if replaces is not None:
            headers.append(("Replaces", str(replaces)))
        if referred_by is not None:
            headers.append(("Referred-By", referred_by))
        return ReferAccept(refer.target, headers, self._notify(100, None), replaces)

    def _notify(self, status: int, reason: str | None) -> NotifyContent:
        return refer_notify(status, reason, refer_cseq=self.refer_cseq, expires=self.expires)

    def on_invite_response(self, status: int, reason: str | None = None) -> NotifyContent | None:
        """A response to the INVITE we sent to the target: the NOTIFY to send, or None
        (a repeated provisional status, or the transfer already reported)."""
        if self.done or self.refer_cseq is None:
            return None
        if status < 200:
            if status in self._sent:
                return None
            self._sent.add(status)
        else:
            self.done = True
        return self._notify(status, reason)

    def on_invite_failed(self, status: int = 408, reason: str | None = None) -> NotifyContent | None:
        """The INVITE never got a response (timeout: 408; transport error: 503)."""
        return self.on_invite_response(status, reason)
