"""`offhook bench call`: real calls on loopback between two offhook phones, one per codec,
with each call's quality report.

Phone A calls phone B (peer to peer, SIP over UDP on 127.0.0.1); B answers at once. Each
side plays a different espeak-ng talker into the call and records what it receives, so
the audio crosses the whole stack both ways: SIP and SDP offer/answer, the C media
thread, RTP, the jitter buffer, decoding and concealment. The report gives, per
direction, PESQ of the recording against what the other side played (narrowband at
8 kHz for G.711, wideband at 16 kHz otherwise), and per call the E-model MOS estimate
and the RTP/RTCP figures it comes from (loss, interarrival jitter, round-trip time,
playout delay).
"""
from __future__ import annotations

import asyncio
import json
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from offhook.cli.table import print_table
from offhook.errors import OffhookError
from offhook.media.quality import align, pesq_score
from offhook.media.speech import speech
from offhook.media.wav import read_wav, write_wav
from offhook.phone import CallState, Phone, PhoneConfig, PolicyConfig, WavAudio
from offhook.phone.config import CODECS

RATE = 16000     # the engine's rate: what WavAudio plays and records


@dataclass
class CallReport:
    codec: str
    pesq_a_to_b: float
    pesq_b_to_a: float
    mos: float
    loss_percent: float
    jitter_ms: float
    rtt_ms: float | None
    delay_ms: float


def _pesq(played: np.ndarray, recording: Path, codec: str) -> float:
    """PESQ of what arrived against what was played, lined up by cross-correlation."""
    got = read_wav(recording, sample_rate=RATE, channels=1).samples
    lined = align(played, got)
    if codec in ("PCMU", "PCMA"):   # narrowband codecs: narrowband PESQ
        from offhook.engine import Resampler
        ref8 = Resampler(RATE, 8000).process(played[:len(lined)])
        return pesq_score(ref8, Resampler(RATE, 8000).process(lined), 8000)
    return pesq_score(played[:len(lined)], lined, RATE)


def _uri(phone: Phone) -> str:
    host, port = next(iter(phone.lines.values())).agent.listen_address
    return f"sip:offhook@{host}:{port}"


async def one_call(codec: str, seconds: float, workdir: Path) -> CallReport:
    talk_a, talk_b = speech(seconds, RATE, talker=0), speech(seconds, RATE, talker=1)
    files = {name: workdir / f"{codec}_{name}.wav" for name in ("play_a", "play_b", "rec_a", "rec_b")}
    write_wav(files["play_a"], talk_a, RATE)
    write_wav(files["play_b"], talk_b, RATE)
    config = PhoneConfig(codecs=(codec,))
    a = Phone(config, audio=lambda: WavAudio(play=files["play_a"], record=files["rec_a"]))
    b = Phone(PhoneConfig(codecs=(codec,), policy=PolicyConfig(auto_answer=True)),
              audio=lambda: WavAudio(play=files["play_b"], record=files["rec_b"]))
    try:
        await a.start()
        await b.start()
        call = await a.call(_uri(b))
        await call.wait_answered(10)
        await asyncio.sleep(seconds + 1.0)       # the speech, then the jitter buffer drains
        quality = call.quality()
        await call.hangup()
        if quality is None:
            raise OffhookError(f"the {codec} call carried no audio")
    finally:
        await a.stop()
        await b.stop()
    if call.state is not CallState.ENDED or call.answered_at is None:
        raise OffhookError(f"the {codec} call did not end normally: {call.reason}")
    return CallReport(codec, _pesq(talk_a, files["rec_b"], codec), _pesq(talk_b, files["rec_a"], codec),
                      quality.mos, quality.loss_percent, quality.jitter_ms, quality.rtt_ms,
                      quality.delay_ms)


def run(codecs: list[str] | None, seconds: float, as_json: bool) -> int:
    chosen = codecs or list(CODECS)
    for name in chosen:
        if name not in CODECS:
            raise OffhookError(f"unknown codec {name!r}; choose from {', '.join(CODECS)}")
    with tempfile.TemporaryDirectory(prefix="offhook-call-") as tmp:
        reports = [asyncio.run(one_call(name, seconds, Path(tmp))) for name in chosen]
    if as_json:
        print(json.dumps([asdict(r) for r in reports], indent=2))
        return 0
    print(f"Calls on loopback between two offhook phones (SIP/UDP, RTP through the media engine), "
          f"{seconds:g} s of speech each way.\nPESQ narrowband for G.711, wideband otherwise; "
          "MOS: E-model estimate from the call's RTP/RTCP figures.")
    print_table(["codec", "PESQ A→B", "PESQ B→A", "MOS", "loss %", "jitter ms", "RTT ms", "delay ms"],
                [[r.codec, f"{r.pesq_a_to_b:.2f}", f"{r.pesq_b_to_a:.2f}", f"{r.mos:.2f}",
                  f"{r.loss_percent:.1f}", f"{r.jitter_ms:.1f}",
                  "-" if r.rtt_ms is None else f"{r.rtt_ms:.1f}", f"{r.delay_ms:.0f}"] for r in reports])
    if any(r.rtt_ms is None for r in reports):
        print("RTT -: the call ended before an RTCP report came back with our sender report's "
              "time in it (each side reports 2.5 s into the call, then every 2.5-7.5 s); "
              "a longer --seconds measures it.")
    return 0
