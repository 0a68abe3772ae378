"""The lesson notebooks' source (static, no kernel): short code cells, playgrounds at dpi 100."""

import pytest

from mathdl_harness.course import NOTEBOOKS, lessons_from

#: The lessons that use mathdl.views (00-05: tests/e2e/test_notebooks.py).
LESSONS_B = lessons_from("06_activations")


@pytest.mark.parametrize("name", LESSONS_B)
def test_lesson_code_cells_have_at_most_30_lines_and_playgrounds_dpi_100(name):
    import json

    path = NOTEBOOKS / f"{name}.ipynb"
    cells = [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
    sources = ["".join(c["source"]) for c in cells]
    long = {
        i: n
        for i, s in enumerate(sources)
        if (n := sum(bool(ln.strip()) for ln in s.splitlines())) > 30
    }
    assert long == {}, f"{name}: code cells over 30 non-blank lines: {long}"
    for s in sources:
        if "Playground(" in s:
            assert "dpi=100" in s, f"{name}: a Playground without dpi=100"
