"""mathdl.views.depth: signals through depth (lesson 10)."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest


# --- signals through depth (lesson 10) ----------------------------------------------------------
def _spirals():
    from mathdl import data

    X, y = data.spirals(n_per_class=20, n_classes=3, noise=0.2, seed=0)
    return (X - X.mean(0)) / X.std(0), y


def test_depth_kinds_and_errors():
    from mathdl.layer_stats import make_mlp
    from mathdl.views.depth import KINDS, deep_network, depth_statistics

    X, y = _spirals()
    for kind in KINDS:
        s = depth_statistics(deep_network(kind, *make_mlp("he", depth=10, width=8)), X, y)
        assert s["forward"].shape == s["backward"].shape == (10,)
    # unscaled residual blocks grow the signal far more than the 1/sqrt(depth)-scaled ones
    Ws, bs = make_mlp("he", depth=30, width=32)
    grow = {
        k: depth_statistics(deep_network(k, Ws, bs), X, y)["forward"][-1]
        for k in ("residual", "residual, unscaled")
    }
    assert grow["residual, unscaled"] > 1e3 * grow["residual"]
    with pytest.raises(ValueError, match="unknown kind"):
        deep_network("dropout", Ws, bs)
    with pytest.raises(ValueError, match="depth >= 2"):
        deep_network("plain", *make_mlp("he", depth=1, width=8))


def test_depth_playground_survives_every_control():
    from mathdl.views.depth import KINDS, depth_playground

    X, y = _spirals()
    pg = depth_playground(X, y)
    for name, values in {
        "kind": list(KINDS),
        "depth": [2, 50, 30],
        "scale": [0.25, 4.0, 1.0],
        "seed": [20, 0],
    }.items():
        for v in values:
            pg.controls[name].value = v
    assert pg.errors == []


def _torch_depth_statistics(kind, Ws, bs, X, y):
    """Per hidden layer: std of h and of N dL/dh, and the loss, by torch autograd (float64)."""
    import torch

    h = torch.tensor(X, dtype=torch.float64)
    Ws = [torch.tensor(W, requires_grad=True) for W in Ws]
    bs = [torch.tensor(b) for b in bs]
    branch = 1 / np.sqrt(len(Ws) - 1) if kind == "residual" else 1.0
    hidden = [torch.relu(h @ Ws[0] + bs[0])]
    for W, b in zip(Ws[1:-1], bs[1:-1]):
        h = hidden[-1]
        hidden.append(
            h + torch.relu(h @ (branch * W) + b) if kind != "plain" else torch.relu(h @ W + b)
        )
    for h in hidden:
        h.retain_grad()
    loss = torch.nn.functional.cross_entropy(hidden[-1] @ Ws[-1] + bs[-1], torch.tensor(y))
    loss.backward()
    return (
        np.array([h.detach().std(unbiased=False).item() for h in hidden]),
        np.array([h.grad.std(unbiased=False).item() for h in hidden]) * len(X),
        loss.item(),
    )


@pytest.mark.parametrize("kind", ["plain", "residual", "residual, unscaled"])
def test_depth_statistics_match_torch(kind):
    from mathdl.layer_stats import make_mlp
    from mathdl.views.depth import deep_network, depth_statistics

    X, y = _spirals()
    Ws, bs = make_mlp("he", depth=12, width=16, scale=1.3, seed=3)
    bs = [np.random.default_rng(4).normal(0, 0.1, b.shape) for b in bs]
    ours = depth_statistics(deep_network(kind, Ws, bs), X, y)
    forward, backward, loss = _torch_depth_statistics(kind, Ws, bs, X, y)
    np.testing.assert_allclose(ours["forward"], forward, rtol=1e-10)
    np.testing.assert_allclose(ours["backward"], backward, rtol=1e-9)
    assert ours["loss"] == pytest.approx(loss, rel=1e-12)


def test_signal_sizes_need_a_backward_pass_and_the_playground_takes_any_data_shape():
    from mathdl.layer_stats import make_mlp, run_recording, signal_sizes
    from mathdl.views.depth import deep_network, depth_playground

    X, y = _spirals()
    _, _, hidden = run_recording(deep_network("plain", *make_mlp("he", 3, 4)), X, y)
    with pytest.raises(ValueError, match="backward"):
        signal_sizes(hidden, len(X))
    # three features and two classes: the network's ends follow the data
    rng = np.random.default_rng(0)
    X3, y2 = rng.standard_normal((40, 3)), rng.integers(0, 2, 40)
    pg = depth_playground(X3, y2, max_depth=10)
    pg.set(kind="residual", depth=5)
    assert pg.errors == [] and not pg.diverged
