"""Locating SIP servers (RFC 3263) over a sans-I/O DNS codec (RFC 1035, 2782, 2915, 3596).

Three layers:

- The DNS message codec: `encode_query(name, rtype)` and `DnsMessage.encode()` write
  packets, `parse_dns(data)` reads them (header, questions, A/AAAA/SRV/NAPTR/CNAME
  records; other types keep their raw rdata). Names may use compression pointers;
  a pointer must point strictly before the label that holds it, so a loop or a
  forward chain cannot run forever, and a decoded name longer than 255 octets is
  refused. Every defect (a truncated packet, a label type other than 00/11, a
  record running past the end) is a `DnsError` saying where it is.
- The RFC 3263 procedure as a generator-driven object, `ServerLocator(uri)`: it
  asks `next_question()` for the (name, type) it needs, is fed the records of each
  answer with `feed()` (NXDOMAIN and "no data" are an empty list), and ends with
  `targets`: the ordered list of (transport, address, port) to try, first to last,
  for failover (RFC 3263 §4.3: on a transport error or 503, move to the next).
  Records from the additional section are kept, so an SRV answer that carries the
  targets' A records needs no further question.
- A thin asyncio shell: `query(server, name, rtype, timeout)` sends one UDP query
  (retrying over TCP when the answer is truncated) and `resolve(uri, server)` drives
  a ServerLocator with it.
- The UA's resolver, `DnsResolver`: RFC 3263 through one or more nameservers;
  `system_resolver()` is the phone's and the CLI's default: the nameservers of
  /etc/resolv.conf (sip/resolv_conf.py) or a configured `dns_server`, falling back
  to getaddrinfo when no nameserver answers or DNS has no SIP records and no
  address for the name (a name only in /etc/hosts; "localhost" never goes to DNS,
  RFC 6761), and logging which way each name was found.

Choices in the procedure (RFC 3263 §4):
- Transport: an explicit `transport=` parameter wins; else a numeric host or an
  explicit port gives UDP for sip: and TLS for sips:; else NAPTR decides, else SRV.
- NAPTR: only records with flag "s" and a service we support (SIP+D2U -> udp,
  SIP+D2T -> tcp, SIPS+D2T -> tls; SIP+D2S / SIPS+D2S are SCTP and are recognised
  but only used if "sctp" is in `transports`) are followed, in (order, preference)
  order; a sips: URI only follows SIPS services. Regexp-rewriting ("u" flag)
  records are ignored, as RFC 3263 says SIP does not use them.
- With no usable NAPTR: SRV for each supported transport in the order udp, tcp,
  tls (sip:) or _sips._tcp only (sips:). With no SRV either: A/AAAA of the host on
  the default port (5060, 5061 for TLS) with UDP (sip:) or TLS (sips:).
- SRV ordering (RFC 2782): ascending priority; within one priority a weighted
  random draw without replacement, zero-weight records placed first so they keep
  a small chance (one in total+1; otherwise the odds are exactly the weights);
  the RNG is injectable (`rng=random.Random(seed)`) for tests.
  A target of "." means "no service here" and ends that SRV set.
- Addresses: A records before AAAA records for each host (`prefer_ipv6=True`
  swaps them); duplicates (same transport, address and port) are kept once.
- CNAME chains inside an answer are followed (at most 8 links).

Known limits: no EDNS0, no DNSSEC, no caching across lookups (the UA may keep the
target list for the records' TTL: `ServerLocator.min_ttl`), SCTP is never used by
offhook's transports.
"""
from __future__ import annotations

import asyncio
import ipaddress
import logging
import random
import secrets
import socket
import struct
import time
from collections.abc import Awaitable, Callable, Generator, Iterable, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import cast

from offhook.errors import DnsError, OffhookError
from offhook.sip.resolv_conf import ResolvConf, read_resolv_conf
from offhook.sip.uri import URI, SipURI

__all__ = [
    "DnsError",
    "DnsMessage",
    "DnsResolver",
    "DnsSilentError",
    "DnsTimeoutError",
    "NaptrRecord",
    "Question",
    "RType",
    "ResourceRecord",
    "ServerLocator",
    "SrvRecord",
    "Target",
    "encode_name",
    "encode_query",
    "is_localhost",
    "locate_registrar",
    "order_srv",
    "parse_dns",
    "query",
    "resolve",
    "system_lookup",
    "system_resolver",
]

log = logging.getLogger("offhook.sip.resolve")

MAX_NAME = 255
MAX_LABEL = 63
MAX_CNAME_CHAIN = 8
HEADER = struct.Struct("!HHHHHH")
Address = tuple[str, int]


class DnsTimeoutError(DnsError, TimeoutError):
    """No answer from the DNS server within the timeout."""


class RType(IntEnum):
    A = 1
    NS = 2
    CNAME = 5
    SOA = 6
    PTR = 12
    TXT = 16
    AAAA = 28
    SRV = 33
    NAPTR = 35
    OPT = 41


@dataclass(frozen=True)
class SrvRecord:
    priority: int
    weight: int
    port: int
    target: str


@dataclass(frozen=True)
class NaptrRecord:
    order: int
    preference: int
    flags: str
    service: str
    regexp: str
    replacement: str


RData = str | SrvRecord | NaptrRecord | bytes


@dataclass(frozen=True)
class Question:
    name: str
    rtype: int
    rclass: int = 1


@dataclass(frozen=True)
class ResourceRecord:
    """One record. `data` is an address string (A, AAAA), a name (CNAME, NS, PTR),
    an SrvRecord, a NaptrRecord, or the raw rdata bytes for other types."""

    name: str
    rtype: int
    ttl: int
    data: RData
    rclass: int = 1


@dataclass
class DnsMessage:
    id: int
    response: bool = False
    opcode: int = 0
    authoritative: bool = False
    truncated: bool = False
    recursion_desired: bool = True
    recursion_available: bool = False
    rcode: int = 0
    questions: list[Question] = field(default_factory=list)
    answers: list[ResourceRecord] = field(default_factory=list)
    authority: list[ResourceRecord] = field(default_factory=list)
    additional: list[ResourceRecord] = field(default_factory=list)

    @property
    def flags(self) -> int:
        return ((self.response << 15) | ((self.opcode & 0xF) << 11) | (self.authoritative << 10)
                | (self.truncated << 9) | (self.recursion_desired << 8)
                | (self.recursion_available << 7) | (self.rcode & 0xF))

    def encode(self) -> bytes:
        """The wire form (names written uncompressed)."""
        out = bytearray(HEADER.pack(self.id, self.flags, len(self.questions), len(self.answers),
                                    len(self.authority), len(self.additional)))
        for q in self.questions:
            out += encode_name(q.name) + struct.pack("!HH", q.rtype, q.rclass)
        for rr in (*self.answers, *self.authority, *self.additional):
            rdata = _encode_rdata(rr)
            out += encode_name(rr.name) + struct.pack("!HHIH", rr.rtype, rr.rclass, rr.ttl, len(rdata))
            out += rdata
        return bytes(out)


# --- encoding -----------------------------------------------------------------------------------


def encode_name(name: str) -> bytes:
    """A domain name as length-prefixed labels ("." and "" are the root)."""
    text = name.rstrip(".") if name not in (".", "") else ""
    out = bytearray()
    if text:
        for label in text.split("."):
            try:
                raw = label.encode("ascii")
            except UnicodeEncodeError:
                raise DnsError(f"DNS name {name!r} is not ASCII (IDNA names must be "
                               "converted first)") from None
            if not raw or len(raw) > MAX_LABEL:
                raise DnsError(f"DNS name {name!r} has an empty label or one over {MAX_LABEL} octets")
            out += bytes([len(raw)]) + raw
    out += b"\0"
    if len(out) > MAX_NAME:
        raise DnsError(f"DNS name {name!r} is longer than {MAX_NAME} octets")
    return bytes(out)


def _char_string(text: str) -> bytes:
    raw = text.encode("utf-8")
    if len(raw) > 255:
        raise DnsError(f"character-string of {len(raw)} octets exceeds 255")
    return bytes([len(raw)]) + raw


def _encode_rdata(rr: ResourceRecord) -> bytes:
    data = rr.data
    if rr.rtype == RType.A and isinstance(data, str):
        return ipaddress.IPv4Address(data).packed
    if rr.rtype == RType.AAAA and isinstance(data, str):
        return ipaddress.IPv6Address(data).packed
    if rr.rtype in (RType.CNAME, RType.NS, RType.PTR) and isinstance(data, str):
        return encode_name(data)
    if isinstance(data, SrvRecord):
        return struct.pack("!HHH", data.priority, data.weight, data.port) + encode_name(data.target)
    if isinstance(data, NaptrRecord):
        return (struct.pack("!HH", data.order, data.preference) + _char_string(data.flags)
                + _char_string(data.service) + _char_string(data.regexp) + encode_name(data.replacement))
    if isinstance(data, bytes):
        return data
    raise DnsError(f"cannot encode {type(data).__name__} data for record type {rr.rtype}")


def encode_query(name: str, rtype: int, *, id: int | None = None, recursion: bool = True) -> bytes:
    """A standard query for one (name, type); a random 16-bit id unless given."""
    qid = secrets.randbelow(65536) if id is None else id
    if not 0 <= qid <= 0xFFFF:
        raise DnsError(f"DNS id must be 0..65535, not {qid}")
    return DnsMessage(qid, recursion_desired=recursion, questions=[Question(name, int(rtype))]).encode()


# --- decoding -----------------------------------------------------------------------------------


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int, what: str) -> bytes:
        if self.pos + n > len(self.data):
            raise DnsError(f"DNS packet truncated: {what} at offset {self.pos} needs {n} octets, "
                           f"{len(self.data) - self.pos} left")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def unpack(self, fmt: str, what: str) -> tuple[int, ...]:
        s = struct.Struct(fmt)
        return s.unpack(self.take(s.size, what))

    def name(self) -> str:
        name, self.pos = _read_name(self.data, self.pos)
        return name


def _read_name(data: bytes, pos: int) -> tuple[str, int]:
    """Decode a (possibly compressed) name at pos; return it and the offset after it."""
    labels: list[str] = []
    length = 1
    end: int | None = None
    floor = pos  # a pointer must go strictly below every label read so far: no loops
    while True:
        if pos >= len(data):
            raise DnsError(f"DNS packet truncated inside a name at offset {pos}")
        n = data[pos]
        kind = n & 0xC0
        if kind == 0xC0:
            if pos + 1 >= len(data):
                raise DnsError(f"DNS packet truncated inside a compression pointer at offset {pos}")
            target = ((n & 0x3F) << 8) | data[pos + 1]
            if end is None:
                end = pos + 2
            if target >= floor:
                raise DnsError(f"DNS compression pointer at offset {pos} points forward or loops "
                               f"(to {target})")
            pos = floor = target
            continue
        if kind != 0:
            raise DnsError(f"DNS label type 0x{kind:02x} at offset {pos} is not supported")
        if n == 0:
            return (".".join(labels) or "."), (pos + 1 if end is None else end)
        if pos + 1 + n > len(data):
            raise DnsError(f"DNS packet truncated inside a label at offset {pos}")
        length += n + 1
        if length > MAX_NAME:
            raise DnsError(f"DNS name at offset {pos} is longer than {MAX_NAME} octets")
        labels.append(data[pos + 1:pos + 1 + n].decode("ascii", "backslashreplace"))
        pos += n + 1


def _read_char_string(r: _Reader, what: str) -> str:
    (n,) = r.unpack("!B", what)
    return r.take(n, what).decode("utf-8", "backslashreplace")


def _read_record(r: _Reader) -> ResourceRecord:
    name = r.name()
    rtype, rclass, ttl, rdlength = r.unpack("!HHIH", f"record header of {name}")
    start = r.pos
    raw = r.take(rdlength, f"rdata of {name}")
    end = r.pos
    data: RData
    if rtype == RType.A:
        if rdlength != 4:
            raise DnsError(f"A record of {name} has {rdlength} octets of data, not 4")
        data = str(ipaddress.IPv4Address(raw))
    elif rtype == RType.AAAA:
        if rdlength != 16:
            raise DnsError(f"AAAA record of {name} has {rdlength} octets of data, not 16")
        data = str(ipaddress.IPv6Address(raw))
    elif rtype in (RType.CNAME, RType.NS, RType.PTR, RType.SRV, RType.NAPTR):
        sub = _Reader(r.data[:end])  # names may point anywhere before, but not past the rdata
        sub.pos = start
        if rtype == RType.SRV:
            priority, weight, port = sub.unpack("!HHH", f"SRV data of {name}")
            data = SrvRecord(priority, weight, port, sub.name())
        elif rtype == RType.NAPTR:
            order, pref = sub.unpack("!HH", f"NAPTR data of {name}")
            flags = _read_char_string(sub, "NAPTR flags")
            service = _read_char_string(sub, "NAPTR service")
            regexp = _read_char_string(sub, "NAPTR regexp")
            data = NaptrRecord(order, pref, flags, service, regexp, sub.name())
        else:
            data = sub.name()
        if sub.pos != end:
            raise DnsError(f"{RType(rtype).name} record of {name}: rdlength {rdlength} does not "
                           "match its content")
    else:
        data = raw
    return ResourceRecord(name, rtype, ttl, data, rclass)


def parse_dns(data: bytes | bytearray | memoryview) -> DnsMessage:
    """Decode a DNS message; DnsError on any malformation (never another exception)."""
    buf = bytes(data)
    if len(buf) < HEADER.size:
        raise DnsError(f"DNS packet of {len(buf)} octets is shorter than its 12-octet header")
    r = _Reader(buf)
    qid, flags, qd, an, ns, ar = r.unpack(HEADER.format, "header")
    # each question needs >= 5 octets, each record >= 11: bound the counts before looping
    if qd * 5 + (an + ns + ar) * 11 > len(buf) - HEADER.size:
        raise DnsError(f"DNS header counts ({qd} questions, {an + ns + ar} records) cannot fit "
                       f"in {len(buf)} octets")
    msg = DnsMessage(qid, response=bool(flags >> 15), opcode=(flags >> 11) & 0xF,
                     authoritative=bool(flags & 0x400), truncated=bool(flags & 0x200),
                     recursion_desired=bool(flags & 0x100), recursion_available=bool(flags & 0x80),
                     rcode=flags & 0xF)
    for _ in range(qd):
        name = r.name()
        rtype, rclass = r.unpack("!HH", f"question {name}")
        msg.questions.append(Question(name, rtype, rclass))
    for section, count in ((msg.answers, an), (msg.authority, ns), (msg.additional, ar)):
        for _ in range(count):
            section.append(_read_record(r))
    return msg


# --- RFC 2782 ordering ------------------------------------------------------------------------


def order_srv(records: Iterable[SrvRecord], rng: random.Random | None = None) -> list[SrvRecord]:
    """Order SRV records for trying: by priority, weighted-random within a priority."""
    rng = rng or random.Random()
    by_priority: dict[int, list[SrvRecord]] = {}
    for rec in records:
        by_priority.setdefault(rec.priority, []).append(rec)
    out: list[SrvRecord] = []
    for priority in sorted(by_priority):
        pool = sorted(by_priority[priority], key=lambda rec: rec.weight != 0)
        while pool:
            total = sum(rec.weight for rec in pool)
            if total == 0:
                out.append(pool.pop(rng.randrange(len(pool))))
                continue
            # RFC 2782 draws 0..total, which gives the first record one extra share;
            # drawing from 1 keeps the odds exactly proportional to the weights unless
            # zero-weight records are present (they then share one chance in total+1).
            pick = rng.randint(0 if pool[0].weight == 0 else 1, total)
            running = 0
            for i, rec in enumerate(pool):
                running += rec.weight
                if running >= pick:
                    out.append(pool.pop(i))
                    break
    return out


# --- the RFC 3263 procedure ---------------------------------------------------------------------

_NAPTR_SERVICES = {"SIP+D2U": ("udp", False), "SIP+D2T": ("tcp", False), "SIPS+D2T": ("tls", True),
                   "SIP+D2S": ("sctp", False), "SIPS+D2S": ("tls-sctp", True)}
_SRV_PREFIX = {"udp": "_sip._udp", "tcp": "_sip._tcp", "tls": "_sips._tcp", "sctp": "_sip._sctp",
               "tls-sctp": "_sips._sctp"}
DEFAULT_PORTS = {"udp": 5060, "tcp": 5060, "sctp": 5060, "tls": 5061, "tls-sctp": 5061}


@dataclass(frozen=True)
class Target:
    """One place to send a request: transport ("udp", "tcp", "tls"), IP address, port,
    and the host name it came from (for TLS server name checks)."""

    transport: str
    address: str
    port: int
    host: str


_Step = Generator[Question, list[ResourceRecord], list[Target]]


class ServerLocator:
    """The RFC 3263 §4 procedure for one URI, sans I/O.

        loc = ServerLocator(uri)
        while (q := loc.next_question()) is not None:
            loc.feed(q, records_of_the_answer)       # all sections; [] for NXDOMAIN
        loc.targets                                   # ordered, for failover
    """

    def __init__(self, uri: SipURI, *, transports: Sequence[str] = ("udp", "tcp", "tls"),
                 rng: random.Random | None = None, prefer_ipv6: bool = False,
                 families: Sequence[int] = (4, 6)) -> None:
        if not isinstance(uri, SipURI):
            raise DnsError(f"only sip: and sips: URIs can be located, not {uri!r}")
        unknown = set(transports) - set(DEFAULT_PORTS)
        if unknown or not transports:
            raise DnsError(f"transports must be a non-empty subset of {sorted(DEFAULT_PORTS)}, "
                           f"not {list(transports)}")
        self.uri = uri
        self.transports = tuple(transports)
        self.rng = rng or random.Random()
        self.prefer_ipv6 = prefer_ipv6
        self.families = tuple(families)
        self.targets: list[Target] = []
        self.min_ttl: int | None = None
        self._known: dict[tuple[str, int], list[ResourceRecord]] = {}
        self._pending: Question | None = None
        self._steps: _Step = self._run()
        self._done = False
        self._advance(None)

    @property
    def done(self) -> bool:
        return self._done

    def next_question(self) -> Question | None:
        """The question to ask next, or None when `targets` is final."""
        return self._pending

    def feed(self, question: Question, records: Sequence[ResourceRecord]) -> None:
        """The records of the answer to `question` (answer, authority and additional
        sections alike); an empty list for NXDOMAIN, no data, or a failed server."""
        if self._pending is None or question != self._pending:
            raise DnsError(f"feed() got an answer for {question}, but the locator asked "
                           f"{self._pending}")
        self._remember(records)
        key = (_norm(question.name), question.rtype)
        self._known.setdefault(key, [])
        self._advance(self._lookup(question.name, question.rtype))

    def _advance(self, value: list[ResourceRecord] | None) -> None:
        try:
            while True:
                q = self._steps.send(value) if value is not None else next(self._steps)
                cached = self._cached(q.name, q.rtype)
                if cached is None:
                    self._pending = q
                    return
                value = cached
        except StopIteration as stop:
            self.targets = _dedupe(stop.value)
            self._pending = None
            self._done = True

    def _remember(self, records: Iterable[ResourceRecord]) -> None:
        for rr in records:
            if rr.rclass != 1:
                continue
            self._known.setdefault((_norm(rr.name), rr.rtype), []).append(rr)
            self.min_ttl = rr.ttl if self.min_ttl is None else min(self.min_ttl, rr.ttl)

    def _cached(self, name: str, rtype: int) -> list[ResourceRecord] | None:
        if (_norm(name), rtype) in self._known or (_norm(name), RType.CNAME) in self._known:
            return self._lookup(name, rtype)
        return None

    def _lookup(self, name: str, rtype: int) -> list[ResourceRecord]:
        for _ in range(MAX_CNAME_CHAIN):
            found = self._known.get((_norm(name), rtype))
            if found:
                return found
            alias = self._known.get((_norm(name), RType.CNAME))
            if not alias or not isinstance(alias[0].data, str):
                return []
            name = alias[0].data
        return []

    # -- the procedure, as a generator of questions ----------------------------------------

    def _run(self) -> _Step:
        uri = self.uri
        host = uri.params.get("maddr") or uri.host_address
        if host.startswith("["):
            host = host[1:-1]
        secure = uri.secure
        transport = uri.transport
        if transport is not None:
            if transport == "tcp" and secure:
                transport = "tls"
            elif transport == "tls":
                secure = True
            if transport not in DEFAULT_PORTS:
                raise DnsError(f"transport={transport} is not one offhook can use")
        if _is_ip(host):
            t = transport or ("tls" if secure else "udp")
            return [Target(t, host, uri.port or DEFAULT_PORTS[t], host)]
        if uri.port is not None:
            t = transport or ("tls" if secure else "udp")
            return (yield from self._addresses(host, t, uri.port))
        if transport is None:
            naptr = yield Question(host, RType.NAPTR)
            targets = yield from self._follow_naptr(naptr, secure)
            if targets:
                return targets
            candidates = ["tls"] if secure else list(self.transports)
        else:
            candidates = [transport]
        for t in candidates:
            if t not in self.transports:
                continue
            srv = yield Question(f"{_SRV_PREFIX[t]}.{host}", RType.SRV)
            targets = yield from self._follow_srv(srv, t)
            if targets:
                return targets
        t = transport or ("tls" if secure else "udp")
        return (yield from self._addresses(host, t, DEFAULT_PORTS[t]))

    def _follow_naptr(self, records: list[ResourceRecord], secure: bool) -> _Step:
        usable: list[tuple[int, int, str, str]] = []
        for rr in records:
            if not isinstance(rr.data, NaptrRecord):
                continue
            n = rr.data
            service = _NAPTR_SERVICES.get(n.service.upper())
            if n.flags.lower() != "s" or service is None:
                continue
            transport, is_secure = service
            if transport not in self.transports or (secure and not is_secure):
                continue
            usable.append((n.order, n.preference, transport, n.replacement))
        targets: list[Target] = []
        for _, _, transport, replacement in sorted(usable, key=lambda u: (u[0], u[1])):
            srv = yield Question(replacement, RType.SRV)
            targets += yield from self._follow_srv(srv, transport)
        return targets

    def _follow_srv(self, records: list[ResourceRecord], transport: str) -> _Step:
        srvs = [rr.data for rr in records if isinstance(rr.data, SrvRecord)]
        targets: list[Target] = []
        for srv in order_srv(srvs, self.rng):
            if srv.target in (".", ""):
                break  # RFC 2782: the service is decidedly not available here
            targets += yield from self._addresses(srv.target, transport, srv.port)
        return targets

    def _addresses(self, host: str, transport: str, port: int) -> _Step:
        kinds = [RType.A if f == 4 else RType.AAAA for f in self.families]
        if self.prefer_ipv6:
            kinds.sort(key=lambda k: k != RType.AAAA)
        targets: list[Target] = []
        for kind in kinds:
            records = yield Question(host, kind)
            targets += [Target(transport, rr.data, port, host.rstrip("."))
                        for rr in records if rr.rtype == kind and isinstance(rr.data, str)]
        return targets


def _norm(name: str) -> str:
    return name.rstrip(".").lower() or "."


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _dedupe(targets: list[Target]) -> list[Target]:
    seen: set[tuple[str, str, int]] = set()
    out = []
    for t in targets:
        key = (t.transport, t.address, t.port)
        if key not in seen:
            seen.add(key)
            out.append(t)
    return out


def locate_with(uri: SipURI, answer: Callable[[Question], Sequence[ResourceRecord]],
                **options: object) -> list[Target]:
    """Run the procedure with a synchronous answer function (tests, static tables)."""
    loc = ServerLocator(uri, **options)  # type: ignore[arg-type]
    while (q := loc.next_question()) is not None:
        loc.feed(q, answer(q))
    return loc.targets


# --- asyncio shell -------------------------------------------------------------------------------


class _UdpQuery(asyncio.DatagramProtocol):
    def __init__(self, qid: int, question: Question, done: asyncio.Future[DnsMessage]) -> None:
        self.qid = qid
        self.question = question
        self.done = done

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        try:
            msg = parse_dns(data)
        except DnsError:
            return  # garbage or spoofing attempt: keep waiting for the real answer
        if msg.id != self.qid or not msg.response or not _same_question(msg, self.question):
            return
        if not self.done.done():
            self.done.set_result(msg)

    def error_received(self, exc: Exception) -> None:
        if not self.done.done():
            self.done.set_exception(DnsError(f"DNS query failed: {exc}"))


def _same_question(msg: DnsMessage, q: Question) -> bool:
    return (len(msg.questions) == 1 and _norm(msg.questions[0].name) == _norm(q.name)
            and msg.questions[0].rtype == q.rtype)


async def query(server: tuple[str, int], name: str, rtype: int, timeout: float = 2.0) -> DnsMessage:
    """Ask one DNS server one question over UDP (TCP when the answer is truncated).

    Returns the response whatever its rcode (check `rcode`: 0 ok, 3 NXDOMAIN);
    DnsTimeoutError when nothing matching comes back within `timeout` seconds.
    """
    qid = secrets.randbelow(65536)
    question = Question(name, int(rtype))
    packet = encode_query(name, rtype, id=qid)
    loop = asyncio.get_running_loop()
    done: asyncio.Future[DnsMessage] = loop.create_future()
    try:
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _UdpQuery(qid, question, done), remote_addr=server)
    except OSError as exc:
        raise DnsError(f"cannot reach DNS server {server[0]}:{server[1]}: {exc}") from None
    try:
        transport.sendto(packet)
        try:
            msg = await asyncio.wait_for(done, timeout)
        except TimeoutError:
            raise DnsTimeoutError(f"no answer from DNS server {server[0]}:{server[1]} for "
                                  f"{name} {_type_name(rtype)} within {timeout} s") from None
    finally:
        transport.close()
    if msg.truncated:
        msg = await _query_tcp(server, packet, qid, question, timeout)
    return msg


async def _query_tcp(server: tuple[str, int], packet: bytes, qid: int, question: Question,
                     timeout: float) -> DnsMessage:
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(*server), timeout)
    except (TimeoutError, OSError) as exc:
        raise DnsError(f"truncated UDP answer and no TCP to {server[0]}:{server[1]}: {exc}") from None
    try:
        writer.write(struct.pack("!H", len(packet)) + packet)
        (length,) = struct.unpack("!H", await asyncio.wait_for(reader.readexactly(2), timeout))
        msg = parse_dns(await asyncio.wait_for(reader.readexactly(length), timeout))
    except (OSError, asyncio.IncompleteReadError) as exc:
        raise DnsError(f"DNS over TCP to {server[0]}:{server[1]} failed: {exc}") from None
    except TimeoutError:
        raise DnsTimeoutError(f"DNS over TCP to {server[0]}:{server[1]} timed out") from None
    finally:
        writer.close()
    if msg.id != qid or not _same_question(msg, question):
        raise DnsError("DNS over TCP answered a different question")
    return msg


def _type_name(rtype: int) -> str:
    try:
        return RType(rtype).name
    except ValueError:
        return f"TYPE{rtype}"


async def _ask(loc: ServerLocator, server: Address, timeout: float, *,
               give_up_if_silent: bool) -> tuple[bool, list[str]]:
    """Drive `loc` with `server`'s answers. Returns (whether the server answered anything,
    what failed). A failure on one question counts as an empty answer; with
    `give_up_if_silent`, a server that fails its first question is left at once (its
    other questions would only time out in turn) and `loc` stays unfinished."""
    failures: list[str] = []
    answered = False
    while (q := loc.next_question()) is not None:
        records: list[ResourceRecord] = []
        try:
            msg = await query(server, q.name, q.rtype, timeout)
        except DnsError as exc:
            failures.append(str(exc))
            if give_up_if_silent and not answered:
                return False, failures
        else:
            answered = True
            if msg.rcode == 0:
                records = msg.answers + msg.additional
            elif msg.rcode != 3:
                failures.append(f"{q.name} {_type_name(q.rtype)}: DNS rcode {msg.rcode}")
        loc.feed(q, records)
    return answered, failures


class DnsSilentError(DnsError):
    """The DNS server answered none of our questions (resolve(give_up_if_silent=True))."""


async def resolve(uri: SipURI, server: tuple[str, int], *, timeout: float = 2.0,
                  transports: Sequence[str] = ("udp", "tcp", "tls"), rng: random.Random | None = None,
                  prefer_ipv6: bool = False, give_up_if_silent: bool = False) -> list[Target]:
    """RFC 3263 targets for `uri`, asking `server`; DnsError if there are none.

    A server failure (SERVFAIL, REFUSED) or a timeout on one question counts as an
    empty answer, so the procedure falls back; only an empty final list is an error.
    With `give_up_if_silent`, a server that fails the first question is not asked the
    others: DnsSilentError at once (the caller tries another server).
    """
    loc = ServerLocator(uri, transports=transports, rng=rng, prefer_ipv6=prefer_ipv6)
    answered, failures = await _ask(loc, server, timeout, give_up_if_silent=give_up_if_silent)
    if give_up_if_silent and not answered:
        raise DnsSilentError(f"DNS server {_show(server)} did not answer ({failures[0]})")
    if not loc.targets:
        detail = f" ({'; '.join(failures[:3])})" if failures else ""
        raise DnsError(f"no SIP server found for {uri}{detail}")
    return loc.targets


AddressLookup = Callable[[str, int], Awaitable[list[str]]]
_SILENT_FOR = 60.0     # seconds a nameserver that answered nothing is skipped


def is_localhost(host: str) -> bool:
    """RFC 6761 §6.3: "localhost" and names under it are never asked of DNS servers."""
    name = _norm(host)
    return name == "localhost" or name.endswith(".localhost")


async def system_lookup(host: str, port: int) -> list[str]:
    """The host's addresses as the system finds them (getaddrinfo: /etc/hosts, nsswitch),
    IPv4 first; DnsError when it knows none."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    except OSError as exc:
        raise DnsError(f"cannot resolve {host}: {getattr(exc, 'strerror', None) or exc}") from None
    out: list[str] = []
    for family, *_rest, sockaddr in sorted(infos, key=lambda info: info[0] != socket.AF_INET):
        address = str(sockaddr[0])
        if family in (socket.AF_INET, socket.AF_INET6) and address not in out:
            out.append(address)
    return out


def _servers(server: Address | Sequence[Address] | None) -> tuple[Address, ...]:
    if server is None:
        return ()
    if len(server) == 2 and isinstance(server[0], str) and isinstance(server[1], int):
        return (cast(Address, server),)
    return tuple(cast(Sequence[Address], server))


def _show(server: Address) -> str:
    host, port = server
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class DnsResolver:
    """A UserAgent `resolver` backed by RFC 3263: `await prepare(uri)` looks a host name
    up (NAPTR/SRV/A through `server`) and keeps the ordered targets; the synchronous
    call the UA makes then answers from them. A numeric host needs no lookup: its
    port (5060, 5061 for sips/TLS) and transport parameter are used as written.
    `failover(uri)` drops the first target after a transport error or 503
    (RFC 3263 §4.3), returning False when none is left.

    `server` may be one nameserver or several (tried in order: the next one only
    when one answers nothing at all; a silent one is then skipped for a minute).
    With `fallback=True` (what the phone uses, see `system_resolver`) a name DNS
    knows nothing about (no nameserver answers, or no SIP records and no address:
    e.g. a name only in /etc/hosts), and "localhost" (RFC 6761), are looked up with
    getaddrinfo instead, on the URI's port (default 5060/5061) and transport; an
    unprepared host name is then passed on as written rather than refused. Which
    way each name was found is logged (logger "offhook.sip.resolve", INFO)."""

    def __init__(self, server: Address | Sequence[Address] | None, *, timeout: float = 2.0,
                 transports: Sequence[str] = ("udp", "tcp", "tls"), rng: random.Random | None = None,
                 fallback: bool = False, lookup: AddressLookup | None = None) -> None:
        self.servers = _servers(server)
        if not self.servers and not fallback:
            raise ValueError("DnsResolver needs a DNS server (or fallback=True for getaddrinfo only)")
        self.server = self.servers[0] if self.servers else ("", 0)
        self.timeout = timeout
        self.transports = tuple(transports)
        self.rng = rng
        self.fallback = fallback
        self.lookup: AddressLookup = lookup or system_lookup
        self.how: dict[str, str] = {}       # host -> how it was found ("dns 1.2.3.4:53", "getaddrinfo")
        self._silent_until: dict[Address, float] = {}
        self._cache: dict[tuple[str, str, int | None, str | None], list[Target]] = {}

    @staticmethod
    def _key(uri: SipURI) -> tuple[str, str, int | None, str | None]:
        return (uri.scheme, _norm(uri.host), uri.port, uri.transport)

    @staticmethod
    def _literal(uri: SipURI) -> tuple[Address, str]:
        transport = (uri.transport or ("tls" if uri.secure else "udp")).upper()
        return (uri.host_address, uri.port or (5061 if transport == "TLS" else 5060)), transport

    def __call__(self, uri: URI) -> tuple[tuple[str, int], str]:
        if not isinstance(uri, SipURI):
            raise OffhookError(f"cannot route to {uri}: only sip: and sips: URIs are supported")
        if _is_ip(uri.host_address):
            return self._literal(uri)
        targets = self._cache.get(self._key(uri))
        if not targets:
            if self.fallback:      # not looked up first (a Contact, a Record-Route): the system resolves
                return self._literal(uri)
            raise OffhookError(f"{uri.host} is not resolved: await resolver.prepare(uri) first "
                               "(or the lookup found no server)")
        first = targets[0]
        return (first.address, first.port), first.transport.upper()

    async def prepare(self, uri: URI) -> list[Target]:
        """Look `uri` up unless its host is numeric or already known; DnsError if nothing is found."""
        if not isinstance(uri, SipURI):
            raise DnsError(f"only sip: and sips: URIs can be located, not {uri}")
        if _is_ip(uri.host_address):
            return []
        key = self._key(uri)
        if not self._cache.get(key):
            self._cache[key] = await self._locate(uri, self.transports)
        return list(self._cache[key])

    async def locate(self, uri: SipURI, transports: Sequence[str] | None = None) -> list[Target]:
        """Every target for `uri` in the order to try them (an IP literal: itself), without
        caching: a registrar's servers (the first, then the alternates)."""
        if _is_ip(uri.host_address):
            (address, port), transport = self._literal(uri)
            return [Target(transport.lower(), address, port, address)]
        return await self._locate(uri, tuple(transports) if transports else self.transports)

    async def _locate(self, uri: SipURI, transports: tuple[str, ...]) -> list[Target]:
        host = _norm(uri.params.get("maddr") or uri.host)
        if self.fallback and is_localhost(host):
            return await self._system(uri, transports, "localhost is never asked of DNS (RFC 6761)")
        now = time.monotonic()
        asked: list[str] = []
        error = DnsError(f"no SIP server found for {uri} (every DNS server was silent recently)")
        for server in self.servers:
            if self._silent_until.get(server, 0.0) > now:
                continue
            try:
                targets = await resolve(uri, server, timeout=self.timeout, transports=transports,
                                        rng=self.rng, give_up_if_silent=self.fallback)
            except DnsSilentError:
                self._silent_until[server] = time.monotonic() + _SILENT_FOR
                log.info("DNS server %s did not answer for %s: trying the next", _show(server), host)
                continue
            except DnsError as exc:
                asked.append(_show(server))
                error = exc
                break      # the server answered, with nothing: another one would say the same
            self.how[host] = f"RFC 3263 via DNS {_show(server)}"
            log.info("%s located by RFC 3263 via DNS %s: %s", uri, _show(server),
                     ", ".join(f"{t.transport} {_show((t.address, t.port))}" for t in targets))
            return targets
        if self.fallback:
            why = (f"no SIP records or addresses for {host} in DNS ({', '.join(asked)})" if asked else
                   "no DNS server answered" if self.servers else "no DNS server configured")
            return await self._system(uri, transports, why)
        raise error

    async def _system(self, uri: SipURI, transports: tuple[str, ...], why: str) -> list[Target]:
        host = uri.params.get("maddr") or uri.host
        (_, port), transport = self._literal(uri)
        name = transport.lower()
        if name not in transports and uri.transport is None and not uri.secure:
            name = transports[0]
            port = uri.port or DEFAULT_PORTS[name]
        addresses = await self.lookup(host, port)
        if not addresses:
            raise DnsError(f"cannot resolve {host}: {why}, and getaddrinfo found no address")
        self.how[_norm(host)] = "getaddrinfo"
        log.info("%s: %s; using getaddrinfo: %s", uri, why,
                 ", ".join(f"{name} {_show((a, port))}" for a in addresses))
        return [Target(name, a, port, host.rstrip(".")) for a in addresses]

    def failover(self, uri: URI) -> bool:
        if not isinstance(uri, SipURI):
            return False
        targets = self._cache.get(self._key(uri))
        if targets:
            targets.pop(0)
        return bool(targets)


async def locate_registrar(resolver: DnsResolver, host: str, port: int | None,
                           transport: str) -> list[Target]:
    """The servers of a registrar on `transport` (udp, tcp, tls), in the order to try them:
    NAPTR/SRV on `host` when `port` is None (RFC 3263 §4.1-4.2), else only its addresses;
    DnsError when none is found."""
    transport = transport.lower()
    params: dict[str, str | None] = {"transport": transport} if port is not None else {}
    uri = SipURI(host=f"[{host}]" if ":" in host and not host.startswith("[") else host, port=port,
                 params=params)
    return await resolver.locate(uri, transports=(transport,))


def system_resolver(dns_server: Address | None = None, *, conf: ResolvConf | None = None,
                    transports: Sequence[str] = ("udp", "tcp", "tls"),
                    timeout: float = 2.0) -> DnsResolver:
    """The phone's resolver: RFC 3263 through `dns_server` if given, else through the
    nameservers of /etc/resolv.conf (`conf` to pass them), with the getaddrinfo fallback.
    The per-query timeout is resolv.conf's, at most `timeout` (a phone should not wait 5 s)."""
    if dns_server is not None:
        return DnsResolver(dns_server, timeout=timeout, transports=transports, fallback=True)
    conf = conf if conf is not None else read_resolv_conf()
    for problem in conf.problems:
        log.warning("resolv.conf: %s", problem)
    if not conf.nameservers:
        log.info("no nameserver in resolv.conf: host names are resolved with getaddrinfo only")
    return DnsResolver(conf.nameservers, timeout=min(conf.timeout, timeout), transports=transports,
                       fallback=True)
