"""Comfort noise through the media engine: a peer with silence suppression.

A sender on 127.0.0.1 (a UDP socket of this test, playing the peer: no SIP
phone here sends RFC 3389 CN on demand) sends 1 s of a PCMU tone, one CN
packet (payload type 13, level 45 -dBov), nothing for a second, then the tone
again and a CN packet after it, as a phone with VAD does. The engine records what it plays; the pause
must sound like the peer's room (noise at the level sent), not a dead line,
and must not count as lost audio.
"""
from __future__ import annotations

import socket
import struct
import time

import numpy as np
import pytest

import offhook.engine as eng
from offhook.media.quality import align, pesq_score
from offhook.media.wav import read_wav, write_wav
from silence_clips import ROOM_DBOV, blocks_dbov, talk_pause_talk

LOOP = "127.0.0.1"
CN_LEVEL = 45


def _packet(seq: int, ts: int, pt: int, payload: bytes, marker: bool = False) -> bytes:
    return struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | pt, seq, ts, 0x5EED) + payload


def _send_talk_pause_talk(dest: tuple[str, int]) -> None:
    enc = eng.codec("PCMU")
    t = np.arange(160) / 8000.0
    seq, ts = 0, 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        start = time.monotonic()

        def at(ms: float) -> None:  # paced sending; lateness is jitter the buffer absorbs
            delay = start + ms / 1000.0 - time.monotonic()
            if delay > 0:
                time.sleep(delay)

        for phase in range(2):
            for k in range(50):
                frame = np.round(8000 * np.sin(2 * np.pi * 1000 * (t + 0.02 * k))).astype(np.int16)
                at(phase * 2000 + 20 * k)
                s.sendto(_packet(seq, ts, 0, enc.encode(frame), marker=(k == 0)), dest)
                seq, ts = seq + 1, ts + 160
            at(phase * 2000 + 1000)  # the talkspurt ends: a pause, described by CN
            s.sendto(_packet(seq, ts, 13, bytes([CN_LEVEL])), dest)
            seq += 1
            ts += 8000  # one second of pause, then the tone again at 2000 ms
        at(3300)


def _the_pause(levels: np.ndarray) -> np.ndarray:
    """The 20 ms blocks between the two tone bursts (the tone is at about -15 dBov)."""
    loud = np.nonzero(levels < 25)[0]
    gaps = np.diff(loud)
    k = int(np.argmax(gaps))
    return levels[loud[k] + 5: loud[k + 1] - 5]  # 100 ms away from either burst


@pytest.mark.parametrize("cn", [True, False], ids=["with-cn", "cn-dropped"])
def test_a_silence_suppressed_pause_sounds_like_the_peer_room(tmp_path, cn):
    with eng.MediaEngine(8000, 20) as e:
        s = e.add_stream(local=(LOOP, 0), codec="PCMU", direction="recvonly",
                         cn_payload_type=13 if cn else None)
        s.record_wav(tmp_path / "rx.wav")
        _send_talk_pause_talk((LOOP, s.local_port))
        s.stop_recording()
        st = s.stats()
    pcm = read_wav(tmp_path / "rx.wav", sample_rate=8000, channels=1).samples
    pause = _the_pause(blocks_dbov(pcm, 160))
    assert len(pause) >= 35  # most of the 1 s pause (the rest: the tone's fade and the buffer's)
    if cn:
        assert st["cn_received"] == 2 and st["dropped_payload_type"] == 0
        assert st["playout"]["comfort_noise"] == 2
        assert abs(float(np.median(pause)) - CN_LEVEL) <= 2.0
        assert np.all(pause < CN_LEVEL + 6) and np.all(pause > CN_LEVEL - 6)
        assert st["playout"]["lost"] == 0 and st["playout"]["concealed"] == 0
    else:
        # the engine before it took CN: the packet is dropped, the pause is dead
        # silence after the concealment fades, and its number is a lost packet
        assert st["cn_received"] == 0 and st["dropped_payload_type"] == 2
        assert np.all(np.isinf(pause))
        assert st["playout"]["lost"] >= 1


def test_comfort_noise_payload_type_must_not_clash():
    with eng.MediaEngine(8000, 20) as e:
        with pytest.raises(ValueError, match="cn_payload_type"):
            e.add_stream(codec="PCMU", cn_payload_type=0)
        with pytest.raises(ValueError, match="cn_payload_type"):
            e.add_stream(codec="PCMU", dtmf_payload_type=13)
        s = e.add_stream(codec="PCMU", cn_payload_type=19)
        with pytest.raises(ValueError, match="comfort-noise"):
            s.update(codec="PCMA", payload_type=19)
        assert s.cn_payload_type == 19


def _exchange(tmp_path, vad: bool, codec: str) -> tuple[dict, dict, np.ndarray, np.ndarray]:
    """A plays the clip to B with or without silence suppression; B records at 16 kHz."""
    clip = talk_pause_talk(1.5)
    write_wav(tmp_path / "clip.wav", clip, 16000)
    with eng.MediaEngine(16000, 20) as a, eng.MediaEngine(16000, 20) as b:
        rx = b.add_stream(local=(LOOP, 0), codec=codec, direction="recvonly")
        tx = a.add_stream(local=(LOOP, 0), remote=(LOOP, rx.local_port), codec=codec,
                          direction="sendonly", vad=vad)
        rx.record_wav(tmp_path / "rx.wav")
        time.sleep(0.3)  # the buffer settles on silence first, as a call starts
        tx.play_wav(tmp_path / "clip.wav")
        time.sleep(len(clip) / 16000 + 0.5)
        rx.stop_recording()
        sent, got = tx.stats(), rx.stats()
    rec = read_wav(tmp_path / "rx.wav", sample_rate=16000, channels=1).samples
    return sent, got, clip, rec


@pytest.mark.parametrize("codec", ["PCMU", "G722"])
def test_silence_suppression_between_two_engines(tmp_path, codec):
    sent, got, clip, rec = _exchange(tmp_path, True, codec)
    # the 1.5 s pause is mostly not sent (its first 200 ms are the hangover)
    assert sent["frames_suppressed"] >= 50
    assert 1 <= sent["cn_sent"] <= 4 and got["cn_received"] == sent["cn_sent"]
    assert got["playout"]["lost"] == 0 and got["dropped_payload_type"] == 0
    # B hears the pause as noise near the level A's background had, not silence
    out = align(clip, rec)
    pause = blocks_dbov(out, 320)[int(1.4 / 0.02): int(2.3 / 0.02)]  # inside it, after the hangover
    assert np.all(np.isfinite(pause))
    assert abs(float(np.median(pause)) - ROOM_DBOV) <= 4.0
    # and the talkspurts around it sound as they do without suppression (measured
    # PESQ-WB G.722 4.24 vs 4.24 before the pause, 4.34 vs 4.42 after it; before the
    # detector capped its floor until it had heard 3 s, the first talkspurt, with no
    # pause yet to learn the room from, lost its quieter syllables: 3.49)
    _, _, _, plain = _exchange(tmp_path, False, codec)
    ours, theirs = align(clip, rec), align(clip, plain)
    for part in (slice(0, 16000), slice(int(2.6 * 16000), len(clip))):
        with_vad = pesq_score(clip[part], ours[part], 16000)
        without = pesq_score(clip[part], theirs[part], 16000)
        assert with_vad >= without - 0.2


def test_silence_suppression_needs_comfort_noise():
    with eng.MediaEngine(8000, 20) as e:
        with pytest.raises(ValueError, match="vad=True needs cn_payload_type"):
            e.add_stream(vad=True, cn_payload_type=None)
        with pytest.raises(ValueError, match="vad must be True or False"):
            e.add_stream(vad=1)
