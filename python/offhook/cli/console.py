"""The interactive `offhook` console: a status line and single-key actions.

    offhook [--config FILE] [--listen ADDR:PORT] [--play in.wav] [--record out.wav]

Keys (no Enter needed):
  a answer        x reject         h hang up       o hold / resume    s swap calls
  t transfer      T attended transfer to the other call               c conference
  m mute/unmute   0-9 * # DTMF in a call (dial when idle)             d dial
  r redial        b call back      D do not disturb on/off            q quit    ? help

Dialling takes a number, a contact name, a speed-dial key or a URI, ended by Enter
(Escape cancels). Each change is printed as one line, and a status line at the bottom
shows the accounts' registration, the sound devices in use (`mic: ... | speaker: ...`,
marked "fallback" after the configured device was unplugged) and every call with its
state, duration and MOS estimate (E-model from RTCP, see offhook/phone/mos.py). Colours (plain ANSI) when the
output is a terminal that is not "dumb" and NO_COLOR is unset.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import termios
import time
import tty
from collections.abc import Callable, Coroutine
from typing import Any

from offhook.errors import OffhookError
from offhook.phone import (
    Call,
    CallAudio,
    CallState,
    CallStateChanged,
    DeviceChanged,
    DtmfReceived,
    NetworkChanged,
    NullAudio,
    Phone,
    PhoneConfig,
    PhoneEvent,
    RegistrationChanged,
    WavAudio,
)

__all__ = ["Console", "add_arguments", "run_console"]

HELP = ("keys: a answer, x reject, h hang up, o hold/resume, s swap, t transfer, T attended transfer, "
        "c conference, m mute, digits DTMF, d dial, r redial, b call back, D do-not-disturb, q quit")

_COLOURS = {
    CallState.INCOMING: "1;33", CallState.RINGING: "33", CallState.DIALING: "33",
    CallState.EARLY_MEDIA: "33", CallState.ACTIVE: "1;32", CallState.HELD: "36",
    CallState.REMOTE_HELD: "36", CallState.TRANSFERRED: "35", CallState.ENDED: "2",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE",
                        help="configuration file (default ~/.config/offhook/config.toml)")
    parser.add_argument("--listen", dest="console_listen", metavar="ADDR:PORT",
                        help="SIP address without an account (default 127.0.0.1:5060)")
    parser.add_argument("--play", dest="console_play", metavar="in.wav",
                        help="console: send this WAV as the microphone of each call")
    parser.add_argument("--record", dest="console_record", metavar="out.wav",
                        help="console: record each call's far end to this WAV")


class Console:
    """The console's logic, independent of the terminal: feed keys, get text out."""

    def __init__(self, phone: Phone, write: Callable[[str], None], *, colour: bool = False) -> None:
        self.phone = phone
        self.write = write
        self.colour = colour
        self.prompt: str | None = None      # "dial" / "transfer to" while a line is typed
        self.typed = ""
        self.quit = asyncio.Event()
        self._numbers: dict[Call, int] = {}
        self._fallback: dict[str, bool] = {}    # direction -> on a fallback device
        phone.add_listener(self.on_event)

    # --- output --------------------------------------------------------------------------------

    def _c(self, code: str, text: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.colour else text

    def number(self, call: Call) -> int:
        return self._numbers.setdefault(call, len(self._numbers) + 1)

    def say(self, text: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        self.write(f"\r\x1b[K{self._c('2', stamp)} {text}\r\n")
        self.redraw()

    def status_line(self) -> str:
        parts = []
        for name, line in self.phone.lines.items():
            state = line.reg_state if line.registration is not None else "peer-to-peer"
            colour = "32" if state in ("registered", "peer-to-peer") else "31"
            parts.append(f"{name}: {self._c(colour, state)}")
        network = self.phone.network
        if network is not None and network.up is False:
            parts.append(self._c("1;31", "no network"))
        elif network is not None:
            parts.append("net: " + (", ".join(sorted(network.snapshot.addresses)) or "up"))
        if self.phone.hid_name is not None:
            parts.append(f"USB phone: {self.phone.hid_name}")
        if self.phone.policy.dnd:
            parts.append(self._c("1;31", "DND"))
        parts.extend(self._device_parts())
        for call in self.phone.live_calls:
            text = f"#{self.number(call)} {call.party} {self._c(_COLOURS[call.state], call.state.value)}"
            if call.answered_at is not None:
                secs = int(call.duration)
                text += f" {secs // 60}:{secs % 60:02d}"
            quality = call.quality() if call.state is CallState.ACTIVE else None
            if quality is not None:
                text += f" MOS {quality.mos:.1f}"
            if call.muted:
                text += " " + self._c("31", "muted")
            parts.append(text)
        if not self.phone.live_calls:
            parts.append("idle")
        status = " | ".join(parts)
        if self.prompt is not None:
            status += f" | {self.prompt}: {self.typed}"
        return status

    def _device_parts(self) -> list[str]:
        devices = self.phone.devices
        if devices is None:
            return []
        parts = []
        for label, direction, name in (("mic", "capture", devices.capture_device),
                                       ("speaker", "playback", devices.playback_device)):
            if direction == "capture" and devices.mode == "playback":
                continue
            if direction == "playback" and devices.mode == "capture":
                continue
            if name is None:
                parts.append(f"{label}: {self._c('31', 'none')}")
            elif self._fallback.get(direction):
                parts.append(f"{label}: {name} {self._c('33', '(fallback)')}")
            else:
                parts.append(f"{label}: {name}")
        return parts

    def redraw(self) -> None:
        self.write(f"\r\x1b[K{self.status_line()}")

    def on_event(self, event: PhoneEvent) -> None:
        if isinstance(event, RegistrationChanged):
            self.say(f"{event.account}: {event.state}" + (f" ({event.reason})" if event.reason else ""))
        elif isinstance(event, CallStateChanged):
            call = event.call
            if event.reason in ("muted", "unmuted"):
                self.say(f"#{self.number(call)} {event.reason}")
                return
            text = f"#{self.number(call)} {call.party}: {self._c(_COLOURS[event.state], event.state.value)}"
            if event.state is CallState.INCOMING:
                text += "  (a answer, x reject)"
            if event.reason:
                text += f" ({event.reason})"
            self.say(text)
        elif isinstance(event, NetworkChanged):
            if event.kind == "lost":
                self.say(self._c("31", "network lost: calls and registrations wait for it"))
            else:
                verb = "back" if event.kind == "back" else "changed"
                self.say(self._c("32", f"network {verb} ({', '.join(event.addresses)}): registering again"))
        elif isinstance(event, DtmfReceived):
            self.say(f"#{self.number(event.call)} DTMF {event.digit}")
        elif isinstance(event, DeviceChanged):
            if event.kind in ("fallback", "reopened"):
                self._fallback[event.direction] = event.kind == "fallback"
            if event.kind == "lost":
                text = f"{event.direction} device {event.previous!r} lost ({event.reason})"
            elif event.kind == "fallback":
                text = f"{event.direction} now on {event.device!r} (instead of {event.previous!r})"
            elif event.kind == "reopened":
                text = f"{event.direction} device {event.device!r} back"
            else:
                text = f"no {event.direction} device could be opened; retrying"
            self.say(self._c("33", text))

    # --- input ---------------------------------------------------------------------------------

    def current(self) -> Call | None:
        """The call a key acts on: the active one, else the ringing one, else the newest live one."""
        calls = self.phone.live_calls
        for states in ((CallState.ACTIVE, CallState.REMOTE_HELD, CallState.EARLY_MEDIA),
                       (CallState.INCOMING,), (CallState.DIALING, CallState.RINGING), (CallState.HELD,)):
            for call in reversed(calls):
                if call.state in states:
                    return call
        return None

    def incoming(self) -> Call | None:
        return next((c for c in reversed(self.phone.live_calls) if c.state is CallState.INCOMING), None)

    def key(self, ch: str) -> None:
        if self.prompt is not None:
            self._prompt_key(ch)
            return
        action = self._actions().get(ch)
        if action is not None:
            self._run(action())
        elif ch in "0123456789*#":
            call = self.current()
            if call is not None and call.state in (CallState.ACTIVE, CallState.REMOTE_HELD,
                                                   CallState.EARLY_MEDIA):
                self._run(call.send_dtmf(ch))
                self.say(f"#{self.number(call)} sent DTMF {ch}")
            else:
                self.start_prompt("dial", ch)
        elif ch == "?":
            self.say(HELP)
        elif ch == "d":
            self.start_prompt("dial")
        elif ch == "t":
            if self.current() is None:
                self.say("no call to transfer")
            else:
                self.start_prompt("transfer to")

    def _actions(self) -> dict[str, Callable[[], Coroutine[Any, Any, None]]]:
        return {"a": self.answer, "x": self.reject, "h": self.hangup, "o": self.hold_toggle,
                "s": self.swap, "m": self.mute_toggle, "c": self.conference, "r": self.redial,
                "b": self.call_back, "D": self.dnd, "T": self.attended, "q": self.stop}

    def start_prompt(self, name: str, typed: str = "") -> None:
        self.prompt, self.typed = name, typed
        if name == "dial":
            self.phone.dialing(True)
        self.redraw()

    def _end_prompt(self) -> None:
        if self.prompt == "dial":
            self.phone.dialing(False)
        self.prompt, self.typed = None, ""

    def _prompt_key(self, ch: str) -> None:
        if ch in ("\r", "\n"):
            name, text = self.prompt, self.typed.strip()
            self._end_prompt()
            if text and name == "dial":
                self._run(self.dial(text))
            elif text and name == "transfer to":
                self._run(self.transfer(text))
            self.redraw()
        elif ch == "\x1b":
            self._end_prompt()
            self.redraw()
        elif ch in ("\x7f", "\b"):
            self.typed = self.typed[:-1]
            self.redraw()
        elif ch.isprintable():
            self.typed += ch
            self.redraw()

    def _run(self, coro: Coroutine[Any, Any, None]) -> None:
        async def guarded() -> None:
            try:
                await coro
            except (OffhookError, TimeoutError) as exc:
                self.say(self._c("31", str(exc) or "timed out"))
        asyncio.get_running_loop().create_task(guarded())

    # --- actions -------------------------------------------------------------------------------

    async def answer(self) -> None:
        call = self.incoming()
        if call is None:
            self.say("no incoming call to answer")
            return
        await call.answer()

    async def reject(self) -> None:
        call = self.incoming()
        if call is None:
            self.say("no incoming call to reject")
            return
        await call.reject()

    async def hangup(self) -> None:
        call = self.current()
        if call is None:
            self.say("no call to hang up")
            return
        await call.hangup()

    async def hold_toggle(self) -> None:
        call = self.current()
        if call is None:
            self.say("no call to hold")
        elif call.state is CallState.HELD:
            await call.resume()
        else:
            await call.hold()

    async def swap(self) -> None:
        await self.phone.swap()

    async def mute_toggle(self) -> None:
        call = self.current()
        if call is None:
            self.say("no call to mute")
        elif call.muted:
            await call.unmute()
        else:
            await call.mute()

    async def conference(self) -> None:
        await self.phone.conference(self.phone.live_calls)

    async def dial(self, text: str) -> None:
        call = await self.phone.call(text)
        self.say(f"#{self.number(call)} calling {call.remote_uri}")

    async def transfer(self, text: str) -> None:
        call = self.current()
        if call is None:
            self.say("no call to transfer")
            return
        await call.transfer(text)

    async def attended(self) -> None:
        calls = [c for c in self.phone.live_calls if c.state is not CallState.INCOMING]
        if len(calls) != 2:
            self.say("an attended transfer needs exactly two calls")
            return
        held = next((c for c in calls if c.state is CallState.HELD), calls[0])
        other = calls[1] if held is calls[0] else calls[0]
        await held.transfer_to(other)

    async def redial(self) -> None:
        await self.phone.redial()

    async def call_back(self) -> None:
        await self.phone.call_back()

    async def dnd(self) -> None:
        self.phone.policy.dnd = not self.phone.policy.dnd
        self.say(f"do not disturb {'on' if self.phone.policy.dnd else 'off'}")

    async def stop(self) -> None:
        self.quit.set()


def _config(args: argparse.Namespace) -> PhoneConfig:
    from offhook.cli.phone_config import front_end_config
    return front_end_config(args.config, args.console_listen, "--listen")


def _audio(args: argparse.Namespace, config: PhoneConfig) -> Callable[[], CallAudio] | None:
    """--play/--record WAVs, else the configured sound devices (None: the phone opens them),
    else no audio."""
    if args.console_play or args.console_record:
        play, record = args.console_play, args.console_record
        return lambda: WavAudio(play=play, record=record)
    if config.audio.capture != "null" or config.audio.playback != "null":
        return None
    return NullAudio


async def _main(args: argparse.Namespace) -> None:
    out = sys.stdout
    config = _config(args)
    phone = Phone(config, audio=_audio(args, config))
    colour = out.isatty() and os.environ.get("TERM", "dumb") != "dumb" and "NO_COLOR" not in os.environ

    def write(text: str) -> None:
        out.write(text)
        out.flush()

    console = Console(phone, write, colour=colour)
    await phone.start()
    for name, line in phone.lines.items():
        host, port = line.agent.listen_address
        where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        transport = line.agent.ua.contact.transport
        console.say(f"{name}: listening on {where}" + ("" if transport == "UDP" else f" ({transport})"))
    if phone.cti is not None:     # screen pops: the customer's card before answering
        phone.cti.subscribe(lambda pop: console.say(pop.describe()) if pop.lookup != "pending" else None)
    console.say("press ? for help, q to quit")
    loop = asyncio.get_running_loop()
    fd = sys.stdin.fileno()

    def on_input() -> None:
        try:
            data = os.read(fd, 64).decode("utf-8", "replace")
        except OSError:
            data = ""
        if not data:
            loop.remove_reader(fd)
            console.quit.set()
            return
        for ch in data:
            console.key(ch)

    loop.add_reader(fd, on_input)
    try:
        while not console.quit.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(console.quit.wait(), 1.0)
            console.redraw()
    finally:
        loop.remove_reader(fd)
        await phone.stop()
        write("\r\x1b[K" + "bye\r\n")


def run_console(args: argparse.Namespace) -> int:
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd) if os.isatty(fd) else None
    try:
        if saved is not None:
            tty.setcbreak(fd)
        asyncio.run(_main(args))
    except OffhookError as exc:
        print(f"offhook: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        if saved is not None:
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)
    return 0
