"""SIPp callees and agents for the dialer's tests and benchmark (each on its own port, stopped by pid).

A ``SippServer`` runs one UAS scenario of tests/data/sipp for any number of calls
at once, in its own working directory (where ``speech.ul`` — what the callee
says — is written).  ``greeting()`` makes the speech clips with espeak-ng: a
person's short "Hello?" and an answering machine's long greeting.
"""
from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import numpy as np
import numpy.typing as npt

from offhook.engine import Resampler, codec
from offhook.media.wav import read_wav, write_wav
from sip_peers import SIPP_DIR, free_port, need, stop

HUMAN_GREETING = "Hello?"
HUMAN_GREETING_LONGER = "Hello, Anna speaking."
MACHINE_GREETING = ("Hi, you have reached the Smith family. We cannot take your call right now. "
                    "Please leave a message after the tone.")
MACHINE_GREETING_2 = ("Thank you for calling. Nobody is available to answer. "
                      "Leave your name and number and we will call you back.")


def greeting(text: str, sample_rate: int = 8000, *, silence_after: float = 3.0,
             voice: str = "en") -> npt.NDArray[np.int16]:
    """``text`` spoken by espeak-ng at ``sample_rate``, followed by ``silence_after`` s of silence."""
    espeak = need("espeak-ng")
    out = subprocess.run([espeak, "-v", voice, "--stdout", text], check=True, capture_output=True).stdout
    header = out[:44]
    rate = int.from_bytes(header[24:28], "little")
    pcm = np.frombuffer(out[44:], dtype="<i2").astype(np.int16)
    if rate != sample_rate:
        r = Resampler(rate, sample_rate)
        pcm = np.concatenate([r.process(np.ascontiguousarray(pcm)), r.flush()])[r.latency:]
    return np.concatenate([pcm, np.zeros(int(silence_after * sample_rate), dtype=np.int16)])


def write_ulaw(path: Path, pcm8k: npt.NDArray[np.int16]) -> None:
    """Raw mu-law at 8 kHz: what SIPp's rtp_stream plays."""
    enc = codec("PCMU")
    frame = 160
    n = len(pcm8k) // frame * frame
    path.write_bytes(b"".join(enc.encode(np.ascontiguousarray(pcm8k[i:i + frame]))
                              for i in range(0, n, frame)))


def write_message(path: Path, text: str = "We are sorry, all our agents are busy. We will call you back.",
                  sample_rate: int = 8000) -> Path:
    """The abandoned-call information message, as a WAV."""
    write_wav(path, greeting(text, sample_rate, silence_after=0.0), sample_rate)
    return path


class SippServer:
    """One SIPp UAS (scenario of tests/data/sipp) answering calls until stopped."""

    def __init__(self, scenario: str, workdir: Path, *, speech: npt.NDArray[np.int16] | None = None,
                 keys: dict[str, str] | None = None, pause: tuple[int, int] | None = None,
                 max_calls: int = 2000, trace_msg: bool = False) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        src = SIPP_DIR / scenario
        if pause is not None or keys:   # a copy with other handle-time bounds (ms) or statuses
            text = src.read_text()
            if pause is not None:
                text = re.sub(r'<pause distribution="uniform" min="\d+" max="\d+"/>',
                              f'<pause distribution="uniform" min="{pause[0]}" max="{pause[1]}"/>', text)
            for k, v in (keys or {}).items():   # SIPp checks status codes on load: no -key for them
                text = text.replace(f"[{k}]", v)
            (workdir / scenario).write_text(text)
            src = workdir / scenario
        if speech is not None:
            write_ulaw(workdir / "speech.ul", speech)
        self.port = free_port()
        self.media_port = free_port()
        args = [need("sipp"), "-sf", str(src), "-i", "127.0.0.1", "-p", str(self.port),
                "-mi", "127.0.0.1", "-mp", str(self.media_port), "-l", str(max_calls),
                "-max_socket", "4096", "-trace_err", "-nostdin", *(["-trace_msg"] if trace_msg else [])]
        self.proc = subprocess.Popen(args, cwd=workdir, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(0.3)
        if self.proc.poll() is not None:
            err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
            raise RuntimeError(f"sipp {scenario} did not start: {err}")

    @property
    def uri_host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def invites(self) -> int:
        """INVITEs received (needs trace_msg=True)."""
        text = "".join(p.read_text(errors="replace") for p in self.workdir.glob("*_messages.log"))
        return text.count("\nINVITE sip:")

    def errors(self) -> str:
        return "".join(p.read_text(errors="replace") for p in self.workdir.glob("*_errors.log"))

    def stop(self) -> None:
        stop(self.proc)


def recorded_speech_seconds(path: Path, sample_rate: int, threshold_dbfs: float = -40.0) -> float:
    """Seconds of 20 ms frames above ``threshold_dbfs`` in a WAV recording."""
    audio = read_wav(path)
    pcm = audio.samples.reshape(-1).astype(np.float64)
    frame = sample_rate // 50
    n = len(pcm) // frame
    if n == 0:
        return 0.0
    rms = np.sqrt(np.mean(pcm[: n * frame].reshape(n, frame) ** 2, axis=1))
    level = 20 * np.log10(np.maximum(rms, 1.0) / 32768.0)
    return float(np.sum(level > threshold_dbfs)) * 0.02


def cleanup(*servers: SippServer) -> None:
    for s in servers:
        s.stop()


__all__ = ["HUMAN_GREETING", "MACHINE_GREETING", "SippServer", "cleanup", "greeting",
           "recorded_speech_seconds", "write_message", "write_ulaw"]
