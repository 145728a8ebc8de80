"""Audio device enumeration and selection on real PortAudio, both backends.

The devices are virtual sound cards on a private PulseAudio daemon (tests/audio_fixture.py):
a headset named like a USB one and a built-in card, each a loopback cable.
"""
from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

from offhook.devices.audio import (
    BACKENDS,
    DeviceInfo,
    find_device,
    list_devices,
    looks_like_usb_headset,
    rescan,
)
from offhook.errors import DeviceError, DeviceNotFoundError

if TYPE_CHECKING:
    from audio_fixture import VirtualAudio

# Imported as a plugin (not with `import`) so pytest rewrites its asserts.
pytest_plugins = ["audio_fixture"]

HEADSET = "Jabra Evolve 40 (USB)"  # the devices audio_fixture creates (its HEADSET, BUILTIN)
BUILTIN = "Built-in Audio"
RATE = 48000
BLOCK = 480  # 10 ms: PortAudio's smallest default blocks underflow on a loaded machine
OUTPUT_LATENCY = 0.04  # s; 'low' (a few ms of buffer) underflows under load (6 builds on 2 cores)


@pytest.mark.audio
@pytest.mark.parametrize("backend", BACKENDS)
def test_both_backends_list_the_virtual_devices_by_name(virtual_audio: VirtualAudio, backend: str) -> None:
    devices = {d.name: d for d in list_devices(backend)}
    assert {HEADSET, BUILTIN} <= devices.keys(), sorted(devices)
    for name in (HEADSET, BUILTIN):
        dev = devices[name]
        assert dev.backend == backend
        assert dev.hostapi == "ALSA"
        assert dev.is_input and dev.is_output  # channel counts are 32/32 through the pulse plugin
        assert dev.default_samplerate > 0
    assert devices[HEADSET].looks_like_usb_headset
    assert not devices[BUILTIN].looks_like_usb_headset
    # Exactly one default device of each kind, and it is not one of ours.
    assert sum(d.is_default_input for d in devices.values()) == 1
    assert sum(d.is_default_output for d in devices.values()) == 1
    assert not devices[HEADSET].is_default_input


@pytest.mark.audio
def test_backends_agree_on_names_and_kinds(virtual_audio: VirtualAudio) -> None:
    def summary(backend: str) -> list[tuple[str, bool, bool]]:
        return [(d.name, d.is_input, d.is_output) for d in list_devices(backend)]
    assert summary("sounddevice") == summary("pyaudio")


@pytest.mark.audio
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", ["input", "output"])
def test_find_device_by_exact_name_and_by_substring(virtual_audio: VirtualAudio, backend: str,
                                                    kind: str) -> None:
    exact = find_device(HEADSET, kind=kind, backend=backend)
    assert exact.name == HEADSET and exact.backend == backend and exact.has(kind)
    assert find_device("evolve 40", kind=kind, backend=backend).name == HEADSET
    assert find_device("BUILT-IN", kind=kind, backend=backend).name == BUILTIN


def test_exact_name_wins_over_substring_matches() -> None:
    def dev(name: str, index: int) -> DeviceInfo:
        return DeviceInfo(name=name, hostapi="ALSA", max_input_channels=1, max_output_channels=1,
                          default_samplerate=48000.0, is_default_input=False, is_default_output=False,
                          looks_like_usb_headset=looks_like_usb_headset(name), backend="sounddevice",
                          index=index)
    devices = [dev("Jabra Evolve 40 (USB) 2", 0), dev("Jabra Evolve 40 (USB)", 1)]
    assert find_device("Jabra Evolve 40 (USB)", devices=devices).index == 1
    with pytest.raises(DeviceNotFoundError, match=r"ambiguous.*'Jabra Evolve 40 \(USB\) 2'"):
        find_device("jabra", devices=devices)


@pytest.mark.audio
@pytest.mark.parametrize("backend", BACKENDS)
def test_unknown_name_is_refused_with_the_available_names(virtual_audio: VirtualAudio, backend: str) -> None:
    with pytest.raises(DeviceNotFoundError) as info:
        find_device("Polycom Nonexistent", kind="output", backend=backend)
    message = str(info.value)
    assert "no output device matches 'Polycom Nonexistent'" in message
    assert repr(HEADSET) in message and repr(BUILTIN) in message
    assert isinstance(info.value, DeviceError) and isinstance(info.value, LookupError)
    assert HEADSET in info.value.available and info.value.kind == "output"


def test_bad_arguments_are_refused_clearly() -> None:
    with pytest.raises(DeviceError, match="unknown audio backend 'jack'"):
        list_devices("jack")
    with pytest.raises(DeviceError, match="unknown device kind 'ringer'"):
        find_device(HEADSET, kind="ringer")
    with pytest.raises(DeviceError, match="non-empty string"):
        find_device("  ", devices=[])


@pytest.mark.parametrize(("name", "expected"), [
    ("Jabra Evolve 40 (USB)", True), ("Jabra EVOLVE 20: USB Audio (hw:1,0)", True),
    ("Plantronics Blackwire 3220 Series", True), ("Logitech USB Headset H340", True),
    ("Built-in Audio", False), ("HDA Intel PCH: ALC892 Analog (hw:0,0)", False),
    ("default", False), ("pulse", False),
])
def test_usb_headset_heuristic(name: str, expected: bool) -> None:
    assert looks_like_usb_headset(name) is expected


def _round_trip(in_index: int, out_index: int, signal: np.ndarray,
                mark: int) -> tuple[list[tuple[float, np.ndarray]], float]:
    """Play `signal` on one device while recording the other, on two callback streams.

    Returns the recorded blocks, each stamped with the stream time (s) its callback
    ran, and the stream time at which the output callback was asked for the block
    holding sample `mark` of `signal`, plus its offset in that block.  Callback
    times, not PortAudio's estimated DAC/ADC times: through the ALSA pulse plugin
    those are guesses, and callbacks come in bursts while buffers fill.
    """
    import sounddevice as sd

    blocks: list[tuple[float, np.ndarray]] = []
    played = {"pos": 0, "handed": -1.0}
    statuses: list[str] = []
    first_input = threading.Event()
    done = threading.Event()

    def on_input(indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        blocks.append((time_info.currentTime, indata[:, 0].copy()))
        if status:
            statuses.append(f"in@{len(blocks)}:{status}")
        if len(blocks) * frames >= RATE // 5:  # let the capture side settle for 0.2 s
            first_input.set()

    def on_output(outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        pos = played["pos"]
        if status:
            statuses.append(f"out@{pos}:{status}")
        if pos <= mark < pos + frames:
            played["handed"] = time_info.currentTime + (mark - pos) / RATE
        chunk = signal[pos:pos + frames]
        outdata[:chunk.size, 0] = chunk
        outdata[chunk.size:, 0] = 0
        played["pos"] = pos + frames
        if pos >= signal.size + RATE // 10:
            done.set()

    with sd.InputStream(device=in_index, samplerate=RATE, channels=1, dtype="float32",
                        latency="low", blocksize=BLOCK, callback=on_input):
        assert first_input.wait(5), "the input stream never delivered audio"
        with sd.OutputStream(device=out_index, samplerate=RATE, channels=1, dtype="float32",
                             latency=OUTPUT_LATENCY, blocksize=BLOCK, callback=on_output):
            assert done.wait(5 + signal.size / RATE), "the output stream stalled"
    if statuses:
        print("stream status:", " ".join(statuses[:10]), f"({len(statuses)} in all)")
    return blocks, played["handed"]


@pytest.mark.audio
def test_round_trip_through_a_virtual_cable(virtual_audio: VirtualAudio) -> None:
    out_dev = find_device(HEADSET, kind="output")
    in_dev = find_device(HEADSET, kind="input")
    lead, burst = int(0.3 * RATE), int(0.2 * RATE)
    amplitude = 0.5
    signal = np.zeros(lead + burst, dtype=np.float32)
    signal[lead:] = amplitude * np.sin(2 * np.pi * 1000.0 * np.arange(burst) / RATE)
    blocks, handed = _round_trip(in_dev.index, out_dev.index, signal, lead)

    # The onset's arrival time: the stream time of the callback that delivered it, less
    # the samples that followed it in that block.
    recorded = np.concatenate([b for _, b in blocks])
    ends = np.cumsum([b.size for _, b in blocks])
    above = np.flatnonzero(np.abs(recorded) > amplitude / 4)
    assert above.size, "the burst never came back on the input"
    onset = int(above[0])
    block = int(np.searchsorted(ends, onset, side="right"))
    arrival = blocks[block][0] - (ends[block] - onset) / RATE
    latency_ms = (arrival - handed) * 1000
    assert 0 < latency_ms < 100, latency_ms

    segment = recorded[onset + 480:onset + burst - 480]  # skip the edges of the burst
    assert segment.size > RATE // 10
    spectrum = np.abs(np.fft.rfft(segment * np.hanning(segment.size)))
    peak_hz = np.argmax(spectrum) * RATE / segment.size
    assert abs(peak_hz - 1000.0) < 10, peak_hz
    level_db = 20 * np.log10(np.sqrt(np.mean(segment ** 2)) / (amplitude / np.sqrt(2)))
    assert abs(level_db) < 6, level_db
    print(f"round trip {latency_ms:.1f} ms, {peak_hz:.1f} Hz, {level_db:+.2f} dB")


@pytest.mark.audio
def test_an_unplugged_device_disappears_after_rescan(virtual_audio: VirtualAudio) -> None:
    name = "Poly Blackwire 3320 (USB)"
    virtual_audio.add_device(name, usb=True)
    rescan()
    assert find_device("blackwire", kind="input").name == name
    assert name in [d.name for d in list_devices("pyaudio", kind="output")]

    virtual_audio.remove_device(name)
    assert name in [d.name for d in list_devices()]  # PortAudio caches its list...
    rescan()                                          # ...until it is rebuilt
    for backend in BACKENDS:
        names = [d.name for d in list_devices(backend)]
        assert name not in names and HEADSET in names and BUILTIN in names, names
    with pytest.raises(DeviceNotFoundError, match="no input device matches 'blackwire'"):
        find_device("blackwire", kind="input")
