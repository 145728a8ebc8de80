"""WAV reading and writing (C core oh_wav through offhook._wav and offhook.media.wav).

Round trips are bit-exact; files from Python's wave module and from SoX in
every encoding it writes are compared sample by sample with SoX's own
conversion to 16 bits (dither off); every malformation has its message; the
parser is fuzzed with hypothesis.
"""
from __future__ import annotations

import shutil
import struct
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from offhook import WavError
from offhook.engine import WavReader, WavWriter
from offhook.media.wav import WavAudio, read_wav, write_wav

SOX = shutil.which("sox")
needs_sox = pytest.mark.skipif(SOX is None, reason="sox is not installed (apt-get install sox)")

KS_TAIL = bytes.fromhex("000000001000800000aa00389b71")


def noise(frames: int, channels: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.integers(-32768, 32768, size=(frames, channels), dtype=np.int16)
    x[0, 0], x[-1, -1] = -32768, 32767
    return x.reshape(-1) if channels == 1 else x


def chunk(cid: bytes, body: bytes, size: int | None = None) -> bytes:
    n = len(body) if size is None else size
    return cid + struct.pack("<I", n) + body + (b"\0" if len(body) % 2 else b"")


def fmt(tag: int = 1, channels: int = 1, rate: int = 8000, bits: int = 16,
        align: int | None = None) -> bytes:
    align = channels * bits // 8 if align is None else align
    return chunk(b"fmt ", struct.pack("<HHIIHH", tag, channels, rate, rate * align, align, bits))


def extensible(sub: int, channels: int, rate: int, bits: int) -> bytes:
    align = channels * bits // 8
    body = struct.pack("<HHIIHHHHI", 0xFFFE, channels, rate, rate * align, align, bits,
                       22, bits, 4 if channels == 1 else 3)
    return chunk(b"fmt ", body + struct.pack("<H", sub) + KS_TAIL)


def riff(*chunks: bytes, form: bytes = b"WAVE") -> bytes:
    body = form + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body


PCM = np.array([1, -2, 300, -32768, 32767, 0], np.int16).tobytes()


# ---- round trips -------------------------------------------------------------------------

@pytest.mark.parametrize("rate", [8000, 16000, 44100, 48000])
@pytest.mark.parametrize("channels", [1, 2])
def test_round_trip_is_bit_exact(tmp_path, rate, channels):
    x = noise(rate // 10 + 7, channels, seed=rate + channels)
    path = tmp_path / "rt.wav"
    write_wav(path, x, rate)
    audio = read_wav(path, sample_rate=rate, channels=channels)
    assert isinstance(audio, WavAudio)
    assert (audio.sample_rate, audio.channels, audio.frames) == (rate, channels, x.shape[0])
    assert audio.samples.dtype == np.int16 and audio.samples.shape == x.shape
    assert np.array_equal(audio.samples, x)
    # and the stdlib agrees on what was written
    with wave.open(str(path)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (rate, channels, 2)
        assert w.readframes(w.getnframes()) == x.tobytes()


def test_empty_round_trip(tmp_path):
    write_wav(tmp_path / "e.wav", np.zeros(0, np.int16), 16000)
    audio = read_wav(tmp_path / "e.wav")
    assert audio.samples.shape == (0,) and audio.sample_rate == 16000 and audio.duration == 0


def test_reader_reads_in_chunks_seeks_and_rewinds(tmp_path):
    x = noise(1000, 2)
    write_wav(tmp_path / "s.wav", x, 8000)
    with WavReader(tmp_path / "s.wav", buffer_frames=7) as r:
        assert (r.frames, r.channels, r.bits, r.format_tag, r.is_float) == (1000, 2, 16, 1, False)
        first = r.read(300)
        rest = r.read()
        assert np.array_equal(np.concatenate([first, rest]), x)
        assert r.read().shape == (0, 2) and r.tell() == 1000
        r.rewind()
        buf = np.empty(2 * 50, np.int16)
        assert r.readinto(buf) == 50
        assert np.array_equal(buf.reshape(50, 2), x[:50])
        r.seek(990)
        assert np.array_equal(r.read(), x[990:])
        past_end = r"s\.wav: seek to frame 1001 past the end \(1000 frames\)"
        with pytest.raises(WavError, match=past_end):
            r.seek(1001)
    assert r.closed
    with pytest.raises(ValueError, match="closed"):
        r.read()


# ---- files made by others ----------------------------------------------------------------

@pytest.mark.parametrize("width", [1, 2, 3, 4])
def test_stdlib_wave_files_read_exactly(tmp_path, width):
    x = noise(800, 2, seed=width)
    if width == 1:
        stored = (x.astype(np.int32) >> 8).astype(np.int8)
        raw = (stored.astype(np.int16) + 128).astype(np.uint8).tobytes()
        expected = (stored.astype(np.int16) * 256).astype(np.int16)
    else:
        # 16-bit values widened exactly: they must read back unchanged
        wide = x.astype(np.int32) << (8 * (width - 2))
        raw = b"".join(int(v).to_bytes(width, "little", signed=True) for v in wide.reshape(-1))
        expected = x
    path = tmp_path / f"w{width}.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(width)
        w.setframerate(22050)
        w.writeframes(raw)
    audio = read_wav(path)
    assert (audio.sample_rate, audio.channels) == (22050, 2)
    assert np.array_equal(audio.samples, expected)


def sox_make(path: Path, *args: str, rate: int = 16000, channels: int = 2,
             gain: str = "-1") -> None:
    synth = ["sine", "440", "sine", "1234", "sine", "97"][: channels * 2]
    subprocess.run([SOX, "-n", "-r", str(rate), "-c", str(channels), *args, str(path),
                    "synth", "0.3", *synth, "gain", gain], check=True, capture_output=True)


def sox_reference(path: Path) -> np.ndarray:
    """SoX's conversion of path to 16-bit (round half up, clip, no dither)."""
    raw = subprocess.run([SOX, str(path), "-t", "raw", "-e", "signed", "-b", "16", "-D", "-"],
                         check=True, capture_output=True).stdout
    return np.frombuffer(raw, np.int16)


@needs_sox
@pytest.mark.parametrize("args, tag, bits, is_float", [
    (["-b", "8"], 1, 8, False),
    (["-b", "16"], 1, 16, False),
    (["-t", "wavpcm", "-b", "24"], 1, 24, False),
    (["-t", "wavpcm", "-b", "32"], 1, 32, False),
    (["-b", "24"], 0xFFFE, 24, False),          # sox writes EXTENSIBLE above 16 bits
    (["-b", "32"], 0xFFFE, 32, False),
    (["-e", "floating-point", "-b", "32"], 3, 32, True),
    (["-e", "floating-point", "-b", "64"], 3, 64, True),
    (["-e", "a-law", "-b", "8"], 6, 8, False),     # telephony recordings: G.711
    (["-e", "u-law", "-b", "8"], 7, 8, False),
], ids=["u8", "s16", "s24", "s32", "ext-s24", "ext-s32", "f32", "f64", "alaw", "ulaw"])
def test_sox_files_match_sox_conversion(tmp_path, args, tag, bits, is_float):
    path = tmp_path / "sox.wav"
    sox_make(path, *args)
    with WavReader(path) as r:
        assert (r.format_tag, r.bits, r.is_float, r.sample_rate, r.channels) == (
            tag, bits, is_float, 16000, 2)
    audio = read_wav(path)
    ref = sox_reference(path).reshape(-1, 2)
    assert audio.samples.shape == ref.shape == (4800, 2)
    assert np.array_equal(audio.samples, ref)
    assert np.abs(ref).max() > 20000  # a real signal, not silence


@needs_sox
def test_sox_loud_float_clips_like_sox(tmp_path):
    path = tmp_path / "loud.wav"
    sox_make(path, "-e", "floating-point", "-b", "32", channels=1, gain="+6")
    # sox clips floats it writes; scale them past full scale ourselves
    data = bytearray(path.read_bytes())
    pos = data.index(b"data") + 8
    f = np.frombuffer(bytes(data[pos:]), "<f4") * 1.5
    data[pos:] = f.astype("<f4").tobytes()
    path.write_bytes(bytes(data))
    audio = read_wav(path)
    ref = sox_reference(path)
    assert np.array_equal(audio.samples, ref)
    assert (audio.samples == 32767).sum() > 100 and (audio.samples == -32768).sum() > 100


@needs_sox
def test_extensible_float_and_multichannel(tmp_path):
    path = tmp_path / "ext.wav"
    sox_make(path, "-e", "floating-point", "-b", "32", channels=3)
    ref = sox_reference(path).reshape(-1, 3)
    data = path.read_bytes()
    pos = data.index(b"data")
    # rewrite as WAVE_FORMAT_EXTENSIBLE with the IEEE float sub-format, data unchanged
    path.write_bytes(riff(extensible(3, 3, 16000, 32), data[pos:]))
    with WavReader(path) as r:
        assert (r.format_tag, r.is_float, r.channels) == (0xFFFE, True, 3)
    assert np.array_equal(read_wav(path, channels=3).samples, ref)


def test_unknown_chunks_in_any_order_with_odd_padding(tmp_path):
    path = tmp_path / "odd.wav"
    path.write_bytes(riff(chunk(b"junk", b"abc"), chunk(b"data", PCM), chunk(b"LIST", b"INFOx"),
                          fmt(), chunk(b"fact", b"\x06\0\0\0")))
    assert read_wav(path).samples.tobytes() == PCM
    # an odd-sized 8-bit data chunk keeps its pad byte; the chunk after it is still found
    path.write_bytes(riff(chunk(b"data", b"\x00\x80\xff"), chunk(b"fmt ", fmt(bits=8)[8:])))
    assert read_wav(path).samples.tolist() == [-32768, 0, 32512]


# ---- malformed files: each with its own message -------------------------------------------

MALFORMED = {
    "empty": (b"", "empty file"),
    "not-riff": (b"OggS" + bytes(40), 'not a RIFF file (starts with "OggS")'),
    "short": (b"RIFF\0\0", "file too short for a WAV header (6 bytes)"),
    "not-wave": (riff(fmt(), form=b"AVI "), 'RIFF file but not WAVE (form type "AVI ")'),
    "rf64": (b"RF64" + bytes(8), "RF64 (64-bit WAV) files are not supported"),
    "no-fmt": (riff(chunk(b"LIST", b"INFO"), chunk(b"data", PCM)), "no fmt chunk"),
    "no-data": (riff(fmt(), chunk(b"LIST", b"INFO")), "no data chunk"),
    "fmt-short": (riff(chunk(b"fmt ", b"\1\0\1\0\x40\x1f\0\0"), chunk(b"data", PCM)),
                  "fmt chunk too short (8 bytes, at least 16 needed)"),
    "mp3": (riff(fmt(tag=0x55, bits=0, align=1), chunk(b"data", PCM)),
            "unsupported format tag 0x0055 (MP3)"),
    "adpcm": (riff(fmt(tag=2, bits=4), chunk(b"data", PCM)),
              "unsupported format tag 0x0002 (Microsoft ADPCM)"),
    "alaw-16bit": (riff(fmt(tag=6, bits=16), chunk(b"data", PCM)),
                   "G.711 A-law with 16 bits per sample (8 expected)"),
    "unknown-tag": (riff(fmt(tag=0x1234), chunk(b"data", PCM)),
                    "unsupported format tag 0x1234 (unknown codec)"),
    "ext-adpcm": (riff(extensible(0x11, 1, 8000, 16), chunk(b"data", PCM)),
                  "unsupported WAVE_FORMAT_EXTENSIBLE sub-format 0x0011 (IMA ADPCM)"),
    "ext-short": (riff(chunk(b"fmt ", struct.pack("<HHIIHH", 0xFFFE, 1, 8000, 16000, 2, 16)),
                       chunk(b"data", PCM)),
                  "WAVE_FORMAT_EXTENSIBLE fmt chunk too short (16 bytes, 40 needed)"),
    "0-channels": (riff(fmt(channels=0, align=2), chunk(b"data", PCM)), "0 channels"),
    "many-channels": (riff(fmt(channels=1000, align=2000), chunk(b"data", PCM)),
                      "1000 channels (at most 256 supported)"),
    "0-rate": (riff(fmt(rate=0), chunk(b"data", PCM)),
               "sample rate 0 Hz out of range (1 to 10000000 Hz)"),
    "absurd-rate": (riff(fmt(rate=0xFFFFFFFF // 2), chunk(b"data", PCM)),
                    "sample rate 2147483647 Hz out of range (1 to 10000000 Hz)"),
    "block-align": (riff(fmt(channels=2, align=2), chunk(b"data", PCM)),
                    "block align 2 does not match 2 channel(s) of 16 bits (expected 4)"),
    "12-bit": (riff(fmt(bits=12, align=2), chunk(b"data", PCM)),
               "unsupported PCM sample size 12 bits (8, 16, 24 or 32 supported)"),
    "float-16": (riff(fmt(tag=3, bits=16), chunk(b"data", PCM)),
                 "unsupported float sample size 16 bits (32 or 64 supported)"),
    "chunk-past-eof": (riff(fmt(), b"LIST" + struct.pack("<I", 5000) + b"INFO"),
                       'chunk "LIST" size exceeds file (5000 bytes declared, 4 remain)'),
    "fmt-past-eof": (riff(b"fmt " + struct.pack("<I", 64) + fmt()[8:]),
                     "fmt chunk size exceeds file (64 bytes declared, 16 remain)"),
    "truncated": (riff(fmt(), b"data" + struct.pack("<I", 32000) + bytes(1200)),
                  "data chunk truncated (header says 32000 bytes, file has 1200)"),
}


@pytest.mark.parametrize("name", list(MALFORMED))
def test_malformed_file_gives_specific_message(tmp_path, name):
    content, reason = MALFORMED[name]
    path = tmp_path / "in.wav"
    path.write_bytes(content)
    with pytest.raises(WavError) as info:
        read_wav(path)
    assert str(info.value) == f"{path}: {reason}"
    assert isinstance(info.value, ValueError)


def test_truncated_data_accepted_on_request(tmp_path):
    path = tmp_path / "crashed.wav"
    x = noise(600, 2)
    data = b"data" + struct.pack("<I", 32000) + x.tobytes() + b"\1"
    path.write_bytes(riff(fmt(channels=2), data))
    audio = read_wav(path, allow_truncated=True)
    assert np.array_equal(audio.samples, x)  # whole frames only: the stray byte is dropped
    with WavReader(path, allow_truncated=True) as r:
        assert r.truncated and r.declared_data_bytes == 32000 and r.frames == 600


def test_requirements_on_rate_and_channels(tmp_path):
    path = tmp_path / "in.wav"
    write_wav(path, noise(100, 2), 44100)
    with pytest.raises(WavError, match=rf"^{path}: sample rate is 44100 Hz, 8000 Hz needed$"):
        read_wav(path, sample_rate=8000)
    with pytest.raises(WavError, match=rf"^{path}: 2 channels, 1 needed$"):
        read_wav(path, channels=1)
    write_wav(path, noise(100, 1), 8000)
    with pytest.raises(WavError, match=rf"^{path}: 1 channel, 2 needed$"):
        read_wav(path, sample_rate=8000, channels=2)


def test_missing_file_and_directory(tmp_path):
    missing = tmp_path / "nope.wav"
    with pytest.raises(FileNotFoundError) as info:
        read_wav(missing)
    assert info.value.filename == str(missing)
    with pytest.raises(IsADirectoryError) as info2:
        read_wav(tmp_path)
    assert info2.value.filename == str(tmp_path)
    with pytest.raises(IsADirectoryError):
        write_wav(tmp_path, noise(10, 1), 8000)
    with pytest.raises(FileNotFoundError):
        write_wav(tmp_path / "no" / "dir.wav", noise(10, 1), 8000)
    with pytest.raises(ValueError, match="embedded null byte"):
        read_wav("a\0b.wav")


# ---- writer ------------------------------------------------------------------------------

def test_flush_makes_a_readable_file_before_close(tmp_path):
    path = tmp_path / "rec.wav"
    x = noise(3000, 1)
    with WavWriter(path, 16000) as w:
        assert read_wav(path).frames == 0  # valid from the start
        w.write(x[:1000])
        w.flush()
        w.write(x[1000:2000])  # not flushed yet: the header still says 1000
        assert np.array_equal(read_wav(path).samples, x[:1000])
        w.flush()
        assert np.array_equal(read_wav(path).samples, x[:2000])
        w.write(x[2000:])
        assert w.frames == 3000
    assert w.closed
    assert np.array_equal(read_wav(path, sample_rate=16000).samples, x)


def test_writer_size_limit(tmp_path):
    path = tmp_path / "cap.wav"
    with WavWriter(path, 8000, 2, max_data_bytes=4 * 100) as w:
        w.write(noise(60, 2))
        with pytest.raises(WavError, match="would pass the size limit of 400 data bytes"):
            w.write(noise(41, 2))
        w.write(noise(40, 2))
        assert w.frames == 100
    assert read_wav(path).frames == 100


@pytest.mark.parametrize("bad, message", [
    (np.zeros(10, np.float64), "samples must be int16, got float64"),
    (np.zeros(10, np.int32), "samples must be int16, got int32"),
    (np.zeros((10, 3), np.int16), "samples have 3 channels, the file has 2"),
    (np.zeros(11, np.int16), "11 interleaved samples are not whole frames of 2 channels"),
    (np.zeros((2, 2, 2), np.int16), "samples must have 1 or 2 dimensions, got 3"),
])
def test_writer_refuses_bad_samples(tmp_path, bad, message):
    with WavWriter(tmp_path / "w.wav", 8000, 2) as w:
        with pytest.raises(WavError, match=message):
            w.write(bad)
        assert w.frames == 0


def test_write_wav_refuses_bad_input(tmp_path):
    with pytest.raises(WavError, match=r"w\.wav: samples must be int16, got float32"):
        write_wav(tmp_path / "w.wav", np.zeros(10, np.float32), 8000)
    with pytest.raises(WavError, match=r"got shape \(2, 2, 2\)"):
        write_wav(tmp_path / "w.wav", np.zeros((2, 2, 2), np.int16), 8000)
    with pytest.raises(WavError, match="sample rate 0 Hz out of range"):
        write_wav(tmp_path / "w.wav", np.zeros(10, np.int16), 0)


def test_writer_accepts_strided_and_interleaved_input(tmp_path):
    x = noise(500, 2)
    with WavWriter(tmp_path / "s.wav", 8000, 2) as w:
        w.write(x[:250].reshape(-1))        # interleaved 1-D
        w.write(np.asfortranarray(x[250:]))  # not C-contiguous
    assert np.array_equal(read_wav(tmp_path / "s.wav").samples, x)


def test_writer_closed_use_is_a_clear_error(tmp_path):
    w = WavWriter(tmp_path / "c.wav", 8000)
    w.close()
    w.close()  # idempotent
    with pytest.raises(ValueError, match="WAV writer is closed"):
        w.write(np.zeros(4, np.int16))


# ---- fuzzing -----------------------------------------------------------------------------

VALID = riff(chunk(b"LIST", b"INFOab"), extensible(1, 2, 8000, 24),
             chunk(b"data", bytes(range(60))), chunk(b"junk", b"x"))


# 300 examples each keeps the fuzzing to about a second; every example
# overwrites the same (module-scoped) file.
FUZZ = settings(max_examples=300, deadline=None)


@pytest.fixture(scope="module")
def fuzz_path(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz") / "f.wav"


def read_or_wav_error(path: Path, content: bytes, allow_truncated: bool) -> None:
    path.write_bytes(content)
    try:
        audio = read_wav(path, allow_truncated=allow_truncated)
    except WavError as e:
        assert str(e).startswith(f"{path}: ") and len(str(e)) > len(str(path)) + 4
        return
    assert audio.samples.dtype == np.int16
    assert 1 <= audio.channels <= 256 and audio.sample_rate >= 1
    assert audio.samples.shape[0] * audio.channels * 1 <= len(content)


@FUZZ
@given(edits=st.lists(st.tuples(st.integers(0, len(VALID) - 1), st.integers(0, 255)),
                      min_size=1, max_size=6),
       cut=st.integers(0, len(VALID)), allow=st.booleans())
def test_fuzz_mutated_headers(fuzz_path, edits, cut, allow):
    content = bytearray(VALID)
    for pos, value in edits:
        content[pos] = value
    read_or_wav_error(fuzz_path, bytes(content[:cut]), allow)


@FUZZ
@given(tail=st.binary(max_size=120), allow=st.booleans(), prefix=st.sampled_from(
    [b"", b"RIFF", b"RIFF\x40\0\0\0WAVE", b"RIFF\x40\0\0\0WAVEfmt "]))
def test_fuzz_random_bytes(fuzz_path, tail, allow, prefix):
    read_or_wav_error(fuzz_path, prefix + tail, allow)


def test_fuzz_base_file_is_valid(tmp_path):
    """The fuzzers start from a readable file (otherwise they only test rejections)."""
    path = tmp_path / "v.wav"
    path.write_bytes(VALID)
    audio = read_wav(path)
    assert (audio.channels, audio.sample_rate, audio.frames) == (2, 8000, 10)
