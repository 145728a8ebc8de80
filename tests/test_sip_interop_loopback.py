"""Two `offhook` CLIs on loopback, peer to peer: speech played by the caller reaches the
answerer's recording with PESQ well above 2."""
from __future__ import annotations

from pathlib import Path

import pytest

from offhook.media.quality import align, pesq_score
from offhook.media.speech import speech
from offhook.media.wav import read_wav, write_wav
from sip_peers import finish, listening_port, offhook, stop


@pytest.mark.parametrize("srtp", ["off", "required"])
def test_two_offhook_clis_on_loopback_carry_speech(tmp_path: Path, srtp: str) -> None:
    """Peer to peer, no registrar: `offhook answer --auto --record` + `offhook call --play`;
    with --srtp required both ends must agree SDES keys (RTP/SAVP) or the call fails."""
    ref = speech(4.0, 16000)
    write_wav(tmp_path / "in.wav", ref, 16000)
    bob = offhook("answer", "--listen", "127.0.0.1:0", "--auto", "--record", str(tmp_path / "rec.wav"),
                  "--srtp", srtp, cwd=tmp_path)
    port = listening_port(bob)
    code, err = finish(offhook("call", f"sip:bob@127.0.0.1:{port}", "--play", str(tmp_path / "in.wav"),
                               "--srtp", srtp, cwd=tmp_path))
    assert code == 0, err
    code, err = finish(bob)
    assert code == 0, err
    rec = read_wav(tmp_path / "rec.wav").samples.ravel()
    assert pesq_score(ref, align(ref, rec), 16000) > 2.5


def test_srtp_required_against_plain_rtp_fails_with_a_reason(tmp_path: Path) -> None:
    bob = offhook("answer", "--listen", "127.0.0.1:0", "--auto", "--srtp", "off", cwd=tmp_path)
    port = listening_port(bob)
    code, err = finish(offhook("call", f"sip:bob@127.0.0.1:{port}", "--srtp", "required",
                               "--duration", "1", cwd=tmp_path))
    stop(bob)       # it never saw a call it could take: the offer was refused in SIP
    assert code == 1 and "488" in err, err
