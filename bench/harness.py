"""Shared timing and reporting for the plain-script benchmarks in bench/.

Every benchmark times offhook and its anchor in the same run with the same
method, prints a table with the ratio, and writes JSON to bench/out/.
"""
from __future__ import annotations

import json
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = ROOT / "bench" / "out"


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


def race(candidates: dict[str, Callable[[], object]], *, rounds: int = 15,
         round_time: float = 0.05) -> dict[str, float]:
    """Seconds per call of each candidate, timed in interleaved rounds, best round kept.

    Load from other processes only ever adds time, and interleaving spreads it
    over all candidates alike, so the best round of each is the fairest
    comparison on a shared machine.
    """
    numbers = {}
    for name, fn in candidates.items():
        fn()  # warm caches and lazy initialisation
        number, elapsed = 1, 0.0
        while elapsed < round_time / 4:
            number *= 2
            start = time.perf_counter()
            for _ in range(number):
                fn()
            elapsed = time.perf_counter() - start
        numbers[name] = max(1, int(number * round_time / elapsed))
    best = dict.fromkeys(candidates, float("inf"))
    for _ in range(rounds):
        for name, fn in candidates.items():
            number = numbers[name]
            start = time.perf_counter()
            for _ in range(number):
                fn()
            best[name] = min(best[name], (time.perf_counter() - start) / number)
    return best


def build_c_driver(driver: str, core: Sequence[str], libs: Sequence[str],
                   out_dir: Path) -> Path | None:
    """Compiles bench/<driver>.c with csrc/oh_<name>.c for each name in `core` (and the
    allocator) at the library's optimisation level, linking -l<lib> for each of `libs`.

    Timing the core from C this way shows the bindings' overhead separately. Returns the
    program's path, or None when there is no C compiler.
    """
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        return None
    exe = out_dir / driver
    sources = [ROOT / "bench" / f"{driver}.c", *(ROOT / "csrc" / f"oh_{n}.c" for n in (*core, "alloc"))]
    subprocess.run([cc, "-O3", "-std=c11", "-D_POSIX_C_SOURCE=199309L",
                    "-I", str(ROOT / "csrc/include"), "-I", str(ROOT / "csrc"),
                    *map(str, sources), *(f"-l{lib}" for lib in libs), "-lm", "-o", str(exe)],
                   check=True)
    return exe


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
