"""mathdl.views.line_fit: the playground of fitting a line (lesson 01).

The experiment is checked against an independent reference, the playground is swept through every
control (``drive``, the sweep the exercise playgrounds use), and what the picture shows is read back
from its artists.
"""

import matplotlib
import numpy as np
import pytest
import torch

from mathdl import init
from mathdl.views.line_fit import (
    descend_many,
    line_fit_playground,
    line_fit_run,
    line_problem,
)
from tests.helpers.pictures import line
from tests.helpers.playgrounds import drive

matplotlib.use("Agg")


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
