"""mathdl_grading.scoring: hidden failures are named by kind, never by a number."""

import numpy as np

from mathdl_grading import checks
from mathdl_grading.scoring import coarse, hidden_verdict


def test_hidden_failures_name_the_kind_never_a_number():
    ref = [{"name": "h", "answer": checks.plain(np.array([3.25, -1.5])), "hint": "think"}]
    for answer in (np.zeros(2), np.zeros((1, 2)), "text", [[1.0]]):
        found = {"records": [{"name": "h", "answer": checks.plain(answer)}], "error": None}
        (problem,) = hidden_verdict(found, ref)
        assert not any(ch.isdigit() for ch in problem), problem
        assert "think" in problem
    assert hidden_verdict({"records": [], "error": "ZeroDivisionError"}, ref) == [
        "hidden tests: your code raised ZeroDivisionError"
    ]
    assert coarse("wrong shape (1, 2), expected (2,)") == "wrong shape"
