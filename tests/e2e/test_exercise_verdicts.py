"""One verdict (issue 18): every visible check says in the student's own Jupyter what the grader
decides. For every assignment, each visible check of the student's notebook (as `make
exercises` bakes it) is run locally with near-miss answers (an added keepdims axis, an extra
leading axis, a list for an array, float32, ints for floats) and the same answers are scored as
the grader scores them against the solution's record; the two verdicts agree call for call."""

import ast
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest

from mathdl_grading import checks
from mathdl_grading.apps import load_config
from mathdl_grading.bake import BakeError, bake_notebook
from mathdl_grading.cells import split_test
from mathdl_grading.reference import references
from mathdl_grading.sandbox import bwrap_problem
from mathdl_grading.scoring import assess
from mathdl_harness.course import ASSIGNMENTS

ROOT = Path(__file__).resolve().parents[2]
OPTIONS = ("rtol", "atol", "broadcast", "min_accuracy", "chain", "mistakes")

pytestmark = [
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
    if arr.dtype.kind == "f":  # honest float noise: a few units in the last place
        out.append(np.nextafter(np.nextafter(arr, np.inf), np.inf))
    if isinstance(value, tuple):  # a shape written as a list, or with a float
        out += [list(value), (*value[:-1], float(value[-1])) if value else (0.5,)]
        out += [value[:-1], (*value, 1), (1, *value)]
    if arr.ndim >= 1:
        out += [np.expand_dims(arr, -1), arr.reshape(1, *arr.shape)]
    if arr.ndim == 0:
        out += [[arr.item()], np.full(3, arr.item())]
    return out


def python_value(data):
    """The Python value a student would write for plain data (a shape stays a tuple of ints)."""
    kind = data[0]
    if kind == "seq" and all(d[0] == "int" for d in data[1]):
        return tuple(d[1] for d in data[1])
    if kind == "seq":
        return [python_value(d) for d in data[1]]
    if kind == "dict":
        return {k: python_value(v) for k, v in data[1].items()}
    if kind == "array":
        return np.array([float(x) for x in data[2]]).reshape(data[1])
    return checks.from_plain(data)


def _visible_calls(source, records):
    """(name, keyword options, expected value) of each visible check call of a baked cell; a
    sealed check's options hold its seal and its value is the solution's answer (``records``)."""
    tree = ast.parse(split_test(source)[0])
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "check":
            opts = {
                k.arg: k.value for k in node.keywords if k.arg in OPTIONS or k.arg == "expected"
            }
            expected = node.args[2] if len(node.args) > 2 else opts.pop("expected", None)
            if not isinstance(node.args[0], ast.Constant):
                continue
            sealed = next((k.value.value for k in node.keywords if k.arg == "sealed"), None)
            if sealed is not None:
                name = node.args[0].value
                yield name, {"sealed": sealed}, python_value(records[name]["answer"])
                continue
            if expected is None:
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


@pytest.mark.parametrize("a", ASSIGNMENTS)
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
        for name, kwargs, expected in _visible_calls(cell, records):
            sealed = "sealed" in kwargs
            for answer in [expected, *near_misses(expected)]:
                try:
                    checks.check(name, answer, None if sealed else expected, **kwargs)
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


#: Literals this short ("(2, 2)", "0.25", "10.0") recur as inputs anywhere: not searched.
SHORT = 6


def literal_forms(data):
    """How a sealed answer could be written out: the baked literal and its usual variants."""
    from mathdl_grading.bake import literal

    kind, text = data[0], literal(data)
    if kind == "int":
        return [rf"(?<![\w.]){abs(data[1])}(?![\w.])"] if abs(data[1]) >= 100 else []
    if len(text) <= SHORT:
        return []
    forms = [re.escape(text)]
    if kind == "seq" and text.startswith("("):  # a shape, also as a list or bare
        forms += [re.escape("[" + text[1:-1].rstrip(",") + "]"), re.escape(text[1:-1])]
    if kind == "float" and not float(data[1]).is_integer():
        rounded = {f"{float(data[1]):.{n}g}" for n in (4, 5, 6, 8)}
        forms += [re.escape(r) for r in rounded if len(r) > SHORT]
    return forms


@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_the_released_notebook_holds_no_literal_of_a_sealed_answer(a):
    """No value of a reveal=False check reaches exercises/: not in its call (a seal, not a
    literal), nor anywhere else, unless the question's own text states it (a given, e.g. the
    shape of A * B is that of A, or Huber's largest slope is its delta) or it is too short to
    mean anything (:data:`SHORT`; every seal is counted, so those too are sealed, not baked)."""
    import nbformat

    from mathdl_grading.bake import literal

    source = ROOT / "solutions" / a / f"{a}.ipynb"
    cells = references(source, load_config(ROOT), ROOT / "nbgrader_work" / "references")["cells"]
    solution = nbformat.read(str(source), as_version=4)
    question = "\n".join(c.source for c in solution.cells if c.cell_type == "markdown")
    released = (ROOT / "exercises" / a / f"{a}.ipynb").read_text(encoding="utf-8")
    text = json.loads(released)
    body = "\n".join("".join(c["source"]) for c in text["cells"])
    sealed = 0
    for gid, parts in cells.items():
        for rec in parts["visible"]:
            if rec.get("reveal") is not False:
                continue
            sealed += 1
            forms = literal_forms(rec["answer"])
            baked = f"expected={literal(rec['answer'])}, hint="  # what a leak would look like
            assert not forms or any(re.search(f, baked) for f in forms), (a, rec["name"])
            for form in forms:
                if re.search(form, question):
                    continue  # the question states it
                assert not re.search(form, body), (a, gid, rec["name"], form)
    assert body.count("sealed='seal1:") == sealed, (a, sealed)
