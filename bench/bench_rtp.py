"""Per-packet cost of the RTP packet layer.

1. Receive path: parse + validate + RFC 3550 source statistics for one
   172-byte G.711 packet — through the bindings (parse_rtp + RtpSource.update)
   next to the anchor a Python application would write (struct.unpack of the
   header + a Python transcription of RFC 3550 A.1/A.8, tests/test_rtp.py's
   reference), and from C (oh_rtp_parse + oh_rtp_source_update).
2. SRTP: protect + unprotect of one 160-byte payload per suite — through the
   bindings (SrtpSession) and from C, next to libsrtp2 called directly with
   the same policy (the anchor: what the oh_srtp wrapper adds).

Reported in µs per packet and packets per second (one core).

    .venv/bin/python bench/bench_rtp.py
"""
from __future__ import annotations

import math
import struct
import subprocess
import tempfile
from pathlib import Path

from harness import build_c_driver, print_table, race, write_json
from offhook import engine as eng


class PySource:
    """RFC 3550 A.1 + A.8 in plain Python: the anchor for the receive path."""

    def __init__(self) -> None:
        self.max_seq = -1
        self.cycles = self.received = 0
        self.transit: int | None = None
        self.jitter = 0.0

    def update(self, seq: int, ts: int, arrival_ms: float) -> None:
        udelta = (seq - self.max_seq) % 65536
        if udelta < 3000:
            if seq < self.max_seq:
                self.cycles += 65536
            self.max_seq = seq
        elif udelta <= 65536 - 100:
            return
        self.received += 1
        transit = (math.floor(arrival_ms * 8) - ts) % 2**32
        if self.transit is not None:
            d = (transit - self.transit) % 2**32
            d = d - 2**32 if d >= 2**31 else d
            self.jitter += (abs(d) - self.jitter) / 16
        self.transit = transit


def cost_in_c() -> dict[str, float] | None:
    """ns per packet from bench/rtp_cost.c (compiled here), or None without a C compiler."""
    with tempfile.TemporaryDirectory() as tmp:
        exe = build_c_driver("rtp_cost", ["rtp", "rtcp", "srtp"], ["srtp2", "pthread"], Path(tmp))
        if exe is None:
            return None
        out = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout
    return {name: float(value) for name, value in (line.split() for line in out.splitlines())}


def main() -> None:
    tx = eng.RtpSender(0x1234, 0, seed=1)
    packets = [tx.write(bytes(160), 160) for _ in range(4096)]
    state = {"i": 0}
    src = eng.RtpSource(8000)
    ref = PySource()

    def offhook_rx() -> None:
        i = state["i"] = state["i"] + 1
        p = eng.parse_rtp(packets[i & 4095])
        src.update(p.seq, p.ssrc, p.timestamp, i * 20.0)

    def python_rx() -> None:
        i = state["i"] = state["i"] + 1
        data = packets[i & 4095]
        if len(data) < 12:
            raise ValueError("truncated")
        b0, b1, seq, ts, ssrc = struct.unpack_from("!BBHII", data)
        if b0 >> 6 != 2:
            raise ValueError("version")
        off = 12 + 4 * (b0 & 15)
        if off > len(data):
            raise ValueError("csrc")
        payload = data[off:]
        ref.update(seq, ts, i * 20.0)
        del payload, b1, ssrc

    times = race({"offhook": offhook_rx, "python": python_rx})
    c = cost_in_c() or {}
    rows = []

    def row(what: str, who: str, seconds: float, anchor: float | None) -> None:
        rows.append({"what": what, "who": who, "us_per_packet": seconds * 1e6,
                     "packets_per_s": 1 / seconds if seconds else float("nan"),
                     "x_faster_than_anchor": (anchor / seconds) if anchor else float("nan")})

    row("RTP parse+validate+stats", "offhook (Python binding)", times["offhook"], times["python"])
    row("RTP parse+validate+stats", "Python struct + A.1/A.8 (anchor)", times["python"], None)
    if "parse_stats" in c:
        row("RTP parse+validate+stats", "offhook from C", c["parse_stats"] * 1e-9, times["python"])

    for suite in eng.SRTP_SUITES:
        key = eng.srtp_random_key(suite)
        a, b = eng.SrtpSession(suite, key, key), eng.SrtpSession(suite, key, key)
        stx = eng.RtpSender(0x99, 0, seed=2)

        def roundtrip(a: eng.SrtpSession = a, b: eng.SrtpSession = b, stx: eng.RtpSender = stx) -> None:
            b.unprotect(a.protect(stx.write(bytes(160), 160)))

        t = race({"srtp": roundtrip}, rounds=7)["srtp"]
        raw = c.get(f"libsrtp2_{suite}")
        what = f"SRTP protect+unprotect {suite}"
        row(what, "offhook (Python binding, incl. RTP write)", t, raw * 1e-9 if raw else None)
        if f"srtp_{suite}" in c:
            row(what, "offhook from C", c[f"srtp_{suite}"] * 1e-9, raw * 1e-9 if raw else None)
        if raw:
            row(what, "libsrtp2 direct (anchor)", raw * 1e-9, None)

    print_table("RTP packet layer, per packet (one core)",
                ["what", "who", "µs/packet", "packets/s", "× vs anchor"],
                [[r["what"], r["who"], r["us_per_packet"], r["packets_per_s"], r["x_faster_than_anchor"]]
                 for r in rows])
    print(f"\nJSON: {write_json('rtp', rows)}")


if __name__ == "__main__":
    main()
