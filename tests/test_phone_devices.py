"""The Phone on real sound devices (PulseAudio virtual devices seen through PortAudio):
hot-unplug mid-call, a call with baresip through a virtual microphone and speaker, and the
ringer on a device of its own.

Sound enters offhook's virtual microphone the way it would from a person: pacat plays a
tone into the device's null sink, whose monitor is the device's capture side; what offhook
plays is recorded from the playback device's sink monitor with parec.  Every check is a
frequency: each source has a tone of its own.
"""
from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import time
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from offhook.devices.audio import rescan
from offhook.phone import CallState, DeviceChanged, Phone, PhoneConfig, PolicyConfig, ToneAudio, WavAudio
from offhook.phone.config import AudioConfig
from phone_helpers import band_share, recorded, uri_of

if TYPE_CHECKING:
    from audio_fixture import VirtualAudio, VirtualDevice

pytest_plugins = ["audio_fixture"]

BUILTIN = "Built-in Audio"
RATE = 16000
PA_RATE = 48000


def tone_file(path: Path, freq: float, seconds: float, rate: int = PA_RATE) -> Path:
    t = np.arange(int(seconds * rate)) / rate
    path.write_bytes((8000 * np.sin(2 * np.pi * freq * t)).astype("<i2").tobytes())
    return path


def pacat(sink: str, raw: Path) -> subprocess.Popen[bytes]:
    """Play raw 48 kHz mono into `sink`."""
    return subprocess.Popen(["pacat", "--playback", f"--device={sink}", "--format=s16le",
                             f"--rate={PA_RATE}", "--channels=1", "--raw", "--latency-msec=40",
                             str(raw)])


def parec(sink: str, out: Path) -> subprocess.Popen[bytes]:
    """Record what is played on `sink` (its monitor), raw 48 kHz mono, into `out`."""
    with open(out, "wb") as f:
        return subprocess.Popen(["parec", f"--device={sink}.monitor", "--format=s16le",
                                 f"--rate={PA_RATE}", "--channels=1", "--raw", "--latency-msec=40"],
                                stdout=f)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGINT)     # by pid: a process this test started (parec flushes)
    try:
        proc.wait(3)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def windows(pcm: np.ndarray, rate: int, seconds: float = 0.5) -> Iterator[np.ndarray]:
    n = int(rate * seconds)
    for i in range(0, len(pcm) - n + 1, n):
        yield pcm[i:i + n]


def loud_shares(pcm: np.ndarray, rate: int, freqs: tuple[int, ...], floor: float = 300.0) -> list[float]:
    """band_share of `freqs` in each 0.5 s window louder than `floor` RMS."""
    return [band_share(w, rate, freqs) for w in windows(pcm, rate)
            if np.sqrt(np.mean(w.astype(np.float64) ** 2)) > floor]


class OwnDevices:
    """Devices of the test's own (added and removed here, so other tests keep theirs)."""

    def __init__(self, audio: VirtualAudio) -> None:
        self.audio = audio
        self.names: list[str] = []

    def add(self, name: str, *, usb: bool = False) -> VirtualDevice:
        dev = self.audio.add_device(name, usb=usb)
        self.names.append(name)
        rescan()
        return dev

    def close(self) -> None:
        for name in self.names:
            if name in self.audio.devices:
                self.audio.remove_device(name)
        rescan()


@pytest.fixture
def devices(virtual_audio: VirtualAudio) -> Iterator[OwnDevices]:
    own = OwnDevices(virtual_audio)
    try:
        yield own
    finally:
        own.close()


@pytest.mark.audio
def test_unplugging_the_headset_mid_call_falls_back_and_the_call_goes_on(
        virtual_audio: VirtualAudio, devices: OwnDevices, tmp_path: Path) -> None:
    """A call on a USB headset; the headset is unplugged: the call stays up, the phone says
    lost then fallback for capture and playback, and the far end now hears the fallback
    device's microphone (700 Hz played into the built-in card instead of 500 Hz into the
    headset)."""
    headset_name = "Unplug Me Headset (USB)"
    headset = devices.add(headset_name, usb=True)
    builtin = virtual_audio.devices[BUILTIN]
    players = [pacat(headset.sink, tone_file(tmp_path / "500.raw", 500, 30)),
               pacat(builtin.sink, tone_file(tmp_path / "700.raw", 700, 30))]

    async def run() -> tuple[list[DeviceChanged], CallState]:
        a = Phone(PhoneConfig(audio=AudioConfig(
            capture=headset_name, playback=headset_name, ringer="null", echo_canceller=False,
            capture_fallback=("No Such Speakerphone", BUILTIN), playback_fallback=(BUILTIN,))))
        b = Phone(PhoneConfig(policy=PolicyConfig(auto_answer=True)), audio=WavAudio)
        await a.start()
        await b.start()
        try:
            call = await a.call(uri_of(b))
            await call.wait_answered(5)
            bc = b.calls[0]
            await asyncio.sleep(2.5)        # an idle null sink wakes within ~2 s
            await bc.record(tmp_path / "before.wav")
            await asyncio.sleep(1.0)
            await bc.stop_recording()
            while not a._events.empty():    # what came before the unplug
                a._events.get_nowait()
            stop(players[0])    # the headset's microphone goes with it (PulseAudio would move
            #                     the player to another sink otherwise)
            await asyncio.to_thread(virtual_audio.remove_device, headset_name)
            changes: list[DeviceChanged] = []
            fell_back: set[str] = set()
            async with asyncio.timeout(8):
                while fell_back != {"capture", "playback"}:
                    event = await a.next_event()
                    if isinstance(event, DeviceChanged):
                        changes.append(event)
                        if event.kind in ("fallback", "failed"):
                            fell_back.add(event.direction)
            await asyncio.sleep(1.0)
            await bc.record(tmp_path / "after.wav")
            await asyncio.sleep(1.0)
            await bc.stop_recording()
            state = call.state
            await call.hangup()
            return changes, state
        finally:
            await a.stop()
            await b.stop()

    try:
        changes, state = asyncio.run(run())
    finally:
        for p in players:
            stop(p)
    assert state is CallState.ACTIVE                       # the call was not dropped
    for direction in ("capture", "playback"):
        kinds = [(c.kind, c.device, c.previous) for c in changes if c.direction == direction]
        assert kinds == [("lost", None, headset_name), ("fallback", BUILTIN, headset_name)], changes
        fallback = next(c for c in changes if c.direction == direction and c.kind == "fallback")
        print(f"{direction}: fallback {fallback.elapsed:.3f} s after the last good callback")
    before, after = recorded(tmp_path / "before.wav")[0], recorded(tmp_path / "after.wav")[0]
    print(f"500 Hz share before: {band_share(before[RATE // 4:], RATE, (500,)):.3f}, "
          f"700 Hz after: {band_share(after[RATE // 4:], RATE, (700,)):.3f}")
    assert band_share(before[RATE // 4:], RATE, (500,)) > 0.9, "the headset's microphone before"
    assert band_share(after[RATE // 4:], RATE, (700,)) > 0.9, "the built-in microphone after"


def write_wav(path: Path, freq: float, seconds: float, rate: int = 8000) -> Path:
    t = np.arange(int(seconds * rate)) / rate
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((8000 * np.sin(2 * np.pi * freq * t)).astype("<i2").tobytes())
    return path


def read_raw(path: Path) -> np.ndarray:
    data = path.read_bytes()
    return np.frombuffer(data[:len(data) // 2 * 2], "<i2")


@pytest.mark.audio
def test_a_call_with_baresip_through_a_virtual_microphone_and_speaker(
        devices: OwnDevices, tmp_path: Path) -> None:
    """offhook's microphone and speaker are PulseAudio virtual devices; baresip plays 440 Hz
    and dumps what it decodes.  700 Hz played into the virtual microphone arrives at baresip;
    baresip's 440 Hz comes out of the virtual speaker."""
    from baresip_peer import Baresip

    mic_name, speaker_name = "Desk Microphone", "Desk Speaker"
    mic, speaker = devices.add(mic_name), devices.add(speaker_name)
    peer = Baresip(tmp_path / "baresip", write_wav(tmp_path / "440.wav", 440, 30), answermode="auto")
    processes = [pacat(mic.sink, tone_file(tmp_path / "700.raw", 700, 30)),
                 parec(speaker.sink, tmp_path / "speaker.raw")]

    async def run() -> None:
        a = Phone(PhoneConfig(audio=AudioConfig(capture=mic_name, playback=speaker_name, ringer="null",
                                                echo_canceller=False)))
        await a.start()
        try:
            call = await a.call(peer.uri)
            await call.wait_answered(10)
            await asyncio.sleep(4.0)        # ~2 s for idle null sinks to wake, then the tones
            assert call.state is CallState.ACTIVE
            await call.hangup()
        finally:
            await a.stop()

    try:
        asyncio.run(run())
        peer.poll_events(1.0)               # baresip closes its dumps when the call ends
    finally:
        for p in processes:
            stop(p)
        peer.close()
    dumps = peer.decoded_wavs()
    assert dumps, f"baresip dumped nothing: {peer.log_text()[-800:]}"
    at_baresip, rate = recorded(dumps[-1])
    heard = loud_shares(at_baresip, rate, (700,))
    print(f"700 Hz share at baresip (median of 0.5 s windows): {np.median(heard):.3f}")
    assert len(heard) >= 3 and np.median(heard) > 0.9, heard            # the microphone at baresip
    out = loud_shares(read_raw(tmp_path / "speaker.raw"), PA_RATE, (440,))
    print(f"440 Hz share on the speaker: {np.median(out):.3f}")
    assert len(out) >= 3 and np.median(out) > 0.9, out                  # baresip on the speaker


def runs(flags: list[bool]) -> list[tuple[bool, int]]:
    """Run-length encoding: [(value, length), ...]."""
    out: list[tuple[bool, int]] = []
    for f in flags:
        if out and out[-1][0] == f:
            out[-1] = (f, out[-1][1] + 1)
        else:
            out.append((f, 1))
    return out


@pytest.mark.audio
def test_the_ringer_device_rings_and_the_call_on_the_handset_is_not_disturbed(
        devices: OwnDevices, tmp_path: Path) -> None:
    """Ringer and handset are separate virtual devices (UK tones: ringback 400+450 Hz, 0.4 s on,
    0.2 s off, 0.4 s on, 2 s off; call waiting 400 Hz for 0.1 s every 4 s).  B calls: the
    ringer plays the ring cadence, the handset stays silent.  Answered, B's 1000 Hz is on the
    handset; C calls meanwhile: the call-waiting tone goes to the ringer and the handset
    carries B's tone alone."""
    ringer_name, handset_name = "Desk Ringer", "Desk Handset"
    ringer, handset = devices.add(ringer_name), devices.add(handset_name)

    async def run() -> dict[str, np.ndarray]:
        a = Phone(PhoneConfig(tone_profile="uk", audio=AudioConfig(
            capture=handset_name, playback=handset_name, ringer=ringer_name, echo_canceller=False)))
        b = Phone(audio=lambda: ToneAudio(1000))
        c = Phone(audio=lambda: ToneAudio(1500))
        for p in (a, b, c):
            await p.start()
        got: dict[str, np.ndarray] = {}
        try:
            recs = [parec(ringer.sink, tmp_path / "ring1.raw"), parec(handset.sink, tmp_path / "hs1.raw")]
            b_call = await b.call(uri_of(a))
            async with asyncio.timeout(5):
                while not a.calls or a.calls[0].state is not CallState.INCOMING:
                    await asyncio.sleep(0.02)
            await asyncio.sleep(7.5)        # two 3 s ring cycles (parec may lose a second or so)
            for r in recs:
                stop(r)
            await a.calls[0].answer()
            await b_call.wait_answered(5)
            await asyncio.sleep(1.5)
            recs = [parec(ringer.sink, tmp_path / "ring2.raw"), parec(handset.sink, tmp_path / "hs2.raw")]
            c_call = await c.call(uri_of(a))
            async with asyncio.timeout(5):
                while len(a.calls) < 2 or a.calls[1].state is not CallState.INCOMING:
                    await asyncio.sleep(0.02)
            await asyncio.sleep(6.0)        # a call-waiting burst every 4 s
            for r in recs:
                stop(r)
            assert a.calls[0].state is CallState.ACTIVE
            await c_call.hangup()
            await b_call.hangup()
        finally:
            for p in (a, b, c):
                await p.stop()
        for name in ("ring1", "hs1", "ring2", "hs2"):
            got[name] = read_raw(tmp_path / f"{name}.raw")
        return got

    got = asyncio.run(run())
    frame = PA_RATE // 20                   # 50 ms
    ring = got["ring1"][: len(got["ring1"]) // frame * frame].reshape(-1, frame).astype(np.float64)
    on = [bool(np.sqrt(np.mean(f ** 2)) > 500) for f in ring]
    pattern = runs(on)[:-1]                 # the last run is cut by the end of the recording
    # a double ring: ~0.4 s on, ~0.2 s off, ~0.4 s on, then ~2 s off (in 50 ms frames)
    found = any(pattern[i][0] and 6 <= pattern[i][1] <= 10 and 2 <= pattern[i + 1][1] <= 5
                and 6 <= pattern[i + 2][1] <= 10 and 36 <= pattern[i + 3][1] <= 44
                for i in range(len(pattern) - 3))
    print(f"ring cadence (on/off, 50 ms frames): {runs(on)}")
    assert found and sum(v for v, _ in pattern) >= 3, repr(runs(on))
    loud = np.concatenate([f for f, o in zip(ring, on, strict=True) if o]).astype(np.int16)
    assert band_share(loud, PA_RATE, (400, 450)) > 0.9            # the ring is the UK ringback
    assert np.sqrt(np.mean(got["hs1"].astype(np.float64) ** 2)) < 50    # the handset is silent
    waiting = loud_shares(got["ring2"], PA_RATE, (400,), floor=50.0)
    assert waiting and max(waiting) > 0.9, waiting                     # call waiting on the ringer
    call_audio = loud_shares(got["hs2"], PA_RATE, (1000,))
    assert len(call_audio) >= 6 and min(call_audio) > 0.95, call_audio   # B's tone, undisturbed
    assert max(loud_shares(got["hs2"], PA_RATE, (400, 450))) < 0.01


@pytest.mark.audio
def test_console_shows_the_devices_and_the_fallback(devices: OwnDevices, tmp_path: Path) -> None:
    """`offhook` in a pseudo-terminal on a virtual headset: the status line names the devices;
    unplugged, the console says so and shows the fallback device."""
    import os
    import pty
    import sys

    from sip_peers import free_port
    from test_phone_console import Screen

    name = "Console Headset (USB)"
    devices.add(name, usb=True)
    config = tmp_path / "config.toml"
    config.write_text(f'[audio]\ncapture = "{name}"\nplayback = "{name}"\nringer = "null"\n'
                      f'echo_canceller = false\ncapture_fallback = ["{BUILTIN}"]\n'
                      f'playback_fallback = ["{BUILTIN}"]\n')
    port = free_port()
    master, slave = pty.openpty()
    env = {**os.environ, "HOME": str(tmp_path), "TERM": "dumb"}
    proc = subprocess.Popen([sys.executable, "-m", "offhook.cli.main", "--config", str(config),
                             "--listen", f"127.0.0.1:{port}"],
                            stdin=slave, stdout=slave, stderr=slave, env=env, cwd=tmp_path,
                            start_new_session=True)
    os.close(slave)

    async def run() -> None:
        screen = Screen(master)
        await screen.expect(f"mic: {re.escape(name)} \\| speaker: {re.escape(name)} \\| idle")
        await asyncio.to_thread(devices.audio.remove_device, name)
        await screen.expect(f"capture device '{re.escape(name)}' lost")
        await screen.expect(f"capture now on '{BUILTIN}' \\(instead of '{re.escape(name)}'\\)")
        await screen.expect(f"mic: {BUILTIN} \\(fallback\\) \\| speaker: {BUILTIN} \\(fallback\\) \\| idle")
        screen.press("q")
        await screen.expect("bye")

    try:
        asyncio.run(run())
        assert proc.wait(10) == 0
    finally:
        stop(proc)
        os.close(master)


@pytest.mark.audio
def test_the_ring_starts_in_real_time_within_300_ms_of_the_invite(devices: OwnDevices) -> None:
    """A ringer device that sat idle rings at once, every time.  A stream opened at the
    INVITE (as the phone did) found the idle virtual device asleep: its first ring samples
    waited up to ~1.6 s to be taken, depending on where the sink was in its sleep (and a
    PulseAudio sink that sat idle after a stream can instead swallow a new stream's first
    seconds at full speed).  The phone now keeps its ringer stream open, playing silence,
    from start().  Three calls, each rung for 0.8 s with idle gaps between: 0.8 s after
    each INVITE the device has taken 0.8 s of ring tone, give or take 0.3 s -- the ring
    started within 300 ms and plays in real time -- and the ring tone (US ringback:
    440 + 480 Hz) is what the device's monitor carries.  Nothing reads the monitor before
    the INVITEs: a low-latency reader would wake the sink and hide a late start."""
    import sounddevice as sd

    from offhook.phone.devices import DeviceLocalAudio
    ringer_name, handset_name = "Quick Ringer", "Quick Handset"
    devices.add(ringer_name)
    devices.add(handset_name)
    blocks: list[np.ndarray] = []

    def on_block(indata: np.ndarray, frames: int, _t: object, _status: object) -> None:
        blocks.append(indata[:, 0].copy())

    async def run() -> list[float]:
        a = Phone(PhoneConfig(audio=AudioConfig(capture=handset_name, playback=handset_name,
                                                ringer=ringer_name, echo_canceller=False)))
        b = Phone(audio=lambda: ToneAudio(1000))
        await a.start()
        await b.start()
        lags = []
        try:
            ringer = a.local_audio
            assert isinstance(ringer, DeviceLocalAudio)
            assert ringer.is_open and not ringer.ringing    # open before any call, silent
            await asyncio.sleep(2.0)            # the ringer device sits idle, as a phone's does
            for n in range(3):
                sent = time.monotonic()
                call = await b.call(uri_of(a))
                await asyncio.sleep(0.8 - (time.monotonic() - sent))
                lags.append((time.monotonic() - sent) - ringer.ring_seconds)
                if n == 2:
                    with sd.InputStream(device=ringer_name, samplerate=PA_RATE, channels=1, dtype="int16",
                                        blocksize=PA_RATE // 100, callback=on_block):
                        await asyncio.sleep(0.6)    # still within the US ring's first 2 s
                await call.hangup()
                async with asyncio.timeout(5):
                    while ringer.ringing:
                        await asyncio.sleep(0.02)
                await asyncio.sleep(1.0)
        finally:
            await a.stop()
            await b.stop()
        return lags

    lags = asyncio.run(run())
    print(f"ring start after the INVITE (device-consumed ring vs wall clock): "
          f"{', '.join(f'{lag * 1000:.0f} ms' for lag in lags)}")
    assert all(abs(lag) < 0.3 for lag in lags), lags
    heard = np.concatenate(blocks)[PA_RATE // 10:]
    assert np.sqrt(np.mean(heard.astype(np.float64) ** 2)) > 500
    assert band_share(heard, PA_RATE, (440, 480)) > 0.9


@pytest.mark.audio
def test_a_missing_ringer_device_is_a_warning_and_the_call_still_comes(
        devices: OwnDevices, caplog: pytest.LogCaptureFixture) -> None:
    """A ringer that is not plugged in: the phone starts (a warning names the device), an
    incoming call still arrives and can be answered; the ring is silent."""
    async def run() -> CallState:
        a = Phone(PhoneConfig(audio=AudioConfig(ringer="No Such Ringer")))
        b = Phone(audio=lambda: ToneAudio(1000))
        await a.start()
        await b.start()
        try:
            call = await b.call(uri_of(a))
            async with asyncio.timeout(5):
                while not a.calls or a.calls[0].state is not CallState.INCOMING:
                    await asyncio.sleep(0.02)
            await a.calls[0].answer()
            await call.wait_answered(5)
            state = a.calls[0].state
            await call.hangup()
        finally:
            await a.stop()
            await b.stop()
        return state

    assert asyncio.run(run()) is CallState.ACTIVE
    warnings = [r.getMessage() for r in caplog.records if r.name == "offhook.phone.devices"]
    assert warnings
    assert all(w.startswith("ringer device 'No Such Ringer' cannot be opened now") for w in warnings)
