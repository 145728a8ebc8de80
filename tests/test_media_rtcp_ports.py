"""RTCP without rtcp-mux (RFC 3550 §6.1, RFC 5761 §5.1.3): two MediaEngines with
rtcp_mux=False report to each other on RTP port + 1, and a raw peer's RTP port gets
RTP only while its port + 1 gets the RTCP, from our port + 1. Only loopback."""
from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable

import pytest

import offhook.engine as eng

LOOP = "127.0.0.1"


def _is_rtcp(data: bytes) -> bool:
    return len(data) >= 2 and 192 <= data[1] <= 223   # RFC 5761 §4: PT 64..95 with M set


def _even_pair() -> tuple[socket.socket, socket.socket]:
    for _ in range(32):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind((LOOP, 0))
            port = probe.getsockname()[1] & ~1
        rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rtcp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            rtp.bind((LOOP, port))
            rtcp.bind((LOOP, port + 1))
        except OSError:
            rtp.close()
            rtcp.close()
            continue
        return rtp, rtcp
    pytest.fail("no free even UDP port pair on loopback")


def _wait(pred: Callable[[], bool], seconds: float = 5.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.02)
    return pred()


def test_two_engines_exchange_rtcp_on_port_plus_one() -> None:
    with eng.MediaEngine() as a, eng.MediaEngine() as b:
        sa = a.add_stream(rtcp_mux=False, rtcp_interval_ms=100)
        sb = b.add_stream(remote=(LOOP, sa.local_port), rtcp_mux=False, rtcp_interval_ms=100)
        sa.update(remote=(LOOP, sb.local_port))
        for s in (sa, sb):
            st = s.stats()
            assert st["rtcp_mux"] is False
            assert s.local_port % 2 == 0 and st["local_rtcp_port"] == s.local_port + 1
        assert _wait(lambda: sa.stats()["rtcp"]["rtt_samples"] >= 2
                     and sb.stats()["rtcp"]["rtt_samples"] >= 2)
        for s in (sa, sb):
            r = s.stats()["rtcp"]
            assert r["peer_reports"] >= 2 and r["invalid"] == 0
            assert r["rtt_ms"] is not None and 0.0 < r["rtt_ms"] < 100.0
            assert r["peer_cumulative_lost"] == 0
        # to mux and back while running
        sa.update(remote=(LOOP, sb.local_port), rtcp_mux=True)
        assert sa.stats()["rtcp_mux"] is True and sa.stats()["local_rtcp_port"] is None
        sa.update(remote=(LOOP, sb.local_port), rtcp_mux=False, remote_rtcp=(LOOP, sb.local_port + 1))
        assert sa.stats()["local_rtcp_port"] == sa.local_port + 1


def test_raw_peer_gets_rtp_on_rtp_port_and_rtcp_on_the_next() -> None:
    rtp, rtcp = _even_pair()
    with rtp, rtcp, eng.MediaEngine() as a:
        port = rtp.getsockname()[1]
        s = a.add_stream(remote=(LOOP, port), rtcp_mux=False, rtcp_interval_ms=100)
        rtp.settimeout(0.05)
        rtcp.settimeout(0.05)
        on_rtp: list[bytes] = []
        on_rtcp: list[tuple[bytes, int]] = []
        end = time.monotonic() + 5.0
        while time.monotonic() < end and (len(on_rtcp) < 2 or len(on_rtp) < 20):
            with contextlib.suppress(TimeoutError):
                on_rtp.append(rtp.recv(2048))
            try:
                data, addr = rtcp.recvfrom(2048)
                on_rtcp.append((data, addr[1]))
            except TimeoutError:
                pass
        assert len(on_rtp) >= 20 and not any(_is_rtcp(d) for d in on_rtp)
        assert len(on_rtcp) >= 2 and all(_is_rtcp(d) for d, _ in on_rtcp)
        assert {p for _, p in on_rtcp} == {s.local_port + 1}
        assert s.stats()["rtcp"]["sent"] >= 2


def test_mux_default_sends_rtcp_on_the_rtp_port() -> None:
    rtp, rtcp = _even_pair()
    with rtp, rtcp, eng.MediaEngine() as a:
        s = a.add_stream(remote=(LOOP, rtp.getsockname()[1]), rtcp_interval_ms=100)
        assert s.stats()["rtcp_mux"] is True and s.stats()["local_rtcp_port"] is None
        rtp.settimeout(0.05)
        seen = []
        end = time.monotonic() + 5.0
        while time.monotonic() < end and not any(_is_rtcp(d) for d in seen):
            with contextlib.suppress(TimeoutError):
                seen.append(rtp.recv(2048))
        assert any(_is_rtcp(d) for d in seen)


def test_bad_rtcp_arguments() -> None:
    with eng.MediaEngine() as a:
        with pytest.raises(ValueError, match="rtcp_mux must be True or False"):
            a.add_stream(rtcp_mux=1)
        with pytest.raises(ValueError, match="remote_rtcp needs remote"):
            a.add_stream(rtcp_mux=False, remote_rtcp=(LOOP, 5000))
        s = a.add_stream()
        with pytest.raises(ValueError, match="changed together with remote"):
            s.update(rtcp_mux=False)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as blocker:
            blocker.bind((LOOP, 0))
            taken = blocker.getsockname()[1]
            with pytest.raises(OSError, match="RTCP port above it"):
                a.add_stream(local=(LOOP, taken - 1), rtcp_mux=False)
