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
from offhook.media.wav import read_wav

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


def _blocks_dbov(pcm: np.ndarray) -> np.ndarray:
    x = pcm[: len(pcm) // 160 * 160].astype(np.float64).reshape(-1, 160)
    ms = np.mean(x**2, axis=1)
    with np.errstate(divide="ignore"):
        return -10.0 * np.log10(ms / 32767.0**2)


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
    pause = _the_pause(_blocks_dbov(pcm))
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
