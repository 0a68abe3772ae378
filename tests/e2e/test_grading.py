"""Autograding end to end, in throw-away courses (never the repository's gradebook).

* every solution of the course scores full autograded marks and every exercise 0;
* one batch of honest and hostile submissions (tests/helpers/grading_fixtures.py) is graded by
  ``mathdl-grade`` from a clean environment (``env -i``) and, in a copy, by plain
  ``nbgrader autograde``: the same scores, every honest student's marks and row intact, no
  course file changed, no hidden test in any feedback;
* graded as a non-root user through nbgrader's exchange (release, fetch, submit, collect,
  grade, release_feedback, fetch_feedback);
* the pieces: check()'s comparisons, the removal of reference code, the sandbox's walls.
"""

import csv
import hashlib
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest

from mathdl_grading import checks
from mathdl_grading.cells import strip_references
from mathdl_grading.sandbox import bwrap_problem
from mathdl_harness.course import ASSIGNMENTS
from tests.helpers import grading_fixtures as gf

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

pytestmark = [
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the sandbox is Linux's"),
    pytest.mark.skipif(bool(bwrap_problem()), reason=f"no sandbox: {bwrap_problem()}"),
]


def clean_env(home, extra_path=()):
    """What an instructor's login shell has: PATH, HOME and LANG only."""
    return {
        "PATH": ":".join([*extra_path, "/usr/bin", "/bin"]),
        "HOME": str(home),
        "LANG": "C.UTF-8",
    }


def run(cmd, cwd, env, user=None, timeout=900):
    if user:
        cmd = [
            "runuser",
            "-u",
            user,
            "--",
            "env",
            "-i",
            *[f"{k}={v}" for k, v in env.items()],
            *cmd,
        ]
        env = None
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def mathdl_grade(root, assignment, *args, user=None, home=None):
    env = clean_env(home or root)
    proc = run([str(BIN / "mathdl-grade"), assignment, "--root", str(root), *args], root, env, user)
    report = root / "nbgrader_work" / assignment / "report.json"
    return proc, json.loads(report.read_text()) if report.is_file() else None


def digest(root):
    """sha256 of every course file a submission must not touch."""
    paths = [root / "nbgrader_config.py", *sorted((root / "solutions").rglob("*.ipynb"))]
    paths += sorted((root / "submitted").rglob("*.ipynb"))
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


# ----------------------------------------------------------------------------- the course's assignments


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """One course with every assignment (one gradebook), a student "solution" and "exercise"."""
    root = tmp_path_factory.mktemp("assignments") / "course"
    (root / "solutions").mkdir(parents=True)
    shutil.copy(ROOT / "nbgrader_config.py", root)
    for a in ASSIGNMENTS:
        shutil.copytree(ROOT / "solutions" / a, root / "solutions" / a)
        for student, folder in (("solution", "solutions"), ("exercise", "exercises")):
            (root / "submitted" / student / a).mkdir(parents=True)
            shutil.copy(ROOT / folder / a / f"{a}.ipynb", root / "submitted" / student / a)
    return root


@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_solution_scores_full_marks_and_exercise_zero(a, course):
    proc, report = mathdl_grade(course, a)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    src = nbformat.read(str(ROOT / "solutions" / a / f"{a}.ipynb"), as_version=4)
    grades = [c.metadata["nbgrader"] for c in src.cells if c.metadata["nbgrader"].get("grade")]
    auto = sum(g["points"] for g in grades if not g.get("solution"))
    manual = sum(g["points"] for g in grades if g.get("solution"))
    sol, ex = report["students"]["solution"], report["students"]["exercise"]
    assert sol["score"] == auto and sol["max_score"] == auto + manual, sol
    assert sol["needs_manual"] == bool(manual)
    assert ex["score"] == 0 and not ex["needs_manual"], ex


# ----------------------------------------------------------------------------- the hostile batch


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    root = gf.make_course(tmp_path_factory.mktemp("batch") / "course")
    expected = gf.hostile_batch(root)
    copy = root.parent / "copy"
    shutil.copytree(root, copy)
    before = digest(root)
    proc, report = mathdl_grade(root, gf.ASSIGNMENT, "--timeout", "3", "--memory-mb", "1024")
    return root, copy, expected, before, proc, report


def test_mathdl_grade_gives_every_student_the_right_score(batch):
    _root, _copy, expected, _before, proc, report = batch
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    got = {s: (e["status"], e["score"]) for s, e in report["students"].items()}
    want = {s: (e["status"], float(e["auto"])) for s, e in expected.items()}
    assert got == want


def test_no_course_file_changed_and_every_row_is_intact(batch):
    root, _copy, expected, before, _proc, _report = batch
    assert digest(root) == before, "a submission changed a course file"
    rows = [
        r for r in csv.DictReader(open(root / "grades.csv")) if r["assignment"] == gf.ASSIGNMENT
    ]
    assert {r["student_id"]: float(r["score"]) for r in rows} == {
        s: float(e["auto"]) for s, e in expected.items()
    }
    vandal = (root / "autograded" / "vandal" / gf.ASSIGNMENT / f"{gf.ASSIGNMENT}.ipynb").read_text()
    assert "vandalised []" in vandal, "the sandbox showed the vandal some course file"


def test_feedback_shows_no_hidden_test_and_loads_nothing_from_the_network(batch):
    root, _copy, expected, _before, _proc, _report = batch
    secret = ["default_rng(1)", "_dref", "np.cos(_keep)", "cosh(w * x)"]
    for student, exp in expected.items():
        page = root / "feedback" / student / gf.ASSIGNMENT / f"{gf.ASSIGNMENT}.html"
        if exp["status"] != "graded":
            continue
        text = page.read_text()
        assert not [s for s in secret if s in text], f"{student}: hidden tests in the feedback"
        assert "hidden tests ran here" in text and "added by the grader" not in text
        assert "cdnjs" not in text and "window.MathJax" in text, "MathJax must be inlined"
    leak = (
        root / "feedback" / "history_leak" / gf.ASSIGNMENT / f"{gf.ASSIGNMENT}.html"
    ).read_text()
    assert (
        "cannot read" in leak
        and "no network"
        in (root / "feedback" / "network" / gf.ASSIGNMENT / f"{gf.ASSIGNMENT}.html").read_text()
    )


def test_nbgrader_autograde_gives_the_same_scores(batch):
    root, copy, expected, before, _proc, report = batch
    env = clean_env(copy, [str(BIN)])
    gen = run(["nbgrader", "generate_assignment", gf.ASSIGNMENT, "--force"], copy, env)
    assert gen.returncode == 0, gen.stderr[-3000:]
    # the limits mathdl-grade was given above, as nbgrader's own options (else each hanging
    # cell would wait out nbgrader_config.py's 30 s)
    limits = ["--Execute.timeout=3", "--SandboxKernelManager.memory_mb=1024"]
    auto = run(["nbgrader", "autograde", gf.ASSIGNMENT, "--force", *limits], copy, env)
    from nbgrader.api import Gradebook, MissingEntry

    scores = {}
    with Gradebook(f"sqlite:///{copy / 'gradebook.db'}", "mathdl") as gb:
        for student in expected:
            try:
                scores[student] = gb.find_submission(gf.ASSIGNMENT, student).score
            except MissingEntry:
                scores[student] = 0.0
    assert scores == {s: e["score"] for s, e in report["students"].items()}, auto.stderr[-3000:]
    assert digest(copy) == {k.replace(str(root), str(copy)): v for k, v in before.items()}


# ----------------------------------------------------------------------------- a non-root instructor


class Users(list):
    """Throw-away unix users (``mdlg_`` + pid), and search permission for them on the folders
    they need (the test's Python may live under /root). Other root processes on a shared machine
    may reset those modes, so :meth:`reach` is called again before every command."""

    def __init__(self, names, folders):
        super().__init__(names)
        self.folders, self.opened = folders, {}

    def reach(self):
        for folder in self.folders:
            for parent in [*reversed(folder.parents), folder]:
                mode = parent.stat().st_mode
                if not mode & 0o001:
                    self.opened.setdefault(parent, mode)
                    os.chmod(parent, mode | 0o001)


@pytest.fixture
def users():
    if os.geteuid() != 0 or not shutil.which("useradd"):
        pytest.skip("needs root and useradd to create the test users")
    tag = str(os.getpid())[-5:]
    work = Path(tempfile.mkdtemp(prefix="mdlg-", dir="/tmp"))  # outside pytest's private folder
    here = Path(os.path.realpath(sys.executable)).parent
    users = Users([f"mdlg_i{tag}", f"mdlg_a{tag}", f"mdlg_b{tag}"], [here, ROOT, work])
    try:
        for name in users:
            subprocess.run(["useradd", "-m", name], check=True, capture_output=True)
        users.reach()
        yield users, work
    finally:
        for parent, mode in users.opened.items():
            os.chmod(parent, mode & 0o7777)
        for name in users:
            subprocess.run(["userdel", "-r", name], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


def test_exchange_round_trip_as_a_non_root_user(users):
    users, tmp_path = users
    instructor, alice, bob = users
    exchange, root = tmp_path / "exchange", tmp_path / "course"
    exchange.mkdir()
    os.chmod(tmp_path, 0o755)
    os.chmod(exchange, 0o777)
    gf.make_course(root)
    with open(root / "nbgrader_config.py", "a") as fh:
        fh.write(f"\nc.Exchange.root = {str(exchange)!r}\n")
    shutil.chown(root, instructor)
    for path in root.rglob("*"):
        shutil.chown(path, instructor)
    home = {u: Path(pwd.getpwnam(u).pw_dir) for u in users}
    student_cfg = f"c.Exchange.root = {str(exchange)!r}\nc.CourseDirectory.course_id = 'mathdl'\n"
    for u in (alice, bob):
        (home[u] / "nbgrader_config.py").write_text(student_cfg)
        shutil.chown(home[u] / "nbgrader_config.py", u)

    def as_user(user, *cmd, cwd):
        users.reach()
        proc = run([str(BIN / cmd[0]), *cmd[1:]], cwd, clean_env(home[user], [str(BIN)]), user)
        assert proc.returncode == 0, (
            f"{cmd} as {user}:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
        )
        return proc

    as_user(instructor, "nbgrader", "generate_assignment", gf.ASSIGNMENT, "--force", cwd=root)
    as_user(instructor, "nbgrader", "release_assignment", gf.ASSIGNMENT, "--force", cwd=root)
    for u in (alice, bob):
        as_user(u, "nbgrader", "fetch_assignment", gf.ASSIGNMENT, cwd=home[u])
    fetched = home[alice] / gf.ASSIGNMENT / f"{gf.ASSIGNMENT}.ipynb"
    nb = nbformat.read(str(fetched), as_version=4)
    answers = {gf.gid(c): c.source for c in gf.solution().cells}
    for c in nb.cells:
        if c.metadata.get("nbgrader", {}).get("solution"):
            c.source = answers[gf.gid(c)]
    nbformat.write(nb, str(fetched))
    for u in (alice, bob):
        as_user(u, "nbgrader", "submit", gf.ASSIGNMENT, cwd=home[u])
    as_user(instructor, "nbgrader", "collect", gf.ASSIGNMENT, cwd=root)
    proc = as_user(instructor, "mathdl-grade", gf.ASSIGNMENT, "--root", str(root), cwd=root)
    report = json.loads((root / "nbgrader_work" / gf.ASSIGNMENT / "report.json").read_text())
    assert report["students"][alice]["score"] == gf.AUTO_MAX, proc.stdout
    assert report["students"][bob]["score"] == 0
    as_user(instructor, "nbgrader", "release_feedback", gf.ASSIGNMENT, cwd=root)
    for u in (alice, bob):
        as_user(u, "nbgrader", "fetch_feedback", gf.ASSIGNMENT, cwd=home[u])
        pages = list((home[u] / gf.ASSIGNMENT / "feedback").rglob("*.html"))
        assert len(pages) == 1 and "hidden tests ran here" in pages[0].read_text(), u


# ----------------------------------------------------------------------------- the pieces


def test_a_kernel_that_cannot_start_is_a_grading_error_not_a_zero(tmp_path):
    """Issue 14: the grader's failure is loud (exit status 1, GRADING ERROR), never a silent 0."""
    root = gf.make_course(tmp_path / "course")
    gf.save(gf.solution(), root, "alice")
    proc, report = mathdl_grade(root, gf.ASSIGNMENT)  # the solution's references get cached
    assert proc.returncode == 0 and report["students"]["alice"]["score"] == gf.AUTO_MAX
    with open(root / "nbgrader_config.py", "a") as fh:  # no Python starts in 1 MiB
        fh.write("\nc.SandboxKernelManager.memory_mb = 1\n")
    proc, report = mathdl_grade(root, gf.ASSIGNMENT)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert report["students"]["alice"]["status"] == "error"
    assert "GRADING ERROR for alice" in proc.stderr and "did not start" in proc.stderr


@pytest.mark.parametrize(
    ("got", "want", "ok"),
    [
        (1.0, 1.0 + 1e-9, True),
        ([1.0, 2.0], (1.0, 2.0), True),
        ((2, 3), (2, 3), True),
        ((2, 3), (2, 4), False),
        (10**8, 10**8 + 1, False),
        ("device:cuda", "device:cpu", False),
        ({"W": [1.0, 2.0]}, {"W": [1.0, 2.0]}, True),
        ({"W": [1.0, 2.0]}, {"b": [1.0, 2.0]}, False),
        ([1.0, float("nan")], [1.0, 2.0], False),
        ([[1.0, 2.0]], [1.0, 2.0], False),
    ],
)
def test_compare_agrees_with_numpy_on_plain_data(got, want, ok):
    why = checks.compare(checks.plain(got), checks.plain(want), 1e-7, 1e-12)
    assert (why is None) == ok, why


def test_plain_turns_fake_arrays_into_real_floats():
    import numpy as np

    fake = type("Fake", (np.ndarray,), {"__eq__": lambda s, o: True, "__bool__": lambda s: True})
    data = checks.plain(np.arange(3.0).view(fake))
    assert data == ["array", [3], [0.0, 1.0, 2.0]]
    assert checks.compare(data, checks.plain([5.0, 5.0, 5.0]), 1e-7, 0) is not None


def test_strip_references_removes_expected_values_and_reference_blocks():
    src = (
        "check('a', f(x), [1.0, 2.0])\n"
        "check('b', f(y), expected=g(y), rtol=1e-9)\n"
        "### BEGIN REFERENCE\ndef g(y):\n    return y\n### END REFERENCE\n"
        "check('c', f(z), rtol=0)\n"
    )
    assert strip_references(src) == (
        "check('a', f(x))\ncheck('b', f(y), rtol=1e-9)\ncheck('c', f(z), rtol=0)\n"
    )


WALLS = r"""
import json, os, subprocess
out = {"pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit())}
try:
    kids = [subprocess.Popen(["sleep", "30"]) for _ in range(300)]
    out["processes"] = len(kids)
except OSError as exc:
    out["processes"] = f"refused: {exc.strerror}"
try:
    with open("big", "wb") as fh:
        fh.write(b"x" * (80 * 1024 * 1024))
    out["file"] = "written"
except OSError as exc:
    out["file"] = f"refused: {exc.strerror}"
out["solutions"] = os.path.exists(os.environ["COURSE"] + "/solutions")
print(json.dumps(out))
"""


def test_the_sandbox_caps_processes_and_file_size_and_hides_the_course(tmp_path):
    import asyncio

    from mathdl_grading.sandbox import SandboxKernelManager

    async def run_in_sandbox():
        km = SandboxKernelManager(kernel_name="python3", processes=32, file_mb=64)
        await km.start_kernel(cwd=str(tmp_path))
        kc = km.client()
        kc.start_channels()
        try:
            await kc.wait_for_ready(timeout=60)
            texts = []
            code = f"import os; os.environ['COURSE'] = {str(ROOT)!r}\n" + WALLS
            hook = lambda msg: texts.append(msg["content"].get("text", ""))  # noqa: E731
            await kc.execute_interactive(code, timeout=60, output_hook=hook)
            return json.loads("".join(texts).strip().splitlines()[-1])
        finally:
            kc.stop_channels()
            await km.shutdown_kernel(now=True)

    out = asyncio.run(run_in_sandbox())
    assert str(out["processes"]).startswith("refused"), out
    assert out["file"].startswith("refused"), out
    assert out["solutions"] is False
    assert max(out["pids"]) < 100, "the kernel sees only its own PID namespace"
