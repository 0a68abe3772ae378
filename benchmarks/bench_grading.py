#!/usr/bin/env python3
"""Grading throughput with the sandbox: grade N copies of a solution, report seconds per notebook.

    .venv/bin/python benchmarks/bench_grading.py                    # 20 copies of 04_gradients
    .venv/bin/python benchmarks/bench_grading.py --n 10 --assignment 05_chain_rule

Everything happens in a temporary course (the repository's gradebook is not touched), through
``mathdl_grading.cli.grade``, the code behind ``make grade``: generate_assignment, the solution's
reference run, then per student nbgrader's autograde with a fresh sandboxed kernel (bubblewrap),
HTML feedback and grades.csv. "Per notebook" is the median time of one student's autograde
(kernel start included); "whole run per notebook" divides the total wall time by N. Target: at
most 3 s per notebook, kernel start included.
"""

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from mathdl_grading import cli

ROOT = Path(__file__).resolve().parents[1]


def run(assignment, n):
    with tempfile.TemporaryDirectory(prefix="mathdl-bench-") as tmp:
        root = Path(tmp) / "course"
        (root / "solutions").mkdir(parents=True)
        shutil.copy(ROOT / "nbgrader_config.py", root)
        shutil.copytree(ROOT / "solutions" / assignment, root / "solutions" / assignment)
        for i in range(n):
            folder = root / "submitted" / f"s{i:03d}" / assignment
            folder.mkdir(parents=True)
            shutil.copy(ROOT / "solutions" / assignment / f"{assignment}.ipynb", folder)
        t0 = time.perf_counter()
        report = cli.grade(assignment, root)
        wall = time.perf_counter() - t0
    students = report["students"].values()
    bad = [s for s in students if s["status"] != "graded"]
    if bad:
        raise SystemExit(f"grading failed: {bad[:2]}")
    per = [s["seconds"] for s in students]
    return dict(
        n=n,
        wall=wall,
        median=statistics.median(per),
        worst=max(per),
        whole=wall / n,
        phases=report["phases"],
    )


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--assignment", default="04_gradients")
    ap.add_argument("--n", type=int, default=20, help="copies of the solution (default 20)")
    args = ap.parse_args(argv)
    r = run(args.assignment, args.n)
    print(f"{args.assignment}, {r['n']} notebooks, sandboxed (bubblewrap):")
    print(
        "| total (s) | per notebook, median (s) | per notebook, max (s) | whole run per notebook (s) |"
    )
    print("|---|---|---|---|")
    print(f"| {r['wall']:.1f} | {r['median']:.2f} | {r['worst']:.2f} | {r['whole']:.2f} |")
    print("phases (s):", ", ".join(f"{k} {v:.1f}" for k, v in r["phases"].items()))
    print(f"target <= 3 s per notebook: {'met' if r['median'] <= 3.0 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
