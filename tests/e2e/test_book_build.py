"""book/build.py executing lessons (starts kernels; the fast checks: tests/book/test_build.py)."""

import nbformat
import pytest

from tests.helpers.book import load_build

build = load_build()


def test_a_lesson_that_raises_stops_the_build_naming_it(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell("1 / 0")]
    nbformat.write(nb, tmp_path / "99_broken.ipynb")
    ok = nbformat.v4.new_notebook(metadata=nb.metadata)
    ok.cells = [nbformat.v4.new_code_cell("print(6 * 7)")]
    nbformat.write(ok, tmp_path / "98_fine.ipynb")
    with pytest.raises(build.BuildError, match=r"99_broken(.|\n)*ZeroDivisionError"):
        build.execute([tmp_path / "98_fine.ipynb", tmp_path / "99_broken.ipynb"], jobs=2)
    executed = nbformat.read(tmp_path / "98_fine.ipynb", as_version=4)
    assert executed.cells[0].outputs[0]["text"] == "42\n"
