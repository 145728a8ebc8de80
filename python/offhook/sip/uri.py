"""SIP, SIPS and TEL URIs (RFC 3261 §19.1, §25.1; RFC 3966), and any other scheme as opaque.

`parse_uri(text)` returns a `SipURI` for sip:/sips:, a `TelURI` for tel: and an
`AbsoluteURI` for every other well-formed scheme (RFC 4475 §3.3.2: a parser must
accept an unknown scheme; deciding to answer 416 is the application's job).
Fields are stored unescaped (``%41`` -> ``A``, ``%00`` -> NUL kept, never
truncated); `str()` re-escapes what the grammar requires, so a URI written in
canonical form serialises byte-equal.
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from urllib.parse import quote, unquote

from offhook.errors import SipParseError

__all__ = ["URI", "AbsoluteURI", "SipURI", "TelURI", "parse_host", "parse_uri"]

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*\Z")
_ESC = r"%[0-9A-Fa-f]{2}"
_UNRESERVED = r"A-Za-z0-9\-_.!~*'()"
# user = 1*( unreserved / escaped / user-unreserved ); user-unreserved = & = + $ , ; ? /
_USER = re.compile(rf"(?:[{_UNRESERVED}&=+$,;?/]|{_ESC})+\Z")
_PASSWORD = re.compile(rf"(?:[{_UNRESERVED}&=+$,]|{_ESC})*\Z")
_PARAMCHARS = re.compile(rf"(?:[{_UNRESERVED}\[\]/:&+$]|{_ESC})+\Z")
_HNAME = re.compile(rf"(?:[{_UNRESERVED}\[\]/?:+$]|{_ESC})+\Z")
_HVALUE = re.compile(rf"(?:[{_UNRESERVED}\[\]/?:+$]|{_ESC})*\Z")
_URIC = re.compile(rf"(?:[{_UNRESERVED};/?:@&=+$,\[\]#]|{_ESC})+\Z")
_HOSTNAME = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?\.)*"
                       r"[A-Za-z](?:[A-Za-z0-9\-]*[A-Za-z0-9])?\.?\Z")
_IPV4 = re.compile(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\Z")
_TEL_NUMBER = re.compile(r"\+?[0-9A-Fa-f*#\-.()pwPW]+\Z")

# What stays literal when serialising each part (everything else is %-escaped).
_SAFE_USER = "-_.!~*'()&=+$,;?/"
_SAFE_PASSWORD = "-_.!~*'()&=+$,"
_SAFE_PARAM = "-_.!~*'()[]/:&+$"
_SAFE_HEADER = "-_.!~*'()[]/?:+$"


def _bad(what: str, text: str) -> SipParseError:
    return SipParseError(f"{what} in URI {text!r}", status=400)


def parse_host(text: str, *, context: str = "URI") -> str:
    """Validate a host (hostname, IPv4 address or bracketed IPv6 reference) and return it.

    IPv6 references keep their brackets, as they appear in SIP (`[2001:db8::1]`).
    """
    if text.startswith("["):
        if not text.endswith("]"):
            raise SipParseError(f"unterminated IPv6 reference {text!r} in {context}", status=400)
        try:
            ipaddress.IPv6Address(text[1:-1])
        except ValueError:
            raise SipParseError(f"invalid IPv6 reference {text!r} in {context}", status=400) from None
        return text
    if _IPV4.match(text):
        if any(int(part) > 255 for part in text.split(".")):
            raise SipParseError(f"invalid IPv4 address {text!r} in {context}", status=400)
        return text
    if not _HOSTNAME.match(text):
        raise SipParseError(f"invalid host {text!r} in {context}", status=400)
    return text


def _parse_port(text: str, uri: str) -> int:
    if not text.isascii() or not text.isdigit() or len(text) > 5 or int(text) > 65535:
        raise _bad(f"invalid port {text!r}", uri)
    return int(text)


def _split_params(text: str, uri: str) -> dict[str, str | None]:
    params: dict[str, str | None] = {}
    if not text:
        return params
    for item in text.split(";"):
        name, eq, value = item.partition("=")
        if not _PARAMCHARS.match(name) or (eq and not _PARAMCHARS.match(value)):
            raise _bad(f"invalid parameter {item!r}", uri)
        params[unquote(name, errors="surrogateescape").lower()] = (
            unquote(value, errors="surrogateescape") if eq else None)
    return params


def _join_params(params: dict[str, str | None]) -> str:
    return "".join(
        f";{quote(k, safe=_SAFE_PARAM, errors='surrogateescape')}"
        + ("" if v is None else "=" + quote(v, safe=_SAFE_PARAM, errors="surrogateescape"))
        for k, v in params.items())


@dataclass
class SipURI:
    """A sip: or sips: URI. `params` keys are lower-case (they are case-insensitive);
    `headers` keep order and case. Values are unescaped."""

    host: str
    user: str | None = None
    password: str | None = None
    port: int | None = None
    params: dict[str, str | None] = field(default_factory=dict)
    headers: list[tuple[str, str]] = field(default_factory=list)
    scheme: str = "sip"

    @property
    def secure(self) -> bool:
        return self.scheme == "sips"

    @property
    def transport(self) -> str | None:
        value = self.params.get("transport")
        return value.lower() if value else None

    @property
    def host_address(self) -> str:
        """The host without IPv6 brackets, as socket functions want it."""
        return self.host[1:-1] if self.host.startswith("[") else self.host

    def __str__(self) -> str:
        out = [self.scheme, ":"]
        if self.user is not None:
            out.append(quote(self.user, safe=_SAFE_USER, errors="surrogateescape"))
            if self.password is not None:
                out.append(":" + quote(self.password, safe=_SAFE_PASSWORD, errors="surrogateescape"))
            out.append("@")
        out.append(self.host)
        if self.port is not None:
            out.append(f":{self.port}")
        out.append(_join_params(self.params))
        if self.headers:
            out.append("?" + "&".join(
                quote(k, safe=_SAFE_HEADER, errors="surrogateescape") + "="
                + quote(v, safe=_SAFE_HEADER, errors="surrogateescape") for k, v in self.headers))
        return "".join(out)


@dataclass
class TelURI:
    """A tel: URI (RFC 3966): the number as written and its parameters (lower-case keys)."""

    number: str
    params: dict[str, str | None] = field(default_factory=dict)
    scheme: str = "tel"

    @property
    def global_number(self) -> bool:
        return self.number.startswith("+")

    def __str__(self) -> str:
        return f"tel:{self.number}{_join_params(self.params)}"


@dataclass
class AbsoluteURI:
    """A URI of a scheme offhook does not interpret (http:, urn:, ...): kept as written."""

    scheme: str
    opaque: str

    def __str__(self) -> str:
        return f"{self.scheme}:{self.opaque}"


URI = SipURI | TelURI | AbsoluteURI


def parse_uri(text: str, *, allow_headers: bool = True) -> URI:
    """Parse a URI; raise SipParseError (400) if it is malformed.

    `allow_headers=False` rejects a `?header` part in sip:/sips: URIs, as a
    Request-URI must (RFC 3261 §19.1.1 table; RFC 4475 §3.1.2.11).
    """
    scheme, colon, rest = text.partition(":")
    if not colon or not _SCHEME.match(scheme):
        raise SipParseError(f"no valid scheme in URI {text!r}", status=400)
    lscheme = scheme.lower()
    if lscheme in ("sip", "sips"):
        return _parse_sip(lscheme, rest, text, allow_headers)
    if not _URIC.match(rest):
        raise _bad("invalid character", text)
    if lscheme == "tel":
        number, _, params = rest.partition(";")
        if not _TEL_NUMBER.match(number):
            raise _bad(f"invalid telephone number {number!r}", text)
        return TelURI(number, _split_params(params, text))
    return AbsoluteURI(scheme, rest)


def _parse_sip(scheme: str, rest: str, text: str, allow_headers: bool) -> SipURI:
    user = password = None
    at = rest.find("@")  # '@' is legal nowhere in a SIP URI but after the userinfo
    if at >= 0:
        userinfo, rest = rest[:at], rest[at + 1:]
        user_text, colon, pw_text = userinfo.partition(":")
        if not _USER.match(user_text):
            raise _bad(f"invalid user part {user_text!r}", text)
        if colon and not _PASSWORD.match(pw_text):
            raise _bad("invalid password", text)
        user = unquote(user_text, errors="surrogateescape")
        password = unquote(pw_text, errors="surrogateescape") if colon else None
    rest, qmark, header_text = rest.partition("?")
    if qmark and not allow_headers:
        raise _bad("header part ('?...') not allowed", text)
    hostport, _, param_text = rest.partition(";")
    if hostport.startswith("["):
        close = hostport.find("]")
        host_text, port_text = hostport[:close + 1], hostport[close + 1:]
        if close < 0 or (port_text and not port_text.startswith(":")):
            raise _bad("malformed IPv6 reference", text)
        port_text = port_text[1:]
        has_port = bool(hostport[close + 1:])
    else:
        host_text, has_colon, port_text = hostport.partition(":")
        has_port = bool(has_colon)
    host = parse_host(host_text, context=f"URI {text!r}")
    port = _parse_port(port_text, text) if has_port else None
    headers: list[tuple[str, str]] = []
    if qmark:
        for item in header_text.split("&"):
            name, eq, value = item.partition("=")
            if not eq or not _HNAME.match(name) or not _HVALUE.match(value):
                raise _bad(f"invalid header {item!r}", text)
            headers.append((unquote(name, errors="surrogateescape"),
                            unquote(value, errors="surrogateescape")))
    return SipURI(host=host, user=user, password=password, port=port,
                  params=_split_params(param_text, text), headers=headers, scheme=scheme)
