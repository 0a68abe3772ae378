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
