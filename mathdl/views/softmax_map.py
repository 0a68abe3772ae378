"""A softmax classifier's P(y | x) over the plane as it trains (lesson 03's playground).

* :func:`softmax_run`: the experiment, NumPy only: the lesson's own training function gives W, b
  and the loss per step; from them the class probabilities softmax(x W + b) at the points of a
  grid and the training accuracy;
* :func:`softmax_playground`: sliders for the learning rate, the initialization and the seed,
  drawn by :class:`mathdl.views.boundary.BoundaryView` (colours blended by the probabilities,
  faded where the model is unsure; the loss per step, ln K dotted).
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..activations import softmax
from .build import Memo, view_playground

__all__ = ["SoftmaxRun", "softmax_playground", "softmax_run"]

#: ``train(lr, init, seed) -> (W (D, K), b (K,), losses per step)``: the lesson's training.
Train = Callable[[float, str, int], tuple[np.ndarray, np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class SoftmaxRun:
    """Probabilities on the grid (M, K) (None once training overflowed), losses, accuracy."""

    probabilities: np.ndarray | None
    losses: np.ndarray
    accuracy: float

    @property
    def diverged(self) -> bool:
        return self.probabilities is None


def softmax_run(
    train: Train, lr: float, init: str, seed: int, X: np.ndarray, y: np.ndarray, grid: np.ndarray
) -> SoftmaxRun:
    """Train once; P(y | x) = softmax(x W + b) on ``grid`` (M, D) and the accuracy on (X, y)."""
    W, b, losses = train(lr, init, seed)
    W, b, losses = np.asarray(W, float), np.asarray(b, float), np.asarray(losses, float)
    if W.ndim != 2 or W.shape[0] != grid.shape[1] or b.shape != (W.shape[1],) or losses.ndim != 1:
        raise ValueError(
            f"train must return W ({grid.shape[1]}, K), b (K,) and losses per step; "
            f"got {W.shape}, {b.shape}, {losses.shape}"
        )
    if not (np.isfinite(losses).all() and np.isfinite(W).all() and np.isfinite(b).all()):
        return SoftmaxRun(None, losses, float("nan"))
    accuracy = float(np.mean((X @ W + b).argmax(axis=1) == y))
    return SoftmaxRun(softmax(grid @ W + b, axis=1), losses, accuracy)


def softmax_playground(
    train: Train, X: np.ndarray, y: np.ndarray, steps: int = 150, lr: float = 0.01
) -> Any:
    """Sliders for the learning rate, initialization and seed; each new setting runs ``train``
    once (the last 256 are kept: moving a slider back only redraws). Left: P(y | x) over the
    plane and the points (X, y); right: the loss per step. Returns the
    :class:`mathdl.playground.Playground`."""
    from ..playground import Diverged, init_dropdown, lr_slider, seed_slider
    from .boundary import BoundaryView

    X, y = np.asarray(X, dtype=float), np.asarray(y)
    runs = Memo(256)  # moving a slider back redraws without training again

    def draw(view: BoundaryView, lr: float, init: str, seed: int) -> None:
        run = runs((lr, init, seed), lambda: softmax_run(train, lr, init, seed, X, y, view.grid))
        if run.diverged:
            view.show(None, run.losses, "P(y | x): diverged", "the loss overflowed")
            raise Diverged("the loss overflowed")
        title = f"P(y | x) after {len(run.losses)} steps: accuracy {run.accuracy:.0%}"
        view.show(
            run.probabilities, run.losses, title, f"loss {run.losses[0]:.3f} → {run.losses[-1]:.3f}"
        )

    return view_playground(
        lambda axes: BoundaryView(axes[0], axes[1], X, y, steps=steps, fontsize=9),
        draw,
        figsize=(9, 3.4),
        lr=lr_slider(lr),
        init=init_dropdown("he"),
        seed=seed_slider(),
    )
