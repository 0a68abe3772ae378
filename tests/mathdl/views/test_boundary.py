"""mathdl.views.boundary: the decision boundary of a linear classifier."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from matplotlib.figure import Figure

from mathdl.views.boundary import BoundaryView, line_through
from tests.helpers.pictures import blit_vs_full


# ----- per-layer statistics --------------------------------------------------------------------
def data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 2)), rng.integers(0, 3, n)


# ----- decision boundary -----------------------------------------------------------------------
def test_line_through_is_the_boundary():
    w, b = np.array([2.0, -1.0]), 0.7
    xs, ys = line_through(w, b, length=5.0)
    pts = np.column_stack([xs, ys])
    np.testing.assert_allclose(pts @ w + b, 0.0, atol=1e-12)
    assert np.linalg.norm(pts[1] - pts[0]) == pytest.approx(10.0)
    assert line_through(np.zeros(2), 1.0) == ([], [])
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        line_through(np.ones(3), 0.0)


def test_boundary_view_colours_labels_and_probabilities():
    X, y = data(30)
    fig = Figure()
    view = BoundaryView(*fig.subplots(1, 2), X, y, resolution=10, steps=20)
    labels = np.zeros(100, dtype=int)
    img = view.colors(labels)
    np.testing.assert_allclose(img[0, 0], 0.6 + 0.4 * view.rgb[0])
    uniform = np.full((100, 3), 1 / 3)
    np.testing.assert_allclose(view.colors(uniform)[3, 4], 0.6 + 0.4 * view.rgb.mean(axis=0))
    with pytest.raises(ValueError, match="predictions must be"):
        view.colors(np.zeros((100, 2)))
    view.show(labels, np.linspace(1, 0.1, 30), title="hi")
    assert view.ax_loss.get_xlim()[1] == 30
    view.show(labels, np.ones(5))
    assert view.ax_loss.get_xlim()[1] == 20
    assert view.ax.get_aspect() == 1.0
    view.show(uniform, [1.0])  # the image holds the same colours as 8-bit RGBA
    shown = view.image.get_array()
    assert shown.dtype == np.uint8 and shown.shape == (10, 10, 4)
    np.testing.assert_allclose(shown[..., :3] / 255, view.colors(uniform), atol=0.5 / 255)
    assert np.all(shown[..., 3] == 255)
    view.show(None, [np.inf])
    np.testing.assert_array_equal(view.image.get_array(), np.full((10, 10, 4), 255))


def test_boundary_view_blits_the_same_picture():
    from mathdl.playground import Playground, seed_slider

    X, y = data(50)
    view = {}

    def draw(axes, seed):
        rng = np.random.default_rng(seed)
        probs = rng.dirichlet(np.ones(3), len(view["v"].grid))
        view["v"].show(probs, np.geomspace(2, 0.01 + seed / 10, 30), f"seed {seed}")

    pg = Playground(
        draw,
        setup=lambda axes: view.update(v=BoundaryView(*axes, X, y, resolution=20, steps=30)),
        blit=True,
        ncols=2,
        seed=seed_slider(0),
    )
    pg.set(seed=3)
    assert blit_vs_full(pg) < 0.01
