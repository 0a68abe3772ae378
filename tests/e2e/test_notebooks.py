"""Every lesson executes headless without error, and every widget survives its whole range.

Each notebook runs once (module-scoped cache) in a fresh kernel; then, in the same kernel,
every slider goes to its minimum and maximum, every dropdown through every option and every
button is clicked (mathdl_harness/nbrun.py). Time and widget latency are benchmark figures
(benchmarks/bench_notebooks.py), not asserted here; memory is deterministic enough to assert.
Everything here is slow (tests/e2e/), the static checks of the notebooks' source included.
"""

import json
import re

import pytest

from mathdl_harness.course import LESSON_NAME, LESSONS, NOTEBOOKS, lessons_before
from mathdl_harness.nbrun import run_notebook

_RESULTS = {}


def result(name):
    if name not in _RESULTS:
        _RESULTS[name] = run_notebook(name)
    return _RESULTS[name]


def test_every_lesson_exists():
    """The lessons are numbered 00, 01, ... in course order with no gap, from 00_welcome."""
    assert LESSONS and LESSONS[0] == "00_welcome", LESSONS  # `make lab` opens it
    for number, name in enumerate(LESSONS):
        assert LESSON_NAME.fullmatch(name), f"{name}: a lesson is named NN_words_in_snake_case"
        assert name.startswith(f"{number:02d}_"), f"{name}: expected lesson number {number:02d}"


@pytest.mark.parametrize("name", LESSONS)
def test_lesson_executes_without_error(name):
    r = result(name)
    assert r["errors"] == [], f"{name}: " + "; ".join(r["errors"])


@pytest.mark.parametrize("name", LESSONS)
def test_lesson_widgets_survive_their_whole_range(name):
    r = result(name)
    assert "playgrounds" in r, f"{name}: the widget driver did not report ({r['errors']})"
    assert r["playgrounds"], f"{name} has no Playground"
    assert r["widget_errors"] == [], "\n".join(r["widget_errors"])
    for pg in r["playgrounds"]:
        assert pg["errors"] == [], f"{name}: a draw callback raised: {pg['errors']}"
        assert pg["n_redraws"] > 1


@pytest.mark.parametrize("name", LESSONS)
def test_lesson_has_learning_rate_and_initialization_controls(name):
    controls = [c for pg in result(name)["playgrounds"] for c in pg["controls"].values()]
    descriptions = [d.lower() for _, d in controls]
    assert any(t == "FloatLogSlider" and d.lower() == "learning rate" for t, d in controls), (
        controls
    )
    assert any(("init" in d) or ("start" in d) for d in descriptions), controls
    assert any("seed" in d for d in descriptions), controls


@pytest.mark.parametrize("name", LESSONS)
def test_lesson_kernel_stays_under_1_gb(name):
    assert result(name)["peak_rss_mb"] < 1024


#: Lessons whose cells are kept short: the math in view, the drawing in mathdl.views.
SHORT_CELL_LESSONS = lessons_before("06_activations")  # 06 on: tests/notebooks/test_lessons.py
MAX_CELL_LINES = 30


@pytest.mark.parametrize("name", SHORT_CELL_LESSONS)
def test_lesson_code_cells_are_short(name):
    nb = json.loads((NOTEBOOKS / f"{name}.ipynb").read_text())
    long = {
        i: n
        for i, c in enumerate(nb["cells"])
        if c["cell_type"] == "code"
        and (n := sum(1 for line in "".join(c["source"]).splitlines() if line.strip()))
        > MAX_CELL_LINES
    }
    assert long == {}, f"{name}: cells over {MAX_CELL_LINES} non-blank lines: {long}"


@pytest.mark.parametrize("name", SHORT_CELL_LESSONS)
def test_lesson_figures_are_at_least_100_dpi_with_8_pt_text(name):
    text = "".join(
        "".join(c["source"])
        for c in json.loads((NOTEBOOKS / f"{name}.ipynb").read_text())["cells"]
        if c["cell_type"] == "code"
    )
    assert not re.search(r"figure\.dpi\"?\s*:\s*([1-9]\d?)\b(?!\d)", text), "figure.dpi below 100"
    small = re.findall(r"fontsize\s*=\s*([0-7](?:\.\d+)?)\b", text)
    assert small == [], f"{name}: text below 8 pt: fontsize={small}"


def _notebook_files():
    root = NOTEBOOKS.parent
    return sorted(
        [
            *NOTEBOOKS.glob("*.ipynb"),
            *root.glob("exercises/*/*.ipynb"),
            *root.glob("solutions/*/*.ipynb"),
        ]
    )


@pytest.mark.parametrize(
    "path", _notebook_files(), ids=lambda p: str(p.relative_to(NOTEBOOKS.parent))
)
def test_notebooks_are_committed_without_outputs(path):
    nb = json.loads(path.read_text())
    dirty = [
        i
        for i, c in enumerate(nb["cells"])
        if c["cell_type"] == "code" and (c.get("outputs") or c.get("execution_count") is not None)
    ]
    assert dirty == [], f"{path.name}: cells {dirty} have outputs; clear them before committing"
