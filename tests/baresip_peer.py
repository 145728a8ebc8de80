"""baresip as a second softphone for the interop tests: its own config dir, aufile as the
audio source (a WAV it plays into every call), sndfile dumping what it decodes to WAVs,
ctrl_tcp (JSON in netstrings) to dial, answer, hold, send DTMF and hang up; stopped by pid.

Ports: baresip binds SIP on `sip_port` (UDP and TCP) and TLS on `sip_port + 1`, so the
port is chosen with both free; ctrl_tcp and RTP get their own."""
from __future__ import annotations

import json
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

from sip_peers import free_port, need, stop


def _free_pair() -> int:
    """A port p with p (UDP+TCP) and p+1 (TCP) free on 127.0.0.1."""
    for _ in range(50):
        port = free_port()
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            try:
                tcp.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port pair on 127.0.0.1")


class Baresip:
    """One baresip process with account sip:<user>@127.0.0.1 (no registration)."""

    def __init__(self, workdir: Path, source_wav: Path, *, user: str = "bob", answermode: str = "manual",
                 codecs: str = "PCMU", ptime: int | None = None) -> None:
        need("baresip")
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "snd").mkdir(exist_ok=True)
        self.sip_port = _free_pair()
        self.ctrl_port = free_port(socket.SOCK_STREAM)
        rtp = free_port()
        self.uri = f"sip:{user}@127.0.0.1:{self.sip_port}"
        (self.dir / "config").write_text(f"""\
poll_method epoll
sip_listen 127.0.0.1:{self.sip_port}
sip_trans_def udp
audio_source aufile,{source_wav}
audio_player aufile,/dev/null
audio_alert aufile,{source_wav}
audio_srate_play 8000
audio_srate_src 8000
audio_channels_play 1
audio_channels_src 1
rtp_ports {rtp}-{rtp + 40}
module_path /usr/lib/baresip/modules
module g711.so
module aufile.so
module sndfile.so
module_app account.so
module_app menu.so
module_app ctrl_tcp.so
ctrl_tcp_listen 127.0.0.1:{self.ctrl_port}
snd_path {self.dir / "snd"}
""")
        (self.dir / "accounts").write_text(
            f"<sip:{user}@127.0.0.1>;regint=0;answermode={answermode};audio_codecs={codecs}"
            + (f";ptime={ptime}" if ptime else "") + "\n")  # ptime: what it sends and asks for
        (self.dir / "contacts").write_text("")
        self.log = open(self.dir / "baresip.log", "wb")  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen(["baresip", "-f", str(self.dir)], stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        self.events: list[dict[str, Any]] = []
        self._buf = b""
        self._token = 0
        deadline = time.monotonic() + 10
        while True:
            try:
                self.sock = socket.create_connection(("127.0.0.1", self.ctrl_port), timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.close()
                    raise RuntimeError(f"baresip did not start: {self.log_text()[-500:]}") from None
                time.sleep(0.1)

    def log_text(self) -> str:
        return (self.dir / "baresip.log").read_text(errors="replace")

    # --- ctrl_tcp: JSON in netstrings -------------------------------------------------------

    def _read_one(self, timeout: float) -> dict[str, Any] | None:
        self.sock.settimeout(timeout)
        while True:
            colon = self._buf.find(b":")
            if colon > 0:
                length = int(self._buf[:colon])
                end = colon + 1 + length
                if len(self._buf) > end:
                    payload, self._buf = self._buf[colon + 1:end], self._buf[end + 1:]
                    return dict(json.loads(payload))
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                return None
            if not data:
                raise RuntimeError("baresip closed its control connection")
            self._buf += data

    def command(self, command: str, params: str = "", timeout: float = 5.0) -> dict[str, Any]:
        self._token += 1
        token = str(self._token)
        body = json.dumps({"command": command, "params": params, "token": token}).encode()
        self.sock.sendall(b"%d:%s," % (len(body), body))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = self._read_one(max(0.01, deadline - time.monotonic()))
            if msg is None:
                break
            if msg.get("response") and msg.get("token") == token:
                return msg
            if msg.get("event"):
                self.events.append(msg)
        raise TimeoutError(f"baresip did not answer {command!r}")

    def wait_event(self, kind: str, timeout: float = 10.0) -> dict[str, Any]:
        """The first event of type `kind` (already seen ones included, then consumed)."""
        deadline = time.monotonic() + timeout
        while True:
            for i, ev in enumerate(self.events):
                if ev.get("type") == kind:
                    return self.events.pop(i)
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {kind} event from baresip; saw "
                                   f"{[e.get('type') for e in self.events]}")
            msg = self._read_one(min(left, 0.2))
            if msg is not None and msg.get("event"):
                self.events.append(msg)

    def poll_events(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            msg = self._read_one(min(left, 0.1))
            if msg is not None and msg.get("event"):
                self.events.append(msg)

    def decoded_wavs(self) -> list[Path]:
        """The WAVs sndfile wrote of the audio baresip decoded (what it heard)."""
        return sorted((self.dir / "snd").glob("dump-*-dec.wav"))

    def close(self) -> None:
        try:
            if hasattr(self, "sock"):
                self.sock.close()
        finally:
            stop(self.proc)
            self.log.close()
