"""G.722: bit-exactness with libspandsp (the reference, through ctypes), streaming, quality, bad input.

Two conventions differ from spandsp's unpacked mode and are mapped here, not hidden:
- At 56 and 48 kbit/s offhook reads and writes whole G.722 octets (as RTP carries them) and
  ignores the 1 or 2 auxiliary-data bits; spandsp's unpacked format holds only the audio bits,
  right-aligned: octet >> 1 (56k) or octet >> 2 (48k).
- spandsp's receive QMF wraps around when an (overloaded) output exceeds int16; offhook
  saturates. Where they differ, offhook must sit on the rail that spandsp wrapped past.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import itertools
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from offhook import CodecError
from offhook.engine import codec
from offhook.media.quality import level_dbfs, pesq_score
from offhook.media.speech import speech

RATES = (64000, 56000, 48000)
AUX_BITS = {64000: 0, 56000: 1, 48000: 2}  # lower-band bits each mode leaves to auxiliary data
QMF_DELAY = 22  # samples through the transmit + receive QMF


def _load_spandsp() -> ctypes.CDLL | None:
    for name in ("libspandsp.so.2", ctypes.util.find_library("spandsp")):
        if not name:
            continue
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        lib.g722_encode_init.restype = ctypes.c_void_p
        lib.g722_encode_init.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
        lib.g722_decode_init.restype = ctypes.c_void_p
        lib.g722_decode_init.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
        lib.g722_encode.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]
        lib.g722_decode.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]
        lib.g722_encode_free.argtypes = [ctypes.c_void_p]
        lib.g722_decode_free.argtypes = [ctypes.c_void_p]
        return lib
    return None


SPANDSP = _load_spandsp()
needs_spandsp = pytest.mark.skipif(
    SPANDSP is None, reason="libspandsp (the G.722 reference) is not installed: apt-get install libspandsp2")


def ref_encode(pcm: np.ndarray, bitrate: int = 64000) -> bytes:
    """spandsp's encoding, in its unpacked format (audio bits right-aligned)."""
    assert SPANDSP is not None
    pcm = np.ascontiguousarray(pcm, dtype=np.int16)
    state = SPANDSP.g722_encode_init(None, bitrate, 0)
    out = ctypes.create_string_buffer(len(pcm) // 2 + 1)
    n = SPANDSP.g722_encode(state, out, pcm.ctypes.data, len(pcm))
    SPANDSP.g722_encode_free(state)
    return out.raw[:n]


def ref_decode(data: bytes, bitrate: int = 64000) -> np.ndarray:
    assert SPANDSP is not None
    state = SPANDSP.g722_decode_init(None, bitrate, 0)
    out = np.zeros(2 * len(data), np.int16)
    src = ctypes.create_string_buffer(data, len(data))
    n = SPANDSP.g722_decode(state, out.ctypes.data, src, len(data))
    SPANDSP.g722_decode_free(state)
    return out[:n]


def to_spandsp_octets(payload: bytes, bitrate: int) -> bytes:
    return (np.frombuffer(payload, np.uint8) >> AUX_BITS[bitrate]).astype(np.uint8).tobytes()


def assert_pcm_matches_reference(ours: np.ndarray, ref: np.ndarray) -> None:
    """Equal sample for sample, except where spandsp wrapped an overloaded output around."""
    assert ours.dtype == np.int16 and ours.shape == ref.shape
    differ = np.nonzero(ours != ref)[0]
    wrapped = ((ours[differ] == 32767) & (ref[differ] < 0)) | ((ours[differ] == -32768) & (ref[differ] > 0))
    not_wrap = differ[~wrapped]
    assert not_wrap.size == 0, (
        f"{not_wrap.size} samples differ, first at {not_wrap[0]}: "
        f"offhook {ours[not_wrap[0]]}, spandsp {ref[not_wrap[0]]}")


def assert_bit_exact(pcm: np.ndarray, bitrate: int = 64000) -> None:
    """offhook's encoder and decoder against spandsp's on pcm, at one bit rate."""
    ours = codec("G722", bitrate=bitrate).encode(pcm)
    ref = ref_encode(pcm, bitrate)
    ours_audio = to_spandsp_octets(ours, bitrate)
    if ours_audio != ref:
        first = next(i for i, (a, b) in enumerate(zip(ours_audio, ref, strict=False)) if a != b)
        pytest.fail(f"encode differs at octet {first} of {len(ref)}: "
                    f"offhook {ours_audio[first]:#04x}, spandsp {ref[first]:#04x}")
    assert_pcm_matches_reference(codec("G722", bitrate=bitrate).decode(ours), ref_decode(ref, bitrate))


def full_scale_signals() -> dict[str, np.ndarray]:
    t = np.arange(16000) / 16000.0
    sweep_phase = 2 * np.pi * (50 * t + (7950 / 2) * t * t)  # 50 Hz to 8 kHz in 1 s
    signals = {
        "alternating +32767/-32768": np.tile(np.array([32767, -32768], np.int16), 4000),
        "step from silence to +32767": np.concatenate(
            [np.zeros(800, np.int16), np.full(3200, 32767, np.int16)]),
        "step from silence to -32768": np.concatenate(
            [np.zeros(800, np.int16), np.full(3200, -32768, np.int16)]),
        "impulses": np.where(np.arange(8000) % 97 == 0, 32767, 0).astype(np.int16),
        "clipped 440 Hz sine (x4)": np.clip(4 * 32767 * np.sin(2 * np.pi * 440 * t), -32768, 32767),
        "clipped 3 kHz sine (x2)": np.clip(2 * 32767 * np.sin(2 * np.pi * 3000 * t), -32768, 32767),
        "full-scale sweep": 32767 * np.sin(sweep_phase),
        "clipped sweep (x3)": np.clip(3 * 32767 * np.sin(sweep_phase), -32768, 32767),
    }
    for period in (4, 6, 16, 40, 160):  # square waves at 4 kHz .. 100 Hz
        half = np.repeat(np.array([32767, -32768], np.int16), period // 2)
        signals[f"square wave, period {period}"] = np.tile(half, 8000 // period)
    # Random telegraph: full-scale runs of random length. These drive the predictor into its
    # saturating paths (SL, SPL, EL) that steady signals never reach.
    for longest in (8, 64, 400):
        rng = np.random.default_rng(longest)
        runs = rng.integers(1, longest, 16000)
        levels = np.where(rng.integers(0, 2, 16000) == 1, 32767, -32768)
        signals[f"random telegraph, runs < {longest}"] = np.repeat(levels, runs)[:16000]
    return {k: np.round(v).astype(np.int16) for k, v in signals.items()}


FULL_SCALE = full_scale_signals()


@needs_spandsp
@pytest.mark.parametrize("talker", range(4))
def test_speech_is_bit_exact_with_spandsp(talker):
    assert_bit_exact(speech(3.0, 16000, talker))


@needs_spandsp
@pytest.mark.parametrize("seed", range(4))
def test_white_noise_is_bit_exact_with_spandsp(seed):
    rng = np.random.default_rng(seed)
    full = rng.integers(-32768, 32768, 8000, dtype=np.int16)
    quiet = np.round(rng.standard_normal(8000) * 10 ** (seed - 1)).astype(np.int16)
    assert_bit_exact(np.concatenate([full, quiet, full]))


@needs_spandsp
def test_silence_is_bit_exact_with_spandsp():
    silence = np.zeros(16000, np.int16)
    assert_bit_exact(silence)
    decoded = codec("G722").decode(codec("G722").encode(silence))
    assert level_dbfs(decoded) < -75.0  # the idle pattern decodes to a whisper of +-1 LSBs


@needs_spandsp
@pytest.mark.parametrize("name", sorted(FULL_SCALE))
def test_full_scale_signals_are_bit_exact_with_spandsp(name):
    assert_bit_exact(FULL_SCALE[name])


@needs_spandsp
@pytest.mark.parametrize("bitrate", [56000, 48000])
@pytest.mark.parametrize("name", ["speech", "alternating +32767/-32768", "full-scale sweep"])
def test_56k_and_48k_modes_are_bit_exact_with_spandsp(bitrate, name):
    pcm = speech(2.0, 16000, 1) if name == "speech" else FULL_SCALE[name]
    assert_bit_exact(pcm, bitrate)


@needs_spandsp
@pytest.mark.parametrize("bitrate", RATES)
@pytest.mark.parametrize("seed", range(3))
def test_random_octets_decode_like_spandsp(bitrate, seed):
    data = np.random.default_rng(100 + seed).integers(0, 256, 16000, dtype=np.uint8).tobytes()
    ours = codec("G722", bitrate=bitrate).decode(data)
    assert ours.shape == (32000,)
    assert_pcm_matches_reference(ours, ref_decode(to_spandsp_octets(data, bitrate), bitrate))


def test_the_encoder_is_the_same_in_every_mode():
    # G.722 section 1.4: the encoder always codes 64 kbit/s; the modes are the decoder's.
    pcm = speech(1.0, 16000, 2)
    payloads = {rate: codec("G722", bitrate=rate).encode(pcm) for rate in RATES}
    assert payloads[56000] == payloads[64000] == payloads[48000]


@needs_spandsp
def test_overloaded_output_saturates_where_spandsp_wraps():
    # Random octets drive the decoder past int16: offhook clips, spandsp wraps.
    data = np.random.default_rng(7).integers(0, 256, 16000, dtype=np.uint8).tobytes()
    ours = codec("G722").decode(data)
    ref = ref_decode(data)
    differ = ours != ref
    assert 0 < differ.sum() < 0.02 * len(ours)
    assert set(np.unique(ours[differ])) <= {-32768, 32767}


@settings(max_examples=25, deadline=None)
@given(cuts=st.lists(st.integers(0, 800), min_size=1, max_size=12))
def test_streaming_in_frames_equals_one_shot(cuts):
    pcm = speech(1.0, 16000, 3)
    one_shot = codec("G722").encode(pcm)
    bounds = sorted({2 * c for c in cuts} | {0, len(pcm)})  # even frame boundaries
    enc = codec("G722")
    streamed = b"".join(enc.encode(pcm[a:b]) for a, b in itertools.pairwise(bounds))
    assert streamed == one_shot

    decoded = codec("G722").decode(one_shot)
    dec = codec("G722")
    octet_bounds = sorted({c for c in cuts} | {0, len(one_shot)})
    parts = [dec.decode(one_shot[a:b]) for a, b in itertools.pairwise(octet_bounds)]
    assert np.array_equal(np.concatenate(parts), decoded)


def test_reset_starts_a_new_stream():
    pcm = speech(0.5, 16000, 0)
    c = codec("G722")
    first = c.encode(pcm)
    assert c.encode(pcm) != first  # the state carried over
    c.reset()
    assert c.encode(pcm) == first


def test_sizes_and_empty_input():
    c = codec("G722")
    assert c.sample_rate == 16000
    assert len(c.encode(np.zeros(320, np.int16))) == 160
    assert c.decode(bytes(160)).shape == (320,)
    assert c.encode(np.zeros(0, np.int16)) == b""
    assert c.decode(b"").shape == (0,)


@pytest.mark.parametrize("talker", range(4))
def test_wideband_pesq(talker):
    """PESQ (P.862.2) of espeak-ng speech through G.722; the figures are the codec's own
    (bit-exact with spandsp) on synthetic voices: 2.9-3.2 for three talkers, 4.3 for the fourth
    at 64 kbit/s, about 0.35-0.5 lower per lower-band bit dropped."""
    pcm = speech(6.0, 16000, talker)
    scores = {}
    for rate in RATES:
        c = codec("G722", bitrate=rate)
        out = c.decode(c.encode(pcm))
        scores[rate] = pesq_score(pcm[:-QMF_DELAY], out[QMF_DELAY:], 16000)
    # Measured at 64 kbit/s: 2.93, 3.10, 3.19, 4.32 (spandsp scores the same: the encoder is bit-exact).
    assert scores[64000] >= (2.75, 2.95, 3.0, 4.15)[talker], scores
    assert scores[64000] > scores[56000] > scores[48000] >= 1.9, scores


def test_odd_sample_count_is_refused_with_the_count():
    expected = "G722 encode of 161 samples at 16000 Hz (G722 codes groups of 2 samples): invalid argument"
    with pytest.raises(CodecError, match=re.escape(expected)):
        codec("G722").encode(np.zeros(161, np.int16))


@pytest.mark.parametrize("bad", [np.zeros(320, np.float32), np.zeros(320, np.int32),
                                 np.zeros((2, 160), np.int16)])
def test_wrong_dtype_or_shape_is_a_clear_error(bad):
    with pytest.raises(ValueError, match=re.escape(
            f"G722 encode input must be a 1-D int16 array, got {bad.dtype} array of shape {bad.shape}")):
        codec("G722").encode(bad)


@pytest.mark.parametrize("rate", [8000, 32000, 48000])
def test_wrong_sample_rate_names_the_allowed_one(rate):
    with pytest.raises(CodecError, match=f"G722 works at 16000 Hz, not {rate}"):
        codec("G722", sample_rate=rate)


@pytest.mark.parametrize("bitrate", [32000, 64001, 0])
def test_unsupported_bitrate_lists_the_modes(bitrate):
    with pytest.raises(CodecError,
                       match=rf"G722 option bitrate={bitrate} is out of range \(64000 or 56000 or 48000\)"):
        codec("G722", bitrate=bitrate)
