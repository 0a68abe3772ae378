"""Check analytic gradients against finite differences."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .tensor import Tensor

__all__ = ["GradcheckResult", "gradcheck", "numerical_grad"]


def numerical_grad(f: Callable[[np.ndarray], float], x: ArrayLike, eps: float = 1e-6) -> np.ndarray:
    """Central differences: df/dx_i ~= (f(x + eps e_i) - f(x - eps e_i)) / (2 eps).

    ``f`` maps an array of ``x``'s shape to a scalar; returns an array of ``x``'s shape.
    The error is O(eps^2) from truncation plus O(machine_eps / eps) from rounding, so
    eps = 1e-6 in float64 gives about 1e-9 to 1e-10 absolute accuracy for smooth f.
    """
    x = np.array(x, dtype=np.float64)
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        orig = flat[i]
        flat[i] = orig + eps
        f_plus = float(f(x))
        flat[i] = orig - eps
        f_minus = float(f(x))
        flat[i] = orig
        gflat[i] = (f_plus - f_minus) / (2 * eps)
    return grad


@dataclass(frozen=True)
class GradcheckResult:
    """Outcome of :func:`gradcheck`; truthy when every entry agrees within tolerance.

    ``worst`` describes the entry furthest outside the tolerance (or closest to it): its
    ``input`` and ``index``, the ``analytic`` and ``numerical`` values and ``abs_error``;
    None when no input requires a gradient.
    """

    ok: bool
    worst: dict[str, Any] | None

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        w = self.worst
        if w is None:
            return "GradcheckResult(ok=True, no inputs require grad)"
        return (
            f"GradcheckResult(ok={self.ok}, worst entry: input {w['input']} at index {w['index']}: "
            f"autograd {w['analytic']:.10g} vs numerical {w['numerical']:.10g}, "
            f"|difference| {w['abs_error']:.3g})"
        )


def gradcheck(
    f: Callable[..., Tensor],
    *tensors: Tensor | ArrayLike,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
) -> GradcheckResult:
    """Compare autograd gradients of ``f(*tensors)`` with central differences.

    ``f`` returns a Tensor; a non-scalar output is reduced to a scalar by a fixed random
    weighting (seed 0), so every output entry takes part. An entry passes when
    |analytic - numerical| <= atol + rtol * |numerical|. On failure, raises AssertionError
    naming the worst entry (or returns a falsy result when ``raise_exception=False``).
    """
    leaves = [t if isinstance(t, Tensor) else Tensor(t, requires_grad=True) for t in tensors]
    probe = f(*leaves)
    weights = (
        None if probe.data.size == 1 else np.random.default_rng(0).standard_normal(probe.shape)
    )

    def scalar(out: Tensor) -> Tensor:
        return out.sum() if weights is None else (out * weights).sum()

    for t in leaves:
        t.grad = None
    scalar(f(*leaves)).backward()

    worst: tuple[float, dict[str, Any]] | None = None  # (excess over the tolerance, entry)
    for k, t in enumerate(leaves):
        if not t.requires_grad:
            continue

        def f_of(x: np.ndarray, k: int = k) -> float:  # f with input k replaced by x
            args = [Tensor(x) if i == k else Tensor(s.data) for i, s in enumerate(leaves)]
            return scalar(f(*args)).item()

        analytic = np.zeros_like(t.data) if t.grad is None else t.grad
        candidate = _worst_entry(k, analytic, numerical_grad(f_of, t.data, eps=eps), atol, rtol)
        if candidate is not None and (worst is None or candidate[0] > worst[0]):
            worst = candidate
    ok = worst is None or worst[0] <= 0
    result = GradcheckResult(ok, None if worst is None else worst[1])
    if not ok and raise_exception:
        raise AssertionError(f"gradcheck failed: {result!r}")
    return result


def _worst_entry(
    k: int, analytic: np.ndarray, numeric: np.ndarray, atol: float, rtol: float
) -> tuple[float, dict[str, Any]] | None:
    """The entry of input ``k`` furthest beyond atol + rtol |numerical| (its excess first)."""
    if not numeric.size:
        return None
    err = np.abs(analytic - numeric)
    excess = err - (atol + rtol * np.abs(numeric))
    idx = np.unravel_index(int(np.argmax(excess)), excess.shape)
    entry = dict(
        input=k,
        index=tuple(int(i) for i in idx),
        analytic=float(analytic[idx]),
        numerical=float(numeric[idx]),
        abs_error=float(err[idx]),
    )
    return float(excess[idx]), entry
