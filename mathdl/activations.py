"""Activation functions and their derivatives, written out by hand in NumPy.

Every function takes and returns ``np.ndarray`` of any shape and works element-wise,
except :func:`softmax` / :func:`log_softmax`, which normalise along one axis.
The autograd engine (:mod:`mathdl.tensor`) calls the derivatives defined here, so
each derivative is written exactly once.

Conventions at kinks (where the true derivative does not exist) follow PyTorch:
ReLU'(0) = 0 and LeakyReLU'(0) = negative_slope.
"""

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "gelu",
    "gelu_derivative",
    "leaky_relu",
    "leaky_relu_derivative",
    "log_softmax",
    "log_softmax_backward",
    "relu",
    "relu_derivative",
    "sigmoid",
    "sigmoid_derivative",
    "softmax",
    "softmax_backward",
    "tanh",
    "tanh_derivative",
]


def relu(x: ArrayLike) -> np.ndarray:
    """ReLU(x) = max(x, 0)."""
    return np.maximum(x, 0.0)


def relu_derivative(x: ArrayLike) -> np.ndarray:
    """ReLU'(x) = 1 if x > 0 else 0 (undefined at 0; we use 0, like PyTorch)."""
    return (np.asarray(x) > 0).astype(np.float64)


def leaky_relu(x: ArrayLike, negative_slope: float = 0.01) -> np.ndarray:
    """LeakyReLU(x) = x if x > 0 else negative_slope * x."""
    x = np.asarray(x, dtype=np.float64)
    return np.where(x > 0, x, negative_slope * x)


def leaky_relu_derivative(x: ArrayLike, negative_slope: float = 0.01) -> np.ndarray:
    """LeakyReLU'(x) = 1 if x > 0 else negative_slope (PyTorch's choice at 0)."""
    return np.where(np.asarray(x) > 0, 1.0, negative_slope)


def sigmoid(x: ArrayLike) -> np.ndarray:
    """sigma(x) = 1 / (1 + e^{-x}), computed without overflow for any finite x.

    For x >= 0 we use 1 / (1 + e^{-x}); for x < 0 the equivalent e^{x} / (1 + e^{x}),
    so the exponential is always of a non-positive number.
    """
    x = np.asarray(x, dtype=np.float64)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def sigmoid_derivative(x: ArrayLike) -> np.ndarray:
    """sigma'(x) = sigma(x) * (1 - sigma(x)); at most 1/4, reached at x = 0."""
    s = sigmoid(x)
    return s * (1.0 - s)


def tanh(x: ArrayLike) -> np.ndarray:
    """tanh(x) = (e^x - e^{-x}) / (e^x + e^{-x}) = 2 sigma(2x) - 1."""
    return np.tanh(x)


def tanh_derivative(x: ArrayLike) -> np.ndarray:
    """tanh'(x) = 1 - tanh(x)^2."""
    t = np.tanh(x)
    return 1.0 - t * t


_GELU_C = np.sqrt(2.0 / np.pi)


def gelu(x: ArrayLike) -> np.ndarray:
    """GELU with the tanh approximation (PyTorch's ``approximate='tanh'``).

    GELU(x) = x * Phi(x) ~= 0.5 x (1 + tanh(u)),  u = sqrt(2/pi) (x + 0.044715 x^3).
    """
    x = np.asarray(x, dtype=np.float64)
    u = _GELU_C * (x + 0.044715 * (x * x * x))
    return 0.5 * x * (1.0 + np.tanh(u))


def gelu_derivative(x: ArrayLike) -> np.ndarray:
    """d/dx of :func:`gelu`: 0.5 (1 + tanh u) + 0.5 x (1 - tanh^2 u) du/dx,
    with du/dx = sqrt(2/pi) (1 + 3 * 0.044715 x^2)."""
    x = np.asarray(x, dtype=np.float64)
    t = np.tanh(_GELU_C * (x + 0.044715 * (x * x * x)))
    du = _GELU_C * (1.0 + 3 * 0.044715 * (x * x))
    return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * du


def softmax(z: ArrayLike, axis: int = -1) -> np.ndarray:
    """softmax(z)_i = e^{z_i - m} / sum_j e^{z_j - m},  m = max_j z_j.

    Subtracting the maximum changes nothing mathematically (it cancels) but keeps
    every exponent <= 0, so nothing overflows even for logits of 1e4.
    Shape: same as ``z``; entries along ``axis`` sum to 1.
    """
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def softmax_backward(s: np.ndarray, grad: np.ndarray, axis: int = -1) -> np.ndarray:
    """Vector-Jacobian product of softmax: given s = softmax(z) and dL/ds, return dL/dz.

    The Jacobian is ds_i/dz_j = s_i (delta_ij - s_j), so
    dL/dz = s * (dL/ds - sum_j (dL/ds_j) s_j), without building the C x C matrix.
    """
    return s * (grad - (grad * s).sum(axis=axis, keepdims=True))


def log_softmax(z: ArrayLike, axis: int = -1) -> np.ndarray:
    """log softmax(z)_i = z_i - logsumexp(z),  logsumexp(z) = m + log sum_j e^{z_j - m}."""
    z = np.asarray(z, dtype=np.float64)
    shifted = z - z.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def log_softmax_backward(log_s: np.ndarray, grad: np.ndarray, axis: int = -1) -> np.ndarray:
    """Vector-Jacobian product of log_softmax: d log s_i / dz_j = delta_ij - s_j, so
    dL/dz = dL/dy - softmax(z) * sum_j dL/dy_j, with y = log_softmax(z)."""
    return grad - np.exp(log_s) * grad.sum(axis=axis, keepdims=True)
