"""G.722 encode + decode cost: offhook against libspandsp (ctypes), µs per 20 ms frame.

Both are called from Python once per frame, the way a Python media loop would:
offhook through its Cython binding (which returns a new bytes / ndarray per call),
spandsp through ctypes into preallocated buffers. A second table times one call
per second of audio (50 frames), where call overhead fades and the codec cores
are compared.

    .venv/bin/python bench/bench_g722.py
"""
from __future__ import annotations

import ctypes
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import print_table, race, write_json
from offhook.engine import codec
from offhook.media.speech import speech

FRAME = 320  # 20 ms at 16 kHz
FRAME_S = FRAME / 16000


def load_spandsp() -> ctypes.CDLL:
    lib = ctypes.CDLL("libspandsp.so.2")
    lib.g722_encode_init.restype = ctypes.c_void_p
    lib.g722_encode_init.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
    lib.g722_decode_init.restype = ctypes.c_void_p
    lib.g722_decode_init.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
    lib.g722_encode.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]
    lib.g722_decode.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]
    return lib


def main() -> None:
    lib = load_spandsp()
    pcm = speech(2.0, 16000, 0)
    frames = [np.ascontiguousarray(pcm[i:i + FRAME]) for i in range(0, len(pcm) - FRAME + 1, FRAME)]

    rows = []
    for label, chunk in (("per 20 ms frame", 1), ("per 1 s call (50 frames)", 50)):
        blocks = [np.concatenate(frames[i:i + chunk]) for i in range(0, len(frames) - chunk + 1, chunk)]
        n = len(blocks[0])

        enc, dec = codec("G722"), codec("G722")

        def offhook_round() -> None:
            for block in blocks:
                dec.decode(enc.encode(block))

        s_enc = lib.g722_encode_init(None, 64000, 0)
        s_dec = lib.g722_decode_init(None, 64000, 0)
        payload = ctypes.create_string_buffer(n // 2)
        out = np.empty(n, np.int16)
        ptrs = [block.ctypes.data for block in blocks]
        out_ptr = out.ctypes.data

        def spandsp_round() -> None:
            for ptr in ptrs:
                m = lib.g722_encode(s_enc, payload, ptr, n)
                lib.g722_decode(s_dec, out_ptr, payload, m)

        frames_per_round = len(blocks) * chunk
        times = race({"offhook": offhook_round, "spandsp": spandsp_round})
        ours = times["offhook"] / frames_per_round
        ref = times["spandsp"] / frames_per_round
        lib.g722_encode_free.argtypes = [ctypes.c_void_p]
        lib.g722_decode_free.argtypes = [ctypes.c_void_p]
        lib.g722_encode_free(s_enc)
        lib.g722_decode_free(s_dec)
        rows.append({"calls": label, "offhook_us": ours * 1e6, "spandsp_us": ref * 1e6,
                     "speedup": ref / ours, "offhook_x_realtime": FRAME_S / ours})

    print_table("G.722 64 kbit/s encode + decode, µs per 20 ms frame (320 samples)",
                ["calls", "offhook µs", "spandsp µs", "offhook speed-up", "offhook × real time"],
                [[r["calls"], r["offhook_us"], r["spandsp_us"], r["speedup"], r["offhook_x_realtime"]]
                 for r in rows])
    print(f"\nJSON: {write_json('g722', rows)}")


if __name__ == "__main__":
    main()
