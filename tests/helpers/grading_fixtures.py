"""A small assignment written to the test convention, and a batch of honest and hostile submissions.

``make_course(root)`` writes a throw-away course (nbgrader_config.py, solutions/fixture/); the
submissions go to ``root/submitted/<student>/fixture/``. ``hostile_batch(root)`` writes one
student per case and returns ``{student: expected}``. The assignment is independent of the
course's own assignments (which another part of the project rewrites).
"""

import json
import shutil
import textwrap
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from mathdl_grading.cells import FIRST_LINE

ROOT = Path(__file__).resolve().parents[2]
ASSIGNMENT = "fixture"
POINTS = {"grad_test": 2, "numgrad_test": 3, "chain_test": 2}
AUTO_MAX = sum(POINTS.values())
MANUAL = 2

SOLUTIONS = {
    "grad_sol": """
        def grad_f(p):
            ### BEGIN SOLUTION
            x, y = np.asarray(p, dtype=float)
            return np.array([2 * x + y - 2, x + 6 * y])
            ### END SOLUTION
        """,
    "numgrad_sol": """
        def numerical_gradient(g, x, h=1e-5):
            ### BEGIN SOLUTION
            x = np.array(x, dtype=float)
            out = np.zeros_like(x)
            for i in range(x.size):
                e = np.zeros_like(x)
                e.flat[i] = h
                out.flat[i] = (g(x + e) - g(x - e)) / (2 * h)
            return out
            ### END SOLUTION
        """,
    "chain_sol": """
        def dloss_dw(w, x, t):
            \"\"\"dL/dw for L = (tanh(w * x) - t) ** 2, by the chain rule.\"\"\"
            ### BEGIN SOLUTION
            a = np.tanh(w * x)
            return 2 * (a - t) * (1 - a**2) * x
            ### END SOLUTION
        """,
}
TESTS = {
    "grad_test": """
        check("grad_f at (1, 0)", grad_f(np.array([1.0, 0.0])), [0.0, 1.0])
        ### BEGIN HIDDEN TESTS
        _rng = np.random.default_rng(1)
        for _p in _rng.standard_normal((4, 2)):
            check("grad_f at random points", grad_f(_p), expected=[2 * _p[0] + _p[1] - 2, _p[0] + 6 * _p[1]])
        ### END HIDDEN TESTS
        """,
    "numgrad_test": """
        check("gradient of sum(x**2)", numerical_gradient(lambda v: np.sum(v**2), np.array([1.0, -2.0])), [2.0, -4.0], atol=1e-6)
        ### BEGIN HIDDEN TESTS
        _x = np.random.default_rng(2).standard_normal((2, 3))
        _keep = _x.copy()
        check("gradient of sum(sin)", numerical_gradient(lambda v: np.sum(np.sin(v)), _x), np.cos(_keep), atol=1e-8)
        check("the input is unchanged", _x, _keep, rtol=0, atol=0)
        ### END HIDDEN TESTS
        """,
    "chain_test": """
        check("dL/dw at w=0", dloss_dw(0.0, 1.0, 1.0), -2.0)
        ### BEGIN HIDDEN TESTS
        ### BEGIN REFERENCE
        def _loss(w, x, t):
            return (np.tanh(w * x) - t) ** 2
        def _dref(w, x, t):
            return 2 * (np.tanh(w * x) - t) * x / np.cosh(w * x) ** 2
        ### END REFERENCE
        for _w, _x, _t in np.random.default_rng(3).standard_normal((5, 3)):
            check("dL/dw at random points", dloss_dw(_w, _x, _t), expected=_dref(_w, _x, _t), rtol=1e-11, atol=1e-14)
        ### END HIDDEN TESTS
        """,
}


def _meta(gid, **kw):
    base = {"grade": False, "grade_id": gid, "locked": True, "schema_version": 3, "solution": False}
    return {"nbgrader": {**base, **kw}}


def source_notebook():
    """The instructor's notebook of the fixture assignment."""
    cells = [
        new_markdown_cell(
            "# Fixture assignment\n\n$f(x, y) = x^2 + xy + 3y^2 - 2x$", metadata=_meta("intro")
        ),
        new_code_cell("import numpy as np", metadata=_meta("setup")),
    ]
    for sol, test in zip(SOLUTIONS, TESTS, strict=True):
        cells.append(
            new_code_cell(
                textwrap.dedent(SOLUTIONS[sol]).strip(),
                metadata=_meta(sol, locked=False, solution=True),
            )
        )
        source = FIRST_LINE + "\nimport numpy as np\n" + textwrap.dedent(TESTS[test]).strip()
        cells.append(new_code_cell(source, metadata=_meta(test, grade=True, points=POINTS[test])))
    cells.append(new_markdown_cell("Why is $\\eta < 2/L$ needed?", metadata=_meta("why_md")))
    written = _meta("why", grade=True, solution=True, locked=False, points=MANUAL, task=False)
    cells.append(new_markdown_cell("Because the steepest direction overshoots.", metadata=written))
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nb


def make_course(root):
    """A throw-away course: the repository's nbgrader_config.py and solutions/fixture/."""
    root = Path(root)
    (root / "solutions" / ASSIGNMENT).mkdir(parents=True, exist_ok=True)
    (root / "submitted").mkdir(exist_ok=True)
    shutil.copy(ROOT / "nbgrader_config.py", root / "nbgrader_config.py")
    nbformat.write(source_notebook(), str(root / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"))
    return root


def gid(cell):
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def cell(nb, grade_id):
    return next(c for c in nb.cells if gid(c) == grade_id)


def solution():
    return source_notebook()


def exercise():
    """The student version (as generate_assignment makes it: solutions and hidden tests removed)."""
    nb = source_notebook()
    for c in nb.cells:
        if c.cell_type == "code" and "### BEGIN SOLUTION" in c.source:
            head = c.source.split("    ### BEGIN SOLUTION")[0]
            c.source = head + "    # YOUR CODE HERE\n    raise NotImplementedError()"
        elif "### BEGIN HIDDEN TESTS" in c.source:
            c.source = c.source.split("### BEGIN HIDDEN TESTS")[0]
        elif gid(c) == "why":
            c.source = "YOUR ANSWER HERE"
    return nb


def wrong():
    """Answers that run without errors but are wrong: only cheating could pass their tests."""
    nb = exercise()
    cell(nb, "grad_sol").source = "def grad_f(p):\n    return np.zeros(2)"
    cell(
        nb, "numgrad_sol"
    ).source = "def numerical_gradient(g, x, h=1e-5):\n    return np.zeros(np.shape(x))"
    cell(nb, "chain_sol").source = "def dloss_dw(w, x, t):\n    return 0.0"
    return nb


def save(nb, root, student):
    folder = Path(root) / "submitted" / student / ASSIGNMENT
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(folder / f"{ASSIGNMENT}.ipynb"))
    return folder


def with_cell(nb, code, after="setup"):
    """``nb`` with an extra code cell (the student's own) after the cell ``after``."""
    i = nb.cells.index(cell(nb, after)) + 1
    nb.cells.insert(i, new_code_cell(textwrap.dedent(code).strip()))
    return nb


def replace(nb, grade_id, old, new):
    c = cell(nb, grade_id)
    assert old in c.source, (grade_id, old)
    c.source = c.source.replace(old, new)
    return nb


HONEST_EXTRAS = """
    import os
    from IPython.display import display
    home = os.environ.get("HOME", "")
    class Bag:
        def __init__(self):
            self.items = [1, 2]
        def __len__(self):
            return len(self.items)
        def __hash__(self):
            return 7
        def __eq__(self, other):
            return isinstance(other, Bag)
    b = Bag()
    print(vars(b), b.__class__.__name__, len(b), hash(b))
    display(b.__class__.__name__)
"""
PATCH_NUMPY = """
    import builtins, mathdl
    np.allclose = lambda *a, **k: True
    np.isclose = lambda *a, **k: True
    np.testing.assert_allclose = lambda *a, **k: None
    builtins.abs = lambda x: 0
    mathdl.numerical_grad = lambda *a, **k: 0.0
"""
PATCH_ALIAS_AND_CHECK = """
    _t = [np][0]
    _t.asarray = lambda *a, **k: _t.zeros(2)
    import mathdl_grading.checks as _c
    _c.compare = lambda *a, **k: None
    _c.check = lambda *a, **k: None
    import sys
    sys.modules["mathdl_grading.checks"] = type(sys)("fake")
"""
STEAL_EXPECTED = """
    import mathdl_grading.checks as _c
    _orig = _c.check
    def _steal(name, answer, expected=None, **kw):
        return _orig(name, expected if expected is not None else answer, **kw)
    _c.check = _steal
"""
STEAL_GLOBALS = """
    import sys
    def grad_f(p):
        g = sys._getframe(1).f_globals
        return g.get("_expected", g.get("_ref", np.zeros(2)))
    def dloss_dw(w, x, t):
        loss = sys._getframe(1).f_globals["_loss"]  # the test's own loss, differentiated numerically
        return (loss(w + 1e-7, x, t) - loss(w - 1e-7, x, t)) / 2e-7
"""
FAKE_NDARRAY = """
    Fake = type("Fake", (np.ndarray,), {
        "__eq__": lambda s, o: np.ones(np.shape(s), bool).view(np.ndarray),
        "__bool__": lambda s: True,
        "__array_ufunc__": lambda s, *a, **k: True,
        "__array_function__": lambda s, *a, **k: True,
    })
    def grad_f(p):
        return np.zeros(2).view(Fake)
    def numerical_gradient(g, x, h=1e-5):
        return np.zeros(np.shape(x)).view(Fake)
"""
FAKE_OBJECT = """
    class Anything:
        def __eq__(self, other): return True
        def __bool__(self): return True
        def __float__(self): return 0.0
        def __array_ufunc__(self, *a, **k): return True
    def grad_f(p):
        return Anything()
    def dloss_dw(w, x, t):
        return Anything()
"""
HISTORY_LEAK = """
    import linecache, os
    print(In, _ih)
    print([linecache.getlines(f) for f in list(linecache.cache)])
    for up in ("..", "../..", "../../..", "../../../.."):
        for name in ("solutions/fixture/fixture.ipynb", "gradebook.db", "nbgrader_config.py"):
            try:
                print(open(os.path.join(up, name)).read())
            except OSError as exc:
                print("cannot read", name, type(exc).__name__)
"""
VANDAL = """
    import os, glob
    hits = []
    here = os.path.abspath(".")
    while True:
        for pattern in ("*.db", "grades.csv", "nbgrader_config.py", "solutions/*/*.ipynb", "submitted/*/*/*.ipynb", "*/*.db"):
            for path in glob.glob(os.path.join(here, pattern)):
                try:
                    open(path, "w").close()
                    hits.append(path)
                except OSError:
                    pass
        if here == "/":
            break
        here = os.path.dirname(here)
    print("vandalised", hits)
"""
NETWORK = """
    import socket
    try:
        socket.create_connection(("1.1.1.1", 53), timeout=2)
        print("network reachable")
    except OSError as exc:
        print("no network:", exc)
"""


def hostile_batch(root):
    """Write every case; returns ``{student: {"status": ..., "auto": expected autograded points}}``."""
    expected = {}

    def case(student, nb, auto, status="graded"):
        if nb is not None:
            save(nb, root, student)
        expected[student] = {"status": status, "auto": auto}

    case("good", solution(), AUTO_MAX)
    case("blank", exercise(), 0)
    case("honest_extras", with_cell(solution(), HONEST_EXTRAS, after="grad_sol"), AUTO_MAX)
    case("wrong_part", replace(solution(), "grad_sol", "x + 6 * y", "x + 5 * y"), AUTO_MAX - 2)
    case("patch_numpy", with_cell(wrong(), PATCH_NUMPY), 0)
    case("patch_alias_and_check", with_cell(wrong(), PATCH_ALIAS_AND_CHECK), 0)
    case("steal_expected", with_cell(wrong(), STEAL_EXPECTED), 0)
    case("steal_globals", with_cell(wrong(), STEAL_GLOBALS, after="chain_sol"), 0)
    case("fake_ndarray", with_cell(wrong(), FAKE_NDARRAY, after="chain_sol"), 0)
    case("fake_object", with_cell(wrong(), FAKE_OBJECT, after="chain_sol"), 0)
    case("history_leak", with_cell(solution(), HISTORY_LEAK, after="why"), AUTO_MAX)
    case("vandal", with_cell(solution(), VANDAL), AUTO_MAX)
    case("network", with_cell(solution(), NETWORK), AUTO_MAX)
    dies = replace(
        solution(), "chain_sol", "    a = np.tanh(w * x)\n", "    import os\n    os._exit(1)\n"
    )
    case("kernel_dies", dies, AUTO_MAX - 2)
    loop = replace(
        solution(),
        "numgrad_sol",
        "    x = np.array(x, dtype=float)\n",
        "    while True:\n        pass\n",
    )
    case("infinite_loop", loop, AUTO_MAX - 3)
    stubborn = "import time\nwhile True:\n    try:\n        time.sleep(0.05)\n    except KeyboardInterrupt:\n        pass"
    case("stubborn_loop", with_cell(solution(), stubborn, after="numgrad_test"), AUTO_MAX - 2)
    grab = "    hog = [bytearray(10**8) for _ in range(10**5)]\n"
    case(
        "memory_grab",
        replace(solution(), "grad_sol", "    x, y = np.asarray", grab + "    x, y = np.asarray"),
        AUTO_MAX - 2,
    )
    case(
        "huge_output",
        with_cell(solution(), "for i in range(300_000):\n    print('line', i)"),
        AUTO_MAX,
    )
    warn = "    import warnings\n    warnings.warn('harmless')\n    x, y = np.asarray"
    case("warnings", replace(solution(), "grad_sol", "    x, y = np.asarray", warn), AUTO_MAX)
    nb = solution()
    nb.cells = [c for c in nb.cells if gid(c) not in POINTS]
    case("deleted_tests", nb, AUTO_MAX)
    nb = wrong()
    for test in POINTS:
        cell(nb, test).source = 'print("all tests passed")'
    case("edited_tests", nb, 0)
    folder = Path(root) / "submitted" / "malformed" / ASSIGNMENT
    folder.mkdir(parents=True)
    (folder / f"{ASSIGNMENT}.ipynb").write_text(json.dumps(nbformat.writes(solution()))[:500])
    case("malformed", None, 0, status="unreadable")
    (Path(root) / "submitted" / "missing" / ASSIGNMENT).mkdir(parents=True)
    case("missing", None, 0, status="missing")
    return expected
