"""Mini-batch SGD against full-batch gradient descent (lesson 02's playground).

* :func:`batch_curves`: the experiment, NumPy only: the excess loss L(theta_t) - L* per step of
  the lesson's own training function at the chosen batch size and at the full batch, the examples
  processed per step, and the mean excess loss over the last steps (the noise floor);
* :class:`BatchView`: the two curves per step (left) and per example processed (right, log x);
* :func:`minibatch_playground`: sliders for the learning rate, the batch size, the initialization
  and the seed. The full-batch curve does not depend on the batch size: it is computed once per
  (learning rate, initialization, seed).
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .build import Memo, view_playground
from .curves import Curves

__all__ = ["BatchCurves", "BatchView", "batch_curves", "minibatch_playground"]

#: ``train(lr, batch_size, init, seed) -> the full-data loss before and after every step`` (the
#: lesson's mini-batch SGD; it may stop early once the loss is 1e6 or more).
Train = Callable[[float, int, str, int], Sequence[float] | np.ndarray]

#: A loss at or above this (or not finite) counts as diverged, as in the lesson.
DIVERGED = 1e6

#: The steps the noise floor is averaged over.
FLOOR_STEPS = 50


@dataclass(frozen=True)
class BatchCurves:
    """Excess losses per step (SGD and full batch), the batch size and the data set's size."""

    sgd: np.ndarray
    full: np.ndarray
    batch_size: int
    n_data: int

    @property
    def floor(self) -> float:
        """The mean excess loss over the last :data:`FLOOR_STEPS` steps of SGD."""
        return float(self.sgd[-FLOOR_STEPS:].mean())

    @property
    def diverged(self) -> str | None:
        """None, or which run diverged ("sgd" before "full")."""
        for name, curve in (("sgd", self.sgd), ("full", self.full)):
            if not curve[-1] < DIVERGED:
                return name
        return None

    def work(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(examples processed, excess loss) after every step of run ``name``."""
        curve = self.sgd if name == "sgd" else self.full
        per_step = self.batch_size if name == "sgd" else self.n_data
        return np.arange(1, len(curve)) * per_step, curve[1:]


def batch_curves(
    train: Train,
    lr: float,
    batch_size: int,
    init: str,
    seed: int,
    *,
    best_loss: float,
    n_data: int,
    full: np.ndarray | None = None,
) -> BatchCurves:
    """Run ``train`` at ``batch_size`` (and at ``n_data``, unless its losses ``full`` are given)
    and subtract the best possible loss ``best_loss``."""
    if not 1 <= batch_size <= n_data:
        raise ValueError(f"batch size must lie in 1 .. {n_data}, got {batch_size}")
    full = np.asarray(train(lr, n_data, init, seed), float) if full is None else full
    sgd = np.asarray(train(lr, batch_size, init, seed), dtype=float)
    for name, run in (("batch", sgd), ("full batch", np.asarray(full))):
        if run.ndim != 1 or len(run) == 0:
            raise ValueError(f"train must return losses per step; the {name} run gave {run.shape}")
    return BatchCurves(sgd - best_loss, np.asarray(full, float) - best_loss, batch_size, n_data)


class BatchView:
    """The excess loss of both runs per step (left) and per example processed (right)."""

    def __init__(self, axes: Sequence[Any], n_data: int, steps: int) -> None:
        lines = {
            "full": dict(color="0.6", lw=1.5, label=f"full batch (B = {n_data})"),
            "sgd": dict(color="tab:blue", lw=1, label="your batch size"),
        }
        self.step = Curves(
            axes[0],
            lines,
            xlim=(0, steps),
            ylim=(1e-6, 1e2),
            ylabel="excess loss L - L*",
            title="loss per step",
            readout=(0.02, 0.03, "left", "bottom"),
            legend_loc="upper right",
        )
        self.work = Curves(
            axes[1],
            lines,
            xlim=(1, steps * n_data),
            ylim=(1e-6, 1e2),
            xlog=True,
            ylabel="",
            xlabel="examples processed (work)",
            title="loss per unit of work",
            legend_loc="upper right",
        )

    def show(self, curves: BatchCurves) -> None:
        for name in ("full", "sgd"):
            self.step.set(name, getattr(curves, name))
            work, loss = curves.work(name)
            self.work.set(name, loss, x=work)
        self.step.say(
            f"B = {curves.batch_size}: mean excess loss over the last "
            f"{FLOOR_STEPS} steps {curves.floor:.2g}"
        )


def minibatch_playground(
    train: Train,
    *,
    best_loss: float,
    n_data: int,
    limit: float,
    steps: int = 200,
    lr: float = 0.05,
    batch_size: int = 8,
) -> Any:
    """Sliders for the learning rate, batch size (powers of 2 up to ``n_data``), initialization
    and seed; ``limit`` is full-batch descent's largest stable rate 2/lambda_max, named when the
    full batch diverges. Returns the :class:`mathdl.playground.Playground`."""
    from ..playground import Diverged, choice_slider, init_dropdown, lr_slider, seed_slider

    sizes = [2**k for k in range(int(np.log2(n_data)) + 1)]
    sizes += [] if sizes[-1] == n_data else [n_data]
    full_runs = Memo(128)  # the grey reference does not depend on the batch size

    def draw(view: BatchView, lr: float, batch_size: int, init: str, seed: int) -> None:
        full = full_runs((lr, init, seed), lambda: np.asarray(train(lr, n_data, init, seed)))
        curves = batch_curves(
            train, lr, batch_size, init, seed, best_loss=best_loss, n_data=n_data, full=full
        )
        view.show(curves)
        if curves.diverged == "sgd":
            raise Diverged(f"B = {batch_size}, lr = {lr:.2g}")
        if curves.diverged == "full":
            raise Diverged(f"full batch: lr > 2/λmax = {limit:.2f}")

    return view_playground(
        lambda axes: BatchView(axes, n_data, steps),
        draw,
        figsize=(9, 3.4),
        lr=lr_slider(lr, min=1e-3, max=10.0),
        batch_size=choice_slider(sizes, value=batch_size, description="batch size"),
        init=init_dropdown("he"),
        seed=seed_slider(),
    )
