"""MediaEngine DTMF (RFC 4733) and RTCP (RFC 3550, rtcp-mux) between two engines on loopback.

Impairments come from a small one-way UDP relay of our own (A -> relay -> B;
B answers A directly, so B latches on the relay): it duplicates telephone-event
end packets and replays stale ones for the DTMF test, and drops every 10th RTP
packet (never RTCP) for the loss test. Only loopback, only ports the OS picks.
"""
from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Callable, Iterable

import pytest

import offhook.engine as eng
from offhook import MediaError
from offhook.media.wav import read_wav
from tone_measure import tone_share

LOOP = "127.0.0.1"
DTMF_PT = 101


def wait_for(predicate, timeout: float = 8.0) -> None:
    """Waits (not a timing assertion: the assert that follows says what failed)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end and not predicate():
        time.sleep(0.02)


def is_rtcp(data: bytes) -> bool:
    return len(data) >= 2 and 192 <= data[1] <= 223


class Relay:
    """Forwards datagrams arriving on its socket to dest, as transform(datagram) says."""

    def __init__(self, dest: tuple[str, int], transform: Callable[[bytes], Iterable[bytes]]):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((LOOP, 0))
        self.sock.settimeout(0.05)
        self.dest = dest
        self.transform = transform
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return self.sock.getsockname()[1]

    def _run(self) -> None:
        while not self._stop:
            try:
                data = self.sock.recv(2048)
            except TimeoutError:
                continue
            except OSError:
                return
            for out in self.transform(data):
                self.sock.sendto(out, self.dest)

    def close(self) -> None:
        self._stop = True
        self._thread.join()
        self.sock.close()



def test_dtmf_digits_arrive_once_in_order_and_audio_resumes(tmp_path):
    duplicated = {"immediate": 0, "stale": 0}
    last_end: list[bytes] = []

    def dup_ends(data: bytes) -> list[bytes]:
        """Every end packet twice more; each event's last end packet again after the next starts."""
        if is_rtcp(data) or len(data) < 16 or data[1] & 0x7F != DTMF_PT:
            return [data]
        out = [data]
        if data[1] & 0x80 and last_end:  # a new event's first packet: replay the old end
            out.append(last_end.pop())
            duplicated["stale"] += 1
        if data[13] & 0x80:  # E bit
            out.append(data)
            duplicated["immediate"] += 1
            last_end[:] = [data]
        return out

    with eng.MediaEngine(16000, 20) as a, eng.MediaEngine(8000, 20) as b:
        sb = b.add_stream(codec="PCMU", dtmf_payload_type=DTMF_PT)
        relay = Relay((LOOP, sb.local_port), dup_ends)
        try:
            sa = a.add_stream(codec="PCMU", remote=(LOOP, relay.port), dtmf_payload_type=DTMF_PT)
            sb.update(remote=(LOOP, sa.local_port))
            sa.play_tone(1000, -10.0)
            sb.record_wav(tmp_path / "b.wav")
            wait_for(lambda: sb.stats()["packets_received"] >= 10)
            sa.send_dtmf("12#", duration_ms=100)
            sa.send_dtmf("a", duration_ms=60)
            events: list[tuple[str, int]] = []
            wait_for(lambda: (events.extend(sb.dtmf_events()) or len(events) >= 4)
                     and sa.stats()["dtmf_pending"] == 0)
            time.sleep(0.6)  # stray packets still in flight would arrive by now; audio resumes
            events.extend(sb.dtmf_events())
            sb.stop_recording()
            sta, stb = sa.stats(), sb.stats()
        finally:
            relay.close()
    assert events == [("1", 100), ("2", 100), ("#", 100), ("A", 60)]
    assert duplicated["immediate"] == 4 * 3 and duplicated["stale"] == 3
    assert sta["dtmf_sent"] == 4 and stb["dtmf_received"] == 4 and stb["dtmf_dropped"] == 0
    assert stb["dropped_invalid"] == 0 and stb["dropped_payload_type"] == 0
    rec = read_wav(tmp_path / "b.wav", sample_rate=8000, channels=1).samples
    tail = rec[-int(0.4 * 8000):]
    share = tone_share(tail, 1000.0, 8000)
    assert share > 0.9, f"after the digits only {share:.2f} of the power is the 1 kHz tone"


def test_send_dtmf_errors():
    with eng.MediaEngine(8000, 20) as e:
        s = e.add_stream(codec="PCMU")
        assert s.dtmf_payload_type == 101
        with pytest.raises(ValueError, match=re.escape("digits may only hold 0-9, *, #, A-D; got 'x'")):
            s.send_dtmf("1x")
        with pytest.raises(ValueError, match=re.escape("duration_ms must be 40..5000, got 10")):
            s.send_dtmf("1", duration_ms=10)
        with pytest.raises(ValueError, match="digits must be a non-empty str"):
            s.send_dtmf("")
        with pytest.raises(MediaError, match="at most 64 digits can wait"):
            s.send_dtmf("5" * 65)
        o = e.add_stream(codec="opus", dtmf_payload_type=100)
        with pytest.raises(ValueError, match="does not fit RFC 4733's 16-bit duration"):
            o.send_dtmf("1", duration_ms=2000)  # 96000 units at 48 kHz
        n = e.add_stream(codec="PCMU", dtmf_payload_type=None)
        with pytest.raises(MediaError, match="this stream has no DTMF payload type"):
            n.send_dtmf("1")
        with pytest.raises(ValueError, match=re.escape("dtmf_payload_type must be an int 0..127 other than")):
            e.add_stream(codec="PCMU", dtmf_payload_type=0)
        with pytest.raises(ValueError, match=re.escape("rtcp_interval_ms must be an int 100..60000, got 10")):
            e.add_stream(rtcp_interval_ms=10)
        with pytest.raises(ValueError, match=re.escape("cname must be a str of 1..63 UTF-8 bytes")):
            e.add_stream(cname="x" * 64)
        assert n.dtmf_events() == []


def test_rtcp_reports_rtt_and_bye_on_loopback():
    with eng.MediaEngine(16000, 20) as a, eng.MediaEngine(16000, 20) as b:
        sa = a.add_stream(codec="G722", rtcp_interval_ms=200, cname="alice@example")
        sb = b.add_stream(codec="G722", remote=(LOOP, sa.local_port), rtcp_interval_ms=200)
        sa.update(remote=(LOOP, sb.local_port))
        sa.play_tone(440)
        wait_for(lambda: sa.stats()["rtcp"]["rtt_samples"] >= 3 and sb.stats()["rtcp"]["rtt_samples"] >= 3)
        ra, rb = sa.stats()["rtcp"], sb.stats()["rtcp"]
        for me, r in (("a", ra), ("b", rb)):
            assert r["sent"] >= 3 and r["sr_received"] >= 3 and r["peer_reports"] >= 3, (me, r)
            assert r["invalid"] == 0 and not r["bye"]
            assert 0.0 < r["rtt_ms"] < 20.0, f"{me}: RTT {r['rtt_ms']} ms on loopback"
            assert r["peer_fraction_lost"] == 0.0 and r["peer_cumulative_lost"] == 0
            assert r["peer_jitter_ms"] < 20.0
        assert rb["peer_cname"] == "alice@example"
        assert ra["peer_cname"] == f"offhook-{sb.stats()['local_ssrc']:08x}"
        sa.close()
        wait_for(lambda: sb.stats()["rtcp"]["bye"])
        assert sb.stats()["rtcp"]["bye"]


def test_rtcp_loss_matches_what_the_relay_dropped():
    count = {"rtp": 0, "dropped": 0}

    def drop_every_10th(data: bytes) -> list[bytes]:
        if is_rtcp(data):
            return [data]
        count["rtp"] += 1
        if count["rtp"] % 10 == 0:
            count["dropped"] += 1
            return []
        return [data]

    with eng.MediaEngine(8000, 20) as a, eng.MediaEngine(8000, 20) as b:
        # 3 s mean interval: >= 75 packets per report, so a 1-in-10 pattern reads 10 % +- 1.4 %.
        sb = b.add_stream(codec="PCMU", rtcp_interval_ms=3000)
        relay = Relay((LOOP, sb.local_port), drop_every_10th)
        try:
            sa = a.add_stream(codec="PCMU", remote=(LOOP, relay.port), rtcp_interval_ms=3000)
            sb.update(remote=(LOOP, sa.local_port))
            sa.play_tone(1000)
            wait_for(lambda: sa.stats()["rtcp"]["peer_reports"] >= 2, timeout=12.0)
            ra = sa.stats()["rtcp"]
            stb = sb.stats()
        finally:
            relay.close()
    assert ra["peer_reports"] >= 2
    assert abs(ra["peer_fraction_lost"] - 0.10) <= 0.02, f"peer reports {ra['peer_fraction_lost']:.3f} lost"
    assert 0 < ra["peer_cumulative_lost"] <= stb["lost"]
    assert abs(stb["lost"] / stb["expected"] - 0.10) <= 0.02
    assert count["dropped"] >= 10
