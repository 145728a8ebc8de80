"""Two offhook user agents register with Kamailio (digest auth) and call each other
through it (record-routed); a wrong password fails with a clear one-line reason."""
from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from offhook.media.speech import speech
from offhook.media.wav import write_wav
from offhook.sip import Credentials, DigestClient, Registration, RegState, SipAgent, SipURI
from sip_peers import (
    DATA,
    finish,
    finish_call,
    free_port,
    kamailio_registrar,
    listening_port,
    offhook,
    run_kamailio,
)
from tls_certs import make_ca, make_cert

KAMAILIO_MODULES = "/usr/lib/x86_64-linux-gnu/kamailio/modules"


@pytest.fixture
def kamailio(tmp_path: Path) -> Iterator[int]:
    yield from kamailio_registrar(tmp_path)


@pytest.fixture
def kamailio_tls(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """Kamailio with its tls module on a second port (certificate from a throwaway CA)."""
    if not Path(KAMAILIO_MODULES, "tls.so").exists():
        pytest.skip("Kamailio's tls module is not installed (Debian package: kamailio-tls-modules)")
    ca = make_ca(tmp_path / "pki")
    server = make_cert(tmp_path / "pki", "kamailio", ca)
    port, tls_port = free_port(), free_port()
    (tmp_path / "tls.cfg").write_text(
        "[server:default]\nmethod = TLSv1.2+\nverify_certificate = no\nrequire_certificate = no\n"
        f"private_key = {server.key}\ncertificate = {server.cert}\n\n"
        "[client:default]\nmethod = TLSv1.2+\nverify_certificate = no\nrequire_certificate = no\n")
    text = (DATA / "kamailio" / "kamailio.cfg").read_text().replace("@PORT@", str(port))
    text = text.replace("disable_tcp=yes\n", "enable_tls=yes\n")
    text = text.replace(f"listen=udp:127.0.0.1:{port}\n",
                        f"listen=udp:127.0.0.1:{port}\nlisten=tls:127.0.0.1:{tls_port}\n"
                        f'alias="127.0.0.1:{tls_port}"\n')
    text = text.replace('loadmodule "kex.so"\n', 'loadmodule "tls.so"\nloadmodule "kex.so"\n'
                        f'modparam("tls", "config", "{tmp_path / "tls.cfg"}")\n')
    cfg = tmp_path / "kamailio.cfg"
    cfg.write_text(text)
    for _ in run_kamailio(tmp_path, cfg, port):
        yield tls_port, ca.cert


def test_two_offhooks_register_and_call_through_kamailio(tmp_path: Path, kamailio: int) -> None:
    registrar = f"127.0.0.1:{kamailio}"
    ref = speech(3.0, 16000)
    write_wav(tmp_path / "in.wav", ref, 16000)
    bob = offhook("answer", "--listen", "127.0.0.1:0", "--auto", "--record", str(tmp_path / "rec.wav"),
                  "--user", "bob", "--password", "bobpw", "--registrar", registrar, cwd=tmp_path)
    listening_port(bob)   # printed once registered
    alice = offhook("call", f"sip:bob@{registrar}", "--user", "alice", "--password", "alicepw",
                    "--registrar", registrar, "--play", str(tmp_path / "in.wav"), cwd=tmp_path)
    assert finish_call(alice, bob, tmp_path / "rec.wav", ref) > 2.5
    # the ACK and BYE followed the Record-Route through the proxy
    log = (tmp_path / "kamailio.log").read_text(errors="replace")
    assert "in-dialog ACK loose-routed" in log and "in-dialog BYE loose-routed" in log


def test_registration_refreshes_before_expiry_and_unregisters(kamailio: int) -> None:
    async def run() -> tuple[list[int | None], RegState, RegState]:
        agent = await SipAgent.start(("127.0.0.1", 0), user="alice")
        aor = SipURI(host="127.0.0.1", user="alice", port=kamailio)
        reg = Registration(aor, ("127.0.0.1", kamailio), agent.ua.contact, expires=2,
                           auth=DigestClient(Credentials("alice", "alicepw")))
        granted = [(await agent.register(reg)).granted]
        for _ in range(2):   # two refreshes, each due 1 s after the last 200
            granted.append((await agent.wait_registration(reg, 5)).granted)
        registered = reg.state
        await agent.close()   # unregisters (Expires: 0) and waits for the 200
        return granted, registered, reg.state

    granted, registered, after = asyncio.run(run())
    assert granted == [2, 2, 2]
    assert registered is RegState.REGISTERED and after is RegState.UNREGISTERED


def test_wrong_password_is_a_clear_error(tmp_path: Path, kamailio: int) -> None:
    registrar = f"127.0.0.1:{kamailio}"
    proc = offhook("call", f"sip:bob@{registrar}", "--user", "alice", "--password", "not-it",
                   "--registrar", registrar, cwd=tmp_path)
    code, err = finish(proc)
    assert code == 1
    assert err.strip() == f"offhook: authentication failed (401) at {registrar}"
    assert "not-it" not in err


def test_calling_an_unregistered_user_is_not_found(tmp_path: Path, kamailio: int) -> None:
    registrar = f"127.0.0.1:{kamailio}"
    proc = offhook("call", f"sip:bob@{registrar}", "--user", "alice", "--password", "alicepw",
                   "--registrar", registrar, cwd=tmp_path)
    code, err = finish(proc)
    assert code == 1
    assert err.strip() == f"offhook: not found (404) at {registrar}"



def test_offhook_register_until_sigterm_then_unregisters(tmp_path: Path, kamailio: int) -> None:
    registrar = f"127.0.0.1:{kamailio}"
    proc = offhook("register", "--user", "alice", "--password", "alicepw", "--registrar", registrar,
                   "--expires", "2", cwd=tmp_path)
    assert proc.stdout is not None
    first = proc.stdout.readline().strip()
    refreshed = proc.stdout.readline().strip()      # due 1 s after the 200
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=10)
    assert first == f"registered as sip:alice@{registrar} (expires in 2 s)", err
    assert refreshed == f"refreshed sip:alice@{registrar} (expires in 2 s)"
    assert out.strip().splitlines()[-1] == "unregistered" and proc.returncode == 0, err
    assert "alicepw" not in out + err


def test_offhook_register_once_and_a_wrong_password(tmp_path: Path, kamailio: int) -> None:
    registrar = f"127.0.0.1:{kamailio}"
    proc = offhook("register", "--user", "bob", "--password", "bobpw", "--registrar", registrar,
                   "--once", cwd=tmp_path)
    out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert out.splitlines() == [f"registered as sip:bob@{registrar} (expires in 300 s)", "unregistered"]
    proc = offhook("register", "--user", "bob", "--password", "wrong-one", "--registrar", registrar,
                   "--transport", "tcp", "--once", cwd=tmp_path)
    out, err = proc.communicate(timeout=15)
    assert proc.returncode == 1 and out == ""
    # Kamailio here has TCP off: the refused connection is the one-line reason
    assert err.strip() == f"offhook: cannot connect over TCP to {registrar}: connection refused"
    proc = offhook("register", "--user", "bob", "--password", "wrong-one", "--registrar", registrar,
                   "--once", cwd=tmp_path)
    out, err = proc.communicate(timeout=15)
    assert proc.returncode == 1 and out == ""
    assert err.strip() == f"offhook: authentication failed (401) at {registrar}"
    assert "wrong-one" not in err


def test_offhook_register_over_tls_verifies_kamailio(tmp_path: Path, kamailio_tls: tuple[int, Path]) -> None:
    port, ca = kamailio_tls
    registrar = f"127.0.0.1:{port}"
    proc = offhook("register", "--user", "alice", "--password", "alicepw", "--registrar", registrar,
                   "--transport", "tls", "--tls-ca", str(ca), "--once", cwd=tmp_path)
    out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert out.splitlines() == [f"registered as sip:alice@{registrar} (expires in 300 s)", "unregistered"]
    # without the private CA the system store does not trust Kamailio's certificate
    proc = offhook("register", "--user", "alice", "--password", "alicepw", "--registrar", registrar,
                   "--transport", "tls", "--once", cwd=tmp_path)
    out, err = proc.communicate(timeout=15)
    assert proc.returncode == 1 and out == ""
    assert err.strip() == (f"offhook: cannot connect over TLS to {registrar}: "
                           "certificate verify failed: unable to get local issuer certificate")


def test_two_offhooks_call_through_kamailio_over_tls(tmp_path: Path, kamailio_tls: tuple[int, Path]) -> None:
    """Both accounts use transport tls (Kamailio's certificate checked against the test CA); Bob
    listens on TLS with his own certificate, so Kamailio can open the connection to his Contact."""
    port, ca = kamailio_tls
    registrar = f"127.0.0.1:{port}"
    bob_cert = make_cert(tmp_path / "pki", "bob", None)   # Kamailio does not verify clients here
    ref = speech(2.0, 16000)
    write_wav(tmp_path / "in.wav", ref, 16000)
    tls = ["--transport", "tls", "--tls-ca", str(ca)]
    bob = offhook("answer", "--listen", "127.0.0.1:0", "--auto", "--record", str(tmp_path / "rec.wav"),
                  "--user", "bob", "--password", "bobpw", "--registrar", registrar, *tls,
                  "--tls-cert", str(bob_cert.cert), "--tls-key", str(bob_cert.key), cwd=tmp_path)
    listening_port(bob)
    alice = offhook("call", f"sip:bob@{registrar}", "--user", "alice", "--password", "alicepw",
                    "--registrar", registrar, *tls, "--play", str(tmp_path / "in.wav"), cwd=tmp_path)
    assert finish_call(alice, bob, tmp_path / "rec.wav", ref) > 2.5
    log = (tmp_path / "kamailio.log").read_text(errors="replace")
    assert "in-dialog ACK loose-routed" in log and "in-dialog BYE loose-routed" in log
