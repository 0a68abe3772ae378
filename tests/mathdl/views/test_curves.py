"""mathdl.views.curves: loss curves drawn from given lines."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from mathdl.views.curves import Curves
from tests.helpers.pictures import axes


def test_curves_set_and_refuse_mismatched_or_unknown_lines():
    c = Curves(axes(), ["loss", "other"], xlim=(0, 10), ylim=(1e-3, 10))
    c.set("loss", [3.0, 2.0, 1.0]).say("done")
    np.testing.assert_array_equal(c.lines["loss"].get_xdata(), [0, 1, 2])
    assert c.text.get_text() == "done"
    with pytest.raises(ValueError, match="x has shape"):
        c.set("loss", [1.0, 2.0], x=[0.0])
    with pytest.raises(KeyError, match="no line named 'los'"):
        c.set("los", [1.0])
