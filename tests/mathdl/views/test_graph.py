"""mathdl.views.graph: the computation graph with values and gradients."""

import matplotlib

matplotlib.use("Agg")

import pytest

from mathdl.views.graph import draw_graph
from tests.helpers.pictures import axes


def test_graph_puts_values_above_and_gradients_below_each_wire():
    ax = axes()
    nodes = {"x": (0, 0, "x"), "f": (2, 0, "f"), "w": (0, 1, "w")}
    draw_graph(ax, nodes, [("x", "f", 1.5, -0.25), ("w", "f", 0.8, 0.75)], legend=False)
    texts = {t.get_text(): t.get_position() for t in ax.texts}
    assert texts["1.5000"][1] > 0 > texts["-0.2500"][1]  # horizontal wire at y = 0
    with pytest.raises(ValueError, match="unknown nodes"):
        draw_graph(axes(), nodes, [("x", "g", 1, 1)])
