"""Grading submissions in parallel (``mathdl-grade --jobs N``, ``make grade JOBS=N``).

Each of N worker processes runs the whole per-student pipeline with nbgrader's own apps:
``autograde`` (the sandboxed kernels, two per notebook, and the scoring) for one student at a
time, and ``generate_feedback`` for its own students. In order:

1. the workers start first (each imports nbgrader once, :func:`preload`) and run the reference
   runs that are not cached yet: the solution and each catalogued mistake, one task each, in
   their sandboxed kernels (:class:`Prefetch`), while this process creates the gradebook if it
   is new and checks the submissions (intake); their results are cached here
   (:func:`.reference.cached`), where generate_assignment and every worker's scorer read them;
2. students, one per idle worker; when none is left, each worker generates the feedback of the
   students it graded, up to :data:`FEEDBACK_CHUNK` in one run (one HTML exporter).

The gradebook stays consistent by having **one writer**:

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
killed and replaced, and only its task (its student, or one feedback run) is reported as an
error; the new worker takes over its gradebook copy, so the students it had graded still get
their feedback.
"""

import os
import pickle
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any, Literal, TextIO

from traitlets.config import Config

from .apps import run_app
from .mistakes import catalogue, mistake_records, mistakes_stored, mutant_cells
from .reference import references, references_stored, run_solution
from .safe_autograde import SafeAutograde as Autograde
from .sandbox import SandboxKernelManager
from .schema_cache import install

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


def grade_one(cfg: Config, assignment: str, student: str) -> dict[str, Any]:
    """autograde for one student, against ``cfg``'s gradebook (feedback comes later, for
    several students at once: :func:`feedback_for`)."""

    start = time.monotonic()
    res = run_app(Autograde, cfg, assignment, student, create_student=True)
    entry: dict[str, Any] = {"status": "graded", "note": ""}
    if res["success"]:
        entry["results"] = results_of(cfg.CourseDirectory.db_url, assignment, student)
    else:
        entry.update(status="error", note=(res.get("error") or "") + res["log"][-4000:])
    entry["seconds"] = round(time.monotonic() - start, 3)
    return entry


def feedback_for(cfg: Config, assignment: str, students: list[str]) -> dict[str, Any]:
    """nbgrader's generate_feedback for ``students`` (graded by this worker, so their grades are
    in its gradebook), in one run: one HTML exporter, its templates compiled once."""
    from nbgrader.converters import GenerateFeedback

    class Only(GenerateFeedback):
        """generate_feedback for every student (``*``), less those not in ``students``."""

        def init_notebooks(self) -> None:
            super().init_notebooks()
            wanted = {os.path.normpath(self._format_source(assignment, s)) for s in students}
            for path in list(self.assignments):
                if os.path.normpath(path) not in wanted:
                    del self.assignments[path]

    start = time.monotonic()
    res = run_app(Only, cfg, assignment)
    note = "" if res["success"] else (res.get("error") or "") + res["log"][-4000:]
    status = "graded" if res["success"] else "error"
    return {"status": status, "note": note, "seconds": round(time.monotonic() - start, 3)}


def run_reference(cfg: Config, task: tuple[Any, ...]) -> dict[str, Any]:
    """A reference run (:func:`reference_tasks`): ``("solution", source)`` runs the solution,
    ``("mistake", source, i)`` its ``i``-th catalogued mistake, each in its sandboxed kernel."""

    start = time.monotonic()
    kind, source, *index = task
    result = run_solution(source, cfg) if kind == "solution" else mutant_cells(source, cfg, *index)
    return {"status": "graded", "result": result, "seconds": round(time.monotonic() - start, 3)}


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


def preload() -> None:
    """What every task imports (nbgrader's converters and exporters, the course's preprocessors),
    imported once while the grader is still preparing, not on the first task."""
    import nbgrader.converters  # noqa: F401
    from nbconvert.exporters import HTMLExporter  # noqa: F401

    install()


def scratch_gradebook() -> None:
    """Every SQLite connection of this worker (only ever to its own copy of the gradebook)
    commits without waiting for the disk (``synchronous = OFF``): the copy is scratch, read
    back at once and thrown away at the end. A crash of this process loses nothing committed
    (SQLite's journal is kept); only a crash of the machine could, and then the run is redone."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    def no_sync(connection: Any, _record: Any) -> None:
        connection.execute("PRAGMA synchronous = OFF")

    event.listen(Engine, "connect", no_sync)


def run_task(
    cfg: Config, assignment: str, task: Any, snapshot: str, db_path: str
) -> dict[str, Any]:
    """One task: a student (a name) is graded against this worker's copy of the gradebook
    (copied from ``snapshot`` before the first student); ``("feedback", students)`` gives them
    their feedback; another tuple is a reference run (:func:`run_reference`)."""
    if isinstance(task, tuple) and task[0] == "feedback":
        return feedback_for(cfg, assignment, list(task[1]))
    if isinstance(task, tuple):
        return run_reference(cfg, task)
    if not os.path.exists(db_path):
        shutil.copy(snapshot, db_path)
    return grade_one(cfg, assignment, task)


def worker_main(fd: int) -> None:
    """A worker (``python -m mathdl_grading.parallel FD``): its settings, then one task per
    message until ``None``, over the socket ``FD``."""
    import warnings

    warnings.simplefilter("ignore")  # SQLAlchemy's warnings from nbgrader
    cap_memory(WORKER_MEMORY_MB)
    conn = Connection(fd)
    cfg_bytes, assignment, snapshot, db_path = conn.recv()
    cfg = pickle.loads(cfg_bytes)
    cfg.CourseDirectory.db_url = f"sqlite:///{db_path}"
    preload()
    scratch_gradebook()
    while (task := conn.recv()) is not None:
        try:
            entry = run_task(cfg, assignment, task, snapshot, db_path)
        except Exception as exc:  # the grader's failure: reported for this task only
            entry = {"status": "error", "note": f"{exc!r}\n{traceback.format_exc()[-3000:]}"}
            entry["seconds"] = 0.0
        conn.send((task, entry))


# ----------------------------------------------------------------------------- the one writer


def record(gb: Any, assignment: str, student: str, results: dict[str, Any]) -> None:
    """Write one student's autograded results into the course gradebook ``gb`` (an nbgrader
    ``Gradebook``, open for the whole run: this process is the only writer), one commit."""
    gb.update_or_create_student(student)
    sub = gb.update_or_create_submission(assignment, student)
    sub.timestamp = results["timestamp"]
    for nb in sub.notebooks:
        got = results["notebooks"].get(nb.name)
        if got is None:
            continue
        for grade in nb.grades:  # as nbgrader's SaveAutoGrades, with this gradebook's manual
            grade.auto_score = got["grades"].get(grade.name)
            grade.needs_manual_grade = grade.manual_score is not None or grade.auto_score is None
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
        self.count, self.closed = 0, False
        self.workers = [self.spawn() for _ in range(jobs)]

    def spawn(self, db: Path | None = None, done: list | None = None) -> dict:
        """A new worker, with its own copy of the gradebook at ``db`` (by default a new one,
        copied from the snapshot before its first student)."""
        self.count += 1
        mine, theirs = socket.socketpair()
        cmd = [sys.executable, "-m", "mathdl_grading.parallel", str(theirs.fileno())]
        proc = subprocess.Popen(cmd, pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL)
        theirs.close()
        conn = Connection(mine.detach())
        db = db or self.scratch / f"worker-{self.count}.db"
        conn.send((self.cfg_bytes, self.assignment, str(self.snapshot), str(db)))
        return {
            "proc": proc,
            "conn": conn,
            "task": None,
            "since": 0.0,
            "db": db,
            "done": done or [],
        }

    def replace(self, w: dict) -> dict:
        """A worker in place of ``w`` (dead or stopped), taking over its gradebook copy and the
        list of what it did (the students it graded still get their feedback from there)."""
        w["proc"].kill()
        w["proc"].wait(10)
        w["conn"].close()
        return self.spawn(w["db"], w["done"])

    def close(self) -> None:
        """Stop every worker (one still busy is killed after 10 s); a :func:`run_pool` still
        running (in :class:`Prefetch`'s thread, after an error) stops within 5 s."""
        self.closed = True
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


def receive(w: dict[str, Any]) -> tuple[Any, dict[str, Any]] | None:
    """``(task, entry)`` from a worker, or ``None`` when it died."""
    try:
        return w["conn"].recv()
    except (EOFError, OSError):
        return None


def run_pool(
    pool: Pool,
    tasks: list,
    on_done: Callable[[Any, dict], None],
    finish: Callable[[dict], Any] | None = None,
) -> None:
    """Hand tasks (students, or reference runs) to idle workers; ``on_done(task, entry)`` as
    each finishes. Once none is left, ``finish(worker)`` gives an idle worker a task of its own
    (its students' feedback, from its ``done`` list), until it gives None. A worker that dies or
    runs past the deadline fails only its own task."""
    todo = deque(tasks)
    while True:
        for w in pool.workers:
            if w["task"] is not None:
                continue
            task = todo.popleft() if todo else finish(w) if finish else None
            if task is None:
                continue
            w["task"], w["since"] = task, time.monotonic()
            try:
                w["conn"].send(task)
            except OSError:  # it died waiting: found below
                pass
        busy = [w["conn"] for w in pool.workers if w["task"] is not None]
        if not busy or pool.closed:
            return
        ready = wait(busy, timeout=5)
        for i, w in enumerate(pool.workers):
            if w["task"] is not None and not pool.closed:
                collect(pool, i, w["conn"] in ready, on_done)


def collect(pool: Pool, i: int, ready: bool, on_done: Callable[[Any, dict], None]) -> None:
    """What worker ``i`` has to say: its task's result, or (dead, or past the deadline) an
    error for its task, and a new worker in its place."""
    w = pool.workers[i]
    got: tuple[Any, dict[str, Any]] | Literal[False] | None = receive(w) if ready else False
    if got:
        w["task"] = None
        w["done"].append(got[0])
        on_done(*got)
    elif got is None or time.monotonic() - w["since"] > pool.deadline:
        code = w["proc"].poll()
        why = (
            f"the grading worker died (exit code {code})"
            if got is None
            else f"grading took longer than {pool.deadline:.0f} s; the worker was stopped"
        )
        task = w["task"]
        pool.workers[i] = pool.replace(w)
        on_done(task, {"status": "error", "note": why, "seconds": 0.0})


# ----------------------------------------------------------------------------- the references


def reference_tasks(source: Path, cache: Path) -> list[tuple[Any, ...]]:
    """The reference runs of ``source`` that are not cached yet: the solution, and each of its
    catalogued mistakes (:mod:`.mistakes`). A catalogue that cannot be read gives none here: the
    grader's own run of it names the problem (generate_assignment)."""

    try:
        tasks: list[tuple[Any, ...]] = []
        if not references_stored(source, cache):
            tasks.append(("solution", str(source)))
        if not mistakes_stored(source, cache):
            tasks += [("mistake", str(source), i) for i in range(len(catalogue(source)))]
    except Exception:
        return []
    return tasks


class Prefetch:
    """The reference runs on the workers (:func:`reference_tasks`), in a thread of this process,
    so that the workers run them while this process prepares the rest (the gradebook, the
    submissions' intake checks); :meth:`store` waits for them and caches their results, where
    generate_assignment and the workers' scorers then read them (:func:`.reference.cached`)."""

    def __init__(self, pool: Pool, source: Path, cache: Path):
        self.source, self.cache = source, cache
        self.tasks = reference_tasks(source, cache)
        self.results: dict[tuple, dict] = {}
        self.thread = threading.Thread(
            target=run_pool, args=(pool, self.tasks, self.results.__setitem__), daemon=True
        )
        self.thread.start()

    def store(self, cfg: Config) -> None:
        """Wait for the runs; cache those that succeeded (a failed run is left to the grader's
        own run, which reports it as it always does: the solution failing its own test...)."""
        self.thread.join()
        ok = {t: e["result"] for t, e in self.results.items() if e["status"] == "graded"}
        solution = ("solution", str(self.source))
        if solution in ok:
            references(self.source, cfg, self.cache, compute=lambda: ok[solution])
        mistakes = [t for t in self.tasks if t[0] == "mistake"]
        if mistakes and all(t in ok for t in mistakes):
            cells = lambda i: ok[("mistake", str(self.source), i)]  # noqa: E731
            mistake_records(self.source, cfg, self.cache, cells_of=cells)


# ----------------------------------------------------------------------------- grading


@contextmanager
def workers(cfg: Config, root: Path, assignment: str, jobs: int) -> Iterator[Pool]:
    """``jobs`` workers, started at once (they import nbgrader while this process prepares),
    stopped and their scratch folder removed at the end."""
    try:
        pickle.dumps(cfg)
    except Exception as exc:
        raise SystemExit(
            f"--jobs {jobs} sends the nbgrader configuration to the workers, and this one cannot "
            f"be sent ({exc!r}): grade with --jobs 1, or keep nbgrader_config.py to plain values"
        ) from None
    (root / "nbgrader_work" / assignment).mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="workers-", dir=root / "nbgrader_work" / assignment))
    deadline = cfg.SandboxKernelManager.get("wall_seconds", WALL_SECONDS) + MARGIN_SECONDS
    pool = Pool(jobs, cfg, assignment, work, deadline)
    try:
        yield pool
    finally:
        pool.close()
        shutil.rmtree(work, ignore_errors=True)


#: Feedback is generated for this many students of one worker at once (one HTML exporter,
#: its templates compiled once), after the last student is handed out.
FEEDBACK_CHUNK = 25


def grade_parallel(
    pool: Pool, cfg: Config, assignment: str, students: list[str]
) -> dict[str, dict[str, Any]]:
    """``{student: report entry}`` for ``students``, graded by the pool's workers against a
    snapshot of the course gradebook taken now; their results are written into it here, as
    each student is done (:func:`record`); then each worker generates its students' feedback."""
    if not students:
        return {}
    from nbgrader.api import Gradebook
    from nbgrader.coursedir import CourseDirectory

    db_url = CourseDirectory(config=cfg).db_url
    copy_db(Path(db_url.removeprefix("sqlite:///")), pool.snapshot)
    progress = Progress(len(students))
    out: dict[str, dict[str, Any]] = {}

    def done(task: Any, entry: dict[str, Any]) -> None:
        if isinstance(task, tuple):  # ("feedback", students)
            for student in task[1]:
                out[student]["feedback_ok"] = entry["status"] == "graded"
            return
        results = entry.pop("results", None)
        if results is not None:
            try:
                record(gb, assignment, task, results)
            except Exception as exc:
                gb.db.rollback()
                entry.update(status="error", note=f"recording the grades failed: {exc!r}")
        out[task] = entry
        progress.update(entry["status"])

    def feedback(w: dict[str, Any]) -> tuple[str, tuple[str, ...]] | None:
        """The next of ``w``'s graded students whose feedback is due, as one task (or None)."""
        chunk: list[str] = []
        while w["done"] and len(chunk) < FEEDBACK_CHUNK:
            task = w["done"].pop(0)
            if isinstance(task, str) and out[task]["status"] == "graded":
                chunk.append(task)
        return ("feedback", tuple(chunk)) if chunk else None

    with Gradebook(db_url) as gb:
        run_pool(pool, students, done, feedback)
    return out


def default_jobs() -> int:
    """The cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


if __name__ == "__main__":
    worker_main(int(sys.argv[1]))
