"""Decision-boundary views: the regions a classifier assigns in the plane, next to its training loss.

* :func:`line_through` gives two far-apart points of the straight boundary ``x . w + b = 0`` of a
  linear classifier (for ``ax.plot``; the axes clip it).
* :class:`BoundaryView` keeps the artists of a two-panel picture, regions (left) and the loss curve
  (right, log scale), and updates them from a model's predictions: either class labels
  (``(M,)`` integers, hard regions) or class probabilities (``(M, K)``, colours blended, faded
  where the model is unsure).

The model is whatever you pass: a function ``predict(points) -> labels or probabilities``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from ..plots import Extent, class_rgb, data_extent, grid_over, region_colors

if TYPE_CHECKING:  # matplotlib is imported only where a picture is drawn
    from matplotlib.axes import Axes

__all__ = ["BoundaryView", "line_through"]


def line_through(
    w: Sequence[float] | np.ndarray, b: float, length: float = 50.0
) -> tuple[np.ndarray | list[float], np.ndarray | list[float]]:
    """Two points (xs, ys) on the line ``x . w + b = 0`` in the plane, ``length`` apart on each side
    of its point nearest the origin; ``([], [])`` when ``w`` is (numerically) zero or not finite."""
    w = np.asarray(w, dtype=float)
    if w.shape != (2,):
        raise ValueError(f"w must have shape (2,), got {w.shape}")
    n2 = float(w @ w)
    if not np.isfinite(n2) or not np.isfinite(b) or n2 < 1e-24:
        return [], []
    p0 = -b * w / n2
    d = np.array([-w[1], w[0]]) / np.sqrt(n2)
    ends = np.array([p0 - length * d, p0 + length * d])
    return ends[:, 0], ends[:, 1]


def _rgba8(rgb: np.ndarray) -> np.ndarray:
    """RGB in [0, 1] as 8-bit RGBA: matplotlib resamples such an image about twice as fast as
    float RGB (10 against 20 ms a redraw for the 60 x 60 regions shown 420 px wide)."""
    out = np.full((*rgb.shape[:2], 4), 255, dtype=np.uint8)
    out[..., :3] = np.clip(np.round(255 * rgb), 0, 255)
    return out


class BoundaryView:
    """Regions (left) and training loss (right) of a 2-D classifier.

    ``BoundaryView(ax, ax_loss, X, y, extent=None, resolution=60, steps=100)`` scatters the points,
    prepares a ``resolution`` x ``resolution`` grid over ``extent`` (xmin, xmax, ymin, ymax; default:
    the data plus a margin) and a log-scale loss axis from 1e-3 to 10 (a line at ln K, the loss of
    a uniform guess over K classes). ``grid`` holds the (resolution**2, 2) points to predict on.
    Call :meth:`show` with the predictions on ``grid`` and the losses so far (the loss axis spans
    ``max(steps, len(losses))`` steps).

    The regions, the points, the loss curve and both titles are ``animated`` (drawn in that order,
    points over regions) so that ``Playground(..., blit=True)`` redraws only them over the kept
    axes, ticks and legend. ``animated=False`` gives ordinary artists, for a figure drawn once
    with ``savefig`` or a playground without blitting.
    """

    def __init__(
        self,
        ax: Axes,
        ax_loss: Axes,
        X: np.ndarray,
        y: np.ndarray,
        extent: Sequence[float] | None = None,
        resolution: int = 60,
        steps: int = 100,
        fontsize: float = 8,
        animated: bool = True,
    ) -> None:
        from matplotlib.ticker import FixedFormatter, FixedLocator, MaxNLocator, NullLocator

        X, y = np.asarray(X, dtype=float), np.asarray(y)
        self.k = int(max(y.max() + 1, 2))
        self.rgb = class_rgb(self.k)
        x0, x1, y0, y1 = data_extent(X) if extent is None else map(float, extent)
        self.extent: Extent = (x0, x1, y0, y1)
        self.resolution, self.steps = resolution, steps
        self.grid = grid_over(self.extent, resolution)[0]
        self.ax, self.ax_loss = ax, ax_loss
        self.image = ax.imshow(
            _rgba8(np.ones((resolution, resolution, 3))),
            origin="lower",
            extent=self.extent,
            interpolation="bilinear",
            aspect="equal",
            animated=animated,
        )
        self.points = ax.scatter(
            X[:, 0], X[:, 1], c=self.rgb[y], s=10, edgecolors="k", linewidths=0.3, animated=animated
        )
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
        ax.set_xticks([])
        ax.set_yticks([])
        self.title = ax.set_title(" ", fontsize=fontsize + 1, animated=animated)
        ax_loss.set_yscale("log")
        ax_loss.set_ylim(1e-3, 10)
        ax_loss.set_xlim(0, steps)
        ax_loss.yaxis.set_major_locator(FixedLocator([1e-3, 1e-2, 0.1, 1.0, 10.0]))
        ax_loss.yaxis.set_major_formatter(FixedFormatter(["0.001", "0.01", "0.1", "1", "10"]))
        ax_loss.yaxis.set_minor_locator(NullLocator())
        ax_loss.xaxis.set_major_locator(MaxNLocator(4, integer=True))  # few labels: text is slow
        ax_loss.tick_params(labelsize=fontsize)
        ax_loss.axhline(
            np.log(self.k), color="gray", ls=":", lw=0.8, label=f"ln {self.k}: uniform guess"
        )
        (self.loss,) = ax_loss.plot([], [], color="C3", label="training loss", animated=animated)
        ax_loss.set_xlabel("step", fontsize=fontsize)
        ax_loss.set_ylabel("cross-entropy (log scale)", fontsize=fontsize)
        ax_loss.legend(fontsize=fontsize, loc="lower left")
        self.loss_title = ax_loss.set_title(" ", fontsize=fontsize + 1, animated=animated)

    def colors(self, predictions: np.ndarray) -> np.ndarray:
        """(resolution, resolution, 3) RGB image for labels (M,) or probabilities (M, K)."""
        return region_colors(predictions, self.rgb, (self.resolution, self.resolution))

    def show(
        self,
        predictions: np.ndarray | None,
        losses: Sequence[float] | np.ndarray,
        title: str = "",
        loss_title: str | None = None,
        points: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> None:
        """Update the regions (``None``: blank, e.g. after divergence), the loss curve and titles.
        ``points`` = (X, y) replaces the scattered data (e.g. another seed's sample)."""
        if predictions is None:
            self.image.set_data(_rgba8(np.ones((self.resolution, self.resolution, 3))))
        else:
            self.image.set_data(_rgba8(self.colors(predictions)))
        if points is not None:
            X, y = points
            self.points.set_offsets(np.asarray(X, dtype=float))
            self.points.set_facecolor(self.rgb[np.asarray(y)])
        losses = np.asarray(losses, dtype=float)
        steps = np.arange(1, len(losses) + 1)
        self.loss.set_data(steps, np.clip(np.nan_to_num(losses, nan=10.0, posinf=10.0), 1e-3, 10.0))
        self.ax_loss.set_xlim(0, max(self.steps, len(losses)))
        self.title.set_text(title)
        if loss_title is None and len(losses):
            loss_title = f"final loss {losses[-1]:.3g}"
        self.loss_title.set_text(loss_title or "")
