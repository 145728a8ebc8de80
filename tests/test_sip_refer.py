"""REFER/NOTIFY (RFC 3515), sipfrag (RFC 3420), Replaces (RFC 3891), Referred-By (RFC 3892)."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from offhook.errors import SipParseError
from offhook.sip import parse_message
from offhook.sip.message import Request
from offhook.sip.refer import (
    DialogRef,
    NotifyContent,
    ReferAccept,
    ReferReject,
    Replaces,
    SipFrag,
    SubscriptionState,
    Transferee,
    Transferor,
    build_refer_to,
    check_replaces,
    parse_refer_to,
    parse_referred_by,
    parse_replaces,
    parse_sipfrag,
    parse_subscription_state,
    refer_notify,
    sipfrag,
)
from offhook.sip.uri import SipURI


def request(method: str, *headers: tuple[str, str], body: bytes = b"", cseq: int = 5) -> Request:
    lines = "".join(f"{n}: {v}\r\n" for n, v in headers)
    msg = parse_message((
        f"{method} sip:bob@192.0.2.2 SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n"
        "From: <sip:alice@192.0.2.1>;tag=a\r\nTo: <sip:bob@192.0.2.2>;tag=b\r\n"
        f"Call-ID: c1\r\nCSeq: {cseq} {method}\r\nMax-Forwards: 70\r\n"
        f"{lines}Content-Length: {len(body)}\r\n\r\n").encode() + body)
    assert isinstance(msg, Request)
    return msg


# --- Replaces -----------------------------------------------------------------------------------

def test_replaces_parse_and_write() -> None:
    r = parse_replaces("98732@sip.example.com ; from-tag=r33th4x0r;to-tag=ff87ff;early-only")
    assert r == Replaces("98732@sip.example.com", "ff87ff", "r33th4x0r", True)
    assert str(r) == "98732@sip.example.com;to-tag=ff87ff;from-tag=r33th4x0r;early-only"
    assert parse_replaces("id;to-tag=1;from-tag=2;x=y").params == (("x", "y"),)


@pytest.mark.parametrize(("text", "message"), [
    ("id;to-tag=1", "Replaces: the from-tag parameter is missing"),
    ("id;from-tag=1", "Replaces: the to-tag parameter is missing"),
    ("id;to-tag;from-tag=1", "Replaces: to-tag has no value"),
    ("id;to-tag=1;to-tag=2;from-tag=3", "Replaces: to-tag appears twice"),
    (";to-tag=1;from-tag=2", "Replaces: '' is not a Call-ID"),
    ("id;to-tag=1;from-tag=2;=", "Replaces: malformed parameter '='"),
])
def test_replaces_errors(text: str, message: str) -> None:
    with pytest.raises(SipParseError, match=message):
        parse_replaces(text)


token = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABC0123456789-.!%*_+`'~", min_size=1, max_size=16)


@settings(max_examples=200, deadline=None)
@given(token, token, token, token, st.booleans())
def test_replaces_round_trip_through_refer_to(cid: str, host: str, to_tag: str, from_tag: str,
                                              early: bool) -> None:
    r = Replaces(f"{cid}@{host}", to_tag, from_tag, early)
    assert parse_replaces(str(r)) == r
    refer = parse_refer_to(build_refer_to("sip:carol@example.com", replaces=r))
    assert refer.replaces == r
    assert str(refer.target) == "sip:carol@example.com"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_fuzz_header_parsers_only_raise_sip_parse_error(text: str) -> None:
    for parse in (parse_replaces, parse_refer_to, parse_subscription_state, parse_referred_by):
        try:
            value = parse(text)
        except SipParseError as exc:
            assert exc.status == 400
        else:
            assert value is not None


def dialog(state: str = "confirmed", *, local: bool = True, remote_tag: str | None = "f2") -> DialogRef:
    return DialogRef("abc@h", "t1", remote_tag, state, local)  # type: ignore[arg-type]


def test_check_replaces_rules() -> None:
    r = Replaces("abc@h", "t1", "f2")
    assert check_replaces(r, [dialog()]).dialog == dialog()
    assert check_replaces(r, [dialog("early", local=True)]).status is None
    assert check_replaces(r, [dialog("early", local=False)]).status == 481  # not our early dialog
    assert check_replaces(r, [dialog("terminated")]).status == 603
    early_only = Replaces("abc@h", "t1", "f2", early_only=True)
    assert check_replaces(early_only, [dialog()]).status == 486
    assert check_replaces(early_only, [dialog("early")]).status is None
    assert check_replaces(Replaces("abc@h", "f2", "t1"), [dialog()]).status == 481  # tags swapped
    assert check_replaces(Replaces("ABC@h", "t1", "f2"), [dialog()]).status == 481  # case-sensitive
    assert check_replaces(r, []).reason == "Call/Transaction Does Not Exist"


# --- Refer-To / Referred-By ------------------------------------------------------------------------

def test_refer_to_forms() -> None:
    refer = parse_refer_to('"Carol" <sips:carol@b.example;transport=tcp?Subject=hi&Replaces='
                           'x%40y%3Bto-tag%3D1%3Bfrom-tag%3D2>')
    assert refer.address.display_name == "Carol"
    assert refer.replaces == Replaces("x@y", "1", "2")
    assert refer.headers == [("Subject", "hi")]
    assert refer.target == SipURI("b.example", "carol", params={"transport": "tcp"}, scheme="sips")
    assert parse_refer_to("sip:dave@d.example").target.user == "dave"
    with pytest.raises(SipParseError, match="Refer-To: tel:\\+123 is not a sip: or sips: URI"):
        parse_refer_to("<tel:+123>")
    with pytest.raises(SipParseError, match="Replaces: the from-tag parameter is missing"):
        parse_refer_to("<sip:c@b?Replaces=x%3Bto-tag%3D1>")
    with pytest.raises(ValueError, match="must be a sip: or sips: URI"):
        build_refer_to("tel:+123")
    assert build_refer_to("sip:carol@b.example", display_name="Carol Ann") == \
        "Carol Ann <sip:carol@b.example>"
    assert build_refer_to("sip:c@b", display_name='C "x"') == '"C \\"x\\"" <sip:c@b>'


def test_referred_by() -> None:
    a = parse_referred_by("<sip:alice@a.example>;cid=\"20398823.2UWQFN309shb3@a.example\"")
    assert str(a.uri) == "sip:alice@a.example"
    assert a.params["cid"] == '"20398823.2UWQFN309shb3@a.example"'


# --- sipfrag and NOTIFY --------------------------------------------------------------------------

def test_sipfrag_build_and_parse() -> None:
    assert sipfrag(100) == b"SIP/2.0 100 Trying\r\n"
    assert sipfrag(486, "Busy Here") == b"SIP/2.0 486 Busy Here\r\n"
    assert parse_sipfrag(b"SIP/2.0 200 OK\r\n") == SipFrag(200, "OK")
    frag = parse_sipfrag(b"SIP/2.0 603 Declined\r\nContact: <sip:x@y>\r\n\r\n")
    assert frag.final and not frag.success and frag.headers == (("Contact", "<sip:x@y>"),)
    assert parse_sipfrag(b"SIP/2.0 180 Ringing").status == 180  # no line end
    with pytest.raises(SipParseError, match=r"does not start with a status line: 'INVITE sip:x SIP/2\.0'"):
        parse_sipfrag(b"INVITE sip:x SIP/2.0\r\n")
    with pytest.raises(SipParseError, match="sipfrag body is not UTF-8"):
        parse_sipfrag(b"\xff")
    with pytest.raises(ValueError, match=r"a sipfrag status must be 100\.\.699, not 99"):
        sipfrag(99)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=80))
def test_fuzz_sipfrag(body: bytes) -> None:
    try:
        frag = parse_sipfrag(body)
    except SipParseError as exc:
        assert exc.status == 400
    else:
        assert 100 <= frag.status <= 699


@settings(max_examples=100, deadline=None)
@given(st.integers(100, 699), st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs")), max_size=30))
def test_sipfrag_round_trip(status: int, reason: str) -> None:
    frag = parse_sipfrag(sipfrag(status, reason))
    assert (frag.status, frag.reason) == (status, reason.rstrip(" \t"))


def test_subscription_state() -> None:
    assert parse_subscription_state("active;expires=60") == SubscriptionState("active", 60)
    s = parse_subscription_state("Terminated ; reason=noresource;retry-after=5")
    assert s.terminated and s.reason == "noresource" and s.retry_after == 5
    assert str(SubscriptionState("terminated", reason="noresource")) == "terminated;reason=noresource"
    with pytest.raises(SipParseError, match="Subscription-State: expires='x' is not delta-seconds"):
        parse_subscription_state("active;expires=x")


def test_notify_content_applied_to_a_notify() -> None:
    trying = refer_notify(100, refer_cseq=7)
    assert trying.headers == [("Event", "refer;id=7"), ("Subscription-State", "active;expires=60"),
                              ("Content-Type", "message/sipfrag;version=2.0")]
    done = refer_notify(200)
    assert done.final and ("Subscription-State", "terminated;reason=noresource") in done.headers
    notify = done.apply(request("NOTIFY"))
    parsed = parse_message(bytes(notify))
    assert parsed.get("Event") == "refer"
    assert parsed.body == b"SIP/2.0 200 OK\r\n"
    assert parsed.content_length == len(b"SIP/2.0 200 OK\r\n")
    with pytest.raises(ValueError, match="refer progress goes in a NOTIFY, not a BYE"):
        done.apply(request("BYE"))


# --- transferor <-> transferee -------------------------------------------------------------------

def _notify_from(content: NotifyContent) -> Request:
    return content.apply(request("NOTIFY", cseq=20))


def test_blind_transfer_success_end_to_end() -> None:
    transferor = Transferor("sip:carol@c.example", referred_by="<sip:alice@a.example>")
    headers = transferor.refer_headers(cseq=5)
    assert headers == [("Refer-To", "<sip:carol@c.example>"), ("Referred-By", "<sip:alice@a.example>")]
    refer = request("REFER", *headers, cseq=5)

    transferee = Transferee()
    accept = transferee.on_refer(refer)
    assert isinstance(accept, ReferAccept)
    assert (accept.status, str(accept.target)) == (202, "sip:carol@c.example")
    assert accept.invite_headers == [("Referred-By", "<sip:alice@a.example>")]
    assert transferor.on_refer_response(202) == "accepted"

    verdict = transferor.on_notify(_notify_from(accept.notify))
    assert (verdict.status, verdict.frag, verdict.finished) == (200, SipFrag(100, "Trying"), False)
    ringing = transferee.on_invite_response(180)
    assert ringing is not None
    assert transferee.on_invite_response(180) is None  # repeated 180: no second NOTIFY
    assert transferor.on_notify(_notify_from(ringing)).frag == SipFrag(180, "Ringing")
    assert transferor.state == "progress"
    final = transferee.on_invite_response(200)
    assert final is not None and final.final
    verdict = transferor.on_notify(_notify_from(final))
    state: str = transferor.state
    assert verdict.end_call and verdict.finished and state == "succeeded"
    assert transferee.on_invite_response(200) is None  # already reported
    assert transferor.on_notify(_notify_from(final)).status == 481  # subscription over


def test_transfer_failure_and_timeout() -> None:
    transferor = Transferor("sip:carol@c.example")
    transferee = Transferee()
    accept = transferee.on_refer(request("REFER", *transferor.refer_headers(9), cseq=9))
    assert isinstance(accept, ReferAccept)
    transferor.on_refer_response(202)
    busy = transferee.on_invite_response(486)
    assert busy is not None
    verdict = transferor.on_notify(_notify_from(busy))
    assert not verdict.end_call and verdict.finished and transferor.state == "failed"
    assert transferor.result == SipFrag(486, "Busy Here")

    other = Transferee()
    other.on_refer(request("REFER", ("Refer-To", "<sip:x@y>")))
    timeout = other.on_invite_failed()
    assert timeout is not None and timeout.body == b"SIP/2.0 408 Request Timeout\r\n"


def test_attended_transfer_carries_replaces() -> None:
    replaces = Replaces("call2@a.example", "carol-tag", "alice-tag")
    transferor = Transferor("sip:carol@c.example", replaces=replaces)
    accept = Transferee().on_refer(request("REFER", *transferor.refer_headers(3), cseq=3))
    assert isinstance(accept, ReferAccept)
    assert accept.replaces == replaces
    assert accept.invite_headers == [("Replaces", "call2@a.example;to-tag=carol-tag;from-tag=alice-tag")]
    # Carol receives the INVITE: it names her dialog with Alice (to-tag = Carol's local tag)
    carol_dialogs = [DialogRef("call2@a.example", "carol-tag", "alice-tag", "confirmed", False)]
    assert check_replaces(parse_replaces(accept.invite_headers[0][1]), carol_dialogs).dialog is not None


def test_transferee_rejects_bad_refers() -> None:
    t = Transferee()
    missing = t.on_refer(request("REFER"))
    assert missing == ReferReject(400, "Bad Request", "a REFER needs exactly one Refer-To (0 found)")
    tel = t.on_refer(request("REFER", ("Refer-To", "<tel:+1555>")))
    assert isinstance(tel, ReferReject) and tel.detail == "Refer-To: tel:+1555 is not a sip: or sips: URI"
    policy = Transferee(allow=False).on_refer(request("REFER", ("Refer-To", "<sip:x@y>")))
    assert isinstance(policy, ReferReject) and policy.status == 603


def test_transferor_answers_foreign_notifies() -> None:
    t = Transferor("sip:carol@c.example")
    t.refer_headers(5)
    presence = request("NOTIFY", ("Event", "presence"))
    assert t.on_notify(presence).status == 489
    wrong_id = refer_notify(100, refer_cseq=99).apply(request("NOTIFY"))
    assert t.on_notify(wrong_id).status == 481
    garbled = request("NOTIFY", ("Event", "refer"), ("Subscription-State", "terminated"),
                      ("Content-Type", "message/sipfrag"), body=b"garbage")
    verdict = t.on_notify(garbled)
    assert (verdict.status, verdict.finished, t.state) == (200, True, "failed")
