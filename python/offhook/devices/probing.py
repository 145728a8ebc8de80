"""``offhook probe``: measure a capture/playback device pair by playing a test signal and
recording it back.

    report = probe(capture="Jabra", playback="Jabra", out_dir="probe-jabra")
    print(report.to_text())        # latency, noise floor, clipping, echo coupling
    # probe-jabra/report.json, report.txt, probe.png (impulse response and frequency response)

The signal, at the device rate (48 kHz by default): 0.4 s of silence (the noise floor is
measured on what the microphone hears meanwhile), an exponential sine sweep 100 Hz..20 kHz
of 1 s at -6 dBFS (Farina 2000, "Simultaneous measurement of impulse response and
distortion with a swept-sine technique", AES 108th convention), 0.2 s of silence, a 1 kHz
tone of 0.5 s at -12 dBFS (level and echo coupling), then `max_latency` of silence so that
the end of the signal comes back too.  Capture and playback are two half-duplex
PortAudio streams (a full-duplex stream over two ALSA PCMs gives up when one side
starts late, as PulseAudio's do).  The signal starts after at least 0.5 s of silence,
and only once playback has consumed its last 0.3 s in real time (up to 8 s): a sound
server that fell behind, as an idle PulseAudio null sink does, first swallows its
backlog at full speed.
Callback times put both streams on one clock (see _play_record); the round-trip
latency is then the lag of the recording behind the signal, found by cross-correlation
(FFT): from the moment the application hands a sample to the playback device to the
moment the capture device hands it back, i.e. both buffers, the drivers and whatever
lies between speaker and microphone.  It is accurate to a few ms (the callback
timing's scatter, reported as timing_jitter_ms).  A run with flagged xruns, scattered
callbacks (> 30 ms) or a correlation under 0.5 is redone, up to `attempts` times.

Measures:
- latency_ms: lag of the cross-correlation peak, 0..max_latency.
- noise_floor_dbfs: RMS of the recording during the leading silence (-120 when it is
  digital silence).
- clipped_samples / peak_dbfs: recorded samples at full scale, and the recorded peak.
- echo_coupling_db: level of the 1 kHz tone recorded minus played (0 dB for a loopback
  cable; a headset's acoustic echo is typically -30..-60 dB).
- the impulse response (regularised spectral division of recording by signal) and the
  magnitude response over the sweep's band, both in the PNG.

Limits: one channel; latency beyond `max_latency` is not found; the echo coupling is
only meaningful when nothing else plays meanwhile.
"""
from __future__ import annotations

import itertools
import json
import logging
import math
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from offhook.devices import audio
from offhook.devices.png import Canvas
from offhook.errors import DeviceError, DeviceFormatError, DeviceNotFoundError

__all__ = ["ProbeReport", "probe", "probe_signal"]

log = logging.getLogger("offhook.devices")

Float = npt.NDArray[np.float64]

_LEAD_S, _SWEEP_S, _GAP_S, _TONE_S = 0.4, 1.0, 0.2, 0.5
_SWEEP_LO, _SWEEP_HI = 100.0, 20000.0
_SWEEP_DBFS, _TONE_DBFS, _TONE_HZ = -6.0, -12.0, 1000.0
_SILENCE_DBFS = -120.0
_PREROLL_S = 0.5  # silence played (and its recording dropped) before the signal starts
_STEADY_S, _MAX_PREROLL_S = 0.3, 8.0  # ...and longer, until playback keeps time
_MAX_JITTER_MS = 30.0  # callback timing spread beyond which a run is redone


@dataclass
class ProbeReport:
    """What ``probe`` measured.  Levels in dB (dBFS: relative to int16 full scale)."""

    capture: str
    playback: str
    backend: str
    sample_rate: int
    latency_ms: float
    noise_floor_dbfs: float
    peak_dbfs: float
    clipped_samples: int
    echo_coupling_db: float
    tone_level_dbfs: float
    snr_db: float
    correlation: float  # normalised cross-correlation peak (1 = the signal came back intact)
    timing_jitter_ms: float  # spread of the callback times the alignment rests on
    xruns: int  # callbacks PortAudio flagged (under/overflow) while the signal was out
    attempts: int
    files: dict[str, str] = field(default_factory=dict)

    @property
    def clipping(self) -> bool:
        return self.clipped_samples > 0

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "clipping": self.clipping}, indent=2, sort_keys=True)

    def to_text(self) -> str:
        lines = [
            f"offhook probe: {self.playback!r} -> {self.capture!r} ({self.backend}, {self.sample_rate} Hz)",
            f"  round-trip latency  {self.latency_ms:8.1f} ms",
            f"  noise floor         {self.noise_floor_dbfs:8.1f} dBFS",
            f"  1 kHz tone back at  {self.tone_level_dbfs:8.1f} dBFS (SNR {self.snr_db:.1f} dB)",
            f"  echo coupling       {self.echo_coupling_db:8.1f} dB",
            f"  peak                {self.peak_dbfs:8.1f} dBFS, "
            + (f"CLIPPING: {self.clipped_samples} samples at full scale" if self.clipping
               else "no clipping"),
            f"  correlation         {self.correlation:8.3f}",
            f"  callback jitter     {self.timing_jitter_ms:8.1f} ms, {self.xruns} xruns "
            f"({self.attempts} run(s))",
        ]
        if self.correlation < 0.3:
            lines.append("  warning: the signal barely came back; the latency is unreliable "
                         "(muted microphone, wrong device, or no acoustic path)")
        return "\n".join(lines) + "\n"


def probe_signal(rate: int, max_latency: float = 0.5) -> tuple[Float, dict[str, tuple[int, int]]]:
    """The probe signal (floats in -1..1) and the sample ranges of its parts."""
    n = [round(s * rate) for s in (_LEAD_S, _SWEEP_S, _GAP_S, _TONE_S, max_latency)]
    t = np.arange(n[1]) / rate
    k = math.log(_SWEEP_HI / _SWEEP_LO)
    sweep = np.sin(2 * np.pi * _SWEEP_LO * _SWEEP_S / k * (np.exp(t * k / _SWEEP_S) - 1))
    fade = round(0.01 * rate)
    ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(fade) / fade)
    sweep[:fade] *= ramp
    sweep[-fade:] *= ramp[::-1]
    tone = np.sin(2 * np.pi * _TONE_HZ * np.arange(n[3]) / rate)
    tone[:fade] *= ramp
    tone[-fade:] *= ramp[::-1]
    parts = [np.zeros(n[0]), 10 ** (_SWEEP_DBFS / 20) * sweep, np.zeros(n[2]),
             10 ** (_TONE_DBFS / 20) * tone, np.zeros(n[4])]
    starts = np.cumsum([0, *n])
    names = ["lead", "sweep", "gap", "tone", "tail"]
    return np.concatenate(parts), {name: (int(starts[i]), int(starts[i + 1]))
                                   for i, name in enumerate(names)}


def _dbfs(x: Float) -> float:
    rms = float(np.sqrt(np.mean(np.square(x)))) if x.size else 0.0
    return max(20 * math.log10(rms) if rms > 0 else _SILENCE_DBFS, _SILENCE_DBFS)


def _play_record(signal: npt.NDArray[np.int16], capture: audio.DeviceInfo, playback: audio.DeviceInfo,
                 backend: str, rate: int, block: int, latency: float
                 ) -> tuple[npt.NDArray[np.int16], float, int]:
    """Plays `signal` and returns the recording aligned to it: sample i of the result was
    captured when sample i of the signal had been handed to the playback device, so the
    recording lags by the round trip.

    Two half-duplex streams (a full-duplex PortAudio stream over two ALSA PCMs gives up
    when one side starts late, as PulseAudio's do).  Their common clock is the time of
    each callback: for steady callbacks, (callback time - stream position / rate) is the
    same for every block up to scheduling jitter, so its median over the blocks places
    each stream's sample 0 on time.monotonic()'s axis.  Also returns how far the callback
    times strayed from that (ms): large values mean the alignment cannot be trusted.
    """
    module = audio._import(backend)
    clock = time.monotonic
    in_blocks: list[tuple[float, npt.NDArray[np.int16]]] = []
    out_marks: list[tuple[float, int]] = []  # (callback time, signal position of the block)
    preroll = int(_PREROLL_S * rate)
    tail = int(0.1 * rate)
    state = {"pos": -preroll, "xruns": 0}

    def note(status: int) -> None:
        if status and 0 < state["pos"] < signal.size + tail:  # only while the signal is out
            state["xruns"] += 1
    done = threading.Event()
    in_ready = threading.Event()

    def on_input(data: Any) -> None:
        in_blocks.append((clock(), np.frombuffer(data, np.int16).copy()))
        if len(in_blocks) * block >= _PREROLL_S * rate / 2:
            in_ready.set()

    played: list[tuple[float, int]] = []  # (callback time, frames handed out so far)

    def keeps_time(now: float) -> bool:
        """Has the playback side consumed the last `_STEADY_S` of audio in real time?  A
        sound server that fell behind drains its backlog as fast as it can first."""
        if now - played[0][0] > _MAX_PREROLL_S:
            return True  # start anyway; the attempt's jitter check judges the run
        total = played[-1][1]
        for t, n in reversed(played):
            if total - n >= _STEADY_S * rate:
                return now - t >= 0.8 * (total - n) / rate
        return False

    def on_output(frames: int) -> bytes:
        now = clock()
        played.append((now, played[-1][1] + frames if played else frames))
        pos = state["pos"]
        if pos <= 0 < pos + frames and not keeps_time(now):
            pos = -frames  # hold the start until playback keeps time
        out_marks.append((now, pos))
        chunk = np.zeros(frames, np.int16)
        lo, hi = max(pos, 0), min(pos + frames, signal.size)
        if hi > lo:
            chunk[lo - pos:hi - pos] = signal[lo:hi]
        state["pos"] = pos + frames
        if pos + frames >= signal.size + tail:
            done.set()
        return chunk.tobytes()

    timeout = signal.size / rate + _PREROLL_S + _MAX_PREROLL_S + 10
    audio._track_stream(+2)
    try:
        if backend == "sounddevice":
            def sd_in(indata: Any, frames: int, time_info: Any, status: Any) -> None:
                note(int(status._flags))
                on_input(indata)

            def sd_out(outdata: Any, frames: int, time_info: Any, status: Any) -> None:
                note(int(status._flags))
                outdata[:] = on_output(frames)
            common = {"samplerate": rate, "channels": 1, "dtype": "int16", "blocksize": block,
                      "latency": latency}
            with module.RawInputStream(device=capture.index, callback=sd_in, **common):
                if not in_ready.wait(5):
                    raise DeviceError(f"capture device {capture.name!r} delivered no audio within 5 s")
                with module.RawOutputStream(device=playback.index, callback=sd_out, **common):
                    if not done.wait(timeout):
                        raise DeviceError(f"the probe's playback stalled at {state['pos']} of "
                                          f"{signal.size} samples")
        else:
            pa = module.PyAudio()
            streams = []
            try:
                def pa_in(data: bytes | None, frames: int, time_info: Any, status: int) -> Any:
                    note(status)
                    on_input(data or bytes(frames * 2))
                    return (None, module.paContinue)

                def pa_out(data: bytes | None, frames: int, time_info: Any, status: int) -> Any:
                    note(status)
                    return (on_output(frames), module.paContinue)
                common = {"format": module.paInt16, "channels": 1, "rate": rate, "frames_per_buffer": block}
                streams.append(pa.open(input=True, input_device_index=capture.index,
                                       stream_callback=pa_in, **common))
                if not in_ready.wait(5):
                    raise DeviceError(f"capture device {capture.name!r} delivered no audio within 5 s")
                streams.append(pa.open(output=True, output_device_index=playback.index,
                                       stream_callback=pa_out, **common))
                if not done.wait(timeout):
                    raise DeviceError(f"the probe's playback stalled at {state['pos']} of "
                                      f"{signal.size} samples")
            finally:
                for stream in streams:
                    stream.stop_stream()
                    stream.close()
                pa.terminate()
    except DeviceError:
        raise
    except Exception as exc:
        raise DeviceError(f"cannot probe {playback.name!r} -> {capture.name!r} at {rate} Hz "
                          f"through {backend}: {exc}") from exc
    finally:
        audio._track_stream(-2)

    # Where sample 0 of each stream sits in time (medians over the steady part).
    ends = np.cumsum([b.size for _, b in in_blocks])
    in_origin = float(np.median([t - e / rate for (t, _), e in zip(in_blocks, ends, strict=True)]
                                [len(in_blocks) // 4:]))
    steady = [(t, p) for t, p in out_marks if p >= signal.size // 3] or out_marks
    out_origin = float(np.median([t - p / rate for t, p in steady]))
    recorded = np.concatenate([b for _, b in in_blocks])
    start = round((out_origin - in_origin) * rate)  # capture index of "signal sample 0 handed"
    aligned = np.zeros(signal.size, np.int16)
    lo = max(start, 0)
    piece = recorded[lo:lo + signal.size - (lo - start)]
    aligned[lo - start:lo - start + piece.size] = piece
    # How far the callbacks strayed from steady timing (10th..90th percentile, both streams).
    offs = np.array([t - e / rate for (t, _), e in zip(in_blocks, ends, strict=True)][len(in_blocks) // 4:])
    outs = np.array([t - p / rate for t, p in steady])
    jitter = 1000 * float(max(np.ptp(np.percentile(offs, [10, 90])), np.ptp(np.percentile(outs, [10, 90]))))
    return aligned, jitter, state["xruns"]


def analyse(played: Float, recorded: Float, parts: dict[str, tuple[int, int]], rate: int,
            max_latency: float) -> dict[str, Any]:
    """Measures a recording against the signal played (floats, full scale 1.0)."""
    n = 1 << math.ceil(math.log2(played.size + recorded.size))
    spec_x = np.fft.rfft(played, n)
    spec_y = np.fft.rfft(recorded, n)
    xcorr = np.fft.irfft(spec_y * np.conj(spec_x), n)
    max_lag = int(max_latency * rate)
    window = xcorr[:max_lag + 1]
    lag = int(np.argmax(np.abs(window)))
    norm = math.sqrt(float(np.sum(played ** 2)) * float(np.sum(recorded ** 2))) or 1.0
    correlation = float(abs(window[lag]) / norm)
    # Impulse response: regularised deconvolution (the recording divided by the signal).
    power = np.abs(spec_x) ** 2
    response = spec_y * np.conj(spec_x) / (power + 1e-7 * float(power.max()))
    ir = np.fft.irfft(response, n)[:max_lag + int(0.1 * rate)]
    freqs = np.fft.rfftfreq(n, 1 / rate)
    band = (freqs >= _SWEEP_LO) & (freqs <= _SWEEP_HI)
    magnitude = 20 * np.log10(np.maximum(np.abs(response[band]), 1e-9))

    lead_lo, lead_hi = parts["lead"]
    noise = recorded[lead_lo + int(0.05 * rate):lead_hi - int(0.05 * rate)]
    tone_lo, tone_hi = parts["tone"]
    margin = int(0.05 * rate)
    tone_in = recorded[tone_lo + lag + margin:tone_hi + lag - margin]
    tone_out = played[tone_lo + margin:tone_hi - margin]
    tone_level = _dbfs(tone_in)
    noise_floor = _dbfs(noise)
    peak = float(np.max(np.abs(recorded))) if recorded.size else 0.0
    return {
        "latency_ms": 1000.0 * lag / rate,
        "noise_floor_dbfs": noise_floor,
        "peak_dbfs": max(20 * math.log10(peak) if peak > 0 else _SILENCE_DBFS, _SILENCE_DBFS),
        "echo_coupling_db": tone_level - _dbfs(tone_out),
        "tone_level_dbfs": tone_level,
        "snr_db": tone_level - noise_floor,
        "correlation": correlation,
        "_ir": ir,
        "_freqs": freqs[band],
        "_magnitude": magnitude,
    }


def _plot(path: Path, ir: Float, freqs: Float, magnitude: Float, rate: int, latency_ms: float,
          title: str) -> None:
    canvas = Canvas(720, 480)
    canvas.text(10, 8, title[:110])
    # Impulse response envelope in dB, time in ms.
    env = np.abs(ir)
    env_db = 20 * np.log10(np.maximum(env / (env.max() or 1.0), 1e-6))
    t_ms = np.arange(ir.size) * 1000.0 / rate
    step = max(1, ir.size // 1200)  # keep the peak of each stretch: no spike gets lost
    trimmed = env_db[: env_db.size // step * step].reshape(-1, step)
    t_end = float(t_ms[-1])
    xticks = [v for v in (0, 50, 100, 200, 300, 400, 500, 750, 1000) if v <= t_end]
    canvas.panel((70, 40, 700, 210), t_ms[: trimmed.shape[0] * step:step], trimmed.max(axis=1),
                 (0.0, t_end), (-80.0, 0.0), title=f"IMPULSE RESPONSE (DB) - LATENCY {latency_ms:.1f} MS",
                 xticks=xticks, yticks=[-80, -60, -40, -20, 0])
    # Magnitude response, log frequency, 1/24-octave maxima so the curve is readable.
    edges = _SWEEP_LO * 2 ** (np.arange(0, math.log2(_SWEEP_HI / _SWEEP_LO) * 24 + 1) / 24)
    idx = np.searchsorted(freqs, edges)
    centres, values = [], []
    for a, b in itertools.pairwise(idx):
        if b > a:
            centres.append(float(np.sqrt(freqs[a] * freqs[b - 1])) if freqs[a] > 0 else float(freqs[b - 1]))
            values.append(float(np.mean(magnitude[a:b])))
    top = math.ceil(max(values, default=0.0) / 10) * 10 + 10 if values else 10
    canvas.panel((70, 270, 700, 440), centres, values, (_SWEEP_LO, _SWEEP_HI), (top - 60.0, float(top)),
                 title="FREQUENCY RESPONSE (DB) - HZ", xticks=[100, 300, 1000, 3000, 10000, 20000],
                 yticks=list(range(int(top) - 60, int(top) + 1, 20)), xlog=True)
    canvas.save(path)


def probe(capture: str | None = None, playback: str | None = None, *, backend: str = "sounddevice",
          rate: int = 48000, max_latency: float = 0.5, out_dir: str | Path | None = None,
          block: int | None = None, latency: float = 0.04, attempts: int = 3) -> ProbeReport:
    """Plays the probe signal on `playback`, records `capture`, and measures the pair.

    Devices by name (None: the system default).  With `out_dir`, writes report.json,
    report.txt and probe.png there (their paths are in ``report.files``).
    block: frames per callback (default 20 ms); latency: PortAudio's suggested latency (s)
    for both streams (sounddevice; PyAudio picks its own) — what a call would use, so
    part of what is measured.
    Raises DeviceNotFoundError for an unknown name, DeviceError when the devices cannot
    be opened together at `rate`.
    """
    if not 8000 <= rate <= 192000:
        raise DeviceFormatError(f"rate must be 8000..192000 Hz, got {rate}")
    if not 0.05 <= max_latency <= 2.0:
        raise DeviceFormatError(f"max_latency must be 0.05..2 s, got {max_latency}")
    block = block or rate // 50
    if not 0 < latency <= 1:
        raise DeviceFormatError(f"latency must be > 0 and <= 1 s, got {latency}")
    if not 1 <= attempts <= 10:
        raise DeviceFormatError(f"attempts must be 1..10, got {attempts}")
    if not 16 <= block <= rate:
        raise DeviceFormatError(f"block must be 16..{rate} frames, got {block}")
    devices = audio.list_devices(backend)
    try:
        cap, play = _pick(devices, capture, "input"), _pick(devices, playback, "output")
    except DeviceNotFoundError:
        if audio.streams_open():
            raise
        audio.rescan()  # it may have been plugged in since PortAudio last looked
        devices = audio.list_devices(backend)
        cap, play = _pick(devices, capture, "input"), _pick(devices, playback, "output")
    signal, parts = probe_signal(rate, max_latency)
    pcm = np.round(signal * 32767).astype(np.int16)
    for attempt in range(1, attempts + 1):
        # A sound server may start a stream in a burst or a stall; such a run is redone.
        recorded, jitter, xruns = _play_record(pcm, cap, play, backend, rate, block, latency)
        m = analyse(pcm / 32768.0, recorded / 32768.0, parts, rate, max_latency)
        if jitter <= _MAX_JITTER_MS and m["correlation"] >= 0.5 and not xruns:
            break
        log.info("probe attempt %d: callback jitter %.1f ms, correlation %.3f, %d xruns", attempt,
                 jitter, m["correlation"], xruns)
    clipped = int(np.count_nonzero((recorded == 32767) | (recorded == -32768)))
    report = ProbeReport(
        capture=cap.name, playback=play.name, backend=backend, sample_rate=rate,
        latency_ms=round(m["latency_ms"], 2), noise_floor_dbfs=round(m["noise_floor_dbfs"], 1),
        peak_dbfs=round(m["peak_dbfs"], 2), clipped_samples=clipped,
        echo_coupling_db=round(m["echo_coupling_db"], 2), tone_level_dbfs=round(m["tone_level_dbfs"], 2),
        snr_db=round(m["snr_db"], 1), correlation=round(m["correlation"], 4),
        timing_jitter_ms=round(jitter, 1), xruns=xruns, attempts=attempt)
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        png = out / "probe.png"
        _plot(png, m["_ir"], m["_freqs"], m["_magnitude"], rate, report.latency_ms,
              f"OFFHOOK PROBE {play.name} -> {cap.name}")
        report.files = {"json": str(out / "report.json"), "text": str(out / "report.txt"),
                        "png": str(png)}
        (out / "report.txt").write_text(report.to_text())
        (out / "report.json").write_text(report.to_json())
    return report


def _pick(devices: list[audio.DeviceInfo], name: str | None, kind: str) -> audio.DeviceInfo:
    if name is not None:
        return audio.find_device(name, kind=kind, devices=devices)
    flag = "is_default_input" if kind == "input" else "is_default_output"
    for dev in devices:
        if getattr(dev, flag):
            return dev
    raise DeviceError(f"there is no default {kind} device; name one (offhook devices lists them)")
