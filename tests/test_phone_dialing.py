"""What the user dials -> URI; the E-model MOS estimate."""
from __future__ import annotations

import pytest

from offhook.phone.contacts import Contact, Contacts
from offhook.phone.dialing import DialError, resolve_target
from offhook.phone.mos import mos_from_r, quality_from_stats, r_factor

BOOK = Contacts([Contact("Carol Smith", ("+49 30 1234",)), Contact("Dave", ("sip:dave@pbx.example.com",))])
SPEED = {"1": "Carol Smith", "2": "sip:bob@example.com", "9": "555-0100"}


@pytest.mark.parametrize(("text", "uri"), [
    ("sip:bob@example.com", "sip:bob@example.com"),
    ("bob@127.0.0.1:5070", "sip:bob@127.0.0.1:5070"),
    ("+49 (30) 1234", "sip:+49301234@example.com"),
    ("tel:*21#", "sip:*21#@example.com"),
    ("1", "sip:+49301234@example.com"),       # speed dial -> contact -> number
    ("2", "sip:bob@example.com"),
    ("9", "sip:5550100@example.com"),
    ("carol", "sip:+49301234@example.com"),    # contact name (prefix)
    ("Dave", "sip:dave@pbx.example.com"),
    ("frank", "sip:frank@example.com"),        # a plain user at the account's domain
])
def test_resolve(text: str, uri: str) -> None:
    assert resolve_target(text, domain="example.com", speed_dial=SPEED, contacts=BOOK) == uri


def test_resolve_errors() -> None:
    with pytest.raises(DialError, match="nothing to dial"):
        resolve_target("  ", domain="x")
    with pytest.raises(DialError, match="cannot dial the number '123' without an account"):
        resolve_target("123", domain=None)
    with pytest.raises(DialError, match="'no such person' is not a URI, number, speed-dial key or known"):
        resolve_target("no such person", domain="x", contacts=BOOK)


def test_e_model() -> None:
    assert mos_from_r(93.2) == pytest.approx(4.41, abs=0.01)        # G.711 at no delay, no loss
    assert mos_from_r(-5) == 1.0 and mos_from_r(120) == 4.5
    clean, lossy, slow = r_factor(20, 0), r_factor(20, 5), r_factor(400, 0)
    assert clean > 90 and slow < 70
    assert lossy == pytest.approx(93.2 - 0.48 - 95 * 5 / 30.1)   # 5 % loss with PLC: Ie_eff ~ 15.8
    stats = {"packets_received": 100, "expected": 100, "lost": 10, "jitter_ms": 4.0,
             "rtcp": {"peer_fraction_lost": 0.02, "rtt_ms": 80.0}, "playout": {"current_delay_ms": 40}}
    q = quality_from_stats(stats, "PCMU", 20)
    assert q is not None and q.loss_percent == 10.0 and q.delay_ms == 100.0 and 2.5 < q.mos < 3.5
    assert quality_from_stats({"packets_received": 0}) is None
