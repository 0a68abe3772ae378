"""``mathdl-grade <assignment>`` (``make grade ASSIGNMENT=...``): nbgrader's own steps, sandboxed.

1. Without a working sandbox (bubblewrap) it stops and says so, unless ``--unsafe``.
2. ``generate_assignment`` into nbgrader_work/<assignment>/release records the assignment, its
   cells and points in the gradebook (exercises/ is not touched).
3. The solution runs once in the sandbox: its ``check()`` answers are the references
   (:mod:`.reference`); a solution that fails its own tests stops grading here.
4. Every folder under submitted/ becomes a student (so everyone gets a row in grades.csv); a
   missing or unreadable notebook scores 0 with a note in the report.
5. ``autograde`` for each student with nbgrader_config.py's preprocessors (sandboxed kernel,
   scores decided in this process), then ``generate_feedback`` and grades.csv (nbgrader's CSV
   export). nbgrader's own files (timestamp.txt, submission_secret.txt) are kept, so
   ``nbgrader release_feedback`` works afterwards.
6. A report: the terminal and nbgrader_work/<assignment>/report.md. A submission the grader
   could not grade (for example a kernel that never started) is a GRADING ERROR, listed with
   its log, and the exit status is 1: never a silent 0.
"""

import argparse
import contextlib
import json
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from nbgrader.api import Gradebook
from nbgrader.converters import GenerateAssignment, GenerateFeedback
from nbgrader.coursedir import CourseDirectory
from traitlets.config import Config

from . import late, parallel, regrade, schema_cache
from .apps import load_config, run_app
from .intake import Limits
from .parallel import default_jobs
from .reference import references
from .results import record_scores, render
from .roster import submissions
from .safe_autograde import SafeAutograde as Autograde
from .sandbox import bwrap_problem


def prepare_assignment(root: Path, cfg: Config, assignment: str, work: Path) -> None:
    """generate_assignment into ``work``/release (the gradebook's cells, baked), then the
    solution's references (run once in the sandbox, cached)."""
    res = run_app(GenerateAssignment, cfg, assignment, create_assignment=True)
    if not res["success"]:
        raise SystemExit(f"generate_assignment failed for {assignment}:\n{res['log'][-3000:]}")
    references(solution_of(root, assignment), cfg, work.parent / "references")


def solution_of(root: Path, assignment: str) -> Path:
    return root / "solutions" / assignment / f"{assignment}.ipynb"


def prepare(
    root: Path,
    cfg: Config,
    assignment: str,
    only: list[str] | None,
    fetch: parallel.Prefetch | None,
) -> dict[str, tuple[str, str]]:
    """Everything before the students: ``{student: (status, note)}`` (:func:`.roster.submissions`),
    the gradebook (created if new), the assignment and its references (:func:`prepare_assignment`),
    the late-day policy's dates. ``fetch``: the reference runs that grading workers are doing
    meanwhile (:class:`.parallel.Prefetch`), or None."""
    coursedir = CourseDirectory(config=cfg)
    with Gradebook(coursedir.db_url, coursedir.course_id):  # a new one is created here
        pass
    todo = submissions(root, assignment, only, Limits.of(coursedir))
    if fetch:
        fetch.store(cfg)
    prepare_assignment(root, cfg, assignment, root / "nbgrader_work" / assignment)
    late.prepare(root, cfg, assignment, list(todo))  # due date and extensions into the gradebook
    return todo


def grade_serial(
    cfg: Config,
    assignment: str,
    todo: dict[str, tuple[str, str]],
    done: dict[str, dict[str, Any]],
    out: dict[str, dict[str, Any]],
) -> None:
    """``out[student]``: the report entry of each student of ``todo``: those ``done`` in parallel
    as they are, the others graded here, one at a time (autograde; feedback comes after)."""
    progress = parallel.Progress(len(todo), quiet=bool(done))
    for student, (status, note) in todo.items():
        if student in done:  # graded in parallel: autograde and feedback done
            out[student] = done[student]
            if note:  # what intake refused in this submission (the worker does not know)
                done[student]["note"] = (note + "\n" + done[student].get("note", "")).strip()
            continue
        start = time.monotonic()
        if status == "graded":
            res = run_app(Autograde, cfg, assignment, student, create_student=True)
            if not res["success"]:
                status, note = "error", (res.get("error") or "") + res["log"][-4000:]
        seconds = round(time.monotonic() - start, 3)
        out[student] = {"status": status, "note": note, "seconds": seconds}
        progress.update(status)


def grade(
    assignment: str,
    root: Path | str | None = None,
    students: list[str] | None = None,
    jobs: int = 1,
    **settings: Any,
) -> dict[str, Any]:
    """Grade every submission of ``assignment``; returns the report dict (see :func:`main`).
    ``jobs`` > 1: that many students at once (:mod:`.parallel`), in worker processes started
    first, which run the solution's and the catalogued mistakes' reference runs while this
    process prepares the rest."""
    schema_cache.install()  # nbgrader's metadata check, its schema checked once, not per cell
    root = Path(root or Path.cwd()).resolve()
    cfg = load_config(root, **settings)
    late.configure(cfg, root)  # the late-day policy, if the course has one (late.py)
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    work = root / "nbgrader_work" / assignment
    cfg.CourseDirectory.release_directory = str(work / "release")
    clock = [time.monotonic()]

    def lap() -> float:  # seconds since the last lap
        clock.append(time.monotonic())
        return round(clock[-1] - clock[-2], 2)

    manager = parallel.workers(cfg, root, assignment, jobs) if jobs > 1 else None
    with manager or contextlib.nullcontext() as pool:
        cache = work.parent / "references"
        fetch = parallel.Prefetch(pool, solution_of(root, assignment), cache) if pool else None
        before = regrade.snapshot(root, assignment)  # scores before this run (regrade.py)
        todo = prepare(root, cfg, assignment, students, fetch)
        report: dict[str, Any] = {"assignment": assignment, "students": {}}
        report["phases"] = {"prepare": lap()}
        graded = [s for s, (status, _) in todo.items() if status == "graded"]
        done = parallel.grade_parallel(pool, cfg, assignment, graded) if pool else {}
    grade_serial(cfg, assignment, todo, done, report["students"])
    report["phases"]["autograde"] = lap()
    if done:
        report["feedback_ok"] = all(e.get("feedback_ok", True) for e in done.values())
    elif any(s["status"] == "graded" for s in report["students"].values()):
        report["feedback_ok"] = run_app(GenerateFeedback, cfg, assignment)["success"]
        report["phases"]["feedback"] = lap()
    record_scores(root, cfg, assignment, report["students"])
    work.mkdir(parents=True, exist_ok=True)
    (work / "report.json").write_text(json.dumps(report, indent=1))
    (work / "report.md").write_text(render(report) + late.section(root, assignment))
    regrade.write(work, before, regrade.snapshot(root, assignment))  # regrade.md and .csv
    report["phases"]["reports"] = lap()
    return report


def main(argv: list[str] | None = None) -> int:
    env = os.environ.get
    ap = argparse.ArgumentParser(prog="mathdl-grade", description=__doc__.split("\n\n")[0])
    arg = ap.add_argument
    arg("assignment", help="assignment name, e.g. 04_gradients (a folder of solutions/)")
    arg("--student", action="append", help="grade only this student (repeatable)")
    arg(
        "--timeout",
        type=int,
        default=env("GRADE_TIMEOUT"),
        help="s per cell (default: nbgrader_config.py)",
    )
    arg(
        "--memory-mb",
        type=int,
        default=env("GRADE_MEMORY_MB"),
        help="the sandbox's memory (default: nbgrader_config.py / SandboxKernelManager)",
    )
    arg("--root", default=".", help="course root (default: the current directory)")
    arg("--unsafe", action="store_true", help="grade WITHOUT a sandbox (trusted notebooks only)")
    arg("--jobs", type=int, default=env("GRADE_JOBS"), help="students at once (default: cores)")
    args = ap.parse_args(argv)
    if not args.unsafe and bwrap_problem():
        print(f"mathdl-grade: no sandbox: {bwrap_problem()}.", file=sys.stderr)
        print(
            "Refusing to run students' code; --unsafe only for notebooks you trust.",
            file=sys.stderr,
        )
        return 2
    warnings.simplefilter("ignore")  # SQLAlchemy's warnings from nbgrader say nothing useful
    settings = dict(timeout=args.timeout, memory_mb=args.memory_mb, unsafe=args.unsafe)
    jobs = default_jobs() if args.jobs is None else args.jobs
    if jobs < 1:
        print(f"mathdl-grade: --jobs must be at least 1, not {jobs}.", file=sys.stderr)
        return 2
    report = grade(args.assignment, args.root, args.student, jobs=jobs, **settings)
    print(render(report))
    for student, entry in report["students"].items():
        if entry["status"] == "error":
            print(f"GRADING ERROR for {student} (not the student's fault):", file=sys.stderr)
            print(entry["note"][-2000:], file=sys.stderr)
    return 1 if any(e["status"] == "error" for e in report["students"].values()) else 0


if __name__ == "__main__":
    sys.exit(main())
