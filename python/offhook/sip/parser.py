"""`parse_message`: bytes -> Request | Response, or SipParseError (RFC 3261 §7, §18.3, §25).

Steps: skip leading CRLFs (§7.5), find the blank line ending the header
section, check limits, decode the headers as UTF-8, unfold continuation lines,
split the start line, frame the body by Content-Length, then validate the
headers every SIP element needs (Via, From, To, Call-ID, CSeq, Max-Forwards,
Contact, Route) so a message that parses is safe to hand to the transaction
layer. Choices where RFC 4475 allows either: extra SP in the start line, LWS in
the Request-URI and `?headers` in the Request-URI are rejected (400);
unknown URI schemes, an invalid Date and a bare `z9hG4bK` branch are accepted.
Any failure is a SipParseError; nothing else escapes, whatever the input.
"""
from __future__ import annotations

import re

from offhook.errors import SipParseError
from offhook.sip.limits import DEFAULT_LIMITS, SipLimits
from offhook.sip.message import Request, Response
from offhook.sip.uri import URI, AbsoluteURI, parse_uri

__all__ = ["KNOWN_METHODS", "parse_message"]

KNOWN_METHODS = frozenset({
    "ACK", "BYE", "CANCEL", "INFO", "INVITE", "MESSAGE", "NOTIFY", "OPTIONS", "PRACK",
    "PUBLISH", "REFER", "REGISTER", "SUBSCRIBE", "UPDATE",
})
_TOKEN = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+\Z")
_VERSION = re.compile(r"SIP/(\d+)\.(\d+)\Z", re.IGNORECASE)
_FOLD = re.compile(r"[ \t]*\r\n[ \t]+")
_SINGLE = ("Call-ID", "CSeq", "From", "To", "Max-Forwards", "Content-Length")


def parse_message(data: bytes | bytearray | memoryview, *, limits: SipLimits = DEFAULT_LIMITS,
                  stream: bool = False) -> Request | Response:
    """Parse one SIP message.

    `stream=False` (a UDP datagram): a missing Content-Length means the body is
    the rest of the datagram, and octets after Content-Length are discarded
    (RFC 3261 §18.3). `stream=True` (TCP/TLS, already framed): Content-Length
    is required. Raises SipParseError with the status a UAS should answer.
    """
    try:
        return _parse(data, limits, stream)
    except SipParseError:
        raise
    except Exception as exc:  # a parser bug must still look like bad input to the transport
        raise SipParseError(f"malformed message ({type(exc).__name__}: {exc})", status=400) from exc


def _parse(data: bytes | bytearray | memoryview, limits: SipLimits, stream: bool) -> Request | Response:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise SipParseError(f"a SIP message is bytes, not {type(data).__name__}", status=400)
    data = bytes(data)  # one copy; slicing below assumes bytes
    start = 0
    while data.startswith(b"\r\n", start):
        start += 2
    end = data.find(b"\r\n\r\n", start)
    head_size = (len(data) if end < 0 else end) - start
    if len(data) - start > limits.max_message_size:
        if head_size > limits.max_message_size:
            raise SipParseError(
                f"message header section of {head_size} bytes exceeds the limit of "
                f"{limits.max_message_size}", status=513)
        raise SipParseError(
            f"message of {len(data) - start} bytes exceeds the limit of "
            f"{limits.max_message_size}", status=413)
    if end < 0:
        raise SipParseError("no empty line (CRLF CRLF) ends the header section", status=400)
    try:
        head = data[start:end].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SipParseError(f"header section is not valid UTF-8 (byte {exc.start})",
                            status=400) from None
    lines = head.split("\r\n")
    for line in lines:
        if len(line) > limits.max_line_length:
            raise SipParseError(
                f"a line of {len(line)} characters exceeds the limit of {limits.max_line_length}",
                status=513)
    start_line = lines[0]
    headers = _split_headers(_FOLD.sub(" ", "\r\n".join(lines[1:])) if len(lines) > 1 else "",
                             limits)
    try:
        msg = _start_line(start_line)
    except SipParseError as exc:
        raise SipParseError(exc.detail, status=exc.status,
                            partial=_placeholder_request(start_line, headers)) from None
    msg.headers = headers
    try:
        msg.body = _body(msg, data[end + 4:], limits, stream)
        _validate(msg)
    except SipParseError as exc:
        raise SipParseError(exc.detail, status=exc.status, partial=msg) from None
    return msg


def _placeholder_request(start_line: str, headers: list[tuple[str, str]]) -> Request | None:
    """For a request whose start line is bad (e.g. SIP/7.0 -> 505), a Request carrying the
    received headers so the UAS can still answer; method and URI are best effort
    (an unparseable Request-URI becomes an AbsoluteURI with an empty scheme)."""
    if start_line[:4].upper() == "SIP/":
        return None  # a response: never answered
    parts = start_line.split()
    method = parts[0] if parts and _TOKEN.match(parts[0]) else ""
    uri_text = parts[1] if len(parts) > 1 else ""
    uri: URI
    try:
        uri = parse_uri(uri_text)
    except SipParseError:
        uri = AbsoluteURI("", uri_text)
    return Request(method=method, uri=uri, headers=headers,
                   version=parts[2] if len(parts) > 2 else "")


def _split_headers(text: str, limits: SipLimits) -> list[tuple[str, str]]:
    if not text:
        return []
    if text[0] in " \t":
        raise SipParseError("the first header line starts with whitespace", status=400)
    raw = text.split("\r\n")
    if len(raw) > limits.max_header_count:
        raise SipParseError(
            f"{len(raw)} header lines exceed the limit of {limits.max_header_count}", status=513)
    headers = []
    for line in raw:
        name, colon, value = line.partition(":")
        name = name.rstrip(" \t")
        if not colon or not _TOKEN.match(name):
            raise SipParseError(f"malformed header line {line[:60]!r}", status=400)
        value = value.strip(" \t")
        if len(value) > limits.max_header_value_length:
            raise SipParseError(
                f"{name} value of {len(value)} characters exceeds the limit of "
                f"{limits.max_header_value_length}", status=513)
        if any(ch in value for ch in "\r\n"):
            raise SipParseError(f"{name} value holds a bare CR or LF", status=400)
        headers.append((name, value))
    return headers


def _check_version(version: str) -> None:
    m = _VERSION.match(version)
    if m is None:
        raise SipParseError(f"{version!r} is not a SIP version", status=400)
    if (int(m.group(1)), int(m.group(2))) != (2, 0) or len(version) != 7:
        raise SipParseError(f"SIP version {version} is not supported (only SIP/2.0)", status=505)


def _start_line(line: str) -> Request | Response:
    if line[:4].upper() == "SIP/":
        version, _, rest = line.partition(" ")
        code, _, reason = rest.partition(" ")
        _check_version(version)
        if len(code) != 3 or not code.isascii() or not code.isdigit() or not 100 <= int(code) <= 699:
            raise SipParseError(f"status code {code[:20]!r} is not 100-699", status=400)
        if any((ord(ch) < 32 and ch != "\t") or ord(ch) == 127 for ch in reason):
            raise SipParseError("reason phrase holds control characters", status=400)
        return Response(status=int(code), reason=reason, version=version)
    parts = line.split(" ")
    if len(parts) != 3 or not all(parts):
        raise SipParseError(
            f"request line {line[:80]!r} is not 'METHOD SP Request-URI SP SIP/2.0' "
            "(extra spaces or whitespace inside the URI)", status=400)
    method, uri_text, version = parts
    if not _TOKEN.match(method):
        raise SipParseError(f"method {method[:40]!r} is not a token", status=400)
    _check_version(version)
    uri = parse_uri(uri_text, allow_headers=False)
    return Request(method=method, uri=uri, version=version)


def _body(msg: Request | Response, rest: bytes, limits: SipLimits, stream: bool) -> bytes:
    lines = msg.get_lines("Content-Length")
    if not lines:
        if stream:
            raise SipParseError("Content-Length is required on a stream transport", status=400)
        length = len(rest)
    else:
        if len(lines) > 1:
            raise SipParseError(f"{len(lines)} Content-Length headers make the framing ambiguous",
                                status=400)
        length = msg.content_length or 0
        if length > len(rest):
            raise SipParseError(
                f"Content-Length {length} is larger than the {len(rest)} body bytes received",
                status=400)
    if length > limits.max_body_size:
        raise SipParseError(
            f"body of {length} bytes exceeds the limit of {limits.max_body_size}", status=413)
    return rest[:length]


def _validate(msg: Request | Response) -> None:
    for name in _SINGLE:
        if len(msg.get_lines(name)) > 1:
            raise SipParseError(f"{len(msg.get_lines(name))} {name} headers where one is allowed")
    for name in ("Call-ID", "CSeq", "From", "To", "Via"):
        if name not in msg:
            raise SipParseError(f"missing required {name} header")
    cseq = msg.cseq
    msg.via, msg.from_, msg.to, msg.call_id, msg.max_forwards  # noqa: B018 - parse to validate
    msg.contacts, msg.routes, msg.record_routes, msg.content_type  # noqa: B018
    if isinstance(msg, Request) and cseq.method != msg.method:
        status = 400 if msg.method in KNOWN_METHODS else 501
        raise SipParseError(
            f"CSeq method {cseq.method!r} differs from the request method {msg.method!r}",
            status=status)
