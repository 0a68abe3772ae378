"""mathdl.views.softmax_map: the playground of a softmax classifier's probabilities (lesson 03).

The experiment is checked against an independent reference, the playground is swept through every
control (``drive``, the sweep the exercise playgrounds use), and what the picture shows is read back
from its artists.
"""

import matplotlib
import numpy as np
import pytest
import torch

from mathdl import init
from mathdl.views.softmax_map import softmax_playground, softmax_run
from tests.helpers.playgrounds import drive

matplotlib.use("Agg")


# --- lesson 03: a softmax classifier's probabilities -----------------------------------------------
def blobs():
    from mathdl import data

    return data.blobs(n=90, centers=3, std=1.0, seed=0)


def softmax_trainer(X, y):
    Y = np.eye(3)[y]

    def train(lr, scheme="zeros", seed=0, steps=30):
        W, b, losses = init.initialize(scheme, 2, 3, rng=seed), np.zeros(3), []
        for _ in range(steps):
            Z = X @ W + b
            P = np.exp(Z - Z.max(axis=1, keepdims=True))
            P /= P.sum(axis=1, keepdims=True)
            losses.append(-np.mean(np.log(P[np.arange(len(y)), y])))
            G = (P - Y) / len(X)
            W, b = W - lr * X.T @ G, b - lr * G.sum(axis=0)
        return W, b, np.array(losses)

    return train


def test_softmax_run_probabilities_are_torch_softmax():
    X, y = blobs()
    train = softmax_trainer(X, y)
    grid = np.random.default_rng(0).uniform(-5, 5, (50, 2))
    run = softmax_run(train, 0.5, "he", 2, X, y, grid)
    W, b, losses = train(0.5, "he", 2)
    ref = torch.softmax(torch.tensor(grid @ W + b), dim=1).numpy()
    np.testing.assert_allclose(run.probabilities, ref, rtol=1e-12)
    assert run.accuracy == np.mean((X @ W + b).argmax(axis=1) == y)
    np.testing.assert_allclose(run.losses, losses)
    blown = softmax_run(
        lambda lr, i, s: (np.full((2, 3), np.inf), np.zeros(3), [1.0]), 1, "he", 0, X, y, grid
    )
    assert blown.diverged and blown.probabilities is None
    with pytest.raises(ValueError, match="W"):
        softmax_run(lambda lr, i, s: (W.T, b, losses), 0.5, "he", 2, X, y, grid)


def test_softmax_playground_draws_uniform_grey_for_zero_weights_and_survives_every_control():
    from mathdl.plots import region_colors

    X, y = blobs()
    calls = []

    def counted(lr, scheme, seed):
        calls.append((lr, scheme, seed))
        return softmax_trainer(X, y)(lr, scheme, seed)

    pg = softmax_playground(counted, X, y, steps=30)
    pg.set(init="zeros", lr=1e-4)
    image = np.asarray(pg.view.image.get_array())[..., :3] / 255
    uniform = region_colors(np.full((len(pg.view.grid), 3), 1 / 3), pg.view.rgb, image.shape[:2])
    assert np.abs(image - uniform).max() < 0.02  # barely trained: P(y | x) close to uniform
    pg.set(lr=1.0)
    assert np.abs(np.asarray(pg.view.image.get_array())[..., :3] / 255 - uniform).max() > 0.1
    pg.set(lr=1e-4)  # back to a setting already trained: redrawn, not trained again
    assert calls.count((1e-4, "zeros", 0)) == 1
    assert drive(pg) == []

    def overflowing(lr, scheme, seed):
        return np.full((2, 3), np.nan), np.zeros(3), np.full(30, np.nan)

    bad = softmax_playground(overflowing, X, y, steps=30)
    assert bad.diverged and bad.errors == []
