"""offhook.sip message layer: round trips, header access, URIs, limits, fuzzing."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import offhook
from offhook.sip import (
    AbsoluteURI,
    Request,
    Response,
    SipLimits,
    SipParseError,
    SipURI,
    TelURI,
    parse_message,
    parse_uri,
)

INVITE = (
    b"INVITE sip:bob@[2001:db8::10]:5062;transport=tcp SIP/2.0\r\n"
    b"Via: SIP/2.0/TCP [2001:db8::1]:5060;branch=z9hG4bK776asdhds;rport\r\n"
    b"Via: SIP/2.0/UDP 192.0.2.4;branch=z9hG4bKnashds8;received=192.0.2.99;rport=5070\r\n"
    b"Max-Forwards: 70\r\n"
    b'To: "Bob \\"B\\" Smith" <sip:bob@example.com>\r\n'
    b"From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
    b"Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b"Contact: <sip:alice@pc33.atlanta.example.com>;expires=3600, \"Desk, 2\" <sip:a2@h>\r\n"
    b"Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\r\n"
    b"Allow: INVITE, ACK, BYE\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Content-Length: 127\r\n"
    b"\r\n"
    b"v=0\r\no=alice 2890844526 2890844526 IN IP4 pc33.atlanta.example.com\r\ns=-\r\n"
    b"c=IN IP4 192.0.2.101\r\nt=0 0\r\nm=audio 49172 RTP/AVP 0\r\n"
)
OK = (
    b"SIP/2.0 200 OK\r\n"
    b"Via: SIP/2.0/UDP 192.0.2.4;branch=z9hG4bKnashds8\r\n"
    b"To: <sip:bob@example.com>;tag=a6c85cf\r\n"
    b"From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
    b"Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b"Record-Route: <sip:p1.example.com;lr>\r\n"
    b"Content-Length: 0\r\n"
    b"\r\n"
)


def test_design_contract_and_error_class() -> None:
    assert offhook.sip.parse_message is parse_message
    assert issubclass(SipParseError, offhook.OffhookError) and issubclass(SipParseError, ValueError)


@pytest.mark.parametrize("data", [INVITE, OK])
def test_canonical_messages_round_trip_byte_equal(data: bytes) -> None:
    assert bytes(parse_message(data)) == data


def test_invite_fields() -> None:
    msg = parse_message(INVITE)
    assert isinstance(msg, Request) and msg.method == "INVITE"
    uri = msg.uri
    assert isinstance(uri, SipURI)
    assert (uri.user, uri.host, uri.host_address, uri.port, uri.transport) == (
        "bob", "[2001:db8::10]", "2001:db8::10", 5062, "tcp")
    top, second = msg.via
    assert (top.transport, top.host, top.port, top.branch, top.rport) == (
        "TCP", "[2001:db8::1]", 5060, "z9hG4bK776asdhds", True)
    assert (second.received, second.rport) == ("192.0.2.99", 5070)
    assert msg.to.display_name == 'Bob "B" Smith' and msg.to.tag is None
    assert msg.from_.display_name == "Alice" and msg.from_.tag == "1928301774"
    assert [c.display_name for c in msg.contacts] == [None, "Desk, 2"]
    assert msg.contacts[0].params == {"expires": "3600"}
    assert [str(r.uri) for r in msg.routes] == ["sip:p1.example.com;lr", "sip:p2.example.com;lr"]
    assert msg.get_all("Allow") == ["INVITE", "ACK", "BYE"]
    assert msg.get("Allow") == "INVITE, ACK, BYE"
    assert msg.max_forwards == 70 and msg.content_length == len(msg.body) == 127


def test_response_fields() -> None:
    msg = parse_message(OK)
    assert isinstance(msg, Response) and (msg.status, msg.reason) == (200, "OK")
    assert msg.to.tag == "a6c85cf" and str(msg.cseq) == "314159 INVITE"
    assert str(msg.record_routes[0].uri) == "sip:p1.example.com;lr"


def test_compact_forms_and_case_insensitive_names() -> None:
    data = (b"OPTIONS sip:a@b.example SIP/2.0\r\nv: SIP/2.0/UDP h.example;branch=z9hG4bK1\r\n"
            b"f: <sip:x@y.example>;tag=1\r\nt: sip:a@b.example\r\ni: abc@h\r\n"
            b"CSEQ: 1 OPTIONS\r\nk: 100rel, timer\r\nm: *\r\nl: 0\r\n\r\n")
    msg = parse_message(data)
    assert msg.call_id == "abc@h" and msg.get("call-id") == "abc@h" and msg.get("I") == "abc@h"
    assert msg.get_all("Supported") == ["100rel", "timer"]
    assert msg.contact_star and msg.contacts == []
    assert msg.cseq.number == 1 and "Content-Length" in msg and "Route" not in msg
    assert bytes(msg) == data  # names are kept as written


def test_multiple_header_lines_and_quoted_commas() -> None:
    data = INVITE.replace(b"Allow: INVITE, ACK, BYE\r\n",
                          b"Allow: INVITE\r\nallow: ACK,BYE\r\n"
                          b'Warning: 399 h "a, b <c>"\r\n'
                          b'WWW-Authenticate: Digest realm="a,b", nonce="x"\r\n')
    msg = parse_message(data)
    assert msg.get_all("Allow") == ["INVITE", "ACK", "BYE"]
    assert msg.get_all("Warning") == ['399 h "a, b <c>"']
    assert msg.get_all("WWW-Authenticate") == ['Digest realm="a,b", nonce="x"']  # not a list header


def test_folding_and_sws_around_colon() -> None:
    data = OK.replace(b"CSeq: 314159 INVITE\r\n", b"CSeq  :\t314159\r\n  \t INVITE\r\n")
    msg = parse_message(data)
    assert msg.get("CSeq") == "314159 INVITE" and msg.cseq.method == "INVITE"
    assert bytes(msg) == OK


def test_leading_crlf_ignored_and_bytes_like_inputs() -> None:
    assert bytes(parse_message(b"\r\n\r\n" + OK)) == OK
    assert bytes(parse_message(bytearray(OK))) == OK


def test_body_framing_datagram_vs_stream() -> None:
    no_cl = OK.replace(b"Content-Length: 0\r\n", b"") + b"hello"
    assert parse_message(no_cl).body == b"hello"
    with pytest.raises(SipParseError, match="Content-Length is required on a stream transport"):
        parse_message(no_cl, stream=True)
    assert parse_message(OK + b"garbage").body == b""  # §18.3: extra octets discarded


def test_build_and_serialise_request() -> None:
    req = Request(method="BYE", uri=parse_uri("sip:bob@192.0.2.4"))
    for name, value in [("Via", "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKx"),
                        ("From", "<sip:a@b.example>;tag=1"), ("To", "<sip:bob@192.0.2.4>;tag=2"),
                        ("Call-ID", "c1"), ("CSeq", "2 BYE"), ("Content-Length", "0")]:
        req.add_header(name, value)
    data = bytes(req)
    assert data.startswith(b"BYE sip:bob@192.0.2.4 SIP/2.0\r\nVia: SIP/2.0/UDP")
    assert parse_message(data) == req
    req.set_header("cseq", "3 BYE")
    assert req.cseq.number == 3 and len(req.get_lines("CSeq")) == 1
    req.remove_header("Content-Length")
    assert req.content_length is None


@pytest.mark.parametrize("text", [
    "sip:alice@atlanta.example.com",
    "sips:alice:secret@[2001:db8::1]:5061;transport=tcp;lr",
    "sip:+15551234567;phone-context=example.com@gw.example.com;user=phone",
    "sip:bob@h.example?Subject=hi%20there&Priority=urgent",
    "sip:192.0.2.4:5060",
    "tel:+1-201-555-0123;phone-context=example.com",
    "urn:service:sos",
])
def test_uri_round_trip(text: str) -> None:
    assert str(parse_uri(text)) == text


def test_uri_kinds_and_escapes() -> None:
    sip = parse_uri("SIP:%61lice@Example.COM;Transport=UDP")
    assert isinstance(sip, SipURI) and sip.scheme == "sip" and sip.user == "alice"
    assert sip.params == {"transport": "UDP"} and sip.transport == "udp"
    tel = parse_uri("tel:+358-555-1234567;postd=pp22")
    assert isinstance(tel, TelURI) and tel.global_number and tel.params == {"postd": "pp22"}
    other = parse_uri("http://www.example.com/a?b")
    assert isinstance(other, AbsoluteURI) and other.scheme == "http"
    sip_with_header = parse_uri("sip:a@h?Route=%3Csip:p%3E")
    assert isinstance(sip_with_header, SipURI) and sip_with_header.headers == [("Route", "<sip:p>")]


@pytest.mark.parametrize(("text", "words"), [
    ("sip:alice@[2001:db8::zz]", "invalid IPv6 reference"),
    ("sip:alice@[2001:db8::1", "malformed IPv6 reference"),
    ("sip:alice@host:99999", "invalid port '99999'"),
    ("sip:alice@host:", "invalid port ''"),
    ("sip:al ice@host", "invalid user part"),
    ("sip:alice@300.1.1.1", "invalid IPv4 address"),
    ("sip:alice@-bad-.example", "invalid host"),
    ("sip:a@h;=x", "invalid parameter"),
    ("sip:a@h?noequals", "invalid header"),
    ("1sip:a@h", "no valid scheme"),
    ("tel:xyz;x", "invalid telephone number"),
    ("http://a b", "invalid character"),
])
def test_bad_uris(text: str, words: str) -> None:
    with pytest.raises(SipParseError) as info:
        parse_uri(text)
    assert words in str(info.value) and info.value.status == 400


@pytest.mark.parametrize(("data", "words", "status"), [
    (b"", "no empty line", 400),
    (b"INVITE sip:a@b SIP/2.0\r\n", "no empty line", 400),
    (OK.replace(b"SIP/2.0 200", b"SIP/2.1 200"), "SIP version SIP/2.1 is not supported", 505),
    (OK.replace(b"SIP/2.0 200", b"SIP/2.0 099"), "status code '099'", 400),
    (OK.replace(b"CSeq: 314159 INVITE", b"CSeq: 314159"), "CSeq: '314159' is not", 400),
    (OK.replace(b"To:", b"To "), "malformed header line 'To  <sip", 400),
    (OK.replace(b"Via: SIP/2.0/UDP 192.0.2.4", b"Via: SIP/2.0/UDP"), "Via:", 400),
    (OK.replace(b"Call-ID: a84", b"Call-ID: a 84"), "Call-ID: 'a 84b", 400),
    (OK.replace(b"Record-Route: <sip:p1.example.com;lr>", b"Record-Route: sip:p1"),
     "Record-Route: URI must be enclosed in <...>", 400),
    (OK.replace(b"OK", b"\xff\xfe"), "not valid UTF-8", 400),
    (b"INVITE sip:a@b SIP/2.0\r\n hi: x\r\n\r\n", "starts with whitespace", 400),
])
def test_malformed_messages(data: bytes, words: str, status: int) -> None:
    with pytest.raises(SipParseError) as info:
        parse_message(data)
    assert words in str(info.value)
    assert info.value.status == status


def test_limits_give_413_and_513() -> None:
    big_body = OK.replace(b"Content-Length: 0", b"Content-Length: 2000") + b"x" * 2000
    with pytest.raises(SipParseError) as info:
        parse_message(big_body, limits=SipLimits(max_message_size=1024))
    assert info.value.status == 413 and info.value.reason == "Request Entity Too Large"
    assert "exceeds the limit of 1024" in str(info.value)
    with pytest.raises(SipParseError) as info:
        parse_message(big_body, limits=SipLimits(max_body_size=1999))
    assert info.value.status == 413 and "body of 2000 bytes" in str(info.value)
    huge_head = OK.replace(b"\r\n\r\n", b"\r\n" + b"X-Pad: y\r\n" * 200 + b"\r\n")
    with pytest.raises(SipParseError) as info:
        parse_message(huge_head, limits=SipLimits(max_message_size=1024))
    assert info.value.status == 513 and info.value.reason == "Message Too Large"
    with pytest.raises(SipParseError, match="207 header lines exceed the limit of 100") as info:
        parse_message(huge_head, limits=SipLimits(max_header_count=100))
    assert info.value.status == 513
    long_line = OK.replace(b"\r\n\r\n", b"\r\nX-Long: " + b"a" * 300 + b"\r\n\r\n")
    with pytest.raises(SipParseError, match="exceeds the limit of 200") as info:
        parse_message(long_line, limits=SipLimits(max_line_length=200))
    assert info.value.status == 513
    folded = OK.replace(b"\r\n\r\n", b"\r\nX-Fold: " + b"a" * 90 + b"\r\n " + b"b" * 90 + b"\r\n\r\n")
    with pytest.raises(SipParseError, match="X-Fold value of 181 characters") as info:
        parse_message(folded, limits=SipLimits(max_header_value_length=150, max_line_length=100))
    assert info.value.status == 513


def test_limits_validated() -> None:
    with pytest.raises(ValueError, match=r"SipLimits\.max_header_count must be a positive integer"):
        SipLimits(max_header_count=0)


def test_not_bytes_is_a_parse_error() -> None:
    with pytest.raises(SipParseError, match="a SIP message is bytes, not str"):
        parse_message("INVITE")  # type: ignore[arg-type]


# --- fuzzing: nothing but SipParseError may escape, whatever the input ---

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _parse_or_reject(data: bytes) -> None:
    try:
        msg = parse_message(data)
    except SipParseError as exc:
        assert exc.status in (400, 413, 416, 501, 505, 513) and str(exc)
        assert not str(exc).startswith("malformed message (")  # no internal error was wrapped
        return
    again = parse_message(bytes(msg))  # whatever parses must serialise to something parseable
    assert again.call_id == msg.call_id and again.cseq == msg.cseq and again.body == msg.body


@FUZZ
@given(st.binary(max_size=2000))
def test_fuzz_random_bytes(data: bytes) -> None:
    _parse_or_reject(data)


@FUZZ
@given(st.sampled_from([INVITE, OK]), st.lists(
    st.tuples(st.integers(0, 10_000), st.integers(0, 255), st.sampled_from(["set", "del", "ins"])),
    min_size=1, max_size=8))
def test_fuzz_mutated_valid_messages(base: bytes, edits: list[tuple[int, int, str]]) -> None:
    data = bytearray(base)
    for pos, byte, op in edits:
        i = pos % (len(data) + 1)
        if op == "ins" or i == len(data):
            data.insert(i, byte)
        elif op == "set":
            data[i] = byte
        else:
            del data[i]
    _parse_or_reject(bytes(data))


_NAMES = st.sampled_from(["Via", "v", "From", "f", "To", "t", "Call-ID", "i", "CSeq", "Contact",
                          "m", "Route", "Record-Route", "Content-Length", "l", "Max-Forwards",
                          "Content-Type", "c", "X-Other"])
_PIECES = st.sampled_from(["SIP/2.0/UDP", " ", "host.example", "[::1]", ":5060", ";branch=z9hG4bK",
                           ";tag=", ";rport", "<", ">", "sip:", "sips:", "tel:+1", "@", '"', "\\",
                           ",", "*", "0", "70", "4294967296", " INVITE", "-1", "\r\n ", "\t",
                           "%00", "%", "?", "=", "é", "a", "multipart/mixed;boundary=x"])


@FUZZ
@given(st.lists(st.tuples(_NAMES, st.lists(_PIECES, max_size=10).map("".join)), max_size=15),
       st.binary(max_size=50), st.booleans())
def test_fuzz_header_soup(headers: list[tuple[str, str]], body: bytes, stream: bool) -> None:
    head = "INVITE sip:bob@example.com SIP/2.0\r\n" + "".join(f"{n}: {v}\r\n" for n, v in headers)
    data = head.encode() + b"\r\n" + body
    try:
        parse_message(data, stream=stream)
    except SipParseError as exc:
        assert str(exc) and not str(exc).startswith("malformed message (")
