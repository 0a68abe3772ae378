"""Descent paths: iterates on a 1-D curve, or over the contour lines of a 2-D function.

* :class:`CurvePath`: a function of one variable and the iterates x_0, x_1, ... on it;
* :class:`ContourPath`: contour lines of f(x, y) drawn once (equal aspect, so a gradient step
  looks perpendicular to the contour lines, as it is) and a path of points over them;
* :func:`descent_playground`: the lesson-04 playground, gradient descent (or your optimizer)
  on the surfaces of :mod:`mathdl.surfaces`, with the distance to the minimum per step.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from .. import surfaces as _surfaces
from ..plots import contour_lines
from .build import view_playground
from .curves import Curves

if TYPE_CHECKING:  # matplotlib and ipywidgets are imported only where a picture is drawn
    from matplotlib.axes import Axes
    from matplotlib.lines import Line2D

    from ..playground import Playground
    from ..stepper import OptimizerSpec

__all__ = ["ContourPath", "CurvePath", "SurfaceDescentView", "descent_playground", "start_point"]


class CurvePath:
    """A curve y = f(x) over ``grid`` and the iterates on it (start green, last red).

    ``set(xs, f)`` shows iterates ``xs``; points farther than ``clip`` from the middle of the
    grid are left out (they diverged off the picture). ``f`` may change from call to call (a
    new curvature): the curve is redrawn and the y-limits follow it.
    """

    def __init__(
        self,
        ax: Axes,
        f: Callable[[np.ndarray], np.ndarray],
        grid: npt.ArrayLike,
        *,
        title: str | None = None,
        xlabel: str = "x",
        clip: float = 1e3,
        fontsize: float = 9,
    ) -> None:
        self.ax, self.f, self.grid, self.clip = ax, f, np.asarray(grid, float), clip
        (self.curve,) = ax.plot(self.grid, f(self.grid), color="0.6", animated=True)
        (self.path,) = ax.plot([], [], "o-", color="tab:blue", ms=3, lw=1, animated=True)
        (self.start,) = ax.plot([], [], "o", color="tab:green", ms=8, animated=True)
        (self.end,) = ax.plot([], [], "o", color="tab:red", ms=6, animated=True)
        self.text = ax.text(
            0.5, 0.97, "", transform=ax.transAxes, ha="center", va="top", fontsize=fontsize,
            animated=True,
        )  # fmt: skip
        ax.set_xlim(self.grid[0], self.grid[-1])
        ax.set_xlabel(xlabel, fontsize=fontsize)
        if title:
            ax.set_title(title, fontsize=fontsize + 1)

    def set(
        self, xs: npt.ArrayLike, f: Callable[[np.ndarray], np.ndarray] | None = None
    ) -> np.ndarray:
        """Show the iterates ``xs`` (on ``f``, default the curve given at creation); returns
        which of them are shown (not off the picture)."""
        f = f or self.f
        xs = np.asarray(xs, dtype=float)
        middle = (self.grid[0] + self.grid[-1]) / 2
        shown = np.abs(xs - middle) < self.clip
        ys = f(self.grid)
        self.curve.set_ydata(ys)
        top = 1.05 * ys.max()
        self.ax.set_ylim(-0.04 * top, top)
        self.path.set_data(xs[shown], f(xs[shown]))
        self.start.set_data(xs[:1], f(xs[:1]))
        self.end.set_data(xs[-1:] if shown[-1] else [np.nan], f(xs[-1:]) if shown[-1] else [np.nan])
        return shown

    def say(self, text: str) -> None:
        """Write ``text`` at the top of the picture."""
        self.text.set_text(text)


class ContourPath:
    """Contour lines of ``f(x, y)`` (vectorised) over ``xlim`` x ``ylim``, and a path over them.

    ``log=True`` draws the levels of log(1 + f - min f), which shows a curved valley (Rosenbrock)
    or a wide range of values. ``minimum`` marks the best point with a star (``marker="x"`` for a
    saddle point). The aspect is equal: one unit is as long on both axes.
    """

    def __init__(
        self,
        ax: Axes,
        f: Callable[[np.ndarray, np.ndarray], npt.ArrayLike],
        xlim: tuple[float, float],
        ylim: tuple[float, float],
        *,
        levels: int = 20,
        log: bool = False,
        minimum: Sequence[float] | np.ndarray | None = None,
        marker: str = "*",
        resolution: int = 100,
        xlabel: str = "x",
        ylabel: str = "y",
        title: str | None = None,
        color: str = "crimson",
        fontsize: float = 9,
    ) -> None:
        self.ax = ax
        self.contours = contour_lines(
            ax, f, xlim, ylim, levels=levels, resolution=resolution, log=log
        )
        self.star: Line2D | None = None
        if minimum is not None:
            (self.star,) = ax.plot(
                *minimum, marker=marker, color="gold", ms=12, mec="k", ls="none", zorder=4
            )
        (self.path,) = ax.plot([], [], "o-", color=color, ms=2, lw=1, animated=True, zorder=5)
        (self.start,) = ax.plot([], [], "o", color="k", ms=5, animated=True, zorder=6)
        self.xlim, self.ylim = xlim, ylim
        self.limits()
        ax.set_xlabel(xlabel, fontsize=fontsize)
        ax.set_ylabel(ylabel, fontsize=fontsize)
        ax.tick_params(labelsize=fontsize - 1)
        if title:
            ax.set_title(title, fontsize=fontsize + 1)

    def limits(self) -> None:
        """Put this view's limits (and equal aspect) on its Axes."""
        self.ax.set_xlim(*self.xlim)
        self.ax.set_ylim(*self.ylim)
        self.ax.set_aspect("equal", adjustable="box")

    def set_visible(self, visible: bool) -> None:
        """Show or hide everything this view drew (several views can share one Axes)."""
        for artist in (self.contours, self.star, self.path, self.start):
            if artist is not None:
                artist.set_visible(visible)

    def set(self, path: npt.ArrayLike, markers: bool = True) -> np.ndarray:
        """Show ``path``, an (n, 2) array of points; rows with nan (diverged) are left out.
        Returns which rows are shown."""
        points = np.asarray(path, dtype=float)
        ok = np.isfinite(points).all(axis=1)
        self.path.set_data(points[ok, 0], points[ok, 1])
        self.path.set_markersize(2 if markers else 0)
        self.start.set_data(points[:1, 0], points[:1, 1])
        return ok


def start_point(surface: _surfaces.Surface, distance: float = 1.0, seed: int = 0) -> np.ndarray:
    """The start ``distance`` times as far from :func:`mathdl.surfaces.center` as the surface's
    standard start; seed 0 keeps its direction, other seeds pick a random direction that stays
    inside the surface's view (at most as far as the standard start)."""
    c = _surfaces.center(surface)
    offset = np.array(surface.start, dtype=float) - c
    if seed:
        angle = np.random.default_rng(seed).uniform(0, 2 * np.pi)
        u = np.array([np.cos(angle), np.sin(angle)])
        lo = np.array([surface.xlim[0], surface.ylim[0]])
        hi = np.array([surface.xlim[1], surface.ylim[1]])
        with np.errstate(divide="ignore"):
            room = np.min(np.where(u > 0, (hi - c) / u, (lo - c) / u)[np.abs(u) > 1e-12])
        offset = min(np.hypot(*offset), 0.9 * room) * u
    return c + distance * offset


#: Steps per run in the surface playground (the Rosenbrock valley needs thousands).
STEPS = {"quadratic": 100, "ravine": 300, "rosenbrock": 3000, "saddle": 300}


def _bound(lam: np.ndarray, lr: float, w0: np.ndarray, c: np.ndarray, steps: int) -> np.ndarray:
    """rho^t ||w_0 - w*|| with rho = max_i |1 - lr lambda_i|: gradient descent's distance bound
    on a quadratic with curvatures ``lam``."""
    rho = np.abs(1 - lr * lam).max()
    return np.maximum(np.linalg.norm(w0 - c) * rho ** np.arange(steps + 1, dtype=float), 1e-15)


class SurfaceDescentView:
    """Left: one :class:`ContourPath` per surface (the one shown visible); right: the distance to
    the minimum per step (log scale) with gradient descent's bound on the quadratic surfaces."""

    def __init__(
        self,
        ax: Axes,
        ax_d: Axes,
        surfaces: Mapping[str, _surfaces.Surface],
        steps: Mapping[str, int],
    ) -> None:
        self.surfaces, self.steps = surfaces, steps
        self.lam = {n: _surfaces.curvatures(s) for n, s in surfaces.items()}
        self.paths = {
            n: ContourPath(
                ax, s.value, s.xlim, s.ylim, log=s.log_contours, minimum=_surfaces.center(s),
                marker="*" if s.minimum is not None else "x",
            )
            for n, s in surfaces.items()
        }  # fmt: skip
        self.title = ax.text(0.5, 1.02, "", transform=ax.transAxes, ha="center", va="bottom",
                             fontsize=10, animated=True)  # fmt: skip
        self.curves = Curves(
            ax_d,
            {"distance": dict(color="crimson"),
             "bound": dict(color="k", ls="--", lw=1, label="upper bound ρᵗ‖w₀ − w*‖")},
            xlim=(0, max(steps.values())), ylim=(1e-15, 1e6), ylabel="distance to minimum",
            readout=(0.5, 1.02, "center", "bottom"),
        )  # fmt: skip
        self.ax_d = ax_d
        #: The surface whose contours are visible (blitting draws the background again on a change).
        self.background_key: str | None = None

    def show(self, surface: str, path: np.ndarray, lr: float) -> None:
        """Show ``path`` (from :func:`mathdl.surfaces.descent_path` at ``lr``) on ``surface``."""
        from ..playground import Diverged

        s, steps, c = (
            self.surfaces[surface],
            self.steps[surface],
            _surfaces.center(self.surfaces[surface]),
        )
        for n, v in self.paths.items():
            v.set_visible(n == surface)
        self.paths[surface].limits()
        self.ax_d.set_xlim(0, steps)
        self.background_key = surface
        ok = self.paths[surface].set(path, markers=steps <= 300)
        distance = np.maximum(np.linalg.norm(path[ok] - c, axis=1), 1e-15)
        self.curves.set("distance", distance, x=np.flatnonzero(ok))
        quadratic = surface in ("quadratic", "ravine")
        self.curves.set(
            "bound", _bound(self.lam[surface], lr, path[0], c, steps) if quadratic else []
        )
        L = self.lam[surface].max()
        shown = float(f"{lr * L:.4g}")  # compare what is printed, so the title never says 2 < 2
        verdict = "< 2" if shown < 2 else ("= 2: on the edge" if shown == 2 else "> 2")
        self.title.set_text(f"{surface}: lr·L = {lr:.4g} × {L:.4g} = {shown:.4g} {verdict}")
        if ok.all():
            self.curves.say(f"after {steps} steps: f = {s.value(*path[-1]):.3g}")
        elif s.minimum is None:
            self.curves.say("left the saddle: f → −∞")
        else:
            self.curves.say("the iterate overflowed")
            raise Diverged(f"lr = {lr:.3g} > 2/L ≈ {2 / L:.3g}" if lr * L > 2 else "overflow")


def descent_playground(
    names: Sequence[str] = ("quadratic", "ravine", "rosenbrock", "saddle"),
    *,
    optimizer: OptimizerSpec = "sgd",
    surface: str = "ravine",
    lr: float = 0.079,
    steps: int | Mapping[str, int] | None = None,
    figsize: tuple[float, float] = (9, 3.4),
    **options: Any,
) -> Playground:
    """Gradient descent (or your optimizer) on the surfaces of :mod:`mathdl.surfaces`.

    Left: the path over the contour lines (equal aspect). Right: the distance to the minimum
    (or saddle point) per step on a log scale; on the quadratic surfaces the dashed line is the
    upper bound rho^t ||w_0 - w*|| with rho = max_i |1 - lr lambda_i|, which the distance meets
    only along the slowest direction. The title compares lr L with 2 (L, the largest curvature at
    the minimum, from :func:`mathdl.surfaces.curvatures`).

    ``optimizer``: any optimizer :mod:`mathdl.stepper` accepts (a name such as "sgd" or "adam",
    a :class:`mathdl.optim.Optimizer` subclass, a factory or a step function
    ``step(w, grad, lr, **options) -> new w``); ``options`` go to it (momentum, betas, ...).
    ``steps``: a number, or a dict per surface (default :data:`STEPS`). Returns the Playground
    (controls: learning rate, surface, start distance, seed).
    """
    from ..playground import dropdown, lr_slider, scale_slider, seed_slider

    unknown = [n for n in names if n not in _surfaces.SURFACES]
    if unknown:
        raise ValueError(f"unknown surface(s) {unknown}; choose from {sorted(_surfaces.SURFACES)}")
    if surface not in names:
        raise ValueError(f"surface {surface!r} is not among {list(names)}")
    surfs = {n: _surfaces.SURFACES[n]() for n in names}
    n_steps = {n: (steps.get(n, 100) if isinstance(steps, Mapping) else steps or STEPS.get(n, 100))
               for n in names}  # fmt: skip

    def draw(view: SurfaceDescentView, lr: float, surface: str, start: float, seed: int) -> None:
        w0 = start_point(surfs[surface], start, seed)
        path = _surfaces.descent_path(
            surfs[surface], w0, optimizer, n_steps[surface], lr=lr, **options
        )
        view.show(surface, path, lr)

    return view_playground(
        lambda axes: SurfaceDescentView(axes[0], axes[1], surfs, n_steps), draw, figsize=figsize,
        lr=lr_slider(lr, max=10.0), surface=dropdown(surfs, surface, "surface"),
        start=scale_slider(1.0, min=0.1, max=2.0, description="start distance"),
        seed=seed_slider(),
    )  # fmt: skip
