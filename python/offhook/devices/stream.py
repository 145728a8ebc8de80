"""Full-duplex device streams: sound card <-> :class:`offhook.engine.DevicePort` <-> engine.

A :class:`DeviceStream` opens a capture device and a playback device (by name, each
may be a different card) through one of two backends with the same interface,
``sounddevice`` (default) or ``PyAudio``, and moves their audio through a
:class:`~offhook.engine.DevicePort`::

    with DeviceStream(capture="Jabra", playback="Jabra", engine_rate=16000, frame_ms=20) as s:
        port = s.port                       # the engine's side of the "port" protocol
        port.push_playback(frame)           # 320 int16 samples at 16 kHz, every 20 ms
        frame = port.pull_capture(320)      # 20 ms from the microphone (zeros if not there yet)

The port protocol (engine side; see engine/_devport.pyx): frames go in on one side and
come out on the other.  ``push_playback(pcm)`` queues mono int16 at ``engine_rate`` for
the speaker, ``pull_capture(n)`` takes the next n microphone samples at ``engine_rate``;
``capture_available``/``playback_queued`` say how much is waiting and ``stats()`` counts
overruns and underruns.  The device side (``push_capture``/``pull_playback``) belongs to
the PortAudio callbacks here; they copy and resample in C (csrc/oh_devport.c) with the
GIL released.  ``MediaEngine.attach_audio(stream.port)`` makes the C media thread the
engine side: it pulls a frame of capture and pushes a frame of playback every tick, with
no Python involved (echo canceller, mixing and latency control in C).

Device loss (hot-unplug).  PortAudio says nothing reliable when a device vanishes under
a callback stream: through PulseAudio the stream pauses for ~0.7–1 s and then carries on
(moved to another sink), or callbacks continue flagged ``input underflow`` and the stream
finishes by itself.  A supervisor thread therefore treats an unrequested finish, a run of
underflow-flagged input callbacks, or a callback gap longer than ``stall_timeout`` as a
loss: it closes both PortAudio streams, re-enumerates (when no other offhook stream is
open), and reopens the lost direction on the first of: the same device if it is still
listed (a glitch, reported as "reopened"), the ``preferred_*`` names, the system default
("fallback").  The DeviceStream object, its port and its counters survive; the engine
sees a short underrun.  Events are :class:`StreamEvent` values passed to ``on_event``
(from the supervisor thread) and kept in ``events``.

Limits: the port's device rate is fixed for the stream's life, so a fallback device must
open at ``device_rate`` (PortAudio/ALSA's plug layer converts for most cards); PortAudio
re-enumeration closes every stream of the process, so with several offhook streams open
a fallback only picks among devices already known.
"""
from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt

from offhook._devport import DevicePort
from offhook.devices import audio
from offhook.devices.audio import DeviceInfo, find_device, list_devices
from offhook.devices.monitor import DeviceChange, DeviceMonitor
from offhook.errors import DeviceError, DeviceFormatError, DeviceNotFoundError

__all__ = ["DeviceStream", "EnginePort", "StreamEvent", "StreamMode"]

log = logging.getLogger("offhook.devices")

StreamMode = Literal["duplex", "capture", "playback"]
ENGINE_RATES = (8000, 16000, 32000, 48000)
FRAME_MS = (10, 20)

# PortAudio's callback status bits (the same in both backends).
_IN_UNDERFLOW, _IN_OVERFLOW, _OUT_UNDERFLOW, _OUT_OVERFLOW = 1, 2, 4, 8
_POLL_S = 0.05
_FIRST_CALLBACK_S = 3.0  # an idle PulseAudio null sink can take ~2 s to call back first
_RETRY_S = 1.0
_ARM_S = 0.3  # the stall watchdog arms once this much audio has flowed through a stream


class EnginePort(Protocol):
    """The engine's side of a device port (what :class:`offhook.engine.DevicePort` offers
    the media thread); every call belongs to that one thread.

    Frames go in on one side and come out on the other: ``push_playback`` queues mono
    int16 samples at ``engine_rate`` for the speaker and returns how many fitted (fewer:
    an overrun, counted); ``pull_capture(n)`` returns the next n microphone samples at
    ``engine_rate``, zeros for what has not arrived (an underrun, counted).
    ``capture_available``/``playback_queued`` say how much waits on each side (to pace,
    or to shed latency); ``stats()`` holds the counters.  A C consumer takes the rings
    themselves instead: ``capture_ring`` (it reads) and ``playback_ring`` (it writes) are
    PyCapsules named "offhook.oh_ring" holding an ``oh_ring *`` (csrc/oh_ring.h), valid
    while the port lives.
    """

    @property
    def engine_rate(self) -> int: ...
    def push_playback(self, pcm: npt.NDArray[np.int16]) -> int: ...
    def pull_capture(self, n: int) -> npt.NDArray[np.int16]: ...
    @property
    def capture_available(self) -> int: ...
    @property
    def playback_queued(self) -> int: ...
    def stats(self) -> dict[str, dict[str, int]]: ...
    @property
    def capture_ring(self) -> Any: ...
    @property
    def playback_ring(self) -> Any: ...


def _conforms(port: DevicePort) -> EnginePort:
    return port  # mypy checks here that DevicePort implements the protocol


@dataclass(frozen=True)
class StreamEvent:
    """Something that happened to a device stream.

    kind: "lost" (a device stopped delivering), "fallback" (now on another device),
    "reopened" (the same device again after a glitch), "failed" (no device could be
    opened; retried every second), "switched" (moved to another device by
    ``switch``).  direction: "input" or "output".  device: the device
    now in use (None after "lost"/"failed"); previous: the one before.  elapsed: seconds
    from the last good callback of the lost device to this event.
    """

    kind: str
    direction: str
    device: str | None
    previous: str | None
    elapsed: float
    reason: str


class _Half:
    """One direction's PortAudio stream and its callback bookkeeping."""

    def __init__(self, direction: str, device: DeviceInfo) -> None:
        self.direction = direction
        self.device = device
        self.handle: Any = None
        self.opened_at = time.monotonic()
        self.last_callback = 0.0  # monotonic time of the latest callback; 0 before the first
        self.callbacks = 0
        self.underflow_run_since = 0.0
        self.finished = False
        self.closing = False
        self.gone = False  # the device monitor saw the device disappear


class DeviceStream:
    """A capture device and a playback device feeding one :class:`DevicePort`.

    capture, playback: device names (exact, or a unique case-insensitive substring);
        None picks the system default.
    mode: "duplex", "capture" or "playback" (which directions to open).
    backend: "sounddevice" or "pyaudio".
    engine_rate: 8000, 16000, 32000 or 48000 Hz (the port's rate).
    frame_ms: 10 or 20 — the device block size (and the engine frame, ``frame_size``).
    device_rate: the rate the devices are opened at (44100 or 48000 usually).
    preferred_capture, preferred_playback: names to fall back to, in order, before the
        system default, when the device in use disappears.
    latency: PortAudio's suggested latency (s).  buffer_ms: capacity of each port ring.
    stall_timeout: a callback gap this long (s) counts as a lost device.
    on_event: called with each :class:`StreamEvent` (from the supervisor thread).
    monitor: a running :class:`DeviceMonitor` to learn removals from; with watch=True
        (the default) and no monitor, the stream runs its own while it is started.
        Through PulseAudio a vanished device's stream is often moved to another sink
        without a gap, so the device list is the only reliable sign of an unplug.
    """

    def __init__(self, capture: str | None = None, playback: str | None = None, *,
                 mode: StreamMode = "duplex", backend: str = "sounddevice",
                 engine_rate: int = 16000, frame_ms: int = 20, device_rate: int = 48000,
                 channels: int = 1, preferred_capture: Sequence[str] = (),
                 preferred_playback: Sequence[str] = (), latency: float = 0.04,
                 buffer_ms: int = 200, stall_timeout: float = 0.5,
                 on_event: Callable[[StreamEvent], None] | None = None,
                 monitor: DeviceMonitor | None = None, watch: bool = True) -> None:
        if mode not in ("duplex", "capture", "playback"):
            raise DeviceFormatError(f"mode must be 'duplex', 'capture' or 'playback', got {mode!r}")
        if backend not in audio.BACKENDS:
            raise DeviceError(f"unknown audio backend {backend!r}: use one of {', '.join(audio.BACKENDS)}")
        if engine_rate not in ENGINE_RATES:
            raise DeviceFormatError(
                f"engine_rate must be one of {', '.join(map(str, ENGINE_RATES))} Hz, got {engine_rate}")
        if frame_ms not in FRAME_MS:
            raise DeviceFormatError(f"frame_ms must be 10 or 20, got {frame_ms}")
        if device_rate % (1000 // frame_ms):
            raise DeviceFormatError(
                f"device_rate {device_rate} Hz has no whole number of samples in {frame_ms} ms")
        if not 0.05 <= stall_timeout <= 10:
            raise DeviceFormatError(f"stall_timeout must be 0.05..10 s, got {stall_timeout}")
        if latency <= 0:
            raise DeviceFormatError(f"latency must be > 0 s, got {latency}")
        self.port = DevicePort(engine_rate, device_rate, channels, buffer_ms)
        self.backend = backend
        self.mode: StreamMode = mode
        self.engine_rate = engine_rate
        self.device_rate = device_rate
        self.frame_ms = frame_ms
        self.channels = channels
        self.latency = latency
        self.stall_timeout = stall_timeout
        self.block = device_rate * frame_ms // 1000
        self.frame_size = engine_rate * frame_ms // 1000
        self.events: list[StreamEvent] = []
        self._on_event = on_event
        self._wanted = {"input": capture, "output": playback}
        self._preferred = {"input": tuple(preferred_capture), "output": tuple(preferred_playback)}
        self._directions = [d for d, m in (("input", "capture"), ("output", "playback"))
                            if mode in ("duplex", m)]
        self._halves: dict[str, _Half | None] = {d: None for d in self._directions}
        self._flags = {"input_underflow": 0, "input_overflow": 0,
                       "output_underflow": 0, "output_overflow": 0}
        self._callbacks = {"input": 0, "output": 0}
        self._losses = {"input": 0, "output": 0}
        self._recent_losses: dict[str, list[tuple[str, float]]] = {"input": [], "output": []}
        self._failed_since: dict[str, float] = {}
        self._lock = threading.RLock()
        self._cond = threading.Condition()
        self._running = False
        self._supervisor: threading.Thread | None = None
        self._pa: Any = None
        self._module: Any = audio._import(backend)
        self._monitor = monitor
        self._own_monitor = monitor is None and watch
        # Resolve names now, so that a wrong name fails here with the list of devices.
        # A device plugged in since PortAudio last looked is only found after a rescan.
        devices = list_devices(backend)
        try:
            self._current: dict[str, DeviceInfo] = {
                d: self._resolve(d, self._wanted[d], devices) for d in self._directions}
        except DeviceNotFoundError:
            if audio.streams_open():
                raise
            audio.rescan()
            devices = list_devices(backend)
            self._current = {d: self._resolve(d, self._wanted[d], devices) for d in self._directions}

    # -- public ---------------------------------------------------------------------------
    @property
    def capture_device(self) -> str | None:
        """Name of the capture device in use (None when capture is off or failed)."""
        half = self._halves.get("input")
        return half.device.name if half else None

    @property
    def playback_device(self) -> str | None:
        """Name of the playback device in use (None when playback is off or failed)."""
        half = self._halves.get("output")
        return half.device.name if half else None

    @property
    def directions(self) -> tuple[str, ...]:
        """The directions this stream runs: "input", "output" or both."""
        return tuple(self._directions)

    @property
    def running(self) -> bool:
        return self._running

    def start(self) -> DeviceStream:
        """Opens and starts the devices and the supervisor; DeviceError if a device fails."""
        with self._lock:
            if self._running:
                return self
            self._open_all(self._current)
            self._running = True
        if self._own_monitor:
            self._monitor = DeviceMonitor(self.backend)
            self._monitor.start()
        if self._monitor is not None:
            self._monitor.subscribe(self._on_device_change)
        self._supervisor = threading.Thread(target=self._supervise, name="offhook-devstream",
                                            daemon=True)
        self._supervisor.start()
        return self

    def stop(self) -> None:
        """Stops the devices and the supervisor (the port and its counters remain)."""
        if self._monitor is not None:
            self._monitor.unsubscribe(self._on_device_change)
            if self._own_monitor:
                self._monitor.stop()
                self._monitor = None
        with self._lock:
            self._running = False
            self._close_all()
        with self._cond:
            self._cond.notify_all()
        sup, self._supervisor = self._supervisor, None
        if sup is not None and sup is not threading.current_thread():
            sup.join(timeout=5)

    close = stop

    def __enter__(self) -> DeviceStream:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stats(self) -> dict[str, Any]:
        """Counters: the port's rings ("capture", "playback"), PortAudio's status flags
        ("device": input/output under/overflow callbacks), callbacks per direction,
        device losses per direction, and the devices in use."""
        return {
            **self.port.stats(),
            "device": dict(self._flags),
            "callbacks": dict(self._callbacks),
            "losses": dict(self._losses),
            "capture_device": self.capture_device,
            "playback_device": self.playback_device,
        }

    def switch(self, direction: str, name: str | None) -> str | None:
        """Moves one direction ("input" or "output") to the device `name` (None: the
        system default), live: the port, its rings and whatever the engine does with
        them carry on, only that direction's PortAudio stream is closed and opened on the
        new device; the other direction is untouched.  The choice also becomes the
        device the fallback path returns to (it is the wanted one from now on).
        Emits a "switched" StreamEvent.  Returns the device name now in use.
        DeviceNotFoundError (with the list) for an unknown name; DeviceError when the
        new device cannot be opened (the previous one is reopened, if it still can be)."""
        if direction not in ("input", "output"):
            raise DeviceFormatError(f"direction must be 'input' or 'output', got {direction!r}")
        if direction not in self._directions:
            raise DeviceFormatError(f"this stream has no {direction} (mode {self.mode!r})")
        with self._lock:
            new = self._resolve(direction, name, list_devices(self.backend))
            previous = self._current[direction]
            self._wanted[direction] = name
            half = self._halves[direction]
            if not self._running:
                self._current[direction] = new
                return new.name
            if half is not None and half.device.name == new.name:
                return new.name
            if half is not None:
                self._close(half)
                self._halves[direction] = None
            try:
                opened = self._open(direction, new)
            except DeviceError:
                with contextlib.suppress(DeviceError):
                    back = self._open(direction, previous)
                    self._halves[direction] = back
                    self._start(back)
                if self._halves[direction] is None:
                    self._failed_since[direction] = time.monotonic()   # the supervisor retries
                raise
            self._halves[direction] = opened
            self._start(opened)
            self._current[direction] = new
            self._failed_since.pop(direction, None)
        self._emit(StreamEvent("switched", direction, new.name, previous.name, 0.0,
                               "chosen by the user"))
        return new.name

    def wait_event(self, kinds: Sequence[str], timeout: float, since: int = 0) -> StreamEvent | None:
        """The first event of one of `kinds` at position >= `since` in ``events``,
        waiting up to `timeout` seconds for it; None when none came."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for event in self.events[since:]:
                    if event.kind in kinds:
                        return event
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)

    # -- devices --------------------------------------------------------------------------
    def _resolve(self, direction: str, name: str | None, devices: Sequence[DeviceInfo]) -> DeviceInfo:
        if name is not None:
            return find_device(name, kind=direction, devices=devices)
        flag = "is_default_input" if direction == "input" else "is_default_output"
        for dev in devices:
            if getattr(dev, flag) and dev.has(direction):
                return dev
        raise DeviceNotFoundError(f"there is no default {direction} device; name one",
                                  name="default", kind=direction,
                                  available=tuple(d.name for d in devices if d.has(direction)))

    def _candidates(self, direction: str, lost: DeviceInfo | None,
                    devices: Sequence[DeviceInfo], gone: bool = False) -> list[DeviceInfo]:
        out: list[DeviceInfo] = []
        names = [d.name for d in devices if d.has(direction)]
        if lost is not None and lost.name in names and not gone:
            # Still listed: a glitch, unless it already failed twice in the last 10 s.
            now = time.monotonic()
            recent = [t for n, t in self._recent_losses[direction] if n == lost.name and now - t < 10]
            if len(recent) < 2:
                out.append(next(d for d in devices if d.name == lost.name and d.has(direction)))
        for name in (*self._preferred[direction], self._wanted[direction]):
            if name is None:
                continue
            with contextlib.suppress(DeviceNotFoundError):
                out.append(find_device(name, kind=direction, devices=devices))
        with contextlib.suppress(DeviceNotFoundError):
            out.append(self._resolve(direction, None, devices))
        glitch = out[0] if out and lost is not None and out[0].name == lost.name else None
        unique: list[DeviceInfo] = [glitch] if glitch else []
        for dev in out:
            if all(dev.name != u.name for u in unique) and not (lost is not None and dev.name == lost.name):
                unique.append(dev)
        return unique

    # -- PortAudio streams ----------------------------------------------------------------
    def _open_all(self, devices: dict[str, DeviceInfo]) -> None:
        opened = []
        try:
            for direction in self._directions:
                half = self._open(direction, devices[direction])
                opened.append(half)
            for half in opened:
                self._halves[half.direction] = half
                self._start(half)
        except Exception:
            for half in opened:
                self._close(half)
            raise

    def _open(self, direction: str, device: DeviceInfo) -> _Half:
        half = _Half(direction, device)
        audio._track_stream(+1)  # before opening: no rescan may close it meanwhile
        try:
            if self.backend == "sounddevice":
                half.handle = self._open_sd(half)
            else:
                half.handle = self._open_pa(half)
        except Exception as exc:
            audio._track_stream(-1)
            raise DeviceError(
                f"cannot open {direction} device {device.name!r} at {self.device_rate} Hz, "
                f"{self.channels} channel(s) through {self.backend}: {exc}") from exc
        return half

    def _open_sd(self, half: _Half) -> Any:
        sd = self._module
        port, seen = self.port, self._seen

        def finished() -> None:
            half.finished = True

        if half.direction == "input":
            def on_input(indata: Any, frames: int, time_info: Any, status: Any) -> None:
                seen(half, int(status._flags))
                port.push_capture(indata)
            return sd.RawInputStream(
                device=half.device.index, samplerate=self.device_rate, channels=self.channels,
                dtype="int16", blocksize=self.block, latency=self.latency, callback=on_input,
                finished_callback=finished)

        def on_output(outdata: Any, frames: int, time_info: Any, status: Any) -> None:
            seen(half, int(status._flags))
            port.pull_playback(outdata)
        return sd.RawOutputStream(
            device=half.device.index, samplerate=self.device_rate, channels=self.channels,
            dtype="int16", blocksize=self.block, latency=self.latency, callback=on_output,
            finished_callback=finished)

    def _open_pa(self, half: _Half) -> Any:
        pyaudio = self._module
        if self._pa is None:
            self._pa = pyaudio.PyAudio()
        port, seen = self.port, self._seen
        cont = pyaudio.paContinue
        if half.direction == "input":
            def on_input(in_data: bytes | None, frames: int, time_info: Any, status: int) -> Any:
                seen(half, status)
                if in_data:
                    port.push_capture(in_data)
                return (None, cont)
            return self._pa.open(
                format=pyaudio.paInt16, channels=self.channels, rate=self.device_rate, input=True,
                input_device_index=half.device.index, frames_per_buffer=self.block,
                stream_callback=on_input, start=False)

        buf = bytearray(self.block * self.channels * 2)

        def on_output(in_data: bytes | None, frames: int, time_info: Any, status: int) -> Any:
            seen(half, status)
            if frames * self.channels * 2 != len(buf):
                out = bytearray(frames * self.channels * 2)
                port.pull_playback(out)
                return (bytes(out), cont)
            port.pull_playback(buf)
            return (bytes(buf), cont)
        return self._pa.open(
            format=pyaudio.paInt16, channels=self.channels, rate=self.device_rate, output=True,
            output_device_index=half.device.index, frames_per_buffer=self.block,
            stream_callback=on_output, start=False)

    def _seen(self, half: _Half, bits: int) -> None:
        """What every device callback notes first: its time (the stall watch reads it), the
        count, and PortAudio's status flags."""
        now = time.monotonic()
        half.last_callback = now
        half.callbacks += 1
        self._callbacks[half.direction] += 1
        if bits:
            self._note_status(half, bits, now)
        elif half.underflow_run_since:
            half.underflow_run_since = 0.0

    def _note_status(self, half: _Half, bits: int, now: float) -> None:
        flags = self._flags
        if bits & _IN_UNDERFLOW:
            flags["input_underflow"] += 1
            if half.direction == "input" and not half.underflow_run_since:
                half.underflow_run_since = now
        elif half.direction == "input":
            half.underflow_run_since = 0.0
        if bits & _IN_OVERFLOW:
            flags["input_overflow"] += 1
        if bits & _OUT_UNDERFLOW:
            flags["output_underflow"] += 1
        if bits & _OUT_OVERFLOW:
            flags["output_overflow"] += 1

    def _start(self, half: _Half) -> None:
        half.opened_at = time.monotonic()
        if self.backend == "sounddevice":
            half.handle.start()
        else:
            half.handle.start_stream()

    def _close(self, half: _Half) -> None:
        half.closing = True
        try:
            if self.backend == "sounddevice":
                half.handle.abort(ignore_errors=True)
                half.handle.close(ignore_errors=True)
            else:
                try:
                    half.handle.stop_stream()
                finally:
                    half.handle.close()
        except Exception as exc:  # a vanished device may refuse to stop cleanly
            log.debug("closing %s stream on %r: %s", half.direction, half.device.name, exc)
        finally:
            audio._track_stream(-1)

    def _close_all(self) -> None:
        for direction, half in self._halves.items():
            if half is not None:
                self._close(half)
                self._halves[direction] = None
        if self._pa is not None:
            self._pa.terminate()  # drop PyAudio's PortAudio reference so a rescan is real
            self._pa = None

    # -- supervision ----------------------------------------------------------------------
    def _emit(self, event: StreamEvent) -> None:
        log.info("device stream: %s %s %r (was %r) after %.3f s: %s", event.kind, event.direction,
                 event.device, event.previous, event.elapsed, event.reason)
        with self._cond:
            self.events.append(event)
            self._cond.notify_all()
        if self._on_event is not None:
            try:
                self._on_event(event)
            except Exception:
                log.exception("device stream on_event handler failed")

    def _on_device_change(self, change: DeviceChange) -> None:
        if change.kind != "removed":
            return
        half = self._halves.get(change.direction)
        if half is not None and half.device.name == change.name:
            half.gone = True
            with self._cond:
                self._cond.notify_all()

    def _check(self, half: _Half, now: float) -> str | None:
        if half.gone:
            return "the device was removed"
        if half.finished and not half.closing:
            return "the stream finished without being stopped"
        if half.callbacks * self.block < _ARM_S * self.device_rate:
            # Starting: a stream first fills its buffer in a burst, and an idle PulseAudio
            # sink may take ~2 s before it calls back regularly.  Not armed yet.
            if now - half.opened_at > _FIRST_CALLBACK_S:
                return f"audio did not start flowing within {_FIRST_CALLBACK_S:.0f} s of opening"
            return None
        if now - half.last_callback > self.stall_timeout:
            return f"no callback for {now - half.last_callback:.2f} s"
        if half.underflow_run_since and now - half.underflow_run_since > self.stall_timeout:
            return "input underflow on every callback"
        return None

    def _supervise(self) -> None:
        while True:
            with self._cond:
                self._cond.wait(_POLL_S)
            with self._lock:
                if not self._running:
                    return
                now = time.monotonic()
                lost: dict[str, tuple[_Half, str]] = {}
                for direction in self._directions:
                    half = self._halves[direction]
                    if half is None:
                        if now - self._failed_since.get(direction, now) >= _RETRY_S:
                            lost[direction] = (_Half(direction, self._current[direction]),
                                               "retrying after failure")
                        continue
                    reason = self._check(half, now)
                    if reason is not None:
                        lost[direction] = (half, reason)
                if lost:
                    try:
                        self._recover(lost)
                    except Exception:  # never let the supervisor die: retry next round
                        log.exception("device stream recovery failed")

    def _recover(self, lost: dict[str, tuple[_Half, str]]) -> None:
        for direction, (half, reason) in lost.items():
            if self._halves[direction] is half:
                self._losses[direction] += 1
                self._recent_losses[direction].append((half.device.name, time.monotonic()))
                self._emit(StreamEvent("lost", direction, None, half.device.name,
                                       time.monotonic() - (half.last_callback or half.opened_at),
                                       reason))
        # Close everything: PortAudio's re-enumeration would close open streams anyway.
        old = dict(self._halves)
        self._close_all()
        if audio.streams_open() == 0:
            try:
                audio.rescan()
            except DeviceError as exc:
                log.debug("no rescan: %s", exc)
        devices = list_devices(self.backend)
        for direction in self._directions:
            was = old.get(direction)
            if direction not in lost and was is not None and not any(
                    d.name == was.device.name and d.has(direction) for d in devices):
                # The other direction's device went too (a headset is both).
                was.gone = True
                lost[direction] = (was, "the device was removed")
                self._losses[direction] += 1
                self._emit(StreamEvent("lost", direction, None, was.device.name,
                                       time.monotonic() - (was.last_callback or was.opened_at),
                                       "the device was removed"))
        for direction in self._directions:
            half_reason = lost.get(direction)
            previous = self._current[direction]
            candidates = (self._candidates(direction, previous, devices, half_reason[0].gone)
                          if half_reason
                          else [d for d in devices if d.name == previous.name and d.has(direction)]
                          or self._candidates(direction, None, devices))
            since = (half_reason[0].last_callback or half_reason[0].opened_at) if half_reason else 0.0
            chosen = None
            for dev in candidates:
                try:
                    half = self._open(direction, dev)
                except DeviceError as exc:
                    log.info("fallback candidate failed: %s", exc)
                    continue
                self._halves[direction] = half
                self._start(half)
                chosen = dev
                break
            if chosen is None:
                self._failed_since[direction] = time.monotonic()
                if half_reason and half_reason[1] != "retrying after failure":
                    self._emit(StreamEvent("failed", direction, None, previous.name,
                                           time.monotonic() - since,
                                           "no device could be opened; retrying every second"))
                continue
            self._failed_since.pop(direction, None)
            self._current[direction] = chosen
            if half_reason:
                kind = "reopened" if chosen.name == previous.name else "fallback"
                self._emit(StreamEvent(kind, direction, chosen.name, previous.name,
                                       time.monotonic() - since, half_reason[1]))
