"""Turn a headset's or USB phone's input reports into phone actions, sans I/O.

The buttons are the Telephony page's Hook Switch (OOC), Phone Mute (OOC), Flash (MC)
and Redial (OSC) (HID Usage Tables 1.12 §14; see usages.py).  An on/off control comes
in one of three shapes (HUT §3.4.1.2), and real headsets use all of them:

- ABSOLUTE (Input flags Absolute): the bit *is* the state -- 1 off-hook, 0 on-hook,
  repeated in every report.  Jabra and Poly descriptors declare the hook switch so.
- TOGGLE (Relative, logical minimum 0): the bit is 1 while the button is held and
  each press toggles the state.  Phone Mute is nearly always a toggle; some
  headsets (and USB dongles) report the hook switch this way too.
- UP_DOWN (Relative, logical minimum -1): +1 asserts on, -1 asserts off.

Every control fires on an edge only, so a button held across many reports, or a
state repeated in every report, gives one action.  The decoder keeps the phone's hook
and mute state; when the application changes it (answers from its own window, the
far end hangs up) it calls :meth:`TelephonyDecoder.sync`, and an absolute control
that then catches up (the headset echoing the host's off-hook LED) is not mistaken
for a new press.

Array fields holding these usages are read as the usage being 1 while it is listed.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass

from offhook.devices.hid.descriptor import ReportDescriptor, ReportField, ReportKind
from offhook.devices.hid.report import field_values, split_report
from offhook.devices.hid.usages import (
    TELEPHONY_FLASH,
    TELEPHONY_HOOK_SWITCH,
    TELEPHONY_PHONE_MUTE,
    TELEPHONY_REDIAL,
)

__all__ = ["Control", "ControlShape", "PhoneAction", "TelephonyDecoder", "find_controls"]


class PhoneAction(enum.Enum):
    """What the user asked for on the device."""

    ANSWER = "answer"      # went off-hook: answer the ringing call, or pick up the line to dial
    HANG_UP = "hang_up"    # went on-hook: end the call (or reject the ringing one)
    MUTE = "mute"
    UNMUTE = "unmute"
    FLASH = "flash"        # hook flash: swap between the active and the held call
    REDIAL = "redial"


class ControlShape(enum.Enum):
    ABSOLUTE = "absolute"
    TOGGLE = "toggle"
    UP_DOWN = "up_down"


_BUTTONS = (TELEPHONY_HOOK_SWITCH, TELEPHONY_PHONE_MUTE, TELEPHONY_FLASH, TELEPHONY_REDIAL)


@dataclass(frozen=True)
class Control:
    """One button found in the descriptor: its usage, shape, and where it lies."""

    usage: int
    shape: ControlShape
    report_id: int
    field: ReportField
    element: int | None  # element index in a variable field; None for an array field

    def value(self, elements: list[int]) -> int:
        if self.element is not None:
            return elements[self.element]
        return int(any(self.field.usage_for_value(v) == self.usage for v in elements))


def _shape(field: ReportField) -> ControlShape:
    if not field.is_relative:
        return ControlShape.ABSOLUTE
    return ControlShape.UP_DOWN if field.logical_minimum < 0 else ControlShape.TOGGLE


def find_controls(descriptor: ReportDescriptor) -> tuple[Control, ...]:
    """The telephony buttons among `descriptor`'s input fields, in report order."""
    controls = []
    for field in descriptor.fields:
        if field.kind is not ReportKind.INPUT or field.is_constant:
            continue
        if field.is_variable:
            # elements past the usage list repeat its last usage: the first one is enough
            for index in range(min(field.count, field.usage_count)):
                usage = field.usage(index)
                if usage in _BUTTONS:
                    controls.append(Control(usage, _shape(field), field.report_id, field, index))
        else:
            for usage in _BUTTONS:
                if field.covers(usage):
                    controls.append(Control(usage, _shape(field), field.report_id, field, None))
    return tuple(controls)


class TelephonyDecoder:
    """Feed it every input report read from the device; it returns the phone actions.

        decoder = TelephonyDecoder(parse_report_descriptor(device.report_descriptor))
        for action in decoder.feed(device.read()):
            ...

    `off_hook` and `muted` start as given (the phone's state when the device was
    opened) and follow the actions returned; call :meth:`sync` when the application
    changes them itself.
    """

    def __init__(self, descriptor: ReportDescriptor, *, off_hook: bool = False, muted: bool = False) -> None:
        self.descriptor = descriptor
        self.controls = find_controls(descriptor)
        self.off_hook = off_hook
        self.muted = muted
        # Last value seen per control; absolute controls start from the phone's state.
        self._last: list[int] = [self._initial(c) for c in self.controls]

    def _initial(self, control: Control) -> int:
        if control.shape is ControlShape.ABSOLUTE:
            if control.usage == TELEPHONY_HOOK_SWITCH:
                return int(self.off_hook)
            if control.usage == TELEPHONY_PHONE_MUTE:
                return int(self.muted)
        return 0

    @property
    def hook_switch_shape(self) -> ControlShape | None:
        """How the device reports its hook switch (None: it has none)."""
        for control in self.controls:
            if control.usage == TELEPHONY_HOOK_SWITCH:
                return control.shape
        return None

    def sync(self, *, off_hook: bool | None = None, muted: bool | None = None) -> None:
        """Tell the decoder the phone's hook or mute state changed without the device."""
        if off_hook is not None:
            self.off_hook = off_hook
        if muted is not None:
            self.muted = muted

    def feed(self, report: bytes) -> list[PhoneAction]:
        """The actions one input report asks for, in descriptor order (often none).

        Raises HidReportError for a report the descriptor does not define or that is
        too short for it.
        """
        report_id, data = split_report(self.descriptor, ReportKind.INPUT, report)
        actions: list[PhoneAction] = []
        elements: dict[int, list[int]] = {}
        for index, control in enumerate(self.controls):
            if control.report_id != report_id:
                continue
            key = id(control.field)
            if key not in elements:
                elements[key] = field_values(control.field, data)
            value = control.value(elements[key])
            previous = self._last[index]
            self._last[index] = value
            if value == previous:
                continue
            action = self._edge(control, previous, value)
            if action is not None:
                actions.append(action)
        return actions

    def _edge(self, control: Control, previous: int, value: int) -> PhoneAction | None:
        if control.usage == TELEPHONY_HOOK_SWITCH:
            wanted = self._wanted(control.shape, self.off_hook, previous, value)
            if wanted is None or wanted == self.off_hook:
                return None
            self.off_hook = wanted
            return PhoneAction.ANSWER if wanted else PhoneAction.HANG_UP
        if control.usage == TELEPHONY_PHONE_MUTE:
            wanted = self._wanted(control.shape, self.muted, previous, value)
            if wanted is None or wanted == self.muted:
                return None
            self.muted = wanted
            return PhoneAction.MUTE if wanted else PhoneAction.UNMUTE
        if previous <= 0 < value:  # Flash and Redial fire on the press, not the release
            return PhoneAction.FLASH if control.usage == TELEPHONY_FLASH else PhoneAction.REDIAL
        return None

    @staticmethod
    def _wanted(shape: ControlShape, state: bool, previous: int, value: int) -> bool | None:
        if shape is ControlShape.ABSOLUTE:
            return value != 0
        if shape is ControlShape.TOGGLE:
            return (not state) if previous == 0 and value != 0 else None
        if value > 0:
            return True
        return False if value < 0 else None
