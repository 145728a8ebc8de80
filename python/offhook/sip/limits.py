"""Limits that bound the work and memory one SIP message may cost the parser."""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_LIMITS", "SipLimits"]


@dataclass(frozen=True)
class SipLimits:
    """Configurable parser limits; exceeding one raises SipParseError.

    Defaults are generous for real traffic (RFC 4475's longest message is 3.5 kB,
    a REGISTER with many contacts or an INVITE with a large SDP stays far below)
    while keeping a hostile peer from making the parser do unbounded work.

    - max_message_size: 65535 bytes, the largest UDP payload. A message above it
      answers 413 (Request Entity Too Large) when its body is what makes it too
      big, else 513 (Message Too Large).
    - max_header_count: 256 header lines (after unfolding) -> 513.
    - max_line_length: 8192 characters per physical line, start line included -> 513.
    - max_header_value_length: 16384 characters per unfolded header value -> 513.
    - max_body_size: 65535 bytes of body -> 413.
    """

    max_message_size: int = 65535
    max_header_count: int = 256
    max_line_length: int = 8192
    max_header_value_length: int = 16384
    max_body_size: int = 65535

    def __post_init__(self) -> None:
        for name in ("max_message_size", "max_header_count", "max_line_length",
                     "max_header_value_length", "max_body_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"SipLimits.{name} must be a positive integer, got {value!r}")


DEFAULT_LIMITS = SipLimits()
