"""Helpers for the SIP interop tests: free ports, SIPp and offhook CLI processes, stopped by pid."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

DATA = Path(__file__).parent / "data"
SIPP_DIR = DATA / "sipp"


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    """A port free for both UDP and TCP on 127.0.0.1 (for SIP)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = int(udp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free port on 127.0.0.1")


def need(program: str) -> str:
    path = shutil.which(program)
    if path is None:
        pytest.skip(f"{program} is not installed (Debian package: "
                    f"{ {'sipp': 'sip-tester'}.get(program, program) })")
    return path


def stop(proc: subprocess.Popen[bytes] | subprocess.Popen[str]) -> None:
    """Stop a process we started, by its pid."""
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=3)


def finish(proc: subprocess.Popen[str], timeout: float = 30) -> tuple[int, str]:
    """Wait for an offhook CLI to exit (stopping it if it does not): (exit status, stderr)."""
    try:
        _, err = proc.communicate(timeout=timeout)
    finally:
        stop(proc)
    return proc.returncode, err


class Sipp:
    """One SIPp run of a scenario from tests/data/sipp, in `workdir`, for `calls` calls."""

    def __init__(self, scenario: str, workdir: Path, *, port: int | None = None,
                 media_port: int | None = None, remote: str | None = None,
                 extra: list[str] | None = None, host: str = "127.0.0.1", calls: int = 1) -> None:
        self.port = port or free_port()
        self.media_port = media_port or free_port()
        args = [need("sipp"), "-sf", str(SIPP_DIR / scenario), "-i", host, "-p", str(self.port),
                "-mi", host, "-mp", str(self.media_port), "-m", str(calls), "-timeout", "25s",
                "-trace_err", "-trace_msg", "-nostdin", *(extra or [])]
        if remote is not None:
            args.append(remote)
        self.workdir = workdir
        self.proc = subprocess.Popen(args, cwd=workdir, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(0.3)   # let it bind

    def wait(self, timeout: float = 30) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            stop(self.proc)

    def messages(self) -> str:
        return "".join(p.read_text(errors="replace") for p in self.workdir.glob("*_messages.log"))

    def errors(self) -> str:
        return "".join(p.read_text(errors="replace") for p in self.workdir.glob("*_errors.log"))


def offhook(*args: str, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "offhook.cli.main", *args], cwd=cwd,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def listening_port(proc: subprocess.Popen[str]) -> int:
    """The port `offhook answer` prints on its first line."""
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("listening on "):
        stop(proc)
        err = proc.stderr.read() if proc.stderr else ""
        raise AssertionError(f"offhook answer did not start: {line!r} {err}")
    return int(line.rsplit(":", 1)[1])


def run_kamailio(tmp_path: Path, cfg: Path, port: int) -> Iterator[int]:
    """Kamailio in the foreground on `cfg` (its pid ours), yielding its SIP port; stopped by pid."""
    binary = need("kamailio")
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


def kamailio_registrar(tmp_path: Path) -> Iterator[int]:
    """The project's registrar/proxy (tests/data/kamailio: digest auth, record-route) on a free port."""
    port = free_port()
    cfg = tmp_path / "kamailio.cfg"
    cfg.write_text((DATA / "kamailio" / "kamailio.cfg").read_text().replace("@PORT@", str(port)))
    yield from run_kamailio(tmp_path, cfg, port)


def finish_call(caller: subprocess.Popen[str], callee: subprocess.Popen[str], recording: Path,
                played: np.ndarray) -> float:
    """Both offhook CLIs of one call end normally; the wideband PESQ of what the callee
    recorded against what the caller played."""
    from offhook.media.quality import align, pesq_score
    from offhook.media.wav import read_wav
    for proc in (caller, callee):
        code, err = finish(proc)
        assert code == 0, err
    rec = read_wav(recording).samples.ravel()
    return pesq_score(played, align(played, rec), 16000)
