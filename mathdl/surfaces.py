"""Two-dimensional loss surfaces with closed-form gradients, for the descent lessons.

Each surface has ``value(x, y)`` (vectorised over arrays, for contour plots),
``grad(p)`` for a point ``p = (x, y)``, a suggested view ``xlim``/``ylim``, a ``start``
point and its ``minimum`` (None for a saddle, which has none).
"""

from dataclasses import dataclass

import numpy as np

from . import optim
from .tensor import Tensor

__all__ = [
    "SURFACES",
    "Surface",
    "center",
    "curvatures",
    "descent_path",
    "hessian",
    "quadratic",
    "ravine",
    "rosenbrock",
    "saddle",
]


@dataclass(frozen=True)
class Surface:
    name: str
    value: callable
    grad: callable
    xlim: tuple
    ylim: tuple
    start: tuple
    minimum: tuple | None
    formula: str = ""


def quadratic(a=1.0, b=1.0):
    """f(x, y) = (a x^2 + b y^2) / 2; gradient (a x, b y); Hessian diag(a, b).

    Gradient descent converges iff lr < 2 / L with L = max(a, b), the largest curvature.
    """
    return Surface(
        f"quadratic(a={a:g}, b={b:g})",
        lambda x, y: 0.5 * (a * np.square(x) + b * np.square(y)),
        lambda p: np.array([a * p[0], b * p[1]]),
        (-3, 3),
        (-3, 3),
        (-2.5, 2.0),
        (0.0, 0.0),
        rf"$f = ({a:g}x^2 + {b:g}y^2)/2$",
    )


def ravine():
    """An ill-conditioned bowl f = (x^2 + 20 y^2) / 2: steep across, shallow along (condition number 20)."""
    s = quadratic(1.0, 20.0)
    return Surface(
        "ravine",
        s.value,
        s.grad,
        (-3, 3),
        (-1.5, 1.5),
        (-2.8, 1.0),
        (0.0, 0.0),
        r"$f = (x^2 + 20y^2)/2$",
    )


def rosenbrock(a=1.0, b=100.0):
    """f = (a - x)^2 + b (y - x^2)^2; minimum at (a, a^2) at the end of a curved valley.

    grad = (-2 (a - x) - 4 b x (y - x^2),  2 b (y - x^2)).
    """
    return Surface(
        "rosenbrock",
        lambda x, y: np.square(a - x) + b * np.square(y - np.square(x)),
        lambda p: np.array(
            [-2 * (a - p[0]) - 4 * b * p[0] * (p[1] - p[0] ** 2), 2 * b * (p[1] - p[0] ** 2)]
        ),
        (-2, 2),
        (-1, 3),
        (-1.5, 2.0),
        (a, a * a),
        r"$f = (1-x)^2 + 100(y-x^2)^2$",
    )


def saddle():
    """f = x^2 - y^2: the gradient vanishes at (0, 0), which is a minimum along x and a maximum along y."""
    return Surface(
        "saddle",
        lambda x, y: np.square(x) - np.square(y),
        lambda p: np.array([2 * p[0], -2 * p[1]]),
        (-2, 2),
        (-2, 2),
        (-1.5, 1e-3),
        None,
        r"$f = x^2 - y^2$",
    )


SURFACES = {"quadratic": quadratic, "ravine": ravine, "rosenbrock": rosenbrock, "saddle": saddle}


_OPTIMIZERS = {"sgd": optim.SGD, "rmsprop": optim.RMSprop, "adam": optim.Adam, "adamw": optim.AdamW}


def descent_path(surface, start=None, optimizer="sgd", steps=100, **options):
    """Run an optimizer on ``surface`` from ``start`` (default: the surface's start point).

    ``optimizer`` is one of

    * a name: "sgd", "rmsprop", "adam" or "adamw" (:mod:`mathdl.optim`);
    * a :class:`mathdl.optim.Optimizer` subclass, e.g. your own, built as ``cls([p], **options)``
      and stepped with ``p.grad`` set to the surface's gradient;
    * a step function ``step(w, grad, **options) -> new w`` on (2,) NumPy arrays, e.g.
      ``lambda w, g, lr: w - lr * g``; keep any state (a velocity) in a closure.

    ``options`` go to the optimizer (lr, momentum, ...). Returns the (steps + 1, 2) array of
    visited points. When the iterate overflows (or leaves |w| < 1e6), the remaining rows are nan,
    so callers can detect divergence with ``np.isfinite(path).all()``.
    """
    w = np.array(surface.start if start is None else start, dtype=float)
    if w.shape != (2,):
        raise ValueError(f"start must be a point (x, y), got shape {w.shape}")
    if isinstance(optimizer, str):
        if optimizer not in _OPTIMIZERS:
            raise ValueError(f"unknown optimizer {optimizer!r}; choose from {sorted(_OPTIMIZERS)}")
        optimizer = _OPTIMIZERS[optimizer]
    path = np.full((steps + 1, 2), np.nan)
    path[0] = w
    if isinstance(optimizer, type) and issubclass(optimizer, optim.Optimizer):
        p = Tensor(w, requires_grad=True)
        opt = optimizer([p], **options)

        def advance():
            p.grad = surface.grad(p.data)
            opt.step()
            return p.data

    elif callable(optimizer):

        def advance():
            nonlocal w
            w = np.asarray(optimizer(w, surface.grad(w), **options), dtype=float)
            if w.shape != (2,):
                raise ValueError(f"the step function returned shape {w.shape}, expected (2,)")
            return w

    else:
        raise TypeError(
            "optimizer must be a name, a mathdl.optim.Optimizer subclass or a step function "
            f"step(w, grad, **options); got {optimizer!r}"
        )
    with np.errstate(all="ignore"):
        for t in range(1, steps + 1):
            point = advance()
            if not np.all(np.isfinite(point)) or np.abs(point).max() > 1e6:
                break
            path[t] = point
    return path


def hessian(surface, point, h=1e-5):
    """The 2 x 2 Hessian at ``point`` by central differences of the exact gradient (symmetrized)."""
    point = np.asarray(point, dtype=float)
    H = np.column_stack(
        [(surface.grad(point + h * e) - surface.grad(point - h * e)) / (2 * h) for e in np.eye(2)]
    )
    return (H + H.T) / 2


def center(surface):
    """The minimum, or (0, 0) for the saddle (the point the gradient vanishes at)."""
    return np.array(surface.minimum if surface.minimum is not None else (0.0, 0.0), dtype=float)


def curvatures(surface):
    """Eigenvalues of the Hessian at :func:`center` (ascending): L is the last one."""
    return np.linalg.eigvalsh(hessian(surface, center(surface)))
