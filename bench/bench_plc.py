"""G.711 packet loss concealment: offhook vs spandsp's plc (also G.711 Appendix I style).

Two tables from one run:
- quality: PESQ-NB of 10 s of speech (four talkers) in 20 ms frames with 0/5/20 %
  seeded random loss, for zero insertion, offhook's concealment and spandsp's;
- cost: one good 20 ms frame followed by one lost frame (so every lost frame
  pays the pitch search), G.711 decode included on both sides.
spandsp is called through ctypes (libspandsp, Debian libspandsp-dev).
"""
from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable

import numpy as np

try:
    import audioop
except ImportError:  # Python 3.13+
    import audioop_lts as audioop  # type: ignore[no-redef]

from harness import print_table, race, write_json
from offhook.engine import codec
from offhook.media.quality import pesq_score
from offhook.media.speech import speech

RATE = 8000
FRAME = 160
SEEDS = (1, 2, 3)


class SpandspPlc:
    """spandsp's plc_state_t: plc_rx() for good audio, plc_fillin() for lost audio."""

    def __init__(self) -> None:
        name = ctypes.util.find_library("spandsp")
        if name is None:
            raise SystemExit("libspandsp not found (Debian: apt-get install libspandsp-dev)")
        lib = ctypes.CDLL(name)
        lib.plc_init.restype = ctypes.c_void_p
        lib.plc_init.argtypes = [ctypes.c_void_p]
        for fn in (lib.plc_rx, lib.plc_fillin):
            fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]
        lib.plc_free.argtypes = [ctypes.c_void_p]
        self._lib = lib
        self._state = lib.plc_init(None)

    def good(self, pcm: np.ndarray) -> np.ndarray:
        out = np.array(pcm, dtype=np.int16)
        self._lib.plc_rx(self._state, out.ctypes.data, len(out))
        return out

    def conceal(self, n: int) -> np.ndarray:
        out = np.zeros(n, dtype=np.int16)
        self._lib.plc_fillin(self._state, out.ctypes.data, n)
        return out

    def __del__(self) -> None:
        self._lib.plc_free(self._state)


def transmit(pcm: np.ndarray, lost: np.ndarray, method: str) -> np.ndarray:
    c = codec("PCMU")
    anchor = SpandspPlc() if method == "spandsp" else None
    out = []
    for k, is_lost in enumerate(lost):
        payload = c.encode(pcm[k * FRAME:(k + 1) * FRAME])
        if method == "zeros":
            out.append(np.zeros(FRAME, np.int16) if is_lost else c.decode(payload))
        elif method == "offhook":
            out.append(c.conceal(FRAME) if is_lost else c.decode(payload))
        else:
            assert anchor is not None
            decoded = np.frombuffer(audioop.ulaw2lin(payload, 2), dtype=np.int16)
            out.append(anchor.conceal(FRAME) if is_lost else anchor.good(decoded))
    return np.concatenate(out)


def quality() -> list[dict[str, float]]:
    pcm = np.concatenate([speech(2.5, RATE, talker) for talker in range(4)])
    n_frames = len(pcm) // FRAME
    pcm = pcm[:n_frames * FRAME]
    rows = []
    for loss in (0.0, 0.05, 0.20):
        scores: dict[str, list[float]] = {"zeros": [], "offhook": [], "spandsp": []}
        for seed in SEEDS:
            rng = np.random.default_rng(seed)
            lost = np.zeros(n_frames, dtype=bool)
            lost[rng.choice(n_frames, round(loss * n_frames), replace=False)] = True
            for method, got in scores.items():
                got.append(pesq_score(pcm, transmit(pcm, lost, method), RATE))
        rows.append({"loss_pct": loss * 100, **{m: float(np.mean(s)) for m, s in scores.items()}})
    return rows


def cost() -> dict[str, float]:
    pcm = np.ascontiguousarray(speech(1.0, RATE)[:FRAME])
    c = codec("PCMU")
    payload = c.encode(pcm)
    anchor = SpandspPlc()

    def ours() -> None:
        c.decode(payload)
        c.conceal(FRAME)

    def theirs() -> None:
        anchor.good(np.frombuffer(audioop.ulaw2lin(payload, 2), dtype=np.int16))
        anchor.conceal(FRAME)

    timed: dict[str, Callable[[], None]] = {"offhook": ours, "spandsp": theirs}
    t = race(timed)
    return {"offhook_us": t["offhook"] * 1e6, "spandsp_us": t["spandsp"] * 1e6,
            "speedup": t["spandsp"] / t["offhook"]}


def main() -> None:
    q = quality()
    print_table("PESQ-NB, PCMU, 10 s speech, 20 ms frames, mean of 3 loss patterns",
                ["loss %", "zero insertion", "offhook PLC", "spandsp PLC"],
                [[r["loss_pct"], r["zeros"], r["offhook"], r["spandsp"]] for r in q])
    k = cost()
    print_table("PCMU decode of a good 20 ms frame + concealment of a lost one",
                ["offhook µs", "spandsp µs", "speed-up ×"],
                [[k["offhook_us"], k["spandsp_us"], k["speedup"]]])
    write_json("plc", [{"table": "quality", **r} for r in q] + [{"table": "cost", **k}])


if __name__ == "__main__":
    main()
