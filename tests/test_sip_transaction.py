"""offhook.sip transactions: RFC 3261 Figures 5-8 with RFC 6026, driven by a fake clock."""
from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import offhook
from offhook.sip import (
    Action,
    ClientInviteTransaction,
    ClientNonInviteTransaction,
    DeliverRequest,
    DeliverResponse,
    Request,
    Response,
    Send,
    ServerInviteTransaction,
    ServerNonInviteTransaction,
    Timeout,
    TimerConfig,
    TransactionError,
    TransactionManager,
    TransactionState,
    TransactionTerminated,
    TransportFailure,
    new_branch,
    parse_message,
    response_for,
)

PEER = ("192.0.2.20", 5060)
ME = ("192.0.2.1", 5060)


def request(method: str = "INVITE", branch: str = "z9hG4bK74bf9", *, host: str = "192.0.2.1",
            port: int = 5060, transport: str = "UDP", cseq: int = 1, route: bool = True,
            to_tag: str | None = None, call_id: str = "3848276298220188511@atlanta.example.com"
            ) -> Request:
    via_params = f";branch={branch}" if branch else ""
    to = "<sip:bob@biloxi.example.com>" + (f";tag={to_tag}" if to_tag else "")
    text = (
        f"{method} sip:bob@biloxi.example.com SIP/2.0\r\n"
        f"Via: SIP/2.0/{transport} {host}:{port}{via_params}\r\n"
        "Max-Forwards: 70\r\n"
        + ("Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\r\n" if route else "")
        + f"To: {to}\r\n"
        "From: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n"
        f"Call-ID: {call_id}\r\n"
        f"CSeq: {cseq} {method}\r\n"
        "Contact: <sip:alice@192.0.2.1>\r\n"
        "Content-Length: 0\r\n\r\n")
    msg = parse_message(text.encode())
    assert isinstance(msg, Request)
    return msg


def reply(req: Request, status: int, tag: str = "8321234356") -> Response:
    """What the far end would answer: parsed back from bytes, as the transport would."""
    msg = parse_message(bytes(response_for(req, status, to_tag=tag)))
    assert isinstance(msg, Response)
    return msg


def sends(actions: Sequence[Action]) -> list[Send]:
    return [a for a in actions if isinstance(a, Send)]


def kinds(actions: Sequence[Action]) -> list[str]:
    return [type(a).__name__ for a in actions]


class Clock:
    """Runs a transaction (or manager) from deadline to deadline, recording sends."""

    def __init__(self, target: object) -> None:
        self.target = target
        self.now = 0.0
        self.log: list[tuple[float, Action]] = []

    def run_until(self, until: float) -> list[Action]:
        out: list[Action] = []
        while True:
            when = self.target.next_deadline()  # type: ignore[attr-defined]
            if when is None or when > until:
                break
            assert when >= self.now, "a deadline in the past survived a tick"
            self.now = when
            acts = self.target.tick(when)  # type: ignore[attr-defined]
            out.extend(acts)
            self.log.extend((when, a) for a in acts)
        self.now = max(self.now, until)
        return out

    def send_times(self) -> list[float]:
        return [t for t, a in self.log if isinstance(a, Send)]


# --- client INVITE (Figure 5) -----------------------------------------------------------

def test_client_invite_timer_a_doubles_without_cap_until_timer_b() -> None:
    tx = ClientInviteTransaction(request(), PEER, "udp")
    first = tx.start(0.0)
    assert kinds(first) == ["Send"] and first[0].data == bytes(tx.request)  # type: ignore[union-attr]
    clock = Clock(tx)
    acts = clock.run_until(100.0)
    # A: 0.5, 1, 2, 4, 8, 16 s apart (no T2 cap) -> 6 retransmissions before B at 64*T1 = 32 s
    assert clock.send_times() == [0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
    assert all(isinstance(a, Send) and a.data == bytes(tx.request) for a in acts[:6])
    timeout = [(t, a) for t, a in clock.log if isinstance(a, Timeout)]
    assert [(t, a.timer) for t, a in timeout] == [(32.0, "B")]
    assert isinstance(acts[-1], TransactionTerminated) and tx.terminated
    assert tx.next_deadline() is None


def test_client_invite_schedule_scales_with_t1_and_late_ticks_keep_it() -> None:
    timers = TimerConfig(t1=0.1, t2=0.4)
    tx = ClientInviteTransaction(request(), PEER, "UDP", timers)
    tx.start(10.0)
    # one very late tick fires everything due, on the RFC's schedule, in order
    acts = tx.tick(10.0 + 6.35)
    assert len(sends(acts)) == 6  # at +0.1, 0.3, 0.7, 1.5, 3.1, 6.3
    assert tx.next_deadline() == pytest.approx(16.4)  # B = 64*T1 = 6.4
    assert kinds(tx.tick(16.4)) == ["Timeout", "TransactionTerminated"]


def test_client_invite_provisional_stops_retransmission_and_timer_b() -> None:
    req = request()
    tx = ClientInviteTransaction(req, PEER, "UDP")
    tx.start(0.0)
    tx.tick(0.5)
    acts = tx.receive_response(reply(req, 180), 0.7)
    assert kinds(acts) == ["DeliverResponse"] and tx.state is TransactionState.PROCEEDING
    assert tx.next_deadline() is None  # Proceeding waits for the final answer (TU's Timer C)
    assert tx.tick(1000.0) == [] and not tx.terminated


def test_client_invite_builds_ack_for_non_2xx_and_resends_it() -> None:
    req = request(cseq=314)
    tx = ClientInviteTransaction(req, PEER, "UDP")
    tx.start(0.0)
    tx.receive_response(reply(req, 100), 0.1)
    busy = reply(req, 486, tag="busytag")
    acts = tx.receive_response(busy, 0.2)
    assert kinds(acts) == ["Send", "DeliverResponse"]
    send = acts[0]
    assert isinstance(send, Send) and send.address == PEER and send.transport == "UDP"
    ack = parse_message(send.data)
    assert isinstance(ack, Request) and ack.method == "ACK"
    assert str(ack.uri) == str(req.uri)
    assert len(ack.via) == 1 and ack.via[0].branch == "z9hG4bK74bf9"
    assert ack.to.tag == "busytag"
    assert ack.from_.tag == "9fxced76sl" and ack.call_id == req.call_id
    assert (ack.cseq.number, ack.cseq.method) == (314, "ACK")
    assert [str(r.uri) for r in ack.routes] == ["sip:p1.example.com;lr", "sip:p2.example.com;lr"]
    assert ack.body == b"" and ack.content_length == 0 and ack.max_forwards == 70
    assert tx.state is TransactionState.COMPLETED
    # the 486 again: our ACK was lost -> resent, not delivered twice
    again = tx.receive_response(busy, 1.0)
    assert kinds(again) == ["Send"] and again[0].data == send.data  # type: ignore[union-attr]
    # Timer D: 32 s over UDP
    assert tx.next_deadline() == pytest.approx(32.2)
    assert kinds(tx.tick(32.2)) == ["TransactionTerminated"]


def test_client_invite_2xx_goes_to_accepted_and_forked_2xx_reach_the_tu() -> None:
    req = request()
    tx = ClientInviteTransaction(req, PEER, "UDP")
    tx.start(0.0)
    acts = tx.receive_response(reply(req, 200, tag="a"), 1.0)
    assert kinds(acts) == ["DeliverResponse"]  # the TU, not the transaction, ACKs a 2xx
    assert tx.state is TransactionState.ACCEPTED and tx.ack is None
    fork = tx.receive_response(reply(req, 200, tag="b"), 2.0)
    assert kinds(fork) == ["DeliverResponse"]
    assert isinstance(fork[0], DeliverResponse) and fork[0].response.to.tag == "b"
    assert tx.receive_response(reply(req, 486), 3.0) == []  # late non-2xx absorbed
    assert tx.next_deadline() == pytest.approx(33.0)  # Timer M = 64*T1
    assert kinds(tx.tick(33.0)) == ["TransactionTerminated"]


def test_client_invite_over_tcp_never_retransmits_and_ends_at_once_on_non_2xx() -> None:
    req = request(transport="TCP")
    tx = ClientInviteTransaction(req, PEER, "tcp")
    assert tx.reliable
    tx.start(0.0)
    assert tx.next_deadline() == 32.0  # only Timer B
    acts = tx.receive_response(reply(req, 603), 5.0)
    assert kinds(acts) == ["Send", "DeliverResponse", "TransactionTerminated"]  # D = 0
    tx2 = ClientInviteTransaction(request(branch="z9hG4bKtcp2", transport="TCP"), PEER, "TCP")
    tx2.start(0.0)
    clock = Clock(tx2)
    clock.run_until(40.0)
    assert clock.send_times() == [] and [type(a).__name__ for _, a in clock.log] == [
        "Timeout", "TransactionTerminated"]


# --- client non-INVITE (Figure 6) -----------------------------------------------------------

def test_client_non_invite_timer_e_doubles_to_t2_then_timer_f() -> None:
    tx = ClientNonInviteTransaction(request("OPTIONS"), PEER, "UDP")
    tx.start(0.0)
    clock = Clock(tx)
    clock.run_until(100.0)
    assert clock.send_times() == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    assert [(t, a.timer) for t, a in clock.log if isinstance(a, Timeout)] == [(32.0, "F")]
    assert tx.terminated


def test_client_non_invite_proceeding_retransmits_every_t2() -> None:
    req = request("REGISTER")
    tx = ClientNonInviteTransaction(req, PEER, "UDP")
    tx.start(0.0)
    clock = Clock(tx)
    clock.run_until(0.6)
    assert kinds(tx.receive_response(reply(req, 100), 0.7)) == ["DeliverResponse"]
    clock.run_until(14.0)
    # E was due at 1.5; in Proceeding it is reset to T2 each time it fires
    assert clock.send_times() == [0.5, 1.5, 5.5, 9.5, 13.5]
    acts = tx.receive_response(reply(req, 200), 14.0)
    assert kinds(acts) == ["DeliverResponse"] and tx.state is TransactionState.COMPLETED
    assert tx.receive_response(reply(req, 200), 15.0) == []  # absorbed
    assert tx.next_deadline() == pytest.approx(19.0)  # Timer K = T4
    clock.run_until(19.0)
    assert tx.terminated and clock.send_times()[-1] == 13.5


def test_client_non_invite_over_tls_has_no_timer_e_and_k_is_zero() -> None:
    req = request("BYE", transport="TLS")
    tx = ClientNonInviteTransaction(req, PEER, "TLS")
    tx.start(0.0)
    assert tx.next_deadline() == 32.0
    assert kinds(tx.receive_response(reply(req, 200), 1.0)) == [
        "DeliverResponse", "TransactionTerminated"]


# --- server INVITE (Figure 7) ---------------------------------------------------------------

def test_server_invite_trying_absorption_and_timer_g_until_h() -> None:
    req = request()
    tx = ServerInviteTransaction(req, PEER, "UDP")
    acts = tx.start(0.0)
    assert kinds(acts) == ["Send", "DeliverRequest"]
    trying = parse_message(acts[0].data)  # type: ignore[union-attr]
    assert isinstance(trying, Response) and trying.status == 100 and trying.to.tag is None
    assert acts[0].address == PEER  # type: ignore[union-attr]
    # a retransmitted INVITE gets the last provisional again, and is not re-delivered
    again = tx.receive_request(req, 0.3)
    assert kinds(again) == ["Send"] and again[0].data == acts[0].data  # type: ignore[union-attr]
    ringing = response_for(req, 180, to_tag="t1")
    tx.respond(ringing, 0.4)
    assert sends(tx.receive_request(req, 0.45))[0].data == bytes(ringing)
    busy = response_for(req, 486, to_tag="t1")
    assert sends(tx.respond(busy, 1.0))[0].data == bytes(busy)
    clock = Clock(tx)
    clock.now = 1.0
    clock.run_until(100.0)
    # G: T1, 2T1, 4T1, then capped at T2 = 4 s; H at 64*T1
    assert clock.send_times() == [1.5, 2.5, 4.5, 8.5, 12.5, 16.5, 20.5, 24.5, 28.5, 32.5]
    assert all(a.data == bytes(busy) for _, a in clock.log if isinstance(a, Send))
    assert [(t, a.timer) for t, a in clock.log if isinstance(a, Timeout)] == [(33.0, "H")]
    assert tx.terminated


def test_server_invite_ack_confirms_and_timer_i_ends_it() -> None:
    req = request()
    tx = ServerInviteTransaction(req, PEER, "UDP", send_trying=False)
    assert kinds(tx.start(0.0)) == ["DeliverRequest"]
    assert tx.receive_request(req, 0.1) == []  # nothing sent yet: nothing to resend
    tx.respond(response_for(req, 404, to_tag="x"), 0.2)
    assert len(sends(tx.receive_request(req, 0.3))) == 1  # Completed: resend the 404
    ack = request("ACK", to_tag="x", cseq=1)
    assert tx.receive_request(ack, 0.4) == []
    assert tx.state is TransactionState.CONFIRMED and tx.ack is ack
    assert tx.receive_request(ack, 0.5) == [] and tx.receive_request(req, 0.6) == []  # absorbed
    assert tx.next_deadline() == pytest.approx(5.4)  # Timer I = T4; G and H cancelled
    assert kinds(tx.tick(5.4)) == ["TransactionTerminated"]


def test_server_invite_2xx_accepted_absorbs_retransmissions_until_timer_l() -> None:
    req = request()
    tx = ServerInviteTransaction(req, PEER, "UDP")
    tx.start(0.0)
    ok = response_for(req, 200, to_tag="y")
    assert sends(tx.respond(ok, 1.0))[0].data == bytes(ok)
    assert tx.state is TransactionState.ACCEPTED
    assert tx.receive_request(req, 1.5) == []  # RFC 6026: absorbed, the TU retransmits 2xx
    assert sends(tx.respond(ok, 1.5))[0].data == bytes(ok)  # the TU's own retransmission
    with pytest.raises(TransactionError, match=r"cannot send 486 from the Accepted state"):
        tx.respond(response_for(req, 486), 2.0)
    ack = request("ACK", to_tag="y")
    got = tx.receive_request(ack, 2.0)
    assert len(got) == 1 and isinstance(got[0], DeliverRequest) and got[0].request is ack
    assert tx.next_deadline() == pytest.approx(33.0)
    assert kinds(tx.tick(33.0)) == ["TransactionTerminated"]


def test_server_invite_over_tcp_sends_once_and_ends_on_ack() -> None:
    req = request(transport="TCP")
    tx = ServerInviteTransaction(req, PEER, "TCP")
    tx.start(0.0)
    tx.respond(response_for(req, 500), 0.1)
    assert tx.next_deadline() == pytest.approx(32.1)  # H only, no G over TCP
    assert kinds(tx.receive_request(request("ACK", transport="TCP"), 0.2)) == ["TransactionTerminated"]


# --- server non-INVITE (Figure 8) ---------------------------------------------------------

def test_server_non_invite_states() -> None:
    req = request("OPTIONS")
    tx = ServerNonInviteTransaction(req, PEER, "UDP")
    acts = tx.start(0.0)
    assert len(acts) == 1 and isinstance(acts[0], DeliverRequest) and acts[0].transaction is tx
    assert tx.receive_request(req, 0.1) == []  # Trying absorbs
    prov = response_for(req, 183)
    tx.respond(prov, 0.2)
    assert tx.state is TransactionState.PROCEEDING
    assert sends(tx.receive_request(req, 0.3))[0].data == bytes(prov)
    ok = response_for(req, 200, to_tag="z")
    tx.respond(ok, 0.4)
    assert sends(tx.receive_request(req, 0.5))[0].data == bytes(ok)
    with pytest.raises(TransactionError, match="a final response was already sent"):
        tx.respond(response_for(req, 500), 0.6)
    assert tx.next_deadline() == pytest.approx(32.4)  # Timer J = 64*T1
    assert kinds(tx.tick(32.4)) == ["TransactionTerminated"]


def test_server_non_invite_over_tcp_j_is_zero() -> None:
    req = request("BYE", transport="TCP")
    tx = ServerNonInviteTransaction(req, PEER, "TCP")
    tx.start(0.0)
    assert kinds(tx.respond(response_for(req, 200), 0.0)) == ["Send", "TransactionTerminated"]


def test_transport_error_informs_the_tu_and_ends() -> None:
    tx = ClientNonInviteTransaction(request("MESSAGE"), PEER, "UDP")
    tx.start(0.0)
    acts = tx.transport_error(0.1, "ICMP port unreachable")
    assert kinds(acts) == ["TransportFailure", "TransactionTerminated"]
    assert isinstance(acts[0], TransportFailure) and acts[0].reason == "ICMP port unreachable"
    assert tx.transport_error(0.2) == []
    # RFC 6026: an Accepted INVITE server transaction reports but keeps absorbing
    req = request()
    stx = ServerInviteTransaction(req, PEER, "UDP")
    stx.start(0.0)
    stx.respond(response_for(req, 200), 0.1)
    assert kinds(stx.transport_error(0.2)) == ["TransportFailure"]
    assert stx.state is TransactionState.ACCEPTED


def test_bad_arguments_give_clear_errors() -> None:
    with pytest.raises(TransactionError, match="top Via has no branch"):
        ClientNonInviteTransaction(request("OPTIONS", branch=""), PEER, "UDP")
    with pytest.raises(TransactionError, match="needs an INVITE, not BYE"):
        ClientInviteTransaction(request("BYE"), PEER, "UDP")
    with pytest.raises(TransactionError, match="an ACK has none"):
        ClientNonInviteTransaction(request("ACK"), PEER, "UDP")
    with pytest.raises(ValueError, match=r"TimerConfig.t1 must be a positive number"):
        TimerConfig(t1=0)
    with pytest.raises(ValueError, match=r"t2 \(0.1 s\) must not be shorter than t1"):
        TimerConfig(t2=0.1)
    with pytest.raises(ValueError, match="max_transactions must be a positive integer"):
        TransactionManager(max_transactions=0)
    tx = ServerNonInviteTransaction(request("INFO"), PEER, "UDP")
    tx.start(0.0)
    with pytest.raises(TransactionError, match="already started"):
        tx.start(0.0)
    with pytest.raises(TransactionError, match="status 99 is not a SIP status"):
        tx.respond(Response(status=99), 0.0)
    assert issubclass(TransactionError, offhook.OffhookError) and issubclass(TransactionError, ValueError)


def test_new_branch_has_the_cookie_and_is_unique() -> None:
    branches = {new_branch() for _ in range(100)}
    assert len(branches) == 100 and all(b.startswith("z9hG4bK") for b in branches)


# --- matching and the manager (§17.1.3, §17.2.3) -------------------------------------------

def test_manager_routes_responses_by_branch_and_method() -> None:
    mgr = TransactionManager()
    invite = request(branch="z9hG4bKsame")
    itx, acts = mgr.send_request(invite, PEER, "UDP", 0.0)
    assert kinds(acts) == ["Send"] and acts[0].data == bytes(invite)  # type: ignore[union-attr]
    assert mgr.next_deadline() == 0.5
    cancel = request("CANCEL", branch="z9hG4bKsame", route=False)
    ctx, _ = mgr.send_request(cancel, PEER, "UDP", 0.1)
    assert len(mgr) == 2 and itx is not ctx
    # 200 for the CANCEL: same branch, CSeq method CANCEL -> the CANCEL transaction only
    got = mgr.receive(reply(cancel, 200), PEER, "UDP", 0.2)
    assert [a.transaction for a in got if isinstance(a, DeliverResponse)] == [ctx]
    assert itx.state is TransactionState.CALLING
    got = mgr.receive(reply(invite, 487), PEER, "UDP", 0.3)
    assert kinds(got) == ["Send", "DeliverResponse"] and got[1].transaction is itx  # type: ignore[union-attr]
    # a response nobody waits for goes to the TU as a stray
    stray = mgr.receive(reply(request(branch="z9hG4bKother"), 200), PEER, "UDP", 0.4)
    assert len(stray) == 1 and isinstance(stray[0], DeliverResponse) and stray[0].transaction is None


def test_manager_server_matching_cancel_ack_and_sent_by() -> None:
    mgr = TransactionManager()
    invite = request(branch="z9hG4bKuac1")
    acts = mgr.receive(invite, PEER, "UDP", 0.0)
    stx = next(a.transaction for a in acts if isinstance(a, DeliverRequest))
    assert isinstance(stx, ServerInviteTransaction)
    # retransmission -> same transaction, 100 resent, not delivered again
    assert kinds(mgr.receive(request(branch="z9hG4bKuac1"), PEER, "UDP", 0.1)) == ["Send"]
    # same branch from another sent-by: a different transaction (§17.2.3)
    other = mgr.receive(request(branch="z9hG4bKuac1", host="192.0.2.99"), PEER, "UDP", 0.1)
    assert any(isinstance(a, DeliverRequest) and a.transaction is not stx for a in other)
    assert len(mgr) == 2
    # CANCEL: its own server transaction, and find_invite() finds what it cancels
    cancel = request("CANCEL", branch="z9hG4bKuac1", route=False)
    cacts = mgr.receive(cancel, PEER, "UDP", 0.2)
    ctx = next(a.transaction for a in cacts if isinstance(a, DeliverRequest))
    assert isinstance(ctx, ServerNonInviteTransaction) and mgr.find_invite(cancel) is stx
    mgr.respond(ctx, response_for(cancel, 200), 0.3)
    mgr.respond(stx, response_for(invite, 487, to_tag="s"), 0.3)
    # ACK for the 487 carries the INVITE's branch: it matches the INVITE server transaction
    ack = request("ACK", branch="z9hG4bKuac1", to_tag="s")
    assert mgr.receive(ack, PEER, "UDP", 0.4) == []
    assert stx.state is TransactionState.CONFIRMED
    # ACK for a 2xx has a new branch: no transaction, handed to the TU
    ack2 = request("ACK", branch="z9hG4bKnewone", to_tag="s")
    got = mgr.receive(ack2, PEER, "UDP", 0.5)
    assert len(got) == 1 and isinstance(got[0], DeliverRequest) and got[0].transaction is None


def test_manager_rfc2543_fallback_matching() -> None:
    mgr = TransactionManager()
    old = request(branch="")
    first = mgr.receive(old, PEER, "UDP", 0.0)
    stx = next(a.transaction for a in first if isinstance(a, DeliverRequest))
    assert stx is not None
    assert kinds(mgr.receive(request(branch=""), PEER, "UDP", 0.1)) == ["Send"]  # retransmission
    assert kinds(mgr.receive(request(branch="", cseq=2), PEER, "UDP", 0.1)) == ["Send", "DeliverRequest"]
    mgr.respond(stx, response_for(old, 486, to_tag="q"), 0.2)
    assert mgr.receive(request("ACK", branch="", to_tag="q"), PEER, "UDP", 0.3) == []
    assert stx.state is TransactionState.CONFIRMED


def test_manager_tick_runs_all_timers_and_forgets_ended_transactions() -> None:
    mgr = TransactionManager()
    mgr.send_request(request("OPTIONS", branch="z9hG4bKa"), PEER, "UDP", 0.0)
    mgr.send_request(request("INVITE", branch="z9hG4bKb"), PEER, "UDP", 0.2)
    clock = Clock(mgr)
    clock.run_until(100.0)
    times = clock.send_times()
    assert times == sorted(times)
    assert times.count(0.5) == 1 and 0.7 in times and 31.7 in times and 31.5 in times
    assert [a.timer for _, a in clock.log if isinstance(a, Timeout)] == ["F", "B"]
    assert len(mgr) == 0 and mgr.next_deadline() is None


def test_bounded_table_answers_503() -> None:
    mgr = TransactionManager(max_transactions=2)
    mgr.receive(request("OPTIONS", branch="z9hG4bK1"), PEER, "UDP", 0.0)
    mgr.receive(request("OPTIONS", branch="z9hG4bK2"), PEER, "UDP", 0.0)
    third = request("OPTIONS", branch="z9hG4bK3")
    acts = mgr.receive(third, ("192.0.2.77", 5099), "udp", 0.0)
    assert len(acts) == 1 and isinstance(acts[0], Send) and acts[0].address == ("192.0.2.77", 5099)
    resp = parse_message(acts[0].data)
    assert isinstance(resp, Response) and (resp.status, resp.reason) == (503, "Service Unavailable")
    assert resp.get("Retry-After") == "5" and resp.via[0].branch == "z9hG4bK3"
    assert resp.cseq.method == "OPTIONS" and resp.call_id == third.call_id
    assert len(mgr) == 2
    with pytest.raises(TransactionError, match=r"table is full \(2 transactions\)"):
        mgr.send_request(request("OPTIONS", branch="z9hG4bK4"), PEER, "UDP", 0.0)
    # an ACK is never answered, even when full
    got = mgr.receive(request("ACK", branch="z9hG4bK5"), PEER, "UDP", 0.0)
    assert kinds(got) == ["DeliverRequest"]
    # once the transactions end, room again
    for key in list(mgr._table):
        tx = mgr.get(key)
        assert isinstance(tx, ServerNonInviteTransaction)
        mgr.respond(tx, response_for(tx.request, 200), 1.0)
    Clock(mgr).run_until(40.0)
    assert len(mgr) == 0
    assert kinds(mgr.receive(third, PEER, "UDP", 41.0)) == ["DeliverRequest"]


def test_duplicate_client_branch_refused() -> None:
    mgr = TransactionManager()
    mgr.send_request(request("OPTIONS", branch="z9hG4bKdup"), PEER, "UDP", 0.0)
    with pytest.raises(TransactionError, match="already exists; use a new branch"):
        mgr.send_request(request("OPTIONS", branch="z9hG4bKdup"), PEER, "UDP", 0.0)


# --- random interleavings ---------------------------------------------------------------------

# Each step: ("advance", dt), ("retx",), ("resp", status) for the peer, ("tu", status), ("ack",), ("err",)
_STEP = st.one_of(
    st.tuples(st.just("advance"), st.floats(0.0, 20.0, allow_nan=False)),
    st.tuples(st.just("retx"), st.just(0)),
    st.tuples(st.just("resp"), st.sampled_from([100, 180, 200, 202, 302, 404, 486, 500, 603])),
    st.tuples(st.just("tu"), st.sampled_from([100, 180, 183, 200, 301, 404, 487, 600])),
    st.tuples(st.just("ack"), st.just(0)),
    st.tuples(st.just("err"), st.just(0)),
)
# States in which RFC 3261 lets a transaction wait forever for the TU or the peer.
_WAITING = {
    ClientInviteTransaction: {TransactionState.PROCEEDING},
    ServerInviteTransaction: {TransactionState.PROCEEDING},
    ServerNonInviteTransaction: {TransactionState.TRYING, TransactionState.PROCEEDING},
    ClientNonInviteTransaction: set(),
}


@settings(max_examples=150, deadline=None)
@given(kind=st.sampled_from(list(_WAITING)), transport=st.sampled_from(["UDP", "TCP"]),
       steps=st.lists(_STEP, max_size=30))
def test_random_interleavings_never_raise_and_always_end(
        kind: type, transport: str, steps: list[tuple[str, float]]) -> None:
    method = "INVITE" if kind in (ClientInviteTransaction, ServerInviteTransaction) else "OPTIONS"
    req = request(method, transport=transport)
    tx = kind(req, PEER, transport)
    now = 0.0
    tx.start(now)
    client = kind in (ClientInviteTransaction, ClientNonInviteTransaction)
    for op, arg in steps:
        if op == "advance":
            now += arg
            tx.tick(now)
            deadline = tx.next_deadline()
            assert deadline is None or deadline > now, "a due timer survived tick()"
        elif op == "retx" and not client:
            tx.receive_request(req, now)
        elif op == "ack" and not client:
            tx.receive_request(request("ACK", transport=transport), now)
        elif op == "resp" and client:
            tx.receive_response(reply(req, int(arg)), now)
        elif op == "tu" and not client:
            final_sent = tx.state not in (TransactionState.TRYING, TransactionState.PROCEEDING)
            try:
                tx.respond(response_for(req, int(arg), to_tag="t"), now)
            except TransactionError:
                assert final_sent and not (tx.state is TransactionState.ACCEPTED and 200 <= arg < 300)
        elif op == "err":
            tx.transport_error(now)
        if tx.state not in _WAITING[kind] and not tx.terminated:
            assert tx.next_deadline() is not None, f"{tx!r} has no timer to end it"
    # whatever happened, a final answer plus enough time ends every transaction
    if tx.state in _WAITING[kind]:
        if client:
            tx.receive_response(reply(req, 487), now)
        else:
            tx.respond(response_for(req, 480, to_tag="t"), now)
    tx.tick(now + 200.0)
    assert tx.terminated and tx.next_deadline() is None


_MGR_STEP = st.one_of(
    st.tuples(st.just("advance"), st.floats(0.0, 20.0, allow_nan=False), st.just(0)),
    st.tuples(st.just("in"), st.sampled_from(["INVITE", "OPTIONS", "CANCEL", "ACK"]),
              st.integers(0, 3)),
    st.tuples(st.just("send"), st.sampled_from(["INVITE", "BYE", "CANCEL"]), st.integers(0, 3)),
    st.tuples(st.just("resp"), st.sampled_from(["INVITE", "BYE", "CANCEL"]), st.integers(0, 3)),
    st.tuples(st.just("tu"), st.sampled_from(["180", "200", "486"]), st.integers(0, 7)),
)


@settings(max_examples=100, deadline=None)
@given(steps=st.lists(_MGR_STEP, max_size=40), transport=st.sampled_from(["UDP", "TCP"]),
       status=st.sampled_from([100, 183, 200, 404, 503]))
def test_manager_random_traffic_stays_bounded_and_drains(
        steps: list[tuple[str, object, int]], transport: str, status: int) -> None:
    mgr = TransactionManager(max_transactions=5)
    now = 0.0
    servers: list[ServerInviteTransaction | ServerNonInviteTransaction] = []
    for op, what, n in steps:
        branch = f"z9hG4bKr{n}"
        if op == "advance":
            assert isinstance(what, float)
            now += what
            mgr.tick(now)
            deadline = mgr.next_deadline()
            assert deadline is None or deadline > now
        elif op == "in":
            acts = mgr.receive(request(str(what), branch, transport=transport, to_tag="s"),
                               PEER, transport, now)
            servers += [a.transaction for a in acts
                        if isinstance(a, DeliverRequest) and a.transaction is not None]
        elif op == "send":
            try:
                mgr.send_request(request(str(what), "z9hG4bKc" + str(n), transport=transport),
                                 PEER, transport, now)
            except TransactionError as exc:
                assert "already exists" in str(exc) or "table is full" in str(exc)
        elif op == "resp":
            req = request(str(what), "z9hG4bKc" + str(n), transport=transport)
            mgr.receive(reply(req, status), PEER, transport, now)
        elif op == "tu" and servers:
            tx = servers[n % len(servers)]
            code = int(str(what))
            if tx.request.method != "INVITE" and code == 180:
                code = 183
            try:
                mgr.respond(tx, response_for(tx.request, code, to_tag="s"), now)
            except TransactionError:
                assert tx.state not in (TransactionState.TRYING, TransactionState.PROCEEDING)
        assert len(mgr) <= 5
    # answer everything still waiting, then let time run out: the table must drain
    for tx in servers:
        if tx.state in (TransactionState.TRYING, TransactionState.PROCEEDING):
            mgr.respond(tx, response_for(tx.request, 500, to_tag="s"), now)
    for key in list(mgr._table):
        ctx = mgr.get(key)
        if isinstance(ctx, ClientInviteTransaction) and ctx.state is TransactionState.PROCEEDING:
            mgr.receive(reply(ctx.request, 487), PEER, transport, now)
    mgr.tick(now + 200.0)
    assert len(mgr) == 0 and mgr.next_deadline() is None
