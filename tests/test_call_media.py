"""CallMedia: an SDP agreement (offer/answer) applied to real engine streams on loopback.

Two OfferAnswer states negotiate as two user agents would; each side's CallMedia
creates its engine stream from its own NegotiatedMedia. Audio is measured in what
the answerer records: SRTP keys from a=crypto lines must protect and unprotect
without a single refusal, and a re-offer that changes the codec must switch the
running stream in place.
"""
import time

import numpy as np
import pytest

import offhook.engine as eng
from offhook.media.call_media import CallMedia
from offhook.media.speech import speech
from offhook.media.wav import read_wav, write_wav
from offhook.sdp import MediaCapabilities, OfferAnswer
from sip_peers import free_port

LOOP = "127.0.0.1"


def wait_for(predicate, timeout: float = 5.0) -> None:
    """Waits (not a timing assertion: the assert that follows says what failed)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end and not predicate():
        time.sleep(0.01)


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) if len(x) else 0.0


@pytest.fixture
def call(tmp_path):
    """An offerer A that plays speech and an answerer B that records, each with its engine."""
    engines = [eng.MediaEngine(16000, 20), eng.MediaEngine(16000, 20)]
    wav = tmp_path / "speech.wav"
    write_wav(wav, speech(3.0, 16000), 16000)
    made = []

    def make(srtp: str, codecs_a=("G722",), codecs_b=("G722", "PCMU")):
        pa, pb = free_port(), free_port()
        oa = OfferAnswer(MediaCapabilities(LOOP, pa, codecs=codecs_a, srtp=srtp))
        ob = OfferAnswer(MediaCapabilities(LOOP, pb, codecs=codecs_b, srtp=srtp))
        answer, agreed_b = ob.receive_offer(oa.create_offer())
        agreed_a = oa.receive_answer(answer)
        ma = CallMedia(engines[0], (LOOP, pa), play=wav)
        mb = CallMedia(engines[1], (LOOP, pb), record=tmp_path / "b.wav")
        made.extend([ma, mb])
        mb.apply(agreed_b)
        ma.apply(agreed_a)
        return (oa, ma), (ob, mb)

    yield make, tmp_path
    for m in made:
        m.close()
    for e in engines:
        e.close()


def test_sdes_keys_from_the_sdp_protect_the_call(call):
    make, tmp_path = call
    (_, ma), (_, mb) = make("required")
    assert ma.media is not None and ma.media.secure and ma.media.srtp_suite == "AES_CM_128_HMAC_SHA1_80"
    assert ma.stream is not None and mb.stream is not None
    wait_for(lambda: ma.played)
    time.sleep(0.3)
    received = mb.stream.stats()
    mb.stream.stop_recording()
    recorded = read_wav(tmp_path / "b.wav", sample_rate=16000, channels=1).samples
    assert received["srtp_auth_failed"] == 0 and received["srtp_replayed"] == 0, received
    assert received["packets_received"] >= 140, received
    assert rms(recorded) > 300.0  # speech at about -20 dBFS came through decrypted


def test_a_reoffer_with_another_codec_switches_the_running_stream(call):
    make, _ = call
    (oa, ma), (ob, mb) = make("off", codecs_a=("G722", "PCMU"))
    first_a, first_b = ma.stream, mb.stream
    assert ma.media is not None and ma.media.codec == "G722"
    oa.capabilities = MediaCapabilities(LOOP, oa.capabilities.port, codecs=("PCMU",))
    answer, agreed_b = ob.receive_offer(oa.create_offer())
    mb.apply(agreed_b)
    ma.apply(oa.receive_answer(answer))
    assert ma.media.codec == "PCMU" and mb.media is not None and mb.media.codec == "PCMU"
    assert ma.stream is first_a and mb.stream is first_b  # switched in place, not re-created
    assert mb.stream is not None and mb.stream.codec == "PCMU"
    wait_for(lambda: ma.played)
    assert mb.stream.stats()["packets_received"] >= 100


def test_a_peer_without_rtcp_mux_gets_rtcp_on_port_plus_one(tmp_path):
    """We offer a=rtcp-mux, the answerer does not take it: both streams run RTCP on their
    even RTP port + 1 (reserve_udp_port keeps that free) and each hears the other's reports."""
    from offhook.sip.agent import reserve_udp_port

    engines = [eng.MediaEngine(16000, 20), eng.MediaEngine(16000, 20)]
    pa, pb = reserve_udp_port(LOOP), reserve_udp_port(LOOP)
    assert pa % 2 == 0 and pb % 2 == 0
    oa = OfferAnswer(MediaCapabilities(LOOP, pa, codecs=("PCMU",)))
    ob = OfferAnswer(MediaCapabilities(LOOP, pb, codecs=("PCMU",), rtcp_mux=False))
    offer = oa.create_offer()
    assert "a=rtcp-mux" in str(offer)
    answer, agreed_b = ob.receive_offer(offer)
    agreed_a = oa.receive_answer(answer)
    assert not agreed_a.rtcp_mux and agreed_a.remote_rtcp == (LOOP, pb + 1)
    ma, mb = CallMedia(engines[0], (LOOP, pa)), CallMedia(engines[1], (LOOP, pb))
    try:
        mb.apply(agreed_b)
        ma.apply(agreed_a)
        assert ma.stream is not None and mb.stream is not None
        for m, port in ((ma, pa), (mb, pb)):
            st = m.stream.stats()
            assert st["rtcp_mux"] is False and st["local_rtcp_port"] == port + 1
        wait_for(lambda: ma.stream.stats()["rtcp"]["peer_reports"] >= 1
                 and mb.stream.stats()["rtcp"]["peer_reports"] >= 1, 10.0)
        for m in (ma, mb):
            r = m.stream.stats()["rtcp"]
            assert r["peer_reports"] >= 1 and r["invalid"] == 0, r
        # the same agreement again (a re-INVITE): updated in place, still on port + 1
        ma.apply(agreed_a)
        assert ma.stream.stats()["local_rtcp_port"] == pa + 1
    finally:
        ma.close()
        mb.close()
        for e in engines:
            e.close()
