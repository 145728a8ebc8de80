"""The HID usages a headset or USB phone speaks, as extended usages (page << 16 | id).

Source: USB-IF "HID Usage Tables", version 1.12 -- §11 LED Page (0x08) and §14
Telephony Device Page (0x0B); the IDs are unchanged in later versions.  Usage types
(§3.4): OOC on/off control, MC momentary control, OSC one-shot control, Sel selector.
Cross-checked against the Windows SDK's hidusage.h constants (HID_USAGE_LED_OFF_HOOK
= 0x17, HID_USAGE_LED_MICROPHONE = 0x21, HID_USAGE_TELEPHONY_REDIAL = 0x24...).
"""
from __future__ import annotations

__all__ = [
    "BUTTON_PAGE",
    "LED_HOLD",
    "LED_MICROPHONE",
    "LED_MUTE",
    "LED_OFF_HOOK",
    "LED_PAGE",
    "LED_RING",
    "TELEPHONY_FLASH",
    "TELEPHONY_HEADSET",
    "TELEPHONY_HOOK_SWITCH",
    "TELEPHONY_LINE_BUSY_TONE",
    "TELEPHONY_PAGE",
    "TELEPHONY_PHONE",
    "TELEPHONY_PHONE_MUTE",
    "TELEPHONY_REDIAL",
    "TELEPHONY_RINGER",
    "usage",
]

LED_PAGE = 0x08
BUTTON_PAGE = 0x09
TELEPHONY_PAGE = 0x0B


def usage(page: int, usage_id: int) -> int:
    """The extended usage of `usage_id` on `page`."""
    if not 0 <= page <= 0xFFFF or not 0 <= usage_id <= 0xFFFF:
        raise ValueError(f"usage page 0x{page:X} and usage ID 0x{usage_id:X} must each fit 16 bits")
    return page << 16 | usage_id


# Telephony Device Page (0x0B), HUT 1.12 §14.
TELEPHONY_PHONE = usage(TELEPHONY_PAGE, 0x01)            # CA: application collection of a phone
TELEPHONY_HEADSET = usage(TELEPHONY_PAGE, 0x05)          # CL: application collection of a headset
TELEPHONY_HOOK_SWITCH = usage(TELEPHONY_PAGE, 0x20)      # OOC: off-hook when on
TELEPHONY_FLASH = usage(TELEPHONY_PAGE, 0x21)            # MC: hook flash (swap calls)
TELEPHONY_REDIAL = usage(TELEPHONY_PAGE, 0x24)           # OSC: last-number redial
TELEPHONY_PHONE_MUTE = usage(TELEPHONY_PAGE, 0x2F)       # OOC: microphone muted
TELEPHONY_LINE_BUSY_TONE = usage(TELEPHONY_PAGE, 0x97)   # Sel: another device holds the line
TELEPHONY_RINGER = usage(TELEPHONY_PAGE, 0x9E)           # OOC: the device's own ringer

# LED Page (0x08), HUT 1.12 §11.
LED_MUTE = usage(LED_PAGE, 0x09)
LED_OFF_HOOK = usage(LED_PAGE, 0x17)
LED_RING = usage(LED_PAGE, 0x18)
LED_HOLD = usage(LED_PAGE, 0x20)
LED_MICROPHONE = usage(LED_PAGE, 0x21)
