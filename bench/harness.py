"""Shared timing and reporting for the plain-script benchmarks in bench/.

Every benchmark times offhook and its anchor in the same run with the same
method, prints a table with the ratio, and writes JSON to bench/out/.
"""
from __future__ import annotations

import json
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

OUT_DIR = Path(__file__).resolve().parent / "out"


def seconds_per_call(fn: Callable[[], object], *, min_time: float = 0.2, repeat: int = 7) -> float:
    """Median over `repeat` rounds of the mean time per call; each round lasts >= min_time."""
    fn()  # warm caches and lazy initialisation
    number = 1
    while True:
        start = time.perf_counter()
        for _ in range(number):
            fn()
        elapsed = time.perf_counter() - start
        if elapsed >= min_time / 4:
            break
        number *= 4
    number = max(1, int(number * (min_time / max(elapsed, 1e-9))))
    rounds = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        rounds.append((time.perf_counter() - start) / number)
    return statistics.median(rounds)


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    cells = [[_fmt(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h)
              for i, h in enumerate(header)]
    print(f"\n{title}")
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")


def write_json(name: str, rows: list[dict[str, Any]]) -> Path:
    OUT_DIR.mkdir(exist_ok=True)
    path = OUT_DIR / f"{name}.json"
    meta = {"python": sys.version.split()[0], "machine": platform.machine(),
            "processor": platform.processor(), "time": time.strftime("%Y-%m-%dT%H:%M:%S")}
    path.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    return path


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        if value != value:  # NaN
            return "n/a"
        return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)
