"""A USB headset or USB phone driving the Phone: its buttons act, its LEDs show the calls.

    device = open_device(enumerate_devices()[0].path)     # devices/hid/adapter.py (hidapi)
    controller = HidController(phone, device)
    controller.start()                                     # from the phone's event loop
    ...
    await controller.stop()

The device is anything with the three calls of :class:`HidIO` (``get_report_descriptor``,
``read``, ``write``): the hidapi adapter on a real machine, a scripted stand-in in the
tests (no virtual HID device can exist on the test machines, ../shared/TESTBED.md).  A
reader thread blocks in ``read`` (100 ms timeouts, so stop() is prompt) and hands each
input report to the event loop; there the TelephonyDecoder (devices/hid/telephony.py)
turns it into PhoneActions, which one task carries out in order:

- ANSWER (off-hook, or the answer button of a relative hook switch): answer the ringing
  call; with none, resume the held call when nothing talks; otherwise pick up the line
  to dial (the dial tone plays until a call is made).
- HANG_UP (on-hook): hang up the talking call (or stop dialling; a ringing call with
  nothing else going on is rejected -- what lifting and dropping the handset means).
- MUTE / UNMUTE: the talking call's microphone.
- FLASH: with a call waiting, answer it (the talking call goes on hold); else swap the
  held and the talking call.
- REDIAL: call the last number dialled.

The LEDs follow the phone, not the buttons: after every phone event the controller works
out an IndicatorState -- ring while a call rings here, off-hook while a call is up (or
the line is picked up to dial), mute, hold -- and writes the output reports that changed.
While an action is being carried out the LEDs wait for its end, so a swap (hold, then
resume) does not blink the off-hook LED.  The decoder is told the phone's hook and mute
state after each change (`sync`), so a headset that echoes the host's off-hook LED, or
a call the far end ends, never reads as a new button press.

Errors of an action (a call that ended meanwhile, nothing to redial) are logged and the
device carries on; a device that goes away (DeviceError from read) stops the reader and
is reported in `error`.

From the configuration (`[hid] device = ...`, phone/config.py's HidConfig) the Phone
opens the device itself: `open_configured_device` lists the HID interfaces through a
`HidBackend` (hidapi by default; the tests give one of their own), picks the one the
config names with `select_device`, and opens it.  "auto" takes the first interface on
the telephony usage page and is content with none (the phone runs without); a device
named by id or name that is not there is an error naming what was found.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from typing import Protocol

from offhook.devices.hid.adapter import HidDeviceInfo
from offhook.devices.hid.descriptor import parse_report_descriptor
from offhook.devices.hid.leds import IndicatorEncoder, IndicatorState
from offhook.devices.hid.telephony import PhoneAction, TelephonyDecoder
from offhook.errors import DeviceError, HidReportError, OffhookError
from offhook.phone.call import Call, CallError
from offhook.phone.config import HidConfig
from offhook.phone.events import CallState, PhoneEvent
from offhook.phone.phone import Phone, PhoneError

__all__ = ["HidBackend", "HidController", "HidIO", "HidapiBackend", "indicator_state",
           "open_configured_device", "select_device"]

log = logging.getLogger("offhook.phone.hid")

_READ_TIMEOUT_MS = 100
_TALKING = (CallState.ACTIVE, CallState.REMOTE_HELD, CallState.EARLY_MEDIA)
_UP = (*_TALKING, CallState.DIALING, CallState.RINGING)


class HidIO(Protocol):
    """The device side: what devices/hid/adapter.HidDevice offers."""

    def get_report_descriptor(self) -> bytes: ...
    def read(self, size: int = 64, timeout_ms: int | None = None) -> bytes: ...
    def write(self, report: bytes) -> int: ...


class HidBackend(Protocol):
    """Lists HID interfaces and opens one: hidapi (HidapiBackend), or a test's stand-in."""

    def enumerate(self) -> list[HidDeviceInfo]: ...
    def open(self, info: HidDeviceInfo) -> HidIO: ...


class HidapiBackend:
    """The real devices, through devices/hid/adapter.py (every usage page: Linux's hidraw
    reports only a device's first top-level collection, often not the telephony one)."""

    def enumerate(self) -> list[HidDeviceInfo]:
        from offhook.devices.hid.adapter import enumerate_devices
        return enumerate_devices(usage_page=None)

    def open(self, info: HidDeviceInfo) -> HidIO:
        from offhook.devices.hid.adapter import open_device
        return open_device(info.path)


def _describe(info: HidDeviceInfo) -> str:
    name = " ".join(p for p in (info.manufacturer, info.product) if p) or "unnamed"
    return f"{name} ({info.vendor_id:04x}:{info.product_id:04x})"


def select_device(config: HidConfig, found: list[HidDeviceInfo]) -> HidDeviceInfo | None:
    """The interface `config` names among `found`: by ids, by name (a case-insensitive
    part of "manufacturer product"), or for "auto" the first on the telephony page.  When
    a device has several interfaces, its telephony one is preferred."""
    from offhook.devices.hid.usages import TELEPHONY_PAGE
    if config.vendor_id is not None:
        matches = [i for i in found if (i.vendor_id, i.product_id) == (config.vendor_id, config.product_id)]
    elif config.name is not None:
        want = config.name.casefold()
        matches = [i for i in found if want in f"{i.manufacturer} {i.product}".casefold()]
    else:
        matches = [i for i in found if i.usage_page == TELEPHONY_PAGE]
    matches.sort(key=lambda i: i.usage_page != TELEPHONY_PAGE)
    return matches[0] if matches else None


def open_configured_device(config: HidConfig, backend: HidBackend) -> tuple[HidIO, str] | None:
    """Open the device `config` names: (device, its description), or None for "auto" with
    no telephony device plugged in.  DeviceError when a named device is not there (the
    message lists what is) or cannot be opened."""
    found = backend.enumerate()
    info = select_device(config, found)
    if info is None:
        if config.auto:
            log.info("[hid] device = \"auto\": no USB telephony device found")
            return None
        seen = ", ".join(_describe(i) for i in found) or "none"
        raise DeviceError(f"[hid] device = {config.device!r}: no such USB HID device is plugged in "
                          f"(found: {seen})")
    return backend.open(info), _describe(info)


def indicator_state(phone: Phone) -> IndicatorState:
    """What a headset's LEDs should show for the phone's calls right now."""
    calls = phone.live_calls
    talking = next((c for c in calls if c.state in _TALKING), None)
    return IndicatorState(
        off_hook=any(c.state in _UP for c in calls) or phone.is_dialing,
        muted=talking is not None and talking.muted,
        ringing=any(c.state is CallState.INCOMING for c in calls),
        on_hold=any(c.state is CallState.HELD for c in calls),
    )


class HidController:
    """Binds one HID telephony device to a Phone (see the module docstring).

    Use it from the phone's event loop.  `actions` lists every action decoded, in order;
    `written` every output report sent (the LEDs); `error` the device error that stopped
    the reader, if any.
    """

    def __init__(self, phone: Phone, device: HidIO, *, report_size: int = 64) -> None:
        self.phone = phone
        self.device = device
        self.report_size = report_size
        descriptor = parse_report_descriptor(device.get_report_descriptor())
        self.decoder = TelephonyDecoder(descriptor)
        self.encoder = IndicatorEncoder(descriptor)
        self.actions: list[PhoneAction] = []
        self.written: list[bytes] = []
        self.error: DeviceError | None = None
        self.reports_fed = 0
        self._sent: dict[int, bytes] = {}       # report ID -> the last report written
        self._reports: asyncio.Queue[bytes] = asyncio.Queue()
        self._busy = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Listen to the phone, light the LEDs for its current state, start reading."""
        if self._task is not None:
            return
        self._loop = asyncio.get_running_loop()
        self.phone.add_listener(self._on_event)
        self._update_leds()
        self._task = asyncio.create_task(self._act())
        self._stop.clear()
        self._thread = threading.Thread(target=self._read_loop, name="offhook-hid", daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        """Stop reading and acting; the LEDs are switched off."""
        self.phone.remove_listener(self._on_event)
        self._stop.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 2.0)
            self._thread = None
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(DeviceError):
            self._write_state(IndicatorState())

    async def __aenter__(self) -> HidController:
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- input ---------------------------------------------------------------------------------

    def _read_loop(self) -> None:
        loop = self._loop
        assert loop is not None  # set by start()
        while not self._stop.is_set():
            try:
                report = self.device.read(self.report_size, _READ_TIMEOUT_MS)
            except DeviceError as exc:
                log.error("HID device: %s", exc)
                self.error = exc
                return
            if report:
                with contextlib.suppress(RuntimeError):  # the loop closed under us
                    loop.call_soon_threadsafe(self.feed, report)

    def feed(self, report: bytes) -> None:
        """One input report, as read from the device (the reader thread calls this through
        the event loop; a caller of its own may too)."""
        self.reports_fed += 1
        self._busy += 1
        self._idle.clear()
        self._reports.put_nowait(bytes(report))

    async def settled(self, timeout: float | None = 10.0) -> None:
        """Wait until every report fed so far has been acted on."""
        async with asyncio.timeout(timeout):
            await self._idle.wait()

    async def _act(self) -> None:
        while True:
            report = await self._reports.get()
            try:
                try:
                    actions = self.decoder.feed(report)
                except HidReportError as exc:
                    log.warning("HID report %s ignored: %s", report.hex(), exc)
                    actions = []
                for action in actions:
                    self.actions.append(action)
                    try:
                        await self._do(action)
                    except (CallError, PhoneError) as exc:
                        log.info("HID %s: %s", action.value, exc)
                    except OffhookError:
                        log.exception("HID %s failed", action.value)
            finally:
                self._busy -= 1
                self._update_leds()
                if self._busy == 0:
                    self._idle.set()

    async def _do(self, action: PhoneAction) -> None:
        phone = self.phone
        calls = phone.live_calls
        ringing = next((c for c in reversed(calls) if c.state is CallState.INCOMING), None)
        talking = next((c for c in reversed(calls) if c.state in _UP), None)
        held = next((c for c in calls if c.state is CallState.HELD), None)
        if action is PhoneAction.ANSWER:
            if ringing is not None:
                await ringing.answer()
            elif held is not None and talking is None:
                await held.resume()
            elif talking is None:
                phone.dialing(True)
        elif action is PhoneAction.HANG_UP:
            phone.dialing(False)
            if talking is not None:
                await talking.hangup()
            elif ringing is not None and held is None:
                await ringing.reject()
        elif action in (PhoneAction.MUTE, PhoneAction.UNMUTE):
            target = talking if talking is not None else held
            if target is None:
                return
            await (target.mute() if action is PhoneAction.MUTE else target.unmute())
        elif action is PhoneAction.FLASH:
            if ringing is not None:
                await ringing.answer()      # call waiting: the talking call goes on hold
            elif held is not None:
                await phone.swap()
        elif action is PhoneAction.REDIAL:
            phone.dialing(False)
            await phone.redial()

    # --- output --------------------------------------------------------------------------------

    def _on_event(self, _event: PhoneEvent) -> None:
        if self._busy == 0:
            self._update_leds()

    def _update_leds(self) -> None:
        state = indicator_state(self.phone)
        talking = _talking(self.phone)
        self.decoder.sync(off_hook=state.off_hook, muted=talking.muted if talking is not None else False)
        try:
            self._write_state(state)
        except DeviceError as exc:
            log.error("HID device: %s", exc)
            self.error = exc

    def _write_state(self, state: IndicatorState) -> None:
        for report in self.encoder.encode(state):
            report_id = report[0]
            if self._sent.get(report_id) == report:
                continue
            self.device.write(report)
            self._sent[report_id] = report
            self.written.append(report)

    @property
    def leds(self) -> dict[int, bytes]:
        """The last output report written per report ID."""
        return dict(self._sent)


def _talking(phone: Phone) -> Call | None:
    return next((c for c in phone.live_calls if c.state in _TALKING), None)
