"""offhook.sip.ua: the user agent core, two instances wired to each other in memory."""
from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from offhook.errors import OffhookError
from offhook.sdp import MediaCapabilities
from offhook.sip import parse_message
from offhook.sip.auth import Credentials, DigestClient, DigestServer
from offhook.sip.dialog import LocalContact
from offhook.sip.message import Request, Response
from offhook.sip.register import Registration, RegState, refresh_delay
from offhook.sip.transaction import Send, TimerConfig, response_for
from offhook.sip.ua import Call, CallEvent, CallState, Output, RegistrationEvent, UserAgent
from offhook.sip.uri import SipURI

A = ("127.0.0.1", 5070)
B = ("127.0.0.1", 5080)


def caps(port: int) -> MediaCapabilities:
    return MediaCapabilities(address="127.0.0.1", port=port, codecs=("PCMU",))


@dataclass
class Net:
    """Delivers Sends between user agents by address; `drop` filters packets."""

    uas: dict[tuple[str, int], UserAgent]
    events: dict[tuple[str, int], list[CallEvent | RegistrationEvent]] = field(default_factory=dict)
    wire: list[tuple[tuple[str, int], bytes]] = field(default_factory=list)
    now: float = 0.0
    drop: object = None

    def run(self, origin: tuple[str, int], outputs: list[Output]) -> None:
        queue = [(origin, o) for o in outputs]
        while queue:
            src, item = queue.pop(0)
            if not isinstance(item, Send):
                self.events.setdefault(src, []).append(item)
                continue
            self.wire.append((item.address, item.data))
            if callable(self.drop) and self.drop(item):
                continue
            dest = self.uas.get(item.address)
            if dest is None:
                continue
            msg = parse_message(item.data)
            queue += [(item.address, o) for o in dest.receive(msg, src, item.transport, self.now)]

    def advance(self, seconds: float) -> None:
        end = self.now + seconds
        while True:
            due = [(d, addr) for addr, ua in self.uas.items()
                   if (d := ua.next_deadline()) is not None and d <= end]
            if not due:
                break
            when, addr = min(due)
            self.now = max(self.now, when)
            self.run(addr, self.uas[addr].tick(self.now))
        self.now = end

    def kinds(self, addr: tuple[str, int]) -> list[str]:
        return [e.kind if isinstance(e, CallEvent) else "registration" for e in self.events.get(addr, [])]


def pair() -> tuple[Net, UserAgent, UserAgent]:
    a = UserAgent(LocalContact(*A, user="alice"), identity=SipURI(host="127.0.0.1", user="alice"))
    b = UserAgent(LocalContact(*B, user="bob"), identity=SipURI(host="127.0.0.1", user="bob"),
                  media_capabilities=lambda req: caps(42000))
    return Net({A: a, B: b}), a, b


def incoming(net: Net) -> Call:
    [ev] = [e for e in net.events[B] if isinstance(e, CallEvent) and e.kind == "incoming"]
    return ev.call


def test_call_answer_hold_resume_bye() -> None:
    net, a, b = pair()
    call, out = a.call("sip:bob@127.0.0.1:5080", caps(41000), net.now)
    net.run(A, out)
    theirs = incoming(net)
    assert theirs.media is not None and theirs.media.remote == ("127.0.0.1", 41000)
    net.run(B, b.ring(theirs, net.now))
    assert net.kinds(A) == ["progress"] and call.state is CallState.EARLY
    net.run(B, b.answer(theirs, net.now))
    assert net.kinds(A) == ["progress", "answered", "media"]
    assert call.established and call.media is not None
    assert call.media.remote == ("127.0.0.1", 42000) and call.media.direction == "sendrecv"
    assert theirs.established and "confirmed" in net.kinds(B)
    # hold: a=sendonly offered, the far side answers recvonly
    net.run(A, a.hold(call, net.now))
    assert str(call.media.direction) == "sendonly"
    assert theirs.media.direction == "recvonly" and theirs.media.held_by_remote
    net.run(A, a.resume(call, net.now))
    assert (call.media.direction, str(theirs.media.direction)) == ("sendrecv", "sendrecv")
    # the ACK for the re-INVITE stops B's 200 retransmissions
    net.advance(40)
    oks = [d for addr, d in net.wire if addr == A and d.startswith(b"SIP/2.0 200")]
    assert len(oks) == 3   # INVITE and 2 re-INVITEs: none retransmitted
    net.run(B, b.hangup(theirs, net.now))
    assert call.state.value == "ended" and call.ended_by_remote
    assert theirs.state is CallState.ENDED and not theirs.ended_by_remote


def test_busy_gives_the_status_and_peer() -> None:
    net, a, b = pair()
    call, out = a.call("sip:bob@127.0.0.1:5080", caps(41000), net.now)
    net.run(A, out)
    net.run(B, b.reject(incoming(net), 486, net.now))
    assert call.state is CallState.ENDED and call.status == 486
    assert call.reason == "busy (486) at 127.0.0.1:5080"
    acks = [d for addr, d in net.wire if addr == B and d.startswith(b"ACK")]
    assert len(acks) == 1   # the transaction ACKs the failure


def test_cancel_before_answer() -> None:
    net, a, _ = pair()
    call, out = a.call("sip:bob@127.0.0.1:5080", caps(41000), net.now)
    net.run(A, a.hangup(call, net.now))    # nothing back yet: the CANCEL waits for a 1xx
    assert not any(d.startswith(b"CANCEL") for _, d in net.wire)
    net.run(A, out)                        # the INVITE arrives; its 100 releases the CANCEL
    theirs = incoming(net)
    assert theirs.state is CallState.ENDED and theirs.status == 487
    assert call.state is CallState.ENDED and call.status == 487
    assert call.reason.startswith("cancelled (487)")


def test_lost_ack_retransmits_the_200_then_ends_with_bye() -> None:
    net, a, b = pair()
    net.drop = lambda s: s.message.__class__ is Request and s.message.method == "ACK"
    call, out = a.call("sip:bob@127.0.0.1:5080", caps(41000), net.now)
    net.run(A, out)
    theirs = incoming(net)
    net.run(B, b.answer(theirs, net.now))
    net.advance(40)
    oks = [d for addr, d in net.wire if addr == A and d.startswith(b"SIP/2.0 200")]
    assert len(oks) >= 8       # T1, 2T1, 4T1, then every T2 until 64*T1
    assert theirs.state is CallState.ENDED and theirs.status == 408
    assert call.state is CallState.ENDED    # B's BYE reached A


def test_digest_challenge_on_invite_is_answered_once() -> None:
    net, a, b = pair()
    server = DigestServer("offhook.test", {"alice": "s3cret"})
    inner = b.receive

    def challenging(msg: Request | Response, src: tuple[str, int], tp: str, now: float) -> list[Output]:
        if isinstance(msg, Request) and msg.method == "INVITE" and not server.verify(msg).ok:
            resp = response_for(msg, 401, to_tag="x")
            server.add_challenge(resp)
            return [Send(bytes(resp), src, tp, resp)]
        return inner(msg, src, tp, now)

    b.receive = challenging  # type: ignore[method-assign, assignment]
    auth = DigestClient(Credentials("alice", "s3cret"))
    call, out = a.call("sip:bob@127.0.0.1:5080", caps(41000), net.now, auth=auth)
    net.run(A, out)
    net.run(B, b.answer(incoming(net), net.now))
    assert call.established
    bad = DigestClient(Credentials("alice", "wrong"))
    call2, out = a.call("sip:bob@127.0.0.1:5080", caps(41000), net.now, auth=bad)
    net.run(A, out)
    assert call2.state is CallState.ENDED
    assert call2.reason == "authentication failed (401) at 127.0.0.1:5080"
    assert "wrong" not in call2.reason


def test_registration_auth_refresh_423_and_unregister() -> None:
    registrar = ("127.0.0.1", 5090)
    server = DigestServer("offhook.test", {"alice": "pw"})
    seen: list[Request] = []

    class Registrar(UserAgent):
        def receive(self, msg: Request | Response, src: tuple[str, int], tp: str,
                    now: float) -> list[Output]:
            assert isinstance(msg, Request)
            seen.append(msg)
            expires = int(msg.get("Expires") or "0")
            if not server.verify(msg).ok:
                resp = response_for(msg, 401, to_tag="r")
                server.add_challenge(resp)
            elif 0 < expires < 60:
                resp = response_for(msg, 423, to_tag="r")
                resp.add_header("Min-Expires", "60")
            else:
                resp = response_for(msg, 200, to_tag="r")
                resp.add_header("Contact", f"{msg.get('Contact')};expires={expires}")
            return [Send(bytes(resp), src, tp, resp)]

    net, a, _ = pair()
    net.uas[registrar] = Registrar(LocalContact(*registrar))
    reg = Registration(SipURI(host="127.0.0.1", user="alice"), registrar, a.contact, expires=30,
                       auth=DigestClient(Credentials("alice", "pw")))
    net.run(A, a.register(reg, net.now))
    assert reg.state is RegState.REGISTERED and reg.granted == 60
    assert [m.get("Expires") for m in seen] == ["30", "30", "60"]   # 401, 423, 200
    assert reg.refresh_at == pytest.approx(refresh_delay(60))
    # policy: registered, an unknown source may not call
    assert not a.source_allowed(("192.0.2.66", 5060)) and a.source_allowed(registrar)
    net.advance(31)
    assert len(seen) == 4 and reg.state is RegState.REGISTERED   # refreshed before expiry
    net.run(A, a.unregister(reg, net.now))
    assert reg.state.value == "unregistered" and seen[-1].get("Expires") == "0"
    assert a.source_allowed(("192.0.2.66", 5060))


def test_registration_fails_over_to_the_next_server() -> None:
    # RFC 3263 §4.3: a 503 from the first registrar, and then no answer at all from the
    # second, move the REGISTER to the next server of the lookup.
    first, silent, second = ("127.0.0.1", 5090), ("127.0.0.1", 5091), ("127.0.0.1", 5092)
    seen: list[tuple[str, int]] = []

    class Registrar(UserAgent):
        def receive(self, msg: Request | Response, src: tuple[str, int], tp: str,
                    now: float) -> list[Output]:
            assert isinstance(msg, Request)
            me = (self.contact.host, self.contact.port)
            seen.append(me)
            resp = response_for(msg, 503 if me == first else 200, to_tag="r")
            if me == second:
                resp.add_header("Contact", f"{msg.get('Contact')};expires=300")
            return [Send(bytes(resp), src, tp, resp)]

    net, a, _ = pair()
    net.uas[first] = Registrar(LocalContact(*first))
    net.uas[second] = Registrar(LocalContact(*second))
    reg = Registration(SipURI(host="example.com", user="alice"), first, a.contact, expires=300,
                       alternates=[(silent, "UDP"), (second, "UDP")])
    net.run(A, a.register(reg, net.now))
    assert seen == [first] and reg.registrar == silent        # 503: on to the next server
    net.advance(33)                                            # Timer F: nobody there either
    assert reg.state is RegState.REGISTERED and reg.registrar == second, reg.reason
    assert seen == [first, second] and reg.alternates == []


def test_wrong_password_registration_fails_with_a_clear_reason() -> None:
    registrar = ("127.0.0.1", 5090)
    server = DigestServer("offhook.test", {"alice": "pw"})

    class Registrar(UserAgent):
        def receive(self, msg: Request | Response, src: tuple[str, int], tp: str,
                    now: float) -> list[Output]:
            assert isinstance(msg, Request)
            resp = response_for(msg, 401, to_tag="r")
            server.add_challenge(resp)
            return [Send(bytes(resp), src, tp, resp)]

    net, a, _ = pair()
    net.uas[registrar] = Registrar(LocalContact(*registrar))
    reg = Registration(SipURI(host="127.0.0.1", user="alice"), registrar, a.contact,
                       auth=DigestClient(Credentials("alice", "nope")))
    net.run(A, a.register(reg, net.now))
    assert reg.state is RegState.FAILED
    assert reg.reason == "authentication failed (401) at 127.0.0.1:5090"


def test_unregistered_source_is_refused_while_registered() -> None:
    net, a, b = pair()
    reg = Registration(SipURI(host="127.0.0.1", user="bob"), ("192.0.2.1", 5060), b.contact)
    b.registrations.append(reg)
    reg.state = RegState.REGISTERED
    call, out = a.call("sip:bob@127.0.0.1:5080", caps(41000), net.now)
    net.run(A, out)
    assert call.state is CallState.ENDED and call.status == 403
    assert "incoming" not in net.kinds(B)


def test_no_answer_times_out_with_408() -> None:
    net, a, _ = pair()
    call, out = a.call("sip:nobody@127.0.0.1:5999", caps(41000), net.now)
    net.run(A, out)
    net.advance(40)
    assert call.state is CallState.ENDED and call.reason == "no answer (408) at 127.0.0.1:5999"
    invites = [d for addr, d in net.wire if d.startswith(b"INVITE")]
    assert len(invites) == 7   # Timer A: 0, .5, 1.5, 3.5, 7.5, 15.5, 31.5 s


def test_misuse_raises_clear_errors() -> None:
    net, a, _ = pair()
    call, _ = a.call("sip:bob@127.0.0.1:5080", caps(41000), net.now)
    with pytest.raises(OffhookError, match="cannot hold a call that is calling"):
        a.hold(call, net.now)
    with pytest.raises(OffhookError, match="only sip: and sips:"):
        a.call("tel:+123", caps(41000), net.now)
    assert TimerConfig().b == 32


def test_183_with_sdp_gives_early_media_and_the_200_keeps_it() -> None:
    net, a, b = pair()
    call, out = a.call("sip:bob@127.0.0.1:5080", caps(41000), net.now)
    net.run(A, out)
    theirs = incoming(net)
    net.run(B, b.early_media(theirs, net.now))
    assert net.kinds(A) == ["progress", "media"] and call.state is CallState.EARLY
    assert call.media is not None and call.media.remote == ("127.0.0.1", 42000)
    early = call.media
    net.run(B, b.answer(theirs, net.now))
    assert net.kinds(A) == ["progress", "media", "answered"]
    assert call.established and call.media is early


def test_tcp_call_says_tcp_in_via_and_contact() -> None:
    net, a, b = pair()
    call, out = a.call("sip:bob@127.0.0.1:5080;transport=tcp", caps(41000), net.now)
    net.run(A, out)
    invite = parse_message(net.wire[0][1])
    assert isinstance(invite, Request) and call.transport == "TCP"
    assert invite.via[0].transport == "TCP"
    assert invite.get("Contact") == "<sip:alice@127.0.0.1:5070;transport=tcp>"
    net.run(B, b.answer(incoming(net), net.now))
    assert call.established
    net.run(A, a.hangup(call, net.now))
    bye = parse_message(net.wire[-2][1])
    assert isinstance(bye, Request) and bye.method == "BYE" and bye.via[0].transport == "TCP"


def test_extension_methods_plug_in_and_unknown_ones_get_501() -> None:
    net, a, b = pair()
    seen: list[tuple[Call | None, str]] = []

    def on_info(call: Call | None, req: Request) -> Response:
        seen.append((call, req.body.decode()))
        return response_for(req, 200)

    b.method_handlers["INFO"] = on_info
    assert b.allow.endswith(", INFO")
    call, out = a.call("sip:bob@127.0.0.1:5080", caps(41000), net.now)
    net.run(A, out)
    theirs = incoming(net)
    net.run(B, b.answer(theirs, net.now))
    assert call.dialog is not None
    for method in ("INFO", "PUBLISH"):
        req = call.dialog.new_request(method, a.contact, body=b"Signal=5",
                                      content_type="application/dtmf-relay")
        _, actions = a.transactions.send_request(req, B, "UDP", net.now)
        net.run(A, [x for x in actions if isinstance(x, Send)])
    assert seen == [(theirs, "Signal=5")]
    statuses = [parse_message(d) for addr, d in net.wire if addr == A and d.startswith(b"SIP/2.0")]
    assert [r.status for r in statuses if isinstance(r, Response) and r.cseq.method in ("INFO", "PUBLISH")] \
        == [200, 501]


def test_in_dialog_requests_challenged_are_resent_once_with_credentials() -> None:
    """A proxy-like wrapper on A challenges B's in-dialog REFER, INFO and MESSAGE (401, SHA-256 and
    MD5 offered). B took the call (no DigestClient of its own): the UA's account credentials answer,
    SHA-256 chosen, each request resent once with a higher CSeq; a wrong password gives up after one."""
    net, a, b = pair()
    server = DigestServer("proxy.test", {"bob": "bobpw"})
    seen: list[tuple[str, int, str | None]] = []
    inner = a.receive

    def challenging(msg: Request | Response, src: tuple[str, int], tp: str, now: float) -> list[Output]:
        if isinstance(msg, Request) and msg.method in ("REFER", "INFO", "MESSAGE"):
            seen.append((msg.method, msg.cseq.number, msg.get("Authorization")))
            if not server.verify(msg).ok:
                resp = response_for(msg, 401)
                server.add_challenge(resp)
                return [Send(bytes(resp), src, tp, resp)]
        return inner(msg, src, tp, now)

    a.receive = challenging  # type: ignore[method-assign, assignment]
    call, out = a.call("sip:bob@127.0.0.1:5080", caps(41000), net.now)
    net.run(A, out)
    theirs = incoming(net)
    net.run(B, b.answer(theirs, net.now))
    assert call.established
    b.auth = DigestClient(Credentials("bob", "bobpw"))
    net.run(B, b.transfer(theirs, "sip:carol@127.0.0.1:5090", net.now))
    assert [(m, auth is not None) for m, _, auth in seen] == [("REFER", False), ("REFER", True)]
    assert seen[1][1] > seen[0][1] and 'algorithm=SHA-256' in (seen[1][2] or "")
    transfer = [e.status for e in net.events[B] if isinstance(e, CallEvent) and e.kind == "transfer"]
    assert transfer[0] == 202
    seen.clear()
    net.run(B, b.send_info_dtmf(theirs, "5", net.now))     # the cached challenge authorizes at once
    assert [(m, auth is not None) for m, _, auth in seen] == [("INFO", True)]
    assert [e.digit for e in net.events[A] if isinstance(e, CallEvent) and e.kind == "dtmf"] == ["5"]
    # a wrong password: one retry, then the request fails (a REFER reports its status)
    theirs._auth = DigestClient(Credentials("bob", "not-it"))
    theirs._transferor = None
    seen.clear()
    net.run(B, b.transfer(theirs, "sip:dave@127.0.0.1:5090", net.now))
    assert [m for m, _, _ in seen] == ["REFER", "REFER"]
    transfer = [e.status for e in net.events[B] if isinstance(e, CallEvent) and e.kind == "transfer"]
    assert transfer[-1] == 401 and theirs.transfer_state == "failed"
