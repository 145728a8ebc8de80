"""MediaEngine (csrc/oh_engine.c through offhook._media): two engines on 127.0.0.1.

Audio crosses both ways for every codec at once (one stream per codec on each
engine, so several streams share the media thread): a 1 kHz tone WAV played at
16 kHz is recorded at 48 kHz on the other side (Goertzel: frequency and level),
speech played back the other way is scored with PESQ against the codec's own
figure. Strays and malformed datagrams are counted and dropped; directions
hold; bad arguments give clear errors; close leaves no thread or socket behind.
Only loopback, only ports the OS picks.
"""
from __future__ import annotations

import gc
import os
import re
import socket
import struct
import time

import numpy as np
import pytest

import offhook.engine as eng
from offhook import CodecError, MediaError, SrtpError, WavError
from offhook.media.quality import align, pesq_score
from offhook.media.speech import speech
from offhook.media.wav import read_wav, write_wav
from tone_measure import tone_share

CODECS = ("PCMU", "PCMA", "G722", "opus")
LOOP = "127.0.0.1"
TONE_HZ = 1000.0
TONE_AMPLITUDE = 8000.0
TONE_SECONDS = 2.0
SPEECH_SECONDS = 3.0
# PESQ of speech through the engine may trail the codec alone by this much. Measured
# (wideband P.862.2, 3 s of espeak speech): PCMU 2.54 vs 2.65, PCMA 2.61 vs 2.68,
# G722 2.97 vs 3.04 (B runs at 48 kHz, so its speech is resampled twice more than the
# codec alone's); opus 3.89 vs 3.33 (B encodes it at 48 kHz, the reference at 16 kHz).
PESQ_MARGIN = 0.15



def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))



def codec_alone(name: str, ref16k: np.ndarray) -> np.ndarray:
    """ref16k through the codec alone (at its own rate), back at 16 kHz."""
    info = eng.CODECS[name.lower()]
    rate = 8000 if info.native_rate == 8000 else 16000
    x = ref16k if rate == 16000 else eng.Resampler(16000, rate).process(ref16k)
    c = eng.codec(name, rate)
    frame = rate // 50
    out = np.concatenate([c.decode(c.encode(x[i:i + frame]))
                          for i in range(0, len(x) - frame + 1, frame)])
    return out if rate == 16000 else eng.Resampler(rate, 16000).process(out)


def wait_for(predicate, timeout: float = 5.0) -> None:
    """Waits (not a timing assertion: the assert that follows says what failed)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end and not predicate():
        time.sleep(0.01)


@pytest.fixture(scope="module")
def exchange(tmp_path_factory):
    """A (16 kHz) plays a tone WAV to B (48 kHz); B plays speech to A; all codecs at once."""
    d = tmp_path_factory.mktemp("media")
    t = np.arange(int(TONE_SECONDS * 16000)) / 16000
    write_wav(d / "tone.wav", np.round(TONE_AMPLITUDE * np.sin(2 * np.pi * TONE_HZ * t)).astype(np.int16),
              16000)
    ref = speech(SPEECH_SECONDS, 16000)
    write_wav(d / "speech.wav", ref, 16000)
    a, b = eng.MediaEngine(16000, 20), eng.MediaEngine(48000, 20)
    pairs = {}
    for name in CODECS:
        sa = a.add_stream(local=(LOOP, 0), codec=name)
        sb = b.add_stream(local=(LOOP, 0), remote=(LOOP, sa.local_port), codec=name)
        sa.update(remote=(LOOP, sb.local_port))
        pairs[name] = (sa, sb)
    for name, (sa, sb) in pairs.items():
        sa.record_wav(d / f"a_{name}.wav")
        sb.record_wav(d / f"b_{name}.wav")
    # Calls start with silence: the jitter buffers settle on their delay before the audio.
    time.sleep(0.5)
    for sa, sb in pairs.values():
        sa.play_wav(d / "tone.wav")
        sb.play_wav(d / "speech.wav")
    time.sleep(SPEECH_SECONDS + 0.6)
    result = {}
    for name, (sa, sb) in pairs.items():
        result[name] = (sa.stats(), sb.stats(), d / f"a_{name}.wav", d / f"b_{name}.wav")
        sa.close()
        sb.close()
    engine_stats = (a.stats(), b.stats())
    a.close()
    b.close()
    return result, ref, engine_stats


@pytest.mark.parametrize("name", CODECS)
def test_tone_is_heard_at_its_frequency_and_level(exchange, name):
    _, _, _, b_path = exchange[0][name]
    rec = read_wav(b_path, sample_rate=48000, channels=1).samples
    loud = np.flatnonzero(np.abs(rec) > TONE_AMPLITUDE / 2)
    assert len(loud) > 48000, f"{name}: the tone did not arrive ({len(loud)} loud samples)"
    start = loud[0] + 48000 // 5
    seg = rec[start:start + int(48000 * (TONE_SECONDS - 0.5))]
    share = tone_share(seg, TONE_HZ, 48000)
    level_db = 20 * np.log10(rms(seg) / (TONE_AMPLITUDE / np.sqrt(2)))
    assert share > 0.95, f"{name}: only {share:.3f} of the power is at {TONE_HZ} Hz"
    assert abs(level_db) < 1.5, f"{name}: tone level off by {level_db:.2f} dB"


@pytest.mark.parametrize("name", CODECS)
def test_speech_quality_matches_the_codec_alone(exchange, name):
    result, ref, _ = exchange
    a_path = result[name][2]
    rec = read_wav(a_path, sample_rate=16000, channels=1).samples
    got = align(ref, rec)
    assert len(got) >= len(ref) - 320, f"{name}: recording too short ({len(rec)} samples)"
    engine_pesq = pesq_score(ref, got, 16000)
    alone = codec_alone(name, ref)
    alone_pesq = pesq_score(ref, align(ref, alone), 16000)
    print(f"{name}: PESQ through the engine {engine_pesq:.2f}, codec alone {alone_pesq:.2f}")
    assert engine_pesq >= alone_pesq - PESQ_MARGIN, (
        f"{name}: PESQ {engine_pesq:.2f} through the engine, {alone_pesq:.2f} for the codec alone")


@pytest.mark.parametrize("name", CODECS)
def test_stats_of_a_clean_exchange(exchange, name):
    sa, sb, _, _ = exchange[0][name]
    for me, peer in ((sa, sb), (sb, sa)):
        assert me["packets_sent"] >= 175 and me["send_errors"] == 0
        # everything the peer sent arrived, bar packets in flight at close
        assert peer["packets_sent"] - 5 <= me["packets_received"] <= peer["packets_sent"]
        assert me["remote_ssrc"] == peer["local_ssrc"]
        assert me["lost"] == 0 and me["bad_seq"] == 0
        assert (me["dropped_invalid"], me["dropped_stray"], me["dropped_payload_type"]) == (0, 0, 0)
        assert me["jitter_ms"] < 20.0
        assert me["playout"]["received"] == me["packets_received"]
    assert sa["source_done"] and sb["source_done"]
    assert sa["recorded_frames"] >= 16000 * SPEECH_SECONDS
    assert sb["recorded_frames"] >= 48000 * SPEECH_SECONDS


def test_engine_clock_kept_up(exchange):
    for st in exchange[2]:
        assert st["ticks"] >= (SPEECH_SECONDS / 0.02) and st["clock_resyncs"] == 0


# ---- source validation -------------------------------------------------------------------

def rtp(seq: int, ssrc: int = 0x1234, pt: int = 0, payload: bytes = b"\xff" * 160) -> bytes:
    return struct.pack("!BBHII", 0x80, pt, seq & 0xFFFF, seq * 160 & 0xFFFFFFFF, ssrc) + payload


def udp() -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((LOOP, 0))
    return s


def counted(st: dict) -> int:
    return (st["packets_received"] + st["dropped_invalid"] + st["dropped_payload_type"]
            + st["dropped_stray"] + st["rtcp_received"] + st["bad_seq"])


def test_latches_on_first_source_and_drops_strays_and_malformed_packets():
    with eng.MediaEngine(8000, 20) as e:
        s = e.add_stream(local=(LOOP, 0), codec="PCMU", direction="recvonly")
        dest = (LOOP, s.local_port)
        first, other = udp(), udp()
        try:
            for i in range(10):
                first.sendto(rtp(i), dest)
            wait_for(lambda: s.stats()["packets_received"] == 10)
            st = s.stats()
            assert st["packets_received"] == 10
            assert st["latched"] == first.getsockname() and st["remote_ssrc"] == 0x1234

            for i in range(5):  # another address, same SSRC: RTP injection
                other.sendto(rtp(10 + i), dest)
            for i in range(3):  # the latched address, another SSRC
                first.sendto(rtp(20 + i, ssrc=0x9999), dest)
            wait_for(lambda: s.stats()["dropped_stray"] == 8)
            assert s.stats()["dropped_stray"] == 8

            malformed = [
                b"",                                       # empty datagram
                b"\x80\x00\x00",                           # truncated header
                rtp(30)[:11],                              # one byte short of a header
                b"\x40" + rtp(31)[1:],                     # version 1
                b"\x00" + rtp(32)[1:],                     # version 0
                b"\x8f" + rtp(33)[1:12] + b"\x00" * 8,     # 15 CSRCs announced, 2 present
                b"\x90" + rtp(34)[1:12] + b"\x00\x00\xff\xff",  # extension longer than the packet
                b"\xa0" + rtp(35)[1:12] + b"\x00" * 3 + b"\xff",  # padding count beyond the packet
            ]
            for m in malformed:
                first.sendto(m, dest)
            first.sendto(rtp(36, pt=8), dest)              # valid, wrong payload type
            first.sendto(b"\x80\xc9\x00\x01" + b"\x00" * 4, dest)  # an RTCP RR on the RTP port
            wait_for(lambda: s.stats()["dropped_invalid"] == len(malformed)
                     and s.stats()["rtcp_received"] == 1)
            st = s.stats()
            assert st["dropped_invalid"] == len(malformed)
            assert st["dropped_payload_type"] == 1 and st["rtcp_received"] == 1

            first.sendto(rtp(11), dest)  # the latched source still gets through
            wait_for(lambda: s.stats()["packets_received"] == 11)
            assert s.stats()["packets_received"] == 11

            # Random datagrams from both sockets: each is counted exactly once, none crashes.
            rng = np.random.default_rng(5)
            before = counted(s.stats())
            sent = 0
            for i in range(300):
                n = int(rng.integers(0, 300))
                data = bytearray(rng.integers(0, 256, n, dtype=np.uint8).tobytes())
                if n >= 1 and i % 2:
                    data[0] = 0x80 | (data[0] & 0x3F)  # mostly version 2, to pass the first check
                (first if i % 3 else other).sendto(bytes(data), dest)
                sent += 1
                if i % 50 == 49:
                    time.sleep(0.02)  # stay under the socket's receive buffer
            wait_for(lambda: counted(s.stats()) == before + sent)
            assert counted(s.stats()) == before + sent
            assert s.stats()["latched"] == first.getsockname()
        finally:
            first.close()
            other.close()


def test_packets_up_to_the_offered_maxptime_are_played_longer_ones_are_refused():
    # Offers say a=maxptime:60 (MediaCapabilities): a G.711 stream takes 60 ms packets
    # (480 bytes) and counts longer ones, which its packet store cannot hold, as invalid.
    with eng.MediaEngine(8000, 20) as e:
        s = e.add_stream(codec="PCMU", direction="recvonly")
        dest = (LOOP, s.local_port)
        src = udp()
        try:
            for i in range(20):
                src.sendto(struct.pack("!BBHII", 0x80, 0, i, i * 480, 0x55) + b"\x7f" * 480, dest)
                time.sleep(0.06)
            wait_for(lambda: s.stats()["playout"]["played"] == 20)
            st = s.stats()
            assert st["packets_received"] == 20 and st["dropped_invalid"] == 0
            assert st["playout"]["played"] == 20 and st["playout"]["late"] == 0, st["playout"]
            src.sendto(struct.pack("!BBHII", 0x80, 0, 20, 20 * 480, 0x55) + b"\x7f" * 640, dest)
            wait_for(lambda: s.stats()["dropped_invalid"] == 1)
            assert s.stats()["dropped_invalid"] == 1
        finally:
            src.close()


def test_update_remote_clears_the_latch():
    with eng.MediaEngine(8000, 20) as e:
        s = e.add_stream(codec="PCMU", direction="recvonly")
        x, y = udp(), udp()
        try:
            x.sendto(rtp(1), (LOOP, s.local_port))
            wait_for(lambda: s.stats()["latched"] is not None)
            assert s.stats()["latched"] == x.getsockname()
            s.update(remote=y.getsockname())
            assert s.stats()["latched"] is None
            y.sendto(rtp(1, ssrc=77), (LOOP, s.local_port))
            wait_for(lambda: s.stats()["latched"] is not None)
            assert s.stats()["latched"] == y.getsockname() and s.stats()["remote_ssrc"] == 77
        finally:
            x.close()
            y.close()


# ---- directions -------------------------------------------------------------------------

def test_directions_gate_sending_and_receiving():
    with eng.MediaEngine(16000, 10) as e:
        a = e.add_stream(codec="G722")
        b = e.add_stream(codec="G722", remote=(LOOP, a.local_port), direction="recvonly")
        a.update(remote=(LOOP, b.local_port))
        a.play_tone(440)
        wait_for(lambda: b.stats()["packets_received"] >= 20)
        assert b.stats()["packets_received"] >= 20 and b.stats()["packets_sent"] == 0
        assert a.stats()["packets_received"] == 0

        b.update(direction="inactive")
        assert b.direction == "inactive"
        got = b.stats()["packets_received"]
        wait_for(lambda: b.stats()["dropped_inactive"] >= 10)
        st = b.stats()
        assert st["dropped_inactive"] >= 10 and st["packets_received"] <= got + 1
        assert st["packets_sent"] == 0

        b.update(direction="sendonly")
        a.update(direction="recvonly")
        wait_for(lambda: a.stats()["packets_received"] >= 10)
        assert a.stats()["packets_received"] >= 10 and b.stats()["packets_sent"] >= 10


# ---- errors and lifecycle -----------------------------------------------------------------

def test_bad_arguments_give_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="sample_rate must be 8000, 16000, 32000 or 48000 Hz, got 11025"):
        eng.MediaEngine(11025)
    with pytest.raises(ValueError, match="ptime must be 10 or 20 ms, got 30"):
        eng.MediaEngine(16000, 30)
    with eng.MediaEngine() as e:
        with pytest.raises(CodecError, match="unknown codec 'G729'"):
            e.add_stream(codec="G729")
        with pytest.raises(ValueError, match="direction must be one of sendrecv, sendonly, recvonly, "
                                             "inactive; got 'hold'"):
            e.add_stream(direction="hold")
        with pytest.raises(SrtpError, match="srtp needs suite, local_key and remote_key"):
            e.add_stream(srtp={"suite": "AES_CM_128_HMAC_SHA1_80"})
        with pytest.raises(ValueError, match=re.escape("payload_type must be an int 0..127, got 200")):
            e.add_stream(payload_type=200)
        with pytest.raises(ValueError, match="must be numeric IP addresses"):
            e.add_stream(remote=("localhost", 4000))
        with pytest.raises(ValueError, match=r"remote must be a \(host, port\) tuple"):
            e.add_stream(remote="127.0.0.1:4000")
        with pytest.raises(ValueError, match=re.escape("remote port must be 1..65535, got 0")):
            e.add_stream(remote=(LOOP, 0))
        s = e.add_stream()
        with pytest.raises(OSError, match=re.escape("cannot bind 127.0.0.1")):
            e.add_stream(local=(LOOP, s.local_port))
        with pytest.raises(FileNotFoundError):
            s.play_wav(tmp_path / "missing.wav")
        (tmp_path / "not.wav").write_bytes(b"hello, this is not a WAV file at all")
        with pytest.raises(WavError, match=re.escape("not.wav")):
            s.play_wav(tmp_path / "not.wav")
        with pytest.raises(ValueError,
                           match=re.escape("tone frequency must be 1..7999 Hz at 16000 Hz, got 9000")):
            s.play_tone(9000)
        with pytest.raises(CodecError, match="unknown codec 'G729'"):
            s.update(codec="G729")
        with pytest.raises(ValueError, match="payload_type is changed together with codec"):
            s.update(payload_type=8)
        with pytest.raises(ValueError,
                           match="other than the DTMF payload type 101 and the comfort-noise one 13, got"):
            s.update(codec="opus", payload_type=101)
        with pytest.raises(ValueError, match="must be a numeric IP address"):
            s.update(remote=("::1", 4000))
        with pytest.raises(TypeError, match=re.escape("made by MediaEngine.add_stream")):
            eng.MediaStream()
        s.close()
        s.close()  # twice is fine
        with pytest.raises(MediaError, match="the stream is closed"):
            s.stats()
        t = e.add_stream()
    assert e.closed and t.closed
    with pytest.raises(MediaError, match="the media engine is closed"):
        e.add_stream()
    with pytest.raises(MediaError, match="the stream is closed"):
        t.play_tone(440)


def _threads_and_fds() -> tuple[int, int]:
    return len(os.listdir("/proc/self/task")), len(os.listdir("/proc/self/fd"))


def test_close_leaves_no_thread_or_socket(tmp_path):
    before = _threads_and_fds()
    engines = [eng.MediaEngine(16000, 20), eng.MediaEngine(8000, 10)]
    streams = [e.add_stream(codec=c) for e in engines for c in ("PCMU", "opus")]
    streams[0].record_wav(tmp_path / "r.wav")
    assert _threads_and_fds()[0] == before[0] + 2  # exactly one media thread per engine
    assert _threads_and_fds()[1] >= before[1] + 4 + 2 + 1  # sockets, eventfds, the recording
    streams[1].close()
    del streams[2]  # the engine keeps its streams: close() below still closes this one
    engines[0].close()
    engines[1].close()
    assert _threads_and_fds() == before
    assert read_wav(tmp_path / "r.wav", sample_rate=16000, channels=1).frames >= 0


def test_engine_dropped_without_close_stops_its_thread():
    before = _threads_and_fds()
    e = eng.MediaEngine()
    s = e.add_stream()
    s.play_tone(440)
    assert _threads_and_fds()[0] == before[0] + 1
    del e, s  # the engine and its streams reference each other: the cycle collector frees them
    gc.collect()
    assert _threads_and_fds() == before
