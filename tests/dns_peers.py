"""dnsmasq as a private DNS server for the RFC 3263 tests: its records from the command line,
on a free port of 127.0.0.1, no upstream servers and no /etc/hosts; stopped by pid."""
from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import pytest

from offhook.errors import DnsError
from offhook.sip.resolve import RType, query
from sip_peers import free_port, stop

Address = tuple[str, int]


def start_dnsmasq(records: Sequence[str], probe: str) -> tuple[subprocess.Popen[bytes], Address]:
    """dnsmasq serving `records` (its options: --srv-host=..., --host-record=..., --naptr-record=...),
    once it answers the A query of `probe` (a name among them); skips when it is not installed."""
    exe = shutil.which("dnsmasq")
    if exe is None:
        pytest.skip("dnsmasq is not installed (Debian package dnsmasq-base)")
    port = free_port()
    proc = subprocess.Popen(
        [exe, "--no-daemon", f"--port={port}", "--listen-address=127.0.0.1", "--bind-interfaces",
         "--no-resolv", "--no-hosts", "--pid-file=", "--user=root", "--local-ttl=30", *records],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    server = ("127.0.0.1", port)
    deadline = time.monotonic() + 5
    while True:
        try:
            asyncio.run(query(server, probe, RType.A, 0.2))
            return proc, server
        except DnsError:
            if proc.poll() is not None or time.monotonic() > deadline:
                stop(proc)
                err = proc.stderr.read().decode() if proc.stderr else ""
                pytest.fail(f"dnsmasq did not start: {err}")


@contextmanager
def dnsmasq(records: Sequence[str], probe: str) -> Iterator[Address]:
    """start_dnsmasq as a context: yields its (host, port), stops it on exit."""
    proc, server = start_dnsmasq(records, probe)
    try:
        yield server
    finally:
        stop(proc)
        if proc.stderr is not None:
            proc.stderr.close()
