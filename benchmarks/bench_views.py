"""Redraw time of the lesson 08/09 playgrounds (mathdl.views), in the kernel (no browser).

    .venv/bin/python benchmarks/bench_views.py [repeats]

Builds the race playground (lesson 08) and the per-layer statistics playground (lesson 09) as
the lessons do, then moves the learning rate one slider notch (10^0.1) at a time, alternating
between the two playgrounds so that machine load hits them alike:

* "new": down to a value not shown before (everything recomputed),
* "again": back up through the same values (the playgrounds reuse what they computed).

Prints the median and p95 redraw time (recompute + render + PNG encode + hand-off to the
widget) and the median of each phase (``Playground.timings``), then the race's computation
alone (4 optimizers x 300 steps).
"""

import statistics
import sys
import time

import numpy as np

import mathdl
from mathdl import surfaces
from mathdl.views.layers import layer_stats_playground
from mathdl.views.race import race_playground, run_path


def report(label, pg, first):
    t = pg.timings[first:]
    total = [1000 * sum(x.values()) for x in t]
    phases = " ".join(f"{k} {1000 * statistics.median(x[k] for x in t):5.1f}" for k in t[0])
    print(
        f"{label:22s} median {np.median(total):6.1f} ms  p95 {np.percentile(total, 95):6.1f} ms"
        f"  (n={len(t)}; medians: {phases})",
        flush=True,
    )


def main(repeats=20):
    X, y = mathdl.data.spirals(n_per_class=50, n_classes=3, noise=0.2, seed=0)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    pgs = {"race (08)": race_playground(), "layers (09)": layer_stats_playground(X, y)}
    # one notch down per step (values not shown before), then back up through the same values
    values = {
        name: [float(pg.controls["lr"].value * 10 ** (-0.1 * (r + 1))) for r in range(repeats)]
        for name, pg in pgs.items()
    }
    for kind in ("new", "again"):
        start = {name: len(pg.timings) for name, pg in pgs.items()}
        for r in range(repeats):
            for name, pg in pgs.items():
                pg.set(lr=values[name][r if kind == "new" else repeats - 1 - r])
        for name, pg in pgs.items():
            report(f"{name}, {kind}", pg, start[name])
    compute = []
    for _ in range(repeats // 2):
        t0 = time.perf_counter()
        for spec in ("gd", "momentum", "rmsprop", "adam"):
            run_path(surfaces.ravine(), spec, steps=300, lr=0.02)
        compute.append((time.perf_counter() - t0) * 1000)
    print(f"{'race compute only (4 x 300 steps)':34s} median {np.median(compute):6.1f} ms")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
