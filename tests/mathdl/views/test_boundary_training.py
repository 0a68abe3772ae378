"""mathdl.views.boundary_training: the decision boundary while training (lesson 10) and the
classifier playground (lesson 06).

The training run is checked against SGD with momentum written out step by step here.
"""

import matplotlib

matplotlib.use("Agg")

import numpy as np


def _spirals():
    from mathdl import data

    X, y = data.spirals(n_per_class=20, n_classes=3, noise=0.2, seed=0)
    return (X - X.mean(0)) / X.std(0), y


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
