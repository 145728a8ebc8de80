"""The softphone: accounts, calls, call waiting, transfers, tones, history — over asyncio.

    phone = Phone(load_config())
    await phone.start()                               # registers every account
    call = await phone.call("bob")                    # contact, number, speed dial or URI
    await call.wait_answered()
    await call.hold(); await call.resume(); await call.transfer("sip:carol@example.com")
    event = await phone.next_event()                  # CallStateChanged, RegistrationChanged, DtmfReceived
    await phone.stop()                                # hangs up, unregisters

One SipAgent ("line") per account, each on its own port, so every account has its own
identity, credentials and registration; with no account a single peer-to-peer line
listens on `[phone] listen`. One MediaEngine carries the calls' audio; each call's
CallAudio (phone/audio.py) is its microphone and speaker, LocalAudio the user's speaker
for the phone's own sounds (ring, ringback, busy, call waiting).

Incoming calls go through sip.message_im.CallPolicy (forward, DND, busy, auto-answer,
ring with forward-on-no-answer) plus `forward_busy`: a call the policy would refuse as
busy is forwarded there instead. An INVITE with Replaces (the last step of an attended
transfer someone else made) is answered at once and the call it replaces hung up.

Presence of network (phone/network.py): when an account registers somewhere other than
loopback (or a NetworkMonitor is given), the phone watches the machine's addresses and
default route.  Network lost: NetworkChanged("lost") and every registration shows "no
network" (a failed refresh meanwhile does not replace it).  Network back, or other
addresses: every account re-registers at once; an account listening on a wildcard
address whose local address towards its registrar changed gets a new SIP line on the
new address (its contact changes; calls on the old address cannot survive and end).

`[hid]` (phone/hid.py): the configured USB headset or phone is opened at start() and its
HidController drives the calls; `hid_name` says which device it is.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from offhook._devport import DevicePort
from offhook._media import MediaEngine
from offhook.cti import CtiService
from offhook.devices.audio import find_device
from offhook.devices.stream import DeviceStream, StreamEvent
from offhook.errors import OffhookError
from offhook.media.call_media import CallMedia
from offhook.phone.audio import CallAudio, LocalAudio, NullAudio, NullLocalAudio
from offhook.phone.call import Call, CallError
from offhook.phone.config import AccountConfig, PhoneConfig
from offhook.phone.contacts import Contacts
from offhook.phone.cti import cti_call
from offhook.phone.devices import DeviceAudio, DeviceLocalAudio, open_sound_devices
from offhook.phone.dialing import resolve_target
from offhook.phone.events import (
    CallState,
    CallStateChanged,
    DeviceChanged,
    DtmfReceived,
    NetworkChanged,
    PhoneEvent,
    RegistrationChanged,
)
from offhook.phone.history import History
from offhook.phone.network import NetworkMonitor
from offhook.sip.agent import SipAgent, local_address_towards
from offhook.sip.auth import Credentials, DigestClient
from offhook.sip.message_im import AutoAnswer, CallPolicy, Forward, Reject, Ring
from offhook.sip.register import Registration, RegState
from offhook.sip.resolve import Target, locate_registrar, system_resolver
from offhook.sip.tls import TlsConfig
from offhook.sip.ua import Call as SipCall
from offhook.sip.ua import CallEvent as SipEvent
from offhook.sip.ua import CallState as SipCallState
from offhook.sip.uri import SipURI

if TYPE_CHECKING:
    from offhook.phone.hid import HidBackend, HidController

__all__ = ["Phone", "PhoneError"]

log = logging.getLogger("offhook.phone")
_BUSY_TONE_SECONDS = 3.0
GAIN_MIN_DB = -96.0   # the engine's floor: at or below it, silence
GAIN_MAX_DB = 24.0
_REGISTER_TIMEOUT = 10.0
_KEEP_ENDED = 20


def _uri_host(host: str) -> str:
    """An IPv6 literal in brackets, as a SIP URI writes it (RFC 3261 §25.1 IPv6reference)."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


class PhoneError(OffhookError):
    """The phone cannot do what was asked (not started, no such account...)."""


@dataclass
class _Line:
    """One account (or the peer-to-peer line): its SIP agent and registration."""

    name: str
    account: AccountConfig | None
    agent: SipAgent
    auth: DigestClient | None = None
    registration: Registration | None = None
    reg_state: str = "none"
    reg_reason: str = ""
    locate_error: str = ""        # the registrar could not be found (DNS, getaddrinfo)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    reg_task: asyncio.Task[None] | None = None

    @property
    def domain(self) -> str | None:
        if self.account is not None and (self.account.registrar is not None or self.account.domain):
            return self.account.sip_domain
        host, port = self.agent.listen_address
        return f"{_uri_host(host)}:{port}"

    @property
    def via(self) -> tuple[str, int] | None:
        """Where calls go: the registrar in use (located by RFC 3263, maybe failed over)."""
        if self.registration is not None and not self.locate_error:
            return self.registration.registrar
        return self.account.registrar if self.account is not None else None


class Phone:
    """See the module docstring. Not thread-safe: use it from one event loop."""

    def __init__(self, config: PhoneConfig | None = None, *,
                 audio: Callable[[], CallAudio] | None = None,
                 local_audio: LocalAudio | None = None,
                 history: History | None = None, contacts: Contacts | None = None,
                 audio_port: DevicePort | None = None, cti: CtiService | None = None,
                 network: NetworkMonitor | None = None, hid_backend: HidBackend | None = None) -> None:
        self.config = config or PhoneConfig()
        self.audio_factory: Callable[[], CallAudio] = audio or NullAudio
        self.local_audio: LocalAudio = local_audio or NullLocalAudio()
        p = self.config.policy
        self.policy = CallPolicy(dnd=p.dnd, dnd_status=p.dnd_status,  # type: ignore[arg-type]
                                 auto_answer=p.auto_answer, auto_answer_after=p.auto_answer_after,
                                 forward_to=p.forward, no_answer_forward_to=p.forward_no_answer,
                                 no_answer_forward_after=p.forward_no_answer_after,
                                 max_calls=p.max_calls, call_waiting=p.call_waiting)
        self.forward_busy = p.forward_busy
        self.contacts = contacts if contacts is not None else Contacts.load(self.config.contacts)
        self.history = history if history is not None else (
            History.open(self.config.history) if self.config.history is not None else None)
        self.lines: dict[str, _Line] = {}
        self.calls: list[Call] = []
        self.engine: MediaEngine | None = None
        self.audio_port = audio_port
        # screen pops and call hooks: given, or from [cti] (then the phone owns and closes it)
        self.cti = cti
        self._own_cti = cti is None and self.config.cti is not None
        self.devices: DeviceStream | None = None
        self.volume: tuple[float, float] = (0.0, 0.0)   # set_volume's (playback, capture) dB
        self._own_audio = audio is None
        self._own_local_audio = local_audio is None
        self._events: asyncio.Queue[PhoneEvent] = asyncio.Queue()
        self._listeners: list[Callable[[PhoneEvent], None]] = []
        self._busy_until = 0.0
        self._tasks: set[asyncio.Task[None]] = set()
        self._timers: list[asyncio.TimerHandle] = []
        self._dialing = False
        self._started = False
        c = self.config
        self.tls = TlsConfig(cert=c.tls_cert, key=c.tls_key, ca=c.tls_ca,
                             insecure_no_verify=c.tls_insecure_no_verify)
        self._loop: asyncio.AbstractEventLoop | None = None
        # presence of network: given (tests), or watched when an account needs the network
        self.network = network
        self._own_network = network is None
        self._hid_backend = hid_backend
        self.hid: HidController | None = None
        self.hid_name: str | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the lines, register every account (waiting up to 10 s for each outcome; with
        no network, the accounts show "no network" and register when it is back)."""
        if self._started:
            return
        self.engine = MediaEngine(sample_rate=16000, ptime=20)
        if self._own_cti and self.config.cti is not None:
            self.cti = CtiService.from_config(self.config.cti)
        self._started = True
        try:
            self._open_audio(self.engine)
            if not self.config.accounts:
                transports = ("UDP", "TCP", "TLS") if self.tls.can_listen else ("UDP", "TCP")
                agent = await SipAgent.start(self.config.listen, user="offhook", transports=transports,
                                             tls=self.tls, resolver=system_resolver(self.config.dns_server))
                host, port = agent.listen_address
                agent.ua.identity = SipURI(host=_uri_host(host), user="offhook", port=port)
                await self._add_line(_Line("local", None, agent))
            for acc in self.config.accounts:
                await self._add_line(await self._open_account(acc))
            await self._start_network()
            if self.network is not None and self.network.up is False:
                for line in self.lines.values():    # registered when the network is back
                    if line.registration is not None:
                        self._set_registration(line, "no network", "the network is gone")
            else:
                await asyncio.gather(*(self._register(line) for line in self.lines.values()
                                       if line.registration is not None))
            self._open_hid()
        except BaseException:
            await self.stop()
            raise
        self._spawn(self._poll_media())

    def _open_audio(self, engine: MediaEngine) -> None:
        """The configured sound devices (or the given audio_port) as the engine's local audio;
        calls then use them unless the phone was given its own CallAudio/LocalAudio.  The
        ringer's stream opens now and stays open (silent): a ring then starts at once, where
        a stream opened at the INVITE waits for a sleeping device (or, on a sound server,
        has its first seconds swallowed by the sink's backlog)."""
        audio = self.config.audio
        self._loop = asyncio.get_running_loop()
        self.devices = open_sound_devices(audio, engine, port=self.audio_port, on_event=self._device_event)
        if self._own_local_audio and audio.ringer_device != "null" and self.audio_port is None:
            local = DeviceLocalAudio(audio.ringer_device, profile=self.config.tone_profile)
            local.open()
            self.local_audio = local
        if engine.audio_port is None:
            return
        if self._own_audio:
            self.audio_factory = lambda: DeviceAudio(engine)

    async def _start_network(self) -> None:
        """Watch the network when an account registers beyond this machine (or a monitor was given)."""
        if self.network is None and any(
                line.registration is not None and not _loopback(line.registration.registrar[0])
                for line in self.lines.values()):
            self.network = NetworkMonitor()
        if self.network is not None:
            self.network.on_change = self._network_changed
            await self.network.start()

    def _open_hid(self) -> None:
        """The [hid] device, driving the calls (none for "auto" with nothing plugged in)."""
        hid = self.config.hid
        if hid is None:
            return
        from offhook.phone.hid import HidapiBackend, HidController, open_configured_device
        try:
            opened = open_configured_device(hid, self._hid_backend or HidapiBackend())
        except OffhookError as exc:
            raise PhoneError(str(exc)) from None
        if opened is None:
            return
        device, self.hid_name = opened
        try:
            self.hid = HidController(self, device)
        except OffhookError as exc:
            raise PhoneError(f"[hid] {self.hid_name}: {exc}") from None
        self.hid.start()
        log.info("USB phone: %s", self.hid_name)

    # --- volume and devices --------------------------------------------------------------

    def set_volume(self, playback_db: float, capture_db: float = 0.0) -> None:
        """The user's volume: `playback_db` on what the calls play on the playback device and
        on the phone's tones, `capture_db` on the microphone; applied in the engine's local
        audio path each tick (from the next frame, mid-call too).  -inf (or -96 dB and
        below): silence.  PhoneError before start() or above +24 dB."""
        for name, value in (("playback_db", playback_db), ("capture_db", capture_db)):
            if math.isnan(value) or value > GAIN_MAX_DB:
                raise PhoneError(f"{name} must be at most {GAIN_MAX_DB:g} dB, not {value!r}")
        if self.engine is None:
            raise PhoneError("start the phone before setting its volume")
        self.engine.set_local_gain(max(playback_db, GAIN_MIN_DB), max(capture_db, GAIN_MIN_DB))
        self.volume = (playback_db, capture_db)
        set_gain = getattr(self.local_audio, "set_gain", None)
        if callable(set_gain):
            set_gain(playback_db)

    async def switch_device(self, kind: str, name: str | None) -> str | None:
        """Moves "capture", "playback" or "ringer" to the sound device `name` (None: the
        system default), mid-call too: the DeviceStream reopens only that direction and
        the engine's calls carry on.  The choice is also where the phone returns after an
        unplug (the fallback path's wanted device).  Returns the device now in use.
        PhoneError when the phone has no sound devices of that kind; DeviceError
        (DeviceNotFoundError with the list) for a name that is not there."""
        if kind not in ("capture", "playback", "ringer"):
            raise PhoneError(f"kind must be 'capture', 'playback' or 'ringer', not {kind!r}")
        if kind == "ringer":
            local = self.local_audio
            if not isinstance(local, DeviceLocalAudio):
                raise PhoneError("this phone's tones do not go to a sound device ([audio] ringer)")
            if name is not None:
                await asyncio.to_thread(find_device, name, kind="output")
            await asyncio.to_thread(local.set_device, name)
            return name
        stream = self.devices
        direction = "input" if kind == "capture" else "output"
        if stream is None or direction not in stream.directions:
            raise PhoneError(f"this phone has no {kind} device to switch ([audio] {kind} is null)")
        return await asyncio.to_thread(stream.switch, direction, name)

    def _device_event(self, event: StreamEvent) -> None:
        """From the device stream's supervisor thread: a DeviceChanged event on the loop."""
        changed = DeviceChanged(event.kind, "capture" if event.direction == "input" else "playback",
                                event.device, event.previous, event.reason, event.elapsed)
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._emit, changed)

    async def _open_account(self, acc: AccountConfig) -> _Line:
        transport = acc.transport
        # the transports the line listens on (a UDP account: UDP and TCP)
        resolver = system_resolver(acc.dns_server or self.config.dns_server,
                                   transports=(transport,) if transport != "udp" else ("udp", "tcp"))
        targets: list[Target] = []
        locate_error = ""
        if acc.registrar is not None:
            reg_host, reg_port = acc.registrar
            try:
                targets = await locate_registrar(resolver, reg_host, None if acc.registrar_srv else reg_port,
                                                 transport)
            except OffhookError as exc:
                locate_error = f"cannot find the registrar {reg_host}: {exc}"
        host, port = acc.listen
        if host in ("0.0.0.0", "::"):
            host = local_address_towards(targets[0].address) if targets else "127.0.0.1"
        transports = {"tcp": ("TCP",), "tls": ("TLS",)}.get(transport, ("UDP", "TCP"))
        agent = await SipAgent.start((host, port), user=acc.user, transports=transports, tls=self.tls,
                                     resolver=resolver)
        dom_host, dom_port = acc.domain_uri
        agent.ua.identity = SipURI(host=_uri_host(dom_host), user=acc.user, port=dom_port)
        agent.ua.display_name = acc.display_name
        agent.ua.allowed_sources = frozenset(acc.allowed_sources)
        line = _Line(acc.name, acc, agent, locate_error=locate_error)
        if acc.password is not None:
            line.auth = DigestClient(Credentials(acc.user, acc.password))
            agent.ua.auth = line.auth      # challenges to in-dialog requests of incoming calls
        if acc.registrar is not None:
            aor = agent.ua.identity
            line.registration = Registration(aor, acc.registrar, agent.ua.contact, expires=acc.expires,
                                             auth=line.auth, transport=acc.transport.upper())
            if targets:
                agent.use_registrar(line.registration, acc.registrar[0], targets)
        return line

    async def _add_line(self, line: _Line) -> None:
        self.lines[line.name] = line
        line.agent.codecs = self.config.codecs
        line.agent.srtp = line.account.srtp if line.account is not None else self.config.srtp
        line.tasks.append(asyncio.create_task(self._incoming_loop(line)))

    async def _register(self, line: _Line) -> None:
        reg = line.registration
        assert reg is not None  # only lines with a registration get here
        if line.reg_task is not None:
            line.reg_task.cancel()
            line.reg_task = None
        if line.locate_error:
            self._set_registration(line, "failed", line.locate_error)
            return
        self._set_registration(line, "registering")
        try:
            await line.agent.register(reg, timeout=_REGISTER_TIMEOUT)
        except TimeoutError:
            self._set_registration(line, "failed", f"no answer from the registrar at {reg.peer}")
        else:
            self._reg_outcome(line)
        line.reg_task = asyncio.create_task(self._registration_loop(line))

    def _reg_outcome(self, line: _Line) -> None:
        reg = line.registration
        assert reg is not None
        if self.network is not None and self.network.up is False and reg.state is not RegState.REGISTERED:
            self._set_registration(line, "no network", "the network is gone")
        elif reg.state is RegState.REGISTERED:
            self._set_registration(line, "registered")
        elif reg.state is RegState.FAILED:
            self._set_registration(line, "failed", reg.reason)
        elif reg.state is RegState.UNREGISTERED:
            self._set_registration(line, "unregistered")

    async def _registration_loop(self, line: _Line) -> None:
        reg = line.registration
        assert reg is not None
        while True:
            try:
                await line.agent.wait_registration(reg, timeout=3600.0)
            except TimeoutError:
                continue
            self._reg_outcome(line)

    def _set_registration(self, line: _Line, state: str, reason: str = "") -> None:
        if (line.reg_state, line.reg_reason) == (state, reason):
            return
        line.reg_state, line.reg_reason = state, reason
        log.info("account %s: %s %s", line.name, state, reason)
        self._emit(RegistrationChanged(line.name, state, reason))

    async def stop(self) -> None:
        """Hang up every call, unregister, close the lines and the engine."""
        if not self._started:
            return
        self._started = False
        if self.hid is not None:
            await self.hid.stop()
            close = getattr(self.hid.device, "close", None)
            if callable(close):
                close()
            self.hid = None
        if self.network is not None:
            await self.network.stop()
            if self._own_network:
                self.network = None
        for timer in self._timers:
            timer.cancel()
        for task in list(self._tasks):
            task.cancel()
        for line in self.lines.values():
            for task in line.tasks:
                task.cancel()
            if line.reg_task is not None:
                line.reg_task.cancel()
        for line in self.lines.values():
            await line.agent.close()   # hangs up its calls, unregisters
            if line.registration is not None and line.reg_state == "registered":
                self._set_registration(line, "unregistered")
        for call in self.calls:
            if call.state is not CallState.ENDED:
                self._ended(call, call.sip.reason or "phone stopped")
        self.lines.clear()
        self.local_audio.close()
        if self.engine is not None:
            if self.engine.audio_port is not None:
                self.engine.detach_audio()
            self.engine.close()
        if self.devices is not None:
            self.devices.stop()
            self.devices = None
        if self.history is not None:
            self.history.close()
        if self._own_cti and self.cti is not None:
            await self.cti.aclose()
            self.cti = None

    async def __aenter__(self) -> Phone:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- presence of network -----------------------------------------------------------------

    def _network_changed(self, change: NetworkChanged) -> None:
        self._emit(change)
        if change.kind == "lost":
            for line in self.lines.values():
                if line.registration is not None:
                    self._set_registration(line, "no network", "the network is gone")
        else:
            self._spawn(self._reconnect())

    async def _reconnect(self) -> None:
        """The network is back (or other): every account registers again, on a new line
        where its local address changed."""
        lines = [line for line in self.lines.values() if line.registration is not None]
        await asyncio.gather(*(self._reconnect_line(line) for line in lines))

    async def _reconnect_line(self, line: _Line) -> None:
        acc = line.account
        if acc is None or not self._started:
            return
        if acc.listen[0] in ("0.0.0.0", "::") and line.registration is not None:
            # the server in use: the registrar as located (RFC 3263), after any failover
            host = local_address_towards(line.registration.registrar[0])
            if host != line.agent.listen_address[0]:
                line = await self._replace_line(line, acc)
        await self._register(line)

    async def _replace_line(self, old: _Line, acc: AccountConfig) -> _Line:
        """A new SIP line for `acc` on its new local address; the old one is closed (its
        calls end: their address is gone)."""
        log.info("account %s: local address %s changed: new contact", old.name, old.agent.listen_address[0])
        for task in old.tasks:
            task.cancel()
        if old.reg_task is not None:
            old.reg_task.cancel()
        with contextlib.suppress(TimeoutError, OSError):
            async with asyncio.timeout(3.0):
                await old.agent.close()     # the old address is gone: hang-ups and unregister fail fast
        await old.agent.transport.close()
        for call in self.calls:
            if call._line is old and call.state is not CallState.ENDED:
                self._ended(call, "the network changed")
        new = await self._open_account(acc)
        new.reg_state, new.reg_reason = old.reg_state, old.reg_reason
        await self._add_line(new)
        return new

    # --- events ----------------------------------------------------------------------------------

    def _emit(self, event: PhoneEvent) -> None:
        self._events.put_nowait(event)
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                log.exception("phone event listener failed")

    def _emit_state(self, call: Call, state: CallState, reason: str) -> None:
        self._emit(CallStateChanged(call, state, reason))
        if self.cti is not None and reason not in ("muted", "unmuted"):
            self.cti.call_event(cti_call(call))

    async def next_event(self, timeout: float | None = None) -> PhoneEvent:
        async with asyncio.timeout(timeout):
            return await self._events.get()

    def add_listener(self, listener: Callable[[PhoneEvent], None]) -> None:
        """Call `listener(event)` for every event as it happens (front-ends redraw there)."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[PhoneEvent], None]) -> None:
        """Stop calling `listener` (one that was never added is ignored)."""
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    def registration_state(self, account: str) -> tuple[str, str]:
        line = self._line(account)
        return line.reg_state, line.reg_reason

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- dialling ----------------------------------------------------------------------------

    def _line(self, account: str | None) -> _Line:
        if not self._started:
            raise PhoneError("the phone is not started: await phone.start() first")
        if account is None:
            return next(iter(self.lines.values()))
        try:
            return self.lines[account]
        except KeyError:
            raise PhoneError(f"no account named {account!r} (accounts: {', '.join(self.lines)})") from None

    def resolve(self, target: str, *, account: str | None = None) -> str:
        """What the user dialled -> the URI it calls (see phone/dialing.py)."""
        line = self._line(account)
        return resolve_target(target, domain=line.domain, speed_dial=self.config.speed_dial,
                              contacts=self.contacts)

    @property
    def live_calls(self) -> list[Call]:
        return [c for c in self.calls if c.state.live]

    @property
    def active_call(self) -> Call | None:
        for c in self.calls:
            if c.state in (CallState.ACTIVE, CallState.REMOTE_HELD, CallState.EARLY_MEDIA):
                return c
        return None

    async def call(self, target: str, *, account: str | None = None,
                   audio: CallAudio | None = None, headers: list[tuple[str, str]] | None = None) -> Call:
        """Dial `target` (number, contact name, speed-dial key, user@host or URI). Returns at once
        with the call DIALING; `await call.wait_answered()` for the answer. A call already active
        goes on hold first."""
        line = self._line(account)
        uri = self.resolve(target, account=line.name)
        await self._hold_others(None)
        caps = line.agent.capabilities()
        sip = await line.agent.dial(uri, caps, auth=line.auth, via=line.via, headers=tuple(headers or ()),
                                    transport=line.account.transport if line.via and line.account else None)
        contact = self.contacts.name_for(_user_part(uri))
        call = Call(self, line, sip, direction="out", remote_uri=uri, remote_name=contact or "",
                    audio=audio or self.audio_factory(), state=CallState.DIALING)
        self._track(call)
        return call

    async def redial(self) -> Call:
        if self.history is None or (entry := self.history.last_dialled()) is None:
            raise PhoneError("nothing to redial: no outgoing call in the history")
        return await self.call(entry.party, account=entry.account if entry.account in self.lines else None)

    async def call_back(self) -> Call:
        if self.history is None or (entry := self.history.last_caller()) is None:
            raise PhoneError("nobody to call back: no incoming call in the history")
        return await self.call(entry.party, account=entry.account if entry.account in self.lines else None)

    def _track(self, call: Call) -> None:
        self.calls.append(call)
        if self.history is not None:
            call.history_id = self.history.start(call.direction, call.remote_uri, name=call.remote_name,
                                                 account=call.account, at=call.started)
        self._emit_state(call, call.state, "")
        self._spawn(self._drive(call))
        self._update_sounds()

    # --- the call's SIP events -----------------------------------------------------------------

    async def _drive(self, call: Call) -> None:
        """The call's SIP events, in order, until it ends (every end comes as an "ended" event)."""
        agent = call._line.agent
        while True:
            ev = await agent.next_event(call.sip)
            self._on_sip_event(call, ev)
            if ev.kind == "ended":
                break
        agent.ua.forget(call.sip)

    def _on_sip_event(self, call: Call, ev: SipEvent) -> None:
        sip = call.sip
        if ev.kind == "progress":
            if call.state is CallState.DIALING and ev.status is not None and ev.status > 100:
                call._set_state(CallState.RINGING)
        elif ev.kind == "transfer":
            self._transfer_progress(call)
        elif ev.kind == "refused":
            call._reinvite_refused(ev.status)
        elif ev.kind in ("transferred", "replaced") and ev.other is not None:
            self._taken_over(call, ev.other, replaced=ev.kind == "replaced")
        elif ev.kind == "media":
            if sip.media is None:
                return
            if sip.state is SipCallState.EARLY and call.direction == "out":
                self._apply_media(call)
                call._set_state(CallState.EARLY_MEDIA)
            elif call.state not in (CallState.INCOMING, CallState.DIALING, CallState.RINGING):
                self._apply_media(call)
                self._hold_state(call)
        elif ev.kind == "answered":
            self._answered(call)
            parent = self._find(sip.transfer_parent)
            if parent is not None and parent.state.live:
                parent._set_state(CallState.TRANSFERRED, f"transferred to {call.remote_uri}")
        elif ev.kind == "ended":
            self._ended(call, sip.reason)
        self._update_sounds()

    def _hold_state(self, call: Call) -> None:
        neg = call.sip.media
        if neg is None or not call.state.live or call.state is CallState.INCOMING:
            return
        call.remote_held = neg.held_by_remote
        call.held = call._want_hold and neg.direction in ("sendonly", "inactive")
        if call.held:
            call._set_state(CallState.HELD)
        elif call._want_hold:
            pass   # our hold re-INVITE is still out
        elif call.remote_held:
            call._set_state(CallState.REMOTE_HELD)
        else:
            call._set_state(CallState.ACTIVE)

    def _answered(self, call: Call) -> None:
        if call.answered_at is not None:
            return
        call.answered_at = time.time()
        if self.history is not None and call.history_id is not None:
            self.history.answered(call.history_id, call.answered_at)
        if call.sip.media is not None:
            self._apply_media(call)
        call._set_state(CallState.ACTIVE)
        self._hold_state(call)
        self._update_sounds()

    def _ended(self, call: Call, reason: str) -> None:
        if call.state is CallState.ENDED:
            return
        call.ended_at = time.time()
        call.status = call.sip.status
        if call.media is not None:
            call.media.close()
            call._stream = None
        if call._transfer_done is not None and not call._transfer_done.done():
            call._transfer_done.set_result(False)
        result = _result(call)
        if call.direction == "out" and call.sip.status in (486, 600) and self.active_call is None:
            self._busy_until = time.monotonic() + _BUSY_TONE_SECONDS
            loop = asyncio.get_running_loop()
            self._timers.append(loop.call_later(_BUSY_TONE_SECONDS + 0.01, self._update_sounds))
        if self.history is not None and call.history_id is not None:
            try:
                self.history.finish(call.history_id, result, reason, at=call.ended_at)
            except OffhookError:
                log.exception("call history")
        if call.state is CallState.TRANSFERRED:
            reason = call.reason
        elif not reason and call.answered_at is not None:
            reason = "hung up by the far end" if call.sip.ended_by_remote else "hung up"
        call._set_state(CallState.ENDED, reason or result)
        self._update_sounds()
        ended = [c for c in self.calls if c.state is CallState.ENDED]
        for old in ended[:-_KEEP_ENDED]:    # a phone that runs for weeks keeps the recent ones only
            self.calls.remove(old)

    # --- media -------------------------------------------------------------------------------

    def _apply_media(self, call: Call) -> None:
        neg = call.sip.media
        if neg is None or self.engine is None:
            return
        if call.media is None:
            agent = call._line.agent
            call.media = CallMedia(self.engine, (agent.ua.contact.host, agent.media_ports[call.id]),
                                   silence_suppression=self.config.silence_suppression)
        try:
            call.media.apply(neg)
        except (OffhookError, ValueError) as exc:
            log.error("call %s: cannot start its audio: %s", call.remote_uri, exc)
            return
        stream = call.media.stream
        if stream is not call._stream and stream is not None:
            call._stream = stream
            if call.recording is not None:
                stream.record_wav(call.recording)
            else:
                call.audio.sink(stream)
            self._apply_source(call)
            self._join(call)      # a re-created stream (codec change) stays in the conference

    def _apply_source(self, call: Call) -> None:
        stream = call._stream
        if stream is None or stream.closed:
            return
        if isinstance(call.audio, DeviceAudio) and not call._want_hold:
            call.audio.source(stream)       # the microphone is muted in the engine, not the stream
            call.audio.mute(call.muted)
        elif call.muted or call._want_hold:
            stream.play_silence()
        else:
            call.audio.source(stream)

    async def _poll_media(self) -> None:
        """Received DTMF -> events (the engine queues them; 100 ms is quick enough for a human)."""
        while True:
            await asyncio.sleep(0.1)
            for call in self.calls:
                stream = call._stream
                if stream is None or stream.closed:
                    continue
                for digit, ms in stream.dtmf_events():
                    call.dtmf_received += digit
                    self._emit(DtmfReceived(call, digit, ms))

    # --- sounds ------------------------------------------------------------------------------

    def _update_sounds(self) -> None:
        """What the user hears from the phone itself, from the calls' states."""
        talking = any(c.state in (CallState.ACTIVE, CallState.REMOTE_HELD, CallState.EARLY_MEDIA)
                      for c in self.calls)
        ringing_in = any(c.state is CallState.INCOMING
                         and c.sip.state in (SipCallState.INCOMING, SipCallState.EARLY) for c in self.calls)
        ringing_out = any(c.state is CallState.RINGING for c in self.calls)
        tone: str | None = None
        if ringing_in and talking:
            tone = "call_waiting"
        elif ringing_out and not talking:
            tone = "ringback"
        elif time.monotonic() < self._busy_until and not talking:
            tone = "busy"
        elif self._dialing and not talking and not ringing_in:
            tone = "dial"
        self.local_audio.tone(tone)
        self.local_audio.ring(ringing_in and not talking)

    @property
    def is_dialing(self) -> bool:
        """The line is picked up to dial (console prompt, a headset gone off-hook)."""
        return self._dialing

    def dialing(self, on: bool) -> None:
        """The user is typing a number (the console's dial prompt): dial tone while no call talks."""
        self._dialing = on
        self._update_sounds()

    # --- call waiting, swap, conference -----------------------------------------------------------

    async def _hold_others(self, keep: Call | None) -> None:
        """Put every talking call but `keep` on hold (one that ends meanwhile is no obstacle);
        resuming a conference's call keeps the conference's other calls talking."""
        for other in list(self.calls):
            if keep is not None and keep.in_conference and other.in_conference:
                continue
            if other is not keep and other.state in (CallState.ACTIVE, CallState.REMOTE_HELD):
                try:
                    await other.hold()
                except CallError:
                    if other.state.live:
                        raise

    async def swap(self) -> Call:
        """Hold the active call and resume the held one; returns the call now active."""
        held = [c for c in self.calls if c.state is CallState.HELD]
        if not held:
            raise PhoneError("no held call to swap to")
        target = held[-1] if self.active_call is None else held[0]
        await target.resume()   # holds the active one first
        return target

    async def conference(self, calls: list[Call]) -> None:
        """A local N-way conference in the engine's mixer (mix-minus): every party hears all
        the others, and the user too when the phone has sound devices (the engine's local
        participant). Held calls are resumed; split() takes a call back out."""
        if len(set(calls)) < 2:
            raise PhoneError("a conference needs at least two different calls")
        for call in calls:
            call._require("join a conference", CallState.ACTIVE, CallState.HELD, CallState.REMOTE_HELD)
        for call in calls:
            call.in_conference = True
        for call in calls:
            if call.state is CallState.HELD:
                await call.resume()
            self._join(call)

    async def split(self, call: Call) -> None:
        """Take `call` out of the conference: it stays connected to the user alone."""
        if not call.in_conference:
            raise PhoneError(f"{call.party} is not in a conference")
        call.in_conference = False
        stream = call._stream
        if stream is not None and not stream.closed:
            stream.leave_conference()
            self._apply_source(call)

    def _join(self, call: Call) -> None:
        stream = call._stream
        if call.in_conference and stream is not None and not stream.closed:
            stream.join_conference()

    # --- incoming ----------------------------------------------------------------------------

    async def _incoming_loop(self, line: _Line) -> None:
        while True:
            sip = await line.agent.next_incoming()
            try:
                self._on_incoming(line, sip)
            except Exception:
                log.exception("incoming call from %s", sip.peer_text)
                if sip.state is not SipCallState.ENDED:
                    line.agent.reject(sip, 500)

    def _on_incoming(self, line: _Line, sip: SipCall) -> None:
        invite = sip.invite
        assert invite is not None  # an incoming call has its INVITE
        frm = invite.from_
        uri = str(frm.uri)
        name = frm.display_name or self.contacts.name_for(_user_part(uri)) or ""
        call = Call(self, line, sip, direction="in", remote_uri=uri, remote_name=name,
                    audio=self.audio_factory(), state=CallState.INCOMING)
        active = len([c for c in self.calls if c.state.live])
        decision = self.policy.decide(invite, active_calls=active)
        if isinstance(decision, Reject) and decision.status == 486 and active and self.forward_busy:
            decision = Forward(self.forward_busy)
        # refused calls are answered first, so they are never rung; they still show (missed-call list)
        if isinstance(decision, Forward):
            line.agent.redirect(sip, decision.target, decision.status)
            self._track(call)
            return
        if isinstance(decision, Reject):
            line.agent.reject(sip, decision.status)
            self._track(call)
            return
        line.agent.ring(sip)
        self._track(call)
        loop = asyncio.get_running_loop()
        if isinstance(decision, AutoAnswer):
            self._timers.append(loop.call_later(decision.after, lambda: self._spawn(self._auto_answer(call))))
        elif isinstance(decision, Ring) and decision.forward_to is not None and decision.forward_after:
            target = decision.forward_to
            self._timers.append(loop.call_later(decision.forward_after,
                                                lambda: self._forward_unanswered(call, target)))

    async def _auto_answer(self, call: Call) -> None:
        if call.state is CallState.INCOMING:
            with contextlib.suppress(CallError):
                await call.answer()

    def _forward_unanswered(self, call: Call, target: str) -> None:
        if call.state is CallState.INCOMING and call.sip.state is not SipCallState.ENDED:
            call._line.agent.redirect(call.sip, target)

    # --- transfers ----------------------------------------------------------------------------

    def _find(self, sip: SipCall | None) -> Call | None:
        if sip is None:
            return None
        for call in self.calls:
            if call.sip is sip:
                return call
        return None

    def _transfer_progress(self, call: Call) -> None:
        """Our REFER moved on (its response, then NOTIFYs): a success ends the call as
        TRANSFERRED (the core sends the BYE), a failure lets Call.transfer() report it."""
        state = call.sip.transfer_state
        if state == "succeeded" and call.state.live:
            call._set_state(CallState.TRANSFERRED, "transferred")
        done = call._transfer_done
        if state in ("succeeded", "failed") and done is not None and not done.done():
            done.set_result(state == "succeeded")

    def _taken_over(self, old: Call, sip: SipCall, *, replaced: bool) -> None:
        """The core placed a call for the far side's REFER ("transferred"), or answered an
        INVITE with Replaces naming `old` ("replaced"): the new call carries on with old's audio."""
        if self._find(sip) is not None:
            return
        if replaced:
            invite = sip.invite
            uri = str(invite.from_.uri) if invite is not None else old.remote_uri
            new = Call(self, old._line, sip, direction="in", remote_uri=uri,
                       remote_name=self.contacts.name_for(_user_part(uri)) or "",
                       audio=old.audio, state=CallState.INCOMING)
            new.replaces = old
            old._set_state(CallState.TRANSFERRED, "replaced by an attended transfer")
        else:
            uri = str(sip.invite.uri) if sip.invite is not None else old.remote_uri
            new = Call(self, old._line, sip, direction="out", remote_uri=uri,
                       remote_name=self.contacts.name_for(_user_part(uri)) or "",
                       audio=old.audio, state=CallState.DIALING)
        old.transferred_to = new
        self._track(new)
        if replaced:
            self._answered(new)


def _loopback(host: str) -> bool:
    return host == "localhost" or host.startswith("127.") or host in ("::1", "[::1]")


def _user_part(uri: str) -> str:
    text = uri.split(":", 1)[-1]
    return text.split("@", 1)[0] if "@" in text else text


def _result(call: Call) -> str:
    """The history's word for how a call ended."""
    status = call.sip.status or 0
    if call.state is CallState.TRANSFERRED or call.answered_at is not None:
        return "answered"
    if 300 <= status < 400:
        return "forwarded"
    if call.direction == "in":
        # the caller gave up (CANCEL) or went away: missed; we refused it (reject, DND, busy): rejected
        return "missed" if status == 487 or call.sip.ended_by_remote else "rejected"
    if status in (486, 600):
        return "busy"
    if status == 487:
        return "cancelled"
    if status == 603:
        return "rejected"
    return "failed"
