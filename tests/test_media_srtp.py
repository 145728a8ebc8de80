"""SRTP (RFC 3711) in the MediaEngine: SDES keys, every suite, refusals counted.

Two engines on 127.0.0.1 exchange speech over plain RTP and over each SRTP
suite at once (one stream pair each); PESQ through SRTP must match the plain
pair's. A raw socket standing in for the peer then replays, corrupts and
forges packets that a real SRTP stream sent: a flipped bit is an
authentication failure, a replayed packet is refused as a replay, plain RTP
and a wrong key never reach the jitter buffer. Only loopback.
"""
from __future__ import annotations

import base64
import re
import socket
import struct
import time

import pytest

import offhook.engine as eng
from offhook import SrtpError
from offhook.media.quality import align, pesq_score
from offhook.media.speech import speech
from offhook.media.srtp import SrtpParams, new_srtp_key
from offhook.media.wav import read_wav, write_wav

LOOP = "127.0.0.1"
SUITES = ("AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32", "AEAD_AES_128_GCM")
SPEECH_SECONDS = 3.0
CODEC = "G722"


def wait_for(predicate, timeout: float = 5.0) -> None:
    """Waits (not a timing assertion: the assert that follows says what failed)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end and not predicate():
        time.sleep(0.01)



def keys(suite: str) -> tuple[SrtpParams, SrtpParams]:
    """The two ends' parameters of one call: each sends with its key, receives with the other's."""
    ka, kb = new_srtp_key(suite), new_srtp_key(suite)
    return SrtpParams(suite, ka, kb), SrtpParams(suite, kb, ka)


@pytest.fixture(scope="module")
def exchange(tmp_path_factory):
    """B plays speech to A over plain RTP and each suite; A plays a tone back."""
    d = tmp_path_factory.mktemp("srtp")
    ref = speech(SPEECH_SECONDS, 16000)
    write_wav(d / "speech.wav", ref, 16000)
    a, b = eng.MediaEngine(16000, 20), eng.MediaEngine(16000, 20)
    pairs = {}
    for suite in (None, *SUITES):
        pa, pb = keys(suite) if suite else (None, None)
        sa = a.add_stream(codec=CODEC, srtp=pa, rtcp_interval_ms=200)
        sb = b.add_stream(codec=CODEC, remote=(LOOP, sa.local_port), srtp=pb, rtcp_interval_ms=200)
        sa.update(remote=(LOOP, sb.local_port))
        sa.record_wav(d / f"a_{suite}.wav")
        pairs[suite] = (sa, sb)
    time.sleep(0.5)
    for sa, sb in pairs.values():
        sb.play_wav(d / "speech.wav")
        sa.play_tone(1000)
    time.sleep(SPEECH_SECONDS + 0.6)
    result = {}
    for suite, (sa, sb) in pairs.items():
        sa.stop_recording()
        rec = read_wav(d / f"a_{suite}.wav", sample_rate=16000, channels=1).samples
        result[suite] = (sa.stats(), sb.stats(), rec, sa.srtp_suite)
    a.close()
    b.close()
    return result, ref


@pytest.mark.parametrize("suite", SUITES)
def test_speech_over_srtp_scores_like_plain_rtp(exchange, suite):
    result, ref = exchange
    plain = pesq_score(ref, align(ref, result[None][2]), 16000)
    secure = pesq_score(ref, align(ref, result[suite][2]), 16000)
    print(f"{suite}: PESQ {secure:.2f}, plain RTP {plain:.2f}")
    assert plain > 2.8, f"plain RTP itself is poor ({plain:.2f})"
    assert secure >= plain - 0.1, f"{suite}: PESQ {secure:.2f} against {plain:.2f} over plain RTP"


@pytest.mark.parametrize("suite", SUITES)
def test_srtp_streams_count_no_refusals_both_ways(exchange, suite):
    sa, sb, _, name = exchange[0][suite]
    assert name == suite
    for me, peer in ((sa, sb), (sb, sa)):
        assert me["srtp"] is True
        assert me["packets_sent"] >= 150
        assert peer["packets_sent"] - 5 <= me["packets_received"] <= peer["packets_sent"]
        assert (me["srtp_auth_failed"], me["srtp_replayed"], me["srtp_failed"]) == (0, 0, 0)
        assert me["dropped_invalid"] == 0 and me["lost"] == 0
        # SRTCP: reports were protected, unprotected and understood by the peer
        assert me["rtcp"]["received"] >= 5 and me["rtcp"]["invalid"] == 0
        assert me["rtcp"]["peer_reports"] >= 5 and me["rtcp"]["rtt_ms"] is not None
    plain = exchange[0][None][0]
    assert plain["srtp"] is False
    # The tag makes SRTP packets longer than plain ones by exactly its size
    tag = {"AES_CM_128_HMAC_SHA1_80": 10, "AES_CM_128_HMAC_SHA1_32": 4, "AEAD_AES_128_GCM": 16}[suite]
    assert sa["bytes_sent"] / sa["packets_sent"] == pytest.approx(12 + 160 + tag)


def udp() -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((LOOP, 0))
    s.settimeout(2.0)
    return s


def capture(sock: socket.socket, n: int) -> list[bytes]:
    """n SRTP (not SRTCP) packets arriving on sock."""
    out = []
    while len(out) < n:
        data = sock.recv(2048)
        if not 192 <= data[1] <= 223:
            out.append(data)
    return out


@pytest.mark.parametrize("suite", SUITES)
def test_flipped_bit_replay_plain_rtp_and_wrong_key_are_refused(suite):
    pa, pb = keys(suite)
    wire = udp()
    with eng.MediaEngine(8000, 20) as e:
        # sender: a real SRTP stream sending to our socket
        tx = e.add_stream(codec="PCMU", remote=wire.getsockname(), srtp=pb, direction="sendonly")
        tx.play_tone(440)
        # receiver: the SRTP stream under test; the socket plays its peer
        rx = e.add_stream(codec="PCMU", srtp=pa, direction="recvonly")
        dest = (LOOP, rx.local_port)
        try:
            pkts = capture(wire, 12)
            tx.close()
            for p in pkts[:8]:
                wire.sendto(p, dest)
            wait_for(lambda: rx.stats()["packets_received"] == 8)
            st = rx.stats()
            assert st["packets_received"] == 8 and st["latched"] == wire.getsockname()

            flipped = bytearray(pkts[8])
            flipped[20] ^= 0x01  # one bit of the encrypted payload
            wire.sendto(bytes(flipped), dest)
            wait_for(lambda: rx.stats()["srtp_auth_failed"] == 1)
            st = rx.stats()
            assert st["srtp_auth_failed"] == 1 and st["packets_received"] == 8

            wire.sendto(pkts[3], dest)  # a replay of a packet already accepted
            wait_for(lambda: rx.stats()["srtp_replayed"] == 1)
            st = rx.stats()
            assert st["srtp_replayed"] == 1 and st["packets_received"] == 8

            # plain RTP from the latched address, new sequence numbers: refused as unauthenticated
            seq0 = struct.unpack("!H", pkts[11][2:4])[0]
            ssrc = struct.unpack("!I", pkts[11][8:12])[0]
            for i in range(5):
                wire.sendto(struct.pack("!BBHII", 0x80, 0, (seq0 + 1 + i) & 0xFFFF, 0, ssrc)
                            + b"\xff" * 160, dest)
            wait_for(lambda: rx.stats()["srtp_auth_failed"] == 6)
            st = rx.stats()
            assert st["srtp_auth_failed"] == 6 and st["packets_received"] == 8

            wire.sendto(pkts[9], dest)  # the genuine packet after all that: still accepted
            wait_for(lambda: rx.stats()["packets_received"] == 9)
            assert rx.stats()["packets_received"] == 9
            assert rx.stats()["srtp_failed"] == 0
        finally:
            wire.close()


def test_plain_rtp_sender_to_srtp_stream_is_dropped_and_never_latches():
    pa, _ = keys("AES_CM_128_HMAC_SHA1_80")
    with eng.MediaEngine(8000, 20) as e:
        rx = e.add_stream(codec="PCMU", srtp=pa, direction="recvonly")
        plain = e.add_stream(codec="PCMU", remote=(LOOP, rx.local_port), direction="sendonly")
        plain.play_tone(440)
        wait_for(lambda: rx.stats()["srtp_auth_failed"] >= 20)
        st = rx.stats()
        assert st["srtp_auth_failed"] >= 20
        assert st["packets_received"] == 0 and st["latched"] is None
        assert st["playout"]["received"] == 0


def test_wrong_key_is_refused():
    pa, pb = keys("AEAD_AES_128_GCM")
    other = SrtpParams(pa.suite, pa.local_key, new_srtp_key(pa.suite))  # not what the peer sends with
    with eng.MediaEngine(8000, 20) as e:
        rx = e.add_stream(codec="PCMU", srtp=other, direction="recvonly")
        e.add_stream(codec="PCMU", remote=(LOOP, rx.local_port), srtp=pb, direction="sendonly")
        wait_for(lambda: rx.stats()["srtp_auth_failed"] >= 10)
        st = rx.stats()
        assert st["srtp_auth_failed"] >= 10 and st["packets_received"] == 0


def test_srtp_params_check_their_input():
    key = new_srtp_key("AES_CM_128_HMAC_SHA1_80")
    assert len(base64.b64decode(key)) == 30
    assert len(base64.b64decode(new_srtp_key("AEAD_AES_128_GCM"))) == 28
    p = SrtpParams("AES_CM_128_HMAC_SHA1_80", "inline:" + key + "|2^31", base64.b64decode(key))
    assert p.keys() == (base64.b64decode(key),) * 2
    with pytest.raises(SrtpError, match="unknown SRTP suite 'AES_256'"):
        SrtpParams("AES_256", key, key)
    with pytest.raises(SrtpError, match="remote key for AEAD_AES_128_GCM must be 28 bytes"):
        SrtpParams("AEAD_AES_128_GCM", new_srtp_key("AEAD_AES_128_GCM"), key)
    with pytest.raises(SrtpError, match="local key '!!!' is not base64"):
        SrtpParams("AES_CM_128_HMAC_SHA1_32", "!!!", key)
    assert isinstance(SrtpError("x"), ValueError)
    offer = eng.format_sdes_crypto(1, "AES_CM_128_HMAC_SHA1_80", base64.b64decode(key))
    answer = eng.format_sdes_crypto(1, "AES_CM_128_HMAC_SHA1_80", bytes(30))
    p = SrtpParams.from_sdes(offer, answer)
    assert p.keys() == (base64.b64decode(key), bytes(30))
    with pytest.raises(SrtpError, match="a=crypto suites differ"):
        SrtpParams.from_sdes(offer, eng.format_sdes_crypto(1, "AEAD_AES_128_GCM", bytes(28)))
    with eng.MediaEngine() as e:
        s = e.add_stream(srtp={"suite": "AES_CM_128_HMAC_SHA1_32", "local_key": key, "remote_key": key})
        assert s.srtp_suite == "AES_CM_128_HMAC_SHA1_32" and s.stats()["srtp"] is True
        with pytest.raises(SrtpError, match=re.escape("srtp: unknown key(s) key; expected suite")):
            e.add_stream(srtp={"suite": "AES_CM_128_HMAC_SHA1_32", "key": key})
        with pytest.raises(SrtpError, match="srtp needs suite, local_key and remote_key"):
            e.add_stream(srtp={"suite": "AES_CM_128_HMAC_SHA1_32"})
        with pytest.raises(SrtpError, match=re.escape("srtp must be an offhook.media.srtp.SrtpParams")):
            e.add_stream(srtp="AES_CM_128_HMAC_SHA1_80 inline:" + key)
