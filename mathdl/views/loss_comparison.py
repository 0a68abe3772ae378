"""Two losses trained side by side on a 2-D, two-class problem (lesson 07's playground).

Left: the data and each loss's straight decision boundary ``x . w + b = 0`` (and the start's);
right: the training accuracy per step for each loss. The training is the lesson's own function
``train(X, t, loss, lr, scheme, scale, seed) -> (w, b, accuracy_per_step, final_loss)``, run once
per setting (moving a slider back only redraws).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from .boundary import line_through
from .build import Memo, view_playground

if TYPE_CHECKING:  # matplotlib and ipywidgets are imported only where a picture is drawn
    from matplotlib.axes import Axes
    from matplotlib.lines import Line2D
    from matplotlib.text import Text

    from ..playground import Playground

#: What the lesson's ``train`` returns: (w, b, accuracy per step, final loss).
Result = tuple[np.ndarray, float, np.ndarray, float]

__all__ = ["TwoLossView", "loss_comparison_playground"]

#: The two entries drawn: (key passed to ``train``, label, colour).
ENTRIES = (("mse", "MSE", "C1"), ("ce", "cross-entropy", "C2"))


class TwoLossView:
    """The artists of the two panels, created once (animated, for blitting) and updated by :meth:`show`."""

    def __init__(self, ax: Axes, ax_acc: Axes, X: np.ndarray, y: np.ndarray, steps: int) -> None:
        anim: dict[str, Any] = dict(animated=True)
        self.points = ax.scatter(
            X[:, 0], X[:, 1], c=y, cmap="coolwarm", s=9, edgecolors="k", linewidths=0.3, **anim
        )
        (self.start,) = ax.plot([], [], "k:", lw=1.2, label="start", **anim)
        self.lines: dict[str, Line2D] = {}
        self.acc: dict[str, Line2D] = {}
        self.text: dict[str, Text] = {}
        for k, (key, label, color) in enumerate(ENTRIES):
            (self.lines[key],) = ax.plot([], [], color, lw=2, label=label, **anim)
            (self.acc[key],) = ax_acc.plot(
                np.arange(steps), np.zeros(steps), color, label=label, **anim
            )
            self.text[key] = ax_acc.text(
                0.97,
                0.16 - 0.11 * k,
                "",
                transform=ax_acc.transAxes,
                ha="right",
                color=color,
                fontsize=8,
                **anim,
            )
        ax.set_xlim(-5, 5)
        ax.set_ylim(-4, 4)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.legend(fontsize=8, loc="lower left")
        ax.set_title("decision boundaries", fontsize=9)
        ax_acc.set_xlim(0, steps)
        ax_acc.set_ylim(0, 1.02)
        ax_acc.set_xlabel("step", fontsize=8)
        ax_acc.set_xticks([0, steps // 2, steps])
        ax_acc.set_yticks([0, 0.5, 1], ["0%", "50%", "100%"])
        ax_acc.set_title("training accuracy per step", fontsize=9)
        ax_acc.legend(fontsize=8, loc="lower left")

    def show(
        self, X: np.ndarray, y: np.ndarray, w0: np.ndarray, results: Mapping[str, Result]
    ) -> None:
        """``results[key] = (w, b, accuracy_per_step, final_loss)`` for each entry."""
        self.points.set_offsets(X)
        self.points.set_array(y)
        self.start.set_data(*line_through(w0, 0.0))
        for key, label, _ in ENTRIES:
            w, b, acc, _final = results[key]
            self.lines[key].set_data(*line_through(w, b))
            self.acc[key].set_ydata(acc)
            self.text[key].set_text(f"{label}: {acc[-1]:.0%} at the end")


def loss_comparison_playground(
    train: Callable[..., Result],
    datasets: Mapping[int, tuple[np.ndarray, np.ndarray]],
    start: Callable[[str, float, int], np.ndarray],
    steps: int,
) -> Playground:
    """Sliders for learning rate, initialization, its scale and the seed (which picks
    ``datasets[seed] = (X, y)``); ``start(scheme, scale, seed) -> w0`` gives the initial weights drawn.
    Returns the :class:`mathdl.playground.Playground`."""
    from ..playground import Diverged, init_dropdown, lr_slider, scale_slider, seed_slider

    memo = Memo(4000)  # each setting trained once: moving a slider back only redraws

    def run(key: str, lr: float, init: str, scale: float, seed: int) -> Result:
        X, y = datasets[seed]
        return memo(
            (key, lr, init, scale, seed),
            lambda: train(X, y.astype(float), key, lr, init, scale, seed),
        )

    def draw(view: TwoLossView, lr: float, init: str, scale: float, seed: int) -> None:
        results = {key: run(key, lr, init, scale, seed) for key, _, _ in ENTRIES}
        for key, (*_, final) in results.items():
            if not np.isfinite(final):
                raise Diverged(f"{key} loss became {final}")
        X, y = datasets[seed]
        view.show(X, y, start(init, scale, seed), results)

    return view_playground(
        lambda axes: TwoLossView(axes[0], axes[1], *datasets[min(datasets)], steps),
        draw,
        figsize=(9.6, 3.6),
        lr=lr_slider(1.0, min=1e-3, max=100.0),
        init=init_dropdown("he"),
        scale=scale_slider(10.0, min=0.1, max=30.0, description="init scale"),
        seed=seed_slider(1),
    )
