"""The web handset's logic, independent of HTTP: a Phone (and optionally CTI and a campaign
store) seen as JSON commands in and JSON events out. server.py carries both over a
WebSocket; tests drive it directly.

Commands are objects ``{"id": 7, "cmd": "dial", "target": "bob"}``; each gets exactly one
``{"type": "result", "id": 7, "ok": true, ...}`` or ``{"type": "result", "id": 7, "ok": false,
"error": "cannot hold a call that is ringing"}``. Events are pushed as they happen:

    hello          the whole state when a client connects (calls, accounts, contacts,
                   speed dial, history, screen pops, audio settings, features)
    call           a call changed (its full dict: state, reason, muted, held, timestamps)
    registration   an account's registration state
    dtmf           a digit received on a call
    screen_pop     a CTI customer card (ScreenPop.to_dict())
    quality        every second per talking call: MOS, R, delay, loss, jitter, RTT
    history        the latest history entries, after a call ended
    settings       audio settings or do-not-disturb changed
    report         the supervisor's campaign statistics (to clients that subscribed)

The call a command acts on is ``"call": <id>``; without it, the one the console would
pick (the talking call, else the ringing one, else the newest live one).
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from offhook.errors import OffhookError
from offhook.phone import (
    Call,
    CallState,
    CallStateChanged,
    DeviceChanged,
    DtmfReceived,
    Phone,
    PhoneEvent,
    RegistrationChanged,
)

__all__ = ["AudioSettings", "CommandError", "Handset", "call_dict", "volume_db"]

log = logging.getLogger("offhook.web")

Message = dict[str, Any]
_HISTORY_LIMIT = 30
_TALKING = (CallState.ACTIVE, CallState.REMOTE_HELD, CallState.EARLY_MEDIA)


class CommandError(OffhookError, ValueError):
    """A command is malformed or names something that does not exist; str() says what."""


@dataclass
class AudioSettings:
    """The user's sound choices: devices ("" is the system default) and volumes (percent,
    see `volume_db`).  Handset applies them to its Phone (the engine's local audio gain,
    the DeviceStream's devices) unless it was given its own `apply_audio`."""

    capture: str = ""
    playback: str = ""
    ringer: str = ""
    volume: int = 80          # percent: playback and the phone's tones
    microphone: int = 80      # percent: capture
    applied: bool = False
    note: str = ""

    def as_dict(self) -> Message:
        return {"capture": self.capture, "playback": self.playback, "ringer": self.ringer,
                "volume": self.volume, "microphone": self.microphone, "applied": self.applied,
                "note": self.note}


UNITY_PERCENT = 80


def volume_db(percent: int) -> float:
    """A slider's percentage as a gain: 80 % is 0 dB, and the amplitude goes with the
    square of the position (40·log10(p/80) dB: 40 % is -12 dB, 100 % +3.9 dB), a common
    volume taper that sounds even across the travel; 0 % is silence (-inf)."""
    if percent <= 0:
        return -math.inf
    return 40.0 * math.log10(percent / UNITY_PERCENT)


def _user_part(uri: str) -> str:
    text = uri.split(":", 1)[-1]
    return text.split("@", 1)[0] if "@" in text else text


def call_dict(call: Call) -> Message:
    return {"id": call.id, "direction": call.direction, "remote_uri": call.remote_uri,
            "remote_name": call.remote_name, "number": _user_part(call.remote_uri), "party": call.party,
            "state": call.state.value, "live": call.state.live, "reason": call.reason,
            "muted": call.muted, "held": call.held, "remote_held": call.remote_held,
            "account": call.account, "started": call.started, "answered_at": call.answered_at,
            "ended_at": call.ended_at, "duration": round(call.duration, 1)}


@dataclass
class _Client:
    send: Callable[[Message], None]
    wants_report: bool = False


@dataclass
class Handset:
    """See the module docstring. Use from the phone's event loop; `start()` once."""

    phone: Phone
    cti: Any = None                          # offhook.cti.CtiService, or None
    campaign_db: Path | None = None          # the dialer's SQLite store for the supervisor view
    campaign: str | None = None
    abandon_target: float = 0.03
    list_devices: Callable[[], list[Message]] | None = None
    apply_audio: Callable[[AudioSettings], Awaitable[None]] | None = None
    report_interval: float = 5.0
    audio: AudioSettings = field(default_factory=AudioSettings)
    _clients: list[_Client] = field(default_factory=list)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _unsubscribe: Callable[[], None] | None = None
    _started: bool = False

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        if self._started:
            return
        self._started = True
        self.phone.add_listener(self._on_event)
        self._sync_audio()
        stream = self.phone.devices
        if stream is not None:
            self.audio.capture = stream.capture_device or ""
            self.audio.playback = stream.playback_device or ""
        if self.cti is None:
            self.cti = self.phone.cti
        elif self.phone.cti is None:
            self.phone.cti = self.cti      # the phone reports its calls to it from now on
        if self.cti is not None:
            self._unsubscribe = self.cti.subscribe(self._on_pop)
        self._spawn(self._quality_loop())
        self._spawn(self._report_loop())

    async def stop(self) -> None:
        self._started = False
        self.phone.remove_listener(self._on_event)
        if self._unsubscribe is not None:
            self._unsubscribe()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._clients.clear()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- clients -------------------------------------------------------------------------

    def connect(self, send: Callable[[Message], None]) -> Callable[[], None]:
        """A client joins: `send` gets every event (never blocks); returns the disconnect."""
        client = _Client(send)
        self._clients.append(client)
        send(self.hello())

        def disconnect() -> None:
            with contextlib.suppress(ValueError):
                self._clients.remove(client)
        return disconnect

    def broadcast(self, message: Message) -> None:
        for client in list(self._clients):
            if message.get("type") == "report" and not client.wants_report:
                continue
            try:
                client.send(message)
            except Exception:
                log.exception("web client send failed")

    def hello(self) -> Message:
        phone = self.phone
        pops = [p.to_dict() for p in self.cti.active_pops()] if self.cti is not None else []
        return {"type": "hello", "now": time.time(), "calls": [call_dict(c) for c in phone.calls],
                "accounts": self._accounts(), "contacts": self._contacts(),
                "speed_dial": dict(phone.config.speed_dial), "history": self._history(),
                "screen_pops": pops, "dnd": phone.policy.dnd, "audio": self.audio.as_dict(),
                "features": {"volume": True, "devices": self.list_devices is not None,
                             "supervisor": self.campaign_db is not None, "cti": self.cti is not None}}

    def _accounts(self) -> list[Message]:
        out = []
        for name, line in self.phone.lines.items():
            state = line.reg_state if line.registration is not None else "peer-to-peer"
            host, port = line.agent.listen_address     # on the line's own transport (TLS-only too)
            out.append({"account": name, "state": state, "reason": line.reg_reason,
                        "address": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
                        "transport": line.agent.ua.contact.transport.lower()})
        return out

    def _contacts(self) -> list[Message]:
        return [{"name": c.name, "numbers": list(c.numbers)} for c in self.phone.contacts.contacts]

    def _history(self) -> list[Message]:
        if self.phone.history is None:
            return []
        try:
            entries = self.phone.history.entries(_HISTORY_LIMIT)
        except OffhookError:
            log.exception("call history")
            return []
        return [{"id": e.id, "direction": e.direction, "party": e.party, "name": e.name,
                 "account": e.account, "start": e.start, "duration": round(e.duration, 1),
                 "result": e.result, "reason": e.reason} for e in entries]

    # --- events --------------------------------------------------------------------------

    def _on_event(self, event: PhoneEvent) -> None:
        if isinstance(event, CallStateChanged):
            call = event.call
            msg = call_dict(call)
            msg["type"] = "call"
            if event.reason:
                msg["event_reason"] = event.reason
            self.broadcast(msg)
            if event.state is CallState.ENDED:
                self.broadcast({"type": "history", "entries": self._history()})
        elif isinstance(event, RegistrationChanged):
            self.broadcast({"type": "registration", "account": event.account, "state": event.state,
                            "reason": event.reason})
        elif isinstance(event, DeviceChanged):
            if event.kind in ("fallback", "reopened", "switched") and event.device is not None:
                setattr(self.audio, event.direction, event.device)
                self._broadcast_settings()
        elif isinstance(event, DtmfReceived):
            self.broadcast({"type": "dtmf", "call": event.call.id, "digit": event.digit,
                            "duration_ms": event.duration_ms})

    def _on_pop(self, pop: Any) -> None:
        self.broadcast(pop.to_dict())

    async def _quality_loop(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            for call in list(self.phone.calls):
                if call.state not in _TALKING:
                    continue
                try:
                    q = call.quality()
                except Exception:
                    log.exception("call quality")
                    continue
                if q is None:
                    continue
                self.broadcast({"type": "quality", "call": call.id, "mos": round(q.mos, 2),
                                "r": round(q.r, 1), "delay_ms": round(q.delay_ms, 1),
                                "loss_percent": round(q.loss_percent, 2), "jitter_ms": round(q.jitter_ms, 2),
                                "rtt_ms": None if q.rtt_ms is None else round(q.rtt_ms, 1),
                                "bars": mos_bars(q.mos), "duration": round(call.duration, 1)})

    async def _report_loop(self) -> None:
        while True:
            await asyncio.sleep(self.report_interval)
            if any(c.wants_report for c in self._clients):
                self.broadcast(await self.report())

    async def report(self) -> Message:
        """The supervisor view's data: the campaign statistics and their SVG charts."""
        if self.campaign_db is None:
            return {"type": "report", "configured": False,
                    "message": "no campaign store is configured: start `offhook web` with "
                               "--campaign-db FILE (the dialer's SQLite store) to see campaign statistics"}
        path, campaign, target = self.campaign_db, self.campaign, self.abandon_target

        def build() -> Message:
            from offhook.report import build_report
            if not path.exists():
                raise OffhookError(f"the campaign store {path} does not exist (yet)")
            rep = build_report(path, campaign=campaign, abandon_target=target)
            return {"type": "report", "configured": True, "store": str(path), "report": rep.as_dict(),
                    "charts": rep.charts()}
        try:
            return await asyncio.to_thread(build)
        except Exception as exc:   # a store being written or a broken file: say so, retry next time
            return {"type": "report", "configured": True, "store": str(path), "error": str(exc)}

    # --- commands ------------------------------------------------------------------------

    async def execute(self, msg: Mapping[str, Any], client_send: Callable[[Message], None] | None = None
                      ) -> Message:
        """Run one command; never raises for a user's mistake (the result says what went wrong)."""
        ident = msg.get("id")
        result: Message = {"type": "result", "id": ident, "cmd": msg.get("cmd")}
        try:
            cmd = msg.get("cmd")
            if not isinstance(cmd, str) or cmd not in _COMMANDS:
                raise CommandError(f"unknown command {cmd!r}; known: {', '.join(sorted(_COMMANDS))}")
            if cmd == "subscribe_report":
                for client in self._clients:
                    if client.send is client_send:
                        client.wants_report = bool(msg.get("on", True))
                extra: Message = {"report": await self.report()}
            else:
                extra = await getattr(self, "_cmd_" + cmd)(msg) or {}
            result.update(ok=True, **extra)
        except (OffhookError, TimeoutError) as exc:
            result.update(ok=False, error=str(exc) or "timed out")
        return result

    def _find(self, msg: Mapping[str, Any], *, incoming: bool = False) -> Call:
        ident = msg.get("call")
        live = self.phone.live_calls
        if ident is not None:
            for call in self.phone.calls:
                if call.id == ident:
                    return call
            raise CommandError(f"no call with id {ident!r}")
        order: tuple[tuple[CallState, ...], ...] = (
            ((CallState.INCOMING,),) if incoming else
            (_TALKING, (CallState.INCOMING,), (CallState.DIALING, CallState.RINGING), (CallState.HELD,)))
        for states in order:
            for call in reversed(live):
                if call.state in states:
                    return call
        raise CommandError("no incoming call" if incoming else "no call")

    @staticmethod
    def _text(msg: Mapping[str, Any], key: str, *, limit: int = 256) -> str:
        value = msg.get(key)
        if not isinstance(value, str) or not value.strip():
            raise CommandError(f"{key!r} must be a non-empty string")
        if len(value) > limit:
            raise CommandError(f"{key!r} is longer than {limit} characters")
        return value.strip()

    async def _cmd_dial(self, msg: Mapping[str, Any]) -> Message:
        account = msg.get("account")
        if account is not None and not isinstance(account, str):
            raise CommandError("'account' must be a string")
        call = await self.phone.call(self._text(msg, "target"), account=account)
        return {"call": call.id}

    async def _cmd_answer(self, msg: Mapping[str, Any]) -> Message:
        call = self._find(msg, incoming=True)
        await call.answer()
        return {"call": call.id}

    async def _cmd_reject(self, msg: Mapping[str, Any]) -> Message:
        call = self._find(msg, incoming=True)
        status = msg.get("status", 603)
        if not isinstance(status, int) or isinstance(status, bool):
            raise CommandError("'status' must be a SIP status number (486, 603...)")
        await call.reject(status)
        return {"call": call.id}

    async def _cmd_hangup(self, msg: Mapping[str, Any]) -> Message:
        call = self._find(msg)
        await call.hangup()
        return {"call": call.id}

    async def _cmd_hold(self, msg: Mapping[str, Any]) -> Message:
        call = self._find(msg)
        await call.hold()
        return {"call": call.id}

    async def _cmd_resume(self, msg: Mapping[str, Any]) -> Message:
        call = self._find(msg) if msg.get("call") is not None else self._held()
        await call.resume()
        return {"call": call.id}

    def _held(self) -> Call:
        for call in reversed(self.phone.live_calls):
            if call.state is CallState.HELD:
                return call
        raise CommandError("no held call to resume")

    async def _cmd_swap(self, msg: Mapping[str, Any]) -> Message:
        call = await self.phone.swap()
        return {"call": call.id}

    async def _cmd_mute(self, msg: Mapping[str, Any]) -> Message:
        call = self._find(msg)
        on = msg.get("on", not call.muted)
        if not isinstance(on, bool):
            raise CommandError("'on' must be true or false")
        await (call.mute() if on else call.unmute())
        return {"call": call.id, "muted": call.muted}

    async def _cmd_dtmf(self, msg: Mapping[str, Any]) -> Message:
        digits = self._text(msg, "digits", limit=64)
        if any(d not in "0123456789*#ABCDabcd" for d in digits):
            raise CommandError(f"DTMF digits are 0-9, *, # and A-D, not {digits!r}")
        call = self._find(msg)
        await call.send_dtmf(digits.upper())
        return {"call": call.id}

    async def _cmd_transfer(self, msg: Mapping[str, Any]) -> Message:
        call = self._find(msg)
        await call.transfer(self._text(msg, "target"))
        return {"call": call.id}

    async def _cmd_attended_transfer(self, msg: Mapping[str, Any]) -> Message:
        call = self._find(msg)
        to = msg.get("to")
        if to is None:
            others = [c for c in self.phone.live_calls
                      if c is not call and c.state is not CallState.INCOMING]
            if len(others) != 1:
                raise CommandError("say which call to connect it with ('to': a call id): "
                                   f"there are {len(others)} other calls")
            other = others[0]
        else:
            other = self._find({"call": to})
        await call.transfer_to(other)
        return {"call": call.id, "to": other.id}

    async def _cmd_conference(self, msg: Mapping[str, Any]) -> Message:
        ids = msg.get("calls")
        if ids is None:
            calls = [c for c in self.phone.live_calls if c.state is not CallState.INCOMING]
        elif isinstance(ids, list):
            calls = [self._find({"call": i}) for i in ids]
        else:
            raise CommandError("'calls' must be a list of call ids")
        await self.phone.conference(calls)
        return {"calls": [c.id for c in calls]}

    async def _cmd_redial(self, msg: Mapping[str, Any]) -> Message:
        call = await self.phone.redial()
        return {"call": call.id}

    async def _cmd_call_back(self, msg: Mapping[str, Any]) -> Message:
        call = await self.phone.call_back()
        return {"call": call.id}

    async def _cmd_dnd(self, msg: Mapping[str, Any]) -> Message:
        on = msg.get("on", not self.phone.policy.dnd)
        if not isinstance(on, bool):
            raise CommandError("'on' must be true or false")
        self.phone.policy.dnd = on
        self.broadcast({"type": "settings", "dnd": on, "audio": self.audio.as_dict()})
        return {"dnd": on}

    async def _cmd_dialing(self, msg: Mapping[str, Any]) -> Message:
        """The user is typing a number: dial tone (as the console's dial prompt)."""
        self.phone.dialing(bool(msg.get("on", True)))
        return {}

    async def _cmd_volume(self, msg: Mapping[str, Any]) -> Message:
        """{"level": 0-100} the playback volume, {"microphone": 0-100} the capture's; either
        or both."""
        changed = False
        for key, attr in (("level", "volume"), ("microphone", "microphone")):
            if key not in msg:
                continue
            level = msg[key]
            if not isinstance(level, int) or isinstance(level, bool) or not 0 <= level <= 100:
                raise CommandError(f"{key!r} must be a whole percentage 0-100, not {level!r}")
            setattr(self.audio, attr, level)
            changed = True
        if not changed:
            raise CommandError("give 'level' (the volume) or 'microphone', a whole percentage 0-100")
        await self._audio_changed()
        return {"audio": self.audio.as_dict()}

    async def _cmd_devices(self, msg: Mapping[str, Any]) -> Message:
        if self.list_devices is None:
            return {"devices": [], "error": "no device backend"}
        try:
            return {"devices": await asyncio.to_thread(self.list_devices)}
        except OffhookError as exc:
            return {"devices": [], "error": str(exc)}

    async def _cmd_select_device(self, msg: Mapping[str, Any]) -> Message:
        kind = msg.get("kind")
        if kind not in ("capture", "playback", "ringer"):
            raise CommandError("'kind' must be 'capture', 'playback' or 'ringer'")
        name = msg.get("name")
        if not isinstance(name, str):
            raise CommandError("'name' must be a device name")
        if name and self.list_devices is not None:
            want = "input" if kind == "capture" else "output"
            devices = await asyncio.to_thread(self.list_devices)
            if not any(d.get("name") == name and d.get(want) for d in devices):
                known = ", ".join(d["name"] for d in devices if d.get(want)) or "none"
                raise CommandError(f"no {kind} device called {name!r} (devices: {known})")
        old = getattr(self.audio, kind)
        setattr(self.audio, kind, name)
        try:
            await self._audio_changed(device=kind)
        except OffhookError:
            setattr(self.audio, kind, old)   # the phone stayed where it was
            self._broadcast_settings()
            raise
        return {"audio": self.audio.as_dict()}

    async def _audio_changed(self, device: str | None = None) -> None:
        if self.apply_audio is not None:
            await self.apply_audio(self.audio)
        else:
            await self._apply_to_phone(device)
        self._broadcast_settings()

    def _broadcast_settings(self) -> None:
        self.broadcast({"type": "settings", "dnd": self.phone.policy.dnd, "audio": self.audio.as_dict()})

    def _sync_audio(self) -> None:
        """What the phone can apply: its devices in use (the page shows them) and whether
        device choices act at all."""
        phone, a = self.phone, self.audio
        stream = phone.devices
        a.applied = phone.engine is not None
        if stream is not None:
            a.note = ""
        elif phone.engine is not None and phone.engine.audio_port is not None:
            a.note = "the volume acts on the phone's audio; its devices are not sound cards"
        else:
            a.note = "this phone has no sound devices ([audio] capture/playback): nothing to play"

    async def _apply_to_phone(self, device: str | None) -> None:
        phone, a = self.phone, self.audio
        if device is not None:
            try:
                await phone.switch_device(device, getattr(a, device) or None)
            except OffhookError as exc:
                raise CommandError(f"cannot use {getattr(a, device) or 'the default'!r} as the "
                                   f"{device} device: {exc}") from None
        else:
            phone.set_volume(volume_db(a.volume), volume_db(a.microphone))
        self._sync_audio()

    async def _cmd_history(self, msg: Mapping[str, Any]) -> Message:
        return {"entries": self._history()}

    async def _cmd_state(self, msg: Mapping[str, Any]) -> Message:
        return {"state": self.hello()}

    async def _cmd_report(self, msg: Mapping[str, Any]) -> Message:
        return {"report": await self.report()}


_COMMANDS = frozenset({name[5:] for name in vars(Handset) if name.startswith("_cmd_")} | {"subscribe_report"})


def mos_bars(mos: float) -> int:
    """0-5 bars, as a handset shows signal: 4.3+ five, 4.0 four, 3.6 three, 3.1 two, 2.6 one."""
    return sum(mos >= t for t in (2.6, 3.1, 3.6, 4.0, 4.3))


def device_lister(backend: str = "sounddevice") -> Callable[[], list[Message]]:
    """list_devices for Handset from offhook.devices (DeviceError when the backend is missing)."""
    def run() -> list[Message]:
        from offhook.devices import list_devices
        return [{"name": d.name, "input": d.max_input_channels > 0, "output": d.max_output_channels > 0,
                 "default_input": d.is_default_input, "default_output": d.is_default_output,
                 "headset": d.looks_like_usb_headset} for d in list_devices(backend)]
    return run

