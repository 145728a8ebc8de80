"""A thin adapter over the ``hid`` PyPI package (ctypes bindings of hidapi).

This is the only HID code left untested: no virtual HID device can exist on the
machines offhook is tested on (no uhid, no USB), so hidapi enumerates nothing there.
It therefore does nothing but move bytes -- the descriptor, input reports, output
reports -- between hidapi and the tested, sans-I/O parts (descriptor.py, telephony.py,
leds.py).  ``hid`` is imported only when a function here is called, so the rest of
offhook works without hidapi installed; it needs hidapi >= 0.14 for the report
descriptor.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from offhook.devices.hid.usages import TELEPHONY_PAGE
from offhook.errors import DeviceError

__all__ = ["HidDevice", "HidDeviceInfo", "enumerate_devices", "open_device"]


def _hid() -> Any:
    try:
        return importlib.import_module("hid")
    except ImportError as exc:  # the package, or the hidapi library it loads, is missing
        raise DeviceError(f"USB headset support needs hidapi: pip install hid, and install the "
                          f"hidapi library (Debian: libhidapi-hidraw0) ({exc})") from exc


@dataclass(frozen=True)
class HidDeviceInfo:
    """One HID interface as hidapi lists it (a device has one per top-level collection
    on some platforms)."""

    path: bytes
    vendor_id: int
    product_id: int
    product: str
    manufacturer: str
    serial_number: str
    usage_page: int
    usage: int
    interface_number: int


def enumerate_devices(vendor_id: int = 0, usage_page: int | None = TELEPHONY_PAGE) -> list[HidDeviceInfo]:
    """HID interfaces of `vendor_id` (0: any) whose top-level usage page is
    `usage_page` (None: any page; Linux's hidraw reports only the first collection's)."""
    found = []
    for entry in _hid().enumerate(vendor_id, 0):
        info = HidDeviceInfo(
            path=bytes(entry.get("path") or b""),
            vendor_id=int(entry.get("vendor_id") or 0),
            product_id=int(entry.get("product_id") or 0),
            product=str(entry.get("product_string") or ""),
            manufacturer=str(entry.get("manufacturer_string") or ""),
            serial_number=str(entry.get("serial_number") or ""),
            usage_page=int(entry.get("usage_page") or 0),
            usage=int(entry.get("usage") or 0),
            interface_number=int(entry.get("interface_number") or -1),
        )
        if usage_page is None or info.usage_page == usage_page:
            found.append(info)
    return found


class HidDevice:
    """An open HID interface: its report descriptor, and raw report reads and writes."""

    def __init__(self, handle: Any, error: type[Exception]) -> None:
        self._handle = handle
        self._error = error  # hid.HIDException: an unplugged device raises it

    def _call(self, what: str, method: str, *args: object) -> Any:
        try:
            return getattr(self._handle, method)(*args)
        except self._error as exc:
            raise DeviceError(f"HID {what} failed: {exc} (was the device unplugged?)") from exc

    def get_report_descriptor(self) -> bytes:
        return bytes(self._call("get_report_descriptor", "get_report_descriptor", 4096))

    def read(self, size: int = 64, timeout_ms: int | None = None) -> bytes:
        """One input report (ID byte first when the device uses IDs); b"" on timeout."""
        return bytes(self._call("read", "read", size, timeout_ms))

    def write(self, report: bytes) -> int:
        """Send one output report, ID byte first (0x00 when the device uses no IDs)."""
        return int(self._call("write", "write", bytes(report)))

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> HidDevice:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_device(path: bytes) -> HidDevice:
    """Open the interface at `path` (from :func:`enumerate_devices`)."""
    hid = _hid()
    try:
        return HidDevice(hid.Device(path=path), hid.HIDException)
    except hid.HIDException as exc:
        raise DeviceError(f"cannot open HID device {path!r}: {exc} (on Linux, check the "
                          f"permissions of /dev/hidraw*)") from exc
