"""mathdl.views.histograms: histograms by layer, checked against np.histogram on the raw values."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from matplotlib.figure import Figure

from mathdl.views.histograms import layer_histograms, log_magnitude_histogram


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
