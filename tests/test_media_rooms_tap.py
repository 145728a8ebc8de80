"""MediaEngine conference rooms and the received-audio tap, on loopback.

Rooms: two rooms of two phones in one engine, each phone playing its own tone;
each phone hears its room-mate and nothing of the other room, nor itself (band
shares as in test_media_update's mix-minus test), and a listener in a room sees
only that room's sources as CSRC. The tap: what a stream received, read without
files, is the peer's tone at its level; a tap nobody drains counts its overruns.
"""
from __future__ import annotations

import socket
import time

import numpy as np
import pytest

import offhook.engine as eng
from offhook._media import MAX_ROOM, TAP_MAX_SECONDS
from offhook.errors import MediaError
from tone_measure import tone_share

LOOP = "127.0.0.1"
RATE = 16000



def rms_dbfs(x: np.ndarray) -> float:
    return float(20 * np.log10(max(np.sqrt(np.mean(x.astype(np.float64) ** 2)), 1e-9) / 32768))


def pair(a: eng.MediaEngine, b: eng.MediaEngine,
         codec: str = "PCMU") -> tuple[eng.MediaStream, eng.MediaStream]:
    sa = a.add_stream(codec=codec, rtcp_interval_ms=200)
    sb = b.add_stream(codec=codec, remote=(LOOP, sa.local_port), rtcp_interval_ms=200)
    sa.update(remote=(LOOP, sb.local_port))
    return sa, sb


def test_two_rooms_in_one_engine_each_phone_hears_only_its_room_mate():
    freqs = (600, 1000, 1500, 2200)
    rooms = (1, 1, 7, 7)
    with eng.MediaEngine(RATE, 20) as hub, eng.MediaEngine(RATE, 20) as phones:
        members, handsets = [], []
        for f, room in zip(freqs, rooms, strict=True):
            m, h = pair(hub, phones, "G722")
            m.join_conference(room)
            h.play_tone(f, -16)
            h.tap(2.0)
            members.append(m)
            handsets.append(h)
        time.sleep(1.2)
        got = [h.read_tap()[RATE // 2:] for h in handsets]
        assert [m.stats()["conference_room"] for m in members] == list(rooms)
        assert all(h.stats()["tap_overruns"] == 0 for h in handsets)
    for i, rec in enumerate(got):
        assert len(rec) > RATE // 2
        mate = i ^ 1
        shares = {f: tone_share(rec, f, RATE) for f in freqs}
        print(f"phone {i} ({freqs[i]} Hz) hears {', '.join(f'{f} Hz {s:.4f}' for f, s in shares.items())}")
        assert shares[freqs[mate]] > 0.9, f"phone {i} does not hear its room-mate"
        assert shares[freqs[i]] < 0.001, f"phone {i} hears itself"
        for other in (i ^ 2, mate ^ 2):
            assert shares[freqs[other]] < 0.001, f"phone {i} hears the other room's {freqs[other]} Hz"


def test_room_output_names_only_its_own_room_sources_and_room_zero_is_the_old_conference():
    with eng.MediaEngine(RATE, 20) as hub, eng.MediaEngine(RATE, 20) as phones, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as listener:
        listener.bind((LOOP, 0))
        listener.settimeout(2.0)
        handsets = []
        for room in (3, 3, 4, 4):
            m, h = pair(hub, phones)
            m.join_conference(room)
            h.play_tone(800, -16)
            handsets.append((m, h))
        third = hub.add_stream(codec="PCMU", remote=listener.getsockname())
        third.join_conference(3)
        time.sleep(0.6)
        room3 = {h.stats()["local_ssrc"] for _, h in handsets[:2]}
        seen = [eng.parse_rtp(listener.recv(2048)).csrc for _ in range(20)]
        third.join_conference()          # room 0: alone there, so nobody is mixed in
        time.sleep(0.1)
        room0 = third.stats()["conference_room"]
        after = [eng.parse_rtp(listener.recv(2048)).csrc for _ in range(25)]
    assert set(seen[-1]) == room3 and len(seen[-1]) == 2
    assert room0 == 0
    assert all(c == () for c in after[-10:]), after


def test_full_room_refuses_and_the_stream_stays_where_it_was():
    with eng.MediaEngine(RATE, 20, max_room_members=2) as hub:
        a, b, c = (hub.add_stream() for _ in range(3))
        a.join_conference(5)
        b.join_conference(5)
        c.join_conference(6)
        with pytest.raises(MediaError, match="room 5 is full"):
            c.join_conference(5)
        assert c.stats()["conference_room"] == 6
        c.leave_conference()
        c.leave_conference()
        assert c.stats()["conference_room"] is None
        b.join_conference(6)             # moves: room 5 keeps a, room 6 is made again
        assert (a.stats()["conference_room"], b.stats()["conference_room"]) == (5, 6)


@pytest.mark.parametrize("room", [-1, MAX_ROOM + 1, 1.5, True, "1"])
def test_join_conference_rejects_bad_rooms(room):
    with eng.MediaEngine(RATE, 20) as hub:
        s = hub.add_stream()
        with pytest.raises(ValueError, match=rf"room must be an int 0\.\.{MAX_ROOM}"):
            s.join_conference(room)


def test_max_room_members_is_checked():
    with pytest.raises(ValueError, match=r"max_room_members must be 1\.\.4096, got 0"):
        eng.MediaEngine(RATE, 20, max_room_members=0)


def test_tap_hands_over_the_received_audio_without_files():
    with eng.MediaEngine(RATE, 20) as a, eng.MediaEngine(8000, 20) as b:
        sa, sb = pair(a, b)
        sb.play_tone(1000, -10)
        assert sa.read_tap().size == 0          # no tap yet: nothing, no error
        sa.tap(1.0)
        time.sleep(0.5)
        first = sa.read_tap(800)
        time.sleep(0.2)
        rest = sa.read_tap()
        st = sa.stats()
        sa.tap(0)
        off = sa.stats()
    assert first.dtype == np.int16 and first.shape == (800,)
    got = np.concatenate([first, rest])
    assert st["tap"] and st["tap_samples"] >= len(got) and st["tap_overruns"] == 0
    assert not off["tap"]
    tail = got[-RATE // 4:]
    # -10 dBm0 is -13.14 dBFS peak-referenced -> -16.2 dBFS RMS for a sine
    assert tone_share(tail, 1000, RATE) > 0.95
    assert abs(rms_dbfs(tail) - (-10 - 3.14 - 3.01)) < 1.5


def test_tap_nobody_drains_counts_its_overruns():
    with eng.MediaEngine(RATE, 20) as a, eng.MediaEngine(RATE, 20) as b:
        sa, sb = pair(a, b)
        sb.play_tone(700, -10)
        sa.tap(0.1)
        time.sleep(0.5)
        st = sa.stats()
        held = sa.read_tap()
    assert len(held) == 2048          # 100 ms at 16 kHz, rounded up to a power of two
    assert st["tap_overruns"] >= 10 and st["tap_dropped"] >= 10 * 320


@pytest.mark.parametrize("seconds", [-1, 0.001, TAP_MAX_SECONDS + 1, "1", None, True])
def test_tap_rejects_bad_durations(seconds):
    with eng.MediaEngine(RATE, 20) as a:
        s = a.add_stream()
        with pytest.raises(ValueError, match=r"tap seconds must be 0 \(off\) or 0\.02\.\.60"):
            s.tap(seconds)


@pytest.mark.parametrize("n", [-1, 2.0, True])
def test_read_tap_rejects_bad_counts(n):
    with eng.MediaEngine(RATE, 20) as a:
        s = a.add_stream()
        with pytest.raises(ValueError, match=r"max_samples must be an int >= 0 or None"):
            s.read_tap(n)


def test_tap_of_a_closed_stream_is_an_error():
    with eng.MediaEngine(RATE, 20) as a:
        s = a.add_stream()
        s.close()
        with pytest.raises(MediaError, match="the stream is closed"):
            s.read_tap()
