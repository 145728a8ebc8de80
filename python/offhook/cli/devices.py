"""`offhook devices` (list sound devices) and `offhook probe` (measure a device pair)."""
from __future__ import annotations

import json
import sys
from dataclasses import asdict
from typing import TextIO

from offhook.devices.audio import DeviceInfo, list_devices
from offhook.errors import DeviceError


def _flags(dev: DeviceInfo) -> str:
    flags = []
    if dev.is_default_input:
        flags.append("default-in")
    if dev.is_default_output:
        flags.append("default-out")
    if dev.looks_like_usb_headset:
        flags.append("usb-headset")
    return ",".join(flags)


def run_devices(backend: str = "sounddevice", kind: str | None = None, as_json: bool = False,
                out: TextIO | None = None) -> int:
    """Lists the devices PortAudio sees: name, direction, rate, headset and default flags."""
    out = out or sys.stdout
    try:
        devices = list_devices(backend, kind=kind)
    except DeviceError as exc:
        print(f"offhook devices: {exc}", file=sys.stderr)
        return 1
    if as_json:
        out.write(json.dumps([{**asdict(d), "is_input": d.is_input, "is_output": d.is_output}
                              for d in devices], indent=2) + "\n")
        return 0
    if not devices:
        out.write(f"no audio devices found through {backend}\n")
        return 0
    width = max(len(d.name) for d in devices)
    out.write(f"{'NAME':<{width}}  {'IN':>3} {'OUT':>3}  {'RATE':>6}  {'HOST API':<8}  FLAGS\n")
    for d in devices:
        out.write(f"{d.name:<{width}}  {'in' if d.is_input else '-':>3} {'out' if d.is_output else '-':>3}  "
                  f"{d.default_samplerate:>6.0f}  {d.hostapi:<8}  {_flags(d)}\n")
    out.write(f"({len(devices)} devices through {backend}; choose one by name, e.g. "
              "`offhook probe --device NAME`)\n")
    return 0


def run_probe(capture: str | None, playback: str | None, backend: str = "sounddevice",
              rate: int = 48000, out_dir: str | None = None, as_json: bool = False,
              out: TextIO | None = None) -> int:
    """Plays a sweep and a tone on `playback`, records `capture`, prints the report."""
    out = out or sys.stdout
    from offhook.devices.probing import probe
    try:
        report = probe(capture, playback, backend=backend, rate=rate, out_dir=out_dir)
    except (DeviceError, ValueError) as exc:
        print(f"offhook probe: {exc}", file=sys.stderr)
        return 1
    out.write(report.to_json() + "\n" if as_json else report.to_text())
    if report.files and not as_json:
        out.write(f"  wrote {report.files['text']}, {report.files['json']}, {report.files['png']}\n")
    return 0
