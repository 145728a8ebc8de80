"""MediaEngine events: DTMF, RTCP BYE, SSRC change, RTP timeout/resume, through
engine.events() (never blocks) and engine.event_fd (asyncio awaits it).

Peers are a second engine stream or a raw socket sending hand-made RTP.
Only loopback, only ports the OS picks.
"""
from __future__ import annotations

import asyncio
import re
import select
import socket
import struct
import time

import pytest

import offhook.engine as eng
from offhook import MediaError
from offhook.media.events import (
    DtmfReceived,
    MediaEvent,
    RtcpBye,
    RtpResumed,
    RtpTimeout,
    SsrcChanged,
    next_events,
)

LOOP = "127.0.0.1"


def collect(e: eng.MediaEngine, kind: type, count: int = 1, timeout: float = 5.0) -> list[MediaEvent]:
    """Events of e (all kinds) until count of kind arrived or timeout; waits on event_fd."""
    got: list[MediaEvent] = []
    end = time.monotonic() + timeout
    while time.monotonic() < end and sum(isinstance(x, kind) for x in got) < count:
        select.select([e.event_fd], [], [], 0.05)
        got.extend(e.events())
    return got


def rtp(seq: int, ssrc: int, pt: int = 0) -> bytes:
    return struct.pack("!BBHII", 0x80, pt, seq & 0xFFFF, seq * 160 & 0xFFFFFFFF, ssrc) + b"\xff" * 160


def udp() -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((LOOP, 0))
    return s


def pair(a: eng.MediaEngine, b: eng.MediaEngine, **kw) -> tuple[eng.MediaStream, eng.MediaStream]:
    sa = a.add_stream(codec="PCMU", **kw)
    sb = b.add_stream(codec="PCMU", remote=(LOOP, sa.local_port), rtcp_interval_ms=200)
    sa.update(remote=(LOOP, sb.local_port))
    return sa, sb


def test_dtmf_and_bye_events():
    with eng.MediaEngine(8000, 20) as a, eng.MediaEngine(8000, 20) as b:
        sa, sb = pair(a, b)
        assert a.events() == [] and not select.select([a.event_fd], [], [], 0)[0]
        time.sleep(0.2)
        sb.send_dtmf("4#B", 80)
        got = collect(a, DtmfReceived, 3)
        digits = [(x.digit, x.duration_ms, x.event) for x in got if isinstance(x, DtmfReceived)]
        assert digits == [("4", 80, 4), ("#", 80, 11), ("B", 80, 13)]
        assert all(x.stream is sa for x in got)
        assert a.events() == []  # drained
        # the per-stream queue still reports them too (its own consumer)
        assert [d for d, _ in sa.dtmf_events()] == ["4", "#", "B"]

        peer_ssrc = sa.stats()["remote_ssrc"]
        sb.close()
        got = collect(a, RtcpBye)
        byes = [x for x in got if isinstance(x, RtcpBye)]
        assert len(byes) == 1 and byes[0].stream is sa and byes[0].ssrc == peer_ssrc
        assert a.stats()["events_dropped"] == 0


def test_ssrc_change_relatches_from_the_same_address_only():
    with eng.MediaEngine(8000, 20) as e:
        s = e.add_stream(codec="PCMU", direction="recvonly")
        dest = (LOOP, s.local_port)
        peer, other = udp(), udp()
        try:
            for i in range(10):
                peer.sendto(rtp(i, 0x1111), dest)
            time.sleep(0.05)
            for i in range(10):  # another address: strays, never a re-latch
                other.sendto(rtp(100 + i, 0x3333), dest)
            time.sleep(0.05)
            assert not [x for x in e.events() if isinstance(x, SsrcChanged)]
            for i in range(10):  # the peer restarts with a new SSRC
                peer.sendto(rtp(500 + i, 0x2222), dest)
            got = [x for x in collect(e, SsrcChanged) if isinstance(x, SsrcChanged)]
            assert len(got) == 1 and (got[0].old_ssrc, got[0].new_ssrc) == (0x1111, 0x2222)
            assert got[0].stream is s
            st = s.stats()
            assert st["ssrc_changes"] == 1 and st["remote_ssrc"] == 0x2222
            assert st["latched"] == peer.getsockname()
            # 10 from the other address, 4 of the new SSRC before it re-latched
            assert st["dropped_stray"] == 10 + eng.RELATCH_PACKETS - 1
            assert st["packets_received"] == 10 + 10 - (eng.RELATCH_PACKETS - 1)
        finally:
            peer.close()
            other.close()


def test_interleaved_ssrcs_do_not_relatch():
    """An injector interleaving its packets with the real peer's never moves the latch."""
    with eng.MediaEngine(8000, 20) as e:
        s = e.add_stream(codec="PCMU", direction="recvonly")
        peer = udp()
        try:
            for i in range(30):
                peer.sendto(rtp(i, 0x1111), (LOOP, s.local_port))
                if i % 2:
                    peer.sendto(rtp(1000 + i // 2, 0x9999), (LOOP, s.local_port))
            time.sleep(0.2)
            st = s.stats()
            assert st["ssrc_changes"] == 0 and st["remote_ssrc"] == 0x1111 and st["dropped_stray"] == 15
            assert not [x for x in e.events() if isinstance(x, SsrcChanged)]
        finally:
            peer.close()


def test_rtp_timeout_and_resume():
    with eng.MediaEngine(8000, 20) as a, eng.MediaEngine(8000, 20) as b:
        sa, sb = pair(a, b, rtp_timeout_ms=300)
        time.sleep(0.5)
        assert not [x for x in a.events() if isinstance(x, RtpTimeout)]  # audio flows
        sb.update(direction="recvonly")  # the peer stops sending
        got = [x for x in collect(a, RtpTimeout) if isinstance(x, RtpTimeout)]
        assert len(got) == 1 and got[0].stream is sa and 300 <= got[0].silent_ms < 1000
        assert sa.stats()["rtp_timed_out"] is True
        time.sleep(0.5)
        assert not [x for x in a.events() if isinstance(x, RtpTimeout)]  # reported once
        sb.update(direction="sendrecv")
        got = [x for x in collect(a, RtpResumed) if isinstance(x, RtpResumed)]
        assert len(got) == 1 and got[0].silent_ms >= 800
        assert got[0].ssrc == sb.stats()["local_ssrc"] and sa.stats()["rtp_timed_out"] is False
        # our own hold stops the watch: no timeout while we do not receive
        sa.update(direction="sendonly")
        sb.update(direction="recvonly")
        time.sleep(0.6)
        assert not [x for x in a.events() if isinstance(x, RtpTimeout)]


def test_a_stream_that_never_hears_anything_times_out():
    with eng.MediaEngine(8000, 20) as e:
        s = e.add_stream(codec="PCMU", rtp_timeout_ms=200)
        got = [x for x in collect(e, RtpTimeout) if isinstance(x, RtpTimeout)]
        assert len(got) == 1 and got[0].stream is s
        msg = "rtp_timeout_ms must be an int 100..3600000 or None, got 50"
        with pytest.raises(ValueError, match=re.escape(msg)):
            e.add_stream(rtp_timeout_ms=50)


def test_asyncio_awaits_events_on_the_fd():
    async def main(a: eng.MediaEngine, sb: eng.MediaStream) -> list[MediaEvent]:
        loop = asyncio.get_running_loop()
        loop.call_later(0.3, sb.send_dtmf, "9", 60)
        return await asyncio.wait_for(next_events(a), 5.0)

    with eng.MediaEngine(8000, 20) as a, eng.MediaEngine(8000, 20) as b:
        _, sb = pair(a, b)
        got = asyncio.run(main(a, sb))
        assert [(x.digit, x.duration_ms) for x in got if isinstance(x, DtmfReceived)] == [("9", 60)]


def test_events_of_a_closed_stream_are_dropped():
    with eng.MediaEngine(8000, 20) as e:
        s = e.add_stream(codec="PCMU", rtp_timeout_ms=100)
        time.sleep(0.3)  # its timeout is queued
        s.close()
        assert e.events() == []
    with pytest.raises(MediaError, match="the media engine is closed"):
        e.events()
