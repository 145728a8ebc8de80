"""offhook.sip: SIP signalling. This layer is sans-I/O: bytes in, objects out.

    msg = offhook.sip.parse_message(datagram)   # Request | Response, or SipParseError
    bytes(msg)                                  # serialise

See message.py (Request/Response), grammar.py (Via, Address, CSeq...),
uri.py (SIP/SIPS/TEL URIs) and limits.py (parser limits).
transaction.py: RFC 3261 §17 / RFC 6026 transactions, driven by tick(now) (no sockets, no sleeps).
auth.py: digest authentication (DigestClient answers 401/407, DigestServer challenges).
"""
from offhook.errors import SipAuthError, SipParseError
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
from offhook.sip.grammar import Address, ContentType, CSeq, Via
from offhook.sip.limits import DEFAULT_LIMITS, SipLimits
from offhook.sip.message import Request, Response, canonical_name
from offhook.sip.parser import parse_message
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
from offhook.sip.uri import AbsoluteURI, SipURI, TelURI, parse_uri

__all__ = [
    "DEFAULT_LIMITS",
    "DEFAULT_TIMERS",
    "AbsoluteURI",
    "Action",
    "Address",
    "AuthVerdict",
    "CSeq",
    "Challenge",
    "ClientInviteTransaction",
    "ClientNonInviteTransaction",
    "ContentType",
    "Credentials",
    "DeliverRequest",
    "DeliverResponse",
    "DigestClient",
    "DigestResponse",
    "DigestServer",
    "Request",
    "Response",
    "Send",
    "ServerInviteTransaction",
    "ServerNonInviteTransaction",
    "SipAuthError",
    "SipLimits",
    "SipParseError",
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
    "Via",
    "canonical_name",
    "new_branch",
    "parse_challenges",
    "parse_digest_response",
    "parse_message",
    "parse_uri",
    "response_for",
]
