#!/usr/bin/env python3
"""Grading throughput: grade N copies of a submission and report seconds per notebook.

    .venv/bin/python benchmarks/bench_grading.py                 # 20 copies of 04_gradients, jobs 1 and auto
    .venv/bin/python benchmarks/bench_grading.py --n 40 --assignment 05_chain_rule --jobs 2

Everything happens in a temporary course copy (the repository's gradebook is not touched). The
full pipeline runs, as ``make grade`` does: generate_assignment, preparation and static scan,
autograding (kernel start, execution, gradebook), verification, HTML feedback, grades.csv.
"Per notebook" is the wall-clock time of the whole run divided by N; the autograde phase and
the median time one notebook spends in its grading process (kernel start included) are shown
too. Target: at most 3 s per notebook.
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "tests"))

import grading_fixtures as gf  # noqa: E402
from mathdl_grading import cli  # noqa: E402


def run(assignment, n, jobs, kind="solution"):
    with tempfile.TemporaryDirectory(prefix="mathdl-bench-") as tmp:
        root = gf.make_course(Path(tmp) / "course", [assignment])
        nb = gf.solution(assignment) if kind == "solution" else gf.exercise(assignment)
        for i in range(n):
            gf.save(nb, root, f"s{i:03d}", assignment)
        t0 = time.perf_counter()
        report = cli.grade(assignment, cli.Settings(root=root, quiet=True, jobs=jobs))
        wall = time.perf_counter() - t0
        per_student = [r["seconds"] for r in report["students"].values()]
        bad = [s for s, r in report["students"].items() if r["status"] != "graded" or r["errors"]]
        if bad:
            raise SystemExit(f"grading failed for {bad[:3]}: see {root}/nbgrader_work")
        return dict(
            jobs=report["jobs"],
            n=n,
            wall=wall,
            per_notebook=wall / n,
            autograde_per_notebook=report["phases"]["autograde"] / n,
            median_process=statistics.median(per_student),
            phases=report["phases"],
        )


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--assignment", default="04_gradients")
    ap.add_argument("--n", type=int, default=20, help="copies of the submission (default 20)")
    ap.add_argument(
        "--jobs", default="1,auto", help="comma-separated job counts; 'auto' = the default"
    )
    ap.add_argument("--kind", choices=("solution", "exercise"), default="solution")
    args = ap.parse_args(argv)
    rows = []
    for j in args.jobs.split(","):
        jobs = cli.default_jobs() if j.strip() == "auto" else int(j)
        rows.append(run(args.assignment, args.n, jobs, args.kind))
    print(
        f"Grading {args.n} copies of the {args.kind} of {args.assignment} "
        f"(full pipeline incl. feedback and grades.csv):\n"
    )
    print(
        "| jobs | total (s) | per notebook (s) | autograde phase per notebook (s) | median grading process (s) |"
    )
    print("|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['jobs']} | {r['wall']:.1f} | {r['per_notebook']:.2f} | {r['autograde_per_notebook']:.2f} "
            f"| {r['median_process']:.2f} |"
        )
    print(
        "\nphases (s):",
        "; ".join(
            f"jobs {r['jobs']}: " + ", ".join(f"{k} {v:.1f}" for k, v in r["phases"].items())
            for r in rows
        ),
    )
    worst = max(r["per_notebook"] for r in rows if r["jobs"] == rows[-1]["jobs"])
    print(f"\ntarget <= 3 s per notebook: {'met' if worst <= 3.0 else 'NOT met'} ({worst:.2f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
