"""offhook.Phone on sound devices: calls through the engine's local audio port, mute, and the
local N-way conference in the engine's mixer.

A DevicePort driven by the test stands in for a sound card where the test must feed the
microphone and read the speaker sample by sample (the port is the real hand-over point a
PortAudio callback uses); one test runs the real PortAudio path on PulseAudio virtual
devices. Audio is checked by the frequencies that arrive.
"""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

import offhook.engine as eng
from offhook.phone import CallState, Phone, PhoneConfig, PolicyConfig, ToneAudio, WavAudio
from offhook.phone.config import AudioConfig
from offhook.phone.devices import DeviceAudio
from phone_helpers import FakeSoundCard, band_share, recorded, uri_of

if TYPE_CHECKING:
    from audio_fixture import VirtualAudio

pytest_plugins = ["audio_fixture"]

RATE = 16000


def device_phone(port: eng.DevicePort, **policy: object) -> Phone:
    config = PhoneConfig(audio=AudioConfig(echo_canceller=False), policy=PolicyConfig(**policy))  # type: ignore[arg-type]
    return Phone(config, audio_port=port)


def test_a_call_on_the_sound_card_and_mute(tmp_path: Path) -> None:
    async def run() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        port = eng.DevicePort(RATE, RATE)
        rec, rec_muted = tmp_path / "b.wav", tmp_path / "b_muted.wav"
        a = device_phone(port)
        b = Phone(PhoneConfig(policy=PolicyConfig(auto_answer=True)), audio=lambda: ToneAudio(1000))
        with FakeSoundCard(port, 600) as card:
            await a.start()
            await b.start()
            try:
                assert a.engine is not None and a.engine.audio_port is port
                call = await a.call(uri_of(b))
                await call.wait_answered(5)
                assert isinstance(call.audio, DeviceAudio)
                bc = b.calls[0]
                await bc.record(rec)
                await asyncio.sleep(1.2)
                await bc.stop_recording()
                heard = card.last(0.8)
                await call.mute()
                await asyncio.sleep(0.3)
                await bc.record(rec_muted)
                await asyncio.sleep(0.8)
                await bc.stop_recording()
                heard_muted = card.last(0.5)
                await call.hangup()
            finally:
                await a.stop()
                await b.stop()
        return heard, recorded(rec)[0], np.concatenate([recorded(rec_muted)[0], heard_muted])

    heard, sent, muted = asyncio.run(run())
    assert band_share(heard, RATE, (1000,)) > 0.9            # B's tone out of the speaker
    assert band_share(sent[RATE // 4:], RATE, (600,)) > 0.9  # the microphone reached B
    muted_sent = muted[:len(muted) - RATE // 2]
    assert np.sqrt(np.mean(muted_sent[RATE // 4:].astype(np.float64) ** 2)) < 30   # muted: silence
    assert band_share(muted[-RATE // 2:], RATE, (1000,)) > 0.9   # still hearing B while muted


def test_three_way_conference_in_the_engine_mixer(tmp_path: Path) -> None:
    async def run() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        port = eng.DevicePort(RATE, RATE)
        rec_b, rec_c = tmp_path / "b.wav", tmp_path / "c.wav"
        a = device_phone(port)
        b = Phone(PhoneConfig(policy=PolicyConfig(auto_answer=True)),
                  audio=lambda: WavAudio(record=rec_b))
        c = Phone(PhoneConfig(policy=PolicyConfig(auto_answer=True)), audio=lambda: ToneAudio(1500))
        with FakeSoundCard(port, 600) as card:
            for p in (a, b, c):
                await p.start()
            try:
                ab = await a.call(uri_of(b))
                await ab.wait_answered(5)
                ac = await a.call(uri_of(c))           # B goes on hold
                await ac.wait_answered(5)
                assert ab.state is CallState.HELD
                await a.conference([ab, ac])
                assert ab.state is CallState.ACTIVE and ab.in_conference and ac.in_conference
                cb = c.calls[0]
                await cb.record(rec_c)
                await asyncio.sleep(1.5)
                await cb.stop_recording()
                heard = card.last(1.0)
                await a.split(ab)
                assert not ab.in_conference
                for call in (ab, ac):
                    await call.hangup()
            finally:
                for p in (a, b, c):
                    await p.stop()
        return heard, recorded(rec_b)[0], recorded(rec_c)[0]

    heard, at_b, at_c = asyncio.run(run())
    tail_b = at_b[-RATE:]
    # each party hears the two others and not itself: B (silent) hears A's 600 and C's 1500 Hz
    assert band_share(tail_b, RATE, (600,)) > 0.1 and band_share(tail_b, RATE, (1500,)) > 0.1
    assert band_share(tail_b, RATE, (600, 1500)) > 0.9
    assert band_share(at_c[RATE // 2:], RATE, (600,)) > 0.9     # C hears A (B sends silence)
    assert band_share(at_c[RATE // 2:], RATE, (1500,)) < 0.01   # ... and not its own tone
    assert band_share(heard, RATE, (1500,)) > 0.9               # the user hears C


def test_conference_needs_two_live_calls() -> None:
    async def run() -> None:
        async with Phone() as a:
            from offhook.phone import PhoneError
            with pytest.raises(PhoneError, match="at least two different calls"):
                await a.conference([])

    asyncio.run(run())


@pytest.mark.audio
def test_a_call_through_pulseaudio_devices(virtual_audio: VirtualAudio, tmp_path: Path) -> None:
    """[audio] names a PulseAudio virtual cable (what is played on it comes back on its input),
    echo canceller off: B's 1 kHz tone goes out of A's playback device, round the cable into
    A's capture device, and back to B."""
    async def run() -> np.ndarray:
        rec = tmp_path / "back.wav"
        cable = "Jabra Evolve 40 (USB)"
        a = Phone(PhoneConfig(audio=AudioConfig(capture=cable, playback=cable, ringer="null",
                                                echo_canceller=False)))
        b = Phone(PhoneConfig(policy=PolicyConfig(auto_answer=True)),
                  audio=lambda: WavAudio(record=rec))
        await a.start()
        await b.start()
        try:
            assert a.devices is not None and a.engine is not None and a.engine.audio_port is not None
            call = await a.call(uri_of(b))
            await call.wait_answered(5)
            bc = b.calls[0]
            bc.audio = ToneAudio(1000)
            a_stream = bc._stream
            assert a_stream is not None
            a_stream.play_tone(1000, -12.0)
            await asyncio.sleep(3.0)    # an idle null sink wakes within ~2 s
            await call.hangup()
        finally:
            await a.stop()
            await b.stop()
        return recorded(rec)[0]

    back = asyncio.run(run())
    assert band_share(back[-RATE:], RATE, (1000,)) > 0.9
