"""mathdl.views: the lessons' named pictures, checked against closed forms and torch."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from mathdl import optim
from mathdl.surfaces import curvatures, descent_path, quadratic, ravine, rosenbrock
from mathdl.views.curves import Curves
from mathdl.views.descent import ContourPath, descent_playground, start_point
from mathdl.views.graph import draw_graph
from mathdl.views.per_layer import LayerBars
from mathdl.views.race import run_path


def axes(n=1):
    fig = Figure()
    return fig.subplots(1, n) if n > 1 else fig.subplots()


# ----- descent_path: three ways to pass an optimizer -------------------------------------------
def test_descent_path_matches_the_closed_form_for_a_name_a_class_and_a_step_function():
    s = ravine()  # f = (x^2 + 20 y^2) / 2: each coordinate scales by (1 - lr * curvature)
    lr, steps = 0.05, 40
    t = np.arange(steps + 1)[:, None]
    exact = np.array(s.start) * (1 - lr * np.array([1.0, 20.0])) ** t
    for opt in ("sgd", optim.SGD, lambda w, g, lr: w - lr * g):
        np.testing.assert_allclose(descent_path(s, optimizer=opt, steps=steps, lr=lr), exact)


def test_descent_path_with_momentum_matches_torch():
    s = rosenbrock()
    path = descent_path(s, optimizer=optim.SGD, steps=50, lr=1e-4, momentum=0.9)
    p = torch.tensor(s.start, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([p], lr=1e-4, momentum=0.9)
    ref = [p.detach().numpy().copy()]
    for _ in range(50):
        opt.zero_grad()
        x, y = p
        ((1 - x) ** 2 + 100 * (y - x**2) ** 2).backward()
        opt.step()
        ref.append(p.detach().numpy().copy())
    np.testing.assert_allclose(path, np.array(ref), rtol=1e-10, atol=1e-12)


def test_descent_path_marks_divergence_with_nan():
    path = descent_path(quadratic(), steps=200, lr=2.5)  # |1 - 2.5| > 1
    assert not np.isfinite(path).all() and np.isfinite(path[0]).all()


@pytest.mark.parametrize(
    "opt, error, message",
    [
        ("adamm", ValueError, "unknown optimizer name 'adamm'"),
        (42, TypeError, "step function"),
        (lambda w, g, lr, momentum: w, TypeError, "third parameter 'momentum'"),
    ],
)
def test_descent_path_refuses_what_is_not_an_optimizer(opt, error, message):
    with pytest.raises(error, match=message):
        descent_path(ravine(), optimizer=opt, steps=3, lr=0.1)


@pytest.mark.parametrize("opt", [lambda w, g, lr: w - lr * g, optim.SGD])
def test_a_misspelt_option_is_refused_not_ignored(opt):
    with pytest.raises(TypeError, match=r"takes no option\(s\) \['momentom'\]"):
        descent_path(ravine(), optimizer=opt, steps=3, lr=0.1, momentom=0.9)
    with pytest.raises(TypeError, match="momentom"):  # a name: the optim class refuses it
        descent_path(ravine(), optimizer="sgd", steps=3, lr=0.1, momentom=0.9)


def test_one_name_table_and_one_contract_for_both_runners():
    """descent_path (lesson 04) and run_path (lesson 08) take the same names and step functions."""
    s = rosenbrock()
    gd = descent_path(s, optimizer="sgd", steps=30, lr=1e-3)
    np.testing.assert_array_equal(descent_path(s, optimizer="gd", steps=30, lr=1e-3), gd)
    np.testing.assert_array_equal(run_path(s, "sgd", steps=30, lr=1e-3), gd)
    p = torch.tensor(s.start, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([p], lr=1e-4, momentum=0.9, nesterov=True)
    ref = [p.detach().numpy().copy()]
    for _ in range(40):
        opt.zero_grad()
        p.grad = torch.as_tensor(s.grad(p.detach().numpy()))
        opt.step()
        ref.append(p.detach().numpy().copy())
    np.testing.assert_allclose(descent_path(s, optimizer="nesterov", steps=40, lr=1e-4), ref)

    def my_gd(theta, grad, state, lr):
        state["seen"] = state["t"]
        return theta - lr * grad

    np.testing.assert_allclose(descent_path(s, optimizer=my_gd, steps=30, lr=1e-3), gd, atol=1e-15)


def test_step_function_must_return_a_point():
    with pytest.raises(ValueError, match=r"returned shape \(3,\)"):
        descent_path(ravine(), optimizer=lambda w, g, lr: np.zeros(3), steps=2, lr=0.1)


def test_curvatures_match_the_closed_form_hessians():
    np.testing.assert_allclose(curvatures(ravine()), [1.0, 20.0], rtol=1e-6)
    H = np.array([[802.0, -400.0], [-400.0, 200.0]])  # Rosenbrock's Hessian at (1, 1)
    np.testing.assert_allclose(curvatures(rosenbrock()), np.linalg.eigvalsh(H), rtol=1e-6)


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


def test_curves_set_and_refuse_mismatched_or_unknown_lines():
    c = Curves(axes(), ["loss", "other"], xlim=(0, 10), ylim=(1e-3, 10))
    c.set("loss", [3.0, 2.0, 1.0]).say("done")
    np.testing.assert_array_equal(c.lines["loss"].get_xdata(), [0, 1, 2])
    assert c.text.get_text() == "done"
    with pytest.raises(ValueError, match="x has shape"):
        c.set("loss", [1.0, 2.0], x=[0.0])
    with pytest.raises(KeyError, match="no line named 'los'"):
        c.set("los", [1.0])


def test_layer_bars_show_given_layers_only():
    bars = LayerBars(axes(), 5, ylim=(1e-10, 10))
    bars.set([1.0, 1e-3, 0.0], [2.0, 1e-20, np.nan])
    assert [b.get_visible() for b in bars.first] == [True, True, True, False, False]
    assert [b.get_height() for b in bars.second[:3]] == [2.0, 1e-10, 1e-10]  # floored
    with pytest.raises(ValueError, match="at most 5"):
        bars.set(np.ones(6), np.ones(6))


def test_graph_puts_values_above_and_gradients_below_each_wire():
    ax = axes()
    nodes = {"x": (0, 0, "x"), "f": (2, 0, "f"), "w": (0, 1, "w")}
    draw_graph(ax, nodes, [("x", "f", 1.5, -0.25), ("w", "f", 0.8, 0.75)], legend=False)
    texts = {t.get_text(): t.get_position() for t in ax.texts}
    assert texts["1.5000"][1] > 0 > texts["-0.2500"][1]  # horizontal wire at y = 0
    with pytest.raises(ValueError, match="unknown nodes"):
        draw_graph(axes(), nodes, [("x", "g", 1, 1)])
