"""offhook: a softphone media engine with Python bindings."""
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

from offhook import sip
from offhook.errors import (
    CampaignError,
    CodecError,
    CtiConfigError,
    CtiError,
    DeviceError,
    DeviceNotFoundError,
    DirectoryError,
    DnsError,
    EchoCancellerError,
    HidDescriptorError,
    HidReportError,
    MediaError,
    MixerError,
    NegotiationError,
    NumberFormatError,
    OffhookError,
    ResamplerError,
    RtpError,
    SdpError,
    SipAuthError,
    SipParseError,
    SrtpError,
    ToneError,
    WavError,
)

if TYPE_CHECKING:
    from offhook.phone import Call, Phone


def __getattr__(name: str) -> object:
    """offhook.Phone / offhook.Call (DESIGN.md's names), imported on first use: the softphone
    pulls in the media engine, which `import offhook` alone should not."""
    if name in ("Phone", "Call"):
        from offhook import phone
        return getattr(phone, name)
    raise AttributeError(f"module 'offhook' has no attribute {name!r}")


try:
    __version__ = version("offhook")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0+unknown"

__all__ = [
    "Call",
    "CampaignError",
    "CodecError",
    "CtiConfigError",
    "CtiError",
    "DeviceError",
    "DeviceNotFoundError",
    "DirectoryError",
    "DnsError",
    "EchoCancellerError",
    "HidDescriptorError",
    "HidReportError",
    "MediaError",
    "MixerError",
    "NegotiationError",
    "NumberFormatError",
    "OffhookError",
    "Phone",
    "ResamplerError",
    "RtpError",
    "SdpError",
    "SipAuthError",
    "SipParseError",
    "SrtpError",
    "ToneError",
    "WavError",
    "__version__",
    "sip",
]
