"""A computational graph drawn as a circuit: each wire carries its value above and its
gradient below (the style of CS231n's circuit diagrams).

Example (one neuron, z = w x + b, a = sigmoid(z), L = (a - y)^2)::

    nodes = {"x": (0, 1, "x"), "z": (2, 1, "wx + b"), ...}      # name: (x, y, label)
    wires = [("x", "z", 1.5, -0.177), ...]                      # (from, to, value, dL/dvalue)
    draw_graph(ax, nodes, wires)

Values are drawn in dark blue, gradients in red, arrows run from box edge to box edge.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # matplotlib is imported only where a picture is drawn
    from matplotlib.axes import Axes
    from matplotlib.text import Text

#: A node: (x, y, label).
Node = tuple[float, float, str]
#: A wire: (from, to or None for the output, value, gradient); numbers, strings or None.
Wire = tuple[str, str | None, float | str | None, float | str | None]

__all__ = ["GRADIENT_COLOR", "VALUE_COLOR", "draw_graph"]

VALUE_COLOR = "#1f3b73"
GRADIENT_COLOR = "crimson"


def _fmt(v: float | str, digits: int) -> str:
    return v if isinstance(v, str) else f"{v:.{digits}f}"


def _draw_wire(
    ax: Axes,
    wire: Wire,
    nodes: Mapping[str, Node],
    boxes: Mapping[str, Text],
    targets: set[str],
    *,
    digits: int,
    offset: float,
    fontsize: float,
) -> None:
    """One wire (from, to, value, gradient): an arrow box to box, the value on one side of it
    and the gradient on the other."""
    src, dst, value, grad = wire
    x0, y0 = nodes[src][:2]
    if dst is None:
        x1, y1 = x0 + 1.6, y0
        ax.annotate("", xy=(x1, y1), xytext=(x0, y0),
                    arrowprops=dict(arrowstyle="-|>", lw=1.2, color="0.2",
                                    patchA=boxes[src].get_bbox_patch(), shrinkB=0))  # fmt: skip
    else:
        x1, y1 = nodes[dst][:2]
        ax.annotate("", xy=(x1, y1), xytext=(x0, y0),
                    arrowprops=dict(arrowstyle="-|>", lw=1.2, color="0.2", shrinkA=2, shrinkB=2,
                                    patchA=boxes[src].get_bbox_patch(),
                                    patchB=boxes[dst].get_bbox_patch()))  # fmt: skip
    # labels on the wire, one on each side of it: near the source for an input's wire (where
    # the wires fanning into one node are still apart), else at the middle
    f = 0.3 if src not in targets and dst is not None else 0.5
    mx, my = x0 + f * (x1 - x0) + (0.25 if dst is None else 0), y0 + f * (y1 - y0)
    d = np.array([x1 - x0, y1 - y0], float)
    nrm = np.array([-d[1], d[0]]) / max(np.hypot(*d), 1e-12)
    if nrm[1] < 0:
        nrm = -nrm
    if value is not None:
        ax.text(mx + offset * nrm[0], my + offset * nrm[1], _fmt(value, digits), ha="center",
                va="bottom", fontsize=fontsize, color=VALUE_COLOR, zorder=4)  # fmt: skip
    if grad is not None:
        ax.text(mx - offset * nrm[0], my - offset * nrm[1], _fmt(grad, digits), ha="center",
                va="top", fontsize=fontsize, color=GRADIENT_COLOR, zorder=4)  # fmt: skip


def draw_graph(
    ax: Axes,
    nodes: Mapping[str, Node],
    wires: Sequence[Wire],
    *,
    digits: int = 4,
    offset: float = 0.16,
    fontsize: float = 9,
    legend: bool = True,
) -> dict[str, Text]:
    """Draw ``nodes`` and ``wires`` on ``ax``.

    nodes : dict name -> (x, y, label). Nodes that no wire enters are inputs (yellow boxes),
        the others operations (blue boxes).
    wires : list of (from, to, value, gradient); value and gradient are numbers (shown with
        ``digits`` decimals) or strings; None leaves one out. A wire whose ``to`` is None leaves
        the last node to the right (the output, e.g. L with dL/dL = 1).
    Returns the dict of node Text artists.
    """
    targets = {t for _, t, _, _ in wires if t is not None}
    unknown = {n for s, t, _, _ in wires for n in (s, t) if n is not None and n not in nodes}
    if unknown:
        raise ValueError(f"wires name unknown nodes {sorted(unknown)}; nodes: {sorted(nodes)}")
    boxes: dict[str, Text] = {}
    for name, (x, y, label) in nodes.items():
        color = "lightblue" if name in targets else "lightyellow"
        boxes[name] = ax.text(
            x, y, label, ha="center", va="center", fontsize=fontsize, zorder=3,
            bbox=dict(boxstyle="round,pad=0.35", fc=color, ec="0.3"),
        )  # fmt: skip
    xs = [p[0] for p in nodes.values()]
    ys = [p[1] for p in nodes.values()]
    for wire in wires:
        _draw_wire(ax, wire, nodes, boxes, targets, digits=digits, offset=offset, fontsize=fontsize)
    ax.set_xlim(min(xs) - 0.8, max(xs) + 2.2)
    ax.set_ylim(min(ys) - 0.7, max(ys) + 0.5)
    ax.axis("off")
    if legend:
        ax.text(min(xs) - 0.7, min(ys) - 0.65,
                "above each wire: its value (forward pass)", color=VALUE_COLOR, fontsize=fontsize,
                va="bottom")  # fmt: skip
        ax.text((min(xs) + max(xs)) / 2 + 0.8, min(ys) - 0.65,
                "below: ∂L/∂(that value) (backward pass)", color=GRADIENT_COLOR,
                fontsize=fontsize, va="bottom")  # fmt: skip
    return boxes
