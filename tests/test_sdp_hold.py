"""Hold/resume direction rules (RFC 3264 §8.4) and mid-call media change detection."""
from __future__ import annotations

import itertools

import pytest

from offhook.sdp import (
    DIRECTIONS,
    MediaCapabilities,
    MediaUpdate,
    OfferAnswer,
    SessionDescription,
    answer_direction,
    hold_direction,
    media_update,
    offerer_direction,
    parse_sdp,
    same_sdp_version,
)
from offhook.sdp.session import Direction


def offer(body: str, *, conn: str = "192.0.2.5", port: int = 5000, version: int = 1) -> SessionDescription:
    return parse_sdp(f"v=0\r\no=peer 77 {version} IN IP4 {conn}\r\ns=-\r\nc=IN IP4 {conn}\r\nt=0 0\r\n"
                     f"m=audio {port} RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
                     f"a=rtpmap:101 telephone-event/8000\r\n{body}")


def us() -> OfferAnswer:
    return OfferAnswer(MediaCapabilities(address="192.0.2.10", port=40000, codecs=("PCMU", "PCMA")),
                       session_id=9)


@pytest.mark.parametrize(("current", "expected"), [
    (None, "sendonly"), ("sendrecv", "sendonly"), ("recvonly", "inactive"),
    ("sendonly", "sendonly"), ("inactive", "inactive")])
def test_hold_direction_table(current: Direction | None, expected: Direction) -> None:
    assert hold_direction(current) == expected


def test_hold_direction_never_receives() -> None:
    for current, policy in itertools.product((None, *DIRECTIONS), DIRECTIONS):
        held = hold_direction(current, policy)
        assert held in ("sendonly", "inactive")
        # never widens what the stream or the policy allowed
        assert held == "inactive" or (policy in ("sendrecv", "sendonly")
                                      and current in (None, "sendrecv", "sendonly"))


def test_answer_and_offerer_directions_agree() -> None:
    """Whatever we offer and whatever the peer's policy, the two ends mirror each other."""
    for offered, policy in itertools.product(DIRECTIONS, DIRECTIONS):
        answered = answer_direction(offered, policy)
        ours = offerer_direction(offered, answered)
        mirror = {"sendrecv": "sendrecv", "sendonly": "recvonly", "recvonly": "sendonly",
                  "inactive": "inactive"}
        assert mirror[ours] == answered


def test_we_hold_while_the_peer_holds_us_offers_inactive() -> None:
    a = us()
    a.receive_offer(offer("a=sendonly\r\n"))  # the peer holds us: we answered recvonly
    assert a.current is not None and a.current.direction == "recvonly"
    held = a.create_offer(hold=True)
    assert held.media[0].direction == "inactive"
    assert a.receive_answer(offer("a=inactive\r\n", version=2)).direction == "inactive"
    # the peer resumes while we hold: we answer sendonly; our resume then offers sendrecv
    answer, media = a.receive_offer(offer("a=sendrecv\r\n", version=3))
    assert (answer.media[0].direction, media.direction) == ("sendonly", "sendonly")
    assert a.create_offer(hold=False).media[0].direction == "sendrecv"


def test_media_update_reports_remote_and_direction_changes() -> None:
    a = us()
    _, first = a.receive_offer(offer(""))
    assert media_update(None, first) == MediaUpdate(("192.0.2.5", 5000), "sendrecv", "PCMU", (), ("new",))
    _, same = a.receive_offer(offer("", version=2))
    assert not media_update(first, same).needed
    _, moved = a.receive_offer(offer("", conn="192.0.2.99", port=6000, version=3))
    update = media_update(same, moved)
    assert update.update_arguments() == {"remote": ("192.0.2.99", 6000)}
    assert update.restart == () and "remote_rtcp" in update.changed  # RTCP follows to port+1
    _, rtcp_elsewhere = a.receive_offer(offer("a=rtcp:7000\r\n", conn="192.0.2.99", port=6000, version=4))
    assert media_update(moved, rtcp_elsewhere).restart == ("remote_rtcp",)
    _, held = a.receive_offer(offer("a=sendonly\r\n", conn="192.0.2.99", port=6000, version=5))
    update = media_update(moved, held)
    assert update.update_arguments() == {"direction": "recvonly"}
    assert update.restart == () and "held_by_remote" in update.changed


def test_media_update_codec_change_and_restart_fields() -> None:
    a = us()
    _, pcmu = a.receive_offer(offer(""))
    pcma_first = parse_sdp(str(offer("", version=2)).replace("RTP/AVP 0 8 101", "RTP/AVP 8 0 101"))
    _, pcma = a.receive_offer(pcma_first)
    update = media_update(pcmu, pcma)
    assert update.codec == "PCMA"
    assert set(update.restart) == {"payload_type", "recv_payload_type"}


def test_same_sdp_version() -> None:
    first = offer("")
    assert same_sdp_version(first, offer(""))
    assert not same_sdp_version(first, offer("", version=2))
    assert not same_sdp_version(None, first)
