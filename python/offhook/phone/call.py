"""One call of the phone: its state (surfaced as events through the Phone) and what the user does with it.

Every action is a coroutine that returns once the far end agreed (hold waits for the
re-INVITE's answer, transfer for the final NOTIFY) or raises CallError with a reason
the user can read. Calls are made by `Phone.call()` and arrive as
`CallStateChanged(call, CallState.INCOMING)` events; never build one yourself.
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from offhook._media import MediaStream
from offhook.errors import OffhookError
from offhook.media.call_media import CallMedia
from offhook.phone.audio import CallAudio
from offhook.phone.events import CallState
from offhook.phone.mos import CallQuality, quality_from_stats
from offhook.sip.ua import Call as SipCall

if TYPE_CHECKING:
    from offhook.phone.phone import Phone, _Line

__all__ = ["Call", "CallError"]

_HOLD_TIMEOUT = 10.0
_TRANSFER_TIMEOUT = 40.0
_REPLACED_TIMEOUT = 5.0      # how long the target may take to end the replaced call itself


class CallError(OffhookError):
    """A call action failed or is not possible in the call's state; str() says why."""


class Call:
    """A call. Read `state`, `direction`, `remote_uri`, `remote_name`, `reason`, `muted`,
    `held`, `remote_held`; act with the coroutines below."""

    def __init__(self, phone: Phone, line: _Line, sip: SipCall, *, direction: str, remote_uri: str,
                 remote_name: str, audio: CallAudio, state: CallState) -> None:
        self._phone = phone
        self._line = line
        self.sip = sip
        self.id = sip.call_id
        self.direction = direction
        self.remote_uri = remote_uri
        self.remote_name = remote_name
        self.audio = audio
        self.state = state
        self.reason = ""
        self.status: int | None = None
        self.muted = False
        self.held = False
        self.remote_held = False
        self.started = time.time()
        self.answered_at: float | None = None
        self.ended_at: float | None = None
        self.media: CallMedia | None = None
        self.dtmf_received = ""
        self.recording: Path | None = None
        self.history_id: int | None = None
        self._stream: MediaStream | None = None
        self._want_hold = False
        self._changed = asyncio.Event()
        self.replaces: Call | None = None          # the call this one took over (an INVITE with Replaces)
        self.transferred_to: Call | None = None    # the call that took this one over (REFER or Replaces)
        self.in_conference = False                 # its stream is in the engine's conference mixer
        self._transfer_done: asyncio.Future[bool] | None = None
        self._refused: int | None = None           # the status that refused our last re-INVITE

    def __repr__(self) -> str:
        return f"<Call {self.direction} {self.remote_uri} {self.state.value}>"

    @property
    def account(self) -> str:
        return self._line.name

    @property
    def party(self) -> str:
        """How the console shows the far end: 'Name <uri>' or the URI."""
        return f"{self.remote_name} <{self.remote_uri}>" if self.remote_name else self.remote_uri

    @property
    def duration(self) -> float:
        if self.answered_at is None:
            return 0.0
        return (self.ended_at or time.time()) - self.answered_at

    @property
    def stream(self) -> MediaStream | None:
        return self._stream

    # --- waiting -------------------------------------------------------------------------

    def _set_state(self, state: CallState, reason: str = "") -> None:
        if state is self.state and not reason:
            return
        self.state = state
        if reason:
            self.reason = reason
        self._changed.set()
        self._changed = asyncio.Event()
        self._phone._emit_state(self, state, reason)

    async def wait(self, *states: CallState, timeout: float | None = 30.0) -> CallState:
        """Wait until the call is in one of `states` (or ended); returns the state."""
        async with asyncio.timeout(timeout):
            while self.state not in states and self.state is not CallState.ENDED:
                await self._changed.wait()
        return self.state

    async def wait_answered(self, timeout: float | None = 120.0) -> None:
        """Wait for the answer; CallError with the reason when the call ends instead."""
        state = await self.wait(CallState.ACTIVE, CallState.REMOTE_HELD, CallState.HELD, timeout=timeout)
        if state is CallState.ENDED:
            raise CallError(self.reason or "the call ended before it was answered")

    async def wait_ended(self, timeout: float | None = 30.0) -> None:
        await self.wait(CallState.ENDED, timeout=timeout)

    # --- actions -------------------------------------------------------------------------

    def _require(self, action: str, *states: CallState) -> None:
        if self.state not in states:
            raise CallError(f"cannot {action} a call that is {self.state.value}")

    async def answer(self) -> None:
        """Answer an incoming call; a call already active goes on hold first (call waiting)."""
        self._require("answer", CallState.INCOMING)
        await self._phone._hold_others(self)
        if self.state is not CallState.INCOMING:
            raise CallError(f"the call was {self.state.value} before it could be answered: {self.reason}")
        self._line.agent.answer(self.sip)
        self._phone._answered(self)

    async def reject(self, status: int = 603) -> None:
        self._require("reject", CallState.INCOMING)
        if not 400 <= status <= 699:
            raise ValueError(f"reject with a 4xx-6xx status, not {status}")
        self._line.agent.reject(self.sip, status)
        await self.wait(CallState.ENDED, timeout=5.0)

    async def hangup(self) -> None:
        """End the call whatever its state (CANCEL, BYE or a 603 to an incoming call); returns
        when it ended, or after 10 s when a CANCEL is still waiting for the far end's 487."""
        if self.state is CallState.ENDED:
            return
        self._line.agent.hangup(self.sip)
        with contextlib.suppress(TimeoutError):
            await self.wait(CallState.ENDED, timeout=10.0)

    async def hold(self) -> None:
        if self.state is CallState.HELD:
            return
        self._require("hold", CallState.ACTIVE, CallState.REMOTE_HELD)
        self._want_hold = True
        try:
            self._line.agent.hold(self.sip)
        except OffhookError as exc:
            self._want_hold = False
            raise CallError(str(exc)) from None
        self._phone._apply_source(self)
        state, refused = await self._reinvite_outcome(CallState.HELD)
        if refused is not None:             # the call goes on as it was: the microphone again
            self._want_hold = False
            self._phone._apply_source(self)
            raise CallError(f"hold failed: {refused}")
        if state is not CallState.HELD:
            raise CallError(f"hold failed: the call {self.reason or 'ended'}")

    async def resume(self) -> None:
        self._require("resume", CallState.HELD)
        await self._phone._hold_others(self)
        self._want_hold = False
        try:
            self._line.agent.resume(self.sip)
        except OffhookError as exc:
            self._want_hold = True
            raise CallError(str(exc)) from None
        state, refused = await self._reinvite_outcome(CallState.ACTIVE, CallState.REMOTE_HELD)
        if refused is not None:             # still held
            self._want_hold = True
            raise CallError(f"resume failed: {refused}")
        if state is CallState.ENDED:
            raise CallError(f"resume failed: the call {self.reason or 'ended'}")
        self._phone._apply_source(self)

    async def _reinvite_outcome(self, *states: CallState) -> tuple[CallState, str | None]:
        """Wait for our hold/resume re-INVITE: (the call's state, None) once it is in one of
        `states` (or ended), else (its state, why not: the peer refused, or did not answer)."""
        self._refused = None
        try:
            async with asyncio.timeout(_HOLD_TIMEOUT):
                while (self.state not in states and self.state is not CallState.ENDED
                       and self._refused is None):
                    await self._changed.wait()
        except TimeoutError:
            return self.state, f"no answer to the re-INVITE within {_HOLD_TIMEOUT:.0f} s"
        if self._refused is not None and self.state not in states:
            return self.state, f"the far end answered {self._refused}"
        return self.state, None

    def _reinvite_refused(self, status: int | None) -> None:
        """The peer refused our re-INVITE (Phone._on_sip_event): wakes hold()/resume()."""
        self._refused = status or 0
        self._changed.set()
        self._changed = asyncio.Event()

    async def mute(self) -> None:
        """Send silence instead of the microphone (the far end still hears comfort of silence)."""
        self.muted = True
        self._phone._apply_source(self)
        self._phone._emit_state(self, self.state, "muted")

    async def unmute(self) -> None:
        """The microphone again (a WAV source starts from its beginning)."""
        self.muted = False
        self._phone._apply_source(self)
        self._phone._emit_state(self, self.state, "unmuted")

    async def send_dtmf(self, digits: str, duration_ms: int = 100) -> None:
        """RFC 4733 telephone-events on the call's stream."""
        self._require("send DTMF on", CallState.ACTIVE, CallState.EARLY_MEDIA, CallState.REMOTE_HELD)
        if self._stream is None:
            raise CallError("the call has no audio stream yet")
        try:
            self._stream.send_dtmf(digits, duration_ms)
        except ValueError as exc:
            raise CallError(str(exc)) from None

    async def record(self, path: str | os.PathLike[str]) -> None:
        """Record what the far end sends to a WAV file (from now on, replacing the audio's sink)."""
        self.recording = Path(path)
        if self._stream is not None:
            self._stream.record_wav(self.recording)

    async def stop_recording(self) -> None:
        """Close the WAV started by record() (the call's own sink is not restarted)."""
        self.recording = None
        if self._stream is not None and not self._stream.closed:
            self._stream.stop_recording()

    async def transfer(self, target: str) -> None:
        """Blind transfer (REFER): the far end calls `target` (a number, name, speed-dial key or URI);
        returns when the target answered (this call then ends as TRANSFERRED), CallError otherwise."""
        await self._refer(self._phone.resolve(target, account=self._line.name))

    async def transfer_to(self, other: Call) -> None:
        """Attended transfer: connect this call's party with `other`'s (REFER with Replaces naming
        `other`'s dialog); both calls end here when the far ends are connected."""
        if other is self:
            raise CallError("cannot transfer a call to itself")
        other._require("transfer to", CallState.ACTIVE, CallState.HELD, CallState.REMOTE_HELD)
        await self._refer(other)
        # the target ends `other` itself when it acted on the Replaces; a transferee that
        # dropped the Replaces (baresip 1.0 puts it in the Request-URI) leaves it to us
        with contextlib.suppress(TimeoutError):
            await other.wait(CallState.ENDED, timeout=_REPLACED_TIMEOUT)
        if other.state is not CallState.ENDED:
            await other.hangup()

    async def _refer(self, target: str | Call) -> None:
        """REFER the far end to `target` (a URI, or another call to replace: attended)."""
        self._require("transfer", CallState.ACTIVE, CallState.HELD, CallState.REMOTE_HELD)
        pending = self._transfer_done
        if pending is not None and not pending.done():
            raise CallError("a transfer of this call is already in progress")
        self._transfer_done = asyncio.get_running_loop().create_future()
        try:
            self._line.agent.transfer(self.sip, target.sip if isinstance(target, Call) else target)
        except OffhookError as exc:
            self._transfer_done = None
            raise CallError(str(exc)) from None
        try:
            async with asyncio.timeout(_TRANSFER_TIMEOUT):
                ok = await self._transfer_done
        except TimeoutError:
            raise CallError("no answer to the transfer (REFER) within "
                            f"{_TRANSFER_TIMEOUT:.0f} s") from None
        if not ok:
            status = self.sip.transfer_status
            raise CallError("transfer failed" + (f": the target answered {status}" if status else ""))

    # --- quality -------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        return self._stream.stats() if self._stream is not None and not self._stream.closed else {}

    def quality(self) -> CallQuality | None:
        """MOS estimate (E-model, see phone/mos.py) from the stream's RTP/RTCP statistics."""
        neg = self.media.media if self.media is not None else None
        stats = self.stats()
        if neg is None or not stats:
            return None
        return quality_from_stats(stats, neg.codec, neg.ptime)
