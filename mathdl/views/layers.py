"""The picture of lesson 09: per-layer statistics of a deep MLP next to its training loss.

The numbers come from :mod:`mathdl.layer_stats` (on the engine; its names are re-exported here):
:func:`~mathdl.layer_stats.layer_statistics` at initialization and
:func:`~mathdl.layer_stats.train_momentum`'s first steps. This module draws them:
:class:`LayerStatsView` and :func:`layer_stats_playground` (any activation name or ``(f, df)``
pair, any initializer name or function).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from ..layer_stats import (
    ACTIVATIONS,
    ActivationSpec,
    InitSpec,
    forward_backward,
    layer_statistics,
    make_mlp,
    resolve_activation,
    resolve_init,
    train_momentum,
)
from .build import Memo, view_playground

if TYPE_CHECKING:  # matplotlib and ipywidgets are imported only where a picture is drawn
    from matplotlib.axes import Axes

    from ..playground import Playground

__all__ = [
    "ACTIVATIONS",
    "LayerStatsView",
    "forward_backward",
    "layer_statistics",
    "layer_stats_playground",
    "make_mlp",
    "resolve_activation",
    "resolve_init",
    "train_momentum",
]


def _power_label(t: float) -> str:
    e = round(float(np.log10(t)))
    return "1" if e == 0 else f"1e{e}"


class LayerStatsView:
    """Left: std of activations and of per-example gradients per hidden layer (log scale, the
    range [floor, ceil] shown, values outside drawn at the edge and counted in the title).
    Right: the training loss per step on a log scale wide enough for a diverging run
    (1e-3 to 1e3; nothing is clipped inside that range).

    The two statistics curves, the loss curve and both titles are ``animated``, so that
    ``Playground(..., blit=True)`` redraws only them over the kept axes, ticks and legends;
    ``animated=False`` gives ordinary artists (a saved figure).
    """

    def __init__(
        self,
        ax: Axes,
        ax_loss: Axes,
        depth: int,
        steps: int,
        floor: float = 1e-10,
        ceil: float = 1e10,
        fontsize: float = 8,
        animated: bool = True,
    ):
        from matplotlib.ticker import FixedFormatter, FixedLocator, NullLocator

        anim: dict[str, Any] = dict(animated=animated)
        self.ax, self.ax_loss, self.depth, self.floor, self.ceil = ax, ax_loss, depth, floor, ceil
        layers = np.arange(1, depth + 1)
        ax.set_yscale("log")
        ax.set_ylim(floor / 3, ceil * 3)
        ax.set_xlim(0.5, depth + 0.5)
        ax.set_xticks(sorted({1, (depth + 1) // 2, depth}))  # few labels: text is slow to draw
        ticks = [float(t) for t in np.logspace(np.log10(floor), np.log10(ceil), 5)]
        ax.yaxis.set_major_locator(FixedLocator(ticks))
        ax.yaxis.set_major_formatter(FixedFormatter([_power_label(t) for t in ticks]))
        ax.yaxis.set_minor_locator(NullLocator())
        ax.axhline(1.0, color="gray", lw=0.8, ls=":")
        (self.fw,) = ax.plot(layers, np.ones(depth), "o-", ms=3, label="std of activations", **anim)
        (self.bw,) = ax.plot(
            layers, np.ones(depth), "s-", ms=3, label="std of gradients (per example)", **anim
        )
        ax.set_xlabel("hidden layer", fontsize=fontsize)
        ax.tick_params(labelsize=fontsize)
        ax.legend(fontsize=fontsize, loc="lower left")
        self.title = ax.set_title(" ", fontsize=fontsize + 1, **anim)
        ax_loss.set_yscale("log")
        ax_loss.set_xlim(0, max(steps - 1, 1))
        ax_loss.set_xticks(sorted({0, (steps - 1) // 2, max(steps - 1, 1)}))
        ax_loss.set_ylim(1e-3, 1e3)
        ax_loss.yaxis.set_major_locator(FixedLocator([1e-3, 0.1, 10, 1000]))
        ax_loss.yaxis.set_major_formatter(FixedFormatter(["0.001", "0.1", "10", "1000"]))
        ax_loss.yaxis.set_minor_locator(NullLocator())
        ax_loss.tick_params(labelsize=fontsize)
        (self.ln3,) = ax_loss.plot(
            [0, steps], [np.log(3)] * 2, color="gray", lw=0.8, ls=":", label="ln 3 (uniform guess)"
        )
        (self.loss,) = ax_loss.plot([], [], "o-", ms=3, color="C2", label="training loss", **anim)
        ax_loss.set_xlabel("SGD step", fontsize=fontsize)
        ax_loss.set_ylabel("training loss", fontsize=fontsize)
        ax_loss.legend(fontsize=fontsize, loc="upper right")
        self.loss_title = ax_loss.set_title(" ", fontsize=fontsize + 1, **anim)

    def _shown(self, values: npt.ArrayLike) -> tuple[np.ndarray, int]:
        """``values`` clipped to [floor, ceil] (nan and inf at ceil), and how many were outside."""
        raw = np.asarray(values, dtype=float)
        with np.errstate(invalid="ignore"):
            outside = int(np.sum(~np.isfinite(raw) | (raw < self.floor) | (raw > self.ceil)))
        v = np.nan_to_num(raw, nan=self.ceil, posinf=self.ceil)
        return np.clip(v, self.floor, self.ceil), outside

    def show(self, stats: Mapping[str, Any], losses: Sequence[float] | np.ndarray) -> None:
        """Draw ``stats`` (from :func:`layer_statistics`) and the ``losses`` array."""
        fw, out_f = self._shown(stats["forward"])
        bw, out_b = self._shown(stats["backward"])
        self.fw.set_ydata(fw)
        self.bw.set_ydata(bw)
        dead = stats["dead"]
        extra = f"; {out_f + out_b} points off the scale" if out_f + out_b else ""
        self.title.set_text(
            f"std of h: layer 1 {stats['forward'][0]:.2g}, layer {self.depth} "
            f"{stats['forward'][-1]:.2g}; dead units {dead.mean():.0%}{extra}"
        )
        losses = np.asarray(losses, dtype=float)
        self.loss.set_data(
            np.arange(len(losses)), np.clip(np.nan_to_num(losses, nan=1e3), 1e-3, 1e3)
        )
        self.loss_title.set_text(
            f"loss: step 0 {losses[0]:.3g}, step {len(losses) - 1} {losses[-1]:.3g}"
        )


def layer_stats_playground(
    X: np.ndarray,
    y: np.ndarray,
    depth: int = 20,
    width: int = 32,
    steps: int = 15,
    activations: Sequence[ActivationSpec] | Mapping[str, ActivationSpec] = ("relu", "tanh"),
    inits: Sequence[InitSpec] | Mapping[str, InitSpec] | None = None,
    figsize: tuple[float, float] = (9.6, 3.8),
    dpi: float = 100,
) -> Playground:
    """The lesson 09 playground: per-layer statistics at initialization and the first training steps.

    ``activations``: names or ``(f, df)`` pairs, or a dict ``{label: name or pair}`` to offer your
    own; ``inits``: likewise for initializers (default: the course's four schemes), e.g.
    ``{"he": "he", "mine": lambda fan_in, fan_out, rng: ...}``. Controls: initialization, init
    scale, activation, learning rate, seed. Returns the :class:`mathdl.playground.Playground`.
    """
    from ..playground import INIT_CHOICES, Diverged, dropdown, lr_slider, scale_slider, seed_slider

    acts, inits = _choices(activations), _choices(inits or INIT_CHOICES)
    for a in acts.values():
        resolve_activation(a)
    for i in inits.values():
        resolve_init(i)
    # The statistics at initialization do not depend on the learning rate.
    memo = Memo(1000)

    def draw(
        view: LayerStatsView, init: str, scale: float, activation: str, lr: float, seed: int
    ) -> None:
        def start() -> tuple[list[np.ndarray], list[np.ndarray]]:
            return make_mlp(inits[init], depth, width, X.shape[1], int(y.max()) + 1, scale, seed)

        stats = memo(
            ("stats", init, scale, activation, seed),
            lambda: layer_statistics(*start(), X, y, acts[activation]),
        )
        losses = memo(
            ("losses", init, scale, activation, seed, lr),
            lambda: train_momentum(*start(), X, y, lr, steps, activation=acts[activation]),
        )
        view.show(stats, losses)
        if not np.all(np.isfinite(losses)) or losses.max() > 1e3:
            finite = np.where(np.isfinite(losses), losses, np.inf)
            raise Diverged(f"loss reached {np.nanmax(finite):.2g}")

    return view_playground(
        lambda axes: LayerStatsView(axes[0], axes[1], depth, steps), draw,
        figsize=figsize, dpi=dpi,
        init=dropdown(inits, list(inits)[-1], "initialization"),
        scale=scale_slider(1.0, min=0.1, max=10.0, description="init scale"),
        activation=dropdown(acts, description="activation"),
        lr=lr_slider(0.03, min=1e-4, max=10.0),
        seed=seed_slider(0),
    )  # fmt: skip


def _choices(choices: Sequence[Any] | Mapping[str, Any]) -> dict[str, Any]:
    """``{label: choice}``: a dict as given, or names and pairs labelled by their name."""
    if isinstance(choices, dict):
        return dict(choices)
    return {c if isinstance(c, str) else getattr(c[0], "__name__", "yours"): c for c in choices}
