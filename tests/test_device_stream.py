"""Device streams on real PortAudio (PulseAudio virtual cables), both backends, and the
DevicePort underneath them.

Each virtual device is a cable (tests/audio_fixture.py): what is played on it comes back on
its input.  The test plays the engine's part: it pushes frames to the port's playback side
and pulls frames from its capture side, at the engine rate.
"""
from __future__ import annotations

import itertools
import subprocess
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from offhook.devices.audio import list_devices, streams_open
from offhook.devices.monitor import DeviceChange, DeviceMonitor
from offhook.devices.stream import DeviceStream, StreamEvent
from offhook.engine import DevicePort, Resampler
from offhook.errors import DeviceError, DeviceFormatError, DeviceNotFoundError

if TYPE_CHECKING:
    from audio_fixture import VirtualAudio

pytest_plugins = ["audio_fixture"]

HEADSET = "Jabra Evolve 40 (USB)"
BUILTIN = "Built-in Audio"
AMPLITUDE = 0.3 * 32767


def tone(freq: float, rate: int, n: int, start: int = 0) -> np.ndarray:
    t = (np.arange(n) + start) / rate
    return np.round(AMPLITUDE * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def analyse(x: np.ndarray, rate: int) -> tuple[float, float]:
    """(peak frequency in Hz, RMS level in dB relative to the test tone's)."""
    seg = x.astype(np.float64)
    spectrum = np.abs(np.fft.rfft(seg * np.hanning(seg.size)))
    k = int(np.argmax(spectrum[1:])) + 1
    # parabolic interpolation of the peak bin
    a, b, c = np.log(spectrum[k - 1:k + 2] + 1e-12)
    peak = (k + 0.5 * (a - c) / (a - 2 * b + c)) * rate / seg.size
    level = 20 * np.log10(np.sqrt(np.mean(seg ** 2)) / (AMPLITUDE / np.sqrt(2)))
    return float(peak), float(level)


def run_engine(stream: DeviceStream, seconds: float, freq: float | None) -> np.ndarray:
    """Plays the engine: keeps ~125 ms queued for playback (a `freq` tone, or nothing
    when None) and collects the captured frames, for `seconds` of capture."""
    port, frame, rate = stream.port, stream.frame_size, stream.engine_rate
    port.pull_capture(port.capture_available)  # drop what waited before the engine started
    captured: list[np.ndarray] = []
    played = 0
    deadline = time.monotonic() + seconds + 5
    while sum(c.size for c in captured) < seconds * rate:
        assert time.monotonic() < deadline, f"capture stalled: {stream.stats()}"
        if freq is not None:
            while port.playback_queued < rate // 8:  # 125 ms ahead: the test thread may stall
                port.push_playback(tone(freq, rate, frame, played))
                played += frame
        while port.capture_available >= frame:
            captured.append(port.pull_capture(frame))
        time.sleep(frame / rate / 4)
    return np.concatenate(captured)


@pytest.mark.audio
@pytest.mark.parametrize(("backend", "engine_rate", "device_rate", "frame_ms", "channels"), [
    ("sounddevice", 16000, 48000, 20, 1),
    ("sounddevice", 8000, 44100, 10, 2),
    ("pyaudio", 16000, 44100, 20, 1),
    ("pyaudio", 48000, 48000, 10, 2),
])
def test_full_duplex_tone_through_a_virtual_cable(virtual_audio: VirtualAudio, backend: str,
                                                  engine_rate: int, device_rate: int,
                                                  frame_ms: int, channels: int) -> None:
    with DeviceStream(HEADSET, HEADSET, backend=backend, engine_rate=engine_rate,
                      device_rate=device_rate, frame_ms=frame_ms, channels=channels) as stream:
        assert stream.capture_device == HEADSET and stream.playback_device == HEADSET
        assert stream.frame_size == engine_rate * frame_ms // 1000
        assert streams_open() == 2
        got = run_engine(stream, 1.0, freq=1000.0)
        stats = stream.stats()
    assert streams_open() == 0
    tail = got[-engine_rate // 2:]  # the last 0.5 s: the tone has long been flowing
    peak, level = analyse(tail, engine_rate)
    assert abs(peak - 1000.0) < 2, peak
    assert abs(level) < 1.0, level  # bit-exact cable, flat resamplers: a steady full-level tone
    # The tone is continuous in the window: no 10 ms stretch of it is silent.
    blocks = tail[: tail.size // (engine_rate // 100) * (engine_rate // 100)].reshape(-1, engine_rate // 100)
    quietest = 20 * np.log10(np.sqrt(np.mean(blocks.astype(float) ** 2, axis=1)).min() / AMPLITUDE)
    assert quietest > -6, quietest
    assert stats["callbacks"]["input"] > 0 and stats["callbacks"]["output"] > 0
    assert stats["capture"]["written"] >= got.size


@pytest.mark.audio
def test_capture_a_tone_played_into_the_virtual_source(virtual_audio: VirtualAudio,
                                                       tmp_path: Path) -> None:
    """The tone enters PulseAudio through pacat (not through offhook) on one device, and is
    read from the capture side of a capture-only stream at 16 kHz."""
    sink = virtual_audio.devices[BUILTIN].sink
    raw = tmp_path / "tone.raw"
    raw.write_bytes(tone(700.0, 48000, 48000 * 4).tobytes())
    with DeviceStream(capture=BUILTIN, mode="capture", engine_rate=16000) as stream:
        assert stream.playback_device is None
        player = subprocess.Popen(["pacat", "--playback", f"--device={sink}", "--format=s16le",
                                   "--rate=48000", "--channels=1", "--raw", "--latency-msec=40",
                                   str(raw)])
        try:
            got = run_engine(stream, 0.6, freq=None)
            # pacat may start late (an idle null sink wakes in up to ~2 s): wait for the tone.
            for _ in range(10):
                if np.sqrt(np.mean(got[-8000:].astype(float) ** 2)) > AMPLITUDE / 4:
                    break
                got = run_engine(stream, 0.6, freq=None)  # the last 0.5 s: one stretch
        finally:
            player.kill()  # by pid: the pacat this test started
            player.wait()
    segment = got[-8000:]
    peak, level = analyse(segment, 16000)
    assert abs(peak - 700.0) < 2, peak
    assert abs(level) < 1.0, level


@pytest.mark.audio
def test_playback_comes_out_of_the_null_sink_monitor(virtual_audio: VirtualAudio) -> None:
    """Playback-only stream at 8 kHz engine rate; parec records the sink's monitor."""
    monitor = virtual_audio.devices[HEADSET].sink + ".monitor"
    recorder = subprocess.Popen(["parec", f"--device={monitor}", "--format=s16le", "--rate=48000",
                                 "--channels=1", "--raw", "--latency-msec=20"],
                                stdout=subprocess.PIPE)
    chunks: list[bytes] = []

    def read() -> None:
        assert recorder.stdout is not None
        while chunk := recorder.stdout.read1(4096):
            chunks.append(chunk)
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 6  # a fresh null sink may take ~2 s to start
        while sum(map(len, chunks)) < 48000 * 2 // 5:  # parec is recording: 0.2 s came
            assert time.monotonic() < deadline, "parec recorded nothing"
            time.sleep(0.02)
        with DeviceStream(playback=HEADSET, mode="playback", engine_rate=8000, frame_ms=20) as stream:
            assert stream.capture_device is None
            port = stream.port
            while stream.stats()["callbacks"]["output"] < 40:
                assert time.monotonic() < deadline + 6, stream.stats()
                time.sleep(0.02)
            start, played = time.monotonic(), 0
            while time.monotonic() - start < 1.2:
                while port.playback_queued < 480:
                    port.push_playback(tone(440.0, 8000, 160, played))
                    played += 160
                time.sleep(0.005)
            events = list(stream.events)
        time.sleep(0.3)  # the end of the tone reaches parec
    finally:
        recorder.terminate()  # by pid: the parec this test started
        recorder.wait(timeout=5)
        reader.join(timeout=5)
    out = b"".join(chunks)
    recorded = np.frombuffer(out, dtype=np.int16)
    assert recorded.size > 48000 // 2, recorded.size
    loud = np.flatnonzero(np.abs(recorded) > AMPLITUDE / 2)
    assert loud.size, "the tone never reached the sink"
    segment = recorded[loud[0] + 4800:loud[-1] - 480]  # skip the start, stop before the end
    assert segment.size >= 24000, (segment.size, events)
    peak, level = analyse(segment, 48000)
    assert abs(peak - 440.0) < 2, peak
    assert abs(level) < 1.0, level


@pytest.mark.audio
@pytest.mark.parametrize("backend", ["sounddevice", "pyaudio"])
def test_underruns_and_overruns_are_counted(virtual_audio: VirtualAudio, backend: str) -> None:
    with DeviceStream(HEADSET, HEADSET, backend=backend, engine_rate=16000, buffer_ms=100) as stream:
        port = stream.port
        time.sleep(0.4)  # the engine is starved of nothing, but supplies nothing and takes nothing
        starved = stream.stats()
        # Playback ran dry on every device callback; capture filled its ring and overflowed.
        assert starved["playback"]["underruns"] > 5, starved
        assert starved["playback"]["missing"] > 16000 * 0.2, starved
        assert starved["capture"]["overruns"] > 0, starved
        assert port.capture_available == port.capacity  # full: nobody took any
        # Flood the playback side: more than the ring holds in one go.
        stored = port.push_playback(np.zeros(port.capacity * 2, np.int16))
        assert 0 < stored <= port.capacity
        flooded = stream.stats()
        assert flooded["playback"]["overruns"] == starved["playback"]["overruns"] + 1
        assert flooded["playback"]["dropped"] >= port.capacity
        # Counters keep moving while the stream runs.
        time.sleep(0.2)
        later = stream.stats()
        assert later["callbacks"]["input"] > starved["callbacks"]["input"]
        assert later["capture"]["dropped"] > starved["capture"]["dropped"]
        # Draining the capture side and reading more than is there is an engine underrun.
        port.pull_capture(port.capacity)
        before = port.stats()["capture"]["underruns"]
        port.pull_capture(port.capacity)
        assert port.stats()["capture"]["underruns"] == before + 1


def test_port_refuses_bad_configuration_and_buffers() -> None:
    with pytest.raises(DeviceFormatError,
                       match="engine_rate must be one of 8000, 16000, 32000, 48000 Hz, got 11025"):
        DevicePort(11025, 48000)
    with pytest.raises(DeviceFormatError, match=r"device_rate must be 8000\.\.48000 Hz"):
        DevicePort(16000, 96000)
    with pytest.raises(DeviceFormatError, match=r"channels must be 1\.\.8, got 0"):
        DevicePort(16000, 48000, channels=0)
    port = DevicePort(16000, 48000, channels=2)
    with pytest.raises(DeviceFormatError, match="push_playback takes a 1-D C-contiguous int16 array, "
                                                r"got a float32 array of shape \(3,\)"):
        port.push_playback(np.zeros(3, np.float32))
    with pytest.raises(DeviceFormatError, match="capture block of 6 bytes is not a whole number of "
                                                "2-channel int16 frames"):
        port.push_capture(b"\0" * 6)
    with pytest.raises(DeviceFormatError, match="sample count >= 0"):
        port.pull_capture(-1)
    assert isinstance(DeviceFormatError("x"), ValueError) and isinstance(DeviceFormatError("x"), DeviceError)


def test_port_resamples_and_downmixes_without_a_device() -> None:
    """48 kHz stereo device blocks -> 16 kHz mono engine frames -> 48 kHz stereo again."""
    port = DevicePort(16000, 48000, channels=2, buffer_ms=1000)
    left = tone(1000.0, 48000, 48000)
    stereo = np.stack([left, left], axis=1).reshape(-1)
    for i in range(0, stereo.size, 960):
        port.push_capture(stereo[i:i + 960])
    assert port.capture_available == 16000 - 0  # every resampled sample kept (1 s < 1.024 s ring)
    engine = port.pull_capture(16000)
    peak, level = analyse(engine[2000:], 16000)
    assert abs(peak - 1000) < 1 and abs(level) < 0.1, (peak, level)
    assert port.push_playback(engine) == 16000
    out = bytearray(480 * 2 * 2)
    blocks = []
    for _ in range(90):
        assert port.pull_playback(out) == 480
        blocks.append(np.frombuffer(out, np.int16).reshape(-1, 2).copy())
    back = np.concatenate(blocks)
    assert np.array_equal(back[:, 0], back[:, 1])
    peak, level = analyse(back[6000:42000, 0], 48000)
    assert abs(peak - 1000) < 1 and abs(level) < 0.1, (peak, level)
    stats = port.stats()
    assert stats["capture"]["overruns"] == 0 and stats["playback"]["underruns"] == 0


@pytest.mark.audio
def test_stream_refuses_bad_arguments(virtual_audio: VirtualAudio) -> None:
    with pytest.raises(DeviceFormatError, match="frame_ms must be 10 or 20, got 30"):
        DeviceStream(HEADSET, HEADSET, frame_ms=30)
    with pytest.raises(DeviceFormatError, match="engine_rate must be one of"):
        DeviceStream(HEADSET, HEADSET, engine_rate=22050)
    with pytest.raises(DeviceError, match="unknown audio backend 'jack'"):
        DeviceStream(HEADSET, HEADSET, backend="jack")
    with pytest.raises(DeviceNotFoundError, match=r"no input device matches 'Nonexistent Phone'.*Jabra"):
        DeviceStream("Nonexistent Phone", HEADSET)


@pytest.mark.audio
def test_switching_one_direction_keeps_the_other_and_the_port(virtual_audio: VirtualAudio) -> None:
    """switch() reopens only the direction asked for, on the new device; the port (and so an
    engine attached to it) is the same; an unknown name changes nothing."""
    with DeviceStream(HEADSET, HEADSET, engine_rate=16000, frame_ms=20) as stream:
        port = stream.port
        wait_steady(stream, 10)
        assert stream.switch("output", BUILTIN) == BUILTIN
        assert stream.playback_device == BUILTIN and stream.capture_device == HEADSET
        assert stream.port is port
        switched = stream.wait_event(["switched"], 1.0)
        assert switched is not None and (switched.direction, switched.device, switched.previous) == \
            ("output", BUILTIN, HEADSET)
        before = stream.stats()["callbacks"]["output"]
        deadline = time.monotonic() + 5
        while stream.stats()["callbacks"]["output"] < before + 20:    # the new device runs
            assert time.monotonic() < deadline, "the switched playback never called back"
            time.sleep(0.02)
        assert stream.switch("output", BUILTIN) == BUILTIN              # already there: no-op
        with pytest.raises(DeviceNotFoundError, match="Nonexistent Speaker"):
            stream.switch("output", "Nonexistent Speaker")
        assert stream.playback_device == BUILTIN
        with pytest.raises(DeviceFormatError, match="direction must be 'input' or 'output'"):
            stream.switch("sideways", BUILTIN)
        assert stream.directions == ("input", "output")


# -- hot-plug ------------------------------------------------------------------------------

def wait_steady(stream: DeviceStream, callbacks: int = 40) -> None:
    """Until both directions have called back `callbacks` times (0.4 s of audio at 10 ms)."""
    deadline = time.monotonic() + 6
    while min(stream.stats()["callbacks"].values()) < callbacks:
        assert time.monotonic() < deadline, f"the stream never settled: {stream.stats()}"
        time.sleep(0.02)


@pytest.mark.audio
@pytest.mark.parametrize(("backend", "preferred"), [("sounddevice", BUILTIN), ("pyaudio", None)])
def test_unplugging_the_device_in_use_falls_back_and_the_stream_lives_on(
        virtual_audio: VirtualAudio, backend: str, preferred: str | None) -> None:
    name = f"Poly Savi 8200 (USB) {backend}"
    virtual_audio.add_device(name, usb=True)
    events: list[StreamEvent] = []
    prefs = [preferred, "Nonexistent Speakerphone"] if preferred else []
    with DeviceStream(name, name, backend=backend, engine_rate=16000, frame_ms=10,
                      preferred_capture=prefs, preferred_playback=prefs,
                      on_event=events.append) as stream:
        wait_steady(stream)
        before = stream.stats()
        unplugged = time.monotonic()
        virtual_audio.remove_device(name)
        fallbacks = {}
        for _ in ("input", "output"):
            event = None
            while event is None or event.direction in fallbacks:
                start = stream.events.index(event) + 1 if event else 0
                event = stream.wait_event(["fallback", "failed"], 3, since=start)
                assert event is not None, f"no fallback within 3 s: {stream.events}"
            fallbacks[event.direction] = (event, time.monotonic() - unplugged)
        expected = preferred or next(d.name for d in list_devices(backend) if d.is_default_input)
        for direction, (event, after) in fallbacks.items():
            assert event.kind == "fallback" and event.previous == name, event
            assert event.device == expected, event
            print(f"{backend} {direction}: fallback to {event.device!r} {after:.3f} s after the unplug")
        assert [e.kind for e in events].count("lost") == 2 and events[0].kind == "lost"
        assert stream.capture_device == expected and stream.playback_device == expected
        # The same stream and port go on: counters continue, and audio flows through the
        # fallback device (the built-in card is a cable too: the tone comes back).
        got = run_engine(stream, 1.0, freq=1000.0 if preferred else None)
        after_stats = stream.stats()
    assert after_stats["callbacks"]["input"] > before["callbacks"]["input"] + 50
    assert after_stats["capture"]["written"] > before["capture"]["written"]
    assert after_stats["losses"] == {"input": 1, "output": 1}
    if preferred:
        peak, level = analyse(got[-8000:], 16000)
        assert abs(peak - 1000) < 2 and abs(level) < 1.0, (peak, level)


@pytest.mark.audio
def test_monitor_reports_added_and_removed_devices(virtual_audio: VirtualAudio) -> None:
    name = "Yealink UH36 (USB)"
    seen: list[DeviceChange] = []
    with DeviceMonitor(interval=1.0, on_change=seen.append) as monitor:
        assert monitor.uses_pulse_events
        assert (HEADSET, "input") in monitor.devices and (BUILTIN, "output") in monitor.devices
        virtual_audio.add_device(name, usb=True)
        added = monitor.wait_change("added", name, 3)
        assert added is not None, monitor.changes
        assert {(c.kind, c.direction) for c in seen if c.name == name} == {("added", "input"),
                                                                          ("added", "output")}
        virtual_audio.remove_device(name)
        assert monitor.wait_change("removed", name, 3, direction="output") is not None
        assert monitor.wait_change("removed", name, 3, direction="input") is not None
    assert all(c.name == name for c in seen), seen  # nothing else came or went


@pytest.mark.audio
def test_monitor_under_an_open_stream_scans_without_disturbing_it(virtual_audio: VirtualAudio) -> None:
    """With a stream open, PortAudio cannot be re-initialised in-process: scans run in a
    child process, and the stream carries on untouched."""
    name = "Sennheiser SC 660 (USB)"
    with DeviceStream(HEADSET, HEADSET, watch=False) as stream, \
            DeviceMonitor(interval=0.5, pulse_events=False) as monitor:
        wait_steady(stream, 20)
        virtual_audio.add_device(name, usb=True)
        assert monitor.wait_change("added", name, 4, direction="input") is not None
        virtual_audio.remove_device(name)
        assert monitor.wait_change("removed", name, 4, direction="input") is not None
        assert streams_open() == 2
        got = run_engine(stream, 0.8, freq=1000.0)
        assert stream.events == []
    peak, level = analyse(got[-4000:], 16000)
    assert abs(peak - 1000) < 2 and abs(level) < 1.0, (peak, level)


def test_monitor_refuses_bad_arguments() -> None:
    with pytest.raises(DeviceError, match=r"interval must be 0\.2\.\.60 s, got 0\.01"):
        DeviceMonitor(interval=0.01)
    with pytest.raises(DeviceError, match="unknown audio backend 'oss'"):
        DeviceMonitor("oss")


@settings(max_examples=40, deadline=None)
@given(engine_rate=st.sampled_from([8000, 16000, 32000, 48000]),
       device_rate=st.sampled_from([8000, 16000, 22050, 32000, 44100, 48000]),
       blocks=st.lists(st.integers(1, 5000), min_size=1, max_size=8),
       seed=st.integers(0, 2 ** 32 - 1))
def test_port_equals_one_resampler_call_whatever_the_block_sizes(
        engine_rate: int, device_rate: int, blocks: list[int], seed: int) -> None:
    """Cutting the device stream into arbitrary blocks changes nothing: capture gives the
    samples one Resampler call gives, playback the samples it gives for what was queued
    followed by silence."""
    rng = np.random.default_rng(seed)
    total = sum(blocks)
    port = DevicePort(engine_rate, device_rate, buffer_ms=10000)
    x = rng.integers(-20000, 20000, total).astype(np.int16)
    edges = np.cumsum([0, *blocks])
    for a, b in itertools.pairwise(edges):
        port.push_capture(x[a:b])
    expected = Resampler(device_rate, engine_rate).process(x)
    assert port.capture_available == expected.size
    assert np.array_equal(port.pull_capture(expected.size), expected)

    queued = rng.integers(-20000, 20000, total * engine_rate // device_rate + 1).astype(np.int16)
    assert port.push_playback(queued) == queued.size
    out = []
    for n in blocks:
        block = np.empty(n, np.int16)
        assert port.pull_playback(block) == n
        out.append(block)
    played = np.concatenate(out)
    reference = Resampler(engine_rate, device_rate).process(
        np.concatenate([queued, np.zeros(total * engine_rate // device_rate + 64, np.int16)]))
    assert np.array_equal(played, reference[:played.size])


@pytest.mark.audio
def test_capture_and_playback_on_different_devices(virtual_audio: VirtualAudio, tmp_path: Path) -> None:
    """Capture from the built-in card while playing on the headset: the capture side hears
    what pacat plays into the built-in card (700 Hz), not the 1 kHz the engine plays."""
    raw = tmp_path / "tone.raw"
    raw.write_bytes(tone(700.0, 48000, 48000 * 4).tobytes())
    with DeviceStream(capture=BUILTIN, playback=HEADSET, engine_rate=16000) as stream:
        assert (stream.capture_device, stream.playback_device) == (BUILTIN, HEADSET)
        sink = virtual_audio.devices[BUILTIN].sink
        player = subprocess.Popen(["pacat", "--playback", f"--device={sink}", "--format=s16le",
                                   "--rate=48000", "--channels=1", "--raw", str(raw)])
        try:
            got = run_engine(stream, 0.6, freq=1000.0)
            for _ in range(10):
                if np.sqrt(np.mean(got[-8000:].astype(float) ** 2)) > AMPLITUDE / 4:
                    break
                got = run_engine(stream, 0.6, freq=1000.0)
        finally:
            player.kill()  # by pid: the pacat this test started
            player.wait()
        stats = stream.stats()
    seg = got[-8000:].astype(float)
    spectrum = np.abs(np.fft.rfft(seg * np.hanning(seg.size)))

    def at(hz: float) -> float:
        k = round(hz * seg.size / 16000)
        return float(spectrum[k - 2:k + 3].max())
    assert 20 * np.log10(at(700) / at(1000)) > 60  # the headset's 1 kHz does not leak in
    assert stats["playback"]["read"] > 16000 * 0.5  # ... though it was played all along
