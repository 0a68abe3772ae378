"""One bar per layer: a per-layer statistic (a gradient norm) at two moments, on a log scale.

Example::

    bars = LayerBars(ax, max_layers=12, labels=("at init", "after 30 steps"))
    bars.set(norms_at_init, norms_after)     # one value per layer, len <= max_layers
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:  # matplotlib is imported only where a picture is drawn
    from matplotlib.axes import Axes

__all__ = ["LayerBars"]


class LayerBars:
    """Pairs of bars (light: first moment, dark: second) for layers 1..n, log y axis.

    ``ylim`` is fixed (fixed limits keep every redraw cheap under blitting); values below it
    are drawn at its floor. ``set`` hides the bars of layers beyond those given.
    """

    def __init__(
        self,
        ax: Axes,
        max_layers: int,
        *,
        labels: tuple[str, str] = ("at init", "after training"),
        ylim: tuple[float, float] = (1e-18, 1e2),
        ylabel: str = "‖∂L/∂W_l‖",
        color: str = "C0",
        fontsize: float = 9,
    ) -> None:
        from matplotlib.ticker import MaxNLocator, NullLocator

        self.ax, self.max_layers, self.floor = ax, max_layers, ylim[0]
        idx = np.arange(1, max_layers + 1)
        ones = np.ones(max_layers)
        self.first = ax.bar(idx - 0.2, ones, width=0.4, color=color, alpha=0.45, label=labels[0])
        self.second = ax.bar(idx + 0.2, ones, width=0.4, color=color, label=labels[1])
        for bar in (*self.first, *self.second):
            bar.set_animated(True)
        ax.set_yscale("log")
        ax.set_ylim(*ylim)
        ax.set_xlim(0.4, max_layers + 0.6)
        ax.set_xlabel("layer l", fontsize=fontsize)
        ax.set_ylabel(ylabel, fontsize=fontsize)
        ax.xaxis.set_major_locator(MaxNLocator(6, integer=True))
        ax.yaxis.set_minor_locator(NullLocator())
        ax.tick_params(labelsize=fontsize - 1)
        ax.legend(loc="lower right", fontsize=fontsize - 1)
        self.text = ax.text(0.5, 1.02, "", transform=ax.transAxes, ha="center", va="bottom",
                            fontsize=fontsize + 1, animated=True)  # fmt: skip

    def set(self, first: npt.ArrayLike, second: npt.ArrayLike) -> LayerBars:
        """Bars for layers 1..len(first); ``first`` and ``second`` have one value per layer."""
        a, b = np.asarray(first, float), np.asarray(second, float)
        n = len(a)
        if b.shape != a.shape or n > self.max_layers:
            raise ValueError(
                f"expected two equal-length sequences of at most {self.max_layers} values, "
                f"got shapes {a.shape} and {b.shape}"
            )
        for bars, values in ((self.first, a), (self.second, b)):
            for layer, bar in enumerate(bars):
                bar.set_visible(layer < n)
                if layer < n:
                    v = values[layer]
                    bar.set_height(max(v, self.floor) if np.isfinite(v) else self.floor)
        return self

    def say(self, text: str) -> LayerBars:
        """Write ``text`` above the bars."""
        self.text.set_text(text)
        return self
