"""The user agent core never raises on a request that parses: mutated in-dialog and new
requests (REFER, NOTIFY, INFO, UPDATE, re-INVITE, MESSAGE, INVITE with Replaces or
Session-Expires...) are answered or dropped, never an exception (hypothesis)."""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from offhook.errors import SipParseError
from offhook.sip import parse_message
from offhook.sip.dialog import LocalContact
from offhook.sip.message import Request
from offhook.sip.transaction import Send, TransactionManager
from offhook.sip.transport import _check_essentials
from offhook.sip.ua import CallState, UserAgent
from offhook.sip.uri import SipURI
from test_sip_ua import A, B, Net, caps

HEADERS = ["Refer-To", "Referred-By", "Replaces", "Event", "Subscription-State", "Session-Expires",
           "Min-SE", "Supported", "Require", "Content-Type", "Allow", "Contact", "Call-Info",
           "Answer-Mode", "CSeq", "To", "From"]
VALUES = st.one_of(
    st.sampled_from(["<sip:carol@127.0.0.1:5090>", "<sip:c@h?Replaces=x%40h%3Bto-tag%3D1%3Bfrom-tag%3D2>",
                     "refer;id=1", "terminated;reason=noresource", "active;expires=60", "90;refresher=uac",
                     "1;refresher=uas", "timer", "application/dtmf-relay", "message/sipfrag;version=2.0",
                     "text/plain;charset=bogus", "x@h;to-tag=a;from-tag=b;early-only", "<sip:x@[::1]:0>",
                     "4294967296", "", ";;;", "<>", "tel:+1", "answer-after=0", "Auto", "1 NOTIFY"]),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40))
BODIES = st.sampled_from([b"", b"SIP/2.0 200 OK\r\n", b"SIP/2.0 1000 x", b"Signal=5\r\nDuration=160",
                          b"Signal=Z", b"v=0\r\n", b"\xff\xfe", b"hello"])
METHODS = st.sampled_from(["REFER", "NOTIFY", "INFO", "UPDATE", "INVITE", "MESSAGE", "BYE", "OPTIONS",
                           "PRACK", "SUBSCRIBE"])


def established() -> tuple[Net, UserAgent, UserAgent]:
    a = UserAgent(LocalContact(*A, user="alice"), identity=SipURI(host="127.0.0.1", user="alice"))
    b = UserAgent(LocalContact(*B, user="bob"), identity=SipURI(host="127.0.0.1", user="bob"),
                  media_capabilities=lambda req: caps(42000))
    net = Net({A: a, B: b})
    call, out = a.call("sip:bob@127.0.0.1:5080", caps(41000), 0.0)
    net.run(A, out)
    [theirs] = b.calls.values()
    net.run(B, b.answer(theirs, 0.0))
    assert call.state is CallState.ESTABLISHED
    return net, a, b


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(METHODS, st.booleans(), st.lists(st.tuples(st.sampled_from(HEADERS), VALUES), max_size=4), BODIES)
def test_mutated_requests_never_raise_out_of_the_core(method: str, in_dialog: bool,
                                                      headers: list[tuple[str, str]], body: bytes) -> None:
    _net, a, b = established()
    [call] = a.calls.values()
    assert call.dialog is not None
    if in_dialog:
        req = call.dialog.new_request(method, a.contact, body=body, content_type="application/sdp")
    else:
        req = Request(method=method, uri=SipURI(host="127.0.0.1", port=5080, user="bob"))
        for name, value in (("Via", a.contact.via()), ("From", "<sip:alice@127.0.0.1>;tag=f1"),
                            ("To", "<sip:bob@127.0.0.1>"), ("Call-ID", "fuzz@h"), ("CSeq", f"1 {method}"),
                            ("Contact", "<sip:alice@127.0.0.1:5070>"), ("Content-Length", str(len(body)))):
            req.add_header(name, value)
        req.body = body
    for name, value in headers:
        req.set_header(name, value)
    try:
        msg = parse_message(bytes(req))
        _check_essentials(msg)
    except SipParseError:
        return   # the transport answers these 400 before the core sees them
    out = b.receive(msg, A, "UDP", 1.0)
    out += b.tick(200.0)
    sends = [o for o in out if isinstance(o, Send)]
    for send in sends:
        parse_message(send.data)   # whatever the core says is well-formed
    assert len(b.transactions) <= TransactionManager().max_transactions
