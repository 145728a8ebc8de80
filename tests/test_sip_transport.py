"""offhook.sip.transport: UDP and TCP on 127.0.0.1 — framing, rport, malformed input."""
from __future__ import annotations

import asyncio
import shutil
import socket
import ssl
import subprocess
from pathlib import Path

import pytest

from offhook.sip import parse_message
from offhook.sip.message import Request, Response
from offhook.sip.transport import SipTransport

OPTIONS = (
    "OPTIONS sip:bob@127.0.0.1 SIP/2.0\r\n"
    "Via: SIP/2.0/{t} 192.0.2.99:5999;branch=z9hG4bK{b};rport\r\n"
    "Max-Forwards: 70\r\n"
    "From: <sip:alice@127.0.0.1>;tag=1\r\n"
    "To: <sip:bob@127.0.0.1>\r\n"
    "Call-ID: c{b}@x\r\n"
    "CSeq: 1 OPTIONS\r\n"
    "Content-Length: {n}\r\n\r\n{body}"
)


def options(transport: str = "UDP", branch: str = "1", body: str = "") -> bytes:
    return OPTIONS.format(t=transport, b=branch, n=len(body), body=body).encode()


Got = list[tuple[Request | Response, tuple[str, int], str]]


async def _udp_case() -> tuple[Got, SipTransport, bytes, bytes]:
    got: Got = []
    t = SipTransport(lambda m, s, n: got.append((m, s, n)))
    host, port = await t.listen_udp("127.0.0.1", 0)
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.bind(("127.0.0.1", 0))
    client.setblocking(False)
    loop = asyncio.get_running_loop()
    client.sendto(options(), (host, port))
    client.sendto(b"INVITE sip:x SIP/2.0\r\nVia: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bKq\r\n"
                  b"From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: q\r\nCSeq: 1 INVITE\r\n"
                  b"Max-Forwards: x\r\n\r\n",
                  (host, port))
    client.sendto(b"SIP/2.0 999999 Huge\r\n\r\n", (host, port))
    client.sendto(b"\r\n\r\n", (host, port))
    client.sendto(b"\x00\x01garbage", (host, port))
    reply = await asyncio.wait_for(loop.sock_recv(client, 65535), 2)
    await asyncio.sleep(0.05)
    # a message the handler chokes on must not kill the listener
    t.on_message = lambda m, s, n: (_ for _ in ()).throw(RuntimeError("bug"))
    client.sendto(options(branch="2"), (host, port))
    await asyncio.sleep(0.05)
    t.on_message = lambda m, s, n: got.append((m, s, n))
    client.sendto(options(branch="3"), (host, port))
    await asyncio.sleep(0.05)
    # we can send back
    t.send(b"hello", client.getsockname(), "UDP")
    echo = await asyncio.wait_for(loop.sock_recv(client, 65535), 2)
    client.close()
    await t.close()
    return got, t, reply, echo


def test_udp_delivers_answers_400_and_counts() -> None:
    got, t, reply, echo = asyncio.run(_udp_case())
    assert len(got) == 2
    msg, source, name = got[0]
    assert isinstance(msg, Request) and name == "UDP" and source[0] == "127.0.0.1"
    top = msg.via[0]
    assert top.received == "127.0.0.1" and top.rport == source[1]   # RFC 3581
    bad = parse_message(reply)
    assert isinstance(bad, Response) and bad.status == 400
    assert bad.call_id == "q" and "Max-Forwards" in (bad.get("Warning") or "")
    assert t.stats.malformed_requests == 2 and t.stats.malformed_responses == 1
    assert t.stats.keepalives == 1 and t.stats.dropped == 2  # the garbage and the handler bug
    assert echo == b"hello"


async def _tcp_case() -> tuple[Got, SipTransport, bytes]:
    got: Got = []
    t = SipTransport(lambda m, s, n: got.append((m, s, n)))
    host, port = await t.listen_tcp("127.0.0.1", 0)
    reader, writer = await asyncio.open_connection(host, port)
    two = options("TCP", "a", body="v=0\r\n") + options("TCP", "b")
    writer.write(b"\r\n\r\n" + two[:37])   # keep-alive, then a message split mid-line
    await writer.drain()
    await asyncio.sleep(0.05)
    writer.write(two[37:])
    await writer.drain()
    pong = await asyncio.wait_for(reader.readexactly(2), 2)
    for _ in range(50):
        if len(got) == 2:
            break
        await asyncio.sleep(0.02)
    # a reply over the same connection (connection reuse)
    t.send(b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n", got[0][1], "TCP")
    back = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 2)
    writer.close()
    await t.close()
    return got, t, pong + back


def test_tcp_frames_by_content_length_and_reuses_the_connection() -> None:
    got, t, back = asyncio.run(_tcp_case())
    assert [m.call_id for m, _, _ in got] == ["ca@x", "cb@x"]
    assert got[0][0].body == b"v=0\r\n" and got[1][0].body == b""
    assert all(n == "TCP" for _, _, n in got)
    assert back.startswith(b"\r\nSIP/2.0 200 OK")
    assert t.stats.keepalives >= 1


async def _tcp_no_length() -> SipTransport:
    t = SipTransport(lambda m, s, n: None)
    host, port = await t.listen_tcp("127.0.0.1", 0)
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(b"OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bKz\r\n\r\n")
    await writer.drain()
    closed = await asyncio.wait_for(reader.read(), 2)   # the server hangs up
    assert closed == b""
    writer.close()
    await t.close()
    return t


def test_tcp_without_content_length_is_disconnected() -> None:
    t = asyncio.run(_tcp_no_length())
    assert t.stats.dropped == 1
    assert "no Content-Length" in t.stats.errors[-1]


def _certificate(tmp: Path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed (Debian package: openssl)")
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


async def _tls_case(cert: Path, key: Path) -> tuple[Got, SipTransport, SipTransport]:
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    got: Got = []
    server = SipTransport(lambda m, s, n: got.append((m, s, n)))
    address = await server.listen_tcp("127.0.0.1", 0, tls=server_ctx)
    trusting = ssl.create_default_context(cafile=str(cert))
    good = SipTransport(lambda m, s, n: None, client_ssl=trusting)
    good.send(options("TLS", "t1"), address, "TLS")
    strict = SipTransport(lambda m, s, n: None)   # default context: verification on
    strict.send(options("TLS", "t2"), address, "TLS")
    for _ in range(100):
        if got and strict.stats.dropped:
            break
        await asyncio.sleep(0.02)
    await good.close()
    await strict.close()
    await server.close()
    return got, good, strict


def test_tls_verifies_the_server_certificate(tmp_path: Path) -> None:
    cert, key = _certificate(tmp_path)
    got, good, strict = asyncio.run(_tls_case(cert, key))
    assert [(m.call_id, n) for m, _, n in got] == [("ct1@x", "TLS")]   # only the trusting client
    assert good.stats.sent == 1 and good.stats.dropped == 0
    assert strict.stats.dropped == 1 and "certificate verify failed: " in strict.stats.errors[-1]
