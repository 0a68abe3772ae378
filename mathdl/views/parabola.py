"""Gradient descent on a parabola f(x) = a/2 (x - c)^2, with optional gradient noise (lesson 00).

* :func:`parabola_run`: the experiment, NumPy only: the lesson's iterates x_0 .. x_T, the loss per
  step, the multiplier q = 1 - a lr of the distance to the minimum, and with noise of standard
  deviation sigma the mean loss the iterates settle at, eta sigma^2 / (2 (2 - a eta));
* :class:`ParabolaView`: the iterates on the curve (left) and the loss per step (right, log scale);
* :func:`parabola_playground`: sliders for the learning rate, the start, the curvature, the noise
  and its seed, around the lesson's own ``gradient_descent``.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .build import view_playground
from .curves import Curves
from .descent import CurvePath

__all__ = ["ParabolaRun", "ParabolaView", "noise_floor", "parabola_playground", "parabola_run"]

#: ``descend(lr, x0, a=, c=, steps=, noise=, seed=) -> x_0 .. x_steps``: the lesson's gradient descent.
Descend = Callable[..., Sequence[float] | np.ndarray]

#: Losses below this are drawn at it (a log axis cannot show 0).
LOSS_FLOOR = 1e-12


def noise_floor(lr: float, a: float, noise: float) -> float:
    """The mean loss gradient descent with noisy derivatives settles at on f = a/2 (x - c)^2.

    The distance e_t = x_t - c follows e_{t+1} = q e_t - lr sigma z_t with q = 1 - a lr, so its
    stationary variance is lr^2 sigma^2 / (1 - q^2) and the mean loss a/2 of that:
    lr sigma^2 / (2 (2 - a lr)). Only defined where it converges, |q| < 1.
    """
    if not abs(1 - a * lr) < 1:
        raise ValueError(
            f"no noise floor where descent does not converge (|1 - a lr| >= 1): {a * lr}"
        )
    return lr * noise**2 / (2 * (2 - a * lr))


@dataclass(frozen=True)
class ParabolaRun:
    """One run: iterates, loss per step, multiplier, noise floor (None without noise or when
    unstable) and whether it diverged (|q| > 1 and something to amplify)."""

    xs: np.ndarray
    losses: np.ndarray
    q: float
    floor: float | None
    diverged: bool


def parabola_run(
    descend: Descend,
    lr: float,
    start: float,
    a: float,
    noise: float = 0.0,
    seed: int = 0,
    *,
    center: float = 1.0,
    steps: int = 40,
) -> ParabolaRun:
    """Run ``descend`` on f(x) = a/2 (x - center)^2 and measure what the playground shows."""
    if not a > 0 or not lr > 0 or noise < 0 or steps < 1:
        raise ValueError(
            f"need a > 0, lr > 0, noise >= 0, steps >= 1; got {a}, {lr}, {noise}, {steps}"
        )
    with np.errstate(all="ignore"):
        xs = np.asarray(
            descend(lr, start, a=a, c=center, steps=steps, noise=noise, seed=seed), dtype=float
        )
        losses = 0.5 * a * (xs - center) ** 2
    if xs.shape != (steps + 1,):
        raise ValueError(f"descend must return {steps + 1} iterates, got shape {xs.shape}")
    q = 1 - a * lr
    floor = noise_floor(lr, a, noise) if noise > 0 and abs(q) < 1 else None
    diverged = abs(q) > 1 and (start != center or noise > 0)
    return ParabolaRun(xs, losses, q, floor, diverged)


class ParabolaView:
    """Left: f and the iterates on it (green start, red end); right: the loss per step, with the
    noise floor dashed."""

    def __init__(self, axes: Sequence[Any], center: float = 1.0, steps: int = 40) -> None:
        self.center, self.steps = center, steps
        self.curve = CurvePath(
            axes[0],
            self.parabola(1.0),
            np.linspace(center - 5.5, center + 3.5, 200),
            title=f"f(x) = a (x − {center:g})² / 2 and the iterates x_t",
        )
        axes[0].axvline(center, color="0.85", linewidth=1, zorder=0)
        floor_style = dict(color="0.4", ls="--", lw=1, label="noise floor ησ²/(2(2 − aη))")
        self.loss = Curves(
            axes[1],
            {"loss": dict(marker=".", ms=3, color="tab:blue"), "floor": floor_style},
            xlim=(0, steps),
            ylim=(LOSS_FLOOR, 1e6),
            title="loss f(x_t) per step",
        )

    def parabola(self, a: float) -> Callable[[np.ndarray], np.ndarray]:
        """f(x) = a/2 (x - center)^2."""
        return lambda x: 0.5 * a * (np.asarray(x, dtype=float) - self.center) ** 2

    def show(self, run: ParabolaRun, lr: float, a: float) -> None:
        """Draw ``run`` (made with this ``lr`` and curvature ``a``)."""
        shown = self.curve.set(run.xs, self.parabola(a))  # iterates far off the picture left out
        loss = np.maximum(run.losses[shown], LOSS_FLOOR)
        self.loss.set("loss", loss, x=np.flatnonzero(shown))
        if run.floor is None:
            self.loss.set("floor", np.empty(0), x=np.empty(0))
        else:
            self.loss.set("floor", np.full(2, run.floor), x=np.array([0.0, self.steps]))
        self.curve.say(f"lr = {lr:.3g}, limit 2/a = {2 / a:.3g}, q = 1 - a lr = {run.q:+.3g}")
        self.loss.say(f"after {self.steps} steps: {run.losses[-1]:.3g}")


def parabola_playground(
    descend: Descend, *, center: float = 1.0, steps: int = 40, lr: float = 0.3, start: float = -3.0
) -> Any:
    """Sliders for the learning rate, the start x_0, the curvature a, the gradient noise and its
    seed; each change runs ``descend`` (the lesson's gradient descent) once and draws it.
    Returns the :class:`mathdl.playground.Playground`."""
    from ..playground import Diverged, float_slider, lr_slider, seed_slider

    def draw(
        view: ParabolaView, lr: float, start: float, a: float, noise: float, seed: int
    ) -> None:
        run = parabola_run(descend, lr, start, a, noise, seed, center=center, steps=steps)
        view.show(run, lr, a)
        if run.diverged:
            raise Diverged(f"lr > 2/a = {2 / a:.2g}")

    return view_playground(
        lambda axes: ParabolaView(axes, center, steps),
        draw,
        figsize=(9, 3.4),
        lr=lr_slider(lr, min=1e-3, max=10.0),
        start=float_slider(start, center - 5.0, center + 3.0, step=0.1, description="start x"),
        a=float_slider(1.0, 0.25, 4.0, step=0.05, description="curvature a"),
        noise=float_slider(0.0, 0.0, 2.0, step=0.05, description="gradient noise"),
        seed=seed_slider(),
    )
