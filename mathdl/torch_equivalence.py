"""``mathdl.optim`` against ``torch.optim``, step for step (lesson 08, §6).

:func:`compare_with_torch` runs each configuration of :data:`CONFIGS` with both libraries from the
same start on the same gradients (a surface's closed-form gradient; optionally mini-batch gradients
of a data set, the same batches for both) and prints, per configuration, the largest coordinate
difference between the two trajectories. torch is imported when the function runs, so importing
this module needs NumPy only.
"""

from collections.abc import Callable
from typing import Any

import numpy as np

from . import optim
from .surfaces import Surface, descent_path
from .tensor import Tensor

__all__ = ["CONFIGS", "MINIBATCH_CONFIGS", "compare_with_torch", "torch_path"]

#: (label, torch.optim class name, options): every option torch's SGD, RMSprop, Adam and AdamW
#: have that mathdl.optim implements.
CONFIGS: list[tuple[str, str, dict[str, Any]]] = [
    ("SGD", "SGD", dict(lr=1e-3)),
    ("SGD momentum", "SGD", dict(lr=1e-3, momentum=0.9)),
    ("SGD Nesterov", "SGD", dict(lr=1e-3, momentum=0.9, nesterov=True)),
    ("SGD dampening + decay", "SGD", dict(lr=1e-3, momentum=0.9, dampening=0.5, weight_decay=0.01)),
    ("RMSprop", "RMSprop", dict(lr=1e-2)),
    ("RMSprop centered + mom.", "RMSprop", dict(lr=1e-3, centered=True, momentum=0.9)),
    ("Adam", "Adam", dict(lr=0.05)),
    ("Adam AMSGrad + decay", "Adam", dict(lr=0.05, amsgrad=True, weight_decay=0.01)),
    ("AdamW", "AdamW", dict(lr=0.05)),
]
#: The configurations run on mini-batches.
MINIBATCH_CONFIGS: list[tuple[str, str, dict[str, Any]]] = [
    ("SGD momentum", "SGD", dict(lr=0.05, momentum=0.9)),
    ("Adam", "Adam", dict(lr=0.05)),
]
_OURS = {"SGD": "gd", "RMSprop": "rmsprop", "Adam": "adam", "AdamW": "adamw"}
BatchGradient = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _device_and_dtype() -> tuple[Any, Any]:
    import torch

    from .device import get_device

    device = get_device()
    # Apple GPUs have no float64: expect differences near 1e-6 there
    return device, torch.float32 if device.type == "mps" else torch.float64


def torch_path(
    surface: Surface, torch_name: str, options: dict[str, Any], steps: int
) -> np.ndarray:
    """The (steps + 1, 2) points ``torch.optim.<torch_name>(**options)`` visits on ``surface``
    from its start, fed the surface's closed-form gradient."""
    import torch

    device, dtype = _device_and_dtype()
    p = torch.tensor(surface.start, dtype=dtype, device=device, requires_grad=True)
    opt = getattr(torch.optim, torch_name)([p], **options)
    path = [p.detach().cpu().numpy().copy()]
    for _ in range(steps):
        opt.zero_grad()
        grad = surface.grad(p.detach().cpu().numpy())
        p.grad = torch.as_tensor(grad, dtype=dtype, device=device)
        opt.step()
        path.append(p.detach().cpu().numpy().copy())
    return np.array(path)


def _minibatch_difference(
    grad: BatchGradient, start: np.ndarray, n: int, torch_name: str, options: dict[str, Any],
    steps: int, batch: int, seed: int,
) -> tuple[float, np.ndarray]:  # fmt: skip
    import torch

    device, dtype = _device_and_dtype()
    rng = np.random.default_rng(seed)
    ours = Tensor(np.array(start, dtype=float), requires_grad=True)
    theirs = torch.tensor(start, dtype=dtype, device=device, requires_grad=True)
    opt_ours: optim.Optimizer = getattr(optim, torch_name)([ours], **options)
    opt_theirs = getattr(torch.optim, torch_name)([theirs], **options)
    worst = 0.0
    for _ in range(steps):
        idx = rng.choice(n, batch, replace=False)  # one batch, used by both
        ours.grad = grad(ours.data, idx)
        theirs.grad = torch.as_tensor(
            grad(theirs.detach().cpu().numpy(), idx), dtype=dtype, device=device
        )
        opt_ours.step()
        opt_theirs.step()
        worst = max(worst, float(np.abs(ours.data - theirs.detach().cpu().numpy()).max()))
    return worst, ours.data.copy()


def compare_with_torch(
    surface: Surface,
    steps: int = 300,
    *,
    minibatch: tuple[BatchGradient, np.ndarray, int] | None = None,
    minibatch_steps: int = 200,
    batch: int = 16,
    seed: int = 0,
) -> list[tuple[str, str, float]]:
    """Print and return, per configuration, the largest |mathdl - torch| over a whole trajectory.

    Every configuration of :data:`CONFIGS` runs ``steps`` steps on ``surface`` from its start.
    With ``minibatch = (grad, start, n)``, those of :data:`MINIBATCH_CONFIGS` also run
    ``minibatch_steps`` steps from ``start`` on ``grad(theta, idx)``, the mean gradient of the
    examples ``idx`` among ``n``, batches of ``batch`` drawn from ``np.random.default_rng(seed)``.
    """
    from .device import describe_device

    if steps < 1 or minibatch_steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps} and {minibatch_steps}")
    print(describe_device())
    rows = []
    for label, torch_name, options in CONFIGS:
        ours = descent_path(surface, None, _OURS[torch_name], steps, **options)
        worst = float(np.abs(ours - torch_path(surface, torch_name, options, steps)).max())
        rows.append((label, f"{steps} steps on {surface.name}", worst))
        print(f"{label:24s} {rows[-1][1]:28s} max |mathdl - torch| = {worst:.1e}   end {ours[-1]}")
    if minibatch is not None:
        grad, start, n = minibatch
        if not 1 <= batch <= n:
            raise ValueError(f"batch must be between 1 and n = {n}, got {batch}")
        for label, torch_name, options in MINIBATCH_CONFIGS:
            worst, end = _minibatch_difference(
                grad, start, n, torch_name, options, minibatch_steps, batch, seed
            )
            rows.append((label, f"{minibatch_steps} batches of {batch}", worst))
            print(f"{label:24s} {rows[-1][1]:28s} max |mathdl - torch| = {worst:.1e}   end {end}")
    return rows
