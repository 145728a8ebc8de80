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

from offhook.media.wav import write_wav
from offhook.phone import Phone, PhoneConfig, PolicyConfig, WavAudio
from phone_helpers import incoming, recorded, uri_of
from silence_clips import ROOM_DBOV, blocks_dbov, talk_pause_talk


def test_a_phone_suppressing_silence_sends_comfort_noise_the_other_plays(tmp_path: Path) -> None:
    async def run() -> None:
        write_wav(tmp_path / "clip.wav", talk_pause_talk(2.0, seed=5), 16000)
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
        level = blocks_dbov(pcm, rate // 50)
        quiet = level[level > 40]  # the pause (speech is 20-35 dB louder)
        assert len(quiet) >= 60
        assert abs(float(np.median(quiet)) - ROOM_DBOV) <= 4.0

    asyncio.run(run())
