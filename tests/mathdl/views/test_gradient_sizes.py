"""Lesson 05's playground: gradient sizes per layer while a deep MLP trains.

train_deep is checked against torch (autograd gradients, torch.optim.SGD) on the same initial
weights; the picture of a setting must not depend on the settings shown before it (a diverged
setting used to keep the previous setting's bars); every control is swept over all its values.
"""

import inspect
import io
import itertools
import typing

import ipywidgets as widgets
import numpy as np
import pytest
import torch
from PIL import Image

from mathdl.data import spirals
from mathdl.init import initialize
from mathdl.views.gradient_sizes import (
    ACTIVATIONS,
    GradientSizesView,
    gradient_sizes_playground,
    train_deep,
)
from tests.helpers.refs import numpy_mlp_backprop

TORCH_ACT = {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid}


def data(n_per_class=10):
    X, y = spirals(n_per_class=n_per_class, n_classes=3, seed=0)
    return X, np.eye(3)[y]


def numpy_grads(Ws, bs, X, Y, activation):
    """A backward pass written apart from the lesson's (the reference the playground runs)."""
    loss, _zs, _hs, _ghs, gW, gb = numpy_mlp_backprop(Ws, bs, X, Y.argmax(axis=1), *activation)
    return loss, gW, gb


def torch_run(X, Y, lr, init, seed, activation, depth, width, steps):
    sizes = [X.shape[1]] + [width] * (depth - 1) + [Y.shape[1]]
    rng = np.random.default_rng(seed)
    Ws = [
        torch.tensor(initialize(init, m, n, rng=rng), requires_grad=True)
        for m, n in itertools.pairwise(sizes)
    ]
    bs = [torch.zeros(n, dtype=torch.float64, requires_grad=True) for n in sizes[1:]]
    opt = torch.optim.SGD(Ws + bs, lr=lr)
    Xt, yt = torch.tensor(X), torch.tensor(Y.argmax(axis=1))
    losses, norms = [], []
    for t in range(steps + 1):
        h = Xt
        for W, b in zip(Ws[:-1], bs[:-1]):
            h = TORCH_ACT[activation](h @ W + b)
        loss = torch.nn.functional.cross_entropy(h @ Ws[-1] + bs[-1], yt)
        opt.zero_grad()
        loss.backward()
        losses.append(loss.item())
        if t in (0, steps):
            norms.append([W.grad.norm().item() for W in Ws])
        opt.step()
    return np.array(losses), np.array(norms)


@pytest.mark.parametrize(
    "activation, init, depth", [("relu", "he", 5), ("tanh", "xavier", 4), ("sigmoid", "he", 3)]
)
def test_train_deep_is_gradient_descent_as_torch_runs_it(activation, init, depth):
    X, Y = data()
    ours = train_deep(
        numpy_grads, X, Y, lr=0.1, init=init, seed=3, activation=activation, depth=depth, width=8,
        steps=7,
    )  # fmt: skip
    theirs = torch_run(X, Y, 0.1, init, 3, activation, depth, 8, 7)
    assert ours[0].shape == (8,) and ours[1].shape == (2, depth)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-10)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-8)


def test_train_deep_takes_a_pair_and_refuses_bad_input():
    X, Y = data()
    by_name = train_deep(numpy_grads, X, Y, lr=0.1, init="he", seed=0, activation="tanh", depth=3)
    by_pair = train_deep(
        numpy_grads, X, Y, lr=0.1, init="he", seed=0, activation=ACTIVATIONS["tanh"], depth=3
    )
    np.testing.assert_array_equal(by_name[0], by_pair[0])
    zero_steps = train_deep(
        numpy_grads, X, Y, lr=0.1, init="he", seed=0, activation="relu", depth=3, steps=0
    )
    assert zero_steps[1].shape == (2, 3)
    with pytest.raises(ValueError, match="unknown activation 'gelu'"):
        train_deep(numpy_grads, X, Y, lr=0.1, init="he", seed=0, activation="gelu", depth=3)
    with pytest.raises(ValueError, match="one-hot"):
        train_deep(
            numpy_grads, X, Y.argmax(axis=1), lr=0.1, init="he", seed=0, activation="relu", depth=3
        )
    with pytest.raises(ValueError, match="depth"):
        train_deep(numpy_grads, X, Y, lr=0.1, init="he", seed=0, activation="relu", depth=0)
    with pytest.raises(ValueError, match="max_depth"):
        gradient_sizes_playground(numpy_grads, X, Y, max_depth=1)


def test_a_diverged_run_is_kept_and_flagged():
    X, Y = data()
    losses, norms = train_deep(
        numpy_grads, X, Y, lr=10.0, init="he", seed=0, activation="relu", depth=8
    )
    assert not np.isfinite(losses).all() or losses.max() > 50 * losses[0]
    from matplotlib.figure import Figure

    view = GradientSizesView(Figure().subplots(1, 2), 12, 30)
    assert view.show(losses, norms) is True
    ok = train_deep(numpy_grads, X, Y, lr=0.01, init="he", seed=0, activation="relu", depth=8)
    assert view.show(*ok) is False


def pixels(pg):
    return np.asarray(Image.open(io.BytesIO(pg.image.value)).convert("RGB"))


def test_the_picture_of_a_setting_does_not_depend_on_what_was_shown_before():
    X, Y = data()
    histories = (
        [dict(lr=10.0)],  # straight from the start to the diverged setting
        [
            dict(depth=3, init="xavier", seed=5),
            dict(lr=10.0),
            dict(init="he", seed=0),
            dict(depth=8),
        ],
    )
    pictures = []
    for history in histories:
        pg = gradient_sizes_playground(numpy_grads, X, Y, lr=0.079)
        for values in history:
            pg.set(**values)
        assert pg.values() == dict(lr=10.0, init="he", seed=0, activation="relu", depth=8)
        assert pg.diverged
        pictures.append(pixels(pg))
        assert sum(b.get_visible() for b in pg.view.bars.second) == 8
    np.testing.assert_array_equal(pictures[0], pictures[1])


def test_playground_survives_every_value_of_every_control():
    X, Y = data(20)
    pg = gradient_sizes_playground(numpy_grads, X, Y)
    assert list(pg.controls) == ["lr", "init", "seed", "activation", "depth"]
    for name, w in pg.controls.items():
        if isinstance(w, widgets.Dropdown):
            values = list(w.options)
        elif isinstance(w, widgets.FloatLogSlider):
            n = round((w.max - w.min) / w.step)
            values = [w.base ** (w.min + k * w.step) for k in range(n + 1)]
        else:
            values = list(range(w.min, w.max + 1))
        start = w.value
        for v in values:
            pg.set(**{name: v})
        pg.set(**{name: start})
        assert len(values) >= 3, name
    assert pg.errors == []
    # the picture shows what train_deep returns for the setting
    pg.set(lr=0.1, depth=5, activation="tanh")
    losses, _ = train_deep(numpy_grads, X, Y, lr=0.1, init="he", seed=0, activation="tanh", depth=5)
    np.testing.assert_array_equal(pg.view.loss.lines["loss"].get_ydata(), losses)


@pytest.mark.parametrize(
    "fn",
    [train_deep, gradient_sizes_playground, GradientSizesView.__init__, GradientSizesView.show],
)
def test_api_is_annotated(fn):
    sig = inspect.signature(fn)
    assert all(p.annotation is not p.empty for p in sig.parameters.values() if p.name != "self")
    if fn.__name__ != "__init__":
        assert sig.return_annotation is not sig.empty
    typing.get_type_hints(fn)


def test_the_blitted_picture_is_the_full_drawing():
    # the bars' legend sits where tall bars go (lower right): it must be drawn over them
    from tests.helpers.pictures import blit_vs_full

    X, Y = data()
    pg = gradient_sizes_playground(numpy_grads, X, Y)
    pg.set(depth=12, activation="sigmoid")
    assert blit_vs_full(pg) < 0.01
    pg.set(activation="relu", depth=8, lr=10.0)
    assert pg.diverged
    assert blit_vs_full(pg) < 0.01
