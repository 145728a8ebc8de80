"""A UDP relay that impairs one direction of an RTP call, for tests and lab use.

    relay = ImpairmentRelay(dest=("127.0.0.1", b_port),
                            impairment=Impairment(delay_ms=20, jitter_ms=30, loss=0.05), seed=1)
    # A sends to relay.address; B sends back to relay.address too.

Datagrams arriving from any address other than dest go to dest (the impaired
direction: RTP is delayed by delay_ms + U(0, jitter_ms), held back another
reorder_ms with probability reorder, dropped with probability loss; RTCP
only delayed by delay_ms, never dropped); datagrams from dest go back,
unimpaired, to the last address that sent through. The random draws come
from one seeded generator, so a seed gives the same drops and delays.

The relay logs what it actually did to the RTP it forwarded: `sent` holds
(monotonic send time in s, sequence number, RTP timestamp) in send order
and `dropped` the sequence numbers it dropped, so a test can compute the
loss and the RFC 3550 interarrival jitter a receiver should report
(expected_jitter_ms) from the relay's own send times rather than from the
configuration. Loopback only by intent: it is one Python thread.
"""
from __future__ import annotations

import contextlib
import heapq
import random
import select
import socket
import struct
import threading
import time
from dataclasses import dataclass

__all__ = ["Impairment", "ImpairmentRelay", "expected_jitter_ms"]


@dataclass(frozen=True)
class Impairment:
    """What happens to RTP on its way to dest: delay and jitter in ms, loss and reorder 0..1."""

    delay_ms: float = 0.0
    jitter_ms: float = 0.0
    loss: float = 0.0
    reorder: float = 0.0
    reorder_ms: float = 40.0

    def __post_init__(self) -> None:
        for name in ("delay_ms", "jitter_ms", "reorder_ms"):
            if not 0.0 <= getattr(self, name) <= 10000.0:
                raise ValueError(f"{name} must be 0..10000 ms, got {getattr(self, name)}")
        for name in ("loss", "reorder"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be a probability 0..1, got {getattr(self, name)}")


def _is_rtcp(data: bytes) -> bool:
    return len(data) >= 2 and 192 <= data[1] <= 223


class ImpairmentRelay:
    """See the module's docstring. close() (or a with block) stops its thread."""

    def __init__(self, dest: tuple[str, int], impairment: Impairment, *, seed: int = 0,
                 bind: tuple[str, int] = ("127.0.0.1", 0)) -> None:
        self.dest = dest
        self.impairment = impairment
        self.sent: list[tuple[float, int, int]] = []
        self.dropped: list[int] = []
        self._rng = random.Random(seed)
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(bind)
        self._sock.setblocking(False)
        self._back: tuple[str, int] | None = None
        self._queue: list[tuple[float, int, bytes, bool]] = []  # (due, order, data, log it)
        self._order = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="offhook-relay", daemon=True)
        self._thread.start()

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._sock.getsockname()[:2]
        return host, port

    def __enter__(self) -> ImpairmentRelay:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._sock.close()

    def log(self) -> tuple[list[tuple[float, int, int]], list[int]]:
        """Copies of (sent, dropped), safe while the relay runs."""
        with self._lock:
            return list(self.sent), list(self.dropped)

    def _schedule(self, data: bytes, now: float) -> None:
        imp = self.impairment
        if _is_rtcp(data) or len(data) < 12:
            due, log = now + imp.delay_ms / 1e3, False
        else:
            seq = struct.unpack_from("!H", data, 2)[0]
            if self._rng.random() < imp.loss:
                with self._lock:
                    self.dropped.append(seq)
                return
            delay = imp.delay_ms + self._rng.uniform(0.0, imp.jitter_ms)
            if self._rng.random() < imp.reorder:
                delay += imp.reorder_ms
            due, log = now + delay / 1e3, True
        self._order += 1
        heapq.heappush(self._queue, (due, self._order, data, log))

    def _run(self) -> None:
        while not self._stop.is_set():
            now = time.monotonic()
            while self._queue and self._queue[0][0] <= now:
                _, _, data, log = heapq.heappop(self._queue)
                t = time.monotonic()
                try:
                    self._sock.sendto(data, self.dest)
                except OSError:
                    continue
                if log:
                    seq, ts = struct.unpack_from("!HI", data, 2)
                    with self._lock:
                        self.sent.append((t, seq, ts))
            timeout = 0.02 if not self._queue else max(0.0, self._queue[0][0] - time.monotonic())
            ready, _, _ = select.select([self._sock], [], [], timeout)
            if not ready:
                continue
            while True:
                try:
                    data, src = self._sock.recvfrom(65536)
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:
                    break  # an ICMP error from an earlier send
                if src[:2] == self.dest:
                    if self._back is not None:
                        with contextlib.suppress(OSError):
                            self._sock.sendto(data, self._back)
                else:
                    self._back = (src[0], src[1])
                    self._schedule(data, time.monotonic())


def expected_jitter_ms(sent: list[tuple[float, int, int]], clock_rate: int) -> float:
    """RFC 3550 A.8's interarrival jitter (ms) of packets arriving at the relay's send
    times, in that order: what a receiver next to the relay should report."""
    jitter = 0.0
    prev: tuple[float, int] | None = None
    for t, _, ts in sent:
        if prev is not None:
            dts = ((ts - prev[1] + 2**31) % 2**32) - 2**31  # timestamps wrap at 2**32
            d = abs((t - prev[0]) * clock_rate - dts)
            jitter += (d - jitter) / 16.0
        prev = (t, ts)
    return jitter * 1000.0 / clock_rate
