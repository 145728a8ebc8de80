"""offhook.sip.ua, the extensions wired into the core: transfer (REFER, Replaces), session
timers, UPDATE, glare, redirects, call policy, MESSAGE, INFO DTMF, OPTIONS, keep-alives and
RFC 3263 resolution — user agents wired to each other in memory (see test_sip_ua.Net)."""
from __future__ import annotations

import asyncio
import random

import pytest

from offhook.errors import OffhookError
from offhook.sip import parse_message
from offhook.sip import resolve as resolve_module
from offhook.sip.dialog import LocalContact
from offhook.sip.message import Request, Response
from offhook.sip.message_im import CallPolicy
from offhook.sip.register import Registration, RegState
from offhook.sip.resolve import DnsResolver, Target
from offhook.sip.session_timer import SessionTimerConfig
from offhook.sip.transaction import Send, response_for
from offhook.sip.ua import Call, CallEvent, CallState, KeepAlive, MessageEvent, Output, UserAgent
from offhook.sip.uri import SipURI
from test_sip_ua import A, B, Net, caps

C = ("127.0.0.1", 5090)
R = ("127.0.0.1", 5100)


def agent(addr: tuple[str, int], user: str, port: int, **options: object) -> UserAgent:
    return UserAgent(LocalContact(*addr, user=user), identity=SipURI(host="127.0.0.1", user=user),
                     media_capabilities=lambda req: caps(port), rng=random.Random(7),
                     new_call_capabilities=lambda: caps(port + 2), **options)  # type: ignore[arg-type]


def trio(**options: object) -> tuple[Net, UserAgent, UserAgent, UserAgent]:
    a = agent(A, "alice", 41000, **options)
    b = agent(B, "bob", 42000, **options)
    c = agent(C, "carol", 43000, **options)
    return Net({A: a, B: b, C: c}), a, b, c


def events(net: Net, addr: tuple[str, int]) -> list[object]:
    return list(net.events.get(addr, []))


def call_events(net: Net, addr: tuple[str, int], call: Call | None = None) -> list[CallEvent]:
    return [e for e in events(net, addr) if isinstance(e, CallEvent) and (call is None or e.call is call)]


def kinds(net: Net, addr: tuple[str, int], call: Call) -> list[str]:
    return [e.kind for e in call_events(net, addr, call)]


def last_incoming(net: Net, addr: tuple[str, int]) -> Call:
    return [e for e in call_events(net, addr) if e.kind == "incoming"][-1].call


def requests(net: Net, method: str, to: tuple[str, int] | None = None) -> list[Request]:
    out = []
    for addr, data in net.wire:
        if to is not None and addr != to:
            continue
        if data.startswith(method.encode() + b" "):
            msg = parse_message(data)
            assert isinstance(msg, Request)
            out.append(msg)
    return out


def responses(net: Net, method: str, to: tuple[str, int] | None = None) -> list[Response]:
    out = []
    for addr, data in net.wire:
        if data.startswith(b"SIP/2.0") and (to is None or addr == to):
            msg = parse_message(data)
            assert isinstance(msg, Response)
            if msg.cseq.method == method:
                out.append(msg)
    return out


def connect(net: Net, src: UserAgent, src_addr: tuple[str, int], dst: str,
            dst_addr: tuple[str, int], port: int) -> tuple[Call, Call]:
    call, out = src.call(dst, caps(port), net.now)
    net.run(src_addr, out)
    theirs = last_incoming(net, dst_addr)
    net.run(dst_addr, net.uas[dst_addr].answer(theirs, net.now))
    assert call.established and theirs.established
    return call, theirs


# --- transfer -------------------------------------------------------------------------------------


def test_blind_transfer_refer_notify_and_both_old_legs_end() -> None:
    net, a, _b, c = trio()
    ab, ba = connect(net, a, A, "sip:bob@127.0.0.1:5080", B, 41000)
    net.run(A, a.transfer(ab, "sip:carol@127.0.0.1:5090", net.now))
    [refer] = requests(net, "REFER", B)
    assert refer.get("Refer-To") == "<sip:carol@127.0.0.1:5090>"
    assert refer.get("Referred-By") == "<sip:alice@127.0.0.1>"
    # B accepted (202), said "trying" and INVITEd Carol with Referred-By
    [transferred] = [e for e in call_events(net, B, ba) if e.kind == "transferred"]
    bc = transferred.other
    assert bc is not None and bc.transfer_parent is ba and ba.transfer_child is bc
    cb = last_incoming(net, C)
    assert cb.invite is not None and cb.invite.get("Referred-By") == "<sip:alice@127.0.0.1>"
    net.run(C, c.ring(cb, net.now))
    net.run(C, c.answer(cb, net.now))
    assert bc.established and cb.established
    statuses = [e.status for e in call_events(net, A, ab) if e.kind == "transfer"]
    assert statuses == [202, 100, 180, 200]
    frags = [n.body for n in requests(net, "NOTIFY", A)]
    assert frags == [b"SIP/2.0 100 Trying\r\n", b"SIP/2.0 180 Ringing\r\n", b"SIP/2.0 200 OK\r\n"]
    assert requests(net, "NOTIFY", A)[-1].get("Subscription-State") == "terminated;reason=noresource"
    assert all(n.get("Event") == f"refer;id={refer.cseq.number}" for n in requests(net, "NOTIFY", A))
    assert ab.state is CallState.ENDED and ab.reason == "transferred" and ab.transfer_status == 200
    assert ba.state is CallState.ENDED
    assert bc.established   # the new call stays up


def test_transfer_to_a_busy_target_keeps_the_call() -> None:
    net, a, _b, c = trio()
    ab, ba = connect(net, a, A, "sip:bob@127.0.0.1:5080", B, 41000)
    net.run(A, a.transfer(ab, "sip:carol@127.0.0.1:5090", net.now))
    net.run(C, c.reject(last_incoming(net, C), 486, net.now))
    assert ab.transfer_status == 486 and ab.established and ba.established
    assert [e.status for e in call_events(net, A, ab) if e.kind == "transfer"] == [202, 100, 486]
    with pytest.raises(OffhookError, match="cannot transfer a call that is calling"):
        a.transfer(a.call("sip:x@127.0.0.1:5999", caps(1), net.now)[0], "sip:y@h", net.now)


def test_refused_transfer_reports_603() -> None:
    net, a, b, _ = trio()
    b.accept_transfers = False
    ab, _ba = connect(net, a, A, "sip:bob@127.0.0.1:5080", B, 41000)
    net.run(A, a.transfer(ab, "sip:carol@127.0.0.1:5090", net.now))
    assert [e.status for e in call_events(net, A, ab) if e.kind == "transfer"] == [603]
    assert ab.transfer_status == 603 and ab.established and not requests(net, "INVITE", C)


def test_attended_transfer_with_replaces() -> None:
    net, a, _b, _c = trio()
    ab, ba = connect(net, a, A, "sip:bob@127.0.0.1:5080", B, 41000)
    ac, ca = connect(net, a, A, "sip:carol@127.0.0.1:5090", C, 41010)
    net.run(A, a.transfer(ab, ac, net.now))
    [refer] = requests(net, "REFER", B)
    assert "?Replaces=" in (refer.get("Refer-To") or "")
    [invite] = [r for r in requests(net, "INVITE", C) if r.get("Replaces")]
    assert ac.dialog is not None
    assert invite.get("Replaces") == (f"{ac.call_id};to-tag={ac.dialog.remote_tag};"
                                      f"from-tag={ac.dialog.local_tag}")
    # Carol took the new call at once and dropped her call with Alice
    [replaced] = [e for e in call_events(net, C, ca) if e.kind == "replaced"]
    cb = replaced.other
    assert cb is not None and cb.replaces is ca and ca.replaced_by is cb
    assert cb.established and ca.state is CallState.ENDED and ca.reason == "replaced"
    assert ac.state is CallState.ENDED and ac.ended_by_remote
    bc = ba.transfer_child
    assert bc is not None and bc.established and bc.media is not None
    assert bc.media.remote == ("127.0.0.1", 43000)
    assert ab.state is CallState.ENDED and ab.transfer_status == 200 and ba.state is CallState.ENDED
    assert "incoming" not in [e.kind for e in call_events(net, C, cb)]


def test_replaces_naming_no_dialog_is_481() -> None:
    net, a, _, _c = trio()
    call, out = a.call("sip:carol@127.0.0.1:5090", caps(41000), net.now,
                       headers=[("Replaces", "nope@h;to-tag=1;from-tag=2")])
    net.run(A, out)
    assert call.state is CallState.ENDED and call.status == 481
    assert not [e for e in call_events(net, C) if e.kind == "incoming"]


# --- session timers, UPDATE, glare --------------------------------------------------------------------


def test_session_timer_refreshes_with_update_and_expires_without_refresh() -> None:
    config = SessionTimerConfig(session_expires=90)
    net, a, _b, _ = trio(session_timer=config)
    ab, ba = connect(net, a, A, "sip:bob@127.0.0.1:5080", B, 41000)
    [invite] = requests(net, "INVITE", B)
    assert invite.get("Session-Expires") == "90" and "timer" in invite.get_all("Supported")
    [ok] = [r for r in responses(net, "INVITE", A) if r.status == 200]
    assert ok.get("Session-Expires") == "90;refresher=uas" and ok.get("Require") == "timer"
    net.advance(200)   # B refreshes at half the interval, by UPDATE (A allows it)
    updates = requests(net, "UPDATE", A)
    assert len(updates) == 4 and not updates[0].body
    assert ab.established and ba.established
    # B vanishes: A ends the session 32 s before expiry (90 - 30 = 60 s after the last refresh)
    net.uas.pop(B)
    net.advance(70)
    assert ab.state is CallState.ENDED and ab.status == 408 and "session expired" in ab.reason
    assert requests(net, "BYE", B)


def test_422_raises_the_interval_and_the_call_proceeds() -> None:
    net, a, b, _ = trio(session_timer=SessionTimerConfig(session_expires=90))
    b.session_timer = SessionTimerConfig(session_expires=300, min_se=300)
    ab, ba = connect(net, a, A, "sip:bob@127.0.0.1:5080", B, 41000)
    assert [r.status for r in responses(net, "INVITE", A) if r.status >= 200] == [422, 200]
    first, second = requests(net, "INVITE", B)
    assert (first.get("Session-Expires"), second.get("Session-Expires")) == ("90", "300")
    assert second.get("Min-SE") == "300" and second.cseq.number == first.cseq.number + 1
    assert ba.invite is not None and ab.media is not None


def test_update_with_an_offer_holds_and_without_refreshes() -> None:
    net, a, _b, _ = trio()
    ab, ba = connect(net, a, A, "sip:bob@127.0.0.1:5080", B, 41000)
    assert ab.dialog is not None
    offer = bytes(ab.offer_answer.create_offer(hold=True))
    req = ab.dialog.new_request("UPDATE", a.contact, body=offer)
    _, actions = a.transactions.send_request(req, B, "UDP", net.now)
    net.run(A, actions)  # type: ignore[arg-type]
    [ok] = responses(net, "UPDATE", A)
    assert ok.status == 200 and b"a=recvonly" in ok.body
    assert ba.media is not None and ba.media.direction == "recvonly" and ba.state is CallState.ESTABLISHED
    bare = ab.dialog.new_request("UPDATE", a.contact)
    _, actions = a.transactions.send_request(bare, B, "UDP", net.now)
    net.run(A, actions)  # type: ignore[arg-type]
    assert [r.status for r in responses(net, "UPDATE", A)] == [200, 200]


def test_glare_491_retries_after_the_random_interval() -> None:
    net, a, b, _ = trio()
    ab, ba = connect(net, a, A, "sip:bob@127.0.0.1:5080", B, 41000)
    # both re-INVITEs cross on the wire: each side gets the other's while its own is pending
    [send_a] = [o for o in a.hold(ab, net.now) if isinstance(o, Send)]
    [send_b] = [o for o in b.hold(ba, net.now) if isinstance(o, Send)]
    at_b = b.receive(parse_message(send_a.data), A, "UDP", net.now)
    at_a = a.receive(parse_message(send_b.data), B, "UDP", net.now)
    net.run(B, at_b)
    net.run(A, at_a)
    assert sorted(r.status for r in responses(net, "INVITE") if r.status == 491) == [491, 491]
    assert ab.media is not None and ab.media.direction == "sendrecv"
    net.advance(1.0)
    net.advance(5.0)
    # B (not the Call-ID owner) retried within 2 s, A after 2.1-4 s: both holds went through
    oks = [r for r in responses(net, "INVITE") if r.status == 200]
    assert len(oks) == 3
    assert ab.media.direction == "inactive" and ba.media is not None and ba.media.direction == "inactive"


# --- redirects and policy -------------------------------------------------------------------------------


def test_forward_302_is_followed_and_bounded() -> None:
    net, a, b, c = trio()
    b.policy = CallPolicy(forward_to="sip:carol@127.0.0.1:5090")
    call, out = a.call("sip:bob@127.0.0.1:5080", caps(41000), net.now)
    net.run(A, out)
    assert kinds(net, A, call)[:1] == ["redirected"] and call.peer == C
    assert not [e for e in call_events(net, B) if e.kind == "incoming"]
    net.run(C, c.answer(last_incoming(net, C), net.now))
    assert call.established and call.redirects == 1
    # a forwarding loop stops after max_redirects
    c.policy = CallPolicy(forward_to="sip:bob@127.0.0.1:5080")
    loop, out = a.call("sip:bob@127.0.0.1:5080", caps(41002), net.now)
    net.run(A, out)
    assert loop.state is CallState.ENDED and loop.status == 302 and loop.redirects == 1
    a.max_redirects = 0
    again, out = a.call("sip:carol@127.0.0.1:5090", caps(41004), net.now)
    net.run(A, out)
    assert again.status == 302 and again.redirects == 0


def test_dnd_auto_answer_and_forward_on_no_answer() -> None:
    net, a, b, _c = trio()
    b.policy = CallPolicy(dnd=True, dnd_status=603)
    call, out = a.call("sip:bob@127.0.0.1:5080", caps(41000), net.now)
    net.run(A, out)
    assert call.status == 603 and not call_events(net, B)
    b.policy = CallPolicy(auto_answer=True, auto_answer_after=2.0)
    call, out = a.call("sip:bob@127.0.0.1:5080", caps(41000), net.now)
    net.run(A, out)
    assert call.state is CallState.CALLING
    net.advance(2.5)
    assert call.established and type(last_incoming(net, B).decision).__name__ == "AutoAnswer"
    b.policy = CallPolicy(no_answer_forward_to="sip:carol@127.0.0.1:5090", no_answer_forward_after=5)
    call, out = a.call("sip:bob@127.0.0.1:5080", caps(41002), net.now)
    net.run(A, out)
    theirs = last_incoming(net, B)
    net.run(B, b.ring(theirs, net.now))
    net.advance(6)
    assert theirs.state is CallState.ENDED and theirs.status == 302
    assert call.peer == C and last_incoming(net, C).call_id == call.call_id


# --- MESSAGE, INFO, OPTIONS ------------------------------------------------------------------------------


def test_message_out_of_dialog_and_in_a_call() -> None:
    net, a, _b, _ = trio()
    req, out = a.send_message("sip:bob@127.0.0.1:5080", "héllo", net.now)
    net.run(A, out)
    [got] = [e for e in events(net, B) if isinstance(e, MessageEvent)]
    assert got.kind == "received" and got.message is not None and got.message.text == "héllo"
    assert str(got.message.sender.uri) == "sip:alice@127.0.0.1" and got.call is None
    [done] = [e for e in events(net, A) if isinstance(e, MessageEvent)]
    assert (done.kind, done.status, done.request) == ("delivered", 200, req)
    ab, ba = connect(net, a, A, "sip:bob@127.0.0.1:5080", B, 41000)
    net.run(A, a.send_message(ab, "in call", net.now)[1])
    inside = [e for e in events(net, B) if isinstance(e, MessageEvent)][-1]
    assert inside.call is ba and inside.message is not None and inside.message.text == "in call"
    with pytest.raises(OffhookError, match="exceeds the limit"):
        a.send_message("sip:bob@127.0.0.1:5080", "x" * 2000, net.now)
    net.run(A, a.send_message("sip:nobody@127.0.0.1:5999", "lost", net.now)[1])
    net.advance(40)
    failed = [e for e in events(net, A) if isinstance(e, MessageEvent)][-1]
    assert (failed.kind, failed.status) == ("failed", 408)


def test_info_dtmf_is_a_dtmf_event_and_other_info_415() -> None:
    net, a, _b, _ = trio()
    ab, ba = connect(net, a, A, "sip:bob@127.0.0.1:5080", B, 41000)
    for digit in "5#":
        net.run(A, a.send_info_dtmf(ab, digit, net.now))
    assert [e.digit for e in call_events(net, B, ba) if e.kind == "dtmf"] == ["5", "#"]
    assert ab.dialog is not None
    other = ab.dialog.new_request("INFO", a.contact, body=b"<x/>", content_type="application/xml")
    _, actions = a.transactions.send_request(other, B, "UDP", net.now)
    net.run(A, actions)  # type: ignore[arg-type]
    assert [r.status for r in responses(net, "INFO", A)] == [200, 200, 415]
    with pytest.raises(OffhookError, match="DTMF signal"):
        a.send_info_dtmf(ab, "x", net.now)


def test_options_answer_lists_allow_accept_supported() -> None:
    net, a, _b, _ = trio()
    req = Request(method="OPTIONS", uri=SipURI(host="127.0.0.1", port=5080))
    for name, value in (("Via", a.contact.via()), ("From", "<sip:alice@127.0.0.1>;tag=1"),
                        ("To", "<sip:127.0.0.1:5080>"), ("Call-ID", "opt1"), ("CSeq", "1 OPTIONS"),
                        ("Content-Length", "0")):
        req.add_header(name, value)
    _, actions = a.transactions.send_request(req, B, "UDP", net.now)
    net.run(A, actions)  # type: ignore[arg-type]
    [resp] = responses(net, "OPTIONS", A)
    assert resp.status == 200 and resp.get("Accept") == "application/sdp"
    allow = set(resp.get_all("Allow"))
    assert {"INVITE", "UPDATE", "REFER", "NOTIFY", "MESSAGE", "INFO", "OPTIONS"} <= allow
    assert resp.get("Supported") == "replaces, timer"


# --- keep-alives -----------------------------------------------------------------------------------------


class Registrar(UserAgent):
    """Grants every REGISTER 600 s and answers OPTIONS while `alive`."""

    alive = True
    seen: list[Request]

    def receive(self, msg: Request | Response, src: tuple[str, int], tp: str, now: float) -> list[Output]:
        assert isinstance(msg, Request)
        self.seen.append(msg)
        if not self.alive:
            return []
        resp = response_for(msg, 200, to_tag="r")
        if msg.method == "REGISTER":
            resp.add_header("Contact", f"{msg.get('Contact')};expires=600")
        return [Send(bytes(resp), src, tp, resp)]


def test_options_keepalive_on_udp_and_reregistration_when_it_times_out() -> None:
    net, a, _, _ = trio(keepalive_interval=30.0)
    registrar = Registrar(LocalContact(*R))
    registrar.seen = []
    net.uas[R] = registrar
    reg = Registration(SipURI(host="127.0.0.1", user="alice"), R, a.contact, expires=600)
    net.run(A, a.register(reg, net.now))
    assert reg.state is RegState.REGISTERED
    net.advance(95)
    assert [m.method for m in registrar.seen] == ["REGISTER", "OPTIONS", "OPTIONS", "OPTIONS"]
    registrar.alive = False
    net.advance(30 + 33)   # the OPTIONS times out (32 s): REGISTER again at once
    registers = {m.cseq.number for m in registrar.seen if m.method == "REGISTER"}
    assert len(registers) == 2   # (retransmissions of one REGISTER share its CSeq)


def test_crlf_keepalive_on_tcp() -> None:
    net, a, _, _ = trio(keepalive_interval=20.0)
    registrar = Registrar(LocalContact(*R))
    registrar.seen = []
    net.uas[R] = registrar
    reg = Registration(SipURI(host="127.0.0.1", user="alice"), R, a.contact, expires=600, transport="TCP")
    net.run(A, a.register(reg, net.now))
    net.advance(65)
    pings = [e for e in events(net, A) if isinstance(e, KeepAlive)]
    assert len(pings) == 3 and all(p.data == b"\r\n\r\n" and p.address == R and p.transport == "TCP"
                                   for p in pings)
    assert [m.method for m in registrar.seen] == ["REGISTER"]


# --- RFC 3263 resolver --------------------------------------------------------------------------------------


def test_dns_resolver_keeps_numeric_hosts_and_fails_over(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []

    async def fake_resolve(uri: SipURI, server: tuple[str, int], **_: object) -> list[Target]:
        asked.append(uri.host)
        return [Target("udp", "127.0.0.1", 5999, uri.host), Target("udp", "127.0.0.1", 5080, uri.host)]

    monkeypatch.setattr(resolve_module, "resolve", fake_resolve)
    resolver = DnsResolver(("127.0.0.1", 53))
    assert resolver(SipURI(host="192.0.2.7", port=5070)) == (("192.0.2.7", 5070), "UDP")
    assert resolver(SipURI(host="192.0.2.7", params={"transport": "tcp"})) == (("192.0.2.7", 5060), "TCP")
    with pytest.raises(OffhookError, match=r"example\.net is not resolved"):
        resolver(SipURI(host="example.net", user="bob"))
    uri = SipURI(host="example.net", user="bob")
    assert asyncio.run(resolver.prepare(uri))[0].port == 5999
    assert asyncio.run(resolver.prepare(SipURI(host="127.0.0.1"))) == []
    assert asked == ["example.net"]
    net, a, b, _ = trio(resolver=resolver)

    class Unavailable(UserAgent):
        def receive(self, msg: Request | Response, src: tuple[str, int], tp: str, now: float) -> list[Output]:
            assert isinstance(msg, Request)
            if msg.method == "ACK":
                return []
            resp = response_for(msg, 503, to_tag="u")
            return [Send(bytes(resp), src, tp, resp)]

    net.uas[("127.0.0.1", 5999)] = Unavailable(LocalContact("127.0.0.1", 5999))
    call, out = a.call(uri, caps(41000), net.now)
    net.run(A, out)
    assert call.peer == B   # the 503 moved the INVITE to the next target
    net.run(B, b.answer(last_incoming(net, B), net.now))
    assert call.established


# --- overload ------------------------------------------------------------------------------------------


def _request(method: str, n: int) -> Request:
    req = Request(method=method, uri=SipURI(host="127.0.0.1", port=5080))
    for name, value in (("Via", f"SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK{method}{n}"),
                        ("From", "<sip:a@h>;tag=1"), ("To", "<sip:b@h>"), ("Call-ID", f"c{n}"),
                        ("CSeq", f"1 {method}"), ("Content-Length", "0")):
        req.add_header(name, value)
    return req


def test_full_table_sheds_answered_transactions_and_refuses_unanswered_ones() -> None:
    from offhook.sip.transaction import DeliverRequest, TransactionManager
    tm = TransactionManager(max_transactions=8)
    for n in range(8):    # eight answered OPTIONS waiting out Timer J
        [deliver] = tm.receive(_request("OPTIONS", n), A, "UDP", 0.0)
        assert isinstance(deliver, DeliverRequest) and deliver.transaction is not None
        tm.respond(deliver.transaction, response_for(deliver.request, 200), 0.0)
    assert len(tm) == 8
    pending = []
    for n in range(8, 16):   # new INVITEs still get in (the oldest answered ones make room)
        actions = tm.receive(_request("INVITE", n), A, "UDP", 0.0)
        assert any(isinstance(x, DeliverRequest) for x in actions)
        pending += [x for x in actions if isinstance(x, DeliverRequest)]
    assert len(tm) == 8
    [refused] = tm.receive(_request("INVITE", 99), A, "UDP", 0.0)   # all 8 ring: no room
    assert isinstance(refused, Send) and refused.data.startswith(b"SIP/2.0 503 ")
    assert b"Retry-After: 5" in refused.data


def test_session_refresh_by_reinvite_when_the_peer_has_no_update() -> None:
    net, a, _b, _ = trio(session_timer=SessionTimerConfig(session_expires=90))
    ab, ba = connect(net, a, A, "sip:bob@127.0.0.1:5080", B, 41000)
    ba.peer_allow = frozenset({"INVITE", "ACK", "BYE"})   # as if Alice's Allow had no UPDATE
    net.advance(50)
    assert not requests(net, "UPDATE")
    [refresh] = requests(net, "INVITE", A)   # from Bob, the refresher
    assert refresh.get("Session-Expires") == "90;refresher=uac" and b"a=sendrecv" in refresh.body
    assert ab.established and ba.established and ba.media is not None
    assert ba.media.direction == "sendrecv"
