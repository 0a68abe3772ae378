"""A classifier's decision regions as it trains: lesson 10's playground (a button trains further)
and lesson 06's (:func:`classifier_playground`, one training run per setting of the controls).

The network is the lesson's own: pass ``init_params(D, H, C, scheme=, seed=) -> params`` (a dict of
arrays), ``loss_and_grads(params, X, y) -> (loss, grads)`` (same keys) and
``predict_proba(params, points) -> (M, C)`` class probabilities. Training is full-batch SGD with
momentum (torch's rule, v = mu v + g, p -= lr v). Each setting (learning rate, initialization,
hidden width, seed) remembers how far it has been trained, so moving a slider back shows that
setting again without retraining.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # the views need matplotlib and ipywidgets: imported when a playground is built
    from ..playground import Playground
    from .boundary import BoundaryView

__all__ = ["TrainingRun", "boundary_training_playground", "classifier_playground"]

#: A network's parameters by name (the lesson's dict of arrays).
Params = dict[str, np.ndarray]
#: ``loss_and_grads(params, X, y) -> (loss, grads)``, grads with the keys of params.
LossAndGrads = Callable[[Params, np.ndarray, np.ndarray], tuple[float, Params]]
#: ``predict_proba(params, points) -> (M, C)`` class probabilities.
PredictProba = Callable[[Params, np.ndarray], np.ndarray]


class TrainingRun:
    """The parameters, velocities and losses of one setting, trained in place by :meth:`advance`."""

    def __init__(
        self, params: Params, loss_and_grads: LossAndGrads, X: np.ndarray, y: np.ndarray
    ) -> None:
        self.params = params
        self.velocity = {k: np.zeros_like(a) for k, a in params.items()}
        self.loss_and_grads, self.X, self.y = loss_and_grads, X, y
        self.losses: list[float] = []
        self.diverged = False

    def advance(self, lr: float, steps: int, momentum: float = 0.9) -> None:
        """``steps`` more steps of SGD with momentum; stops for good once the loss is not finite or > 1e3."""
        for _ in range(steps):
            if self.diverged:
                return
            with np.errstate(all="ignore"):
                loss, grads = self.loss_and_grads(self.params, self.X, self.y)
            self.losses.append(float(loss))
            if not np.isfinite(loss) or loss > 1e3:
                self.diverged = True
                return
            for k, g in grads.items():
                self.velocity[k] = momentum * self.velocity[k] + g
                self.params[k] -= lr * self.velocity[k]


class _TrainingPicture:
    """What the playground's picture shows for a setting: one :class:`TrainingRun` per setting,
    advanced by the "train" button, and its decision regions computed once per step count."""

    def __init__(
        self,
        init_params: Callable[..., Params],
        loss_and_grads: LossAndGrads,
        predict_proba: PredictProba,
        X: np.ndarray,
        y: np.ndarray,
        steps: int,
    ) -> None:
        self.init_params, self.loss_and_grads = init_params, loss_and_grads
        self.predict_proba = predict_proba
        self.X, self.y, self.steps = X, y, steps
        self.n_classes = int(np.max(y)) + 1
        self.runs: dict[tuple[float, str, int, int], TrainingRun] = {}
        self.shown: dict[tuple[float, str, int, int], tuple[int, np.ndarray, str]] = {}
        self.clicks_seen = 0

    def run_for(
        self, lr: float, init: str, width: int, seed: int, train: int
    ) -> tuple[tuple[float, str, int, int], TrainingRun]:
        key = (lr, init, width, seed)
        if key not in self.runs:
            params = self.init_params(
                self.X.shape[1], width, self.n_classes, scheme=init, seed=seed
            )
            self.runs[key] = TrainingRun(params, self.loss_and_grads, self.X, self.y)
            self.runs[key].advance(lr, self.steps)
        run = self.runs[key]
        if train > self.clicks_seen:
            run.advance(lr, self.steps * (train - self.clicks_seen))
        self.clicks_seen = train
        return key, run

    def draw(
        self, view: BoundaryView, lr: float, init: str, width: int, seed: int, train: int
    ) -> None:
        from ..playground import Diverged

        key, run = self.run_for(lr, init, width, seed, train)
        n = len(run.losses)
        if run.diverged:
            view.show(None, run.losses, f"step {n}: diverged")
            raise Diverged(f"loss {run.losses[-1]:.3g} at step {n}")
        if key not in self.shown or self.shown[key][0] != n:  # the regions at step n, once
            accuracy = np.mean(self.predict_proba(run.params, self.X).argmax(axis=1) == self.y)
            probs = self.predict_proba(run.params, view.grid)
            self.shown[key] = (n, probs, f"step {n}: train accuracy {accuracy:.0%}")
        view.show(self.shown[key][1], run.losses, self.shown[key][2])


def boundary_training_playground(
    init_params: Callable[..., Params],
    loss_and_grads: LossAndGrads,
    predict_proba: PredictProba,
    X: np.ndarray,
    y: np.ndarray,
    steps_per_click: int = 100,
    widths: Sequence[int] = (2, 4, 8, 16, 32, 64),
    lr: float = 0.3,
    resolution: int = 50,
) -> Playground:
    """Sliders for learning rate, initialization, hidden width and seed, and a button that trains the
    network shown for ``steps_per_click`` more steps. Returns the :class:`mathdl.playground.Playground`.

    ``init_params(D, H, C, scheme=, seed=) -> params`` makes the network of hidden width H."""
    import ipywidgets as widgets  # here: importing this module needs NumPy only

    from ..playground import choice_slider, init_dropdown, lr_slider, seed_slider
    from .boundary import BoundaryView
    from .build import view_playground

    picture = _TrainingPicture(init_params, loss_and_grads, predict_proba, X, y, steps_per_click)

    def make_view(axes: Any) -> BoundaryView:
        ax, ax_loss = axes
        return BoundaryView(ax, ax_loss, X, y, resolution=resolution, steps=steps_per_click)

    return view_playground(
        make_view,
        picture.draw,
        figsize=(9.6, 3.8),
        lr=lr_slider(lr, min=1e-3, max=10.0),
        init=init_dropdown("he"),
        width=choice_slider(
            list(widths), value=16 if 16 in widths else widths[0], description="hidden width"
        ),
        seed=seed_slider(0),
        train=widgets.Button(description=f"train {steps_per_click} more steps"),
    )


def classifier_playground(
    trained: Callable[[str, float, str, int], tuple[Callable[[np.ndarray], Any] | None, Any, str]],
    datasets: Mapping[int, tuple[np.ndarray, np.ndarray]],
    activations: Sequence[str],
    steps: int,
    extent: Sequence[float] | None = None,
    lr: float = 1.0,
) -> Playground:
    """Controls for the activation, learning rate, initialization and seed (``datasets[seed] = (X, y)``).

    ``trained(activation, lr, init, seed) -> (predict, losses, title)`` trains the lesson's network;
    ``predict(points) -> labels`` (None when training diverged). Each setting is trained once.
    Returns the :class:`mathdl.playground.Playground`."""
    from ..playground import Diverged, dropdown, init_dropdown, lr_slider, seed_slider
    from .boundary import BoundaryView
    from .build import Memo, view_playground

    memo = Memo(2000)  # each setting trained once: moving a slider back only redraws

    def make_view(axes: Any) -> BoundaryView:
        ax, ax_loss = axes
        X, y = datasets[min(datasets)]
        return BoundaryView(ax, ax_loss, X, y, extent=extent, steps=steps)

    def draw(view: BoundaryView, activation: str, lr: float, init: str, seed: int) -> None:
        def train() -> tuple[np.ndarray | None, np.ndarray, str]:
            predict, losses, title = trained(activation, lr, init, seed)
            return (None if predict is None else predict(view.grid)), np.asarray(losses), title

        regions, losses, title = memo((activation, lr, init, seed), train)
        view.show(regions, losses, title, points=datasets[seed])
        if regions is None:
            bad = ~np.isfinite(losses)
            raise Diverged(f"loss became {losses[bad][0]} at step {np.argmax(bad)}")

    return view_playground(
        make_view,
        draw,
        figsize=(9.6, 3.6),
        activation=dropdown(activations, activations[0], description="activation"),
        lr=lr_slider(lr, min=1e-3, max=10.0),
        init=init_dropdown("he"),
        seed=seed_slider(),
    )
