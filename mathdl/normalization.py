"""Normalization written out by hand in NumPy: the standardization step and its derivative.

Batch normalization (Ioffe & Szegedy, 2015) and layer normalization (Ba, Kiros & Hinton, 2016)
share one step: standardize ``x`` over some axes,

    mu = mean(x),  var = mean((x - mu)^2)  (biased, over the m entries of each group),
    x_hat = (x - mu) / sqrt(var + eps),

and then scale and shift, y = gamma x_hat + beta. They differ only in the axes: batch norm
averages over the batch (axis 0, and the length axis 2 of an (N, C, L) input), one group per
feature; layer norm averages over the trailing feature axes, one group per example.

The scale-and-shift is ordinary multiplication and addition, so the autograd engine uses its own
``*`` and ``+`` for it; only the standardization needs a derivative of its own, written once
here (:func:`standardize_backward`) and called by :mod:`mathdl.functional`.
"""

import numpy as np

__all__ = ["standardize", "standardize_backward"]


def _axes(axes: int | tuple[int, ...], ndim: int) -> tuple[int, ...]:
    axes = (axes,) if isinstance(axes, (int, np.integer)) else tuple(axes)
    if not axes:
        raise ValueError("standardize: give at least one axis to normalize over")
    out = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(
                f"standardize: axis {a} is out of range for an array with {ndim} dimensions"
            )
        out.append(int(a) % ndim)
    return tuple(sorted(set(out)))


def standardize(
    x: np.ndarray, axes: int | tuple[int, ...], eps: float = 1e-5
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """x_hat = (x - mean) / sqrt(var + eps), mean and (biased) var taken over ``axes``.

    Returns ``(x_hat, mean, var, inv_std)``; ``mean``, ``var`` and ``inv_std = 1/sqrt(var + eps)``
    keep the reduced axes with size 1, so they broadcast against ``x``. ``eps > 0`` keeps the
    division finite when a group is constant.
    """
    x = np.asarray(x, dtype=np.float64)
    if eps < 0:
        raise ValueError(f"standardize: eps must be >= 0, got {eps}")
    axes = _axes(axes, x.ndim)
    mean = x.mean(axis=axes, keepdims=True)
    centered = x - mean
    var = (centered * centered).mean(axis=axes, keepdims=True)
    inv_std = 1.0 / np.sqrt(var + eps)
    return centered * inv_std, mean, var, inv_std


def standardize_backward(
    x_hat: np.ndarray, inv_std: np.ndarray, grad: np.ndarray, axes: int | tuple[int, ...]
) -> np.ndarray:
    """Vector-Jacobian product of :func:`standardize`: given x_hat, inv_std and dL/dx_hat, return dL/dx.

    With m entries per group and g = dL/dx_hat, the mean and the variance depend on every x_j, so

        dL/dx_i = inv_std (g_i - mean_j(g_j) - x_hat_i mean_j(g_j x_hat_j)),

    the means taken over the same axes as in the forward pass. (The first mean is the path
    through mu; the second the path through var, using dvar/dx_j = 2 (x_j - mu) / m.)
    """
    axes = _axes(axes, np.ndim(x_hat))
    g = np.asarray(grad, dtype=np.float64)
    mean_g = g.mean(axis=axes, keepdims=True)
    mean_gx = (g * x_hat).mean(axis=axes, keepdims=True)
    return inv_std * (g - mean_g - x_hat * mean_gx)
