"""Per lesson: headless execution time, kernel peak memory and widget latency.

    .venv/bin/python benchmarks/bench_notebooks.py [names...]

Each notebook runs in a fresh kernel (mathdl_harness/nbrun.py); then every widget is driven through
its range in that kernel, and each Playground's redraw times (recompute + render) are read
back, with their median split into compute (the lesson's draw function), render (matplotlib),
encode (PNG) and send (handing the picture to the widget). Targets: <= 20 s per notebook, <= 2 min for the course, < 1 GB per kernel, widget
redraw <= 100 ms median.
"""

import sys
import time

from mathdl_harness.course import LESSONS
from mathdl_harness.nbrun import run_notebook


def main(names):
    rows, total = [], 0.0
    t0 = time.perf_counter()
    for name in names:
        r = run_notebook(name)
        total += r["seconds"]
        pgs = r.get("playgrounds", [])
        med = max((p["latency_median_ms"] for p in pgs), default=float("nan"))
        p95 = max((p["latency_p95_ms"] for p in pgs), default=float("nan"))
        rows.append(
            (
                name,
                r["seconds"],
                r["startup_seconds"],
                r.get("peak_rss_mb", float("nan")),
                med,
                p95,
                len(r["errors"]) + len(r.get("widget_errors", [])),
            )
        )
        phases = "; ".join(
            " ".join(f"{k} {v:.1f}" for k, v in p.get("phases_median_ms", {}).items()) for p in pgs
        )
        print(
            f"{name:26s} run {r['seconds']:6.2f} s  kernel start {r['startup_seconds']:4.2f} s  "
            f"peak {rows[-1][3]:6.0f} MB  widget median {med:5.1f} ms  p95 {p95:5.1f} ms  errors {rows[-1][6]}"
            f"  [redraw ms: {phases}]",
            flush=True,
        )
    wall = time.perf_counter() - t0
    print(
        f"\ncourse: {total:.1f} s of notebook execution ({wall:.1f} s wall, kernel starts and widget driving included)"
    )
    print("| notebook | run (s) | peak memory (MB) | widget median (ms) | widget p95 (ms) |")
    print("|---|---:|---:|---:|---:|")
    for name, sec, _, mem, med, p95, _ in rows:
        print(f"| {name} | {sec:.2f} | {mem:.0f} | {med:.1f} | {p95:.1f} |")


if __name__ == "__main__":
    main(sys.argv[1:] or LESSONS)
