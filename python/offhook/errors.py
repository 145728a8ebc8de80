"""The exception hierarchy: everything offhook raises on bad input derives from OffhookError."""


class OffhookError(Exception):
    """Base of offhook's own errors."""


class CodecError(OffhookError, ValueError):
    """A codec was asked for something it cannot do (unknown name, bad rate, bad payload)."""


class EchoCancellerError(OffhookError, ValueError):
    """An echo canceller was configured or fed with something it cannot use."""


class WavError(OffhookError, ValueError):
    """A WAV file is unreadable, malformed, or not in the format required."""
