"""mathdl.views.descent: the surface playground of lesson 04 and its contour path."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from mathdl import optim
from mathdl.surfaces import ravine
from mathdl.views.descent import ContourPath, descent_playground, start_point
from tests.helpers.pictures import axes


def test_start_point_seed_zero_is_the_standard_start_and_others_stay_in_view():
    s = ravine()
    np.testing.assert_allclose(start_point(s, 1.0, 0), s.start)
    np.testing.assert_allclose(start_point(s, 0.5, 0), np.array(s.start) / 2)
    for seed in range(1, 30):
        x, y = start_point(s, 1.0, seed)
        assert s.xlim[0] <= x <= s.xlim[1] and s.ylim[0] <= y <= s.ylim[1]


# ----- the surface playground -------------------------------------------------------------------
def title(pg):
    return next(t.get_text() for t in pg.figure.axes[0].texts if "lr·L" in t.get_text())


@pytest.mark.parametrize(
    "surface, lr, verdict",
    [("quadratic", 1.995, "= 1.995 < 2"), ("rosenbrock", 0.001995, "< 2"), ("ravine", 0.1, "= 2")],
)
def test_playground_title_never_contradicts_itself(surface, lr, verdict):
    pg = descent_playground(surface=surface, lr=0.01)
    pg.set(lr=lr)
    assert verdict in title(pg), title(pg)
    assert "2 < 2" not in title(pg)


def test_playground_diverges_above_2_over_L_and_accepts_your_optimizer():
    pg = descent_playground(surface="ravine", lr=0.079)
    pg.set(lr=0.13)
    assert pg.diverged
    pg.set(lr=0.079)
    assert not pg.diverged and pg.errors == []
    for opt, options in [(optim.SGD, dict(momentum=0.5)), (lambda w, g, lr: w - lr * g, {})]:
        mine = descent_playground(["quadratic", "saddle"], surface="quadratic", optimizer=opt,
                                  lr=0.5, **options)  # fmt: skip
        for surface in ("quadratic", "saddle"):
            mine.set(surface=surface)
        assert mine.errors == []


def test_playground_refuses_unknown_surfaces():
    with pytest.raises(ValueError, match="unknown surface"):
        descent_playground(["ravine", "volcano"])


# ----- the drawing views ------------------------------------------------------------------------
def test_contour_path_has_equal_aspect_and_skips_diverged_points():
    ax = axes()
    view = ContourPath(ax, lambda x, y: x**2 + y**2, (-2, 2), (-1, 1), minimum=(0, 0))
    assert ax.get_aspect() == 1.0
    ok = view.set(np.array([[1.0, 0.5], [0.5, 0.2], [np.nan, np.nan]]))
    assert ok.tolist() == [True, True, False]
    assert view.path.get_xydata().shape == (2, 2)
