"""SIP over TLS: two offhook Phones call each other over TLS with a throwaway CA (audio measured,
one connection carries the whole dialog), and certificates that must not be trusted are refused
with a one-line reason."""
from __future__ import annotations

import asyncio
import shutil
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest

from offhook.errors import DnsError
from offhook.phone import CallState, Phone, PhoneConfig, ToneAudio, ToneRecorder, WavAudio
from offhook.phone.config import ConfigError, parse_config
from offhook.sip.agent import SipAgent
from offhook.sip.resolve import RType, query
from offhook.sip.tls import TlsConfig, TlsError
from phone_helpers import dominant_hz, incoming, recorded, rms_db
from sip_peers import stop
from tls_certs import Cert, make_ca, make_cert


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Cert]:
    folder = tmp_path_factory.mktemp("pki")
    ca = make_ca(folder)
    return {"ca": ca, "server": make_cert(folder, "server", ca),
            "wrong_name": make_cert(folder, "wrong", ca, "DNS:wrong.example"),
            "self_signed": make_cert(folder, "self", None)}



def tls_port(phone: Phone) -> int:
    return next(iter(phone.lines.values())).agent.transport.local["TLS"][1]


def test_two_phones_call_over_tls_on_one_connection(tmp_path: Path, pki: dict[str, Cert]) -> None:
    rec = tmp_path / "b.wav"

    async def run() -> tuple[str, str, dict[str, int], dict[str, int]]:
        a = Phone(PhoneConfig(tls_ca=pki["ca"].cert), audio=lambda: ToneAudio(1000),
                  local_audio=ToneRecorder())
        b = Phone(PhoneConfig(tls_cert=pki["server"].cert, tls_key=pki["server"].key),
                  audio=lambda: WavAudio(record=rec), local_audio=ToneRecorder())
        await a.start()
        await b.start()
        try:
            port = tls_port(b)
            call = await a.call(f"sips:offhook@127.0.0.1:{port}")
            bc = (await incoming(b)).call
            invite = bc.sip.invite
            assert invite is not None
            await bc.answer()
            await call.wait_answered(5)
            await asyncio.sleep(1.0)
            await call.hold()                  # a re-INVITE from A
            await bc.wait(CallState.REMOTE_HELD, timeout=5)
            await call.resume()
            await bc.wait(CallState.ACTIVE, timeout=5)
            await bc.hangup()                  # the BYE goes from B to A's Contact
            await call.wait_ended(5)
            assert call.reason == "hung up by the far end"
            sa = next(iter(a.lines.values())).agent.transport.stats
            sb = next(iter(b.lines.values())).agent.transport.stats
            return (invite.via[0].transport, str(invite.contacts[0].uri), vars(sa), vars(sb))
        finally:
            await a.stop()
            await b.stop()

    via, contact, sa, sb = asyncio.run(run())
    assert via == "TLS" and contact.startswith("sips:offhook@127.0.0.1:") and "transport=tls" in contact
    # connection reuse: A dialled once, B accepted once and sent its BYE back over it
    assert (sa["connections_opened"], sa["connections_accepted"]) == (1, 0)
    assert (sb["connections_opened"], sb["connections_accepted"]) == (0, 1)
    pcm, rate = recorded(rec)
    talk = pcm[int(0.3 * rate):int(1.0 * rate)]
    assert abs(dominant_hz(talk, rate) - 1000) < 5 and rms_db(talk) > -30


@pytest.mark.parametrize(("which", "why"), [
    ("self_signed", "certificate verify failed: self-signed certificate"),
    ("wrong_name",
     "certificate verify failed: IP address mismatch, certificate is not valid for '127.0.0.1'."),
])
def test_an_untrusted_or_misnamed_server_certificate_fails_the_call(pki: dict[str, Cert], which: str,
                                                                    why: str) -> None:
    async def run() -> tuple[str, int | None, float]:
        server = await SipAgent.start(("127.0.0.1", 0), transports=("TLS",),
                                      tls=TlsConfig(cert=pki[which].cert, key=pki[which].key))
        a = Phone(PhoneConfig(tls_ca=pki["ca"].cert), local_audio=ToneRecorder())
        await a.start()
        try:
            loop = asyncio.get_running_loop()
            began = loop.time()
            call = await a.call(f"sips:bob@127.0.0.1:{server.listen_address[1]}")
            await call.wait_ended(5)
            assert not server.ua.calls   # nothing got through
            return call.reason, call.status, loop.time() - began
        finally:
            await a.stop()
            await server.close()

    reason, status, took = asyncio.run(run())
    assert reason.startswith("cannot connect over TLS to 127.0.0.1:")
    assert reason.endswith(why) and "\n" not in reason
    assert status == 503 and took < 5   # at once, not after a 32 s transaction timeout


def test_verification_is_on_unless_the_loudly_named_opt_out_is_set(pki: dict[str, Cert],
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    strict = TlsConfig().client_context()
    assert strict.verify_mode is ssl.CERT_REQUIRED and strict.check_hostname
    private = TlsConfig(ca=pki["ca"].cert).client_context()
    assert private.verify_mode is ssl.CERT_REQUIRED and private.check_hostname
    assert [c["subject"] for c in private.get_ca_certs()] == [((("commonName", "offhook test ca"),),)]
    with caplog.at_level("WARNING", logger="offhook.sip"):
        loose = TlsConfig(insecure_no_verify=True).client_context()
    assert loose.verify_mode is ssl.CERT_NONE and not loose.check_hostname
    assert "TLS certificate verification is OFF" in caplog.text


def test_tls_settings_errors(tmp_path: Path) -> None:
    with pytest.raises(TlsError, match="listening on TLS needs a certificate and its key"):
        TlsConfig().server_context()
    with pytest.raises(TlsError, match=r"cannot load the TLS CA file .*nope.pem"):
        TlsConfig(ca=tmp_path / "nope.pem").client_context()
    config = parse_config('[phone]\ntls_cert = "c.pem"\ntls_key = "k.pem"\ntls_ca = "/etc/ca.pem"\n'
                          "tls_insecure_no_verify = true\n", base=tmp_path)
    assert (config.tls_cert, config.tls_key) == (tmp_path / "c.pem", tmp_path / "k.pem")
    assert config.tls_ca == Path("/etc/ca.pem") and config.tls_insecure_no_verify
    assert not PhoneConfig().tls_insecure_no_verify
    with pytest.raises(ConfigError, match=r"phone\.tls_key: tls_cert and tls_key go together"):
        parse_config('[phone]\ntls_cert = "c.pem"\n')


def _dnsmasq(srv_port: int) -> tuple[subprocess.Popen[bytes], tuple[str, int]]:
    exe = shutil.which("dnsmasq")
    if exe is None:
        pytest.skip("dnsmasq is not installed (Debian package dnsmasq-base)")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    proc = subprocess.Popen([exe, "--no-daemon", f"--port={port}", "--listen-address=127.0.0.1",
                             "--bind-interfaces", "--no-resolv", "--no-hosts", "--pid-file=", "--user=root",
                             f"--srv-host=_sips._tcp.voip.test,edge.voip.test,{srv_port},1,0",
                             "--host-record=edge.voip.test,127.0.0.1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = ("127.0.0.1", port)
    deadline = time.monotonic() + 5
    while True:
        try:
            asyncio.run(query(server, "edge.voip.test", RType.A, 0.2))
            return proc, server
        except DnsError:
            if proc.poll() is not None or time.monotonic() > deadline:
                stop(proc)
                pytest.fail("dnsmasq did not start")


@pytest.mark.parametrize("san, ok", [("DNS:voip.test", True), ("DNS:edge.voip.test", False)])
def test_a_server_found_through_dns_is_checked_against_the_uri_domain(pki: dict[str, Cert], tmp_path: Path,
                                                                      san: str, ok: bool) -> None:
    """RFC 5922 §4: sips:bob@voip.test located by SRV at edge.voip.test (127.0.0.1) must present a
    certificate for voip.test — neither the address nor the SRV target name will do."""
    cert = make_cert(tmp_path, "voip", pki["ca"], san)

    async def start() -> SipAgent:
        return await SipAgent.start(("127.0.0.1", 0), transports=("TLS",),
                                    tls=TlsConfig(cert=cert.cert, key=cert.key))

    async def run(server: SipAgent, dns: tuple[str, int]) -> tuple[int, str]:
        client = await SipAgent.start(("127.0.0.1", 0), dns_server=dns, tls=TlsConfig(ca=pki["ca"].cert))
        try:
            call = await client.dial("sips:bob@voip.test", client.capabilities())
            if ok:
                incoming = await server.next_incoming(5)
                server.reject(incoming, 486)
            await client.wait_ended(call, 5)
            return call.status or 0, call.reason
        finally:
            await client.close()
            await server.close()

    loop = asyncio.new_event_loop()
    try:
        server = loop.run_until_complete(start())
        proc, dns = _dnsmasq(server.listen_address[1])
        try:
            status, reason = loop.run_until_complete(run(server, dns))
        finally:
            stop(proc)
    finally:
        loop.close()
    if ok:
        assert status == 486
    else:
        assert status == 503 and reason.endswith(
            "certificate verify failed: Hostname mismatch, certificate is not valid for 'voip.test'.")
