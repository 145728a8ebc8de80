"""SIP transactions (RFC 3261 §17 as amended by RFC 6026), sans-I/O.

Four state machines, one per RFC figure: client INVITE (Fig. 5), client
non-INVITE (Fig. 6), server INVITE (Fig. 7) and server non-INVITE (Fig. 8).
They never touch a socket or a clock. Every entry point takes the current time
(`now`, seconds on any monotonic scale) and returns a list of actions for the
caller to carry out: `Send` bytes to an address, deliver a request or response
to the transaction user (`DeliverRequest`/`DeliverResponse`), report a
`Timeout` or `TransportFailure`, and note `TransactionTerminated`. The caller
asks `next_deadline()` when to call `tick(now)` next; a late tick fires every
timer that is due, in order, and retransmission intervals are counted from the
time a timer was due, not from when the tick came, so the wire schedule is the
RFC's exactly however coarse the caller's clock.

Choices:
- RFC 6026: a 2xx moves an INVITE transaction to Accepted (client: Timer M,
  server: Timer L, both 64*T1) instead of Terminated, so 2xx retransmissions
  from forking proxies reach the TU through the client transaction, and the
  server transaction absorbs INVITE retransmissions after sending a 2xx. The
  TU (dialog layer) retransmits its own 2xx and sends the ACK for a 2xx; an
  ACK for a 2xx carries a new branch and reaches the TU as a stray request.
- The server INVITE transaction answers 100 Trying at once (`send_trying`),
  which §17.2.1 allows: the TU is then free to take longer than 200 ms.
- Responses go back to where the request came from (`source`): with rport or
  a connection-oriented transport that is the §18.2.2 answer; a transport
  that wants the Via received/maddr rules can rewrite the address.
- Timer D is max(32 s, 64*T1) over UDP; D, I, J and K are zero over reliable
  transports (anything but UDP), so those transactions end at once.
- Matching (§17.1.3, §17.2.3): client side by top-Via branch and CSeq
  method; server side by branch, sent-by and method, ACK matching its INVITE.
  A CANCEL is its own transaction; `TransactionManager.find_invite(cancel)`
  finds the INVITE it cancels (§9.2). Requests whose branch lacks the
  z9hG4bK cookie (RFC 2543 peers) match on Request-URI, From tag, Call-ID,
  CSeq number, top Via and method; the To-tag comparison of §17.2.3 for an
  ACK is left out (the Request-URI, From tag, Call-ID and CSeq already tie
  it to one INVITE).
- The table is bounded: a new request that would exceed it is answered 503
  statelessly (DESIGN.md: overload is a 503, never a crash).
"""
from __future__ import annotations

import heapq
import itertools
import secrets
from dataclasses import dataclass, field
from enum import Enum

from offhook.errors import OffhookError, SipParseError
from offhook.sip.message import Request, Response

__all__ = [
    "DEFAULT_TIMERS",
    "Action",
    "Address",
    "ClientInviteTransaction",
    "ClientNonInviteTransaction",
    "ClientTransaction",
    "DeliverRequest",
    "DeliverResponse",
    "Send",
    "ServerInviteTransaction",
    "ServerNonInviteTransaction",
    "ServerTransaction",
    "Timeout",
    "TimerConfig",
    "Transaction",
    "TransactionError",
    "TransactionManager",
    "TransactionState",
    "TransactionTerminated",
    "TransportFailure",
    "new_branch",
    "response_for",
]

Address = tuple[str, int]
MAGIC_COOKIE = "z9hG4bK"
_UNRELIABLE = frozenset({"UDP"})
_REASONS = {
    100: "Trying", 180: "Ringing", 183: "Session Progress", 200: "OK", 202: "Accepted",
    400: "Bad Request", 403: "Forbidden", 404: "Not Found", 408: "Request Timeout",
    481: "Call/Transaction Does Not Exist", 486: "Busy Here", 487: "Request Terminated",
    500: "Server Internal Error", 503: "Service Unavailable", 603: "Decline",
}


class TransactionError(OffhookError, ValueError):
    """A transaction was asked for something its state or the RFC forbids (a
    response from the TU after the final one, a request without a branch, a full
    table...)."""


@dataclass(frozen=True)
class TimerConfig:
    """RFC 3261 timer values in seconds: T1 (RTT estimate, 0.5), T2 (longest
    retransmit interval for non-INVITE requests and INVITE responses, 4), T4 (how
    long a message may live in the network, 5), and Timer D's floor over UDP (32)."""

    t1: float = 0.5
    t2: float = 4.0
    t4: float = 5.0
    timer_d: float = 32.0

    def __post_init__(self) -> None:
        for name in ("t1", "t2", "t4", "timer_d"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"TimerConfig.{name} must be a positive number of seconds, "
                                 f"got {value!r}")
        if self.t2 < self.t1:
            raise ValueError(f"TimerConfig.t2 ({self.t2} s) must not be shorter than t1 ({self.t1} s)")

    @property
    def b(self) -> float:
        """Timers B, F, H, J, L and M: 64*T1."""
        return 64 * self.t1


DEFAULT_TIMERS = TimerConfig()


class TransactionState(Enum):
    CALLING = "Calling"
    TRYING = "Trying"
    PROCEEDING = "Proceeding"
    COMPLETED = "Completed"
    CONFIRMED = "Confirmed"
    ACCEPTED = "Accepted"
    TERMINATED = "Terminated"


# --- actions -------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Send:
    """Send `data` (the serialised `message`) to `address` over `transport`."""

    data: bytes
    address: Address
    transport: str
    message: Request | Response
    transaction: Transaction | None = None


@dataclass(frozen=True, eq=False)
class DeliverRequest:
    """A request for the TU: new (`transaction` is its server transaction) or an
    ACK/stray request matching none (`transaction` is None; answer it statelessly)."""

    request: Request
    transaction: ServerTransaction | None
    source: Address
    transport: str


@dataclass(frozen=True, eq=False)
class DeliverResponse:
    """A response for the TU; `transaction` is None for a response matching no
    transaction (e.g. a 2xx retransmitted after Timer M: the dialog layer ACKs it)."""

    response: Response
    transaction: ClientTransaction | None


@dataclass(frozen=True, eq=False)
class Timeout:
    """Timer B or F (no final response) or H (no ACK) fired: the TU treats it as a
    408 (client) or a failed call (server)."""

    transaction: Transaction
    timer: str


@dataclass(frozen=True, eq=False)
class TransportFailure:
    """The transport could not send for this transaction (reported by the caller)."""

    transaction: Transaction
    reason: str


@dataclass(frozen=True, eq=False)
class TransactionTerminated:
    transaction: Transaction


Action = Send | DeliverRequest | DeliverResponse | Timeout | TransportFailure | TransactionTerminated


# --- helpers -------------------------------------------------------------------------


def new_branch() -> str:
    """A fresh RFC 3261 branch: the magic cookie and 64 random bits."""
    return MAGIC_COOKIE + secrets.token_hex(8)


def response_for(request: Request, status: int, reason: str | None = None, *,
                 to_tag: str | None = None) -> Response:
    """A response to `request` (§8.2.6): Via, From, Call-ID, CSeq copied, To copied
    with `to_tag` added when it has none, Content-Length 0. The TU adds Contact,
    body and the rest."""
    if not 100 <= status <= 699:
        raise ValueError(f"SIP status {status} is not in 100-699")
    resp = Response(status=status, reason=reason if reason is not None else _REASONS.get(status, ""))
    for name, value in request.headers:
        if name.lower() in ("via", "v", "from", "f", "call-id", "i", "cseq", "timestamp"):
            resp.add_header(name, value)
        elif name.lower() in ("to", "t"):
            if to_tag is not None and "tag" not in request.to.params:
                value = f"{value};tag={to_tag}"
            resp.add_header(name, value)
    resp.add_header("Content-Length", "0")
    return resp


def _top_via_branch(msg: Request | Response) -> str:
    vias = msg.via
    if not vias:
        raise SipParseError("missing Via header", status=400)
    return vias[0].branch or ""


def _client_key(branch: str, method: str) -> tuple[str, ...]:
    return ("c", branch, method)


def _server_key(request: Request, method: str | None = None) -> tuple[str, ...]:
    """§17.2.3 key; `method` overrides the request's (ACK and CANCEL look up INVITE)."""
    if method is None:
        method = "INVITE" if request.method == "ACK" else request.method
    vias = request.via
    if not vias:
        raise SipParseError("missing Via header", status=400)
    top = vias[0]
    port = top.port if top.port is not None else (5061 if top.transport in ("TLS", "WSS") else 5060)
    branch = top.branch or ""
    if branch.startswith(MAGIC_COOKIE):
        return ("s", branch, top.host.lower(), str(port), method)
    return ("s2543", str(request.uri), request.from_.tag or "", request.call_id,
            str(request.cseq.number), str(top), method)


# --- the state machines --------------------------------------------------------------


class _Transaction:
    """What all four machines share: the request, where it goes, timers, the tick loop."""

    _initial_state = TransactionState.TRYING

    def __init__(self, request: Request, address: Address, transport: str,
                 timers: TimerConfig) -> None:
        self.request = request
        self.address = address
        self.transport = transport.upper()
        self.reliable = self.transport not in _UNRELIABLE
        self.timers = timers
        self.state = self._initial_state
        self._started = False
        self.branch = _top_via_branch(request)
        self._deadlines: dict[str, float] = {}
        self._intervals: dict[str, float] = {}

    @property
    def terminated(self) -> bool:
        return self.state is TransactionState.TERMINATED

    def next_deadline(self) -> float | None:
        """When `tick` next has work to do, or None (waiting on the peer or TU, or ended)."""
        return min(self._deadlines.values(), default=None)

    def tick(self, now: float) -> list[Action]:
        """Fire every timer due at `now`, earliest first."""
        actions: list[Action] = []
        while self._deadlines and not self.terminated:
            name, when = min(self._deadlines.items(), key=lambda item: item[1])
            if when > now:
                break
            del self._deadlines[name]
            self._fire(name, when, actions)
        return actions

    def transport_error(self, now: float, reason: str = "transport error") -> list[Action]:
        """The caller could not send for this transaction: tell the TU and end (§17.1.4,
        §17.2.4); an Accepted server transaction only tells (RFC 6026, Figure 7)."""
        if self.terminated:
            return []
        actions: list[Action] = [TransportFailure(self, reason)]  # type: ignore[arg-type]
        if self.state is not TransactionState.ACCEPTED or not isinstance(self, ServerInviteTransaction):
            self._terminate(actions)
        return actions

    # internals
    def _fire(self, name: str, when: float, actions: list[Action]) -> None:
        raise NotImplementedError

    def _set(self, name: str, when: float) -> None:
        self._deadlines[name] = when

    def _cancel(self, *names: str) -> None:
        for name in names:
            self._deadlines.pop(name, None)

    def _retransmit_timer(self, name: str, now: float, first: float) -> None:
        """Arm a retransmission timer (A, E or G) at its first interval, unless reliable."""
        if not self.reliable:
            self._intervals[name] = first
            self._set(name, now + first)

    def _wait_or_end(self, name: str, now: float, duration: float, actions: list[Action]) -> None:
        """Timers D, I, J, K: `duration` over UDP, zero (end now) over reliable transports."""
        if self.reliable:
            self._terminate(actions)
        else:
            self._set(name, now + duration)

    def _send(self, message: Request | Response, actions: list[Action], data: bytes | None = None) -> None:
        actions.append(Send(data if data is not None else bytes(message), self.address,
                            self.transport, message, self))  # type: ignore[arg-type]

    def _terminate(self, actions: list[Action]) -> None:
        if not self.terminated:
            self.state = TransactionState.TERMINATED
            self._deadlines.clear()
            actions.append(TransactionTerminated(self))  # type: ignore[arg-type]

    def __repr__(self) -> str:
        return (f"<{type(self).__name__} {self.request.method} branch={self.branch} "
                f"{self.state.value} {self.transport}>")


class _ClientTransaction(_Transaction):
    def __init__(self, request: Request, address: Address, transport: str,
                 timers: TimerConfig = DEFAULT_TIMERS) -> None:
        if not isinstance(request, Request):
            raise TypeError(f"a client transaction starts from a Request, not {type(request).__name__}")
        super().__init__(request, address, transport, timers)
        if not self.branch:
            raise TransactionError("the request's top Via has no branch parameter; "
                                   "add one made with offhook.sip.new_branch()")
        self._data = bytes(request)
        self.key = _client_key(self.branch, request.method)
        self.last_response: Response | None = None

    # The retransmission and timeout timers: A/B for INVITE, E/F otherwise.
    _RETRANSMIT_TIMER = ""
    _TIMEOUT_TIMER = ""

    def start(self, now: float) -> list[Action]:
        """Sends the request and arms the retransmission and timeout timers."""
        if self._started:
            raise TransactionError("the transaction was already started")
        self._started = True
        actions: list[Action] = []
        self._send(self.request, actions, self._data)
        self._retransmit_timer(self._RETRANSMIT_TIMER, now, self.timers.t1)
        self._set(self._TIMEOUT_TIMER, now + self.timers.b)
        return actions

    def receive_response(self, response: Response, now: float) -> list[Action]:
        raise NotImplementedError


class ClientInviteTransaction(_ClientTransaction):
    """RFC 3261 Figure 5 with RFC 6026's Accepted state.

    Calling --1xx--> Proceeding --300-699 (send ACK)--> Completed --Timer D--> Terminated;
    Calling/Proceeding --2xx--> Accepted --Timer M--> Terminated; Calling --Timer B--> Terminated.
    Timer A retransmits the INVITE at T1, 2T1, 4T1... (no T2 cap) until a response or Timer B.
    """

    _initial_state = TransactionState.CALLING
    _RETRANSMIT_TIMER = "A"
    _TIMEOUT_TIMER = "B"

    def __init__(self, request: Request, address: Address, transport: str,
                 timers: TimerConfig = DEFAULT_TIMERS) -> None:
        if request.method != "INVITE":
            raise TransactionError(f"ClientInviteTransaction needs an INVITE, not {request.method}")
        super().__init__(request, address, transport, timers)
        self.ack: Request | None = None

    def _fire(self, name: str, when: float, actions: list[Action]) -> None:
        if name == "A" and self.state is TransactionState.CALLING:
            self._send(self.request, actions, self._data)
            self._intervals["A"] *= 2
            self._set("A", when + self._intervals["A"])
        elif name == "B" and self.state is TransactionState.CALLING:
            actions.append(Timeout(self, "B"))
            self._terminate(actions)
        elif name in ("D", "M"):
            self._terminate(actions)

    def receive_response(self, response: Response, now: float) -> list[Action]:
        actions: list[Action] = []
        status = response.status
        state = self.state
        if state in (TransactionState.CALLING, TransactionState.PROCEEDING):
            self._cancel("A", "B")
            self.last_response = response
            if status < 200:
                self.state = TransactionState.PROCEEDING
            elif status < 300:
                self.state = TransactionState.ACCEPTED
                self._set("M", now + self.timers.b)
            else:
                self.state = TransactionState.COMPLETED
                self.ack = self._build_ack(response)
                self._send(self.ack, actions)
            actions.append(DeliverResponse(response, self))
            if self.state is TransactionState.COMPLETED:
                self._wait_or_end("D", now, max(self.timers.timer_d, self.timers.b), actions)
        elif state is TransactionState.COMPLETED and status >= 300 and self.ack is not None:
            self._send(self.ack, actions)  # the response was retransmitted: our ACK was lost
        elif state is TransactionState.ACCEPTED and 200 <= status < 300:
            actions.append(DeliverResponse(response, self))  # RFC 6026: forked 2xx go to the TU
        return actions

    def _build_ack(self, response: Response) -> Request:
        """§17.1.1.3: same Request-URI, Call-ID, From, top Via (so same branch) and CSeq
        number as the INVITE, the response's To (with its tag), the INVITE's Route set."""
        req = self.request
        ack = Request(method="ACK", uri=req.uri)
        ack.add_header("Via", req.get_lines("Via")[0])
        for name in ("Max-Forwards",):
            value = req.get(name)
            if value is not None:
                ack.add_header(name, value)
        for name, value in req.headers:
            if name.lower() == "route":
                ack.add_header(name, value)
        ack.add_header("From", req.get_lines("From")[0])
        to_lines = response.get_lines("To")
        ack.add_header("To", to_lines[0] if to_lines else req.get_lines("To")[0])
        ack.add_header("Call-ID", req.get_lines("Call-ID")[0])
        ack.add_header("CSeq", f"{req.cseq.number} ACK")
        ack.add_header("Content-Length", "0")
        return ack


class ClientNonInviteTransaction(_ClientTransaction):
    """RFC 3261 Figure 6.

    Trying --1xx--> Proceeding --200-699--> Completed --Timer K--> Terminated;
    Trying/Proceeding --Timer F--> Terminated. Timer E retransmits at T1, 2T1... capped at
    T2, and at T2 once a provisional response came.
    """

    _RETRANSMIT_TIMER = "E"
    _TIMEOUT_TIMER = "F"

    def __init__(self, request: Request, address: Address, transport: str,
                 timers: TimerConfig = DEFAULT_TIMERS) -> None:
        if request.method in ("INVITE", "ACK"):
            raise TransactionError(f"{request.method} is not sent through a non-INVITE "
                                   "client transaction" + (" (an ACK has none)"
                                                           if request.method == "ACK" else ""))
        super().__init__(request, address, transport, timers)

    def _fire(self, name: str, when: float, actions: list[Action]) -> None:
        if name == "E" and self.state in (TransactionState.TRYING, TransactionState.PROCEEDING):
            self._send(self.request, actions, self._data)
            if self.state is TransactionState.TRYING:
                self._intervals["E"] = min(2 * self._intervals["E"], self.timers.t2)
            else:
                self._intervals["E"] = self.timers.t2
            self._set("E", when + self._intervals["E"])
        elif name == "F":
            actions.append(Timeout(self, "F"))
            self._terminate(actions)
        elif name == "K":
            self._terminate(actions)

    def receive_response(self, response: Response, now: float) -> list[Action]:
        actions: list[Action] = []
        if self.state not in (TransactionState.TRYING, TransactionState.PROCEEDING):
            return actions  # Completed absorbs retransmitted finals
        self.last_response = response
        if response.status < 200:
            self.state = TransactionState.PROCEEDING
            actions.append(DeliverResponse(response, self))
            return actions
        self.state = TransactionState.COMPLETED
        self._cancel("E", "F")
        actions.append(DeliverResponse(response, self))
        self._wait_or_end("K", now, self.timers.t4, actions)
        return actions


class _ServerTransaction(_Transaction):
    def __init__(self, request: Request, source: Address, transport: str,
                 timers: TimerConfig = DEFAULT_TIMERS) -> None:
        if not isinstance(request, Request):
            raise TypeError(f"a server transaction starts from a Request, not {type(request).__name__}")
        super().__init__(request, source, transport, timers)
        self.key = _server_key(request)
        self.last_response: Response | None = None
        self._last_data = b""

    def start(self, now: float) -> list[Action]:
        """Hand the request to the TU (and, for INVITE, answer 100 Trying)."""
        raise NotImplementedError

    def receive_request(self, request: Request, now: float) -> list[Action]:
        """A retransmission of the request (or, for INVITE, its ACK)."""
        raise NotImplementedError

    def respond(self, response: Response, now: float) -> list[Action]:
        """The TU's response: sent now, retransmitted as the RFC says."""
        raise NotImplementedError

    def _check_response(self, response: Response) -> None:
        if not isinstance(response, Response):
            raise TypeError(f"respond() takes a Response, not {type(response).__name__}")
        if not 100 <= response.status <= 699:
            raise TransactionError(f"status {response.status} is not a SIP status (100-699)")

    def _send_response(self, response: Response, actions: list[Action]) -> None:
        self.last_response = response
        self._last_data = bytes(response)
        self._send(response, actions, self._last_data)

    def _resend_last(self, actions: list[Action]) -> None:
        if self.last_response is not None:
            self._send(self.last_response, actions, self._last_data)


class ServerInviteTransaction(_ServerTransaction):
    """RFC 3261 Figure 7 with RFC 6026's Accepted state.

    Proceeding --300-699 from TU--> Completed --ACK--> Confirmed --Timer I--> Terminated;
    Completed --Timer H--> Terminated; Proceeding --2xx from TU--> Accepted --Timer L--> Terminated.
    Timer G retransmits the final response at T1, 2T1... capped at T2, until the ACK.
    """

    _initial_state = TransactionState.PROCEEDING

    def __init__(self, request: Request, source: Address, transport: str,
                 timers: TimerConfig = DEFAULT_TIMERS, *, send_trying: bool = True) -> None:
        if request.method != "INVITE":
            raise TransactionError(f"ServerInviteTransaction needs an INVITE, not {request.method}")
        super().__init__(request, source, transport, timers)
        self.send_trying = send_trying
        self.ack: Request | None = None

    def start(self, now: float) -> list[Action]:
        if self._started:
            raise TransactionError("the transaction was already started")
        self._started = True
        actions: list[Action] = []
        if self.send_trying:
            self._send_response(response_for(self.request, 100), actions)
        actions.append(DeliverRequest(self.request, self, self.address, self.transport))
        return actions

    def receive_request(self, request: Request, now: float) -> list[Action]:
        actions: list[Action] = []
        if request.method == "ACK":
            if self.state is TransactionState.COMPLETED:
                self.ack = request
                self.state = TransactionState.CONFIRMED
                self._cancel("G", "H")
                self._wait_or_end("I", now, self.timers.t4, actions)
            elif self.state is TransactionState.ACCEPTED:
                actions.append(DeliverRequest(request, None, self.address, self.transport))
            return actions  # Confirmed absorbs ACK retransmissions
        if self.state in (TransactionState.PROCEEDING, TransactionState.COMPLETED):
            self._resend_last(actions)
        return actions  # Accepted and Confirmed absorb INVITE retransmissions

    def respond(self, response: Response, now: float) -> list[Action]:
        self._check_response(response)
        actions: list[Action] = []
        status = response.status
        if self.state is TransactionState.PROCEEDING:
            self._send_response(response, actions)
            if 200 <= status < 300:
                self.state = TransactionState.ACCEPTED
                self._set("L", now + self.timers.b)
            elif status >= 300:
                self.state = TransactionState.COMPLETED
                self._retransmit_timer("G", now, self.timers.t1)
                self._set("H", now + self.timers.b)
            return actions
        if self.state is TransactionState.ACCEPTED and 200 <= status < 300:
            self._send_response(response, actions)  # the TU's own 2xx retransmission
            return actions
        raise TransactionError(
            f"cannot send {status} from the {self.state.value} state of an INVITE server "
            "transaction (a final response was already sent)")

    def _fire(self, name: str, when: float, actions: list[Action]) -> None:
        if name == "G" and self.state is TransactionState.COMPLETED:
            self._resend_last(actions)
            self._intervals["G"] = min(2 * self._intervals["G"], self.timers.t2)
            self._set("G", when + self._intervals["G"])
        elif name == "H" and self.state is TransactionState.COMPLETED:
            actions.append(Timeout(self, "H"))
            self._terminate(actions)
        elif name in ("I", "L"):
            self._terminate(actions)


class ServerNonInviteTransaction(_ServerTransaction):
    """RFC 3261 Figure 8.

    Trying --1xx from TU--> Proceeding --200-699 from TU--> Completed --Timer J--> Terminated.
    Retransmitted requests: absorbed in Trying, answered with the last response after.
    """

    def __init__(self, request: Request, source: Address, transport: str,
                 timers: TimerConfig = DEFAULT_TIMERS) -> None:
        if request.method in ("INVITE", "ACK"):
            raise TransactionError(f"{request.method} has no non-INVITE server transaction")
        super().__init__(request, source, transport, timers)

    def start(self, now: float) -> list[Action]:
        if self._started:
            raise TransactionError("the transaction was already started")
        self._started = True
        return [DeliverRequest(self.request, self, self.address, self.transport)]

    def receive_request(self, request: Request, now: float) -> list[Action]:
        actions: list[Action] = []
        if self.state in (TransactionState.PROCEEDING, TransactionState.COMPLETED):
            self._resend_last(actions)
        return actions

    def respond(self, response: Response, now: float) -> list[Action]:
        self._check_response(response)
        if self.state not in (TransactionState.TRYING, TransactionState.PROCEEDING):
            raise TransactionError(
                f"cannot send {response.status} from the {self.state.value} state of a "
                f"{self.request.method} server transaction (a final response was already sent)")
        actions: list[Action] = []
        self._send_response(response, actions)
        if response.status < 200:
            self.state = TransactionState.PROCEEDING
        else:
            self.state = TransactionState.COMPLETED
            self._wait_or_end("J", now, self.timers.b, actions)
        return actions

    def _fire(self, name: str, when: float, actions: list[Action]) -> None:
        if name == "J":
            self._terminate(actions)


ClientTransaction = ClientInviteTransaction | ClientNonInviteTransaction
ServerTransaction = ServerInviteTransaction | ServerNonInviteTransaction
Transaction = ClientTransaction | ServerTransaction


# --- the table -------------------------------------------------------------------------


@dataclass
class TransactionManager:
    """Routes messages to transactions, creates server transactions for new requests,
    and runs every transaction's timers from one `tick(now)` / `next_deadline()`.

    At most `max_transactions` live at once (client and server together); a new
    request beyond that is answered 503 Service Unavailable without state, and
    `send_request` raises TransactionError. Before refusing, completed non-INVITE
    server transactions are evicted (see _evict_completed).
    """

    timers: TimerConfig = DEFAULT_TIMERS
    max_transactions: int = 4096
    send_trying: bool = True
    _table: dict[tuple[str, ...], Transaction] = field(default_factory=dict, init=False, repr=False)
    _heap: list[tuple[float, int, Transaction]] = field(default_factory=list, init=False, repr=False)
    _seq: itertools.count[int] = field(default_factory=itertools.count, init=False, repr=False)

    def __post_init__(self) -> None:
        if (isinstance(self.max_transactions, bool) or not isinstance(self.max_transactions, int)
                or self.max_transactions < 1):
            raise ValueError("TransactionManager.max_transactions must be a positive integer, "
                             f"got {self.max_transactions!r}")

    def __len__(self) -> int:
        return len(self._table)

    def get(self, key: tuple[str, ...]) -> Transaction | None:
        return self._table.get(key)

    def send_request(self, request: Request, address: Address, transport: str, now: float
                     ) -> tuple[ClientTransaction, list[Action]]:
        """Start a client transaction for `request` (its top Via must carry a fresh branch)."""
        if len(self._table) >= self.max_transactions:
            raise TransactionError(f"the transaction table is full ({self.max_transactions} "
                                   "transactions); retry later")
        tx: ClientTransaction
        if request.method == "INVITE":
            tx = ClientInviteTransaction(request, address, transport, self.timers)
        else:
            tx = ClientNonInviteTransaction(request, address, transport, self.timers)
        if tx.key in self._table:
            raise TransactionError(f"a {request.method} transaction with branch {tx.branch} "
                                   "already exists; use a new branch")
        self._table[tx.key] = tx
        return tx, self._after(tx, tx.start(now))

    def receive(self, message: Request | Response, source: Address, transport: str, now: float
                ) -> list[Action]:
        """A parsed message from the transport. Responses go to their client transaction
        (or to the TU as strays); requests to their server transaction, or a new one."""
        if isinstance(message, Response):
            branch = _top_via_branch(message)
            ctx = self._table.get(_client_key(branch, message.cseq.method))
            if ctx is None or not isinstance(ctx, _ClientTransaction):
                return [DeliverResponse(message, None)]
            return self._after(ctx, ctx.receive_response(message, now))
        key = _server_key(message)
        found = self._table.get(key)
        if isinstance(found, _ServerTransaction):
            return self._after(found, found.receive_request(message, now))
        if message.method == "ACK":
            return [DeliverRequest(message, None, source, transport)]  # ACK for a 2xx
        if len(self._table) >= self.max_transactions and not self._evict_completed():
            resp = response_for(message, 503)
            resp.add_header("Retry-After", "5")
            return [Send(bytes(resp), source, transport.upper(), resp, None)]
        stx: ServerTransaction
        if message.method == "INVITE":
            stx = ServerInviteTransaction(message, source, transport, self.timers,
                                          send_trying=self.send_trying)
        else:
            stx = ServerNonInviteTransaction(message, source, transport, self.timers)
        self._table[key] = stx
        return self._after(stx, stx.start(now))

    def respond(self, transaction: ServerTransaction, response: Response, now: float
                ) -> list[Action]:
        return self._after(transaction, transaction.respond(response, now))

    def _evict_completed(self) -> bool:
        """Make room in a full table: drop the oldest server transactions that already
        sent their final response (up to an eighth of the table): non-INVITE ones waiting
        out Timer J, INVITE ones with a failure response waiting for the ACK (Timer H) or
        absorbing ACKs (Timer I), INVITE ones answered 2xx waiting out Timer L (RFC 6026;
        the TU retransmits the 2xx and takes the ACK itself). They only absorb
        retransmissions of a request already answered, so sustained load (300 calls/s
        keep ~20,000 such transactions alive for their 32 s) or a flood of OPTIONS must
        not lock out the next call; a retransmission arriving after this is treated as
        a new request (answered again, or 482 by the TU for a re-sent INVITE) and a lost
        ACK for a failure goes unnoticed. Transactions still waiting for the TU's answer
        are never dropped: when those fill the table, new requests get 503. True if any
        room was made."""
        victims = []
        budget = max(1, self.max_transactions // 8)
        for key, tx in self._table.items():
            if isinstance(tx, (ServerNonInviteTransaction, ServerInviteTransaction)) and tx.state in (
                    TransactionState.COMPLETED, TransactionState.CONFIRMED, TransactionState.ACCEPTED):
                victims.append(key)
                if len(victims) >= budget:
                    break
        for key in victims:
            tx = self._table.pop(key)
            tx.state = TransactionState.TERMINATED
            tx._deadlines.clear()
        if len(self._heap) > 4 * max(len(self._table), 64):
            # the timers of dropped transactions would otherwise stay queued for 32 s
            self._heap = [entry for entry in self._heap if not entry[2].terminated]
            heapq.heapify(self._heap)
        return bool(victims)

    def transport_error(self, transaction: Transaction, now: float,
                        reason: str = "transport error") -> list[Action]:
        return self._after(transaction, transaction.transport_error(now, reason))

    def find_invite(self, cancel: Request) -> ServerInviteTransaction | None:
        """The INVITE server transaction a CANCEL cancels (§9.2), if still live."""
        tx = self._table.get(_server_key(cancel, "INVITE"))
        return tx if isinstance(tx, ServerInviteTransaction) else None

    def next_deadline(self) -> float | None:
        heap = self._heap
        while heap:
            when, _, tx = heap[0]
            if not tx.terminated and tx.next_deadline() == when:
                return when
            heapq.heappop(heap)  # stale: the transaction moved on since this was pushed
        return None

    def tick(self, now: float) -> list[Action]:
        actions: list[Action] = []
        heap = self._heap
        while heap and heap[0][0] <= now:
            _, _, tx = heapq.heappop(heap)
            due = tx.next_deadline()
            if not tx.terminated and due is not None and due <= now:
                actions.extend(self._after(tx, tx.tick(now)))
        return actions

    def _after(self, tx: Transaction, actions: list[Action]) -> list[Action]:
        if tx.terminated:
            if self._table.get(tx.key) is tx:
                del self._table[tx.key]
        else:
            when = tx.next_deadline()
            if when is not None:
                heapq.heappush(self._heap, (when, next(self._seq), tx))
        return actions
