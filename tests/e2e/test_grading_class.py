"""Issue 19 end to end on the course's own assignments: a simulated class is graded with
``mathdl-grade`` and reported with ``mathdl-report``; every student lands in the right group,
the feedback names catalogued mistakes, and a wrong backward pass is reported at its first
wrong step with the graph drawn.

Students per assignment: the solution, the blank exercise, two students per planted catalogued
mistake, and one student with a slip that is not in the catalogue.
"""

import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import nbformat
import pytest

from mathdl_grading.sandbox import bwrap_problem

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
#: (assignment, catalogued mistakes planted twice each, an uncatalogued slip: cell, old, new)
CLASS = {
    "05_chain_rule": (
        ["forward-order", "grad-assigned-not-accumulated"],
        (
            "comp_sol",
            "return 2 * s * np.cos(x) / (1 + s * s)",
            "return s * np.cos(x) / (1 + s * s)",
        ),
    ),
    "06_activations": (
        ["relu-derivative-at-zero", "dead-on-one-example"],
        ("sigmoid_sol", "return s * (1.0 - s)", "return s * (2.0 - s)"),
    ),
    "07_losses": (
        ["focal-gradient-no-mean", "focal-gradient-factor-constant"],
        ("mse_sol", "return float(np.mean(diff ** 2))", "return float(np.mean(np.abs(diff)))"),
    ),
    "10_putting_it_together": (
        ["backward-relu-mask-on-a1", "bias-grad-keepdims"],
        ("backprop_sol", 'dA1 = dZ2 @ params["W2"].T', 'dA1 = dZ2 @ params["W2"].T * 1.5'),
    ),
}

pytestmark = [
    pytest.mark.skipif(bool(bwrap_problem()), reason=f"no sandbox: {bwrap_problem()}"),
]


def _solution(a):
    return nbformat.read(str(ROOT / "solutions" / a / f"{a}.ipynb"), as_version=4)


def _slipped(a, cell, old, new):
    nb = _solution(a)
    target = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == cell)
    assert old in target.source, (a, cell, old)
    target.source = target.source.replace(old, new, 1)
    return nb


def _save(root, student, a, nb):
    folder = root / "submitted" / student / a
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(folder / f"{a}.ipynb"))


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = tmp_path_factory.mktemp("class") / "course"
    (root / "solutions").mkdir(parents=True)
    shutil.copy(ROOT / "nbgrader_config.py", root)
    expected = {}
    for a, (planted, other) in CLASS.items():
        shutil.copytree(ROOT / "solutions" / a, root / "solutions" / a)
        items = {
            m["id"]: m
            for m in tomllib.loads((ROOT / "solutions" / a / "mistakes.toml").read_text())[
                "mistake"
            ]
        }
        _save(root, "good", a, _solution(a))
        _save(
            root,
            "blank",
            a,
            nbformat.read(str(ROOT / "exercises" / a / f"{a}.ipynb"), as_version=4),
        )
        for mid in planted:
            for k in (1, 2):
                _save(
                    root, f"{mid}-{k}", a, _slipped(a, items[mid]["cell"], *items[mid]["replace"])
                )
        _save(root, "other", a, _slipped(a, *other))
        expected[a] = planted
    env = {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(root), "LANG": "C.UTF-8"}
    envs = ["env", "-i", *[f"{k}={v}" for k, v in env.items()]]
    for a in CLASS:
        run = subprocess.run(
            [*envs, str(BIN / "mathdl-grade"), a], cwd=root, capture_output=True, text=True
        )
        assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    run = subprocess.run(
        [*envs, str(BIN / "mathdl-report")], cwd=root, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return root, expected


def _report(root, a):
    return json.loads((root / "nbgrader_work" / a / "class-report.json").read_text())


@pytest.mark.parametrize("a", list(CLASS))
def test_each_student_lands_in_the_right_group(course, a):
    root, expected = course
    rep = _report(root, a)
    groups = {m["id"]: set(m["students"]) for p in rep["parts"] for m in p["mistakes"]}
    for mid in expected[a]:
        assert {f"{mid}-1", f"{mid}-2"} <= groups.get(mid, set()), (mid, groups)
    for mid, students in groups.items():
        assert "good" not in students, (mid, students)
        if not mid.startswith(
            "check:"
        ):  # a catalogued group holds only students who made that slip
            assert students <= {f"{mid}-1", f"{mid}-2"}, (mid, students)
    uncatalogued = set().union(*(s for m, s in groups.items() if m.startswith("check:")))
    assert "other" in uncatalogued


@pytest.mark.parametrize("a", list(CLASS))
def test_feedback_names_the_catalogued_mistake(course, a):
    root, expected = course
    items = {
        m["id"]: m
        for m in tomllib.loads((ROOT / "solutions" / a / "mistakes.toml").read_text())["mistake"]
    }
    for mid in expected[a]:
        page = (root / "feedback" / f"{mid}-1" / a / f"{a}.html").read_text()
        assert f"this looks like {items[mid]['label']}" in page.replace("&#39;", "'"), mid


def test_a_wrong_backward_pass_is_reported_at_its_first_wrong_step(course):
    root, _ = course
    a = "10_putting_it_together"
    nb = nbformat.read(
        str(root / "autograded" / "backward-relu-mask-on-a1-1" / a / f"{a}.ipynb"), as_version=4
    )
    cell = next(
        c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "backprop_test"
    )
    text = json.dumps(cell.outputs)
    assert "first wrong step Z1" in text  # dL/dZ1 is where the ReLU's derivative was left out
    assert "the ReLU's derivative left out of the chain" in text  # and the catalogue names it
    assert "visible tests passed" not in text
    assert any("image/png" in o.get("data", {}) for o in cell.outputs)  # the graph, drawn


def test_a_wrong_engine_is_reported_at_its_first_wrong_node(course):
    root, _ = course
    a = "05_chain_rule"
    nb = nbformat.read(
        str(root / "autograded" / "forward-order-1" / a / f"{a}.ipynb"), as_version=4
    )
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "ops_test")
    text = json.dumps(cell.outputs)
    assert "first wrong step a" in text  # run forwards, a's _backward ran before b's and c's
    assert any("image/png" in o.get("data", {}) for o in cell.outputs)


def test_the_course_report_shows_every_assignment(course):
    root, _ = course
    reports = json.loads((root / "nbgrader_work" / "class-report.json").read_text())
    assert sorted(r["assignment"] for r in reports) == sorted(CLASS)
    page = (root / "nbgrader_work" / "class-report.html").read_text()
    assert "<script" not in page and all(a in page for a in CLASS)
