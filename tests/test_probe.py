"""`offhook probe` / offhook.devices.probe and `offhook devices`, on PulseAudio virtual devices.

The probe's latency is checked against a delay we configure: a device whose input hears its
output through a PulseAudio module-loopback of 100 ms (audio_fixture.add_delay_device).  What
the probe reports for it, less what it reports for a plain cable (no added delay), must be
that 100 ms.
"""
from __future__ import annotations

import json
import struct
import subprocess
import time
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from offhook.cli.main import main
from offhook.devices import probe
from offhook.devices.png import Canvas, encode_png
from offhook.devices.probing import probe_signal
from offhook.devices.stream import DeviceStream
from offhook.errors import DeviceFormatError

if TYPE_CHECKING:
    from audio_fixture import VirtualAudio

pytest_plugins = ["audio_fixture"]

HEADSET = "Jabra Evolve 40 (USB)"
BUILTIN = "Built-in Audio"
ECHO = "Echo Path 100 ms"
DELAY_MS = 100


@pytest.fixture(scope="module")
def echo_device(virtual_audio: VirtualAudio) -> str:
    if ECHO not in virtual_audio.devices:
        virtual_audio.add_delay_device(ECHO, DELAY_MS)
    return ECHO


def read_png(data: bytes) -> np.ndarray:
    """Decodes the PNGs encode_png writes (8-bit RGB, filter 0), checking every CRC."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert crc == zlib.crc32(kind + body), kind
        chunks.append((kind, body))
        pos += 12 + length
    assert chunks[0][0] == b"IHDR" and chunks[-1] == (b"IEND", b"")
    width, height, depth, colour, _, _, _ = struct.unpack(">IIBBBBB", chunks[0][1])
    assert (depth, colour) == (8, 2)
    raw = zlib.decompress(b"".join(b for k, b in chunks if k == b"IDAT"))
    rows = np.frombuffer(raw, np.uint8).reshape(height, 1 + 3 * width)
    assert not rows[:, 0].any()  # filter type 0 on every row
    return rows[:, 1:].reshape(height, width, 3)


def test_png_encoder_round_trips_an_image() -> None:
    rng = np.random.default_rng(7)
    image = rng.integers(0, 256, (13, 17, 3), dtype=np.uint8)
    assert np.array_equal(read_png(encode_png(image)), image)
    canvas = Canvas(40, 20)
    canvas.line([0, 39], [10, 10], (255, 0, 0))
    canvas.text(1, 1, "0:9")
    decoded = read_png(encode_png(canvas.image))
    assert (decoded[10, :, 0] == 255).all() and (decoded[10, :, 1] == 0).all()
    assert (decoded[1:8, 1:18] == 0).any()  # the glyphs left black pixels
    with pytest.raises(ValueError, match=r"\(height, width, 3\) uint8 array, got float64"):
        encode_png(np.zeros((2, 2, 3)))


def test_probe_signal_layout() -> None:
    signal, parts = probe_signal(48000, max_latency=0.5)
    assert parts["lead"] == (0, 19200) and parts["tail"][1] == signal.size
    assert not signal[slice(*parts["lead"])].any() and not signal[slice(*parts["tail"])].any()
    sweep = signal[slice(*parts["sweep"])]
    assert abs(20 * np.log10(np.abs(sweep).max()) + 6) < 0.1
    tone = signal[slice(*parts["tone"])]
    assert abs(20 * np.log10(np.abs(tone).max()) + 12) < 0.1


def test_probe_refuses_bad_arguments() -> None:
    with pytest.raises(DeviceFormatError, match=r"rate must be 8000\.\.192000 Hz, got 1000"):
        probe(rate=1000)
    with pytest.raises(DeviceFormatError, match=r"max_latency must be 0\.05\.\.2 s, got 5"):
        probe(max_latency=5)


@pytest.mark.audio
def test_probe_measures_the_configured_loopback_latency(echo_device: str, tmp_path: Path) -> None:
    cable = probe(HEADSET, HEADSET, out_dir=tmp_path / "cable", attempts=5)
    echo = probe(echo_device, echo_device, out_dir=tmp_path / "echo", attempts=5)
    print(cable.to_text(), echo.to_text())
    for report in (cable, echo):
        assert report.correlation > 0.6, report
        assert 0 < report.latency_ms < 400, report
        assert abs(report.echo_coupling_db) < 0.5, report  # bit-exact paths: 0 dB
        assert report.noise_floor_dbfs <= -100, report       # digital silence between signals
        assert not report.clipping and abs(report.peak_dbfs + 6) < 1, report
        assert report.snr_db > 80, report
    added = echo.latency_ms - cable.latency_ms
    assert abs(added - DELAY_MS) < 20, (cable.latency_ms, echo.latency_ms)

    # The report files exist and say the same as the object.
    files = {k: Path(v) for k, v in echo.files.items()}
    assert files["json"] == tmp_path / "echo" / "report.json"
    data = json.loads(files["json"].read_text())
    assert data["latency_ms"] == echo.latency_ms and data["capture"] == echo_device
    assert data["clipping"] is False and data["sample_rate"] == 48000
    text = files["text"].read_text()
    assert f"round-trip latency  {echo.latency_ms:8.1f} ms" in text and "no clipping" in text
    image = read_png(files["png"].read_bytes())
    assert image.shape == (480, 720, 3)
    blue = (image[:, :, 2] > 150) & (image[:, :, 0] < 80)  # the plotted curves
    assert blue[40:210].sum() > 100 and blue[270:440].sum() > 300, (blue[40:210].sum(), blue[270:440].sum())


@pytest.mark.audio
def test_probe_waits_out_a_sound_server_backlog(virtual_audio: VirtualAudio) -> None:
    """After a call's stream on a PulseAudio null sink closes, the next stream's first seconds
    are swallowed at full speed (the sink catching up on the time it sat idle).  A probe
    started into that backlog finds nothing; one that waits for real-time playback is
    right at the first attempt."""
    with DeviceStream(HEADSET, HEADSET, engine_rate=16000) as stream:
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            stream.port.push_playback(np.zeros(320, np.int16))
            stream.port.pull_capture(320)
            time.sleep(0.02)
    time.sleep(1.0)
    report = probe(HEADSET, HEADSET, attempts=1)
    assert report.correlation > 0.9 and report.timing_jitter_ms < 30, report
    assert 0 < report.latency_ms < 400, report


@pytest.mark.audio
def test_probe_sees_gain_as_echo_coupling_and_clipping(echo_device: str, virtual_audio: VirtualAudio) -> None:
    """150 % on the echo path's sink (PulseAudio's cubic scale: x3.375, +10.6 dB) pushes the
    -6 dBFS sweep past full scale."""
    echo_sink = virtual_audio.devices[echo_device].sink.replace("oh_sink", "oh_echo")
    subprocess.run(["pactl", "set-sink-volume", echo_sink, "150%"], check=True)
    try:
        report = probe(echo_device, echo_device)
    finally:
        subprocess.run(["pactl", "set-sink-volume", echo_sink, "100%"], check=True)
    gain_db = 20 * np.log10(1.5 ** 3)
    assert abs(report.echo_coupling_db - gain_db) < 0.5, report
    assert report.clipping and report.clipped_samples > 100, report
    assert report.peak_dbfs > -0.01, report
    assert "CLIPPING" in report.to_text()


@pytest.mark.audio
def test_offhook_probe_command_with_pyaudio(echo_device: str, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["probe", "--device", echo_device, "--backend", "pyaudio", "--out", str(tmp_path),
                 "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["backend"] == "pyaudio" and data["playback"] == echo_device
    # The configured 100 ms plus both devices' buffers (PyAudio's: ~20..60 ms here).
    assert DELAY_MS <= data["latency_ms"] < DELAY_MS + 100, data
    assert (tmp_path / "probe.png").stat().st_size > 1000
    assert json.loads((tmp_path / "report.json").read_text())["latency_ms"] == data["latency_ms"]


@pytest.mark.audio
def test_offhook_probe_command_names_an_unknown_device(virtual_audio: VirtualAudio,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["probe", "--device", "Nonexistent Headset"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("offhook probe: no input device matches 'Nonexistent Headset'")
    assert repr(HEADSET) in err


@pytest.mark.audio
@pytest.mark.parametrize("backend", ["sounddevice", "pyaudio"])
def test_offhook_devices_lists_names_flags_and_defaults(virtual_audio: VirtualAudio, backend: str,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["devices", "--backend", backend]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:4] == ["NAME", "IN", "OUT", "RATE"]
    rows = {line.split("  ")[0].strip(): line for line in lines[1:-1]}
    assert "usb-headset" in rows[HEADSET] and "usb-headset" not in rows[BUILTIN]
    assert " in out " in rows[HEADSET]
    assert sum("default-in" in r for r in rows.values()) == 1
    assert sum("default-out" in r for r in rows.values()) == 1
    assert lines[-1].startswith(f"({len(rows)} devices through {backend}")

    assert main(["devices", "--backend", backend, "--kind", "input", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    by_name = {d["name"]: d for d in listed}
    assert by_name[HEADSET]["looks_like_usb_headset"] is True and by_name[HEADSET]["backend"] == backend
    assert all(d["is_input"] for d in listed) and BUILTIN in by_name
