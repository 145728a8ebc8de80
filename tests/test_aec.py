"""Echo canceller: measured cancellation on the generated echo scenarios, near-end
transparency, double talk, bulk delay, frame-size equivalence, and bad input.

Scenarios are short (8 s) deterministic subsets of the benchmark's (bench/bench_aec.py
prints the full side-by-side table with speexdsp). Thresholds sit a little below the
figures measured when they were written, so that a regression fails.
"""
import re

import numpy as np
import pytest

from offhook import EchoCancellerError
from offhook.engine import EchoCanceller
from offhook.media import echo_scenarios as es
from offhook.media.quality import level_dbfs, pesq_score
from offhook.media.speech import speech

RATE = 16000
FRAME = 160


def cancel(name, seconds=8.0, rate=RATE, **opts):
    scenario = es.make(name, rate, seconds)
    aec = EchoCanceller(rate, rate // 100, tail_ms=200, **opts)
    out = es.run(aec.process, scenario, rate // 100)
    return scenario, aec, out


def test_far_single_talk_is_cancelled_quickly():
    scenario, aec, out = cancel("far_single_talk")
    erle = es.erle_db(scenario, out, latency=aec.latency)
    assert erle >= 40.0, erle
    assert es.convergence_time(scenario, out, latency=aec.latency) <= 0.6
    stats = aec.stats()
    assert stats["converged"]
    assert stats["erle_db"] >= 34.0
    assert stats["bulk_delay_ms"] == 0
    assert stats["frames"] == len(out) // FRAME


def test_linear_filter_alone_cancels_without_latency():
    scenario, aec, out = cancel("far_single_talk", suppression=False)
    assert aec.latency == 0
    assert es.erle_db(scenario, out) >= 27.0
    assert aec.stats()["linear_erle_db"] >= 30.0


def test_double_talk_keeps_the_near_end():
    scenario, aec, out = cancel("double_talk")
    start = 4 * RATE
    processed = pesq_score(scenario.near[start:], out[start + aec.latency:], RATE)
    unprocessed = pesq_score(scenario.near[start:], scenario.mic[start:], RATE)
    assert processed >= 2.6, (processed, unprocessed)
    assert processed >= unprocessed + 1.5, (processed, unprocessed)
    # the echo is cancelled before the near end starts and in its pauses
    assert es.erle_db(scenario, out, latency=aec.latency, stop=4.0) >= 39.0
    assert es.erle_db(scenario, out, latency=aec.latency) >= 38.0


def test_near_end_alone_passes_untouched():
    scenario, aec, out = cancel("near_only")
    aligned = out[aec.latency:]
    assert pesq_score(scenario.mic, aligned, RATE) >= 4.5
    assert abs(level_dbfs(aligned) - level_dbfs(scenario.mic[:len(aligned)])) < 0.5
    assert not aec.stats()["far_active"]


@pytest.mark.parametrize("far_dbfs", [-65.0, -40.0])
def test_a_far_end_the_microphone_does_not_hear_leaves_the_near_end_alone(far_dbfs):
    # A headset call: the far end's background noise is played but never picked up.
    # No echo path may be learnt from near speech (it was, and cost ~30 dB).
    near = speech(8.0, RATE, talker=1)
    noise = np.random.default_rng(1).standard_normal(len(near))
    far = (noise * 32768 * 10 ** (far_dbfs / 20)).astype(np.int16)
    aec = EchoCanceller(RATE, FRAME, tail_ms=200)
    out = es.run(aec.process, es.Scenario("noise", RATE, far, near, near, np.zeros_like(near)), FRAME)
    aligned = out[aec.latency:]
    assert abs(level_dbfs(aligned) - level_dbfs(near[:len(aligned)])) < 1.0
    assert pesq_score(near[RATE:len(aligned)], aligned[RATE:], RATE) >= 4.3   # after the first second


def test_bulk_delay_is_found_and_cancelled():
    scenario, aec, out = cancel("bulk_delay_250ms")
    stats = aec.stats()
    assert 200 <= stats["bulk_delay_ms"] <= 250, stats
    assert stats["delay_changes"] >= 1
    assert es.convergence_time(scenario, out, latency=aec.latency) <= 1.0
    assert es.erle_db(scenario, out, latency=aec.latency) >= 36.0


def test_recovers_after_echo_path_change():
    scenario, aec, out = cancel("path_change")
    assert es.convergence_time(scenario, out, since=scenario.change_at, latency=aec.latency) <= 0.8
    assert es.erle_db(scenario, out, latency=aec.latency) >= 12.0


@pytest.mark.parametrize("name, minimum", [("nonlinear", 29.0), ("clock_drift", 37.0)])
def test_distortion_and_drift_are_suppressed(name, minimum):
    # The linear filter cannot model distortion, and drift until it is
    # compensated (~3 s); the suppressor's far-power estimate takes over
    # while the filter stays below ~15 dB.
    scenario, aec, out = cancel(name)
    assert es.erle_db(scenario, out, latency=aec.latency) >= minimum


def test_linear_filter_converges_under_clock_drift():
    # 0.05 % skew: the drift is estimated from the filter's phase rotation and
    # compensated on the far reference; the linear filter alone must converge.
    scenario, aec, out = cancel("clock_drift", suppression=False)
    assert es.erle_db(scenario, out, start=5.0, stop=6.0) >= 25.0
    assert es.erle_db(scenario, out, start=6.0) >= 30.0
    assert aec.stats()["drift_ppm"] == pytest.approx(500.0, abs=2.0)


@pytest.mark.parametrize("name, ppm", [("double_talk_drift", 500.0), ("double_talk_drift_reverse", -500.0)])
def test_double_talk_under_drift_keeps_the_near_end(name, ppm):
    # Either clock may be the faster one; the near end must keep nearly the
    # quality it has without drift, and the echo stay cancelled in its pauses.
    start = 4 * RATE
    plain, aec_p, out_p = cancel("double_talk", seconds=12.0)
    drift, aec_d, out_d = cancel(name, seconds=12.0)
    reference = pesq_score(plain.near[start:], out_p[start + aec_p.latency:], RATE)
    processed = pesq_score(drift.near[start:], out_d[start + aec_d.latency:], RATE)
    assert processed >= reference - 0.35, (processed, reference)
    assert es.erle_db(drift, out_d, latency=aec_d.latency) >= 34.0
    assert aec_d.stats()["drift_ppm"] == pytest.approx(ppm, abs=3.0)


def slipped(mic: np.ndarray, slips: list[tuple[float, int]], frame: int):
    """The microphone stream as a capture ring that slips hands it over, one frame at a time.

    slips: (seconds, samples); samples > 0 is a gap of silence ending the frame that ends
    at that second, whose samples come after it (the echo is that much later from then
    on), < 0 samples discarded after that frame (earlier). Returns the near stream, the
    valid samples of each frame with a gap (by start), and the slip after each frame (by
    end)."""
    parts, valid, after = [], {}, {}
    src = pos = 0
    for t, k in sorted(slips):
        cut = int(t * RATE) // frame * frame
        take = cut - pos - max(k, 0)
        parts.append(mic[src:src + take])
        src += take
        if k > 0:
            parts.append(np.zeros(k, np.int16))
            for start in range((cut - k) // frame * frame, cut, frame):
                valid[start] = max(0, cut - k - start)
        else:
            src -= k
        pos = cut
        after[cut] = k
    parts.append(mic[src:])
    near = np.concatenate(parts)[:len(mic)]
    return np.pad(near, (0, len(mic) - len(near))), valid, after


@pytest.mark.parametrize("told", [True, False])
def test_slips_of_the_capture_stream_are_followed_when_told(told):
    # A capture ring that runs short fills a gap with silence and hands the late samples
    # over after it; one that holds too much sheds. Either moves the echo by exactly that
    # many samples. Told (near_valid, slip), the canceller moves its filter with the echo:
    # every second stays cancelled. Not told, the same slips cost seconds of ERLE.
    scenario = es.make("far_single_talk", RATE, 12.0)
    slips = [(5.0, 100), (6.0, 719), (7.0, -500), (8.0, 320), (9.0, -150)]
    near, valid, after = slipped(scenario.mic, slips, 320)
    aec = EchoCanceller(RATE, 320)
    out = np.zeros(len(near) // 320 * 320, np.int16)
    for i in range(0, len(out), 320):
        out[i:i + 320] = aec.process(near[i:i + 320], scenario.far[i:i + 320],
                                     valid.get(i) if told else None)
        if told and i + 320 in after:
            aec.slip(capture=after[i + 320])
    heard = es.Scenario("slipped", RATE, scenario.far, near, scenario.near, scenario.echo)
    per_second = [es.erle_db(heard, out, latency=aec.latency, start=t, stop=t + 1) for t in range(4, 12)]
    if told:
        assert min(per_second) >= 38.0, per_second
        assert aec.stats()["slips"] == len(slips)
        assert aec.stats()["divergence_resets"] == 0
        for start, n in valid.items():  # a gap comes out as silence once the fade-out is past
            assert not np.any(out[start + max(n, 0) + aec.latency:start + 320]), start
    else:
        assert min(per_second) < 30.0, per_second


def test_a_bad_near_valid_is_a_clear_error():
    aec = EchoCanceller(RATE, FRAME)
    frame = np.zeros(FRAME, np.int16)
    with pytest.raises(EchoCancellerError, match=re.escape("near_valid must be 0..160, not 161")):
        aec.process(frame, frame, 161)
    with pytest.raises(EchoCancellerError, match=re.escape("near_valid must be 0..160, not -1")):
        aec.process(frame, frame, -1)
    assert aec.stats()["frames"] == 0


@pytest.mark.parametrize("rate", [8000, 32000, 48000])
def test_other_rates_cancel(rate):
    scenario, aec, out = cancel("far_single_talk", seconds=5.0, rate=rate)
    assert aec.latency == rate // 100
    assert es.erle_db(scenario, out, latency=aec.latency) >= 36.0


def test_20ms_frames_equal_two_10ms_frames():
    scenario = es.make("double_talk", RATE, 8.0)
    n = 2 * RATE
    a = EchoCanceller(RATE, 160)
    b = EchoCanceller(RATE, 320)
    out_a = es.run(a.process, scenario, 160)[:n]
    out_b = es.run(b.process, scenario, 320)[:n]
    assert np.array_equal(out_a, out_b)


def test_reset_forgets_everything():
    scenario = es.make("far_single_talk", RATE, 8.0)
    aec = EchoCanceller(RATE, FRAME)
    first = es.run(aec.process, scenario, FRAME)
    aec.reset()
    assert aec.stats()["frames"] == 0
    assert np.array_equal(es.run(aec.process, scenario, FRAME), first)


@pytest.mark.parametrize("kwargs, message", [
    ({"sample_rate": 44100}, "sample_rate must be 8000, 16000, 32000 or 48000 Hz, not 44100"),
    ({"frame_size": 128}, "frame_size must be 10 or 20 ms (160 or 320 samples at 16000 Hz), not 128"),
    ({"tail_ms": 32}, "tail_ms must be 64..500, not 32"),
    ({"max_delay_ms": 600}, "max_delay_ms must be 0..500, not 600"),
])
def test_bad_configuration_is_a_clear_error(kwargs, message):
    with pytest.raises(EchoCancellerError, match=re.escape(message)):
        EchoCanceller(**kwargs)
    assert issubclass(EchoCancellerError, ValueError)


@pytest.mark.parametrize("near, far, message", [
    (np.zeros(160, np.float32), np.zeros(160, np.int16),
     "echo canceller near frame must be a 1-D int16 array, got float32 array of shape (160,)"),
    (np.zeros(160, np.int16), np.zeros((2, 80), np.int16),
     "echo canceller far frame must be a 1-D int16 array, got int16 array of shape (2, 80)"),
    (np.zeros(159, np.int16), np.zeros(160, np.int16),
     "echo canceller frames must be 160 samples, got near 159 and far 160"),
    (np.zeros(160, np.int16), np.zeros(320, np.int16),
     "echo canceller frames must be 160 samples, got near 160 and far 320"),
])
def test_bad_frames_are_a_clear_error(near, far, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        EchoCanceller().process(near, far)


def test_unknown_scenario_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown echo scenario 'cave'"):
        es.make("cave")
