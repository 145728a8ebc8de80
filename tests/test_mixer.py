"""offhook.engine.ConferenceMixer: mix-minus measured with tones, gains and mute,
the soft limiter's promises, bad input, and random membership churn (hypothesis)
against a reference model."""
from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from offhook import MixerError
from offhook.engine import ConferenceMixer
from offhook.media.speech import speech

RATE, N = 16000, 160
FULL = 32767
THRESHOLD = FULL * 10 ** (-6 / 20)  # the default knee, -6 dBFS


def tone(freq: float, amp: float, ticks: int, rate: int = RATE) -> np.ndarray:
    t = np.arange(ticks * N) / rate
    return np.round(amp * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def level_db(x: np.ndarray, freq: float, rate: int = RATE) -> float:
    """Amplitude (dBFS) of the component at freq (an exact FFT bin: whole cycles in x)."""
    spec = np.fft.rfft(x.astype(np.float64))
    k = round(freq * len(x) / rate)
    amp = 2 * abs(spec[k]) / len(x)
    return 20 * np.log10(max(amp, 1e-12) / FULL)


def run(m: ConferenceMixer, signals: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
    """Feeds whole signals tick by tick; returns each participant's concatenated output."""
    ticks = len(next(iter(signals.values()))) // N
    outs: dict[int, list[np.ndarray]] = {pid: [] for pid in m.ids}
    for k in range(ticks):
        res = m.mix({pid: s[k * N:(k + 1) * N] for pid, s in signals.items()})
        for pid, o in res.items():
            outs[pid].append(o)
    return {pid: np.concatenate(o) for pid, o in outs.items()}


def round_half_away(x: np.ndarray) -> np.ndarray:
    return (np.sign(x) * np.floor(np.abs(x) + 0.5)).astype(np.int64)


# --- mix-minus ----------------------------------------------------------------

@pytest.mark.parametrize(("parties", "amp", "gain"), [(3, 6000.0, 1.0), (10, 1500.0, 1.0),
                                                      (10, 1500.0, 0.7)])
def test_each_participant_hears_the_others_and_not_itself(parties, amp, gain):
    freqs = [300.0 + 200.0 * k for k in range(parties)]  # whole cycles in 0.5 s
    m = ConferenceMixer(RATE, N, max_participants=parties)
    for pid in range(parties):
        m.add(pid, gain=gain)
    out = run(m, {pid: tone(f, amp, 50) for pid, f in enumerate(freqs)})
    want = 20 * np.log10(amp * gain / FULL)
    for pid, f in enumerate(freqs):
        assert level_db(out[pid], f) < want - 60, f"participant {pid} hears itself"
        for other, g in enumerate(freqs):
            if other != pid:
                assert level_db(out[pid], g) == pytest.approx(want, abs=0.05)


def test_silent_and_muted_participants_hear_everyone():
    m = ConferenceMixer(RATE, N)
    for pid in (1, 2, 3, 4):
        m.add(pid)
    m.mute(3)
    sig = {1: tone(400, 3000, 50), 2: tone(1000, 3000, 50), 3: tone(1600, 3000, 50)}
    out = run(m, sig)  # 4 puts nothing: silent
    assert np.array_equal(out[4], sig[1] + sig[2])
    assert np.array_equal(out[3], sig[1] + sig[2])  # muted: hears, is not heard
    assert np.array_equal(out[1], sig[2])
    assert level_db(out[2], 1600) < -120
    m.mute(3, False)
    assert not m.is_muted(3)
    out = run(m, sig)
    assert np.array_equal(out[4], sig[1] + sig[2] + sig[3])


def test_gains_are_exact():
    m = ConferenceMixer(8000, 80, max_participants=4)
    rng = np.random.default_rng(1)
    x = {pid: (rng.integers(-2000, 2000, 80) * 2).astype(np.int16) for pid in range(3)}
    for pid, g in zip(range(3), (0.5, 2.0, 0.25), strict=True):
        m.add(pid, gain=g)
    assert m.gain(1) == 2.0
    out = m.mix(x)
    assert np.array_equal(out[2], round_half_away(0.5 * x[0].astype(np.int64) + 2 * x[1]))
    assert np.array_equal(out[0], round_half_away(2 * x[1].astype(np.int64) + 0.25 * x[2]))
    m.set_gain(1, 0.0)
    assert np.array_equal(m.mix(x)[2], x[0] // 2)
    # any gain: within half an LSB of the real-valued mix
    m.set_gain(0, 0.3)
    m.set_gain(1, 1.7)
    out = m.mix(x)
    assert np.abs(out[2] - (0.3 * x[0] + 1.7 * x[1])).max() <= 0.5 + 1e-3


def test_put_tick_get_is_the_same_as_mix():
    a, b = tone(500, 4000, 1), tone(900, 4000, 1)
    m = ConferenceMixer(RATE, N)
    m.add(10)
    m.add(20)
    m.add(30)
    m.put(10, a)
    m.put(20, b)
    m.tick()
    assert np.array_equal(m.get(10), b)
    assert np.array_equal(m.get(30), a + b)
    m.tick()  # nothing put: silence for all
    assert not m.get(30).any()
    m.put(10, a)
    m.reset()  # drops what was staged
    m.tick()
    assert not m.get(20).any()


# --- limiter ------------------------------------------------------------------

def test_overload_never_wraps_or_exceeds_full_scale():
    m = ConferenceMixer(RATE, N, max_participants=12)
    square = np.where(np.arange(N) % 20 < 10, 32767, -32768).astype(np.int16)
    for pid in range(12):
        m.add(pid, gain=16.0 if pid % 2 else 1.0)
    out = m.mix({pid: square for pid in range(11)})
    for pid, o in out.items():
        assert o.max() <= FULL and o.min() >= -FULL
        assert np.array_equal(np.sign(o), np.sign(square)), f"participant {pid}: sign flipped (wrap)"
        assert np.abs(o).min() > 30000


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(-32768, 32767), st.floats(0.0, 16.0)), min_size=2, max_size=8),
       st.integers(0, 2**32 - 1))
def test_limiter_is_bounded_monotonic_and_transparent_below_threshold(talkers, seed):
    rng = np.random.default_rng(seed)
    m = ConferenceMixer(RATE, N, max_participants=8)
    frames = {}
    for pid, (peak, gain) in enumerate(talkers):
        m.add(pid, gain=gain)
        frames[pid] = np.sort(rng.integers(min(peak, 0), max(peak, 0) + 1, N)).astype(np.int16)
    out = m.mix(frames)
    for pid in frames:
        ideal = sum(np.float64(g) * frames[j] for j, (_, g) in enumerate(talkers) if j != pid)
        ideal = np.asarray(ideal, dtype=np.float64) + np.zeros(N)
        o = out[pid].astype(np.float64)
        assert np.abs(o).max() <= FULL
        below = np.abs(ideal) <= THRESHOLD - 1
        assert np.abs(o[below] - ideal[below]).max(initial=0) <= 1  # float32 gains: 1 LSB
        above = ~below
        assert np.all(np.abs(o[above]) <= np.abs(ideal[above]) + 1)  # never louder
        assert np.all(np.abs(o[above]) >= THRESHOLD - 2)             # never below the knee
        assert np.all(np.sign(o[above]) == np.sign(ideal[above]))
        order = np.argsort(ideal, kind="stable")
        assert np.all(np.diff(o[order]) >= -1)                       # monotonic


def scaled(x: np.ndarray, rms_dbfs: float) -> np.ndarray:
    rms = np.sqrt(np.mean(x.astype(np.float64) ** 2))
    return np.round(x * (FULL * 10 ** (rms_dbfs / 20) / rms)).astype(np.int16)


def test_two_talkers_at_normal_level_pass_untouched_and_hot_talkers_are_bounded():
    a, b = speech(4.0, RATE, talker=0), speech(4.0, RATE, talker=1)
    n = min(len(a), len(b)) // N * N
    m = ConferenceMixer(RATE, N)
    for pid in (1, 2, 3):
        m.add(pid)
    # P.56 nominal active speech level: -26 dBov per talker
    sig = {1: scaled(a[:n], -26), 2: scaled(b[:n], -26)}
    ideal = sig[1].astype(np.int64) + sig[2]
    out = run(m, sig)[3]
    err = out - ideal
    snr = 10 * np.log10(np.sum(ideal.astype(np.float64) ** 2) / max(np.sum(err.astype(np.float64) ** 2), 1))
    assert snr > 60
    # 10 dB hotter: the knee works, but per 10 ms frame the level moves by at most
    # what the knee allows (peaks above -6 dBFS come out between -6 and 0 dBFS)
    sig = {1: scaled(a[:n], -16), 2: scaled(b[:n], -16)}
    ideal = (sig[1].astype(np.int64) + sig[2]).astype(np.float64)
    out = run(m, sig)[3].astype(np.float64)
    assert np.abs(ideal).max() > FULL  # would wrap without the limiter
    assert np.abs(out).max() <= FULL
    frames_ideal = np.sqrt(np.mean(ideal.reshape(-1, N) ** 2, axis=1)) + 1
    frames_out = np.sqrt(np.mean(out.reshape(-1, N) ** 2, axis=1)) + 1
    change_db = 20 * np.log10(frames_out / frames_ideal)
    assert change_db.max() <= 0.01
    assert change_db.min() > -6
    # no pumping: a quiet frame right after the loudest one is bit-exact
    quiet = np.abs(ideal.reshape(-1, N)).max(axis=1) < THRESHOLD
    after_loud = np.flatnonzero(~quiet[:-1] & quiet[1:]) + 1
    assert len(after_loud) > 5
    for k in after_loud:
        assert np.array_equal(out[k * N:(k + 1) * N], ideal[k * N:(k + 1) * N])


# --- bad input ----------------------------------------------------------------

def test_constructor_errors():
    with pytest.raises(MixerError, match="sample_rate must be 8000, 16000, 32000 or 48000 Hz, got 11025"):
        ConferenceMixer(11025, 110)
    with pytest.raises(MixerError, match=r"frame_size must be 10 or 20 ms \(160 or 320 samples at "
                                         r"16000 Hz\), got 100"):
        ConferenceMixer(16000, 100)
    with pytest.raises(MixerError, match=re.escape("max_participants must be 1..4096, got 0")):
        ConferenceMixer(max_participants=0)
    with pytest.raises(MixerError, match=re.escape("limiter_threshold_dbfs must be -24..-1 dBFS, got 0.0")):
        ConferenceMixer(limiter_threshold_dbfs=0.0)


def test_membership_errors():
    m = ConferenceMixer(8000, 160, max_participants=2)
    assert repr(m) == "<offhook ConferenceMixer 8000 Hz, 160 samples, 0/2 participants>"
    m.add(5)
    with pytest.raises(MixerError, match="participant 5 is already in the conference"):
        m.add(5)
    m.add(2**32 - 1, gain=0.0, muted=True)
    assert m.is_muted(2**32 - 1) and m.gain(2**32 - 1) == 0.0
    full = "the conference is full (2 participants; raise max_participants)"
    with pytest.raises(MixerError, match=re.escape(full)):
        m.add(6)
    for call in (m.remove, m.get, m.gain, m.is_muted, m.mute, lambda p: m.set_gain(p, 1.0),
                 lambda p: m.put(p, np.zeros(160, np.int16))):
        with pytest.raises(MixerError, match="participant 7 is not in the conference"):
            call(7)
    with pytest.raises(MixerError, match=re.escape("participant id must be 0..4294967295, got -1")):
        m.add(-1)
    with pytest.raises(MixerError, match=re.escape("participant id must be 0..4294967295, got 4294967296")):
        m.remove(2**32)
    with pytest.raises(MixerError, match="participant id must be an int, got str"):
        m.add("alice")  # type: ignore[arg-type]
    with pytest.raises(MixerError, match=re.escape("gain must be a linear factor in 0..16, got -0.5")):
        m.set_gain(5, -0.5)
    with pytest.raises(MixerError, match=re.escape("gain must be a linear factor in 0..16, got nan")):
        m.set_gain(5, float("nan"))
    assert 5 in m and 7 not in m and "x" not in m and True not in m and len(m) == 2
    assert np.uint32(5) in m and m.gain(np.int64(5)) == 1.0  # NumPy integers are ids too
    with pytest.raises(MixerError, match="participant id must be an int, got bool"):
        m.remove(True)
    m.remove(5)
    assert m.ids == [2**32 - 1]


@pytest.mark.parametrize(("frame", "message"), [
    (np.zeros(159, np.int16), r"input frame must be 160 samples \(20 ms at 8000 Hz\), got 159"),
    (np.zeros(160, np.float32), "input frame must be a 1-D int16 array, got float32 array of shape"),
    (np.zeros(160, np.int32), "input frame must be a 1-D int16 array, got int32 array"),
    (np.zeros((2, 80), np.int16), r"must be a 1-D int16 array, got int16 array of shape \(2, 80\)"),
    (np.zeros(320, np.int16)[::2], "must be C-contiguous"),
    ([0] * 160, "must be a C-contiguous int16 array, got list"),
])
def test_frame_errors(frame, message):
    m = ConferenceMixer(8000, 160)
    m.add(1)
    with pytest.raises(ValueError, match=message):
        m.put(1, frame)
    with pytest.raises(ValueError, match=message):
        m.mix({1: frame})


def test_a_bad_mix_stages_nothing():
    m = ConferenceMixer(RATE, N)
    m.add(1)
    m.add(2)
    with pytest.raises(MixerError, match="participant 3 is not in the conference"):
        m.mix({1: tone(500, 1000, 1), 3: tone(500, 1000, 1)})
    with pytest.raises(MixerError, match="must be 160 samples"):
        m.mix({1: tone(500, 1000, 1), 2: np.zeros(10, np.int16)})
    assert not m.mix()[2].any()


# --- random membership churn ----------------------------------------------------

ops = st.lists(st.one_of(
    st.tuples(st.just("add"), st.integers(0, 12), st.sampled_from([0.0, 0.5, 1.0, 2.0])),
    st.tuples(st.just("remove"), st.integers(0, 12), st.just(0.0)),
    st.tuples(st.just("mute"), st.integers(0, 12), st.sampled_from([0.0, 1.0])),
    st.tuples(st.just("mix"), st.integers(0, 2**16), st.just(0.0)),
), max_size=60)


@settings(max_examples=80, deadline=None)
@given(ops)
def test_random_membership_keeps_invariants(sequence):
    cap = 6
    m = ConferenceMixer(8000, 80, max_participants=cap)
    model: dict[int, list[float]] = {}  # id -> [gain, muted]
    for op, pid, arg in sequence:
        if op == "add":
            if pid in model:
                with pytest.raises(MixerError, match="already in the conference"):
                    m.add(pid, gain=arg)
            elif len(model) == cap:
                with pytest.raises(MixerError, match="the conference is full"):
                    m.add(pid, gain=arg)
            else:
                m.add(pid, gain=arg)
                model[pid] = [arg, 0.0]
        elif op == "remove":
            if pid in model:
                m.remove(pid)
                del model[pid]
            else:
                with pytest.raises(MixerError, match="not in the conference"):
                    m.remove(pid)
        elif op == "mute":
            if pid in model:
                m.mute(pid, bool(arg))
                model[pid][1] = arg
            else:
                with pytest.raises(MixerError, match="not in the conference"):
                    m.mute(pid)
        else:
            rng = np.random.default_rng(pid)
            talking = [p for p in model if rng.random() < 0.7]
            frames = {p: rng.integers(-1000, 1000, 80).astype(np.int16) for p in talking}
            out = m.mix(frames)
            assert sorted(out) == sorted(model)
            heard = {p: (0.0 if model[p][1] else model[p][0]) * frames[p].astype(np.float64)
                     for p in talking}
            total = sum(heard.values(), np.zeros(80))
            for p, o in out.items():
                assert np.array_equal(o, round_half_away(total - heard.get(p, 0.0)))
        assert len(m) == len(model)
        assert m.ids == sorted(model)
        for p, (g, muted) in model.items():
            assert m.gain(p) == g and m.is_muted(p) == bool(muted)
