"""mathdl.nn layers against their torch equivalents, and the seeded synthetic data sets."""

import numpy as np
import pytest
import torch
from _refs import ATOL, RTOL, random_upstream

import mathdl
import mathdl.functional as F
from mathdl import Tensor, data, nn

# ----- nn.Linear and nn.MLP vs torch.nn ------------------------------------------------------------


def _torch_linear_from(layer):
    """A float64 torch.nn.Linear holding our layer's weights: torch's weight is the transpose."""
    lt = torch.nn.Linear(layer.in_features, layer.out_features).double()
    with torch.no_grad():
        lt.weight.copy_(torch.tensor(layer.weight.data.T))
        lt.bias.copy_(torch.tensor(layer.bias.data))
    return lt


@pytest.mark.parametrize("x_shape", [(5, 3), (1, 3), (3,)])
def test_linear_forward_and_backward_equal_torch_with_transposed_weight(x_shape):
    rng = np.random.default_rng(0)
    layer = nn.Linear(3, 4, rng=1)
    assert layer.weight.shape == (3, 4)  # (in, out): Z = X W + b
    assert layer.bias.shape == (4,)
    np.testing.assert_array_equal(layer.bias.data, 0.0)  # bias starts at zero
    layer.bias.data[...] = rng.standard_normal(4)
    lt = _torch_linear_from(layer)
    assert tuple(lt.weight.shape) == (4, 3)  # torch stores (out, in)

    x = rng.standard_normal(x_shape)
    xm, xt = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out_m, out_t = layer(xm), lt(xt)
    np.testing.assert_allclose(out_m.data, out_t.detach().numpy(), rtol=RTOL, atol=ATOL)
    up = random_upstream(rng, out_m.shape)
    out_m.backward(up)
    out_t.backward(torch.tensor(up))
    np.testing.assert_allclose(layer.weight.grad, lt.weight.grad.numpy().T, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(layer.bias.grad, lt.bias.grad.numpy(), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(xm.grad, xt.grad.numpy(), rtol=RTOL, atol=ATOL)


def test_linear_without_bias():
    layer = nn.Linear(3, 2, bias=False, rng=0)
    assert layer.bias is None and layer.parameters() == [layer.weight]
    x = np.random.default_rng(1).standard_normal((4, 3))
    expected = torch.nn.functional.linear(
        torch.tensor(x), torch.tensor(layer.weight.data.T)
    ).numpy()
    np.testing.assert_allclose(layer(Tensor(x)).data, expected, rtol=RTOL, atol=ATOL)


def test_linear_and_mlp_weights_reproducible_from_rng():
    np.testing.assert_array_equal(
        nn.Linear(5, 7, rng=3).weight.data, nn.Linear(5, 7, rng=3).weight.data
    )
    assert not np.array_equal(
        nn.Linear(5, 7, rng=3).weight.data, nn.Linear(5, 7, rng=4).weight.data
    )
    a, b = nn.MLP([2, 6, 3], rng=9), nn.MLP([2, 6, 3], rng=9)
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(p.data, q.data)
    # the layers of an MLP draw from one generator: they differ from each other
    c = nn.MLP([4, 4, 4], rng=9)
    assert not np.array_equal(c.layers[0].weight.data, c.layers[2].weight.data)


TORCH_ACT = {
    "relu": torch.nn.ReLU,
    "sigmoid": torch.nn.Sigmoid,
    "tanh": torch.nn.Tanh,
    "leaky_relu": torch.nn.LeakyReLU,
    "gelu": lambda: torch.nn.GELU(approximate="tanh"),
}


@pytest.mark.parametrize("activation", sorted(TORCH_ACT))
def test_mlp_forward_and_gradients_equal_torch_sequential(activation):
    sizes = [3, 8, 5, 2]
    model = nn.MLP(sizes, activation=activation, rng=2)
    # structure: Linear, act, Linear, act, Linear (nothing after the last layer)
    kinds = [type(m).__name__ for m in model.layers]
    assert kinds[0::2] == ["Linear"] * 3 and len(kinds) == 5
    assert all(k != "Linear" for k in kinds[1::2])
    params = model.parameters()
    assert [p.shape for p in params] == [(3, 8), (8,), (8, 5), (5,), (5, 2), (2,)]

    rng = np.random.default_rng(3)
    linears = [m for m in model.layers if isinstance(m, nn.Linear)]
    for lm in linears:
        lm.bias.data[...] = 0.1 * rng.standard_normal(lm.bias.shape)
    torch_layers = []
    for i, lm in enumerate(linears):
        torch_layers.append(_torch_linear_from(lm))
        if i < len(linears) - 1:
            torch_layers.append(TORCH_ACT[activation]())
    tm = torch.nn.Sequential(*torch_layers)

    x = rng.standard_normal((6, 3))
    out_m, out_t = model(Tensor(x)), tm(torch.tensor(x))
    np.testing.assert_allclose(out_m.data, out_t.detach().numpy(), rtol=RTOL, atol=ATOL)
    up = random_upstream(rng, out_m.shape)
    out_m.backward(up)
    out_t.backward(torch.tensor(up))
    t_linears = [m for m in tm if isinstance(m, torch.nn.Linear)]
    for lm, lt in zip(linears, t_linears):
        np.testing.assert_allclose(lm.weight.grad, lt.weight.grad.numpy().T, rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(lm.bias.grad, lt.bias.grad.numpy(), rtol=RTOL, atol=ATOL)


def test_sequential_of_modules_and_callables_and_zero_grad():
    l1, l2 = nn.Linear(2, 3, rng=0), nn.Linear(3, 1, rng=1)
    seq = nn.Sequential(l1, nn.Tanh(), lambda t: t * 2.0, l2, nn.Sigmoid())
    assert len(seq) == 5 and seq[0] is l1
    assert seq.parameters() == [l1.weight, l1.bias, l2.weight, l2.bias]
    x = np.random.default_rng(4).standard_normal((3, 2))
    expected = 1 / (
        1
        + np.exp(-(2 * np.tanh(x @ l1.weight.data + l1.bias.data) @ l2.weight.data + l2.bias.data))
    )
    out = seq(Tensor(x))
    np.testing.assert_allclose(out.data, expected, rtol=1e-12)
    out.sum().backward()
    assert all(p.grad is not None for p in seq.parameters())
    seq.zero_grad()
    assert all(p.grad is None for p in seq.parameters())


def test_a_shared_layer_is_listed_once_and_gets_both_gradients():
    shared = nn.Linear(2, 2, rng=0)
    seq = nn.Sequential(shared, nn.ReLU(), shared)
    assert seq.parameters() == [shared.weight, shared.bias]
    x = np.random.default_rng(5).standard_normal((4, 2))
    seq(Tensor(x)).sum().backward()
    lt = _torch_linear_from(shared)
    torch.nn.Sequential(lt, torch.nn.ReLU(), lt)(torch.tensor(x)).sum().backward()
    np.testing.assert_allclose(shared.weight.grad, lt.weight.grad.numpy().T, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(shared.bias.grad, lt.bias.grad.numpy(), rtol=RTOL, atol=ATOL)


def test_training_an_mlp_on_spirals_reduces_the_loss():
    X, y = data.spirals(n_per_class=40, n_classes=3, seed=1)
    model = nn.MLP([2, 32, 32, 3], rng=0)
    opt = mathdl.optim.Adam(model.parameters(), lr=0.02)
    losses = []
    for _ in range(150):
        opt.zero_grad()
        loss = F.cross_entropy(model(Tensor(X)), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    with mathdl.no_grad():
        acc = np.mean(np.argmax(model(Tensor(X)).data, axis=1) == y)
    assert losses[-1] < 0.5 * losses[0]
    assert acc > 0.8  # chance is 1/3


# ----- data sets -------------------------------------------------------------------------------------

GENERATORS = {
    "spirals": (lambda seed: data.spirals(n_per_class=50, n_classes=4, seed=seed), 200, 4),
    "moons": (lambda seed: data.moons(n=101, seed=seed), 101, 2),
    "blobs": (lambda seed: data.blobs(n=90, centers=3, seed=seed), 90, 3),
}


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_classification_sets_shapes_dtypes_and_labels(name):
    make, n, k = GENERATORS[name]
    X, y = make(0)
    assert X.shape == (n, 2) and X.dtype == np.float64
    assert y.shape == (n,) and y.dtype == np.int64
    assert np.all(np.isfinite(X))
    counts = np.bincount(y, minlength=k)
    assert len(counts) == k and counts.max() - counts.min() <= 1  # balanced classes 0..k-1


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_classification_sets_reproducible_from_seed(name):
    make = GENERATORS[name][0]
    X1, y1 = make(7)
    X2, y2 = make(7)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    X3, _ = make(8)
    assert not np.array_equal(X1, X3)
    # a numpy Generator works as a seed too: a fresh default_rng(7) gives the seed-7 set, and a
    # Generator that has already been used gives another one
    X4, y4 = make(np.random.default_rng(7))
    np.testing.assert_array_equal(X4, X1)
    np.testing.assert_array_equal(y4, y1)
    g = np.random.default_rng(7)
    g.standard_normal(3)
    assert not np.array_equal(make(g)[0], X1)


def test_default_set_sizes():
    assert data.spirals()[0].shape == (300, 2)  # 3 classes x 100
    assert data.moons()[0].shape == (200, 2)
    assert data.blobs()[0].shape == (300, 2)
    x, y = data.regression_1d()
    assert x.shape == (100, 1) and y.shape == (100, 1)


def test_regression_1d_shapes_and_signal():
    x, y = data.regression_1d(n=500, noise=0.1, seed=3)
    assert x.shape == (500, 1) and y.shape == (500, 1)
    assert x.dtype == np.float64 and y.dtype == np.float64
    assert np.all((x >= 0) & (x <= 1)) and np.all(np.diff(x[:, 0]) >= 0)  # sorted inputs in [0, 1]
    resid = y - np.sin(2 * np.pi * x)
    # the noise has standard deviation 0.1: 500 samples estimate it within ~3% (6 standard errors ~ 19%)
    assert resid.std() == pytest.approx(0.1, rel=0.2)
    x2, y2 = data.regression_1d(n=500, noise=0.1, seed=3)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    x0, y0 = data.regression_1d(n=50, noise=0.0, seed=0)
    np.testing.assert_allclose(y0, np.sin(2 * np.pi * x0), atol=1e-15)


def test_noise_free_sets_have_their_shape():
    X, y = data.moons(n=100, noise=0.0)
    upper = X[y == 0]
    np.testing.assert_allclose(
        np.hypot(upper[:, 0], upper[:, 1]), 1.0, atol=1e-12
    )  # a unit half circle
    X, y = data.spirals(n_per_class=30, n_classes=3, noise=0.0)
    r = np.hypot(X[:, 0], X[:, 1])
    np.testing.assert_allclose(
        r[:30], np.linspace(0, 1, 30), atol=1e-12
    )  # radius runs 0 -> 1 along an arm


def test_train_test_split():
    X, y = data.blobs(n=100, seed=0)
    X_tr, X_te, y_tr, y_te = data.train_test_split(X, y, test_fraction=0.2, seed=1)
    assert (
        X_tr.shape == (80, 2)
        and X_te.shape == (20, 2)
        and y_tr.shape == (80,)
        and y_te.shape == (20,)
    )
    # a partition of the rows: together they are the original rows, once each
    both = np.vstack([X_tr, X_te])
    assert sorted(map(tuple, both)) == sorted(map(tuple, X))
    again = data.train_test_split(X, y, test_fraction=0.2, seed=1)
    np.testing.assert_array_equal(again[1], X_te)
    with pytest.raises(ValueError, match="test_fraction"):
        data.train_test_split(X, y, test_fraction=1.5)
    with pytest.raises(ValueError, match=r"100 rows.*99"):
        data.train_test_split(X, y[:99])
