"""Typed values of the SDP attributes offhook reads: rtpmap, fmtp, rtcp, crypto, ptime.

Each type parses the text after ``a=<name>:`` and formats back to the same text, so
that a parsed description serialises unchanged.  Parsing raises SdpError without a
line number; the parser adds the line.  Crypto key material (RFC 4568 inline keys)
stays an opaque string here and is hidden from repr() so it never reaches a log.
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from offhook.errors import SdpError

# RFC 8866 §9 token-char: visible ASCII except the separators.
TOKEN = r"[!#$%&'*+\-.0-9A-Z^_`a-z{|}~]+"
_TOKEN_RE = re.compile(TOKEN)
_PT_RE = re.compile(r"[0-9]{1,3}")
_PORT_RE = re.compile(r"[0-9]{1,5}")
_COUNT_RE = re.compile(r"[0-9]{1,9}")
_TIME_RE = re.compile(r"[0-9]{1,6}(?:\.[0-9]{1,6})?")
_CRYPTO_TAG_RE = re.compile(r"[0-9]{1,9}")
_DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")

# Attributes that are flags (no value) and attributes that must carry one.
FLAG_ATTRIBUTES = frozenset((*_DIRECTIONS, "rtcp-mux"))


def is_token(text: str) -> bool:
    return _TOKEN_RE.fullmatch(text) is not None


def parse_payload_type(text: str) -> int:
    """An RTP payload type 0..127 (RFC 3550), or SdpError."""
    if _PT_RE.fullmatch(text) is None or int(text) > 127:
        raise SdpError(f"payload type must be 0..127, not {text[:20]!r}")
    return int(text)


def parse_port(text: str) -> int:
    """A transport port 0..65535, or SdpError."""
    if _PORT_RE.fullmatch(text) is None or int(text) > 65535:
        raise SdpError(f"port must be 0..65535, not {text[:20]!r}")
    return int(text)


def parse_positive(text: str, what: str) -> int:
    """A positive count (clock rate, channels, TTL) of at most 9 digits, or SdpError."""
    if _COUNT_RE.fullmatch(text) is None or int(text) == 0:
        raise SdpError(f"{what} must be a positive integer, not {text[:20]!r}")
    return int(text)


def parse_milliseconds(text: str, what: str) -> float:
    """A packet time in ms (a=ptime / a=maxptime): positive, decimals allowed, or SdpError."""
    if _TIME_RE.fullmatch(text) is None:
        raise SdpError(f"{what} must be a number of milliseconds, not {text[:20]!r}")
    value = float(text)
    if value <= 0 or not math.isfinite(value):
        raise SdpError(f"{what} must be positive, not {text!r}")
    return value


@dataclass(frozen=True)
class RtpMap:
    """a=rtpmap:<payload type> <encoding name>/<clock rate>[/<channels>] (RFC 8866 §6.6)."""

    payload_type: int
    encoding: str
    clock_rate: int
    channels: int | None = None  # None when omitted, which means one channel for audio

    @classmethod
    def parse(cls, value: str) -> RtpMap:
        pt_text, sep, rest = value.partition(" ")
        if not sep:
            raise SdpError(f"rtpmap needs '<payload type> <encoding>/<clock rate>', got {value[:40]!r}")
        parts = rest.split("/")
        if len(parts) not in (2, 3) or not is_token(parts[0]):
            raise SdpError(f"rtpmap needs '<encoding>/<clock rate>[/<channels>]', got {rest[:40]!r}")
        channels = parse_positive(parts[2], "rtpmap channel count") if len(parts) == 3 else None
        return cls(parse_payload_type(pt_text), parts[0],
                   parse_positive(parts[1], "rtpmap clock rate"), channels)

    def __str__(self) -> str:
        text = f"{self.payload_type} {self.encoding}/{self.clock_rate}"
        return text if self.channels is None else f"{text}/{self.channels}"

    @property
    def channel_count(self) -> int:
        return 1 if self.channels is None else self.channels


@dataclass(frozen=True)
class Fmtp:
    """a=fmtp:<format> <format specific parameters> (RFC 8866 §6.15)."""

    format: str
    parameters: str = ""

    @classmethod
    def parse(cls, value: str) -> Fmtp:
        fmt, _, params = value.partition(" ")
        if not is_token(fmt):
            raise SdpError(f"fmtp needs '<format> <parameters>', got {value[:40]!r}")
        return cls(fmt, params)

    def __str__(self) -> str:
        return f"{self.format} {self.parameters}" if self.parameters else self.format

    def as_dict(self) -> dict[str, str]:
        """The ';'-separated parameters as a dict; a parameter without '=' (the event
        list "0-16" of telephone-event) maps to ""."""
        result: dict[str, str] = {}
        for item in self.parameters.split(";"):
            key, _, val = item.strip().partition("=")
            if key:
                result[key.strip()] = val.strip()
        return result


@dataclass(frozen=True)
class Rtcp:
    """a=rtcp:<port> [IN IP4|IP6 <address>] (RFC 3605)."""

    port: int
    nettype: str | None = None
    addrtype: str | None = None
    address: str | None = None

    @classmethod
    def parse(cls, value: str) -> Rtcp:
        parts = value.split()
        if len(parts) not in (1, 4):
            raise SdpError(f"rtcp needs '<port> [IN IP4|IP6 <address>]', got {value[:40]!r}")
        port = parse_port(parts[0])
        if len(parts) == 1:
            return cls(port)
        if parts[1] != "IN" or parts[2] not in ("IP4", "IP6"):
            raise SdpError(f"rtcp address must be 'IN IP4|IP6 <address>', got {value[:40]!r}")
        return cls(port, parts[1], parts[2], parts[3])

    def __str__(self) -> str:
        if self.address is None:
            return str(self.port)
        return f"{self.port} {self.nettype} {self.addrtype} {self.address}"


@dataclass(frozen=True)
class Crypto:
    """a=crypto:<tag> <suite> <key params> [<session params>...] (RFC 4568 SDES).

    `key_params` (``inline:<base64 key||salt>[|lifetime][|MKI:len]``) is secret: it is
    left opaque here and hidden from repr().  str() gives the wire form, keys included.
    """

    tag: int
    suite: str
    key_params: str = field(repr=False)
    session_params: tuple[str, ...] = ()

    @classmethod
    def parse(cls, value: str) -> Crypto:
        # The key is never quoted in a message: only the tag and suite are shown.
        parts = value.split()
        if len(parts) < 3:
            raise SdpError("crypto needs '<tag> <crypto suite> inline:<key>'")
        if _CRYPTO_TAG_RE.fullmatch(parts[0]) is None:
            raise SdpError(f"crypto tag must be 1 to 9 digits, not {parts[0][:20]!r}")
        if not is_token(parts[1]):
            raise SdpError("crypto suite must be a token")
        if not all(param.startswith("inline:") and len(param) > 7 for param in parts[2].split(";")):
            raise SdpError(f"crypto tag {parts[0]}: key parameters must be 'inline:<key>'")
        return cls(int(parts[0]), parts[1], parts[2], tuple(parts[3:]))

    def __str__(self) -> str:
        return " ".join((str(self.tag), self.suite, self.key_params, *self.session_params))

    @property
    def inline_keys(self) -> list[str]:
        """The base64 key||salt of each inline key, without lifetime or MKI."""
        return [param[len("inline:"):].split("|")[0] for param in self.key_params.split(";")]

    @property
    def has_mki(self) -> bool:
        """True when a key carries a Master Key Identifier (``|<MKI>:<length>``)."""
        return any(":" in piece for param in self.key_params.split(";")
                   for piece in param[len("inline:"):].split("|")[1:])


def parse_direction(name: str) -> str:
    if name not in _DIRECTIONS:
        raise SdpError(f"direction must be one of {', '.join(_DIRECTIONS)}, not {name!r}")
    return name


def check_attribute(name: str, value: str | None) -> None:
    """Raise SdpError when a known attribute is malformed; unknown ones always pass."""
    if name in FLAG_ATTRIBUTES:
        if value is not None:
            raise SdpError(f"a={name} takes no value")
        return
    parsers: dict[str, Callable[[str], object]] = {
        "rtpmap": RtpMap.parse,
        "fmtp": Fmtp.parse,
        "rtcp": Rtcp.parse,
        "crypto": Crypto.parse,
        "ptime": lambda text: parse_milliseconds(text, "ptime"),
        "maxptime": lambda text: parse_milliseconds(text, "maxptime"),
        "mid": lambda text: text if is_token(text) else _raise(f"mid must be a token, not {text[:40]!r}"),
    }
    parser = parsers.get(name)
    if parser is None:
        return
    if value is None:
        raise SdpError(f"a={name} needs a value")
    parser(value)


def _raise(reason: str) -> str:
    raise SdpError(reason)
