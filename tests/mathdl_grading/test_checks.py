"""mathdl_grading.checks: the student's own check() and the grader's verdict agree, near misses
included.
"""

import numpy as np
import pytest

from mathdl_grading import checks
from mathdl_grading.scoring import verdict


def test_compare_is_exact_about_shapes_both_ways():
    plain = checks.plain
    # the near misses of issue 18: an added keepdims axis, an extra leading axis
    assert checks.compare(plain(np.ones((1, 3))), plain(np.ones(3)), 1e-7, 0).startswith(
        "wrong shape"
    )
    assert checks.compare(plain(np.ones(3)), plain(np.ones((1, 3))), 1e-7, 0).startswith(
        "wrong shape"
    )
    # a scalar expected value broadcasts only where the check says so
    assert checks.compare(plain(np.zeros(3)), plain(0.0), 1e-7, 0).startswith("wrong shape")
    assert checks.compare(plain(np.zeros(3)), plain(0.0), 1e-7, 0, broadcast=True) is None
    # a list for an array, float32 and an int for a float: the same numbers pass
    assert checks.compare(plain([1.0, 2.0]), plain(np.array([1.0, 2.0])), 1e-7, 0) is None
    assert checks.compare(plain(np.float32(0.5)), plain(0.5), 1e-7, 0) is None
    assert checks.compare(plain(2), plain(2.0), 1e-7, 0) is None


def test_local_check_and_grader_give_one_verdict(monkeypatch):
    """The student's own check() and the grader's scoring agree on every near miss."""
    monkeypatch.delenv("MATHDL_GRADING", raising=False)
    want = np.arange(6.0).reshape(2, 3)
    near = {
        "keepdims": want.sum(axis=0, keepdims=True),
        "extra axis": want[None],
        "list": want.tolist(),
        "float32": want.astype(np.float32),
        "ints": want.astype(int),
        "transposed": want.T,
        "right": want.copy(),
    }
    ref = {"name": "x", "answer": checks.plain(want), "rtol": 1e-7, "atol": 0.0}
    for label, answer in near.items():
        try:
            checks.check("x", answer, want, rtol=1e-7, atol=0.0)
            local = True
        except AssertionError:
            local = False
        graded = not verdict([{"name": "x", "answer": checks.plain(answer)}], [ref])
        assert local == graded, label


def test_min_accuracy_is_computed_by_the_grader():
    labels = checks.plain(np.array([0, 1, 2, 1, 0]))
    assert checks.compare(checks.plain([0, 1, 2, 1, 1]), labels, 0, 0, min_accuracy=0.8) is None
    why = checks.compare(checks.plain([0, 1, 2, 0, 1]), labels, 0, 0, min_accuracy=0.8)
    assert why.startswith("accuracy 0.600")
    # a verdict instead of predictions is not an answer
    assert checks.compare(checks.plain(True), labels, 0, 0, min_accuracy=0.8) is not None


def test_raised_names_the_builtin_exception():
    class ShapeError(ValueError):
        pass

    def bad():
        raise ShapeError("no")

    assert checks.raised(bad) == "ValueError"
    assert checks.raised(lambda: 1) == "no error"
    assert checks.raised(lambda: [][1]) == "IndexError"


def test_a_known_mistake_is_named_locally_and_by_the_grader(monkeypatch):
    monkeypatch.delenv("MATHDL_GRADING", raising=False)
    right, slip = np.array([1.0, 2.0]), np.array([3.0, 6.0])
    packed = checks.pack([("the mean summed", "divide by the batch size", checks.plain(slip))])
    with pytest.raises(
        AssertionError, match=r"this looks like the mean summed\. Next step: divide"
    ):
        checks.check("grad", slip, right, mistakes=packed)
    with pytest.raises(AssertionError, match="wrong values"):  # another wrong answer: no label
        checks.check("grad", slip + 1, right, mistakes=packed)
    checks.check("grad", right, right, mistakes=packed)  # the right answer passes
    ref = {"name": "grad", "answer": checks.plain(right)}
    known = [("sum", "the mean summed", "divide by the batch size", checks.plain(slip))]
    (problem,) = verdict(
        [{"name": "grad", "answer": checks.plain(slip)}], [ref], known=lambda n, i: known
    )
    assert problem == "grad: this looks like the mean summed. Next step: divide by the batch size"
