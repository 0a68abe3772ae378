"""Histograms of activations and gradients, layer by layer.

The per-layer diagnostic of deep-learning practice (e.g. Karpathy's "makemore" part 3): overlay the
distribution of every entry of h^(l), or of dL/dh^(l), for a few layers l. Healthy layers overlap;
vanishing or exploding ones slide left or right; saturated tanh units pile up at |h| = 1; dead ReLU
units show as a share of exact zeros. Values span many orders of magnitude across layers, so the
histograms are of log10 |value|, with the share of exact zeros in the legend.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # matplotlib is imported only where a picture is drawn
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["layer_histograms", "log_magnitude_histogram"]

#: Default bins of log10 |value|: 1e-8 to 1e2, a quarter decade each.
BINS = np.linspace(-8.0, 2.0, 41)


def log_magnitude_histogram(
    values: np.ndarray, bins: np.ndarray = BINS
) -> tuple[np.ndarray, np.ndarray, float]:
    """Share of the entries of ``values`` in each bin of log10 |value|, the bin edges, and the zero share.

    The shares of the non-zero entries and the zero share add up to 1 when every non-zero entry
    falls inside the bins; entries outside them are not counted (widen ``bins`` to see them).
    """
    v = np.abs(np.asarray(values, dtype=float).ravel())
    if v.size == 0:
        raise ValueError("log_magnitude_histogram: values is empty")
    if not np.all(np.isfinite(v)):
        raise ValueError("log_magnitude_histogram: values contain nan or inf")
    zero = float(np.mean(v == 0))
    counts, edges = np.histogram(np.log10(v[v > 0]), bins=bins)
    return counts / v.size, edges, zero


def _draw(
    ax: Axes, arrays: Sequence[np.ndarray], layers: Sequence[int], title: str, bins: np.ndarray
) -> None:
    for k, layer in enumerate(layers):
        share, edges, zero = log_magnitude_histogram(arrays[layer - 1], bins)
        label = f"layer {layer}" + (f" ({zero:.0%} zeros)" if zero > 0 else "")
        ax.stairs(share, edges, color=f"C{k}", lw=1.4, label=label)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="upper left")


def layer_histograms(
    fig: Figure,
    data: Mapping[str, tuple[Sequence[np.ndarray], Sequence[np.ndarray]]],
    layers: Sequence[int] = (1, 10, 20, 30),
    bins: np.ndarray = BINS,
) -> np.ndarray:
    """One row per entry of ``data`` (label -> (activations, gradients), one array per hidden layer):
    the histograms of log10 |h^(l)| on the left and of log10 |dL/dh^(l)| on the right, for ``layers``
    (1-based), over ``bins`` of log10 |value|. Returns the (rows, 2) array of axes."""
    if not data:
        raise ValueError("layer_histograms: data is empty")
    for label, (hs, ghs) in data.items():
        if len(hs) != len(ghs):
            raise ValueError(f"{label}: {len(hs)} activation arrays but {len(ghs)} gradient arrays")
        bad = [layer for layer in layers if not 1 <= layer <= len(hs)]
        if bad:
            raise ValueError(f"{label}: layers {bad} outside 1..{len(hs)}")
    axes = np.atleast_2d(fig.subplots(len(data), 2, sharex=True))
    for row, (label, (hs, ghs)) in zip(axes, data.items()):
        _draw(row[0], hs, layers, f"{label}: activations $h^{{(l)}}$", bins)
        _draw(row[1], ghs, layers, rf"{label}: gradients $N\,\partial L/\partial h^{{(l)}}$", bins)
        row[0].set_ylabel("share of entries")
    for ax in axes[-1]:
        ax.set_xlabel(r"$\log_{10}|$value$|$")
    return axes
