"""RFC 4028 session timers: header parsing, UAC/UAS negotiation, 422, deadlines."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from offhook.errors import SipParseError
from offhook.sip import parse_message
from offhook.sip.message import Request, Response
from offhook.sip.session_timer import (
    Reject422,
    SessionExpires,
    SessionTimer,
    SessionTimerConfig,
    TimerAnswer,
    parse_min_se,
    parse_session_expires,
)


def invite(*headers: tuple[str, str]) -> Request:
    lines = "".join(f"{n}: {v}\r\n" for n, v in headers)
    msg = parse_message((
        "INVITE sip:bob@192.0.2.2 SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n"
        "From: <sip:alice@192.0.2.1>;tag=a\r\nTo: <sip:bob@192.0.2.2>\r\n"
        "Call-ID: c1\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
        f"{lines}Content-Length: 0\r\n\r\n").encode())
    assert isinstance(msg, Request)
    return msg


def ok(*headers: tuple[str, str], status: int = 200) -> Response:
    return Response(status=status, reason="X", headers=list(headers))


def test_parse_session_expires() -> None:
    assert parse_session_expires("1800") == SessionExpires(1800)
    assert parse_session_expires(" 90 ; Refresher = UAS ;x=1;y") == SessionExpires(
        90, "uas", (("x", "1"), ("y", None)))
    assert str(SessionExpires(120, "uac", (("x", "1"),))) == "120;refresher=uac;x=1"
    with pytest.raises(SipParseError, match="Session-Expires: 'soon' is not delta-seconds"):
        parse_session_expires("soon")
    with pytest.raises(SipParseError, match="refresher must be 'uac' or 'uas', not 'me'"):
        parse_session_expires("100;refresher=me")
    with pytest.raises(SipParseError, match="malformed parameter"):
        parse_session_expires("100;=x")
    assert parse_min_se("120;foo=bar") == 120
    assert parse_min_se("30") == 90  # below the floor reads as the floor
    with pytest.raises(SipParseError, match="Min-SE: '-1' is not delta-seconds"):
        parse_min_se("-1")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_fuzz_header_parsers(text: str) -> None:
    try:
        se = parse_session_expires(text)
    except SipParseError as exc:
        assert str(exc).startswith("Session-Expires: ")
    else:
        assert parse_session_expires(str(se)) == se
    try:
        assert parse_min_se(text) >= 90
    except SipParseError as exc:
        assert str(exc).startswith("Min-SE: ")


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([None, "uac", "uas"]))
def test_session_expires_round_trip(interval: int, refresher: str | None) -> None:
    se = SessionExpires(interval, refresher)  # type: ignore[arg-type]
    assert parse_session_expires(str(se)) == se


def test_config_is_checked() -> None:
    with pytest.raises(ValueError, match=r"SessionTimerConfig.min_se must be an integer >= 90 s, got 30"):
        SessionTimerConfig(min_se=30)
    with pytest.raises(ValueError, match="min_se <= session_expires <= max_interval"):
        SessionTimerConfig(session_expires=100, min_se=200)


# --- UAC ---------------------------------------------------------------------------------------

def test_uac_initial_request_and_2xx_refresher_uac() -> None:
    t = SessionTimer(SessionTimerConfig(session_expires=600, min_se=120))
    assert t.request_headers() == [("Supported", "timer"), ("Session-Expires", "600"), ("Min-SE", "120")]
    t.on_response(ok(("Session-Expires", "600;refresher=uac"), ("Require", "timer")), now=1000.0)
    assert t.we_refresh and t.active
    assert t.next_deadline() == 1300.0
    assert t.tick(1299.9) is None
    assert t.tick(1300.0) == "refresh"
    assert t.tick(1300.1) is None  # reported once
    assert t.next_deadline() == 1568.0  # 600 - min(32, 200)
    assert t.request_headers()[1] == ("Session-Expires", "600;refresher=uac")
    t.on_response(ok(("Session-Expires", "600;refresher=uac")), now=1310.0)  # refresh succeeded
    assert t.next_deadline() == 1610.0


def test_uac_2xx_refresher_uas_means_peer_refreshes() -> None:
    t = SessionTimer()
    t.on_response(ok(("Session-Expires", "90;refresher=uas")), now=0.0)
    assert not t.we_refresh
    assert t.next_deadline() == 60.0  # 90 - min(32, 30)
    assert t.tick(59.0) is None
    assert t.tick(60.0) == "bye"
    assert not t.active and t.next_deadline() is None


def test_uac_2xx_without_session_expires_means_no_timer() -> None:
    t = SessionTimer()
    t.on_response(ok(), now=0.0)
    assert not t.active and t.next_deadline() is None and t.tick(1e9) is None


def test_uac_2xx_without_refresher_param_means_uac() -> None:
    t = SessionTimer()
    t.on_response(ok(("x", "1800")), now=0.0)  # compact form
    assert t.we_refresh and t.next_deadline() == 900.0


def test_uac_422_raises_interval_and_min_se() -> None:
    t = SessionTimer(SessionTimerConfig(session_expires=90))
    assert t.on_422(ok(("Min-SE", "300"), status=422))
    assert t.request_headers() == [("Supported", "timer"), ("Session-Expires", "300"), ("Min-SE", "300")]
    assert not t.on_422(ok(("Min-SE", "300"), status=422))  # no progress: give up
    assert not t.on_422(ok(("Min-SE", "9000"), status=422))  # beyond max_interval
    assert not t.on_422(ok(status=422))  # no Min-SE at all
    with pytest.raises(ValueError, match="on_422\\(\\) got a 200 response"):
        t.on_422(ok())


# --- UAS -------------------------------------------------------------------------------------------

def test_uas_422_when_interval_too_small_and_uac_supports() -> None:
    t = SessionTimer(SessionTimerConfig(min_se=300, session_expires=1800))
    answer = t.on_request(invite(("Supported", "timer"), ("Session-Expires", "120")), now=0.0)
    assert answer == Reject422(300)
    assert isinstance(answer, Reject422) and answer.headers == [("Min-SE", "300")]
    assert not t.active
    answer = t.on_request(invite(("Supported", "timer"), ("Session-Expires", "120"), ("Min-SE", "400")), 0.0)
    assert answer == Reject422(400)


def test_uas_raises_small_interval_when_uac_lacks_support() -> None:
    t = SessionTimer(SessionTimerConfig(min_se=300))
    answer = t.on_request(invite(("Session-Expires", "120")), now=0.0)
    assert isinstance(answer, TimerAnswer)
    assert answer.headers == [("Session-Expires", "300;refresher=uas")]  # no Require: timer
    assert t.we_refresh and t.next_deadline() == 150.0


def test_uas_keeps_the_uacs_refresher_choice() -> None:
    t = SessionTimer()
    answer = t.on_request(invite(("Supported", "timer"), ("Session-Expires", "900;refresher=uac")), 10.0)
    assert isinstance(answer, TimerAnswer)
    assert answer.headers == [("Session-Expires", "900;refresher=uac"), ("Require", "timer")]
    assert not t.we_refresh and t.next_deadline() == 10.0 + 900 - 32


def test_uas_chooses_when_left_open_and_lowers_long_intervals() -> None:
    uas = SessionTimer(SessionTimerConfig(session_expires=1800, prefer_refresher="uac"))
    answer = uas.on_request(invite(("k", "timer"), ("Session-Expires", "7200"), ("Min-SE", "600")), 0.0)
    assert isinstance(answer, TimerAnswer)
    assert answer.session_expires == SessionExpires(1800, "uac")
    assert not uas.we_refresh
    lowered_to_min = SessionTimer(SessionTimerConfig(session_expires=200)).on_request(
        invite(("Supported", "timer"), ("Session-Expires", "7200"), ("Min-SE", "600")), 0.0)
    assert isinstance(lowered_to_min, TimerAnswer)
    assert lowered_to_min.session_expires == SessionExpires(600, "uas")  # never below their Min-SE


def test_uas_inserts_a_timer_or_not() -> None:
    t = SessionTimer(SessionTimerConfig(session_expires=1200))
    answer = t.on_request(invite(("Supported", "timer, 100rel")), 0.0)
    assert isinstance(answer, TimerAnswer)
    assert answer.headers == [("Session-Expires", "1200;refresher=uas"), ("Require", "timer")]
    quiet = SessionTimer(SessionTimerConfig(uas_inserts=False))
    assert quiet.on_request(invite(("Supported", "timer")), 0.0) == TimerAnswer()
    assert not quiet.active


def test_refresher_role_follows_the_transaction() -> None:
    """We were UAC (refresher=uac: we refresh); then the peer re-INVITEs naming itself."""
    t = SessionTimer()
    t.on_response(ok(("Session-Expires", "1800;refresher=uac")), 0.0)
    assert t.we_refresh
    answer = t.on_request(invite(("Supported", "timer"), ("Session-Expires", "1800;refresher=uac")), 500.0)
    assert isinstance(answer, TimerAnswer)
    assert not t.we_refresh  # "uac" of that re-INVITE is the peer
    assert t.next_deadline() == 500.0 + 1800 - 32
    assert t.tick(500.0 + 900) is None  # we no longer refresh
