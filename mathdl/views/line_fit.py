"""Fitting a line z = x w + b by gradient descent on the mean squared error (lesson 01's playground).

* :func:`line_problem`: what does not depend on the controls, NumPy only: the least-squares line,
  its loss, and the curvatures of the loss (the eigenvalues of H = 2/N [x, 1]^T [x, 1]);
* :func:`descend_many`: plain gradient descent from many starting points at once, NumPy only;
* :func:`line_fit_run`: the experiment: the lesson's own ``fit`` from the chosen initialization,
  and the same descent from the starts that seeds 0 .. 20 draw with that scheme and scale, so the
  initialization control shows what it changes (the spread of starts, and of results);
* :class:`LineFitView` and :func:`line_fit_playground`: data and lines (left), loss per step
  (middle), the path of (w, b) over the loss's contour lines (right, the widest panel).
"""

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..init import initialize
from .build import view_playground
from .curves import Curves
from .descent import ContourPath

__all__ = [
    "LineFitRun",
    "LineFitView",
    "LineProblem",
    "descend_many",
    "line_fit_playground",
    "line_fit_run",
    "line_problem",
    "seed_starts",
]

#: ``fit(X (N, 1), y (N, 1), W0 (1, 1), b0 (1,), lr, steps) -> (history (k, 2) of (w, b), losses)``
Fit = Callable[..., tuple[np.ndarray, np.ndarray]]

#: A loss above this (or not finite) counts as diverged, as in the lesson's ``fit_dense``.
DIVERGED = 1e8


@dataclass(frozen=True)
class LineProblem:
    """The data (x, y as 1-D arrays), the least-squares (w, b), its loss and the curvatures."""

    x: np.ndarray
    y: np.ndarray
    w_best: float
    b_best: float
    best_loss: float
    curvatures: np.ndarray

    @property
    def limit(self) -> float:
        """Gradient descent converges for learning rates below 2 / lambda_max."""
        return float(2 / self.curvatures[-1])

    def loss(self, w: np.ndarray, b: np.ndarray) -> np.ndarray:
        """The mean squared error at every (w, b) (arrays of one shape), by broadcasting."""
        w, b = np.asarray(w, dtype=float), np.asarray(b, dtype=float)
        residual = w[..., None] * self.x + b[..., None] - self.y
        return np.mean(residual**2, axis=-1)


def line_problem(x: np.ndarray, y: np.ndarray) -> LineProblem:
    """The least-squares line through the points (x, y) and the curvatures of its MSE."""
    x, y = np.ravel(np.asarray(x, dtype=float)), np.ravel(np.asarray(y, dtype=float))
    if x.shape != y.shape or len(x) < 2 or not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError(f"need x and y finite, of one length >= 2; got {x.shape} and {y.shape}")
    X1 = np.column_stack([x, np.ones_like(x)])
    curvatures = np.linalg.eigvalsh(2 / len(x) * X1.T @ X1)
    w, b = np.linalg.lstsq(X1, y, rcond=None)[0]
    best = float(np.mean((X1 @ [w, b] - y) ** 2))
    return LineProblem(x, y, float(w), float(b), best, curvatures)


def descend_many(
    problem: LineProblem, starts: np.ndarray, lr: float, steps: int
) -> tuple[np.ndarray, np.ndarray]:
    """Gradient descent on the MSE from each (w, b) in ``starts`` (S, 2) at once: the points
    (steps + 1, S, 2) and the losses (steps + 1, S); nan once a run's loss passes 1e8.

    The MSE is a quadratic in theta = (w, b): L = theta^T A theta - 2 c^T theta + mean(y^2) with
    A = [x, 1]^T [x, 1] / N and c = [x, 1]^T y / N, so a step costs a 2 x 2 product, not a pass
    over the data: theta <- theta - 2 lr (A theta - c).
    """
    theta = np.array(starts, dtype=float).reshape(-1, 2)
    X1 = np.column_stack([problem.x, np.ones_like(problem.x)])
    A, c = X1.T @ X1 / len(X1), X1.T @ problem.y / len(X1)
    points = np.empty((steps + 1, len(theta), 2))
    with np.errstate(all="ignore"):
        for t in range(steps + 1):
            points[t] = theta
            theta = theta - 2 * lr * (theta @ A - c)
        quadratic = np.einsum("tsi,ij,tsj->ts", points, A, points)
        losses = quadratic - 2 * points @ c + np.mean(problem.y**2)
    alive = np.logical_and.accumulate(np.isfinite(losses) & (losses <= DIVERGED), axis=0)
    points[~alive], losses[~alive] = np.nan, np.nan
    return points, losses


@dataclass(frozen=True)
class LineFitRun:
    """Your run (the lesson's fit: (w, b) history, the losses it recorded and the loss of its last
    (w, b)) and the seeds' starts, ends and losses at steps 0 .. steps (nan once diverged)."""

    history: np.ndarray
    losses: np.ndarray
    final_loss: float
    starts: np.ndarray
    ends: np.ndarray
    seed_losses: np.ndarray

    @property
    def diverged(self) -> bool:
        return bool(len(self.losses) and not self.losses[-1] <= DIVERGED)


@functools.lru_cache(maxsize=256)
def seed_starts(init: str, scale: float, seeds: int = 21) -> np.ndarray:
    """The (w, b) = (W0, 0) that seeds 0 .. ``seeds`` - 1 draw with this scheme and scale, (seeds, 2)
    (kept: drawing them costs more than the descent from them). Read-only."""
    w0s = [initialize(init, 1, 1, scale=scale, rng=s)[0, 0] for s in range(seeds)]
    starts = np.column_stack([w0s, np.zeros(seeds)])
    starts.flags.writeable = False
    return starts


def line_fit_run(
    fit: Fit,
    problem: LineProblem,
    lr: float,
    init: str,
    scale: float,
    seed: int,
    steps: int = 100,
    seeds: int = 21,
) -> LineFitRun:
    """``fit`` from W0 = ``initialize(init, 1, 1, scale=scale, rng=seed)``, b0 = 0; and the same
    descent from the starts of seeds 0 .. ``seeds`` - 1."""
    x, y = problem.x[:, None], problem.y[:, None]
    W0 = initialize(init, 1, 1, scale=scale, rng=seed)
    history, losses = fit(x, y, W0, np.zeros(1), lr, steps)
    starts = seed_starts(init, scale, seeds)
    points, seed_losses = descend_many(problem, starts, lr, steps)
    history, losses = np.asarray(history, dtype=float), np.asarray(losses, dtype=float)
    if history.ndim != 2 or history.shape[1] != 2 or len(history) == 0:
        raise ValueError(f"fit must return a (w, b) history of shape (k, 2), got {history.shape}")
    with np.errstate(all="ignore"):
        final = float(problem.loss(history[-1, 0], history[-1, 1]))
    return LineFitRun(history, losses, final, starts, points[-1], seed_losses)


def _extremes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the largest and the smallest finite value (nan where a row has none)."""
    finite = np.isfinite(values)
    some = finite.any(axis=1)
    top = np.where(some, np.max(np.where(finite, values, -np.inf), axis=1), np.nan)
    bottom = np.where(some, np.min(np.where(finite, values, np.inf), axis=1), np.nan)
    return top, bottom


class LineFitView:
    """Data with the start and fitted lines; loss per step (yours, the seeds' best and worst, the
    least-squares loss dotted); the (w, b) path over the contour lines, seeds' starts and ends."""

    def __init__(self, axes: Sequence[Any], problem: LineProblem, steps: int = 100) -> None:
        axes[0].get_gridspec().set_width_ratios([1, 1, 1.6])  # the (w, b) panel the widest
        self.problem, self.steps, self.x_line = problem, steps, np.array([-0.2, 3.2])
        self._data_panel(axes[0])
        self.loss = Curves(
            axes[1],
            {
                "worst": dict(color="0.75", lw=1, label="seeds 0-20: worst"),
                "best": dict(color="0.45", lw=1, label="seeds 0-20: best"),
                "loss": dict(color="tab:blue", lw=1.5, label="your seed"),
            },
            xlim=(0, steps),
            ylim=(0.05, 1e3),
            title="loss per step (dotted: least squares)",
            fontsize=9,
            readout=(0.97, 0.97, "right", "top"),
        )
        axes[1].axhline(problem.best_loss, color="0.6", ls=":", lw=1)
        self.path = ContourPath(
            axes[2],
            lambda w, b: np.log(problem.loss(w, b)),
            (-3.5, 5.0),
            (-3.5, 3.0),
            levels=12,
            minimum=(problem.w_best, problem.b_best),
            xlabel="w",
            ylabel="b",
            resolution=80,
            fontsize=10,
            title=f"path of (w, b); diverges for lr > {problem.limit:.2f}",
        )
        self.path.path.set_linewidth(2)
        seeds_style = dict(ls="none", color="0.35", animated=True, zorder=4)
        (self.starts,) = axes[2].plot([], [], "o", mfc="none", ms=6, **seeds_style)
        (self.ends,) = axes[2].plot([], [], "o", ms=3.5, **seeds_style)
        axes[2].legend(
            [self.starts, self.ends],
            ["starts of seeds 0-20", f"where they are after {steps} steps"],
            loc="lower left",
            fontsize=8,
        )

    def _data_panel(self, ax: Any) -> None:
        ax.scatter(self.problem.x, self.problem.y, s=10, color="0.4")
        (self.start_line,) = ax.plot([], [], "--", color="tab:green", label="start", animated=True)
        (self.fit_line,) = ax.plot([], [], color="tab:red", label="after training", animated=True)
        ax.set(xlim=(-0.2, 3.2), ylim=(-4, 6), xlabel="x", ylabel="y")
        ax.set_title("data, start and fitted line", fontsize=10)
        ax.legend(loc="upper left", fontsize=8)

    def show(self, run: LineFitRun) -> None:
        """Draw ``run``; a diverged run shows its finite part."""
        (w0, b0), (w1, b1) = run.history[0], run.history[-1]
        self.start_line.set_data(self.x_line, self.x_line * w0 + b0)
        self.fit_line.set_data(self.x_line, self.x_line * w1 + b1)
        worst, best = _extremes(run.seed_losses)
        self.loss.set("loss", run.losses).set("worst", worst).set("best", best)
        final = run.seed_losses[-1]
        lost = int(np.isnan(final).sum())
        spread = f"{lost} diverged" if lost else f"{final.min():.3g} to {final.max():.3g}"
        self.loss.say(f"after {self.steps} steps: loss {run.final_loss:.3g}\nseeds 0-20: {spread}")
        self.path.set(run.history)
        self.starts.set_data(run.starts[:, 0], run.starts[:, 1])
        self.ends.set_data(run.ends[:, 0], run.ends[:, 1])


def line_fit_playground(fit: Fit, problem: LineProblem, steps: int = 100, lr: float = 0.1) -> Any:
    """Sliders for the learning rate, the initialization of W0 (its scheme, a scale on it and the
    seed); each change runs the lesson's ``fit`` once and the seeds' descent. Returns the
    :class:`mathdl.playground.Playground`."""
    from ..playground import Diverged, init_dropdown, lr_slider, scale_slider, seed_slider

    def draw(view: LineFitView, lr: float, init: str, scale: float, seed: int) -> None:
        run = line_fit_run(fit, problem, lr, init, scale, seed, steps)
        view.show(run)
        if run.diverged:
            raise Diverged(f"lr > 2/λmax = {problem.limit:.2f}")

    return view_playground(
        lambda axes: LineFitView(axes, problem, steps),
        draw,
        figsize=(9.6, 3.6),
        ncols=3,
        lr=lr_slider(lr, min=1e-3, max=10.0),
        init=init_dropdown("he"),
        scale=scale_slider(1.0),
        seed=seed_slider(),
    )
