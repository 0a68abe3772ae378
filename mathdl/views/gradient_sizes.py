"""Gradient sizes layer by layer while a deep MLP trains: lesson 05's playground.

The backward pass is the lesson's own: ``grads(Ws, bs, X, Y, activation) -> (loss, gWs, gbs)``
with ``activation`` an ``(f, f')`` pair, for an MLP whose hidden layers apply ``f`` (the
loop of lesson 05, §7). :func:`train_deep` runs full-batch gradient descent with it (plain NumPy)
and records the loss at every step and every layer's ``||dL/dW_l||`` at initialization and after the
last step; :class:`GradientSizesView` draws one setting (bars per layer, the loss curve), and
:func:`gradient_sizes_playground` puts both behind the course's controls.
"""

import itertools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..activations import relu, relu_derivative, sigmoid, sigmoid_derivative, tanh, tanh_derivative
from ..init import initialize

__all__ = [
    "ACTIVATIONS",
    "GradientSizesView",
    "gradient_sizes_playground",
    "train_deep",
]

ArrayFn = Callable[[np.ndarray], np.ndarray]
Activation = tuple[ArrayFn, ArrayFn]
Grads = Callable[
    [list[np.ndarray], list[np.ndarray], np.ndarray, np.ndarray, Activation],
    tuple[float, list[np.ndarray], list[np.ndarray]],
]

#: The activations the playground offers, each a function and its derivative.
ACTIVATIONS: dict[str, Activation] = {
    "relu": (relu, relu_derivative),
    "tanh": (tanh, tanh_derivative),
    "sigmoid": (sigmoid, sigmoid_derivative),
}


def train_deep(
    grads: Grads,
    X: np.ndarray,
    Y: np.ndarray,
    *,
    lr: float,
    init: str,
    seed: int,
    activation: str | Activation,
    depth: int,
    width: int = 32,
    steps: int = 30,
) -> tuple[np.ndarray, np.ndarray]:
    """``steps`` of gradient descent on an MLP with ``depth`` weight layers (``width`` hidden
    units, weights by ``init`` from ``np.random.default_rng(seed)``, biases 0), one-hot targets
    ``Y``. Returns the loss before each step and after the last, shape (steps + 1,), and
    ``||dL/dW_l||`` for every layer at initialization and at the end, shape (2, depth). Not
    finite values (a diverged run) stay in the arrays."""
    if isinstance(activation, str) and activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; choose one of {list(ACTIVATIONS)}")
    act = ACTIVATIONS[activation] if isinstance(activation, str) else activation
    if depth < 1 or width < 1 or steps < 0:
        raise ValueError(f"need depth >= 1, width >= 1, steps >= 0, got {depth}, {width}, {steps}")
    X, Y = np.asarray(X, float), np.asarray(Y, float)
    if Y.ndim != 2 or len(Y) != len(X):
        raise ValueError(f"Y must be one-hot, one row per example: X {X.shape}, Y {Y.shape}")
    sizes = [X.shape[1]] + [width] * (depth - 1) + [Y.shape[1]]
    rng = np.random.default_rng(seed)
    Ws = [initialize(init, m, n, rng=rng) for m, n in itertools.pairwise(sizes)]
    bs = [np.zeros(n) for n in sizes[1:]]
    losses, norms = [], []
    with np.errstate(all="ignore"):
        for t in range(steps + 1):
            loss, gW, gb = grads(Ws, bs, X, Y, act)
            losses.append(float(loss))
            if t in (0, steps):
                norms.append([float(np.linalg.norm(g)) for g in gW])
            Ws = [W - lr * g for W, g in zip(Ws, gW)]
            bs = [b - lr * g for b, g in zip(bs, gb)]
    if steps == 0:
        norms.append(norms[0])
    return np.array(losses), np.array(norms)


class GradientSizesView:
    """Left: ``||dL/dW_l||`` per layer at initialization and after training (log scale); right:
    the loss per step. :meth:`show` draws one setting from its results alone."""

    def __init__(self, axes: Sequence[Any], max_depth: int, steps: int) -> None:
        from .curves import Curves
        from .per_layer import LayerBars

        self.bars = LayerBars(axes[0], max_depth, labels=("at init", f"after {steps} steps"))
        # drawn after the bars at every redraw, so that tall bars never hide it
        axes[0].get_legend().set_animated(True)
        self.loss = Curves(
            axes[1],
            {"loss": dict(color="crimson")},
            xlim=(0, steps),
            ylim=(0, 3),
            log=False,
            ylabel="cross-entropy",
            readout=(0.5, 1.02, "center", "bottom"),
        )

    def show(self, losses: np.ndarray, norms: np.ndarray) -> bool:
        """Draw a run of :func:`train_deep`; True when it diverged (its loss not finite or above
        50 times its start). Every artist is set, so the picture depends on this run only."""
        diverged = bool(
            not (np.all(np.isfinite(losses)) and np.all(np.isfinite(norms)))
            or losses.max() > 50 * losses[0]
        )
        self.loss.set("loss", losses)
        self.loss.say(
            "the loss exploded" if diverged else f"loss {losses[0]:.3f} → {losses[-1]:.3f}"
        )
        self.bars.set(norms[0], norms[1])
        if norms.max() < 1e-12:
            self.bars.say("all weight gradients are 0 (up to rounding)")
        else:
            first_last = norms[0, 0] / max(norms[0, -1], 1e-300)
            self.bars.say(f"at init, layer 1 / layer {len(norms[0])}: {first_last:.1e}")
        return diverged


def gradient_sizes_playground(
    grads: Grads,
    X: np.ndarray,
    Y: np.ndarray,
    *,
    max_depth: int = 12,
    width: int = 32,
    steps: int = 30,
    lr: float = 0.079,
) -> Any:
    """Controls for the learning rate, initialization, seed, activation and depth; the picture of
    :class:`GradientSizesView` for :func:`train_deep` with the lesson's ``grads``. Each setting is
    trained once. Returns the :class:`mathdl.playground.Playground`."""
    import ipywidgets as widgets  # here: importing this module needs NumPy only

    from ..playground import (
        WIDGET_STYLE,
        Diverged,
        dropdown,
        init_dropdown,
        lr_slider,
        seed_slider,
    )
    from .build import Memo, view_playground

    if max_depth < 2:
        raise ValueError(f"max_depth must be at least 2, got {max_depth}")
    memo = Memo()

    def draw(
        view: GradientSizesView, lr: float, init: str, seed: int, activation: str, depth: int
    ) -> None:
        def run() -> tuple[np.ndarray, np.ndarray]:
            return train_deep(
                grads, X, Y, lr=lr, init=init, seed=seed, activation=activation, depth=depth,
                width=width, steps=steps,
            )  # fmt: skip

        losses, norms = memo((lr, init, seed, activation, depth), run)
        if view.show(losses, norms):
            raise Diverged(f"the loss exploded (lr = {lr:.2g})")

    depth_slider = widgets.IntSlider(
        value=min(8, max_depth),
        min=2,
        max=max_depth,
        description="depth (layers)",
        continuous_update=True,
        **WIDGET_STYLE,
    )
    return view_playground(
        lambda axes: GradientSizesView(axes, max_depth, steps),
        draw,
        figsize=(9, 3.4),
        lr=lr_slider(lr, max=10.0),
        init=init_dropdown("he"),
        seed=seed_slider(),
        activation=dropdown(list(ACTIVATIONS), "relu", "activation"),
        depth=depth_slider,
    )
