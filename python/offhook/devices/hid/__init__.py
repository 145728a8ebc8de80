"""USB HID telephony for headsets and USB phones, sans I/O.

    descriptor = parse_report_descriptor(device.get_report_descriptor())
    decoder = TelephonyDecoder(descriptor)
    decoder.feed(device.read())                    # -> [PhoneAction.ANSWER], ...
    for report in IndicatorEncoder(descriptor).encode(IndicatorState(off_hook=True)):
        device.write(report)

``adapter`` (hidapi through the ``hid`` package) is imported on demand only.
"""
from offhook.devices.hid.descriptor import (
    Collection,
    MainFlags,
    ReportDescriptor,
    ReportField,
    ReportKind,
    parse_report_descriptor,
)
from offhook.devices.hid.leds import IndicatorEncoder, IndicatorState
from offhook.devices.hid.report import build_report, field_values, pack_report, split_report, usage_values
from offhook.devices.hid.telephony import Control, ControlShape, PhoneAction, TelephonyDecoder, find_controls
from offhook.errors import DeviceError, HidDescriptorError, HidReportError

__all__ = [
    "Collection",
    "Control",
    "ControlShape",
    "DeviceError",
    "HidDescriptorError",
    "HidReportError",
    "IndicatorEncoder",
    "IndicatorState",
    "MainFlags",
    "PhoneAction",
    "ReportDescriptor",
    "ReportField",
    "ReportKind",
    "TelephonyDecoder",
    "build_report",
    "field_values",
    "find_controls",
    "pack_report",
    "parse_report_descriptor",
    "split_report",
    "usage_values",
]
