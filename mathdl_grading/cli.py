"""Grade every submission of one assignment: ``python tools/grade.py <assignment>``.

Steps (each nbgrader step runs in a forked child process under a watchdog, so nothing a
submission does can stop the batch):

1. ``generate_assignment`` from solutions/ into a scratch release folder: records the
   assignment, its cells, points and hidden tests in the gradebook (exercises/ is untouched).
2. Every folder under submitted/ becomes a student in the gradebook (so every student gets
   a row in grades.csv, even with nothing gradable).
3. Each submission is read, validated and repaired (:mod:`.prepare`) into a scratch copy;
   a notebook that cannot be read scores 0 with a note. The student's cells are scanned
   statically for tampering (:mod:`.scan`).
4. ``autograde`` runs per student in a child process: kernel under memory/CPU/file-size
   limits with the guard armed (:mod:`.kernel`), per-cell timeout, robust execution
   (:mod:`.preprocessors`). Course files and the other submissions are checked afterwards and
   restored if the student's code changed them.
5. Scores are re-derived from the executed notebook and compared with the gradebook; a
   notebook that tampered (scan, guard, or file changes) gets 0 autograded points, flagged
   for review in formgrader, with the reason as a comment.
6. ``generate_feedback`` writes HTML feedback to feedback/<student>/<assignment>/; grades.csv
   (nbgrader's CSV export) is written at the root; the report goes to
   nbgrader_work/<assignment>/report.md (+ report.json) and to the terminal.
"""

import argparse
import hashlib
import html
import json
import os
import re
import select
import shutil
import signal
import sys
import time
import traceback
import warnings
from pathlib import Path

import nbformat

from . import prepare as prep
from . import scan as tscan

ROOT = Path.cwd()
PACKAGE = Path(__file__).resolve().parent
KERNEL_NAME = "mathdl-grading"
STUDENT_ID_RE = re.compile(r"^[A-Za-z0-9_.@+\-]+$")


# ----------------------------------------------------------------------------- processes


def _children_map():
    kids = {}
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read().decode("utf-8", "replace")
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        kids.setdefault(ppid, []).append(int(entry))
    return kids


def _descendants(pid):
    kids, out, todo = _children_map(), [], [pid]
    while todo:
        p = todo.pop()
        for c in kids.get(p, []):
            out.append(c)
            todo.append(c)
    return out


def _kill_tree(pid):
    victims = _descendants(pid)
    for p in [pid, *victims]:
        for kill in (lambda q: os.killpg(q, signal.SIGKILL), lambda q: os.kill(q, signal.SIGKILL)):
            try:
                kill(p)
            except (ProcessLookupError, PermissionError, OSError):
                pass


class ForkedJob:
    """``job()`` (returning a JSON-able dict) running in a forked child, killed after ``timeout`` s."""

    def __init__(self, job, timeout, log_path=None, memory_mb=0):
        sys.stdout.flush()
        sys.stderr.flush()
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # child
            code = 0
            try:
                os.close(r)
                os.setpgid(0, 0)
                if log_path is not None:
                    fd = os.open(str(log_path), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
                    os.dup2(fd, 1)
                    os.dup2(fd, 2)
                    os.close(fd)
                if memory_mb:
                    import resource

                    resource.setrlimit(
                        resource.RLIMIT_AS, (memory_mb * 1024 * 1024, resource.RLIM_INFINITY)
                    )
                try:
                    result = job()
                except BaseException:
                    result = {"success": False, "error": traceback.format_exc()}
                view = memoryview(json.dumps(result, default=str).encode())
                while view:
                    view = view[os.write(w, view) :]
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        os.close(w)
        self.pid, self.fd = pid, r
        self.started = time.monotonic()
        self.deadline = self.started + timeout
        self.timeout = timeout
        self.chunks = []
        self.note = None
        self.done = False
        self.result = None

    def fileno(self):
        return self.fd

    def poll(self):
        """Read what is available; True once the child has finished (or was killed)."""
        if self.done:
            return True
        if time.monotonic() >= self.deadline:
            self.note = f"stopped by the grader's watchdog after {self.timeout:.0f} s"
            _kill_tree(self.pid)
            return self._finish()
        ready, _, _ = select.select([self.fd], [], [], 0)
        if ready:
            chunk = os.read(self.fd, 1 << 20)
            if not chunk:
                return self._finish()
            self.chunks.append(chunk)
        return False

    def _finish(self):
        os.close(self.fd)
        end = time.monotonic() + 10
        status = None
        while time.monotonic() < end:  # reap the child; kill what is left of it
            done, status = os.waitpid(self.pid, os.WNOHANG)
            if done:
                break
            time.sleep(0.02)
        else:
            _kill_tree(self.pid)
            _, status = os.waitpid(self.pid, 0)
        if status is not None and os.WIFSIGNALED(status) and self.note is None:
            self.note = f"the grading process was killed by signal {os.WTERMSIG(status)}"
        try:
            self.result = json.loads(b"".join(self.chunks).decode()) if self.chunks else None
        except ValueError:
            self.result = None
        if self.result is None and self.note is None:
            self.note = "the grading process ended without a result"
        self.done = True
        return True


def wait_any(jobs, timeout=1.0):
    """Block until one of ``jobs`` has output or the timeout passes."""
    live = [j for j in jobs if not j.done]
    if live:
        left = max(0.0, min(j.deadline for j in live) - time.monotonic())
        select.select(live, [], [], min(timeout, left))


def run_forked(job, timeout, log_path=None, memory_mb=0):
    """Run ``job()`` in a forked child and wait; returns ``(result_dict or None, note or None)``."""
    fj = ForkedJob(job, timeout, log_path, memory_mb)
    while not fj.poll():
        wait_any([fj])
    return fj.result, fj.note


# ----------------------------------------------------------------------------- nbgrader config


def default_jobs():
    """Students graded at once: GRADE_JOBS, else the CPU count (at most 4)."""
    if os.environ.get("GRADE_JOBS"):
        return max(1, int(os.environ["GRADE_JOBS"]))
    return max(1, min(4, os.cpu_count() or 1))


class Settings:
    def __init__(
        self,
        root=ROOT,
        timeout=30,
        memory_mb=2048,
        cpu_seconds=600,
        max_output_chars=200_000,
        quiet=False,
        jobs=None,
        feedback=True,
    ):
        self.root = Path(root).resolve()
        self.timeout = int(timeout)
        self.memory_mb = int(memory_mb)
        self.cpu_seconds = int(cpu_seconds)
        self.max_output_chars = int(max_output_chars)
        self.quiet = quiet
        self.jobs = int(jobs) if jobs else default_jobs()
        self.feedback = bool(feedback)


_CONFIG_CACHE = {}


def load_config(settings, assignment, **extra):
    """nbgrader_config.py plus the grading settings (read once per run, in the parent)."""
    key = (str(settings.root), assignment)
    if key not in _CONFIG_CACHE:
        _CONFIG_CACHE[key] = _load_config(settings, assignment)
    import copy

    cfg = copy.deepcopy(_CONFIG_CACHE[key])
    for k, value in extra.items():
        section, name = k.split("__")
        setattr(getattr(cfg, section), name, value)
    return cfg


def _load_config(settings, assignment):
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    cfg = Config()
    path = settings.root / "nbgrader_config.py"
    if path.exists():
        cfg.merge(PyFileConfigLoader(path.name, path=str(settings.root)).load_config())
    cfg.CourseDirectory.root = str(settings.root)
    cfg.CourseDirectory.db_url = "sqlite:///" + str(settings.root / "gradebook.db")
    work = f"nbgrader_work/{assignment}"
    cfg.CourseDirectory.submitted_directory = f"{work}/submitted"
    cfg.Execute.kernel_name = KERNEL_NAME
    cfg.Execute.timeout = settings.timeout
    cfg.Execute.interrupt_on_timeout = True
    cfg.Execute.startup_timeout = 60
    cfg.Execute.shutdown_kernel = "immediate"  # a busy or hostile kernel is killed, not asked
    cfg.RobustExecute.max_output_chars = settings.max_output_chars
    from .preprocessors import autograde_preprocessors, feedback_preprocessors

    cfg.Autograde.autograde_preprocessors = autograde_preprocessors()
    if "preprocessors" not in cfg.GenerateFeedback:
        cfg.GenerateFeedback.preprocessors = feedback_preprocessors()
    return cfg


def write_kernelspec(settings, work):
    """The kernelspec the grading kernels use (see :mod:`mathdl_grading.kernel`)."""
    import importlib.util

    kdir = work / "jupyter" / "kernels" / KERNEL_NAME
    kdir.mkdir(parents=True, exist_ok=True)
    # The kernels import private copies of mathdl and of the launcher: whatever a submission
    # does to them is undone before the next one runs, and the course's own files are never
    # touched (or restored over someone's edits).
    site = work / "site"
    mathdl_dir = Path(importlib.util.find_spec("mathdl").origin).parent
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(mathdl_dir, site / "mathdl", ignore=ignore)
    shutil.copytree(PACKAGE, site / "mathdl_grading", ignore=ignore)
    env = {
        "PYTHONPATH": str(site),
        "IPYTHONDIR": str(work / "ipython"),
        "MPLBACKEND": "agg",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    spec = {
        "argv": [
            sys.executable,
            "-m",
            "mathdl_grading.kernel",
            "--memory-mb",
            str(settings.memory_mb),
            "--cpu-seconds",
            str(settings.cpu_seconds),
            "--HistoryManager.hist_file=:memory:",
            "-f",
            "{connection_file}",
        ],
        "display_name": "mathdl grading (limited)",
        "language": "python",
        "env": env,
        "metadata": {"debugger": False},
    }
    (kdir / "kernel.json").write_text(json.dumps(spec, indent=1))
    # the profile the kernel would otherwise create on first start (it may not write files)
    from IPython.core.profiledir import ProfileDir

    (work / "ipython").mkdir(parents=True, exist_ok=True)
    ProfileDir.create_profile_dir_by_name(str(work / "ipython"), "default")
    os.environ["JUPYTER_PATH"] = os.pathsep.join(
        [str(work / "jupyter")]
        + [p for p in os.environ.get("JUPYTER_PATH", "").split(os.pathsep) if p]
    )


# ----------------------------------------------------------------------------- jobs (run in children)


def _capture(app):
    from nbgrader.utils import capture_log

    result = capture_log(app)
    result.setdefault("log", "")
    result["log"] = result["log"][-20000:]
    return result


def job_generate(settings, assignment):
    def run():
        from nbgrader.converters import GenerateAssignment
        from nbgrader.coursedir import CourseDirectory

        cfg = load_config(settings, assignment)
        cfg.CourseDirectory.release_directory = f"nbgrader_work/{assignment}/release"
        coursedir = CourseDirectory(config=cfg)
        coursedir.assignment_id = assignment
        app = GenerateAssignment(coursedir=coursedir, config=cfg)
        app.force = True
        app.create_assignment = True
        return _capture(app)

    return run


def job_autograde(settings, assignment, student):
    def run():
        from nbgrader.converters import Autograde
        from nbgrader.coursedir import CourseDirectory

        cfg = load_config(settings, assignment)
        coursedir = CourseDirectory(config=cfg)
        coursedir.assignment_id = assignment
        coursedir.student_id = student
        app = Autograde(coursedir=coursedir, config=cfg)
        app.force = True
        app.create_student = True
        return _capture(app)

    return run


def job_feedback(settings, assignment):
    def run():
        from nbgrader.converters import GenerateFeedback
        from nbgrader.coursedir import CourseDirectory

        cfg = load_config(settings, assignment)
        coursedir = CourseDirectory(config=cfg)
        coursedir.assignment_id = assignment
        coursedir.student_id = "*"
        app = GenerateFeedback(coursedir=coursedir, config=cfg)
        app.force = True
        return _capture(app)

    return run


# ----------------------------------------------------------------------------- integrity


def _hash_tree(paths):
    out = {}
    for p in paths:
        try:
            out[p] = p.read_bytes()
        except OSError:
            out[p] = None
    return out


class Integrity:
    """Remembers the bytes of files no submission may change, and puts them back if one does."""

    def __init__(self, files):
        self.saved = _hash_tree(sorted(set(files)))
        self.digests = {
            p: None if b is None else hashlib.sha256(b).digest() for p, b in self.saved.items()
        }

    def add(self, files):
        for path in files:
            if path not in self.saved:
                try:
                    data = path.read_bytes()
                except OSError:
                    continue
                self.saved[path] = data
                self.digests[path] = hashlib.sha256(data).digest()

    def check_and_restore(self):
        changed = []
        for path, data in self.saved.items():
            try:
                now = hashlib.sha256(path.read_bytes()).digest()
            except OSError:
                now = None
            if now != self.digests[path]:
                changed.append(path)
                if data is not None:
                    try:
                        if path.exists():
                            os.chmod(path, 0o644)
                        path.parent.mkdir(parents=True, exist_ok=True)
                        path.write_bytes(data)
                    except OSError:
                        pass
        return changed


# ----------------------------------------------------------------------------- grading


class StudentResult:
    def __init__(self, student):
        self.student = student
        self.status = "graded"
        self.notes = []
        self.findings = []
        self.guard = []
        self.errors = []
        self.zeroed = None
        self.score = 0.0
        self.max_score = 0.0
        self.auto_score = 0.0
        self.auto_max = 0.0
        self.needs_manual = False
        self.seconds = 0.0

    def to_dict(self):
        d = dict(self.__dict__)
        d["findings"] = [f.to_dict() for f in self.findings]
        return d


def _error_outputs(cell):
    return [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]


def _recompute(nb):
    """Score of each autograded test cell, from the executed notebook (nbgrader's rule)."""
    from nbgrader.utils import determine_grade

    scores = {}
    for cell in nb.cells:
        if prep.is_test_cell(cell):
            try:
                scores[prep.grade_id(cell)] = determine_grade(cell)[0]
            except Exception:
                scores[prep.grade_id(cell)] = 0.0
    return scores


def _say(settings, msg):
    if not settings.quiet:
        print(msg, flush=True)


def grade(assignment, settings=None, students=None):
    """Grade every submission of ``assignment``; returns the report dict."""
    saved_env = {k: os.environ.get(k) for k in ("JUPYTER_PATH", "PATH")}
    try:
        with warnings.catch_warnings():
            # nbgrader's gradebook API triggers SQLAlchemy warnings that say nothing to an instructor
            warnings.simplefilter("ignore")
            return _grade(assignment, settings, students)
    finally:  # the kernelspec folder is this run's; do not leave it on the caller's search path
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _grade(assignment, settings=None, students=None):
    settings = settings or Settings()
    root = settings.root
    t_start = time.monotonic()
    phases, clock = {}, [t_start]

    def _lap():
        now = time.monotonic()
        spent, clock[0] = now - clock[0], now
        return round(spent, 3)

    source_path = root / "solutions" / assignment / f"{assignment}.ipynb"
    if not source_path.exists():
        raise SystemExit(f"no source notebook {source_path.relative_to(root)}")
    work = root / "nbgrader_work" / assignment
    if work.exists():
        shutil.rmtree(work)
    (work / "logs").mkdir(parents=True)
    write_kernelspec(settings, work)

    # nbgrader runs `alembic` (next to this Python) when it creates a gradebook
    bindir = str(Path(sys.executable).parent)
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
    import nbgrader.converters  # noqa: F401  (import once here; children inherit it by fork)
    from nbgrader.api import Gradebook, MissingEntry

    from .nbgrader_fast import install

    install()
    # warm what every child needs, so each fork starts ready
    import jupyter_client.manager  # noqa: F401
    import nbclient  # noqa: F401
    import nbconvert.exporters  # noqa: F401

    from . import preprocessors  # noqa: F401

    phases["setup"] = _lap()
    # 1. the assignment in the gradebook
    result, note = run_forked(
        job_generate(settings, assignment),
        timeout=300,
        log_path=work / "logs" / "_generate_assignment.log",
    )
    if not result or not result.get("success"):
        detail = (
            ((result or {}).get("log") or "")[-5000:]
            + "\n"
            + ((result or {}).get("error") or note or "")
        )
        raise SystemExit(
            f"nbgrader generate_assignment failed for {assignment}:\n{detail}\n"
            f"(log: {work / 'logs' / '_generate_assignment.log'})"
        )
    source_nb = nbformat.read(str(source_path), as_version=4)
    release_nb = nbformat.read(
        str(work / "release" / assignment / f"{assignment}.ipynb"), as_version=4
    )
    test_sources = [c.source for c in source_nb.cells if prep.is_test_cell(c)]
    context_sources = [
        c.source
        for c in source_nb.cells
        if c.cell_type == "code" and prep.is_locked_cell(c) and not prep.is_test_cell(c)
    ]
    n_code = sum(c.cell_type == "code" for c in source_nb.cells)

    phases["generate"] = _lap()
    # 2. students
    submitted = root / "submitted"
    found = (
        sorted(p.name for p in submitted.iterdir() if p.is_dir() and not p.name.startswith("."))
        if submitted.is_dir()
        else []
    )
    if students:
        found = [s for s in found if s in set(students)]
    results, skipped = {}, []
    for s in found:
        if STUDENT_ID_RE.match(s):
            results[s] = StudentResult(s)
        else:
            skipped.append(s)
    db_url = "sqlite:///" + str(root / "gradebook.db")
    course_id = load_config(settings, assignment).CourseDirectory.course_id or ""
    with Gradebook(db_url, course_id) as gb:
        for s in results:
            gb.update_or_create_student(s)

    # 3. read, repair, stage, scan; remember every submission's bytes
    staged = {}
    protected_files = [p for p in (work / "site").rglob("*") if p.is_file()] + [
        root / "nbgrader_config.py",
        source_path,
        work / "jupyter" / "kernels" / KERNEL_NAME / "kernel.json",
    ]
    for s, res in results.items():
        folder = submitted / s / assignment
        if folder.is_dir():
            protected_files += [p for p in folder.rglob("*") if p.is_file()]
        nb_path = folder / f"{assignment}.ipynb"
        if not folder.is_dir():
            res.status = "missing"
            res.notes.append(f"no folder submitted/{s}/{assignment}/")
            continue
        if not nb_path.is_file():
            candidates = sorted(p for p in folder.glob("*.ipynb") if p.is_file())
            if (
                len(candidates) == 1
            ):  # renamed, e.g. "04_gradients (1).ipynb" from a browser download
                nb_path = candidates[0]
                res.notes.append(f"graded {nb_path.name} (the notebook was renamed)")
        if not nb_path.is_file():
            others = sorted(p.name for p in folder.iterdir())
            res.status = "missing"
            res.notes.append(
                f"no {assignment}.ipynb in submitted/{s}/{assignment}/"
                + (f" (found: {', '.join(others[:5])})" if others else " (the folder is empty)")
            )
            continue
        try:
            nb = prep.read_notebook_file(nb_path)
            res.notes += prep.align(nb, source_nb, release_nb)
            dest = work / "submitted" / s / assignment / f"{assignment}.ipynb"
            prep.write_notebook(nb, dest)
        except prep.Unreadable as exc:
            res.status = "unreadable"
            res.notes.append(str(exc))
            continue
        except Exception as exc:
            res.status = "unreadable"
            res.notes.append(
                f"the notebook could not be read or repaired ({type(exc).__name__}: {exc})"
            )
            continue
        # nbgrader's own files (timestamp.txt, submission_secret.txt) travel with the notebook:
        # release_feedback and fetch_feedback need the secret (issue 14)
        extra = {
            p.name: p.read_bytes()
            for p in folder.iterdir()
            if p.is_file() and p.name in ("timestamp.txt", "submission_secret.txt")
        }
        ignored = sorted(p.name for p in folder.iterdir() if p.name not in extra and p != nb_path)
        if ignored:
            res.notes.append("ignored extra file(s): " + ", ".join(ignored[:10]))
        staged[s] = dest.read_bytes()
        staged[s + "/files"] = extra
        res.findings = tscan.scan_cells(
            prep.student_code(nb, source_nb, release_nb), context_sources, test_sources
        )
        # the staged copies are graded one at a time; keep them out of reach until then
        dest.unlink()

    integrity = Integrity(protected_files)

    # results of an earlier run must not survive for a student who has nothing gradable now
    with Gradebook(db_url, course_id) as gb:
        for s, res in results.items():
            if res.status == "graded":
                continue
            for leftover in (
                root / "autograded" / s / assignment,
                root / "feedback" / s / assignment,
            ):
                if leftover.exists():
                    shutil.rmtree(leftover, ignore_errors=True)
            if res.status == "missing":
                try:
                    gb.remove_submission(assignment, s)
                except MissingEntry:
                    pass

    phases["prepare"] = _lap()
    # 4. autograde: each student in a child process, up to settings.jobs at a time
    watchdog = 90 + n_code * (settings.timeout + 10)
    order = [k for k in staged if "/" not in k]

    def launch(s):
        dest = work / "submitted" / s / assignment / f"{assignment}.ipynb"
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(staged[s])
        for name, data in staged[s + "/files"].items():
            (dest.parent / name).write_bytes(data)
        _say(settings, f"[grade] {assignment}: autograding {s}")
        return ForkedJob(
            job_autograde(settings, assignment, s),
            timeout=watchdog,
            log_path=work / "logs" / f"{s}.log",
        )

    def settle(s, fj):
        """Record one finished run; returns False when it must be repeated alone."""
        res = results[s]
        res.seconds = time.monotonic() - fj.started
        res.errors = [fj.note] if fj.note else []
        failed = bool(fj.note) or not (fj.result and fj.result.get("success"))
        if fj.result and not fj.result.get("success"):
            res.errors.append(
                "nbgrader reported an error (see "
                + str((work / "logs" / f"{s}.log").relative_to(root))
                + ")"
            )
            with open(work / "logs" / f"{s}.log", "a") as fh:
                fh.write(
                    "\n" + (fj.result.get("log") or "") + "\n" + (fj.result.get("error") or "")
                )
        return failed

    def protect_outputs(s):
        out = root / "autograded" / s / assignment
        if out.is_dir():
            integrity.add(p for p in out.rglob("*") if p.is_file())

    pending, running, solo, tainted = list(order), {}, [], set()
    jobs = max(1, int(settings.jobs))
    while pending or running:
        while pending and len(running) < jobs:
            s = pending.pop(0)
            running[s] = launch(s)
        wait_any(list(running.values()))
        for s, fj in list(running.items()):
            if not fj.poll():
                continue
            del running[s]
            failed = settle(s, fj)
            changed = integrity.check_and_restore()
            if changed:
                # files changed while these ran: grade each of them again, alone, to find out who
                suspects = {s} | set(running)
                tainted |= set(running)
                results[s].notes.append(
                    "course files changed during a parallel run; graded again alone"
                )
                solo += [x for x in suspects if x not in solo and x not in running]
                for x in running:
                    results[x].notes.append(
                        "course files changed during a parallel run; graded again alone"
                    )
            elif s in tainted or (failed and jobs > 1):
                if s not in solo:
                    solo.append(s)
            else:
                protect_outputs(s)
        for x in list(tainted):
            if x not in running and x not in solo:
                solo.append(x)
        tainted &= set(running)
    for s in solo:
        fj = launch(s)
        while not fj.poll():
            wait_any([fj])
        settle(s, fj)
        changed = integrity.check_and_restore()
        if changed:
            res = results[s]
            res.zeroed = res.zeroed or "course files were changed while this notebook ran"
            res.notes.append(
                "changed (and restored): "
                + ", ".join(
                    str(p.relative_to(root)) if p.is_relative_to(root) else str(p)
                    for p in changed[:10]
                )
            )
        else:
            protect_outputs(s)

    phases["autograde"] = _lap()
    # 5. verify, zero tampered notebooks, collect scores
    autograded = root / "autograded"
    solution_order = [
        prep.grade_id(c)
        for c in source_nb.cells
        if prep.grade_id(c) and (prep.nbgrader_meta(c) or {}).get("solution")
    ]
    with Gradebook(db_url, course_id) as gb:
        for s, res in results.items():
            out_nb = autograded / s / assignment / f"{assignment}.ipynb"
            executed = None
            if res.status == "graded":
                if out_nb.is_file():
                    try:
                        executed = nbformat.read(str(out_nb), as_version=4)
                    except Exception as exc:
                        res.errors.append(f"the autograded notebook cannot be read ({exc})")
                if executed is None:
                    res.status = "error"
                    res.zeroed = res.zeroed or "the notebook could not be graded (see the errors)"
            if res.status in ("unreadable", "error"):
                try:
                    gb.update_or_create_submission(assignment, s)
                except Exception as exc:
                    res.errors.append(f"could not record the submission ({exc})")
            try:
                sub = gb.find_submission_notebook(assignment, assignment, s)
            except MissingEntry:
                sub = None
            if executed is not None and sub is not None:
                for cell in executed.cells:
                    for err in _error_outputs(cell):
                        if err.get("ename") == "TamperingDetected":
                            res.guard.append(
                                f"{prep.grade_id(cell) or 'a cell'}: {err.get('evalue', '')[:300]}"
                            )
                if res.guard:
                    res.zeroed = res.zeroed or "the tamper guard tripped in a test cell"
                recomputed = _recompute(executed)
                for g in sub.grades:
                    if g.name in recomputed and g.auto_score != recomputed[g.name]:
                        res.zeroed = (
                            res.zeroed or "the gradebook disagreed with the executed notebook"
                        )
                        res.notes.append(
                            f"gradebook score of {g.name} ({g.auto_score}) did not match "
                            f"the executed notebook ({recomputed[g.name]})"
                        )
                        g.auto_score = recomputed[g.name]
            if any(f.severity == tscan.TAMPER for f in res.findings):
                res.zeroed = res.zeroed or "the notebook's code tampers with the grading tools"
            if sub is not None:
                test_ids = {prep.grade_id(c) for c in source_nb.cells if prep.is_test_cell(c)}
                if res.zeroed or res.status in ("unreadable", "error"):
                    for g in sub.grades:
                        if res.status != "graded":  # nothing could run: everything is 0
                            g.auto_score = 0.0
                            g.needs_manual_grade = False
                        elif g.name in test_ids:  # tampered: 0, and flagged for review
                            g.auto_score = 0.0
                            g.needs_manual_grade = True
                    reason = (
                        res.zeroed
                        or "; ".join(res.notes[-1:])
                        or "the notebook could not be graded"
                    )
                    comment_text = f"Autograded points set to 0 by the grader: {reason}."
                    tampered = [str(f) for f in res.findings if f.severity == tscan.TAMPER][:5]
                    if tampered:
                        comment_text += " Found: " + "; ".join(tampered)
                    comments = {c.name: c for c in sub.comments}
                    first = next((comments[n] for n in solution_order if n in comments), None)
                    if first is not None:
                        first.auto_comment = comment_text
                gb.db.commit()
                res.score = float(sub.score)
                res.max_score = float(sub.max_score)
                res.auto_score = float(sub.code_score)
                res.auto_max = float(sub.max_code_score)
                res.needs_manual = bool(sub.needs_manual_grade)
            else:
                try:
                    res.max_score = float(gb.find_assignment(assignment).max_score)
                except MissingEntry:
                    pass
        gb.db.commit()

    phases["verify"] = _lap()
    # 6. feedback, grades.csv, report
    feedback_ok, fb_note = True, None
    if settings.feedback:
        _say(settings, f"[grade] {assignment}: writing feedback")
        fb_result, fb_note = run_forked(
            job_feedback(settings, assignment),
            timeout=600,
            log_path=work / "logs" / "_feedback.log",
        )
        feedback_ok = bool(fb_result and fb_result.get("success"))
        for s, res in results.items():
            html_path = root / "feedback" / s / assignment / f"{assignment}.html"
            if res.status != "graded" or not html_path.exists():
                _write_plain_feedback(html_path, assignment, res)
    phases["feedback"] = _lap()
    export_csv(root, db_url, course_id)
    phases["export"] = _lap()
    report = {
        "assignment": assignment,
        "seconds": round(time.monotonic() - t_start, 2),
        "phases": phases,
        "jobs": settings.jobs,
        "students": {s: r.to_dict() for s, r in results.items()},
        "skipped_folders": skipped,
        "feedback_ok": feedback_ok,
        "feedback_note": fb_note,
    }
    (work / "report.json").write_text(json.dumps(report, indent=1, default=str))
    (work / "report.md").write_text(render_report(report))
    _say(settings, render_report(report))
    return report


def export_csv(root, db_url, course_id):
    """grades.csv at the root, in nbgrader's export format (all assignments, all students)."""
    from nbgrader.api import Gradebook
    from nbgrader.plugins import CsvExportPlugin

    with Gradebook(db_url, course_id) as gb:
        plugin = CsvExportPlugin()
        plugin.to = str(root / "grades.csv")
        plugin.export(gb)


def _write_plain_feedback(path, assignment, res):
    path.parent.mkdir(parents=True, exist_ok=True)
    items = "".join(f"<li>{html.escape(n)}</li>" for n in res.notes + res.errors)
    path.write_text(
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(assignment)}</title></head>"
        f"<body><h1>{html.escape(assignment)}: feedback for {html.escape(res.student)}</h1>"
        f"<p>Score: {res.score:g} / {res.max_score:g}</p>"
        f"<p>Your submission could not be graded automatically:</p><ul>{items}</ul>"
        "<p>Check your notebook with <code>nbgrader validate</code> (or the Validate button) and ask "
        "your instructor.</p></body></html>"
    )


def render_report(report):
    lines = [
        f"# Grading report: {report['assignment']}",
        "",
        f"{len(report['students'])} student(s), {report['seconds']} s.",
        "",
        "| student | status | score | autograded | notes |",
        "|---|---|---|---|---|",
    ]
    for s, r in sorted(report["students"].items()):
        bits = []
        if r["zeroed"]:
            bits.append(f"**autograded points set to 0: {r['zeroed']}**")
        bits += r["notes"] + r["errors"]
        bits += [f"guard: {g}" for g in r["guard"]]
        bits += [
            f"{f['severity']}: cell {f['cell']} line {f['line']}: {f['detail']}"
            for f in r["findings"]
        ]
        if r["needs_manual"]:
            bits.append("needs manual grading")
        cell = "<br>".join(html.escape(b).replace("|", "\\|") for b in bits) or ""
        lines.append(
            f"| {s} | {r['status']} | {r['score']:g} / {r['max_score']:g} | "
            f"{r['auto_score']:g} / {r['auto_max']:g} | {cell} |"
        )
    if report["skipped_folders"]:
        lines += [
            "",
            "Folders under submitted/ that are not valid student ids (letters, digits, `._@+-`), "
            "not graded: " + ", ".join(report["skipped_folders"]),
        ]
    if not report["feedback_ok"]:
        lines += [
            "",
            "Feedback generation reported a problem; see nbgrader_work/<assignment>/logs/_feedback.log.",
        ]
    return "\n".join(lines) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(prog="mathdl-grade", description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "assignment", help="assignment name, e.g. 04_gradients (a folder of solutions/)"
    )
    ap.add_argument("--student", action="append", help="grade only this student (repeatable)")
    ap.add_argument(
        "--timeout",
        type=int,
        default=int(os.environ.get("GRADE_TIMEOUT", 30)),
        help="seconds per cell before it is interrupted (default 30)",
    )
    ap.add_argument(
        "--memory-mb",
        type=int,
        default=int(os.environ.get("GRADE_MEMORY_MB", 2048)),
        help="address-space cap of each grading kernel in MiB (default 2048)",
    )
    ap.add_argument(
        "--cpu-seconds", type=int, default=600, help="CPU-time cap of each kernel (default 600)"
    )
    ap.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="students graded at once (default: GRADE_JOBS, else the CPU count, at most 4)",
    )
    ap.add_argument(
        "--root", default=str(ROOT), help="course root (default: the current directory)"
    )
    ap.add_argument("--no-feedback", action="store_true", help="skip the HTML feedback")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    settings = Settings(
        root=args.root,
        timeout=args.timeout,
        memory_mb=args.memory_mb,
        cpu_seconds=args.cpu_seconds,
        quiet=args.quiet,
        jobs=args.jobs,
        feedback=not args.no_feedback,
    )
    report = grade(args.assignment, settings, students=args.student)
    failed = sorted(s for s, r in report["students"].items() if r["status"] == "error")
    if failed:  # the grader's own failure is never a silent 0 for the student (issue 14)
        print(
            f"GRADING ERROR: {len(failed)} submission(s) could not be graded: "
            + ", ".join(failed)
            + f" (see nbgrader_work/{args.assignment}/logs/)",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
