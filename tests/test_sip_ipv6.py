"""SIP and RTP over IPv6 on [::1]: two Phones (SDP c=IN IP6, tone measured), the CLI with IPv6
literal URIs (`offhook call sip:offhook@[::1]:PORT`), and SIPp listening on ::1."""
from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from offhook.media.speech import speech
from offhook.media.wav import write_wav
from offhook.phone import CallState, CallStateChanged, Phone, PhoneConfig, ToneAudio, ToneRecorder, WavAudio
from offhook.sip import parse_message
from offhook.sip.uri import SipURI, parse_uri
from phone_helpers import dominant_hz, recorded, rms_db
from sip_peers import Sipp, finish, finish_call, listening_port, need, offhook


@pytest.fixture(autouse=True)
def _ipv6_loopback() -> None:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback (::1) on this machine")


def free_port6() -> int:
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
        sock.bind(("::1", 0))
        return int(sock.getsockname()[1])


def test_two_phones_call_over_ipv6(tmp_path: Path) -> None:
    rec = tmp_path / "b.wav"

    async def run() -> tuple[bytes, str, object, str]:
        a = Phone(PhoneConfig(listen=("::1", 0)), audio=lambda: ToneAudio(1000), local_audio=ToneRecorder())
        b = Phone(PhoneConfig(listen=("::1", 0)), audio=lambda: WavAudio(record=rec),
                  local_audio=ToneRecorder())
        await a.start()
        await b.start()
        try:
            port = next(iter(b.lines.values())).agent.listen_address[1]
            call = await a.call(f"sip:offhook@[::1]:{port}")
            async with asyncio.timeout(5):
                while not (isinstance(ev := await b.next_event(), CallStateChanged)
                           and ev.state is CallState.INCOMING):
                    pass
            bc = ev.call
            assert bc.sip.invite is not None
            offer, contact = bc.sip.invite.body, str(bc.sip.invite.contacts[0].uri)
            await bc.answer()
            await call.wait_answered(5)
            await asyncio.sleep(1.0)
            latched = call.stats().get("latched")
            await call.hangup()
            await bc.wait_ended(5)
            return offer, contact, latched, bc.reason
        finally:
            await a.stop()
            await b.stop()

    offer, contact, latched, reason = asyncio.run(run())
    assert b"c=IN IP6 ::1\r\n" in offer and contact.startswith("sip:offhook@[::1]:")
    assert isinstance(latched, tuple) and latched[0] == "::1"    # RTP came over IPv6
    assert reason == "hung up by the far end"
    pcm, rate = recorded(rec)
    talk = pcm[int(0.3 * rate):int(1.0 * rate)]
    assert abs(dominant_hz(talk, rate) - 1000) < 5 and rms_db(talk) > -30


def test_ipv6_received_parameter_is_bare_and_parses() -> None:
    """RFC 3261's via-received is a bare IPv6address; brackets are accepted too (RFC 5118 §4.5)."""
    for received in ("2001:db8::9:1", "[2001:db8::9:1]"):
        msg = parse_message(f"OPTIONS sip:[2001:db8::10] SIP/2.0\r\n"
                            f"Via: SIP/2.0/UDP [2001:db8::9:1];branch=z9hG4bKas3;received={received}\r\n"
                            "From: <sip:a@[2001:db8::9:1]>;tag=1\r\nTo: <sip:b@[2001:db8::10]>\r\n"
                            "Call-ID: v6@x\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n".encode())
        assert msg.via[0].params["received"] == received
    uri = parse_uri("sip:bob@[::1]:5070")
    assert isinstance(uri, SipURI) and (uri.host_address, uri.port) == ("::1", 5070)


def test_cli_call_and_answer_with_ipv6_literals(tmp_path: Path) -> None:
    ref = speech(2.0, 16000)
    write_wav(tmp_path / "in.wav", ref, 16000)
    bob = offhook("answer", "--listen", "[::1]:0", "--auto", "--record", str(tmp_path / "rec.wav"),
                  cwd=tmp_path)
    port = listening_port(bob)
    alice = offhook("call", f"sip:offhook@[::1]:{port}", "--play", str(tmp_path / "in.wav"), cwd=tmp_path)
    assert finish_call(alice, bob, tmp_path / "rec.wav", ref) > 2.5


def test_offhook_calls_sipp_listening_on_ipv6(tmp_path: Path) -> None:
    need("sipp")
    (tmp_path / "audio.ul").write_bytes(b"\xff" * 8000)
    sipp = Sipp("uas_answer.xml", tmp_path, host="::1", port=free_port6(), media_port=free_port6())
    proc = offhook("call", f"sip:sipp@[::1]:{sipp.port}", "--duration", "0.5", cwd=tmp_path)
    code, err = finish(proc)
    assert sipp.wait() == 0, sipp.errors()
    assert code == 0, err
    log = sipp.messages()
    assert "Via: SIP/2.0/UDP [::1]:" in log and "c=IN IP6 ::1" in log
