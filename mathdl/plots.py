"""Plot helpers shared by the lessons (matplotlib; imported only where used)."""

import numpy as np

__all__ = ["CLASS_COLORS", "grid_points", "plot_contours", "plot_decision_boundary"]

CLASS_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd")


def grid_points(X, resolution=120, padding=0.3):
    """A (resolution^2, 2) grid covering the points X (N, 2) plus padding; also the two axes."""
    lo, hi = X.min(axis=0) - padding, X.max(axis=0) + padding
    gx, gy = np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution)
    xx, yy = np.meshgrid(gx, gy)
    return np.column_stack([xx.ravel(), yy.ravel()]), gx, gy


def plot_decision_boundary(ax, predict, X, y, resolution=120, padding=0.3, alpha=0.3):
    """Colour the plane by ``predict`` (maps (M, 2) points to (M,) class labels) and scatter X, y."""
    from matplotlib.colors import ListedColormap

    k = int(max(y.max() + 1, 2))
    cmap = ListedColormap(CLASS_COLORS[:k])
    pts, gx, gy = grid_points(X, resolution, padding)
    labels = np.asarray(predict(pts)).reshape(len(gy), len(gx))
    ax.imshow(
        labels,
        origin="lower",
        extent=(gx[0], gx[-1], gy[0], gy[-1]),
        cmap=cmap,
        vmin=-0.5,
        vmax=k - 0.5,
        alpha=alpha,
        aspect="auto",
        interpolation="nearest",
    )
    ax.scatter(
        X[:, 0],
        X[:, 1],
        c=y,
        cmap=cmap,
        vmin=-0.5,
        vmax=k - 0.5,
        s=12,
        edgecolors="k",
        linewidths=0.3,
    )
    ax.set_xlim(gx[0], gx[-1])
    ax.set_ylim(gy[0], gy[-1])
    return ax


def plot_contours(ax, surface, resolution=150, levels=30, log=False):
    """Contour lines of a :class:`mathdl.surfaces.Surface` over its suggested view.

    The aspect is equal (one unit as long on both axes), so a gradient step looks perpendicular
    to the contour line it starts from, as it is.
    """
    gx = np.linspace(*surface.xlim, resolution)
    gy = np.linspace(*surface.ylim, resolution)
    xx, yy = np.meshgrid(gx, gy)
    zz = surface.value(xx, yy)
    if log:
        zz = np.log1p(zz - zz.min())
    ax.contour(xx, yy, zz, levels=levels, cmap="viridis", linewidths=0.7)
    if surface.minimum is not None:
        ax.plot(*surface.minimum, marker="*", color="gold", markersize=12, markeredgecolor="k")
    ax.set_xlim(*surface.xlim)
    ax.set_ylim(*surface.ylim)
    ax.set_aspect("equal", adjustable="box")
    ax.set_title(surface.formula or surface.name)
    return ax
