"""The graded exercises teach: partial credit per part, and planted mistakes caught visibly.

* Partial credit: the released notebook with only one part answered (its solution cells copied
  from solutions/) passes that part's test cell and no other. Run in-process (no kernel).
* The planted mistakes of issue 10 (benchmarks/mutation_exercises.py, PLANTED) each fail a
  *visible* test with a message. The full mutation figures are a benchmark (docs/exercises-quality.md).
"""

import importlib.util
import os
from pathlib import Path

import nbformat
import pytest

from mathdl_harness.course import ASSIGNMENTS

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location(
    "mutation_exercises", ROOT / "benchmarks" / "mutation_exercises.py"
)
mx = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mx)

#: Parts that say in their text that they build on earlier ones (the model solution uses them).
DEPENDS = {
    ("05_chain_rule", "ops_test"): {"engine_sol"},
    ("05_chain_rule", "net_test"): {"engine_sol", "ops_sol"},
    ("10_putting_it_together", "backprop_test"): {"forward_sol", "backprop_sol"},
    ("10_putting_it_together", "train_test"): {"forward_sol", "backprop_sol"},
}


def gid(c):
    return c.metadata.get("nbgrader", {}).get("grade_id")


def parts(nb):
    """[(test cell grade_id, [solution cell grade_ids before it, after the previous test])]."""
    out, pending = [], []
    for c in nb.cells:
        if c.cell_type != "code":
            continue
        if mx.is_test(c):
            out.append((gid(c), pending))
            pending = []
        elif mx.meta(c).get("solution"):
            pending.append(gid(c))
    return out


@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_one_correct_part_earns_that_part_alone(a, monkeypatch):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    sol = mx.load(a)
    ex = nbformat.read(str(ROOT / "exercises" / a / f"{a}.ipynb"), 4)
    answers = {gid(c): c.source for c in sol.cells if mx.meta(c).get("solution")}
    for test, own in parts(sol):
        filled = set(own) | DEPENDS.get((a, test), set())
        sources = [answers[gid(c)] if gid(c) in filled else c.source for c in ex.cells]
        result = mx.run_forked(ex, sources)["full"]
        failed = {f[0] for f in result if f[1]}
        assert test not in failed, f"{a}: {test} fails with only its own part answered: {result}"
        unanswered = {t for t, mine in parts(sol) if not set(mine) <= filled}
        assert unanswered <= failed, f"{a}: {unanswered - failed} pass without their answers"


def test_blank_exercises_fail_every_test_cell():
    os.environ.setdefault("NBGRADER_EXECUTION", "autograde")
    for a in ASSIGNMENTS:
        ex = nbformat.read(str(ROOT / "exercises" / a / f"{a}.ipynb"), 4)
        result = mx.run_forked(ex, [c.source for c in ex.cells])["full"]
        failed = {f[0] for f in result if f[1]}
        assert failed == {gid(c) for c in ex.cells if mx.is_test(c)}, a


@pytest.mark.parametrize("case", mx.PLANTED, ids=lambda c: f"{c[0]}:{c[4]}")
def test_planted_mistake_fails_a_visible_test_with_a_message(case):
    a, grade_id, old, new, _what = case
    nb, refs = mx.load_graded(a)
    sources = [c.source for c in nb.cells]
    idx = next(i for i, c in enumerate(nb.cells) if gid(c) == grade_id)
    assert old in sources[idx], f"the planted mistake no longer applies to {a}/{grade_id}"
    sources[idx] = sources[idx].replace(old, new, 1)
    killed, caught, message, first = mx.classify(mx.run_forked(nb, sources, refs), grade_id)
    assert killed and caught and message, first
