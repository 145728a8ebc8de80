"""Audio devices, headsets and USB phones.

``offhook.devices.audio``: sound cards and headsets through PortAudio (sounddevice or
PyAudio): list them, pick one by name, rescan after a hot-plug.

``offhook.devices.stream``: :class:`DeviceStream`, a capture and a playback device
feeding an :class:`offhook.engine.DevicePort` (the engine's side: ``push_playback`` /
``pull_capture`` at the engine rate), with fallback when a device is unplugged.

``offhook.devices.monitor``: :class:`DeviceMonitor`, devices added and removed.

``offhook.devices.probing``: :func:`probe`, round-trip latency, noise floor, clipping and
echo coupling of a device pair, with a report and a PNG plot (``offhook probe``).

``offhook.devices.hid``: the USB HID telephony layer (hook switch, mute, flash,
redial buttons in; off-hook, mute, ring LEDs out) of headsets and USB phones.
"""
from offhook.devices.audio import DeviceInfo, find_device, list_devices, rescan
from offhook.devices.monitor import DeviceChange, DeviceMonitor
from offhook.devices.probing import ProbeReport, probe
from offhook.devices.stream import DeviceStream, StreamEvent

__all__ = [
    "DeviceChange",
    "DeviceInfo",
    "DeviceMonitor",
    "DeviceStream",
    "ProbeReport",
    "StreamEvent",
    "find_device",
    "list_devices",
    "probe",
    "rescan",
]
