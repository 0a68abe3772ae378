"""The playgrounds of lessons 00-03 (mathdl.views.parabola, line_fit, minibatch, softmax_map).

Each experiment is checked against an independent reference (a closed form, a Monte-Carlo run,
np.polyfit, torch), each playground is swept through every control (``drive``, the sweep the
exercise playgrounds use), and what the picture shows is read back from its artists.
"""

import matplotlib
import numpy as np
import pytest
import torch
from test_exercise_playgrounds import drive

from mathdl import init
from mathdl.views.line_fit import (
    descend_many,
    line_fit_playground,
    line_fit_run,
    line_problem,
)
from mathdl.views.minibatch import BatchCurves, batch_curves, minibatch_playground
from mathdl.views.parabola import noise_floor, parabola_playground, parabola_run
from mathdl.views.softmax_map import softmax_playground, softmax_run

matplotlib.use("Agg")


# --- lesson 00: gradient descent on a parabola ----------------------------------------------------
def descend(lr, x0, a=1.0, c=1.0, steps=40, noise=0.0, seed=0):
    """The lesson's gradient_descent, written again (the playground takes any such function)."""
    rng = np.random.default_rng(seed)
    xs = [x0]
    for _ in range(steps):
        xs.append(xs[-1] - lr * (a * (xs[-1] - c) + noise * rng.standard_normal()))
    return np.array(xs)


@pytest.mark.parametrize("lr, a", [(0.3, 1.0), (1.7, 1.0), (0.9, 2.0)])
def test_parabola_run_is_the_closed_form_without_noise(lr, a):
    run = parabola_run(descend, lr, -3.0, a, center=1.0, steps=30)
    q = 1 - a * lr
    expected = 1.0 + (-4.0) * q ** np.arange(31)
    np.testing.assert_allclose(run.xs, expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(run.losses, 0.5 * a * (expected - 1.0) ** 2, rtol=1e-9, atol=1e-20)
    assert run.q == pytest.approx(q) and run.floor is None and not run.diverged


def test_parabola_divergence_needs_something_to_amplify():
    assert parabola_run(descend, 2.5, -3.0, 1.0).diverged
    assert not parabola_run(descend, 2.5, 1.0, 1.0).diverged  # at the minimum: nothing moves
    assert parabola_run(descend, 2.5, 1.0, 1.0, noise=0.5).diverged  # noise gets amplified


@pytest.mark.parametrize("lr, a, sigma", [(0.3, 1.0, 1.0), (0.8, 2.0, 0.5), (1.5, 1.0, 2.0)])
def test_noise_floor_is_the_mean_loss_of_a_long_run(lr, a, sigma):
    # 4000 independent chains, 400 steps each (far past the transient): the mean loss at the end
    rng = np.random.default_rng(1)
    e = np.zeros(4000)
    for _ in range(400):
        e = (1 - a * lr) * e - lr * sigma * rng.standard_normal(4000)
    measured = np.mean(0.5 * a * e**2)
    assert noise_floor(lr, a, sigma) == pytest.approx(measured, rel=0.06)


def test_parabola_bad_inputs_are_named():
    with pytest.raises(ValueError, match="converge"):
        noise_floor(2.5, 1.0, 1.0)
    with pytest.raises(ValueError, match="a > 0"):
        parabola_run(descend, 0.1, 0.0, -1.0)
    with pytest.raises(ValueError, match="iterates"):
        parabola_run(lambda *a, **k: np.zeros(3), 0.1, 0.0, 1.0, steps=40)


def line(ax, label):
    return next(li for li in ax.get_lines() if li.get_label() == label)


def test_parabola_playground_draws_the_run_and_survives_every_control():
    pg = parabola_playground(descend, center=1.0, steps=40)
    pg.set(lr=0.5, noise=1.0, seed=3, a=2.0)
    run = parabola_run(descend, 0.5, -3.0, 2.0, 1.0, 3)
    loss_line = pg.view.loss.lines["loss"]
    np.testing.assert_allclose(loss_line.get_ydata(), np.maximum(run.losses, 1e-12))
    floor = pg.view.loss.lines["floor"].get_ydata()
    assert np.allclose(floor, 0.5 * 1.0**2 / (2 * (2 - 2.0 * 0.5)))
    pg.set(noise=0.0)
    assert len(pg.view.loss.lines["floor"].get_ydata()) == 0  # no noise, no floor
    pg.set(lr=1.5)  # 1.5 > 2/a = 1
    assert pg.diverged
    pg.set(lr=0.3, a=1.0, noise=0.0, seed=0)
    assert not pg.diverged
    assert drive(pg) == []


# --- lesson 01: fitting a line ---------------------------------------------------------------------
def line_data():
    rng = np.random.default_rng(0)
    x = np.sort(rng.uniform(0.0, 3.0, 60))
    return x, 1.5 * x - 1.0 + 0.4 * rng.standard_normal(60)


def fit(X, y, W0, b0, lr, steps):
    """The lesson's fit_dense, written again: (w, b) history and the loss before each step."""
    W, b, history, losses = W0.copy(), b0.copy(), [(W0[0, 0], b0[0])], []
    for _ in range(steps):
        Z = X @ W + b
        losses.append(np.mean((Z - y) ** 2))
        if not np.isfinite(losses[-1]) or losses[-1] > 1e8:
            break
        dZ = 2 * (Z - y) / len(X)
        W, b = W - lr * X.T @ dZ, b - lr * dZ.sum(axis=0)
        history.append((W[0, 0], b[0]))
    return np.array(history), np.array(losses)


def test_line_problem_matches_polyfit_and_the_closed_form_hessian():
    x, y = line_data()
    p = line_problem(x, y)
    w, b = np.polyfit(x, y, 1)
    assert (p.w_best, p.b_best) == pytest.approx((w, b), rel=1e-10)
    assert p.best_loss == pytest.approx(np.mean((w * x + b - y) ** 2), rel=1e-10)
    H = 2 / len(x) * np.array([[np.sum(x * x), np.sum(x)], [np.sum(x), len(x)]])
    lam = np.linalg.eigvalsh(H)
    np.testing.assert_allclose(p.curvatures, lam, rtol=1e-10)
    assert p.limit == pytest.approx(2 / lam[-1])
    with pytest.raises(ValueError, match="finite"):
        line_problem(x, y[:-1])
    with pytest.raises(ValueError, match="finite"):
        line_problem(np.array([0.0, np.nan]), np.array([1.0, 2.0]))


def test_descend_many_follows_torch_sgd_from_every_start():
    x, y = line_data()
    p = line_problem(x, y)
    starts = np.array([[0.0, 0.0], [2.0, -1.0], [-3.0, 1.5]])
    points, losses = descend_many(p, starts, lr=0.05, steps=30)
    for k, start in enumerate(starts):
        theta = torch.tensor(start, dtype=torch.float64, requires_grad=True)
        opt = torch.optim.SGD([theta], lr=0.05)
        xt, yt = torch.tensor(x), torch.tensor(y)
        for t in range(31):
            loss = torch.mean((theta[0] * xt + theta[1] - yt) ** 2)
            np.testing.assert_allclose(points[t, k], theta.detach().numpy(), rtol=1e-10)
            assert losses[t, k] == pytest.approx(loss.item(), rel=1e-10)
            opt.zero_grad()
            loss.backward()
            opt.step()


def test_descend_many_marks_divergence_with_nan():
    p = line_problem(*line_data())
    points, losses = descend_many(p, [[0.0, 0.0]], lr=1.2 * p.limit, steps=400)
    assert np.isnan(losses[-1, 0]) and np.isnan(points[-1, 0]).all()
    finite = losses[np.isfinite(losses[:, 0]), 0]
    assert finite.max() <= 1e8 and len(finite) < 400


def test_line_fit_run_uses_the_lessons_fit_and_each_seeds_start():
    p = line_problem(*line_data())
    run = line_fit_run(fit, p, 0.01, "he", 2.0, 5, steps=50)
    history, losses = fit(
        p.x[:, None], p.y[:, None], 2.0 * init.he_normal(1, 1, rng=5), np.zeros(1), 0.01, 50
    )
    np.testing.assert_allclose(run.history, history)
    np.testing.assert_allclose(run.losses, losses)
    w_end, b_end = history[-1]
    assert run.final_loss == pytest.approx(np.mean((w_end * p.x + b_end - p.y) ** 2))
    w0s = [2.0 * init.he_normal(1, 1, rng=s)[0, 0] for s in range(21)]
    np.testing.assert_allclose(run.starts, np.column_stack([w0s, np.zeros(21)]))
    # the seeds' descent, started where the lesson's fit starts, ends where it ends
    np.testing.assert_allclose(run.ends[5], history[-1], rtol=1e-9)
    assert run.seed_losses.shape == (51, 21) and not run.diverged
    with pytest.raises(ValueError, match="history"):
        line_fit_run(lambda *a: (np.zeros(3), np.zeros(2)), p, 0.01, "he", 1.0, 0)


def test_the_initialization_menu_changes_what_is_shown():
    p = line_problem(*line_data())
    pg = line_fit_playground(fit, p, steps=100)
    shown = {}
    for scheme in ("zeros", "small normal", "xavier", "he"):
        pg.set(lr=0.01, init=scheme)
        starts = np.column_stack(pg.view.starts.get_data())
        ends = np.column_stack(pg.view.ends.get_data())
        worst = line(pg.axes[1], "seeds 0-20: worst").get_ydata()
        best = line(pg.axes[1], "seeds 0-20: best").get_ydata()
        shown[scheme] = (starts[:, 0].std(), ends[:, 0].std(), worst[-1] - best[-1])
    assert shown["zeros"] == (0.0, 0.0, 0.0)  # every seed starts and ends at one point
    assert 0 < shown["small normal"][0] < 0.02
    assert 0.5 < shown["xavier"][0] < shown["he"][0] < 2.0
    assert shown["he"][2] > 0.3  # after 100 steps the seeds' losses differ a lot
    pg.set(lr=0.1)  # well converged: the start no longer matters
    worst = line(pg.axes[1], "seeds 0-20: worst").get_ydata()
    assert worst[-1] == pytest.approx(p.best_loss, rel=5e-3)
    assert pg.errors == []


def test_line_fit_playground_shows_divergence_and_survives_every_control():
    p = line_problem(*line_data())
    pg = line_fit_playground(fit, p)
    pg.set(lr=0.3)
    assert pg.diverged and "0.26" in pg._banner.get_text()
    pg.set(lr=0.1)
    assert not pg.diverged
    assert drive(pg) == []


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
