"""offhook.phone: the softphone — Phone, Call, configuration, history, contacts.

    from offhook.phone import Phone, load_config
    async with Phone(load_config()) as phone:
        call = await phone.call("bob")
        await call.wait_answered()
"""
from offhook.phone.audio import (
    CallAudio,
    LocalAudio,
    NullAudio,
    NullLocalAudio,
    ToneAudio,
    ToneRecorder,
    WavAudio,
)
from offhook.phone.call import Call, CallError
from offhook.phone.config import (
    AccountConfig,
    AudioConfig,
    ConfigError,
    HidConfig,
    PhoneConfig,
    PolicyConfig,
    load_config,
    parse_config,
)
from offhook.phone.contacts import Contact, Contacts, ContactsError
from offhook.phone.dialing import DialError, resolve_target
from offhook.phone.events import (
    CallState,
    CallStateChanged,
    DeviceChanged,
    DtmfReceived,
    NetworkChanged,
    PhoneEvent,
    RegistrationChanged,
)
from offhook.phone.history import History, HistoryEntry, HistoryError
from offhook.phone.mos import CallQuality, mos_from_r, quality_from_stats, r_factor
from offhook.phone.phone import Phone, PhoneError

__all__ = [
    "AccountConfig", "AudioConfig", "Call", "CallAudio", "CallError", "CallQuality", "CallState",
    "CallStateChanged", "ConfigError", "Contact", "Contacts", "ContactsError", "DeviceChanged", "DialError",
    "DtmfReceived", "HidConfig", "History", "HistoryEntry", "HistoryError", "LocalAudio", "NetworkChanged",
    "NullAudio",
    "NullLocalAudio", "Phone",
    "PhoneConfig", "PhoneError", "PhoneEvent", "PolicyConfig", "RegistrationChanged", "ToneAudio",
    "ToneRecorder", "WavAudio", "load_config", "mos_from_r", "parse_config", "quality_from_stats",
    "r_factor", "resolve_target",
]
