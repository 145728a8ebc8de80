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
there. Session timers, REFER and MESSAGE live in their own modules: they plug in
through `method_handlers` (method -> handler(call or None, request) -> response);
other unknown methods answer 501 (405 for REGISTER/SUBSCRIBE).
"""
from __future__ import annotations

import ipaddress
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
from offhook.sip.register import Registration, RegState
from offhook.sip.transaction import (
    ClientInviteTransaction,
    DeliverRequest,
    DeliverResponse,
    Send,
    ServerInviteTransaction,
    ServerTransaction,
    Timeout,
    TimerConfig,
    TransactionManager,
    TransportFailure,
    response_for,
)
from offhook.sip.uri import URI, SipURI, parse_uri

__all__ = [
    "Call",
    "CallEvent",
    "CallState",
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
ALLOW = "INVITE, ACK, BYE, CANCEL, OPTIONS, UPDATE"

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

    @property
    def established(self) -> bool:
        return self.state is CallState.ESTABLISHED

    @property
    def peer_text(self) -> str:
        return f"{self.peer[0]}:{self.peer[1]}"


CallEventKind = Literal["incoming", "progress", "answered", "media", "ended", "confirmed"]


@dataclass(frozen=True, eq=False)
class CallEvent:
    """Something happened to a call: "incoming" (ring the user), "progress" (1xx,
    `status`), "answered" (2xx; ACK sent), "confirmed" (our 200 was ACKed), "media"
    (`call.media` changed: answer, hold, resume), "ended" (`status`, `call.reason`)."""

    call: Call
    kind: CallEventKind
    status: int | None = None


@dataclass(frozen=True, eq=False)
class RegistrationEvent:
    """A registration's state changed: see `registration.state` and `.reason`."""

    registration: Registration


Output = Send | CallEvent | RegistrationEvent


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

    def __post_init__(self) -> None:
        self.transactions = TransactionManager(self.timers)
        self._reg_tx: dict[int, Registration] = {}     # id(client tx) -> registration
        self._retransmit: dict[str, tuple[float, float]] = {}  # call id -> (due, interval)
        self._ok_deadline: dict[str, float] = {}

    @property
    def allow(self) -> str:
        return ", ".join([ALLOW, *self.method_handlers])

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
        return replace(self.contact, transport=transport)

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

    def call(self, target: str | URI, capabilities: MediaCapabilities, now: float, *,
             auth: DigestClient | None = None, via: Address | None = None,
             transport: str | None = None) -> tuple[Call, list[Output]]:
        """Send an INVITE to `target` with an offer built from `capabilities`.
        `via` sends it to that address (an outbound proxy) instead of the URI's host."""
        uri = parse_uri(target) if isinstance(target, str) else target
        if not isinstance(uri, SipURI):
            raise OffhookError(f"cannot call {target}: only sip: and sips: URIs are supported")
        address, tp = self.resolver(uri)
        if via is not None:
            address = via
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
        req.add_header("Content-Type", "application/sdp")
        req.add_header("Content-Length", str(len(offer)))
        req.body = offer
        self.calls[call_id] = call
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

    def _reinvite(self, call: Call, hold: bool, now: float) -> list[Output]:
        if call.state is not CallState.ESTABLISHED or call.dialog is None:
            raise OffhookError(f"cannot {'hold' if hold else 'resume'} a call that is {call.state.value}")
        if call._reinvite_tx is not None:
            raise OffhookError("a re-INVITE is already in progress; wait for its answer")
        offer = bytes(call.offer_answer.create_offer(hold=hold))
        req = call.dialog.new_request("INVITE", self._contact(call.transport), body=offer)
        if call._auth is not None:
            call._auth.authorize(req)
        address, tp = self._dialog_address(call)
        tx, actions = self.transactions.send_request(req, address, tp, now)
        call._reinvite_tx = tx  # type: ignore[assignment]
        call._reinvite_hold = hold
        out: list[Output] = []
        self._handle(actions, now, out)
        return out

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
        return out

    def reject(self, call: Call, status: int, now: float) -> list[Output]:
        out: list[Output] = []
        tx = call._invite_tx
        if not _unanswered(call) or not isinstance(tx, ServerInviteTransaction):
            raise OffhookError(f"cannot reject a call that is {call.state.value}")
        self._handle(self.transactions.respond(tx, self._reply(call, tx.request, status), now), now, out)
        self._end(call, status, failure_label(status), out, remote=False)
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
        return out

    def _handle(self, actions: Iterable[object], now: float, out: list[Output]) -> None:
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
        reg = self._reg_tx.pop(id(tx), None)
        if reg is not None:
            reg.timeout()
            out.append(RegistrationEvent(reg))
            return
        call = self.calls.get(tx.request.call_id)
        if call is None or call.state is CallState.ENDED:
            return
        if tx is call._invite_tx:
            if isinstance(action, Timeout) and action.timer == "H":
                self._end(call, 408, "no ACK for our final response", out, remote=True)
            elif call.outgoing:
                status = 408 if isinstance(action, Timeout) else 503
                self._end(call, status, f"{failure_label(status)} ({status}) at {call.peer_text}",
                          out, remote=True)
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
                retry = reg.receive_response(resp, now)
                if retry is not None:
                    self._send_register(reg, retry, now, out)
                else:
                    out.append(RegistrationEvent(reg))
            return
        call = self.calls.get(resp.call_id)
        if call is None:
            return
        method = resp.cseq.method
        if method == "INVITE" and call._reinvite_tx is not None and (
                tx is call._reinvite_tx or resp.cseq.number == call._reinvite_tx.request.cseq.number):
            self._on_reinvite_response(call, resp, now, out)
        elif method == "INVITE":
            self._on_invite_response(call, resp, now, out)
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
        retry = Request(method="INVITE", uri=invite.uri, headers=[
            (n, v) for n, v in invite.headers
            if n.lower() not in ("via", "v", "cseq", "authorization", "proxy-authorization")])
        retry.headers.insert(0, ("Via", self._contact(call.transport).via()))
        retry.add_header("CSeq", f"{invite.cseq.number + 1} INVITE")
        retry.body = invite.body
        self._send_invite(call, retry, now, out)

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
            try:
                call.media = call.offer_answer.receive_answer(parse_sdp(resp.body))
            except (SdpError, NegotiationError):
                return
            out.append(CallEvent(call, "media"))
            return
        call.offer_answer.rollback()
        if resp.status in (408, 481):   # §14.1: the dialog is gone
            self._bye(call, now, out)
            self._end(call, resp.status, f"re-INVITE failed ({resp.status}) at {call.peer_text}",
                      out, remote=True)

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
        if auth is not None:
            auth.authorize(bye)
        dialog.terminate()
        _, actions = self.transactions.send_request(bye, address, tp, now)
        self._handle(actions, now, out)

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
            resp = response_for(req, 200)
            resp.add_header("Allow", self.allow)
            resp.add_header("Accept", "application/sdp")
            self._respond(tx, resp, now, out)
        elif req.method in ("BYE", "UPDATE"):
            self._respond(tx, response_for(req, 481), now, out)
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
        if len([c for c in self.calls.values() if c.state is not CallState.ENDED]) >= self.max_calls:
            resp = response_for(req, 486)
            self._respond(tx, resp, now, out)
            return
        if req.call_id in self.calls:
            self._respond(tx, response_for(req, 482, "Loop Detected"), now, out)
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
        self.calls[call.call_id] = call
        out.append(CallEvent(call, "incoming"))

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
            self._respond(tx, response_for(req, 200), now, out)
        elif not self._handled(call, req, tx, now, out):
            self._respond(tx, response_for(req, 501, "Not Implemented"), now, out)

    def _on_reoffer(self, call: Call, req: Request, tx: ServerTransaction, now: float,
                    out: list[Output]) -> None:
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
        if call.dialog is not None and not remote:
            call.dialog.terminate()
        out.append(CallEvent(call, "ended", status))

    def forget(self, call: Call) -> None:
        """Drop an ended call from the table."""
        if call.state is CallState.ENDED:
            self.calls.pop(call.call_id, None)


def _is_ended(call: Call) -> bool:
    return call.state is CallState.ENDED


def _unanswered(call: Call) -> bool:
    return call.state in (CallState.INCOMING, CallState.EARLY)


def _same_host(a: str, b: str) -> bool:
    try:
        return ipaddress.ip_address(a.strip("[]")) == ipaddress.ip_address(b.strip("[]"))
    except ValueError:
        return a.lower() == b.lower()
