"""Curves over training steps: losses, distances, any quantity per step.

Example (in a Playground's ``setup``/``draw``)::

    view = Curves(ax, {"loss": dict(color="tab:blue")}, xlim=(0, 40), ylim=(1e-12, 1e6))
    view.set("loss", losses)           # y per step (x = 0, 1, 2, ...), or view.set(name, y, x=...)
    view.say(f"final loss {losses[-1]:.3g}")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:  # matplotlib is imported only where a picture is drawn
    from matplotlib.axes import Axes
    from matplotlib.lines import Line2D
    from matplotlib.typing import LegendLocType

__all__ = ["Curves"]


class Curves:
    """Named lines on one Axes, updated in place.

    Parameters
    ----------
    ax : matplotlib Axes
    lines : dict name -> dict of ``Axes.plot`` keywords (color, label, lw, ls, marker...), or a
        list of names (default styles). A ``label`` puts the line in the legend.
    xlim, ylim : the fixed view (fixed limits keep every redraw cheap under blitting).
    log : bool, a logarithmic y axis (values <= 0 are not drawn). ``xlog`` likewise for x.
    xlabel, ylabel, title : text drawn once.
    readout : where :meth:`say` writes, an Axes-fraction (x, y) with its alignment.
    """

    def __init__(
        self,
        ax: Axes,
        lines: dict[str, dict[str, Any]] | list[str] | tuple[str, ...],
        *,
        xlim: tuple[float, float],
        ylim: tuple[float, float],
        log: bool = True,
        xlog: bool = False,
        xlabel: str = "step",
        ylabel: str = "loss",
        title: str | None = None,
        readout: tuple[float, float, str, str] = (0.98, 0.96, "right", "top"),
        legend_loc: LegendLocType = "lower left",
        fontsize: float = 9,
    ) -> None:
        if isinstance(lines, (list, tuple)):
            lines = {name: {} for name in lines}
        if not lines:
            raise ValueError("Curves needs at least one line")
        self.ax = ax
        self.lines: dict[str, Line2D] = {}
        for name, style in lines.items():
            (self.lines[name],) = ax.plot([], [], animated=True, **{"lw": 1.2, **style})
        ax.set_xscale("log" if xlog else "linear")
        ax.set_yscale("log" if log else "linear")
        ax.set_xlim(*xlim)
        ax.set_ylim(*ylim)
        ax.set_xlabel(xlabel, fontsize=fontsize)
        ax.set_ylabel(ylabel, fontsize=fontsize)
        ax.tick_params(labelsize=fontsize - 1)
        if log:
            from matplotlib.ticker import LogLocator, NullLocator

            ax.yaxis.set_major_locator(LogLocator(numticks=5))
            ax.yaxis.set_minor_locator(NullLocator())
        if title:
            ax.set_title(title, fontsize=fontsize + 1)
        ax.grid(True, alpha=0.3)
        if any("label" in style for style in lines.values()):
            ax.legend(loc=legend_loc, fontsize=fontsize - 1)
        x, y, ha, va = readout
        self.text = ax.text(
            x, y, "", transform=ax.transAxes, ha=ha, va=va, fontsize=fontsize, animated=True
        )

    def set(self, name: str, y: npt.ArrayLike, x: npt.ArrayLike | None = None) -> Curves:
        """Show ``y`` (one value per step) on line ``name``; x defaults to 0, 1, 2, ..."""
        if name not in self.lines:
            raise KeyError(f"no line named {name!r}; lines: {list(self.lines)}")
        ys = np.asarray(y, dtype=float)
        xs = np.arange(len(ys)) if x is None else np.asarray(x, dtype=float)
        if xs.shape != ys.shape:
            raise ValueError(f"x has shape {xs.shape} but y has shape {ys.shape}")
        self.lines[name].set_data(xs, ys)
        return self

    def say(self, text: str) -> Curves:
        """Write ``text`` in the readout corner."""
        self.text.set_text(text)
        return self
