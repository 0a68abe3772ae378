"""Views added for the lessons' re-read (issue 20): histograms by layer, momentum map, schedules.

Each figure is checked against an independent computation (np.histogram on the raw values, the
closed-form roots of the heavy-ball recurrence, a step-by-step loop written out here).
"""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from matplotlib.figure import Figure

from mathdl import surfaces
from mathdl.views.histograms import layer_histograms, log_magnitude_histogram
from mathdl.views.momentum_map import (
    MomentumMapView,
    heavy_ball_rate,
    momentum_map_playground,
    rate_map,
    stability_limit,
)
from mathdl.views.race import run_path


def test_log_magnitude_histogram_counts_every_entry_once():
    rng = np.random.default_rng(0)
    values = np.concatenate(
        [rng.standard_normal(1000) * 10.0 ** rng.integers(-6, 2, 1000), np.zeros(250)]
    )
    share, edges, zero = log_magnitude_histogram(values)
    assert zero == pytest.approx(250 / 1250)
    inside = np.abs(values[values != 0])
    inside = inside[(np.log10(inside) >= edges[0]) & (np.log10(inside) <= edges[-1])]
    assert share.sum() == pytest.approx(inside.size / values.size)
    # an independent count of one bin
    k = 20
    lo, hi = 10 ** edges[k], 10 ** edges[k + 1]
    mag = np.abs(values)
    assert share[k] * values.size == np.sum((mag >= lo) & (mag < hi))


@pytest.mark.parametrize("bad", [np.array([]), np.array([1.0, np.nan]), np.array([np.inf])])
def test_log_magnitude_histogram_rejects_empty_or_non_finite(bad):
    with pytest.raises(ValueError, match=r"empty|nan"):
        log_magnitude_histogram(bad)


def test_layer_histograms_draws_one_row_per_setting_and_checks_layers():
    hs = [np.full((4, 3), 2.0**-k) for k in range(5)]
    fig = Figure()
    axes = layer_histograms(fig, {"a": (hs, hs), "b": (hs, hs)}, layers=(1, 5))
    assert axes.shape == (2, 2)
    assert len(axes[0, 0].patches) == 2  # one stairs per layer
    with pytest.raises(ValueError, match="outside"):
        layer_histograms(Figure(), {"a": (hs, hs)}, layers=(0, 6))
    with pytest.raises(ValueError, match="gradient arrays"):
        layer_histograms(Figure(), {"a": (hs, hs[:-1])})
    with pytest.raises(ValueError, match="empty"):
        layer_histograms(Figure(), {})


# --- momentum map (lesson 08) -------------------------------------------------------------------


def test_heavy_ball_rate_matches_numpy_roots():
    rng = np.random.default_rng(1)
    for eta_lam, mu in zip(rng.uniform(0, 4, 50), rng.uniform(0, 0.99, 50)):
        expected = np.abs(np.roots([1.0, -(1 + mu - eta_lam), mu])).max()
        assert heavy_ball_rate(eta_lam, mu) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("mu", [0.0, 0.3, 0.9])
def test_stability_limit_separates_convergence_from_divergence(mu):
    lam = 20.0
    limit = stability_limit(mu, lam)
    assert limit == pytest.approx(2 * (1 + mu) / lam)
    assert heavy_ball_rate(0.99 * limit * lam, mu) < 1 < heavy_ball_rate(1.01 * limit * lam, mu)
    # and the optimizer itself (mathdl.optim.SGD with momentum) on the ravine, curvatures 20 and 1
    ravine = surfaces.ravine()
    below = run_path(ravine, "momentum", steps=3000, lr=0.97 * limit, momentum=mu)[-1]
    above = run_path(ravine, "momentum", steps=3000, lr=1.03 * limit, momentum=mu)[-1]
    assert np.linalg.norm(below) < 1e-6
    assert not np.all(np.isfinite(above)) or np.linalg.norm(above) > 1e3


def test_rate_predicts_the_measured_decay_on_the_ravine():
    lr, mu = 0.02, 0.5
    d = np.linalg.norm(
        run_path(surfaces.ravine(), "momentum", steps=400, lr=lr, momentum=mu), axis=1
    )
    measured = (d[400] / d[200]) ** (1 / 200)
    assert measured == pytest.approx(rate_map([lr], [mu], (20.0, 1.0))[0, 0], rel=1e-3)


def test_rate_map_and_bad_inputs():
    r = rate_map(np.array([0.01, 0.1, 0.3]), np.array([0.0, 0.5]), (20.0, 1.0))
    assert r.shape == (2, 3)
    assert r[0, 2] > 1  # 0.3 > 2/20 without momentum
    with pytest.raises(ValueError, match="momentum"):
        heavy_ball_rate(0.1, 1.0)
    with pytest.raises(ValueError, match="curvature"):
        stability_limit(0.5, 0.0)
    with pytest.raises(ValueError, match="curvatures"):
        rate_map([0.1], [0.5], ())


def test_momentum_map_view_and_playground_survive_their_range():
    fig = Figure()
    view = MomentumMapView(fig.add_subplot(), (20.0, 1.0))
    assert view.rate(0.02, 0.9) == pytest.approx(
        np.sqrt(0.9), rel=1e-9
    )  # complex roots: |r| = sqrt(mu)
    pg = momentum_map_playground()
    for name, values in {"lr": [1e-3, 1.0, 0.02], "momentum": [0.0, 0.99], "seed": [20, 0]}.items():
        for v in values:
            pg.controls[name].value = v
    assert pg.errors == []


# --- signals through depth (lesson 10) ----------------------------------------------------------
def _spirals():
    from mathdl import data

    X, y = data.spirals(n_per_class=20, n_classes=3, noise=0.2, seed=0)
    return (X - X.mean(0)) / X.std(0), y


def test_depth_statistics_match_the_numpy_backprop_of_views_layers():
    from mathdl import nn
    from mathdl.views.depth import build_deep_mlp, depth_statistics
    from mathdl.views.layers import layer_statistics

    X, y = _spirals()
    model = build_deep_mlp("plain", depth=12, width=16, scale=1.3, seed=3)
    linears = [m for m in model.layers if isinstance(m, nn.Linear)]
    Ws, bs = [m.weight.data.copy() for m in linears], [m.bias.data.copy() for m in linears]
    ours = depth_statistics(model, X, y)
    ref = layer_statistics(Ws, bs, X, y, "relu")
    np.testing.assert_allclose(ours["forward"], ref["forward"], rtol=1e-12)
    np.testing.assert_allclose(ours["backward"], ref["backward"], rtol=1e-9)
    assert ours["loss"] == pytest.approx(ref["loss"], rel=1e-12)


def test_depth_kinds_and_errors():
    from mathdl.views.depth import KINDS, build_deep_mlp, depth_statistics

    X, y = _spirals()
    for kind in KINDS:
        s = depth_statistics(build_deep_mlp(kind, depth=10, width=8), X, y)
        assert s["forward"].shape == s["backward"].shape == (10,)
    # unscaled residual blocks grow the signal far more than the 1/sqrt(depth)-scaled ones
    grow = {
        k: depth_statistics(build_deep_mlp(k, depth=30), X, y)["forward"][-1]
        for k in ("residual", "residual, unscaled")
    }
    assert grow["residual, unscaled"] > 1e3 * grow["residual"]
    with pytest.raises(ValueError, match="unknown kind"):
        build_deep_mlp("dropout", 10)
    with pytest.raises(ValueError, match="depth"):
        build_deep_mlp("plain", 1)


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


# --- decision boundary while training (lesson 10) ------------------------------------------------
def _one_hidden_layer():
    from mathdl import init

    def init_params(D, H, C, scheme="he", seed=0):
        rng = np.random.default_rng(seed)
        return {
            "W1": init.initialize(scheme, D, H, rng=rng),
            "b1": np.zeros(H),
            "W2": init.initialize(scheme, H, C, rng=rng),
            "b2": np.zeros(C),
        }

    def proba(p, X):
        Z = np.maximum(X @ p["W1"] + p["b1"], 0) @ p["W2"] + p["b2"]
        E = np.exp(Z - Z.max(axis=1, keepdims=True))
        return E / E.sum(axis=1, keepdims=True)

    def loss_and_grads(p, X, y):
        A = np.maximum(X @ p["W1"] + p["b1"], 0)
        P = proba(p, X)
        G = P.copy()
        G[np.arange(len(y)), y] -= 1
        G /= len(y)
        G1 = (G @ p["W2"].T) * (A > 0)
        loss = -np.mean(np.log(P[np.arange(len(y)), y]))
        return loss, {"W1": X.T @ G1, "b1": G1.sum(0), "W2": A.T @ G, "b2": G.sum(0)}

    return init_params, loss_and_grads, proba


def test_training_run_is_sgd_with_momentum_written_out():
    from mathdl.views.boundary_training import TrainingRun

    init_params, loss_and_grads, _ = _one_hidden_layer()
    X, y = _spirals()
    run = TrainingRun(init_params(2, 8, 3), loss_and_grads, X, y)
    run.advance(0.3, 20)
    p, v, losses = init_params(2, 8, 3), None, []
    v = {k: np.zeros_like(a) for k, a in p.items()}
    for _ in range(20):
        loss, g = loss_and_grads(p, X, y)
        losses.append(loss)
        for k in p:
            v[k] = 0.9 * v[k] + g[k]
            p[k] = p[k] - 0.3 * v[k]
    np.testing.assert_allclose(run.losses, losses, rtol=1e-12)
    for k in p:
        np.testing.assert_allclose(run.params[k], p[k], rtol=1e-12)
    run.advance(1e6, 5)  # an absurd rate: stops at divergence, for good
    assert run.diverged and len(run.losses) < 25


def test_boundary_training_playground_survives_every_control():
    from mathdl.views.boundary_training import boundary_training_playground

    init_params, loss_and_grads, proba = _one_hidden_layer()
    X, y = _spirals()
    pg = boundary_training_playground(init_params, loss_and_grads, proba, X, y, steps_per_click=10)
    for name, values in {
        "lr": [1e-3, 10.0, 0.3],
        "init": ["zeros", "small normal", "xavier", "he"],
        "width": [2, 64, 16],
        "seed": [20, 0],
    }.items():
        for v in values:
            pg.controls[name].value = v
    pg.controls["train"].click()
    pg.controls["train"].click()
    assert pg.errors == []


# --- two losses side by side (lesson 07) ---------------------------------------------------------
def test_loss_comparison_playground_draws_what_train_returns():
    from mathdl import data
    from mathdl.views.loss_comparison import loss_comparison_playground

    datasets = {s: data.blobs(60, centers=2, std=1.0, spread=1.5, seed=s) for s in range(21)}
    calls = []

    def train(X, t, loss, lr, scheme, scale, seed):
        calls.append((loss, lr, scheme, scale, seed))
        w = np.array([1.0, 2.0]) * (1 if loss == "mse" else -1)
        acc = np.linspace(0, 1, 40)
        return w, 0.5, acc, (np.inf if lr > 50 else 0.1)

    pg = loss_comparison_playground(
        train, datasets, lambda s, k, seed: np.array([0.0, 1.0]), steps=40
    )
    assert ("mse", 1.0, "he", 10.0, 1) in calls and ("ce", 1.0, "he", 10.0, 1) in calls
    for name, values in {
        "lr": [1e-3, 100.0, 1.0],
        "init": ["zeros", "he"],
        "scale": [0.1, 30.0],
        "seed": [20, 0],
    }.items():
        for v in values:
            pg.controls[name].value = v
    assert pg.errors == []  # lr 100 gives an infinite loss: shown as "diverged", not an error
    # the boundary drawn for "mse" is the line x . w + b = 0 of the w, b that train returned
    ax, ax_acc = pg.axes
    mse_line = next(line for line in ax.get_lines() if line.get_label() == "MSE")
    pts = np.column_stack(mse_line.get_data())
    assert len(pts) == 2 and np.allclose(pts @ [1.0, 2.0] + 0.5, 0)
    acc_line = next(line for line in ax_acc.get_lines() if line.get_label() == "cross-entropy")
    np.testing.assert_allclose(acc_line.get_ydata(), np.linspace(0, 1, 40))


def test_classifier_playground_trains_each_setting_once_and_shows_divergence():
    from mathdl import data
    from mathdl.views.boundary_training import classifier_playground

    datasets = {s: data.moons(40, noise=0.15, seed=s) for s in range(21)}
    calls = []

    def trained(activation, lr, init, seed):
        calls.append((activation, lr, init, seed))
        if lr > 5:
            return None, [1.0, np.inf], f"{activation}: diverged"
        return (lambda pts: (pts[:, 0] > 0).astype(int)), [0.7, 0.5], f"{activation}: ok"

    pg = classifier_playground(trained, datasets, ["relu", "tanh"], steps=2)
    for name, values in {
        "activation": ["tanh", "relu"],
        "lr": [1e-3, 10.0, 1.0],
        "init": ["zeros", "he"],
        "seed": [20, 0],
    }.items():
        for v in values:
            pg.controls[name].value = v
    assert pg.errors == []
    assert len(calls) == len(set(calls))  # every setting trained once
    assert ("relu", 1.0, "he", 0) in calls and ("tanh", 1.0, "he", 0) in calls
