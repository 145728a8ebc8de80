"""Silence suppression between two offhook phones over SIP on 127.0.0.1.

A has `[phone] silence_suppression = true`; both offer CN/8000 with PCMU, so
the call agrees it. A plays speech, a pause over a quiet background, speech;
B answers and records. A must leave the pause unsent but for a few RFC 3389
CN packets, B must hear the pause as that background.
"""
from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np

from offhook.media.speech import speech
from offhook.media.wav import write_wav
from offhook.phone import Phone, PhoneConfig, PolicyConfig, WavAudio
from phone_helpers import incoming, recorded, uri_of


def _clip(path: Path) -> None:
    rate = 16000
    talk = speech(2.0, rate)
    x = np.concatenate([talk[:rate], np.zeros(2 * rate, dtype=np.int16), talk[rate:]]).astype(np.float64)
    x += np.random.default_rng(5).normal(0.0, 32767.0 * 10 ** (-50 / 20), len(x))
    write_wav(path, np.clip(np.round(x), -32768, 32767).astype(np.int16), rate)


def test_a_phone_suppressing_silence_sends_comfort_noise_the_other_plays(tmp_path: Path) -> None:
    async def run() -> None:
        _clip(tmp_path / "clip.wav")
        a = Phone(PhoneConfig(codecs=("PCMU",), silence_suppression=True),
                  audio=lambda: WavAudio(play=tmp_path / "clip.wav"))
        b = Phone(PhoneConfig(codecs=("PCMU",), policy=PolicyConfig(auto_answer=True)),
                  audio=lambda: WavAudio(record=tmp_path / "b.wav"))
        await a.start()
        await b.start()
        try:
            call = await a.call(uri_of(b))
            theirs = (await incoming(b)).call
            await call.wait_answered(10)
            await asyncio.sleep(4.6)
            assert call.sip.media is not None and call.sip.media.cn_payload_type == 13
            sent = call.media.stream.stats()
            got = theirs.media.stream.stats()
            await call.hangup()
        finally:
            await a.stop()
            await b.stop()
        assert sent["frames_suppressed"] >= 60 and 1 <= sent["cn_sent"] <= 6
        assert got["cn_received"] == sent["cn_sent"] and got["playout"]["lost"] == 0
        pcm, rate = recorded(tmp_path / "b.wav")
        blocks = pcm[: len(pcm) // (rate // 50) * (rate // 50)].astype(np.float64).reshape(-1, rate // 50)
        level = -10 * np.log10(np.mean(blocks**2, axis=1) / 32767.0**2 + 1e-12)
        quiet = level[level > 40]  # the pause (speech is 20-35 dB louder)
        assert len(quiet) >= 60
        assert abs(float(np.median(quiet)) - 50.0) <= 4.0

    asyncio.run(run())
