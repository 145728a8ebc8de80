"""offhook.sip: SIP signalling. This layer is sans-I/O: bytes in, objects out.

    msg = offhook.sip.parse_message(datagram)   # Request | Response, or SipParseError
    bytes(msg)                                  # serialise

See message.py (Request/Response), grammar.py (Via, Address, CSeq...),
uri.py (SIP/SIPS/TEL URIs) and limits.py (parser limits).
transaction.py: RFC 3261 §17 / RFC 6026 transactions, driven by tick(now) (no sockets, no sleeps).
auth.py: digest authentication (DigestClient answers 401/407, DigestServer challenges).
dialog.py: RFC 3261 §12 dialogs and forking; register.py: the REGISTER client.
ua.py: the sans-I/O user agent core (calls, hold, CANCEL, registration, who may call).
transport.py / agent.py: the asyncio shell (UDP/TCP/TLS, timers, event queues).
"""
from offhook.errors import SipAuthError, SipParseError
from offhook.sip.agent import SipAgent
from offhook.sip.auth import (
    AuthVerdict,
    Challenge,
    Credentials,
    DigestClient,
    DigestResponse,
    DigestServer,
    parse_challenges,
    parse_digest_response,
)
from offhook.sip.dialog import Dialog, DialogError, DialogState, ForkedInvite, ForkOutcome, LocalContact
from offhook.sip.grammar import Address, ContentType, CSeq, Via
from offhook.sip.limits import DEFAULT_LIMITS, SipLimits
from offhook.sip.message import Request, Response, canonical_name
from offhook.sip.parser import parse_message
from offhook.sip.register import Registration, RegistrationError, RegState
from offhook.sip.transaction import (
    DEFAULT_TIMERS,
    Action,
    ClientInviteTransaction,
    ClientNonInviteTransaction,
    DeliverRequest,
    DeliverResponse,
    Send,
    ServerInviteTransaction,
    ServerNonInviteTransaction,
    Timeout,
    TimerConfig,
    Transaction,
    TransactionError,
    TransactionManager,
    TransactionState,
    TransactionTerminated,
    TransportFailure,
    new_branch,
    response_for,
)
from offhook.sip.transport import SipTransport, TransportStats
from offhook.sip.ua import Call, CallEvent, CallState, RegistrationEvent, UserAgent, default_resolver
from offhook.sip.uri import AbsoluteURI, SipURI, TelURI, parse_uri

__all__ = [
    "DEFAULT_LIMITS",
    "DEFAULT_TIMERS",
    "AbsoluteURI",
    "Action",
    "Address",
    "AuthVerdict",
    "CSeq",
    "Call",
    "CallEvent",
    "CallState",
    "Challenge",
    "ClientInviteTransaction",
    "ClientNonInviteTransaction",
    "ContentType",
    "Credentials",
    "DeliverRequest",
    "DeliverResponse",
    "Dialog",
    "DialogError",
    "DialogState",
    "DigestClient",
    "DigestResponse",
    "DigestServer",
    "ForkOutcome",
    "ForkedInvite",
    "LocalContact",
    "RegState",
    "Registration",
    "RegistrationError",
    "RegistrationEvent",
    "Request",
    "Response",
    "Send",
    "ServerInviteTransaction",
    "ServerNonInviteTransaction",
    "SipAgent",
    "SipAuthError",
    "SipLimits",
    "SipParseError",
    "SipTransport",
    "SipURI",
    "TelURI",
    "Timeout",
    "TimerConfig",
    "Transaction",
    "TransactionError",
    "TransactionManager",
    "TransactionState",
    "TransactionTerminated",
    "TransportFailure",
    "TransportStats",
    "UserAgent",
    "Via",
    "canonical_name",
    "default_resolver",
    "new_branch",
    "parse_challenges",
    "parse_digest_response",
    "parse_message",
    "parse_uri",
    "response_for",
]
