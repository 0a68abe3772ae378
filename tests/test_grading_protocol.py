"""The grading protocol of issue 17: hidden tests never reach anything a student reads, every
decision is made in the grader's process, and whatever a kernel sends is bounded.

Unit tests of the pieces (cells, check(), the scoring) run fast; the attacks are graded end to
end with ``mathdl-grade`` in a throw-away course (tests/grading_fixtures.py) and marked slow.
"""

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import grading_fixtures as gf
import nbformat
import numpy as np
import pytest

from mathdl_grading import checks
from mathdl_grading.cells import split_test, strip_references
from mathdl_grading.sandbox import bwrap_problem
from mathdl_grading.scoring import assess, coarse, hidden_verdict, verdict

BIN = Path(sys.executable).parent


# ----------------------------------------------------------------------------- pieces


def test_split_test_separates_the_hidden_blocks():
    src = "a = 1\n### BEGIN HIDDEN TESTS\nb = 2\n### END HIDDEN TESTS\nc = 3\n"
    visible, hidden = split_test(src)
    assert visible == "a = 1\nc = 3\n" and hidden == "b = 2\n"
    assert split_test("x = 1\n") == ("x = 1\n", "")


def test_strip_references_removes_expected_and_shared_values():
    src = (
        "### BEGIN REFERENCE\n_y = secret()\n### END REFERENCE\n"
        '_X = shared("points", _X)\n'
        'check("n", f(_X), expected=_y, rtol=1e-3)\n'
        'check("m", g(_X), _y)\n'
    )
    out = strip_references(src)
    assert "secret" not in out and "_y" not in out
    assert '_X = shared("points")' in out and 'check("n", f(_X), rtol=1e-3)' in out
    assert 'check("m", g(_X))' in out
    wrapped = strip_references('check("w", f(x), (x * (y + 1)), rtol=1e-3)\n')
    assert wrapped == 'check("w", f(x), rtol=1e-3)\n'


def test_compare_is_exact_about_shapes_both_ways():
    plain = checks.plain
    # the near misses of issue 18: an added keepdims axis, an extra leading axis
    assert checks.compare(plain(np.ones((1, 3))), plain(np.ones(3)), 1e-7, 0).startswith(
        "wrong shape"
    )
    assert checks.compare(plain(np.ones(3)), plain(np.ones((1, 3))), 1e-7, 0).startswith(
        "wrong shape"
    )
    # a scalar expected value broadcasts only where the check says so
    assert checks.compare(plain(np.zeros(3)), plain(0.0), 1e-7, 0).startswith("wrong shape")
    assert checks.compare(plain(np.zeros(3)), plain(0.0), 1e-7, 0, broadcast=True) is None
    # a list for an array, float32 and an int for a float: the same numbers pass
    assert checks.compare(plain([1.0, 2.0]), plain(np.array([1.0, 2.0])), 1e-7, 0) is None
    assert checks.compare(plain(np.float32(0.5)), plain(0.5), 1e-7, 0) is None
    assert checks.compare(plain(2), plain(2.0), 1e-7, 0) is None


def test_local_check_and_grader_give_one_verdict(monkeypatch):
    """The student's own check() and the grader's scoring agree on every near miss."""
    monkeypatch.delenv("MATHDL_GRADING", raising=False)
    want = np.arange(6.0).reshape(2, 3)
    near = {
        "keepdims": want.sum(axis=0, keepdims=True),
        "extra axis": want[None],
        "list": want.tolist(),
        "float32": want.astype(np.float32),
        "ints": want.astype(int),
        "transposed": want.T,
        "right": want.copy(),
    }
    ref = {"name": "x", "answer": checks.plain(want), "rtol": 1e-7, "atol": 0.0}
    for label, answer in near.items():
        try:
            checks.check("x", answer, want, rtol=1e-7, atol=0.0)
            local = True
        except AssertionError:
            local = False
        graded = not verdict([{"name": "x", "answer": checks.plain(answer)}], [ref])
        assert local == graded, label


def test_min_accuracy_is_computed_by_the_grader():
    labels = checks.plain(np.array([0, 1, 2, 1, 0]))
    assert checks.compare(checks.plain([0, 1, 2, 1, 1]), labels, 0, 0, min_accuracy=0.8) is None
    why = checks.compare(checks.plain([0, 1, 2, 0, 1]), labels, 0, 0, min_accuracy=0.8)
    assert why.startswith("accuracy 0.600")
    # a verdict instead of predictions is not an answer
    assert checks.compare(checks.plain(True), labels, 0, 0, min_accuracy=0.8) is not None


def test_raised_names_the_builtin_exception():
    class ShapeError(ValueError):
        pass

    def bad():
        raise ShapeError("no")

    assert checks.raised(bad) == "ValueError"
    assert checks.raised(lambda: 1) == "no error"
    assert checks.raised(lambda: [][1]) == "IndexError"


def test_hidden_failures_name_the_kind_never_a_number():
    ref = [{"name": "h", "answer": checks.plain(np.array([3.25, -1.5])), "hint": "think"}]
    for answer in (np.zeros(2), np.zeros((1, 2)), "text", [[1.0]]):
        found = {"records": [{"name": "h", "answer": checks.plain(answer)}], "error": None}
        (problem,) = hidden_verdict(found, ref)
        assert not any(ch.isdigit() for ch in problem), problem
        assert "think" in problem
    assert hidden_verdict({"records": [], "error": "ZeroDivisionError"}, ref) == [
        "hidden tests: your code raised ZeroDivisionError"
    ]
    assert coarse("wrong shape (1, 2), expected (2,)") == "wrong shape"


# ----------------------------------------------------------------------------- attacks, end to end

needs_sandbox = pytest.mark.skipif(bool(bwrap_problem()), reason=f"no sandbox: {bwrap_problem()}")

HIDDEN_LINES = [
    line.strip()
    for src in gf.TESTS.values()
    for line in split_test(src)[1].splitlines()
    if len(line.strip()) >= 12
]

# Pass A: print everything the kernel can find that looks like a test (files, history, hooks).
SNOOP = """
    import glob, json, os, atexit
    seen = []
    ip = get_ipython()
    ip.events.register("pre_run_cell", lambda info: seen.append(info.raw_cell))
    def _xform(lines):
        seen.append("".join(lines))
        return lines
    ip.input_transformers_cleanup.append(_xform)
    for path in glob.glob("**/*", recursive=True) + glob.glob(os.path.expanduser("~/**/*"), recursive=True):
        try:
            print("FILE", path, open(path, errors="replace").read()[::-1])
        except OSError:
            pass
"""
SNOOP_REPORT = """
    print("SEEN", "\\n".join(seen))
    print("SEEN-REVERSED", "\\n".join(seen)[::-1])
"""
FLOOD_UPDATES = """
    from IPython.display import display, update_display
    for i in range(6):
        display(".", display_id=f"d{i}")
    for i in range(6):
        update_display("A" * (20 << 20), display_id=f"d{i}")
"""
FLOOD_FRAMES = """
    ip = get_ipython()
    blob = b"x" * (40 << 20)
    for _ in range(3):
        ip.kernel.session.send(ip.kernel.iopub_socket, "display_data",
            {"data": {"text/plain": "x"}, "metadata": {}}, buffers=[blob] * 10)
"""
FLOOD_JSON = """
    from IPython.display import publish_display_data
    publish_display_data({"application/json": {"x": [[]] * 6_000_000}})
"""
PRINT_IN_FUNCTION = """
    _orig_grad_f = grad_f
    def grad_f(p):
        np.set_printoptions(threshold=10**9)
        print(np.arange(30_000.0))
        return _orig_grad_f(p)
"""


def _peak_rss_of(cmd, cwd):
    """Run ``cmd``; return (process, its peak resident memory in MB), sampled from /proc."""
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = [0]

    def watch():
        while proc.poll() is None:
            try:
                for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peak[0] = max(peak[0], int(line.split()[1]) // 1024)
            except OSError:
                pass
            time.sleep(0.05)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    out, err = proc.communicate(timeout=900)
    thread.join()
    proc.stdout, proc.stderr = out, err
    return proc, peak[0]


@pytest.fixture(scope="module")
def attacked(tmp_path_factory):
    """One course, graded once: honest students beside this module's attackers."""
    root = gf.make_course(tmp_path_factory.mktemp("protocol") / "course")
    cases = {
        "good": (gf.solution(), gf.AUTO_MAX),
        "blank_snoop": (
            gf.with_cell(gf.with_cell(gf.exercise(), SNOOP), SNOOP_REPORT, after="why"),
            0,
        ),
        "good_snoop": (
            gf.with_cell(gf.with_cell(gf.solution(), SNOOP), SNOOP_REPORT, after="why"),
            gf.AUTO_MAX,
        ),
        # pass B is a fresh kernel: even a hook on check() that runs there can only write into
        # answers that the grader compares
        "forge": (gf.with_cell(gf.wrong(), gf.STEAL_EXPECTED), 0),
        "flood_updates": (gf.with_cell(gf.solution(), FLOOD_UPDATES), gf.AUTO_MAX),
        # frames over the grader's limit cut the kernel off: the flooder's own loss
        "flood_frames": (gf.with_cell(gf.solution(), FLOOD_FRAMES), 0),
        "flood_json": (gf.with_cell(gf.solution(), FLOOD_JSON), gf.AUTO_MAX),
        "prints_in_function": (
            gf.with_cell(gf.solution(), PRINT_IN_FUNCTION, after="grad_sol"),
            gf.AUTO_MAX,
        ),
    }
    for student, (nb, _) in cases.items():
        gf.save(nb, root, student)
    env = {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(root), "LANG": "C.UTF-8"}
    cmd = [
        "env",
        "-i",
        *[f"{k}={v}" for k, v in env.items()],
        str(BIN / "mathdl-grade"),
        gf.ASSIGNMENT,
    ]
    proc, peak_mb = _peak_rss_of(cmd, root)
    report = json.loads((root / "nbgrader_work" / gf.ASSIGNMENT / "report.json").read_text())
    return root, report, {s: auto for s, (_, auto) in cases.items()}, proc, peak_mb


def _student_files(root, student):
    for top in ("autograded", "feedback"):
        yield from (p for p in (root / top / student).rglob("*") if p.is_file())


def _what_people_read(root, student):
    """The feedback (the student's) and every output of the graded notebook (the instructor's;
    its test cells' sources are the instructor's own tests, restored by nbgrader)."""
    text = "".join(
        p.read_text(errors="replace") for p in (root / "feedback" / student).rglob("*.html")
    )
    for path in (root / "autograded" / student).rglob("*.ipynb"):
        nb = nbformat.read(str(path), as_version=4)
        text += json.dumps([c.get("outputs", []) for c in nb.cells])
    return text


@pytest.mark.slow
@needs_sandbox
def test_every_student_gets_exactly_their_marks(attacked):
    _root, report, expected, proc, _ = attacked
    for student, auto in expected.items():
        got = report["students"][student]
        assert got["status"] == "graded", (student, got)
        assert got["score"] == auto, (student, got, proc.stderr[-2000:])


@pytest.mark.slow
@needs_sandbox
def test_no_hidden_test_reaches_any_file_a_student_or_instructor_reads(attacked):
    root = attacked[0]
    for student in ("blank_snoop", "good_snoop"):
        text = _what_people_read(root, student)
        assert "SEEN" in text  # the attack ran and printed what it saw
        for line in HIDDEN_LINES:
            assert line not in text and line[::-1] not in text, (student, line)


@pytest.mark.slow
@needs_sandbox
def test_floods_stay_bounded_in_the_grader_and_its_files(attacked):
    root, _, _, _proc, peak_mb = attacked
    assert peak_mb < 1200, f"the grader peaked at {peak_mb} MB"
    for student in ("flood_updates", "flood_frames", "flood_json"):
        size = sum(p.stat().st_size for p in _student_files(root, student))
        assert size < 20 << 20, (student, size)


# ----------------------------------------------------------------------------- known mistakes


def test_a_known_mistake_is_named_locally_and_by_the_grader(monkeypatch):
    monkeypatch.delenv("MATHDL_GRADING", raising=False)
    right, slip = np.array([1.0, 2.0]), np.array([3.0, 6.0])
    packed = checks.pack([("the mean summed", "divide by the batch size", checks.plain(slip))])
    with pytest.raises(
        AssertionError, match=r"this looks like the mean summed\. Next step: divide"
    ):
        checks.check("grad", slip, right, mistakes=packed)
    with pytest.raises(AssertionError, match="wrong values"):  # another wrong answer: no label
        checks.check("grad", slip + 1, right, mistakes=packed)
    checks.check("grad", right, right, mistakes=packed)  # the right answer passes
    ref = {"name": "grad", "answer": checks.plain(right)}
    known = [("sum", "the mean summed", "divide by the batch size", checks.plain(slip))]
    (problem,) = verdict(
        [{"name": "grad", "answer": checks.plain(slip)}], [ref], known=lambda n, i: known
    )
    assert problem == "grad: this looks like the mean summed. Next step: divide by the batch size"


#: The catalogue of the simulated class: id -> (cell, the right code, the slip, label, next step).
MISTAKES = {
    "y-term": (
        "grad_sol",
        "x + 6 * y",
        "x + 3 * y",
        "the y-term of df/dy taken as 3y",
        "differentiate 3y^2 again: the power comes down",
    ),
    "tanh-forgotten": (
        "chain_sol",
        "2 * (a - t) * (1 - a**2) * x",
        "2 * (a - t) * x",
        "the derivative of tanh left out of the chain",
        "the chain has three links: the square, the tanh and w * x",
    ),
}


def mistakes_toml(mistakes):
    """solutions/<a>/mistakes.toml for ``mistakes`` (TOML's basic strings are JSON's)."""
    out = []
    for mid, (cell, old, new, label, step) in mistakes.items():
        fields = {"id": mid, "cell": cell, "replace": [old, new], "label": label, "next": step}
        out += ["[[mistake]]", *(f"{k} = {json.dumps(v)}" for k, v in fields.items()), ""]
    return "\n".join(out)


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    """A simulated class: correct, blank, two students per catalogued mistake, two uncatalogued."""
    root = gf.make_course(tmp_path_factory.mktemp("class") / "course")
    (root / "solutions" / gf.ASSIGNMENT / "mistakes.toml").write_text(mistakes_toml(MISTAKES))
    slips = {
        "y1": MISTAKES["y-term"][:3],
        "y2": MISTAKES["y-term"][:3],
        "t1": MISTAKES["tanh-forgotten"][:3],
        "t2": MISTAKES["tanh-forgotten"][:3],
        "u1": ("grad_sol", "x + 6 * y", "x + 5 * y"),
        "u2": ("grad_sol", "x + 6 * y", "x + 4 * y"),
    }
    gf.save(gf.solution(), root, "good")
    gf.save(gf.exercise(), root, "blank")
    for student, (cell, old, new) in slips.items():
        gf.save(gf.replace(gf.solution(), cell, old, new), root, student)
    env = {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(root), "LANG": "C.UTF-8"}
    envs = ["env", "-i", *[f"{k}={v}" for k, v in env.items()]]
    grade = subprocess.run(
        [*envs, str(BIN / "mathdl-grade"), gf.ASSIGNMENT], cwd=root, capture_output=True, text=True
    )
    assert grade.returncode == 0, grade.stderr[-3000:]
    rep = subprocess.run(
        [*envs, str(BIN / "mathdl-report"), gf.ASSIGNMENT], cwd=root, capture_output=True, text=True
    )
    assert rep.returncode == 0, rep.stderr[-3000:]
    course = subprocess.run(
        [*envs, str(BIN / "mathdl-report")], cwd=root, capture_output=True, text=True
    )
    assert course.returncode == 0, course.stderr[-3000:]
    return root


@pytest.mark.slow
@needs_sandbox
def test_feedback_names_the_catalogued_mistake(graded_class):
    text = (graded_class / "feedback" / "y1" / gf.ASSIGNMENT / f"{gf.ASSIGNMENT}.html").read_text()
    assert "this looks like the y-term of df/dy taken as 3y" in text
    assert "the power comes down" in text
    other = (graded_class / "feedback" / "u1" / gf.ASSIGNMENT / f"{gf.ASSIGNMENT}.html").read_text()
    assert "this looks like" not in other and "wrong values" in other


@pytest.mark.slow
@needs_sandbox
def test_class_report_puts_every_student_in_the_right_group(graded_class):
    rep = json.loads(
        (graded_class / "nbgrader_work" / gf.ASSIGNMENT / "class-report.json").read_text()
    )
    assert rep["students"] == 8
    parts = {p["cell"]: p for p in rep["parts"]}
    groups = {m["id"]: m["students"] for p in rep["parts"] for m in p["mistakes"]}
    assert groups["y-term"] == ["y1", "y2"] and groups["tanh-forgotten"] == ["t1", "t2"]
    uncatalogued = [m for m in parts["grad_test"]["mistakes"] if m["id"].startswith("check:")]
    assert {s for m in uncatalogued for s in m["students"]} == {"u1", "u2", "blank"}
    assert any(set(m["students"]) == {"u1", "u2"} for m in uncatalogued)  # numbers do not split
    assert all("good" not in m["students"] for p in rep["parts"] for m in p["mistakes"])
    assert parts["grad_test"]["full_marks"] == 3  # good, t1 and t2
    html_text = (graded_class / "nbgrader_work" / gf.ASSIGNMENT / "class-report.html").read_text()
    assert "<script" not in html_text and "http" not in html_text.replace("http-equiv", "")
    assert (graded_class / "nbgrader_work" / "class-report.html").is_file()


def test_a_chain_names_its_first_wrong_step_and_draws_it(monkeypatch):
    monkeypatch.delenv("MATHDL_GRADING", raising=False)
    right = {
        "dP": np.ones(2),
        "dW2": np.full(2, 2.0),
        "dH": np.full(2, 3.0),
        "dW1": np.full(2, 4.0),
    }
    wrong = dict(right, dH=np.zeros(2), dW1=np.zeros(2))  # dH is wrong, dW1 inherits it
    with pytest.raises(AssertionError, match="first wrong step dH: wrong values"):
        checks.check("backward", wrong, right, chain=True)
    graph = {"dW2": ["dP"], "dH": ["dP"], "dW1": ["dH"]}
    ref = {"name": "backward", "answer": checks.plain(right), "chain": True, "graph": graph}
    found = assess([{"name": "backward", "answer": checks.plain(wrong)}], [ref])
    assert found[0]["kind"] == "first wrong step dH"
    pic = found[0]["picture"]
    assert pic["data"]["image/png"] and "first wrong step is dH" in pic["data"]["text/plain"]
    # hidden: the step's name is the solution's key, never a number
    hidden = assess([{"name": "backward", "answer": checks.plain(wrong)}], [ref], hidden=True)
    assert hidden[0]["message"].startswith("backward: first wrong step dH")


def test_integrity_flags_point_at_hooks_and_leave_honest_code_alone():
    from mathdl_grading.integrity import flags

    hostile = [
        (1, "ip = get_ipython()\nip.input_transformers_cleanup.append(f)"),
        (2, "import mathdl_grading.checks as c\nc.check = lambda *a, **k: None"),
        (3, "import sys\ng = sys._getframe(1).f_globals"),
        (4, "__builtins__['abs'] = None"),
        (5, "from builtins import print as p"),
    ]
    found = {c for c, *_ in flags(hostile)}
    assert found == {1, 2, 3, 4, 5}
    honest = [
        (
            1,
            "%matplotlib inline\nimport numpy as np\nimport os, sys, time\nprint(sys.version, os.getcwd())",
        ),
        (2, "from multiprocessing import Pool\nwith Pool(2) as p:\n    print(p.map(abs, [-1, 2]))"),
    ]
    assert flags(honest) == []


@pytest.mark.slow
@needs_sandbox
def test_the_report_flags_hooks_for_review_and_never_honest_students(attacked):
    report = attacked[1]
    assert report["students"]["forge"]["flags"] and report["students"]["good_snoop"]["flags"]
    assert report["students"]["good"]["flags"] == []
    assert report["students"]["prints_in_function"]["flags"] == []
