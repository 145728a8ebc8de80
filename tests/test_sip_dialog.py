"""offhook.sip.dialog: RFC 3261 §12 dialog state and forking, without sockets."""
from __future__ import annotations

import pytest

from offhook.sip import parse_message
from offhook.sip.dialog import Dialog, DialogError, DialogState, ForkedInvite, LocalContact
from offhook.sip.message import Request, Response
from offhook.sip.uri import SipURI

ME = LocalContact("192.0.2.1", 5060)

INVITE = (
    "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKnashds8;rport\r\n"
    "Max-Forwards: 70\r\n"
    "From: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n"
    "To: Bob <sip:bob@biloxi.example.com>\r\n"
    "Call-ID: 3848276298220188511@atlanta.example.com\r\n"
    "CSeq: 314159 INVITE\r\n"
    "Contact: <sip:alice@192.0.2.1:5060>\r\n"
    "Record-Route: <sip:p2.example.com;lr>, <sip:p1.example.com;lr>\r\n"
    "Content-Length: 0\r\n\r\n"
)


def invite() -> Request:
    msg = parse_message(INVITE.encode())
    assert isinstance(msg, Request)
    return msg


def response(status: int, tag: str | None, contact: str = "<sip:bob@192.0.2.4:5062>",
             rr: str | None = "<sip:p2.example.com;lr>, <sip:p1.example.com;lr>") -> Response:
    lines = [f"SIP/2.0 {status} X",
             "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKnashds8;rport=5060",
             "From: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl",
             "To: Bob <sip:bob@biloxi.example.com>" + (f";tag={tag}" if tag else ""),
             "Call-ID: 3848276298220188511@atlanta.example.com",
             "CSeq: 314159 INVITE"]
    if contact:
        lines.append(f"Contact: {contact}")
    if rr:
        lines.append(f"Record-Route: {rr}")
    msg = parse_message(("\r\n".join(lines) + "\r\nContent-Length: 0\r\n\r\n").encode())
    assert isinstance(msg, Response)
    return msg


def test_uac_dialog_from_2xx_reverses_the_route_set_and_targets_the_contact() -> None:
    d = Dialog.from_uac_response(invite(), response(200, "314159"))
    assert d.state is DialogState.CONFIRMED
    assert d.id == ("3848276298220188511@atlanta.example.com", "9fxced76sl", "314159")
    assert [str(r.uri) for r in d.route_set] == ["sip:p1.example.com;lr", "sip:p2.example.com;lr"]
    assert str(d.remote_target) == "sip:bob@192.0.2.4:5062"
    assert d.local_seq == 314159


def test_bye_uses_loose_routes_and_the_next_cseq() -> None:
    d = Dialog.from_uac_response(invite(), response(200, "314159"))
    bye = d.new_request("BYE", ME)
    assert bye.method == "BYE"
    assert str(bye.uri) == "sip:bob@192.0.2.4:5062"
    assert bye.get_all("Route") == ["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"]
    assert bye.cseq.number == 314160 and bye.cseq.method == "BYE"
    assert bye.from_.tag == "9fxced76sl" and bye.to.tag == "314159"
    assert bye.via[0].branch and bye.via[0].branch.startswith("z9hG4bK")
    assert str(d.next_hop()) == "sip:p1.example.com;lr"
    # it round-trips through the parser
    assert bytes(parse_message(bytes(bye))) == bytes(bye)


def test_ack_for_2xx_keeps_the_invite_cseq_with_a_new_branch() -> None:
    req = invite()
    d = Dialog.from_uac_response(req, response(200, "314159"))
    ack = d.ack(314159, ME)
    assert ack.cseq.number == 314159 and ack.cseq.method == "ACK"
    assert ack.via[0].branch != req.via[0].branch
    assert d.local_seq == 314159  # the ACK does not consume a number


def test_strict_router_becomes_request_uri() -> None:
    d = Dialog.from_uac_response(invite(), response(200, "t1", rr="<sip:strict.example.com>"))
    bye = d.new_request("BYE", ME)
    assert str(bye.uri) == "sip:strict.example.com"
    assert bye.get_all("Route") == ["<sip:bob@192.0.2.4:5062>"]


def test_no_tag_or_no_contact_creates_no_dialog() -> None:
    with pytest.raises(DialogError, match="without a To tag"):
        Dialog.from_uac_response(invite(), response(180, None))
    with pytest.raises(DialogError, match="no Contact"):
        Dialog.from_uac_response(invite(), response(200, "x", contact=""))


def test_uas_dialog_keeps_record_route_order_and_checks_cseq() -> None:
    req = invite()
    d = Dialog.from_uas_request(req, "bobtag")
    assert not d.uac and d.state is DialogState.EARLY
    assert d.local_tag == "bobtag" and d.remote_tag == "9fxced76sl"
    assert [str(r.uri) for r in d.route_set] == ["sip:p2.example.com;lr", "sip:p1.example.com;lr"]
    bye = d.new_request("BYE", ME)
    assert bye.from_.tag == "bobtag" and str(bye.from_.uri) == "sip:bob@biloxi.example.com"
    assert bye.to.tag == "9fxced76sl"
    # an in-dialog request from the peer
    reinvite = parse_message(bytes(req).replace(b"CSeq: 314159 INVITE", b"CSeq: 314160 INVITE")
                             .replace(b"To: Bob <sip:bob@biloxi.example.com>",
                                      b"To: Bob <sip:bob@biloxi.example.com>;tag=bobtag")
                             .replace(b"sip:alice@192.0.2.1:5060>", b"sip:alice@192.0.2.9:5070>"))
    assert isinstance(reinvite, Request)
    assert d.matches(reinvite)
    d.receive_request(reinvite)
    assert d.remote_seq == 314160
    assert str(d.remote_target) == "sip:alice@192.0.2.9:5070"
    with pytest.raises(DialogError, match="out of order"):
        d.receive_request(reinvite)


def test_matches_rejects_other_tags() -> None:
    d = Dialog.from_uac_response(invite(), response(200, "314159"))
    assert d.matches(response(200, "314159"))
    assert not d.matches(response(200, "other"))


def test_terminated_dialog_refuses_requests() -> None:
    d = Dialog.from_uac_response(invite(), response(200, "a"))
    d.terminate()
    with pytest.raises(DialogError, match="terminated"):
        d.new_request("BYE", ME)


def test_forking_first_2xx_wins_later_2xx_are_acked_and_byed() -> None:
    fork = ForkedInvite(invite())
    a = fork.receive_response(response(180, "a", contact="<sip:bob@192.0.2.4>"))
    b = fork.receive_response(response(183, "b", contact="<sip:bob@192.0.2.5>"))
    assert a.new and b.new and a.dialog is not b.dialog
    assert a.dialog is not None and a.dialog.state is DialogState.EARLY
    assert len(fork.dialogs) == 2
    win = fork.receive_response(response(200, "b", contact="<sip:bob@192.0.2.5>"))
    assert win.answered and win.dialog is b.dialog and fork.winner is b.dialog
    assert a.dialog.state is DialogState.TERMINATED  # the other early dialog ends
    again = fork.receive_response(response(200, "b", contact="<sip:bob@192.0.2.5>"))
    assert again.retransmission and not again.answered
    late = fork.receive_response(response(200, "c", contact="<sip:bob@192.0.2.6>"))
    assert late.ack_and_bye and late.new and late.dialog is not None
    assert str(late.dialog.remote_target) == "sip:bob@192.0.2.6"
    assert late.dialog.ack(314159, ME).to.tag == "c"


def test_forking_failure_terminates_early_dialogs() -> None:
    fork = ForkedInvite(invite())
    early = fork.receive_response(response(180, "a"))
    out = fork.receive_response(response(486, "z"))
    assert out.dialog is None
    assert early.dialog is not None and early.dialog.state is DialogState.TERMINATED


def test_local_contact_forms() -> None:
    c = LocalContact("::1", 5070, "TCP", user="alice")
    assert str(c.uri) == "sip:alice@[::1]:5070;transport=tcp"
    assert c.via("z9hG4bKx") == "SIP/2.0/TCP [::1]:5070;branch=z9hG4bKx;rport"
    assert isinstance(LocalContact("127.0.0.1", 5061, "TLS").uri, SipURI)
    assert str(LocalContact("127.0.0.1", 5061, "TLS").uri).startswith("sips:")
