"""The engine's shape checks, apart from its chain rule: each raises an error that names the shapes.

Used by :mod:`mathdl.tensor`; NumPy does the work, and these run only to explain a refusal
(or, for ``dim`` arguments, to apply torch's rules).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np


def checked(
    op: str,
    fn: Callable[..., np.ndarray],
    a: np.ndarray,
    b: np.ndarray,
    check: Callable[[str, tuple[int, ...], tuple[int, ...]], None],
) -> np.ndarray:
    """fn(a, b); if NumPy refuses, ``check`` raises an error that names the shapes.

    NumPy checks the shapes anyway, so validation costs nothing unless it fails.
    """
    try:
        return fn(a, b)
    except ValueError:
        check(op, a.shape, b.shape)  # raises the clear error when the shapes are the cause
        raise


def check_broadcast(op: str, a: tuple[int, ...], b: tuple[int, ...]) -> None:
    try:
        np.broadcast_shapes(a, b)
    except ValueError:
        raise ValueError(
            f"{op}: shapes {a} and {b} cannot be broadcast together "
            "(trailing dimensions must be equal or 1)"
        ) from None


def check_matmul(op: str, a: tuple[int, ...], b: tuple[int, ...]) -> None:
    if not a or not b:
        raise ValueError(f"{op}: both operands need at least 1 dimension, got shapes {a} and {b}")
    k_a, k_b = a[-1], (b[0] if len(b) == 1 else b[-2])
    if k_a != k_b:
        which = "only" if len(b) == 1 else "second-to-last"
        raise ValueError(
            f"{op}: shapes {a} and {b} are not aligned: the last dimension of the first "
            f"({k_a}) must equal the {which} dimension of the second ({k_b})"
        )
    try:
        np.broadcast_shapes(a[:-2], b[:-2])
    except ValueError:
        raise ValueError(f"{op}: batch dimensions of {a} and {b} cannot be broadcast") from None


def reshaped(x: np.ndarray, shape: tuple[Any, ...]) -> np.ndarray:
    try:
        return x.reshape(shape)
    except ValueError:
        raise ValueError(
            f"reshape: cannot reshape a tensor of shape {x.shape} ({x.size} entries) into {shape}"
        ) from None


def normalize_dims(dim: int | Sequence[int] | None, ndim: int) -> tuple[int, ...] | None:
    if dim is None:
        return None
    dims = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
    out = []
    for d in dims:
        if not -max(ndim, 1) <= d < max(ndim, 1):
            raise ValueError(f"dim {d} is out of range for a tensor with {ndim} dimensions")
        out.append(int(d) % max(ndim, 1))
    return tuple(out) if ndim else ()  # a 0-d tensor accepts dim 0 or -1, as torch, and has no axis
