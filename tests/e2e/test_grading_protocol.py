"""The grading protocol of issue 17: hidden tests never reach anything a student reads, every
decision is made in the grader's process, and whatever a kernel sends is bounded.

The attacks are graded end to end with ``mathdl-grade`` in a throw-away course
(tests/helpers/grading_fixtures.py). The pieces (cells, check(), the scoring, chains, integrity
flags) are unit-tested in tests/mathdl_grading/.
"""

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest

from mathdl_grading.cells import split_test
from mathdl_grading.sandbox import bwrap_problem
from tests.helpers import grading_fixtures as gf

BIN = Path(sys.executable).parent


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


@needs_sandbox
def test_every_student_gets_exactly_their_marks(attacked):
    _root, report, expected, proc, _ = attacked
    for student, auto in expected.items():
        got = report["students"][student]
        assert got["status"] == "graded", (student, got)
        assert got["score"] == auto, (student, got, proc.stderr[-2000:])


@needs_sandbox
def test_no_hidden_test_reaches_any_file_a_student_or_instructor_reads(attacked):
    root = attacked[0]
    for student in ("blank_snoop", "good_snoop"):
        text = _what_people_read(root, student)
        assert "SEEN" in text  # the attack ran and printed what it saw
        for line in HIDDEN_LINES:
            assert line not in text and line[::-1] not in text, (student, line)


@needs_sandbox
def test_floods_stay_bounded_in_the_grader_and_its_files(attacked):
    root, _, _, _proc, peak_mb = attacked
    assert peak_mb < 1200, f"the grader peaked at {peak_mb} MB"
    for student in ("flood_updates", "flood_frames", "flood_json"):
        size = sum(p.stat().st_size for p in _student_files(root, student))
        assert size < 20 << 20, (student, size)


# ----------------------------------------------------------------------------- known mistakes


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


@needs_sandbox
def test_feedback_names_the_catalogued_mistake(graded_class):
    text = (graded_class / "feedback" / "y1" / gf.ASSIGNMENT / f"{gf.ASSIGNMENT}.html").read_text()
    assert "this looks like the y-term of df/dy taken as 3y" in text
    assert "the power comes down" in text
    other = (graded_class / "feedback" / "u1" / gf.ASSIGNMENT / f"{gf.ASSIGNMENT}.html").read_text()
    assert "this looks like" not in other and "wrong values" in other


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


@needs_sandbox
def test_the_report_flags_hooks_for_review_and_never_honest_students(attacked):
    report = attacked[1]
    assert report["students"]["forge"]["flags"] and report["students"]["good_snoop"]["flags"]
    assert report["students"]["good"]["flags"] == []
    assert report["students"]["prints_in_function"]["flags"] == []
