"""parse_sdp(): text → SessionDescription, strict on structure (RFC 8866 §5, §9).

What is checked, each failure an SdpError naming the 1-based line:
- size: at most MAX_SDP_BYTES in all, MAX_LINE_LENGTH per line, MAX_LINES lines,
  MAX_MEDIA m-lines (SDP arrives from the network: never unbounded work);
- lines are ``<lowercase letter>=<value>`` ending in CRLF or LF (both accepted, also
  mixed, a missing final line end too); no NUL or bare CR inside a line; blank lines
  only at the very end;
- v=0 first, then o= and s=, at least one t=; session lines in the RFC's order
  (v o s i u e p c b t r z k a), media lines (i c b k a) after each m=; unknown line
  types are rejected, as RFC 8866 §5 asks;
- o= has its six fields, c= is ``IN IP4|IP6 <address>`` with an address that fits its
  type, m= has a 0..65535 port and at least one format (0..127 for RTP profiles), and
  every used stream (port ≠ 0) has a c= at its own or the session level;
- known attributes (rtpmap, fmtp, ptime, maxptime, rtcp, crypto, mid, direction flags,
  rtcp-mux) are well formed; unknown attributes are kept verbatim.

Leniency where real peers need it: an empty s= is accepted (RFC says "s= "), and fields
may be separated by more than one space (they are written back with one).
"""
from __future__ import annotations

import ipaddress
import re

from offhook.errors import SdpError
from offhook.sdp.attributes import (
    TOKEN,
    check_attribute,
    is_token,
    parse_payload_type,
    parse_port,
    parse_positive,
)
from offhook.sdp.session import (
    DIRECTIONS,
    Attribute,
    Bandwidth,
    Connection,
    MediaDescription,
    Origin,
    SessionDescription,
    Timing,
)

MAX_SDP_BYTES = 65536
MAX_LINE_LENGTH = 4096
MAX_LINES = 2048
MAX_MEDIA = 64

_SESSION_ORDER = "vosiuepcbtrzka"
_SESSION_REPEATABLE = frozenset("epbta")
_MEDIA_ORDER = "icbka"
_MEDIA_REPEATABLE = frozenset("cba")
_NUMBER_RE = re.compile(r"[0-9]{1,64}")
_TIME_RE = re.compile(r"[0-9]{1,20}")
_BANDWIDTH_RE = re.compile(rf"({TOKEN}):([0-9]{{1,12}})")
_ATTRIBUTE_RE = re.compile(rf"({TOKEN})(?::(.*))?", re.DOTALL)
_HOSTNAME_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252}[A-Za-z0-9])?")
_PROTO_RE = re.compile(rf"{TOKEN}(?:/{TOKEN})*")


def parse_sdp(text: str | bytes) -> SessionDescription:
    """Parse an SDP body (str, or bytes in UTF-8) or raise SdpError with the line at fault."""
    if isinstance(text, bytes | bytearray):
        raw = bytes(text)
        if len(raw) > MAX_SDP_BYTES:
            raise SdpError(f"SDP is larger than {MAX_SDP_BYTES} bytes", raw[:MAX_SDP_BYTES].count(b"\n") + 1)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SdpError("not valid UTF-8", raw[:exc.start].count(b"\n") + 1) from None
    elif not isinstance(text, str):
        raise SdpError(f"SDP must be str or bytes, not {type(text).__name__}")
    if len(text) > MAX_SDP_BYTES:
        raise SdpError(f"SDP is larger than {MAX_SDP_BYTES} bytes", text[:MAX_SDP_BYTES].count("\n") + 1)
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError as exc:  # lone surrogates: bytes(sdp) could never be written
        raise SdpError("text holds a lone surrogate, which UTF-8 cannot carry",
                       text[:exc.start].count("\n") + 1) from None
    if size > MAX_SDP_BYTES:
        raise SdpError(f"SDP is larger than {MAX_SDP_BYTES} bytes",
                       len(text.encode("utf-8")[:MAX_SDP_BYTES].split(b"\n")))
    return _Parser(_split_lines(text)).run()


def _split_lines(text: str) -> list[str]:
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the final line end
    while lines and lines[-1] in ("", "\r"):
        lines.pop()  # trailing blank lines some peers add
    if not lines:
        raise SdpError("SDP is empty", 1)
    if len(lines) > MAX_LINES:
        raise SdpError(f"SDP has more than {MAX_LINES} lines", MAX_LINES + 1)
    return [line.removesuffix("\r") for line in lines]


class _Parser:
    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.number = 0
        self.sdp: SessionDescription | None = None
        self.media: MediaDescription | None = None
        self.media_lines: list[int] = []
        self.origin: Origin | None = None

    def fail(self, reason: str) -> SdpError:
        return SdpError(reason, self.number)

    def run(self) -> SessionDescription:
        last = ""
        for number, line in enumerate(self.lines, 1):
            self.number = number
            kind, value = self.split(line)
            if self.number == 1:
                if kind != "v":
                    raise self.fail(f"SDP must start with v=, not {line[:40]!r}")
                if value != "0":
                    raise self.fail(f"only SDP version 0 exists, not v={value[:20]!r}")
                continue
            if kind == "m":
                self.start_media(value)
                last = "m"
                continue
            if self.media is None:
                self.check_order(kind, last, _SESSION_ORDER, _SESSION_REPEATABLE)
                self.session_line(kind, value)
            else:
                self.check_order(kind, last, "m" + _MEDIA_ORDER, _MEDIA_REPEATABLE)
                self.media_line(self.media, kind, value)
            last = kind
        sdp = self.session()
        if not sdp.timings:
            raise self.fail("SDP has no t= line (write t=0 0)")
        for number, media in zip(self.media_lines, sdp.media, strict=True):
            if media.port != 0 and not media.connections and sdp.connection is None:
                raise SdpError(f"m={media.media} has no c= line and the session has none", number)
        return sdp

    def split(self, line: str) -> tuple[str, str]:
        if len(line) > MAX_LINE_LENGTH:
            raise self.fail(f"line is longer than {MAX_LINE_LENGTH} characters")
        if len(line) < 2 or line[1] != "=" or not ("a" <= line[0] <= "z"):
            shown = line[:40] if line else ""
            raise self.fail(f"expected '<letter>=<value>', got {shown!r}")
        if "\r" in line or "\x00" in line:
            raise self.fail("line holds a bare CR or a NUL character")
        return line[0], line[2:]

    def check_order(self, kind: str, last: str, order: str, repeatable: frozenset[str]) -> None:
        if kind not in order:
            where = "a media section" if order[0] == "m" else "the session section"
            raise self.fail(f"{kind}= is not a known line type in {where}")
        if order is _SESSION_ORDER and kind == "r":
            if last not in "tr":
                raise self.fail("r= must follow a t= line")
            return
        if order is _SESSION_ORDER and kind == "t" and last == "r":
            return
        rank, last_rank = order.index(kind), order.index(last) if last else -1
        if rank == last_rank and kind not in repeatable:
            raise self.fail(f"{kind}= appears twice")
        if rank < last_rank:
            raise self.fail(f"{kind}= is out of order: it must come before {last}=")

    def session(self) -> SessionDescription:
        if self.sdp is None:
            raise self.fail("SDP needs an o= and an s= line after v=")
        return self.sdp

    def session_line(self, kind: str, value: str) -> None:
        if self.number == 2 and kind != "o":
            raise self.fail(f"the second line must be o=, not {kind}=")
        if kind == "o":
            self.origin = self.parse_origin(value)
            return
        if self.sdp is None:
            if kind != "s" or self.origin is None:
                raise self.fail(f"the third line must be s=, not {kind}=")
            self.sdp = SessionDescription(origin=self.origin, session_name=value, timings=[])
            return
        sdp = self.sdp
        if kind == "i":
            sdp.information = value
        elif kind == "u":
            sdp.uri = value
        elif kind == "e":
            sdp.emails.append(value)
        elif kind == "p":
            sdp.phones.append(value)
        elif kind == "c":
            sdp.connection = self.parse_connection(value)
        elif kind == "b":
            sdp.bandwidths.append(self.parse_bandwidth(value))
        elif kind == "t":
            sdp.timings.append(self.parse_timing(value))
        elif kind == "r":
            sdp.timings[-1].repeats.append(self.nonempty(value, "r"))
        elif kind == "z":
            sdp.zone = self.nonempty(value, "z")
        elif kind == "k":
            sdp.key = value
        else:
            sdp.attributes.append(self.parse_attribute(value, sdp.attributes))

    def start_media(self, value: str) -> None:
        sdp = self.session()
        if not sdp.timings:
            raise self.fail("SDP needs a t= line before the first m= line (write t=0 0)")
        if len(sdp.media) >= MAX_MEDIA:
            raise self.fail(f"SDP has more than {MAX_MEDIA} m= lines")
        fields = value.split()
        if len(fields) < 4:
            raise self.fail("m= needs '<media> <port> <proto> <format>...'")
        media, port_text, proto, *formats = fields
        if not is_token(media):
            raise self.fail(f"m= media type must be a token, not {media[:20]!r}")
        port_text, slash, count_text = port_text.partition("/")
        try:
            port = parse_port(port_text)
            count = parse_positive(count_text, "m= port count") if slash else None
            if _PROTO_RE.fullmatch(proto) is None:
                raise SdpError(f"m= transport must be tokens separated by '/', not {proto[:20]!r}")
            if len(set(formats)) != len(formats):
                raise SdpError("a format is listed twice")
            for fmt in formats:
                if "RTP/" in proto:
                    parse_payload_type(fmt)
                elif not is_token(fmt):
                    raise SdpError(f"m= format must be a token, not {fmt[:20]!r}")
        except SdpError as exc:
            raise self.fail(f"bad m= line: {exc.reason}") from None
        self.media = MediaDescription(media, port, proto, formats, port_count=count)
        sdp.media.append(self.media)
        self.media_lines.append(self.number)

    def media_line(self, media: MediaDescription, kind: str, value: str) -> None:
        if kind == "i":
            media.information = value
        elif kind == "c":
            media.connections.append(self.parse_connection(value))
        elif kind == "b":
            media.bandwidths.append(self.parse_bandwidth(value))
        elif kind == "k":
            media.key = value
        else:
            media.attributes.append(self.parse_attribute(value, media.attributes))

    def parse_origin(self, value: str) -> Origin:
        fields = value.split()
        if len(fields) != 6:
            raise self.fail("o= needs '<username> <sess-id> <sess-version> IN IP4|IP6 <address>'")
        username, session_id, version, nettype, addrtype, address = fields
        for name, number in (("session id", session_id), ("session version", version)):
            if _NUMBER_RE.fullmatch(number) is None:
                raise self.fail(f"o= {name} must be digits, not {number[:20]!r}")
        if not (is_token(nettype) and is_token(addrtype)):
            raise self.fail("o= network and address types must be tokens")
        return Origin(username, session_id, int(version), address, nettype, addrtype)

    def parse_connection(self, value: str) -> Connection:
        fields = value.split()
        if len(fields) != 3:
            raise self.fail("c= needs 'IN IP4|IP6 <address>'")
        nettype, addrtype, spec = fields
        if nettype != "IN":
            raise self.fail(f"c= network type must be IN, not {nettype[:20]!r}")
        if addrtype not in ("IP4", "IP6"):
            raise self.fail(f"c= address type must be IP4 or IP6, not {addrtype[:20]!r}")
        address, *suffix = spec.split("/")
        self.check_address(address, addrtype)
        ttl = count = None
        try:
            if addrtype == "IP4" and suffix:
                ttl = parse_positive(suffix[0], "c= TTL")
                count = parse_positive(suffix[1], "c= address count") if len(suffix) > 1 else None
            elif suffix:
                count = parse_positive(suffix[0], "c= address count")
        except SdpError as exc:
            raise self.fail(exc.reason) from None
        if len(suffix) > (2 if addrtype == "IP4" else 1):
            raise self.fail(f"c= address {spec[:60]!r} has too many '/' parts")
        return Connection(address, addrtype, nettype, ttl, count)

    def check_address(self, address: str, addrtype: str) -> None:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            if _HOSTNAME_RE.fullmatch(address) is None or address.replace(".", "").isdigit():
                raise self.fail(f"c= address {address[:60]!r} is neither an {addrtype} address "
                                "nor a host name") from None
            return
        if ip.version != (4 if addrtype == "IP4" else 6):
            raise self.fail(f"c= address {address!r} is not an {addrtype} address")

    def parse_bandwidth(self, value: str) -> Bandwidth:
        match = _BANDWIDTH_RE.fullmatch(value)
        if match is None:
            raise self.fail(f"b= needs '<type>:<number>', not {value[:40]!r}")
        return Bandwidth(match[1], int(match[2]))

    def parse_timing(self, value: str) -> Timing:
        fields = value.split()
        if len(fields) != 2 or not all(_TIME_RE.fullmatch(f) for f in fields):
            raise self.fail(f"t= needs '<start> <stop>' as numbers, not {value[:40]!r}")
        return Timing(int(fields[0]), int(fields[1]))

    def parse_attribute(self, value: str, earlier: list[Attribute]) -> Attribute:
        match = _ATTRIBUTE_RE.fullmatch(value)
        if match is None:
            raise self.fail(f"a= needs '<name>' or '<name>:<value>', not {value[:40]!r}")
        name, attr_value = match[1], match[2]
        try:
            check_attribute(name, attr_value)
        except SdpError as exc:
            raise self.fail(exc.reason) from None
        if name in DIRECTIONS:
            other = next((attr.name for attr in earlier if attr.name in DIRECTIONS), name)
            if other != name:
                raise self.fail(f"a={name} conflicts with the earlier a={other}")
        if name in ("rtpmap", "fmtp") and attr_value is not None:
            fmt = attr_value.split(" ", 1)[0]
            if any(attr.name == name and (attr.value or "").split(" ", 1)[0] == fmt for attr in earlier):
                raise self.fail(f"a={name} for format {fmt} appears twice")
        return Attribute(name, attr_value)

    def nonempty(self, value: str, kind: str) -> str:
        if not value.strip():
            raise self.fail(f"{kind}= is empty")
        return value
