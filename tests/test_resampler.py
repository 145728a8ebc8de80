"""offhook.engine.Resampler: frequency response measured on tones (passband level
and frequency, stopband and image rejection, SNR against an ideal sine), latency,
streaming (any chunking is bit-identical to one call), output counts, bad input.

Tones are whole numbers of Hz analysed over exactly one second of steady-state
output, so every tone sits on an FFT bin and no window is needed.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from offhook.engine import Resampler
from offhook.errors import OffhookError, ResamplerError

AMPLITUDE = 20000.0
PASSBAND = 0.90       # of the lower Nyquist frequency (oh_resampler.h)
RIPPLE_DB = 0.001     # documented passband ripple bound
STOPBAND_DB = -80.0   # required rejection of aliases and images

PAIRS = [(48000, 16000), (16000, 48000), (44100, 16000), (16000, 44100),
         (8000, 16000), (16000, 8000), (22050, 16000), (48000, 44100),
         (11025, 8000), (8000, 48000)]


def tone(freq: float, rate: int, seconds: float, channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    x = np.round(AMPLITUDE * np.sin(2 * np.pi * freq * t)).astype(np.int16)
    return x if channels == 1 else np.repeat(x[:, None], channels, axis=1)


def steady_spectrum(in_rate: int, out_rate: int, freq: int) -> np.ndarray:
    """Amplitude spectrum (1 Hz bins, relative to the input amplitude) of one
    second of output, taken after the filter has settled."""
    rs = Resampler(in_rate, out_rate)
    y = rs.process(tone(freq, in_rate, 1.2)).astype(np.float64)
    settle = rs.latency * 2 + 50
    segment = y[settle:settle + out_rate]
    assert len(segment) == out_rate
    return np.abs(np.fft.rfft(segment)) * 2 / out_rate / AMPLITUDE


def db(x: float) -> float:
    return 20 * np.log10(max(x, 1e-12))


@pytest.mark.parametrize("in_rate,out_rate", PAIRS)
def test_passband_tones_keep_their_frequency_and_level(in_rate, out_rate):
    edge = PASSBAND * min(in_rate, out_rate) / 2
    for freq in (100, 997, int(edge * 0.5), int(edge * 0.8), int(edge)):
        spectrum = steady_spectrum(in_rate, out_rate, freq)
        assert int(np.argmax(spectrum)) == freq, f"{freq} Hz came out elsewhere"
        assert abs(db(spectrum[freq])) < RIPPLE_DB, f"{freq} Hz: {db(spectrum[freq]):+.5f} dB"


@pytest.mark.parametrize("in_rate,out_rate", [p for p in PAIRS if p[0] > p[1]])
def test_tones_above_the_output_nyquist_do_not_alias(in_rate, out_rate):
    nyquist = out_rate // 2
    for freq in np.linspace(nyquist + 10, in_rate // 2 - 10, 7).astype(int):
        worst = db(steady_spectrum(in_rate, out_rate, int(freq)).max())
        assert worst < STOPBAND_DB, f"{freq} Hz leaks at {worst:.1f} dB"


@pytest.mark.parametrize("in_rate,out_rate", [p for p in PAIRS if p[0] < p[1]])
def test_upsampling_images_are_removed(in_rate, out_rate):
    for freq in np.linspace(100, in_rate // 2 - 10, 7).astype(int):
        spectrum = steady_spectrum(in_rate, out_rate, int(freq))
        spectrum[freq] = 0.0  # the tone itself; everything else is an image
        worst = db(spectrum.max())
        assert worst < STOPBAND_DB, f"{freq} Hz: image at {np.argmax(spectrum)} Hz, {worst:.1f} dB"


@pytest.mark.parametrize("in_rate,out_rate", [(48000, 16000), (16000, 48000), (44100, 16000),
                                              (8000, 16000), (22050, 16000)])
def test_passband_tone_matches_an_ideal_sine(in_rate, out_rate):
    freq = 1000
    rs = Resampler(in_rate, out_rate)
    y = rs.process(tone(freq, in_rate, 0.5)).astype(np.float64)
    m = np.arange(len(y))
    ideal = AMPLITUDE * np.sin(2 * np.pi * freq * (m - rs.latency) / out_rate)
    settle = 2 * rs.latency + 50
    error = y[settle:] - ideal[settle:]
    snr = 10 * np.log10(np.sum(ideal[settle:] ** 2) / np.sum(error ** 2))
    assert snr >= 85.0, f"SNR {snr:.1f} dB"


@pytest.mark.parametrize("in_rate,out_rate", PAIRS)
def test_reported_latency_is_the_measured_delay(in_rate, out_rate):
    # The phase of a 40 Hz tone gives the delay (its period is longer than
    # twice any latency, so there is no ambiguity).
    freq = 40
    rs = Resampler(in_rate, out_rate)
    y = rs.process(tone(freq, in_rate, 1.5)).astype(np.float64)
    settle = 2 * rs.latency + 50
    segment = y[settle:settle + out_rate]
    m = np.arange(settle, settle + out_rate)
    phasor = np.sum(segment * np.exp(-2j * np.pi * freq * m / out_rate))
    # a delayed sine sin(w (m - d)) has phasor angle -pi/2 - w d
    delay = (-np.pi / 2 - np.angle(phasor)) / (2 * np.pi * freq / out_rate)
    period = out_rate / freq
    delay = (delay + period / 2) % period - period / 2
    assert abs(delay - rs.latency) <= 0.1, f"measured {delay:.2f}, reported {rs.latency}"


def test_latency_and_properties():
    rs = Resampler(48000, 16000, channels=2)
    assert (rs.in_rate, rs.out_rate, rs.channels) == (48000, 16000, 2)
    assert rs.latency == 55  # 3.4 ms, as documented in oh_resampler.h
    assert Resampler(16000, 48000).latency == 167
    assert Resampler(16000, 16000).latency == 0
    assert "48000 -> 16000 Hz" in repr(rs)


NOISE = np.random.default_rng(7).integers(-20000, 20000, size=(4000, 2), dtype=np.int16)


@settings(max_examples=40, deadline=None)
@given(pair=st.sampled_from([*PAIRS, (32000, 12000), (24000, 11025)]),
       channels=st.sampled_from([1, 2]),
       chunks=st.lists(st.integers(0, 700), min_size=1, max_size=30))
def test_any_chunking_is_bit_identical_to_one_call(pair, channels, chunks):
    x = NOISE[:, 0].copy() if channels == 1 else NOISE[:, :channels].copy()
    whole = Resampler(*pair, channels=channels).process(x)
    rs = Resampler(*pair, channels=channels)
    parts, start = [], 0
    sizes = chunks * (len(x) // max(1, sum(chunks)) + 1) + [len(x)]  # the last one takes the rest
    for size in sizes:
        if start >= len(x):
            break
        piece = x[start:start + size]
        announced = rs.output_frames(len(piece))
        out = rs.process(piece)
        assert len(out) == announced
        parts.append(out)
        start += size
    streamed = np.concatenate(parts)
    assert streamed.shape == whole.shape
    assert np.array_equal(streamed, whole)


@pytest.mark.parametrize("in_rate,out_rate", [*PAIRS, (44100, 48000), (12000, 8000)])
def test_output_length_follows_the_rate_ratio(in_rate, out_rate):
    rs = Resampler(in_rate, out_rate)
    frame = np.zeros(in_rate // 100, np.int16)  # ~10 ms frames (220 at 22050 Hz), ~20 s
    total = sum(len(rs.process(frame)) for _ in range(2000))
    assert abs(total - 2000 * len(frame) * out_rate / in_rate) <= 1
    assert len(rs.flush()) == rs.latency


def test_flush_returns_the_delayed_tail_and_resets():
    rs = Resampler(16000, 8000)
    x = tone(1000, 16000, 0.1)
    first = np.concatenate([rs.process(x), rs.flush()])
    # trimming the latency leaves the input's length, and the tail is the end of the tone
    aligned = first[rs.latency:]
    assert len(aligned) == len(x) // 2
    assert np.abs(aligned[-40:-20]).max() > AMPLITUDE * 0.9
    # after flush the resampler is as new
    assert np.array_equal(rs.process(x), Resampler(16000, 8000).process(x))


def test_channels_are_independent_and_match_mono():
    left = tone(440, 44100, 0.2)
    right = tone(3000, 44100, 0.2)
    stereo = Resampler(44100, 16000, channels=2).process(np.stack([left, right], axis=1))
    assert stereo.shape[1] == 2 and stereo.dtype == np.int16
    assert np.array_equal(stereo[:, 0], Resampler(44100, 16000).process(left))
    assert np.array_equal(stereo[:, 1], Resampler(44100, 16000).process(right))
    eight = Resampler(8000, 16000, channels=8).process(np.zeros((80, 8), np.int16))
    assert eight.shape == (160, 8)
    mono_2d = Resampler(8000, 16000).process(left[:80, None].copy())
    assert mono_2d.shape == (160, 1)


def test_equal_rates_copy_the_samples():
    x = NOISE[:, 0].copy()
    assert np.array_equal(Resampler(16000, 16000).process(x), x)


def test_empty_input_gives_empty_output():
    assert Resampler(48000, 16000).process(np.zeros(0, np.int16)).shape == (0,)
    assert Resampler(48000, 16000, 2).process(np.zeros((0, 2), np.int16)).shape == (0, 2)


@pytest.mark.parametrize("in_rate,out_rate,message", [
    (7000, 16000, "in_rate must be 8000..48000 Hz, got 7000"),
    (16000, 96000, "out_rate must be 8000..48000 Hz, got 96000"),
    (8001, 48000, "cannot convert 8001 -> 48000 Hz: the reduced ratio needs more than 4096"),
])
def test_unsupported_rates_are_refused_clearly(in_rate, out_rate, message):
    with pytest.raises(ResamplerError, match=message):
        Resampler(in_rate, out_rate)


@pytest.mark.parametrize("channels", [0, 9])
def test_channel_count_out_of_range_is_refused(channels):
    with pytest.raises(ValueError, match=f"channels must be 1..8, got {channels}"):
        Resampler(16000, 8000, channels=channels)


@pytest.mark.parametrize("channels,bad,message", [
    (1, np.zeros(160, np.float64), "int16 samples; got a float64 array of shape \\(160,\\)"),
    (1, np.zeros(160, np.int32), "int16 samples; got a int32 array"),
    (1, np.zeros(320, np.int16)[::2], "C-contiguous numpy int16 array; got a non-contiguous int16"),
    (1, np.zeros(160, ">i2"), "int16 samples; got a >i2 array"),
    (1, [0, 1, 2], "takes a C-contiguous numpy int16 array; got a list"),
    (1, np.zeros((2, 2, 2), np.int16), "1-D \\(mono\\) or \\(frames, channels\\); got a int16 array"),
    (2, np.zeros(160, np.int16), "has 2 channels: pass a \\(frames, 2\\) array, not a 1-D one"),
    (2, np.zeros((160, 3), np.int16), "has 2 channel\\(s\\), got samples of shape \\(160, 3\\)"),
])
def test_bad_samples_are_refused_clearly(channels, bad, message):
    rs = Resampler(16000, 8000, channels=channels)
    with pytest.raises(ResamplerError, match=message) as info:
        rs.process(bad)
    assert isinstance(info.value, ValueError) and isinstance(info.value, OffhookError)
