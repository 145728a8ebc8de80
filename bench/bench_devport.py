"""DevicePort cost per 10 ms device block: what a PortAudio callback pays to hand audio to
the engine and take it back, against the same job done in Python with python-soxr.

One "cycle" is both directions of 10 ms at 48 kHz on the device side and 16 kHz on the
engine side:
    capture:  push_capture(480 device samples) -> [48k->16k] -> ring -> pull_capture(160)
    playback: push_playback(160 engine samples) -> ring -> [16k->48k] -> pull_playback(480)
The anchor does the same with soxr.ResampleStream ("MQ", the recipe closest to offhook's
filter, see bench_resampler.py) and NumPy FIFOs in Python, as a device callback written
in Python would.

    .venv/bin/python bench/bench_devport.py

Interleaved rounds (harness.race), best round of each.
"""
from __future__ import annotations

import numpy as np
import soxr

from harness import print_table, race, write_json
from offhook.engine import DevicePort

DEVICE, ENGINE = 48000, 16000
BLOCK, FRAME = DEVICE // 100, ENGINE // 100


class PythonPort:
    """The anchor: soxr streams plus FIFOs kept as NumPy arrays."""

    def __init__(self) -> None:
        self.down = soxr.ResampleStream(DEVICE, ENGINE, 1, dtype="int16", quality="MQ")
        self.up = soxr.ResampleStream(ENGINE, DEVICE, 1, dtype="int16", quality="MQ")
        self.cap = np.zeros(0, np.int16)
        self.play = np.zeros(0, np.int16)
        self.out = np.zeros(0, np.int16)

    def push_capture(self, block: np.ndarray) -> None:
        self.cap = np.concatenate([self.cap, self.down.resample_chunk(block)])[-4096:]

    def pull_capture(self, n: int) -> np.ndarray:
        got, self.cap = self.cap[:n], self.cap[n:]
        return got if got.size == n else np.concatenate([got, np.zeros(n - got.size, np.int16)])

    def push_playback(self, frame: np.ndarray) -> None:
        self.play = np.concatenate([self.play, frame])[-4096:]

    def pull_playback(self, out: np.ndarray) -> None:
        while self.out.size < out.size:
            take, self.play = self.play[:FRAME], self.play[FRAME:]
            if take.size < FRAME:
                take = np.concatenate([take, np.zeros(FRAME - take.size, np.int16)])
            self.out = np.concatenate([self.out, self.up.resample_chunk(take)])
        out[:], self.out = self.out[:out.size], self.out[out.size:]


def cycle(port: DevicePort | PythonPort):
    rng = np.random.default_rng(5)
    block = np.clip(rng.normal(0, 8000, BLOCK), -32768, 32767).astype(np.int16)
    frame = np.clip(rng.normal(0, 8000, FRAME), -32768, 32767).astype(np.int16)
    out = np.zeros(BLOCK, np.int16)

    def run() -> None:
        port.push_capture(block)
        port.pull_capture(FRAME)
        port.push_playback(frame)
        port.pull_playback(out)
    return run


def main() -> None:
    best = race({"offhook": cycle(DevicePort(ENGINE, DEVICE)), "python+soxr": cycle(PythonPort())})
    us_o, us_a = best["offhook"] * 1e6, best["python+soxr"] * 1e6
    rows = [{"cycle": "10 ms both ways, 48k device <-> 16k engine", "offhook µs": round(us_o, 2),
             "python+soxr MQ µs": round(us_a, 2), "speedup": round(us_a / us_o, 2),
             "offhook % of real time": round(us_o / 10000 * 100, 3)}]
    print_table("DevicePort, µs per 10 ms cycle (interleaved rounds, best of 15; "
                "speedup = anchor time / offhook time)", list(rows[0]), [list(r.values()) for r in rows])
    print(f"\nJSON: {write_json('devport', rows)}")


if __name__ == "__main__":
    main()
