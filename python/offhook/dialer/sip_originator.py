"""The dialer's Originator on offhook's own SIP stack: one SipAgent, one MediaEngine.

    originator = await SipOriginator.start(("127.0.0.1", 0), route="sip:{number}@pbx:5060",
                                           amd=AmdConfig(), abandon_message="legal.wav")
    runner = CampaignRunner(store, cid, config, originator, [Agent("a1", "sip:a1@desk:5062")])
    await runner.run(); await originator.close()

Why SipAgent and not Phone: a Phone is one person's phone (accounts, devices,
call waiting, history); a dialer places hundreds of calls with no sound card.
The SipAgent core already bounds and times out every transaction; this module
adds only the outbound-call life cycle.

originate(number, timeout) sends an INVITE (PCMU/PCMA offered: every peer
has them and they cost least) and maps the end of the INVITE transaction to
an outcome:

====================================  ======================
2xx                                   answered (then AMD)
486 Busy Here, 600 Busy Everywhere    busy
408, 480, 487, ringing past timeout   no-answer (CANCEL sent)
603 Decline                           rejected
any other 3xx-6xx, transport failure  failed
====================================  ======================

An answered call gets a stream on the shared engine (CallMedia applies the
SDP agreement).  With ``amd`` set, the stream's received-audio tap
(``MediaStream.tap``: a lock-free ring the media thread fills, no files) is
drained a few times a second into :class:`~offhook.dialer.amd.AmdDetector`
for at most ``AmdConfig.max_window`` seconds: the audio path stays in C,
Python reads a few kB per call.  A machine is hung up at once; human and
unknown go to the runner as a live call.

bridge(call, agent) calls the agent's SIP URI (their phone: an offhook Phone,
any softphone, a SIPp UAS in tests) from the same engine and bridges the two
legs' audio in a conference room of their own (``join_conference(room)``:
each room is an independent mix-minus, so one engine carries every agent's
conversations; the callee's stream stays as it is).  The bridge lasts until
either side hangs up; the other is hung up then.

Every ended call is forgotten by the SipAgent (``SipAgent.forget``) once its
leg is closed, so a long campaign does not grow the agent's tables.

hangup("abandoned") plays ``abandon_message`` (the information message
regulators require: who called and why) to its end, then sends BYE.

Not thread-safe: use it from the event loop that started it.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from offhook._media import MAX_ROOM, MediaEngine, MediaStream
from offhook.dialer.amd import AmdConfig, AmdDetector, AmdResult, Verdict
from offhook.dialer.campaign import Outcome
from offhook.dialer.runner import Agent, AnsweredCall, BridgeResult, CallOutcome
from offhook.errors import CampaignError
from offhook.media.call_media import CallMedia
from offhook.sdp import MediaCapabilities, NegotiatedMedia
from offhook.sip.agent import SipAgent
from offhook.sip.ua import Call, CallState

__all__ = ["SipAnsweredCall", "SipOriginator", "outcome_for_status"]

log = logging.getLogger("offhook.dialer")

Route = Callable[[str], str]

_BUSY = frozenset({486, 600})
_NO_ANSWER = frozenset({408, 480, 487})
_REJECTED = frozenset({603})


def outcome_for_status(status: int | None) -> Outcome:
    """The dial outcome of a failed INVITE's final status (None: no response at all)."""
    if status is None:
        return Outcome.FAILED
    if status in _BUSY:
        return Outcome.BUSY
    if status in _NO_ANSWER:
        return Outcome.NO_ANSWER
    if status in _REJECTED:
        return Outcome.REJECTED
    return Outcome.FAILED


class _BoundMedia(CallMedia):
    """CallMedia whose stream exists (bound, sending nothing) before the first agreement:
    a plain first agreement only points it at the peer with the agreed codec.  A peer
    that agreed no telephone-event leaves the stream's 101 in place (the dialer sends no
    DTMF; re-creating the stream would give its port away for an instant)."""

    def __init__(self, engine: MediaEngine, local: tuple[str, int], stream: MediaStream) -> None:
        super().__init__(engine, local)
        self.stream = stream

    def apply(self, media: NegotiatedMedia) -> None:
        stream = self.stream
        if stream is not None and self.media is None and media.srtp_suite is None and (
                media.dtmf_payload_type in (None, stream.dtmf_payload_type)):
            stream.update(remote=media.remote, direction=media.direction, codec=media.codec,
                          payload_type=media.payload_type, rtcp_mux=media.rtcp_mux,
                          remote_rtcp=media.remote_rtcp)
            self.media = media
            return
        super().apply(media)


class _Leg:
    """One SIP call and its media: a task pumps the call's events into futures."""

    def __init__(self, agent: SipAgent, call: Call, media: CallMedia) -> None:
        self.agent = agent
        self.call = call
        self.media = media
        loop = asyncio.get_running_loop()
        self.answered: asyncio.Future[None] = loop.create_future()
        self.media_ready = asyncio.Event()
        self.ended = asyncio.Event()
        self.status: int | None = None
        self._task = asyncio.create_task(self._pump(), name=f"leg {call.call_id}")

    async def _pump(self) -> None:
        try:
            while True:
                event = await self.agent.next_event(self.call)
                if event.kind == "answered" and not self.answered.done():
                    self.answered.set_result(None)
                elif event.kind == "media" and self.call.media is not None and \
                        self.call.state is not CallState.ENDED:
                    media = self.call.media
                    try:
                        await asyncio.to_thread(self.media.apply, media)
                    except Exception as exc:  # a bad agreement ends this call, not the dialer
                        log.warning("call %s: media not set up: %r", self.call.call_id, exc)
                        self.agent.hangup(self.call)
                    self.media_ready.set()
                elif event.kind == "ended":
                    self.status = event.status
                    break
        finally:
            self.ended.set()
            self.media_ready.set()
            if not self.answered.done():
                self.answered.cancel()

    async def hangup(self, wait: float = 5.0) -> None:
        """CANCEL or BYE, then (briefly) wait for the end; the stream is closed either way."""
        if self.call.state is not CallState.ENDED:
            self.agent.hangup(self.call)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.ended.wait(), wait)
        await self.close()

    async def close(self) -> None:
        await asyncio.to_thread(self.media.close)
        if self.call.state is not CallState.ENDED:
            return
        # A campaign places hundreds of thousands of calls: once the call and its pump are
        # over, the agent forgets it (core entry, event queue, RTP port entry).
        if not self._task.done():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._task), 1.0)
        if not self._task.done():   # its "ended" event never came: it would wait for ever
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.agent.forget(self.call)


@dataclass(eq=False)
class SipAnsweredCall:
    """An answered outbound call (the runner's AnsweredCall): hang it up with a reason."""

    owner: SipOriginator
    leg: _Leg
    number: str
    amd: AmdResult | None = None
    hung_up: str | None = None

    async def hangup(self, reason: str) -> None:
        if self.hung_up is not None:
            return
        self.hung_up = reason
        message = self.owner.abandon_message
        stream = self.leg.media.stream
        if reason == "abandoned" and message is not None and stream is not None and \
                not self.leg.ended.is_set():
            await asyncio.to_thread(stream.play_wav, message)
            await self.owner._until_played(self.leg)
        try:
            await self.leg.hangup()
        finally:
            self.owner._live.discard(self)
            self.owner._call_down()


@dataclass
class OriginatorStats:
    """What the originator saw; ``peak_calls`` counts SIP calls up at once (both legs);
    ``bridges_by_agent`` the bridges each agent (by id) took."""

    invites: int = 0
    calls: int = 0
    peak_calls: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    amd: dict[str, int] = field(default_factory=dict)
    bridges: int = 0
    bridge_failures: int = 0
    bridges_by_agent: dict[str, int] = field(default_factory=dict)


class SipOriginator:
    """See the module docstring.  Build with ``await SipOriginator.start(...)``."""

    def __init__(self, agent: SipAgent, engine: MediaEngine, *, route: str | Route,
                 amd: AmdConfig | None = None, abandon_message: str | os.PathLike[str] | None = None,
                 codecs: tuple[str, ...] = ("PCMU", "PCMA"),
                 agent_answer_timeout: float = 15.0, abandon_message_max: float = 15.0,
                 own_engine: bool = False) -> None:
        self.agent = agent
        self.engine = engine
        self._route = route
        self.amd = amd
        self.abandon_message = Path(abandon_message) if abandon_message is not None else None
        if self.abandon_message is not None and not self.abandon_message.is_file():
            raise CampaignError(f"abandon message {self.abandon_message}: no such file (a WAV is needed)")
        self.codecs = codecs
        self.agent_answer_timeout = agent_answer_timeout
        self.abandon_message_max = abandon_message_max
        self.stats = OriginatorStats()
        self._own_engine = own_engine
        self._next_room = 0
        self._live: set[SipAnsweredCall] = set()
        self._up = 0

    @classmethod
    async def start(cls, listen: tuple[str, int] = ("127.0.0.1", 0), *, route: str | Route,
                    sample_rate: int = 8000, max_streams: int = 1024, **options: object) -> SipOriginator:
        """A SipAgent on ``listen`` (UDP) and a MediaEngine of its own (closed by close()):
        the callees' streams, the agents' and the bridges between them (one room each)."""
        agent = await SipAgent.start(listen, transports=("UDP",), user="dialer")
        engine = MediaEngine(sample_rate=sample_rate, ptime=20, max_streams=max_streams,
                             max_room_members=2)
        try:
            return cls(agent, engine, route=route, own_engine=True, **options)  # type: ignore[arg-type]
        except BaseException:
            engine.close()
            await agent.close()
            raise

    def target(self, number: str) -> str:
        """The SIP URI a number is dialled at (``route`` template with ``{number}``, or callable)."""
        if number.startswith(("sip:", "sips:")):
            return number
        if callable(self._route):
            return self._route(number)
        return self._route.format(number=number)

    # -- bookkeeping --------------------------------------------------------------------------
    def _call_up(self) -> None:
        self._up += 1
        self.stats.calls += 1
        self.stats.peak_calls = max(self.stats.peak_calls, self._up)

    def _call_down(self) -> None:
        self._up -= 1

    @property
    def calls_up(self) -> int:
        return self._up

    async def _dial(self, uri: str, engine: MediaEngine) -> _Leg:
        host = self.agent.ua.contact.host
        # The stream is bound before the INVITE offers its port: a port merely reserved
        # (bound, released, bound again on the answer) is taken by someone else often
        # enough under load (2 in 240 answered calls in the load test).
        stream = await asyncio.to_thread(engine.add_stream, local=(host, 0), remote=None,
                                         codec=self.codecs[0], direction="sendrecv")
        caps = MediaCapabilities(address=host, port=stream.local_port, codecs=self.codecs)
        try:
            call = self.agent.call(uri, caps)
        except BaseException:
            await asyncio.to_thread(stream.close)
            raise
        self.stats.invites += 1
        return _Leg(self.agent, call, _BoundMedia(engine, (host, stream.local_port), stream))

    # -- Originator ---------------------------------------------------------------------------
    async def originate(self, number: str, *, timeout: float) -> CallOutcome:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        leg = await self._dial(self.target(number), self.engine)
        self._call_up()
        counted = True
        try:
            await _first(leg.answered, leg.ended, timeout=timeout)
            ring = loop.time() - t0
            if not leg.answered.done() or leg.answered.cancelled():
                timed_out = not leg.ended.is_set()
                if timed_out:
                    await leg.hangup()   # CANCEL; a 200 crossing it gets ACK + BYE from the core
                await leg.close()
                status = leg.call.status
                self._count_status(status)
                if timed_out:
                    return CallOutcome(Outcome.NO_ANSWER, ring_seconds=ring,
                                       detail=f"no answer in {timeout:g} s")
                outcome = outcome_for_status(status)
                return CallOutcome(outcome, ring_seconds=ring, detail=f"{status} {leg.call.reason}".strip())
            self._count_status(200)
            await leg.media_ready.wait()
            answered = SipAnsweredCall(self, leg, number)
            if leg.ended.is_set() or leg.media.stream is None:
                await leg.close()
                return CallOutcome(Outcome.FAILED, ring_seconds=ring, detail="ended before media started")
            if self.amd is not None:
                answered.amd = await self._detect(leg)
                verdict = answered.amd.verdict.value
                self.stats.amd[verdict] = self.stats.amd.get(verdict, 0) + 1
                if leg.ended.is_set():
                    await leg.close()
                    return CallOutcome(Outcome.FAILED, ring_seconds=ring,
                                       detail="hung up during answering-machine detection")
                if answered.amd.verdict is Verdict.MACHINE:
                    self._live.add(answered)
                    counted = False
                    return CallOutcome(Outcome.ANSWERING_MACHINE, answered, loop.time() - t0,
                                       detail=answered.amd.reason)
            self._live.add(answered)
            counted = False
            # ring_seconds of an answered call runs to its hand-over (AMD included): that is
            # when it needs an agent, which is what the predictive pacing's ring time models.
            return CallOutcome(Outcome.ANSWERED_HUMAN, answered, loop.time() - t0,
                               detail=answered.amd.reason if answered.amd else "")
        except BaseException:
            await asyncio.shield(leg.hangup())
            raise
        finally:
            if counted:
                self._call_down()

    def _count_status(self, status: int | None) -> None:
        key = status or 0
        self.stats.statuses[key] = self.stats.statuses.get(key, 0) + 1

    async def _detect(self, leg: _Leg) -> AmdResult:
        config = self.amd or AmdConfig()
        stream = leg.media.stream
        if stream is None:
            raise CampaignError("answering-machine detection needs the call's stream")
        # The tap holds the whole window and some: a loop that falls behind loses nothing.
        await asyncio.to_thread(stream.tap, config.max_window + 2.0)
        detector = AmdDetector(self.engine.sample_rate, config)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + config.max_window + 1.0
        try:
            while detector.result is None and not leg.ended.is_set() and loop.time() < deadline:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(leg.ended.wait(), 0.2)
                pcm = stream.read_tap()   # never waits for the media thread
                if pcm.size:
                    detector.feed(pcm)
            return detector.finish()
        finally:
            with contextlib.suppress(Exception):   # the stream may have closed with the call
                await asyncio.to_thread(stream.tap, 0)

    async def _until_played(self, leg: _Leg) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.abandon_message_max
        while not leg.ended.is_set() and loop.time() < deadline:
            stream = leg.media.stream
            if stream is None or bool(stream.stats().get("source_done")):
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(leg.ended.wait(), 0.1)

    def _room(self) -> int:
        """A conference room id for one bridge: ids cycle through 1..MAX_ROOM (a room lives
        as long as its bridge, so an id comes back only a billion bridges later)."""
        self._next_room = self._next_room % MAX_ROOM + 1
        return self._next_room

    async def bridge(self, call: AnsweredCall, agent: Agent) -> BridgeResult:
        if not isinstance(call, SipAnsweredCall) or call.owner is not self:
            raise CampaignError(f"bridge: {call!r} is not a call this originator answered")
        if not agent.uri:
            raise CampaignError(f"agent {agent.id!r} has no SIP URI to bridge the call to")
        if call.hung_up is not None:
            raise CampaignError(f"bridge: the call to {call.number} was already hung up ({call.hung_up})")
        call.hung_up = "bridged"
        loop = asyncio.get_running_loop()
        callee = call.leg
        agent_leg = await self._dial(agent.uri, self.engine)
        self._call_up()
        try:
            answered = await self._wait_answer(agent_leg, self.agent_answer_timeout, callee)
            if not answered:
                self.stats.bridge_failures += 1
                raise CampaignError(f"agent {agent.id} at {agent.uri} did not answer "
                                    f"({agent_leg.call.status or 'timeout'} {agent_leg.call.reason})".strip())
            await agent_leg.media_ready.wait()
            t_connect = loop.time()
            callee_stream, agent_stream = callee.media.stream, agent_leg.media.stream
            if not callee.ended.is_set() and callee_stream is not None and agent_stream is not None:
                room = self._room()
                await asyncio.to_thread(callee_stream.join_conference, room)
                await asyncio.to_thread(agent_stream.join_conference, room)
                self.stats.bridges += 1
                self.stats.bridges_by_agent[agent.id] = self.stats.bridges_by_agent.get(agent.id, 0) + 1
                await _first(callee.ended, agent_leg.ended)
            talk = loop.time() - t_connect
            return BridgeResult(talk_seconds=talk)
        finally:
            await asyncio.shield(asyncio.gather(agent_leg.hangup(), callee.hangup()))
            self._live.discard(call)
            self._call_down()   # the agent leg
            self._call_down()   # the callee, counted up since originate

    async def _wait_answer(self, leg: _Leg, timeout: float, other: _Leg) -> bool:
        await _first(leg.answered, leg.ended, other.ended, timeout=timeout)
        return leg.answered.done() and not leg.answered.cancelled() and not other.ended.is_set()

    async def close(self) -> None:
        """Hangs up what is still up and closes the engine (when started here)."""
        for call in list(self._live):
            await call.leg.hangup(wait=1.0)
        self._live.clear()
        await self.agent.close()
        if self._own_engine:
            self.engine.close()


async def _first(*waitables: asyncio.Future[None] | asyncio.Event, timeout: float | None = None) -> None:
    """Returns when the first future is done or event set (or after ``timeout`` s)."""
    tasks: list[asyncio.Future[Any]] = []
    for w in waitables:
        if isinstance(w, asyncio.Event):
            if w.is_set():
                break
            tasks.append(asyncio.ensure_future(w.wait()))
        elif w.done():
            break
    else:
        futures: list[asyncio.Future[Any]] = [w for w in waitables if not isinstance(w, asyncio.Event)]
        try:
            await asyncio.wait([*tasks, *futures], timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in tasks:
                t.cancel()
        return
    for t in tasks:
        t.cancel()

