"""Plot helpers shared by the lessons (matplotlib; imported only where used)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:  # matplotlib is imported only where a picture is drawn
    from matplotlib.axes import Axes
    from matplotlib.contour import QuadContourSet

    from .surfaces import Surface

__all__ = [
    "CLASS_COLORS",
    "class_rgb",
    "contour_lines",
    "data_extent",
    "grid_over",
    "grid_points",
    "plot_contours",
    "plot_decision_boundary",
    "region_colors",
]

CLASS_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd")

#: (xmin, xmax, ymin, ymax) of a rectangle in the plane.
Extent = tuple[float, float, float, float]


def data_extent(X: npt.ArrayLike, padding: float = 0.3) -> Extent:
    """(xmin, xmax, ymin, ymax) of the points X (N, 2), ``padding`` added on every side."""
    X = np.asarray(X, dtype=float)
    lo, hi = X.min(axis=0) - padding, X.max(axis=0) + padding
    return (float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1]))


def grid_over(
    extent: Sequence[float], resolution: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A (resolution^2, 2) grid over ``extent`` (xmin, xmax, ymin, ymax); also the two axes."""
    gx = np.linspace(extent[0], extent[1], resolution)
    gy = np.linspace(extent[2], extent[3], resolution)
    xx, yy = np.meshgrid(gx, gy)
    return np.column_stack([xx.ravel(), yy.ravel()]), gx, gy


def grid_points(
    X: npt.ArrayLike, resolution: int = 120, padding: float = 0.3
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A (resolution^2, 2) grid covering the points X (N, 2) plus padding; also the two axes."""
    return grid_over(data_extent(X, padding), resolution)


def class_rgb(k: int) -> np.ndarray:
    """The (k, 3) RGB colours of classes 0 .. k-1."""
    from matplotlib.colors import to_rgb

    return np.array([to_rgb(c) for c in CLASS_COLORS[:k]])


def region_colors(
    predictions: npt.ArrayLike, rgb: np.ndarray, shape: tuple[int, int]
) -> np.ndarray:
    """RGB image of ``shape`` (rows, columns) colouring each grid point by its class: from labels
    (M,) (hard regions) or probabilities (M, K) (colours blended, faded where unsure)."""
    p = np.asarray(predictions)
    m, k = shape[0] * shape[1], len(rgb)
    if p.shape == (m,):
        p = np.eye(k)[p.astype(int)]
    if p.shape != (m, k):
        raise ValueError(
            f"predictions must be labels of shape ({m},) or probabilities of shape ({m}, {k}), "
            f"got {p.shape}"
        )
    return (0.6 + 0.4 * (p @ rgb)).reshape(*shape, 3)


def plot_decision_boundary(
    ax: Axes,
    predict: Callable[[np.ndarray], npt.ArrayLike],
    X: np.ndarray,
    y: npt.ArrayLike,
    resolution: int = 120,
    padding: float = 0.3,
) -> Axes:
    """Colour the plane by ``predict`` (maps (M, 2) points to (M,) class labels or (M, K)
    probabilities) and scatter X, y."""
    y = np.asarray(y).astype(int)
    rgb = class_rgb(int(max(y.max() + 1, 2)))
    extent = data_extent(X, padding)
    pts, gx, gy = grid_over(extent, resolution)
    image = region_colors(predict(pts), rgb, (len(gy), len(gx)))
    ax.imshow(image, origin="lower", extent=extent, aspect="auto", interpolation="nearest")
    ax.scatter(X[:, 0], X[:, 1], c=rgb[y], s=12, edgecolors="k", linewidths=0.3)
    ax.set_xlim(extent[:2])
    ax.set_ylim(extent[2:])
    return ax


def contour_lines(
    ax: Axes,
    f: Callable[[np.ndarray, np.ndarray], npt.ArrayLike],
    xlim: tuple[float, float],
    ylim: tuple[float, float],
    *,
    levels: int = 20,
    resolution: int = 100,
    log: bool = False,
    linewidths: float = 0.7,
    **kw: Any,
) -> QuadContourSet:
    """Contour lines of ``f(x, y)`` (vectorised) over ``xlim`` x ``ylim``: the one contour drawer.

    ``log=True`` draws the levels of log(1 + f - min f), which shows a curved valley (Rosenbrock)
    or a wide range of values. Returns matplotlib's ContourSet.
    """
    xx, yy = np.meshgrid(
        np.linspace(xlim[0], xlim[1], resolution), np.linspace(ylim[0], ylim[1], resolution)
    )
    zz = np.asarray(f(xx, yy), dtype=float)
    if log:
        zz = np.log1p(zz - zz.min())
    return ax.contour(xx, yy, zz, levels=levels, cmap="viridis", linewidths=linewidths, **kw)


def plot_contours(
    ax: Axes, surface: Surface, resolution: int = 150, levels: int = 30, log: bool | None = None
) -> Axes:
    """Contour lines of a :class:`mathdl.surfaces.Surface` over its suggested view.

    ``log``: contours of log(1 + f - min f); None (default) takes the surface's own choice
    (``surface.log_contours``, True for Rosenbrock). The aspect is equal (one unit as long on
    both axes), so a gradient step looks perpendicular to the contour line it starts from, as it is.
    """
    log = surface.log_contours if log is None else log
    contour_lines(
        ax, surface.value, surface.xlim, surface.ylim, levels=levels, resolution=resolution, log=log
    )
    if surface.minimum is not None:
        ax.plot(*surface.minimum, marker="*", color="gold", markersize=12, markeredgecolor="k")
    ax.set_xlim(*surface.xlim)
    ax.set_ylim(*surface.ylim)
    ax.set_aspect("equal", adjustable="box")
    ax.set_title(surface.formula or surface.name)
    return ax
