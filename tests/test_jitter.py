"""offhook.engine.JitterBuffer and TimeScaler: the binding, stream edge cases, and the
issue-4 targets measured on shortened deterministic traces (offhook.media.nettrace).

The full-length side-by-side table is bench/bench_jitter.py; here each target is
asserted on 30-60 s traces so that the suite stays fast.
"""
from __future__ import annotations

import itertools
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from offhook.engine import JitterBuffer, JitterStatus, Playout, TimeScaler, codec
from offhook.media import nettrace as nt
from offhook.media.quality import pesq_score
from offhook.media.speech import speech

S = JitterStatus


def frame(i: int) -> bytes:
    return i.to_bytes(4, "little")


def drive(jb: JitterBuffer, arrivals: list[tuple[float, int]], ticks: int, *, seq0: int = 0,
          ts0: int = 0, start: float = 0.0) -> list[tuple[JitterStatus, list[int]]]:
    """Puts (arrival, frame) pairs as their time comes and gets once per 20 ms tick."""
    arrivals = sorted(arrivals)
    out = []
    j = 0
    for k in range(ticks):
        now = start + 20.0 * k
        while j < len(arrivals) and arrivals[j][0] <= now:
            a, i = arrivals[j]
            jb.put((seq0 + i) & 0xFFFF, (ts0 + 160 * i) & 0xFFFFFFFF, frame(i), a)
            j += 1
        data, status = jb.get(now)
        played = [] if data is None else [int.from_bytes(data, "little")]
        if status == S.ACCELERATED:
            played.append(int.from_bytes(jb.last_skipped, "little"))
        out.append((status, played))
    return out


def encode_frames(clean: np.ndarray, name: str, n: int) -> list[bytes]:
    enc = codec(name)
    return [enc.encode(np.ascontiguousarray(clean[i * n:(i + 1) * n])) for i in range(len(clean) // n)]


def played_frames(events) -> list[int]:
    return [f for _, fs in events for f in fs]


# --- the binding -------------------------------------------------------------

def test_get_returns_payload_and_status():
    jb = JitterBuffer(8000, 20)
    assert jb.get(0.0) == (None, S.SILENCE)
    jb.put(10, 1600, b"abc", 5.0)
    assert jb.get(20.0) == (None, S.SILENCE)  # a first tick of margin while nothing is known
    data, status = jb.get(40.0)
    assert (data, status) == (b"abc", S.NORMAL)
    assert isinstance(status, JitterStatus)
    stats = jb.stats()
    assert set(stats) >= {"current_delay_ms", "target_delay_ms", "late", "lost", "concealed",
                          "accelerated", "expanded", "max_burst"}
    assert stats["received"] == 1 and stats["played"] == 1
    jb.reset()
    assert jb.stats()["received"] == 0


@pytest.mark.parametrize("kwargs, message", [
    ({"clock_rate": 500}, "clock_rate must be 1000..192000 Hz, got 500"),
    ({"frame_ms": 30}, "frame_ms must be 10 or 20, got 30"),
    ({"clock_rate": 11025, "frame_ms": 10}, "a 10 ms tick is not a whole number of samples at 11025 Hz"),
    ({"min_delay_ms": 50, "max_delay_ms": 20},
     "need 0 <= min_delay_ms <= max_delay_ms <= 10000, got 50 and 20"),
    ({"capacity": 100}, "capacity must be a power of two in 16..4096, got 100"),
    ({"max_payload": 0}, "max_payload must be 1..65536 bytes, got 0"),
    ({"late_ratio": 0.5}, "late_ratio must be 0.0005..0.2, got 0.5"),
    ({"memory_s": 1.0}, "memory_s must be 2..600 s, got 1.0"),
])
def test_bad_configuration_is_a_clear_error(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        JitterBuffer(**kwargs)


@pytest.mark.parametrize("args, message", [
    ((70000, 0, b"x", 0.0), "seq must be 0..65535, got 70000"),
    ((1, -1, b"x", 0.0), "timestamp must be 0..4294967295, got -1"),
    ((1, 0, b"x", float("nan")), "arrival_ms must be finite, got nan"),
])
def test_bad_put_is_a_clear_error(args, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        JitterBuffer().put(*args)


def test_payload_type_and_size_are_checked():
    jb = JitterBuffer(max_payload=16)
    with pytest.raises(TypeError, match="JitterBuffer payload must be bytes-like, got str"):
        jb.put(1, 0, "text", 0.0)
    with pytest.raises(ValueError, match=r"JitterBuffer.put of 17 bytes \(max_payload\?\)"):
        jb.put(1, 0, bytes(17), 0.0)
    jb.put(1, 0, bytearray(16), 0.0)  # any bytes-like of the right size
    jb.put(2, 160, memoryview(bytes(8)), 20.0)
    with pytest.raises(ValueError, match="must be finite"):
        jb.get(float("inf"))


# --- stream edge cases ---------------------------------------------------------

def test_reordering_and_duplicates_play_each_frame_once_in_order():
    arrivals = []
    for i in range(300):
        a = 20.0 * i + (45.0 if i % 3 == 0 else 20.0)  # every third frame overtaken
        arrivals.append((a, i))
        if i % 7 == 0:
            arrivals.append((a + 3.0, i))  # duplicate
    events = drive(JitterBuffer(), arrivals, 340)
    played = played_frames(events)
    assert played == list(range(300))


def test_sequence_and_timestamp_wrap_around():
    arrivals = [(20.0 * i + 30.0, i) for i in range(400)]
    events = drive(JitterBuffer(), arrivals, 430, seq0=65400, ts0=0xFFFFFFFF - 160 * 100)
    assert played_frames(events) == list(range(400))


def test_ssrc_change_resynchronises():
    jb = JitterBuffer()
    played = []
    for k in range(300):
        now = 20.0 * k
        if k < 150:
            jb.put(k, 160 * k, frame(k), now, ssrc=1)
        else:  # a new source with unrelated numbering
            jb.put((9000 + k) & 0xFFFF, (0x70000000 + 160 * k) & 0xFFFFFFFF, frame(k), now, ssrc=2)
        data, status = jb.get(now + 1.0)
        if data is not None:
            played.append(int.from_bytes(data, "little"))
        if status == S.ACCELERATED:
            played.append(int.from_bytes(jb.last_skipped, "little"))
    assert jb.stats()["resyncs"] == 1
    assert played == sorted(played) and len(set(played)) == len(played)
    assert len(played) >= 295


def test_dtx_gap_plays_silence_then_the_next_talkspurt_on_target():
    jb = JitterBuffer()
    played = []
    statuses = []
    for k in range(300):
        now = 20.0 * k
        if k < 100 or k >= 200:  # 2 s without packets; timestamps keep real time
            i = k if k < 100 else k - 100
            jb.put(i, 160 * k, frame(i), now + 25.0, marker=(k == 200))
        data, status = jb.get(now + 30.0)
        statuses.append(status)
        if data is not None:
            played.append(int.from_bytes(data, "little"))
        if status == S.ACCELERATED:
            played.append(int.from_bytes(jb.last_skipped, "little"))
        if k == 90:
            before = jb.stats()["current_delay_ms"]
    assert played == list(range(200))
    assert S.SILENCE in statuses[100:200]
    assert abs(jb.stats()["current_delay_ms"] - before) <= 20.0

@pytest.mark.parametrize("tick_ms", [10, 20])
def test_the_reported_delay_is_the_delay_of_what_is_played_after_a_dtx_gap(tick_ms):
    # The re-alignment in a DTX gap once put the timeline between two frame
    # boundaries (at "now - target": 8 ms off the frames' grid here); the
    # next frame was handed out anyway, and from then on every offset the
    # buffer computed (and decided on) was that far from the one played: on
    # a 10 ms clock with 20 ms packets 2.4 ms short, which kept the "low"
    # trace one tick above the oracle for the whole call.
    jb = JitterBuffer(8000, tick_ms)
    network_ms = 37.0  # every other packet 10 ms more: the target is 11 ms above the base
    seen = []
    for k in range(300 * 20 // tick_ms):
        now = tick_ms * k
        if now % 20 == 0 and not 2000 <= now < 3000:  # 1 s of DTX: timestamps keep real time
            seq = now // 20 if now < 2000 else now // 20 - 50  # sequence numbers do not jump
            jb.put(seq, 8 * now, frame(now // 20), now + network_ms + 10.0 * (seq % 2))
        data, status = jb.get(now + network_ms + 3.0)
        if data is not None and status == S.NORMAL and now > 3500:
            i = int.from_bytes(data, "little")
            played_ms = now + network_ms + 3.0
            seen.append(jb.stats()["current_delay_ms"] - (played_ms - 20.0 * i - network_ms))
    assert len(seen) >= 50
    assert max(abs(e) for e in seen) < 1e-6



def test_loss_is_concealed_and_counted():
    arrivals = [(20.0 * i + 30.0, i) for i in range(200) if i not in (50, 120, 121)]
    jb = JitterBuffer()
    events = drive(jb, arrivals, 205)
    statuses = [s for s, _ in events]
    assert statuses.count(S.LOST) + statuses.count(S.LATE) >= 3
    stats = jb.stats()
    assert stats["max_burst"] >= 2 and stats["lost"] >= 3
    assert 50 not in played_frames(events)


@pytest.mark.parametrize("phase_ms, spread_ms", [(0.0, 0.1), (0.0, 1.0), (-0.01, 0.1), (19.99, 0.1)])
def test_arrivals_at_the_tick_boundary_do_not_flip_between_in_time_and_late(phase_ms, spread_ms):
    # A LAN or loopback: every packet arrives within a hair of the tick that
    # would play it. The buffer used to accelerate into that phase and
    # expand out of it again whenever a packet missed (~20 % of the ticks
    # time-scaled); it must settle one tick later and stay there.
    rng = np.random.default_rng(3)
    n = 1000
    arrivals = [(100.0 + 20.0 * i + phase_ms + rng.uniform(-spread_ms / 2, spread_ms / 2), i)
                for i in range(n)]
    jb = JitterBuffer()
    events = drive(jb, arrivals, n + 7)
    assert played_frames(events) == list(range(n))
    counts = {s: sum(1 for e, _ in events if e == s) for s in S}
    assert counts[S.ACCELERATED] + counts[S.EXPANDED] <= 2
    assert jb.stats()["late"] == 0


def test_playout_at_the_tick_boundary_keeps_wideband_quality_without_a_minimum_delay():
    # What csrc/oh_engine.c hit on loopback (PESQ-WB 3.0 -> 1.9 from the flips)
    # and worked around with min_delay_ms = one ptime.
    clean = speech(8.0, 16000)
    payloads = encode_frames(clean, "G722", 320)
    rng = np.random.default_rng(5)
    pl = Playout("G722", min_delay_ms=0)
    out, j = [], 0
    arrivals = [200.0 + 20.0 * i + rng.uniform(-0.05, 0.05) for i in range(len(payloads))]
    for k in range(len(payloads) + 20):
        now = 20.0 * k
        while j < len(arrivals) and arrivals[j] <= now:
            pl.put(j, 160 * j, payloads[j], arrivals[j])
            j += 1
        out.append(pl.get(now)[0])
    st = pl.stats()
    assert st["accelerated"] + st["expanded"] <= 8  # the 6 after the last packet, waiting
    assert pesq_score(clean, np.concatenate(out), 16000) >= 2.9  # measured 3.01


def test_on_a_lossy_link_a_missing_frame_is_concealed_rather_than_waited_for():
    # When losses outnumber late packets, waiting for a frame that is not here
    # (an expansion, then an acceleration to undo it) only adds two audible
    # adjustments to the concealment it ends in anyway.
    trace = nt.make_trace("loss10", 30.0, seed=2)
    r = nt.replay(trace, JitterBuffer())
    assert r.statuses.get(S.ACCELERATED, 0) <= 8  # measured 5; 22 when every one was waited for
    assert r.late_loss <= 0.01
    # without losses (reordering) missing frames are still waited for: late loss stays low
    assert nt.replay(nt.make_trace("reorder", 30.0, seed=2), JitterBuffer()).late_loss <= 0.006


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(16, 128).map(lambda c: 1 << c.bit_length() - 1),
       st.lists(st.tuples(st.floats(0.0, 300.0), st.booleans(), st.booleans()), min_size=50, max_size=250))
def test_random_arrival_orders_never_play_a_frame_twice(seed, capacity, plan):
    rng = np.random.default_rng(seed)
    arrivals = []
    for i, (delay, lost, dup) in enumerate(plan):
        if lost:
            continue
        arrivals.append((20.0 * i + delay, i))
        if dup:
            arrivals.append((20.0 * i + delay + float(rng.uniform(0, 100)), i))
    events = drive(JitterBuffer(capacity=capacity), arrivals, len(plan) + 30,
                   seq0=int(rng.integers(0, 65536)), ts0=int(rng.integers(0, 2**32)))
    played = played_frames(events)
    assert len(played) == len(set(played))
    assert played == sorted(played)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([10, 20]),
       st.lists(st.tuples(st.sampled_from([10, 20, 30, 40, 60]), st.floats(0.0, 120.0), st.booleans(),
                          st.booleans()), min_size=1, max_size=150))
def test_random_packet_lengths_never_play_a_packet_twice(seed, tick_ms, plan):
    # lengths that change at random (told, as the Playout tells them), with jitter, loss and
    # duplicates: every packet handed out at most once, in order, parts included
    rng = np.random.default_rng(seed)
    arrivals, t = [], 0
    for i, (ms, delay, lost, dup) in enumerate(plan):
        if not lost:
            arrivals.append((t + ms + delay, i, t, ms))
            if dup:
                arrivals.append((t + ms + delay + float(rng.uniform(0, 100)), i, t, ms))
        t += ms
    arrivals.sort()
    jb = JitterBuffer(8000, tick_ms)
    played: list[int] = []
    j = 0
    for k in range(int(t / tick_ms) + 200):
        now = float(k * tick_ms)
        while j < len(arrivals) and arrivals[j][0] <= now:
            a, i, start, ms = arrivals[j]
            jb.put(i, 8 * start, frame(i), a, samples=8 * ms)
            j += 1
        data, status = jb.get(now)
        parts = [data] if status in (S.NORMAL, S.ACCELERATED, S.LOST, S.LATE) else []
        if status == S.ACCELERATED:
            parts.append(jb.last_skipped)
        parts += jb.last_more
        played += [int.from_bytes(p, "little") for p in parts if p]
    assert len(played) == len(set(played))
    assert played == sorted(played)


@settings(max_examples=30, deadline=None)
@given(st.sampled_from([10, 20]), st.lists(st.tuples(st.sampled_from([5, 10, 20, 30, 40, 60]),
                                                     st.floats(0.0, 200.0), st.booleans()),
                                           min_size=1, max_size=100))
def test_playout_of_random_packet_lengths_always_fills_its_tick(tick_ms, plan):
    # (G.711 payloads of up to 64 ms: max_payload is 512 bytes, see test_playout_bad_input_is_clear)
    pl = Playout("PCMU", frame_ms=tick_ms)
    arrivals, t = [], 0
    for i, (ms, delay, lost) in enumerate(plan):
        if not lost:
            arrivals.append((t + ms + delay, i, t, bytes([i & 0x7F]) * (8 * ms)))
        t += ms
    arrivals.sort()
    j = 0
    for k in range(int(t / tick_ms) + 100):
        now = float(k * tick_ms)
        while j < len(arrivals) and arrivals[j][0] <= now:
            a, i, start, payload = arrivals[j]
            pl.put(i, 8 * start, payload, a)
            j += 1
        pcm, _ = pl.get(now)
        assert len(pcm) == 8 * tick_ms


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 65535), st.integers(0, 2**32 - 1), st.integers(0, 3),
                          st.floats(-1e6, 1e6), st.integers(0, 600), st.integers(0, 2000)),
                min_size=1, max_size=200))
def test_arbitrary_packets_never_crash(packets):
    jb = JitterBuffer(capacity=16)
    now = 0.0
    for seq, ts, ssrc, arrival, size, samples in packets:
        jb.put(seq, ts, bytes(min(size, 512)), arrival, ssrc=ssrc, samples=samples)
        now += 7.0
        data, status = jb.get(now)
        assert data is None or len(data) <= 512
        assert status in set(JitterStatus)


# --- targets on shortened deterministic traces ---------------------------------

SHORT_S = 45.0


@pytest.fixture(scope="module")
def replays():
    out = {}
    for name in nt.TRACES:
        trace = nt.make_trace(name, SHORT_S)
        out[name] = (trace, nt.replay(trace, JitterBuffer(8000, 20)), nt.grid_oracle(trace))
    return out


@pytest.mark.parametrize("name", list(nt.TRACES))
def test_late_loss_at_most_one_percent(replays, name):
    _, r, _ = replays[name]
    assert r.late_loss <= 0.01


# Issue 4 asks for <= 1.15x the oracle. Which oracle: the one on the playout
# clock (a frame must be there by the tick that plays it), since a buffer whose
# playout clock ticks every 20 ms cannot play a frame between ticks; the
# continuous one is up to a tick lower (bench/RESULTS.md shows both).
# Measured on these 45 s traces: 1.00 (low, loss3, loss10), 0.11 (spikes),
# 0.89 (reorder), 1.04 (pareto), 1.07 (drift_fast), 1.14 (drift).
RATIO_BOUND = {name: 1.15 for name in nt.TRACES} | {"spikes": 0.2, "reorder": 1.0}


@pytest.mark.parametrize("name", list(nt.TRACES))
def test_mean_delay_within_15_percent_of_the_oracle_on_the_playout_clock(replays, name):
    _, r, oracle = replays[name]
    assert r.mean_delay_ms <= RATIO_BOUND[name] * oracle.mean_delay_ms


def test_continuous_oracle_and_grid_oracle_agree_up_to_one_tick():
    trace = nt.make_trace("pareto", SHORT_S)
    d = nt.oracle_delay(trace)
    grid = nt.grid_oracle(trace)
    assert grid.late_loss <= 0.01
    assert d - 1e-6 <= grid.mean_delay_ms <= d + trace.frame_ms


def test_grid_oracle_is_one_fixed_delay_without_drift():
    # Without drift every frame has the same phase on the playout clock, so
    # the oracle on ticks plays every frame with the same delay (float noise
    # once split a tie and played a third of the frames a tick later).
    for name in ("reorder", "spikes"):
        trace = nt.make_trace(name, SHORT_S)
        grid = nt.grid_oracle(trace)
        assert grid.late_loss <= 0.01
        assert np.ptp(grid.delays_ms) < 1e-6
        earlier = nt.fixed_playout(trace, float(grid.delays_ms[0]) - trace.frame_ms)
        assert earlier.late_loss > 0.01  # a tick less would be too late


def test_ten_ms_ticks_with_twenty_ms_packets_accelerate_half_a_packet_at_a_time():
    # 20 ms packets on a 10 ms clock: delay moves in 10 ms steps (a whole
    # packet played in one tick), so it sits closer to the continuous oracle.
    trace = nt.make_trace("drift_fast", SHORT_S)
    jb = JitterBuffer(8000, 10)
    r10 = nt.replay(trace, jb, tick_ms=10)
    r20 = nt.replay(trace, JitterBuffer(8000, 20))
    assert r10.statuses.get(S.ACCELERATED, 0) >= 5 and jb.last_skipped == b""
    assert np.all(np.diff(r10.frames) > 0)  # in order, none twice
    assert r10.late_loss <= 0.005
    assert r10.mean_delay_ms <= r20.mean_delay_ms - 4.0
    # measured 1.08x: 1.03x before the timeline kept to the frames' grid in a
    # jump, when the offsets it decided on were 2.4 ms short of the real ones
    assert r10.mean_delay_ms <= 1.10 * nt.grid_oracle(trace, tick_ms=10).mean_delay_ms


def test_ten_ms_playout_of_twenty_ms_packets_sounds_nearly_like_the_twenty_ms_one():
    clean, payloads = _payloads(10.0)
    trace = nt.make_trace("drift_fast", 10.0)
    a10 = nt.replay_audio(trace, Playout("PCMU", frame_ms=10), payloads, tick_ms=10)
    a20 = nt.replay_audio(trace, Playout("PCMU"), payloads)
    # measured 3.76 vs 3.94: more, smaller adjustments, each still a 2:1 squeeze of its
    # 20 ms (a pitch-period-sized step is the open item)
    assert pesq_score(clean, a10, 8000) >= pesq_score(clean, a20, 8000) - 0.25


# --- packets of other lengths than a tick (a peer's ptime of 10 or 30 ms on a 20 ms clock) ----

@pytest.mark.parametrize("packet_ms", [10, 30])
@pytest.mark.parametrize("name", list(nt.TRACES))
def test_packets_of_other_lengths_than_a_tick_stay_under_one_percent_late(name, packet_ms):
    # A tick plays two 10 ms packets (JitterBuffer.last_more), or a 30 ms packet runs on into
    # the next one's tick; a packet that starts inside a tick is due when the tick starts, so
    # the buffer aims up to 10 ms later. Before, every second 10 ms packet was dropped as late.
    trace = nt.make_trace(name, 60.0, frame_ms=packet_ms)
    r = nt.replay(trace, JitterBuffer(8000, 20), tick_ms=20)
    # measured, seeds 1-4: at most 0.80 % late (10 ms packets), 1.00 % (30 ms, pareto)
    assert r.late_loss <= 0.01
    assert len(set(r.frames.tolist())) == len(r.frames) and np.all(np.diff(r.frames) > 0)
    twenty = nt.replay(nt.make_trace(name, 60.0), JitterBuffer(8000, 20))
    # the price: up to a tick more delay than 20 ms packets on the same link (measured,
    # means over seeds 1-4: +3.9..+13.5 ms)
    assert r.mean_delay_ms <= twenty.mean_delay_ms + 20.0


@pytest.mark.parametrize("packet_ms", [10, 30])
def test_playout_of_packets_of_other_lengths_sounds_like_twenty_ms_ones(packet_ms):
    clean = speech(20.0, 8000)
    for name in ("low", "reorder"):
        ours, theirs = [], []
        for seed in (1, 2, 3, 4):
            short = nt.replay_audio(nt.make_trace(name, 20.0, seed, frame_ms=packet_ms), Playout("PCMU"),
                                    encode_frames(clean, "PCMU", 8 * packet_ms), tick_ms=20)
            twenty = nt.replay_audio(nt.make_trace(name, 20.0, seed), Playout("PCMU"),
                                     encode_frames(clean, "PCMU", 160))
            ours.append(pesq_score(clean, short, 8000))
            theirs.append(pesq_score(clean, twenty, 8000))
        # measured, means over seeds 1-4, 20 ms packets low 3.85, reorder 3.71: 10 ms packets
        # 3.82 and 3.55, 30 ms packets 3.82 and 3.72. Other traces: pareto -0.07 / -0.22,
        # spikes +0.11 / -0.20, drift_fast -0.19 / -0.11 (10 / 30 ms; on drift_fast seed 1
        # the 10 ms packets' delay drifts 18 ms before their first acceleration, with no
        # other adjustment, where 20 ms packets start a tick lower and accelerate three times)
        assert np.mean(ours) >= np.mean(theirs) - 0.25, (name, ours, theirs)


def test_recovers_from_each_delay_spike_within_3_s():
    trace = nt.make_trace("spikes", 60.0)
    jb = JitterBuffer()
    delays = []
    pk = trace.packets
    t0 = pk[0][0]
    j = 0
    ticks = int((pk[-1][0] - t0) / 20)
    for k in range(ticks):
        now = t0 + 20.0 * k
        while j < len(pk) and pk[j][0] <= now:
            a, i = pk[j]
            jb.put(i & 0xFFFF, 160 * i, frame(i), a)
            j += 1
        jb.get(now)
        delays.append(jb.stats()["current_delay_ms"])
    delays = np.array(delays)
    spiked = np.nonzero(trace.delay_ms() > 150.0)[0]
    starts = [int(spiked[0])] + [int(b) for a, b in itertools.pairwise(spiked) if b - a > 50]
    assert len(starts) >= 3
    checked = 0
    for s in starts:
        burst = spiked[(spiked >= s) & (spiked < s + 50)]
        drained = float(np.nanmax(trace.arrival_ms[burst]))
        start_tick = int((trace.send_ms[s] - t0) / 20)
        before = float(np.median(delays[start_tick - 50:start_tick]))
        after_tick = int((drained + 3000.0 - t0) / 20)
        if after_tick >= len(delays):
            continue  # the trace ends before
        assert abs(delays[after_tick] - before) <= 20.0, (s, before, delays[after_tick])
        checked += 1
    assert checked >= 3


@pytest.mark.parametrize("name", ["drift", "drift_fast"])
def test_ten_minutes_of_clock_drift_stay_on_target(name):
    trace = nt.make_trace(name, 600.0)
    jb = JitterBuffer()
    pk = trace.packets
    t0 = pk[0][0]
    j = 0
    worst = 0.0
    for k in range(int((pk[-1][0] - t0) / 20)):
        now = t0 + 20.0 * k
        while j < len(pk) and pk[j][0] <= now:
            a, i = pk[j]
            jb.put(i & 0xFFFF, (160 * i) & 0xFFFFFFFF, frame(i), a)
            j += 1
        jb.get(now)
        if k > 250:
            s = jb.stats()
            worst = max(worst, abs(s["current_delay_ms"] - s["target_delay_ms"]))
    # measured: drift (sender 0.1 % slow) -4.7..+17.8 ms, 110 late of 30000:
    # a frame missed by < 2.5 ms is concealed rather than waited for a whole
    # tick; drift_fast -2.5..+20.0, 22 late (there the near-misses follow
    # accelerations and concealing them cost more late loss than speex's)
    assert worst <= (18.5 if name == "drift" else 20.0)
    assert jb.stats()["late"] <= 0.005 * trace.frames


@pytest.fixture(scope="module")
def speex():
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    try:
        from bench_jitter import SpeexJitter
        SpeexJitter(160)
    except OSError as exc:
        pytest.skip(f"libspeexdsp is not installed: {exc}")
    return SpeexJitter


@pytest.mark.parametrize("name", ["pareto", "drift_fast", "reorder"])
def test_less_delay_than_speex_at_no_more_late_loss_where_speex_is_off_the_oracle(replays, speex, name):
    trace, ours, _ = replays[name]
    theirs = nt.replay(trace, speex(160))
    # the oracle (continuous): the traces where this target applies
    assert theirs.mean_delay_ms > 1.05 * nt.oracle_delay(trace)
    assert ours.mean_delay_ms < theirs.mean_delay_ms
    assert ours.late_loss <= theirs.late_loss


def test_speech_through_the_buffer_scores_at_least_speex(speex):
    secs = 20.0
    clean = speech(secs, 8000)
    payloads = encode_frames(clean, "PCMU", 160)
    n = len(payloads)
    trace = nt.make_trace("drift", secs)

    def score(r, scaler):
        r.ticks = [(s, f) for s, f in r.ticks if all(x < n for x in f)]
        return pesq_score(clean[:n * 160], nt.render(r, payloads, codec("PCMU"), 160, scaler), 8000)

    ours = score(nt.replay(trace, JitterBuffer()), TimeScaler(8000, 160))
    theirs = score(nt.replay(trace, speex(160)), None)
    assert ours >= theirs
    assert ours >= 3.5


# --- time-scale modification -------------------------------------------------------

def test_time_scaler_accelerates_speech_without_clicks():
    x = speech(3.0, 16000)
    n = 320
    ts = TimeScaler(16000, n)
    out = []
    i = 0
    while i + 3 * n <= len(x):
        out.append(ts.pass_frame(np.ascontiguousarray(x[i:i + n])))
        out.append(ts.accelerate(np.ascontiguousarray(x[i + n:i + 3 * n])))
        i += 3 * n
    y = np.concatenate(out).astype(np.int64)
    assert len(y) == 2 * n * (len(out) // 2)
    step_in = np.percentile(np.abs(np.diff(x.astype(np.int64))), 99.9)
    step_out = np.percentile(np.abs(np.diff(y)), 99.9)
    assert step_out <= 1.25 * step_in


def test_time_scaler_expansion_fades_and_bad_input_is_clear():
    ts = TimeScaler(8000, 160)
    ts.pass_frame(speech(0.02, 8000)[:160].copy())
    frames = [ts.expand() for _ in range(7)]
    assert np.all(frames[-1] == 0)
    message = "TimeScaler input must be 320 samples (2 frames), got 160"
    with pytest.raises(ValueError, match=re.escape(message)):
        ts.accelerate(np.zeros(160, np.int16))
    with pytest.raises(ValueError, match="TimeScaler input must be a 1-D int16 array, got float64"):
        ts.pass_frame(np.zeros(160))
    with pytest.raises(ValueError, match="sample_rate must be 8000, 16000, 32000 or 48000 Hz, got 44100"):
        TimeScaler(44100, 441)
    message = "frame_samples must be 10 or 20 ms (80 or 160 at 8000 Hz), got 100"
    with pytest.raises(ValueError, match=re.escape(message)):
        TimeScaler(8000, 100)


# --- the PCM playout (what the media engine holds per stream) ----------------------

def _payloads(seconds: float) -> tuple[np.ndarray, list[bytes]]:
    clean = speech(seconds, 8000)
    return clean, encode_frames(clean, "PCMU", 160)


@pytest.mark.parametrize("name", ["pareto", "spikes", "loss10"])
def test_playout_plays_exactly_what_the_packet_buffer_decides(name):
    """Playout (C) = JitterBuffer decisions + G.711 decode/conceal + TimeScaler, sample for sample."""
    _, payloads = _payloads(10.0)
    trace = nt.make_trace(name, 10.0)
    ours = nt.replay_audio(trace, Playout("PCMU", stretch_in_pauses=False, interpolate=False), payloads)
    r = nt.replay(trace, JitterBuffer())
    r.ticks = [(s, f) for s, f in r.ticks if all(x < len(payloads) for x in f)]
    reference = nt.render(r, payloads, codec("PCMU"), 160, TimeScaler(8000, 160))
    n = min(len(ours), len(reference))
    assert n >= len(payloads) * 160 * 0.9
    assert np.array_equal(ours[:n], reference[:n])


def test_playout_wideband_quality_beats_speex_under_clock_drift(speex):
    # speex lets a slow sender's clock starve it (late loss); offhook stretches.
    clean = speech(20.0, 16000)
    payloads = encode_frames(clean, "G722", 320)
    trace = nt.make_trace("drift", 20.0)
    ours = pesq_score(clean, nt.replay_audio(trace, Playout("G722"), payloads), 16000)
    r = nt.replay(trace, speex(160))
    r.ticks = [(s, f) for s, f in r.ticks if all(x < len(payloads) for x in f)]
    theirs = pesq_score(clean, nt.render(r, payloads, codec("G722"), 320), 16000)
    assert ours >= theirs + 0.2


def test_playout_postpones_small_accelerations_into_pauses():
    # A fast sender's clock builds up delay slowly: the squeeze that removes it
    # can wait for a pause in the speech, where it is not heard.
    clean = speech(30.0, 16000)
    payloads = encode_frames(clean, "G722", 320)
    trace = nt.make_trace("drift_fast", 30.0, seed=2)
    scores = {}
    for hint in (False, True):
        pl = Playout("G722", stretch_in_pauses=hint)
        scores[hint] = pesq_score(clean, nt.replay_audio(trace, pl, payloads), 16000)
    assert scores[True] >= scores[False] + 0.1  # measured 3.06 vs 2.84 (seeds 1-4: +0.09 mean)


@pytest.mark.parametrize("name", ["loss3", "loss10"])
def test_playout_on_lossy_links_beats_speex_by_interpolating(speex, name):
    # Issue 4 asks for speex + 0.2 here. Both pipelines play the same frames
    # with the same extrapolating PLC; offhook's Playout also interpolates a
    # lost frame into its successor when that is buffered, which speex's API
    # cannot tell. This clip (20 s, seed 1): loss3 +0.09, loss10 +0.20 over
    # speex (30 s means over seeds 1-4: +0.00 and +0.08, bench/RESULTS.md).
    clean, payloads = _payloads(20.0)
    trace = nt.make_trace(name, 20.0)
    ours = pesq_score(clean, nt.replay_audio(trace, Playout("PCMU"), payloads), 8000)
    r = nt.replay(trace, speex(160))
    r.ticks = [(s, f) for s, f in r.ticks if all(x < len(payloads) for x in f)]
    theirs = pesq_score(clean, nt.render(r, payloads, codec("PCMU"), 160), 8000)
    assert ours >= theirs + 0.05


def _single_losses(seconds: float, seed: int) -> nt.Trace:
    """5 % single-frame losses, 0-2 ms jitter: with 60 ms buffered the next frame is always there."""
    rng = np.random.default_rng(seed)
    n = int(seconds * 50)
    send = np.arange(n) * 20.0
    arrival = send + nt.BASE_MS + rng.uniform(0.0, 2.0, n)
    lost = rng.random(n) < 0.05
    lost[:5] = False
    arrival[lost] = np.nan
    packets = sorted((float(arrival[i]), i) for i in range(n) if not lost[i])
    return nt.Trace("single", 20, 8000, send, arrival, packets)


@pytest.mark.parametrize(("name", "rate", "gain"), [("PCMU", 8000, 0.1), ("G722", 16000, 0.04)])
def test_interpolating_into_the_next_frame_beats_extrapolation(name, rate, gain):
    # Measured on 20 s, seeds 1-4: PCMU +0.22 +0.29 +0.10 +0.18; G.722 +0.12 +0.06 +0.10 -0.01
    # (G.722's decoder missed the gap, so the frame after it starts unsure).
    n = rate // 50
    clean = speech(20.0, rate)
    payloads = encode_frames(clean, name, n)
    trace = _single_losses(20.0, 1)
    scores = {}
    for interpolate in (False, True):
        pl = Playout(name, min_delay_ms=60, interpolate=interpolate)
        scores[interpolate] = pesq_score(clean, nt.replay_audio(trace, pl, payloads), rate)
    assert scores[True] >= scores[False] + gain, scores


@pytest.mark.parametrize("name", ["loss10", "pareto"])
def test_interpolation_changes_only_concealed_ticks_and_the_ticks_after_them(name):
    """The buffer's decisions are the same; audio differs only where a frame was missing."""
    _, payloads = _payloads(10.0)
    trace = nt.make_trace(name, 10.0)
    pk = [(a, i) for a, i in trace.packets if i < len(payloads)]
    out = {}
    for interpolate in (False, True):
        pl = Playout("PCMU", interpolate=interpolate)
        t0, j, ticks = pk[0][0], 0, []
        for k in range(int((pk[-1][0] - t0) / 20)):
            while j < len(pk) and pk[j][0] <= t0 + 20.0 * k:
                a, i = pk[j]
                pl.put(i & 0xFFFF, i * 160, payloads[i], a)
                j += 1
            ticks.append(pl.get(t0 + 20.0 * k))
        out[interpolate] = ticks
    statuses = [s for _, s in out[False]]
    assert statuses == [s for _, s in out[True]]
    lost = [k for k, s in enumerate(statuses) if s == JitterStatus.LOST]
    assert len(lost) >= 4
    pairs = zip(out[False], out[True], strict=True)
    changed = [k for k, ((a, _), (b, _)) in enumerate(pairs) if not np.array_equal(a, b)]
    assert set(lost) & set(changed)
    concealed = (JitterStatus.LOST, JitterStatus.LATE, JitterStatus.EXPANDED)
    for k in changed:  # a concealed tick, or the recovery cross-fade out of one
        assert statuses[k] in concealed or statuses[k - 1] in concealed, (k, statuses[k - 2:k + 2])


def test_playout_bad_input_is_clear():
    with pytest.raises(ValueError, match="PCMU works at 8000 Hz, not 16000"):
        Playout("PCMU", 16000)
    with pytest.raises(Exception, match="unknown codec 'speex'"):
        Playout("speex")
    pl = Playout("PCMA", frame_ms=10)
    assert pl.frame_samples == 80
    pcm, status = pl.get(0.0)
    assert status == S.SILENCE and pcm.dtype == np.int16 and len(pcm) == 80 and not pcm.any()
    with pytest.raises(ValueError, match=re.escape("seq must be 0..65535, got -1")):
        pl.put(-1, 0, b"x", 0.0)
    with pytest.raises(ValueError, match="now_ms must be finite"):
        pl.get(float("nan"))
    # a payload longer than the store's slots (64 ms of G.711 by default): refused, clearly
    assert pl.max_payload == 512
    with pytest.raises(ValueError, match=re.escape("a payload of 960 bytes, more than max_payload (512)")):
        pl.put(0, 0, bytes(960), 0.0)
    assert Playout("PCMA", max_payload=960).max_payload == 960


def _opus_fec_payloads(seconds: float, loss_pct: int) -> tuple[np.ndarray, list[bytes]]:
    """16 kHz speech as a sender on a lossy link encodes it: in-band FEC on, expected loss set."""
    clean = speech(seconds, 16000)
    enc = codec("opus", 16000, fec=True, packet_loss_pct=loss_pct, bitrate=24000)
    return clean, [enc.encode(np.ascontiguousarray(clean[i * 320:(i + 1) * 320]))
                   for i in range(len(clean) // 320)]


def test_opus_fec_recovers_the_lost_frame_from_the_next_packet():
    # what Playout calls on a LOST tick whose successor is buffered: the lost
    # frame from the successor's LBRR, far closer to it than the PLC's guess
    _, payloads = _opus_fec_payloads(5.0, 10)
    errs: dict[str, list[float]] = {"fec": [], "plc": []}
    for how in errs:
        ref, dec = codec("opus", 16000), codec("opus", 16000)
        for i in range(len(payloads) - 1):
            want = ref.decode(payloads[i]).astype(float)
            if i % 10 != 5:
                dec.decode(payloads[i])
                continue
            got = dec.decode_fec(payloads[i + 1], 320) if how == "fec" else dec.conceal(320)
            errs[how].append(float(np.sum((got - want) ** 2) / max(1.0, np.sum(want ** 2))))
    # measured: median relative error 0.12 (FEC) vs 0.95 (PLC)
    assert np.median(errs["fec"]) < 0.3 < np.median(errs["plc"])


def test_fec_delay_adds_one_packet_on_lossy_links_only():
    late = {}
    for name in ("loss10", "low", "pareto"):
        trace = nt.make_trace(name, SHORT_S)
        plain = nt.replay(trace, JitterBuffer())
        fec = nt.replay(trace, JitterBuffer(fec_delay=True))
        late[name] = (plain.late_loss, fec.late_loss)
        if name == "loss10":  # measured (60 s, seeds 1-4): +18.6..+19.9 ms
            assert 15.0 <= fec.mean_delay_ms - plain.mean_delay_ms <= 25.0
            assert fec.late_loss <= plain.late_loss
        else:
            assert fec.ticks == plain.ticks
    assert late["low"][0] == late["low"][1]


@pytest.mark.parametrize(("name", "pct"), [("loss10", 10)])
def test_playout_with_opus_fec_beats_speex_with_opus_plc(speex, name, pct):
    # Issue 4: PESQ >= speex + 0.2 on the lossy traces. With Opus in-band FEC
    # from the sender, offhook's Playout decodes a lost frame from the next
    # packet when that is buffered; the speex pipeline (jitter_buffer_get
    # answers MISSING without saying whether a later packet is there) can
    # only call Opus's PLC. This clip (20 s, seed 1): default +0.20,
    # fec_delay +0.25 (30 s means over seeds 1-4, bench/RESULTS.md: +0.07 and
    # +0.20 on loss10, +0.03 and +0.17 on loss3).
    clean, payloads = _opus_fec_payloads(20.0, pct)
    trace = nt.make_trace(name, 20.0, clock_rate=48000)
    plain = pesq_score(clean, nt.replay_audio(trace, Playout("opus", 16000), payloads), 16000)
    fec = pesq_score(clean, nt.replay_audio(trace, Playout("opus", 16000, fec_delay=True), payloads), 16000)
    r = nt.replay(trace, speex(960))
    r.ticks = [(s, f) for s, f in r.ticks if all(x < len(payloads) for x in f)]
    theirs = pesq_score(clean, nt.render(r, payloads, codec("opus", 16000), 320), 16000)
    assert plain >= theirs + 0.1
    assert fec >= theirs + 0.15
