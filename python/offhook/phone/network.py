"""Is the network there?  A small monitor the Phone uses to re-register when it comes back.

    monitor = NetworkMonitor(on_change)          # on_change(NetworkChanged) on the event loop
    await monitor.start()                        # reads the first snapshot, then watches
    monitor.up, monitor.snapshot.addresses
    await monitor.stop()

Three layers:

- `NetworkState` (sans-I/O): fed `NetworkSnapshot`s -- the machine's usable addresses
  (not loopback, link-local, multicast or unspecified) and whether a default route
  exists -- it decides "up" (some usable address and a default route) and says what
  changed: "lost" (up -> down), "back" (down -> up) or "changed" (still up, other
  addresses: a new DHCP lease, Wi-Fi -> Ethernet).  The first snapshot only sets the state.
- `parse_netlink` (sans-I/O): rtnetlink messages (RFC 3549; linux/rtnetlink.h,
  linux/if_addr.h) -> `AddrMessage` / `RouteMessage`.  The replies of an address or
  route dump and the kernel's notifications have the same shape.
- `NetworkMonitor` (asyncio): on Linux a raw AF_NETLINK socket subscribed to the
  address and route groups; any notification triggers (after a short settle, since
  changes come in bursts) a fresh dump of addresses and routes fed to the state.  A
  slow poll (every `poll_interval` s) backs it up -- and is all there is where netlink
  is not (other systems, a sandbox that forbids it): there a snapshot is the local
  address the kernel would use towards a public IPv4 and IPv6 address (a connected UDP
  socket: route lookup only, nothing is sent).

Why snapshots and not the notifications' deltas: a dump is a few hundred bytes, never
drifts, and the notifications of a burst may be partly lost (ENOBUFS) without harm.
"""
from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import logging
import socket
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from offhook.phone.events import NetworkChanged

__all__ = [
    "AddrMessage",
    "NetworkMonitor",
    "NetworkSnapshot",
    "NetworkState",
    "RouteMessage",
    "parse_netlink",
    "usable_address",
]

log = logging.getLogger("offhook.phone.network")

# linux/netlink.h, linux/rtnetlink.h, linux/if_addr.h
NLMSG_ERROR = 2
NLMSG_DONE = 3
NLM_F_REQUEST = 0x1
NLM_F_DUMP = 0x300
RTM_NEWADDR, RTM_DELADDR, RTM_GETADDR = 20, 21, 22
RTM_NEWROUTE, RTM_DELROUTE, RTM_GETROUTE = 24, 25, 26
IFA_ADDRESS, IFA_LOCAL = 1, 2
IFA_F_TENTATIVE, IFA_F_DADFAILED = 0x40, 0x08
RTA_TABLE = 15
RT_TABLE_MAIN = 254
RTN_UNICAST = 1
RTMGRP_IPV4_IFADDR, RTMGRP_IPV4_ROUTE = 0x10, 0x40
RTMGRP_IPV6_IFADDR, RTMGRP_IPV6_ROUTE = 0x100, 0x400
_GROUPS = RTMGRP_IPV4_IFADDR | RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_IFADDR | RTMGRP_IPV6_ROUTE
_NLMSGHDR = struct.Struct("=IHHII")      # length, type, flags, seq, pid
_IFADDRMSG = struct.Struct("=BBBBI")     # family, prefixlen, flags, scope, ifindex
_RTMSG = struct.Struct("=BBBBBBBBI")     # family, dst_len, src_len, tos, table, protocol, scope, type, flags
_RTATTR = struct.Struct("=HH")           # length, type


def usable_address(address: str) -> bool:
    """An address a SIP contact can carry: not loopback, link-local, multicast or unspecified."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    return not (ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_unspecified)


@dataclass(frozen=True)
class NetworkSnapshot:
    """What the machine has now: its usable addresses and whether a default route exists."""

    addresses: frozenset[str] = frozenset()
    default_route: bool = False

    @classmethod
    def of(cls, addresses: Iterable[str], default_route: bool) -> NetworkSnapshot:
        """Keeps the usable addresses only."""
        return cls(frozenset(a for a in addresses if usable_address(a)), default_route)

    @property
    def up(self) -> bool:
        return bool(self.addresses) and self.default_route


@dataclass
class NetworkState:
    """The sans-I/O decision: feed snapshots, get a NetworkChanged when it matters."""

    snapshot: NetworkSnapshot | None = None

    @property
    def up(self) -> bool | None:
        """None before the first snapshot."""
        return None if self.snapshot is None else self.snapshot.up

    def update(self, snapshot: NetworkSnapshot) -> NetworkChanged | None:
        before, self.snapshot = self.snapshot, snapshot
        if before is None:
            return None
        now = tuple(sorted(snapshot.addresses))
        was = tuple(sorted(before.addresses))
        if before.up and not snapshot.up:
            return NetworkChanged("lost", now, was)
        if snapshot.up and not before.up:
            return NetworkChanged("back", now, was)
        if snapshot.up and now != was:
            return NetworkChanged("changed", now, was)
        return None


# --- rtnetlink -------------------------------------------------------------------------------


@dataclass(frozen=True)
class AddrMessage:
    """RTM_NEWADDR / RTM_DELADDR: an interface address appeared or went."""

    kind: Literal["new", "del"]
    address: str
    prefixlen: int
    ifindex: int
    flags: int

    @property
    def settled(self) -> bool:
        """Not an IPv6 address still in (or failed) duplicate address detection."""
        return not self.flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED)


@dataclass(frozen=True)
class RouteMessage:
    """RTM_NEWROUTE / RTM_DELROUTE in the main table; `default` for a 0/0 unicast route."""

    kind: Literal["new", "del"]
    family: int
    dst_len: int
    table: int
    type: int

    @property
    def default(self) -> bool:
        return self.dst_len == 0 and self.type == RTN_UNICAST and self.table == RT_TABLE_MAIN


@dataclass
class NetlinkBatch:
    """What one read of netlink data held."""

    messages: list[AddrMessage | RouteMessage] = field(default_factory=list)
    done: bool = False          # NLMSG_DONE: the end of a dump
    error: int = 0              # from NLMSG_ERROR (a negative errno), 0 for none


def _attrs(data: bytes, offset: int) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    while offset + _RTATTR.size <= len(data):
        length, kind = _RTATTR.unpack_from(data, offset)
        if length < _RTATTR.size or offset + length > len(data):
            break
        out.setdefault(kind, data[offset + _RTATTR.size:offset + length])
        offset += (length + 3) & ~3
    return out


def _ip_text(family: int, raw: bytes) -> str | None:
    if family == socket.AF_INET and len(raw) == 4:
        return str(ipaddress.IPv4Address(raw))
    if family == socket.AF_INET6 and len(raw) == 16:
        return str(ipaddress.IPv6Address(raw))
    return None


def parse_netlink(data: bytes) -> NetlinkBatch:
    """Every message in `data` (one recv of a NETLINK_ROUTE socket); others are skipped,
    truncated ones end the parse."""
    batch = NetlinkBatch()
    offset = 0
    while offset + _NLMSGHDR.size <= len(data):
        length, kind, _flags, _seq, _pid = _NLMSGHDR.unpack_from(data, offset)
        if length < _NLMSGHDR.size or offset + length > len(data):
            break
        body = data[offset + _NLMSGHDR.size:offset + length]
        offset += (length + 3) & ~3
        if kind == NLMSG_DONE:
            batch.done = True
        elif kind == NLMSG_ERROR and len(body) >= 4:
            code = struct.unpack_from("=i", body)[0]
            if code:
                batch.error = code
        elif kind in (RTM_NEWADDR, RTM_DELADDR) and len(body) >= _IFADDRMSG.size:
            family, prefixlen, flags, _scope, ifindex = _IFADDRMSG.unpack_from(body)
            attrs = _attrs(body, _IFADDRMSG.size)
            # IFA_LOCAL is the interface's own address (IFA_ADDRESS is the peer's on
            # point-to-point links); IPv6 sends IFA_ADDRESS alone.
            raw = attrs.get(IFA_LOCAL, attrs.get(IFA_ADDRESS))
            text = _ip_text(family, raw) if raw is not None else None
            if text is not None:
                batch.messages.append(AddrMessage("new" if kind == RTM_NEWADDR else "del",
                                                  text, prefixlen, ifindex, flags))
        elif kind in (RTM_NEWROUTE, RTM_DELROUTE) and len(body) >= _RTMSG.size:
            family, dst_len, _src, _tos, table, _proto, _scope, rtype, _fl = _RTMSG.unpack_from(body)
            attrs = _attrs(body, _RTMSG.size)
            if RTA_TABLE in attrs and len(attrs[RTA_TABLE]) == 4:
                table = struct.unpack("=I", attrs[RTA_TABLE])[0]
            batch.messages.append(RouteMessage("new" if kind == RTM_NEWROUTE else "del",
                                               family, dst_len, table, rtype))
    return batch


def _dump_request(kind: int, seq: int) -> bytes:
    body = _IFADDRMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0) if kind == RTM_GETADDR else \
        _RTMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0, 0, 0, 0, 0)
    return _NLMSGHDR.pack(_NLMSGHDR.size + len(body), kind, NLM_F_REQUEST | NLM_F_DUMP, seq, 0) + body


def _dump(kind: int) -> list[AddrMessage | RouteMessage]:
    """One rtnetlink dump (RTM_GETADDR or RTM_GETROUTE), blocking: a local round trip."""
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE) as sock:
        sock.settimeout(2.0)
        sock.bind((0, 0))
        sock.send(_dump_request(kind, 1))
        out: list[AddrMessage | RouteMessage] = []
        while True:
            batch = parse_netlink(sock.recv(65536))
            if batch.error:
                name = errno.errorcode.get(-batch.error, "?")
                raise OSError(-batch.error, f"rtnetlink dump {kind}: {name}")
            out.extend(batch.messages)
            if batch.done:
                return out


def netlink_snapshot() -> NetworkSnapshot:
    """The addresses and the default route, from rtnetlink dumps."""
    addresses = [m.address for m in _dump(RTM_GETADDR) if isinstance(m, AddrMessage) and m.settled]
    default = any(isinstance(m, RouteMessage) and m.default for m in _dump(RTM_GETROUTE))
    return NetworkSnapshot.of(addresses, default)


def probe_snapshot() -> NetworkSnapshot:
    """Without netlink: the source addresses the kernel picks towards documentation
    addresses (RFC 5737, RFC 3849) -- a route lookup, nothing is sent."""
    found = []
    for family, target in ((socket.AF_INET, "192.0.2.1"), (socket.AF_INET6, "2001:db8::1")):
        try:
            with socket.socket(family, socket.SOCK_DGRAM) as sock:
                sock.connect((target, 9))
                found.append(str(sock.getsockname()[0]))
        except OSError:
            continue
    return NetworkSnapshot.of(found, bool(found))


class NetworkMonitor:
    """Watches the network and calls `on_change(NetworkChanged)` on the event loop.

    `snapshot`: how to read the state (default: netlink dumps, else the probe); giving one
    (tests) also disables the netlink subscription unless `netlink=True`."""

    def __init__(self, on_change: Callable[[NetworkChanged], None] | None = None, *,
                 snapshot: Callable[[], NetworkSnapshot] | None = None, netlink: bool | None = None,
                 poll_interval: float = 5.0, settle: float = 0.2) -> None:
        self.on_change = on_change
        self.state = NetworkState()
        self.poll_interval = poll_interval
        self.settle = settle
        self._read = snapshot
        self._netlink = (snapshot is None) if netlink is None else netlink
        self._sock: socket.socket | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self.changes: list[NetworkChanged] = []

    @property
    def up(self) -> bool | None:
        return self.state.up

    @property
    def snapshot(self) -> NetworkSnapshot:
        return self.state.snapshot or NetworkSnapshot()

    @property
    def using_netlink(self) -> bool:
        return self._sock is not None

    def read(self) -> NetworkSnapshot:
        if self._read is not None:
            return self._read()
        if hasattr(socket, "AF_NETLINK"):
            try:
                return netlink_snapshot()
            except OSError as exc:
                log.debug("rtnetlink dump failed (%s): probing instead", exc)
        return probe_snapshot()

    async def start(self) -> None:
        if self._task is not None:
            return
        self.state.update(self.read())
        if self._netlink and hasattr(socket, "AF_NETLINK"):
            try:
                sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
                sock.bind((0, _GROUPS))
                sock.setblocking(False)
            except OSError as exc:
                log.info("no rtnetlink notifications (%s): polling every %g s", exc, self.poll_interval)
            else:
                self._sock = sock
                asyncio.get_running_loop().add_reader(sock.fileno(), self._readable)
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(ValueError, OSError):
                asyncio.get_running_loop().remove_reader(self._sock.fileno())
            self._sock.close()
            self._sock = None
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def _readable(self) -> None:
        """Drain the notifications; any address or route message means: look again."""
        sock = self._sock
        if sock is None:
            return
        relevant = False
        while True:
            try:
                data = sock.recv(65536)
            except BlockingIOError:
                break
            except OSError as exc:      # ENOBUFS: we missed some; a fresh dump covers them
                log.debug("rtnetlink: %s", exc)
                relevant = True
                break
            if not data:
                break
            relevant = relevant or bool(parse_netlink(data).messages)
        if relevant:
            self._wake.set()

    def check(self) -> NetworkChanged | None:
        """Read a snapshot now and report the change, if any."""
        change = self.state.update(self.read())
        if change is not None:
            self.changes.append(change)
            log.info("network %s: %s", change.kind, ", ".join(change.addresses) or "no address")
            if self.on_change is not None:
                self.on_change(change)
        return change

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)
                await asyncio.sleep(self.settle)    # the rest of the burst
            self._wake.clear()
            try:
                self.check()
            except Exception:
                log.exception("network check")
