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


class MediaError(OffhookError, ValueError):
    """The media engine or one of its streams was misused (closed, full, unsupported setting)."""
