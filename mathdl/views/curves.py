"""Curves over training steps: losses, distances, any quantity per step.

Example (in a Playground's ``setup``/``draw``)::

    view = Curves(ax, {"loss": dict(color="tab:blue")}, xlim=(0, 40), ylim=(1e-12, 1e6))
    view.set("loss", losses)           # y per step (x = 0, 1, 2, ...), or view.set(name, y, x=...)
    view.say(f"final loss {losses[-1]:.3g}")
"""

import numpy as np

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
        ax,
        lines,
        *,
        xlim,
        ylim,
        log=True,
        xlog=False,
        xlabel="step",
        ylabel="loss",
        title=None,
        readout=(0.98, 0.96, "right", "top"),
        legend_loc="lower left",
        fontsize=9,
    ):
        if isinstance(lines, (list, tuple)):
            lines = {name: {} for name in lines}
        if not lines:
            raise ValueError("Curves needs at least one line")
        self.ax = ax
        self.lines = {}
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

    def set(self, name, y, x=None):
        """Show ``y`` (one value per step) on line ``name``; x defaults to 0, 1, 2, ..."""
        if name not in self.lines:
            raise KeyError(f"no line named {name!r}; lines: {list(self.lines)}")
        y = np.asarray(y, dtype=float)
        x = np.arange(len(y)) if x is None else np.asarray(x, dtype=float)
        if x.shape != y.shape:
            raise ValueError(f"x has shape {x.shape} but y has shape {y.shape}")
        self.lines[name].set_data(x, y)
        return self

    def say(self, text):
        """Write ``text`` in the readout corner."""
        self.text.set_text(text)
        return self
