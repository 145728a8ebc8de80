"""Opus: encode + decode of one 20 ms frame through offhook.engine.codec against
libopus called directly through ctypes, on the same speech, same settings
(mono, OPUS_APPLICATION_VOIP, voice signal, 32 kbit/s VBR, default complexity).

The difference is offhook's cost on top of libopus: the Cython call, the
bytes/ndarray results and the C wrapper's checks. ctypes has a per-call cost
of its own, so the anchor is "libopus as a Python user would reach it
without offhook", not libopus's bare C cost.

    .venv/bin/python bench/bench_opus.py
"""
from __future__ import annotations

import ctypes
import ctypes.util
import sys

import numpy as np

from harness import print_table, race, write_json
from offhook.engine import Codec, codec
from offhook.media.speech import speech

OPUS_APPLICATION_VOIP = 2048
OPUS_SET_BITRATE = 4002
OPUS_SET_SIGNAL = 4024
OPUS_SIGNAL_VOICE = 3001
BITRATE = 32000
MAX_PACKET = 4000
ROUNDS = 25


def load_libopus() -> ctypes.CDLL:
    name = ctypes.util.find_library("opus") or "libopus.so.0"
    lib = ctypes.CDLL(name)
    lib.opus_encoder_create.restype = ctypes.c_void_p
    lib.opus_encoder_create.argtypes = [ctypes.c_int32, ctypes.c_int, ctypes.c_int,
                                        ctypes.POINTER(ctypes.c_int)]
    lib.opus_decoder_create.restype = ctypes.c_void_p
    lib.opus_decoder_create.argtypes = [ctypes.c_int32, ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
    lib.opus_encode.restype = ctypes.c_int32
    lib.opus_encode.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int,
                                ctypes.c_void_p, ctypes.c_int32]
    lib.opus_decode.restype = ctypes.c_int
    lib.opus_decode.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int32,
                                ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
    lib.opus_encoder_ctl.restype = ctypes.c_int
    lib.opus_encoder_destroy.argtypes = [ctypes.c_void_p]
    lib.opus_decoder_destroy.argtypes = [ctypes.c_void_p]
    return lib


class DirectOpus:
    """libopus through ctypes, set up as oh_opus_codec.c sets it up."""

    def __init__(self, lib: ctypes.CDLL, rate: int) -> None:
        err = ctypes.c_int()
        self.lib = lib
        self.enc = lib.opus_encoder_create(rate, 1, OPUS_APPLICATION_VOIP, ctypes.byref(err))
        if err.value != 0:
            raise RuntimeError(f"opus_encoder_create: {err.value}")
        self.dec = lib.opus_decoder_create(rate, 1, ctypes.byref(err))
        if err.value != 0:
            raise RuntimeError(f"opus_decoder_create: {err.value}")
        for request, value in ((OPUS_SET_BITRATE, BITRATE), (OPUS_SET_SIGNAL, OPUS_SIGNAL_VOICE)):
            if lib.opus_encoder_ctl(ctypes.c_void_p(self.enc), ctypes.c_int(request),
                                    ctypes.c_int32(value)) != 0:
                raise RuntimeError(f"opus_encoder_ctl({request})")
        self.packet = ctypes.create_string_buffer(MAX_PACKET)
        self.out = np.empty(rate // 50, np.int16)

    def round_trip(self, frame: np.ndarray) -> None:
        n = len(frame)
        length = self.lib.opus_encode(self.enc, frame.ctypes.data, n, self.packet, MAX_PACKET)
        if length < 0 or self.lib.opus_decode(self.dec, self.packet, length,
                                              self.out.ctypes.data, n, 0) != n:
            raise RuntimeError("libopus round trip failed")

    def close(self) -> None:
        self.lib.opus_encoder_destroy(self.enc)
        self.lib.opus_decoder_destroy(self.dec)


def main() -> int:
    lib = load_libopus()
    rows = []
    for rate in (16000, 48000):
        n = rate // 50
        pcm = speech(2.0, rate)
        frames = [np.ascontiguousarray(pcm[i:i + n]) for i in range(0, len(pcm) // n * n, n)]
        ours = codec("opus", rate, bitrate=BITRATE)
        direct = DirectOpus(lib, rate)

        def offhook_pass(frames: list[np.ndarray] = frames, ours: Codec = ours) -> None:
            for f in frames:
                ours.decode(ours.encode(f))

        def libopus_pass(frames: list[np.ndarray] = frames, direct: DirectOpus = direct) -> None:
            for f in frames:
                direct.round_trip(f)

        times = race({"offhook": offhook_pass, "libopus": libopus_pass}, rounds=ROUNDS)
        direct.close()
        us_ours = times["offhook"] / len(frames) * 1e6
        us_direct = times["libopus"] / len(frames) * 1e6
        overhead = 100.0 * (us_ours / us_direct - 1.0)
        rows.append({"rate": rate, "frame_ms": 20, "bitrate": BITRATE,
                     "offhook_us": us_ours, "libopus_ctypes_us": us_direct,
                     "overhead_pct": overhead, "x_realtime": 20e3 / us_ours})

    print_table("Opus encode+decode per 20 ms frame (32 kbit/s VBR, VOIP, mono)",
                ["rate Hz", "offhook µs", "libopus (ctypes) µs", "overhead %", "× real time"],
                [[r["rate"], r["offhook_us"], r["libopus_ctypes_us"], r["overhead_pct"],
                  r["x_realtime"]] for r in rows])
    print(f"\nwritten to {write_json('bench_opus', rows)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
