"""Submissions for the grading tests: good, blank, broken and hostile notebooks.

``hostile_batch(root)`` writes one student per case under ``root/submitted/<student>/04_gradients/``
and returns ``{student: expected}``. Used by tests/test_grading.py (one grading run for all of
them) and by benchmarks/bench_grading.py (the "good" notebook).
"""

import copy
import json
import shutil
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]

ASSIGNMENT = "04_gradients"
#: autograded points of 04_gradients per test cell, and the hand-graded written answer
POINTS = {"grad_test": 2, "numgrad_test": 3, "gd_test": 2, "lr_test": 3}
AUTO_MAX = sum(POINTS.values())
MANUAL = 2


def make_course(root, assignments=None):
    """A throw-away course: nbgrader_config.py and solutions/ copied from the repository."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "nbgrader_config.py", root / "nbgrader_config.py")
    src = ROOT / "solutions"
    for folder in sorted(src.iterdir()):
        if (folder / f"{folder.name}.ipynb").is_file() and (
            assignments is None or folder.name in assignments
        ):
            (root / "solutions" / folder.name).mkdir(parents=True, exist_ok=True)
            shutil.copy(folder / f"{folder.name}.ipynb", root / "solutions" / folder.name)
    (root / "submitted").mkdir(exist_ok=True)
    return root


def read(path):
    return nbformat.read(str(path), as_version=4)


def solution(assignment=ASSIGNMENT):
    return read(ROOT / "solutions" / assignment / f"{assignment}.ipynb")


def exercise(assignment=ASSIGNMENT):
    return read(ROOT / "exercises" / assignment / f"{assignment}.ipynb")


def gid(cell):
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def cell(nb, grade_id):
    return next(c for c in nb.cells if gid(c) == grade_id)


def save(nb, root, student, assignment=ASSIGNMENT):
    folder = Path(root) / "submitted" / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(folder / f"{assignment}.ipynb"))
    return folder


def _prepend(nb, grade_id, code):
    c = cell(nb, grade_id)
    c.source = code.rstrip("\n") + "\n" + c.source


def _replace_in(nb, grade_id, old, new):
    c = cell(nb, grade_id)
    assert old in c.source, (grade_id, old)
    c.source = c.source.replace(old, new)


def wrong_answers():
    """The exercise, answered wrongly but without errors (so only tampering could pass its tests)."""
    nb = exercise()
    cell(
        nb, "grad_sol"
    ).source = "def grad_f(p):\n    return np.zeros(2)\n\n\nargmin_f = np.zeros(2)\n"
    cell(nb, "numgrad_sol").source = (
        "def numerical_gradient(g, x, h=1e-5):\n"
        "    return np.zeros_like(np.asarray(x, dtype=np.float64))\n"
    )
    cell(nb, "gd_sol").source = (
        "def gradient_descent(grad, x0, lr, steps):\n"
        "    return np.zeros((steps + 1,) + np.shape(x0))\n"
    )
    cell(nb, "lr_sol").source = "hessian_f = np.eye(2)\nlr_max = 1.0\nlr_best = 0.5\n"
    return nb


def hostile_batch(root):
    """Write every case; returns {student: dict(status=..., auto=..., zeroed=bool, ...)}."""
    root = Path(root)
    expected = {}

    def case(student, nb, auto, status="graded", zeroed=False, **extra):
        if nb is not None:
            save(nb, root, student)
        expected[student] = dict(status=status, auto=auto, zeroed=zeroed, **extra)

    case("good", solution(), AUTO_MAX, manual_pending=True)
    case("blank", exercise(), 0)

    nb = solution()
    _replace_in(
        nb,
        "grad_sol",
        "return np.array([2 * x + y - 2, x + 6 * y])",
        "return np.array([2 * x - 2, 6 * y])",
    )
    case("wrong_part", nb, AUTO_MAX - POINTS["grad_test"])

    nb = solution()
    _replace_in(
        nb,
        "grad_sol",
        "    x, y = np.asarray(p, dtype=np.float64)\n",
        "    while True:\n        pass\n",
    )
    case("infinite_loop", nb, AUTO_MAX - POINTS["grad_test"])

    nb = (
        solution()
    )  # a loop that swallows the interrupt: the kernel stays busy, later cells cannot run
    _prepend(
        nb,
        "lr_sol",
        "import time\n_t0 = time.time()\nwhile time.time() - _t0 < 120:\n"
        "    try:\n        time.sleep(0.05)\n    except KeyboardInterrupt:\n        pass",
    )
    case("stubborn_loop", nb, AUTO_MAX - POINTS["lr_test"])

    nb = (
        solution()
    )  # the kernel dies inside the tested function: later tests score 0, earlier ones count
    _replace_in(
        nb, "gd_sol", "    x = np.array(x0, dtype=np.float64)\n", "    import os\n    os._exit(1)\n"
    )
    case("kernel_dies", nb, POINTS["grad_test"] + POINTS["numgrad_test"])

    nb = solution()  # an exception at import, in the first cell the student controls
    _prepend(nb, "grad_sol", "import numpy_that_does_not_exist")
    case("import_error", nb, AUTO_MAX - POINTS["grad_test"])

    nb = solution()  # grabs memory until the cap stops it
    _replace_in(
        nb,
        "numgrad_sol",
        "    x = np.array(x, dtype=np.float64)  # a copy\n",
        "    hog = [bytearray(10**8) for _ in range(10**5)]\n    x = np.array(x, dtype=np.float64)\n",
    )
    case("memory_grab", nb, AUTO_MAX - POINTS["numgrad_test"])

    nb = wrong_answers()
    _prepend(
        nb, "grad_sol", "np.allclose = lambda *a, **k: True\nnp.isclose = lambda *a, **k: True"
    )
    case("tamper_allclose", nb, 0, zeroed=True, tamper=True)

    nb = solution()  # right answers, but the notebook tampers: no points at all
    _prepend(
        nb,
        "numgrad_sol",
        "np.testing.assert_allclose = lambda *a, **k: None\n__builtins__.abs = lambda x: 0",
    )
    case("tamper_testing_builtins", nb, 0, zeroed=True, tamper=True)

    nb = solution()
    _prepend(nb, "gd_sol", "import mathdl\nmathdl.numerical_grad = lambda *a, **k: 0.0")
    case("tamper_mathdl", nb, 0, zeroed=True, tamper=True)

    nb = (
        wrong_answers()
    )  # hidden from the static scan (aliasing through a list): the runtime guard catches it
    _prepend(nb, "grad_sol", "_t = [np][0]\n_t.allclose = lambda *a, **k: True")
    case("guard_only", nb, 0, zeroed=True, guard=True)

    nb = wrong_answers()  # shadows built-ins the tests use
    _prepend(nb, "grad_sol", "all = lambda *a, **k: True\nabs = lambda x: 0.0")
    case("shadow_builtins", nb, 0)

    nb = solution()  # vandalises a file every kernel imports: restored before anyone else runs
    _prepend(nb, "numgrad_sol", "import mathdl.losses\nopen(mathdl.losses.__file__, 'w').close()")
    case("file_vandal", nb, 0, zeroed=True)

    nb = solution()  # every test cell deleted: they are put back
    nb.cells = [c for c in nb.cells if gid(c) not in POINTS]
    case("deleted_tests", nb, AUTO_MAX)

    nb = wrong_answers()  # test cells edited to pass: restored from the source
    for g in POINTS:
        cell(nb, g).source = 'print("all tests passed")'
    case("edited_tests", nb, 0)

    nb = (
        wrong_answers()
    )  # test cells turned into ordinary cells that pass: the real ones are put back
    for g in POINTS:
        c = cell(nb, g)
        c.source = "pass"
        del c.metadata["nbgrader"]
    case("unmarked_tests", nb, 0)

    nb = solution()  # duplicated grade ids (a test cell and a solution cell copied)
    i = nb.cells.index(cell(nb, "grad_test"))
    dup = copy.deepcopy(cell(nb, "grad_test"))
    dup["id"] = "copy-of-grad-test"
    nb.cells.insert(i, dup)
    j = nb.cells.index(cell(nb, "gd_sol"))
    dup = copy.deepcopy(cell(nb, "gd_sol"))
    dup["id"] = "copy-of-gd-sol"
    nb.cells.insert(j, dup)
    case("duplicated_ids", nb, AUTO_MAX)

    nb = solution()  # hundreds of thousands of lines of output
    nb.cells.insert(2, nbformat.v4.new_code_cell("for i in range(300_000):\n    print('line', i)"))
    case("huge_output", nb, AUTO_MAX)

    nb = solution()  # a correct answer that writes warnings to stderr while the tests run
    _replace_in(
        nb,
        "grad_sol",
        "    x, y = np.asarray(p, dtype=np.float64)\n",
        "    import warnings\n    warnings.warn('a harmless warning', RuntimeWarning)\n"
        "    np.log(np.zeros(1))  # RuntimeWarning: divide by zero\n"
        "    x, y = np.asarray(p, dtype=np.float64)\n",
    )
    case("warnings", nb, AUTO_MAX)

    folder = save(solution(), root, "renamed")  # a browser download renamed the notebook
    (folder / f"{ASSIGNMENT}.ipynb").rename(folder / f"{ASSIGNMENT} (1).ipynb")
    case("renamed", None, AUTO_MAX)

    folder = root / "submitted" / "malformed" / ASSIGNMENT
    folder.mkdir(parents=True)
    text = json.dumps(nbformat.writes(solution()))[:2000]
    (folder / f"{ASSIGNMENT}.ipynb").write_text(text)  # truncated, invalid JSON
    case("malformed", None, 0, status="unreadable")

    folder = root / "submitted" / "not_a_notebook" / ASSIGNMENT
    folder.mkdir(parents=True)
    (folder / f"{ASSIGNMENT}.ipynb").write_text('{"hello": "world"}')
    case("not_a_notebook", None, 0, status="unreadable")

    folder = root / "submitted" / "missing" / ASSIGNMENT
    folder.mkdir(parents=True)
    (folder / "answers.txt").write_text("I could not open Jupyter")
    case("missing", None, 0, status="missing")

    (root / "submitted" / "empty" / ASSIGNMENT).mkdir(parents=True)
    case("empty", None, 0, status="missing")

    (root / "submitted" / "no_folder").mkdir(parents=True)
    case("no_folder", None, 0, status="missing")
    return expected
