"""Events of a MediaEngine (MediaEngine.events(), MediaEngine.event_fd).

The media thread queues them without ever waiting for Python; events()
drains the queue without blocking. event_fd polls readable while events
wait, so an asyncio program awaits them with next_events() instead of
polling. Events of a stream closed before they were drained are dropped.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from offhook._media import MediaEngine, MediaStream

__all__ = ["DtmfReceived", "MediaEvent", "RtcpBye", "RtpResumed", "RtpTimeout", "SsrcChanged", "next_events"]


@dataclass(frozen=True)
class DtmfReceived:
    """A DTMF digit ended (reported once per digit): an RFC 4733 telephone-event, or a
    digit the inband detector found in the received audio (source "inband")."""

    stream: MediaStream
    digit: str  # "0"-"9", "*", "#", "A"-"D", "?" for other events
    event: int  # the RFC 4733 event code
    duration_ms: int
    source: str = "rfc4733"  # "rfc4733" (telephone-event) or "inband" (detected in the audio)


@dataclass(frozen=True)
class RtcpBye:
    """The peer sent an RTCP BYE for its SSRC (it is leaving)."""

    stream: MediaStream
    ssrc: int
    reason: str


@dataclass(frozen=True)
class SsrcChanged:
    """The latched address started a new SSRC and the stream re-latched on it."""

    stream: MediaStream
    old_ssrc: int
    new_ssrc: int


@dataclass(frozen=True)
class RtpTimeout:
    """No RTP arrived for the stream's rtp_timeout_ms while it receives."""

    stream: MediaStream
    silent_ms: int


@dataclass(frozen=True)
class RtpResumed:
    """RTP arrived again after an RtpTimeout."""

    stream: MediaStream
    silent_ms: int
    ssrc: int


MediaEvent = DtmfReceived | RtcpBye | SsrcChanged | RtpTimeout | RtpResumed


async def next_events(engine: MediaEngine) -> list[MediaEvent]:
    """Waits (without polling) until the engine has events, and returns them."""
    loop = asyncio.get_running_loop()
    fd = engine.event_fd
    while True:
        events = engine.events()
        if events:
            return events
        ready: asyncio.Future[None] = loop.create_future()

        def wake(fut: asyncio.Future[None] = ready) -> None:
            if not fut.done():
                fut.set_result(None)

        loop.add_reader(fd, wake)
        try:
            await ready
        finally:
            loop.remove_reader(fd)
