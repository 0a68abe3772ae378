"""mathdl.losses, the by-hand losses: values and gradients against torch in float64."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, settings
from hypothesis import strategies as st

from mathdl import activations as A
from mathdl import losses as L
from tests.helpers.refs import ATOL, RTOL, central_difference, torch_vjp


def _t64(a):
    return torch.tensor(np.asarray(a, dtype=np.float64))


def _loss_and_grad_torch(fn, x, *consts, scale=1.0):
    """torch value and d(scale * loss)/dx: the upstream gradient of a scalar loss is a random scalar."""
    out, (g,) = torch_vjp(lambda t: fn(t, *consts), [x], np.array(scale))
    return float(out), g


def test_mse_and_gradient_match_torch():
    rng = np.random.default_rng(7)
    pred, target = rng.standard_normal((6, 3)), rng.standard_normal((6, 3))
    c = rng.standard_normal()
    val_t, g_t = _loss_and_grad_torch(TF.mse_loss, pred, _t64(target), scale=c)
    assert isinstance(L.mse(pred, target), float)
    assert L.mse(pred, target) == pytest.approx(val_t, rel=1e-12)
    _assert_gradient(L.mse_gradient(pred, target), g_t, c, lambda p: L.mse(p, target), pred)
    # the target's gradient, for a target that is itself learned: torch differentiates both
    _, (gp_t, gt_t) = torch_vjp(TF.mse_loss, [pred, target], np.array(c))
    np.testing.assert_allclose(c * L.mse_gradient(pred, target), gp_t, rtol=RTOL, atol=ATOL)
    grad = L.mse_target_gradient(pred, target)
    _assert_gradient(grad, gt_t, c, lambda t: L.mse(pred, t), target)
    # closed form on a tiny example: errors (1, -2, 0, 3) -> mean of squares 14/4
    assert L.mse(np.array([1.0, 0.0, 2.0, 3.0]), np.array([0.0, 2.0, 2.0, 0.0])) == pytest.approx(
        3.5
    )


@pytest.mark.parametrize("n, c", [(5, 4), (1, 3), (8, 2), (3, 1)])
def test_cross_entropy_and_gradient_match_torch(n, c):
    rng = np.random.default_rng(8 + n)
    logits = 3.0 * rng.standard_normal((n, c))
    targets = rng.integers(0, c, size=n)
    scale = rng.standard_normal()
    val_t, g_t = _loss_and_grad_torch(TF.cross_entropy, logits, torch.tensor(targets), scale=scale)
    assert isinstance(L.cross_entropy(logits, targets), float)
    assert L.cross_entropy(logits, targets) == pytest.approx(val_t, rel=1e-12, abs=1e-14)
    g = L.cross_entropy_gradient(logits, targets)
    assert g.shape == (n, c)
    _assert_gradient(g, g_t, scale, lambda z: L.cross_entropy(z, targets), logits)
    # it is a mean over the batch, and the gradient rows each sum to 0
    np.testing.assert_allclose(g.sum(axis=1), 0.0, atol=1e-15)
    # the loss and the gradient computed together (for a training step) are the same numbers
    both_val, both_g = L.cross_entropy_and_gradient(logits, targets)
    assert isinstance(both_val, float)
    assert both_val == pytest.approx(val_t, rel=1e-12, abs=1e-14)
    np.testing.assert_allclose(scale * both_g, g_t, rtol=RTOL, atol=ATOL)


def test_cross_entropy_accepts_lists_and_any_integer_dtype():
    logits = [[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]]
    ref = TF.cross_entropy(_t64(logits), torch.tensor([1, 2])).item()
    for targets in ([1, 2], np.array([1, 2], dtype=np.int32), np.array([1, 2], dtype=np.uint8)):
        assert L.cross_entropy(logits, targets) == pytest.approx(ref, rel=1e-12)


BCE_TARGETS = np.array([[0.0, 1.0, 1.0, 0.0], [1.0, 0.0, 0.25, 0.7]])


def test_binary_cross_entropy_and_gradient_match_torch():
    rng = np.random.default_rng(9)
    p = rng.uniform(0.02, 0.98, size=BCE_TARGETS.shape)
    scale = rng.standard_normal()
    val_t, g_t = _loss_and_grad_torch(TF.binary_cross_entropy, p, _t64(BCE_TARGETS), scale=scale)
    assert L.binary_cross_entropy(p, BCE_TARGETS) == pytest.approx(val_t, rel=1e-12)
    g = L.binary_cross_entropy_gradient(p, BCE_TARGETS)
    _assert_gradient(g, g_t, scale, lambda q: L.binary_cross_entropy(q, BCE_TARGETS), p)


def test_binary_cross_entropy_at_probabilities_0_and_1_matches_torchs_clamping():
    # torch clamps each log at -100 and the gradient's denominator at 1e-12
    p = np.array([0.0, 1.0, 0.0, 1.0, 0.5])
    y = np.array([1.0, 0.0, 0.0, 1.0, 1.0])
    val_t, g_t = _loss_and_grad_torch(TF.binary_cross_entropy, p, _t64(y))
    assert np.isfinite(L.binary_cross_entropy(p, y))
    assert L.binary_cross_entropy(p, y) == pytest.approx(val_t, rel=1e-12)
    g = L.binary_cross_entropy_gradient(p, y)
    assert np.all(np.isfinite(g))
    # torch stores its 1e-12 as a float32 constant (9.99999996e-13), hence rtol 1e-8, not 1e-12
    np.testing.assert_allclose(g, g_t, rtol=1e-8)


def test_binary_cross_entropy_with_logits_and_gradient_match_torch():
    rng = np.random.default_rng(10)
    z = 4.0 * rng.standard_normal(BCE_TARGETS.shape)
    scale = rng.standard_normal()
    val_t, g_t = _loss_and_grad_torch(
        TF.binary_cross_entropy_with_logits, z, _t64(BCE_TARGETS), scale=scale
    )
    assert L.binary_cross_entropy_with_logits(z, BCE_TARGETS) == pytest.approx(val_t, rel=1e-12)
    g = L.binary_cross_entropy_with_logits_gradient(z, BCE_TARGETS)
    _assert_gradient(g, g_t, scale, lambda v: L.binary_cross_entropy_with_logits(v, BCE_TARGETS), z)
    # the logits form equals BCE on sigmoid probabilities (where those are not clamped)
    assert L.binary_cross_entropy_with_logits(z, BCE_TARGETS) == pytest.approx(
        L.binary_cross_entropy(A.sigmoid(z), BCE_TARGETS), rel=1e-9
    )


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(1, 6),
    c=st.integers(1, 5),
    scale=st.sampled_from([0.01, 1.0, 50.0]),
    seed=st.integers(0, 2**32 - 1),
)
def test_cross_entropy_properties(n, c, scale, seed):
    rng = np.random.default_rng(seed)
    z = scale * rng.standard_normal((n, c))
    y = rng.integers(0, c, size=n)
    loss = L.cross_entropy(z, y)
    assert loss >= 0.0
    # the loss of uniform logits is log C
    assert L.cross_entropy(np.zeros((n, c)), y) == pytest.approx(np.log(c), abs=1e-12)
    # equal to the mean negative log of the softmax probability of the target class
    p = A.softmax(z, axis=1)[np.arange(n), y]
    if np.all(p > 1e-300):
        assert loss == pytest.approx(float(np.mean(-np.log(p))), rel=1e-9, abs=1e-12)
    g = L.cross_entropy_gradient(z, y)
    val_t, g_t = _loss_and_grad_torch(TF.cross_entropy, z, torch.tensor(y))
    assert loss == pytest.approx(val_t, rel=1e-10, abs=1e-12)
    np.testing.assert_allclose(g, g_t, rtol=RTOL, atol=ATOL)


def _assert_gradient(analytic, torch_grad, scale, loss, at):
    """``analytic``, the gradient of ``loss`` at ``at``, equals torch's (of ``scale`` times the
    loss) and central differences."""
    np.testing.assert_allclose(scale * analytic, torch_grad, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(analytic, central_difference(loss, at), rtol=1e-6, atol=1e-9)
