"""The views of lessons 06-10: optimizer race, per-layer statistics, decision boundary.

Every number is checked against an independent reference: torch.optim / torch autograd, or the
update rule written out by hand here.
"""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from mathdl import activations as A
from mathdl import optim, surfaces
from mathdl.views.boundary import BoundaryView, line_through
from mathdl.views.layers import (
    ACTIVATIONS,
    LayerStatsView,
    forward_backward,
    layer_statistics,
    layer_stats_playground,
    make_mlp,
    train_momentum,
)
from mathdl.views.race import RaceView, race, race_playground, run_path

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


# ----- per-layer statistics --------------------------------------------------------------------
def data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 2)), rng.integers(0, 3, n)


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "gelu"])
def test_forward_backward_matches_torch_autograd(activation):
    X, y = data()
    Ws, bs = make_mlp("he", depth=4, width=8, seed=1)
    bs = [b + 0.1 * np.arange(len(b)) for b in bs]
    loss, _zs, hs, ghs, gWs, gbs = forward_backward(Ws, bs, X, y, activation)
    act = {
        "relu": torch.relu,
        "tanh": torch.tanh,
        "sigmoid": torch.sigmoid,
        "gelu": lambda t: torch.nn.functional.gelu(t, approximate="tanh"),
    }[activation]
    tW = [torch.tensor(W, requires_grad=True) for W in Ws]
    tb = [torch.tensor(b, requires_grad=True) for b in bs]
    h, th = torch.tensor(X), []
    for W, b in zip(tW[:-1], tb[:-1]):
        h = act(h @ W + b)
        h.retain_grad()
        th.append(h)
    tloss = torch.nn.functional.cross_entropy(h @ tW[-1] + tb[-1], torch.tensor(y))
    tloss.backward()
    assert abs(loss - tloss.item()) < 1e-12
    for ours, ref in zip(hs, th):
        np.testing.assert_allclose(ours, ref.detach().numpy(), atol=1e-12)
    for ours, ref in zip(ghs, th):
        np.testing.assert_allclose(ours, ref.grad.numpy(), atol=1e-12)
    for ours, ref in zip(gWs + gbs, tW + tb):
        np.testing.assert_allclose(ours, ref.grad.numpy(), atol=1e-12)


def test_a_user_pair_and_a_user_init_give_the_same_as_the_names():
    X, y = data()
    named = layer_statistics(*make_mlp("he", 5, 16, seed=2), X, y, "relu")

    def he(fan_in, fan_out, rng):
        return rng.normal(0.0, np.sqrt(2 / fan_in), size=(fan_in, fan_out))

    mine = layer_statistics(*make_mlp(he, 5, 16, seed=2), X, y, (A.relu, A.relu_derivative))
    for k in ("forward", "backward", "dead"):
        np.testing.assert_array_equal(named[k], mine[k])
    # per-example gradient std: N times the std of dL/dh, computed directly
    _, _, _, ghs, _, _ = forward_backward(*make_mlp("he", 5, 16, seed=2), X, y, "relu")
    np.testing.assert_allclose(named["backward"], [len(X) * g.std() for g in ghs])


def test_dead_units_are_counted():
    X, y = data()
    Ws, bs = make_mlp("he", 2, 10, seed=0)
    bs[0][:4] = -1e3  # 4 of 10 units of layer 1 never fire
    stats = layer_statistics(Ws, bs, X, y, "relu")
    assert stats["dead"][0] == pytest.approx(0.4)
    leaky = layer_statistics(Ws, bs, X, y, "leaky relu")
    assert leaky["dead"][0] == 0.0  # leaky ReLU's slope on the left is 0.01, never 0


def test_bad_activation_or_init_is_named():
    with pytest.raises(ValueError, match="unknown activation 'rellu'"):
        layer_statistics(*make_mlp("he", 2, 4), *data(), "rellu")
    with pytest.raises(TypeError, match=r"pair \(f, df\)"):
        layer_statistics(*make_mlp("he", 2, 4), *data(), (A.relu,))
    with pytest.raises(ValueError, match="unknown initialization 'hee'"):
        make_mlp("hee", 2, 4)
    with pytest.raises(ValueError, match="init returned shape"):
        make_mlp(lambda a, b, rng: np.zeros((b, a)), 2, 4)


def test_train_momentum_follows_torch_sgd():
    X, y = data()
    Ws, bs = make_mlp("he", 3, 8, seed=0)
    tparams = [torch.tensor(p.copy(), requires_grad=True) for p in Ws + bs]
    losses = train_momentum(Ws, bs, X, y, lr=0.05, steps=10, momentum=0.9, activation="tanh")
    opt = torch.optim.SGD(tparams, lr=0.05, momentum=0.9)
    tl = []
    for _ in range(10):
        opt.zero_grad()
        h = torch.tensor(X)
        tW, tb = tparams[:4], tparams[4:]
        for W, b in zip(tW[:-1], tb[:-1]):
            h = torch.tanh(h @ W + b)
        loss = torch.nn.functional.cross_entropy(h @ tW[-1] + tb[-1], torch.tensor(y))
        loss.backward()
        opt.step()
        tl.append(loss.item())
    np.testing.assert_allclose(losses, tl, atol=1e-12)


def _numpy_mlp(Ws, bs, X, y, f, df):
    """The hand-written NumPy backprop views/layers.py had before it ran on the engine: loss,
    z's, h's, dL/dh's and parameter gradients, with its own softmax cross-entropy."""
    hs, zs = [X], []
    for W, b in zip(Ws[:-1], bs[:-1]):
        zs.append(hs[-1] @ W + b)
        hs.append(f(zs[-1]))
    logits = hs[-1] @ Ws[-1] + bs[-1]
    shifted = logits - logits.max(axis=1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -logp[np.arange(len(y)), y].mean()
    g = np.exp(logp)
    g[np.arange(len(y)), y] -= 1
    g /= len(y)
    gWs, gbs, ghs = [None] * len(Ws), [None] * len(Ws), [None] * (len(Ws) - 1)
    for layer in range(len(Ws) - 1, -1, -1):
        gWs[layer], gbs[layer] = hs[layer].T @ g, g.sum(axis=0)
        if layer > 0:
            ghs[layer - 1] = g @ Ws[layer].T
            g = ghs[layer - 1] * df(zs[layer - 1])
    return loss, zs, hs[1:], ghs, gWs, gbs


PAIRS = ACTIVATIONS  # the (f, df) pairs the names stand for


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # xavier x 3 overflows: nan on both sides
@pytest.mark.parametrize("activation", list(PAIRS))
@pytest.mark.parametrize("init, scale", [("he", 1.0), ("xavier", 3.0), ("small normal", 1.0)])
def test_layer_statistics_on_the_engine_give_the_old_numpy_numbers(activation, init, scale):
    """Lesson 09's playground setting (depth 20, width 32, 3 spiral classes): the per-layer
    statistics and 15 momentum steps on the engine equal the former hand-written NumPy code."""
    from mathdl.data import spirals

    X, y = spirals(n_per_class=50, n_classes=3, noise=0.2, seed=0)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    f, df = PAIRS[activation]
    Ws, bs = make_mlp(init, 20, 32, scale=scale, seed=4)
    loss, zs, hs, ghs, _, _ = _numpy_mlp(Ws, bs, X, y, f, df)
    stats = layer_statistics(Ws, bs, X, y, activation)
    assert stats["loss"] == pytest.approx(loss, rel=1e-12)
    np.testing.assert_allclose(stats["forward"], [h.std() for h in hs], rtol=1e-10)
    np.testing.assert_allclose(stats["backward"], [len(X) * g.std() for g in ghs], rtol=1e-9)
    np.testing.assert_array_equal(stats["dead"], [np.all(df(z) == 0, axis=0).mean() for z in zs])
    old, velocity = [], [np.zeros_like(p) for p in Ws + bs]
    params = [p.copy() for p in Ws + bs]
    for _ in range(15):
        out = _numpy_mlp(params[:21], params[21:], X, y, f, df)
        old.append(out[0])
        if not np.isfinite(out[0]):  # the former trainer stopped there
            break
        for i, g in enumerate(out[4] + out[5]):
            velocity[i] = 0.9 * velocity[i] + g
            params[i] -= 0.03 * velocity[i]
    new = train_momentum(Ws, bs, X, y, lr=0.03, steps=15, activation=activation)
    np.testing.assert_allclose(new, old, rtol=1e-9)
    if np.isfinite(old).all():
        for ours, ref in zip(Ws + bs, params):  # trained in place, as before
            np.testing.assert_allclose(ours, ref, rtol=1e-8, atol=1e-12)


def test_layer_view_counts_points_off_the_scale_and_keeps_big_losses():
    fig = Figure()
    view = LayerStatsView(*fig.subplots(1, 2), depth=3, steps=5)
    stats = {"forward": np.array([1.0, 1e-20, np.nan]), "backward": np.ones(3), "dead": np.zeros(3)}
    view.show(stats, np.array([1.1, 5.0, 12.0, 40.0, 300.0]))
    assert "2 points off the scale" in view.title.get_text()
    np.testing.assert_array_equal(view.loss.get_ydata(), [1.1, 5.0, 12.0, 40.0, 300.0])


def test_layer_playground_with_a_user_activation_and_init():
    X, y = data(60)
    pg = layer_stats_playground(
        X,
        y,
        depth=4,
        width=8,
        steps=3,
        activations={"relu": "relu", "softplus": (lambda z: np.logaddexp(0, z), A.sigmoid)},
        inits={"he": "he", "ones/10": lambda a, b, rng: np.full((a, b), 0.1)},
    )
    pg.set(activation="softplus", init="ones/10")
    assert pg.errors == []
    assert "step 2" in pg.axes[1].get_title()


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


# ----- the lessons that use these views ----------------------------------------------------------
LESSONS_B = [
    "06_activations",
    "07_losses",
    "08_optimizers",
    "09_initialization",
    "10_putting_it_together",
]


@pytest.mark.parametrize("name", LESSONS_B)
def test_lesson_code_cells_have_at_most_30_lines_and_playgrounds_dpi_100(name):
    import json
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "notebooks" / f"{name}.ipynb"
    cells = [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
    sources = ["".join(c["source"]) for c in cells]
    long = {
        i: n
        for i, s in enumerate(sources)
        if (n := sum(bool(ln.strip()) for ln in s.splitlines())) > 30
    }
    assert long == {}, f"{name}: code cells over 30 non-blank lines: {long}"
    for s in sources:
        if "Playground(" in s:
            assert "dpi=100" in s, f"{name}: a Playground without dpi=100"


def _view_callables():
    import inspect

    from mathdl.views import boundary, layers, race

    for module in (race, layers, boundary):
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isfunction(obj):
                yield f"{module.__name__}.{name}", obj
            elif inspect.isclass(obj):
                for attr, member in vars(obj).items():
                    if (not attr.startswith("_") or attr == "__init__") and inspect.isfunction(
                        member
                    ):
                        yield f"{module.__name__}.{name}.{attr}", member


@pytest.mark.parametrize(
    "name, fn", list(_view_callables()), ids=lambda v: v if isinstance(v, str) else ""
)
def test_view_api_is_annotated(name, fn):
    import inspect
    import typing

    sig = inspect.signature(fn)
    missing = [
        p.name for p in sig.parameters.values() if p.name != "self" and p.annotation is p.empty
    ]
    assert not missing, f"{name}: parameters without a type hint: {missing}"
    if fn.__name__ != "__init__":
        assert sig.return_annotation is not sig.empty, f"{name}: no return hint"
    typing.get_type_hints(fn)


# ----- blitting: the fast redraw shows what a full draw shows -----------------------------------
def _blit_vs_full(pg, threshold=60):
    """Fraction of pixels where the blitted picture differs from a full draw of the figure."""
    import io

    from PIL import Image

    blitted = np.asarray(Image.open(io.BytesIO(pg.image.value)).convert("RGB")).astype(int)
    animated = pg.figure.findobj(lambda a: a.get_animated())
    assert animated, "nothing is animated: blitting would redraw nothing"
    for a in animated:
        a.set_animated(False)
    try:
        pg.figure.canvas.draw()
        full = np.asarray(pg.figure.canvas.buffer_rgba())[..., :3].astype(int)
    finally:
        for a in animated:
            a.set_animated(True)
    assert blitted.shape == full.shape
    return np.mean(np.abs(blitted - full).max(axis=-1) > threshold)


def test_race_playground_blits_the_same_picture_even_between_surfaces_with_equal_limits():
    pg = race_playground(surfaces=("ravine", "quadratic"), steps=60)
    assert pg.blit
    pg.set(lr=0.05)
    pg.set(surface="quadratic")  # same square view as the ravine: other contours all the same
    assert _blit_vs_full(pg) < 0.01
    pg.set(surface="ravine", lr=0.02)
    assert _blit_vs_full(pg) < 0.01
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


def test_layer_playground_blits_the_same_picture_and_caches_by_setting():
    X, y = data(60)
    pg = layer_stats_playground(X, y, depth=4, width=8, steps=4)
    pg.set(lr=0.1)
    loss_01 = pg.axes[1].lines[-1].get_ydata().copy()
    pg.set(lr=0.01)
    assert _blit_vs_full(pg) < 0.01
    pg.set(lr=0.1)
    np.testing.assert_array_equal(pg.axes[1].lines[-1].get_ydata(), loss_01)
    Ws, bs = make_mlp("he", 4, 8, seed=0)
    np.testing.assert_allclose(loss_01, train_momentum(Ws, bs, X, y, 0.1, 4), rtol=1e-12)


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
    assert _blit_vs_full(pg) < 0.01
