"""Dialer pacing: agent utilisation and abandon rate per mode over several call-centre scenarios.

A plain script (run: .venv/bin/python bench/bench_dialer.py [--seeds N]).  Each
scenario is one simulated hour of dialling (offhook.dialer.sim, deterministic
per seed); figures are means over the seeds.  The anchor is progressive mode —
the dialer that cannot abandon — and the ratio printed is predictive's agent
utilisation (talk time / agent time) over progressive's.  The simulator's
own speed (simulated seconds per wall second) is printed too.
"""
from __future__ import annotations

import argparse
import statistics
import time

from harness import print_table, write_json
from offhook.dialer.pacing import make_policy
from offhook.dialer.sim import Scenario, SimResult, simulate

SCENARIOS = (
    Scenario("baseline: 20 agents, 30 % live", agents=20),
    Scenario("small team: 5 agents", agents=5, p_human=0.25, talk_mean=60.0),
    Scenario("low answer: 30 agents, 12 % live", agents=30, p_human=0.12, p_machine=0.2),
    Scenario("long calls: 50 agents, 5 min cv 1.2", agents=50, talk_mean=300.0, talk_cv=1.2),
    Scenario("large: 100 agents, 20 % live", agents=100, p_human=0.2, talk_mean=120.0),
)
MODES = ("progressive", "preview", "predictive")  # progressive first: the anchor


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seeds", type=int, default=5)
    args = ap.parse_args()
    rows = []
    json_rows = []
    for sc in SCENARIOS:
        util: dict[str, float] = {}
        for mode in MODES:
            results: list[SimResult] = []
            start = time.perf_counter()
            for seed in range(args.seeds):
                results.append(simulate(sc, make_policy(mode, abandon_target=0.03,
                                                      ring_timeout=sc.ring_timeout + sc.amd_seconds), seed))
            wall = time.perf_counter() - start
            u = statistics.mean(r.utilisation for r in results)
            util[mode] = u
            worst = max(r.abandon_rate for r in results)
            row = {
                "scenario": sc.name, "mode": mode, "utilisation": u,
                "occupancy": statistics.mean(r.occupancy for r in results),
                "abandon_rate_mean": statistics.mean(r.abandon_rate for r in results),
                "abandon_rate_worst": worst,
                "average_wait_s": statistics.mean(r.average_wait for r in results),
                "live_per_hour": statistics.mean(r.live for r in results) * 3600.0 / sc.duration,
                "peak_in_flight": max(r.peak_in_flight for r in results),
                "sim_speed_x": sc.duration * args.seeds / wall,
                "vs_progressive": u / util["progressive"] if "progressive" in util else float("nan"),
            }
            json_rows.append(row)
            rows.append([sc.name, mode, f"{u * 100:.1f} %", f"{row['occupancy'] * 100:.1f} %",
                         f"{row['abandon_rate_mean'] * 100:.2f} %", f"{worst * 100:.2f} %",
                         f"{row['average_wait_s']:.2f}", f"{row['live_per_hour']:.0f}",
                         row["peak_in_flight"], f"{row['vs_progressive']:.2f}",
                         f"{row['sim_speed_x']:.0f}"])
    print_table(f"Dialer pacing, 1 h simulated, {args.seeds} seeds, abandon target 3 %",
                ["scenario", "mode", "talk util", "occupancy", "abandon mean", "abandon worst",
                 "wait s", "live/h", "peak lines", "util ÷ progressive", "sim × real time"], rows)
    print(f"\nJSON: {write_json('bench_dialer', json_rows)}")


if __name__ == "__main__":
    main()
