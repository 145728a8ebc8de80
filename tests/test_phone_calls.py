"""offhook.Phone against real peers on loopback: a second Phone, three Phones for call waiting and
transfers. Audio goes through the engine and is checked by measuring it (tone frequency, level)."""
from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from offhook.phone import (
    CallError,
    CallState,
    DtmfReceived,
    History,
    NullAudio,
    Phone,
    PhoneError,
    PolicyConfig,
    ToneAudio,
    ToneRecorder,
    WavAudio,
)
from phone_helpers import band_share, dominant_hz, incoming, phones, recorded, rms_db, uri_of


def tones(phone: Phone) -> ToneRecorder:
    assert isinstance(phone.local_audio, ToneRecorder)
    return phone.local_audio



def test_call_audio_hold_mute_dtmf_hangup_history(tmp_path: Path) -> None:
    async def run() -> None:
        rec = tmp_path / "b.wav"
        async with phones((lambda: ToneAudio(1000), None), (lambda: WavAudio(record=rec), None)) as (a, b):
            a.history = History.open(tmp_path / "a.sqlite")
            call = await a.call(uri_of(b))
            ev = await incoming(b)
            bc = ev.call
            assert bc.direction == "in" and bc.remote_uri.startswith("sip:offhook@127.0.0.1:")
            await call.wait(CallState.RINGING, timeout=5)
            await asyncio.sleep(0.5)                       # ringback here, the ringer there
            assert tones(a).current_tone == "ringback" and tones(b).ringing
            await bc.answer()
            await call.wait_answered(5)
            assert (call.state, bc.state) == (CallState.ACTIVE, CallState.ACTIVE)
            assert tones(a).current_tone is None and not tones(b).ringing
            await asyncio.sleep(1.0)
            await call.hold()
            await bc.wait(CallState.REMOTE_HELD, timeout=5)
            assert (call.state, bc.state) == (CallState.HELD, CallState.REMOTE_HELD)
            await call.resume()
            await bc.wait(CallState.ACTIVE, timeout=5)
            await call.mute()
            await asyncio.sleep(0.3)
            await bc.record(tmp_path / "muted.wav")
            await asyncio.sleep(0.8)
            await bc.stop_recording()
            await call.unmute()
            await call.send_dtmf("12#")
            digits = ""
            async with asyncio.timeout(5):
                while len(digits) < 3:
                    got = await b.next_event()
                    if isinstance(got, DtmfReceived):
                        digits += got.digit
            assert digits == "12#" and bc.dtmf_received == "12#"
            quality = call.quality()
            assert quality is not None and quality.mos > 4.0 and quality.loss_percent == 0.0
            await call.hangup()
            await bc.wait_ended(5)
            assert bc.reason == "hung up by the far end" and call.reason == "hung up"
            entry = a.history.entries()[0]
            assert (entry.direction, entry.result) == ("out", "answered") and entry.duration > 2.0
            b.history = History.open(tmp_path / "b.sqlite")
            b.history.start("in", call.remote_uri.replace("offhook@", "x@"), at=0.0)  # an older caller
            b.history.start("in", entry.party.replace(uri_of(b), uri_of(a)), at=1.0)
            back = await b.call_back()                    # B calls the newest caller: A
            again = (await incoming(a)).call
            assert back.remote_uri == uri_of(a) and again.direction == "in"
            await again.reject(486)
            await back.wait_ended(5)
            redial = await a.redial()                     # A redials its last number: B
            assert redial.remote_uri == uri_of(b)
            await redial.hangup()
            a.dialing(True)
            assert tones(a).current_tone == "dial"
            a.dialing(False)

        pcm, rate = recorded(rec)
        talk = pcm[int(0.3 * rate):int(1.0 * rate)]     # before the hold
        assert abs(dominant_hz(talk, rate) - 1000) < 5 and rms_db(talk) > -30
        muted, rate = recorded(tmp_path / "muted.wav")
        assert rms_db(muted[rate // 5:]) < -60             # silence while muted
        ring = tones(a).samples("ringback")
        assert len(ring) > 2000 and band_share(ring[:8000], 8000, (440, 480)) > 0.95

    asyncio.run(run())


def test_call_waiting_answer_swap_and_reject(tmp_path: Path) -> None:
    async def run() -> None:
        async with phones((lambda: ToneAudio(600), None), (lambda: ToneAudio(900), None),
                          (NullAudio, None), (NullAudio, None)) as (a, b, c, d):
            first = await a.call(uri_of(c))
            ca = (await incoming(c)).call
            await ca.answer()
            await first.wait_answered(5)
            second = await b.call(uri_of(c))
            cb = (await incoming(c)).call
            await asyncio.sleep(0.8)                               # the call-waiting beep plays
            assert tones(c).current_tone == "call_waiting" and not tones(c).ringing
            await cb.answer()                                      # the first call goes on hold
            await second.wait_answered(5)
            assert (ca.state, cb.state) == (CallState.HELD, CallState.ACTIVE)
            assert first.state is CallState.REMOTE_HELD
            assert tones(c).current_tone is None
            await cb.record(tmp_path / "from_b.wav")
            await asyncio.sleep(0.6)
            now = await c.swap()
            assert now is ca and (ca.state, cb.state) == (CallState.ACTIVE, CallState.HELD)
            await ca.record(tmp_path / "from_a.wav")
            await asyncio.sleep(0.6)
            third = await d.call(uri_of(c))                       # a third caller, rejected
            cd = (await incoming(c)).call
            await cd.reject()
            await third.wait_ended(5)
            assert third.reason.startswith("declined (603)")
            for call in (first, second):
                await call.hangup()
            await ca.wait_ended(5)
            await cb.wait_ended(5)
            with pytest.raises(PhoneError, match="no held call to swap to"):
                await c.swap()
        pcm, rate = recorded(tmp_path / "from_b.wav")
        assert abs(dominant_hz(pcm[rate // 5:], rate) - 900) < 5
        pcm, rate = recorded(tmp_path / "from_a.wav")
        assert abs(dominant_hz(pcm[rate // 5:], rate) - 600) < 5
        beep = tones(c).samples("call_waiting")
        assert len(beep) > 4000 and abs(dominant_hz(beep[:2400], 8000) - 440) < 5

    asyncio.run(run())


def test_blind_transfer(tmp_path: Path) -> None:
    async def run() -> None:
        rec = tmp_path / "at_c.wav"
        auto = PolicyConfig(auto_answer=True)
        async with phones((NullAudio, None), (lambda: ToneAudio(700), auto),
                          (lambda: WavAudio(record=rec), auto)) as (a, b, c):
            ab = await a.call(uri_of(b))
            await ab.wait_answered(5)
            await ab.transfer(uri_of(c))                 # returns once C answered B
            assert ab.state in (CallState.TRANSFERRED, CallState.ENDED)
            await ab.wait_ended(5)
            assert ab.reason == "transferred"
            bc = next(call for call in b.calls if call.remote_uri == uri_of(c))
            assert bc.state is CallState.ACTIVE
            old = next(call for call in b.calls if call is not bc)
            await old.wait_ended(5)
            await asyncio.sleep(0.8)
            await bc.hangup()
        pcm, rate = recorded(rec)
        assert abs(dominant_hz(pcm[rate // 5:], rate) - 700) < 5     # B's audio reached C

    asyncio.run(run())


def test_attended_transfer(tmp_path: Path) -> None:
    async def run() -> None:
        rec = tmp_path / "at_c.wav"
        auto = PolicyConfig(auto_answer=True)
        async with phones((NullAudio, None), (lambda: ToneAudio(800), auto),
                          (lambda: WavAudio(record=rec), auto)) as (a, b, c):
            ab = await a.call(uri_of(b))
            await ab.wait_answered(5)
            ac = await a.call(uri_of(c))                  # B goes on hold
            await ac.wait_answered(5)
            assert ab.state is CallState.HELD
            await ab.transfer_to(ac)
            await ab.wait_ended(5)
            await ac.wait_ended(5)
            assert ac.state is CallState.ENDED and ab.reason == "transferred"
            cb = next(call for call in c.calls if call.replaces is not None)
            assert cb.state is CallState.ACTIVE and cb.replaces is not None
            assert tones(c).names().count("ring") == 1       # A's call rang; B's replacing one did not
            ca = next(call for call in c.calls if call is not cb)
            await ca.wait_ended(5)
            assert ca.reason == "replaced by an attended transfer"
            await asyncio.sleep(0.8)
            await cb.hangup()
        pcm, rate = recorded(rec)
        assert abs(dominant_hz(pcm[-rate // 2:], rate) - 800) < 5

    asyncio.run(run())


def test_a_forwarded_call_is_followed_to_where_it_was_sent(tmp_path: Path) -> None:
    async def run() -> None:
        rec = tmp_path / "at_f.wav"
        async with phones((lambda: WavAudio(record=rec), PolicyConfig(auto_answer=True))) as (f,):  # noqa: SIM117 - the inner phones need f's address
            async with phones((lambda: ToneAudio(900), None),
                              (NullAudio, PolicyConfig(forward=uri_of(f)))) as (a, c):
                c.history = History.open(tmp_path / "c.sqlite")
                call = await a.call(uri_of(c))
                await call.wait_answered(5)               # answered by F: the 302 was followed
                fc = f.calls[0]
                assert fc.state is CallState.ACTIVE and c.calls[0].state is CallState.ENDED
                assert c.history.entries()[0].result == "forwarded"
                await asyncio.sleep(0.8)
                await call.hangup()
                await fc.wait_ended(5)
        pcm, rate = recorded(rec)
        assert abs(dominant_hz(pcm[rate // 5:], rate) - 900) < 5      # A's audio reached F

    asyncio.run(run())


def test_policies_dnd_forward_busy_tone_and_conference(tmp_path: Path) -> None:
    async def run() -> None:
        async with phones((NullAudio, None), (NullAudio, PolicyConfig(dnd=True)),
                          (NullAudio, PolicyConfig(forward="sip:voicemail@127.0.0.1:9")),
                          (NullAudio, PolicyConfig(forward_no_answer="sip:desk@127.0.0.1:9",
                                                   forward_no_answer_after=0.3)),
                          (NullAudio, PolicyConfig(auto_answer=True, call_waiting=False,
                                                   forward_busy="sip:vm@127.0.0.1:9"))) as (a, b, c, d, e):
            for phone, name in ((b, "b"), (c, "c"), (d, "d")):
                phone.history = History.open(tmp_path / f"{name}.sqlite")
            for line in a.lines.values():      # A shows each 302 instead of following it
                line.agent.ua.max_redirects = 0
            busy = await a.call(uri_of(b))
            await busy.wait_ended(5)
            assert busy.reason.startswith("busy (486)")
            await asyncio.sleep(0.3)
            assert tones(a).current_tone == "busy"
            fwd = await a.call(uri_of(c))
            await fwd.wait_ended(5)
            assert fwd.status == 302
            late = await a.call(uri_of(d))
            await (await incoming(d)).call.wait_ended(5)
            await late.wait_ended(5)
            assert late.status == 302 and d.calls[0].reason == "forwarded to sip:desk@127.0.0.1:9"
            assert [c.calls[0].state, b.calls[0].state] == [CallState.ENDED, CallState.ENDED]
            results = [p.history.entries()[0].result for p in (b, c, d) if p.history is not None]
            assert results == ["rejected", "forwarded", "forwarded"]
            assert not tones(b).ringing and "ring" not in tones(b).names()   # DND never rang
            talking = await b.call(uri_of(e))              # E is busy with B (no call waiting) ...
            await talking.wait_answered(5)
            moved = await a.call(uri_of(e))               # ... so A's call is forwarded on busy
            await moved.wait_ended(5)
            assert moved.status == 302 and e.calls[-1].reason == "forwarded to sip:vm@127.0.0.1:9"
            await talking.hangup()
            with pytest.raises(CallError, match="cannot join a conference a call that is ended"):
                await a.conference(a.calls)
            with pytest.raises(CallError, match="cannot hold a call that is ended"):
                await busy.hold()
        pcm = tones(a).samples("busy")
        assert band_share(pcm[:4000], 8000, (480, 620)) > 0.95

    asyncio.run(run())
