"""DTMF detection cost per 20 ms frame at 8 kHz: offhook vs spandsp's dtmf_rx.

Both are fed the same 20 s of signal frame by frame (160 samples): speech (the
common case, where candidates die early) and back-to-back digits (every window
runs the full analysis). spandsp is called through ctypes (libspandsp.so.2).
Both are timed in interleaved rounds (harness.race, best round kept). Also
reports how many digits each finds, as a sanity check.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import print_table, race, write_json
from offhook.engine import DtmfDetector, dtmf_tones
from offhook.media.speech import speech

RATE, FRAME = 8000, 160


def spandsp_detector():  # type: ignore[no-untyped-def]
    name = ctypes.util.find_library("spandsp") or "libspandsp.so.2"
    lib = ctypes.CDLL(name)
    lib.dtmf_rx_init.restype = ctypes.c_void_p
    lib.dtmf_rx_init.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
    lib.dtmf_rx.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]
    lib.dtmf_rx_get.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    lib.dtmf_rx_free.argtypes = [ctypes.c_void_p]
    return lib, lib.dtmf_rx_init(None, None, None)


def main() -> None:
    signals = {
        "speech": speech(seconds=20, sample_rate=RATE, talker=0),
        "digits": np.tile(dtmf_tones("0123456789*#ABCD", RATE, on_ms=50, off_ms=50), 13)[: 20 * RATE],
    }
    lib, state = spandsp_detector()
    rows, out = [], []
    for name, pcm in signals.items():
        frames = [np.ascontiguousarray(pcm[i:i + FRAME]) for i in range(0, len(pcm) - FRAME + 1, FRAME)]
        ptrs = [f.ctypes.data_as(ctypes.c_void_p) for f in frames]
        det = DtmfDetector(RATE)

        def run_offhook() -> None:
            for f in frames:
                det.process(f)

        def run_spandsp() -> None:
            for p in ptrs:
                lib.dtmf_rx(state, p, FRAME)

        # interleaved rounds, best kept: fair on a shared machine
        best = race({"offhook": run_offhook, "spandsp": run_spandsp})
        ours, theirs = best["offhook"] / len(frames), best["spandsp"] / len(frames)
        check = DtmfDetector(RATE)
        found = len([e for f in frames for e in check.process(f)] + check.flush())
        buf = ctypes.create_string_buffer(4096)
        lib.dtmf_rx_free(state)
        state = lib.dtmf_rx_init(None, None, None)
        for p in ptrs:
            lib.dtmf_rx(state, p, FRAME)
        span_found = lib.dtmf_rx_get(state, buf, 4095)
        rows.append([name, ours * 1e6, theirs * 1e6, ours / theirs, found, span_found])
        out.append({"signal": name, "offhook_us_per_frame": ours * 1e6,
                    "spandsp_us_per_frame": theirs * 1e6, "ratio": ours / theirs,
                    "offhook_digits": found, "spandsp_digits": span_found})
    print_table("DTMF detection, 20 ms frames at 8 kHz (µs per frame; offhook includes the Python call)",
                ["signal", "offhook µs", "spandsp µs", "offhook/spandsp", "offhook digits",
                 "spandsp digits"], rows)
    print(f"\nwrote {write_json('bench_dtmf', out)}")


if __name__ == "__main__":
    main()
