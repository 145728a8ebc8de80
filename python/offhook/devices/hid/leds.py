"""Encode the phone's state into the output reports that drive a device's LEDs, sans I/O.

The indicators are the LED page's Off-Hook, Mute, Ring, Hold and Microphone usages
(HID Usage Tables 1.12 §11) and the Telephony page's Ringer (§14), which makes a
headset ring by itself.  Devices differ in how they lay these out: Jabra puts all of
them in one output report, Poly gives each LED a report of its own, some devices have
no report IDs at all.  :meth:`IndicatorEncoder.encode` therefore returns one report
per report ID that holds any indicator, each complete (other bits zero) and
prefixed with its ID byte (0x00 without IDs), ready for hidapi's write().

Headsets treat the host's Off-Hook LED as the call state: after answering on the
device, set ``off_hook=True`` here or some models drop back on-hook after a moment.
HUT leaves the Microphone LED's meaning to the device (some light it while muted),
so it is a state of its own.  Array output fields are not driven.
"""
from __future__ import annotations

from dataclasses import dataclass

from offhook.devices.hid.descriptor import ReportDescriptor, ReportField, ReportKind
from offhook.devices.hid.report import pack_report
from offhook.devices.hid.usages import (
    LED_HOLD,
    LED_MICROPHONE,
    LED_MUTE,
    LED_OFF_HOOK,
    LED_RING,
    TELEPHONY_RINGER,
)

__all__ = ["INDICATOR_USAGES", "IndicatorEncoder", "IndicatorState"]


@dataclass(frozen=True)
class IndicatorState:
    """What the device should show."""

    off_hook: bool = False
    muted: bool = False
    ringing: bool = False
    on_hold: bool = False
    microphone: bool = False


# The state attribute each indicator usage shows.
INDICATOR_USAGES: dict[int, str] = {
    LED_OFF_HOOK: "off_hook",
    LED_MUTE: "muted",
    LED_RING: "ringing",
    TELEPHONY_RINGER: "ringing",
    LED_HOLD: "on_hold",
    LED_MICROPHONE: "microphone",
}


def _level(field: ReportField, on: bool) -> int:
    """1 for on and 0 for off when the logical extent holds them, else its top for on
    and its bottom for off -- kept to what the field's bits can hold, since some
    descriptors declare an extent wider than their report size."""
    bits_low, bits_high = field.value_range
    low, high = max(field.logical_minimum, bits_low), min(field.logical_maximum, bits_high)
    if low > high:  # nothing both legal and representable: the bits' own range it is
        low, high = bits_low, bits_high
    wanted = 1 if on else 0
    if low <= wanted <= high:
        return wanted
    return high if on else low


class IndicatorEncoder:
    """Builds the LED output reports of one device from its descriptor."""

    def __init__(self, descriptor: ReportDescriptor) -> None:
        self.descriptor = descriptor
        # report ID -> [(usage, field, element index)] for every indicator element in it
        self._reports: dict[int, list[tuple[int, ReportField, int]]] = {}
        for field in descriptor.fields:
            if field.kind is not ReportKind.OUTPUT or field.is_constant or not field.is_variable:
                continue
            for index in range(field.count):  # elements past the usage list repeat its last usage
                usage = field.usage(index)
                if usage is not None and usage in INDICATOR_USAGES:
                    self._reports.setdefault(field.report_id, []).append((usage, field, index))

    @property
    def indicators(self) -> frozenset[int]:
        """The indicator usages this device has."""
        return frozenset(usage for entries in self._reports.values() for usage, _, _ in entries)

    @property
    def report_ids(self) -> tuple[int, ...]:
        return tuple(sorted(self._reports))

    def encode(self, state: IndicatorState) -> list[bytes]:
        """One output report per report ID holding an indicator, in ID order."""
        reports = []
        for report_id in sorted(self._reports):
            elements = [(field, index, _level(field, bool(getattr(state, INDICATOR_USAGES[usage]))))
                        for usage, field, index in self._reports[report_id]]
            reports.append(pack_report(self.descriptor, ReportKind.OUTPUT, report_id, elements))
        return reports
