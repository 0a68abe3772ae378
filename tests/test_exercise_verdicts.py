"""One verdict (issue 18): every visible check says in the student's own Jupyter what the grader
decides. For every assignment, each visible check of the student's notebook (as `make
exercises` bakes it) is run locally with near-miss answers (an added keepdims axis, an extra
leading axis, a list for an array, float32, ints for floats) and the same answers are scored as
the grader scores them against the solution's record; the two verdicts agree call for call."""

import ast
import os
from pathlib import Path

import numpy as np
import pytest

from mathdl_grading import checks, release
from mathdl_grading.apps import load_config
from mathdl_grading.bake import BakeError, bake_notebook
from mathdl_grading.cells import split_test
from mathdl_grading.reference import references
from mathdl_grading.sandbox import bwrap_problem
from mathdl_grading.scoring import assess

ROOT = Path(__file__).resolve().parents[1]
OPTIONS = ("rtol", "atol", "broadcast", "min_accuracy", "chain", "mistakes")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(bool(bwrap_problem()), reason=f"no sandbox: {bwrap_problem()}"),
]


def near_misses(value):
    """Answers a student plausibly gives instead of ``value`` (some right, most wrong)."""
    if isinstance(value, dict):
        first = next(iter(value), None)
        return [dict(value, **{first: m}) for m in near_misses(value[first])] if first else []
    try:
        arr = np.asarray(value)
    except ValueError:  # a list of arrays of different shapes
        return []
    if arr.dtype.kind not in "fiub":
        return []
    out = [arr[None], arr.tolist(), arr.astype(np.float32), np.round(arr).astype(int)]
    if arr.ndim >= 1:
        out += [np.expand_dims(arr, -1), arr.reshape(1, *arr.shape)]
    if arr.ndim == 0:
        out += [[arr.item()], np.full(3, arr.item())]
    return out


def _visible_calls(source):
    """(name, keyword options, expected literal) of each visible check call of a baked cell."""
    tree = ast.parse(split_test(source)[0])
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "check":
            opts = {
                k.arg: k.value for k in node.keywords if k.arg in OPTIONS or k.arg == "expected"
            }
            expected = node.args[2] if len(node.args) > 2 else opts.pop("expected", None)
            if expected is None or not isinstance(node.args[0], ast.Constant):
                continue
            try:
                kwargs = {k: ast.literal_eval(v) for k, v in opts.items() if k != "expected"}
                yield (
                    node.args[0].value,
                    kwargs,
                    eval(
                        compile(ast.Expression(expected), "<literal>", "eval"),
                        {"np": np, "float": float},
                    ),
                )
            except (ValueError, NameError):  # not a literal (an accuracy check's labels)
                continue


@pytest.mark.parametrize("a", release.assignments(ROOT))
def test_local_and_graded_verdicts_agree_on_near_misses(a, monkeypatch):
    monkeypatch.delenv(checks.MODE_ENV, raising=False)
    try:
        baked = bake_notebook(ROOT, a)
    except BakeError as exc:
        pytest.fail(f"{a} does not bake: {exc}")
    source = ROOT / "solutions" / a / f"{a}.ipynb"
    cells = references(source, load_config(ROOT), ROOT / "nbgrader_work" / "references")["cells"]
    compared = 0
    for gid, cell in baked.items():
        records = {r["name"]: r for r in cells[gid]["visible"]}
        for name, kwargs, expected in _visible_calls(cell):
            for answer in [expected, *near_misses(expected)]:
                try:
                    checks.check(name, answer, expected, **kwargs)
                    local = True
                except AssertionError:
                    local = False
                graded = not assess(
                    [{"name": name, "answer": checks.plain(answer)}], [records[name]]
                )
                assert local == graded, (
                    a,
                    gid,
                    name,
                    type(answer),
                    np.shape(answer),
                    local,
                    graded,
                )
                compared += 1
    assert compared > 10, f"{a}: only {compared} comparisons"
    assert os.environ.get(checks.MODE_ENV) is None
