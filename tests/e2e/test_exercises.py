"""The graded exercises follow the course's nbgrader conventions, and exercises/ is exactly what
solutions/ generates (no solution or hidden test leaks into the student version).

Every assignment under solutions/ (any folder solutions/<a>/<a>.ipynb) is checked; no kernel runs
here (tests/e2e/test_grading.py autogrades them).
"""

import ast
import re
from pathlib import Path

import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager

from mathdl_grading import release
from mathdl_grading.cells import FIRST_LINE_PATTERN
from mathdl_harness.course import ASSIGNMENTS, NBGRADER_MARKERS, lessons_from

ROOT = Path(__file__).resolve().parents[2]

MARKERS = NBGRADER_MARKERS
REGION = re.compile(
    r"^\s*###? BEGIN (SOLUTION|HIDDEN TESTS)\s*$(.*?)^\s*###? END \1\s*$", re.M | re.S
)


def source_nb(a):
    return nbformat.read(str(ROOT / "solutions" / a / f"{a}.ipynb"), as_version=4)


def exercise_nb(a):
    return nbformat.read(str(ROOT / "exercises" / a / f"{a}.ipynb"), as_version=4)


def meta(cell):
    return cell.metadata.get("nbgrader", {})


def is_test(cell):
    return cell.cell_type == "code" and meta(cell).get("grade") and not meta(cell).get("solution")


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """The release of every assignment, generated afresh (with a throw-away gradebook)."""
    dest = tmp_path_factory.mktemp("release")
    return release.generate(ROOT, dest=dest)


def test_every_assignment_has_a_solution_and_an_exercise_folder():
    assert ASSIGNMENTS == lessons_from("01_tensors"), "every lesson from 01 on has its assignment"
    for a in ASSIGNMENTS:
        assert sorted(p.name for p in (ROOT / "solutions" / a).iterdir()) == [
            f"{a}.ipynb",
            "mistakes.toml",
        ], f"solutions/{a}/ must hold {a}.ipynb and its catalogue of known mistakes, mistakes.toml"
    released = sorted(p.name for p in (ROOT / "exercises").iterdir() if p.is_dir())
    assert released == ASSIGNMENTS, (
        "exercises/ and solutions/ must hold the same assignments (run `make exercises`)"
    )


@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_nbgrader_metadata_follows_the_conventions(a):
    nb = source_nb(a)
    ids = [meta(c).get("grade_id") for c in nb.cells]
    assert all(ids), "every cell has nbgrader metadata with a grade_id"
    assert len(ids) == len(set(ids)), "grade ids are unique"
    graded = 0
    for c in nb.cells:
        m = meta(c)
        assert m["schema_version"] == 3
        if is_test(c):
            assert m["locked"] is True and m["points"] > 0, m
            graded += 1
        elif m.get("solution") and m.get("grade"):  # a written answer graded by hand
            assert c.cell_type == "markdown" and m.get("task") is False and m["points"] > 0, m
            graded += 1
        elif m.get("solution"):  # code the student writes
            assert c.cell_type == "code" and m["grade"] is False and m["locked"] is False, m
            assert "### BEGIN SOLUTION" in c.source and "### END SOLUTION" in c.source, m[
                "grade_id"
            ]
        else:  # instructions and given code
            assert m["locked"] is True and m["grade"] is False, m
    assert 3 <= graded <= 6, f"{a}: {graded} graded parts (want 3 to 6)"
    assert nb.metadata["kernelspec"]["name"] == "python3"


def _checks(source):
    tree = ast.parse(source)
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call) and ast.unparse(n.func) == "check"]


@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_every_test_cell_follows_the_check_convention(a):
    """docs/instructors.md, "Writing tests": the import line first, answers through check()."""
    for c in source_nb(a).cells:
        if not is_test(c):
            continue
        gid = meta(c)["grade_id"]
        assert FIRST_LINE_PATTERN.fullmatch(c.source.split("\n")[0]), (
            f"{a}/{gid}: the first line must match {FIRST_LINE_PATTERN.pattern!r}"
        )
        assert _checks(c.source), f"{a}/{gid}: a test cell must call check()"
        tree = ast.parse(c.source)
        # A trailing expression would be shown as the cell's result, which nbgrader reads as a score.
        for body in (tree.body, ast.parse(REGION.sub("", c.source)).body):
            last = body[-1]
            assert not isinstance(last, ast.Expr) or (
                isinstance(last.value, ast.Call)
                and ast.unparse(last.value.func) in ("print", "check")
            ), f"{a}/{gid}: the cell ends with a bare expression"
        # visible tests exist and do not need the hidden part
        visible = REGION.sub("", c.source)
        tree = ast.parse(visible)
        assert _checks(visible), f"{a}/{gid}: no visible test"
        assert not [
            n for n in ast.walk(ast.parse(c.source)) if isinstance(n, ast.Assert | ast.Raise)
        ], f"{a}/{gid}: test cells hold no assert/raise (a kernel can strip them): check() data"
        assert REGION.search(c.source), f"{a}/{gid}: every graded cell needs hidden tests"


@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_exercise_notebooks_do_not_import_torch(a):
    for c in exercise_nb(a).cells + source_nb(a).cells:
        if c.cell_type != "code":
            continue
        tree = ast.parse(TransformerManager().transform_cell(c.source))
        for n in ast.walk(tree):
            names = (
                [al.name for al in n.names]
                if isinstance(n, ast.Import)
                else [n.module or ""]
                if isinstance(n, ast.ImportFrom)
                else []
            )
            assert not any(x.split(".")[0] == "torch" for x in names), (
                f"{a}: importing torch costs seconds per notebook when grading"
            )


@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_exercises_are_exactly_what_solutions_generate(a, generated):
    fresh = nbformat.read(str(generated[a]), as_version=4)
    committed = exercise_nb(a)
    assert nbformat.writes(committed) == nbformat.writes(fresh), (
        f"exercises/{a} is out of date: run `make exercises` and commit the result"
    )
    extra = sorted(p.name for p in (ROOT / "exercises" / a).iterdir())
    assert extra == [f"{a}.ipynb"], f"exercises/{a}/ must hold only the notebook"


@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_exercises_hold_no_solution_no_hidden_test_and_no_outputs(a):
    src = source_nb(a)
    ex = exercise_nb(a)
    ex_text = "\n".join(c.source for c in ex.cells)
    for marker in MARKERS:
        assert marker not in ex_text, f"{a}: nbgrader marker {marker!r} in the exercise"
    # lines that are legitimately visible: everything outside the solution/hidden regions
    visible_lines = set()
    secret_lines = set()
    for c in src.cells:
        m = meta(c)
        if c.cell_type == "markdown" and m.get("solution"):
            secret_lines |= {ln.strip() for ln in c.source.splitlines()}  # a model written answer
            continue
        for match in REGION.finditer(c.source):
            secret_lines |= {ln.strip() for ln in match.group(2).splitlines()}
        visible_lines |= {ln.strip() for ln in REGION.sub("", c.source).splitlines()}
    ex_lines = {ln.strip() for c in ex.cells for ln in c.source.splitlines()}
    leaked = sorted(ln for ln in secret_lines - visible_lines if ln and ln in ex_lines)
    assert not leaked, f"{a}: solution or hidden-test lines in the exercise: {leaked[:5]}"
    for c in ex.cells:
        if c.cell_type == "code":
            assert c.outputs == [] and c.execution_count is None, (
                f"{a}: exercises are committed without outputs"
            )
        if meta(c).get("solution") and c.cell_type == "markdown":
            assert c.source.strip() == "YOUR ANSWER HERE"
        if meta(c).get("solution") and c.cell_type == "code":
            assert "raise NotImplementedError()" in c.source
