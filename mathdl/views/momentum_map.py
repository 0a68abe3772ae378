"""Where heavy-ball momentum converges, and how fast: the (learning rate, momentum) map.

On a quadratic with curvature lam, heavy-ball momentum (torch's SGD with ``momentum=mu``) moves the
error along that eigenvector by the recurrence e_{t+1} = (1 + mu - eta lam) e_t - mu e_{t-1}. Its
two characteristic roots r solve r^2 - (1 + mu - eta lam) r + mu = 0, and the error shrinks like
max |r| ** t. For 0 <= mu < 1 it converges exactly when 0 < eta lam < 2 (1 + mu): momentum raises
gradient descent's limit 2/lam to 2 (1 + mu)/lam. On a quadratic with several curvatures the slowest
direction sets the rate: the largest max |r| over them (the picture of Goh, "Why Momentum Really
Works", Distill 2017).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from ..surfaces import Surface, center, ravine
from .curves import Curves
from .race import run_path

if TYPE_CHECKING:  # matplotlib and ipywidgets are imported only where a picture is drawn
    from matplotlib.axes import Axes

    from ..playground import Playground

__all__ = [
    "MomentumMapView",
    "heavy_ball_rate",
    "momentum_map_playground",
    "rate_map",
    "stability_limit",
]


def heavy_ball_rate(eta_lam: np.ndarray | float, mu: np.ndarray | float) -> np.ndarray:
    """max |r| over the two roots of r^2 - (1 + mu - eta lam) r + mu = 0 (broadcast over inputs)."""
    eta_lam, mu = np.broadcast_arrays(np.asarray(eta_lam, float), np.asarray(mu, float))
    if np.any(mu < 0) or np.any(mu >= 1):
        raise ValueError("momentum mu must lie in [0, 1)")
    a = 1.0 + mu - eta_lam
    root = np.sqrt((a * a - 4.0 * mu).astype(complex))
    return np.maximum(np.abs((a + root) / 2), np.abs((a - root) / 2))


def stability_limit(mu: float | np.ndarray, lam: float) -> np.ndarray:
    """The largest stable learning rate of heavy-ball momentum on curvature lam: 2 (1 + mu) / lam."""
    if lam <= 0:
        raise ValueError(f"curvature must be positive, got {lam}")
    return 2.0 * (1.0 + np.asarray(mu, float)) / lam


def rate_map(lrs: np.ndarray, mus: np.ndarray, curvatures: Sequence[float]) -> np.ndarray:
    """The convergence rate per step on a quadratic with these curvatures, shape (len(mus), len(lrs))."""
    if len(curvatures) == 0 or min(curvatures) <= 0:
        raise ValueError(f"curvatures must be positive and not empty, got {curvatures}")
    eta, mu = np.meshgrid(np.asarray(lrs, float), np.asarray(mus, float))
    return np.max([heavy_ball_rate(eta * lam, mu) for lam in curvatures], axis=0)


class MomentumMapView:
    """The rate map on ``ax`` (log learning rate across, momentum up), with a movable marker."""

    def __init__(
        self,
        ax: Axes,
        curvatures: Sequence[float],
        lrs: npt.ArrayLike | None = None,
        mus: npt.ArrayLike | None = None,
    ) -> None:
        from matplotlib.colors import LogNorm  # here: importing this module needs NumPy only

        self.curvatures = tuple(curvatures)
        lam_max, lam_min = max(curvatures), min(curvatures)
        self.lrs = np.geomspace(1e-3, 4.0 / lam_max, 241) if lrs is None else np.asarray(lrs)
        self.mus = np.linspace(0.0, 0.99, 100) if mus is None else np.asarray(mus)
        rate = rate_map(self.lrs, self.mus, curvatures)
        with np.errstate(divide="ignore"):  # steps to shrink the error 10x; nan where it diverges
            tenfold = np.where(rate < 1, np.log(0.1) / np.log(np.minimum(rate, 1 - 1e-12)), np.nan)
        norm = LogNorm(vmin=max(np.nanmin(tenfold), 1.0), vmax=np.nanmax(tenfold))
        mesh = ax.pcolormesh(self.lrs, self.mus, tenfold, cmap="viridis", norm=norm, shading="auto")
        ax.contourf(
            self.lrs, self.mus, (rate >= 1).astype(float), levels=[0.5, 1.5], colors=["0.75"]
        )
        ax.plot(
            stability_limit(self.mus, lam_max),
            self.mus,
            "r-",
            lw=1.5,
            label=r"$\eta = 2(1+\mu)/\lambda_{\max}$",
        )
        for lam, ls in ((lam_max, "--"), (lam_min, ":")):
            eta = self.lrs[self.lrs * lam < 1]
            ax.plot(
                eta,
                (1 - np.sqrt(eta * lam)) ** 2,
                "w",
                ls=ls,
                lw=1.2,
                label=f"critical damping, λ = {lam:g}",
            )
        kappa = lam_max / lam_min
        best_mu = ((np.sqrt(kappa) - 1) / (np.sqrt(kappa) + 1)) ** 2
        best_lr = 4.0 / (np.sqrt(lam_max) + np.sqrt(lam_min)) ** 2
        ax.plot(best_lr, best_mu, "*", color="gold", mec="k", ms=13, label="fastest (tuned)")
        ax.set_xscale("log")
        ax.set_xlim(self.lrs[0], self.lrs[-1])
        ax.set_ylim(self.mus[0], self.mus[-1])
        ax.set_xlabel(r"learning rate $\eta$")
        ax.set_ylabel(r"momentum $\mu$")
        ax.text(0.98, 0.03, "diverges", transform=ax.transAxes, ha="right", fontsize=9)
        ax.legend(fontsize=8, loc="lower left", facecolor="0.6", framealpha=0.9)
        ax.figure.colorbar(mesh, ax=ax, label="steps to shrink the error 10x")
        (self.marker,) = ax.plot([], [], "o", color="C3", mec="w", ms=10, animated=True)

    def rate(self, lr: float, mu: float) -> float:
        """The map's value at one setting (>= 1: diverges)."""
        return float(max(heavy_ball_rate(lr * lam, mu) for lam in self.curvatures))

    def show(self, lr: float, mu: float) -> None:
        """Move the marker to (``lr``, ``mu``)."""
        self.marker.set_data([lr], [mu])


def momentum_map_playground(
    surface: Surface | None = None,
    curvatures: Sequence[float] = (20.0, 1.0),
    lr: float = 0.02,
    momentum: float = 0.9,
    steps: int = 200,
) -> Playground:
    """Sliders for the learning rate and momentum: the setting on the rate map (left) and the
    distance to the minimum of ``surface`` (default: the ravine, curvatures 20 and 1) per step,
    against the predicted rate^t (right); returns the :class:`mathdl.playground.Playground`."""
    from ..playground import Diverged, float_slider, lr_slider, seed_slider
    from .build import view_playground

    surface = ravine() if surface is None else surface

    def make_view(axes: Any) -> tuple[MomentumMapView, Curves]:
        curves = {
            "run": dict(color="C3", label="measured"),
            "rate": dict(color="k", ls="--", label="rate$^t$"),
        }
        return MomentumMapView(axes[0], curvatures), Curves(
            axes[1], curves, xlim=(0, steps), ylim=(1e-12, 1e3), ylabel="distance to the minimum"
        )

    def draw(view: tuple[MomentumMapView, Curves], lr: float, momentum: float, seed: int) -> None:
        rate_view, curve = view
        rate_view.show(lr, momentum)
        start = (
            None
            if seed == 0
            else np.random.default_rng(seed).uniform(-1, 1, 2) * np.abs(surface.start)
        )
        path = run_path(surface, "momentum", start=start, steps=steps, lr=lr, momentum=momentum)
        dist = np.linalg.norm(path - center(surface), axis=1)
        rate = rate_view.rate(lr, momentum)
        curve.set("run", dist).set("rate", dist[0] * rate ** np.arange(steps + 1))
        curve.say(f"η = {lr:.3g}, μ = {momentum:.2f}: factor {rate:.3f} per step")
        if rate >= 1 or not np.isfinite(dist).all():
            raise Diverged(
                f"η = {lr:.3g} is above 2(1 + μ)/λmax = {stability_limit(momentum, max(curvatures)):.3g}"
            )

    return view_playground(
        make_view,
        draw,
        figsize=(11, 4),
        lr=lr_slider(lr, min=1e-3, max=1.0),
        momentum=float_slider(momentum, 0.0, 0.99, step=0.01, description="momentum μ"),
        seed=seed_slider(0, description="seed (start)"),
    )
