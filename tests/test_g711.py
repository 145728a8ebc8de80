"""G.711: exhaustive bit-exactness with audioop (the ITU-T G.191 reference), and bad input."""
import re

import numpy as np
import pytest

try:
    import audioop  # stdlib up to 3.12
except ImportError:  # 3.13+: the audioop-lts package provides it
    import audioop_lts as audioop  # type: ignore[no-redef]

from offhook import CodecError
from offhook.engine import codec

ALL_SAMPLES = np.arange(-32768, 32768, dtype=np.int16)
ALL_CODES = bytes(range(256))
REFERENCE = {
    "PCMU": (audioop.lin2ulaw, audioop.ulaw2lin),
    "PCMA": (audioop.lin2alaw, audioop.alaw2lin),
}


@pytest.mark.parametrize("name", ["PCMU", "PCMA"])
def test_encode_matches_reference_for_every_int16(name):
    lin2law, _ = REFERENCE[name]
    assert codec(name).encode(ALL_SAMPLES) == lin2law(ALL_SAMPLES.tobytes(), 2)


@pytest.mark.parametrize("name", ["PCMU", "PCMA"])
def test_decode_matches_reference_for_every_code(name):
    _, law2lin = REFERENCE[name]
    decoded = codec(name).decode(ALL_CODES)
    assert decoded.dtype == np.int16
    assert decoded.tobytes() == law2lin(ALL_CODES, 2)


@pytest.mark.parametrize("name", ["PCMU", "PCMA"])
def test_decode_matches_reference_code_by_code(name):
    # Payloads shorter than a vector block go through the baseline (non-AVX2)
    # kernel, so this covers the decoder machines without AVX2 run.
    _, law2lin = REFERENCE[name]
    c = codec(name)
    for code in ALL_CODES:
        assert c.decode(bytes([code])).tobytes() == law2lin(bytes([code]), 2), hex(code)


@pytest.mark.parametrize("name", ["PCMU", "PCMA"])
def test_decode_then_encode_is_identity_on_codes(name):
    c = codec(name)
    # µ-law has two zeros (0x7F, 0xFF): both decode to 0, which encodes as 0xFF.
    recoded = c.encode(c.decode(ALL_CODES))
    differing = [code for code in ALL_CODES if recoded[code] != code]
    assert differing == ([0x7F] if name == "PCMU" else [])


def test_empty_input_gives_empty_output():
    c = codec("PCMU")
    assert c.encode(np.zeros(0, np.int16)) == b""
    assert c.decode(b"").shape == (0,)


@pytest.mark.parametrize("bad", [
    np.zeros(160, np.float64),
    np.zeros(160, np.int32),
    np.zeros((2, 80), np.int16),
])
def test_wrong_dtype_or_shape_is_a_clear_error(bad):
    expected = f"PCMA encode input must be a 1-D int16 array, got {bad.dtype} array of shape {bad.shape}"
    with pytest.raises(ValueError, match=re.escape(expected)):
        codec("PCMA").encode(bad)


def test_other_int16_buffers_are_accepted():
    import array
    c = codec("PCMU")
    samples = array.array("h", range(-800, 800, 10))
    assert c.encode(samples) == c.encode(np.array(samples, np.int16))
    assert c.encode(memoryview(samples)) == c.encode(np.array(samples, np.int16))
    with pytest.raises(ValueError, match="PCMU encode input must be a 1-D int16 array, got array"):
        c.encode(array.array("i", [1, 2, 3]))


def test_payload_must_be_bytes_like():
    with pytest.raises(TypeError, match="PCMU payload must be bytes-like, got str"):
        codec("PCMU").decode("abc")
    assert list(codec("PCMU").decode(bytearray(b"\xff\x7f"))) == [0, 0]


def test_non_contiguous_input_is_a_clear_error():
    with pytest.raises(ValueError, match="PCMU encode input must be C-contiguous"):
        codec("PCMU").encode(np.zeros(320, np.int16)[::2])


def test_unsupported_rate_names_the_allowed_one():
    with pytest.raises(CodecError, match="PCMU works at 8000 Hz, not 16000"):
        codec("PCMU", 16000)


def test_unknown_codec_lists_the_known_ones():
    with pytest.raises(CodecError, match="unknown codec 'GSM'; offhook has PCMU, PCMA, G722, opus"):
        codec("GSM")


def test_unknown_option_is_refused():
    with pytest.raises(CodecError, match="PCMU has no option 'fec'"):
        codec("PCMU", fec=True)


def test_a_list_is_refused_with_a_clear_message():
    with pytest.raises(ValueError, match="PCMU encode input must be a C-contiguous int16 array, got list"):
        codec("PCMU").encode([1, 2, 3])
