"""Two `offhook` CLIs on loopback, peer to peer: speech played by the caller reaches the
answerer's recording with PESQ well above 2."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from offhook.media.quality import pesq_score
from offhook.media.speech import speech
from offhook.media.wav import read_wav, write_wav
from sip_peers import finish, listening_port, offhook


def test_two_offhook_clis_on_loopback_carry_speech(tmp_path: Path) -> None:
    """Peer to peer, no registrar: `offhook answer --auto --record` + `offhook call --play`."""
    ref = speech(4.0, 16000)
    write_wav(tmp_path / "in.wav", ref, 16000)
    bob = offhook("answer", "--listen", "127.0.0.1:0", "--auto", "--record", str(tmp_path / "rec.wav"),
                  cwd=tmp_path)
    port = listening_port(bob)
    code, err = finish(offhook("call", f"sip:bob@127.0.0.1:{port}", "--play", str(tmp_path / "in.wav"),
                               cwd=tmp_path))
    assert code == 0, err
    code, err = finish(bob)
    assert code == 0, err
    rec = read_wav(tmp_path / "rec.wav").samples.ravel()
    lag = int(np.argmax(np.correlate(rec.astype(np.float64), ref[:8000].astype(np.float64), "valid")))
    assert pesq_score(ref, rec[lag:lag + len(ref)], 16000) > 2.5
