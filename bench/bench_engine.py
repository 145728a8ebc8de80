"""Cost of the media engine's streams: G.711 20 ms streams carried by one media thread.

Two MediaEngines on 127.0.0.1 hold N PCMU calls with each other; every stream
receives (recvmmsg, validation, jitter buffer, decode) and sends (a tone
source, encode, RTP, sendto) every 20 ms, so a stream is the per-call work a
relaying engine does in one direction pair. CPU is the CPU time of the two
media threads only (from /proc/self/task, so Python and NumPy's threads do
not count) over a few seconds, per stream and as streams per 50 % of a core.
Memory per stream is the heap in use (mallinfo2) and the RSS growth per
stream, sockets' kernel buffers aside. Send lag is the engine's own
measurement (MediaEngine.stats()): from each tick's deadline to the sendto of
each RTP packet, i.e. what the engine adds to a frame captured just before
the deadline (engine-added latency = at most one ptime of waiting for the
tick + this lag). There is no anchor for a whole media thread: the figures
are compared with the issue's targets (1,000 streams at < 50 % of a core;
latency <= one frame + 2 ms).

    .venv/bin/python bench/bench_engine.py [--seconds S] [--streams N ...]
"""
from __future__ import annotations

import argparse
import ctypes
import os
import resource
import time

from harness import print_table, write_json
from offhook import engine as eng

CLK_TCK = os.sysconf("SC_CLK_TCK")


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
                 "fordblks", "keepcost")]


_libc = ctypes.CDLL(None)
_libc.mallinfo2.restype = _MallInfo2


def heap_bytes() -> int:
    info = _libc.mallinfo2()
    return int(info.uordblks + info.hblkhd)


def rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def tasks() -> set[str]:
    return set(os.listdir("/proc/self/task"))


def task_cpu_s(tids: set[str]) -> float:
    total = 0
    for tid in tids:
        with open(f"/proc/self/task/{tid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    return total / CLK_TCK


def run(calls: int, seconds: float) -> dict[str, float]:
    """calls tone streams on a generator engine, each relayed back by an echo stream
    on the relay engine; CPU is the relay's media thread alone."""
    heap0, rss0, before = heap_bytes(), rss_kib(), tasks()
    relay = eng.MediaEngine(8000, 20, max_streams=calls)
    relay_thread = tasks() - before
    gen = eng.MediaEngine(8000, 20, max_streams=calls)
    pairs = []
    for _ in range(calls):
        sr = relay.add_stream(codec="PCMU")
        pairs.append(sr)
    heap1, rss1 = heap_bytes(), rss_kib()
    for i, sr in enumerate(pairs):
        sg = gen.add_stream(codec="PCMU", remote=("127.0.0.1", sr.local_port))
        sr.update(remote=("127.0.0.1", sg.local_port))
        sr.play_echo()
        sg.play_tone(300 + i % 3000)
        pairs[i] = (sr, sg)
    time.sleep(0.5)  # let the jitter buffers settle
    relay.stats()  # restart the send-lag window
    cpu0, wall0 = task_cpu_s(relay_thread), time.monotonic()
    time.sleep(seconds)
    cpu, wall = task_cpu_s(relay_thread) - cpu0, time.monotonic() - wall0
    st = relay.stats()
    relayed = sum(1 for sr, sg in pairs if sg.stats()["packets_received"] > 0)
    received = sum(sr.stats()["packets_received"] for sr, _ in pairs)
    relay.close()
    gen.close()
    per_stream = cpu / wall / calls
    return {"streams": calls, "relayed_back": relayed, "cpu_pct": 100 * cpu / wall,
            "us_per_stream_tick": per_stream * 0.020 * 1e6,
            "streams_at_50pct": 0.5 / per_stream if per_stream else float("inf"),
            "heap_bytes_per_stream": (heap1 - heap0) / calls,
            "rss_kib_per_stream": (rss1 - rss0) / calls, "packets_received": received,
            "late_ticks": st["late_ticks"], "send_lag_ms_mean": st["send_lag_ms_mean"],
            "send_lag_ms_max": st["send_lag_ms_max"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--streams", type=int, nargs="*", default=[1, 100, 500, 1000])
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = 2 * max(args.streams) + 64
    if soft < need:  # one socket per stream
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(need, hard), hard))
    rows = [run(n, args.seconds) for n in args.streams]
    print_table("media engine relaying PCMU 20 ms streams (RTP in -> jitter buffer -> decode -> encode "
                "-> RTP out); CPU of the relay's media thread",
                ["streams", "relayed back", "CPU % of a core", "µs/stream/tick", "streams at 50 %",
                 "heap B/stream", "RSS KiB/stream", "late ticks", "send lag mean ms", "send lag max ms"],
                [[r["streams"], r["relayed_back"], r["cpu_pct"], r["us_per_stream_tick"],
                  r["streams_at_50pct"], r["heap_bytes_per_stream"], r["rss_kib_per_stream"],
                  r["late_ticks"], r["send_lag_ms_mean"], r["send_lag_ms_max"]] for r in rows])
    print(f"\nwritten {write_json('engine', rows)}")


if __name__ == "__main__":
    main()
