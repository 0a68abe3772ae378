"""The by-hand NumPy layer: mathdl.activations (the losses: test_losses.py).

Values are compared with torch in float64; every hand-written derivative is compared with
torch autograd under a random upstream gradient (its vector-Jacobian product) and with an
independent central difference of the by-hand function itself.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, settings
from hypothesis import strategies as st

from mathdl import activations as A
from tests.helpers.refs import ATOL, RTOL, central_difference, random_upstream, torch_vjp


def _t64(a):
    return torch.tensor(np.asarray(a, dtype=np.float64))


ELEMENTWISE = [
    # name, value fn, derivative fn, torch fn
    ("relu", A.relu, A.relu_derivative, torch.relu),
    ("leaky_relu", A.leaky_relu, A.leaky_relu_derivative, TF.leaky_relu),
    (
        "leaky_relu_0.2",
        lambda x: A.leaky_relu(x, 0.2),
        lambda x: A.leaky_relu_derivative(x, 0.2),
        lambda x: TF.leaky_relu(x, 0.2),
    ),
    ("sigmoid", A.sigmoid, A.sigmoid_derivative, torch.sigmoid),
    ("tanh", A.tanh, A.tanh_derivative, torch.tanh),
    ("gelu", A.gelu, A.gelu_derivative, lambda x: TF.gelu(x, approximate="tanh")),
]
EIDS = [e[0] for e in ELEMENTWISE]


def _sample(rng, shape=(4, 5), scale=3.0):
    # values away from 0 (kinks) plus a spread of magnitudes
    x = scale * rng.standard_normal(shape)
    return np.where(np.abs(x) < 1e-3, 0.5, x)


@pytest.mark.parametrize("name, f, df, tf", ELEMENTWISE, ids=EIDS)
def test_activation_values_match_torch(name, f, df, tf):
    x = _sample(np.random.default_rng(0))
    x = np.concatenate([x.ravel(), [0.0, -0.0, 1e-8, -1e-8, 20.0, -20.0]])
    np.testing.assert_allclose(f(x), tf(_t64(x)).numpy(), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("name, f, df, tf", ELEMENTWISE, ids=EIDS)
def test_activation_derivative_vjp_matches_torch_with_random_upstream(name, f, df, tf):
    rng = np.random.default_rng(1)
    x = _sample(rng)
    # include the kinks exactly: torch's conventions are ReLU'(0) = 0, LeakyReLU'(0) = slope
    x[0, :3] = [0.0, -0.0, 0.0]
    up = random_upstream(rng, x.shape)
    _, (g_t,) = torch_vjp(tf, [x], up)
    np.testing.assert_allclose(up * df(x), g_t, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("name, f, df, tf", ELEMENTWISE, ids=EIDS)
def test_activation_derivative_matches_central_difference(name, f, df, tf):
    x = _sample(np.random.default_rng(2))
    numeric = central_difference(lambda v: np.sum(f(v)), x)  # element-wise: d/dx_i sum f = f'(x_i)
    np.testing.assert_allclose(df(x), numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name, f, df, tf", ELEMENTWISE, ids=EIDS)
def test_activations_keep_shape_including_scalars(name, f, df, tf):
    for shape in [(), (1,), (3, 1), (2, 1, 4)]:
        x = np.random.default_rng(3).standard_normal(shape) + 0.1
        assert np.shape(f(x)) == shape
        assert np.shape(df(x)) == shape
    assert float(f(np.float64(1.5))) == pytest.approx(float(tf(_t64(1.5))), rel=1e-12)


@pytest.mark.parametrize(
    "ours, theirs",
    [
        (A.relu_derivative, torch.relu),
        (lambda x: A.leaky_relu_derivative(x, 0.05), lambda t: TF.leaky_relu(t, 0.05)),
    ],
    ids=["relu", "leaky_relu"],
)
def test_derivative_at_the_kink_is_the_one_torch_backpropagates(ours, theirs):
    # no finite difference exists at 0: the convention is whatever torch's autograd uses there
    for zero in (0.0, -0.0):
        t = torch.tensor([zero], dtype=torch.float64, requires_grad=True)
        theirs(t).backward(torch.ones(1, dtype=torch.float64))
        assert ours(np.array([zero]))[0] == t.grad.item()


@settings(max_examples=30, deadline=None)
@given(
    shape=st.lists(st.integers(1, 5), max_size=3).map(tuple),
    scale=st.sampled_from([0.1, 1.0, 10.0, 100.0]),
    seed=st.integers(0, 2**32 - 1),
)
def test_activation_identities(shape, scale, seed):
    x = scale * np.random.default_rng(seed).standard_normal(shape)
    s = A.sigmoid(x)
    assert np.all((s >= 0) & (s <= 1))
    np.testing.assert_allclose(A.sigmoid(-x), 1 - s, rtol=0, atol=1e-15)
    np.testing.assert_allclose(A.tanh(x), 2 * A.sigmoid(2 * x) - 1, rtol=0, atol=1e-14)
    assert np.all(A.sigmoid_derivative(x) <= 0.25)
    assert np.all(A.tanh_derivative(x) <= 1.0) and np.all(A.tanh_derivative(x) >= 0.0)
    assert set(np.unique(A.relu_derivative(x))) <= {0.0, 1.0}
    np.testing.assert_array_equal(A.relu(x) - A.relu(-x), x)  # relu(x) - relu(-x) = x exactly


# ----- softmax / log_softmax and their vector-Jacobian products ------------------------------

SOFTMAX_CASES = [
    ((3, 5), -1),
    ((3, 5), 1),
    ((3, 5), 0),
    ((2, 3, 4), 1),
    ((2, 3, 4), -1),
    ((6,), 0),
    ((1, 1), -1),
]


NORMALIZERS = {  # name: (forward, vector-Jacobian product from the forward's output, torch reference)
    "softmax": (A.softmax, A.softmax_backward, torch.softmax),
    "log_softmax": (A.log_softmax, A.log_softmax_backward, torch.log_softmax),
}


@pytest.mark.parametrize("name", sorted(NORMALIZERS))
@pytest.mark.parametrize("shape, axis", SOFTMAX_CASES)
def test_softmax_family_values_and_backward_match_torch(name, shape, axis):
    forward, backward, torch_fn = NORMALIZERS[name]
    rng = np.random.default_rng(4 if name == "softmax" else 5)
    z = 2.0 * rng.standard_normal(shape)
    up = random_upstream(rng, shape)
    out = forward(z, axis=axis)
    out_t, (g_t,) = torch_vjp(lambda t: torch_fn(t, dim=axis), [z], up)
    np.testing.assert_allclose(out, out_t, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(backward(out, up, axis=axis), g_t, rtol=RTOL, atol=ATOL)
    numeric = central_difference(lambda v: np.sum(forward(v, axis=axis) * up), z)
    np.testing.assert_allclose(backward(out, up, axis=axis), numeric, rtol=1e-6, atol=1e-8)


def test_softmax_default_axis_is_the_last_as_torch_dim_minus_1():
    # a 3-D input, where the last axis differs from axis 1 (in 2-D they would coincide)
    z = np.random.default_rng(6).standard_normal((2, 3, 4))
    for ours, theirs in ((A.softmax, torch.softmax), (A.log_softmax, torch.log_softmax)):
        expected = theirs(_t64(z), dim=-1).numpy()
        np.testing.assert_allclose(ours(z), expected, rtol=RTOL, atol=ATOL)
        assert not np.allclose(ours(z), theirs(_t64(z), dim=1).numpy())
