"""SIP requests and responses: start line, ordered headers, body (RFC 3261 §7).

Headers are kept as written, in order, as (name, value) pairs with the value
unfolded (line folds became one SP) and stripped. Lookup goes by canonical name,
so `Via`, `via` and the compact `v` are the same header. `bytes(msg)` writes
`Name: value` lines and the body untouched: a message in canonical form
round-trips byte-equal. Structured views (`via`, `from_`, `cseq`...) parse on
access and raise SipParseError on a bad value.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from offhook.errors import SipParseError
from offhook.sip.grammar import (
    Address,
    ContentType,
    CSeq,
    Via,
    parse_address,
    parse_address_list,
    parse_call_id,
    parse_content_type,
    parse_cseq,
    parse_uint,
    parse_via_list,
    split_list,
)
from offhook.sip.uri import URI, SipURI, TelURI

__all__ = ["COMPACT_FORMS", "Request", "Response", "canonical_name"]

COMPACT_FORMS = {
    "a": "Accept-Contact", "b": "Referred-By", "c": "Content-Type", "d": "Request-Disposition",
    "e": "Content-Encoding", "f": "From", "i": "Call-ID", "j": "Reject-Contact",
    "k": "Supported", "l": "Content-Length", "m": "Contact", "n": "Identity-Info",
    "o": "Event", "r": "Refer-To", "s": "Subject", "t": "To", "u": "Allow-Events",
    "v": "Via", "x": "Session-Expires", "y": "Identity",
}
_CANONICAL = {name.lower(): name for name in (
    *COMPACT_FORMS.values(), "Accept", "Accept-Encoding", "Accept-Language", "Alert-Info",
    "Allow", "Authentication-Info", "Authorization", "Call-Info", "Content-Disposition",
    "Content-Language", "CSeq", "Date", "Error-Info", "Expires", "In-Reply-To",
    "Max-Forwards", "Min-Expires", "Min-SE", "MIME-Version", "Organization", "Path",
    "Priority", "Proxy-Authenticate", "Proxy-Authorization", "Proxy-Require", "RAck",
    "Reason", "Record-Route", "Replaces", "Reply-To", "Require", "Retry-After", "Route",
    "RSeq", "Server", "Service-Route", "Subscription-State", "Timestamp", "Unsupported",
    "User-Agent", "Warning", "WWW-Authenticate", "P-Asserted-Identity",
)}
_CANONICAL.update({k: v for k, v in COMPACT_FORMS.items()})

# Headers whose grammar is a comma-separated list (RFC 3261 §7.3.1): get_all splits them.
# Authorization, WWW-Authenticate, Date... contain commas that are not separators.
LIST_HEADERS = frozenset({
    "Accept", "Accept-Contact", "Accept-Encoding", "Accept-Language", "Alert-Info", "Allow",
    "Allow-Events", "Call-Info", "Contact", "Content-Encoding", "Content-Language",
    "Error-Info", "In-Reply-To", "Path", "Proxy-Require", "Record-Route", "Reject-Contact",
    "Require", "Route", "Service-Route", "Supported", "Unsupported", "Via", "Warning",
    "P-Asserted-Identity", "Reason",
})


_SEEN: dict[str, str] = {}   # names as written -> canonical (the hot path of every lookup)
_SEEN_MAX = 4096             # a peer inventing header names cannot grow it further


def canonical_name(name: str) -> str:
    """`v` -> `Via`, `call-id` -> `Call-ID`; unknown names are returned as given."""
    found = _SEEN.get(name)
    if found is None:
        found = _CANONICAL.get(name.lower(), name)
        if len(_SEEN) < _SEEN_MAX:
            _SEEN[name] = found
    return found


@dataclass
class _Message:
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    # --- raw header access ---
    def get(self, name: str, default: str | None = None) -> str | None:
        """The first value of a header (by canonical or compact name), as written."""
        want = canonical_name(name)
        seen = _SEEN
        for n, v in self.headers:
            if n == want or (seen.get(n) or canonical_name(n)) == want:
                return v
        return default

    def get_lines(self, name: str) -> list[str]:
        """The value of every header line with this name, unsplit."""
        want = canonical_name(name)
        seen = _SEEN
        return [v for n, v in self.headers if n == want or (seen.get(n) or canonical_name(n)) == want]

    def get_all(self, name: str) -> list[str]:
        """Every value of a header; list headers (Via, Contact, Allow...) split at commas
        outside quotes and <...>."""
        lines = self.get_lines(name)
        if canonical_name(name) not in LIST_HEADERS:
            return lines
        return [item for line in lines for item in split_list(line)]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and bool(self.get_lines(name))

    def add_header(self, name: str, value: str) -> None:
        self.headers.append((name, value))

    def set_header(self, name: str, value: str) -> None:
        """Replace every line of a header with one (appended if it was absent)."""
        want = canonical_name(name)
        for i, (n, _) in enumerate(self.headers):
            if canonical_name(n) == want:
                self.headers[i] = (n, value)
                self.headers[i + 1:] = [(n2, v2) for n2, v2 in self.headers[i + 1:]
                                        if canonical_name(n2) != want]
                return
        self.headers.append((name, value))

    def remove_header(self, name: str) -> None:
        want = canonical_name(name)
        self.headers = [(n, v) for n, v in self.headers if canonical_name(n) != want]

    # --- structured views ---
    def _single(self, name: str) -> str:
        lines = self.get_lines(name)
        if not lines:
            raise SipParseError(f"missing {name} header", status=400)
        if len(lines) > 1:
            raise SipParseError(f"{len(lines)} {name} headers where one is allowed", status=400)
        return lines[0]

    @property
    def via(self) -> list[Via]:
        return parse_via_list(self.get_lines("Via"))

    @property
    def from_(self) -> Address:
        return parse_address(self._single("From"), "From")

    @property
    def to(self) -> Address:
        return parse_address(self._single("To"), "To")

    @property
    def call_id(self) -> str:
        return parse_call_id(self._single("Call-ID"))

    @property
    def cseq(self) -> CSeq:
        return parse_cseq(self._single("CSeq"))

    @property
    def max_forwards(self) -> int | None:
        if "Max-Forwards" not in self:
            return None
        return parse_uint(self._single("Max-Forwards"), "Max-Forwards", 255)

    @property
    def content_length(self) -> int | None:
        if "Content-Length" not in self:
            return None
        return parse_uint(self._single("Content-Length"), "Content-Length")

    @property
    def content_type(self) -> ContentType | None:
        if "Content-Type" not in self:
            return None
        return parse_content_type(self._single("Content-Type"))

    @property
    def contacts(self) -> list[Address]:
        """Contact values; empty for none and for the REGISTER wildcard `*` (see `contact_star`)."""
        if self.contact_star:
            return []
        return parse_address_list(self.get_lines("Contact"), "Contact")

    @property
    def contact_star(self) -> bool:
        return [v.strip() for v in self.get_lines("Contact")] == ["*"]

    @property
    def routes(self) -> list[Address]:
        return parse_address_list(self.get_lines("Route"), "Route", require_angle=True)

    @property
    def record_routes(self) -> list[Address]:
        return parse_address_list(self.get_lines("Record-Route"), "Record-Route",
                                  require_angle=True)

    def _header_bytes(self) -> bytes:
        return "".join(f"{n}: {v}\r\n" for n, v in self.headers).encode(
            "utf-8", "surrogateescape")


@dataclass
class Request(_Message):
    """A SIP request. `uri` is the parsed Request-URI (a SipURI, TelURI or AbsoluteURI)."""

    method: str = "OPTIONS"
    uri: URI = field(default_factory=lambda: SipURI(host="invalid"))
    version: str = "SIP/2.0"

    def sip_uri(self) -> SipURI | TelURI:
        """The Request-URI if offhook can route it; else SipParseError(416 Unsupported URI Scheme)."""
        if isinstance(self.uri, (SipURI, TelURI)):
            return self.uri
        raise SipParseError(
            f"Request-URI scheme {self.uri.scheme!r} is not supported (only sip, sips, tel)",
            status=416, partial=self)

    def __bytes__(self) -> bytes:
        start = f"{self.method} {self.uri} {self.version}\r\n".encode("utf-8", "surrogateescape")
        return start + self._header_bytes() + b"\r\n" + self.body


@dataclass
class Response(_Message):
    """A SIP response; `reason` may be empty or hold any UTF-8."""

    status: int = 200
    reason: str = "OK"
    version: str = "SIP/2.0"

    def __bytes__(self) -> bytes:
        start = f"{self.version} {self.status} {self.reason}\r\n".encode("utf-8", "surrogateescape")
        return start + self._header_bytes() + b"\r\n" + self.body
