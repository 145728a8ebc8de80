"""SDP session and media descriptions (RFC 8866, which obsoletes RFC 4566) as dataclasses.

A SessionDescription holds the session-level lines in their fixed order
(v o s i u e p c b t r z k a) and a list of MediaDescription (m i c b k a).  Attributes
are kept as (name, value) pairs in the order they came, so that unknown ones survive a
round trip; typed accessors read the ones offhook understands (rtpmap, fmtp, ptime,
maxptime, direction, rtcp, rtcp-mux, crypto, mid).  str() serialises with CRLF line
ends; parse_sdp(str(sdp)) == sdp.

repr() never shows key material (a=crypto, k=): str() is the wire form and does.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from offhook.errors import SdpError
from offhook.sdp.attributes import Crypto, Fmtp, Rtcp, RtpMap, check_attribute, parse_milliseconds

Direction = Literal["sendrecv", "sendonly", "recvonly", "inactive"]
DIRECTIONS: tuple[Direction, ...] = ("sendrecv", "sendonly", "recvonly", "inactive")
_SECRET_ATTRIBUTES = frozenset(("crypto", "key-mgmt"))


@dataclass
class Attribute:
    """a=<name> (a flag, value None) or a=<name>:<value>."""

    name: str
    value: str | None = None

    def __str__(self) -> str:
        return self.name if self.value is None else f"{self.name}:{self.value}"

    def __repr__(self) -> str:
        shown = "<hidden>" if self.name in _SECRET_ATTRIBUTES and self.value is not None else repr(self.value)
        return f"Attribute(name={self.name!r}, value={shown})"


@dataclass
class Origin:
    """o=<username> <sess-id> <sess-version> <nettype> <addrtype> <address>."""

    username: str
    session_id: str
    version: int
    address: str
    nettype: str = "IN"
    addrtype: str = "IP4"

    def __str__(self) -> str:
        return (f"{self.username} {self.session_id} {self.version} "
                f"{self.nettype} {self.addrtype} {self.address}")


@dataclass
class Connection:
    """c=IN IP4|IP6 <address>[/<ttl>][/<count>] (TTL only for IPv4 multicast)."""

    address: str
    addrtype: str = "IP4"
    nettype: str = "IN"
    ttl: int | None = None
    count: int | None = None

    def __str__(self) -> str:
        text = f"{self.nettype} {self.addrtype} {self.address}"
        if self.ttl is not None:
            text += f"/{self.ttl}"
        if self.count is not None:
            text += f"/{self.count}"
        return text

    @property
    def unspecified(self) -> bool:
        """c=IN IP4 0.0.0.0 (or ::): the RFC 2543 way of putting a call on hold."""
        return self.address in ("0.0.0.0", "::")


@dataclass
class Bandwidth:
    """b=<bwtype>:<kbit/s or bit/s, per bwtype>."""

    type: str
    value: int

    def __str__(self) -> str:
        return f"{self.type}:{self.value}"


@dataclass
class Timing:
    """t=<start> <stop> and the r= repeat lines under it (kept as text)."""

    start: int = 0
    stop: int = 0
    repeats: list[str] = field(default_factory=list)


class _AttributeMixin:
    attributes: list[Attribute]

    def attribute(self, name: str) -> Attribute | None:
        """The first attribute with this name, or None."""
        return next((attr for attr in self.attributes if attr.name == name), None)

    def values(self, name: str) -> list[str]:
        """The values of every attribute with this name, in order (flags give "")."""
        return [attr.value or "" for attr in self.attributes if attr.name == name]

    def has(self, name: str) -> bool:
        return self.attribute(name) is not None

    def add(self, name: str, value: str | None = None) -> None:
        """Append an attribute, checking the value of the ones offhook understands."""
        check_attribute(name, value)
        self.attributes.append(Attribute(name, value))

    def remove(self, name: str) -> None:
        self.attributes = [attr for attr in self.attributes if attr.name != name]

    @property
    def direction(self) -> Direction | None:
        """The direction attribute at this level, None when there is none."""
        found = [attr.name for attr in self.attributes if attr.name in DIRECTIONS]
        if len(set(found)) > 1:
            raise SdpError(f"conflicting direction attributes: {', '.join(found)}")
        return found[0] if found else None

    def set_direction(self, direction: Direction | None) -> None:
        """Replace the direction attribute (None removes it, leaving the default)."""
        if direction is not None and direction not in DIRECTIONS:
            raise SdpError(f"direction must be one of {', '.join(DIRECTIONS)}, not {direction!r}")
        self.attributes = [attr for attr in self.attributes if attr.name not in DIRECTIONS]
        if direction is not None:
            self.attributes.append(Attribute(direction))


@dataclass
class MediaDescription(_AttributeMixin):
    """One m= section: m=<media> <port>[/<count>] <proto> <fmt>... and its lines."""

    media: str
    port: int
    proto: str
    formats: list[str]
    port_count: int | None = None
    information: str | None = None
    connections: list[Connection] = field(default_factory=list)
    bandwidths: list[Bandwidth] = field(default_factory=list)
    key: str | None = field(default=None, repr=False)
    attributes: list[Attribute] = field(default_factory=list)

    @property
    def connection(self) -> Connection | None:
        return self.connections[0] if self.connections else None

    @property
    def is_rtp(self) -> bool:
        return "RTP/" in self.proto

    @property
    def payload_types(self) -> list[int]:
        """The formats as RTP payload types (SdpError for a non-RTP m-line)."""
        if not self.is_rtp:
            raise SdpError(f"m={self.media} uses {self.proto}, not RTP: its formats are not payload types")
        return [int(fmt) for fmt in self.formats]

    @property
    def rtpmaps(self) -> dict[int, RtpMap]:
        maps = (RtpMap.parse(value) for value in self.values("rtpmap"))
        return {rtpmap.payload_type: rtpmap for rtpmap in maps}

    def rtpmap(self, payload_type: int) -> RtpMap | None:
        return self.rtpmaps.get(payload_type)

    @property
    def fmtps(self) -> dict[str, Fmtp]:
        fmtps = (Fmtp.parse(value) for value in self.values("fmtp"))
        return {fmtp.format: fmtp for fmtp in fmtps}

    def fmtp(self, fmt: int | str) -> Fmtp | None:
        return self.fmtps.get(str(fmt))

    @property
    def ptime(self) -> float | None:
        attr = self.attribute("ptime")
        return None if attr is None or attr.value is None else parse_milliseconds(attr.value, "ptime")

    @property
    def maxptime(self) -> float | None:
        attr = self.attribute("maxptime")
        return None if attr is None or attr.value is None else parse_milliseconds(attr.value, "maxptime")

    @property
    def rtcp(self) -> Rtcp | None:
        attr = self.attribute("rtcp")
        return None if attr is None or attr.value is None else Rtcp.parse(attr.value)

    @property
    def rtcp_mux(self) -> bool:
        return self.has("rtcp-mux")

    @property
    def cryptos(self) -> list[Crypto]:
        return [Crypto.parse(value) for value in self.values("crypto")]

    @property
    def mid(self) -> str | None:
        attr = self.attribute("mid")
        return None if attr is None else attr.value

    def lines(self) -> Iterator[str]:
        port = str(self.port) if self.port_count is None else f"{self.port}/{self.port_count}"
        yield " ".join(("m=" + self.media, port, self.proto, *self.formats))
        if self.information is not None:
            yield "i=" + self.information
        for conn in self.connections:
            yield f"c={conn}"
        for bw in self.bandwidths:
            yield f"b={bw}"
        if self.key is not None:
            yield "k=" + self.key
        for attr in self.attributes:
            yield f"a={attr}"

    def __str__(self) -> str:
        return "".join(line + "\r\n" for line in self.lines())


@dataclass
class SessionDescription(_AttributeMixin):
    """A whole SDP body.  str() is the wire form (CRLF line ends); bytes() its UTF-8."""

    origin: Origin
    session_name: str = "-"
    version: int = 0
    information: str | None = None
    uri: str | None = None
    emails: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    connection: Connection | None = None
    bandwidths: list[Bandwidth] = field(default_factory=list)
    timings: list[Timing] = field(default_factory=lambda: [Timing()])
    zone: str | None = None
    key: str | None = field(default=None, repr=False)
    attributes: list[Attribute] = field(default_factory=list)
    media: list[MediaDescription] = field(default_factory=list)

    def media_direction(self, media: MediaDescription) -> Direction:
        """The direction in force for a stream: its own, else the session's, else sendrecv."""
        return media.direction or self.direction or "sendrecv"

    def media_connection(self, media: MediaDescription) -> Connection | None:
        """The connection in force for a stream: its own c=, else the session's."""
        return media.connection or self.connection

    def lines(self) -> Iterator[str]:
        yield f"v={self.version}"
        yield f"o={self.origin}"
        yield "s=" + self.session_name
        if self.information is not None:
            yield "i=" + self.information
        if self.uri is not None:
            yield "u=" + self.uri
        yield from ("e=" + email for email in self.emails)
        yield from ("p=" + phone for phone in self.phones)
        if self.connection is not None:
            yield f"c={self.connection}"
        yield from (f"b={bw}" for bw in self.bandwidths)
        for timing in self.timings:
            yield f"t={timing.start} {timing.stop}"
            yield from ("r=" + repeat for repeat in timing.repeats)
        if self.zone is not None:
            yield "z=" + self.zone
        if self.key is not None:
            yield "k=" + self.key
        yield from (f"a={attr}" for attr in self.attributes)
        for media in self.media:
            yield from media.lines()

    def __str__(self) -> str:
        return "".join(line + "\r\n" for line in self.lines())

    def __bytes__(self) -> bytes:
        return str(self).encode("utf-8")
