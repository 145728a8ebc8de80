"""Packets of more audio than a tick (MediaEngine.add_stream(send_ptime=...)): what a peer's
a=ptime asks for. Packets are caught on a plain UDP socket and checked field by field
(timestamps, lengths, sequence, marker); audio through a second engine is measured; DTMF
and silence suppression keep the timeline whole; bad values are clear errors.
"""
from __future__ import annotations

import itertools
import socket
import struct
import time
from pathlib import Path

import numpy as np
import pytest

import offhook.engine as eng
from offhook.media.call_media import CallMedia
from offhook.media.wav import read_wav, write_wav
from offhook.sdp import NegotiatedMedia
from tone_measure import tone_share

LOOP = "127.0.0.1"


def tone_wav(path: Path, rate: int, seconds: float, freq: float = 1000.0) -> Path:
    t = np.arange(int(seconds * rate)) / rate
    write_wav(path, np.round(8000 * np.sin(2 * np.pi * freq * t)).astype(np.int16), rate)
    return path


def catch(sock: socket.socket, seconds: float) -> list[tuple[float, int, bool, int, int, bytes]]:
    """(arrival s, payload type, marker, sequence, timestamp, payload) of what arrives."""
    got = []
    sock.settimeout(0.05)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            data = sock.recv(4096)
        except TimeoutError:
            continue
        if len(data) < 12 or data[1] & 0x7F in range(72, 77):  # RTCP muxed on the port
            continue
        _, mpt, seq, ts = struct.unpack("!BBHI", data[:8])
        got.append((time.monotonic(), mpt & 0x7F, bool(mpt & 0x80), seq, ts, data[12:]))
    return got


@pytest.fixture
def receiver():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((LOOP, 0))
    yield sock
    sock.close()


@pytest.mark.parametrize(("tick", "send_ptime", "codec", "clock", "bytes_per_ms"), [
    (20, 20, "PCMU", 8000, 8), (20, 40, "PCMU", 8000, 8), (20, 60, "G722", 8000, 8),
    (10, 30, "PCMA", 8000, 8), (20, 60, "opus", 48000, None), (20, 10, "G722", 8000, 8),
    (20, 10, "opus", 48000, None)])
def test_each_packet_carries_send_ptime_of_audio(receiver, tmp_path, tick, send_ptime, codec, clock,
                                                 bytes_per_ms):
    with eng.MediaEngine(16000, tick) as e:
        s = e.add_stream(remote=receiver.getsockname(), codec=codec, send_ptime=send_ptime)
        s.play_wav(tone_wav(tmp_path / "tone.wav", 16000, 3.0))
        pt = 111 if codec == "opus" else eng.CODECS[codec.lower()].payload_type
        packets = [p for p in catch(receiver, 1.5) if p[1] == pt]
        sent = s.stats()["packets_sent"]
    assert len(packets) >= 1.2 * 1000 / send_ptime, len(packets)
    seqs = np.array([p[3] for p in packets])
    stamps = np.array([p[4] for p in packets], dtype=np.int64)
    assert np.all(np.diff(seqs) % 65536 == 1)
    assert np.all(np.diff(stamps) == send_ptime * clock // 1000), np.unique(np.diff(stamps))
    assert packets[0][2] and not any(p[2] for p in packets[1:])  # one talkspurt
    if bytes_per_ms is not None:
        assert {len(p[5]) for p in packets} == {send_ptime * bytes_per_ms}
    else:
        dec = eng.codec("opus", 48000)
        assert {dec.decode(p[5]).size for p in packets} == {send_ptime * 48}
    # sent once per send_ptime on average: a packet leaves when its last tick is complete (two
    # 10 ms packets leave together on 20 ms ticks)
    gaps = np.diff([p[0] for p in packets]) * 1000
    assert abs(float(np.mean(gaps)) - send_ptime) < 0.2 * send_ptime, np.mean(gaps)
    assert sent <= len(packets) + 3  # (the socket is read on while the engine sends)


@pytest.mark.parametrize("codec", ["PCMU", "G722", "opus"])
def test_a_tone_sent_in_60_ms_packets_is_heard_whole(tmp_path, codec):
    with eng.MediaEngine(16000, 20) as a, eng.MediaEngine(16000, 20) as b:
        sb = b.add_stream(codec=codec)
        sa = a.add_stream(remote=(LOOP, sb.local_port), codec=codec, send_ptime=60)
        sb.record_wav(tmp_path / "heard.wav")
        time.sleep(0.3)
        sa.play_wav(tone_wav(tmp_path / "tone.wav", 16000, 2.0))
        time.sleep(2.4)
        sb.stop_recording()
        playout = sb.stats()["playout"]
    heard = read_wav(tmp_path / "heard.wav").samples
    loud = heard[np.abs(heard) > 2000]
    assert loud.size > 1.6 * 16000, loud.size  # ~2 s of the tone arrived
    start = int(np.argmax(np.abs(heard) > 2000))
    body = heard[start + 1600:start + 1600 + 24000]  # 1.5 s inside the tone
    assert tone_share(body, 1000.0, 16000) > 0.95
    assert abs(20 * np.log10(np.sqrt(np.mean(body.astype(np.float64) ** 2)) / (8000 / np.sqrt(2)))) < 1.0
    assert playout["late"] == 0 and playout["lost"] == 0, playout


def test_dtmf_interrupts_a_packet_being_filled_and_the_timeline_stays_whole(receiver, tmp_path):
    with eng.MediaEngine(8000, 20) as e:
        s = e.add_stream(remote=receiver.getsockname(), codec="PCMU", send_ptime=60)
        s.play_wav(tone_wav(tmp_path / "tone.wav", 8000, 3.0))
        time.sleep(0.25)
        s.send_dtmf("5", duration_ms=100)
        packets = catch(receiver, 1.2)
    audio = [p for p in packets if p[1] == 0]
    events = [p for p in packets if p[1] == 101]
    assert events and audio
    first_event = events[0][4]
    # Audio packets end where the event starts or before; audio after it starts after it.
    before = [p for p in audio if p[0] < events[0][0]]
    after = [p for p in audio if p[0] > events[-1][0]]
    assert before and after
    assert before[-1][4] + 480 <= first_event, (before[-1][4], first_event)
    event_end = first_event + struct.unpack("!H", events[-1][5][2:4])[0]
    assert after[0][4] >= event_end and after[0][2], (after[0][4], event_end)  # a talkspurt again
    assert all(len(p[5]) == 480 for p in audio)
    stamps = [p[4] for p in after]
    assert all(b - a == 480 for a, b in itertools.pairwise(stamps))


def test_silence_suppression_pauses_only_where_a_packet_starts(receiver, tmp_path):
    # a tone of 0.5 s, then silence: the tone's packets are whole 40 ms ones, then CN
    rate = 8000
    tone = np.round(8000 * np.sin(2 * np.pi * 1000 * np.arange(rate // 2) / rate)).astype(np.int16)
    write_wav(tmp_path / "burst.wav", np.concatenate([tone, np.zeros(rate, np.int16)]), rate)
    with eng.MediaEngine(8000, 20) as e:
        s = e.add_stream(remote=receiver.getsockname(), codec="PCMU", send_ptime=40, vad=True)
        s.play_wav(tmp_path / "burst.wav")
        packets = catch(receiver, 1.8)
        suppressed = s.stats()["frames_suppressed"]
    audio = [p for p in packets if p[1] == 0]
    cn = [p for p in packets if p[1] == 13]
    assert audio and cn and suppressed > 10
    assert all(len(p[5]) == 320 for p in audio)
    stamps = [p[4] for p in packets if p[1] in (0, 13)]
    assert all(b >= a for a, b in itertools.pairwise(stamps))  # no packet reaches back in time
    for a, b in itertools.pairwise(audio):
        assert b[4] - a[4] >= 320


@pytest.mark.parametrize(("tick", "value"), [(20, 30), (20, 80), (20, 0), (20, 5), (10, 70), (10, 25),
                                           (20, True), (20, 40.0)])
def test_a_send_ptime_the_engine_cannot_send_is_a_clear_error(tick, value):
    with eng.MediaEngine(8000, tick) as e, pytest.raises(
            ValueError, match=rf"send_ptime must be {eng.MIN_SEND_PTIME}..{eng.MAX_SEND_PTIME} ms and a "
                              rf"multiple or a divisor of the engine's ptime \({tick} ms\), or None; "
                              rf"got {value!r}"):
        e.add_stream(codec="PCMU", send_ptime=value)


@pytest.mark.parametrize(("tick", "asked", "sent"), [
    (20, 20, 20), (20, 30, 20), (20, 40, 40), (20, 60, 60), (20, 150, 60), (20, 10, 10), (20, 5, 10),
    (10, 10, 10), (10, 30, 30), (10, 25, 20)])
def test_calls_send_the_peers_ptime_in_whole_ticks(receiver, tick, asked, sent):
    media = NegotiatedMedia(codec="PCMU", payload_type=0, recv_payload_type=0, clock_rate=8000,
                            sample_rate=8000, channels=1, fmtp=None, remote=receiver.getsockname(),
                            remote_rtcp=receiver.getsockname(), direction="sendrecv", held_by_remote=False,
                            ptime=asked, dtmf_payload_type=None, dtmf_clock_rate=None, rtcp_mux=True)
    with eng.MediaEngine(8000, tick) as e:
        call = CallMedia(e, (LOOP, 0))
        call.apply(media)
        packets = [p for p in catch(receiver, 0.5) if p[1] == 0]
        call.close()
    assert packets and {len(p[5]) for p in packets} == {sent * 8}
