"""The web handset without a browser: authentication and origin checks over real HTTP, the
JSON protocol over a real WebSocket, driving a Phone that calls other Phones on loopback."""
from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
import pytest

from offhook.cti import CsvSourceConfig, CtiConfig, CtiService
from offhook.dialer.campaign import Outcome
from offhook.dialer.store import AttemptResult, CampaignStore
from offhook.phone import (
    AccountConfig,
    CallState,
    DtmfReceived,
    Phone,
    PhoneConfig,
    PolicyConfig,
    ToneAudio,
    WavAudio,
)
from offhook.web import AudioSettings, WebConfigError, check_listen, mos_bars
from offhook.web.auth import cookie_value, host_allowed, origin_allowed, token_matches
from offhook.web.cli import read_token
from offhook.web.handset import volume_db
from offhook.web.server import STATIC_DIR
from phone_helpers import dominant_hz, phones, recorded, rms_db, uri_of
from web_helpers import CUSTOMERS, WebPhone, web_phone, ws_client


def test_auth_helpers() -> None:
    assert token_matches("abc", "abc") and not token_matches("abc", "abd")
    assert not token_matches("abc", None) and not token_matches("abc", "") and not token_matches("abc", "äbc")
    assert cookie_value("t1") != cookie_value("t2") and "t1" not in cookie_value("t1")
    assert host_allowed("127.0.0.1:8080", "127.0.0.1") and host_allowed("localhost:8080", "127.0.0.1")
    assert host_allowed("[::1]:8080", "::1")
    assert not host_allowed("evil.example:8080", "127.0.0.1") and not host_allowed(None, "127.0.0.1")
    assert host_allowed("phone.lan:8080", "0.0.0.0")           # a LAN address: the token guards it
    assert origin_allowed("http://127.0.0.1:8080", "127.0.0.1:8080", "http")
    assert not origin_allowed("http://evil.example", "127.0.0.1:8080", "http")
    assert not origin_allowed("https://127.0.0.1:8080", "127.0.0.1:8080", "http")
    assert not origin_allowed(None, "127.0.0.1:8080", "http") and not origin_allowed("null", "x", "http")
    assert origin_allowed("https://crm.example", "127.0.0.1:8080", "http", frozenset({"https://crm.example"}))
    assert [mos_bars(m) for m in (1.0, 2.7, 3.3, 3.8, 4.1, 4.4)] == [0, 1, 2, 3, 4, 5]


def test_listen_and_token_configuration(tmp_path: Path) -> None:
    check_listen("127.0.0.1", token_configured=False)
    check_listen("::1", token_configured=False)
    check_listen("0.0.0.0", token_configured=True)
    with pytest.raises(WebConfigError, match=r"refusing to listen on 0\.0\.0\.0: other machines could reach"):
        check_listen("0.0.0.0", token_configured=False)
    assert read_token(None, {}) is None
    assert read_token(None, {"OFFHOOK_WEB_TOKEN": " 0123456789abcdef "}) == "0123456789abcdef"
    with pytest.raises(WebConfigError, match="at least 16 printable ASCII"):
        read_token(None, {"OFFHOOK_WEB_TOKEN": "short"})
    f = tmp_path / "token"
    f.write_text("a-token-from-a-file-1234\n")
    assert read_token(str(f), {}) == "a-token-from-a-file-1234"
    with pytest.raises(WebConfigError, match="--token-file: cannot read"):
        read_token(str(tmp_path / "missing"), {})


def test_cli_refuses_a_public_listen_address_without_a_token(capsys: pytest.CaptureFixture[str],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from offhook.cli.main import main
    monkeypatch.delenv("OFFHOOK_WEB_TOKEN", raising=False)
    assert main(["web", "--listen", "0.0.0.0:8080"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("offhook web: refusing to listen on 0.0.0.0") and "OFFHOOK_WEB_TOKEN" in err


def test_static_assets_are_package_files() -> None:
    names = {p.name for p in STATIC_DIR.iterdir()}
    assert {"index.html", "offhook-phone.js", "handset.css", "page.js", "supervisor.html",
            "supervisor.js"} <= names
    for p in STATIC_DIR.iterdir():   # no CDN, nothing fetched from elsewhere
        text = p.read_text(encoding="utf-8")
        assert "//cdn" not in text and "https://unpkg" not in text and "googleapis" not in text, p.name


def test_http_authentication_origin_and_host_checks(tmp_path: Path) -> None:
    async def run() -> None:
        async with web_phone(tmp_path) as web:
            await check(web)

    async def check(web: WebPhone) -> None:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as s:  # IP cookies
            base, token = web.origin, web.server.token
            async with s.get(base + "/") as r:
                assert r.status == 401 and "needs its token" in await r.text()
            async with s.get(base + "/?token=wrong-" + token) as r:
                assert r.status == 401 and not r.cookies
            async with s.get(base + "/api/state") as r:
                assert r.status == 401 and (await r.json())["error"] == "the handset's token is required"
            async with s.get(base + "/static/offhook-phone.js") as r:    # assets are public, no secrets
                assert r.status == 200 and "javascript" in r.headers["Content-Type"]
                assert "customElements.define(\"offhook-phone\"" in await r.text()
            async with s.get(base + "/", headers={"Host": "evil.example"}) as r:
                assert r.status == 421                                    # DNS rebinding
            async with s.get(base + "/?token=" + token) as r:
                assert r.status == 200 and "<offhook-phone" in await r.text()
                cookie = r.headers["Set-Cookie"]
                assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and token not in cookie
                csp = r.headers["Content-Security-Policy"]
                assert "frame-ancestors 'self'" in csp and "script-src 'self';" in csp
                assert r.headers["Referrer-Policy"] == "no-referrer"
            async with s.get(base + "/api/state") as r:                   # the cookie logs in now
                assert r.status == 200 and (await r.json())["type"] == "hello"
            async with s.get(base + "/supervisor") as r:
                assert r.status == 200 and "supervisor.js" in await r.text()
            # POSTs: the cookie alone is not enough without the handset's own Origin (CSRF)
            for origin in (None, "http://evil.example"):
                headers = {"Origin": origin} if origin else {}
                async with s.post(base + "/api/command", json={"cmd": "dnd", "on": True},
                                  headers=headers) as r:
                    assert r.status == 403 and not web.phone.policy.dnd
            async with s.post(base + "/api/command", json={"cmd": "dnd", "on": True},
                              headers={"Origin": base}) as r:
                assert r.status == 200 and web.phone.policy.dnd
            # the WebSocket: refused before the upgrade for a foreign origin, cookie or not
            for origin in ("http://evil.example", None):
                with pytest.raises(aiohttp.WSServerHandshakeError) as err:
                    await s.ws_connect(base + "/ws", origin=origin)
                assert err.value.status == 403
            async with s.ws_connect(base + "/ws", origin=base) as ws:     # cookie: hello at once
                assert (await ws.receive_json(timeout=5))["type"] == "hello"
        async with aiohttp.ClientSession() as s:                          # no cookie: bearer and auth message
            headers = {"Authorization": "Bearer " + token}
            async with s.post(base + "/api/command", json={"cmd": "dnd", "on": False}, headers=headers) as r:
                assert r.status == 200 and (await r.json())["dnd"] is False
            async with s.post(base + "/api/command", json={"cmd": "hold"}, headers=headers) as r:
                assert r.status == 422 and (await r.json())["error"] == "no call"
            async with s.ws_connect(base + "/ws", origin=base) as ws:
                await ws.send_json({"type": "auth", "token": token[:-1]})
                msg = await ws.receive_json(timeout=5)
                assert msg == {"type": "error", "error": "authentication failed: wrong or missing token"}
                closed = await ws.receive(timeout=5)
                assert closed.type is aiohttp.WSMsgType.CLOSE and closed.data == 4401

    asyncio.run(run())


def test_commands_drive_a_call_with_live_events(tmp_path: Path) -> None:
    """Dial from the web handset to a phone that answers after ringing; hold, resume, mute,
    DTMF, quality events, hang up, history; the far end measures the handset's tone."""
    async def run() -> None:
        rec = tmp_path / "far.wav"
        far_policy = PolicyConfig(auto_answer=True, auto_answer_after=0.8)
        async with phones((lambda: WavAudio(record=rec), far_policy)) as (b,), \
                web_phone(tmp_path, audio=lambda: ToneAudio(700), speed_dial={"7": uri_of(b)}) as web, \
                ws_client(web) as ws:
            bad = await ws.command("launch")
            assert not bad["ok"] and bad["error"].startswith("unknown command 'launch'; known: answer,")
            assert (await ws.command("dial"))["error"] == "'target' must be a non-empty string"
            dialled = await ws.command("dial", target="7")                # the speed-dial key
            assert dialled["ok"]
            call_id = dialled["call"]
            m = await ws.wait(lambda m: m["type"] == "call" and m["id"] == call_id and m["state"] == "active")
            states = [e["state"] for e in ws.seen if e["type"] == "call" and e["id"] == call_id]
            assert states[0] == "dialing" and "ringing" in states and m["remote_uri"] == uri_of(b)
            q = await ws.wait(lambda m: m["type"] == "quality" and m["call"] == call_id)
            assert q["mos"] > 4.0 and q["bars"] >= 4 and q["loss_percent"] == 0.0
            far = b.calls[-1]
            assert (await ws.command("hold", call=call_id))["ok"]
            await far.wait(CallState.REMOTE_HELD, timeout=5)
            resumed = await ws.command("resume")                           # the held call by default
            assert resumed["ok"] and resumed["call"] == call_id
            await far.wait(CallState.ACTIVE, timeout=5)
            muted = await ws.command("mute", call=call_id, on=True)
            assert muted["muted"] is True and web.phone.calls[-1].muted
            assert (await ws.command("mute", call=call_id, on=False))["muted"] is False
            assert (await ws.command("dtmf", digits="9z"))["error"] == \
                "DTMF digits are 0-9, *, # and A-D, not '9z'"
            assert (await ws.command("dtmf", digits="4#"))["ok"]
            got = ""
            async with asyncio.timeout(5):
                while len(got) < 2:
                    ev = await b.next_event()
                    if isinstance(ev, DtmfReceived):
                        got += ev.digit
            assert got == "4#"
            assert (await ws.command("hold", call="nope"))["error"] == "no call with id 'nope'"
            assert (await ws.command("conference"))["ok"] is False           # the phone has no bridge yet
            await asyncio.sleep(0.5)
            assert (await ws.command("hangup"))["ok"]
            hist = await ws.wait(lambda m: m["type"] == "history")
            top = hist["entries"][0]
            assert (top["direction"], top["result"], top["party"]) == ("out", "answered", uri_of(b))
            await far.wait_ended(5)
            assert far.reason == "hung up by the far end"
        pcm, rate = recorded(rec)
        talk = pcm[int(0.2 * rate):int(1.0 * rate)]                       # before the hold
        assert abs(dominant_hz(talk, rate) - 700) < 5 and rms_db(talk) > -30

    asyncio.run(run())


def test_screen_pop_for_a_caller_in_the_directory_then_reject(tmp_path: Path) -> None:
    async def run() -> None:
        csv = tmp_path / "customers.csv"
        csv.write_text(CUSTOMERS, encoding="utf-8")
        cti = CtiService.from_config(CtiConfig(default_country="GB", directory=(CsvSourceConfig(csv),)))
        caller = Phone(PhoneConfig(accounts=(AccountConfig(user="+442079460018", listen=("127.0.0.1", 0)),)))
        await caller.start()
        try:
            async with web_phone(tmp_path, cti=cti) as web, ws_client(web) as ws:
                out = await caller.call(uri_of(web.phone))
                ring = await ws.wait(lambda m: m["type"] == "call" and m["state"] == "incoming")
                pop = await ws.wait(lambda m: m["type"] == "screen_pop" and m["lookup"] == "found")
                assert pop["call_id"] == ring["id"] and pop["number"] == "+442079460018"
                assert pop["card"]["name"] == "Ada Lovelace" and pop["card"]["account_id"] == "A-1815"
                assert web.phone.calls[-1].state is CallState.INCOMING          # before anyone answered
                rejected = await ws.command("reject", status=486)
                assert rejected["ok"] and rejected["call"] == ring["id"]
                await out.wait_ended(5)
                assert out.status == 486
                bearer = {"Authorization": "Bearer " + web.server.token}
                async with aiohttp.ClientSession() as s, s.get(web.origin + "/api/state",
                                                               headers=bearer) as r:
                    state = await r.json()
                assert state["history"][0]["result"] == "rejected"
        finally:
            await caller.stop()

    asyncio.run(run())


def test_supervisor_report_with_and_without_a_store(tmp_path: Path) -> None:
    async def run() -> None:
        async with web_phone(tmp_path) as web, ws_client(web) as ws:
            rep = (await ws.command("report"))["report"]
            assert rep["configured"] is False and "--campaign-db" in rep["message"]
        db = tmp_path / "campaign.sqlite"
        now = time.time()
        with CampaignStore(db) as store:
            for i, outcome in enumerate([Outcome.ANSWERED_HUMAN, Outcome.ANSWERED_HUMAN, Outcome.NO_ANSWER,
                                         Outcome.ABANDONED]):
                live = outcome in (Outcome.ANSWERED_HUMAN, Outcome.ABANDONED)
                store.record_inbound(f"+4420794600{i:02d}", AttemptResult(
                    outcome, ended=now - 100 + i, answered=now - 150 if live else None,
                    connected=now - 140 if outcome is Outcome.ANSWERED_HUMAN else None,
                    agent="agent1", wait=3.0 if live else None,
                    talk=40.0 if outcome is Outcome.ANSWERED_HUMAN else None, mos=4.2), started=now - 160)
        async with web_phone(tmp_path, campaign_db=db) as web, ws_client(web) as ws:
            sub = await ws.command("subscribe_report")
            overall = sub["report"]["report"]["overall"]
            assert sub["report"]["configured"] and overall["calls"] == 4 and overall["abandoned"] == 1
            assert "<svg" in sub["report"]["charts"]["outcome-mix"]
            pushed = await ws.wait(lambda m: m["type"] == "report", timeout=5)     # the live refresh
            assert pushed["report"]["overall"]["calls"] == 4

    asyncio.run(run())


def test_second_call_swap_and_attended_transfer(tmp_path: Path) -> None:
    """Two calls from the handset: the first goes on hold, swap brings it back, then the
    attended transfer connects the two far ends, which hear each other (tone measured at C)."""
    async def run() -> None:
        rec = tmp_path / "c.wav"
        auto = PolicyConfig(auto_answer=True)
        async with phones((lambda: ToneAudio(800), auto), (lambda: WavAudio(record=rec), auto)) as (b, c), \
                web_phone(tmp_path) as web, ws_client(web) as ws:
            first = (await ws.command("dial", target=uri_of(b)))["call"]
            await ws.wait(lambda m: m["type"] == "call" and m["id"] == first and m["state"] == "active")
            second = (await ws.command("dial", target=uri_of(c)))["call"]
            await ws.wait(lambda m: m["type"] == "call" and m["id"] == second and m["state"] == "active")
            assert {c_.id: c_.state for c_ in web.phone.live_calls} == {first: CallState.HELD,
                                                                        second: CallState.ACTIVE}
            swapped = await ws.command("swap")
            assert swapped["ok"] and swapped["call"] == first
            assert {c_.id: c_.state for c_ in web.phone.live_calls} == {first: CallState.ACTIVE,
                                                                        second: CallState.HELD}
            attended = await ws.command("attended_transfer", call=second)     # `to`: the only other call
            assert attended["ok"] and attended["to"] == first
            await ws.wait(lambda m: m["type"] == "call" and m["id"] == first and m["state"] == "ended")
            assert not web.phone.live_calls
            # C was told to call B, replacing B's call with the handset
            bc = next(call for call in b.calls if call.replaces is not None)
            assert bc.state is CallState.ACTIVE and bc.remote_uri.startswith("sip:offhook@127.0.0.1")
            await asyncio.sleep(1.0)
            await bc.hangup()
        pcm, rate = recorded(rec)                  # C's file restarts with its call to B: B's 800 Hz
        tail = pcm[-int(0.6 * rate):]
        assert abs(dominant_hz(tail, rate) - 800) < 5 and rms_db(tail) > -30

    asyncio.run(run())


def test_offhook_web_command_serves_the_handset(tmp_path: Path) -> None:
    import os
    import re
    import subprocess
    import sys

    token = "configured-token-0123456789"
    env = {**os.environ, "HOME": str(tmp_path), "OFFHOOK_WEB_TOKEN": token}
    proc = subprocess.Popen([sys.executable, "-m", "offhook.cli.main", "web", "--listen", "127.0.0.1:0",
                             "--sip-listen", "127.0.0.1:0"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(2)]
        assert lines[0].startswith("offhook web: SIP local on 127.0.0.1:")
        found = re.match(r"offhook web: open (http://127\.0\.0\.1:\d+/)\?token=<your token>", lines[1])
        assert found, lines                                   # a configured token is never printed
        url = found.group(1)

        async def probe() -> tuple[int, int, dict[str, object]]:
            async with aiohttp.ClientSession() as s:
                async with s.get(url) as r:
                    refused = r.status
                async with s.get(url + "?token=" + token) as r:
                    page = r.status
                async with s.get(url + "api/state", headers={"Authorization": "Bearer " + token}) as r:
                    return refused, page, await r.json()
        refused, page, state = asyncio.run(probe())
        assert (refused, page) == (401, 200)
        assert state["accounts"] == [{"account": "local", "state": "peer-to-peer", "reason": "",
                                      "address": lines[0].split(" on ")[1].strip(), "transport": "udp"}]
    finally:
        proc.terminate()
        assert proc.wait(10) == 0


def test_volume_and_device_choice(tmp_path: Path) -> None:
    devices = [{"name": "Jabra Evolve 40 (USB)", "input": True, "output": True, "default_input": False,
                "default_output": False, "headset": True},
               {"name": "Speakers", "input": False, "output": True, "default_input": False,
                "default_output": True, "headset": False}]
    applied: list[tuple[str, str, int]] = []

    async def apply(settings: AudioSettings) -> None:
        applied.append((settings.capture, settings.playback, settings.volume))

    async def run() -> None:
        async with web_phone(tmp_path) as web:
            web.handset.list_devices = lambda: devices
            web.handset.apply_audio = apply
            async with ws_client(web) as ws:
                assert (await ws.command("devices"))["devices"] == devices
                assert (await ws.command("volume", level=150))["error"] == \
                    "'level' must be a whole percentage 0-100, not 150"
                assert (await ws.command("volume", level=35))["audio"]["volume"] == 35
                settings = await ws.wait(lambda m: m["type"] == "settings")
                assert settings["audio"]["volume"] == 35
                bad = await ws.command("select_device", kind="capture", name="Speakers")
                assert bad["error"] == "no capture device called 'Speakers' (devices: Jabra Evolve 40 (USB))"
                ok = await ws.command("select_device", kind="playback", name="Jabra Evolve 40 (USB)")
                assert ok["audio"]["playback"] == "Jabra Evolve 40 (USB)"
                assert applied == [("", "", 35), ("", "Jabra Evolve 40 (USB)", 35)]

    asyncio.run(run())


def test_tls_only_account_shows_its_tls_address(tmp_path: Path) -> None:
    """An account on TLS alone has no UDP socket: the handset (and `offhook web`, the console)
    show the address it really listens on, and that address answers a TLS handshake."""
    import ssl

    from offhook.web import Handset
    from tls_certs import make_ca, make_cert

    ca = make_ca(tmp_path / "pki")
    cert = make_cert(tmp_path / "pki", "phone", ca)
    config = PhoneConfig(accounts=(AccountConfig(user="alice", transport="tls", listen=("127.0.0.1", 0),
                                                 name="secure"),),
                         tls_cert=cert.cert, tls_key=cert.key, tls_ca=ca.cert)

    async def run() -> None:
        phone = Phone(config)
        await phone.start()
        try:
            line = phone.lines["secure"]
            assert "UDP" not in line.agent.transport.local
            tls_host, tls_port = line.agent.transport.local["TLS"]
            accounts = Handset(phone).hello()["accounts"]
            assert accounts == [{"account": "secure", "state": "peer-to-peer", "reason": "",
                                 "address": f"127.0.0.1:{tls_port}", "transport": "tls"}]
            context = ssl.create_default_context(cafile=str(ca.cert))
            _, writer = await asyncio.open_connection(tls_host, tls_port, ssl=context,
                                                      server_hostname="127.0.0.1")
            assert writer.get_extra_info("ssl_object").version() in ("TLSv1.2", "TLSv1.3")
            writer.close()
        finally:
            await phone.stop()

    asyncio.run(run())


def test_volume_and_devices_act_on_the_phone_itself(tmp_path: Path) -> None:
    """Without an apply_audio of the application's, the handset sets the phone's engine gains
    (the playback and microphone volume, in dB from the slider's percent) and switches its
    devices; a phone without sound devices says so instead of pretending."""
    async def run() -> None:
        async with web_phone(tmp_path) as web:
            web.handset.list_devices = lambda: [{"name": "Speakers", "input": True, "output": True}]
            engine = web.phone.engine
            assert engine is not None
            async with ws_client(web) as ws:
                assert (await ws.command("volume", level=40, microphone=100))["ok"]
                local = engine.stats()["local"]
                assert local["playback_gain"] == pytest.approx(10 ** (volume_db(40) / 20), abs=1e-4)
                assert local["capture_gain"] == pytest.approx(10 ** (volume_db(100) / 20), abs=1e-4)
                assert volume_db(40) == pytest.approx(-12.04, abs=0.01) and volume_db(80) == 0.0
                assert web.phone.volume == (volume_db(40), volume_db(100))
                assert (await ws.command("volume", level=0))["audio"]["volume"] == 0
                assert engine.stats()["local"]["playback_gain"] == 0.0    # 0 %: silence
                assert (await ws.command("volume"))["error"] == \
                    "give 'level' (the volume) or 'microphone', a whole percentage 0-100"
                assert (await ws.command("volume", microphone=-1))["error"] == \
                    "'microphone' must be a whole percentage 0-100, not -1"
                bad = await ws.command("select_device", kind="capture", name="Speakers")
                assert bad["error"] == ("cannot use 'Speakers' as the capture device: this phone has no "
                                        "capture device to switch ([audio] capture is null)")
                assert web.handset.audio.capture == ""      # the choice was not kept
                ring = await ws.command("select_device", kind="ringer", name="Speakers")
                assert ring["error"].startswith("cannot use 'Speakers' as the ringer device: this phone's "
                                                "tones do not go to a sound device")
                state = (await ws.command("state"))["state"]
                assert state["audio"]["note"].startswith("this phone has no sound devices")
                assert (await ws.command("select_device", kind="speaker", name=""))["error"] == \
                    "'kind' must be 'capture', 'playback' or 'ringer'"

    asyncio.run(run())
