"""Two-dimensional loss surfaces with closed-form gradients, for the descent lessons.

Each surface has ``value(x, y)`` (vectorised over arrays, for contour plots),
``grad(p)`` for a point ``p = (x, y)``, a suggested view ``xlim``/``ylim``, a ``start``
point and its ``minimum`` (None for a saddle, which has none).
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .stepper import OptimizerSpec, stepper
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
    #: f(x, y), vectorised: x and y are arrays of one shape (a grid), the values of that shape.
    value: Callable[[np.ndarray, np.ndarray], np.ndarray]
    grad: Callable[[np.ndarray], np.ndarray]
    xlim: tuple[float, float]
    ylim: tuple[float, float]
    start: tuple[float, float]
    minimum: tuple[float, float] | None
    formula: str = ""
    #: Draw the contours of log(1 + f - min f): shows a curved valley (Rosenbrock) at every scale.
    log_contours: bool = False


def quadratic(a: float = 1.0, b: float = 1.0) -> Surface:
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


def ravine() -> Surface:
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


def rosenbrock(a: float = 1.0, b: float = 100.0) -> Surface:
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
        log_contours=True,
    )


def saddle() -> Surface:
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


def descent_path(
    surface: Surface,
    start: Sequence[float] | np.ndarray | None = None,
    optimizer: OptimizerSpec = "sgd",
    steps: int = 100,
    *,
    noise: float = 0.0,
    seed: int = 0,
    **options: Any,
) -> np.ndarray:
    """Run an optimizer on ``surface`` from ``start`` (default: the surface's start point).

    ``optimizer`` is a name ("sgd", "momentum", "adam", ...), a :class:`mathdl.optim.Optimizer`
    subclass, a factory or a step function ``step(w, grad, **options) -> new w`` on (2,) NumPy
    arrays (e.g. ``lambda w, g, lr: w - lr * g``), as :mod:`mathdl.stepper` describes; ``options``
    go to it (lr, momentum, ...). ``noise`` > 0 adds ``noise * N(0, I)`` to every gradient
    (SGD-like), drawn from ``np.random.default_rng(seed)``, the same sequence for every optimizer.

    Returns the (steps + 1, 2) array of visited points. When the iterate overflows (or leaves
    |w| <= 1e6), the remaining rows are nan, so callers can detect divergence with
    ``np.isfinite(path).all()``.
    """
    if not isinstance(surface, Surface):
        raise TypeError(f"surface must be a mathdl.surfaces.Surface, got {type(surface).__name__}")
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    p = Tensor(np.array(surface.start if start is None else start, dtype=float), requires_grad=True)
    if p.data.shape != (2,):
        raise ValueError(f"start must be a point (x, y), got shape {p.data.shape}")
    step = stepper(optimizer, p, options)
    rng = np.random.default_rng(seed)
    path = np.full((steps + 1, 2), np.nan)
    path[0] = p.data
    with np.errstate(all="ignore"):
        for t in range(1, steps + 1):
            g = np.asarray(surface.grad(p.data), dtype=float)
            p.grad = g + noise * rng.standard_normal(2) if noise else g
            step()
            x, y = p.data  # two scalar comparisons (False for nan): np.all/np.isfinite per step
            if not (-1e6 <= x <= 1e6 and -1e6 <= y <= 1e6):  # cost half the run's time
                break
            path[t] = p.data
    return path


def hessian(surface: Surface, point: npt.ArrayLike, h: float = 1e-5) -> np.ndarray:
    """The 2 x 2 Hessian at ``point`` by central differences of the exact gradient (symmetrized)."""
    point = np.asarray(point, dtype=float)
    H = np.column_stack(
        [(surface.grad(point + h * e) - surface.grad(point - h * e)) / (2 * h) for e in np.eye(2)]
    )
    return (H + H.T) / 2


def center(surface: Surface) -> np.ndarray:
    """The minimum, or (0, 0) for the saddle (the point the gradient vanishes at): the target
    every descent-path picture measures its distance to."""
    return np.array(surface.minimum if surface.minimum is not None else (0.0, 0.0), dtype=float)


def curvatures(surface: Surface) -> np.ndarray:
    """Eigenvalues of the Hessian at :func:`center` (ascending): L is the last one."""
    return np.linalg.eigvalsh(hessian(surface, center(surface)))
