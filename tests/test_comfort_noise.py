"""Comfort noise (RFC 3389) on the receive side: JitterBuffer, Playout.

A sender with silence suppression sends a CN payload when a pause starts and
nothing (or a CN update now and then) until speech resumes. The buffer must
take the pause as a pause, not as a run of late or lost packets; the Playout
fills it with noise at the level the payload gives. Level accuracy and the
noise's colour are tested in C (tests/c/test_cng.c).
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from offhook.engine import JitterBuffer, JitterStatus, Playout, codec
from offhook.media.speech import speech
from silence_clips import blocks_dbov

S = JitterStatus
NETWORK_MS = 30.0


def _level_dbov(pcm: np.ndarray) -> float:
    return float(blocks_dbov(pcm, len(pcm))[0])


def _talk_pause_talk(cn: bytes | None, pause_ms: int = 1500, talk: int = 100):
    """(arrival_ms, seq, timestamp, payload, marker, is_cn): `talk` frames, a pause, `talk` more.

    Timestamps keep real time across the pause (8 kHz, 20 ms frames). With
    cn=None the pause has no CN packet, but the sequence numbers still skip
    the one it would have had (a CN packet dropped on the way).
    """
    packets = []
    for i in range(talk):
        packets.append((20.0 * i + NETWORK_MS, i, 160 * i, i.to_bytes(4, "little"), False, False))
    pause_at = 20 * talk
    if cn is not None:
        packets.append((pause_at + NETWORK_MS, talk, 8 * pause_at, cn, False, True))
    resume_at = pause_at + pause_ms
    for k in range(talk):
        i = talk + k
        t = resume_at + 20 * k
        packets.append((t + NETWORK_MS, talk + 1 + k, 8 * t, i.to_bytes(4, "little"), k == 0, False))
    return packets


def _drive(buffer, packets, ticks: int | None = None):
    """Puts each packet at its arrival and gets once per 20 ms tick, until just after the last."""
    if ticks is None:
        ticks = int((max(p[0] for p in packets) - NETWORK_MS) / 20.0) + 2
    out = []
    j = 0
    for k in range(ticks):
        now = NETWORK_MS + 20.0 * k
        while j < len(packets) and packets[j][0] <= now:
            arrival, seq, ts, payload, marker, is_cn = packets[j]
            buffer.put(seq, ts, payload, arrival, marker, comfort_noise=is_cn)
            j += 1
        out.append(buffer.get(now))
    return out


def test_a_comfort_noise_pause_is_silence_not_loss():
    jb = JitterBuffer()
    events = _drive(jb, _talk_pause_talk(bytes([50])))
    statuses = [s for _, s in events]
    cn_ticks = [k for k, (data, s) in enumerate(events) if s == S.SILENCE and data == bytes([50])]
    assert len(cn_ticks) == 1
    pause = statuses[cn_ticks[0]: cn_ticks[0] + 70]  # 1.4 s of the 1.5 s pause
    assert set(pause) == {S.SILENCE}
    played = [int.from_bytes(d, "little") for d, s in events if d is not None and s != S.SILENCE]
    assert played == list(range(200))
    st_ = jb.stats()
    assert st_["lost"] == 0 and st_["concealed"] == 0 and st_["late"] == 0
    assert st_["comfort_noise"] == 1 and st_["expanded"] <= 2
    # the delay after the pause is the delay before it
    def tick_of(i: int) -> int:
        return next(k for k, (d, _) in enumerate(events) if d == i.to_bytes(4, "little"))
    before = tick_of(99) * 20 - 99 * 20
    after = tick_of(100) * 20 - (2000 + 1500)
    assert abs(after - before) <= 20


def test_the_same_pause_without_its_comfort_noise_packet_counts_a_loss():
    # What the media engine did before it took CN: the CN packet was dropped as an
    # unknown payload type, its sequence number looked lost and the pause like a stall.
    jb = JitterBuffer()
    events = _drive(jb, _talk_pause_talk(None))
    statuses = [s for _, s in events]
    assert jb.stats()["lost"] >= 1
    assert S.LATE in statuses or S.LOST in statuses


def test_packet_length_is_not_taken_from_across_a_short_pause():
    # 60 ms between the CN packet and the next talkspurt: the 20 ms ptime must stay 20 ms
    jb = JitterBuffer()
    events = _drive(jb, _talk_pause_talk(bytes([60]), pause_ms=60, talk=60))
    assert S.CONTINUED not in [s for _, s in events]
    played = [int.from_bytes(d, "little") for d, s in events if d is not None and s != S.SILENCE]
    assert played == list(range(120))


def test_comfort_noise_updates_in_a_pause_are_taken_in_order():
    jb = JitterBuffer()
    packets = _talk_pause_talk(bytes([50]), pause_ms=3000)
    pause_at = 2000
    # updates 1 s and 2 s into the pause; the sequence numbers after them move up
    updates = [(pause_at + 1000 + NETWORK_MS, 101, 8 * (pause_at + 1000), bytes([40]), False, True),
               (pause_at + 2000 + NETWORK_MS, 102, 8 * (pause_at + 2000), bytes([45, 100]), False, True)]
    talk = [(a, seq + 2, ts, p, m, c) for a, seq, ts, p, m, c in packets if seq > 100]
    packets = [p for p in packets if p[1] <= 100] + updates + talk
    events = _drive(jb, sorted(packets))
    described = [d for d, s in events if s == S.SILENCE and d is not None]
    assert described == [bytes([50]), bytes([40]), bytes([45, 100])]
    assert jb.stats()["lost"] == 0


def test_a_packet_lost_in_the_pause_is_passed_over_not_concealed():
    jb = JitterBuffer()
    packets = _talk_pause_talk(bytes([50]))
    packets = [p for p in packets if p[1] != 101]  # the first packet of the next talkspurt
    events = _drive(jb, packets)
    statuses = [s for _, s in events]
    cn_tick = next(k for k, (d, _) in enumerate(events) if d == bytes([50]))
    assert set(statuses[cn_tick: cn_tick + 70]) == {S.SILENCE}
    played = [int.from_bytes(d, "little") for d, s in events if d is not None and s != S.SILENCE]
    assert played == list(range(100)) + list(range(101, 200))


def _speech_packets(pcm: np.ndarray, name: str) -> list[bytes]:
    enc = codec(name)
    return [enc.encode(np.ascontiguousarray(pcm[i:i + 160])) for i in range(0, len(pcm) - 159, 160)]


@pytest.mark.parametrize("level", [40, 55, 70])
def test_playout_fills_the_pause_with_noise_at_the_level_sent(level):
    talk = speech(2.0, 8000)
    payloads = _speech_packets(talk, "PCMU")
    packets = _talk_pause_talk(bytes([level, 120, 140, 127]), talk=50)
    packets = [(a, seq, ts, (p if c else payloads[int.from_bytes(p, "little")]), m, c)
               for a, seq, ts, p, m, c in packets]
    pl = Playout("PCMU")
    events = _drive(pl, packets)
    pcm = np.concatenate([e[0] for e in events])
    statuses = [s for _, s in events]
    first_cn = statuses.index(S.SILENCE, 10)
    pause = pcm[(first_cn + 5) * 160:(first_cn + 70) * 160]
    assert abs(_level_dbov(pause) - level) <= 1.5
    # and speech again after it, decoded as sent (not noise, not silence)
    resumed = [k for k, s in enumerate(statuses) if s == S.NORMAL and k > first_cn][5]
    assert _level_dbov(pcm[resumed * 160:(resumed + 20) * 160]) < level - 10


def test_playout_without_comfort_noise_leaves_a_pause_silent():
    talk = speech(2.0, 8000)
    payloads = _speech_packets(talk, "PCMU")
    packets = [(a, seq, ts, payloads[int.from_bytes(p, "little")], m, c)
               for a, seq, ts, p, m, c in _talk_pause_talk(None, talk=50)]
    events = _drive(Playout("PCMU"), packets)
    pcm = np.concatenate([e[0] for e in events])
    # the codec's concealment fades out within 60 ms; the rest of the pause is digital silence
    assert np.all(pcm[(50 + 10) * 160:(50 + 70) * 160] == 0)


def test_an_empty_comfort_noise_payload_is_refused_clearly():
    pl = Playout("G722")
    with pytest.raises(ValueError, match=r"Playout\.put"):
        pl.put(1, 160, b"", 0.0, comfort_noise=True)
    pl.put(2, 320, bytes([60]), 20.0, comfort_noise=True)  # a good one still goes in
    assert pl.stats()["received"] == 1


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 3), st.integers(0, 2000),
                          st.binary(min_size=1, max_size=24), st.floats(0.0, 80.0)),
                min_size=1, max_size=120))
def test_any_mix_of_speech_and_comfort_noise_plays_one_tick_at_a_time(items):
    pl = Playout("G722")
    enc = codec("G722")
    voiced = enc.encode(np.zeros(320, dtype=np.int16))
    seq, ts, now = 0, 0, 0.0
    for is_cn, seq_step, ts_step, sid, jitter in items:
        seq = (seq + seq_step) & 0xFFFF
        ts = (ts + ts_step) & 0xFFFFFFFF
        pl.put(seq, ts, sid if is_cn else voiced, now + jitter, comfort_noise=is_cn)
        pcm, status = pl.get(now)
        assert pcm.shape == (320,) and pcm.dtype == np.int16
        assert status in set(S)
        now += 20.0
