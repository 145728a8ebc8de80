"""Call-progress tones and DTMF, judged by measuring the output.

Tones: frequencies, levels and on/off timing measured from the samples must
match the profile tables. DTMF: the Q.24-style tolerances (frequency,
twist, duration, level), noise, and talk-off on a minute of speech per
talker, straight and through G.711 µ-law.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from offhook import ToneError
from offhook.engine import DtmfDetector, DtmfEvent, ToneGenerator, codec, dtmf_tones
from offhook.media.speech import TALKERS, speech
from offhook.media.tones import DBM0_FULL_SCALE, PROFILES, TONES, ToneSegment, cadence

ROWS = (697.0, 770.0, 852.0, 941.0)
COLS = (1209.0, 1336.0, 1477.0, 1633.0)
KEYS = "123A456B789C*0#D"


def amplitude(dbm0: float) -> float:
    return 32767.0 * 10 ** ((dbm0 - DBM0_FULL_SCALE) / 20)


def component_dbm0(x: np.ndarray, freq: float, rate: int) -> float:
    """Level of the sine at freq, by least squares on sin/cos at that frequency."""
    t = np.arange(len(x)) / rate
    basis = np.stack([np.sin(2 * np.pi * freq * t), np.cos(2 * np.pi * freq * t)], axis=1)
    coef, *_ = np.linalg.lstsq(basis, x.astype(np.float64), rcond=None)
    peak = float(np.hypot(*coef))
    return 20 * np.log10(peak / 32767.0) + DBM0_FULL_SCALE


def peak_frequencies(x: np.ndarray, rate: int, count: int) -> list[float]:
    """The `count` strongest spectral peaks, refined by parabolic interpolation."""
    n = 1 << 18
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x)), n))
    logs = np.log(spec + 1e-9)
    found: list[float] = []
    for i in np.argsort(spec)[::-1]:
        if 0 < i < len(spec) - 1 and spec[i] >= spec[i - 1] and spec[i] >= spec[i + 1]:
            a, b, c = logs[i - 1], logs[i], logs[i + 1]
            f = (i + 0.5 * (a - c) / (a - 2 * b + c)) * rate / n
            if all(abs(f - g) > 20 for g in found):
                found.append(f)
            if len(found) == count:
                break
    return sorted(found)


def on_off_runs(x: np.ndarray, rate: int) -> list[tuple[bool, float]]:
    """(sounding, duration_ms) runs of the signal, judged per 1 ms block."""
    block = rate // 1000
    on = np.abs(x[: len(x) // block * block]).reshape(-1, block).max(axis=1) > 0
    runs: list[tuple[bool, float]] = []
    start = 0
    for i in range(1, len(on) + 1):
        if i == len(on) or on[i] != on[start]:
            runs.append((bool(on[start]), float(i - start)))
            start = i
    return runs


ALL_TONES = [(p, t) for p in PROFILES for t in TONES]


@pytest.mark.parametrize("profile,tone", ALL_TONES)
def test_cadence_frequencies_and_level_match_the_table(profile: str, tone: str) -> None:
    rate, level = 8000, -17.0
    table = cadence(tone, profile)
    period_ms = sum(s.duration_ms for s in table) or 1000
    gen = ToneGenerator(tone, profile, rate, level)
    x = gen.generate(2 * period_ms * rate // 1000)

    # timing: the measured runs repeat the table (silences merged with their neighbours)
    expected: list[tuple[bool, float]] = []
    for seg in table * 2:
        sounding = bool(seg.frequencies)
        ms = float(seg.duration_ms or period_ms)
        if expected and expected[-1][0] == sounding:
            expected[-1] = (sounding, expected[-1][1] + ms)
        else:
            expected.append((sounding, ms))
    runs = on_off_runs(x, rate)
    assert [r[0] for r in runs] == [e[0] for e in expected]
    assert all(abs(r[1] - e[1]) <= 1 for r, e in zip(runs, expected, strict=True))

    # frequency and level of each sounding segment
    pos = 0
    for seg in table:
        n = (seg.duration_ms or period_ms) * rate // 1000
        part = x[pos:pos + n]
        pos += n
        if not seg.frequencies:
            assert not part.any()
            continue
        peaks = peak_frequencies(part.astype(np.float64), rate, len(seg.frequencies))
        assert np.allclose(peaks, sorted(seg.frequencies), atol=0.5), peaks
        for f in seg.frequencies:
            assert abs(component_dbm0(part, f, rate) - level) < 0.5


def test_tables_hold_the_standard_values() -> None:
    us = {t: cadence(t, "us") for t in TONES}
    assert [s.frequencies for s in us["dial"]] == [(350, 440)]
    def steps(table: tuple[ToneSegment, ...]) -> list[tuple[tuple[int, ...], int]]:
        return [(s.frequencies, s.duration_ms) for s in table]
    assert steps(us["ringback"]) == [((440, 480), 2000), ((), 4000)]
    assert steps(us["busy"]) == [((480, 620), 500), ((), 500)]
    assert steps(us["congestion"]) == [((480, 620), 250), ((), 250)]
    assert us["call_waiting"][0].frequencies == (440,)
    etsi = {t: cadence(t, "etsi") for t in TONES}
    assert all(f == (425,) for t in etsi.values() for f in (s.frequencies for s in t) if f)
    assert [s.duration_ms for s in etsi["ringback"]] == [1000, 4000]
    assert [s.duration_ms for s in etsi["busy"]] == [500, 500]
    assert [s.duration_ms for s in etsi["congestion"]] == [250, 250]
    assert cadence("reorder", "eu") == etsi["congestion"]
    assert [s.duration_ms for s in cadence("ringback", "uk")] == [400, 200, 400, 2000]


@pytest.mark.parametrize("rate", [8000, 16000, 32000, 48000])
@pytest.mark.parametrize("level", [-3.0, -13.0, -30.0])
def test_level_and_frequency_at_every_rate(rate: int, level: float) -> None:
    x = ToneGenerator("dial", "us", rate, level).generate(rate)
    for f in (350, 440):
        assert abs(component_dbm0(x, f, rate) - level) < 0.5
    assert np.allclose(peak_frequencies(x.astype(np.float64), rate, 2), [350, 440], atol=0.2)


@settings(max_examples=20, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=700), min_size=1, max_size=30))
def test_frames_of_any_size_continue_phase_and_cadence(sizes: list[int]) -> None:
    whole = ToneGenerator("ringback", "uk", 8000).generate(sum(sizes))
    gen = ToneGenerator("ringback", "uk", 8000)
    assert np.array_equal(np.concatenate([gen.generate(n) for n in sizes]), whole)


def test_reset_restarts_the_cadence() -> None:
    gen = ToneGenerator("busy", "etsi", 16000)
    first = gen.generate(5000)
    gen.generate(1234)
    gen.reset()
    assert np.array_equal(gen.generate(5000), first)


@pytest.mark.parametrize("call,message", [
    (lambda: ToneGenerator("howler"),
     "unknown tone 'howler'; offhook has dial, ringback, busy"),
    (lambda: ToneGenerator("dial", "fr"), "unknown profile 'fr'; offhook has us, etsi, uk"),
    (lambda: ToneGenerator("dial", sample_rate=44100),
     "sample_rate must be one of 8000, 16000, 32000, 48000 Hz, not 44100"),
    (lambda: ToneGenerator("dial", level_dbm0=3.0),
     "level_dbm0 must be a number from -90 to 0, got 3.0"),
    (lambda: ToneGenerator("dial").generate(-1), "sample count must be an integer from 0"),
    (lambda: dtmf_tones("12x4"), "not DTMF digits: 'X'"),
    (lambda: dtmf_tones("123", on_ms=0), "on_ms must be an integer from 1 to 10000, got 0"),
    (lambda: dtmf_tones("123", sample_rate=11025), "sample_rate must be one of"),
    (lambda: DtmfDetector(22050), "sample_rate must be one of"),
    (lambda: DtmfDetector().process(np.zeros(160, np.float32)),
     "pcm must have dtype int16, got float32"),
    (lambda: DtmfDetector().process(np.zeros((2, 80), np.int16)), "pcm must be mono"),
    (lambda: DtmfDetector().process([0] * 160), "pcm must be a numpy int16 array, got list"),
])
def test_bad_input_is_a_clear_value_error(call: Callable[[], object], message: str) -> None:
    with pytest.raises(ToneError, match=message.replace("(", r"\(")) as info:
        call()
    assert isinstance(info.value, ValueError)


# ---- DTMF ------------------------------------------------------------------

def dual_tone(f_low: float, f_high: float, ms: float, rate: int = 8000, low_dbm0: float = -10.0,
              high_dbm0: float = -8.0, lead_ms: float = 30.0, phase: float = 0.4) -> np.ndarray:
    n = round(rate * ms / 1000)
    t = np.arange(n) / rate
    x = (amplitude(low_dbm0) * np.sin(2 * np.pi * f_low * t + phase)
         + amplitude(high_dbm0) * np.sin(2 * np.pi * f_high * t + 2.1 * phase))
    pad = np.zeros(int(rate * lead_ms / 1000))
    return np.concatenate([pad, x, pad, pad])


def to_pcm(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


def detect(pcm: np.ndarray, rate: int = 8000) -> list[DtmfEvent]:
    det = DtmfDetector(rate)
    return det.process(pcm) + det.flush()


def digits(pcm: np.ndarray, rate: int = 8000) -> str:
    return "".join(e.digit for e in detect(pcm, rate))


@pytest.mark.parametrize("rate", [8000, 16000, 32000, 48000])
def test_every_digit_is_detected_exactly_once(rate: int) -> None:
    lead = np.zeros(rate // 10, np.int16)
    pcm = np.concatenate([lead, dtmf_tones(KEYS, rate, on_ms=50, off_ms=50)])
    events = detect(pcm, rate)
    assert "".join(e.digit for e in events) == KEYS
    for i, e in enumerate(events):
        true_start = rate // 10 + i * rate // 10
        assert abs(e.start - true_start) <= rate * 5 // 1000
        assert abs(e.duration - rate // 20) <= rate * 10 // 1000


def test_lowercase_digits_and_streaming_in_small_frames() -> None:
    pcm = dtmf_tones("abcd#", 8000)
    det = DtmfDetector(8000)
    events = [e for i in range(0, len(pcm), 37) for e in det.process(pcm[i:i + 37])] + det.flush()
    assert "".join(e.digit for e in events) == "ABCD#"
    assert det.flush() == []


def test_strided_and_byte_swapped_int16_give_the_same_events() -> None:
    pcm = dtmf_tones("3C", 8000)
    reference = detect(pcm)
    strided = np.repeat(pcm, 2)[::2]  # a non-contiguous view of the same samples
    assert not strided.flags.c_contiguous
    assert detect(strided) == reference
    with pytest.raises(ToneError, match="pcm must have dtype int16, got >i2"):
        DtmfDetector().process(pcm.astype(">i2"))


@settings(max_examples=15, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=900), min_size=1, max_size=40))
def test_frame_size_does_not_change_the_events(sizes: list[int]) -> None:
    pcm = dtmf_tones("159*0", 8000, on_ms=45, off_ms=45)
    reference = detect(pcm)
    det, events, pos = DtmfDetector(8000), [], 0
    while pos < len(pcm):
        for n in sizes:
            events += det.process(pcm[pos:pos + n])
            pos += n
    assert events + det.flush() == reference


@pytest.mark.parametrize("which", ["low", "high"])
@pytest.mark.parametrize("sign", [+1, -1])
def test_frequency_deviation_of_1_5_percent_is_accepted(which: str, sign: int) -> None:
    scale = 1 + sign * 0.015
    for k, key in enumerate(KEYS):
        fl, fh = ROWS[k // 4], COLS[k % 4]
        fl, fh = (fl * scale, fh) if which == "low" else (fl, fh * scale)
        for phase in (0.2, 1.9):
            assert digits(to_pcm(dual_tone(fl, fh, 60, phase=phase))) == key, (key, fl, fh)


@pytest.mark.parametrize("which", ["low", "high", "both"])
@pytest.mark.parametrize("sign", [+1, -1])
def test_frequency_deviation_of_3_5_percent_is_rejected(which: str, sign: int) -> None:
    scale = 1 + sign * 0.035
    for k in range(16):
        fl, fh = ROWS[k // 4], COLS[k % 4]
        fl = fl * scale if which in ("low", "both") else fl
        fh = fh * scale if which in ("high", "both") else fh
        for phase in (0.2, 1.9):
            assert digits(to_pcm(dual_tone(fl, fh, 60, phase=phase))) == "", (KEYS[k], fl, fh)


@pytest.mark.parametrize("normal,reverse,accepted",
                         [(7.0, 0.0, True), (0.0, 3.0, True), (9.0, 0.0, False), (0.0, 5.0, False)])
def test_twist_limits(normal: float, reverse: float, accepted: bool) -> None:
    # normal twist: high group louder (limit 8 dB); reverse: low group louder (limit 4 dB)
    for k, key in enumerate(KEYS):
        pcm = to_pcm(dual_tone(ROWS[k // 4], COLS[k % 4], 60, low_dbm0=-16 + reverse,
                               high_dbm0=-16 + normal))
        assert digits(pcm) == (key if accepted else ""), key


@pytest.mark.parametrize("ms,accepted", [(40, True), (20, False)])
def test_minimum_duration(ms: int, accepted: bool) -> None:
    for k, key in enumerate(KEYS):
        for lead in (30.0, 31.3, 33.1, 35.6):  # the tone against the block grid
            pcm = to_pcm(dual_tone(ROWS[k // 4], COLS[k % 4], ms, lead_ms=lead))
            assert digits(pcm) == (key if accepted else ""), (key, lead)


def test_interdigit_pause_of_40_ms_separates_repeated_digits() -> None:
    assert digits(dtmf_tones("55#55", 8000, on_ms=45, off_ms=40)) == "55#55"


def test_a_10_ms_dropout_does_not_split_a_digit() -> None:
    tone = dtmf_tones("6", 8000, on_ms=60, off_ms=0)
    gap = np.zeros(80, np.int16)
    for lead in range(100, 151, 17):
        pcm = np.concatenate([np.zeros(lead, np.int16), tone, gap, tone, np.zeros(800, np.int16)])
        assert digits(pcm) == "6"


@pytest.mark.parametrize("level,accepted", [(-3.0, True), (-36.0, True), (-45.0, False)])
def test_signal_level_range(level: float, accepted: bool) -> None:
    pcm = to_pcm(dual_tone(852, 1477, 60, low_dbm0=level, high_dbm0=level))
    assert digits(pcm) == ("9" if accepted else "")


@pytest.mark.parametrize("rate", [8000, 16000])
def test_detection_in_white_noise_at_10_db_snr(rate: int) -> None:
    rng = np.random.default_rng(7)
    clean = dtmf_tones(KEYS, rate, on_ms=60, off_ms=60).astype(np.float64)
    tone_power = (amplitude(-10) ** 2 + amplitude(-8) ** 2) / 2
    # 10 dB below the tones within the 0-4 kHz band (at 16 kHz the noise spans 8 kHz)
    sigma = np.sqrt(tone_power / 10 * rate / 8000)
    noisy = to_pcm(clean + rng.normal(0, sigma, len(clean)))
    assert digits(noisy, rate) == KEYS


def test_digits_survive_g711_mu_law() -> None:
    pcmu = codec("PCMU")
    pcm = dtmf_tones(KEYS, 8000, on_ms=50, off_ms=50, level_dbm0=-25)
    assert digits(pcmu.decode(pcmu.encode(pcm))) == KEYS


@pytest.mark.parametrize("talker", range(len(TALKERS)))
def test_no_talk_off_on_a_minute_of_speech(talker: int) -> None:
    voice = speech(seconds=60, sample_rate=8000, talker=talker)
    assert detect(voice) == []
    pcmu = codec("PCMU")
    assert detect(pcmu.decode(pcmu.encode(voice))) == []
    loud = to_pcm(voice.astype(np.float64) * (32000 / np.abs(voice).max()))
    assert detect(loud) == []


def test_digits_are_found_over_quieter_speech() -> None:
    voice = speech(seconds=3, sample_rate=8000, talker=1).astype(np.float64)
    tones = dtmf_tones("2580", 8000, on_ms=70, off_ms=500).astype(np.float64)
    n = min(len(voice), len(tones))
    # speech 20 dB below the digits
    gain = np.sqrt(np.mean(tones[:n] ** 2) / np.mean(voice[:n] ** 2)) / 10
    assert digits(to_pcm(tones[:n] + gain * voice[:n])) == "2580"


def test_reset_forgets_a_digit_in_progress() -> None:
    det = DtmfDetector(8000)
    det.process(dtmf_tones("7", 8000, on_ms=200, off_ms=0)[:1200])
    det.reset()
    assert det.flush() == []
    assert [e.digit for e in det.process(dtmf_tones("8", 8000))] == ["8"]
