"""Structured header values (RFC 3261 §20, §25.1): Via, name-addr/addr-spec, CSeq, scalars.

Header values reach these parsers already unfolded (every CRLF+WSP became one
SP), so LWS and SWS are plain runs of SP/HT here. Each parser either returns a
dataclass or raises SipParseError(400) saying which header is wrong and why.
Parameter names are stored lower-case (they are case-insensitive); values keep
their spelling, quoted values keep their quotes so serialisation is exact.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from offhook.errors import SipParseError
from offhook.sip.uri import URI, SipURI, parse_host, parse_uri

__all__ = [
    "Address",
    "CSeq",
    "ContentType",
    "Via",
    "parse_address",
    "parse_address_list",
    "parse_call_id",
    "parse_content_type",
    "parse_cseq",
    "parse_uint",
    "parse_via_list",
    "split_list",
    "unquote_string",
]

TOKEN = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+")
_TOKEN_FULL = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+\Z")
_WS = re.compile(r"[ \t]*")
# quoted-string = DQUOTE *(qdtext / quoted-pair) DQUOTE; qdtext excludes " and \ only
# (plus CR/LF, already gone), quoted-pair = "\" any octet except CR/LF.
_QUOTED = re.compile(r'"(?:[^"\\\r\n]|\\[^\r\n])*"')
_BARE_IPV6 = re.compile(r"[0-9A-Fa-f]*:[0-9A-Fa-f:.]*")
_GEN_VALUE = re.compile(r'[A-Za-z0-9\-.!%*_+`\'~]+|\[[0-9A-Fa-f:.]+\]|"(?:[^"\\\r\n]|\\[^\r\n])*"')
# word = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~" /
#           "(" / ")" / "<" / ">" / ":" / "\" / DQUOTE / "/" / "[" / "]" / "?" / "{" / "}")
_WORD = r"[A-Za-z0-9\-.!%*_+`'~()<>:\\\"/\[\]?{}]+"
_CALL_ID = re.compile(rf"{_WORD}(?:@{_WORD})?\Z")
UINT32_MAX = 2**32 - 1


def _err(header: str, detail: str) -> SipParseError:
    return SipParseError(f"{header}: {detail}", status=400)


def unquote_string(quoted: str) -> str:
    """The content of a quoted-string with its quoted-pairs resolved (`\\"` -> `"`)."""
    return re.sub(r"\\(.)", r"\1", quoted[1:-1], flags=re.DOTALL)


def quote_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def split_list(value: str) -> list[str]:
    """Split a comma-separated header value, ignoring commas inside quotes and <...>.

    Elements are stripped of surrounding whitespace; empty elements are kept
    (as "") so callers can reject them.
    """
    if "," not in value:
        return [value.strip()]
    parts: list[str] = []
    start = 0
    in_quote = in_angle = False
    i, n = 0, len(value)
    while i < n:
        ch = value[i]
        if in_quote:
            if ch == "\\":
                i += 1
            elif ch == '"':
                in_quote = False
        elif ch == '"':
            in_quote = True
        elif ch == "<":
            in_angle = True
        elif ch == ">":
            in_angle = False
        elif ch == "," and not in_angle:
            parts.append(value[start:i].strip())
            start = i + 1
        i += 1
    parts.append(value[start:].strip())
    return parts


def _parse_params(text: str, pos: int, header: str) -> dict[str, str | None]:
    """Parse *( SWS ";" SWS name [ SWS "=" SWS gen-value ] ) from pos to the end of text."""
    params: dict[str, str | None] = {}
    n = len(text)
    while True:
        pos = _WS.match(text, pos).end()  # type: ignore[union-attr]
        if pos >= n:
            return params
        if text[pos] != ";":
            raise _err(header, f"unexpected {text[pos:pos + 20]!r} where ';' or the end was expected")
        pos = _WS.match(text, pos + 1).end()  # type: ignore[union-attr]
        m = TOKEN.match(text, pos)
        if m is None:
            raise _err(header, "empty or malformed parameter name after ';'")
        name = m.group().lower()
        pos = _WS.match(text, m.end()).end()  # type: ignore[union-attr]
        value: str | None = None
        if pos < n and text[pos] == "=":
            pos = _WS.match(text, pos + 1).end()  # type: ignore[union-attr]
            # RFC 3261's via-received is a bare IPv6address ("received=2001:db8::1"), RFC 5118 §4.5
            v = (_BARE_IPV6.match(text, pos) if name == "received" else None) or _GEN_VALUE.match(text, pos)
            if v is None:
                if pos < n and text[pos] == '"':
                    raise _err(header, "unterminated quoted parameter value")
                raise _err(header, f"parameter {name!r} has no valid value")
            value = v.group()
            pos = v.end()
        params[name] = value


def _join_params(params: dict[str, str | None]) -> str:
    return "".join(f";{k}" if v is None else f";{k}={v}" for k, v in params.items())


# --- Via -------------------------------------------------------------------------------

_VIA_PROTO = re.compile(r"([A-Za-z0-9\-.!%*_+`'~]+)[ \t]*/[ \t]*([A-Za-z0-9\-.!%*_+`'~]+)"
                        r"[ \t]*/[ \t]*([A-Za-z0-9\-.!%*_+`'~]+)[ \t]+")
_SENT_BY = re.compile(r"(\[[0-9A-Fa-f:.]*\]|[A-Za-z0-9\-.]+)(?:[ \t]*:[ \t]*([0-9]+))?")


@dataclass
class Via:
    """One Via value: `SIP/2.0/UDP host:port;branch=...;rport;received=...`."""

    transport: str
    host: str
    port: int | None = None
    params: dict[str, str | None] = field(default_factory=dict)
    protocol: str = "SIP/2.0"

    @property
    def branch(self) -> str | None:
        return self.params.get("branch")

    @property
    def received(self) -> str | None:
        return self.params.get("received")

    @property
    def rport(self) -> int | bool | None:
        """None: no rport; True: rport asked for (no value yet); int: the filled-in port."""
        if "rport" not in self.params:
            return None
        value = self.params["rport"]
        return True if value is None else int(value)

    @property
    def maddr(self) -> str | None:
        return self.params.get("maddr")

    def __str__(self) -> str:
        port = "" if self.port is None else f":{self.port}"
        return f"{self.protocol}/{self.transport} {self.host}{port}{_join_params(self.params)}"


def _parse_via(text: str) -> Via:
    m = _VIA_PROTO.match(text)
    if m is None:
        raise _err("Via", f"{text[:40]!r} does not start with protocol/version/transport and a host")
    pos = _WS.match(text, m.end()).end()  # type: ignore[union-attr]
    s = _SENT_BY.match(text, pos)
    if s is None:
        raise _err("Via", f"no sent-by host in {text[:60]!r}")
    host = parse_host(s.group(1), context="Via")
    port = None
    if s.group(2) is not None:
        if len(s.group(2)) > 5 or int(s.group(2)) > 65535:
            raise _err("Via", f"port {s.group(2)} out of range")
        port = int(s.group(2))
    params = _parse_params(text, s.end(), "Via")
    for key in ("rport", "ttl"):
        value = params.get(key)
        if value is not None and (not value.isascii() or not value.isdigit() or int(value) > 65535):
            raise _err("Via", f"{key}={value!r} is not a number")
    received = params.get("received")
    if received is not None:
        bare_v6 = ":" in received and not received.startswith("[")
        parse_host(f"[{received}]" if bare_v6 else received, context="Via received")
    return Via(transport=m.group(3).upper(), host=host, port=port, params=params,
               protocol=f"{m.group(1)}/{m.group(2)}")


def parse_via_list(values: list[str]) -> list[Via]:
    """Every Via value of every Via header, top first."""
    out = []
    for value in values:
        for item in split_list(value):
            if not item:
                raise _err("Via", "empty value in the list (stray ',')")
            out.append(_parse_via(item))
    return out


# --- name-addr / addr-spec -------------------------------------------------------------------


@dataclass
class Address:
    """From, To, Contact, Route...: an optional display name, a URI and header parameters.

    `display_name` is unquoted (escapes resolved); `params` hold header
    parameters (tag, expires, q...), never the URI's own.
    """

    uri: URI
    display_name: str | None = None
    params: dict[str, str | None] = field(default_factory=dict)
    angle: bool = True

    @property
    def tag(self) -> str | None:
        return self.params.get("tag")

    @property
    def sip_uri(self) -> SipURI | None:
        return self.uri if isinstance(self.uri, SipURI) else None

    def __str__(self) -> str:
        params = _join_params(self.params)
        if self.display_name is None and not self.angle:
            return f"{self.uri}{params}"
        if self.display_name is None:
            return f"<{self.uri}>{params}"
        if self.display_name and _TOKEN_FULL.match(self.display_name.replace(" ", "")):
            name = self.display_name
        else:
            name = quote_string(self.display_name)
        return f"{name} <{self.uri}>{params}"


_DISPLAY_TOKENS = re.compile(r"(?:[A-Za-z0-9\-.!%*_+`'~]+[ \t]*)*")


def parse_address(text: str, header: str = "To", *, require_angle: bool = False) -> Address:
    """Parse ( name-addr / addr-spec ) *( SWS ";" param ) from one list element."""
    pos = _WS.match(text).end()  # type: ignore[union-attr]
    display: str | None = None
    n = len(text)
    if pos < n and text[pos] == '"':
        q = _QUOTED.match(text, pos)
        if q is None:
            raise _err(header, "unterminated quoted display name")
        display = unquote_string(q.group())
        pos = _WS.match(text, q.end()).end()  # type: ignore[union-attr]
        if pos >= n or text[pos] != "<":
            raise _err(header, "quoted display name not followed by <URI>")
    else:
        lt = text.find("<", pos)
        if lt >= 0:
            words = text[pos:lt]
            if _DISPLAY_TOKENS.fullmatch(words) is None:
                raise _err(header, f"display name {words.strip()!r} has characters that need quoting")
            display = words.strip() or None
            pos = lt
    if pos < n and text[pos] == "<":
        gt = text.find(">", pos)
        if gt < 0:
            raise _err(header, "'<' without '>'")
        uri = parse_uri(text[pos + 1:gt])
        params = _parse_params(text, gt + 1, header)
        return Address(uri=uri, display_name=display, params=params)
    if require_angle:
        raise _err(header, "URI must be enclosed in <...>")
    # addr-spec: the URI runs to the first ';' (its parameters would be header
    # parameters) and may not contain ',', '?' or ';' (RFC 3261 §20.10).
    end = pos
    while end < n and text[end] not in "; \t":
        end += 1
    uri_text = text[pos:end]
    if "?" in uri_text or "," in uri_text:
        raise _err(header, f"URI {uri_text!r} with '?' or ',' must be enclosed in <...>")
    uri = parse_uri(uri_text)
    return Address(uri=uri, params=_parse_params(text, end, header), angle=False)


def parse_address_list(values: list[str], header: str, *, require_angle: bool = False
                       ) -> list[Address]:
    out = []
    for value in values:
        for item in split_list(value):
            if not item:
                raise _err(header, "empty value in the list (stray ',')")
            out.append(parse_address(item, header, require_angle=require_angle))
    return out


# --- scalars --------------------------------------------------------------------------------


def parse_uint(text: str, header: str, maximum: int = UINT32_MAX) -> int:
    value = text.strip()
    if not value or not value.isascii() or not value.isdigit():
        raise _err(header, f"{value!r} is not a non-negative integer")
    if len(value.lstrip("0")) > len(str(maximum)) or int(value) > maximum:
        raise _err(header, f"{value} is larger than {maximum}")
    return int(value)


@dataclass(frozen=True)
class CSeq:
    number: int
    method: str

    def __str__(self) -> str:
        return f"{self.number} {self.method}"


def parse_cseq(text: str) -> CSeq:
    number, _, method = text.strip().partition(" ")
    method = method.strip()
    if not _TOKEN_FULL.match(method):
        raise _err("CSeq", f"{text.strip()!r} is not '<number> <method>'")
    return CSeq(parse_uint(number, "CSeq"), method)


def parse_call_id(text: str) -> str:
    value = text.strip()
    if not _CALL_ID.match(value):
        raise _err("Call-ID", f"{value!r} is empty or has characters a Call-ID cannot hold")
    return value


@dataclass
class ContentType:
    """`type/subtype;params` (type and subtype lower-case). Multipart bodies: `boundary`."""

    type: str
    subtype: str
    params: dict[str, str | None] = field(default_factory=dict)

    @property
    def mime(self) -> str:
        return f"{self.type}/{self.subtype}"

    @property
    def boundary(self) -> str | None:
        value = self.params.get("boundary")
        if value is not None and value.startswith('"'):
            return unquote_string(value)
        return value

    def __str__(self) -> str:
        return f"{self.mime}{_join_params(self.params)}"


_MEDIA = re.compile(r"[ \t]*([A-Za-z0-9\-.!%*_+`'~]+)[ \t]*/[ \t]*([A-Za-z0-9\-.!%*_+`'~]+)")


def parse_content_type(text: str) -> ContentType:
    m = _MEDIA.match(text)
    if m is None:
        raise _err("Content-Type", f"{text.strip()!r} is not 'type/subtype'")
    return ContentType(m.group(1).lower(), m.group(2).lower(),
                       _parse_params(text, m.end(), "Content-Type"))

