"""BakeExpected: visible checks' expected values become literals of the solution's answers."""

import numpy as np
import pytest

from mathdl_grading import checks
from mathdl_grading.bake import BakeError, bake_cell, literal

CELL = """from mathdl_grading.checks import check  # graded outside your kernel: leave this line first
import numpy as np

_X = np.array([[1.0, 2.0], [3.0, 4.0]])
check("double(X)", double(_X), hint="every entry twice")
check("shape of double(X)",
      np.shape(double(_X)), expected=_X.shape)
### BEGIN HIDDEN TESTS
for _n in range(3):
    check(f"double on {_n}", double(np.ones(_n)), expected=2 * np.ones(_n))
### END HIDDEN TESTS
"""


def _records():
    return [
        {
            "name": "double(X)",
            "answer": checks.plain(2 * np.array([[1.0, 2.0], [3.0, 4.0]])),
            "line": 5,
        },
        {"name": "shape of double(X)", "answer": checks.plain((2, 2)), "line": 6},
    ]


def test_literals_round_trip_through_check():
    for value in (
        np.arange(6.0).reshape(2, 3) / 7,
        (64, 3, 32, 32),
        3,
        0.1,
        "cuda",
        True,
        None,
        {"W": np.ones((1, 2)), "b": np.zeros(2)},
        np.array(float("nan")),
        [1.5, float("inf")],
    ):
        text = literal(checks.plain(value))
        back = eval(text, {"np": np})
        assert checks.compare(checks.plain(back), checks.plain(value), 0, 0) is None, (value, text)


def test_visible_checks_get_literals_and_hidden_ones_stay_as_they_are():
    out = bake_cell(CELL, _records(), "fixture/x")
    assert "double(_X), expected=[[2.0, 4.0], [6.0, 8.0]], hint=" in out
    assert "np.shape(double(_X)), expected=(2, 2))" in out and "_X.shape)" not in out
    assert "expected=2 * np.ones(_n)" in out  # hidden: the grader strips it, never baked


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ('check("double(X)"', 'assert double(_X) is not None\ncheck("double(X)"'),
        (
            "### BEGIN HIDDEN TESTS",
            'for _i in range(2):\n    check("again", _i)\n### BEGIN HIDDEN TESTS',
        ),
        ('check("double(X)"', 'check("double #2"'),
    ],
)
def test_conventions_are_enforced(change, message):
    with pytest.raises(BakeError):
        bake_cell(CELL.replace(change, message, 1), _records(), "fixture/x")


def test_a_literal_too_long_to_read_is_refused():
    records = _records()
    records[0]["answer"] = checks.plain(np.ones((40, 40)))
    with pytest.raises(BakeError, match="smaller visible case"):
        bake_cell(CELL, records, "fixture/x")
