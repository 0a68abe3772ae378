"""mathdl.views.depth: signals through depth (lesson 10)."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest


# --- signals through depth (lesson 10) ----------------------------------------------------------
def _spirals():
    from mathdl import data

    X, y = data.spirals(n_per_class=20, n_classes=3, noise=0.2, seed=0)
    return (X - X.mean(0)) / X.std(0), y


def test_depth_statistics_match_the_numpy_backprop_of_views_layers():
    from mathdl import nn
    from mathdl.views.depth import build_deep_mlp, depth_statistics
    from mathdl.views.layers import layer_statistics

    X, y = _spirals()
    model = build_deep_mlp("plain", depth=12, width=16, scale=1.3, seed=3)
    linears = [m for m in model.layers if isinstance(m, nn.Linear)]
    Ws, bs = [m.weight.data.copy() for m in linears], [m.bias.data.copy() for m in linears]
    ours = depth_statistics(model, X, y)
    ref = layer_statistics(Ws, bs, X, y, "relu")
    np.testing.assert_allclose(ours["forward"], ref["forward"], rtol=1e-12)
    np.testing.assert_allclose(ours["backward"], ref["backward"], rtol=1e-9)
    assert ours["loss"] == pytest.approx(ref["loss"], rel=1e-12)


def test_depth_kinds_and_errors():
    from mathdl.views.depth import KINDS, build_deep_mlp, depth_statistics

    X, y = _spirals()
    for kind in KINDS:
        s = depth_statistics(build_deep_mlp(kind, depth=10, width=8), X, y)
        assert s["forward"].shape == s["backward"].shape == (10,)
    # unscaled residual blocks grow the signal far more than the 1/sqrt(depth)-scaled ones
    grow = {
        k: depth_statistics(build_deep_mlp(k, depth=30), X, y)["forward"][-1]
        for k in ("residual", "residual, unscaled")
    }
    assert grow["residual, unscaled"] > 1e3 * grow["residual"]
    with pytest.raises(ValueError, match="unknown kind"):
        build_deep_mlp("dropout", 10)
    with pytest.raises(ValueError, match="depth"):
        build_deep_mlp("plain", 1)


def test_depth_playground_survives_every_control():
    from mathdl.views.depth import KINDS, depth_playground

    X, y = _spirals()
    pg = depth_playground(X, y)
    for name, values in {
        "kind": list(KINDS),
        "depth": [2, 50, 30],
        "scale": [0.25, 4.0, 1.0],
        "seed": [20, 0],
    }.items():
        for v in values:
            pg.controls[name].value = v
    assert pg.errors == []
