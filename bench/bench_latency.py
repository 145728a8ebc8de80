"""Engine-added latency from the capture ring to the RTP send (issue 5's figure).

A device thread stands in for a sound card: every 10 ms, on the monotonic clock, it
pushes a 10 ms block at 48 kHz into a DevicePort attached to the engine
(MediaEngine.attach_audio) and drains the playback side. The port stamps each block
when it enters the capture ring; the engine measures, for every RTP packet that
carries the local capture (streams connected with connect_local), the time from the
moment its frame was complete in the ring to its sendto() (stats()["local"]
capture_to_send_ms_*). Target: <= one frame (ptime) + 2 ms, at 1 and at 100 calls
(all 100 streams send the local capture, PCMU, to a sink socket; the last stream's
sendto() of a tick counts too). The echo canceller's algorithmic latency (one 10 ms
block with residual suppression on) is reported separately: it comes on top.

    .venv/bin/python bench/bench_latency.py [--seconds 4] [--calls 1 100] [--ptime 20]
"""
from __future__ import annotations

import argparse
import resource
import socket
import threading
import time

import numpy as np

from harness import print_table, write_json
from offhook import engine as eng

RATE = 16000
DEVICE_RATE = 48000
BLOCK_S = 0.010


def device(port: eng.DevicePort, stop: threading.Event) -> None:
    n = int(DEVICE_RATE * BLOCK_S)
    t = np.arange(n)
    out = np.zeros(n, np.int16)
    k = 0
    next_t = time.monotonic()
    while not stop.is_set():
        next_t += BLOCK_S
        delay = next_t - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        block = (3000 * np.sin(2 * np.pi * 440 * (t + k * n) / DEVICE_RATE)).astype(np.int16)
        port.push_capture(block)
        port.pull_playback(out)
        k += 1


def run(calls: int, seconds: float, ptime: int, aec: bool) -> dict[str, float]:
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    sink.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 16)
    engine = eng.MediaEngine(RATE, ptime, max_streams=max(calls, 1))
    port = eng.DevicePort(RATE, DEVICE_RATE, buffer_ms=200)
    engine.attach_audio(port, aec=aec)
    streams = []
    for _ in range(calls):
        s = engine.add_stream(("127.0.0.1", 0), remote=sink.getsockname(), codec="PCMU")
        s.connect_local()
        streams.append(s)
    stop = threading.Event()
    th = threading.Thread(target=device, args=(port, stop), daemon=True)
    th.start()
    time.sleep(1.0)  # warm-up (and the first latency trim)
    engine.stats()  # restarts the measuring window
    time.sleep(seconds)
    st = engine.stats()
    stop.set()
    th.join()
    local = st["local"]
    engine.close()
    sink.close()
    target = ptime + 2.0
    return {"calls": calls, "ptime_ms": ptime, "aec": aec,
            "capture_to_send_ms_mean": local["capture_to_send_ms_mean"],
            "capture_to_send_ms_max": local["capture_to_send_ms_max"],
            "packets": local["capture_to_send_samples"],
            "aec_latency_ms": local["aec_latency_samples"] * 1000 / RATE,
            "total_mean_ms": local["capture_to_send_ms_mean"] + local["aec_latency_samples"] * 1000 / RATE,
            "target_ms": target,
            "mean_over_target": local["capture_to_send_ms_mean"] / target,
            "max_over_target": local["capture_to_send_ms_max"] / target,
            "capture_underruns": local["capture_underruns"], "capture_shed": local["capture_shed"],
            "late_ticks": st["late_ticks"], "send_lag_ms_mean": st["send_lag_ms_mean"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--calls", type=int, nargs="*", default=[1, 100])
    parser.add_argument("--ptime", type=int, default=20, choices=[10, 20])
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = max(args.calls) + 64
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(need, hard), hard))
    rows = [run(n, args.seconds, args.ptime, aec) for n in args.calls for aec in (False, True)]
    print_table(f"engine-added latency, capture ring -> RTP sendto ({args.ptime} ms frames, 16 kHz engine, "
                f"48 kHz device in 10 ms blocks, PCMU); target <= ptime + 2 ms",
                ["calls", "AEC", "mean ms", "max ms", "packets", "AEC latency ms", "mean + AEC ms",
                 "target ms", "mean/target", "max/target", "underruns", "late ticks"],
                [[r["calls"], "on" if r["aec"] else "off", r["capture_to_send_ms_mean"],
                  r["capture_to_send_ms_max"], r["packets"], r["aec_latency_ms"], r["total_mean_ms"],
                  r["target_ms"], r["mean_over_target"], r["max_over_target"], r["capture_underruns"],
                  r["late_ticks"]] for r in rows])
    print(f"\nwritten {write_json('latency', rows)}")


if __name__ == "__main__":
    main()
