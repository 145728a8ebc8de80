"""SIP dialogs (RFC 3261 §12), sans-I/O.

A Dialog is the peer-to-peer relationship an INVITE sets up: Call-ID, the local
and remote tags, the local and remote CSeq counters, the route set (from
Record-Route) and the remote target (from Contact). It builds the requests sent
inside it (BYE, re-INVITE, the ACK for a 2xx) and checks the ones received.

Choices:
- A UAC dialog is created by a 1xx with a To tag (early) or a 2xx (confirmed);
  its route set is the Record-Route of that response, reversed (§12.1.2). A UAS
  dialog takes the request's Record-Route in order (§12.1.1).
- A target refresh (2xx to a re-INVITE, or a re-INVITE received) updates the
  remote target from Contact; the route set is fixed once confirmed (§12.2).
- Loose routing (`;lr` on the first route) keeps the remote target as Request-URI
  and lists the route set in Route; a strict router becomes the Request-URI and
  the remote target goes last in Route (§12.2.1.1).
- Forking (§13.2.2.4): `ForkedInvite` keeps one early dialog per To tag for one
  INVITE; the first 2xx is the call, every later 2xx from another branch is a
  dialog to ACK and BYE at once (`ForkOutcome.ack_and_bye`).
- CSeq numbers start at a random value below 2**31 (§8.1.1.5) and never wrap
  past 2**32-1 (a dialog that would is refused with DialogError).
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from enum import Enum

from offhook.errors import OffhookError
from offhook.sip.grammar import Address, Via
from offhook.sip.message import Request, Response
from offhook.sip.transaction import new_branch
from offhook.sip.uri import URI, SipURI

__all__ = [
    "Dialog",
    "DialogError",
    "DialogState",
    "ForkOutcome",
    "ForkedInvite",
    "LocalContact",
    "new_call_id",
    "new_tag",
]

_CSEQ_MAX = 2**32 - 1


class DialogError(OffhookError, ValueError):
    """A message does not fit the dialog (wrong Call-ID or tags, CSeq going back)
    or the dialog was asked for something its state forbids."""


class DialogState(Enum):
    EARLY = "early"
    CONFIRMED = "confirmed"
    TERMINATED = "terminated"


def new_tag() -> str:
    """A From/To tag: 64 random bits, hex (§19.3 wants 32 at least)."""
    return secrets.token_hex(8)


def new_call_id(host: str) -> str:
    return f"{secrets.token_hex(12)}@{host}"


def initial_cseq() -> int:
    return secrets.randbelow(2**31 - 1) + 1


@dataclass(frozen=True)
class LocalContact:
    """Where we are reachable: host and port for Via and Contact, and the transport."""

    host: str
    port: int
    transport: str = "UDP"
    user: str | None = None

    @property
    def uri(self) -> SipURI:
        params: dict[str, str | None] = {}
        if self.transport.upper() != "UDP":
            params["transport"] = self.transport.lower()
        host = f"[{self.host}]" if ":" in self.host else self.host
        return SipURI(host=host, user=self.user, port=self.port, params=params,
                      scheme="sips" if self.transport.upper() == "TLS" else "sip")

    def contact(self) -> str:
        return f"<{self.uri}>"

    def via(self, branch: str | None = None) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        via = Via(self.transport.upper(), host, self.port,
                  {"branch": branch or new_branch(), "rport": None})
        return str(via)


def _target(msg: Request | Response) -> URI | None:
    contacts = msg.contacts
    return contacts[0].uri if contacts else None


@dataclass
class Dialog:
    """One dialog's state; `uac` is True on the side that sent the INVITE."""

    call_id: str
    local_tag: str
    remote_tag: str
    local_uri: Address          # From (ours) without the tag
    remote_uri: Address         # To (theirs) without the tag
    remote_target: URI
    route_set: list[Address] = field(default_factory=list)
    local_seq: int = 0
    remote_seq: int | None = None
    uac: bool = True
    state: DialogState = DialogState.EARLY
    secure: bool = False

    # --- creation -------------------------------------------------------------------

    @classmethod
    def from_uac_response(cls, request: Request, response: Response) -> Dialog:
        """The dialog a 1xx-with-tag or 2xx to our INVITE creates (§12.1.2)."""
        tag = response.to.tag
        if not tag:
            raise DialogError(f"a {response.status} without a To tag creates no dialog")
        target = _target(response)
        if target is None:
            raise DialogError(f"the {response.status} to our INVITE has no Contact")
        local = request.from_
        remote = response.to
        return cls(
            call_id=request.call_id, local_tag=local.tag or "", remote_tag=tag,
            local_uri=_untagged(local), remote_uri=_untagged(remote), remote_target=target,
            route_set=list(reversed(response.record_routes)), local_seq=request.cseq.number,
            uac=True, state=DialogState.CONFIRMED if 200 <= response.status < 300 else DialogState.EARLY,
            secure=isinstance(request.uri, SipURI) and request.uri.secure)

    @classmethod
    def from_uas_request(cls, request: Request, local_tag: str,
                         state: DialogState = DialogState.EARLY) -> Dialog:
        """The dialog we create answering an INVITE with a 1xx/2xx carrying local_tag (§12.1.1)."""
        target = _target(request)
        if target is None:
            raise DialogError("the INVITE has no Contact")
        return cls(
            call_id=request.call_id, local_tag=local_tag, remote_tag=request.from_.tag or "",
            local_uri=_untagged(request.to), remote_uri=_untagged(request.from_),
            remote_target=target, route_set=list(request.record_routes),
            local_seq=initial_cseq(), remote_seq=request.cseq.number, uac=False, state=state,
            secure=isinstance(request.uri, SipURI) and request.uri.secure)

    @property
    def id(self) -> tuple[str, str, str]:
        return (self.call_id, self.local_tag, self.remote_tag)

    def confirm(self, response: Response | None = None) -> None:
        """A 2xx confirms the dialog; for a UAC its Contact becomes the remote target
        (the route set stays that of the first response only while early)."""
        if response is not None and self.uac:
            target = _target(response)
            if target is not None:
                self.remote_target = target
            if self.state is DialogState.EARLY:
                self.route_set = list(reversed(response.record_routes))
        self.state = DialogState.CONFIRMED

    def terminate(self) -> None:
        self.state = DialogState.TERMINATED

    # --- requests we send -----------------------------------------------------------

    def new_request(self, method: str, contact: LocalContact, *, body: bytes = b"",
                    content_type: str | None = None, cseq: int | None = None,
                    extra_headers: list[tuple[str, str]] | None = None) -> Request:
        """An in-dialog request (§12.2.1.1); CSeq goes up by one unless given (ACK, CANCEL)."""
        if self.state is DialogState.TERMINATED:
            raise DialogError(f"cannot send {method} in a terminated dialog")
        if cseq is None:
            if self.local_seq >= _CSEQ_MAX:
                raise DialogError("the dialog's CSeq space is exhausted")
            self.local_seq += 1
            cseq = self.local_seq
        uri, routes = self._request_uri_and_routes()
        req = Request(method=method, uri=uri)
        req.add_header("Via", contact.via())
        req.add_header("Max-Forwards", "70")
        req.add_header("From", str(_tagged(self.local_uri, self.local_tag)))
        req.add_header("To", str(_tagged(self.remote_uri, self.remote_tag)))
        req.add_header("Call-ID", self.call_id)
        req.add_header("CSeq", f"{cseq} {method}")
        for route in routes:
            req.add_header("Route", str(route))
        if method in ("INVITE", "UPDATE", "SUBSCRIBE", "NOTIFY", "REFER"):
            req.add_header("Contact", contact.contact())
        for name, value in extra_headers or []:
            req.add_header(name, value)
        if body:
            req.add_header("Content-Type", content_type or "application/sdp")
        req.add_header("Content-Length", str(len(body)))
        req.body = body
        return req

    def ack(self, invite_cseq: int, contact: LocalContact, *, body: bytes = b"") -> Request:
        """The ACK for a 2xx to our (re-)INVITE: same CSeq number, new branch (§13.2.2.4)."""
        return self.new_request("ACK", contact, body=body, cseq=invite_cseq)

    def next_hop(self) -> URI:
        """The URI whose host/port the request goes to: the first route, else the target."""
        if self.route_set:
            return self.route_set[0].uri
        return self.remote_target

    def _request_uri_and_routes(self) -> tuple[URI, list[Address]]:
        if not self.route_set:
            return self.remote_target, []
        first = self.route_set[0].uri
        if isinstance(first, SipURI) and "lr" not in first.params:
            # strict router: it becomes the Request-URI, the target goes last
            stripped = SipURI(host=first.host, user=first.user, port=first.port,
                              params={k: v for k, v in first.params.items()
                                      if k not in ("method", "maddr", "ttl", "transport", "lr")},
                              scheme=first.scheme)
            return stripped, [*self.route_set[1:], Address(self.remote_target)]
        return self.remote_target, list(self.route_set)

    # --- requests we receive --------------------------------------------------------

    def matches(self, msg: Request | Response) -> bool:
        """True when msg belongs to this dialog (Call-ID and both tags)."""
        try:
            if msg.call_id != self.call_id:
                return False
            from_tag, to_tag = msg.from_.tag, msg.to.tag
        except OffhookError:
            return False
        if isinstance(msg, Request):
            return from_tag == self.remote_tag and to_tag == self.local_tag
        return from_tag == self.local_tag and to_tag == self.remote_tag

    def receive_request(self, request: Request) -> None:
        """Check and record an in-dialog request's CSeq (§12.2.2): a lower number than
        the last is out of order (answer 500); ACK and CANCEL reuse their INVITE's."""
        number = request.cseq.number
        if request.method in ("ACK", "CANCEL"):
            return
        if self.remote_seq is not None and number <= self.remote_seq:
            raise DialogError(f"CSeq {number} is not above the last one received "
                              f"({self.remote_seq}): out of order")
        self.remote_seq = number
        if request.method in ("INVITE", "UPDATE"):
            target = _target(request)
            if target is not None:
                self.remote_target = target


def _untagged(addr: Address) -> Address:
    params = {k: v for k, v in addr.params.items() if k != "tag"}
    return Address(addr.uri, addr.display_name, params, True)


def _tagged(addr: Address, tag: str) -> Address:
    params = dict(addr.params)
    if tag:
        params["tag"] = tag
    return Address(addr.uri, addr.display_name, params, True)


# --- forking ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ForkOutcome:
    """What a response to a forked INVITE means for the UAC.

    `dialog` is the dialog the response belongs to (None for a 1xx without tag or a
    non-2xx final); `new` is True when it was just created; `answered` is True for the
    first 2xx (the call); `ack_and_bye` is True for a later 2xx from another branch:
    ACK it and BYE that dialog at once; `retransmission` for a 2xx already seen.
    """

    dialog: Dialog | None
    new: bool = False
    answered: bool = False
    ack_and_bye: bool = False
    retransmission: bool = False


class ForkedInvite:
    """The dialogs one outgoing INVITE may create (one per To tag), first 2xx wins."""

    def __init__(self, request: Request, max_dialogs: int = 16) -> None:
        if request.method != "INVITE":
            raise DialogError(f"ForkedInvite tracks an INVITE, not {request.method}")
        self.request = request
        self.max_dialogs = max_dialogs
        self.dialogs: dict[str, Dialog] = {}
        self.winner: Dialog | None = None
        self._answered_tags: set[str] = set()

    def receive_response(self, response: Response) -> ForkOutcome:
        status = response.status
        tag = response.to.tag
        if status >= 300 or not tag or status == 100:
            if status >= 300:
                for d in self.dialogs.values():
                    if d is not self.winner:
                        d.terminate()
            return ForkOutcome(None)
        dialog = self.dialogs.get(tag)
        new = False
        if dialog is None:
            if len(self.dialogs) >= self.max_dialogs and status < 200:
                return ForkOutcome(None)
            try:
                dialog = Dialog.from_uac_response(self.request, response)
            except DialogError:
                if status < 200:
                    return ForkOutcome(None)
                raise
            self.dialogs[tag] = dialog
            new = True
        if status < 200:
            return ForkOutcome(dialog, new=new)
        if tag in self._answered_tags:
            return ForkOutcome(dialog, retransmission=True)
        self._answered_tags.add(tag)
        dialog.confirm(response)
        if self.winner is None:
            self.winner = dialog
            for other in self.dialogs.values():
                if other is not dialog and other.state is DialogState.EARLY:
                    other.terminate()
            return ForkOutcome(dialog, new=new, answered=True)
        return ForkOutcome(dialog, new=new, ack_and_bye=True)
