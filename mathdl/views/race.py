"""The optimizer race: descent paths of several optimizers on a 2-D surface, every path visible.

Which optimizer
---------------
Everywhere an optimizer is expected (:func:`run_path`, :func:`race`, the ``optimizers`` of
:func:`race_playground`) you may give anything :mod:`mathdl.stepper` accepts: a name (``"gd"``,
``"momentum"``, ``"nesterov"``, ``"rmsprop"``, ``"adam"``, ``"adamw"``), a
:class:`mathdl.optim.Optimizer` subclass, an instance factory ``lambda params, lr: ...`` or a
step function ``step(theta, grad, state, **options) -> new_theta`` (``state`` a dict kept from
step to step, ``state["t"]`` the step number) or ``step(theta, grad, **options)``. For example,
sign descent with a step that decays like 1/sqrt(t)::

    def decaying_sign_descent(theta, grad, state, lr):
        return theta - lr / np.sqrt(state["t"]) * np.sign(grad)

(Lesson 08's exercise writes ``class Adam(Optimizer)``: pass that class itself.) Each option
whose name is a parameter of your callable is passed to it by keyword (so ``lr`` above follows
the playground's learning-rate slider); the optimizers' other usual options (``momentum``,
``betas``, ...) are left out.

A path that overflows (or leaves the box |x| <= 1e6) ends there: the remaining rows are nan.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..plots import contour_lines
from ..stepper import OptimizerSpec
from ..surfaces import SURFACES, Surface, center, descent_path
from .build import Memo, view_playground

if TYPE_CHECKING:  # matplotlib and ipywidgets are imported only where a picture is drawn
    from matplotlib.axes import Axes
    from matplotlib.contour import QuadContourSet
    from matplotlib.figure import Figure

    from ..playground import Playground

__all__ = [
    "COLORS",
    "RaceView",
    "race",
    "race_playground",
    "race_small_multiples",
    "run_path",
]

#: Colour, line style and line width per race entry (drawn in this order: wide lines first,
#: so a path that runs on top of another still shows the one below as a coloured border).
COLORS = ["k", "C0", "C1", "C3", "C2", "C4"]
_STYLES = [("-", 4.0), ("-", 2.6), ("--", 1.8), ("-", 1.1), (":", 1.6), ("-.", 1.2)]


def run_path(
    surface: Surface,
    optimizer: OptimizerSpec = "gd",
    start: Sequence[float] | np.ndarray | None = None,
    steps: int = 100,
    noise: float = 0.0,
    seed: int = 0,
    **options: Any,
) -> np.ndarray:
    """The (steps + 1, 2) points visited by ``optimizer`` (see the module docstring) on ``surface``.

    ``noise`` > 0 adds ``noise * N(0, I)`` to every gradient (SGD-like), drawn from
    ``np.random.default_rng(seed)``: every optimizer of a race sees the same noise sequence.
    """
    return descent_path(surface, start, optimizer, steps, noise=noise, seed=seed, **options)


def race(
    surface: Surface,
    optimizers: Mapping[str, tuple[OptimizerSpec, dict[str, Any]]],
    steps: int = 100,
    start: Sequence[float] | np.ndarray | None = None,
    noise: float = 0.0,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Run several optimizers from one start: ``{label: (spec, options)}`` -> ``{label: path}``."""
    return {
        label: run_path(surface, spec, start=start, steps=steps, noise=noise, seed=seed, **opts)
        for label, (spec, opts) in optimizers.items()
    }


def _square(surface: Surface) -> tuple[tuple[float, float], tuple[float, float]]:
    """The surface's view widened to a square (same layout for every surface at equal aspect)."""
    cx, cy = float(np.mean(surface.xlim)), float(np.mean(surface.ylim))
    h = float(max(np.ptp(surface.xlim), np.ptp(surface.ylim))) / 2
    return (cx - h, cx + h), (cy - h, cy + h)


def _contours(
    ax: Axes, surface: Surface, resolution: int = 120, levels: int = 18, square: bool = False
) -> QuadContourSet:
    xlim, ylim = _square(surface) if square else (surface.xlim, surface.ylim)
    return contour_lines(
        ax, surface.value, xlim, ylim, levels=levels, resolution=resolution,
        log=surface.log_contours, linewidths=0.6,
    )  # fmt: skip


def _end(path: np.ndarray) -> np.ndarray:
    """The last finite point of ``path``."""
    ok = np.isfinite(path).all(axis=1)
    return path[ok][-1]


def _distance_axis(ax_dist: Axes, steps: int, fontsize: float) -> None:
    """The distance panel: log scale 1e-8 to 100 with few fixed plain tick labels and no minor
    ticks (log-axis labels are slow to draw)."""
    from matplotlib.ticker import FixedFormatter, FixedLocator, NullLocator

    ax_dist.set_xlim(0, steps)
    ax_dist.set_xticks([0, steps // 2, steps])
    ax_dist.set_ylim(1e-8, 1e2)
    ax_dist.yaxis.set_major_locator(FixedLocator([1e-8, 1e-6, 1e-4, 1e-2, 1, 1e2]))
    ax_dist.yaxis.set_major_formatter(FixedFormatter(["1e-8", "1e-6", "1e-4", "0.01", "1", "100"]))
    ax_dist.yaxis.set_minor_locator(NullLocator())
    ax_dist.set_xlabel("step", fontsize=fontsize)
    ax_dist.set_ylabel("distance to the target", fontsize=fontsize)
    ax_dist.tick_params(labelsize=fontsize)
    ax_dist.legend(fontsize=fontsize, loc="lower left")


class RaceView:
    """Paths on the contour plot (left) and distance to the target per step (right, log scale).

    ``RaceView(ax_paths, ax_dist, labels, surfaces, steps)`` draws the contours of every surface
    in ``surfaces`` (a dict name -> Surface) once, then :meth:`show` switches between them and
    updates the paths: each entry has its own colour, line style and width (wide ones drawn
    first), and a marker at its last point, so a path hidden under another still shows. The
    path panel keeps an equal aspect ratio (steps perpendicular to contours look perpendicular)
    and shows each surface's view widened to a square.

    Paths, end markers, start, target, distance curves, title and note are ``animated`` (paths
    first, then the markers over them), so that ``Playground(..., blit=True)`` redraws only them
    over the kept contours and axes. ``animated=False`` gives ordinary artists (a saved figure).
    """

    def __init__(
        self,
        ax: Axes,
        ax_dist: Axes,
        labels: Sequence[str],
        surfaces: Mapping[str, Surface],
        steps: int,
        fontsize: float = 8,
        animated: bool = True,
    ):
        self.ax, self.ax_dist, self.labels, self.steps = ax, ax_dist, list(labels), steps
        self.surfaces = dict(surfaces)
        self.contours = {
            name: _contours(ax, S, resolution=100, levels=15, square=True)
            for name, S in self.surfaces.items()
        }
        # Blitting draws the animated artists in the order they were made, whatever their zorder:
        # every path first (wide ones first), then the end markers, the start and the target.
        anim: dict[str, Any] = dict(animated=animated)
        self.lines, self.ends, self.dist = {}, {}, {}
        for i, label in enumerate(self.labels):
            c, (ls, lw) = COLORS[i % len(COLORS)], _STYLES[i % len(_STYLES)]
            (self.lines[label],) = ax.plot(
                [], [], ls=ls, lw=lw, color=c, label=label, zorder=2 + i, **anim
            )
            (self.dist[label],) = ax_dist.semilogy(
                [], [], ls=ls, lw=min(lw, 2.0), color=c, label=label, **anim
            )
        for i, label in enumerate(self.labels):
            c = COLORS[i % len(COLORS)]
            (self.ends[label],) = ax.plot(
                [], [], "o", ms=6, mfc="white", mec=c, mew=1.8, zorder=6, **anim
            )
        (self.start,) = ax.plot([], [], "o", color="k", ms=5, zorder=5, **anim)
        (self.target,) = ax.plot([], [], "*", color="gold", ms=13, mec="k", zorder=5, **anim)
        ax.set_aspect("equal", adjustable="box")
        ax.set_xticks([])  # no tick labels: text is most of a redraw's cost
        ax.set_yticks([])
        self.title = ax.set_title(" ", fontsize=fontsize + 1, **anim)
        _distance_axis(ax_dist, steps, fontsize)
        self.note = ax_dist.text(
            0.98, 0.97, "", transform=ax_dist.transAxes, ha="right", va="top", color="crimson",
            fontsize=fontsize, **anim,
        )  # fmt: skip
        #: The surface whose contours are visible (blitting draws the background again on a change).
        self.background_key: str | None = None

    def show(
        self,
        surface_name: str,
        paths: Mapping[str, np.ndarray],
        start: Sequence[float] | np.ndarray,
        title: str = "",
    ) -> list[str]:
        """Draw ``paths`` ({label: (n, 2) array}, labels not given are hidden) on that surface."""
        if surface_name not in self.surfaces:
            raise ValueError(f"unknown surface {surface_name!r}; have {list(self.surfaces)}")
        S = self.surfaces[surface_name]
        for name, cs in self.contours.items():
            cs.set_visible(name == surface_name)
        self.background_key = surface_name
        xlim, ylim = _square(S)
        self.ax.set_xlim(*xlim)
        self.ax.set_ylim(*ylim)
        target = center(S)
        self.target.set_data([target[0]], [target[1]])
        self.target.set_marker("*" if S.minimum is not None else "X")
        self.start.set_data([start[0]], [start[1]])
        blown = []
        for label in self.labels:
            path = paths.get(label)
            if path is None:
                for art in (self.lines[label], self.ends[label], self.dist[label]):
                    art.set_data([], [])
                continue
            self.lines[label].set_data(path[:, 0], path[:, 1])
            end = _end(path)
            self.ends[label].set_data([end[0]], [end[1]])
            d = np.linalg.norm(path - target, axis=1)
            self.dist[label].set_data(np.arange(len(path)), np.maximum(d, 1e-12))
            if not np.isfinite(path).all():
                blown.append(label)
        self.title.set_text(title)
        return blown


def race_small_multiples(
    fig: Figure,
    races: Mapping[str, Mapping[str, np.ndarray]],
    lrs: Mapping[str, Mapping[str, float]] | None = None,
    fontsize: float = 8,
) -> np.ndarray:
    """One row per surface, one column per optimizer: each panel shows its own path in colour
    over the others in light grey, with the end point marked. ``races`` is
    ``{surface_name: {label: path}}``; ``lrs`` optionally ``{surface_name: {label: lr}}``."""
    names = list(races)
    labels = list(next(iter(races.values())))
    axes = fig.subplots(len(names), len(labels), squeeze=False)
    for r, sname in enumerate(names):
        S = SURFACES[sname]()
        for c, label in enumerate(labels):
            ax = axes[r, c]
            _contours(ax, S, levels=14)
            for other, path in races[sname].items():
                if other != label:
                    ax.plot(path[:, 0], path[:, 1], color="0.75", lw=0.8)
            path = races[sname][label]
            color = COLORS[c % len(COLORS)]
            ax.plot(path[:, 0], path[:, 1], "-", color=color, lw=1.4, marker=".", ms=2)
            end = _end(path)
            ax.plot(*end, "o", mfc="white", mec=color, mew=1.8, ms=6, zorder=6)
            ax.plot(*S.start, "ko", ms=4)
            target = center(S)
            ax.plot(*target, "*" if S.minimum is not None else "X", color="gold", mec="k", ms=11)
            ax.set_xlim(*S.xlim)
            ax.set_ylim(*S.ylim)
            ax.set_aspect("equal", adjustable="box")
            ax.tick_params(labelsize=fontsize)
            f_end = S.value(*end)
            lr = f", lr {lrs[sname][label]:g}" if lrs else ""
            ax.set_title(f"{label}{lr}\nends at f = {f_end:.3g}", fontsize=fontsize)
            if c == 0:
                ax.set_ylabel(sname, fontsize=fontsize + 1)
    return axes


#: The race playground's entries when none are given: {label: optimizer}.
DEFAULT_ENTRIES = {
    "gradient descent": "gd",
    "momentum": "momentum",
    "RMSprop": "rmsprop",
    "Adam": "adam",
}


def _options(spec: OptimizerSpec, lr: float, mu: float, beta1: float) -> dict[str, Any]:
    """The slider values an entry takes: momentum for the momentum names, betas for Adam's, both
    for your own optimizer (left out by :mod:`mathdl.stepper` where it does not take them)."""
    opts: dict[str, Any] = {"lr": lr}
    if spec in ("momentum", "nesterov") or not isinstance(spec, str):
        opts["momentum"] = mu
    if spec in ("adam", "adamw") or not isinstance(spec, str):
        opts["betas"] = (beta1, 0.999)
    return opts


def _start(S: Surface, scale: float, seed: int) -> np.ndarray:
    """The surface's start (seed 0) or a random point in its view (other seeds), moved to
    ``scale`` times its distance from the target."""
    target = center(S)
    if seed == 0:
        p0 = np.array(S.start, dtype=float)
    else:
        r = np.random.default_rng(seed).uniform(0.1, 0.9, 2)
        p0 = np.array([S.xlim[0] + r[0] * np.ptp(S.xlim), S.ylim[0] + r[1] * np.ptp(S.ylim)])
    return target + scale * (p0 - target)


class _Race:
    """The race playground's runs: each entry's path per setting, run once (a :class:`Memo`),
    and the picture of those shown."""

    def __init__(
        self, entries: Mapping[str, OptimizerSpec], surfaces: Mapping[str, Surface], steps: int
    ) -> None:
        self.entries, self.surfaces, self.steps = dict(entries), dict(surfaces), steps
        self.memo = Memo(2000)  # paths already run, by every setting they depend on

    def path(
        self,
        label: str,
        surface: str,
        p0: np.ndarray,
        lr: float,
        momentum: float,
        beta1: float,
        noise: float,
        seed: int,
    ) -> np.ndarray:
        spec = self.entries[label]
        opts = _options(spec, lr, momentum, beta1)
        return self.memo(
            (label, surface, *p0, lr, momentum, beta1, noise, seed),
            lambda: run_path(self.surfaces[surface], spec, p0, self.steps, noise, seed, **opts),
        )

    def draw(
        self,
        view: RaceView,
        surface: str,
        optimizer: str,
        lr: float,
        momentum: float,
        beta1: float,
        start: float,
        noise: float,
        seed: int,
    ) -> None:
        from ..playground import Diverged

        p0 = _start(self.surfaces[surface], start, seed)
        shown = list(self.entries) if optimizer == "all" else [optimizer]
        paths = {k: self.path(k, surface, p0, lr, momentum, beta1, noise, seed) for k in shown}
        blown = view.show(surface, paths, p0, f"{surface}, learning rate {lr:.2g}")
        if surface == "saddle":  # running off to -infinity along y is the right outcome there
            blown = []
        view.note.set_text("diverged: " + ", ".join(blown) if blown else "")
        if blown and len(blown) == len(shown):
            raise Diverged(", ".join(blown))


def race_playground(
    optimizers: Mapping[str, OptimizerSpec] | None = None,
    surfaces: Sequence[str] = ("ravine", "rosenbrock", "saddle"),
    steps: int = 300,
    extra: Mapping[str, OptimizerSpec] | None = None,
    figsize: tuple[float, float] = (9.6, 4.0),
    dpi: float = 100,
) -> Playground:
    """The lesson 08 playground: a surface, one optimizer or all of them, and their settings.

    ``optimizers``: ``{label: spec}`` (spec as in the module docstring; default gradient descent,
    momentum, RMSprop and Adam). ``extra``: more entries, e.g. ``{"my adam": my_adam}`` for your own
    step function; they race with the others. Controls: surface, optimizer, learning rate,
    momentum μ (the ``momentum`` option of every entry that takes one), Adam's β₁ (``betas[0]``;
    β₂ stays 0.999), start scale, gradient noise and seed. Returns the
    :class:`mathdl.playground.Playground`.
    """
    from ..playground import dropdown, float_slider, lr_slider, scale_slider, seed_slider

    entries = {**(optimizers or DEFAULT_ENTRIES), **(extra or {})}
    surf = {name: SURFACES[name]() for name in surfaces}
    race = _Race(entries, surf, steps)
    return view_playground(
        lambda axes: RaceView(axes[0], axes[1], list(entries), surf, steps), race.draw,
        figsize=figsize, dpi=dpi,
        surface=dropdown(surf, description="surface"),
        optimizer=dropdown(["all", *entries], description="optimizer"),
        lr=lr_slider(0.02, min=1e-4, max=1.0),
        momentum=float_slider(0.9, 0.0, 0.99, step=0.01, description="momentum μ"),
        beta1=float_slider(0.9, 0.0, 0.99, step=0.01, description="Adam's β₁"),
        start=scale_slider(1.0, min=0.1, max=2.0, description="start scale"),
        noise=float_slider(0.0, 0.0, 2.0, step=0.05, description="gradient noise"),
        seed=seed_slider(0),
    )  # fmt: skip
