"""The optimizer race: descent paths of several optimizers on a 2-D surface, every path visible.

Which optimizer
---------------
Everywhere an optimizer is expected (:func:`run_path`, :func:`race`, the ``optimizers`` of
:func:`race_playground`) you may give any of:

* a **name**: ``"gd"`` (plain gradient descent, ``SGD`` without momentum), ``"momentum"``
  (``SGD`` with ``momentum``, default 0.9), ``"nesterov"``, ``"rmsprop"``, ``"adam"``, ``"adamw"``;
  the keyword options (``lr``, ``momentum``, ``betas``, ...) go to the :mod:`mathdl.optim` class;
* a :class:`mathdl.optim.Optimizer` **subclass**, e.g. your own ``class MyAdam(Optimizer)``:
  it is built as ``cls([param], **options)``;
* an **instance factory**, a callable taking the parameter list and returning an ``Optimizer``,
  e.g. ``lambda params, lr: optim.SGD(params, lr=lr, momentum=0.5)``;
* a **step function** ``step(theta, grad, state) -> new_theta`` on NumPy arrays of shape (2,).
  ``state`` is a dict kept from one step to the next, with ``state["t"]`` the step number (1, 2,
  ...); store your buffers in it. A stateless ``step(theta, grad) -> new_theta`` (state, if any,
  in a closure) works too, the form :func:`mathdl.surfaces.descent_path` takes. For example,
  sign descent with a step that decays like 1/sqrt(t), ``t`` read from ``state``::

      def decaying_sign_descent(theta, grad, state, lr):
          return theta - lr / np.sqrt(state["t"]) * np.sign(grad)

  (Lesson 08's exercise writes ``class Adam(Optimizer)``: pass that class itself.)

For classes, factories and step functions, every option whose name is a parameter of the
callable (or of the class's ``__init__``) is passed to it by keyword (so ``lr`` above follows the playground's learning-rate slider); the other
options are ignored.

A path that overflows (or leaves the box |x| <= 1e6) ends there: the remaining rows are nan.
"""

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from .. import optim
from ..surfaces import SURFACES, Surface
from ..tensor import Tensor

__all__ = [
    "COLORS",
    "NAMES",
    "RaceView",
    "race",
    "race_playground",
    "race_small_multiples",
    "run_path",
    "target_of",
]

#: Optimizer names and the mathdl.optim class and default options they stand for.
NAMES = {
    "gd": (optim.SGD, {}),
    "momentum": (optim.SGD, {"momentum": 0.9}),
    "nesterov": (optim.SGD, {"momentum": 0.9, "nesterov": True}),
    "rmsprop": (optim.RMSprop, {}),
    "adam": (optim.Adam, {}),
    "adamw": (optim.AdamW, {}),
}

#: Colour, line style and line width per race entry (drawn in this order: wide lines first,
#: so a path that runs on top of another still shows the one below as a coloured border).
COLORS = ["k", "C0", "C1", "C3", "C2", "C4"]
_STYLES = [("-", 4.0), ("-", 2.6), ("--", 1.8), ("-", 1.1), (":", 1.6), ("-.", 1.2)]


def _accepted(fn, options):
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return {}
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return dict(options)
    return {k: v for k, v in options.items() if k in params}


def _n_positional(fn, options):
    """Required positional parameters of ``fn`` that the options do not fill by name."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return None
    return sum(
        p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        and p.default is p.empty
        and p.name not in options
        for p in params
    )


def _stepper(spec, param, options):
    """A function doing one step on ``param`` (a Tensor whose .grad is set)."""
    if isinstance(spec, str):
        if spec not in NAMES:
            raise ValueError(f"unknown optimizer name {spec!r}; choose one of {sorted(NAMES)}")
        cls, defaults = NAMES[spec]
        opt = cls([param], **{**defaults, **options})
        return opt.step
    if isinstance(spec, type):
        if not issubclass(spec, optim.Optimizer):
            raise TypeError(
                f"optimizer class {spec.__name__} is not a subclass of mathdl.optim.Optimizer"
            )
        return spec([param], **_accepted(spec, options)).step
    if isinstance(spec, optim.Optimizer):
        raise TypeError(
            "give an optimizer class or a factory (lambda params: ...), not an instance: "
            "each path needs a fresh optimizer"
        )
    if not callable(spec):
        raise TypeError(
            "optimizer must be a name, an Optimizer subclass, a factory or a step function, "
            f"got {type(spec).__name__}"
        )
    n = _n_positional(spec, options)
    kwargs = _accepted(spec, options)
    if n == 1:
        opt = spec([param], **kwargs)
        if not isinstance(opt, optim.Optimizer):
            raise TypeError(
                "an optimizer factory must return a mathdl.optim.Optimizer, "
                f"got {type(opt).__name__}"
            )
        return opt.step
    if n == 2:

        def step():
            new = np.asarray(spec(param.data.copy(), np.array(param.grad, dtype=float), **kwargs))
            if new.shape != param.data.shape:
                raise ValueError(
                    f"the step function returned shape {new.shape}, expected {param.data.shape} "
                    "(return the new theta)"
                )
            param.data[...] = new

        return step
    if n == 3:
        state = {"t": 0}

        def step():
            state["t"] += 1
            new = spec(param.data.copy(), np.array(param.grad, dtype=float), state, **kwargs)
            new = np.asarray(new, dtype=float)
            if new.shape != param.data.shape:
                raise ValueError(
                    f"the step function returned shape {new.shape}, expected {param.data.shape} "
                    "(return the new theta)"
                )
            param.data[...] = new

        return step
    raise TypeError(
        "a callable optimizer must be a factory f(params) or a step function "
        f"step(theta, grad) or step(theta, grad, state); {getattr(spec, '__name__', spec)!r} takes {n} "
        "required positional arguments"
    )


#: An optimizer as the race accepts it: a name, an Optimizer subclass, a factory or a step function.
OptimizerSpec = str | type | Callable[..., Any]


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
    if not isinstance(surface, Surface):
        raise TypeError(f"surface must be a mathdl.surfaces.Surface, got {type(surface).__name__}")
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    p = Tensor(np.array(surface.start if start is None else start, dtype=float), requires_grad=True)
    if p.data.shape != (2,):
        raise ValueError(f"start must be a point (x, y), got shape {p.data.shape}")
    step = _stepper(optimizer, p, options)
    rng = np.random.default_rng(seed)
    path = np.full((steps + 1, 2), np.nan)
    path[0] = p.data
    with np.errstate(all="ignore"):
        for t in range(1, steps + 1):
            g = np.asarray(surface.grad(p.data), dtype=float)
            if noise:
                g = g + noise * rng.standard_normal(2)
            p.grad = g
            step()
            x, y = p.data  # two scalar comparisons (False for nan): np.all/np.isfinite per step
            if not (-1e6 <= x <= 1e6 and -1e6 <= y <= 1e6):  # cost half the race's time
                break
            path[t] = p.data
    return path


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


def target_of(surface: Surface) -> np.ndarray:
    """The minimum, or (0, 0) for a surface without one (the saddle point)."""
    return np.array(surface.minimum if surface.minimum is not None else (0.0, 0.0), dtype=float)


def _square(surface):
    """The surface's view widened to a square (same layout for every surface at equal aspect)."""
    cx, cy = np.mean(surface.xlim), np.mean(surface.ylim)
    h = max(np.ptp(surface.xlim), np.ptp(surface.ylim)) / 2
    return (cx - h, cx + h), (cy - h, cy + h)


def _contours(ax, surface, resolution=120, levels=18, square=False, **kw):
    xlim, ylim = _square(surface) if square else (surface.xlim, surface.ylim)
    gx, gy = np.linspace(*xlim, resolution), np.linspace(*ylim, resolution)
    xx, yy = np.meshgrid(gx, gy)
    zz = surface.value(xx, yy)
    if surface.name == "rosenbrock":  # a log scale shows the valley floor
        zz = np.log1p(zz - zz.min())
    return ax.contour(xx, yy, zz, levels=levels, cmap="viridis", linewidths=0.6, **kw)


def _end(path):
    ok = np.isfinite(path).all(axis=1)
    return path[ok][-1]


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
        ax: Any,
        ax_dist: Any,
        labels: Sequence[str],
        surfaces: Mapping[str, Surface],
        steps: int,
        fontsize: float = 8,
        animated: bool = True,
    ):
        from matplotlib.ticker import FixedFormatter, FixedLocator, NullLocator

        self.ax, self.ax_dist, self.labels, self.steps = ax, ax_dist, list(labels), steps
        self.surfaces = dict(surfaces)
        self.contours = {
            name: _contours(ax, S, resolution=100, levels=15, square=True)
            for name, S in self.surfaces.items()
        }
        # Blitting draws the animated artists in the order they were made, whatever their zorder:
        # every path first (wide ones first), then the end markers, the start and the target.
        anim = dict(animated=animated)
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
        ax_dist.set_xlim(0, steps)
        ax_dist.set_xticks([0, steps // 2, steps])
        ax_dist.set_ylim(1e-8, 1e2)
        # few fixed, plain tick labels and no minor ticks: log-axis labels are slow to draw
        ax_dist.yaxis.set_major_locator(FixedLocator([1e-8, 1e-6, 1e-4, 1e-2, 1, 1e2]))
        ax_dist.yaxis.set_major_formatter(
            FixedFormatter(["1e-8", "1e-6", "1e-4", "0.01", "1", "100"])
        )
        ax_dist.yaxis.set_minor_locator(NullLocator())
        ax_dist.set_xlabel("step", fontsize=fontsize)
        ax_dist.set_ylabel("distance to the target", fontsize=fontsize)
        ax_dist.tick_params(labelsize=fontsize)
        ax_dist.legend(fontsize=fontsize, loc="lower left")
        self.note = ax_dist.text(
            0.98,
            0.97,
            "",
            transform=ax_dist.transAxes,
            ha="right",
            va="top",
            color="crimson",
            fontsize=fontsize,
            **anim,
        )

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
        xlim, ylim = _square(S)
        self.ax.set_xlim(*xlim)
        self.ax.set_ylim(*ylim)
        target = target_of(S)
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
    fig: Any,
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
            target = target_of(S)
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


def race_playground(
    optimizers: Mapping[str, OptimizerSpec] | None = None,
    surfaces: Sequence[str] = ("ravine", "rosenbrock", "saddle"),
    steps: int = 300,
    extra: Mapping[str, OptimizerSpec] | None = None,
    figsize: tuple[float, float] = (9.6, 4.0),
    dpi: float = 100,
) -> Any:
    """The lesson 08 playground: a surface, one optimizer or all of them, and their settings.

    ``optimizers``: ``{label: spec}`` (spec as in the module docstring; default gradient descent,
    momentum, RMSprop and Adam). ``extra``: more entries, e.g. ``{"my adam": my_adam}`` for your own
    step function; they race with the others. Controls: surface, optimizer, learning rate,
    momentum μ (the ``momentum`` option of every entry that takes one), Adam's β₁ (``betas[0]``;
    β₂ stays 0.999), start scale, gradient noise and seed. Returns the
    :class:`mathdl.playground.Playground`.
    """
    import ipywidgets as widgets

    from ..playground import (
        Diverged,
        Playground,
        float_slider,
        lr_slider,
        scale_slider,
        seed_slider,
    )

    entries = dict(
        optimizers
        or {"gradient descent": "gd", "momentum": "momentum", "RMSprop": "rmsprop", "Adam": "adam"}
    )
    entries.update(extra or {})
    surf = {name: SURFACES[name]() for name in surfaces}
    state = {"surface": None}
    # Paths already run, by every setting they depend on: moving a slider back (or changing only
    # which optimizer is shown) redraws without recomputing. Bounded, oldest dropped first.
    paths_seen: dict[tuple, np.ndarray] = {}

    def path_for(label, surface, p0, lr, momentum, beta1, noise, seed):
        key = (label, surface, *p0, lr, momentum, beta1, noise, seed)
        if key not in paths_seen:
            if len(paths_seen) >= 2000:
                del paths_seen[next(iter(paths_seen))]
            spec = entries[label]
            opts = options_for(spec, lr, momentum, beta1)
            paths_seen[key] = run_path(
                surf[surface], spec, start=p0, steps=steps, noise=noise, seed=seed, **opts
            )
        return paths_seen[key]

    def options_for(spec, lr, mu, beta1):
        opts = {"lr": lr}
        if spec == "momentum" or spec == "nesterov":
            opts["momentum"] = mu
        elif spec in ("adam", "adamw"):
            opts["betas"] = (beta1, 0.999)
        elif not isinstance(spec, str):
            opts.update(momentum=mu, betas=(beta1, 0.999))
        return opts

    def setup(axes):
        state["view"] = RaceView(axes[0], axes[1], list(entries), surf, steps)

    def draw(axes, surface, optimizer, lr, momentum, beta1, start, noise, seed):
        S = surf[surface]
        target = target_of(S)
        if seed == 0:
            p0 = np.array(S.start, dtype=float)
        else:  # a random start inside the view
            r = np.random.default_rng(seed).uniform(0.1, 0.9, 2)
            p0 = np.array([S.xlim[0] + r[0] * np.ptp(S.xlim), S.ylim[0] + r[1] * np.ptp(S.ylim)])
        p0 = target + start * (p0 - target)
        shown = list(entries) if optimizer == "all" else [optimizer]
        paths = {
            label: path_for(label, surface, p0, lr, momentum, beta1, noise, seed) for label in shown
        }
        if surface != state["surface"] and "pg" in state:
            # other contours: blitting must draw the background again (the limits, which make
            # it do so by themselves, may be the same for two surfaces)
            state["pg"]._background = None
        state["surface"] = surface
        blown = state["view"].show(surface, paths, p0, f"{surface}, learning rate {lr:.2g}")
        if surface == "saddle":  # running off to -infinity along y is the right outcome there
            blown = []
        state["view"].note.set_text("diverged: " + ", ".join(blown) if blown else "")
        if blown and len(blown) == len(shown):
            raise Diverged(", ".join(blown))

    wide = dict(layout=dict(width="420px"), style=dict(description_width="110px"))
    controls = dict(
        surface=widgets.Dropdown(
            options=list(surf), value=next(iter(surf)), description="surface", **wide
        ),
        optimizer=widgets.Dropdown(
            options=["all", *entries], value="all", description="optimizer", **wide
        ),
        lr=lr_slider(0.02, min=1e-4, max=1.0),
        momentum=float_slider(0.9, 0.0, 0.99, step=0.01, description="momentum μ"),
        beta1=float_slider(0.9, 0.0, 0.99, step=0.01, description="Adam's β₁"),
        start=scale_slider(1.0, min=0.1, max=2.0, description="start scale"),
        noise=float_slider(0.0, 0.0, 2.0, step=0.05, description="gradient noise"),
        seed=seed_slider(0),
    )
    pg = Playground(draw, setup=setup, blit=True, ncols=2, figsize=figsize, dpi=dpi, **controls)
    state["pg"] = pg
    return pg
