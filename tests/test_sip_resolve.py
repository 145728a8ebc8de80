"""RFC 3263 server location: the DNS codec, SRV ordering, the procedure, and dnsmasq end to end."""
from __future__ import annotations

import asyncio
import random
import socket
import struct
from collections import Counter
from collections.abc import Iterator, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dns_peers
from offhook.errors import DnsError
from offhook.sip.resolve import (
    DnsMessage,
    DnsTimeoutError,
    NaptrRecord,
    Question,
    ResourceRecord,
    RType,
    ServerLocator,
    SrvRecord,
    Target,
    encode_name,
    encode_query,
    locate_with,
    order_srv,
    parse_dns,
    query,
    resolve,
)
from offhook.sip.uri import SipURI, parse_uri
from sip_peers import free_port


def _sip(text: str) -> SipURI:
    uri = parse_uri(text)
    assert isinstance(uri, SipURI)
    return uri


# --- codec ----------------------------------------------------------------------------------------

def _sample_message() -> DnsMessage:
    return DnsMessage(
        0x1234, response=True, authoritative=True, recursion_available=True,
        questions=[Question("example.com", RType.NAPTR)],
        answers=[
            ResourceRecord("example.com", RType.NAPTR, 300,
                           NaptrRecord(10, 50, "s", "SIP+D2T", "", "_sip._tcp.example.com")),
            ResourceRecord("_sip._tcp.example.com", RType.SRV, 60, SrvRecord(1, 5, 5070, "a.example.com")),
            ResourceRecord("a.example.com", RType.A, 60, "192.0.2.1"),
            ResourceRecord("a.example.com", RType.AAAA, 60, "2001:db8::1"),
            ResourceRecord("www.example.com", RType.CNAME, 60, "a.example.com"),
            ResourceRecord("example.com", RType.TXT, 60, b"\x05hello"),
        ])


def test_message_round_trip() -> None:
    msg = _sample_message()
    assert parse_dns(msg.encode()) == msg


def test_query_packet_layout() -> None:
    packet = encode_query("_sip._udp.example.com", RType.SRV, id=0xBEEF)
    assert packet[:12] == struct.pack("!HHHHHH", 0xBEEF, 0x0100, 1, 0, 0, 0)
    assert packet[12:] == b"\x04_sip\x04_udp\x07example\x03com\x00" + struct.pack("!HH", 33, 1)


def test_compression_pointers_are_followed() -> None:
    header = struct.pack("!HHHHHH", 7, 0x8180, 1, 1, 0, 0)
    qname = b"\x03sip\x07example\x03com\x00"  # at offset 12; "example.com" at 16
    question = qname + struct.pack("!HH", 1, 1)
    # answer name = pointer to the question name; rdata 4 octets
    answer = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 30, 4) + bytes([192, 0, 2, 7])
    # a CNAME whose rdata is "x" + pointer to "example.com"
    cname_rdata = b"\x01x\xc0\x10"
    cname = b"\xc0\x0c" + struct.pack("!HHIH", 5, 1, 30, len(cname_rdata)) + cname_rdata
    packet = header[:6] + struct.pack("!HHH", 2, 0, 0) + question + answer + cname
    msg = parse_dns(packet)
    assert msg.answers[0] == ResourceRecord("sip.example.com", RType.A, 30, "192.0.2.7")
    assert msg.answers[1].data == "x.example.com"


def test_pointer_loop_is_refused() -> None:
    header = struct.pack("!HHHHHH", 1, 0, 1, 0, 0, 0)
    looping = header + b"\xc0\x0c" + struct.pack("!HH", 1, 1)  # points at itself
    with pytest.raises(DnsError, match=r"compression pointer at offset 12 points forward or loops"):
        parse_dns(looping)
    # two pointers pointing at each other: the second goes backwards, the first forwards
    two = header + b"\x01a\xc0\x10\xc0\x0c" + struct.pack("!HH", 1, 1)
    with pytest.raises(DnsError, match="points forward or loops"):
        parse_dns(two)


def test_truncated_and_malformed_packets() -> None:
    good = _sample_message().encode()
    for cut in range(len(good)):
        with pytest.raises(DnsError):
            parse_dns(good[:cut])
    with pytest.raises(DnsError, match="shorter than its 12-octet header"):
        parse_dns(b"\x00" * 5)
    bad_label = struct.pack("!HHHHHH", 1, 0, 1, 0, 0, 0) + b"\x40abc\x00" + b"\x00\x01\x00\x01"
    with pytest.raises(DnsError, match="label type 0x40 at offset 12"):
        parse_dns(bad_label)
    short_a = (struct.pack("!HHHHHH", 1, 0x8000, 0, 1, 0, 0) + b"\x00"
               + struct.pack("!HHIH", 1, 1, 0, 3) + b"abc")
    with pytest.raises(DnsError, match=r"A record of \. has 3 octets of data, not 4"):
        parse_dns(short_a)
    with pytest.raises(DnsError, match="cannot fit"):
        parse_dns(struct.pack("!HHHHHH", 1, 0, 0, 65535, 0, 0) + b"\0" * 20)


def test_name_limits() -> None:
    with pytest.raises(DnsError, match="over 63 octets"):
        encode_name("a" * 64 + ".com")
    with pytest.raises(DnsError, match="longer than 255"):
        encode_name(".".join(["a" * 60] * 5))
    long_name = b"".join(b"\x3f" + b"a" * 63 for _ in range(5)) + b"\x00"
    packet = struct.pack("!HHHHHH", 1, 0, 1, 0, 0, 0) + long_name + b"\x00\x01\x00\x01"
    with pytest.raises(DnsError, match="longer than 255 octets"):
        parse_dns(packet)
    assert encode_name(".") == b"\x00"


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=600))
def test_fuzz_random_bytes_only_raise_dns_error(data: bytes) -> None:
    try:
        msg = parse_dns(data)
    except DnsError:
        return
    assert isinstance(msg, DnsMessage)


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_fuzz_mutated_packets(data: st.DataObject) -> None:
    packet = bytearray(_sample_message().encode())
    for _ in range(data.draw(st.integers(1, 6))):
        i = data.draw(st.integers(0, len(packet) - 1))
        packet[i] = data.draw(st.integers(0, 255))
    try:
        msg = parse_dns(bytes(packet))
    except DnsError:
        return
    # whatever parsed must re-encode (names within limits, data typed consistently)
    for rr in msg.answers:
        assert isinstance(rr.data, (str, bytes, SrvRecord, NaptrRecord))


label = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=20)


@settings(max_examples=200, deadline=None)
@given(st.lists(label, min_size=1, max_size=5), st.integers(0, 65535), st.integers(0, 65535),
       st.integers(0, 65535))
def test_fuzz_srv_round_trip(labels: list[str], prio: int, weight: int, port: int) -> None:
    name = ".".join(labels)
    msg = DnsMessage(1, response=True, answers=[
        ResourceRecord(name, RType.SRV, 5, SrvRecord(prio, weight, port, name))])
    assert parse_dns(msg.encode()) == msg


# --- SRV ordering ---------------------------------------------------------------------------------

def test_srv_priority_order_and_weights() -> None:
    recs = [SrvRecord(20, 0, 1, "c"), SrvRecord(10, 1, 2, "a"), SrvRecord(10, 3, 3, "b")]
    rng = random.Random(1)
    firsts = Counter(order_srv(recs, rng)[0].target for _ in range(4000))
    assert set(firsts) == {"a", "b"}
    assert 0.70 < firsts["b"] / 4000 < 0.80  # weight 3 of 4
    for _ in range(50):
        assert order_srv(recs, rng)[-1].target == "c"  # a later priority always comes last


def test_srv_zero_weight_kept_and_rare() -> None:
    recs = [SrvRecord(1, 0, 1, "zero"), SrvRecord(1, 100, 2, "heavy")]
    rng = random.Random(7)
    orders = [tuple(r.target for r in order_srv(recs, rng)) for _ in range(2000)]
    assert all(sorted(o) == ["heavy", "zero"] for o in orders)
    zero_first = sum(o[0] == "zero" for o in orders) / len(orders)
    assert 0 < zero_first < 0.03  # 1 chance in 101


# --- the procedure with a static table -----------------------------------------------------------

def _zone(*records: ResourceRecord) -> dict[tuple[str, int], list[ResourceRecord]]:
    table: dict[tuple[str, int], list[ResourceRecord]] = {}
    for rr in records:
        table.setdefault((rr.name, rr.rtype), []).append(rr)
    return table


class Table:
    def __init__(self, *records: ResourceRecord, additional: Sequence[ResourceRecord] = ()) -> None:
        self.table = _zone(*records)
        self.additional = list(additional)
        self.asked: list[tuple[str, int]] = []

    def __call__(self, q: Question) -> list[ResourceRecord]:
        self.asked.append((q.name, q.rtype))
        name, chain = q.name, []
        while (name, RType.CNAME) in self.table:  # as a server does: the chain, then the data
            link = self.table[(name, RType.CNAME)][0]
            chain.append(link)
            name = str(link.data)
        return chain + self.table.get((name, q.rtype), []) + self.additional


def A(name: str, addr: str) -> ResourceRecord:
    return ResourceRecord(name, RType.AAAA if ":" in addr else RType.A, 60, addr)


def SRV(name: str, prio: int, weight: int, port: int, target: str) -> ResourceRecord:
    return ResourceRecord(name, RType.SRV, 60, SrvRecord(prio, weight, port, target))


def NAPTR(name: str, order: int, pref: int, service: str, repl: str, flags: str = "s") -> ResourceRecord:
    return ResourceRecord(name, RType.NAPTR, 60, NaptrRecord(order, pref, flags, service, "", repl))


def test_numeric_host_needs_no_dns() -> None:
    table = Table()
    assert locate_with(_sip("sip:alice@192.0.2.5"), table) == [Target("udp", "192.0.2.5", 5060, "192.0.2.5")]
    assert locate_with(_sip("sips:alice@[2001:db8::5]:7000"), table) == [
        Target("tls", "2001:db8::5", 7000, "2001:db8::5")]
    assert locate_with(_sip("sip:alice@192.0.2.5;transport=tcp"), table) == [
        Target("tcp", "192.0.2.5", 5060, "192.0.2.5")]
    assert table.asked == []


def test_port_given_means_address_records_only() -> None:
    table = Table(A("pbx.test", "192.0.2.1"), A("pbx.test", "2001:db8::1"))
    assert locate_with(_sip("sip:pbx.test:5080"), table) == [
        Target("udp", "192.0.2.1", 5080, "pbx.test"), Target("udp", "2001:db8::1", 5080, "pbx.test")]
    assert table.asked == [("pbx.test", RType.A), ("pbx.test", RType.AAAA)]
    ipv6_first = locate_with(_sip("sips:pbx.test:5081"), table, prefer_ipv6=True)
    assert [t.address for t in ipv6_first] == ["2001:db8::1", "192.0.2.1"]
    assert {t.transport for t in ipv6_first} == {"tls"}


def test_naptr_srv_a_chain_in_order() -> None:
    table = Table(
        NAPTR("ex.test", 20, 10, "SIP+D2U", "_sip._udp.ex.test"),
        NAPTR("ex.test", 10, 10, "SIP+D2T", "_sip._tcp.ex.test"),
        NAPTR("ex.test", 5, 10, "SIP+D2S", "_sip._sctp.ex.test"),   # SCTP: not supported
        NAPTR("ex.test", 1, 10, "E2U+sip", "x.ex.test"),            # ENUM: not a SIP service
        NAPTR("ex.test", 1, 10, "SIP+D2U", "y.ex.test", flags="u"),  # not an "s" record
        SRV("_sip._tcp.ex.test", 1, 0, 5070, "tcp1.ex.test"),
        SRV("_sip._tcp.ex.test", 2, 0, 5071, "tcp2.ex.test"),
        SRV("_sip._udp.ex.test", 1, 0, 5060, "udp1.ex.test"),
        A("tcp1.ex.test", "192.0.2.1"), A("tcp2.ex.test", "192.0.2.2"), A("udp1.ex.test", "192.0.2.3"))
    targets = locate_with(_sip("sip:bob@ex.test"), table)
    assert [(t.transport, t.address, t.port) for t in targets] == [
        ("tcp", "192.0.2.1", 5070), ("tcp", "192.0.2.2", 5071), ("udp", "192.0.2.3", 5060)]
    assert ("_sip._sctp.ex.test", RType.SRV) not in table.asked


def test_sips_uses_only_secure_services() -> None:
    table = Table(
        NAPTR("ex.test", 10, 10, "SIP+D2U", "_sip._udp.ex.test"),
        NAPTR("ex.test", 20, 10, "SIPS+D2T", "_sips._tcp.ex.test"),
        SRV("_sip._udp.ex.test", 1, 0, 5060, "h.ex.test"),
        SRV("_sips._tcp.ex.test", 1, 0, 5061, "h.ex.test"),
        A("h.ex.test", "192.0.2.9"))
    assert locate_with(_sip("sips:bob@ex.test"), table) == [Target("tls", "192.0.2.9", 5061, "h.ex.test")]


def test_no_naptr_falls_back_to_srv_then_a() -> None:
    table = Table(SRV("_sip._tcp.ex.test", 1, 0, 5099, "h.ex.test"), A("h.ex.test", "192.0.2.4"))
    assert locate_with(_sip("sip:ex.test"), table) == [Target("tcp", "192.0.2.4", 5099, "h.ex.test")]
    assert table.asked[:3] == [("ex.test", RType.NAPTR), ("_sip._udp.ex.test", RType.SRV),
                               ("_sip._tcp.ex.test", RType.SRV)]
    bare = Table(A("ex.test", "192.0.2.8"))
    assert locate_with(_sip("sip:ex.test"), bare) == [Target("udp", "192.0.2.8", 5060, "ex.test")]
    assert locate_with(_sip("sips:ex.test"), bare) == [Target("tls", "192.0.2.8", 5061, "ex.test")]
    assert locate_with(_sip("sip:ex.test;transport=tcp"), bare) == [
        Target("tcp", "192.0.2.8", 5060, "ex.test")]
    assert locate_with(_sip("sip:nothing.test"), Table()) == []


def test_transport_param_skips_naptr() -> None:
    table = Table(SRV("_sip._tcp.ex.test", 1, 0, 5090, "h.ex.test"), A("h.ex.test", "192.0.2.4"))
    assert locate_with(_sip("sip:ex.test;transport=TCP"), table) == [
        Target("tcp", "192.0.2.4", 5090, "h.ex.test")]
    assert table.asked[0] == ("_sip._tcp.ex.test", RType.SRV)


def test_dot_target_and_maddr_and_cname() -> None:
    table = Table(SRV("_sip._udp.ex.test", 1, 0, 0, "."),
                  SRV("_sip._tcp.ex.test", 1, 0, 5060, "h.ex.test"),
                  ResourceRecord("h.ex.test", RType.CNAME, 60, "real.ex.test"),
                  A("real.ex.test", "192.0.2.6"), A("proxy.test", "192.0.2.44"))
    assert locate_with(_sip("sip:ex.test"), table) == [Target("tcp", "192.0.2.6", 5060, "h.ex.test")]
    assert locate_with(_sip("sip:ex.test:5062;maddr=proxy.test"), table) == [
        Target("udp", "192.0.2.44", 5062, "proxy.test")]


def test_additional_records_save_questions() -> None:
    table = Table(NAPTR("ex.test", 10, 10, "SIP+D2U", "_sip._udp.ex.test"),
                  additional=[SRV("_sip._udp.ex.test", 1, 0, 5060, "h.ex.test"),
                              A("h.ex.test", "192.0.2.1"), A("h.ex.test", "2001:db8::1")])
    targets = locate_with(_sip("sip:ex.test"), table)
    assert [t.address for t in targets] == ["192.0.2.1", "2001:db8::1"]
    assert table.asked == [("ex.test", RType.NAPTR)]


def test_locator_misuse_is_a_clear_error() -> None:
    loc = ServerLocator(_sip("sip:ex.test"))
    with pytest.raises(DnsError, match="the locator asked"):
        loc.feed(Question("other.test", RType.A), [])
    with pytest.raises(DnsError, match="transports must be a non-empty subset"):
        ServerLocator(_sip("sip:ex.test"), transports=("ws",))


# --- against dnsmasq -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def dnsmasq() -> Iterator[tuple[str, int]]:
    with dns_peers.dnsmasq([
            # NAPTR: TCP first (order 10), then UDP (order 20)
            "--naptr-record=corp.test,10,50,s,SIP+D2T,,_sip._tcp.corp.test",
            "--naptr-record=corp.test,20,50,s,SIP+D2U,,_sip._udp.corp.test",
            # TCP: primary at priority 10, backup at 20; UDP: one server
            "--srv-host=_sip._tcp.corp.test,pbx1.corp.test,5070,10,0",
            "--srv-host=_sip._tcp.corp.test,pbx2.corp.test,5071,20,0",
            "--srv-host=_sip._udp.corp.test,pbx3.corp.test,5072,10,0",
            "--host-record=pbx1.corp.test,127.0.0.11,::11",
            "--host-record=pbx2.corp.test,127.0.0.12",
            "--host-record=pbx3.corp.test,127.0.0.13",
            # no NAPTR, SRV only (sips)
            "--srv-host=_sips._tcp.secure.test,tls.secure.test,5061,1,0",
            "--host-record=tls.secure.test,127.0.0.21",
            # nothing but an A record
            "--host-record=plain.test,127.0.0.31"], probe="plain.test") as server:
        yield server


def test_dnsmasq_naptr_srv_a_chain(dnsmasq: tuple[str, int]) -> None:
    targets = asyncio.run(resolve(_sip("sip:alice@corp.test"), dnsmasq, timeout=1.0))
    assert [(t.transport, t.address, t.port, t.host) for t in targets] == [
        ("tcp", "127.0.0.11", 5070, "pbx1.corp.test"),
        ("tcp", "::11", 5070, "pbx1.corp.test"),
        ("tcp", "127.0.0.12", 5071, "pbx2.corp.test"),
        ("udp", "127.0.0.13", 5072, "pbx3.corp.test"),
    ]


def test_dnsmasq_restricted_transports_and_fallbacks(dnsmasq: tuple[str, int]) -> None:
    udp_only = asyncio.run(resolve(_sip("sip:corp.test"), dnsmasq, transports=("udp",), timeout=1.0))
    assert udp_only == [Target("udp", "127.0.0.13", 5072, "pbx3.corp.test")]
    secure = asyncio.run(resolve(_sip("sips:bob@secure.test"), dnsmasq, timeout=1.0))
    assert secure == [Target("tls", "127.0.0.21", 5061, "tls.secure.test")]
    plain = asyncio.run(resolve(_sip("sip:plain.test"), dnsmasq, timeout=1.0))
    assert plain == [Target("udp", "127.0.0.31", 5060, "plain.test")]


def test_dnsmasq_query_records_and_missing_name(dnsmasq: tuple[str, int]) -> None:
    msg = asyncio.run(query(dnsmasq, "_sip._tcp.corp.test", RType.SRV, 1.0))
    assert msg.response and msg.rcode == 0
    assert sorted(rr.data.port for rr in msg.answers if isinstance(rr.data, SrvRecord)) == [5070, 5071]
    with pytest.raises(DnsError, match=r"no SIP server found for sip:nobody.test"):
        asyncio.run(resolve(_sip("sip:nobody.test"), dnsmasq, timeout=1.0))


def test_query_timeout_when_server_is_silent() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        server = silent.getsockname()
        with pytest.raises(DnsTimeoutError, match=r"no answer from DNS server 127\.0\.0\.1:\d+ for x\.test A "
                                                  r"within 0\.2 s"):
            asyncio.run(query(server, "x.test", RType.A, 0.2))


def test_query_ignores_spoofed_answers() -> None:
    async def scenario() -> DnsMessage:
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        sock.setblocking(False)

        async def fake_server() -> None:
            data, addr = await loop.sock_recvfrom(sock, 512)
            q = parse_dns(data)
            wrong_id = DnsMessage((q.id + 1) % 65536, response=True, questions=q.questions,
                                  answers=[A("x.test", "192.0.2.66")])
            sock.sendto(b"garbage", addr)
            sock.sendto(wrong_id.encode(), addr)
            right = DnsMessage(q.id, response=True, questions=q.questions, answers=[A("x.test", "192.0.2.1")])
            sock.sendto(right.encode(), addr)

        task = asyncio.create_task(fake_server())
        try:
            return await query(sock.getsockname(), "x.test", RType.A, 2.0)
        finally:
            await task
            sock.close()

    msg = asyncio.run(scenario())
    assert [rr.data for rr in msg.answers] == ["192.0.2.1"]


def test_resolve_against_a_closed_port_names_the_failure() -> None:
    server = ("127.0.0.1", free_port())  # nothing listens: ICMP port unreachable
    with pytest.raises(DnsError, match=r"no SIP server found for sip:x\.test \(DNS query failed: "):
        asyncio.run(resolve(_sip("sip:x.test"), server, timeout=0.5))
    # a numeric host never needs the server
    assert asyncio.run(resolve(_sip("sip:192.0.2.1:5070"), server)) == [
        Target("udp", "192.0.2.1", 5070, "192.0.2.1")]
