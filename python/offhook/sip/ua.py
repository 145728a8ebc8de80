"""The SIP user agent core (RFC 3261 §8, §13-15), sans-I/O: INVITE sessions and REGISTER.

UserAgent turns calls into messages and messages into call events. It owns a
TransactionManager, the calls (each with its Dialog and its SDP OfferAnswer) and
the registrations; it never touches a socket or a clock. Every entry point takes
`now` and returns a list of outputs: `Send` (from transaction.py: bytes for an
address) and events for the application (`CallEvent`, `RegistrationEvent`).
The caller runs `tick(now)` at `next_deadline()`.

Calls:
- Outgoing: `call()` sends the INVITE with an SDP offer; 1xx gives "progress"
  (and an early dialog; a 183 with SDP also "media": early media), the first 2xx
  "answered" + "media" after the ACK is sent,
  a failure "ended" with the status (486 busy, 603 declined, 404 not found...). A
  401/407 is answered once with the account's DigestClient. `hangup()` before the
  answer sends CANCEL (once a provisional response came, §9.1), after it BYE.
- Incoming: an out-of-dialog INVITE gives "incoming" (a 100 went out already);
  its offer is negotiated at once (488 when it cannot be). `ring()` sends 180,
  `answer()` the 200 with our SDP answer, retransmitted until the ACK (§13.3.1.4:
  no ACK in 64*T1 ends the call with a BYE), `reject()` a final failure. A CANCEL
  ends it with 487.
- In the call: a re-INVITE or UPDATE with an offer is answered by OfferAnswer
  (hold from the far side comes out as a "media" event with direction sendonly/
  inactive); `hold()` / `resume()` send a re-INVITE offering sendonly / sendrecv
  (RFC 3264 §8.4). BYE either way ends it.
- Forking: ForkedInvite keeps the early dialogs; a second 2xx gets ACK and BYE.

Who may call (DESIGN.md "Safe by default"): while at least one registration is
active, out-of-dialog INVITEs are accepted only from a registrar's address or an
address in `allowed_sources`; others get 403 and never ring. With no registration
(peer-to-peer, `offhook answer --listen`) every source may call. In-dialog
requests are checked by dialog, not by source.

Hooks: `resolver` maps a URI to (address, transport), by default the URI's host
and port (5060, 5061 for sips) and its transport parameter; RFC 3263 DNS plugs in
there (resolve.DnsResolver; its `failover()` is used after a 503 or a transport
error on a new INVITE). `method_handlers` (method -> handler(call or None, request)
-> response) take a method before the core does; other unknown methods answer 501
(405 for REGISTER/SUBSCRIBE).

Extensions wired in from their pure modules:
- Transfer (refer.py): `transfer(call, uri)` sends a REFER and turns each NOTIFY
  sipfrag into a "transfer" event, BYE-ing the call on success; `transfer(call,
  other_call)` is an attended transfer (Refer-To with Replaces). A REFER received
  is answered 202, a NOTIFY 100 goes back, and the core INVITEs the target itself
  ("transferred" event with the new call), reporting 180/200/failure in NOTIFYs and
  hanging up the old call once the new one is answered (`transferee_hangs_up`).
  An INVITE whose Replaces matches one of our dialogs (RFC 3891 §3) is answered at
  once and the replaced call hung up ("replaced" event); a mismatch gets 481.
- Session timers (session_timer.py, `session_timer=` config, None to switch off):
  offered on INVITEs, inserted when answering, 422 handled both ways; the
  refresher sends UPDATE (no SDP) when the peer allows it, else a re-INVITE; a
  session nobody refreshed ends with a BYE (status 408, "session expired").
- UPDATE (RFC 3311) received: with SDP it is an offer like a re-INVITE's, without
  it a session refresh.
- Glare: a 491 to our re-INVITE retries it after RFC 3261 §14.1's random interval
  (2.1-4 s if we own the Call-ID, else 0-2 s).
- 3xx: followed to the first untried Contact, at most `max_redirects` times.
- `policy` (message_im.CallPolicy): forward (302), DND, busy, auto-answer (the
  core answers after the delay), forward on no answer.
- MESSAGE in and out of dialogs (MessageEvent), INFO DTMF in ("dtmf" events) and
  out (`send_info_dtmf`), OPTIONS answered with Allow, Accept and Supported.
- `keepalive_interval`: registrations are kept alive with a double CRLF (TCP/TLS,
  a KeepAlive output) or an OPTIONS (UDP; a timeout re-registers at once).
"""
from __future__ import annotations

import contextlib
import heapq
import ipaddress
import itertools
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Literal

from offhook.errors import NegotiationError, OffhookError, SdpError, SipAuthError, SipParseError
from offhook.sdp import MediaCapabilities, NegotiatedMedia, OfferAnswer, parse_sdp
from offhook.sip.auth import DigestClient
from offhook.sip.dialog import (
    Dialog,
    DialogError,
    DialogState,
    ForkedInvite,
    LocalContact,
    initial_cseq,
    new_call_id,
    new_tag,
)
from offhook.sip.message import Request, Response
from offhook.sip.message_im import (
    AutoAnswer,
    CallDecision,
    CallPolicy,
    Forward,
    InstantMessage,
    MessageReject,
    Reject,
    Ring,
    dtmf_relay_body,
    message_body,
    parse_dtmf_info,
    receive_message,
)
from offhook.sip.refer import (
    DialogRef,
    ReferReject,
    Replaces,
    Transferee,
    Transferor,
    check_replaces,
    parse_replaces,
)
from offhook.sip.register import Registration, RegState
from offhook.sip.session_timer import Reject422, SessionTimer, SessionTimerConfig
from offhook.sip.transaction import (
    ClientInviteTransaction,
    ClientTransaction,
    DeliverRequest,
    DeliverResponse,
    Send,
    ServerInviteTransaction,
    ServerTransaction,
    Timeout,
    TimerConfig,
    Transaction,
    TransactionManager,
    TransportFailure,
    response_for,
)
from offhook.sip.uri import URI, SipURI, parse_uri

__all__ = [
    "Call",
    "CallEvent",
    "CallState",
    "KeepAlive",
    "MessageEvent",
    "Output",
    "RegistrationEvent",
    "Resolver",
    "UserAgent",
    "default_resolver",
    "failure_label",
]

Address = tuple[str, int]
Resolver = Callable[[URI], tuple[Address, str]]
# A handler for a method the core does not know (REFER, MESSAGE, INFO, NOTIFY...): it gets
# the call the request belongs to (None out of dialog) and returns the response to send.
MethodHandler = Callable[["Call | None", Request], Response]
ALLOW = "INVITE, ACK, BYE, CANCEL, OPTIONS, UPDATE, REFER, NOTIFY, MESSAGE, INFO"
SUPPORTED = "replaces, timer"
_CSEQ_LIMIT = 2**31 - 2
_TIMER_HEADERS = ("session-expires", "x", "min-se", "supported", "k")

_LABELS = {
    400: "bad request", 401: "authentication failed", 403: "forbidden", 404: "not found",
    407: "authentication failed", 408: "no answer", 410: "gone", 480: "unavailable",
    484: "address incomplete", 486: "busy", 487: "cancelled", 488: "not acceptable",
    500: "server error", 503: "service unavailable", 600: "busy everywhere", 603: "declined",
    604: "does not exist", 606: "not acceptable",
}


def failure_label(status: int, reason: str = "") -> str:
    """A short human word for a failure status: 486 -> "busy", 603 -> "declined"."""
    return _LABELS.get(status) or reason.lower() or "failed"


def default_resolver(uri: URI) -> tuple[Address, str]:
    """host:port of a sip/sips URI (no DNS): port 5060, or 5061 for sips/TLS."""
    if not isinstance(uri, SipURI):
        raise OffhookError(f"cannot route to {uri}: only sip: and sips: URIs are supported")
    transport = (uri.transport or ("tls" if uri.secure else "udp")).upper()
    port = uri.port or (5061 if transport == "TLS" else 5060)
    return (uri.host_address, port), transport


class CallState(Enum):
    CALLING = "calling"          # INVITE sent, nothing back
    EARLY = "early"              # 1xx received / 180 sent
    INCOMING = "incoming"        # INVITE received, not answered
    ANSWERING = "answering"      # 200 sent, waiting for the ACK
    ESTABLISHED = "established"
    ENDED = "ended"


@dataclass(eq=False)
class Call:
    """One INVITE session. `media` is the stream agreed last (None before the answer)."""

    call_id: str
    outgoing: bool
    peer: Address
    transport: str
    offer_answer: OfferAnswer
    state: CallState = CallState.CALLING
    dialog: Dialog | None = None
    media: NegotiatedMedia | None = None
    status: int | None = None            # the final status that ended or answered it
    reason: str = ""                     # one-line reason when it failed
    ended_by_remote: bool = False
    invite: Request | None = None
    local_tag: str = ""
    _fork: ForkedInvite | None = None
    _invite_tx: ServerInviteTransaction | ClientInviteTransaction | None = None
    _auth: DigestClient | None = None
    _auth_tries: int = 0
    _cancel_pending: bool = False
    _provisional: bool = False
    _ok: Response | None = None          # our 2xx, while waiting for its ACK
    _ack: Request | None = None          # our ACK, resent on 2xx retransmissions
    _ack_to: Address | None = None
    _reinvite_tx: ClientInviteTransaction | None = None
    _reinvite_hold: bool | None = None
    # extensions: policy, session timer, transfer, redirects
    decision: CallDecision | None = None     # what the CallPolicy said about this incoming call
    transfer_status: int | None = None       # the last sipfrag status of our REFER (transferor)
    transfer_parent: Call | None = None      # the call whose REFER made us place this one
    transfer_child: Call | None = None       # the call we placed for the far side's REFER
    replaced_by: Call | None = None          # an INVITE with Replaces took this call over
    replaces: Call | None = None             # the call this one replaced
    redirects: int = 0
    peer_allow: frozenset[str] = frozenset()  # methods the far side said it allows
    _timer: SessionTimer | None = None
    _timer_headers: list[tuple[str, str]] = field(default_factory=list)
    _transferor: Transferor | None = None
    _transferee: Transferee | None = None
    _update_tx: object | None = None
    _invite_headers: list[tuple[str, str]] = field(default_factory=list)
    _tried: set[str] = field(default_factory=set)   # targets a 3xx already sent us to

    @property
    def established(self) -> bool:
        return self.state is CallState.ESTABLISHED

    @property
    def transfer_state(self) -> str | None:
        """Our REFER's progress: requested, accepted, progress, succeeded or failed (None: none sent)."""
        return self._transferor.state if self._transferor is not None else None

    @property
    def peer_text(self) -> str:
        return f"{self.peer[0]}:{self.peer[1]}"


CallEventKind = Literal["incoming", "progress", "answered", "media", "ended", "confirmed",
                        "redirected", "dtmf", "transfer", "transferred", "replaced", "refused"]


@dataclass(frozen=True, eq=False)
class CallEvent:
    """Something happened to a call: "incoming" (ring the user), "progress" (1xx,
    `status`), "answered" (2xx; ACK sent), "confirmed" (our 200 was ACKed), "media"
    (`call.media` changed: answer, hold, resume), "ended" (`status`, `call.reason`),
    "redirected" (a 3xx was followed: `status`, the INVITE went to `call.peer`),
    "dtmf" (an INFO carried `digit`), "transfer" (our REFER progressed: `status` is
    the REFER's final status, then each NOTIFY's sipfrag status), "transferred" (the
    far side's REFER made us call `other`), "replaced" (an INVITE with Replaces took
    this call over: `other` is the new, already answered call), "refused" (the peer
    refused our re-INVITE — hold, resume — with `status`; the call goes on unchanged)."""

    call: Call
    kind: CallEventKind
    status: int | None = None
    digit: str | None = None
    other: Call | None = None


MessageEventKind = Literal["received", "delivered", "failed"]


@dataclass(frozen=True, eq=False)
class MessageEvent:
    """An instant message (RFC 3428): "received" (`message`, `call` when in a dialog),
    "delivered" / "failed" (`status`) for one we sent (`request`)."""

    kind: MessageEventKind
    request: Request
    message: InstantMessage | None = None
    status: int | None = None
    call: Call | None = None


@dataclass(frozen=True)
class KeepAlive:
    """Send these bytes (a double CRLF, RFC 5626 §3.5.1) over a stream connection."""

    data: bytes
    address: Address
    transport: str


@dataclass(frozen=True, eq=False)
class RegistrationEvent:
    """A registration's state changed: see `registration.state` and `.reason`."""

    registration: Registration


Output = Send | CallEvent | RegistrationEvent | MessageEvent | KeepAlive
Job = Callable[[float, list[Output]], None]


@dataclass
class UserAgent:
    """The sans-I/O user agent: see the module docstring."""

    contact: LocalContact
    identity: SipURI = field(default_factory=lambda: SipURI(host="invalid", user="offhook"))
    display_name: str | None = None
    timers: TimerConfig = field(default_factory=TimerConfig)
    resolver: Resolver = default_resolver
    allowed_sources: frozenset[str] = frozenset()
    user_agent: str = "offhook"
    max_calls: int = 64
    # what we answer an incoming INVITE with (the driver reserves an RTP port here)
    media_capabilities: Callable[[Request], MediaCapabilities] = field(
        default=lambda req: MediaCapabilities(address="127.0.0.1", port=40000))
    # extension methods (refer.py, MESSAGE/INFO helpers plug in here); listed in Allow
    method_handlers: dict[str, MethodHandler] = field(default_factory=dict)
    calls: dict[str, Call] = field(default_factory=dict)
    registrations: list[Registration] = field(default_factory=list)
    # RFC 4028 session timers on every call (None: neither ask for nor insert one)
    session_timer: SessionTimerConfig | None = field(default_factory=SessionTimerConfig)
    # who may ring, DND, auto-answer, forwarding (None: every allowed INVITE rings)
    policy: CallPolicy | None = None
    accept_transfers: bool = True          # act on the far side's REFER
    transferee_hangs_up: bool = True       # BYE the transferor once the new call is answered
    max_redirects: int = 3                 # 3xx responses followed per call
    keepalive_interval: float | None = None  # CRLF (TCP/TLS) or OPTIONS (UDP) to registrars
    # capabilities for calls we place by ourselves (REFER): the driver reserves a port
    new_call_capabilities: Callable[[], MediaCapabilities] = field(
        default=lambda: MediaCapabilities(address="127.0.0.1", port=40002))
    rng: random.Random = field(default_factory=random.Random)
    linger: float | None = 32.0   # ended calls leave `calls` after this (None: keep until forget())
    # the account's credentials: answer challenges to in-dialog requests of calls placed
    # without their own DigestClient (incoming calls, calls a REFER made us place)
    auth: DigestClient | None = None
    # our port per transport when they differ (TLS listens apart from UDP/TCP); Via/Contact use it
    transport_ports: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.transactions = TransactionManager(self.timers)
        self._reg_tx: dict[int, Registration] = {}     # id(client tx) -> registration
        self._retransmit: dict[str, tuple[float, float]] = {}  # call id -> (due, interval)
        self._ok_deadline: dict[str, float] = {}
        self._jobs: dict[tuple[str, int], tuple[float, int, Job]] = {}
        self._job_heap: list[tuple[float, int, tuple[str, int]]] = []
        self._job_seq = itertools.count()
        self._msg_tx: dict[int, tuple[Request, DigestClient | None, Call | None, Address, str]] = {}
        self._keepalive_tx: dict[int, Registration] = {}
        # in-dialog requests that may be challenged: id(tx) -> (request, auth, address, transport, tries)
        self._dialog_tx: dict[int, tuple[Request, DigestClient | None, Address, str, int]] = {}
        self._live: set[str] = set()     # Call-IDs of the calls not ended
        self._clock = 0.0                 # the latest `now` seen (for jobs set in _end)

    def _store(self, call: Call) -> None:
        self.calls[call.call_id] = call
        self._live.add(call.call_id)

    @property
    def allow(self) -> str:
        names = [m.strip() for m in ALLOW.split(",")]
        return ", ".join(names + [m for m in self.method_handlers if m not in names])

    def _schedule(self, name: str, owner: object, due: float | None, job: Job) -> None:
        """Run job(now, out) at `due` (None cancels); one job per (name, owner)."""
        key = (name, id(owner))
        if due is None:
            self._jobs.pop(key, None)
        else:
            seq = next(self._job_seq)
            self._jobs[key] = (due, seq, job)
            heapq.heappush(self._job_heap, (due, seq, key))

    def _next_job(self) -> float | None:
        heap = self._job_heap
        while heap:
            due, seq, key = heap[0]
            entry = self._jobs.get(key)
            if entry is not None and entry[1] == seq:
                return due
            heapq.heappop(heap)   # cancelled or re-armed since
        return None

    def _handled(self, call: Call | None, req: Request, tx: ServerTransaction, now: float,
                 out: list[Output]) -> bool:
        handler = self.method_handlers.get(req.method)
        if handler is None:
            return False
        try:
            resp = handler(call, req)
        except OffhookError as exc:
            resp = response_for(req, 500)
            resp.add_header("Warning", f'399 offhook "{str(exc)[:100]}"')
        self._respond(tx, resp, now, out)
        return True

    def _contact(self, transport: str) -> LocalContact:
        """Our Via/Contact for a message sent over `transport` (same host and port)."""
        transport = transport.upper()
        if transport == self.contact.transport.upper():
            return self.contact
        return replace(self.contact, transport=transport,
                       port=self.transport_ports.get(transport, self.contact.port))

    # --- policy -----------------------------------------------------------------

    def source_allowed(self, source: Address) -> bool:
        active = [r for r in self.registrations
                  if r.state in (RegState.REGISTERED, RegState.REGISTERING)]
        if not active:
            return True
        host = source[0]
        return host in self.allowed_sources or any(_same_host(host, r.registrar[0]) for r in active)

    # --- time --------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        times = [t for t in (self.transactions.next_deadline(),) if t is not None]
        times += [due for due, _ in self._retransmit.values()]
        times += [r.refresh_at for r in self.registrations if r.refresh_at is not None]
        job = self._next_job()
        if job is not None:
            times.append(job)
        return min(times, default=None)

    def tick(self, now: float) -> list[Output]:
        out: list[Output] = []
        self._handle(self.transactions.tick(now), now, out)
        for call_id, (due, interval) in list(self._retransmit.items()):
            call = self.calls.get(call_id)
            if due > now or call is None:
                continue
            if call.state is not CallState.ANSWERING or call._ok is None or call._invite_tx is None:
                del self._retransmit[call_id]
                continue
            if now >= self._ok_deadline.get(call_id, now):
                del self._retransmit[call_id]   # §13.3.1.4: no ACK, end with a BYE
                self._bye(call, now, out)
                self._end(call, 408, "no ACK for our 200 OK", out, remote=True)
                continue
            out.append(Send(bytes(call._ok), call._invite_tx.address, call.transport, call._ok))
            interval = min(2 * interval, self.timers.t2)
            self._retransmit[call_id] = (due + interval, interval)
        for reg in self.registrations:
            if reg.refresh_at is not None and reg.refresh_at <= now:
                reg.refresh_at = None
                self._send_register(reg, reg.request(), now, out)
        while (job_due := self._next_job()) is not None and job_due <= now:
            _, _, key = heapq.heappop(self._job_heap)
            _, _, job = self._jobs.pop(key)
            job(now, out)
        self._transfer_progress(out, now)
        return out

    # --- registration -----------------------------------------------------------

    def register(self, registration: Registration, now: float) -> list[Output]:
        if registration not in self.registrations:
            self.registrations.append(registration)
        out: list[Output] = []
        self._send_register(registration, registration.request(), now, out)
        return out

    def unregister(self, registration: Registration, now: float) -> list[Output]:
        out: list[Output] = []
        if registration.state in (RegState.REGISTERED, RegState.REGISTERING):
            self._send_register(registration, registration.unregister(), now, out)
        return out

    def _send_register(self, reg: Registration, request: Request, now: float, out: list[Output]) -> None:
        tx, actions = self.transactions.send_request(request, reg.registrar, reg.transport, now)
        self._reg_tx[id(tx)] = reg
        self._handle(actions, now, out)

    # --- outgoing calls ---------------------------------------------------------


    def _locate(self, target: str | URI, via: Address | None, action: str) -> tuple[SipURI, Address, str]:
        """The request URI for `target`, and where to send it: `via` (an outbound proxy) or
        what the resolver finds for the URI."""
        uri = parse_uri(target) if isinstance(target, str) else target
        if not isinstance(uri, SipURI):
            raise OffhookError(f"cannot {action} {target}: only sip: and sips: URIs are supported")
        address, tp = self.resolver(uri)
        return uri, (via if via is not None else address), tp

    def call(self, target: str | URI, capabilities: MediaCapabilities, now: float, *,
             auth: DigestClient | None = None, via: Address | None = None,
             transport: str | None = None,
             headers: Iterable[tuple[str, str]] = ()) -> tuple[Call, list[Output]]:
        """Send an INVITE to `target` with an offer built from `capabilities`.
        `via` sends it to that address (an outbound proxy) instead of the URI's host;
        `headers` are added to the INVITE (Replaces, Referred-By...)."""
        uri, address, tp = self._locate(target, via, "call")
        if transport is not None:
            tp = transport.upper()
        oa = OfferAnswer(capabilities)
        offer = bytes(oa.create_offer())
        call_id = new_call_id(self.contact.host)
        call = Call(call_id=call_id, outgoing=True, peer=address, transport=tp, offer_answer=oa,
                    local_tag=new_tag(), _auth=auth)
        req = Request(method="INVITE", uri=uri)
        me = self._contact(tp)
        req.add_header("Via", me.via())
        req.add_header("Max-Forwards", "70")
        from_name = f'"{self.display_name}" ' if self.display_name else ""
        req.add_header("From", f"{from_name}<{self.identity}>;tag={call.local_tag}")
        req.add_header("To", f"<{SipURI(host=uri.host, user=uri.user, port=uri.port)}>")
        req.add_header("Call-ID", call_id)
        req.add_header("CSeq", f"{initial_cseq()} INVITE")
        req.add_header("Contact", me.contact())
        req.add_header("Allow", self.allow)
        req.add_header("User-Agent", self.user_agent)
        call._invite_headers = list(headers)
        for name, value in call._invite_headers:
            req.add_header(name, value)
        if self.session_timer is not None:
            call._timer = SessionTimer(self.session_timer)
            _set_timer_headers(req, call._timer.request_headers())
        else:
            req.add_header("Supported", SUPPORTED.replace(", timer", ""))
        req.add_header("Content-Type", "application/sdp")
        req.add_header("Content-Length", str(len(offer)))
        req.body = offer
        self._store(call)
        out: list[Output] = []
        self._send_invite(call, req, now, out)
        return call, out

    def _send_invite(self, call: Call, req: Request, now: float, out: list[Output]) -> None:
        if call._auth is not None:
            call._auth.authorize(req)
        call.invite = req
        call._fork = ForkedInvite(req)
        tx, actions = self.transactions.send_request(req, call.peer, call.transport, now)
        call._invite_tx = tx  # type: ignore[assignment]
        self._handle(actions, now, out)

    def hangup(self, call: Call, now: float, status: int = 603) -> list[Output]:
        """End the call whatever its state: CANCEL, BYE, or (incoming) a `status` reply."""
        out: list[Output] = []
        if call.state is CallState.ENDED:
            return out
        if call.outgoing and call.state in (CallState.CALLING, CallState.EARLY):
            if call._provisional:
                self._cancel(call, now, out)
            else:
                call._cancel_pending = True
            return out
        if not call.outgoing and call.state in (CallState.INCOMING, CallState.EARLY):
            return self.reject(call, status, now)
        self._bye(call, now, out)
        self._end(call, 200, "", out, remote=False)
        return out

    def _cancel(self, call: Call, now: float, out: list[Output]) -> None:
        invite = call.invite
        if invite is None:
            return
        cancel = Request(method="CANCEL", uri=invite.uri)
        for name in ("Via", "From", "To", "Call-ID"):
            cancel.add_header(name, invite.get(name) or "")
        cancel.add_header("Max-Forwards", "70")
        cancel.add_header("CSeq", f"{invite.cseq.number} CANCEL")
        for route in invite.get_lines("Route"):
            cancel.add_header("Route", route)
        cancel.add_header("Content-Length", "0")
        _, actions = self.transactions.send_request(cancel, call.peer, call.transport, now)
        self._handle(actions, now, out)

    def hold(self, call: Call, now: float) -> list[Output]:
        return self._reinvite(call, True, now)

    def resume(self, call: Call, now: float) -> list[Output]:
        return self._reinvite(call, False, now)

    def _reinvite(self, call: Call, hold: bool | None, now: float) -> list[Output]:
        what = "refresh" if hold is None else "hold" if hold else "resume"
        if call.state is not CallState.ESTABLISHED or call.dialog is None:
            raise OffhookError(f"cannot {what} a call that is {call.state.value}")
        if call._reinvite_tx is not None:
            raise OffhookError("a re-INVITE is already in progress; wait for its answer")
        self._schedule("glare", call, None, _no_job)
        offer = bytes(call.offer_answer.create_offer(hold=hold))
        extra = call._timer.request_headers() if call._timer is not None and call._timer.active else []
        req = call.dialog.new_request("INVITE", self._contact(call.transport), body=offer,
                                      extra_headers=extra)
        address, tp = self._dialog_address(call)
        out: list[Output] = []
        call._reinvite_hold = hold
        call._reinvite_tx = self._send_in_dialog(  # type: ignore[assignment]
            req, call._auth, address, tp, now, out)
        return out

    # --- transfer (RFC 3515, 3891) ------------------------------------------------

    def transfer(self, call: Call, target: str | URI | Call, now: float) -> list[Output]:
        """Send a REFER asking the far side of `call` to call `target`: a URI (blind
        transfer) or another established call of ours (attended: the far side's INVITE
        carries Replaces naming that call's dialog, so its peer swaps us out). Progress
        comes as "transfer" events; when the NOTIFY reports success we BYE `call`."""
        if call.state is not CallState.ESTABLISHED or call.dialog is None:
            raise OffhookError(f"cannot transfer a call that is {call.state.value}")
        if call._transferor is not None and call._transferor.state in ("requested", "accepted", "progress"):
            raise OffhookError("a transfer of this call is already in progress")
        replaces: Replaces | None = None
        if isinstance(target, Call):
            other = target.dialog
            if target is call or other is None or target.state is not CallState.ESTABLISHED:
                raise OffhookError("an attended transfer needs a second, established call")
            # the dialog as the target sees it: its local tag is our remote tag
            replaces = Replaces(other.call_id, to_tag=other.remote_tag, from_tag=other.local_tag)
            uri: str | URI = other.remote_target
        else:
            uri = target
        try:
            transferor = Transferor(uri if isinstance(uri, str) else str(uri), replaces=replaces,
                                    referred_by=f"<{self.identity}>")
        except (ValueError, SipParseError) as exc:
            raise OffhookError(f"cannot transfer to {target}: {exc}") from None
        dialog = call.dialog
        dialog.local_seq += 1
        req = dialog.new_request("REFER", self._contact(call.transport), cseq=dialog.local_seq,
                                 extra_headers=transferor.refer_headers(dialog.local_seq))
        call._transferor = transferor
        call.transfer_status = None
        address, tp = self._dialog_address(call)
        out: list[Output] = []
        self._send_in_dialog(req, call._auth, address, tp, now, out)
        return out

    def _on_refer(self, call: Call, req: Request, tx: ServerTransaction, now: float,
                  out: list[Output]) -> None:
        """We are the transferee: 202, NOTIFY 100, then INVITE the target."""
        transferee = Transferee(allow=self.accept_transfers)
        verdict = transferee.on_refer(req)
        if isinstance(verdict, ReferReject):
            resp = response_for(req, verdict.status, verdict.reason)
            if verdict.detail:
                resp.add_header("Warning", f'399 offhook "{_quote(verdict.detail)}"')
            self._respond(tx, resp, now, out)
            return
        self._respond(tx, self._reply(call, req, 202), now, out)
        call._transferee = transferee
        self._send_notify(call, verdict.notify.headers, verdict.notify.body, now, out)
        try:
            child, child_out = self.call(verdict.target, self.new_call_capabilities(), now,
                                         auth=call._auth, headers=verdict.invite_headers)
        except OffhookError as exc:
            content = transferee.on_invite_failed(503, str(exc)[:60].replace("\r", " ").replace("\n", " "))
            if content is not None:
                self._send_notify(call, content.headers, content.body, now, out)
            return
        child.transfer_parent = call
        call.transfer_child = child
        out.append(CallEvent(call, "transferred", other=child))
        out.extend(child_out)

    def _send_notify(self, call: Call, headers: list[tuple[str, str]], body: bytes, now: float,
                     out: list[Output]) -> None:
        dialog = call.dialog
        if dialog is None or dialog.state is DialogState.TERMINATED:
            return
        content_type = dict((n.lower(), v) for n, v in headers).get("content-type")
        extra = [(n, v) for n, v in headers if n.lower() != "content-type"]
        notify = dialog.new_request("NOTIFY", self._contact(call.transport), body=body,
                                    content_type=content_type, extra_headers=extra)
        address, tp = self._dialog_address(call)
        self._send_in_dialog(notify, call._auth, address, tp, now, out)

    def _transfer_progress(self, out: list[Output], now: float) -> None:
        """Report what happened to calls we placed for a REFER in NOTIFYs to the transferor."""
        for item in list(out):
            if not isinstance(item, CallEvent) or item.call.transfer_parent is None:
                continue
            parent = item.call.transfer_parent
            transferee = parent._transferee
            if transferee is None:
                continue
            if item.kind == "progress" and item.status is not None:
                content = transferee.on_invite_response(item.status)
            elif item.kind == "answered":
                content = transferee.on_invite_response(item.status or 200)
            elif item.kind == "ended" and item.call.status is not None and item.call.status >= 300:
                content = transferee.on_invite_response(item.call.status)
            else:
                continue
            if content is None:
                continue
            self._send_notify(parent, content.headers, content.body, now, out)
            if item.kind == "answered" and self.transferee_hangs_up and parent.state is CallState.ESTABLISHED:
                self._bye(parent, now, out)
                self._end(parent, 200, "transferred", out, remote=False)

    def _on_notify(self, call: Call, req: Request, tx: ServerTransaction, now: float,
                   out: list[Output]) -> None:
        transferor = call._transferor
        if transferor is None:
            self._respond(tx, response_for(req, 481, "Subscription Does Not Exist"), now, out)
            return
        verdict = transferor.on_notify(req)
        self._respond(tx, response_for(req, verdict.status, verdict.reason), now, out)
        if verdict.frag is not None:
            call.transfer_status = verdict.frag.status
            out.append(CallEvent(call, "transfer", verdict.frag.status))
        if verdict.end_call and call.state is CallState.ESTABLISHED:
            self._bye(call, now, out)
            self._end(call, 200, "transferred", out, remote=False)

    def _replaced_call(self, req: Request) -> tuple[Call | None, int | None]:
        """The call an INVITE's Replaces names (RFC 3891 §3), or the status to refuse it with."""
        value = req.get("Replaces")
        if value is None:
            return None, None
        try:
            replaces = parse_replaces(value)
        except SipParseError:
            return None, 400
        refs: dict[int, Call] = {}
        dialogs: list[DialogRef] = []
        for c in self.calls.values():
            d = c.dialog
            if d is None:
                continue
            state: Literal["early", "confirmed", "terminated"] = (
                "terminated" if c.state is CallState.ENDED or d.state is DialogState.TERMINATED
                else "confirmed" if d.state is DialogState.CONFIRMED else "early")
            ref = DialogRef(d.call_id, d.local_tag, d.remote_tag or None, state, c.outgoing)
            refs[id(ref)] = c
            dialogs.append(ref)
        check = check_replaces(replaces, dialogs)
        if check.dialog is None:
            return None, check.status
        return refs[id(check.dialog)], None

    # --- session timers (RFC 4028) ----------------------------------------------------

    def _arm_session_timer(self, call: Call) -> None:
        timer = call._timer
        due = timer.next_deadline() if timer is not None else None
        self._schedule("session", call, due, lambda now, out: self._session_tick(call, now, out))

    def _session_tick(self, call: Call, now: float, out: list[Output]) -> None:
        timer = call._timer
        if timer is None or call.state is CallState.ENDED:
            return
        event = timer.tick(now)
        if event == "bye":
            self._bye(call, now, out)
            self._end(call, 408, f"session expired: no refresh from {call.peer_text}", out, remote=False)
            return
        if event == "refresh":
            self._refresh(call, now, out)
        self._arm_session_timer(call)

    def _refresh(self, call: Call, now: float, out: list[Output]) -> None:
        """Refresh the session: UPDATE without a body when the peer allows it, else a re-INVITE."""
        if call.dialog is None or call._timer is None or call.state is not CallState.ESTABLISHED:
            return
        if call._reinvite_tx is not None or call._update_tx is not None:
            call._timer.refresh_at = now + 2.0   # a transaction is running: try again shortly
            return
        if "UPDATE" in call.peer_allow:
            req = call.dialog.new_request("UPDATE", self._contact(call.transport),
                                          extra_headers=call._timer.request_headers())
            address, tp = self._dialog_address(call)
            call._update_tx = self._send_in_dialog(req, call._auth, address, tp, now, out)
            return
        out.extend(self._reinvite(call, None, now))

    def refresh(self, call: Call, now: float) -> list[Output]:
        """Refresh the session now (what the session timer does at half its interval)."""
        out: list[Output] = []
        self._refresh(call, now, out)
        return out

    def _on_update_response(self, call: Call, resp: Response, now: float, out: list[Output]) -> None:
        if resp.status < 200:
            return
        call._update_tx = None
        timer = call._timer
        if 200 <= resp.status < 300:
            if timer is not None:
                try:
                    timer.on_response(resp, now)
                except SipParseError:
                    timer.stop()
                self._arm_session_timer(call)
        elif resp.status == 422 and timer is not None and timer.on_422(resp):
            self._refresh(call, now, out)
        elif resp.status in (408, 481):
            self._bye(call, now, out)
            self._end(call, resp.status, f"session refresh failed ({resp.status}) at {call.peer_text}",
                      out, remote=True)

    def _timer_answer(self, call: Call, req: Request, tx: ServerTransaction, now: float,
                      out: list[Output]) -> bool:
        """Session timer rules for a request of the peer that may refresh the session:
        sets call._timer_headers for our 2xx; False when it was answered 422/400 here."""
        call._timer_headers = []
        if self.session_timer is None:
            return True
        timer = call._timer or SessionTimer(self.session_timer)
        try:
            verdict = timer.on_request(req, now)
        except SipParseError as exc:
            resp = response_for(req, 400, to_tag=call.local_tag)
            resp.add_header("Warning", f'399 offhook "{_quote(str(exc))}"')
            self._respond(tx, resp, now, out)
            return False
        if isinstance(verdict, Reject422):
            resp = response_for(req, 422, verdict.reason, to_tag=call.local_tag)
            for name, value in verdict.headers:
                resp.add_header(name, value)
            self._respond(tx, resp, now, out)
            return False
        call._timer = timer if timer.active else None
        call._timer_headers = list(verdict.headers)
        return True

    # --- instant messages (RFC 3428) ------------------------------------------------

    def send_message(self, target: str | URI | Call, text: str, now: float, *,
                     auth: DigestClient | None = None, via: Address | None = None
                     ) -> tuple[Request, list[Output]]:
        """Send `text` as a MESSAGE to a URI (out of dialog) or inside a call; the outcome
        comes as a MessageEvent ("delivered" or "failed" with the status)."""
        try:
            headers, body = message_body(text)
        except ValueError as exc:
            raise OffhookError(str(exc)) from None
        call: Call | None = None
        if isinstance(target, Call):
            call = target
            if call.dialog is None or call.dialog.state is DialogState.TERMINATED:
                raise OffhookError(f"cannot send a message in a call that is {call.state.value}")
            req = call.dialog.new_request("MESSAGE", self._contact(call.transport), body=body,
                                          content_type=headers[0][1])
            address, tp = self._dialog_address(call)
            auth = auth or call._auth or self.auth
        else:
            uri, address, tp = self._locate(target, via, "send a message to")
            req = Request(method="MESSAGE", uri=uri)
            req.add_header("Via", self._contact(tp).via())
            req.add_header("Max-Forwards", "70")
            req.add_header("From", f"<{self.identity}>;tag={new_tag()}")
            req.add_header("To", f"<{SipURI(host=uri.host, user=uri.user, port=uri.port)}>")
            req.add_header("Call-ID", new_call_id(self.contact.host))
            req.add_header("CSeq", f"{initial_cseq()} MESSAGE")
            req.add_header("User-Agent", self.user_agent)
            req.add_header("Content-Type", headers[0][1])
            req.add_header("Content-Length", str(len(body)))
            req.body = body
        out: list[Output] = []
        self._send_message(req, auth, call, address, tp, now, out)
        return req, out

    def _send_message(self, req: Request, auth: DigestClient | None, call: Call | None,
                      address: Address, tp: str, now: float, out: list[Output]) -> None:
        if auth is not None:
            auth.authorize(req)
        tx, actions = self.transactions.send_request(req, address, tp, now)
        self._msg_tx[id(tx)] = (req, auth, call, address, tp)
        self._handle(actions, now, out)

    def _on_message_response(self, pending: tuple[Request, DigestClient | None, Call | None, Address, str],
                             resp: Response, now: float, out: list[Output]) -> None:
        req, auth, call, address, tp = pending
        if resp.status in (401, 407) and auth is not None and req.get("Authorization") is None \
                and req.get("Proxy-Authorization") is None:
            try:
                auth.handle_response(resp, peer=f"{address[0]}:{address[1]}")
            except SipAuthError:
                out.append(MessageEvent("failed", req, status=resp.status, call=call))
                return
            retry = Request(method="MESSAGE", uri=req.uri, headers=[
                (n, v) for n, v in req.headers if n.lower() not in ("via", "v", "cseq")])
            retry.headers.insert(0, ("Via", self._contact(tp).via()))
            retry.add_header("CSeq", f"{req.cseq.number + 1} MESSAGE")
            retry.body = req.body
            self._send_message(retry, auth, call, address, tp, now, out)
            return
        kind: MessageEventKind = "delivered" if resp.status < 300 else "failed"
        out.append(MessageEvent(kind, req, status=resp.status, call=call))

    def _on_message(self, call: Call | None, req: Request, tx: ServerTransaction, now: float,
                    out: list[Output]) -> None:
        result = receive_message(req)
        if isinstance(result, MessageReject):
            resp = response_for(req, result.status, result.reason)
            for name, value in result.headers:
                resp.add_header(name, value)
            self._respond(tx, resp, now, out)
            return
        self._respond(tx, response_for(req, 200, to_tag=new_tag() if call is None else None), now, out)
        out.append(MessageEvent("received", req, message=result, call=call))

    def _on_info(self, call: Call, req: Request, tx: ServerTransaction, now: float,
                 out: list[Output]) -> None:
        try:
            dtmf = parse_dtmf_info(req)
        except SipParseError as exc:
            resp = response_for(req, 400)
            resp.add_header("Warning", f'399 offhook "{_quote(str(exc))}"')
            self._respond(tx, resp, now, out)
            return
        if dtmf is None:
            resp = response_for(req, 415, "Unsupported Media Type")
            resp.add_header("Accept", "application/dtmf-relay, application/dtmf")
            self._respond(tx, resp, now, out)
            return
        self._respond(tx, response_for(req, 200), now, out)
        out.append(CallEvent(call, "dtmf", digit=dtmf.signal))

    def send_info_dtmf(self, call: Call, digit: str, now: float, duration_ms: int = 160) -> list[Output]:
        """Send one DTMF digit as an INFO (application/dtmf-relay): the fallback for peers
        that do not take RFC 4733 telephone-events."""
        if call.state is not CallState.ESTABLISHED or call.dialog is None:
            raise OffhookError(f"cannot send DTMF in a call that is {call.state.value}")
        try:
            headers, body = dtmf_relay_body(digit, duration_ms)
        except ValueError as exc:
            raise OffhookError(str(exc)) from None
        req = call.dialog.new_request("INFO", self._contact(call.transport), body=body,
                                      content_type=headers[0][1])
        address, tp = self._dialog_address(call)
        out: list[Output] = []
        self._send_in_dialog(req, call._auth, address, tp, now, out)
        return out

    def _options_response(self, req: Request) -> Response:
        resp = response_for(req, 200)
        resp.add_header("Allow", self.allow)
        resp.add_header("Accept", "application/sdp")
        resp.add_header("Supported", SUPPORTED)
        resp.add_header("User-Agent", self.user_agent)
        return resp

    # --- keep-alives for registrations ---------------------------------------------------

    def _arm_keepalive(self, reg: Registration, now: float) -> None:
        interval = self.keepalive_interval
        due = now + interval if interval and reg.state is RegState.REGISTERED else None
        self._schedule("keepalive", reg, due, lambda t, out: self._keepalive(reg, t, out))

    def _keepalive(self, reg: Registration, now: float, out: list[Output]) -> None:
        if reg.state is not RegState.REGISTERED or reg not in self.registrations:
            return
        if reg.transport.upper() in ("TCP", "TLS"):
            out.append(KeepAlive(b"\r\n\r\n", reg.registrar, reg.transport.upper()))
        else:
            req = Request(method="OPTIONS", uri=SipURI(host=reg.registrar[0], port=reg.registrar[1]))
            req.add_header("Via", self._contact(reg.transport).via())
            req.add_header("Max-Forwards", "70")
            req.add_header("From", f"<{reg.aor}>;tag={new_tag()}")
            req.add_header("To", f"<{SipURI(host=reg.registrar[0], port=reg.registrar[1])}>")
            req.add_header("Call-ID", new_call_id(self.contact.host))
            req.add_header("CSeq", f"{initial_cseq()} OPTIONS")
            req.add_header("User-Agent", self.user_agent)
            req.add_header("Content-Length", "0")
            tx, actions = self.transactions.send_request(req, reg.registrar, reg.transport, now)
            self._keepalive_tx[id(tx)] = reg
            self._handle(actions, now, out)
        self._arm_keepalive(reg, now)

    # --- incoming calls ---------------------------------------------------------

    def ring(self, call: Call, now: float) -> list[Output]:
        return self._provisional_reply(call, 180, now)

    def early_media(self, call: Call, now: float) -> list[Output]:
        """183 Session Progress carrying our SDP answer: media flows before the answer."""
        return self._provisional_reply(call, 183, now, with_sdp=True)

    def answer(self, call: Call, now: float) -> list[Output]:
        """Send 200 OK with our SDP answer (already negotiated when the INVITE came)."""
        out: list[Output] = []
        tx = call._invite_tx
        if not _unanswered(call) or not isinstance(tx, ServerInviteTransaction):
            raise OffhookError(f"cannot answer a call that is {call.state.value}")
        local = call.offer_answer.local
        body = bytes(local) if local is not None else b""
        ok = self._reply(call, tx.request, 200, body)
        call._ok = ok
        call.state = CallState.ANSWERING
        if call.dialog is not None:
            call.dialog.confirm()
        self._handle(self.transactions.respond(tx, ok, now), now, out)
        if call.transport == "UDP":
            self._retransmit[call.call_id] = (now + self.timers.t1, self.timers.t1)
            self._ok_deadline[call.call_id] = now + self.timers.b
        if call._timer is not None:
            self._arm_session_timer(call)
        self._schedule("forward", call, None, _no_job)
        self._schedule("autoanswer", call, None, _no_job)
        return out

    def reject(self, call: Call, status: int, now: float) -> list[Output]:
        out: list[Output] = []
        tx = call._invite_tx
        if not _unanswered(call) or not isinstance(tx, ServerInviteTransaction):
            raise OffhookError(f"cannot reject a call that is {call.state.value}")
        self._handle(self.transactions.respond(tx, self._reply(call, tx.request, status), now), now, out)
        self._end(call, status, failure_label(status), out, remote=False)
        return out

    def redirect(self, call: Call, target: str, now: float, status: int = 302) -> list[Output]:
        """Answer an unanswered incoming call with a 3xx whose Contact is `target` (forwarding)."""
        tx = call._invite_tx
        if not _unanswered(call) or not isinstance(tx, ServerInviteTransaction):
            raise OffhookError(f"cannot forward a call that is {call.state.value}")
        if not 300 <= status < 400:
            raise ValueError(f"a redirect is a 3xx status, not {status}")
        out: list[Output] = []
        resp = self._reply(call, tx.request, status)
        resp.add_header("Contact", f"<{target}>")
        self._respond(tx, resp, now, out)
        self._end(call, status, f"forwarded to {target}", out, remote=False)
        return out

    def _provisional_reply(self, call: Call, status: int, now: float, *,
                           with_sdp: bool = False) -> list[Output]:
        out: list[Output] = []
        tx = call._invite_tx
        if not _unanswered(call) or not isinstance(tx, ServerInviteTransaction):
            raise OffhookError(f"cannot send {status} on a call that is {call.state.value}")
        call.state = CallState.EARLY
        local = call.offer_answer.local
        body = bytes(local) if with_sdp and local is not None else b""
        self._handle(self.transactions.respond(tx, self._reply(call, tx.request, status, body), now),
                     now, out)
        return out

    def _reply(self, call: Call, request: Request, status: int, body: bytes = b"") -> Response:
        resp = response_for(request, status, to_tag=call.local_tag)
        if status < 300 and request.method in ("INVITE", "UPDATE"):
            for rr in request.get_lines("Record-Route"):
                resp.add_header("Record-Route", rr)
            resp.add_header("Contact", self._contact(call.transport).contact())
            resp.add_header("Allow", self.allow)
            resp.add_header("Supported", SUPPORTED)
            if 200 <= status < 300:
                for name, value in call._timer_headers:
                    resp.add_header(name, value)
        elif status < 300 and request.method == "REFER":
            resp.add_header("Contact", self._contact(call.transport).contact())
        resp.add_header("User-Agent", self.user_agent)
        if body:
            resp.add_header("Content-Type", "application/sdp")
            resp.set_header("Content-Length", str(len(body)))
            resp.body = body
        return resp

    # --- input ------------------------------------------------------------------

    def receive(self, message: Request | Response, source: Address, transport: str,
                now: float) -> list[Output]:
        out: list[Output] = []
        try:
            actions = self.transactions.receive(message, source, transport, now)
        except SipParseError:
            return out  # the transport checks the essentials; a stray bad one is dropped
        self._handle(actions, now, out)
        self._transfer_progress(out, now)
        return out

    def _send_in_dialog(self, req: Request, auth: DigestClient | None, address: Address, tp: str,
                        now: float, out: list[Output], tries: int = 0) -> ClientTransaction:
        """Send an in-dialog request (BYE, re-INVITE, UPDATE, REFER, NOTIFY, INFO), ready to be
        resent once with credentials if a proxy or the peer challenges it (401/407)."""
        if auth is not None:
            auth.authorize(req)
        tx, actions = self.transactions.send_request(req, address, tp, now)
        self._dialog_tx[id(tx)] = (req, auth, address, tp, tries)
        self._handle(actions, now, out)
        return tx

    def _dialog_auth_retry(self, tx: object, resp: Response, now: float, out: list[Output]) -> bool:
        """A 401/407 to an in-dialog request: resend it once with credentials (new branch, CSeq
        up by one, the same body: a re-INVITE keeps its offer). False when it cannot be."""
        pending = self._dialog_tx.pop(id(tx), None)
        if pending is None or resp.status not in (401, 407):
            return False
        req, auth, address, tp, tries = pending
        call = self.calls.get(req.call_id)
        auth = auth or (call._auth if call is not None else None) or self.auth
        if auth is None or tries >= 1:
            return False
        try:
            auth.handle_response(resp, peer=f"{address[0]}:{address[1]}")
        except SipAuthError:
            return False
        dialog = call.dialog if call is not None else None
        if dialog is not None and dialog.local_seq < _CSEQ_LIMIT:
            dialog.local_seq = max(dialog.local_seq, req.cseq.number) + 1
            number = dialog.local_seq
        else:
            number = req.cseq.number + 1
        drop = {"via", "v", "cseq", "authorization", "proxy-authorization"}
        retry = Request(method=req.method, uri=req.uri,
                        headers=[(n, v) for n, v in req.headers if n.lower() not in drop])
        retry.headers.insert(0, ("Via", self._contact(tp).via()))
        retry.headers.insert(1, ("CSeq", f"{number} {req.method}"))
        retry.body = req.body
        new_tx = self._send_in_dialog(retry, auth, address, tp, now, out, tries + 1)
        if call is not None:
            if req.method == "INVITE" and call._reinvite_tx is tx:
                call._reinvite_tx = new_tx  # type: ignore[assignment]
            elif req.method == "UPDATE" and call._update_tx is tx:
                call._update_tx = new_tx
            elif req.method == "REFER" and call._transferor is not None:
                call._transferor.cseq = number   # the NOTIFYs' Event id names the REFER we sent last
        if call is not None and call._auth is None:
            call._auth = auth
        return True

    def transport_error(self, transaction: Transaction, reason: str, now: float) -> list[Output]:
        """The driver could not send a transaction's message (connection refused, TLS
        certificate not trusted): fail the transaction now with `reason` as the one-line
        reason its call or registration reports."""
        out: list[Output] = []
        self._handle(self.transactions.transport_error(transaction, now, reason), now, out)
        return out

    def _handle(self, actions: Iterable[object], now: float, out: list[Output]) -> None:
        self._clock = now
        for action in actions:
            if isinstance(action, Send):
                out.append(action)
            elif isinstance(action, DeliverResponse):
                self._on_response(action, now, out)
            elif isinstance(action, DeliverRequest):
                self._on_request(action, now, out)
            elif isinstance(action, (Timeout, TransportFailure)):
                self._on_failure(action, now, out)

    def _on_failure(self, action: Timeout | TransportFailure, now: float, out: list[Output]) -> None:
        tx = action.transaction
        self._dialog_tx.pop(id(tx), None)
        reg = self._reg_tx.pop(id(tx), None)
        if reg is not None:
            if reg.fail_over():
                self._send_register(reg, reg.request(), now, out)
                return
            if isinstance(action, TransportFailure):
                reg.transport_failed(action.reason)
            else:
                reg.timeout()
            out.append(RegistrationEvent(reg))
            return
        pending = self._msg_tx.pop(id(tx), None)
        if pending is not None:
            out.append(MessageEvent("failed", pending[0], status=408 if isinstance(action, Timeout) else 503,
                                    call=pending[2]))
            return
        reg = self._keepalive_tx.pop(id(tx), None)
        if reg is not None:
            if reg.state is RegState.REGISTERED:   # the registrar is gone: register again now
                reg.refresh_at = now
            return
        call = self.calls.get(tx.request.call_id)
        if call is None or call.state is CallState.ENDED:
            return
        if tx is call._invite_tx:
            if call.outgoing and self._failover(call, now, out):
                return
            if isinstance(action, Timeout) and action.timer == "H":
                self._end(call, 408, "no ACK for our final response", out, remote=True)
            elif call.outgoing:
                status = 408 if isinstance(action, Timeout) else 503
                reason = action.reason if isinstance(action, TransportFailure) else \
                    f"{failure_label(status)} ({status}) at {call.peer_text}"
                self._end(call, status, reason, out, remote=True)
        elif tx is call._update_tx:
            call._update_tx = None
            self._bye(call, now, out)
            self._end(call, 408, f"no answer to our session refresh at {call.peer_text}", out, remote=True)
        elif tx is call._reinvite_tx:
            call._reinvite_tx = None
            self._bye(call, now, out)
            self._end(call, 408, f"no answer to our re-INVITE at {call.peer_text}", out, remote=True)

    # responses

    def _on_response(self, action: DeliverResponse, now: float, out: list[Output]) -> None:
        resp = action.response
        tx = action.transaction
        if tx is not None and id(tx) in self._reg_tx:
            if resp.status >= 200:
                reg = self._reg_tx.pop(id(tx))
                if resp.status == 503 and reg.fail_over():
                    self._send_register(reg, reg.request(), now, out)
                    return
                retry = reg.receive_response(resp, now)
                if retry is not None:
                    self._send_register(reg, retry, now, out)
                else:
                    out.append(RegistrationEvent(reg))
                    self._arm_keepalive(reg, now)
            return
        if tx is not None and resp.status >= 200:
            if self._dialog_auth_retry(tx, resp, now, out):
                return
            self._dialog_tx.pop(id(tx), None)
            pending = self._msg_tx.pop(id(tx), None)
            if pending is not None:
                self._on_message_response(pending, resp, now, out)
                return
            if self._keepalive_tx.pop(id(tx), None) is not None:
                return   # any answer shows the path is alive
        call = self.calls.get(resp.call_id)
        if call is None:
            return
        method = resp.cseq.method
        if method == "INVITE" and call._reinvite_tx is not None and (
                tx is call._reinvite_tx or resp.cseq.number == call._reinvite_tx.request.cseq.number):
            self._on_reinvite_response(call, resp, now, out)
        elif method == "INVITE":
            self._on_invite_response(call, resp, now, out)
        elif method == "UPDATE" and tx is not None and tx is call._update_tx:
            self._on_update_response(call, resp, now, out)
        elif method == "REFER" and call._transferor is not None and resp.status >= 200:
            state = call._transferor.on_refer_response(resp.status)
            if state == "failed":
                call.transfer_status = resp.status
            out.append(CallEvent(call, "transfer", resp.status))
        elif method == "BYE" and resp.status >= 200:
            pass  # the call ended when we sent it

    def _on_invite_response(self, call: Call, resp: Response, now: float, out: list[Output]) -> None:
        fork = call._fork
        invite = call.invite
        if fork is None or invite is None or resp.cseq.number != invite.cseq.number:
            return
        status = resp.status
        if status in (401, 407) and call.state in (CallState.CALLING, CallState.EARLY):
            self._auth_retry(call, resp, now, out)
            return
        if status == 422 and call._timer is not None and call.state in (CallState.CALLING, CallState.EARLY) \
                and call._timer.on_422(resp):
            self._resend_invite(call, now, out)
            return
        if status == 503 and self._failover(call, now, out):
            return
        if 300 <= status < 400 and call.state in (CallState.CALLING, CallState.EARLY) \
                and not call._cancel_pending and self._redirect(call, resp, now, out):
            return
        try:
            outcome = fork.receive_response(resp)
        except (DialogError, SipParseError) as exc:
            if 200 <= status < 300:
                self._end(call, 502, f"unusable 200 OK from {call.peer_text}: {exc}", out, remote=True)
            return
        if status < 200:
            if status > 100:
                call._provisional = True
                if call.state is CallState.CALLING:
                    call.state = CallState.EARLY
                if outcome.dialog is not None and call.dialog is None:
                    call.dialog = outcome.dialog
                out.append(CallEvent(call, "progress", status))
                if resp.body and call.offer_answer.pending_offer is not None:
                    self._early_media(call, resp, out)
            if call._cancel_pending:
                call._cancel_pending = False
                self._cancel(call, now, out)
            return
        if status >= 300:
            if call.state is not CallState.ENDED:
                self._end(call, status, f"{failure_label(status, resp.reason)} ({status}) at "
                          f"{call.peer_text}", out, remote=True)
            return
        dialog = outcome.dialog
        if dialog is None:
            return
        if outcome.ack_and_bye:
            self._send_ack(dialog, invite.cseq.number, now, out, remember=None)
            self._bye_dialog(dialog, now, out)
            return
        if outcome.retransmission:
            if call._ack is not None and call._ack_to is not None:
                out.append(Send(bytes(call._ack), call._ack_to, call.transport, call._ack))
            return
        call.dialog = dialog
        call.status = status
        self._send_ack(dialog, invite.cseq.number, now, out, remember=call)
        if call._cancel_pending or _is_ended(call):
            self._bye_dialog(dialog, now, out)   # answered while we were cancelling
            self._end(call, 487, "cancelled", out, remote=False)
            return
        call.state = CallState.ESTABLISHED
        call.peer_allow = _allowed(resp)
        if call._timer is not None:
            try:
                call._timer.on_response(resp, now)
            except SipParseError:
                call._timer.stop()
            self._arm_session_timer(call)
        out.append(CallEvent(call, "answered", status))
        if call.offer_answer.pending_offer is None:
            return   # the answer came early (183 with SDP) and stays the session's
        try:
            call.media = call.offer_answer.receive_answer(parse_sdp(resp.body))
        except (SdpError, NegotiationError) as exc:
            self._bye(call, now, out)
            self._end(call, 488, f"unusable SDP answer from {call.peer_text}: {exc}", out, remote=False)
            return
        out.append(CallEvent(call, "media"))

    def _early_media(self, call: Call, resp: Response, out: list[Output]) -> None:
        """SDP in a 1xx (without 100rel) is taken as the answer, so early media (ringback,
        announcements) plays; the 2xx's SDP, the same answer by RFC 3261 §13.2.1, is then
        not negotiated again."""
        try:
            call.media = call.offer_answer.receive_answer(parse_sdp(resp.body))
        except (SdpError, NegotiationError):
            return   # not usable as early media: the 2xx will carry the answer
        out.append(CallEvent(call, "media", resp.status))

    def _auth_retry(self, call: Call, resp: Response, now: float, out: list[Output]) -> None:
        invite = call.invite
        assert invite is not None  # checked by the caller
        if call._auth is None:
            self._end(call, resp.status, f"authentication required ({resp.status}) at {call.peer_text}: "
                      "no credentials (pass --user and --password)", out, remote=True)
            return
        try:
            call._auth.handle_response(resp, peer=call.peer_text)
        except SipAuthError as exc:
            self._end(call, resp.status, str(exc), out, remote=True)
            return
        call._auth_tries += 1
        if call._auth_tries > 3:
            self._end(call, resp.status, f"authentication failed ({resp.status}) at {call.peer_text}",
                      out, remote=True)
            return
        self._resend_invite(call, now, out)

    def _resend_invite(self, call: Call, now: float, out: list[Output], uri: URI | None = None) -> None:
        """The INVITE again with a new branch and CSeq (after 401/407, 422 or a 3xx to `uri`)."""
        invite = call.invite
        assert invite is not None  # checked by the callers
        drop = {"via", "v", "cseq", "authorization", "proxy-authorization"}
        if call._timer is not None:
            drop.update(_TIMER_HEADERS)
        if uri is not None:
            drop.update(("to", "t"))
        retry = Request(method="INVITE", uri=uri or invite.uri, headers=[
            (n, v) for n, v in invite.headers if n.lower() not in drop])
        retry.headers.insert(0, ("Via", self._contact(call.transport).via()))
        if uri is not None and isinstance(uri, SipURI):
            retry.headers.insert(1, ("To", f"<{SipURI(host=uri.host, user=uri.user, port=uri.port)}>"))
        retry.add_header("CSeq", f"{invite.cseq.number + 1} INVITE")
        if call._timer is not None:
            _set_timer_headers(retry, call._timer.request_headers())
            # keep Content-Type/Length last, as a reader expects
            retry.headers = [h for h in retry.headers
                             if h[0].lower() not in ("content-type", "content-length")]
            retry.add_header("Content-Type", "application/sdp")
            retry.add_header("Content-Length", str(len(invite.body)))
        retry.body = invite.body
        self._send_invite(call, retry, now, out)

    def _failover(self, call: Call, now: float, out: list[Output]) -> bool:
        """RFC 3263 §4.3: after a transport error or 503, the next server of the lookup."""
        failover = getattr(self.resolver, "failover", None)
        invite = call.invite
        if failover is None or invite is None or call.state is not CallState.CALLING or call._provisional:
            return False
        if not failover(invite.uri):
            return False
        try:
            call.peer, call.transport = self.resolver(invite.uri)
        except OffhookError:
            return False
        self._resend_invite(call, now, out)
        return True

    def _redirect(self, call: Call, resp: Response, now: float, out: list[Output]) -> bool:
        """Follow a 3xx to its first usable Contact (RFC 3261 §8.1.3.4), at most
        max_redirects times per call; False when there is nowhere (else) to go."""
        if call.redirects >= self.max_redirects or call.invite is None:
            return False
        tried = call._tried
        tried.add(str(call.invite.uri))
        for contact in resp.contacts:
            uri = contact.uri
            if not isinstance(uri, SipURI) or str(uri) in tried:
                continue
            try:
                address, tp = self.resolver(uri)
            except OffhookError:
                continue
            call.redirects += 1
            call.peer, call.transport = address, tp
            call._provisional = False
            out.append(CallEvent(call, "redirected", resp.status))
            self._resend_invite(call, now, out, uri=uri)
            return True
        return False

    def _on_reinvite_response(self, call: Call, resp: Response, now: float, out: list[Output]) -> None:
        tx = call._reinvite_tx
        if tx is None or resp.status < 200:
            return
        call._reinvite_tx = None
        if call.dialog is None:
            return
        if 200 <= resp.status < 300:
            call.dialog.confirm(resp)
            self._send_ack(call.dialog, tx.request.cseq.number, now, out, remember=call)
            if call._timer is not None:
                try:
                    call._timer.on_response(resp, now)
                except SipParseError:
                    call._timer.stop()
                self._arm_session_timer(call)
            try:
                call.media = call.offer_answer.receive_answer(parse_sdp(resp.body))
            except (SdpError, NegotiationError):
                return
            out.append(CallEvent(call, "media"))
            return
        call.offer_answer.rollback()
        hold = call._reinvite_hold
        if resp.status == 491:
            # §14.1 glare: retry after 2.1-4 s if we own the Call-ID (we placed the call), else 0-2 s
            delay = (self.rng.randint(210, 400) if call.outgoing else self.rng.randint(0, 200)) / 100
            self._schedule("glare", call, now + delay, lambda t, o: self._retry_reinvite(call, hold, t, o))
            return
        if resp.status == 422 and call._timer is not None and call._timer.on_422(resp):
            self._retry_reinvite(call, hold, now, out)
            return
        if resp.status in (408, 481):   # §14.1: the dialog is gone
            self._bye(call, now, out)
            self._end(call, resp.status, f"re-INVITE failed ({resp.status}) at {call.peer_text}",
                      out, remote=True)
            return
        out.append(CallEvent(call, "refused", status=resp.status))   # §14.1: the session is unchanged

    def _retry_reinvite(self, call: Call, hold: bool | None, now: float, out: list[Output]) -> None:
        if call.state is CallState.ESTABLISHED and call._reinvite_tx is None:
            # an offer of the peer may be pending: theirs won, ours is moot
            with contextlib.suppress(OffhookError, NegotiationError):
                out.extend(self._reinvite(call, hold, now))

    def _send_ack(self, dialog: Dialog, cseq: int, now: float, out: list[Output], *,
                  remember: Call | None) -> None:
        address, tp = self.resolver(dialog.next_hop())
        if remember is not None:
            tp = remember.transport
        ack = dialog.ack(cseq, self._contact(tp))
        if remember is not None:
            remember._ack, remember._ack_to = ack, address
        out.append(Send(bytes(ack), address, tp, ack))

    def _bye(self, call: Call, now: float, out: list[Output]) -> None:
        if call.dialog is not None and call.dialog.state is not DialogState.TERMINATED:
            self._bye_dialog(call.dialog, now, out, call._auth, call.transport)

    def _bye_dialog(self, dialog: Dialog, now: float, out: list[Output],
                    auth: DigestClient | None = None, transport: str | None = None) -> None:
        address, tp = self.resolver(dialog.next_hop())
        tp = transport or tp
        bye = dialog.new_request("BYE", self._contact(tp), extra_headers=[("User-Agent", self.user_agent)])
        dialog.terminate()
        self._send_in_dialog(bye, auth, address, tp, now, out)

    def _dialog_address(self, call: Call) -> tuple[Address, str]:
        assert call.dialog is not None  # callers check
        address, _ = self.resolver(call.dialog.next_hop())
        return address, call.transport

    # requests

    def _on_request(self, action: DeliverRequest, now: float, out: list[Output]) -> None:
        req = action.request
        tx = action.transaction
        call = self._find_call(req)
        if req.method == "ACK":
            if call is not None and call.state is CallState.ANSWERING:
                call.state = CallState.ESTABLISHED
                self._retransmit.pop(call.call_id, None)
                out.append(CallEvent(call, "confirmed"))
            return
        if tx is None:
            return
        if req.method == "CANCEL":
            self._on_cancel(req, tx, now, out)
            return
        if req.to.tag:
            if call is None or call.dialog is None:
                self._respond(tx, response_for(req, 481), now, out)
                return
            self._in_dialog(call, req, tx, now, out)
            return
        if req.method == "INVITE":
            self._on_invite(req, tx, action.source, action.transport, now, out)
        elif req.method == "OPTIONS":
            self._respond(tx, self._options_response(req), now, out)
        elif req.method in ("BYE", "UPDATE", "REFER", "NOTIFY", "INFO"):
            if not self._handled(None, req, tx, now, out):
                self._respond(tx, response_for(req, 481), now, out)
        elif req.method == "MESSAGE" and "MESSAGE" not in self.method_handlers:
            if not self.source_allowed(action.source):
                self._respond(tx, response_for(req, 403), now, out)
            else:
                self._on_message(None, req, tx, now, out)
        elif not self._handled(None, req, tx, now, out):
            resp = response_for(req, 405 if req.method in ("REGISTER", "SUBSCRIBE") else 501)
            resp.add_header("Allow", self.allow)
            self._respond(tx, resp, now, out)

    def _find_call(self, req: Request) -> Call | None:
        call = self.calls.get(req.call_id)
        if call is None:
            return None
        if call.dialog is not None and req.to.tag and not call.dialog.matches(req):
            return None
        return call

    def _respond(self, tx: ServerTransaction, resp: Response, now: float, out: list[Output]) -> None:
        self._handle(self.transactions.respond(tx, resp, now), now, out)

    def _on_invite(self, req: Request, tx: ServerTransaction, source: Address, transport: str,
                   now: float, out: list[Output]) -> None:
        if not isinstance(tx, ServerInviteTransaction):
            return
        if not self.source_allowed(source):
            self._respond(tx, response_for(req, 403), now, out)
            return
        if len(self._live) >= self.max_calls:
            resp = response_for(req, 486)
            self._respond(tx, resp, now, out)
            return
        if req.call_id in self.calls:
            self._respond(tx, response_for(req, 482, "Loop Detected"), now, out)
            return
        replaced, refusal = self._replaced_call(req)
        if refusal is not None:
            self._respond(tx, response_for(req, refusal), now, out)
            return
        caps = self.media_capabilities(req)
        call = Call(call_id=req.call_id, outgoing=False, peer=source, transport=transport,
                    offer_answer=OfferAnswer(caps), state=CallState.INCOMING, local_tag=new_tag(),
                    invite=req, _invite_tx=tx)
        try:
            call.dialog = Dialog.from_uas_request(req, call.local_tag)
        except (DialogError, SipParseError) as exc:
            resp = response_for(req, 400, "Bad Request")
            resp.set_header("Warning", f'399 offhook "{str(exc)[:100]}"')
            self._respond(tx, resp, now, out)
            return
        try:
            if not req.body:
                raise NegotiationError("INVITE without an SDP offer is not supported", 488)
            _, call.media = call.offer_answer.receive_offer(parse_sdp(req.body))
        except (SdpError, NegotiationError) as exc:
            status = exc.status_code if isinstance(exc, NegotiationError) else 488
            resp = response_for(req, status, to_tag=call.local_tag)
            resp.add_header("Warning", f'304 offhook "{str(exc)[:100]}"')
            self._respond(tx, resp, now, out)
            return
        if not self._timer_answer(call, req, tx, now, out):
            return
        call.peer_allow = _allowed(req)
        if replaced is not None:
            # RFC 3891: the new call takes over at once (the user already talks to this peer)
            self._store(call)
            call.replaces, replaced.replaced_by = replaced, call
            out.extend(self.answer(call, now))
            out.append(CallEvent(replaced, "replaced", other=call))
            if replaced.state is not CallState.ENDED:
                out.extend(self.hangup(replaced, now))
                replaced.reason = "replaced"
            return
        if self.policy is not None and not self._apply_policy(call, req, tx, now, out):
            return
        self._store(call)
        out.append(CallEvent(call, "incoming"))
        decision = call.decision
        if isinstance(decision, AutoAnswer):
            self._schedule("autoanswer", call, now + decision.after,
                           lambda t, o: o.extend(self.answer(call, t)) if _unanswered(call) else None)
        elif isinstance(decision, Ring) and decision.forward_to is not None:
            target = decision.forward_to
            self._schedule("forward", call, now + (decision.forward_after or 0.0),
                           lambda t, o: self._forward(call, target, t, o))

    def _apply_policy(self, call: Call, req: Request, tx: ServerTransaction, now: float,
                      out: list[Output]) -> bool:
        """Consult the CallPolicy; False when it answered the INVITE (forward, DND, busy)."""
        assert self.policy is not None  # checked by the caller
        active = len(self._live)
        decision = self.policy.decide(req, active_calls=active)
        call.decision = decision
        if isinstance(decision, Forward):
            resp = self._reply(call, req, decision.status)
            resp.reason = decision.reason
            for name, value in decision.headers:
                resp.add_header(name, value)
            self._respond(tx, resp, now, out)
            return False
        if isinstance(decision, Reject):
            self._respond(tx, self._reply(call, req, decision.status), now, out)
            return False
        return True

    def _forward(self, call: Call, target: str, now: float, out: list[Output]) -> None:
        """Forward on no answer: 302 to `target` if the call still rings."""
        if _unanswered(call) and isinstance(call._invite_tx, ServerInviteTransaction):
            out.extend(self.redirect(call, target, now))

    def _on_cancel(self, req: Request, tx: ServerTransaction, now: float, out: list[Output]) -> None:
        invite_tx = self.transactions.find_invite(req)
        call = self.calls.get(req.call_id)
        if invite_tx is None or call is None or call._invite_tx is not invite_tx:
            self._respond(tx, response_for(req, 481), now, out)
            return
        self._respond(tx, response_for(req, 200), now, out)
        if call.state in (CallState.INCOMING, CallState.EARLY):
            self._respond(invite_tx, self._reply(call, invite_tx.request, 487), now, out)
            self._end(call, 487, f"cancelled by the caller at {call.peer_text}", out, remote=True)

    def _in_dialog(self, call: Call, req: Request, tx: ServerTransaction, now: float,
                   out: list[Output]) -> None:
        dialog = call.dialog
        assert dialog is not None  # checked by the caller
        try:
            dialog.receive_request(req)
        except DialogError:
            self._respond(tx, response_for(req, 500, "Server Internal Error"), now, out)
            return
        if req.method == "BYE":
            self._respond(tx, response_for(req, 200), now, out)
            self._end(call, 200, "", out, remote=True)
        elif req.method in ("INVITE", "UPDATE"):
            self._on_reoffer(call, req, tx, now, out)
        elif req.method == "OPTIONS":
            self._respond(tx, self._options_response(req), now, out)
        elif self._handled(call, req, tx, now, out):
            pass
        elif req.method == "REFER":
            self._on_refer(call, req, tx, now, out)
        elif req.method == "NOTIFY":
            self._on_notify(call, req, tx, now, out)
        elif req.method == "INFO":
            self._on_info(call, req, tx, now, out)
        elif req.method == "MESSAGE":
            self._on_message(call, req, tx, now, out)
        else:
            self._respond(tx, response_for(req, 501, "Not Implemented"), now, out)

    def _on_reoffer(self, call: Call, req: Request, tx: ServerTransaction, now: float,
                    out: list[Output]) -> None:
        if not self._timer_answer(call, req, tx, now, out):
            return
        if req.method == "UPDATE" and not req.body:   # RFC 3311 without SDP: a session refresh
            self._respond(tx, self._reply(call, req, 200), now, out)
            self._arm_session_timer(call)
            return
        if not req.body:   # offerless re-INVITE: offer our current SDP in the 200 (not supported)
            self._respond(tx, response_for(req, 488, "Not Acceptable Here"), now, out)
            return
        try:
            answer, media = call.offer_answer.receive_offer(parse_sdp(req.body))
        except (SdpError, NegotiationError) as exc:
            status = exc.status_code if isinstance(exc, NegotiationError) else 488
            resp = response_for(req, status)
            if status == 491:
                resp.add_header("Retry-After", "1")
            self._respond(tx, resp, now, out)
            return
        ok = self._reply(call, req, 200, bytes(answer))
        self._respond(tx, ok, now, out)
        self._arm_session_timer(call)
        if req.method == "INVITE" and call.transport == "UDP":
            call._ok = ok
            call.state = CallState.ANSWERING
            call._invite_tx = tx if isinstance(tx, ServerInviteTransaction) else call._invite_tx
            self._retransmit[call.call_id] = (now + self.timers.t1, self.timers.t1)
            self._ok_deadline[call.call_id] = now + self.timers.b
        call.media = media
        out.append(CallEvent(call, "media"))

    def _end(self, call: Call, status: int, reason: str, out: list[Output], *, remote: bool) -> None:
        if call.state is CallState.ENDED:
            return
        call.state = CallState.ENDED
        call.status = status
        call.reason = reason
        call.ended_by_remote = remote
        self._retransmit.pop(call.call_id, None)
        self._ok_deadline.pop(call.call_id, None)
        self._live.discard(call.call_id)
        for job in ("session", "glare", "forward", "autoanswer"):
            self._schedule(job, call, None, _no_job)
        if self.linger is not None and self.calls.get(call.call_id) is call:
            # keep it for late retransmissions (a dialog's 2xx/BYE), then drop it so the
            # table stays bounded; a call that never had a dialog only needs a moment
            linger = self.linger if (call.dialog is not None and call.dialog.state is not DialogState.EARLY) \
                or call.status == 200 else min(self.linger, 5.0)
            self._schedule("forget", call, self._clock + linger, lambda t, o: self.forget(call))
        if call.dialog is not None and not remote:
            call.dialog.terminate()
        out.append(CallEvent(call, "ended", status))

    def forget(self, call: Call) -> None:
        """Drop an ended call from the table (done by itself `linger` seconds after the end)."""
        if call.state is CallState.ENDED and self.calls.get(call.call_id) is call:
            del self.calls[call.call_id]
            self._schedule("forget", call, None, _no_job)


def _no_job(now: float, out: list[Output]) -> None:
    return None


def _quote(text: str) -> str:
    """Text for a Warning header's quoted string."""
    return text.replace("\\", "").replace('"', "'").replace("\r", " ").replace("\n", " ")[:100]


def _set_timer_headers(req: Request, headers: list[tuple[str, str]]) -> None:
    """Replace the session timer headers (and Supported) of a request we send."""
    req.headers = [(n, v) for n, v in req.headers if n.lower() not in _TIMER_HEADERS]
    for name, value in headers:
        req.add_header(name, SUPPORTED if name == "Supported" else value)


def _allowed(msg: Request | Response) -> frozenset[str]:
    return frozenset(m.strip().upper() for value in msg.get_all("Allow")
                     for m in value.split(",") if m.strip())


def _is_ended(call: Call) -> bool:
    return call.state is CallState.ENDED


def _unanswered(call: Call) -> bool:
    return call.state in (CallState.INCOMING, CallState.EARLY)


def _same_host(a: str, b: str) -> bool:
    try:
        return ipaddress.ip_address(a.strip("[]")) == ipaddress.ip_address(b.strip("[]"))
    except ValueError:
        return a.lower() == b.lower()
