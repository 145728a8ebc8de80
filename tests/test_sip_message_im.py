"""MESSAGE bodies (RFC 3428), INFO DTMF bodies, and the incoming-call policy."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from offhook.errors import SipParseError
from offhook.sip import parse_message
from offhook.sip.message import Request
from offhook.sip.message_im import (
    AutoAnswer,
    CallPolicy,
    DtmfRelay,
    Forward,
    InstantMessage,
    MessageReject,
    Reject,
    Ring,
    dtmf_relay_body,
    message_body,
    parse_dtmf_info,
    parse_dtmf_relay,
    receive_message,
)


def request(method: str, *headers: tuple[str, str], body: bytes = b"") -> Request:
    lines = "".join(f"{n}: {v}\r\n" for n, v in headers)
    msg = parse_message((
        f"{method} sip:bob@192.0.2.2 SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n"
        'From: "Alice" <sip:alice@192.0.2.1>;tag=a\r\nTo: <sip:bob@192.0.2.2>\r\n'
        f"Call-ID: c1\r\nCSeq: 1 {method}\r\nMax-Forwards: 70\r\n"
        f"{lines}Content-Length: {len(body)}\r\n\r\n").encode() + body)
    assert isinstance(msg, Request)
    return msg


# --- MESSAGE ----------------------------------------------------------------------------------

def test_message_round_trip() -> None:
    headers, body = message_body("héllo ☎")
    received = receive_message(request("MESSAGE", *headers, body=body))
    assert isinstance(received, InstantMessage)
    assert received.text == "héllo ☎" and received.sender.display_name == "Alice"


def test_message_limits_and_rejections() -> None:
    with pytest.raises(ValueError, match="message of 801 bytes exceeds the limit of 800"):
        message_body("x" * 801)
    assert message_body("x" * 5000, max_bytes=10000)[1] == b"x" * 5000
    html = receive_message(request("MESSAGE", ("Content-Type", "text/html"), body=b"<b>x</b>"))
    assert html == MessageReject(415, "Unsupported Media Type", [("Accept", "text/plain")])
    big = receive_message(request("MESSAGE", ("Content-Type", "text/plain"), body=b"x" * 100), max_bytes=50)
    assert isinstance(big, MessageReject) and big.status == 413
    bad = receive_message(request("MESSAGE", ("Content-Type", "text/plain;charset=utf-8"), body=b"\xff"))
    assert isinstance(bad, MessageReject) and bad.status == 400
    latin = receive_message(request("MESSAGE", ("Content-Type", "text/plain;charset=ISO-8859-1"),
                                    body="é".encode("latin-1")))
    assert isinstance(latin, InstantMessage) and latin.text == "é"


# --- INFO DTMF ---------------------------------------------------------------------------------

def test_dtmf_relay_build_and_parse() -> None:
    headers, body = dtmf_relay_body("5", 250)
    assert (headers, body) == ([("Content-Type", "application/dtmf-relay")], b"Signal=5\r\nDuration=250\r\n")
    assert parse_dtmf_info(request("INFO", *headers, body=body)) == DtmfRelay("5", 250)
    assert parse_dtmf_relay(b"signal= #\nduration=100") == DtmfRelay("#", 100)
    assert parse_dtmf_relay(b"Signal=10\r\n") == DtmfRelay("*", 0)
    assert parse_dtmf_info(request("INFO", ("Content-Type", "application/dtmf"), body=b"7")) == DtmfRelay("7")
    assert parse_dtmf_info(request("INFO", ("Content-Type", "application/xml"), body=b"<x/>")) is None
    assert parse_dtmf_info(request("INFO")) is None


@pytest.mark.parametrize(("body", "message"), [
    (b"Duration=100", "no Signal= line"),
    (b"Signal=X", "DTMF signal 'X' is not one of 0-9 \\* # A-D"),
    (b"Signal=1\r\nDuration=-5", "Duration '-5' is not milliseconds"),
    (b"garbage", "is not 'Name=value'"),
    (b"Signal=\xe9", "not ASCII"),
])
def test_dtmf_relay_errors(body: bytes, message: str) -> None:
    with pytest.raises(SipParseError, match=message):
        parse_dtmf_relay(body)


def test_dtmf_relay_build_errors() -> None:
    with pytest.raises(ValueError, match="DTMF signal 'Z'"):
        dtmf_relay_body("z")
    with pytest.raises(ValueError, match=r"DTMF duration must be 1\.\.10000 ms, not 0"):
        dtmf_relay_body("1", 0)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=60))
def test_fuzz_dtmf_relay(body: bytes) -> None:
    try:
        relay = parse_dtmf_relay(body)
    except SipParseError as exc:
        assert exc.status == 400
    else:
        assert relay.signal in "0123456789*#ABCD" and relay.duration_ms >= 0


@settings(max_examples=100, deadline=None)
@given(st.sampled_from("0123456789*#ABCD"), st.integers(1, 10000))
def test_dtmf_relay_round_trip(signal: str, duration: int) -> None:
    assert parse_dtmf_relay(dtmf_relay_body(signal, duration)[1]) == DtmfRelay(signal, duration)


# --- call policy ---------------------------------------------------------------------------------

def test_policy_order() -> None:
    invite = request("INVITE")
    assert CallPolicy().decide(invite) == Ring()
    assert CallPolicy(dnd=True).decide(invite) == Reject(486, "Busy Here")
    assert CallPolicy(dnd=True, dnd_status=603).decide(invite) == Reject(603, "Decline")
    forward = CallPolicy(dnd=True, forward_to="sip:voicemail@pbx.example").decide(invite)
    assert isinstance(forward, Forward) and forward.headers == [("Contact", "<sip:voicemail@pbx.example>")]
    assert CallPolicy(auto_answer=True, auto_answer_after=2).decide(invite) == AutoAnswer(2)
    assert CallPolicy(auto_answer=True).decide(invite, active_calls=1) == Ring()  # never barge in
    assert CallPolicy(max_calls=1).decide(invite, active_calls=1) == Reject(486, "Busy Here")
    assert CallPolicy(call_waiting=False).decide(invite, active_calls=1) == Reject(486, "Busy Here")
    assert CallPolicy(no_answer_forward_to="sip:cell@x", no_answer_forward_after=15).decide(invite) == \
        Ring(15, "sip:cell@x")


def test_intercom_auto_answer_only_when_allowed() -> None:
    paging = request("INVITE", ("Call-Info", "<sip:pbx.example>;answer-after=3"))
    assert CallPolicy().decide(paging) == Ring()
    assert CallPolicy(allow_intercom=True).decide(paging) == AutoAnswer(3.0, intercom=True)
    answer_mode = request("INVITE", ("Answer-Mode", "Auto"))
    assert CallPolicy(allow_intercom=True).decide(answer_mode) == AutoAnswer(0.0, intercom=True)
    assert CallPolicy(allow_intercom=True, dnd=True).decide(paging) == Reject(486, "Busy Here")


def test_policy_validation() -> None:
    with pytest.raises(ValueError, match="dnd_status must be 486, 480 or 603, not 404"):
        CallPolicy(dnd_status=404)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="auto_answer_after must be a number of seconds >= 0"):
        CallPolicy(auto_answer_after=-1)
    with pytest.raises(ValueError, match=r"forward_to 'not a uri' is not a URI to forward to: no valid"):
        CallPolicy(forward_to="not a uri")
    with pytest.raises(ValueError, match="no_answer_forward_to must be a sip:, sips: or tel: URI"):
        CallPolicy(no_answer_forward_to="http://x")
    with pytest.raises(ValueError, match="decide\\(\\) takes an INVITE, not BYE"):
        CallPolicy().decide(request("BYE"))
