"""mathdl.views.per_layer: bars per layer."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from mathdl.views.per_layer import LayerBars
from tests.helpers.pictures import axes


def test_layer_bars_show_given_layers_only():
    bars = LayerBars(axes(), 5, ylim=(1e-10, 10))
    bars.set([1.0, 1e-3, 0.0], [2.0, 1e-20, np.nan])
    assert [b.get_visible() for b in bars.first] == [True, True, True, False, False]
    assert [b.get_height() for b in bars.second[:3]] == [2.0, 1e-10, 1e-10]  # floored
    with pytest.raises(ValueError, match="at most 5"):
        bars.set(np.ones(6), np.ones(6))
