"""Hot-plug: notice sound devices being added and removed.

    with DeviceMonitor(on_change=print) as monitor:   # DeviceChange("removed", "Jabra ...", "input")
        ...

A :class:`DeviceMonitor` keeps a snapshot of PortAudio's device names per direction and
reports the differences as :class:`DeviceChange` events.  Two things make this less
simple than polling ``list_devices``:

- PortAudio caches its device list; rebuilding it (``audio.rescan``) closes every open
  stream of the process.  So a scan re-enumerates in-process only while no offhook
  device stream is open, and otherwise asks a short-lived child process (its own
  PortAudio, ~0.1 s) — the streams in use are never disturbed.
- Scanning costs that much each time, so the monitor does not poll fast.  When a
  PulseAudio (or PipeWire-pulse) server answers ``pactl``, the monitor listens to its
  events (``pactl subscribe``: a sink, source or card came or went) and scans right
  after each, then again 0.4 s later (the ALSA side of a re-plug may settle after the
  sound server's); it still polls as a safety net, every ``max(interval, 5)`` seconds.
  Without a sound server it polls every ``interval`` seconds (default 1 s): with a
  stream open that is ~0.05 s of CPU per scan, ~5 % of a core at 1 s.

Callbacks run on the monitor's thread; keep them short.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Literal

from offhook.devices import audio
from offhook.errors import DeviceError

__all__ = ["DeviceChange", "DeviceMonitor", "snapshot"]

log = logging.getLogger("offhook.devices")

Direction = Literal["input", "output"]
Snapshot = frozenset[tuple[str, str]]  # (name, "input" | "output")

_EVENT_POLL_S = 5.0  # safety-net polling when PulseAudio events drive the scans

# A fresh PortAudio in a child process: lists (name, inputs, outputs) without touching ours.
_CHILD = r"""
import ctypes, ctypes.util, json, sys
lib = ctypes.CDLL(ctypes.util.find_library("portaudio") or "libportaudio.so.2")
class Info(ctypes.Structure):
    _fields_ = [("version", ctypes.c_int), ("name", ctypes.c_char_p), ("hostapi", ctypes.c_int),
                ("inputs", ctypes.c_int), ("outputs", ctypes.c_int)]
lib.Pa_GetDeviceInfo.restype = ctypes.POINTER(Info)
if lib.Pa_Initialize() != 0:
    sys.exit(3)
out = []
for i in range(lib.Pa_GetDeviceCount()):
    d = lib.Pa_GetDeviceInfo(i).contents
    out.append([d.name.decode("utf-8", "replace"), d.inputs, d.outputs])
lib.Pa_Terminate()
sys.stdout.write(json.dumps(out))
"""


@dataclass(frozen=True)
class DeviceChange:
    """A device appeared ("added") or disappeared ("removed") for one direction."""

    kind: Literal["added", "removed"]
    name: str
    direction: str
    at: float  # time.monotonic() of the scan that saw it


def _from_pairs(rows: list[tuple[str, int, int]]) -> Snapshot:
    out = set()
    for name, inputs, outputs in rows:
        if inputs > 0:
            out.add((name, "input"))
        if outputs > 0:
            out.add((name, "output"))
    return frozenset(out)


def _child_snapshot() -> Snapshot:
    try:
        result = subprocess.run([sys.executable, "-S", "-c", _CHILD], capture_output=True,
                                text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DeviceError(f"device scan in a child process failed: {exc}") from exc
    if result.returncode != 0:
        raise DeviceError(f"device scan in a child process failed (exit {result.returncode}): "
                          f"{result.stderr.strip()[-300:]}")
    return _from_pairs([(str(n), int(i), int(o)) for n, i, o in json.loads(result.stdout)])


def snapshot(backend: str = "sounddevice") -> Snapshot:
    """The (name, direction) pairs of every device PortAudio would list right now.

    In-process (rescan + list) when no offhook stream is open, else in a child process.
    """
    if audio.streams_open() == 0:
        try:
            audio.rescan()
        except DeviceError:
            pass  # a stream opened meanwhile: ask a child instead
        else:
            devices = audio.list_devices(backend)
            return _from_pairs([(d.name, d.max_input_channels, d.max_output_channels)
                                for d in devices])
    return _child_snapshot()


def _pulse_available() -> bool:
    if shutil.which("pactl") is None:
        return False
    try:
        return subprocess.run(["pactl", "info"], capture_output=True, timeout=2).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


class DeviceMonitor:
    """Watches for sound devices being added and removed.

    backend: whose device list to scan ("sounddevice" or "pyaudio"; both see PortAudio's).
    interval: seconds between polls (0.2..60).
    on_change: called with each :class:`DeviceChange` (from the monitor thread).
    pulse_events: listen to PulseAudio's events (None: when ``pactl`` reaches a server).
    """

    def __init__(self, backend: str = "sounddevice", interval: float = 1.0,
                 on_change: Callable[[DeviceChange], None] | None = None,
                 pulse_events: bool | None = None) -> None:
        if backend not in audio.BACKENDS:
            raise DeviceError(f"unknown audio backend {backend!r}: use one of {', '.join(audio.BACKENDS)}")
        if not 0.2 <= interval <= 60:
            raise DeviceError(f"interval must be 0.2..60 s, got {interval}")
        self.backend = backend
        self.interval = interval
        self.changes: list[DeviceChange] = []
        self.devices: Snapshot = frozenset()
        self._listeners: list[Callable[[DeviceChange], None]] = [on_change] if on_change else []
        self._pulse_events = pulse_events
        self._cond = threading.Condition()
        self._wake_at: list[float] = []
        self._running = False
        self._thread: threading.Thread | None = None
        self._reader: threading.Thread | None = None
        self._events: subprocess.Popen[str] | None = None
        self._scan_lock = threading.Lock()

    def subscribe(self, listener: Callable[[DeviceChange], None]) -> None:
        with self._cond:
            self._listeners.append(listener)

    def unsubscribe(self, listener: Callable[[DeviceChange], None]) -> None:
        with self._cond:
            if listener in self._listeners:
                self._listeners.remove(listener)

    @property
    def uses_pulse_events(self) -> bool:
        return self._events is not None

    def scan(self) -> list[DeviceChange]:
        """Scans now; reports and returns what changed since the previous scan."""
        with self._scan_lock:
            now = time.monotonic()
            current = snapshot(self.backend)
            previous = self.devices
            self.devices = current
            changes = ([DeviceChange("removed", n, d, now) for n, d in sorted(previous - current)]
                       + [DeviceChange("added", n, d, now) for n, d in sorted(current - previous)])
        for change in changes:
            log.info("audio device %s: %r (%s)", change.kind, change.name, change.direction)
            with self._cond:
                self.changes.append(change)
                listeners = list(self._listeners)
                self._cond.notify_all()
            for listener in listeners:
                try:
                    listener(change)
                except Exception:
                    log.exception("device monitor listener failed")
        return changes

    def start(self) -> DeviceMonitor:
        """Takes the first snapshot (no events for it) and starts watching."""
        if self._running:
            return self
        self.devices = snapshot(self.backend)
        self._running = True
        use_pulse = self._pulse_events if self._pulse_events is not None else _pulse_available()
        if use_pulse:
            try:
                self._events = subprocess.Popen(["pactl", "subscribe"], stdout=subprocess.PIPE,
                                                stderr=subprocess.DEVNULL, text=True, bufsize=1,
                                                env=dict(os.environ, LC_ALL="C"))
            except OSError as exc:
                log.info("no PulseAudio events (%s): polling every %.1f s", exc, self.interval)
            else:
                self._reader = threading.Thread(target=self._read_events, args=(self._events.stdout,),
                                                name="offhook-devmon-events", daemon=True)
                self._reader.start()
        self._thread = threading.Thread(target=self._run, name="offhook-devmon", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._cond:
            self._running = False
            self._cond.notify_all()
        if self._events is not None:
            self._events.terminate()  # by pid: the pactl this monitor started
            try:
                self._events.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self._events.kill()
                self._events.wait()
            self._events = None
        for thread in (self._thread, self._reader):
            if thread is not None and thread is not threading.current_thread():
                thread.join(timeout=5)
        self._thread = self._reader = None

    def __enter__(self) -> DeviceMonitor:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_change(self, kind: str, name: str, timeout: float, direction: str | None = None
                    ) -> DeviceChange | None:
        """The first recorded change of `kind` for device `name` (and `direction`),
        waiting up to `timeout` seconds; None if it did not come."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for change in self.changes:
                    if (change.kind == kind and change.name == name
                            and (direction is None or change.direction == direction)):
                        return change
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)

    # -- threads ----------------------------------------------------------------------
    def _read_events(self, stream: IO[str] | None) -> None:
        if stream is None:
            return
        for line in stream:
            # "Event 'remove' on sink #3": only devices coming or going matter.
            words = line.split()
            if (len(words) >= 4 and words[1] in ("'new'", "'remove'")
                    and words[3] in ("sink", "source", "card")):
                now = time.monotonic()
                with self._cond:
                    self._wake_at.extend((now + 0.05, now + 0.4))
                    self._cond.notify_all()

    def _run(self) -> None:
        interval = max(self.interval, _EVENT_POLL_S) if self._events is not None else self.interval
        next_poll = time.monotonic() + interval
        while True:
            with self._cond:
                while self._running:
                    now = time.monotonic()
                    due = min([next_poll, *self._wake_at])
                    if due <= now:
                        break
                    self._cond.wait(due - now)
                if not self._running:
                    return
                now = time.monotonic()
                self._wake_at = [t for t in self._wake_at if t > now]
            try:
                self.scan()
            except DeviceError as exc:
                log.warning("device scan failed: %s", exc)
            next_poll = time.monotonic() + interval
