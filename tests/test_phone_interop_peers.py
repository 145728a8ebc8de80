"""offhook.Phone's call features against third-party softphones on 127.0.0.1: call waiting,
hold/swap (and a hold the far end refuses), DTMF, a 3-way conference in the engine's mixer
and an attended transfer, with baresip (Debian `baresip`, tests/baresip_peer.py) and SIPp
(Debian `sip-tester`, scenarios in tests/data/sipp) as the far ends.

Every party plays its own tone, so who hears whom is measured by frequency: baresip plays
1 kHz (aufile) and dumps what it decodes (sndfile); SIPp either echoes the RTP it gets
(-rtp_echo: the Phone hears its own tone back only if SIPp received it) or streams a
1.4 kHz mu-law file; the Phone plays 600 Hz and records through its engine.

What baresip 1.0 cannot show: it stops dumping decoded audio after a re-INVITE (its
encoder dump goes on; a packet capture made while writing these tests showed the Phone's
RTP after the resume carrying the tone with continuous sequence numbers), so a baresip
that was held is heard by the Phone after the resume but its own recording of the Phone
ends at the hold; and it puts the Replaces of an attended transfer's REFER into the
Request-URI of its INVITE instead of a Replaces header (RFC 3891), so the target never
ends the replaced call: the Phone hangs it up itself.
"""
from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

import offhook.engine as eng
from baresip_peer import Baresip
from offhook.media.wav import read_wav
from offhook.phone import CallError, CallState, Phone, PhoneConfig, ToneAudio, ToneRecorder
from offhook.phone.config import AudioConfig
from phone_helpers import FakeSoundCard, band_share, dominant_hz, incoming, recorded, rms_db
from sip_peers import Sipp, need
from test_sip_interop_baresip import write_tone

PHONE_HZ = 600
BARESIP_HZ = 1000
SIPP_HZ = 1400


def baresip_peer(tmp_path: Path, name: str = "baresip") -> Baresip:
    """A baresip that answers at once and plays BARESIP_HZ into every call."""
    return Baresip(tmp_path / name, write_tone(tmp_path / f"{name}_tone.wav", BARESIP_HZ, 30, 8000),
                   answermode="auto")


def write_ulaw_tone(path: Path, freq: float, seconds: float = 4.0) -> None:
    """Raw mu-law at 8 kHz for SIPp's rtp_stream (looped by the scenarios that need more)."""
    t = np.arange(int(seconds * 8000)) / 8000
    path.write_bytes(eng.codec("PCMU").encode((6000 * np.sin(2 * np.pi * freq * t)).astype(np.int16)))


def heard_by(peer: Baresip, index: int = -1) -> tuple[np.ndarray, int]:
    """What baresip decoded in one of its calls (sndfile's dump; the newest by default)."""
    wavs = peer.decoded_wavs()
    assert wavs, peer.log_text()[-800:]
    wav = read_wav(wavs[index])
    return wav.samples[:, 0] if wav.samples.ndim > 1 else wav.samples, wav.sample_rate


def established_with(peer: Baresip, uri: str) -> None:
    """Wait for baresip's CALL_ESTABLISHED with `uri` (earlier calls' events are passed over)."""
    while not str(peer.wait_event("CALL_ESTABLISHED").get("peeruri", "")).startswith(uri):
        pass


def local_phone() -> Phone:
    return Phone(PhoneConfig(listen=("127.0.0.1", 0)), local_audio=ToneRecorder())


def test_call_waiting_swap_and_dtmf_with_baresip_and_sipp(tmp_path: Path) -> None:
    """The Phone talks with baresip, SIPp calls in: call-waiting beep, answering holds baresip,
    a swap holds SIPp and resumes baresip; DTMF to baresip; audio checked on every side."""
    need("sipp")
    bs = baresip_peer(tmp_path)

    async def run() -> Phone:
        phone = local_phone()
        await phone.start()
        try:
            a = await phone.call(bs.uri, audio=ToneAudio(PHONE_HZ))
            await a.wait_answered(10)
            await a.record(tmp_path / "from_baresip.wav")      # the whole call, hold included
            await asyncio.sleep(1.0)
            await a.send_dtmf("7")                             # RFC 4733, seen by baresip
            dtmf = await asyncio.to_thread(bs.wait_event, "CALL_DTMF_START", 5.0)
            assert dtmf.get("param") == "7"
            host, port = phone.lines["local"].agent.transport.local["UDP"]
            sipp = Sipp("uac_waiting.xml", tmp_path, remote=f"{host}:{port}", extra=["-rtp_echo"])
            b = (await incoming(phone, 10)).call
            assert b.remote_uri.startswith("sip:sipp@")
            b.audio = ToneAudio(SIPP_HZ)
            await asyncio.sleep(0.8)                           # the call-waiting beep, no ring
            local = phone.local_audio
            assert isinstance(local, ToneRecorder)
            assert local.current_tone == "call_waiting" and not local.ringing
            await b.answer()                                   # baresip goes on hold first
            assert (a.state, b.state) == (CallState.HELD, CallState.ACTIVE)
            assert a.sip.media is not None and a.sip.media.direction in ("sendonly", "inactive")
            assert local.current_tone is None
            await b.record(tmp_path / "from_sipp.wav")
            await asyncio.sleep(1.2)
            await b.stop_recording()
            assert await phone.swap() is a                     # SIPp held, baresip back
            assert (a.state, b.state) == (CallState.ACTIVE, CallState.HELD)
            await asyncio.sleep(1.2)
            await a.stop_recording()
            await b.hangup()
            await a.hangup()
            assert await asyncio.to_thread(sipp.wait) == 0, sipp.errors()
            await asyncio.to_thread(bs.wait_event, "CALL_CLOSED")
            msgs = sipp.messages()
        finally:
            await phone.stop()
        # SIPp's scenario checked the hold offer (a=sendonly or inactive) and answered recvonly
        assert "a=recvonly" in msgs and "BYE sip:sipp@" in msgs
        # baresip was asked twice more for the same media: the hold, then the resume
        log = bs.log_text()
        assert log.count("call: got re-INVITE (SDP Offer)") == 2, log[-1500:]
        return phone

    try:
        phone = asyncio.run(run())
    finally:
        bs.close()
    local = phone.local_audio
    assert isinstance(local, ToneRecorder)
    beep = local.samples("call_waiting")
    assert len(beep) > 4000 and abs(dominant_hz(beep[:2400], 8000) - 440) < 5
    # the Phone heard baresip, then nothing while baresip was held (it answered recvonly and
    # stopped sending), then baresip again after the swap
    pcm, rate = recorded(tmp_path / "from_baresip.wav")
    blocks = [pcm[i:i + rate // 10] for i in range(0, len(pcm) - rate // 10 + 1, rate // 10)]
    quiet = np.flatnonzero([rms_db(block) < -50 for block in blocks])
    assert len(quiet) >= 8 and quiet[-1] - quiet[0] == len(quiet) - 1, quiet   # one gap, >= 0.8 s
    before, after = np.concatenate(blocks[2:quiet[0]]), np.concatenate(blocks[quiet[-1] + 2:])
    for part in (before, after):
        assert len(part) > rate // 2 and band_share(part, rate, (BARESIP_HZ,)) > 0.9 and rms_db(part) > -30
    # SIPp echoed the Phone's tone: it got the Phone's audio and the Phone got SIPp's
    pcm, rate = recorded(tmp_path / "from_sipp.wav")
    assert band_share(pcm[rate // 4:], rate, (SIPP_HZ,)) > 0.9 and rms_db(pcm[rate // 4:]) > -30
    # baresip heard the Phone's tone (until the hold: see the module docstring)
    pcm, rate = heard_by(bs)
    assert band_share(pcm[rate // 5:], rate, (PHONE_HZ,)) > 0.9


def test_three_way_conference_with_sipp_and_baresip(tmp_path: Path) -> None:
    """The Phone (a sound card playing 600 Hz) calls SIPp, then baresip (SIPp goes on hold),
    and joins both in the engine's mixer: everyone hears the two others and not itself."""
    need("sipp")
    write_ulaw_tone(tmp_path / "tone.ul", SIPP_HZ)
    bs = baresip_peer(tmp_path)
    rate = 16000
    port = eng.DevicePort(rate, rate)

    async def run() -> tuple[np.ndarray, np.ndarray]:
        phone = Phone(PhoneConfig(listen=("127.0.0.1", 0), audio=AudioConfig(echo_canceller=False)),
                      audio_port=port)
        with FakeSoundCard(port, PHONE_HZ) as card:
            await phone.start()
            try:
                sipp = Sipp("uas_hold_resume.xml", tmp_path)
                to_sipp = await phone.call(f"sipp@127.0.0.1:{sipp.port}")
                await to_sipp.wait_answered(10)
                to_bs = await phone.call(bs.uri)
                await to_bs.wait_answered(10)
                assert to_sipp.state is CallState.HELD
                await phone.conference([to_sipp, to_bs])       # resumes SIPp
                assert to_sipp.state is CallState.ACTIVE and to_sipp.in_conference and to_bs.in_conference
                stream = to_sipp.stream
                assert stream is not None
                stream.record_wav(tmp_path / "to_sipp.wav", "stereo")   # left: what SIPp is sent
                await asyncio.sleep(2.0)
                stream.stop_recording()
                heard = card.last(1.0)
                for call in (to_sipp, to_bs):
                    await call.hangup()
                assert await asyncio.to_thread(sipp.wait) == 0, sipp.errors()
                await asyncio.to_thread(bs.wait_event, "CALL_CLOSED")
            finally:
                await phone.stop()
        sent = read_wav(tmp_path / "to_sipp.wav")
        return heard, sent.samples[:, 0]

    try:
        heard, to_sipp = asyncio.run(run())
        at_bs, bs_rate = heard_by(bs)
    finally:
        bs.close()
    # baresip (never re-INVITEd: its dump covers the conference) hears the Phone and SIPp
    tail = at_bs[-bs_rate:]
    assert band_share(tail, bs_rate, (PHONE_HZ,)) > 0.1 and band_share(tail, bs_rate, (SIPP_HZ,)) > 0.1
    assert band_share(tail, bs_rate, (PHONE_HZ, SIPP_HZ)) > 0.9
    assert band_share(tail, bs_rate, (BARESIP_HZ,)) < 0.01
    # SIPp is sent the Phone and baresip, not its own tone
    tail = to_sipp[-rate:]
    assert band_share(tail, rate, (PHONE_HZ,)) > 0.1 and band_share(tail, rate, (BARESIP_HZ,)) > 0.1
    assert band_share(tail, rate, (PHONE_HZ, BARESIP_HZ)) > 0.9
    assert band_share(tail, rate, (SIPP_HZ,)) < 0.01
    # the user hears both peers and not the microphone
    assert band_share(heard, rate, (BARESIP_HZ,)) > 0.1 and band_share(heard, rate, (SIPP_HZ,)) > 0.1
    assert band_share(heard, rate, (BARESIP_HZ, SIPP_HZ)) > 0.9
    assert band_share(heard, rate, (PHONE_HZ,)) < 0.01


def test_attended_transfer_of_baresip_to_sipp(tmp_path: Path) -> None:
    """The Phone talks with baresip (A), then with SIPp (B; A held), and connects them:
    REFER to baresip with Refer-To naming SIPp and Replaces naming B's dialog."""
    need("sipp")
    write_ulaw_tone(tmp_path / "audio.ul", SIPP_HZ)      # uas_answer.xml streams audio.ul
    bs = baresip_peer(tmp_path)

    async def run() -> tuple[str, str, str]:
        phone = local_phone()
        await phone.start()
        try:
            sipp = Sipp("uas_answer.xml", tmp_path, calls=2)   # the Phone's call, then baresip's
            a = await phone.call(bs.uri, audio=ToneAudio(PHONE_HZ))
            await a.wait_answered(10)
            b = await phone.call(f"sipp@127.0.0.1:{sipp.port}", audio=ToneAudio(PHONE_HZ))
            await b.wait_answered(10)
            assert a.state is CallState.HELD
            await a.transfer_to(b)          # returns once baresip reported SIPp's 200 (NOTIFY)
            assert (a.state, a.reason) == (CallState.ENDED, "transferred")
            assert b.state is CallState.ENDED and b.reason == "hung up"   # by the Phone, see above
            await asyncio.to_thread(established_with, bs, f"sip:sipp@127.0.0.1:{sipp.port}")
            await asyncio.sleep(1.5)                         # baresip and SIPp talk
            assert (await asyncio.to_thread(bs.command, "hangup")).get("ok")
            assert await asyncio.to_thread(sipp.wait) == 0, sipp.errors()
            return b.id, b.sip.local_tag, sipp.messages()
        finally:
            await phone.stop()

    try:
        call_id, our_tag, msgs = asyncio.run(run())
        at_bs, rate = heard_by(bs)           # baresip's call with SIPp
        log = bs.log_text()
    finally:
        bs.close()
    assert "menu: transferring call" in log and "Replaces=" in log
    # baresip's INVITE reached SIPp carrying the Replaces (in its Request-URI: baresip 1.0)
    invites = [m for m in msgs.split("\n\n") if m.lstrip().startswith("INVITE ") and "From: <sip:bob@" in m]
    assert len(invites) == 1, msgs[-3000:]
    request_line = invites[0].lstrip().splitlines()[0]
    assert "?Replaces=" + call_id.split("@")[0] in request_line and our_tag in request_line
    assert msgs.count("BYE sip:sipp@") == 2          # the Phone's call B, then baresip's
    assert band_share(at_bs[rate // 5:], rate, (SIPP_HZ,)) > 0.9   # the transferred parties talk


def test_a_refused_hold_leaves_the_call_talking(tmp_path: Path) -> None:
    """SIPp answers the hold re-INVITE with 488: hold() says so at once (CallError) and the
    call goes on with the Phone's audio (SIPp echoes it back: the Phone hears its tone)."""
    need("sipp")

    async def run() -> str:
        phone = local_phone()
        await phone.start()
        try:
            sipp = Sipp("uas_refuse_hold.xml", tmp_path, extra=["-rtp_echo"])
            call = await phone.call(f"sipp@127.0.0.1:{sipp.port}", audio=ToneAudio(PHONE_HZ))
            await call.wait_answered(10)
            await asyncio.sleep(0.3)
            with pytest.raises(CallError, match="hold failed: the far end answered 488") as failed:
                await call.hold()
            assert call.state is CallState.ACTIVE and not call.held
            await call.record(tmp_path / "echo.wav")
            await asyncio.sleep(1.0)
            await call.hangup()
            assert await asyncio.to_thread(sipp.wait) == 0, sipp.errors()
            return str(failed.value)
        finally:
            await phone.stop()

    assert asyncio.run(run()) == "hold failed: the far end answered 488"   # not the 10 s timeout
    pcm, rate = recorded(tmp_path / "echo.wav")
    assert band_share(pcm[rate // 4:], rate, (PHONE_HZ,)) > 0.9 and rms_db(pcm[rate // 4:]) > -30
