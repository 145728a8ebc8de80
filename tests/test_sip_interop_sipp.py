"""offhook against SIPp (Debian sip-tester) on 127.0.0.1: scenarios in tests/data/sipp.

Each test starts SIPp on free ports for one call and stops it by pid; SIPp's exit
status 0 means its side of the scenario (including the checks it makes on our
messages) passed.
"""
from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

import offhook.engine as eng
from offhook.media.quality import pesq_score
from offhook.media.speech import speech
from offhook.media.wav import read_wav
from offhook.sip.agent import SipAgent
from offhook.sip.auth import Credentials, DigestClient
from sip_peers import Sipp, finish, listening_port, need, offhook

SECONDS = 3.0


@pytest.fixture(autouse=True)
def _sipp_installed() -> None:
    need("sipp")


def write_ulaw(workdir: Path) -> np.ndarray:
    """SIPp's audio: 3 s of speech as raw mu-law in workdir/audio.ul; returns the 8 kHz reference."""
    ref = speech(SECONDS, 8000)
    (workdir / "audio.ul").write_bytes(eng.codec("PCMU").encode(ref))
    return ref


def received_speech_pesq(recording: Path, ref8k: np.ndarray) -> float:
    """PESQ (narrowband) of what offhook recorded against the speech SIPp streamed."""
    rec = read_wav(recording)
    assert rec.sample_rate == 16000
    deg = eng.Resampler(16000, 8000).process(np.ascontiguousarray(rec.samples.ravel()))
    probe = ref8k[:4000].astype(np.float64)
    corr = np.correlate(deg.astype(np.float64), probe, "valid")
    lag = int(np.argmax(corr))
    return pesq_score(ref8k, deg[lag:lag + len(ref8k)], 8000)



def test_offhook_calls_sipp_and_records_its_audio(tmp_path: Path) -> None:
    ref = write_ulaw(tmp_path)
    sipp = Sipp("uas_answer.xml", tmp_path)
    rec = tmp_path / "rec.wav"
    proc = offhook("call", f"sip:sipp@127.0.0.1:{sipp.port}", "--record", str(rec),
                   "--duration", "3.6", "--audio", "null", cwd=tmp_path)
    code, err = finish(proc)
    assert code == 0, err
    assert sipp.wait() == 0, sipp.errors()
    assert received_speech_pesq(rec, ref) > 3.0
    assert "180 Ringing" in sipp.messages() and "BYE sip:sipp@" in sipp.messages()


def test_sipp_calls_offhook_answer_with_audio(tmp_path: Path) -> None:
    ref = write_ulaw(tmp_path)
    rec = tmp_path / "rec.wav"
    ans = offhook("answer", "--listen", "127.0.0.1:0", "--auto", "--record", str(rec), cwd=tmp_path)
    port = listening_port(ans)
    sipp = Sipp("uac_call.xml", tmp_path, remote=f"127.0.0.1:{port}")
    assert sipp.wait() == 0, sipp.errors()
    code, err = finish(ans)
    assert code == 0, err
    assert received_speech_pesq(rec, ref) > 3.0
    msgs = sipp.messages()
    assert "SIP/2.0 180 Ringing" in msgs and "a=rtpmap:0 PCMU/8000" in msgs


@pytest.mark.parametrize("password, ok", [("s3cret", True), ("wrong", False)])
def test_digest_challenge(tmp_path: Path, password: str, ok: bool) -> None:
    sipp = Sipp("uas_auth.xml", tmp_path)
    proc = offhook("call", f"sip:sipp@127.0.0.1:{sipp.port}", "--user", "alice", "--password", password,
                   "--duration", "0.3", cwd=tmp_path)
    code, err = finish(proc)
    assert sipp.wait() == 0, sipp.errors()
    if ok:
        assert code == 0, err
        assert 'Authorization: Digest username="alice"' in sipp.messages()
    else:
        assert code == 1
        assert err.strip() == f"offhook: authentication failed (401) at 127.0.0.1:{sipp.port}"
    assert password not in err


def received(log: str, start: str) -> int:
    """How many messages SIPp received that begin with `start`."""
    return sum(1 for block in log.split("message received")[1:]
               if block.split(":", 1)[1].lstrip().startswith(start))


def test_busy_after_a_lost_invite(tmp_path: Path) -> None:
    sipp = Sipp("uas_busy.xml", tmp_path)   # answers only after 1.2 s
    code, err = finish(offhook("call", f"sip:sipp@127.0.0.1:{sipp.port}", cwd=tmp_path))
    assert code == 1
    assert err.strip() == f"offhook: busy (486) at 127.0.0.1:{sipp.port}"
    assert sipp.wait() == 0, sipp.errors()   # SIPp got its ACK
    assert received(sipp.messages(), "INVITE sip:") >= 2   # Timer A retransmitted it


def test_cancel_before_answer(tmp_path: Path) -> None:
    sipp = Sipp("uas_cancel.xml", tmp_path)

    async def run() -> tuple[int | None, str]:
        agent = await SipAgent.start(("127.0.0.1", 0))
        try:
            call = agent.call(f"sip:sipp@127.0.0.1:{sipp.port}", agent.capabilities())
            while (await agent.next_event(call, 10)).kind != "progress":
                pass
            agent.hangup(call)
            await agent.wait_ended(call, 10)
            return call.status, call.reason
        finally:
            await agent.close()

    status, reason = asyncio.run(run())
    assert status == 487 and reason == f"cancelled (487) at 127.0.0.1:{sipp.port}"
    assert sipp.wait() == 0, sipp.errors()


def test_far_side_hold_and_resume(tmp_path: Path) -> None:
    ans = offhook("answer", "--listen", "127.0.0.1:0", "--auto", cwd=tmp_path)
    port = listening_port(ans)
    sipp = Sipp("uac_hold.xml", tmp_path, remote=f"127.0.0.1:{port}")
    assert sipp.wait() == 0, sipp.errors()   # SIPp checked a=recvonly, then a=sendrecv
    code, err = finish(ans)
    assert code == 0, err


def test_200_retransmitted_until_acked(tmp_path: Path) -> None:
    ans = offhook("answer", "--listen", "127.0.0.1:0", "--auto", cwd=tmp_path)
    port = listening_port(ans)
    sipp = Sipp("uac_retrans.xml", tmp_path, remote=f"127.0.0.1:{port}")
    assert sipp.wait() == 0, sipp.errors()
    code, err = finish(ans)
    assert code == 0, err
    assert received(sipp.messages(), "SIP/2.0 200 OK") >= 3   # first 200, >= 1 retransmission, BYE's



def test_offhook_sends_a_blind_transfer_to_sipp(tmp_path: Path) -> None:
    sipp = Sipp("uas_refer.xml", tmp_path)

    async def run() -> tuple[list[int | None], str, int | None]:
        agent = await SipAgent.start(("127.0.0.1", 0))
        try:
            call = agent.call(f"sip:sipp@127.0.0.1:{sipp.port}", agent.capabilities())
            while (await agent.next_event(call, 10)).kind != "answered":
                pass
            agent.transfer(call, "sip:carol@127.0.0.1:5999")
            statuses: list[int | None] = []
            while (event := await agent.next_event(call, 10)).kind != "ended":
                if event.kind == "transfer":
                    statuses.append(event.status)
            return statuses, call.reason, call.transfer_status
        finally:
            await agent.close()

    statuses, reason, final = asyncio.run(run())
    assert statuses == [202, 100, 200] and reason == "transferred" and final == 200
    assert sipp.wait() == 0, sipp.errors()   # SIPp checked Refer-To and got its BYE


def test_sipp_refers_offhook_to_a_third_party(tmp_path: Path) -> None:
    async def run() -> tuple[str, bool, int]:
        agent = await SipAgent.start(("127.0.0.1", 0))
        carol = await SipAgent.start(("127.0.0.1", 0))
        try:
            host, port = agent.transport.local["UDP"]
            carol_port = carol.transport.local["UDP"][1]
            sipp = Sipp("uac_refer.xml", tmp_path, remote=f"{host}:{port}",
                        extra=["-set", "carol_port", str(carol_port)])
            call = await agent.next_incoming(timeout=10)
            agent.answer(call)
            incoming = await carol.next_incoming(timeout=10)
            assert incoming.invite is not None
            referred_by = incoming.invite.get("Referred-By") or ""
            carol.answer(incoming)
            await agent.wait_ended(call, timeout=10)
            code = await asyncio.to_thread(sipp.wait)
            child = call.transfer_child
            assert child is not None
            await asyncio.sleep(0.2)
            ok = child.established and "sip:sipp@" in referred_by
            agent.hangup(child)
            await asyncio.sleep(0.1)
            return call.reason, ok, code
        finally:
            await agent.close()
            await carol.close()

    reason, ok, code = asyncio.run(run())
    assert code == 0 and reason == "transferred" and ok


def test_offhook_answer_follows_a_transfer(tmp_path: Path) -> None:
    """The CLI answers SIPp, is referred to carol, and the call with carol is the one that
    ends normally (exit 0)."""
    async def run() -> tuple[int, str, int]:
        carol = await SipAgent.start(("127.0.0.1", 0))
        try:
            ans = offhook("answer", "--listen", "127.0.0.1:0", "--auto", cwd=tmp_path)
            port = await asyncio.to_thread(listening_port, ans)
            sipp = Sipp("uac_refer.xml", tmp_path, remote=f"127.0.0.1:{port}",
                        extra=["-set", "carol_port", str(carol.transport.local["UDP"][1])])
            incoming = await carol.next_incoming(timeout=15)
            carol.answer(incoming)
            code = await asyncio.to_thread(sipp.wait)
            await asyncio.sleep(0.5)
            carol.hangup(incoming)
            rc, err = await asyncio.to_thread(finish, ans)
            return rc, err, code
        finally:
            await carol.close()

    rc, err, code = asyncio.run(run())
    assert code == 0 and rc == 0, err


def test_challenged_reinvite_and_bye_are_resent_with_credentials(tmp_path: Path) -> None:
    """A proxy-like SIPp challenges our re-INVITE (407, SHA-256 and MD5 offered: SHA-256 is
    answered) and our BYE (401, MD5): each is resent once with credentials and succeeds."""
    sipp = Sipp("uas_auth_indialog.xml", tmp_path)

    async def run() -> tuple[str | None, int, list[str]]:
        agent = await SipAgent.start(("127.0.0.1", 0), user="alice")
        agent.ua.auth = DigestClient(Credentials("alice", "s3cret"))
        try:
            call = agent.call(f"sip:sipp@127.0.0.1:{sipp.port}", agent.capabilities())
            kinds = []
            while (ev := await agent.next_event(call, 10)).kind != "answered":
                kinds.append(ev.kind)
            await agent.next_event(call, 5)          # media
            agent.hold(call)
            ev = await agent.next_event(call, 10)     # the re-INVITE's answer, after the 407
            kinds.append(ev.kind)
            direction = call.media.direction if call.media is not None else None
            agent.hangup(call)
            ended = await agent.next_event(call, 5)
            kinds.append(ended.kind)
            code = await asyncio.to_thread(sipp.wait, 15)
            return direction, code, kinds
        finally:
            await agent.close()

    direction, code, kinds = asyncio.run(run())
    assert code == 0, sipp.errors()
    assert direction == "sendonly" and kinds[-2:] == ["media", "ended"]
    log = sipp.messages()
    assert received(log, "BYE ") == 2 and received(log, "INVITE ") == 3
    assert "s3cret" not in log
