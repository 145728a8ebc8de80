"""Audio devices, headsets and USB phones.

``offhook.devices.hid``: the USB HID telephony layer (hook switch, mute, flash,
redial buttons in; off-hook, mute, ring LEDs out) of headsets and USB phones.
"""
