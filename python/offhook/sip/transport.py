"""SIP transports over asyncio: UDP, TCP and TLS, a thin shell around the parser.

Every message received is parsed and handed to one callback,
`on_message(message, source, transport)`, with `transport` "UDP", "TCP" or "TLS".
Nothing raises out of the transport: a request that fails to parse is answered
with the status its SipParseError names (400, 413, 416, 505, 513) when its Via,
From, To, Call-ID and CSeq could be read, else dropped; a malformed response is
dropped. Both are counted in `stats`.

- rport (RFC 3581 §4): a received request's top Via gets `received=` when the
  source address differs from the sent-by host, and `rport=<source port>` when
  the client asked for it, so responses retrace the path through NATs.
- Stream transports (RFC 3261 §18.3) frame messages by Content-Length (required
  there); leading CRLFs are keep-alives (RFC 5626 §3.5.1: a double CRLF is answered
  with a single CRLF). A peer that sends an unparseable header block or one longer
  than the limits is disconnected.
- Connection reuse: a response or request to an address we hold a connection
  with (opened by either side) goes over it; otherwise one is opened. A request
  received on a connection also makes its top Via's sent-by (and its Contact's
  host:port) an alias of that connection when they name the connection's own IP
  (RFC 5923's idea, limited so a peer can only claim addresses of its own host):
  responses, the ACK, BYE and re-INVITEs to that peer reuse it instead of
  dialling its listener.
- TLS verifies the server certificate and host name by default (sip/tls.py:
  the system store, or a private CA); a connection that cannot be made or
  verified fails the messages waiting for it through their `on_failure`
  callbacks with a one-line reason ("certificate verify failed: ...").
"""
from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import re
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field

from offhook.errors import SipParseError
from offhook.sip.grammar import split_list
from offhook.sip.limits import DEFAULT_LIMITS, SipLimits
from offhook.sip.message import Request, Response, canonical_name
from offhook.sip.parser import parse_message
from offhook.sip.tls import describe_tls_error
from offhook.sip.transaction import response_for
from offhook.sip.uri import SipURI

__all__ = ["MessageHandler", "SipTransport", "TransportStats", "apply_rport"]

log = logging.getLogger("offhook.sip")

Address = tuple[str, int]
MessageHandler = Callable[[Request | Response, Address, str], None]
FailureHandler = Callable[[str], None]

_CONTENT_LENGTH = re.compile(rb"^(?:content-length|l)[ \t]*:[ \t]*([0-9]+)[ \t]*\r?$",
                             re.IGNORECASE | re.MULTILINE)


@dataclass
class TransportStats:
    received: int = 0
    sent: int = 0
    malformed_requests: int = 0     # answered with 4xx/5xx when possible
    malformed_responses: int = 0    # dropped
    dropped: int = 0                # unanswerable garbage, send failures
    keepalives: int = 0
    connections_opened: int = 0     # TCP/TLS connections we dialled
    connections_accepted: int = 0   # ... and the ones peers opened to us
    errors: list[str] = field(default_factory=list, repr=False)

    def note(self, text: str) -> None:
        self.errors.append(text)
        del self.errors[:-20]


def apply_rport(request: Request, source: Address) -> None:
    """Fill received/rport in the top Via from the packet's source (RFC 3581 §4)."""
    vias = request.via
    if not vias:
        return
    top = vias[0]
    host, port = source
    changed = False
    if top.host.strip("[]").lower() != host.lower():
        top.params["received"] = host
        changed = True
    if top.rport is True:
        top.params["rport"] = str(port)
        top.params.setdefault("received", host)
        changed = True
    if changed:
        # rewrite only the top value, leaving every other Via line as it came
        for i, (name, value) in enumerate(request.headers):
            if canonical_name(name) == "Via":
                rest = split_list(value)[1:]
                request.headers[i] = (name, ", ".join([str(top), *rest]))
                break


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, owner: SipTransport) -> None:
        self.owner = owner
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        source = (str(addr[0]), int(addr[1]))
        if data.strip(b"\r\n") == b"":
            self.owner.stats.keepalives += 1
            return
        self.owner._incoming(data, source, "UDP")

    def error_received(self, exc: Exception) -> None:
        self.owner.stats.dropped += 1
        self.owner.stats.note(f"UDP: {exc}")


class _Stream:
    """One TCP/TLS connection: Content-Length framing in, writes out."""

    def __init__(self, owner: SipTransport, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter, peer: Address, name: str) -> None:
        self.owner, self.reader, self.writer, self.peer, self.name = owner, reader, writer, peer, name

    async def run(self) -> None:
        limits = self.owner.limits
        buf = b""
        try:
            while True:
                data = await self.reader.read(65536)
                if not data:
                    return
                buf += data
                while True:
                    stripped = buf.lstrip(b"\r\n")
                    if len(stripped) != len(buf):
                        if buf.startswith(b"\r\n\r\n"):
                            self.writer.write(b"\r\n")
                        self.owner.stats.keepalives += 1
                        buf = stripped
                    end = buf.find(b"\r\n\r\n")
                    if end < 0:
                        if len(buf) > limits.max_message_size:
                            raise SipParseError("header block too long", status=513)
                        break
                    m = _CONTENT_LENGTH.search(buf[:end + 2])
                    if m is None:
                        raise SipParseError("no Content-Length on a stream transport", status=400)
                    length = int(m.group(1))
                    if length > limits.max_body_size:
                        raise SipParseError("body too large", status=413)
                    total = end + 4 + length
                    if len(buf) < total:
                        break
                    frame, buf = buf[:total], buf[total:]
                    self.owner._incoming(frame, self.peer, self.name)
        except SipParseError as exc:
            self.owner.stats.dropped += 1
            self.owner.stats.note(f"{self.name} {self.peer}: {exc}; closing the connection")
        except (OSError, asyncio.IncompleteReadError, ssl.SSLError) as exc:
            self.owner.stats.note(f"{self.name} {self.peer}: {exc}")
        finally:
            self.owner._forget(self)
            self.writer.close()


class SipTransport:
    """UDP/TCP/TLS listeners and connections feeding one message handler."""

    def __init__(self, on_message: MessageHandler, *, limits: SipLimits = DEFAULT_LIMITS,
                 client_ssl: ssl.SSLContext | None = None) -> None:
        self.on_message = on_message
        self.limits = limits
        self.stats = TransportStats()
        self.client_ssl = client_ssl
        self.connect_timeout = 10.0
        # RFC 5922 §4: a TLS server found through DNS is checked against the URI's domain,
        # not the address it resolved to (the agent fills this in when it locates a server)
        self.server_names: dict[Address, str] = {}
        self._udp: _Udp | None = None
        self._servers: list[asyncio.Server] = []
        self._streams: dict[tuple[str, Address], _Stream] = {}
        self._aliases: dict[tuple[str, Address], _Stream] = {}
        self._pending: dict[tuple[str, Address], list[tuple[bytes, FailureHandler | None]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.local: dict[str, Address] = {}

    # --- listening ---------------------------------------------------------------

    async def listen_udp(self, host: str, port: int) -> Address:
        loop = asyncio.get_running_loop()
        _, proto = await loop.create_datagram_endpoint(lambda: _Udp(self), local_addr=(host, port))
        self._udp = proto
        assert proto.transport is not None  # connection_made ran
        sock = proto.transport.get_extra_info("sockname")
        self.local["UDP"] = (str(sock[0]), int(sock[1]))
        return self.local["UDP"]

    async def listen_tcp(self, host: str, port: int, *, tls: ssl.SSLContext | None = None) -> Address:
        name = "TLS" if tls is not None else "TCP"

        async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            peer = writer.get_extra_info("peername")
            await self._serve(reader, writer, (str(peer[0]), int(peer[1])), name)

        server = await asyncio.start_server(accept, host, port, ssl=tls)
        self._servers.append(server)
        sock = server.sockets[0].getsockname()
        self.local[name] = (str(sock[0]), int(sock[1]))
        return self.local[name]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                     peer: Address, name: str) -> None:
        stream = _Stream(self, reader, writer, peer, name)
        self._streams[(name, peer)] = stream
        self.stats.connections_accepted += 1
        await stream.run()

    # --- receiving ---------------------------------------------------------------

    def _incoming(self, data: bytes, source: Address, name: str) -> None:
        self.stats.received += 1
        try:
            msg = parse_message(data, limits=self.limits)
        except SipParseError as exc:
            self._malformed(exc, data, source, name)
            return
        try:
            _check_essentials(msg)
            if isinstance(msg, Request):
                apply_rport(msg, source)
                if name != "UDP":
                    self._alias(msg, source, name)
        except SipParseError as exc:
            if exc.partial is None:
                exc.partial = msg
            self._malformed(exc, data, source, name)
            return
        try:
            self.on_message(msg, source, name)
        except Exception as exc:  # the core's bug must not kill the listener
            log.exception("SIP message handler failed on a %s from %s", name, source)
            self.stats.dropped += 1
            self.stats.note(f"handler: {exc!r}")

    def _alias(self, request: Request, source: Address, name: str) -> None:
        stream = self._streams.get((name, source))
        if stream is None:
            return
        claimed: list[tuple[str, int]] = []
        top = request.via[0]
        claimed.append((top.host, top.port or (5061 if name == "TLS" else 5060)))
        with contextlib.suppress(SipParseError, ValueError):
            for contact in request.contacts:
                uri = contact.uri
                if isinstance(uri, SipURI):
                    claimed.append((uri.host, uri.port or (5061 if name == "TLS" else 5060)))
        for host, port in claimed:
            host = host.strip("[]")
            if _same_ip(host, source[0]) and (host, port) != source:
                self._aliases[(name, (host, port))] = stream

    def _malformed(self, exc: SipParseError, data: bytes, source: Address, name: str) -> None:
        partial = exc.partial
        if isinstance(partial, Response) or data.startswith(b"SIP/"):
            self.stats.malformed_responses += 1
            self.stats.note(f"dropped a malformed response from {source}: {exc}")
            return
        self.stats.malformed_requests += 1
        self.stats.note(f"malformed request from {source}: {exc}")
        if isinstance(partial, Request) and partial.method != "ACK":
            try:
                resp = response_for(partial, exc.status, exc.reason)
                resp.set_header("Warning", f'399 offhook "{_warning_text(str(exc))}"')
                self.send(bytes(resp), source, name)
                return
            except (SipParseError, ValueError):
                pass
        self.stats.dropped += 1

    # --- sending -----------------------------------------------------------------

    def send(self, data: bytes, address: Address, transport: str,
             on_failure: FailureHandler | None = None) -> None:
        """Send one message; never raises (failures are counted, noted, and reported to
        `on_failure(reason)` when a stream connection cannot be made)."""
        name = transport.upper()
        try:
            if name == "UDP":
                if self._udp is None or self._udp.transport is None:
                    raise OSError("no UDP socket: call listen_udp() first")
                self._udp.transport.sendto(data, address)
                self.stats.sent += 1
                return
            key = (name, address)
            stream = self._streams.get(key) or self._aliases.get(key)
            if stream is not None and not stream.writer.is_closing():
                stream.writer.write(data)
                self.stats.sent += 1
                return
            if key in self._pending:
                self._pending[key].append((data, on_failure))
                return
            self._pending[key] = [(data, on_failure)]
            task = asyncio.get_running_loop().create_task(self._connect(name, address))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        except (OSError, RuntimeError) as exc:
            self.stats.dropped += 1
            self.stats.note(f"send to {address} over {name} failed: {exc}")

    async def _connect(self, name: str, address: Address) -> None:
        key = (name, address)
        try:
            context = None
            if name == "TLS":
                context = self.client_ssl or ssl.create_default_context()
            server_name = self.server_names.get(address) if context is not None else None
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(address[0], address[1], ssl=context, server_hostname=server_name),
                self.connect_timeout)
        except (OSError, ssl.SSLError, TimeoutError) as exc:
            dropped = self._pending.pop(key, [])
            self.stats.dropped += len(dropped)
            host = f"[{address[0]}]" if ":" in address[0] else address[0]
            why = "timed out" if isinstance(exc, TimeoutError) else describe_tls_error(exc)
            reason = f"cannot connect over {name} to {host}:{address[1]}: {why}"
            self.stats.note(reason)
            log.info("%s", reason)
            for _, on_failure in dropped:
                if on_failure is not None:
                    try:
                        on_failure(reason)
                    except Exception:
                        log.exception("SIP transport failure handler")
            return
        stream = _Stream(self, reader, writer, address, name)
        self._streams[key] = stream
        self.stats.connections_opened += 1
        for data, _ in self._pending.pop(key, []):
            writer.write(data)
            self.stats.sent += 1
        await stream.run()

    def _forget(self, stream: _Stream) -> None:
        key = (stream.name, stream.peer)
        if self._streams.get(key) is stream:
            del self._streams[key]
        for alias in [k for k, v in self._aliases.items() if v is stream]:
            del self._aliases[alias]

    async def close(self) -> None:
        if self._udp is not None and self._udp.transport is not None:
            self._udp.transport.close()
        for server in self._servers:
            server.close()
        for stream in list(self._streams.values()):
            stream.writer.close()
        for task in list(self._tasks):
            task.cancel()
        for server in self._servers:
            await server.wait_closed()
        self._servers.clear()


def _check_essentials(msg: Request | Response) -> None:
    """The headers every transaction and dialog reads (§8.1.1): parse them once here so a
    bad one is a 400 at the door, not an exception inside the core."""
    if not msg.via:
        raise SipParseError("missing Via header", status=400)
    _ = (msg.from_, msg.to, msg.call_id, msg.cseq)
    if isinstance(msg, Request) and msg.cseq.method != msg.method:
        raise SipParseError(f"CSeq method {msg.cseq.method} does not match {msg.method}", status=400)


def _warning_text(text: str) -> str:
    return text.replace("\\", "").replace('"', "'")[:120]


def _same_ip(a: str, b: str) -> bool:
    try:
        return ipaddress.ip_address(a) == ipaddress.ip_address(b)
    except ValueError:
        return False
