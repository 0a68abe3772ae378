"""Autograding, end to end, in throw-away course copies (never the repository's gradebook).

* every solution notebook scores full autograded marks and every released notebook exactly 0;
* one batch of hostile and broken submissions of 04_gradients is graded in a single run, and
  each student gets the right grade, a row in grades.csv and feedback, whatever the others did;
* the static tamper scan, the notebook repair and the runtime guard, on their own.
"""

import csv
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

import grading_fixtures as gf  # noqa: E402

from mathdl_grading import cli, prepare, release, scan  # noqa: E402

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"),
    reason="grading uses fork, /proc and resource limits (Linux)",
)

ASSIGNMENTS = release.assignments(ROOT)


def settings(root, **kw):
    opts = dict(timeout=30, memory_mb=2048, quiet=True, jobs=2)
    opts.update(kw)
    return cli.Settings(root=root, **opts)


# ----------------------------------------------------------------------------- solutions and exercises


@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_solution_scores_full_marks_and_exercise_scores_zero(a, tmp_path):
    root = gf.make_course(tmp_path / "course", [a])
    gf.save(gf.solution(a), root, "solution", a)
    gf.save(gf.exercise(a), root, "exercise", a)
    report = cli.grade(a, settings(root, feedback=False))

    src = gf.solution(a)
    test_points = sum(
        c.metadata["nbgrader"]["points"] for c in src.cells if prepare.is_test_cell(c)
    )
    written = [
        c for c in src.cells if c.cell_type == "markdown" and c.metadata["nbgrader"].get("grade")
    ]

    sol = report["students"]["solution"]
    assert sol["status"] == "graded" and not sol["errors"], sol
    assert not sol["zeroed"] and not sol["guard"], sol
    assert sol["auto_max"] == test_points > 0
    assert sol["auto_score"] == test_points, f"{a}: the solution lost points: {sol}"
    assert sol["needs_manual"] == bool(written), "written answers wait for the instructor"

    ex = report["students"]["exercise"]
    assert ex["status"] == "graded" and not ex["zeroed"], ex
    assert ex["score"] == 0 and ex["auto_score"] == 0, (
        f"{a}: the blank exercise earned points: {ex}"
    )
    assert not ex["needs_manual"], "an untouched written answer is 0 without manual grading"

    rows = list(csv.DictReader(open(root / "grades.csv")))
    assert {r["student_id"] for r in rows if r["assignment"] == a} == {"solution", "exercise"}


# ----------------------------------------------------------------------------- the hostile batch


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    root = gf.make_course(tmp_path_factory.mktemp("hostile") / "course", [gf.ASSIGNMENT])
    expected = gf.hostile_batch(root)
    # a short per-cell timeout keeps the infinite loops cheap; 1 GiB is plenty for these notebooks
    report = cli.grade(gf.ASSIGNMENT, settings(root, timeout=3, memory_mb=1024))
    return root, expected, report


def test_every_hostile_submission_is_graded_and_gets_its_own_grade(hostile):
    _root, expected, report = hostile
    assert set(report["students"]) == set(expected)
    wrong = []
    for student, exp in expected.items():
        got = report["students"][student]
        if (
            got["status"] != exp["status"]
            or got["auto_score"] != exp["auto"]
            or bool(got["zeroed"]) != exp["zeroed"]
        ):
            wrong.append(
                (
                    student,
                    exp,
                    {k: got[k] for k in ("status", "auto_score", "zeroed", "errors", "notes")},
                )
            )
    assert not wrong, "\n".join(map(str, wrong))


def test_tampering_earns_nothing_and_is_explained(hostile):
    root, expected, report = hostile
    for student, exp in expected.items():
        got = report["students"][student]
        if exp.get("tamper"):
            assert got["score"] == 0
            assert any(f["severity"] == scan.TAMPER for f in got["findings"]), got["findings"]
        if exp.get("guard"):
            assert got["guard"], "the runtime guard must have tripped"
            assert not any(f["severity"] == scan.TAMPER for f in got["findings"]), (
                "this case is meant to get past the static scan"
            )
    md = (root / "nbgrader_work" / gf.ASSIGNMENT / "report.md").read_text()
    assert "autograded points set to 0" in md and "tamper_allclose" in md
    # the student sees the reason in the feedback
    html = (
        root / "feedback" / "tamper_allclose" / gf.ASSIGNMENT / f"{gf.ASSIGNMENT}.html"
    ).read_text()
    assert "Autograded points set to 0 by the grader" in html


def test_every_student_has_a_row_in_grades_csv(hostile):
    root, expected, _report = hostile
    rows = [
        r for r in csv.DictReader(open(root / "grades.csv")) if r["assignment"] == gf.ASSIGNMENT
    ]
    assert sorted(r["student_id"] for r in rows) == sorted(expected)
    for r in rows:
        exp = expected[r["student_id"]]
        assert float(r["score"]) == exp["auto"], r  # written answers are not graded yet
        assert float(r["max_score"]) == gf.AUTO_MAX + gf.MANUAL


def test_every_student_gets_feedback(hostile):
    root, expected, report = hostile
    for student, exp in expected.items():
        page = root / "feedback" / student / gf.ASSIGNMENT / f"{gf.ASSIGNMENT}.html"
        assert page.is_file(), student
        text = page.read_text()
        assert "BEGIN HIDDEN TESTS" not in text and "_final_distance" not in text, (
            f"{student}: the feedback shows hidden tests"
        )
        if exp["status"] != "graded":
            assert "could not be graded" in page.read_text()
    assert report["feedback_ok"], report.get("feedback_note")


def test_huge_output_is_truncated_in_the_graded_notebook(hostile):
    root, _, _ = hostile
    path = root / "autograded" / "huge_output" / gf.ASSIGNMENT / f"{gf.ASSIGNMENT}.ipynb"
    assert path.stat().st_size < 500_000
    text = path.read_text()
    assert "Output truncated" in text or "output truncated by the grader" in text


def test_restored_and_repaired_cells_are_reported(hostile):
    _, _, report = hostile
    s = report["students"]
    assert any("put back" in n for n in s["deleted_tests"]["notes"])
    assert any("duplicate" in n for n in s["duplicated_ids"]["notes"])
    assert any("not valid JSON" in n for n in s["malformed"]["notes"])
    assert any("empty" in n for n in s["empty"]["notes"])


def test_grading_again_gives_the_same_grades(hostile):
    """A second run over the same submissions (e.g. after a late one arrived) changes nothing."""
    root, expected, report = hostile
    again = cli.grade(
        gf.ASSIGNMENT,
        settings(root, timeout=3, memory_mb=1024, feedback=False),
        students=["good", "tamper_allclose", "malformed", "empty"],
    )
    for s in ("good", "tamper_allclose", "malformed", "empty"):
        assert again["students"][s]["score"] == report["students"][s]["score"], s
    rows = [
        r for r in csv.DictReader(open(root / "grades.csv")) if r["assignment"] == gf.ASSIGNMENT
    ]
    assert len(rows) == len(expected), "students not re-graded keep their row"


# ----------------------------------------------------------------------------- the pieces on their own


def _findings(code, tests=("_expected = 2.0\nassert answer() == _expected",)):
    return scan.scan_cells([(0, textwrap.dedent(code))], ["import numpy as np"], list(tests))


@pytest.mark.parametrize(
    "code",
    [
        "np.allclose = lambda *a, **k: True",
        "import numpy.testing as npt\nnpt.assert_allclose = print",
        "setattr(np, 'allclose', lambda *a, **k: True)",
        "import builtins\nbuiltins.abs = lambda x: 0",
        "__builtins__.all = lambda x: True",
        "import sys\nsys.modules['numpy'] = None",
        "import mathdl\nmathdl.losses.mse = lambda a, b: 0.0",
        "exec('np.allclose = 1')",
        "t = np.testing\nt.assert_allclose = print",
        "np.__dict__['isclose'] = None",
        "vars(np)['isclose'] = None",
        "def f():\n    np.allclose = None\n    return 1",
        "np.allclose.__defaults__ = (1.0, 1.0, False)",
        "get_ipython().input_transformers_cleanup.append(lambda lines: [])",
        "!rm -rf ~",
        "%load_ext something",
        "import importlib",
        "from unittest import mock",
        "import ctypes",
        "def answer():\n    global _expected\n    _expected = 5.0\n    return 5.0",
        "class A:\n    def __eq__(self, other):\n        return True",
        "class B:\n    def __array_function__(self, *a):\n        return True",
        "import os\nos.kill(os.getppid(), 9)",
        "import mathdl_grading.guard as g\ng.check = lambda: None",
    ],
)
def test_the_static_scan_flags_tampering(code):
    assert any(f.severity == scan.TAMPER for f in _findings(code)), code


@pytest.mark.parametrize(
    "code",
    [
        "import numpy as np\nx = np.zeros(3)\nx[0] = 1\nx.shape = (3, 1)",
        "def f(z):\n    e = np.exp(z - z.max())\n    return e / e.sum()",
        "import math\nresult = {'a': 1}\nresult['a'] = math.sqrt(2)",
        "%timeit np.zeros(10)",
        "import types\nstub = types.SimpleNamespace(cuda=None)",
        "import warnings\nwarnings.warn('careful')",
        "import numpy.testing as npt\nnpt.assert_allclose(1.0, 1.0)",
        "class Net:\n    def __init__(self):\n        self.w = 0\n    def forward(self, x):\n        return x",
        "print(np.__version__)",
    ],
)
def test_the_static_scan_leaves_ordinary_code_alone(code):
    assert not [str(f) for f in _findings(code) if f.severity == scan.TAMPER], code


def test_repair_restores_structure(tmp_path):
    src = gf.solution()
    rel = gf.exercise()
    nb = gf.solution()
    nb.cells = [c for c in nb.cells if gf.gid(c) not in ("gd_test", "lr_md")]  # deleted
    nb.cells.append(nbformat.v4.new_code_cell("x = 1"))
    nb.cells[-1].metadata["nbgrader"] = {"grade_id": "made_up", "grade": True, "points": 100}
    gf.cell(nb, "grad_test").metadata["nbgrader"]["points"] = 50  # edited points
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, str(path))
    fixed = prepare.read_notebook_file(path)
    notes = prepare.align(fixed, src, rel)
    ids = [gf.gid(c) for c in fixed.cells if gf.gid(c)]
    assert ids == [gf.gid(c) for c in src.cells], "all cells back, in the source order"
    assert gf.cell(fixed, "grad_test").metadata["nbgrader"]["points"] == 2
    assert "made_up" not in ids and any("unknown" in n for n in notes)
    assert any("gd_test" in n for n in notes)
    bad = tmp_path / "bad.ipynb"
    bad.write_text("{not json")
    with pytest.raises(prepare.Unreadable):
        prepare.read_notebook_file(bad)


GUARD_SCRIPT = r"""
import json, types, builtins, sys
import numpy as np, math, mathdl
import mathdl_grading.guard as g
g.arm()
g.check()
results = {}
attacks = {
    "allclose": ("np", "allclose", lambda *a, **k: True),
    "testing": ("np.testing", "assert_allclose", lambda *a, **k: None),
    "isclose_math": ("math", "isclose", lambda *a, **k: True),
    "abs": ("builtins", "abs", lambda x: 0),
    "mathdl": ("mathdl.losses", "mse", lambda a, b: 0.0),
    "methods": ("np._core._methods", "umr_all", lambda *a, **k: True),
}
import numpy._core._methods
for name, (modname, attr, fake) in attacks.items():
    mod = sys.modules["numpy" + modname[2:]] if modname.startswith("np") else sys.modules[modname]
    old = getattr(mod, attr)
    setattr(mod, attr, fake)
    try:
        g.check()
        results[name] = "missed"
    except g.TamperingDetected:
        results[name] = "caught"
    setattr(mod, attr, old)
f = np.allclose.__wrapped__
old = f.__defaults__
f.__defaults__ = (1e9, 1e9, False)
try:
    g.check(); results["defaults"] = "missed"
except g.TamperingDetected:
    results["defaults"] = "caught"
f.__defaults__ = old
np = types.SimpleNamespace(allclose=lambda *a, **k: True)
try:
    g.check(); results["fake_np"] = "missed"
except g.TamperingDetected:
    results["fake_np"] = "caught"
import numpy as np
max = 3
try:
    g.check(); results["shadow"] = "missed"
except g.ShadowedBuiltinError:
    results["shadow"] = "shadowed"
del max
g.check()
results["clean_again"] = "ok"
print(json.dumps(results))
"""


def test_the_runtime_guard_catches_patched_tools():
    proc = subprocess.run(
        [sys.executable, "-c", GUARD_SCRIPT],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, MATHDL_GRADING_KERNEL=""),
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    assert results.pop("shadow") == "shadowed"
    assert results.pop("clean_again") == "ok"
    assert set(results.values()) == {"caught"}, results


def test_grading_from_a_clean_environment_keeps_the_exchange_files(tmp_path):
    """Issue 14: `env -i` (no PYTHONUNBUFFERED), a correct submission at full marks, and
    nbgrader's timestamp.txt / submission_secret.txt carried through to feedback/."""
    root = gf.make_course(tmp_path / "course", [gf.ASSIGNMENT])
    folder = gf.save(gf.solution(), root, "alice")
    (folder / "timestamp.txt").write_text("2026-01-01 12:00:00.000000 UTC")
    (folder / "submission_secret.txt").write_text("s3cret")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "mathdl-grade"), gf.ASSIGNMENT, "--root", str(root)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads((root / "nbgrader_work" / gf.ASSIGNMENT / "report.json").read_text())
    alice = report["students"]["alice"]
    assert alice["auto_score"] == gf.AUTO_MAX and not alice["errors"], alice
    fb = root / "feedback" / "alice" / gf.ASSIGNMENT
    assert (fb / "submission_secret.txt").read_text() == "s3cret"
    assert (fb / "timestamp.txt").is_file()
