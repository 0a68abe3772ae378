"""mathdl.views.layers: per-layer statistics of a small MLP, against torch autograd and a NumPy
backprop written out here.
"""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from mathdl import activations as A
from mathdl.views.layers import (
    ACTIVATIONS,
    LayerStatsView,
    forward_backward,
    layer_statistics,
    layer_stats_playground,
    make_mlp,
    train_momentum,
)
from tests.helpers.pictures import blit_vs_full
from tests.helpers.refs import numpy_mlp_backprop


# ----- per-layer statistics --------------------------------------------------------------------
def data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 2)), rng.integers(0, 3, n)


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "gelu"])
def test_forward_backward_matches_torch_autograd(activation):
    X, y = data()
    Ws, bs = make_mlp("he", depth=4, width=8, seed=1)
    bs = [b + 0.1 * np.arange(len(b)) for b in bs]
    loss, _zs, hs, ghs, gWs, gbs = forward_backward(Ws, bs, X, y, activation)
    act = {
        "relu": torch.relu,
        "tanh": torch.tanh,
        "sigmoid": torch.sigmoid,
        "gelu": lambda t: torch.nn.functional.gelu(t, approximate="tanh"),
    }[activation]
    tW = [torch.tensor(W, requires_grad=True) for W in Ws]
    tb = [torch.tensor(b, requires_grad=True) for b in bs]
    h, th = torch.tensor(X), []
    for W, b in zip(tW[:-1], tb[:-1]):
        h = act(h @ W + b)
        h.retain_grad()
        th.append(h)
    tloss = torch.nn.functional.cross_entropy(h @ tW[-1] + tb[-1], torch.tensor(y))
    tloss.backward()
    assert abs(loss - tloss.item()) < 1e-12
    for ours, ref in zip(hs, th):
        np.testing.assert_allclose(ours, ref.detach().numpy(), atol=1e-12)
    for ours, ref in zip(ghs, th):
        np.testing.assert_allclose(ours, ref.grad.numpy(), atol=1e-12)
    for ours, ref in zip(gWs + gbs, tW + tb):
        np.testing.assert_allclose(ours, ref.grad.numpy(), atol=1e-12)


def test_a_user_pair_and_a_user_init_give_the_same_as_the_names():
    X, y = data()
    named = layer_statistics(*make_mlp("he", 5, 16, seed=2), X, y, "relu")

    def he(fan_in, fan_out, rng):
        return rng.normal(0.0, np.sqrt(2 / fan_in), size=(fan_in, fan_out))

    mine = layer_statistics(*make_mlp(he, 5, 16, seed=2), X, y, (A.relu, A.relu_derivative))
    for k in ("forward", "backward", "dead"):
        np.testing.assert_array_equal(named[k], mine[k])
    # per-example gradient std: N times the std of dL/dh, computed directly
    _, _, _, ghs, _, _ = forward_backward(*make_mlp("he", 5, 16, seed=2), X, y, "relu")
    np.testing.assert_allclose(named["backward"], [len(X) * g.std() for g in ghs])


def test_dead_units_are_counted():
    X, y = data()
    Ws, bs = make_mlp("he", 2, 10, seed=0)
    bs[0][:4] = -1e3  # 4 of 10 units of layer 1 never fire
    stats = layer_statistics(Ws, bs, X, y, "relu")
    assert stats["dead"][0] == pytest.approx(0.4)
    leaky = layer_statistics(Ws, bs, X, y, "leaky relu")
    assert leaky["dead"][0] == 0.0  # leaky ReLU's slope on the left is 0.01, never 0


def test_bad_activation_or_init_is_named():
    with pytest.raises(ValueError, match="unknown activation 'rellu'"):
        layer_statistics(*make_mlp("he", 2, 4), *data(), "rellu")
    with pytest.raises(TypeError, match=r"pair \(f, df\)"):
        layer_statistics(*make_mlp("he", 2, 4), *data(), (A.relu,))
    with pytest.raises(ValueError, match="unknown initialization 'hee'"):
        make_mlp("hee", 2, 4)
    with pytest.raises(ValueError, match="init returned shape"):
        make_mlp(lambda a, b, rng: np.zeros((b, a)), 2, 4)


def test_train_momentum_follows_torch_sgd():
    X, y = data()
    Ws, bs = make_mlp("he", 3, 8, seed=0)
    tparams = [torch.tensor(p.copy(), requires_grad=True) for p in Ws + bs]
    losses = train_momentum(Ws, bs, X, y, lr=0.05, steps=10, momentum=0.9, activation="tanh")
    opt = torch.optim.SGD(tparams, lr=0.05, momentum=0.9)
    tl = []
    for _ in range(10):
        opt.zero_grad()
        h = torch.tensor(X)
        tW, tb = tparams[:4], tparams[4:]
        for W, b in zip(tW[:-1], tb[:-1]):
            h = torch.tanh(h @ W + b)
        loss = torch.nn.functional.cross_entropy(h @ tW[-1] + tb[-1], torch.tensor(y))
        loss.backward()
        opt.step()
        tl.append(loss.item())
    np.testing.assert_allclose(losses, tl, atol=1e-12)


PAIRS = ACTIVATIONS  # the (f, df) pairs the names stand for


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # xavier x 3 overflows: nan on both sides
@pytest.mark.parametrize("activation", list(PAIRS))
@pytest.mark.parametrize("init, scale", [("he", 1.0), ("xavier", 3.0), ("small normal", 1.0)])
def test_layer_statistics_on_the_engine_give_the_old_numpy_numbers(activation, init, scale):
    """Lesson 09's playground setting (depth 20, width 32, 3 spiral classes): the per-layer
    statistics and 15 momentum steps on the engine equal the former hand-written NumPy code."""
    from mathdl.data import spirals

    X, y = spirals(n_per_class=50, n_classes=3, noise=0.2, seed=0)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    f, df = PAIRS[activation]
    Ws, bs = make_mlp(init, 20, 32, scale=scale, seed=4)
    loss, zs, hs, ghs, _, _ = numpy_mlp_backprop(Ws, bs, X, y, f, df)
    stats = layer_statistics(Ws, bs, X, y, activation)
    assert stats["loss"] == pytest.approx(loss, rel=1e-12)
    np.testing.assert_allclose(stats["forward"], [h.std() for h in hs], rtol=1e-10)
    np.testing.assert_allclose(stats["backward"], [len(X) * g.std() for g in ghs], rtol=1e-9)
    np.testing.assert_array_equal(stats["dead"], [np.all(df(z) == 0, axis=0).mean() for z in zs])
    old, velocity = [], [np.zeros_like(p) for p in Ws + bs]
    params = [p.copy() for p in Ws + bs]
    for _ in range(15):
        out = numpy_mlp_backprop(params[:21], params[21:], X, y, f, df)
        old.append(out[0])
        if not np.isfinite(out[0]):  # the former trainer stopped there
            break
        for i, g in enumerate(out[4] + out[5]):
            velocity[i] = 0.9 * velocity[i] + g
            params[i] -= 0.03 * velocity[i]
    new = train_momentum(Ws, bs, X, y, lr=0.03, steps=15, activation=activation)
    np.testing.assert_allclose(new, old, rtol=1e-9)
    if np.isfinite(old).all():
        for ours, ref in zip(Ws + bs, params):  # trained in place, as before
            np.testing.assert_allclose(ours, ref, rtol=1e-8, atol=1e-12)


def test_layer_view_counts_points_off_the_scale_and_keeps_big_losses():
    fig = Figure()
    view = LayerStatsView(*fig.subplots(1, 2), depth=3, steps=5)
    stats = {"forward": np.array([1.0, 1e-20, np.nan]), "backward": np.ones(3), "dead": np.zeros(3)}
    view.show(stats, np.array([1.1, 5.0, 12.0, 40.0, 300.0]))
    assert "2 points off the scale" in view.title.get_text()
    np.testing.assert_array_equal(view.loss.get_ydata(), [1.1, 5.0, 12.0, 40.0, 300.0])


def test_layer_playground_with_a_user_activation_and_init():
    X, y = data(60)
    pg = layer_stats_playground(
        X,
        y,
        depth=4,
        width=8,
        steps=3,
        activations={"relu": "relu", "softplus": (lambda z: np.logaddexp(0, z), A.sigmoid)},
        inits={"he": "he", "ones/10": lambda a, b, rng: np.full((a, b), 0.1)},
    )
    pg.set(activation="softplus", init="ones/10")
    assert pg.errors == []
    assert "step 2" in pg.axes[1].get_title()


def test_layer_playground_blits_the_same_picture_and_caches_by_setting():
    X, y = data(60)
    pg = layer_stats_playground(X, y, depth=4, width=8, steps=4)
    pg.set(lr=0.1)
    loss_01 = pg.axes[1].lines[-1].get_ydata().copy()
    pg.set(lr=0.01)
    assert blit_vs_full(pg) < 0.01
    pg.set(lr=0.1)
    np.testing.assert_array_equal(pg.axes[1].lines[-1].get_ydata(), loss_01)
    Ws, bs = make_mlp("he", 4, 8, seed=0)
    np.testing.assert_allclose(loss_01, train_momentum(Ws, bs, X, y, 0.1, 4), rtol=1e-12)
