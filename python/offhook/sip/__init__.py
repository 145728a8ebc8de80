"""offhook.sip: SIP signalling. This layer is sans-I/O: bytes in, objects out.

    msg = offhook.sip.parse_message(datagram)   # Request | Response, or SipParseError
    bytes(msg)                                  # serialise

See message.py (Request/Response), grammar.py (Via, Address, CSeq...),
uri.py (SIP/SIPS/TEL URIs) and limits.py (parser limits).
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
from offhook.sip.uri import AbsoluteURI, SipURI, TelURI, parse_uri

__all__ = [
    "DEFAULT_LIMITS",
    "AbsoluteURI",
    "Address",
    "AuthVerdict",
    "CSeq",
    "Challenge",
    "ContentType",
    "Credentials",
    "DigestClient",
    "DigestResponse",
    "DigestServer",
    "Request",
    "Response",
    "SipAuthError",
    "SipLimits",
    "SipParseError",
    "SipURI",
    "TelURI",
    "Via",
    "canonical_name",
    "parse_challenges",
    "parse_digest_response",
    "parse_message",
    "parse_uri",
]
