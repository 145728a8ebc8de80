"""Two offhook user agents register with Kamailio (digest auth) and call each other
through it (record-routed); a wrong password fails with a clear one-line reason."""
from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from offhook.media.quality import pesq_score
from offhook.media.speech import speech
from offhook.media.wav import read_wav, write_wav
from offhook.sip import Credentials, DigestClient, Registration, RegState, SipAgent, SipURI
from sip_peers import DATA, finish, free_port, listening_port, need, offhook, stop


@pytest.fixture
def kamailio(tmp_path: Path) -> Iterator[int]:
    binary = need("kamailio")
    port = free_port()
    cfg = tmp_path / "kamailio.cfg"
    cfg.write_text((DATA / "kamailio" / "kamailio.cfg").read_text().replace("@PORT@", str(port)))
    log = (tmp_path / "kamailio.log").open("w")
    proc = subprocess.Popen([binary, "-f", str(cfg), "-DD", "-E", "-m", "32", "-M", "8",
                             "-Y", str(tmp_path), "-w", str(tmp_path)],
                            cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    time.sleep(0.8)
    if proc.poll() is not None:
        log.close()
        pytest.fail(f"kamailio did not start: {(tmp_path / 'kamailio.log').read_text()[-2000:]}")
    yield port
    stop(proc)
    log.close()



def test_two_offhooks_register_and_call_through_kamailio(tmp_path: Path, kamailio: int) -> None:
    registrar = f"127.0.0.1:{kamailio}"
    ref = speech(3.0, 16000)
    write_wav(tmp_path / "in.wav", ref, 16000)
    bob = offhook("answer", "--listen", "127.0.0.1:0", "--auto", "--record", str(tmp_path / "rec.wav"),
                  "--user", "bob", "--password", "bobpw", "--registrar", registrar, cwd=tmp_path)
    listening_port(bob)   # printed once registered
    alice = offhook("call", f"sip:bob@{registrar}", "--user", "alice", "--password", "alicepw",
                    "--registrar", registrar, "--play", str(tmp_path / "in.wav"), cwd=tmp_path)
    code, err = finish(alice)
    assert code == 0, err
    code, err = finish(bob)
    assert code == 0, err
    rec = read_wav(tmp_path / "rec.wav").samples.ravel()
    lag = int(np.argmax(np.correlate(rec.astype(np.float64), ref[:8000].astype(np.float64), "valid")))
    assert pesq_score(ref, rec[lag:lag + len(ref)], 16000) > 2.5
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

