"""mathdl.gradcheck: numerical_grad and gradcheck tested as tools (closed forms, a known-wrong
gradient).
"""

import numpy as np
import pytest

import mathdl
from mathdl import Tensor
from tests.helpers.refs import central_difference


def test_numerical_grad_against_closed_forms():
    rng = np.random.default_rng(11)
    x = rng.standard_normal((3, 4))
    x_before = x.copy()
    g = mathdl.numerical_grad(lambda v: np.sum(np.sin(v)), x)
    assert g.shape == x.shape
    np.testing.assert_allclose(g, np.cos(x), rtol=0, atol=1e-8)
    np.testing.assert_array_equal(x, x_before)  # the input is left as it was

    A = rng.standard_normal((4, 4))
    v = rng.standard_normal(4)
    g = mathdl.numerical_grad(lambda u: u @ A @ u, v)
    np.testing.assert_allclose(g, (A + A.T) @ v, rtol=0, atol=1e-8)


def test_numerical_grad_agrees_with_independent_central_difference():
    rng = np.random.default_rng(12)
    x = rng.standard_normal((2, 3))

    def f(v):
        return np.sum(np.exp(v) * np.tanh(v[::-1])) + np.prod(v[0])

    np.testing.assert_allclose(
        mathdl.numerical_grad(f, x), central_difference(f, x), rtol=1e-9, atol=1e-9
    )
    # eps is honoured: a quadratic's central difference is exact for any eps
    np.testing.assert_allclose(
        mathdl.numerical_grad(lambda v: np.sum(v * v), x, eps=1e-2), 2 * x, rtol=1e-12, atol=1e-12
    )


def test_gradcheck_catches_a_wrong_gradient_and_reports_the_worst_entry():
    # f(x) = sum(x * x.detach()): the value is sum x^2 but autograd sees only one factor, so
    # the analytic gradient is x while the true derivative is 2x. The error |x| is largest
    # where |x| is largest.
    x = np.array([[0.5, -3.0, 1.0], [2.0, 0.25, -1.5]])

    def wrong(t):
        return (t * t.detach()).sum()

    res = mathdl.gradcheck(wrong, Tensor(x, requires_grad=True), raise_exception=False)
    assert not res
    assert res.worst["index"] == (0, 1)
    assert res.worst["analytic"] == pytest.approx(-3.0, abs=1e-12)
    assert res.worst["numerical"] == pytest.approx(-6.0, abs=1e-6)
    with pytest.raises(AssertionError, match=r"worst entry.*index \(0, 1\)"):
        mathdl.gradcheck(wrong, Tensor(x, requires_grad=True))


def test_gradcheck_checks_every_input_and_handles_non_scalar_outputs():
    rng = np.random.default_rng(13)
    a = Tensor(rng.standard_normal((3, 2)), requires_grad=True)
    b = Tensor(rng.standard_normal((2, 4)), requires_grad=True)
    assert mathdl.gradcheck(lambda p, q: (p @ q).tanh(), a, b)
    # only the second input is wrong: the report must name input 1
    res = mathdl.gradcheck(lambda p, q: p @ (q * q.detach()), a, b, raise_exception=False)
    assert not res and res.worst["input"] == 1
