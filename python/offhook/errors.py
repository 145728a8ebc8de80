"""The exception hierarchy: everything offhook raises on bad input derives from OffhookError."""


class OffhookError(Exception):
    """Base of offhook's own errors."""


class CodecError(OffhookError, ValueError):
    """A codec was asked for something it cannot do (unknown name, bad rate, bad payload)."""


class EchoCancellerError(OffhookError, ValueError):
    """An echo canceller was configured or fed with something it cannot use."""


class WavError(OffhookError, ValueError):
    """A WAV file is unreadable, malformed, or not in the format required."""


class ToneError(OffhookError, ValueError):
    """A tone or DTMF request names something unknown or is out of range (tone, digit, rate)."""


class ResamplerError(OffhookError, ValueError):
    """A resampler was asked for an unsupported rate or channel count, or given bad samples."""


class MixerError(OffhookError, ValueError):
    """A conference mixer was asked for an unknown or duplicate participant, a full
    conference, a bad gain, or given a frame of the wrong size."""


class RtpError(OffhookError, ValueError):
    """An RTP, RTCP or RFC 4733 packet is malformed, or a packet API was misused.

    For a refused packet, ``defect`` is the :class:`offhook.engine.PacketDefect`
    naming the check that failed (``TRUNCATED``, ``BAD_VERSION``...), else None.
    """

    def __init__(self, message: str, defect: object = None) -> None:
        super().__init__(message)
        self.defect = defect


class SrtpError(RtpError):
    """SRTP/SRTCP refused a packet (``defect`` AUTH_FAIL, REPLAY...) or bad key material."""


_SIP_REASONS = {
    400: "Bad Request",
    413: "Request Entity Too Large",
    416: "Unsupported URI Scheme",
    501: "Not Implemented",
    505: "Version Not Supported",
    513: "Message Too Large",
}


class SipParseError(OffhookError, ValueError):
    """A SIP message is malformed or exceeds a limit.

    `status` is the response a UAS should answer a request with (400, 413, 416,
    501, 505 or 513) and `reason` its standard phrase; str(error) says what is
    wrong.  `partial` holds the message when its start line and headers could
    be split (so a UAS can copy Via, From, To, Call-ID and CSeq into the error
    response), else None.  A response that fails to parse is never answered:
    drop it.
    """

    def __init__(self, detail: str, *, status: int = 400, partial: object | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status
        self.reason = _SIP_REASONS.get(status, "Bad Request")
        self.partial = partial


class SdpError(OffhookError, ValueError):
    """An SDP body is malformed: `line` is the 1-based line at fault (None when the
    problem is not tied to one line), `reason` says what is wrong with it."""

    def __init__(self, reason: str, line: int | None = None) -> None:
        self.reason = reason
        self.line = line
        super().__init__(f"SDP line {line}: {reason}" if line is not None else f"SDP: {reason}")


class NegotiationError(OffhookError, ValueError):
    """An SDP offer or answer is well formed but cannot be agreed to (no common codec,
    required SRTP missing, m-lines that do not match the offer).  A UAS answers such
    an offer with `status_code`: 488 Not Acceptable Here, or 491 Request Pending when
    offers cross (glare)."""

    def __init__(self, reason: str, status_code: int = 488) -> None:
        self.reason = reason
        self.status_code = status_code
        super().__init__(reason)


class SipAuthError(OffhookError, ValueError):
    """Digest authentication cannot proceed: a malformed challenge or credentials header,
    an unsupported algorithm, or (`status` 401/407) the server refused the credentials
    again. str(error) is a one-line reason such as
    ``authentication failed (401) at 127.0.0.1:5070``; it never contains a password."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class MediaError(OffhookError, ValueError):
    """The media engine or one of its streams was misused (closed, full, unsupported setting)."""


class DeviceError(OffhookError):
    """An audio device, headset or USB phone cannot be found, opened or used."""


class DeviceFormatError(DeviceError, ValueError):
    """An audio device stream or port was given a rate, channel count, frame length or
    buffer it cannot use."""


class HidDescriptorError(DeviceError, ValueError):
    """A HID report descriptor is malformed or exceeds a limit: `offset` is the byte
    offset of the item at fault (None when the problem is the descriptor as a whole)."""

    def __init__(self, reason: str, offset: int | None = None) -> None:
        self.reason = reason
        self.offset = offset
        super().__init__(f"HID report descriptor byte {offset}: {reason}" if offset is not None
                         else f"HID report descriptor: {reason}")


class HidReportError(DeviceError, ValueError):
    """A HID report does not match its device's report descriptor (unknown report ID,
    too short), or a report was asked for that the descriptor does not define."""


class DeviceNotFoundError(DeviceError, LookupError):
    """No audio device matches a name (or several do): `name` is what was asked for,
    `kind` "input" or "output", `available` the names of the devices of that kind."""

    def __init__(self, message: str, *, name: str, kind: str, available: tuple[str, ...]) -> None:
        super().__init__(message)
        self.name = name
        self.kind = kind
        self.available = available


class DnsError(OffhookError, ValueError):
    """A DNS packet is malformed or truncated, a DNS query failed, or RFC 3263 found no
    server for a SIP URI; str(error) says which name, record or offset is at fault."""


class CtiError(OffhookError):
    """Base of the CTI (screen pop, customer directory, call hooks) errors."""


class NumberFormatError(CtiError, ValueError):
    """A text cannot be read as a telephone number: `number` is the text (shortened to
    80 characters), `reason` says what is wrong with it."""

    def __init__(self, number: str, reason: str) -> None:
        self.number = number[:80]
        self.reason = reason
        super().__init__(f"cannot read {self.number!r} as a telephone number: {reason}")


class DirectoryError(CtiError):
    """A customer directory cannot be read or answered badly: a missing file or column, an
    HTTP lookup that failed, timed out or returned something that is not a JSON object."""


class CtiConfigError(CtiError, ValueError):
    """The ``[cti]`` configuration is invalid: `where` names the key at fault
    (``cti.hooks[1].url``), `reason` says what is wrong with it."""

    def __init__(self, where: str, reason: str) -> None:
        self.where = where
        self.reason = reason
        super().__init__(f"{where}: {reason}")


class CampaignError(OffhookError, ValueError):
    """A dialer campaign, its contact list, configuration or store was given something it
    cannot use (bad number, unknown time zone, unknown outcome, malformed schedule)."""
