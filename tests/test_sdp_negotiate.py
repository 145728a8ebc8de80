"""RFC 3264 offer/answer (offhook.sdp.negotiate): codecs, directions, hold, crypto, re-offers."""
from __future__ import annotations

import base64
import itertools
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from offhook.errors import CodecError, NegotiationError, SdpError
from offhook.sdp import (
    DIRECTIONS,
    MediaCapabilities,
    NegotiatedMedia,
    OfferAnswer,
    SessionDescription,
    answer_direction,
    media_update,
    parse_sdp,
)

DATA = Path(__file__).parent / "data" / "sdp"
KEY_A = bytes(range(30))
KEY_B = bytes(range(100, 130))


def fixture(name: str) -> SessionDescription:
    return parse_sdp((DATA / name).read_bytes())


def keys(key: bytes):
    """A deterministic key source handing out `key` cut to the length asked."""
    def source(length: int) -> bytes:
        return (key * 4)[:length]
    return source


def caps(**kw) -> MediaCapabilities:
    kw.setdefault("address", "192.0.2.10")
    kw.setdefault("port", 40000)
    return MediaCapabilities(**kw)


def offer(*media: str, conn: str = "192.0.2.5", version: int = 1, session: str = "") -> SessionDescription:
    """An offer from a peer at `conn`; each media string is an m= line with its attributes."""
    head = f"v=0\r\no=peer 77 {version} IN IP4 {conn}\r\ns=-\r\nc=IN IP4 {conn}\r\nt=0 0\r\n{session}"
    return parse_sdp(head + "".join(m.strip().replace("\n", "\r\n") + "\r\n" for m in media))


PCMU_ONLY = "m=audio 5000 RTP/AVP 0\na=rtpmap:0 PCMU/8000"


def answer_for(o: SessionDescription, **kw) -> tuple[SessionDescription, NegotiatedMedia]:
    answer, media = OfferAnswer(caps(**kw), session_id=5).receive_offer(o)
    # every answer we write is valid SDP that parses back to itself
    assert parse_sdp(str(answer)) == answer
    return answer, media


# -- our offer ----------------------------------------------------------------------

def test_offer_lists_the_registry_codecs_with_their_payload_types():
    sdp = OfferAnswer(caps(), session_id=1234).create_offer()
    text = str(sdp)
    assert parse_sdp(text) == sdp
    (audio,) = sdp.media
    assert (audio.port, audio.proto) == (40000, "RTP/AVP")
    assert audio.formats == ["111", "9", "0", "8", "110", "101", "13"]
    rtpmaps = {pt: str(m) for pt, m in audio.rtpmaps.items()}
    assert rtpmaps == {111: "111 opus/48000/2", 9: "9 G722/8000", 0: "0 PCMU/8000", 8: "8 PCMA/8000",
                       110: "110 telephone-event/48000", 101: "101 telephone-event/8000",
                       13: "13 CN/8000"}
    assert {f: str(v) for f, v in audio.fmtps.items()} == {
        "111": "111 useinbandfec=1", "110": "110 0-16", "101": "101 0-16"}
    assert audio.ptime == 20 and audio.rtcp_mux and audio.direction == "sendrecv" and not audio.cryptos
    assert sdp.origin.session_id == "1234" and sdp.origin.version == 1234
    assert sdp.connection is not None and sdp.connection.address == "192.0.2.10"
    assert text.startswith("v=0\r\no=- 1234 1234 IN IP4 192.0.2.10\r\ns=offhook\r\n"
                           "c=IN IP4 192.0.2.10\r\nt=0 0\r\n")


def test_offer_with_8000_codecs_only_has_one_telephone_event():
    audio = OfferAnswer(caps(codecs=("PCMA", "PCMU"), ptime=30, maxptime=60, rtcp_mux=False,
                             rtcp_port=40003)).create_offer().media[0]
    assert audio.formats == ["8", "0", "101", "13"]
    assert audio.ptime == 30 and audio.maxptime == 60 and not audio.rtcp_mux
    assert audio.rtcp is not None and audio.rtcp.port == 40003


def test_every_new_offer_increments_the_version():
    a = OfferAnswer(caps(), session_id=10)
    b = OfferAnswer(caps(address="192.0.2.20", port=50000), session_id=20)
    versions = []
    for hold in (None, True, False, None):
        o = a.create_offer(hold=hold)
        versions.append(o.origin.version)
        assert o.origin.session_id == "10"
        a.receive_answer(b.receive_offer(o)[0])
    assert versions == [10, 11, 12, 13]


# -- codec choice ---------------------------------------------------------------------

def test_answer_keeps_offer_order_and_payload_types_by_default():
    answer, media = answer_for(fixture("baresip_offer.sdp"), codecs=("PCMA", "G722"))
    assert answer.media[0].formats == ["9", "8", "101"]
    assert (media.codec, media.payload_type, media.recv_payload_type) == ("G722", 9, 9)


def test_answerer_preference_reorders_the_common_codecs():
    answer, media = answer_for(fixture("baresip_offer.sdp"), codecs=("PCMA", "G722"), prefer="answerer")
    assert answer.media[0].formats == ["8", "9", "101"]
    assert (media.codec, media.payload_type) == ("PCMA", 8)


def test_dynamic_codec_matched_by_name_clock_and_channels_not_number():
    o = offer("m=audio 5000 RTP/AVP 98 97 0\na=rtpmap:98 OPUS/48000/1\na=rtpmap:97 Opus/48000/2\n"
              "a=fmtp:97 maxplaybackrate=16000\na=rtpmap:0 PCMU/8000")
    answer, media = answer_for(o)
    # opus/48000/1 is not opus as RFC 7587 writes it: skipped
    assert answer.media[0].formats == ["97", "0"]
    assert (media.codec, media.payload_type, media.clock_rate, media.channels) == ("opus", 97, 48000, 2)
    assert media.fmtp == "maxplaybackrate=16000"
    assert str(answer.media[0].fmtp(97)) == "97 useinbandfec=1"


def test_static_payload_types_without_rtpmap_are_understood():
    _, media = answer_for(offer("m=audio 5000 RTP/AVP 18 8"))
    assert (media.codec, media.payload_type) == ("PCMA", 8)


def test_no_common_codec_is_a_488_naming_both_sides():
    with pytest.raises(NegotiationError) as info:
        answer_for(offer("m=audio 5000 RTP/AVP 18 3 96\na=rtpmap:96 iLBC/8000"), codecs=("PCMA", "opus"))
    assert info.value.status_code == 488
    assert str(info.value) == ("no acceptable audio stream in the offer: m-line 1: no common codec: "
                               "the offer has G729/8000, GSM/8000, iLBC/8000; offhook has PCMA, opus")


def test_g722_keeps_its_8000_rtp_clock_even_when_the_peer_writes_16000():
    for clock in (8000, 16000):
        o = offer(f"m=audio 5000 RTP/AVP 9\na=rtpmap:9 G722/{clock}")
        answer, media = answer_for(o, codecs=("G722",))
        assert (media.codec, media.clock_rate, media.sample_rate) == ("G722", 8000, 16000)
        assert answer.media[0].rtpmap(9) is not None
    ours = OfferAnswer(caps(codecs=("G722",))).create_offer().media[0]
    assert str(ours.rtpmap(9)) == "9 G722/8000"


def test_opus_fmtp_of_the_peer_reaches_the_result():
    _, media = answer_for(fixture("baresip_offer.sdp"))
    assert (media.codec, media.payload_type) == ("opus", 96)
    assert media.fmtp == "stereo=1;sprop-stereo=1;useinbandfec=1"
    assert media.sample_rate == 48000


def test_telephone_event_at_the_codec_clock_is_preferred():
    o = offer("m=audio 5000 RTP/AVP 111 0 110 126\na=rtpmap:111 opus/48000/2\na=rtpmap:0 PCMU/8000\n"
              "a=rtpmap:110 telephone-event/48000\na=rtpmap:126 telephone-event/8000")
    answer, media = answer_for(o)
    assert (media.dtmf_payload_type, media.dtmf_clock_rate) == (110, 48000)
    assert answer.media[0].formats == ["111", "0", "110", "126"]
    _, pcmu = answer_for(o, codecs=("PCMU",))
    assert (pcmu.dtmf_payload_type, pcmu.dtmf_clock_rate) == (126, 8000)


def test_telephone_event_8000_is_used_with_opus_when_alone():
    answer, media = answer_for(fixture("baresip_offer.sdp"), codecs=("opus",))
    assert (media.dtmf_payload_type, media.dtmf_clock_rate) == (101, 8000)
    assert answer.media[0].formats == ["96", "101"]
    assert str(answer.media[0].fmtp(101)) == "101 0-16"


def test_telephone_event_can_be_declined():
    answer, media = answer_for(fixture("baresip_offer.sdp"), telephone_event=False)
    assert media.dtmf_payload_type is None and "101" not in answer.media[0].formats


def test_sipp_offer_pcmu_only():
    answer, media = answer_for(fixture("sipp_uac_offer.sdp"))
    assert media.codec == "PCMU"
    assert (media.remote, media.remote_rtcp) == (("127.0.0.1", 6000), ("127.0.0.1", 6001))
    assert media.dtmf_payload_type is None and not media.rtcp_mux
    assert not answer.media[0].rtcp_mux


# -- m-lines --------------------------------------------------------------------------

def test_other_streams_are_rejected_with_port_0_in_order():
    o = offer("m=video 6000 RTP/AVP 96\na=rtpmap:96 VP8/90000", PCMU_ONLY,
              "m=audio 7000 RTP/AVP 8\na=rtpmap:8 PCMA/8000", "m=application 8000 UDP/BFCP *")
    answer, media = answer_for(o)
    assert [(m.media, m.port) for m in answer.media] == [("video", 0), ("audio", 40000), ("audio", 0),
                                                         ("application", 0)]
    assert answer.media[0].formats == ["96"] and answer.media[3].proto == "UDP/BFCP"
    assert media.media_index == 1 and media.remote == ("192.0.2.5", 5000)


def test_disabled_stream_in_the_offer_stays_disabled_and_ipv6_is_answered():
    answer, media = answer_for(fixture("ipv6_offer.sdp"), address="2001:db8::20")
    assert [m.port for m in answer.media] == [40000, 0]
    assert str(answer.connection) == "IN IP6 2001:db8::20" and answer.origin.addrtype == "IP6"
    assert media.remote == ("2001:db8::10", 7078) and media.remote_rtcp == media.remote and media.rtcp_mux


def test_unsupported_transport_is_refused():
    with pytest.raises(NegotiationError, match="transport UDP/TLS/RTP/SAVPF is not supported"):
        answer_for(fixture("webrtc_offer.sdp"))


def test_offer_without_audio_is_refused():
    with pytest.raises(NegotiationError, match="it has no audio m-line with a port"):
        answer_for(offer("m=video 6000 RTP/AVP 96\na=rtpmap:96 VP8/90000", "m=audio 0 RTP/AVP 0"))


# -- directions -----------------------------------------------------------------------

TABLE = {  # (offered, local policy) -> answer; RFC 3264 §6.1 narrowed by policy
    ("sendrecv", "sendrecv"): "sendrecv", ("sendrecv", "sendonly"): "sendonly",
    ("sendrecv", "recvonly"): "recvonly", ("sendrecv", "inactive"): "inactive",
    ("sendonly", "sendrecv"): "recvonly", ("sendonly", "sendonly"): "inactive",
    ("sendonly", "recvonly"): "recvonly", ("sendonly", "inactive"): "inactive",
    ("recvonly", "sendrecv"): "sendonly", ("recvonly", "sendonly"): "sendonly",
    ("recvonly", "recvonly"): "inactive", ("recvonly", "inactive"): "inactive",
    ("inactive", "sendrecv"): "inactive", ("inactive", "sendonly"): "inactive",
    ("inactive", "recvonly"): "inactive", ("inactive", "inactive"): "inactive",
}


@pytest.mark.parametrize(("offered", "policy"), list(itertools.product(DIRECTIONS, DIRECTIONS)))
def test_direction_table(offered, policy):
    expected = TABLE[(offered, policy)]
    assert answer_direction(offered, policy) == expected
    answer, media = answer_for(offer(PCMU_ONLY + f"\na={offered}"), direction=policy)
    assert answer.media[0].direction == expected
    assert media.direction == expected  # our answer's direction is ours
    assert media.held_by_remote == (offered in ("sendonly", "inactive"))


def test_session_level_direction_applies_to_the_stream():
    answer, media = answer_for(offer(PCMU_ONLY, session="a=recvonly\r\n"))
    assert answer.media[0].direction == "sendonly" and media.direction == "sendonly"


def test_we_see_the_answer_reversed_and_narrowed_by_our_offer():
    a = OfferAnswer(caps())
    o = a.create_offer(hold=True)
    assert o.media[0].direction == "sendonly"
    reply = offer(PCMU_ONLY + "\na=sendrecv")  # a peer answering more than offered
    assert a.receive_answer(reply).direction == "sendonly"


# -- hold and resume --------------------------------------------------------------------

def pair() -> tuple[OfferAnswer, OfferAnswer]:
    return (OfferAnswer(caps(), session_id=100),
            OfferAnswer(caps(address="192.0.2.20", port=50000), session_id=200))


def test_hold_and_resume_with_sendonly_offers():
    a, b = pair()
    a.receive_answer(b.receive_offer(a.create_offer())[0])
    assert a.current is not None and b.current is not None
    assert a.current.direction == b.current.direction == "sendrecv"

    held = a.create_offer(hold=True)
    assert held.media[0].direction == "sendonly" and held.origin.version == 101
    answer, b_side = b.receive_offer(held)
    assert answer.media[0].direction == "recvonly"
    assert (b_side.direction, b_side.held_by_remote) == ("recvonly", True)
    a_side = a.receive_answer(answer)
    assert (a_side.direction, a_side.held_by_remote) == ("sendonly", False)
    assert a.holding

    # while on hold a session refresh keeps the hold
    refresh = a.create_offer()
    assert refresh.media[0].direction == "sendonly"
    a.receive_answer(b.receive_offer(refresh)[0])

    resumed = a.create_offer(hold=False)
    assert resumed.media[0].direction == "sendrecv" and resumed.origin.version == 103
    answer, b_side = b.receive_offer(resumed)
    assert b_side.direction == "sendrecv" and not b_side.held_by_remote
    assert a.receive_answer(answer).direction == "sendrecv"


def test_mutual_hold_goes_inactive():
    a, b = pair()
    a.receive_answer(b.receive_offer(a.create_offer())[0])
    a.receive_answer(b.receive_offer(a.create_offer(hold=True))[0])
    b_offer = b.create_offer(hold=True)
    assert b_offer.media[0].direction == "inactive"  # RFC 3264 §8.4: b was recvonly (held by a)
    answer, a_side = a.receive_offer(b_offer)
    assert answer.media[0].direction == "inactive" and a_side.direction == "inactive"
    assert b.receive_answer(answer).direction == "inactive"


def test_old_style_hold_with_connection_0000_is_recognised():
    b = OfferAnswer(caps())
    _, before = b.receive_offer(offer("m=audio 16434 RTP/AVP 0 101\na=rtpmap:0 PCMU/8000\n"
                                      "a=rtpmap:101 telephone-event/8000", conn="198.51.100.9"))
    answer, held = b.receive_offer(fixture("old_hold_reinvite.sdp"))
    assert answer.media[0].direction == "recvonly"
    assert (held.direction, held.held_by_remote, held.remote) == ("recvonly", True, ("0.0.0.0", 16434))
    assert held.differences(before) == ("remote", "remote_rtcp", "direction", "held_by_remote")
    _, resumed = b.receive_offer(offer("m=audio 16434 RTP/AVP 0 101\na=rtpmap:0 PCMU/8000\n"
                                       "a=rtpmap:101 telephone-event/8000", conn="198.51.100.9"))
    assert resumed == before


# -- ptime and RTCP -----------------------------------------------------------------------

@pytest.mark.parametrize(("attrs", "expected"), [
    ("", 20), ("\na=ptime:30", 30), ("\na=ptime:20\na=maxptime:10", 10),
    ("\na=ptime:2.5", 2), ("\na=maxptime:150", 20)])
def test_ptime_we_send_with_follows_the_peer(attrs, expected):
    _, media = answer_for(offer(PCMU_ONLY + attrs))
    assert media.ptime == expected


def test_offers_and_answers_say_the_longest_packet_we_take():
    # offhook's engine stores G.711/G.722 packets of up to 64 ms (tests/test_media_engine.py)
    made = OfferAnswer(caps()).create_offer()
    assert made.media[0].maxptime == 60 and made.media[0].ptime == 20
    answer, _ = answer_for(offer(PCMU_ONLY))
    assert answer.media[0].maxptime == 60
    assert OfferAnswer(caps(maxptime=None)).create_offer().media[0].maxptime is None


def test_rtcp_mux_only_when_both_sides_want_it():
    with_mux = offer(PCMU_ONLY + "\na=rtcp-mux")
    answer, media = answer_for(with_mux)
    assert answer.media[0].rtcp_mux and media.rtcp_mux and media.remote_rtcp == ("192.0.2.5", 5000)
    answer, media = answer_for(with_mux, rtcp_mux=False)
    assert not answer.media[0].rtcp_mux and not media.rtcp_mux and media.remote_rtcp == ("192.0.2.5", 5001)


def test_rtcp_attribute_gives_the_rtcp_address():
    _, media = answer_for(fixture("rtpengine_offer.sdp"))
    assert media.remote_rtcp == ("198.51.100.7", 30001) and media.codec == "PCMA"
    _, media = answer_for(offer(PCMU_ONLY + "\na=rtcp:6001 IN IP4 192.0.2.99"))
    assert media.remote_rtcp == ("192.0.2.99", 6001)


# -- SRTP (SDES) ---------------------------------------------------------------------------

def test_srtp_offer_is_answered_with_the_first_usable_crypto_line():
    oa = OfferAnswer(caps(srtp="optional"), key_source=keys(KEY_B))
    answer, media = oa.receive_offer(fixture("asterisk_srtp_offer.sdp"))
    (line,) = answer.media[0].cryptos
    assert (line.tag, line.suite) == (1, "AES_CM_128_HMAC_SHA1_80")
    assert answer.media[0].proto == "RTP/SAVP"
    assert media.secure and media.srtp_suite == "AES_CM_128_HMAC_SHA1_80"
    assert media.srtp_remote_key == base64.b64decode("WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz")
    assert media.srtp_local_key == KEY_B
    assert line.inline_keys == [base64.b64encode(KEY_B).decode()]
    assert "WVNfX19z" not in repr(media) and repr(KEY_B) not in repr(media)


def test_srtp_offer_refused_when_srtp_is_off():
    with pytest.raises(NegotiationError, match=r"requires SRTP \(RTP/SAVP\) and SRTP is off"):
        answer_for(fixture("asterisk_srtp_offer.sdp"))


def test_required_srtp_refuses_a_plain_offer():
    with pytest.raises(NegotiationError, match="no usable SRTP crypto line \\(offered suites: none"):
        answer_for(fixture("sipp_uac_offer.sdp"), srtp="required")


def test_optional_srtp_accepts_a_plain_offer():
    answer, media = answer_for(fixture("sipp_uac_offer.sdp"), srtp="optional")
    assert not media.secure and media.srtp_local_key is None and not answer.media[0].cryptos


def test_unusable_crypto_lines_are_skipped():
    good = base64.b64encode(KEY_A).decode()
    short = base64.b64encode(KEY_A[:20]).decode()
    o = offer("m=audio 5000 RTP/SAVP 0\na=rtpmap:0 PCMU/8000\n"
              f"a=crypto:1 F8_128_HMAC_SHA1_80 inline:{good}\n"
              f"a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:{short}\n"
              f"a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:{good}|2^20|1:4\n"
              f"a=crypto:4 AES_CM_128_HMAC_SHA1_80 inline:{good} KDR=1\n"
              f"a=crypto:5 AES_CM_128_HMAC_SHA1_32 inline:{good} -UNKNOWN_OPTIONAL")
    answer, media = answer_for(o, srtp="required")
    assert answer.media[0].cryptos[0].tag == 5 and media.srtp_remote_key == KEY_A
    with pytest.raises(NegotiationError,
                       match="offered suites: F8_128_HMAC_SHA1_80, AES_CM_128_HMAC_SHA1_80"):
        answer_for(o, srtp="required", srtp_suites=("AEAD_AES_128_GCM",))


def test_required_srtp_offer_and_answers():
    a = OfferAnswer(caps(srtp="required"), key_source=keys(KEY_A))
    o = a.create_offer()
    audio = o.media[0]
    assert audio.proto == "RTP/SAVP"
    assert [(c.tag, c.suite) for c in audio.cryptos] == [(1, "AES_CM_128_HMAC_SHA1_80"),
                                                         (2, "AES_CM_128_HMAC_SHA1_32")]
    b = OfferAnswer(caps(address="192.0.2.20", srtp="optional", srtp_suites=("AES_CM_128_HMAC_SHA1_32",)),
                    key_source=keys(KEY_B))
    answer, b_side = b.receive_offer(o)
    a_side = a.receive_answer(answer)
    assert a_side.srtp_suite == b_side.srtp_suite == "AES_CM_128_HMAC_SHA1_32"
    assert (a_side.srtp_local_key, a_side.srtp_remote_key) == (KEY_A, KEY_B)
    assert (b_side.srtp_local_key, b_side.srtp_remote_key) == (KEY_B, KEY_A)
    # a re-offer (hold) keeps the key
    assert a.create_offer(hold=True).media[0].cryptos == audio.cryptos
    a.rollback()

    plain = str(answer).replace(f"a=crypto:{answer.media[0].cryptos[0]}\r\n", "")
    a.create_offer()
    with pytest.raises(NegotiationError, match="we required SRTP but the answer has no crypto line"):
        a.receive_answer(parse_sdp(plain))
    a.create_offer()
    wrong = str(answer).replace("a=crypto:2 AES_CM_128_HMAC_SHA1_32", "a=crypto:2 AES_CM_128_HMAC_SHA1_80")
    with pytest.raises(NegotiationError, match="does not match one we offered"):
        a.receive_answer(parse_sdp(wrong))
    assert a.current == a_side  # failed answers change nothing agreed


# -- re-offers and answers to our offers ----------------------------------------------------

def test_reoffer_with_changed_port_or_address_shows_in_the_differences():
    b = OfferAnswer(caps())
    first_answer, first = b.receive_offer(offer(PCMU_ONLY, version=1))
    same_answer, same = b.receive_offer(offer(PCMU_ONLY, version=1))
    assert same == first and same.differences(first) == ()
    assert same_answer.origin.version == first_answer.origin.version  # unchanged answer, same version
    moved_answer, moved = b.receive_offer(offer(PCMU_ONLY.replace("5000", "5002"), version=2))
    assert moved.differences(first) == ("remote", "remote_rtcp")
    assert moved.remote == ("192.0.2.5", 5002)
    assert moved_answer.origin.version == first_answer.origin.version  # our side did not change
    _, readdressed = b.receive_offer(offer(PCMU_ONLY.replace("5000", "5002"), conn="192.0.2.77", version=3))
    assert readdressed.remote == ("192.0.2.77", 5002)
    assert readdressed.differences(moved) == ("remote", "remote_rtcp")
    held_answer, _ = b.receive_offer(offer(PCMU_ONLY + "\na=inactive", version=4))
    assert held_answer.origin.version == first_answer.origin.version + 1


def test_failed_reoffer_leaves_the_session_as_it_was():
    b = OfferAnswer(caps(codecs=("PCMU",)))
    answer, agreed = b.receive_offer(offer(PCMU_ONLY))
    with pytest.raises(NegotiationError):
        b.receive_offer(offer("m=audio 5000 RTP/AVP 8\na=rtpmap:8 PCMA/8000", version=2))
    assert b.current == agreed and b.local == answer


def test_reoffer_keeps_the_sessions_m_lines():
    b = OfferAnswer(caps())
    b.receive_offer(offer("m=video 6000 RTP/AVP 96\na=rtpmap:96 VP8/90000", PCMU_ONLY))
    re = b.create_offer(hold=True)
    assert [(m.media, m.port) for m in re.media] == [("video", 0), ("audio", 40000)]
    with pytest.raises(NegotiationError, match="fewer than the 2 of the session"):
        b.rollback()
        b.receive_offer(offer(PCMU_ONLY))


def test_answer_with_other_payload_numbers_is_followed():
    a = OfferAnswer(caps(codecs=("opus", "PCMU")))
    a.create_offer()
    media = a.receive_answer(offer("m=audio 5000 RTP/AVP 96 0\na=rtpmap:96 opus/48000/2\n"
                                   "a=rtpmap:0 PCMU/8000"))
    assert (media.codec, media.payload_type, media.recv_payload_type) == ("opus", 96, 111)


@pytest.mark.parametrize(("reply", "message"), [
    ("m=audio 0 RTP/AVP 0", "the answer rejected our audio stream"),
    ("m=video 5000 RTP/AVP 0", "the answer has m=video where our offer had m=audio"),
    ("m=audio 5000 RTP/SAVP 0", "the answer changed the transport from RTP/AVP to RTP/SAVP"),
    ("m=audio 5000 RTP/AVP 18", "the answer has none of the codecs we offered: it has G729/8000"),
])
def test_unusable_answers_are_refused(reply, message):
    a = OfferAnswer(caps())
    a.create_offer()
    with pytest.raises(NegotiationError, match=message):
        a.receive_answer(offer(reply))
    assert a.pending_offer is None and a.current is None


def test_answer_must_match_the_offer_m_lines():
    a = OfferAnswer(caps())
    a.create_offer()
    with pytest.raises(NegotiationError, match="the answer has 2 m-lines, our offer had 1"):
        a.receive_answer(offer(PCMU_ONLY, PCMU_ONLY))
    with pytest.raises(NegotiationError, match="no offer of ours is pending"):
        a.receive_answer(offer(PCMU_ONLY))


def test_glare_is_a_491_and_rollback_recovers():
    a = OfferAnswer(caps())
    a.create_offer()
    with pytest.raises(NegotiationError) as info:
        a.receive_offer(offer(PCMU_ONLY))
    assert info.value.status_code == 491
    with pytest.raises(NegotiationError, match="already waiting for its answer"):
        a.create_offer()
    a.rollback()
    _, media = a.receive_offer(offer(PCMU_ONLY))
    assert media.codec == "PCMU"


def test_two_offhook_sides_agree():
    a = OfferAnswer(caps(codecs=("opus", "PCMA")), session_id=1)
    b = OfferAnswer(caps(address="192.0.2.20", port=50000, codecs=("G722", "PCMA", "opus")), session_id=2)
    answer, b_side = b.receive_offer(a.create_offer())
    a_side = a.receive_answer(answer)
    assert a_side.codec == b_side.codec == "opus"  # offerer's order
    assert a_side.payload_type == b_side.recv_payload_type and b_side.payload_type == a_side.recv_payload_type
    assert a_side.remote == ("192.0.2.20", 50000) and b_side.remote == ("192.0.2.10", 40000)
    assert a_side.dtmf_payload_type == b_side.dtmf_payload_type == 110


# -- capabilities -------------------------------------------------------------------------

@pytest.mark.parametrize(("kw", "error", "message"), [
    ({"codecs": ("G729",)}, CodecError, "unknown codec 'G729'"),
    ({"codecs": ()}, CodecError, "needs at least one codec"),
    ({"codecs": ("PCMU", "pcmu")}, CodecError, "listed twice"),
    ({"port": 0}, SdpError, "port must be 1..65535, not 0"),
    ({"port": True}, SdpError, "port must be 1..65535"),
    ({"address": "phone.example"}, SdpError, "must be an IPv4 or IPv6 address"),
    ({"direction": "both"}, SdpError, "direction must be one of"),
    ({"srtp": "yes"}, SdpError, "srtp must be 'off', 'optional' or 'required'"),
    ({"srtp_suites": ("ROT13",)}, SdpError, "unknown SRTP crypto suite 'ROT13'"),
    ({"ptime": 0}, SdpError, "ptime must be 1..1000 ms"),
    ({"prefer": "mine"}, SdpError, "prefer must be"),
    ({"username": "a b"}, SdpError, "username must be non-empty"),
])
def test_bad_capabilities_are_refused(kw, error, message):
    with pytest.raises(error, match=message):
        caps(**kw)


def test_rtp_on_the_last_port_needs_rtcp_mux_or_an_rtcp_attribute():
    with pytest.raises(NegotiationError, match="leaves no port for RTCP"):
        answer_for(offer(PCMU_ONLY.replace("5000", "65535")))
    _, media = answer_for(offer(PCMU_ONLY.replace("5000", "65535") + "\na=rtcp-mux"))
    assert media.remote_rtcp == ("192.0.2.5", 65535)


# -- fuzzing: any parsable offer gets an answer or a NegotiationError -----------------

_FIXTURE_BYTES = [p.read_bytes() for p in sorted(DATA.glob("*.sdp"))]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(_FIXTURE_BYTES), st.data(),
       st.sampled_from(["off", "optional", "required"]), st.sampled_from(DIRECTIONS))
def test_fuzz_offers_get_an_answer_or_a_negotiation_error(raw, data, srtp, direction):
    lines = raw.split(b"\r\n")
    for _ in range(data.draw(st.integers(0, 4))):
        if len(lines) < 7:
            break
        pos = data.draw(st.integers(5, len(lines) - 1))
        op = data.draw(st.sampled_from(["drop", "dup", "swap-digit"]))
        if op == "drop":
            del lines[pos]
        elif op == "dup":
            lines.insert(pos, lines[data.draw(st.integers(5, len(lines) - 1))])
        else:
            lines[pos] = lines[pos].replace(b"0", str(data.draw(st.integers(0, 9))).encode(), 1)
    try:
        sdp = parse_sdp(b"\r\n".join(lines))
    except SdpError:
        return
    oa = OfferAnswer(caps(srtp=srtp, direction=direction), key_source=keys(KEY_B))
    try:
        answer, media = oa.receive_offer(sdp)
    except NegotiationError as exc:
        assert exc.status_code == 488 and str(exc)
        return
    assert len(answer.media) == len(sdp.media)
    assert answer.media[media.media_index].port == 40000
    assert parse_sdp(str(answer)) == answer
    # the peer's side of the same exchange agrees with ours
    assert media.direction == answer.media[media.media_index].direction


def test_rejected_hold_offer_rolls_the_hold_back():
    a, b = pair()
    a.receive_answer(b.receive_offer(a.create_offer())[0])
    a.create_offer(hold=True)
    assert a.holding
    a.rollback()  # the re-INVITE was refused
    assert not a.holding
    assert a.create_offer().media[0].direction == "sendrecv"


def test_unusable_answer_to_a_hold_offer_keeps_the_hold_off():
    a, b = pair()
    a.receive_answer(b.receive_offer(a.create_offer())[0])
    agreed = a.current
    a.create_offer(hold=True)
    with pytest.raises(NegotiationError):
        a.receive_answer(offer("m=audio 5000 RTP/AVP 18"))
    assert not a.holding and a.current == agreed and a.pending_offer is None


def test_telephone_event_we_did_not_offer_is_ignored_in_an_answer():
    a = OfferAnswer(caps(codecs=("PCMU",), telephone_event=False, comfort_noise=False))
    assert a.create_offer().media[0].formats == ["0"]
    media = a.receive_answer(offer(PCMU_ONLY.replace("RTP/AVP 0", "RTP/AVP 0 101")
                                   + "\na=rtpmap:101 telephone-event/8000"))
    assert media.dtmf_payload_type is None


# -- comfort noise (RFC 3389) ----------------------------------------------------------

def test_offer_has_comfort_noise_only_with_an_8000_clock_codec():
    assert OfferAnswer(caps(codecs=("opus",))).create_offer().media[0].formats == ["111", "110"]
    assert "13" in OfferAnswer(caps(codecs=("opus", "PCMU"))).create_offer().media[0].formats
    assert "13" not in OfferAnswer(caps(comfort_noise=False)).create_offer().media[0].formats


def test_answer_keeps_offered_comfort_noise_for_an_8000_clock_codec():
    sdp = PCMU_ONLY.replace("RTP/AVP 0", "RTP/AVP 0 13") + "\na=rtpmap:13 CN/8000"
    answer, media = answer_for(offer(sdp))
    assert media.cn_payload_type == 13
    assert answer.media[0].formats == ["0", "13"] and str(answer.media[0].rtpmaps[13]) == "13 CN/8000"
    # declined by policy, and not for an opus call (CN/8000 goes with 8 kHz clocks)
    answer, media = answer_for(offer(sdp), comfort_noise=False)
    assert media.cn_payload_type is None and answer.media[0].formats == ["0"]
    opus = "m=audio 5000 RTP/AVP 111 13\na=rtpmap:111 opus/48000/2\na=rtpmap:13 CN/8000"
    answer, media = answer_for(offer(opus))
    assert media.codec == "opus" and media.cn_payload_type is None and "13" not in answer.media[0].formats


def test_comfort_noise_is_not_taken_for_a_codec():
    with pytest.raises(NegotiationError, match="the offer has no codecs"):
        answer_for(offer("m=audio 5000 RTP/AVP 13"))


def test_offerer_learns_whether_the_answer_kept_comfort_noise():
    a = OfferAnswer(caps(codecs=("PCMU",)))
    a.create_offer()
    media = a.receive_answer(offer(PCMU_ONLY.replace("RTP/AVP 0", "RTP/AVP 0 13")))
    assert media.cn_payload_type == 13
    b = OfferAnswer(caps(codecs=("PCMU",)))
    b.create_offer()
    assert b.receive_answer(offer(PCMU_ONLY)).cn_payload_type is None


def test_a_change_of_comfort_noise_restarts_the_stream():
    a = OfferAnswer(caps(codecs=("PCMU",)))
    a.create_offer()
    before = a.receive_answer(offer(PCMU_ONLY))
    a.create_offer()
    after = a.receive_answer(offer(PCMU_ONLY.replace("RTP/AVP 0", "RTP/AVP 0 13")))
    assert "cn_payload_type" in media_update(before, after).restart
