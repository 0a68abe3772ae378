"""mathdl.surfaces: descent_path (three ways to pass an optimizer) and curvatures, checked
against closed forms and torch."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch

from mathdl import optim
from mathdl.surfaces import curvatures, descent_path, quadratic, ravine, rosenbrock
from mathdl.views.race import run_path


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
