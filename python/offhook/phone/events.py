"""What the phone tells its front-end: call states and events, registration states."""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from offhook.phone.call import Call

__all__ = ["CallState", "CallStateChanged", "DeviceChanged", "DtmfReceived", "NetworkChanged", "PhoneEvent",
           "RegistrationChanged"]


class CallState(Enum):
    """A call as the user sees it (events carry the new state)."""

    INCOMING = "incoming"          # ringing here, not answered
    DIALING = "dialing"            # INVITE sent, nothing back yet
    RINGING = "ringing"            # the far end rings (180); local ringback plays
    EARLY_MEDIA = "early media"    # the far end sends audio before answering (183)
    ACTIVE = "active"              # answered, talking
    HELD = "held"                  # we put it on hold
    REMOTE_HELD = "remote hold"    # the far end put us on hold
    TRANSFERRED = "transferred"    # handed over to someone else (it ends next)
    ENDED = "ended"                # over: `call.reason` says why

    @property
    def live(self) -> bool:
        return self not in (CallState.ENDED, CallState.TRANSFERRED)


@dataclass(frozen=True, eq=False)
class CallStateChanged:
    call: Call
    state: CallState
    reason: str = ""


@dataclass(frozen=True)
class RegistrationChanged:
    account: str
    state: str          # "registering", "registered", "failed", "unregistered", "no network"
    reason: str = ""


@dataclass(frozen=True, eq=False)
class DtmfReceived:
    call: Call
    digit: str
    duration_ms: int


@dataclass(frozen=True)
class DeviceChanged:
    """A sound device of the phone changed under it (devices/stream.py's StreamEvent).

    kind: "lost" (the device stopped delivering: unplugged), "fallback" (now on another
    device: `device`), "reopened" (the same device again after a glitch), "failed" (no
    device could be opened; retried every second).  direction: "capture" or "playback".
    device: the device now in use (None after "lost"/"failed"); previous: the one before.
    elapsed: seconds from the lost device's last good callback to this event.  Calls are
    never dropped for it: their audio carries on on the new device.
    """

    kind: str
    direction: str
    device: str | None
    previous: str | None
    reason: str = ""
    elapsed: float = 0.0


@dataclass(frozen=True)
class NetworkChanged:
    """The machine's network (phone/network.py).  kind: "lost" (no usable address or no
    default route any more: registrations show "no network"), "back" (every account
    re-registers at once), "changed" (still up, other addresses: re-registered, with a
    new contact where the local address changed).  addresses: the usable local addresses
    now; previous: before."""

    kind: str
    addresses: tuple[str, ...]
    previous: tuple[str, ...] = ()


PhoneEvent = CallStateChanged | RegistrationChanged | DtmfReceived | DeviceChanged | NetworkChanged
