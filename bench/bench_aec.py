"""Echo cancellation: offhook vs speexdsp (with and without its preprocessor's
residual echo suppression), same scenarios, same run.

Scenarios come from offhook.media.echo_scenarios (deterministic espeak-ng speech,
image-source room, 16 kHz, 12 s). Every canceller gets a 200 ms tail.
Metrics (issue 3): ERLE over far-end single-talk frames after 3 s; time to reach
15 dB ERLE (0.5 s windows); re-convergence after the echo-path change;
wideband PESQ of the output against the clean near end during double talk;
PESQ and level change against the microphone with near-end speech only;
CPU microseconds per 10 ms frame (whole per-frame call from Python for both,
so the figures include ~1 µs of call overhead each).

WebRTC audio processing (Debian's libwebrtc-audio-processing 0.3: the AEC, with
delay-agnostic mode and the extended filter, and AECM) is called through a small
C++ shim (bench/webrtc_shim.cc) that this script compiles into bench/out/; if the
library or a C++ compiler is missing, WebRTC's rows are skipped with a note.
WebRTC is not told the stream delay (0 ms): finding it is part of the test.
"""
from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import math
import shutil
import subprocess
from pathlib import Path

import numpy as np

from harness import print_table, race, write_json
from offhook.engine import EchoCanceller
from offhook.media import echo_scenarios as es
from offhook.media.quality import pesq_score

RATE = 16000
FRAME = 160
TAIL_MS = 200
SECONDS = 12.0


class Speex:
    """speexdsp's MDF echo canceller through ctypes, optionally + its preprocessor."""
    SET_SAMPLING_RATE = 24
    PP_SET_ECHO_STATE = 24

    def __init__(self, rate: int, frame: int, tail_ms: int, preprocess: bool) -> None:
        name = ctypes.util.find_library("speexdsp") or "libspeexdsp.so.1"
        lib = ctypes.CDLL(name)
        lib.speex_echo_state_init.restype = ctypes.c_void_p
        lib.speex_echo_state_init.argtypes = [ctypes.c_int, ctypes.c_int]
        lib.speex_echo_ctl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
        lib.speex_echo_cancellation.argtypes = [ctypes.c_void_p] * 4
        lib.speex_echo_state_destroy.argtypes = [ctypes.c_void_p]
        lib.speex_preprocess_state_init.restype = ctypes.c_void_p
        lib.speex_preprocess_state_init.argtypes = [ctypes.c_int, ctypes.c_int]
        lib.speex_preprocess_ctl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
        lib.speex_preprocess_run.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        lib.speex_preprocess_state_destroy.argtypes = [ctypes.c_void_p]
        self.lib = lib
        self.st = lib.speex_echo_state_init(frame, rate * tail_ms // 1000)
        r = ctypes.c_int(rate)
        lib.speex_echo_ctl(self.st, self.SET_SAMPLING_RATE, ctypes.byref(r))
        self.pp = None
        if preprocess:
            self.pp = lib.speex_preprocess_state_init(frame, rate)
            lib.speex_preprocess_ctl(self.pp, self.PP_SET_ECHO_STATE, ctypes.c_void_p(self.st))
        self.frame = frame
        self.latency = 0

    def process(self, near: np.ndarray, far: np.ndarray) -> np.ndarray:
        out = np.empty(self.frame, np.int16)
        self.lib.speex_echo_cancellation(self.st, near.ctypes.data, far.ctypes.data, out.ctypes.data)
        if self.pp is not None:
            self.lib.speex_preprocess_run(self.pp, out.ctypes.data)
        return out

    def __del__(self) -> None:
        if self.pp is not None:
            self.lib.speex_preprocess_state_destroy(self.pp)
        self.lib.speex_echo_state_destroy(self.st)


BENCH = Path(__file__).resolve().parent


def build_webrtc_shim() -> ctypes.CDLL | None:
    """Compiles bench/webrtc_shim.cc against libwebrtc-audio-processing; None if impossible."""
    out = BENCH / "out" / "libohb_webrtc.so"
    src = BENCH / "webrtc_shim.cc"
    if not out.exists() or out.stat().st_mtime < src.stat().st_mtime:
        cxx = shutil.which("g++") or shutil.which("c++")
        pkg = shutil.which("pkg-config")
        if cxx is None or pkg is None:
            print("note: WebRTC skipped (needs g++ and pkg-config)")
            return None
        flags = subprocess.run([pkg, "--cflags", "--libs", "webrtc-audio-processing"],
                               capture_output=True, text=True)
        if flags.returncode != 0:
            print("note: WebRTC skipped (apt-get install libwebrtc-audio-processing-dev)")
            return None
        out.parent.mkdir(exist_ok=True)
        subprocess.run([cxx, "-O2", "-shared", "-fPIC", "-std=c++11", str(src), "-o", str(out),
                        *flags.stdout.split()], check=True)
    lib = ctypes.CDLL(str(out))
    lib.ohb_webrtc_create.restype = ctypes.c_void_p
    lib.ohb_webrtc_create.argtypes = [ctypes.c_int] * 4
    lib.ohb_webrtc_process.argtypes = [ctypes.c_void_p] * 4 + [ctypes.c_int, ctypes.c_int]
    lib.ohb_webrtc_destroy.argtypes = [ctypes.c_void_p]
    return lib


class WebRTC:
    """WebRTC's AEC (mobile=False) or AECM (mobile=True) through the shim."""

    def __init__(self, lib: ctypes.CDLL, rate: int, frame: int, mobile: bool) -> None:
        self.lib = lib
        self.h = lib.ohb_webrtc_create(rate, int(mobile), 1, 1)
        if not self.h:
            raise RuntimeError("WebRTC audio processing refused the configuration")
        self.frame = frame
        self.latency = 0

    def process(self, near: np.ndarray, far: np.ndarray) -> np.ndarray:
        out = np.empty(self.frame, np.int16)
        r = self.lib.ohb_webrtc_process(self.h, near.ctypes.data, far.ctypes.data, out.ctypes.data,
                                        self.frame, 0)
        if r != 0:
            raise RuntimeError(f"WebRTC ProcessStream failed with {r}")
        return out

    def __del__(self) -> None:
        if getattr(self, "h", None):
            self.lib.ohb_webrtc_destroy(self.h)


class Offhook:
    def __init__(self, rate: int, frame: int, tail_ms: int) -> None:
        self.aec = EchoCanceller(rate, frame, tail_ms=tail_ms)
        self.process = self.aec.process
        self.latency = self.aec.latency


CANCELLERS = {
    "offhook": lambda: Offhook(RATE, FRAME, TAIL_MS),
    "speexdsp": lambda: Speex(RATE, FRAME, TAIL_MS, preprocess=False),
    "speexdsp+pp": lambda: Speex(RATE, FRAME, TAIL_MS, preprocess=True),
}
_WEBRTC = build_webrtc_shim()
if _WEBRTC is not None:
    CANCELLERS["webrtc-aec"] = lambda: WebRTC(_WEBRTC, RATE, FRAME, mobile=False)
    CANCELLERS["webrtc-aecm"] = lambda: WebRTC(_WEBRTC, RATE, FRAME, mobile=True)


def measure(name: str, make, scenario: es.Scenario) -> dict[str, float]:
    c = make()
    out = es.run(c.process, scenario, FRAME)
    lat = c.latency
    row: dict[str, float] = {}
    if scenario.name == "near_only":
        row["pesq_near_only"] = pesq_score(scenario.mic, out[lat:], RATE)
        mic = scenario.mic[:len(out) - lat].astype(np.float64)
        out_power = np.mean(out[lat:].astype(np.float64) ** 2)
        row["level_change_db"] = 10 * math.log10(out_power / np.mean(mic ** 2))
        return row
    row["erle_db"] = es.erle_db(scenario, out, latency=lat)
    row["converge_s"] = es.convergence_time(scenario, out, latency=lat)
    if scenario.change_at is not None:
        row["reconverge_s"] = es.convergence_time(scenario, out, since=scenario.change_at, latency=lat)
    if scenario.name.startswith("double_talk"):
        s0 = 4 * RATE
        row["pesq_double_talk"] = pesq_score(scenario.near[s0:], out[s0 + lat:], RATE)
        row["pesq_unprocessed"] = pesq_score(scenario.near[s0:], scenario.mic[s0:], RATE)
    return row


def cpu_us_per_frame(cancellers: dict, scenario: es.Scenario) -> dict[str, float]:
    """µs per 10 ms frame of each canceller, timed in interleaved best-of rounds
    (harness.race) so that load from other processes hits all alike. Each call
    runs the next frame of 3 s of far single talk, cycling."""
    frames = [(np.ascontiguousarray(scenario.mic[i:i + FRAME]),
               np.ascontiguousarray(scenario.far[i:i + FRAME]))
              for i in range(0, 3 * RATE, FRAME)]

    def stepper(c):
        pos = [0]

        def step() -> None:
            near, far = frames[pos[0]]
            c.process(near, far)
            pos[0] = (pos[0] + 1) % len(frames)
        return step

    instances = {name: make() for name, make in cancellers.items()}
    for c in instances.values():  # converge first: the steady state is what runs in a call
        for near, far in frames:
            c.process(near, far)
    best = race({name: stepper(c) for name, c in instances.items()}, rounds=20, round_time=0.1)
    return {name: t * 1e6 for name, t in best.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cpu", action="store_true", help="only the CPU table")
    parser.add_argument("--scenarios", default=",".join(es.SCENARIOS),
                        help="comma-separated scenarios (default: all); skips the CPU table")
    args = parser.parse_args()
    scenarios = [s for s in args.scenarios.split(",") if s]
    cpu: dict[str, float] = {}
    if args.cpu or scenarios == list(es.SCENARIOS):
        cpu = cpu_us_per_frame(CANCELLERS, es.make("far_single_talk", RATE, SECONDS))
        print_table("CPU per 10 ms frame at 16 kHz, 200 ms tail (same run, interleaved best-of-20 rounds)",
                    ["canceller", "µs/frame", "vs speexdsp ×"],
                    [[n, us, cpu["speexdsp"] / us] for n, us in cpu.items()])
    if args.cpu:
        return
    rows = []
    for sc_name in scenarios:
        scenario = es.make(sc_name, RATE, SECONDS)
        for name, make in CANCELLERS.items():
            rows.append({"scenario": sc_name, "canceller": name, **measure(name, make, scenario)})
    cols = ["erle_db", "converge_s", "reconverge_s", "pesq_double_talk", "pesq_unprocessed",
            "pesq_near_only", "level_change_db"]
    print_table(f"Echo cancellation, {RATE} Hz, {TAIL_MS} ms tail, {SECONDS:.0f} s scenarios",
                ["scenario", "canceller", "ERLE dB", "to 15 dB s", "re-conv s", "PESQ DT",
                 "PESQ DT unproc.", "PESQ near-only", "level Δ dB"],
                [[r["scenario"], r["canceller"], *[r.get(c, "") for c in cols]] for r in rows])
    write_json("aec", rows + [{"canceller": n, "cpu_us_per_frame": us} for n, us in cpu.items()])


if __name__ == "__main__":
    main()
