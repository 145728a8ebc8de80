"""offhook: a softphone media engine with Python bindings."""
from importlib.metadata import PackageNotFoundError, version

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

try:
    __version__ = version("offhook")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0+unknown"

__all__ = [
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
