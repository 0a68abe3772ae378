"""The ungraded playgrounds at the end of the building exercises run the student's own code.

Headless and in-process (no kernel): the notebook's code cells run in order, then every control
of every Playground goes through its range. The solution drives them without error; the released
exercise (every function still raising NotImplementedError) and a deliberately wrong optimizer
show as such in the picture, never as a crash. Under NBGRADER_EXECUTION the playgrounds do
nothing (grading never pays for them).
"""

import os

import matplotlib
import nbformat
import numpy as np
import pytest

matplotlib.use("Agg")

from mathdl import playground
from tests.helpers.playgrounds import drive

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILDING = sorted(
    a
    for a in os.listdir(os.path.join(ROOT, "solutions"))
    if any(
        c.metadata.get("nbgrader", {}).get("grade_id") == "playground"
        for c in nbformat.read(os.path.join(ROOT, "solutions", a, f"{a}.ipynb"), 4).cells
    )
)


def run(kind, a, monkeypatch, replace=None, grading=False):
    """Execute the notebook's code cells in one namespace; returns (namespace, new playgrounds)."""
    if grading:
        monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    else:
        monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    nb = nbformat.read(os.path.join(ROOT, kind, a, f"{a}.ipynb"), 4)
    before = len(playground.instances())
    ns = {"__name__": "__main__"}
    for c in nb.cells:
        if c.cell_type != "code":
            continue
        gid = c.metadata.get("nbgrader", {}).get("grade_id")
        if gid == "playground" and replace:
            exec(replace, ns)  # the student's (wrong) code, run just before the playground
        try:
            exec(compile(c.source, f"<{gid}>", "exec"), ns)
        except Exception:
            if kind == "solutions" or gid == "playground":
                raise  # a solution runs cleanly; a playground never raises, even for a blank exercise
    return ns, playground.instances()[before:]


def test_there_are_building_exercises_with_playgrounds():
    assert {"05_chain_rule", "08_optimizers"} <= set(BUILDING)


@pytest.mark.parametrize("kind", ["solutions", "exercises"])
@pytest.mark.parametrize("a", BUILDING)
def test_playground_runs_the_students_code_through_every_control(a, kind, monkeypatch):
    """The solution drives every control without error; the released exercise (every function
    still raising NotImplementedError) never crashes its playground either."""
    _ns, pgs = run(kind, a, monkeypatch)
    assert pgs, f"{a}: the {kind} notebook's playground was not created"
    for pg in pgs:
        assert drive(pg) == [], f"{a} ({kind}): {pg.errors}"


@pytest.mark.parametrize("a", BUILDING)
def test_playgrounds_are_skipped_while_grading(a, monkeypatch):
    _ns, pgs = run("solutions", a, monkeypatch, grading=True)
    assert pgs == []


WRONG_ADAM = """
class Adam(Optimizer):  # a sign error: climbs instead of descending, and too fast
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps))

    def step(self):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p.data = p.data + group["lr"] * 10 * np.asarray(p.grad)
"""


def test_a_wrong_student_optimizer_loses_the_race_visibly(monkeypatch):
    ns, pgs = run("solutions", "08_optimizers", monkeypatch, replace=WRONG_ADAM)
    (pg,) = pgs
    assert drive(pg) == []
    pg.set(optimizer="adam", surface="ravine", lr=0.05)
    labels = [t.get_text() for t in pg.axes.get_legend().get_texts()]
    s = ns["SURFACES"]["ravine"]()
    mine, ref = ns["path"](ns["Adam"], s, 0.05), ns["path"](ns["reference"].Adam, s, 0.05)
    f_ref = s.value(*ref[-1])
    assert f"reference Adam: f = {f_ref:.3g}" in labels, labels
    if np.isfinite(mine[-1]).all() and np.abs(mine[-1]).max() < 1e6:  # lost: ends far higher
        assert s.value(*mine[-1]) > 10 * f_ref + 1
        assert f"your Adam: f = {s.value(*mine[-1]):.3g}" in labels, labels
    else:
        assert "your Adam (diverged)" in labels, labels
    # and one that blows up shows as diverged
    pg.set(lr=1.0)
    assert "your Adam (diverged)" in [t.get_text() for t in pg.axes.get_legend().get_texts()]
