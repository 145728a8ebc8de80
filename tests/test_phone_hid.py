"""A USB headset drives real calls: HID input reports answer, mute, swap and hang up, and the
LED output reports follow the phone.

No virtual HID device can exist on the test machines (no uhid, no USB: ../shared/TESTBED.md),
so `ScriptedHeadset` replaces the device behind the controller's three calls
(get_report_descriptor / read / write): it hands out input reports, byte for byte in the
shapes the headsets of tests/data/hid send, and keeps every output report written, which
the tests compare byte for byte (and `ScriptedBackend` stands in for hidapi's device list
when the phone opens the device `[hid]` names).  Everything above those three calls is the real thing:
two (or three) Phones on loopback, the engine's local audio on a DevicePort, and the audio
measured by frequency at the far end.
"""
from __future__ import annotations

import asyncio
import queue
from pathlib import Path

import numpy as np
import pytest

import offhook.engine as eng
from offhook.cli.console import Console
from offhook.devices.hid import PhoneAction
from offhook.devices.hid.adapter import HidDeviceInfo
from offhook.phone import (
    CallState,
    ConfigError,
    History,
    Phone,
    PhoneConfig,
    PhoneError,
    PolicyConfig,
    ToneAudio,
    load_config,
    parse_config,
)
from offhook.phone.call import Call
from offhook.phone.config import AudioConfig
from offhook.phone.hid import HidController, select_device
from phone_helpers import FakeSoundCard, band_share, recorded, uri_of

DATA = Path(__file__).parent / "data" / "hid"
RATE = 16000


def load(name: str) -> bytes:
    lines = (DATA / f"{name}.hex").read_text().splitlines()
    return bytes.fromhex(" ".join(line.split("#", 1)[0] for line in lines))


class ScriptedHeadset:
    """Stands in for a USB headset (no virtual HID device can exist here): input reports
    come from `press()`, output reports are kept in `written`."""

    def __init__(self, fixture: str) -> None:
        self.descriptor = load(fixture)
        self.inbox: queue.Queue[bytes] = queue.Queue()
        self.written: list[bytes] = []

    def get_report_descriptor(self) -> bytes:
        return self.descriptor

    def read(self, size: int = 64, timeout_ms: int | None = None) -> bytes:
        try:
            return self.inbox.get(timeout=(timeout_ms or 0) / 1000)
        except queue.Empty:
            return b""

    def write(self, report: bytes) -> int:
        self.written.append(bytes(report))
        return len(report)


async def press(ctl: HidController, dev: ScriptedHeadset, *reports: list[int]) -> None:
    """The device sends `reports`; returns once the controller has acted on them all."""
    goal = ctl.reports_fed + len(reports)
    for report in reports:
        dev.inbox.put(bytes(report))
    async with asyncio.timeout(10):
        while ctl.reports_fed < goal:
            await asyncio.sleep(0.01)
    await ctl.settled()


async def until(predicate: object, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():  # type: ignore[operator]
            await asyncio.sleep(0.02)


def leds(dev: ScriptedHeadset) -> bytes:
    return dev.written[-1]


def rms(pcm: np.ndarray) -> float:
    return float(np.sqrt(np.mean(pcm.astype(np.float64) ** 2)))


async def incoming(phone: Phone, n: int) -> Call:
    await until(lambda: len(phone.calls) >= n and phone.calls[n - 1].state is CallState.INCOMING)
    return phone.calls[n - 1]


def test_jabra_like_headset_answers_mutes_swaps_and_hangs_up(tmp_path: Path) -> None:
    """Jabra-shaped headset (absolute hook switch, relative mute/flash; LEDs in report 2:
    bit 0 off-hook, 1 mute, 2 ring, 3 hold, 5 the headset's ringer)."""
    async def run() -> dict[str, np.ndarray]:
        port = eng.DevicePort(RATE, RATE)
        a = Phone(PhoneConfig(audio=AudioConfig(echo_canceller=False)), audio_port=port)
        b = Phone(audio=lambda: ToneAudio(1000))
        c = Phone(audio=lambda: ToneAudio(1500))
        dev = ScriptedHeadset("jabra_like")
        got: dict[str, np.ndarray] = {}
        with FakeSoundCard(port, 600) as card:
            for p in (a, b, c):
                await p.start()
            ctl = HidController(a, dev)
            ctl.start()
            try:
                assert leds(dev) == b"\x02\x00"
                # B calls: the ring LED and the headset's ringer
                b_call = await b.call(uri_of(a))
                ab = await incoming(a, 1)
                await until(lambda: leds(dev) == b"\x02\x24")
                # off-hook: answered, off-hook LED; audio both ways
                await press(ctl, dev, [2, 0x01, 0])
                assert ab.state is CallState.ACTIVE and leds(dev) == b"\x02\x01"
                await b_call.record(tmp_path / "b.wav")
                await asyncio.sleep(1.2)
                await b_call.stop_recording()
                got["a_hears_b"] = card.last(0.8)
                # phone mute pressed and released: muted, mute LED; B hears silence
                await press(ctl, dev, [2, 0x05, 0], [2, 0x01, 0])
                assert ab.muted and leds(dev) == b"\x02\x03"
                await asyncio.sleep(0.3)
                await b_call.record(tmp_path / "b_muted.wav")
                await asyncio.sleep(0.8)
                await b_call.stop_recording()
                # C calls: call waiting (ring LED while off-hook and muted)
                c_call = await c.call(uri_of(a))
                ac = await incoming(a, 2)
                await until(lambda: leds(dev) == b"\x02\x27")
                # flash: C answered, B on hold; C's call is not muted
                await press(ctl, dev, [2, 0x09, 0], [2, 0x01, 0])
                assert ac.state is CallState.ACTIVE and ab.state is CallState.HELD
                assert leds(dev) == b"\x02\x09"
                await c_call.record(tmp_path / "c.wav")
                await asyncio.sleep(1.2)
                await c_call.stop_recording()
                got["a_hears_c"] = card.last(0.8)
                # flash again: back to B (still muted), C on hold
                await press(ctl, dev, [2, 0x09, 0], [2, 0x01, 0])
                assert ab.state is CallState.ACTIVE and ac.state is CallState.HELD
                assert leds(dev) == b"\x02\x0b"
                # on-hook: B hung up; C stays held
                await press(ctl, dev, [2, 0x00, 0])
                await b_call.wait_ended(5)
                assert ab.state is CallState.ENDED and ac.state is CallState.HELD
                assert leds(dev) == b"\x02\x08"
                # off-hook picks up the held call, on-hook ends it
                await press(ctl, dev, [2, 0x01, 0])
                assert ac.state is CallState.ACTIVE and leds(dev) == b"\x02\x01"
                await press(ctl, dev, [2, 0x00, 0])
                await c_call.wait_ended(5)
                assert leds(dev) == b"\x02\x00"
                assert ctl.actions == [PhoneAction.ANSWER, PhoneAction.MUTE, PhoneAction.FLASH,
                                       PhoneAction.FLASH, PhoneAction.HANG_UP, PhoneAction.ANSWER,
                                       PhoneAction.HANG_UP]
                assert ctl.error is None
            finally:
                await ctl.stop()
                for p in (a, b, c):
                    await p.stop()
        got["b_heard"] = recorded(tmp_path / "b.wav")[0]
        got["b_heard_muted"] = recorded(tmp_path / "b_muted.wav")[0]
        got["c_heard"] = recorded(tmp_path / "c.wav")[0]
        # the LEDs were only written when they changed
        assert all(x != y for x, y in zip(dev.written, dev.written[1:], strict=False))
        return got

    got = asyncio.run(run())
    assert band_share(got["a_hears_b"], RATE, (1000,)) > 0.9       # B out of A's speaker
    assert band_share(got["b_heard"][RATE // 4:], RATE, (600,)) > 0.9   # A's microphone at B
    assert rms(got["b_heard_muted"][RATE // 4:]) < 30                   # muted: B hears silence
    assert band_share(got["a_hears_c"], RATE, (1500,)) > 0.9       # after the flash: C
    assert band_share(got["c_heard"][RATE // 4:], RATE, (600,)) > 0.9   # ... hears A, unmuted


@pytest.mark.parametrize(("fixture", "reports"), [
    # Yealink-shaped: relative (toggle) hook switch bit 0, redial bit 3; LEDs report 4
    ("yealink_like", {"hook": [[2, 0x01], [2, 0x00]], "redial": [[2, 0x08], [2, 0x00]],
                      "idle": [b"\x04\x00"], "off_hook": [b"\x04\x01"], "ring": [b"\x04\x04"]}),
    # Poly-shaped: absolute hook switch bit 1 (the press is a level), one LED report each
    ("poly_like", {"hook": None, "redial": None,
                   "idle": [b"\x09\x00", b"\x17\x00", b"\x18\x00"], "off_hook": [b"\x17\x01"],
                   "ring": [b"\x18\x01"]}),
])
def test_hook_switch_shapes_dial_tone_redial_and_answer(tmp_path: Path, fixture: str,
                                                        reports: dict[str, object]) -> None:
    """Off-hook with nothing ringing picks up the line (dial tone, off-hook LED); on-hook
    puts it down; redial calls the last number; off-hook answers a ringing call."""
    toggle = fixture == "yealink_like"

    def hook(off: bool) -> list[list[int]]:
        if toggle:
            return reports["hook"]  # type: ignore[return-value]
        return [[8, 0b010 if off else 0b000]]

    async def run() -> None:
        a = Phone(PhoneConfig(), audio=lambda: ToneAudio(600),
                  history=History.open(tmp_path / "history.sqlite"))
        b = Phone(PhoneConfig(policy=PolicyConfig(auto_answer=True)), audio=lambda: ToneAudio(1000))
        dev = ScriptedHeadset(fixture)
        await a.start()
        await b.start()
        ctl = HidController(a, dev)
        ctl.start()
        try:
            assert dev.written == reports["idle"]
            await press(ctl, dev, *hook(True))
            assert a.is_dialing and dev.written[-1:] == reports["off_hook"]
            await press(ctl, dev, *hook(False))
            assert not a.is_dialing and dev.written[-1] in reports["idle"]  # type: ignore[operator]
            if toggle:
                first = await a.call(uri_of(b))     # something to redial
                await first.wait_answered(5)
                await first.hangup()
                await press(ctl, dev, *reports["redial"])  # type: ignore[arg-type]
                redialled = a.calls[-1]
                assert redialled is not first and redialled.remote_uri == first.remote_uri
                await redialled.wait_answered(5)
                await until(lambda: ctl.leds.get(4) == b"\x04\x01")
                await press(ctl, dev, *hook(False))
                await redialled.wait_ended(5)
                assert ctl.leds.get(4) == b"\x04\x00"
            # B calls A: ring LED, the hook answers
            b_call = await b.call(uri_of(a))
            call = await incoming(a, len(a.calls) + 1)
            await until(lambda: dev.written[-1:] == reports["ring"])
            await press(ctl, dev, *hook(True))
            assert call.state is CallState.ACTIVE
            await b_call.wait_answered(5)
            await press(ctl, dev, *hook(False))
            await b_call.wait_ended(5)
            assert call.state is CallState.ENDED
        finally:
            await ctl.stop()
            await a.stop()
            await b.stop()

    asyncio.run(run())


def test_unknown_reports_are_ignored_and_a_lost_device_stops_the_reader() -> None:
    from offhook.errors import DeviceError

    class Unplugged(ScriptedHeadset):
        def read(self, size: int = 64, timeout_ms: int | None = None) -> bytes:
            report = super().read(size, timeout_ms)
            if report == b"\xff":
                raise DeviceError("HID read failed: gone (was the device unplugged?)")
            return report

    async def run() -> None:
        a = Phone()
        await a.start()
        dev = Unplugged("jabra_like")
        ctl = HidController(a, dev)
        ctl.start()
        try:
            await press(ctl, dev, [7, 0, 0], [2, 0x01])     # no report 7; report 2 too short
            assert ctl.actions == [] and not a.is_dialing
            dev.inbox.put(b"\xff")
            await until(lambda: ctl.error is not None)
            assert "unplugged" in str(ctl.error)
        finally:
            await ctl.stop()
            await a.stop()

    asyncio.run(run())


# --- [hid] in the configuration: the Phone opens the device itself -----------------------------



def info(vendor: int, product: int, name: str, page: int = 0x0B, maker: str = "") -> HidDeviceInfo:
    return HidDeviceInfo(path=f"/dev/hidraw-{vendor:04x}-{product:04x}-{page}".encode(), vendor_id=vendor,
                         product_id=product, product=name, manufacturer=maker, serial_number="",
                         usage_page=page, usage=5, interface_number=3)


PLUGGED = [
    info(0x046D, 0x0A44, "USB Headset Logitech", page=0x0C, maker="Logitech"),   # a consumer-page only one
    info(0x0B0E, 0x245E, "Evolve 40", page=0x0C, maker="Jabra"),                 # Jabra's consumer interface
    info(0x0B0E, 0x245E, "Evolve 40", page=0x0B, maker="Jabra"),                 # ... and its telephony one
    info(0x6993, 0xB001, "Yealink USB-P1K", page=0x0B, maker="Yealink"),
]


class ScriptedBackend:
    """Stands in for hidapi (no HID device can exist here): `found` are the interfaces
    listed; opening any gives the scripted headset."""

    def __init__(self, found: list[HidDeviceInfo], device: ScriptedHeadset) -> None:
        self.found = found
        self.device = device
        self.opened: list[HidDeviceInfo] = []

    def enumerate(self) -> list[HidDeviceInfo]:
        return list(self.found)

    def open(self, which: HidDeviceInfo) -> ScriptedHeadset:
        self.opened.append(which)
        return self.device


@pytest.mark.parametrize(("device", "expected"), [
    ("auto", (0x0B0E, 0x245E, 0x0B)),               # the first telephony interface
    ("0b0e:245e", (0x0B0E, 0x245E, 0x0B)),          # by ids: its telephony interface first
    ("6993:B001", (0x6993, 0xB001, 0x0B)),
    ("jabra evolve", (0x0B0E, 0x245E, 0x0B)),       # by name: manufacturer + product
    ("Logitech", (0x046D, 0x0A44, 0x0C)),           # named: any page will do
    ("Plantronics", None),
    ("dead:beef", None),
])
def test_hid_config_selects_the_device(device: str, expected: tuple[int, int, int] | None) -> None:
    config = parse_config(f'[hid]\ndevice = "{device}"\n').hid
    assert config is not None
    chosen = select_device(config, PLUGGED)
    assert (None if chosen is None else (chosen.vendor_id, chosen.product_id, chosen.usage_page)) == expected


@pytest.mark.parametrize(("text", "message"), [
    ('[hid]\ndevice = "0b0e:zz"\n', "config.toml: hid.device: '0b0e:zz' is not a vendor:product id pair "
                                    'in hex, like "0b0e:245e" (or "auto", or a device name)'),
    ('[hid]\ndevice = "12345:1"\n', "is not a vendor:product id pair in hex"),
    ('[hid]\ndevice = 2830\n', "config.toml: hid.device: must be a non-empty string, not 2830"),
    ('[hid]\nvendor = "0b0e"\n', "config.toml: hid.vendor: unknown key (known here: device)"),
    ("hid = 1\n", "config.toml: hid: must be a table, not int"),
])
def test_bad_hid_config_is_a_clear_error(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(text)
    assert message in str(err.value)


def test_no_hid_section_means_no_device() -> None:
    assert parse_config("").hid is None
    assert parse_config("[hid]\n").hid == parse_config('[hid]\ndevice = "auto"\n').hid


def test_a_configured_headset_answers_and_hangs_up_through_the_phone(tmp_path: Path) -> None:
    """`[hid] device = "Jabra"` in the phone's config file: the Phone opens the Jabra-shaped
    headset at start(), its LEDs ring with an incoming call, off-hook answers, mute mutes,
    on-hook hangs up, and the LEDs go dark when the phone stops."""
    path = tmp_path / "config.toml"
    path.write_text('[hid]\ndevice = "Jabra"\n')

    async def run() -> tuple[ScriptedBackend, list[PhoneAction]]:
        dev = ScriptedHeadset("jabra_like")
        backend = ScriptedBackend(PLUGGED, dev)
        a = Phone(load_config(path), hid_backend=backend)
        b = Phone(audio=lambda: ToneAudio(1000))
        await a.start()
        await b.start()
        try:
            ctl = a.hid
            assert ctl is not None and a.hid_name == "Jabra Evolve 40 (0b0e:245e)"
            status = Console(a, lambda _text: None).status_line()
            assert "| USB phone: Jabra Evolve 40 (0b0e:245e) |" in status
            assert leds(dev) == b"\x02\x00"
            b_call = await b.call(uri_of(a))
            ab = await incoming(a, 1)
            await until(lambda: leds(dev) == b"\x02\x24")            # ring LED + the headset's ringer
            await press(ctl, dev, [2, 0x01, 0])                        # off-hook
            assert ab.state is CallState.ACTIVE and leds(dev) == b"\x02\x01"
            await b_call.wait_answered(5)
            await press(ctl, dev, [2, 0x05, 0], [2, 0x01, 0])          # phone mute, pressed and released
            assert ab.muted and leds(dev) == b"\x02\x03"
            await press(ctl, dev, [2, 0x00, 0])                        # on-hook
            await b_call.wait_ended(5)
            assert ab.state is CallState.ENDED and leds(dev) == b"\x02\x00"
            actions = list(ctl.actions)
        finally:
            await a.stop()
            await b.stop()
        assert a.hid is None
        return backend, actions

    backend, actions = asyncio.run(run())
    assert [(i.vendor_id, i.usage_page) for i in backend.opened] == [(0x0B0E, 0x0B)]
    assert actions == [PhoneAction.ANSWER, PhoneAction.MUTE, PhoneAction.HANG_UP]
    assert backend.device.written[-1] == b"\x02\x00"


def test_a_missing_configured_headset_stops_the_start_with_a_clear_error() -> None:
    async def run(device: str) -> Phone:
        backend = ScriptedBackend(PLUGGED, ScriptedHeadset("jabra_like"))
        phone = Phone(parse_config(f'[hid]\ndevice = "{device}"\n'), hid_backend=backend)
        await phone.start()
        await phone.stop()
        return phone

    with pytest.raises(PhoneError) as err:
        asyncio.run(run("Plantronics"))
    assert str(err.value).startswith("[hid] device = 'Plantronics': no such USB HID device is plugged in "
                                     "(found: Logitech USB Headset Logitech (046d:0a44), Jabra Evolve 40")

    async def auto_none() -> str | None:
        backend = ScriptedBackend(PLUGGED[:1], ScriptedHeadset("jabra_like"))
        phone = Phone(parse_config("[hid]\n"), hid_backend=backend)
        await phone.start()
        try:
            return phone.hid_name if phone.hid is None else "opened"
        finally:
            await phone.stop()

    assert asyncio.run(auto_none()) is None       # "auto" with no telephony device: runs without
