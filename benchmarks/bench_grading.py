#!/usr/bin/env python3
"""Grading throughput with the sandbox: grade N submissions with 1, 2, ... jobs; seconds per notebook.

    .venv/bin/python benchmarks/bench_grading.py                          # 20 of 04_gradients, 1 job
    .venv/bin/python benchmarks/bench_grading.py --n 100 --jobs 1,2       # the parallel speed-up
    .venv/bin/python benchmarks/bench_grading.py --n 10 --assignment 05_chain_rule

Everything happens in temporary courses (the repository's gradebook is not touched), through
``mathdl_grading.cli.grade``, the code behind ``make grade``: generate_assignment, the solution's
reference run, then per student nbgrader's autograde with a fresh sandboxed kernel (bubblewrap),
HTML feedback and grades.csv. The N submissions are the solution, except every fourth, which
is the student version (the exercise, scoring 0), so that the scores differ between students.
Each number of jobs grades its own copy of the same submissions, and the scores of every run
must equal those of the first (the run stops otherwise).

"Per notebook, median" is one student's autograde (kernel start included; with several jobs it
runs beside the others); "whole run per notebook" divides the total wall time by N, and the
speed-up is the first run's total over this one's. "grader CPU per notebook" is the CPU time of
this process and its workers over N (not the kernels': they end outside this process tree and
are not counted): it hardly depends on what else runs on the machine, so it shows what the
parallel machinery costs (worker start, per-student feedback) over the one-job grader. The load average (1 min, from
/proc/loadavg) is printed before and after each run: on a shared machine other jobs take cores
too. Target: at least 1.7x with 2 jobs on 2 cores.
"""

import argparse
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

from mathdl_grading import cli, reference

ROOT = Path(__file__).resolve().parents[1]


def make_course(root, assignment, n):
    (root / "solutions").mkdir(parents=True)
    shutil.copy(ROOT / "nbgrader_config.py", root)
    shutil.copytree(ROOT / "solutions" / assignment, root / "solutions" / assignment)
    for i in range(n):
        folder = root / "submitted" / f"s{i:03d}" / assignment
        folder.mkdir(parents=True)
        source = "exercises" if i % 4 == 3 else "solutions"
        shutil.copy(ROOT / source / assignment / f"{assignment}.ipynb", folder)


def cpu_seconds():
    """CPU time of this process and of the children it reaped (the workers)."""
    me, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def load():
    return float(Path("/proc/loadavg").read_text().split()[0])


def run(assignment, n, jobs):
    with tempfile.TemporaryDirectory(prefix="mathdl-bench-") as tmp:
        root = Path(tmp) / "course"
        make_course(root, assignment, n)
        reference._MEMORY.clear()  # each run computes its own references, as a fresh command does
        load_before = load()
        cpu0 = cpu_seconds()
        t0 = time.perf_counter()
        report = cli.grade(assignment, root, jobs=jobs)
        wall = time.perf_counter() - t0
        cpu = cpu_seconds() - cpu0
    students = report["students"]
    bad = [(s, e["status"]) for s, e in students.items() if e["status"] != "graded"]
    if bad:
        raise SystemExit(f"grading failed: {bad[:3]}")
    per = [s["seconds"] for s in students.values()]
    return dict(
        jobs=jobs,
        n=n,
        wall=wall,
        median=statistics.median(per),
        whole=wall / n,
        cpu=cpu / n,
        phases=report["phases"],
        scores={s: e["score"] for s, e in students.items()},
        load=(load_before, load()),
    )


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--assignment", default="04_gradients")
    ap.add_argument("--n", type=int, default=20, help="submissions (default 20)")
    ap.add_argument("--jobs", default="1", help="comma-separated numbers of jobs (default 1)")
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")  # SQLAlchemy's warnings from nbgrader, as mathdl-grade does
    jobs = [int(j) for j in args.jobs.split(",")]
    print(f"{args.assignment}, {args.n} notebooks, sandboxed (bubblewrap), {os.cpu_count()} cores:")
    head = "| jobs | total (s) | per notebook, median (s) | whole run per notebook (s) | grader CPU per notebook (s) | speed-up | load before/after |"
    print(head)
    print("|---|---|---|---|---|---|---|")
    first = None
    for j in jobs:
        r = run(args.assignment, args.n, j)
        first = first or r
        if r["scores"] != first["scores"]:
            diff = {
                s: (first["scores"][s], v)
                for s, v in r["scores"].items()
                if first["scores"][s] != v
            }
            raise SystemExit(f"jobs={j} gave different scores from jobs={first['jobs']}: {diff}")
        speed = first["wall"] / r["wall"]
        print(
            f"| {j} | {r['wall']:.1f} | {r['median']:.2f} | {r['whole']:.2f} | {r['cpu']:.2f} | {speed:.2f}x "
            f"| {r['load'][0]:.1f} / {r['load'][1]:.1f} |",
            flush=True,
        )
        print(
            "  phases (s):", ", ".join(f"{k} {v:.1f}" for k, v in r["phases"].items()), flush=True
        )
    print(f"scores identical across jobs={args.jobs}: yes ({len(first['scores'])} students)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
