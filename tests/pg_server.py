"""A private PostgreSQL cluster for tests: initdb in a temporary directory, postgres on its
own port on 127.0.0.1, stopped by pid.  As root (CI), the server runs as `nobody` through
setpriv: PostgreSQL refuses to run as root."""
from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sip_peers import free_port


def _pg_bin(program: str) -> str:
    found = shutil.which(program)
    if found:
        return found
    for version in ("17", "16", "15", "14", "13"):
        candidate = Path(f"/usr/lib/postgresql/{version}/bin/{program}")
        if candidate.exists():
            return str(candidate)
    pytest.skip(f"{program} is not installed (Debian package: postgresql)")


def _psycopg() -> None:
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg is not installed (pip install 'offhook[postgresql]')")


@contextlib.contextmanager
def postgres() -> Iterator[str]:
    """Yields a postgresql:// URL of a fresh, empty database (user `dialer`, trust auth)."""
    _psycopg()
    initdb, server = _pg_bin("initdb"), _pg_bin("postgres")
    root = Path(tempfile.mkdtemp(prefix="offhook-pg-"))
    prefix: list[str] = []
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        os.chown(root, nobody.pw_uid, nobody.pw_gid)
        prefix = ["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups"]
    data = root / "data"
    proc: subprocess.Popen[bytes] | None = None
    try:
        subprocess.run([*prefix, initdb, "-D", str(data), "-U", "dialer", "--auth=trust", "-E", "UTF8",
                        "--no-sync"], check=True, capture_output=True, cwd=root)
        port = free_port()
        proc = subprocess.Popen([*prefix, server, "-D", str(data), "-p", str(port), "-k", str(root),
                                 "-h", "127.0.0.1", "-c", "fsync=off", "-c", "max_connections=50"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=root)
        url = f"postgresql://dialer@127.0.0.1:{port}/postgres"
        import psycopg
        for _ in range(100):
            try:
                psycopg.connect(url, connect_timeout=1).close()
                break
            except psycopg.OperationalError:
                if proc.poll() is not None:
                    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                    raise RuntimeError(f"postgres did not start: {err}") from None
                time.sleep(0.1)
        yield url
    finally:
        if proc is not None and proc.poll() is None:
            os.kill(proc.pid, signal.SIGINT)   # fast shutdown
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        shutil.rmtree(root, ignore_errors=True)
