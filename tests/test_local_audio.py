"""The engine's local audio endpoint (MediaEngine.attach_audio) with virtual ports.

A virtual port is a DevicePort at the engine's rate whose device side is driven
by a thread of the test on the monotonic clock, as a sound card would: every few
ms it pushes what the "microphone" produced since the start and pulls as much
from the "loudspeaker". Two engines talk over loopback: a tone pushed into A's
capture comes out of B's playback; a simulated acoustic echo (A's loudspeaker
fed back to A's microphone through a delay and a room impulse response) is
removed by the echo canceller before it reaches B (ERLE measured on what B
receives); a 3-way local conference with distinct tones; mute; the recording
modes; inband DTMF digits. No PulseAudio needed, except for the last test, which
takes the real PortAudio path (a PulseAudio virtual cable, tests/audio_fixture.py).
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

import offhook.engine as eng
from offhook.devices.stream import DeviceStream
from offhook.media.echo_scenarios import loudspeaker, room_impulse_response
from offhook.media.events import DtmfReceived
from offhook.media.speech import speech
from offhook.media.wav import read_wav, write_wav
from tone_measure import tone_share

if TYPE_CHECKING:
    from audio_fixture import VirtualAudio

pytest_plugins = ["audio_fixture"]

RATE = 16000
LOOP = "127.0.0.1"
STEP = 0.005  # the virtual device's period (s)



def segment_tone_share(x: np.ndarray, freq: float, rate: int = RATE) -> float:
    """goertzel_share per 50 ms segment, the median: a phase jump (the receiver's jitter
    buffer time-scaling at start-up, a late tick on this shared machine) spoils one
    segment, not the measure."""
    seg = rate // 20
    shares = [tone_share(x[i:i + seg], freq, rate) for i in range(0, len(x) - seg + 1, seg)]
    return float(np.median(shares))


def rms_db(x: np.ndarray) -> float:
    """RMS in dB relative to int16 full scale."""
    return float(10 * np.log10(np.mean(x.astype(np.float64) ** 2) + 1e-9) - 20 * np.log10(32768))


def sine(freq: float, amplitude: float, start: int, n: int) -> np.ndarray:
    t = np.arange(start, start + n)
    return (amplitude * np.sin(2 * np.pi * freq * t / RATE)).astype(np.int16)


class VirtualDevice:
    """Drives a DevicePort's device side in real time from a thread.

    mic(start, n) gives the next n capture samples (int16); echo, when set, is a
    callable that maps the samples just played to what the microphone picks up of
    them (added to mic). stalls: (seconds, ms) at which the device's thread stops
    for that long, as a sound server's thread that is not scheduled, then catches
    up on both sides at once. Everything played is kept in `played`, everything
    captured in `captured`.
    """

    def __init__(self, port: eng.DevicePort,
                 mic: Callable[[int, int], np.ndarray] | None = None,
                 echo: Callable[[np.ndarray], np.ndarray] | None = None,
                 stalls: Sequence[tuple[float, float]] = ()) -> None:
        self.port = port
        self.mic = mic or (lambda start, n: np.zeros(n, np.int16))
        self.echo = echo
        self.stalls = sorted(stalls)
        self.played: list[np.ndarray] = []
        self.captured: list[np.ndarray] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> VirtualDevice:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        rate = self.port.engine_rate
        t0 = time.monotonic()
        done = 0
        playing = False
        stalls = list(self.stalls)
        while not self._stop.is_set():
            if stalls and time.monotonic() - t0 >= stalls[0][0]:
                time.sleep(stalls.pop(0)[1] / 1000)
            due = int((time.monotonic() - t0) * rate)
            n = due - done
            if n > 0:
                # Playback starts once the engine has queued two frames (a device's
                # start-up buffering), then runs on the clock like the capture side.
                playing = playing or self.port.playback_queued >= 2 * rate // 50
                out = np.zeros(n, np.int16)
                if playing:
                    self.port.pull_playback(out)
                self.played.append(out)
                cap = self.mic(done, n).astype(np.int32)
                if self.echo is not None:
                    cap = cap + self.echo(out)
                cap16 = np.clip(cap, -32768, 32767).astype(np.int16)
                self.captured.append(cap16)
                self.port.push_capture(cap16)
                done = due
            time.sleep(STEP)

    def played_audio(self) -> np.ndarray:
        return np.concatenate(self.played) if self.played else np.zeros(0, np.int16)

    def captured_audio(self) -> np.ndarray:
        return np.concatenate(self.captured) if self.captured else np.zeros(0, np.int16)


class EchoPath:
    """Loudspeaker -> room -> microphone: a bulk delay, a small loudspeaker (no bass: the
    echo scenarios' model) and a room impulse response. A speaker that played the image-
    source room's DC and bass at full level would be a path no device has."""

    def __init__(self, delay_ms: int, gain: float = 0.5) -> None:
        speaker = loudspeaker(np.r_[1.0, np.zeros(RATE // 100)], RATE)  # its impulse response
        ir = np.convolve(speaker, room_impulse_response(RATE))
        self.ir = gain * ir / np.sqrt(np.sum(ir ** 2))
        self.history = np.zeros(delay_ms * RATE // 1000 + len(self.ir), np.float64)
        self.delay = delay_ms * RATE // 1000

    def __call__(self, played: np.ndarray) -> np.ndarray:
        n = len(played)
        self.history = np.concatenate([self.history, played.astype(np.float64)])
        # the output sample i sees the input delayed by `delay`
        seg = self.history[-(n + self.delay + len(self.ir) - 1):len(self.history) - self.delay]
        out = np.convolve(seg, self.ir, mode="valid")[-n:]
        self.history = self.history[-(self.delay + len(self.ir) + 1):]
        return np.round(out).astype(np.int32)


@pytest.fixture
def engines() -> Iterator[tuple[eng.MediaEngine, eng.MediaEngine]]:
    a = eng.MediaEngine(RATE, 20)
    b = eng.MediaEngine(RATE, 20)
    yield a, b
    a.close()
    b.close()


def call(a: eng.MediaEngine, b: eng.MediaEngine, codec: str = "G722",
         **kw: object) -> tuple[eng.MediaStream, eng.MediaStream]:
    sa = a.add_stream((LOOP, 0), codec=codec, **kw)  # type: ignore[arg-type]
    sb = b.add_stream((LOOP, 0), remote=(LOOP, sa.local_port), codec=codec, **kw)  # type: ignore[arg-type]
    sa.update(remote=(LOOP, sb.local_port))
    return sa, sb


Engines = tuple[eng.MediaEngine, eng.MediaEngine]


def test_tone_from_a_capture_comes_out_of_b_playback(engines: Engines) -> None:
    a, b = engines
    pa, pb = eng.DevicePort(RATE, RATE), eng.DevicePort(RATE, RATE)
    a.attach_audio(pa, aec=False)
    b.attach_audio(pb, aec=False)
    sa, sb = call(a, b)
    sa.connect_local()
    sb.connect_local()
    with VirtualDevice(pa, mic=lambda s, n: sine(1000, 8000, s, n)), VirtualDevice(pb) as vb:
        time.sleep(1.5)
    heard = vb.played_audio()[-RATE // 2:]
    assert segment_tone_share(heard, 1000) > 0.95
    # 8000 peak = -15.3 dBFS RMS in; G.722 keeps the level within 1 dB
    assert abs(rms_db(heard) - rms_db(sine(1000, 8000, 0, RATE))) < 1.0
    local = a.stats()["local"]
    assert local["attached"] and local["frames"] > 50
    assert b.stats()["local"]["playback_overruns"] == 0
    assert sb.stats()["local"] is True


@pytest.mark.parametrize("stalls", [(), ((3.0, 40.0), (4.5, 40.0), (6.0, 40.0))],
                         ids=["steady", "device-stalls"])
def test_echo_canceller_removes_the_acoustic_echo(engines: Engines, tmp_path: Path,
                                                  stalls: tuple[tuple[float, float], ...]) -> None:
    """B talks; A's loudspeaker leaks into A's microphone 40 ms later through a room. With
    A's canceller on, what B gets back is the echo minus >= 35 dB (far-only ERLE), also when
    the device's thread stalls: its capture runs short and its playback queue overflows, and
    the engine tells the canceller by how much the echo moved (else a converged filter loses
    it at every slip: ~20 dB, and the linear filter alone ~0-9 dB)."""
    a, b = engines
    far = speech(8.0, RATE, talker=0).astype(np.float64)
    far = (far * (10 ** (-18 / 20) * 32768 / np.sqrt(np.mean(far ** 2)))).clip(-32768, 32767)
    write_wav(tmp_path / "far.wav", far.astype(np.int16), RATE)
    pa = eng.DevicePort(RATE, RATE)
    a.attach_audio(pa)
    sa, sb = call(a, b)
    sa.connect_local()
    sb.record_wav(tmp_path / "back.wav")
    sb.play_wav(tmp_path / "far.wav")
    with VirtualDevice(pa, echo=EchoPath(delay_ms=40), stalls=stalls) as va:
        time.sleep(8.5)
    sb.stop_recording()
    back = read_wav(tmp_path / "back.wav").samples
    echo = va.captured_audio()
    # ERLE per second over seconds 2..8 (the canceller adapts within ~2 s of far speech);
    # the median, so one second disturbed by this shared machine's scheduling (a late
    # tick is a playback underrun: the echo path jumps and the filter re-adapts) does
    # not decide. Both files start within a few ms of each other.
    erles = []
    for k in range(2, 8):
        echo_db = rms_db(echo[k * RATE:(k + 1) * RATE])
        assert echo_db > -40.0, f"the simulated echo is too weak to measure ({echo_db:.1f} dBFS)"
        erles.append(echo_db - rms_db(back[k * RATE:(k + 1) * RATE]))
    st = a.stats()["local"]
    aec = st["aec_stats"]
    state = (f"ERLE per second {np.round(erles, 1)} dB; capture underruns {st['capture_underruns']}, "
             f"shed {st['capture_shed']}, playback underruns {pa.stats()['playback']['underruns']}, "
             f"overruns {st['playback_overruns']}; canceller {aec}")
    assert float(np.median(erles)) >= 35.0, state
    assert aec["linear_erle_db"] >= 20.0, state  # the filter itself holds the echo path
    if stalls:
        assert st["capture_underruns"] >= len(stalls) and aec["slips"] >= len(stalls), state
    assert st["aec"] and aec["frames"] > 300
    assert st["aec_latency_samples"] == RATE // 100  # one 10 ms block with suppression


def test_near_speech_passes_the_canceller_while_the_far_end_is_silent(engines: Engines,
                                                                     tmp_path: Path) -> None:
    """B sends digital silence (its G.722 decodes to +-4 LSB of idle noise at A): A's
    talker reaches B at full level through A's canceller (the engine gates such a
    reference to zeros; without the gate oh_aec took it for far speech: -9 dB)."""
    a, b = engines
    talk = speech(4.0, RATE, talker=1).astype(np.float64)
    talk = (talk * (10 ** (-20 / 20) * 32768 / np.sqrt(np.mean(talk ** 2)))).astype(np.int16)
    pa = eng.DevicePort(RATE, RATE)
    a.attach_audio(pa)
    sa, sb = call(a, b)
    sa.connect_local()
    sb.record_wav(tmp_path / "near.wav")

    def mic(start: int, n: int) -> np.ndarray:
        out = np.zeros(n, np.int16)
        part = talk[start:start + n]
        out[:part.size] = part
        return out

    with VirtualDevice(pa, mic=mic) as va:
        time.sleep(4.2)
    sb.stop_recording()
    got = read_wav(tmp_path / "near.wav").samples
    sent = va.captured_audio()
    # seconds 1..4 of each (both start within a few ms of each other)
    loss = rms_db(sent[RATE:4 * RATE]) - rms_db(got[RATE:4 * RATE])
    assert abs(loss) < 1.0, f"near speech lost {loss:.1f} dB through the canceller"
    assert a.stats()["local"]["aec_stats"]["far_active"] is False


def test_three_way_local_conference_mix_minus(engines: tuple[eng.MediaEngine, eng.MediaEngine],
                                              tmp_path: Path) -> None:
    """A's user (500 Hz) with two remote parties on engine B (1000 and 1500 Hz): each hears
    the other two and not itself."""
    a, b = engines
    pa = eng.DevicePort(RATE, RATE)
    a.attach_audio(pa, aec=False)
    a1, b1 = call(a, b)
    a2, b2 = call(a, b)
    a1.join_conference()
    a2.join_conference()
    b1.play_tone(1000, -12.0)
    b2.play_tone(1500, -12.0)
    b1.record_wav(tmp_path / "b1.wav")
    b2.record_wav(tmp_path / "b2.wav")
    with VirtualDevice(pa, mic=lambda s, n: sine(500, 6000, s, n)) as va:
        time.sleep(1.5)
    b1.stop_recording()
    b2.stop_recording()
    heard = {"local": va.played_audio()[-RATE // 2:],
             "b1": read_wav(tmp_path / "b1.wav").samples[-RATE // 2:],
             "b2": read_wav(tmp_path / "b2.wav").samples[-RATE // 2:]}
    own = {"local": 500, "b1": 1000, "b2": 1500}
    for who, x in heard.items():
        others = [f for k, f in own.items() if k != who]
        for f in others:
            assert segment_tone_share(x, f) > 0.3, f"{who} does not hear {f} Hz"
        assert tone_share(x, own[who], RATE) < 0.01, f"{who} hears itself"


def test_mute_sends_silence(engines: tuple[eng.MediaEngine, eng.MediaEngine], tmp_path: Path) -> None:
    a, b = engines
    pa = eng.DevicePort(RATE, RATE)
    a.attach_audio(pa, aec=False)
    sa, sb = call(a, b)
    sa.connect_local()
    with VirtualDevice(pa, mic=lambda s, n: sine(800, 8000, s, n)):
        sb.record_wav(tmp_path / "open.wav")
        time.sleep(0.8)
        a.mute_local(True)
        time.sleep(0.3)  # what was in flight arrives
        sb.record_wav(tmp_path / "muted.wav")
        time.sleep(0.8)
        sb.stop_recording()
        assert a.stats()["local"]["muted"] is True
        a.mute_local(False)
    opened = read_wav(tmp_path / "open.wav").samples
    muted = read_wav(tmp_path / "muted.wav").samples
    talking = opened[RATE // 3:2 * RATE // 3]  # the end of open.wav is already muted
    assert segment_tone_share(talking, 800) > 0.95
    assert rms_db(talking) > -20.0
    assert rms_db(muted) < -60.0
    assert a.stats()["local"]["muted"] is False


def test_recording_modes(engines: tuple[eng.MediaEngine, eng.MediaEngine], tmp_path: Path) -> None:
    """stereo: left = sent (A's microphone, 600 Hz), right = received (B's 1200 Hz tone);
    mix: both in one channel; received (the default): B's only."""
    a, b = engines
    pa = eng.DevicePort(RATE, RATE)
    a.attach_audio(pa, aec=False)
    sa, sb = call(a, b)
    sa.connect_local()
    sb.play_tone(1200, -12.0)
    with pytest.raises(ValueError, match="mode must be one of received, mix, stereo; got 'both'"):
        sa.record_wav(tmp_path / "x.wav", mode="both")  # type: ignore[arg-type]
    with VirtualDevice(pa, mic=lambda s, n: sine(600, 6000, s, n)):
        time.sleep(0.3)
        for mode in ("stereo", "mix", "received"):
            sa.record_wav(tmp_path / f"{mode}.wav", mode=mode)
            time.sleep(0.6)
        sa.stop_recording()
    wav = read_wav(tmp_path / "stereo.wav")
    stereo = wav.samples
    assert wav.sample_rate == RATE and wav.channels == 2 and stereo.shape[1] == 2
    left, right = stereo[-RATE // 4:, 0], stereo[-RATE // 4:, 1]
    assert segment_tone_share(left, 600) > 0.95 and tone_share(left, 1200, RATE) < 0.01
    assert segment_tone_share(right, 1200) > 0.95 and tone_share(right, 600, RATE) < 0.01
    mix = read_wav(tmp_path / "mix.wav").samples
    assert mix.ndim == 1
    tail = mix[-RATE // 4:]
    assert segment_tone_share(tail, 600) > 0.3 and segment_tone_share(tail, 1200) > 0.3
    received = read_wav(tmp_path / "received.wav").samples
    assert received.ndim == 1
    assert segment_tone_share(received[-RATE // 4:], 1200) > 0.95


@pytest.mark.parametrize("codec", ["PCMU", "G722"])
def test_inband_dtmf_digits_arrive_exactly(engines: tuple[eng.MediaEngine, eng.MediaEngine],
                                          tmp_path: Path, codec: str) -> None:
    """No telephone-event negotiated (dtmf_payload_type=None): the digits B sends as tones
    are detected in A's decoded audio and reported as DtmfReceived(source="inband")."""
    a, b = engines
    digits = "159#*0D7"
    tones = eng.dtmf_tones(digits, RATE, on_ms=80, off_ms=80, level_dbm0=-12.0)
    write_wav(tmp_path / "dtmf.wav", tones, RATE)
    sa, sb = call(a, b, codec=codec, dtmf_payload_type=None)
    assert sa.stats()["inband_dtmf"] is True
    sb.play_wav(tmp_path / "dtmf.wav")
    deadline = time.monotonic() + 5
    events: list[DtmfReceived] = []
    while time.monotonic() < deadline and len(events) < len(digits):
        events += [e for e in a.events() if isinstance(e, DtmfReceived)]
        time.sleep(0.05)
    assert "".join(e.digit for e in events) == digits
    assert all(e.source == "inband" and e.stream is sa for e in events)
    assert all(60 <= e.duration_ms <= 100 for e in events), [e.duration_ms for e in events]
    assert [d for d, _ in sa.dtmf_events()] == list(digits)
    assert sa.stats()["dtmf_inband"] == len(digits)
    # With a telephone-event payload type the detector is off unless asked for.
    s2, _ = call(a, b, codec=codec)
    assert s2.stats()["inband_dtmf"] is False
    s3, _ = call(a, b, codec=codec, inband_dtmf=True)
    assert s3.stats()["inband_dtmf"] is True


def test_attach_refuses_bad_ports_and_counts_underruns(engines: Engines) -> None:
    a, _ = engines
    with pytest.raises(ValueError, match=r"attach_audio takes an offhook\.engine\.DevicePort, got str"):
        a.attach_audio("default")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="the port runs at 8000 Hz but the engine at 16000 Hz"):
        a.attach_audio(eng.DevicePort(8000, 48000))
    with pytest.raises(ValueError, match=r"aec_tail_ms must be an int 64\.\.500, got 10"):
        a.attach_audio(eng.DevicePort(RATE, RATE), aec_tail_ms=10)
    port = eng.DevicePort(RATE, 48000)
    a.attach_audio(port)
    assert a.audio_port is port
    time.sleep(0.3)  # nobody feeds the capture: every frame is an underrun (silence)
    st = a.stats()["local"]
    assert st["attached"] and st["capture_underruns"] >= 5
    assert st["capture_underruns"] == st["frames"]
    assert port.stats()["capture"]["underruns"] >= 5
    # Too much waiting capture is shed down to one frame.
    port.push_capture(np.zeros(48000 * 3 // 20, np.int16))  # 150 ms at once
    time.sleep(0.1)
    assert a.stats()["local"]["capture_shed"] >= RATE * 150 // 1000 - 2 * RATE // 50
    a.detach_audio()
    assert a.audio_port is None
    assert a.stats()["local"]["attached"] is False


@pytest.mark.audio
def test_call_through_real_virtual_devices(virtual_audio: VirtualAudio, tmp_path: Path) -> None:
    """A DeviceStream on a PulseAudio virtual cable (what is played on it comes back on its
    input) is engine A's local audio, in a call with engine B: B's 1 kHz tone goes to A,
    out of A's playback device, through the cable into A's capture device, and back to B,
    which hears it (A's echo canceller off: the cable is the echo path being tested)."""
    a, b = eng.MediaEngine(RATE, 20), eng.MediaEngine(RATE, 20)
    try:
        with DeviceStream("Jabra Evolve 40 (USB)", "Jabra Evolve 40 (USB)", engine_rate=RATE,
                          device_rate=48000, frame_ms=20) as dev:
            a.attach_audio(dev.port, aec=False)
            sa, sb = call(a, b)
            sa.connect_local()
            sb.play_tone(1000, -12.0)
            # An idle null sink wakes in up to ~2 s: wait until both callbacks flow
            # (not a timing assertion: the asserts below say what failed).
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and min(dev.stats()["callbacks"].values()) < 25:
                time.sleep(0.05)
            sb.record_wav(tmp_path / "back.wav")
            time.sleep(1.5)
            sb.stop_recording()
            local = a.stats()["local"]
            a.detach_audio()
            stats = dev.stats()
        back = read_wav(tmp_path / "back.wav").samples[-RATE // 2:]
    finally:
        a.close()
        b.close()
    assert segment_tone_share(back, 1000) > 0.9
    # -12 dBm0 sent: a sine of peak 10^((-12 - 3.14) / 20) of full scale, -18.15 dBFS RMS;
    # two G.722 legs, two resampler pairs and the cable keep it within 1.5 dB
    assert abs(rms_db(back) + 18.15) < 1.5, rms_db(back)
    assert local["frames"] > 50 and local["capture_to_send_samples"] > 0
    assert stats["callbacks"]["input"] > 0 and stats["callbacks"]["output"] > 0
