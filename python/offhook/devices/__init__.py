"""Audio devices, headsets and USB phones.

``offhook.devices.audio``: sound cards and headsets through PortAudio (sounddevice or
PyAudio): list them, pick one by name, rescan after a hot-plug.

``offhook.devices.hid``: the USB HID telephony layer (hook switch, mute, flash,
redial buttons in; off-hook, mute, ring LEDs out) of headsets and USB phones.
"""
