"""mathdl.views.race: the optimizer race of lesson 08.

Every number is checked against an independent reference: torch.optim / torch autograd, or the
update rule written out by hand here.
"""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from mathdl import optim, surfaces
from mathdl.views.race import RaceView, race, race_playground, run_path
from tests.helpers.pictures import blit_vs_full

ROSEN = surfaces.rosenbrock()


def torch_path(cls, options, steps, surface=ROSEN):
    p = torch.tensor(surface.start, dtype=torch.float64, requires_grad=True)
    opt = cls([p], **options)
    out = [p.detach().numpy().copy()]
    for _ in range(steps):
        opt.zero_grad()
        p.grad = torch.as_tensor(surface.grad(p.detach().numpy()), dtype=torch.float64)
        opt.step()
        out.append(p.detach().numpy().copy())
    return np.array(out)


# ----- race: which optimizer -------------------------------------------------------------------
@pytest.mark.parametrize(
    "name, torch_cls, options",
    [
        ("gd", torch.optim.SGD, dict(lr=1e-3)),
        ("momentum", torch.optim.SGD, dict(lr=1e-3, momentum=0.9)),
        ("nesterov", torch.optim.SGD, dict(lr=1e-3, momentum=0.9, nesterov=True)),
        ("rmsprop", torch.optim.RMSprop, dict(lr=1e-2)),
        ("adam", torch.optim.Adam, dict(lr=0.05, betas=(0.5, 0.999))),
    ],
)
def test_named_optimizer_follows_torch(name, torch_cls, options):
    ours = run_path(ROSEN, name, steps=200, **options)
    assert np.abs(ours - torch_path(torch_cls, options, 200)).max() < 1e-10


def test_momentum_name_means_mu_0_9_by_default():
    ours = run_path(ROSEN, "momentum", steps=50, lr=1e-3)
    ref = torch_path(torch.optim.SGD, dict(lr=1e-3, momentum=0.9), 50)
    assert np.abs(ours - ref).max() < 1e-12


def gd_by_hand(surface, lr, steps):
    theta = np.array(surface.start, dtype=float)
    out = [theta.copy()]
    for _ in range(steps):
        theta = theta - lr * surface.grad(theta)
        out.append(theta.copy())
    return np.array(out)


class PlainGD(optim.Optimizer):
    def __init__(self, params, lr):
        super().__init__(params, dict(lr=lr))

    def step(self):
        for group in self.param_groups:
            for p in group["params"]:
                p.data -= group["lr"] * p.grad


def test_optimizer_subclass_gets_only_the_options_it_takes():
    ours = run_path(ROSEN, PlainGD, steps=100, lr=1e-3, momentum=0.9, betas=(0.9, 0.999))
    assert np.abs(ours - gd_by_hand(ROSEN, 1e-3, 100)).max() < 1e-12


def test_instance_factory():
    def factory(params, lr):
        return optim.SGD(params, lr=lr, momentum=0.5)

    ours = run_path(ROSEN, factory, steps=100, lr=1e-3)
    ref = torch_path(torch.optim.SGD, dict(lr=1e-3, momentum=0.5), 100)
    assert np.abs(ours - ref).max() < 1e-12


def test_step_function_with_state_and_lr_races_like_torch_adam():
    seen_t = []

    def my_adam(theta, grad, state, lr, betas=(0.9, 0.999)):
        b1, b2 = betas
        t = state["t"]
        seen_t.append(t)
        m = b1 * state.get("m", 0.0) + (1 - b1) * grad
        v = b2 * state.get("v", 0.0) + (1 - b2) * grad**2
        state["m"], state["v"] = m, v
        return theta - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + 1e-8)

    ours = run_path(ROSEN, my_adam, steps=100, lr=0.05, momentum=0.3)
    ref = torch_path(torch.optim.Adam, dict(lr=0.05), 100)
    assert seen_t == list(range(1, 101))
    assert np.abs(ours - ref).max() < 1e-10


def test_stateless_step_function_as_descent_path_takes_it():
    velocity = np.zeros(2)

    def heavy_ball(w, grad, lr, momentum):  # torch's rule, state in a closure
        velocity[:] = momentum * velocity + grad
        return w - lr * velocity

    ours = run_path(ROSEN, heavy_ball, steps=100, lr=1e-3, momentum=0.9, betas=(0.9, 0.999))
    ref = torch_path(torch.optim.SGD, dict(lr=1e-3, momentum=0.9), 100)
    assert np.abs(ours - ref).max() < 1e-12


def test_bad_optimizers_are_named_in_the_error():
    with pytest.raises(ValueError, match="unknown optimizer name 'adamm'"):
        run_path(ROSEN, "adamm", lr=0.1)
    with pytest.raises(TypeError, match=r"not a subclass of mathdl\.optim\.Optimizer"):
        run_path(ROSEN, dict, lr=0.1)
    with pytest.raises(TypeError, match="not an instance"):
        run_path(ROSEN, optim.SGD([optim.Tensor(np.zeros(2))], lr=0.1))
    with pytest.raises(TypeError, match="takes 4 required positional"):
        run_path(ROSEN, lambda theta, grad, state, extra: theta, lr=0.1)
    with pytest.raises(ValueError, match="returned shape"):
        run_path(ROSEN, lambda theta, grad, state: theta[:1], lr=0.1)
    with pytest.raises(TypeError, match=r"must return a mathdl\.optim\.Optimizer"):
        run_path(ROSEN, lambda params: None)
    with pytest.raises(TypeError, match="Surface"):
        run_path("rosenbrock", "gd")


def test_divergence_leaves_nan_after_the_blow_up():
    path = run_path(ROSEN, "gd", steps=200, lr=3e-3)
    finite = np.isfinite(path).all(axis=1)
    assert finite[0] and not finite[-1]
    first_bad = np.argmin(finite)
    assert not finite[first_bad:].any()


def test_noise_is_the_same_sequence_for_every_optimizer():
    lr, noise = 1e-3, 0.5
    ours = run_path(ROSEN, "gd", steps=20, noise=noise, seed=3, lr=lr)
    rng = np.random.default_rng(3)
    theta, ref = np.array(ROSEN.start, dtype=float), [np.array(ROSEN.start, dtype=float)]
    for _ in range(20):
        theta = theta - lr * (ROSEN.grad(theta) + noise * rng.standard_normal(2))
        ref.append(theta)
    assert np.abs(ours - np.array(ref)).max() < 1e-12
    both = race(
        ROSEN, {"a": ("gd", dict(lr=lr)), "b": (PlainGD, dict(lr=lr))}, 20, noise=noise, seed=3
    )
    assert np.abs(both["a"] - both["b"]).max() < 1e-12


# ----- race: drawing ---------------------------------------------------------------------------
def test_race_view_shows_every_path_with_an_end_marker_and_equal_aspect():
    fig = Figure()
    ax, ax_d = fig.subplots(1, 2)
    S = {"rosenbrock": ROSEN, "saddle": surfaces.saddle()}
    labels = ["gd", "adam", "boom"]
    view = RaceView(ax, ax_d, labels, S, steps=100)
    paths = {
        "gd": run_path(ROSEN, "gd", steps=100, lr=1e-3),
        "adam": run_path(ROSEN, "adam", steps=100, lr=0.1),
        "boom": run_path(ROSEN, "gd", steps=100, lr=5e-3),
    }
    blown = view.show("rosenbrock", paths, ROSEN.start, "t")
    assert blown == ["boom"]
    assert ax.get_aspect() == 1.0
    for label, path in paths.items():
        np.testing.assert_array_equal(view.lines[label].get_xdata(), path[:, 0])
        last = path[np.isfinite(path).all(axis=1)][-1]
        np.testing.assert_allclose(
            [view.ends[label].get_xdata()[0], view.ends[label].get_ydata()[0]], last
        )
    assert len({(ln.get_linestyle(), ln.get_linewidth()) for ln in view.lines.values()}) == 3
    assert [t.get_text() for t in ax_d.get_legend().get_texts()] == labels
    view.show("saddle", {"gd": paths["gd"]}, (0, 0))
    assert view.contours["saddle"].get_visible() and not view.contours["rosenbrock"].get_visible()
    assert len(view.lines["adam"].get_xdata()) == 0
    fig.canvas.draw() if hasattr(fig.canvas, "draw") else None


def test_race_playground_mu_slider_and_a_user_step_function():
    def my_gd(theta, grad, state, lr):
        return theta - lr * grad

    pg = race_playground(extra={"mine": my_gd}, steps=50)
    pg.set(surface="rosenbrock", optimizer="momentum", lr=1e-3, momentum=0.0)
    view_line = pg.axes[0].lines
    momentum_line = next(ln for ln in view_line if ln.get_label() == "momentum")
    ref = run_path(ROSEN, "gd", steps=50, lr=1e-3)
    np.testing.assert_allclose(momentum_line.get_xdata(), ref[:, 0], atol=1e-12)
    pg.set(optimizer="mine")
    mine = next(ln for ln in pg.axes[0].lines if ln.get_label() == "mine")
    np.testing.assert_allclose(mine.get_ydata(), ref[:, 1], atol=1e-12)
    pg.set(optimizer="Adam", beta1=0.0)
    adam = next(ln for ln in pg.axes[0].lines if ln.get_label() == "Adam")
    ref = run_path(ROSEN, "adam", steps=50, lr=1e-3, betas=(0.0, 0.999))
    np.testing.assert_allclose(adam.get_xdata(), ref[:, 0], atol=1e-12)
    assert pg.errors == []


def test_race_playground_blits_the_same_picture_even_between_surfaces_with_equal_limits():
    pg = race_playground(surfaces=("ravine", "quadratic"), steps=60)
    assert pg.blit
    pg.set(lr=0.05)
    pg.set(surface="quadratic")  # same square view as the ravine: other contours all the same
    assert blit_vs_full(pg) < 0.01
    pg.set(surface="ravine", lr=0.02)
    assert blit_vs_full(pg) < 0.01
    assert pg.errors == []


def test_race_playground_reuses_paths_it_has_run():
    pg = race_playground(steps=40)
    pg.set(lr=0.05)
    first = {ln.get_label(): ln.get_xydata().copy() for ln in pg.axes[0].lines}
    pg.set(lr=0.02)
    pg.set(lr=0.05)
    for ln in pg.axes[0].lines:
        np.testing.assert_array_equal(ln.get_xydata(), first[ln.get_label()])
    ref = run_path(surfaces.ravine(), "adam", steps=40, lr=0.05)
    adam = next(ln for ln in pg.axes[0].lines if ln.get_label() == "Adam")
    np.testing.assert_array_equal(adam.get_xydata(), ref)
