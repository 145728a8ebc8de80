"""Conference mixer cost: 16 kHz, 10 ms ticks, 3 / 10 / 100 participants.

For each size, two loads: everyone talking (the worst case: every frame is
summed and every participant gets its own mix-minus) and three talkers
(a real conference: the others listen and share one mix). Timed per tick:
  - C: oh_mixer from C (bench/mixer_cost.c, compiled here with -O3 like the
    library), puts + mix; and the naive bridge as the anchor — for each
    listener, sum the other inputs and hard-clip (O(N^2)), also in C;
  - Python: ConferenceMixer.mix({id: frame}) -> {id: output} (all outputs
    copied into new arrays), and put() per talker + tick() without reading
    outputs, so that the binding's share is visible;
  - NumPy anchor: the same mix-minus written with NumPy (int32 sum, subtract,
    clip), what a Python bridge would do.
% of a core = time per tick / 10 ms. Issue 5's target: 100-party mix-minus
< 2 % of a core (< 200 µs per tick).

    .venv/bin/python bench/bench_mixer.py
"""
from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import numpy as np

from harness import build_c_driver, print_table, seconds_per_call, write_json
from offhook.engine import ConferenceMixer

RATE, N, TICK_S = 16000, 160, 0.010


def c_costs(cases: list[tuple[int, int]]) -> dict[tuple[int, int], tuple[float, float]] | None:
    """ns per tick (offhook, naive bridge) from C for each (participants, talkers); None without cc."""
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        exe = build_c_driver("mixer_cost", ["mixer"], [], Path(tmp))
        if exe is None:
            return None
        for n, talkers in cases:
            res = subprocess.run([str(exe), str(n), str(talkers), str(N), "3000"], check=True,
                                 capture_output=True, text=True)
            ours, naive, _ = res.stdout.split()
            out[(n, talkers)] = (float(ours), float(naive))
    return out


def numpy_mix_minus(frames: np.ndarray, ids: list[int], talkers: int) -> dict[int, np.ndarray]:
    total = frames[:talkers].sum(axis=0, dtype=np.int32)
    outs = {}
    for k, pid in enumerate(ids):
        mix = total - frames[k] if k < talkers else total
        outs[pid] = np.clip(mix, -32768, 32767).astype(np.int16)
    return outs


def main() -> None:
    rng = np.random.default_rng(1)
    cases = [(3, 3), (10, 10), (10, 3), (100, 100), (100, 3)]
    in_c = c_costs(cases)
    rows = []
    for n, talkers in cases:
        m = ConferenceMixer(RATE, N, max_participants=n)
        ids = [1000 + 7 * k for k in range(n)]
        for pid in ids:
            m.add(pid)
        frames = rng.integers(-3000, 3000, (n, N)).astype(np.int16)
        inputs = {pid: frames[k] for k, pid in enumerate(ids[:talkers])}
        talking = list(inputs.items())

        def put_tick(m: ConferenceMixer = m, talking: list[tuple[int, np.ndarray]] = talking) -> None:
            for pid, f in talking:
                m.put(pid, f)
            m.tick()

        py_mix = seconds_per_call(lambda: m.mix(inputs), min_time=0.1, repeat=5)
        py_put = seconds_per_call(put_tick, min_time=0.1, repeat=5)
        np_mix = seconds_per_call(lambda: numpy_mix_minus(frames, ids, talkers), min_time=0.1, repeat=5)
        c_ours, c_naive = in_c[(n, talkers)] if in_c else (float("nan"), float("nan"))
        rows.append({"participants": n, "talkers": talkers, "c_us": c_ours / 1e3, "c_naive_us": c_naive / 1e3,
                     "py_put_tick_us": py_put * 1e6, "py_mix_us": py_mix * 1e6, "numpy_us": np_mix * 1e6,
                     "c_core_pct": 100 * c_ours * 1e-9 / TICK_S, "py_mix_core_pct": 100 * py_mix / TICK_S})
    print_table("Conference mixer, 16 kHz, 10 ms ticks: µs per tick (% of a core = µs / 100)",
                ["parties", "talkers", "C µs", "C naive µs", "naive/offhook ×", "Py put+tick µs",
                 "Py mix() µs", "NumPy µs", "NumPy/Py mix ×", "C % core", "Py mix % core"],
                [[r["participants"], r["talkers"], r["c_us"], r["c_naive_us"], r["c_naive_us"] / r["c_us"],
                  r["py_put_tick_us"], r["py_mix_us"], r["numpy_us"], r["numpy_us"] / r["py_mix_us"],
                  r["c_core_pct"], r["py_mix_core_pct"]] for r in rows])
    worst = next(r for r in rows if r["participants"] == 100 and r["talkers"] == 100)
    verdict = "met" if worst["c_us"] < 200 and worst["py_mix_us"] < 200 else "NOT met"
    print(f"\n100-party mix-minus, all talking: {worst['c_us']:.1f} µs from C, {worst['py_mix_us']:.1f} µs "
          f"through mix(); target < 200 µs (2 % of a core): {verdict}")
    write_json("mixer", rows)


if __name__ == "__main__":
    main()
