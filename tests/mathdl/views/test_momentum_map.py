"""mathdl.views.momentum_map: the heavy-ball rate against the closed-form roots of its recurrence."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from matplotlib.figure import Figure

from mathdl import surfaces
from mathdl.views.momentum_map import (
    MomentumMapView,
    heavy_ball_rate,
    momentum_map_playground,
    rate_map,
    stability_limit,
)
from mathdl.views.race import run_path


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
