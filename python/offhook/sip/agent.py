"""The asyncio driver of the user agent: transports, timers and events around UserAgent.

    agent = await SipAgent.start(("127.0.0.1", 5062))
    call = agent.call("sip:bob@127.0.0.1:5070", capabilities)
    event = await agent.next_event(call)        # CallEvent: progress, answered, media, ended

Every message from the transport and every timer goes through the sans-I/O core;
its `Send` outputs go to the transport and its events into per-call queues
(`next_event(call)`), the queue of new incoming calls (`next_incoming()`) and the
registrations' queue (`next_registration()`). The timer is one loop.call_at
re-armed at the core's next deadline after each step. Not thread-safe: use it
from the event loop that started it.
"""
from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import socket
from typing import Any

from offhook.errors import OffhookError
from offhook.sdp import MediaCapabilities
from offhook.sdp.negotiate import SrtpPolicy
from offhook.sip.auth import DigestClient
from offhook.sip.dialog import LocalContact
from offhook.sip.message import Request, Response
from offhook.sip.register import Registration, RegState
from offhook.sip.resolve import DnsResolver, Target
from offhook.sip.tls import TlsConfig
from offhook.sip.transaction import Send, Transaction
from offhook.sip.transport import SipTransport
from offhook.sip.ua import (
    Call,
    CallEvent,
    CallState,
    KeepAlive,
    MessageEvent,
    Output,
    RegistrationEvent,
    UserAgent,
)
from offhook.sip.uri import SipURI, parse_uri

__all__ = ["SipAgent", "local_address_towards", "reserve_udp_port"]

Address = tuple[str, int]


def reserve_udp_port(host: str) -> int:
    """A free even UDP port on host for RTP whose + 1 is free too (both bound, read and
    released): RFC 3550 §11's pair, so RTCP can fall back to port + 1 when the peer
    does not agree a=rtcp-mux."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for _ in range(32):
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.bind((host, 0))
            port = int(probe.getsockname()[1]) & ~1
        if not 0 < port < 65535:
            continue
        with socket.socket(family, socket.SOCK_DGRAM) as rtp, \
                socket.socket(family, socket.SOCK_DGRAM) as rtcp:
            try:
                rtp.bind((host, port))
                rtcp.bind((host, port + 1))
            except OSError:
                continue
            return port
    with socket.socket(family, socket.SOCK_DGRAM) as sock:   # mux still works on any port
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def local_address_towards(host: str) -> str:
    """Our address on the route to host (a connected UDP socket sends nothing)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect((host, 9))
            return str(sock.getsockname()[0])
        except OSError:
            return "127.0.0.1"


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


async def _listen_tls(transport: SipTransport, tls: TlsConfig, host: str, port: int, *, alone: bool) -> int:
    """Our TLS port: listening with the certificate (see SipAgent.start), else a free TCP port
    reserved by nothing (a client-only agent names it in its Contact; peers reuse our connections)."""
    if not tls.can_listen:
        if port:
            return port
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            return int(sock.getsockname()[1])
    context = tls.server_context()
    if alone or port == 0:
        return (await transport.listen_tcp(host, port if alone else 0, tls=context))[1]
    try:
        return (await transport.listen_tcp(host, port + 1, tls=context))[1]
    except OSError:
        return (await transport.listen_tcp(host, 0, tls=context))[1]


class SipAgent:
    """UserAgent + SipTransport + the loop's clock. Build it with `await SipAgent.start(...)`."""

    def __init__(self, ua: UserAgent, transport: SipTransport) -> None:
        self.ua = ua
        self.transport = transport
        self._loop = asyncio.get_running_loop()
        self._timer: asyncio.TimerHandle | None = None
        self._call_events: dict[str, asyncio.Queue[CallEvent]] = {}
        self._incoming: asyncio.Queue[Call] = asyncio.Queue()
        self._registrations: asyncio.Queue[Registration] = asyncio.Queue()
        self._messages: asyncio.Queue[MessageEvent] = asyncio.Queue()
        self.media_ports: dict[str, int] = {}

    @classmethod
    async def start(cls, listen: Address, *, user: str | None = None,
                    transports: tuple[str, ...] = ("UDP", "TCP"), dns_server: Address | None = None,
                    tls: TlsConfig | None = None, **ua_options: Any) -> SipAgent:
        """Listen on `listen` (port 0: any; TCP takes the port UDP got) and build the core.
        `dns_server`: locate host names by RFC 3263 through it (see `dial`).

        TLS (sip/tls.py): outgoing TLS connections verify the server with `tls` (default:
        the system's trust store). With "TLS" in `transports` and a certificate in `tls` the
        agent also listens on TLS: on `listen` when TLS is the only transport, else on the
        UDP/TCP port + 1 (any port if that is taken). Without a certificate a TLS-only agent
        listens on nothing and is reached over the connections it opens (its registrar's).
        Our Contact/Via use the first transport of `transports`."""
        if dns_server is not None and "resolver" not in ua_options:
            ua_options["resolver"] = DnsResolver(dns_server)
        names = tuple(t.upper() for t in transports)
        unknown = [t for t in names if t not in ("UDP", "TCP", "TLS")]
        if unknown or not names:
            raise ValueError(f"transports must be some of UDP, TCP, TLS, not {transports!r}")
        tls = tls or TlsConfig()
        host, port = listen
        holder: list[SipAgent] = []

        def on_message(msg: Request | Response, source: Address, name: str) -> None:
            holder[0]._receive(msg, source, name)

        transport = SipTransport(on_message, client_ssl=tls.client_context())
        ports: dict[str, int] = {}
        try:
            if "UDP" in names:
                host, port = await transport.listen_udp(host, port)
                ports["UDP"] = port
            if "TCP" in names:
                host, port = await transport.listen_tcp(host, port)
                ports["TCP"] = port
            if "TLS" in names:
                ports["TLS"] = await _listen_tls(transport, tls, host, port, alone=len(ports) == 0)
        except OSError as exc:
            await transport.close()
            raise OffhookError(f"cannot listen for SIP on {host}:{port}: {exc.strerror or exc}") from None
        except OffhookError:
            await transport.close()
            raise
        contact = LocalContact(host, ports[names[0]], names[0], user=user)
        ua = UserAgent(contact, **ua_options)
        ua.transport_ports = ports
        agent = cls(ua, transport)
        holder.append(agent)
        ua.media_capabilities = agent._capabilities
        ua.new_call_capabilities = agent.capabilities
        return agent

    @property
    def listen_address(self) -> Address:
        """Our Contact's host and port (on the agent's first transport)."""
        return self.ua.contact.host, self.ua.contact.port

    # --- media ports for incoming calls -------------------------------------------

    codecs: tuple[str, ...] = ("opus", "G722", "PCMU", "PCMA")
    srtp: SrtpPolicy = "off"     # RFC 4568 SDES: off, optional (RTP/AVP + a=crypto), required (RTP/SAVP)

    def _capabilities(self, request: Request) -> MediaCapabilities:
        host = self.ua.contact.host
        port = reserve_udp_port(host)
        self.media_ports[request.call_id] = port
        return MediaCapabilities(address=host, port=port, codecs=self.codecs, srtp=self.srtp)

    def capabilities(self) -> MediaCapabilities:
        """Capabilities for an outgoing call, with a fresh RTP port (see media_ports)."""
        host = self.ua.contact.host
        return MediaCapabilities(address=host, port=reserve_udp_port(host), codecs=self.codecs,
                                 srtp=self.srtp)

    # --- the core's outputs -------------------------------------------------------

    def _now(self) -> float:
        return self._loop.time()

    def _run(self, outputs: list[Output]) -> None:
        for item in outputs:
            if isinstance(item, Send):
                tx = item.transaction
                if tx is None or item.transport.upper() == "UDP":   # datagrams: timers tell
                    self.transport.send(item.data, item.address, item.transport)
                else:
                    self.transport.send(item.data, item.address, item.transport,
                                        functools.partial(self._send_failed, tx))
            elif isinstance(item, CallEvent):
                if item.kind == "incoming":
                    self._incoming.put_nowait(item.call)
                elif item.kind in ("transferred", "replaced") and item.other is not None:
                    # a call the core placed or took by itself: its RTP port is in its offer/answer
                    self.media_ports.setdefault(item.other.call_id,
                                                item.other.offer_answer.capabilities.port)
                    self._queue(item.other)
                self._queue(item.call).put_nowait(item)
                if item.kind == "ended" and self.ua.linger is not None:
                    self._loop.call_later(self.ua.linger + 5.0, self._drop, item.call.call_id)
            elif isinstance(item, RegistrationEvent):
                self._registrations.put_nowait(item.registration)
            elif isinstance(item, MessageEvent):
                self._messages.put_nowait(item)
            elif isinstance(item, KeepAlive):
                self.transport.send(item.data, item.address, item.transport)
        self._rearm()

    def _send_failed(self, transaction: Transaction, reason: str) -> None:
        """A stream connection for this transaction's message could not be made (refused,
        TLS certificate not trusted...): the transaction fails with that reason at once."""
        self._run(self.ua.transport_error(transaction, reason, self._now()))

    def _drop(self, call_id: str) -> None:
        """Forget a call's event queue and RTP port once the core forgot the call."""
        if call_id not in self.ua.calls:   # events unread by now are stale
            self._call_events.pop(call_id, None)
            self.media_ports.pop(call_id, None)

    def _queue(self, call: Call) -> asyncio.Queue[CallEvent]:
        return self._call_events.setdefault(call.call_id, asyncio.Queue())

    def _rearm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        deadline = self.ua.next_deadline()
        if deadline is not None:
            self._timer = self._loop.call_at(deadline, self._tick)

    def _tick(self) -> None:
        self._timer = None
        self._run(self.ua.tick(self._now()))

    def _receive(self, msg: Request | Response, source: Address, name: str) -> None:
        self._run(self.ua.receive(msg, source, name, self._now()))

    # --- what the application does ------------------------------------------------

    def call(self, target: str, capabilities: MediaCapabilities, *, auth: DigestClient | None = None,
             via: Address | None = None, headers: tuple[tuple[str, str], ...] = (),
             transport: str | None = None) -> Call:
        """Place a call; `via` (an outbound proxy) is reached over `transport` (default: the
        target URI's)."""
        call, out = self.ua.call(target, capabilities, self._now(), auth=auth, via=via, headers=headers,
                                 transport=transport)
        self.media_ports[call.call_id] = capabilities.port
        self._queue(call)
        self._run(out)
        return call

    async def dial(self, target: str, capabilities: MediaCapabilities, *, auth: DigestClient | None = None,
                   via: Address | None = None, headers: tuple[tuple[str, str], ...] = (),
                   transport: str | None = None) -> Call:
        """call(), after locating a host name by RFC 3263 when the agent has a DNS resolver."""
        uri = parse_uri(target)
        resolver = self.ua.resolver
        if via is None and isinstance(resolver, DnsResolver) and isinstance(uri, SipURI):
            await resolver.prepare(uri)
            with contextlib.suppress(OffhookError):
                address, tp = resolver(uri)
                if tp == "TLS" and not _is_ip(uri.host_address):
                    self.transport.server_names[address] = uri.host_address
        call, out = self.ua.call(uri, capabilities, self._now(), auth=auth, via=via, headers=headers,
                                 transport=transport)
        self.media_ports[call.call_id] = capabilities.port
        self._queue(call)
        self._run(out)
        return call

    def use_registrar(self, registration: Registration, host: str, targets: list[Target]) -> None:
        """Point `registration` at the servers an RFC 3263 lookup of `host` found (see
        resolve.locate_registrar): the first is its registrar, the others its `alternates`
        (failover on 503, a transport error or no answer). TLS connections to them check
        the certificate against `host`, the name we asked for (RFC 5922 §4)."""
        registration.use_servers([((t.address, t.port), t.transport.upper()) for t in targets])
        if not _is_ip(host.strip("[]")):
            for t in targets:
                if t.transport == "tls":
                    self.transport.server_names.setdefault((t.address, t.port), host)

    def transfer(self, call: Call, target: str | Call) -> None:
        """Blind (URI) or attended (another established Call) transfer: see UserAgent.transfer."""
        self._run(self.ua.transfer(call, target, self._now()))

    def send_message(self, target: str | Call, text: str, *, auth: DigestClient | None = None,
                     via: Address | None = None) -> Request:
        """Send an instant message; its outcome comes from next_message()."""
        req, out = self.ua.send_message(target, text, self._now(), auth=auth, via=via)
        self._run(out)
        return req

    def send_info_dtmf(self, call: Call, digit: str, duration_ms: int = 160) -> None:
        self._run(self.ua.send_info_dtmf(call, digit, self._now(), duration_ms))

    def refresh(self, call: Call) -> None:
        """Refresh the session now (UPDATE or re-INVITE), as the session timer does."""
        self._run(self.ua.refresh(call, self._now()))

    async def next_message(self, timeout: float | None = None) -> MessageEvent:
        """The next MessageEvent: a message received, or the outcome of one sent."""
        async with asyncio.timeout(timeout):
            return await self._messages.get()

    def ring(self, call: Call) -> None:
        self._run(self.ua.ring(call, self._now()))

    def early_media(self, call: Call) -> None:
        self._run(self.ua.early_media(call, self._now()))

    def answer(self, call: Call) -> None:
        self._run(self.ua.answer(call, self._now()))

    def reject(self, call: Call, status: int = 603) -> None:
        self._run(self.ua.reject(call, status, self._now()))

    def redirect(self, call: Call, target: str, status: int = 302) -> None:
        """Forward an unanswered incoming call: a 3xx naming `target`."""
        self._run(self.ua.redirect(call, target, self._now(), status))

    def hangup(self, call: Call) -> None:
        self._run(self.ua.hangup(call, self._now()))

    def forget(self, call: Call) -> None:
        """Drop everything the agent keeps about an ended call: the core's entry
        (`ua.calls`), its event queue (events not read by now are stale) and its RTP port
        entry (`media_ports`). Without it an ended call leaves `linger` + 5 s after its end
        (never with `linger` None); a dialer placing calls by the hundred thousand forgets
        each one once it is done with it. Call it after the last `next_event(call)`: a
        later one would make a new queue. Forgetting twice is a no-op; a call that has
        not ended raises OffhookError (hang it up first)."""
        if call.state is not CallState.ENDED:
            raise OffhookError(f"cannot forget a call that is {call.state.value}; hang it up first")
        self.ua.forget(call)
        self._call_events.pop(call.call_id, None)
        self.media_ports.pop(call.call_id, None)

    def hold(self, call: Call) -> None:
        self._run(self.ua.hold(call, self._now()))

    def resume(self, call: Call) -> None:
        self._run(self.ua.resume(call, self._now()))

    async def register(self, registration: Registration, timeout: float = 40.0) -> Registration:
        """Register and wait for the outcome (state REGISTERED or FAILED with `reason`)."""
        self._run(self.ua.register(registration, self._now()))
        return await self.wait_registration(registration, timeout)

    async def unregister(self, registration: Registration, timeout: float = 5.0) -> None:
        out = self.ua.unregister(registration, self._now())
        if out:
            self._run(out)
            with contextlib.suppress(TimeoutError):
                await self.wait_registration(registration, timeout)

    async def wait_registration(self, registration: Registration, timeout: float) -> Registration:
        """The registration's next outcome (a refresh included): REGISTERED, UNREGISTERED or FAILED."""
        async with asyncio.timeout(timeout):
            while True:
                reg = await self._registrations.get()
                if reg is registration and reg.state not in (RegState.REGISTERING, RegState.UNREGISTERING):
                    return reg

    async def next_event(self, call: Call, timeout: float | None = None) -> CallEvent:
        async with asyncio.timeout(timeout):
            return await self._queue(call).get()

    async def wait_ended(self, call: Call, timeout: float | None = None) -> None:
        async with asyncio.timeout(timeout):
            while call.state is not CallState.ENDED:
                await self._queue(call).get()

    async def next_incoming(self, timeout: float | None = None) -> Call:
        async with asyncio.timeout(timeout):
            return await self._incoming.get()

    async def close(self) -> None:
        """Hang up live calls and unregister (briefly waiting for the answers), then stop."""
        for call in list(self.ua.calls.values()):
            if call.state is not CallState.ENDED:
                self.hangup(call)
        for reg in list(self.ua.registrations):
            if reg.state is RegState.REGISTERED:
                await self.unregister(reg, timeout=2.0)
        await asyncio.sleep(0.05)   # let the last BYE/CANCEL leave
        if self._timer is not None:
            self._timer.cancel()
        await self.transport.close()
