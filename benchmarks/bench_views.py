"""Redraw time of the lesson 08/09 playgrounds (mathdl.views), at two picture sizes.

    .venv/bin/python benchmarks/bench_views.py [repeats]

Builds the race playground and the per-layer statistics playground twice each, at the lessons'
960 px / dpi 100 and at the former 576-648 px / dpi 72, then changes the learning rate of all four
in turn (interleaved, so machine load hits them alike) and prints the median and p95 redraw time
(recompute + render to PNG, in the kernel; no browser). Also times the race's computation alone.
"""

import sys
import time

import numpy as np

import mathdl
from mathdl import surfaces
from mathdl.views.layers import layer_stats_playground
from mathdl.views.race import race_playground, run_path


def main(repeats=12):
    X, y = mathdl.data.spirals(n_per_class=50, n_classes=3, noise=0.2, seed=0)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    pgs = {
        "race, 960 px, dpi 100": race_playground(),
        "race, 576 px, dpi 72": race_playground(figsize=(8, 3.6), dpi=72),
        "layers, 960 px, dpi 100": layer_stats_playground(X, y),
        "layers, 648 px, dpi 72": layer_stats_playground(X, y, figsize=(9, 3.4), dpi=72),
    }
    times = {k: [] for k in pgs}
    for r in range(repeats):
        for k, pg in pgs.items():
            pg.set(lr=(0.01, 0.02, 0.03)[r % 3])
            times[k].append(pg.latencies[-1] * 1000)
    for k, t in times.items():
        print(f"{k:26s} median {np.median(t):6.1f} ms   p95 {np.percentile(t, 95):6.1f} ms")
    compute = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for spec in ("gd", "momentum", "rmsprop", "adam"):
            run_path(surfaces.ravine(), spec, steps=300, lr=0.02)
        compute.append((time.perf_counter() - t0) * 1000)
    print(f"{'race compute only (4 x 300)':26s} median {np.median(compute):6.1f} ms")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
