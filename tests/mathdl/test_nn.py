"""mathdl.nn layers against their torch equivalents."""

import numpy as np
import pytest
import torch

import mathdl
import mathdl.functional as F
from mathdl import Tensor, data, nn
from tests.helpers.refs import ATOL, RTOL, random_upstream

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
