"""The dialer on real SIP: answering-machine detection on espeak-ng clips, and SipOriginator
against SIPp callees (answer, busy, ring out, fail) and an in-process agent (the bridge)."""
from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from dialer_sipp import (
    HUMAN_GREETING,
    HUMAN_GREETING_LONGER,
    MACHINE_GREETING,
    MACHINE_GREETING_2,
    SippServer,
    greeting,
    recorded_speech_seconds,
    write_message,
)
from offhook._media import MediaEngine
from offhook.dialer import Agent, Outcome
from offhook.dialer.amd import AmdConfig, AmdDetector, Verdict, classify
from offhook.dialer.sip_originator import SipAnsweredCall, SipOriginator, outcome_for_status
from offhook.errors import CampaignError
from offhook.media.call_media import CallMedia
from offhook.sip.agent import SipAgent
from offhook.sip.ua import CallState
from sip_peers import need

RATE = 8000


# -- answering-machine detection ------------------------------------------------------------
@pytest.mark.parametrize("text", [HUMAN_GREETING, HUMAN_GREETING_LONGER])
def test_amd_short_greeting_then_silence_is_human(text: str) -> None:
    result = classify(greeting(text, RATE), RATE)
    assert result.verdict is Verdict.HUMAN, result
    assert result.longest_utterance < 2.5
    assert result.decided_at < 3.5   # decided soon after the greeting ended


@pytest.mark.parametrize("text", [MACHINE_GREETING, MACHINE_GREETING_2])
def test_amd_long_greeting_is_machine(text: str) -> None:
    result = classify(greeting(text, RATE), RATE)
    assert result.verdict is Verdict.MACHINE, result
    assert 2.5 <= result.decided_at < 4.0   # decided while the machine still talks


def test_amd_other_voice_and_rate() -> None:
    assert classify(greeting(MACHINE_GREETING, 16000, voice="en-us"), 16000).verdict is Verdict.MACHINE
    assert classify(greeting(HUMAN_GREETING, 16000, voice="en-us"), 16000).verdict is Verdict.HUMAN


def test_amd_silence_and_noise_are_unknown() -> None:
    assert classify(np.zeros(RATE * 5, dtype=np.int16), RATE).verdict is Verdict.UNKNOWN
    noise = np.random.default_rng(1).normal(0, 30, RATE * 5).astype(np.int16)   # about -61 dBFS
    assert classify(noise, RATE).verdict is Verdict.UNKNOWN


def test_amd_streaming_equals_whole_clip() -> None:
    clip = greeting(MACHINE_GREETING, RATE)
    detector = AmdDetector(RATE)
    for i in range(0, len(clip), 777):   # odd chunk sizes, as a growing file gives them
        if detector.feed(clip[i:i + 777]) is not None:
            break
    assert detector.result == classify(clip, RATE)


def test_amd_bad_input() -> None:
    with pytest.raises(CampaignError, match="AMD takes mono int16 PCM, got float32"):
        AmdDetector(RATE).feed(np.zeros(160, dtype=np.float32))  # type: ignore[arg-type]
    with pytest.raises(CampaignError, match="AMD sample rate 11025"):
        AmdDetector(11025)
    with pytest.raises(CampaignError, match="human_silence must be >= word_gap"):
        AmdConfig(human_silence=0.2)
    with pytest.raises(ValueError, match=r"AmdConfig.machine_speech must be > 0 seconds"):
        AmdConfig(machine_speech=0)


def test_outcomes_for_statuses() -> None:
    assert [outcome_for_status(s) for s in (486, 600, 408, 480, 487, 603, 404, 503, None)] == [
        Outcome.BUSY, Outcome.BUSY, Outcome.NO_ANSWER, Outcome.NO_ANSWER, Outcome.NO_ANSWER,
        Outcome.REJECTED, Outcome.FAILED, Outcome.FAILED, Outcome.FAILED]


# -- against SIPp ---------------------------------------------------------------------------
def run(coro: object) -> object:
    return asyncio.run(asyncio.wait_for(coro, 60))  # type: ignore[arg-type]


def test_originate_outcomes_against_sipp(tmp_path: Path) -> None:
    need("sipp")
    need("espeak-ng")
    human = SippServer("uas_dial_speak.xml", tmp_path / "human", speech=greeting(HUMAN_GREETING, RATE))
    machine = SippServer("uas_dial_speak.xml", tmp_path / "machine", speech=greeting(MACHINE_GREETING, RATE))
    busy = SippServer("uas_dial_status.xml", tmp_path / "busy", keys={"status": "486"})
    fail = SippServer("uas_dial_status.xml", tmp_path / "fail", keys={"status": "503"})
    declined = SippServer("uas_dial_status.xml", tmp_path / "declined", keys={"status": "603"})
    ringing = SippServer("uas_cancel.xml", tmp_path / "ringing")
    servers = {"h": human, "m": machine, "b": busy, "f": fail, "d": declined, "r": ringing}

    async def main() -> dict[str, tuple[Outcome, str]]:
        orig = await SipOriginator.start(
            route=lambda n: f"sip:{n}@{servers[n[-1]].uri_host}", amd=AmdConfig())
        try:
            numbers = ["+4410h", "+4411m", "+4412b", "+4413f", "+4414d", "+4415r"]
            # The callers who answer do so 0.1-1.5 s after the INVITE. With the 2 s that makes
            # the ringing one hang up, an answer delayed on a loaded machine can cross the
            # CANCEL: the core rightly ACKs and BYEs it, but SIPp's scenario cannot take a
            # CANCEL after its 200 and never answers the BYE, so the call stays in the agent.
            # That fits the one failure seen (1 of 4 fresh-clone runs: a call left in
            # ua.calls, every other check passed). They get 5 s; the ringing one keeps 2.
            results = await asyncio.gather(*(orig.originate(n, timeout=2.0 if n.endswith("r") else 5.0)
                                             for n in numbers))
            out = {}
            for n, r in zip(numbers, results, strict=True):
                out[n[-1]] = (r.outcome, r.detail)
                if r.call is not None:
                    assert isinstance(r.call, SipAnsweredCall)
                    # AMD read the call's received audio from the engine's tap (no files):
                    # all of it up to the decision, none lost, and the tap is off again.
                    amd = r.call.amd
                    stream = r.call.leg.media.stream
                    assert amd is not None and stream is not None
                    st = stream.stats()
                    assert not st["tap"] and st["tap_overruns"] == 0
                    assert st["tap_samples"] >= amd.decided_at * RATE - 320
                    await r.call.hangup("machine" if r.outcome is Outcome.ANSWERING_MACHINE else "done")
                    assert r.call.leg.call.state is CallState.ENDED
            assert orig.calls_up == 0
            assert orig.stats.peak_calls == 6
            # every ended call was forgotten by the agent: nothing grows call after call
            assert not orig.agent.ua.calls and not orig.agent._call_events and not orig.agent.media_ports
            return out
        finally:
            await orig.close()

    try:
        out = run(main())
        assert isinstance(out, dict)
        assert out["h"][0] is Outcome.ANSWERED_HUMAN, out
        assert "greeting, then silence" in out["h"][1]
        assert out["m"][0] is Outcome.ANSWERING_MACHINE, out
        assert out["b"][0] is Outcome.BUSY and out["b"][1].startswith("486")
        assert out["f"][0] is Outcome.FAILED and out["f"][1].startswith("503")
        assert out["d"][0] is Outcome.REJECTED
        assert out["r"] == (Outcome.NO_ANSWER, "no answer in 2 s")
        assert ringing.proc.poll() is None   # it took the CANCEL and waits for more calls
        for s in servers.values():
            assert "Aborting call" not in s.errors()
    finally:
        for s in servers.values():
            s.stop()


class _InProcessAgent:
    """An agent's phone in this process: answers, records what it hears, hangs up after ``hold`` s."""

    def __init__(self, record: Path, hold: float) -> None:
        self.record = record
        self.hold = hold
        self.heard_ok = False

    async def serve(self, agent: SipAgent, engine: MediaEngine) -> None:
        call = await agent.next_incoming(timeout=20)
        agent.answer(call)
        media = CallMedia(engine, (agent.ua.contact.host, agent.media_ports[call.call_id]),
                          record=self.record)
        while call.media is None:   # the offer was agreed on arrival: media is usually there
            await agent.next_event(call, timeout=10)
        await asyncio.to_thread(media.apply, call.media)
        await asyncio.sleep(self.hold)
        agent.hangup(call)
        await asyncio.to_thread(media.close)


def test_bridge_to_agent_and_abandon_message(tmp_path: Path) -> None:
    need("sipp")
    need("espeak-ng")
    callee = SippServer("uas_dial_speak.xml", tmp_path / "callee",
                        speech=np.concatenate([greeting(HUMAN_GREETING, RATE, silence_after=1.2),
                                               greeting(MACHINE_GREETING, RATE)]))
    message = write_message(tmp_path / "sorry.wav")
    recording = tmp_path / "agent.wav"

    async def main() -> tuple[float, float]:
        orig = await SipOriginator.start(route=f"sip:{{number}}@{callee.uri_host}", amd=AmdConfig(),
                                         abandon_message=message)
        agent_sip = await SipAgent.start(("127.0.0.1", 0), transports=("UDP",))
        agent_engine = MediaEngine(sample_rate=RATE)
        phone = _InProcessAgent(recording, hold=2.5)
        try:
            serving = asyncio.create_task(phone.serve(agent_sip, agent_engine))
            first = await orig.originate("+441", timeout=5)
            assert first.outcome is Outcome.ANSWERED_HUMAN, first
            assert first.call is not None
            uri = f"sip:agent@127.0.0.1:{agent_sip.ua.contact.port}"
            result = await orig.bridge(first.call, Agent("a1", uri))
            await serving
            # A second call is abandoned: the message plays to its end, then BYE.
            second = await orig.originate("+442", timeout=5)
            assert second.outcome is Outcome.ANSWERED_HUMAN and second.call is not None
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            await second.call.hangup("abandoned")
            played = loop.time() - t0
            assert isinstance(second.call, SipAnsweredCall)
            assert second.call.leg.call.state is CallState.ENDED
            assert orig.calls_up == 0 and orig.stats.bridges == 1
            assert orig.stats.bridges_by_agent == {"a1": 1}
            assert orig.engine.stats()["streams"] == 0   # both bridge legs were on its engine
            assert result.talk_seconds is not None
            return result.talk_seconds, played
        finally:
            await orig.close()
            await agent_sip.close()
            agent_engine.close()

    try:
        out = run(main())
        assert isinstance(out, tuple)
        talk, played = out
        assert 2.0 < talk < 4.5   # the agent hung up after 2.5 s, and the bridge ended with it
        from offhook.media.wav import read_wav
        msg_seconds = read_wav(message).duration
        assert played >= msg_seconds - 0.3   # BYE only after the message
        # The agent heard the callee: the callee's machine-length speech after its "Hello?"
        # went through the bridge (the agent recorded several seconds of speech).
        assert recorded_speech_seconds(recording, RATE) > 1.0
        assert "Aborting call" not in callee.errors()
    finally:
        callee.stop()


def test_two_bridges_in_one_engine_keep_their_audio_apart(tmp_path: Path) -> None:
    """Two agents bridged at once on the originator's one engine: each bridge is a room of
    its own, so the agent of the talking callee hears speech and the agent of the silent
    callee hears none of it (one shared conference would give both the speech)."""
    need("sipp")
    need("espeak-ng")
    talk = SippServer("uas_dial_speak.xml", tmp_path / "talk", speech=greeting(MACHINE_GREETING, RATE))
    quiet = SippServer("uas_dial_speak.xml", tmp_path / "quiet", speech=np.zeros(RATE * 6, dtype=np.int16))
    servers = {"t": talk, "q": quiet}
    rec = {"t": tmp_path / "agent_t.wav", "q": tmp_path / "agent_q.wav"}

    async def main() -> None:
        orig = await SipOriginator.start(route=lambda n: f"sip:{n}@{servers[n[-1]].uri_host}")
        agents = [await SipAgent.start(("127.0.0.1", 0), transports=("UDP",)) for _ in range(2)]
        agent_engine = MediaEngine(sample_rate=RATE)
        phones = [_InProcessAgent(rec["t"], hold=3.0), _InProcessAgent(rec["q"], hold=3.0)]
        try:
            serving = [asyncio.create_task(p.serve(a, agent_engine))
                       for p, a in zip(phones, agents, strict=True)]
            calls = await asyncio.gather(orig.originate("+1t", timeout=5), orig.originate("+2q", timeout=5))
            assert all(c.outcome is Outcome.ANSWERED_HUMAN and c.call is not None for c in calls), calls
            bridges = [orig.bridge(c.call, Agent(f"a{i}", f"sip:agent@127.0.0.1:{a.ua.contact.port}"))
                       for i, (c, a) in enumerate(zip(calls, agents, strict=True)) if c.call is not None]
            results = await asyncio.gather(*bridges)
            await asyncio.gather(*serving)
            assert all(r.talk_seconds is not None and r.talk_seconds > 2.0 for r in results)
            assert orig.stats.bridges == 2 and orig.stats.bridges_by_agent == {"a0": 1, "a1": 1}
            assert orig.engine.stats()["streams"] == 0 and orig.calls_up == 0
        finally:
            await orig.close()
            for a in agents:
                await a.close()
            agent_engine.close()

    try:
        run(main())
        heard_talk = recorded_speech_seconds(rec["t"], RATE)
        heard_quiet = recorded_speech_seconds(rec["q"], RATE)
        print(f"agent of the talking callee heard {heard_talk:.2f} s of speech, "
              f"the other {heard_quiet:.2f} s")
        assert heard_talk > 1.5
        assert heard_quiet < 0.1
    finally:
        talk.stop()
        quiet.stop()


def test_bridge_refuses_foreign_calls() -> None:
    async def main() -> None:
        orig = await SipOriginator.start(route="sip:{number}@127.0.0.1:9")
        try:
            class Other:
                async def hangup(self, reason: str) -> None: ...
            with pytest.raises(CampaignError, match="is not a call this originator answered"):
                await orig.bridge(Other(), Agent("a1", "sip:a@127.0.0.1:9"))
            assert orig.target("+44 1") == "sip:+44 1@127.0.0.1:9"
            assert orig.target("sip:x@y") == "sip:x@y"
        finally:
            await orig.close()
    asyncio.run(main())


def test_abandon_message_must_exist(tmp_path: Path) -> None:
    async def main() -> None:
        with pytest.raises(CampaignError, match="no such file"):
            await SipOriginator.start(route="sip:{number}@127.0.0.1:9", abandon_message=tmp_path / "x.wav")
    asyncio.run(main())
