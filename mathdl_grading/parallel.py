"""Grading submissions in parallel (``mathdl-grade --jobs N``, ``make grade JOBS=N``).

Each of N worker processes runs the whole per-student pipeline with nbgrader's own apps:
``autograde`` (the sandboxed kernel, one per notebook, and the scoring) and ``generate_feedback``
for that one student. The gradebook stays consistent by having **one writer**:

* before grading, the course gradebook is copied once (SQLite's backup API) to a snapshot; every
  worker grades against its own copy of that snapshot, which holds the assignment, its cells,
  the due date and everyone's earlier grades (manual ones too), so nbgrader behaves there
  exactly as it does on the course gradebook;
* when a student is done, the worker reads that student's results back from its copy (per
  cell: autograded score, automatic comment; the timestamp; the late penalty) and sends them as
  plain data; only this process writes them into the course gradebook (:func:`record`), student
  by student, in the order they finish. Rows are keyed by (student, notebook, cell), so the order
  cannot lose or duplicate one; manual grades and comments are never written here, so the ones
  in the course gradebook stay.

SQLite allows one writer at a time; N processes writing one file would wait on its lock (and
nbgrader does not retry), while per-worker files and a single writer never contend. A kernel
that hangs or dies is the sandbox's business (per-cell timeout, caps), inside its own notebook;
a worker process that dies or runs past ``SandboxKernelManager.wall_seconds`` plus a margin is
killed and replaced, and only its student is reported as a grading error.
"""

import os
import pickle
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import traceback
from collections import deque
from collections.abc import Callable
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any, Literal, TextIO

from traitlets.config import Config

from .apps import run_app
from .safe_autograde import SafeAutograde as Autograde
from .sandbox import SandboxKernelManager

WALL_SECONDS = SandboxKernelManager.wall_seconds.default_value  # unless nbgrader_config.py says

MARGIN_SECONDS = 300  # beyond the kernel's wall-time cap, before a worker counts as hung


def copy_db(source: Path, dest: Path) -> None:
    """A consistent copy of an SQLite file, even while another process writes it."""
    dest.unlink(missing_ok=True)
    src, out = sqlite3.connect(source), sqlite3.connect(dest)
    try:
        src.backup(out)
    finally:
        src.close()
        out.close()


class Progress:
    """``graded 37/100 (1 error)  1.9/s  about 33 s left`` on stderr: one updating line on a
    terminal, a line every ``every`` seconds (and the last) otherwise."""

    def __init__(
        self, total: int, stream: TextIO | None = None, every: float = 10.0, quiet: bool = False
    ) -> None:
        self.total, self.done, self.errors, self.quiet = total, 0, 0, quiet
        self.stream = stream or sys.stderr
        self.start = self.last = time.monotonic()
        self.every = every
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()

    def line(self) -> str:
        elapsed = max(time.monotonic() - self.start, 1e-9)
        rate = self.done / elapsed
        left = (self.total - self.done) / rate if rate else float("nan")
        errors = f" ({self.errors} error{'s' * (self.errors != 1)})" if self.errors else ""
        eta = f"about {left:.0f} s left" if self.done < self.total else f"{elapsed:.0f} s"
        return f"graded {self.done}/{self.total}{errors}  {rate:.2f} notebooks/s  {eta}"

    def update(self, status: str) -> None:
        self.done += 1
        self.errors += status == "error"
        now = time.monotonic()
        if self.quiet:
            return
        if self.tty:
            end = "\n" if self.done == self.total else ""
            print("\r" + self.line(), end=end, file=self.stream, flush=True)
        elif now - self.last >= self.every or self.done == self.total:
            print(self.line(), file=self.stream, flush=True)
            self.last = now


# ----------------------------------------------------------------------------- the worker


def results_of(db_url: str, assignment: str, student: str) -> dict:
    """What autograde wrote for ``student`` (plain data, for :func:`record`)."""
    from nbgrader.api import Gradebook

    with Gradebook(db_url) as gb:
        sub = gb.find_submission(assignment, student)
        notebooks = {}
        for nb in sub.notebooks:
            notebooks[nb.name] = {
                "grades": {g.name: g.auto_score for g in nb.grades},
                "comments": {c.name: c.auto_comment for c in nb.comments},
                "late_penalty": nb.late_submission_penalty,
            }
        return {"timestamp": sub.timestamp, "notebooks": notebooks}


def grade_one(cfg: Config, assignment: str, student: str) -> dict:
    """autograde and generate_feedback for one student, against ``cfg``'s gradebook."""
    from nbgrader.converters import GenerateFeedback

    start = time.monotonic()
    res = run_app(Autograde, cfg, assignment, student, create_student=True)
    entry: dict[str, Any] = {"status": "graded", "note": ""}
    if res["success"]:
        entry["results"] = results_of(cfg.CourseDirectory.db_url, assignment, student)
        entry["feedback_ok"] = run_app(GenerateFeedback, cfg, assignment, student)["success"]
    else:
        entry.update(status="error", note=(res.get("error") or "") + res["log"][-4000:])
    entry["seconds"] = round(time.monotonic() - start, 3)
    return entry


#: The address space of one grading worker (the grader's side of one kernel: its messages,
#: the notebook, nbgrader). A submission that floods its worker past this makes the worker fail
#: (a MemoryError or its death): only that student is a grading error, the machine is safe.
WORKER_MEMORY_MB = 4096


def cap_memory(megabytes: int) -> None:
    """Cap this process's address space (the kernels it starts have their own sandbox limits)."""
    import resource

    limit = megabytes * 1024 * 1024
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def worker_main(fd: int) -> None:
    """A worker (``python -m mathdl_grading.parallel FD``): its settings, then one student per
    message until ``None``, over the socket ``FD``."""
    import warnings

    warnings.simplefilter("ignore")  # SQLAlchemy's warnings from nbgrader
    cap_memory(WORKER_MEMORY_MB)
    conn = Connection(fd)
    cfg_bytes, assignment, snapshot, db_path = conn.recv()
    shutil.copy(snapshot, db_path)
    cfg = pickle.loads(cfg_bytes)
    cfg.CourseDirectory.db_url = f"sqlite:///{db_path}"
    while (student := conn.recv()) is not None:
        try:
            entry = grade_one(cfg, assignment, student)
        except Exception as exc:  # the grader's failure: reported for this student only
            entry = {"status": "error", "note": f"{exc!r}\n{traceback.format_exc()[-3000:]}"}
            entry["seconds"] = 0.0
        conn.send((student, entry))


# ----------------------------------------------------------------------------- the one writer


def record(db_url: str, assignment: str, student: str, results: dict) -> None:
    """Write one student's autograded results into the course gradebook (the only writer)."""
    from nbgrader.api import Gradebook

    with Gradebook(db_url) as gb:
        gb.update_or_create_student(student)
        sub = gb.update_or_create_submission(assignment, student)
        sub.timestamp = results["timestamp"]
        for nb in sub.notebooks:
            got = results["notebooks"].get(nb.name)
            if got is None:
                continue
            for grade in nb.grades:  # as nbgrader's SaveAutoGrades, with this gradebook's manual
                grade.auto_score = got["grades"].get(grade.name)
                grade.needs_manual_grade = (
                    grade.manual_score is not None or grade.auto_score is None
                )
            for comment in nb.comments:
                comment.auto_comment = got["comments"].get(comment.name)
            nb.late_submission_penalty = got["late_penalty"]
        gb.db.commit()


class Pool:
    """N worker processes, each a fresh ``python -m mathdl_grading.parallel`` (nothing of this
    process's threads, sockets or ``__main__`` is inherited), talking over a socket pair."""

    def __init__(
        self, jobs: int, cfg: Config, assignment: str, scratch: Path, deadline: float
    ) -> None:
        self.cfg_bytes = pickle.dumps(cfg)
        self.assignment, self.scratch, self.deadline = assignment, scratch, deadline
        self.snapshot = scratch / "snapshot.db"
        self.count = 0
        self.workers = [self.spawn() for _ in range(jobs)]

    def spawn(self) -> dict:
        self.count += 1
        mine, theirs = socket.socketpair()
        cmd = [sys.executable, "-m", "mathdl_grading.parallel", str(theirs.fileno())]
        proc = subprocess.Popen(cmd, pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL)
        theirs.close()
        conn = Connection(mine.detach())
        db = self.scratch / f"worker-{self.count}.db"
        conn.send((self.cfg_bytes, self.assignment, str(self.snapshot), str(db)))
        return {"proc": proc, "conn": conn, "student": None, "since": 0.0}

    def replace(self, w: dict) -> dict:
        w["proc"].kill()
        w["proc"].wait(10)
        w["conn"].close()
        return self.spawn()

    def close(self) -> None:
        for w in self.workers:
            try:
                w["conn"].send(None)
            except OSError:
                pass
        for w in self.workers:
            try:
                w["proc"].wait(10)
            except subprocess.TimeoutExpired:
                w["proc"].kill()
                w["proc"].wait()
            w["conn"].close()


def receive(w: dict) -> tuple[str, dict] | None:
    """``(student, entry)`` from a worker, or ``None`` when it died."""
    try:
        return w["conn"].recv()
    except (EOFError, OSError):
        return None


def run_pool(pool: Pool, students: list[str], on_done: Callable[[str, dict], None]) -> None:
    """Hand students to idle workers; ``on_done(student, entry)`` as each finishes."""
    todo = deque(students)
    while todo or any(w["student"] for w in pool.workers):
        for w in pool.workers:
            if w["student"] is None and todo:
                w["student"], w["since"] = todo.popleft(), time.monotonic()
                try:
                    w["conn"].send(w["student"])
                except OSError:  # it died waiting: found below
                    pass
        ready = wait([w["conn"] for w in pool.workers if w["student"]], timeout=5)
        for i, w in enumerate(pool.workers):
            if w["student"] is None:
                continue
            got: tuple[str, dict] | Literal[False] | None
            got = receive(w) if w["conn"] in ready else False
            if got:
                w["student"] = None
                on_done(*got)
            elif got is None or time.monotonic() - w["since"] > pool.deadline:
                code = w["proc"].poll()
                why = (
                    f"the grading worker died (exit code {code})"
                    if got is None
                    else f"grading took longer than {pool.deadline:.0f} s; the worker was stopped"
                )
                student = w["student"]
                pool.workers[i] = pool.replace(w)
                on_done(student, {"status": "error", "note": why, "seconds": 0.0})


def grade_parallel(
    cfg: Config, root: Path, assignment: str, students: list[str], jobs: int
) -> dict:
    """``{student: report entry}`` for ``students``, graded by ``jobs`` workers."""
    if not students:
        return {}
    try:
        pickle.dumps(cfg)
    except Exception as exc:
        raise SystemExit(
            f"--jobs {jobs} sends the nbgrader configuration to the workers, and this one cannot "
            f"be sent ({exc!r}): grade with --jobs 1, or keep nbgrader_config.py to plain values"
        ) from None
    (root / "nbgrader_work" / assignment).mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="workers-", dir=root / "nbgrader_work" / assignment))
    from nbgrader.coursedir import CourseDirectory

    db_url = CourseDirectory(config=cfg).db_url
    copy_db(Path(db_url.removeprefix("sqlite:///")), work / "snapshot.db")
    deadline = cfg.SandboxKernelManager.get("wall_seconds", WALL_SECONDS) + MARGIN_SECONDS
    progress, out = Progress(len(students)), {}

    def done(student: str, entry: dict) -> None:
        results = entry.pop("results", None)
        if results is not None:
            try:
                record(db_url, assignment, student, results)
            except Exception as exc:
                entry.update(status="error", note=f"recording the grades failed: {exc!r}")
        out[student] = entry
        progress.update(entry["status"])

    pool = Pool(min(jobs, len(students)) or 1, cfg, assignment, work, deadline)
    try:
        run_pool(pool, students, done)
    finally:
        pool.close()
        shutil.rmtree(work, ignore_errors=True)
    return out


def default_jobs() -> int:
    """The cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


if __name__ == "__main__":
    worker_main(int(sys.argv[1]))
