"""offhook.Phone with real SIP peers: Kamailio (registrar/proxy with digest auth) and SIPp."""
from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from offhook.phone import (
    AccountConfig,
    CallState,
    CallStateChanged,
    History,
    NullAudio,
    Phone,
    PhoneConfig,
    PolicyConfig,
    RegistrationChanged,
    ToneAudio,
    ToneRecorder,
    WavAudio,
)
from phone_helpers import band_share, dominant_hz, recorded
from sip_peers import Sipp, kamailio_registrar, need
from test_sip_interop_sipp import received_speech_pesq, write_ulaw


@pytest.fixture
def kamailio(tmp_path: Path) -> Iterator[int]:
    yield from kamailio_registrar(tmp_path)

def _account(user: str, password: str, port: int) -> AccountConfig:
    return AccountConfig(user=user, password=password, registrar=("127.0.0.1", port),
                         listen=("127.0.0.1", 0), name=user)


def test_phones_register_with_kamailio_and_call_by_name(tmp_path: Path, kamailio: int) -> None:
    async def run() -> list[RegistrationChanged]:
        rec = tmp_path / "bob.wav"
        alice = Phone(PhoneConfig(accounts=(_account("alice", "alicepw", kamailio),),
                                  speed_dial={"7": "bob"}),
                      audio=lambda: ToneAudio(1200))
        (tmp_path / "book.vcf").write_text(
            "BEGIN:VCARD\nVERSION:4.0\nFN:Alice Example\nTEL:alice\nEND:VCARD\n")
        bob = Phone(PhoneConfig(accounts=(_account("bob", "bobpw", kamailio),),
                                policy=PolicyConfig(auto_answer=True), contacts=(tmp_path / "book.vcf",)),
                    audio=lambda: WavAudio(record=rec))
        wrong = Phone(PhoneConfig(accounts=(_account("carol", "nope", kamailio),)))
        seen: list[RegistrationChanged] = []
        alice.add_listener(lambda e: seen.append(e) if isinstance(e, RegistrationChanged) else None)
        await alice.start()
        await bob.start()
        await wrong.start()
        try:
            assert alice.registration_state("alice") == ("registered", "")
            state, reason = wrong.registration_state("carol")
            assert state == "failed" and reason == f"authentication failed (401) at 127.0.0.1:{kamailio}"
            call = await alice.call("7")                 # speed dial -> "bob" -> sip:bob@registrar
            assert call.remote_uri == f"sip:bob@127.0.0.1:{kamailio}"
            await call.wait_answered(10)
            ev = bob.calls[0]
            assert ev.remote_uri == f"sip:alice@127.0.0.1:{kamailio}"
            assert ev.remote_name == "Alice Example"      # caller ID from the contacts file
            await asyncio.sleep(1.2)
            await call.hangup()
            await bob.calls[0].wait_ended(5)
        finally:
            await alice.stop()
            await bob.stop()
            await wrong.stop()
        pcm, rate = recorded(rec)
        assert abs(dominant_hz(pcm[rate // 4:], rate) - 1200) < 5
        return seen

    seen = asyncio.run(run())
    assert [e.state for e in seen] == ["registering", "registered", "unregistered"]
    log = (tmp_path / "kamailio.log").read_text(errors="replace")
    assert "in-dialog BYE loose-routed" in log


def test_sipp_calls_the_phone_with_speech(tmp_path: Path) -> None:
    need("sipp")
    ref = write_ulaw(tmp_path)
    rec = tmp_path / "rec.wav"

    async def run() -> CallStateChanged:
        phone = Phone(PhoneConfig(listen=("127.0.0.1", 0), policy=PolicyConfig(auto_answer=True)),
                      audio=lambda: WavAudio(record=rec))
        await phone.start()
        try:
            host, port = phone.lines["local"].agent.transport.local["UDP"]
            sipp = Sipp("uac_call.xml", tmp_path, remote=f"{host}:{port}")
            first = await phone.next_event(5)
            assert isinstance(first, CallStateChanged)
            await first.call.wait_ended(30)
            assert await asyncio.to_thread(sipp.wait) == 0, sipp.errors()
            return first
        finally:
            await phone.stop()

    first = asyncio.run(run())
    assert first.state is CallState.INCOMING and first.call.remote_uri.startswith("sip:sipp@")
    assert first.call.reason == "hung up by the far end"
    assert received_speech_pesq(rec, ref) > 3.0


def test_sipp_busy_plays_the_busy_tone(tmp_path: Path) -> None:
    need("sipp")

    async def run() -> ToneRecorder:
        local = ToneRecorder()
        phone = Phone(PhoneConfig(), audio=NullAudio, local_audio=local,
                      history=History.open(tmp_path / "h.sqlite"))
        await phone.start()
        try:
            sipp = Sipp("uas_busy.xml", tmp_path)
            call = await phone.call(f"sipp@127.0.0.1:{sipp.port}")
            await call.wait_ended(10)
            assert call.reason == f"busy (486) at 127.0.0.1:{sipp.port}"
            await asyncio.sleep(0.5)
            assert local.current_tone == "busy"
            assert phone.history is not None and phone.history.entries()[0].result == "busy"
            assert await asyncio.to_thread(sipp.wait) == 0, sipp.errors()
        finally:
            await phone.stop()
        return local

    local = asyncio.run(run())
    busy = local.samples("busy")
    assert len(busy) >= 4000 and band_share(busy[:4000], 8000, (480, 620)) > 0.95
