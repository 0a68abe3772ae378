"""The computational graph of a chain check, drawn for the feedback with its first wrong step marked.

A test cell writes ``check("backward pass", {"dP": ..., "dW2": ..., ...}, chain=True,
graph={"dW2": ["dP"], "dH": ["dP"], ...})``: the answer's keys in the order of computation and
each node's inputs. When the answer is wrong, the grader draws the graph (a PNG made here, in
the grader's process, so the feedback holds a plain image) with the nodes before the first
wrong step in green, that step in red, and the ones after it, which inherit its error, in grey.
"""

import base64
import io

from nbformat import v4
from nbformat.notebooknode import NotebookNode


def _depths(order: list[str], graph: dict[str, list[str]]) -> dict[str, int]:
    depth: dict[str, int] = {}
    for node in order:
        depth[node] = 1 + max((depth.get(p, -1) for p in graph.get(node, [])), default=-1)
    return depth


def draw(order: list[str], graph: dict[str, list[str]], wrong: str) -> bytes:
    """PNG bytes of the graph; ``wrong`` is the first wrong step (a key of ``order``)."""
    from matplotlib.figure import Figure  # lazy: only a failed chain check draws (slow import)

    depth = _depths(order, graph)
    columns: dict[int, list[str]] = {}
    for node in order:
        columns.setdefault(depth[node], []).append(node)
    pos = {n: (d, -i) for d, nodes in columns.items() for i, n in enumerate(nodes)}
    bad = order.index(wrong)
    fig = Figure(figsize=(1.6 * (len(columns) + 1), 0.9 * (max(map(len, columns.values())) + 1)))
    ax = fig.add_axes((0, 0, 1, 1))
    for node, inputs in graph.items():
        for src in inputs:
            if src in pos and node in pos:
                ax.annotate(
                    "", pos[node], pos[src], arrowprops={"arrowstyle": "->", "color": "0.5"}
                )
    for i, node in enumerate(order):
        colour = "#9be29b" if i < bad else "#f08080" if i == bad else "#dddddd"
        ax.text(
            *pos[node],
            node,
            ha="center",
            va="center",
            fontsize=10,
            bbox={"boxstyle": "round", "facecolor": colour, "edgecolor": "0.3"},
        )
    ax.set_xlim(-0.7, len(columns) - 0.3)
    ax.set_ylim(-max(map(len, columns.values())) + 0.4, 0.6)
    ax.set_axis_off()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return buf.getvalue()


def picture(order: list[str], graph: dict[str, list[str]], wrong: str, name: str) -> NotebookNode:
    """A display_data output with the drawing and a one-line explanation."""
    png = base64.b64encode(draw(order, graph, wrong)).decode()
    text = (
        f"{name}: the first wrong step is {wrong} (red); the steps before it are right "
        "(green) and the ones after it inherit its error (grey)"
    )
    return v4.new_output("display_data", data={"image/png": png, "text/plain": text})
