"""Sound cards and headsets through PortAudio: enumeration and selection by name.

Two backends share one interface: ``sounddevice`` (the default) and ``PyAudio``.
Both wrap the same ``libportaudio.so.2`` loaded once per process, so they also share
its device list, which PortAudio builds once at initialisation and caches:

    devices = list_devices()                     # [DeviceInfo(name="Jabra Evolve 40 (USB)", ...)]
    mic = find_device("jabra", kind="input")     # exact name first, then case-insensitive substring
    rescan()                                     # after a hot-plug: rebuild PortAudio's list

Devices are chosen by name, never by index: indices shift whenever a device is added
or removed, names do not (ALSA card names, PulseAudio descriptions).

Choices and limits:
- PortAudio counts its initialisations; a rescan only happens when the count drops to
  zero.  sounddevice holds one from import on, so :func:`rescan` re-initialises it, and
  the PyAudio backend opens and terminates its own instance around each listing so that
  it never pins a stale list.  A real re-initialisation closes every PortAudio stream of
  the process: rescan between calls, not under an open stream.
- ``looks_like_usb_headset`` is a heuristic on the name (bus "USB", headset/handset/
  speakerphone words, brands that make telephony headsets); the HID layer
  (``offhook.devices.hid``) is the reliable signal when the device exposes one.
- Channel counts are what PortAudio reports; through the ALSA ``pulse`` plugin they are
  32/32 whatever the device really has.
"""
from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from offhook.errors import DeviceError, DeviceNotFoundError

Backend = Literal["sounddevice", "pyaudio"]
Kind = Literal["input", "output"]

BACKENDS: tuple[str, ...] = ("sounddevice", "pyaudio")
KINDS: tuple[str, ...] = ("input", "output")

__all__ = [
    "BACKENDS",
    "KINDS",
    "Backend",
    "DeviceInfo",
    "Kind",
    "find_device",
    "list_devices",
    "looks_like_usb_headset",
    "rescan",
    "streams_open",
]

# Words that mark a telephony headset, handset or USB sound device in a device name.
_HEADSET_WORDS = re.compile(
    r"\b(usb|headset|headphones?|handset|speakerphone|earpiece|"
    r"jabra|plantronics|poly|polycom|yealink|sennheiser|epos|logitech|"
    r"evolve|blackwire|savi|voyager|engage|biz)\b",
    re.IGNORECASE,
)

# PortAudio is not thread-safe around (re)initialisation and enumeration.
_lock = threading.Lock()
# PortAudio streams offhook holds open (offhook.devices.stream): a re-initialisation
# would close them under their owners, so rescan() refuses while any is open.
_open_streams = 0


def looks_like_usb_headset(name: str) -> bool:
    """Whether a device name suggests a USB headset or phone (a guess from the name only)."""
    return _HEADSET_WORDS.search(name) is not None


@dataclass(frozen=True)
class DeviceInfo:
    """One PortAudio device as a backend reports it.

    ``index`` is only valid until the next :func:`rescan`; keep ``name`` to find the
    device again.  Rates are in Hz.
    """

    name: str
    hostapi: str
    max_input_channels: int
    max_output_channels: int
    default_samplerate: float
    is_default_input: bool
    is_default_output: bool
    looks_like_usb_headset: bool
    backend: str
    index: int

    @property
    def is_input(self) -> bool:
        return self.max_input_channels > 0

    @property
    def is_output(self) -> bool:
        return self.max_output_channels > 0

    def has(self, kind: str) -> bool:
        """Whether the device can be used for `kind` ("input" or "output")."""
        return self.is_input if _check_kind(kind) == "input" else self.is_output


def _check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise DeviceError(f"unknown device kind {kind!r}: use 'input' or 'output'")
    return kind


def _import(backend: str) -> Any:
    if backend == "sounddevice":
        module = "sounddevice"
    elif backend == "pyaudio":
        module = "pyaudio"
    else:
        raise DeviceError(f"unknown audio backend {backend!r}: use one of {', '.join(BACKENDS)}")
    try:
        return __import__(module)
    except (ImportError, OSError) as exc:  # sounddevice raises OSError without libportaudio
        raise DeviceError(
            f"audio backend {backend!r} is unavailable ({exc}); "
            "install it with `pip install offhook[audio]` and the system PortAudio "
            "(Debian: libportaudio2, and portaudio19-dev to build PyAudio)"
        ) from exc


def _list_sounddevice(sd: Any) -> list[DeviceInfo]:
    hostapis = sd.query_hostapis()
    try:
        default_api = hostapis[sd.default.hostapi]
        default_in, default_out = default_api["default_input_device"], default_api["default_output_device"]
    except Exception:  # sounddevice raises PortAudioError when there is no host API at all
        default_in = default_out = -1
    devices = []
    for dev in sd.query_devices():
        index = int(dev["index"])
        devices.append(DeviceInfo(
            name=str(dev["name"]),
            hostapi=str(hostapis[dev["hostapi"]]["name"]),
            max_input_channels=int(dev["max_input_channels"]),
            max_output_channels=int(dev["max_output_channels"]),
            default_samplerate=float(dev["default_samplerate"]),
            is_default_input=index == default_in,
            is_default_output=index == default_out,
            looks_like_usb_headset=looks_like_usb_headset(str(dev["name"])),
            backend="sounddevice",
            index=index,
        ))
    return devices


def _default_index(get: Callable[[], Any]) -> int:
    try:
        return int(get()["index"])
    except (OSError, ValueError):  # PyAudio: IOError "No Default ... Device Available"
        return -1


def _list_pyaudio(pyaudio: Any) -> list[DeviceInfo]:
    pa = pyaudio.PyAudio()
    try:
        default_in = _default_index(pa.get_default_input_device_info)
        default_out = _default_index(pa.get_default_output_device_info)
        devices = []
        for index in range(pa.get_device_count()):
            dev = pa.get_device_info_by_index(index)
            name = str(dev["name"])
            devices.append(DeviceInfo(
                name=name,
                hostapi=str(pa.get_host_api_info_by_index(dev["hostApi"])["name"]),
                max_input_channels=int(dev["maxInputChannels"]),
                max_output_channels=int(dev["maxOutputChannels"]),
                default_samplerate=float(dev["defaultSampleRate"]),
                is_default_input=index == default_in,
                is_default_output=index == default_out,
                looks_like_usb_headset=looks_like_usb_headset(name),
                backend="pyaudio",
                index=index,
            ))
        return devices
    finally:
        pa.terminate()  # drop our PortAudio reference so a later rescan is not pinned


def list_devices(backend: str = "sounddevice", kind: str | None = None) -> list[DeviceInfo]:
    """All devices PortAudio knows through `backend`, in PortAudio's order; only those
    usable for `kind` ("input" or "output") when it is given.

    Raises DeviceError for an unknown backend or kind, or when the backend package or
    the PortAudio library is missing.
    """
    if kind is not None:
        _check_kind(kind)
    module = _import(backend)
    with _lock:
        devices = _list_sounddevice(module) if backend == "sounddevice" else _list_pyaudio(module)
    return [d for d in devices if kind is None or d.has(kind)]


def find_device(name: str, kind: str = "input", backend: str = "sounddevice",
                devices: Sequence[DeviceInfo] | None = None) -> DeviceInfo:
    """The device usable for `kind` called `name`: an exact name match first, then the
    only device whose name contains `name` ignoring case.

    `devices` searches a list already obtained from :func:`list_devices` instead of
    asking the backend again.  Raises DeviceNotFoundError (a DeviceError and a
    LookupError) when no device or more than one matches; its message lists the
    names available for `kind`.
    """
    _check_kind(kind)
    if not isinstance(name, str) or not name.strip():
        raise DeviceError(f"a device name must be a non-empty string, not {name!r}")
    candidates = [d for d in (list_devices(backend) if devices is None else devices) if d.has(kind)]
    available = tuple(d.name for d in candidates)
    exact = [d for d in candidates if d.name == name]
    if exact:
        return exact[0]
    wanted = name.casefold()
    partial = [d for d in candidates if wanted in d.name.casefold()]
    if len(partial) == 1:
        return partial[0]
    listing = ", ".join(repr(n) for n in available) or "none"
    if partial:
        names = ", ".join(repr(d.name) for d in partial)
        message = f"{kind} device name {name!r} is ambiguous: it matches {names}; give more of the name"
    else:
        message = f"no {kind} device matches {name!r}; available {kind} devices: {listing}"
    raise DeviceNotFoundError(message, name=name, kind=kind, available=available)


def streams_open() -> int:
    """How many PortAudio streams offhook's device streams hold open in this process."""
    return _open_streams


def _track_stream(delta: int) -> None:
    global _open_streams
    with _lock:
        _open_streams += delta


def rescan() -> None:
    """Make PortAudio build its device list again (after a device was added or removed).

    Re-initialises sounddevice's PortAudio session, which also serves PyAudio (the
    library is shared).  A re-initialisation closes every PortAudio stream of the
    process, so this raises DeviceError while offhook device streams are open
    (:func:`streams_open`); ``offhook.devices.monitor`` lists devices in a child
    process meanwhile.
    """
    with _lock:
        if _open_streams:
            raise DeviceError(
                f"cannot rescan audio devices while {_open_streams} offhook device stream(s) are "
                "open: PortAudio's re-initialisation would close them; stop the streams first")
        try:
            import sounddevice as sd
        except (ImportError, OSError):
            return  # PyAudio alone opens a fresh PortAudio session per listing
        sd._terminate()
        sd._initialize()
