"""mathdl.views.minibatch: the playground of mini-batch SGD (lesson 02).

The experiment is checked against an independent reference, the playground is swept through every
control (``drive``, the sweep the exercise playgrounds use), and what the picture shows is read back
from its artists.
"""

import matplotlib
import numpy as np
import pytest

from mathdl import init
from mathdl.views.minibatch import BatchCurves, batch_curves, minibatch_playground
from tests.helpers.playgrounds import drive

matplotlib.use("Agg")


# --- lesson 02: mini-batch SGD ---------------------------------------------------------------------
def test_batch_curves_subtracts_the_best_loss_and_counts_the_work():
    calls = []

    def train(lr, batch_size, init, seed):
        calls.append(batch_size)
        return np.linspace(5.0, 1.0, 101) + (0.5 if batch_size < 64 else 0.0)

    c = batch_curves(train, 0.1, 8, "he", 0, best_loss=1.0, n_data=64)
    assert calls == [64, 8]
    np.testing.assert_allclose(c.full, np.linspace(4.0, 0.0, 101))
    assert c.floor == pytest.approx(np.mean(np.linspace(4.0, 0.0, 101)[-50:] + 0.5))
    work, loss = c.work("sgd")
    np.testing.assert_array_equal(work, 8 * np.arange(1, 101))
    np.testing.assert_allclose(loss, np.linspace(5.0, 1.0, 101)[1:] - 0.5)
    assert c.work("full")[0][-1] == 64 * 100 and c.diverged is None
    again = batch_curves(train, 0.1, 8, "he", 0, best_loss=1.0, n_data=64, full=np.ones(3))
    assert calls == [64, 8, 8] and again.full.shape == (3,)  # the full run given is not rerun
    with pytest.raises(ValueError, match="batch size"):
        batch_curves(train, 0.1, 65, "he", 0, best_loss=1.0, n_data=64)
    with pytest.raises(ValueError, match="losses per step"):
        batch_curves(lambda *a: [], 0.1, 8, "he", 0, best_loss=1.0, n_data=64)


def test_batch_curves_names_the_run_that_diverged():
    ok, bad = np.array([3.0, 1.0]), np.array([3.0, 2e6])
    assert BatchCurves(bad, ok, 1, 8).diverged == "sgd"
    assert BatchCurves(ok, bad, 1, 8).diverged == "full"
    assert BatchCurves(np.array([1.0, np.nan]), ok, 1, 8).diverged == "sgd"


def regression(n=64, d=3):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d))
    y = X @ rng.standard_normal(d) + 0.3 * rng.standard_normal(n)
    best = np.mean((X @ np.linalg.lstsq(X, y, rcond=None)[0] - y) ** 2)

    def train(lr, batch_size, scheme, seed, steps=40):
        rng = np.random.default_rng(seed)
        w = init.initialize(scheme, d, 1, rng=seed)[:, 0]
        losses = [np.mean((X @ w - y) ** 2)]
        for _ in range(steps):
            idx = rng.choice(n, batch_size, replace=False)
            w = w - lr * 2 * X[idx].T @ (X[idx] @ w - y[idx]) / batch_size
            losses.append(np.mean((X @ w - y) ** 2))
            if not losses[-1] < 1e6:
                break
        return np.array(losses)

    return train, best


def test_minibatch_playground_reuses_the_full_batch_run_and_survives_every_control():
    train, best = regression()
    full_calls = []

    def counted(lr, batch_size, scheme, seed):
        if batch_size == 64:
            full_calls.append((lr, scheme, seed))
        return train(lr, batch_size, scheme, seed)

    pg = minibatch_playground(counted, best_loss=best, n_data=64, limit=0.5, steps=40, lr=0.05)
    assert list(pg.controls["batch_size"].options) == [1, 2, 4, 8, 16, 32, 64]
    for b in (1, 2, 4, 8):
        pg.set(batch_size=b)
    assert full_calls == [(0.05, "he", 0)]  # once per (lr, init, seed), whatever the batch size
    sgd = pg.view.step.lines["sgd"].get_ydata()
    np.testing.assert_allclose(sgd, train(0.05, 8, "he", 0) - best)
    pg.set(lr=10.0)
    assert pg.diverged
    pg.set(lr=0.05)
    assert drive(pg) == []
