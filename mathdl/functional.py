"""Functions on :class:`~mathdl.tensor.Tensor`, mirroring ``torch.nn.functional``.

Each function records one graph node whose backward pass calls the by-hand derivative
from :mod:`mathdl.activations` or :mod:`mathdl.losses`, so the math lives in one place.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike

from . import activations as _act
from . import losses as _loss
from . import normalization as _norm
from .tensor import Tensor, is_grad_enabled, matmul_vjp, unbroadcast

__all__ = [
    "batch_norm",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "gelu",
    "layer_norm",
    "leaky_relu",
    "linear",
    "log_softmax",
    "mse_loss",
    "relu",
    "sigmoid",
    "softmax",
    "tanh",
]


_t = Tensor._lift  # a Tensor as it is, anything else converted to one


def relu(x: Tensor | ArrayLike) -> Tensor:
    """max(x, 0) element-wise; derivative :func:`mathdl.activations.relu_derivative`."""
    return _t(x).relu()


def leaky_relu(x: Tensor | ArrayLike, negative_slope: float = 0.01) -> Tensor:
    return _t(x).leaky_relu(negative_slope)


def sigmoid(x: Tensor | ArrayLike) -> Tensor:
    return _t(x).sigmoid()


def tanh(x: Tensor | ArrayLike) -> Tensor:
    return _t(x).tanh()


def gelu(x: Tensor | ArrayLike) -> Tensor:
    """GELU, tanh approximation (``torch.nn.functional.gelu(x, approximate='tanh')``)."""
    return _t(x).gelu()


def softmax(x: Tensor | ArrayLike, dim: int = -1) -> Tensor:
    """softmax along ``dim`` (numerically stable); backward: :func:`mathdl.activations.softmax_backward`."""
    x = _t(x)
    s = _act.softmax(x.data, axis=dim)
    return Tensor._make(s, (x,), lambda g: (_act.softmax_backward(s, g, axis=dim),), "Softmax")


def log_softmax(x: Tensor | ArrayLike, dim: int = -1) -> Tensor:
    """log softmax along ``dim``; backward: :func:`mathdl.activations.log_softmax_backward`."""
    x = _t(x)
    ls = _act.log_softmax(x.data, axis=dim)
    return Tensor._make(
        ls, (x,), lambda g: (_act.log_softmax_backward(ls, g, axis=dim),), "LogSoftmax"
    )


def linear(
    x: Tensor | ArrayLike, W: Tensor | ArrayLike, b: Tensor | ArrayLike | None = None
) -> Tensor:
    """Dense layer Z = x W + b, one graph node with the derivatives of ``@`` and ``+``.

    Shapes: x (N, in) or (in,), W (in, out), b (out,) -> Z (N, out) or (out,).
    (``torch.nn.functional.linear`` takes the transpose, weight (out, in), and computes x W^T + b.)
    Backward: the matrix product's VJP, :func:`mathdl.tensor.matmul_vjp` (dx = G W^T,
    dW = x^T G), and the broadcast add's, :func:`mathdl.tensor.unbroadcast` (db = G summed over
    the batch, since b was copied to every row): the same functions ``x @ W + b`` would call,
    in one node instead of two (a linear layer is the engine's most frequent operation).
    """
    x, W = _t(x), _t(W)
    xd, Wd = x.data, W.data
    if Wd.ndim != 2:
        raise ValueError(
            f"linear: weight must have shape (in_features, out_features), got {Wd.shape}"
        )
    if xd.ndim not in (1, 2) or xd.shape[-1] != Wd.shape[0]:
        raise ValueError(
            f"linear: input shape {xd.shape} does not match weight shape {Wd.shape} "
            f"(expected (N, {Wd.shape[0]}) or ({Wd.shape[0]},))"
        )
    z = xd @ Wd
    if b is None:

        def backward(g: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
            return matmul_vjp(xd, Wd, g, x.requires_grad, W.requires_grad)

        return Tensor._make(z, (x, W), backward, "Linear")
    bias = _t(b)
    if bias.data.shape != (Wd.shape[1],):
        raise ValueError(
            f"linear: bias shape {bias.data.shape} does not match weight shape {Wd.shape} "
            f"(expected ({Wd.shape[1]},))"
        )
    z += bias.data  # the forward of +, in place on the fresh product: one array, not two

    def backward_with_bias(g: np.ndarray) -> tuple[np.ndarray | None, ...]:
        gx, gW = matmul_vjp(xd, Wd, g, x.requires_grad, W.requires_grad)
        return gx, gW, (unbroadcast(g, bias.data.shape) if bias.requires_grad else None)

    return Tensor._make(z, (x, W, bias), backward_with_bias, "Linear")


def mse_loss(
    pred: Tensor | ArrayLike, target: Tensor | ArrayLike, *, reduction: str = "mean"
) -> Tensor:
    """Squared error (pred - target)^2, reduced by ``reduction`` ("mean", "sum" or "none").

    Backward: :func:`mathdl.losses.mse_gradient` for the prediction and
    :func:`mathdl.losses.mse_target_gradient` for a target that requires a gradient.
    """
    pred, target = _t(pred), _t(target)
    if pred.shape != target.shape:
        raise ValueError(
            f"mse_loss: prediction shape {pred.shape} and target shape {target.shape} differ"
        )
    p, t = pred.data, target.data
    value = np.asarray(_loss.mse(p, t, reduction))

    def backward(g: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
        gp = g * _loss.mse_gradient(p, t, reduction) if pred.requires_grad else None
        gt = g * _loss.mse_target_gradient(p, t, reduction) if target.requires_grad else None
        return gp, gt

    return Tensor._make(value, (pred, target), backward, "MSELoss")


def cross_entropy(
    logits: Tensor | ArrayLike, targets: Tensor | ArrayLike, *, reduction: str = "mean"
) -> Tensor:
    """Softmax cross-entropy of (N, C) logits against (N,) integer targets, mean over N
    (``reduction="sum"`` adds the N losses up, ``"none"`` returns them, shape (N,)).

    Backward: (softmax - onehot) / N from :func:`mathdl.losses.cross_entropy_and_gradient`,
    which computes the loss and its gradient together when a graph is being recorded
    (one check of the targets, one log-softmax), else :func:`mathdl.losses.cross_entropy`.
    """
    logits = _t(logits)
    t = _class_indices(targets)
    if not (logits.requires_grad and is_grad_enabled()):  # no backward: the loss alone
        loss = _loss.cross_entropy(logits.data, t, reduction)
        return Tensor._make(np.asarray(loss), (logits,), None, "CrossEntropyLoss")
    loss, grad = _loss.cross_entropy_and_gradient(logits.data, t, reduction)
    if reduction == "none":  # one loss per row: its upstream gradient scales that row
        return Tensor._make(
            np.asarray(loss), (logits,), lambda g: (g[:, None] * grad,), "CrossEntropyLoss"
        )
    return Tensor._make(np.asarray(loss), (logits,), lambda g: (g * grad,), "CrossEntropyLoss")


def _class_indices(targets: Tensor | ArrayLike) -> np.ndarray:
    """Targets as an integer array; a Tensor (float64) only if it holds whole numbers."""
    if not isinstance(targets, Tensor):
        return np.asarray(targets)
    t = targets.data
    if not np.array_equal(t, np.trunc(t)):
        raise TypeError(
            f"cross_entropy: targets must be integer class indices, got non-integer values {t}"
        )
    return t.astype(np.int64)


def binary_cross_entropy(
    probs: Tensor | ArrayLike, target: Tensor | ArrayLike, *, reduction: str = "mean"
) -> Tensor:
    """BCE on probabilities in [0, 1]; backward: :func:`mathdl.losses.binary_cross_entropy_gradient`."""
    return _binary_loss(
        "BCELoss",
        _loss.binary_cross_entropy,
        _loss.binary_cross_entropy_gradient,
        probs,
        target,
        reduction,
    )


def binary_cross_entropy_with_logits(
    logits: Tensor | ArrayLike, target: Tensor | ArrayLike, *, reduction: str = "mean"
) -> Tensor:
    """BCE on raw scores (stable); backward: (sigmoid(z) - y) / N,
    :func:`mathdl.losses.binary_cross_entropy_with_logits_gradient`."""
    return _binary_loss(
        "BCEWithLogitsLoss",
        _loss.binary_cross_entropy_with_logits,
        _loss.binary_cross_entropy_with_logits_gradient,
        logits,
        target,
        reduction,
    )


def _binary_loss(
    op: str,
    loss: Callable[[np.ndarray, np.ndarray, str], float | np.ndarray],
    gradient: Callable[[np.ndarray, np.ndarray, str], np.ndarray],
    x: Tensor | ArrayLike,
    target: Tensor | ArrayLike,
    reduction: str,
) -> Tensor:
    """One graph node for a loss of x against a fixed target: value and gradient from losses."""
    xt = _t(x)
    d = xt.data
    y = target.data if isinstance(target, Tensor) else np.asarray(target, dtype=np.float64)
    value = np.asarray(loss(d, y, reduction))
    return Tensor._make(value, (xt,), lambda g: (g * gradient(d, y, reduction),), op)


# ----- normalization ---------------------------------------------------------------------------


def _standardize(
    x: Tensor, axes: tuple[int, ...], eps: float
) -> tuple[Tensor, np.ndarray, np.ndarray]:
    """x_hat = (x - mean) / sqrt(var + eps) over ``axes``, one graph node.

    Backward: :func:`mathdl.normalization.standardize_backward`. Returns the node and the
    batch statistics (mean and biased var, reduced axes kept).
    """
    x_hat, mean, var, inv_std = _norm.standardize(x.data, axes, eps)
    node = Tensor._make(
        x_hat,
        (x,),
        lambda g: (_norm.standardize_backward(x_hat, inv_std, g, axes),),
        "Standardize",
    )
    return node, mean, var


def _affine(
    x_hat: Tensor,
    weight: Tensor | ArrayLike | None,
    bias: Tensor | ArrayLike | None,
    shape: tuple[int, ...],
) -> Tensor:
    """y = weight * x_hat + bias with weight and bias viewed in ``shape`` (autograd's * and +)."""
    y = x_hat
    if weight is not None:
        y = y * _viewed(_t(weight), shape)
    if bias is not None:
        y = y + _viewed(_t(bias), shape)
    return y


def _viewed(p: Tensor, shape: tuple[int, ...]) -> Tensor:
    return p if p.shape == shape else p.reshape(shape)


def _check_param(name: str, p: Tensor | ArrayLike | None, n: int, what: str) -> None:
    if p is None:
        return
    shape = p.shape if isinstance(p, (Tensor, np.ndarray)) else np.shape(p)
    if tuple(shape) != (n,):
        raise ValueError(f"{what}: {name} must have shape ({n},), got {tuple(shape)}")


def batch_norm(
    x: Tensor | ArrayLike,
    running_mean: Tensor | np.ndarray | None,
    running_var: Tensor | np.ndarray | None,
    weight: Tensor | ArrayLike | None = None,
    bias: Tensor | ArrayLike | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Batch normalization of an (N, C) or (N, C, L) input, as ``torch.nn.functional.batch_norm``.

    Training (``training=True``): each feature c is standardized with the mean and the biased
    variance of its N (or N*L) values in this batch, then y = weight_c x_hat + bias_c; if running
    statistics are given they are updated in place,
    running <- (1 - momentum) running + momentum batch_stat, with the unbiased variance
    (times m/(m-1)), as torch. Evaluation (``training=False``): the running statistics replace the
    batch's, so each example is transformed on its own (an affine map of x).
    Backward of the standardization: :func:`mathdl.normalization.standardize_backward`.
    """
    x = _t(x)
    _check_batch_norm(x, running_mean, running_var, weight, bias)
    c = x.shape[1]
    axes, shape = ((0,), (c,)) if x.ndim == 2 else ((0, 2), (c, 1))
    if training:
        m = x.size // c
        if m <= 1:
            raise ValueError(
                f"batch_norm: expected more than 1 value per feature when training, got input "
                f"shape {x.shape} (use a batch of at least 2, or eval mode)"
            )
        x_hat, mean, var = _standardize(x, axes, eps)
        _update_running(running_mean, mean.reshape(c), momentum)
        _update_running(running_var, var.reshape(c) * (m / (m - 1)), momentum)  # unbiased
    else:
        if running_mean is None or running_var is None:
            raise ValueError(
                "batch_norm: evaluation (training=False) needs running_mean and running_var"
            )
        rm, rv = _array(running_mean).reshape(shape), _array(running_var).reshape(shape)
        # An affine map of x: x_hat = (x - mean) * inv_std, with the derivatives of - and *.
        x_hat = (x - rm) * (1.0 / np.sqrt(rv + eps))
    return _affine(x_hat, weight, bias, shape)


def _array(t: Tensor | np.ndarray) -> np.ndarray:
    return t.data if isinstance(t, Tensor) else np.asarray(t)


def _update_running(
    running: Tensor | np.ndarray | None, batch: np.ndarray, momentum: float
) -> None:
    """running <- (1 - momentum) running + momentum batch, in place."""
    if running is not None:
        r = _array(running)
        r *= 1.0 - momentum
        r += momentum * batch


def _check_batch_norm(
    x: Tensor,
    running_mean: Tensor | np.ndarray | None,
    running_var: Tensor | np.ndarray | None,
    weight: Tensor | ArrayLike | None,
    bias: Tensor | ArrayLike | None,
) -> None:
    if x.ndim not in (2, 3):
        raise ValueError(f"batch_norm: input must have shape (N, C) or (N, C, L), got {x.shape}")
    c = x.shape[1]
    named = {"running_mean": running_mean, "running_var": running_var}
    for name, p in {**named, "weight": weight, "bias": bias}.items():
        _check_param(name, p, c, "batch_norm")
    for name, p in named.items():
        if p is not None and not isinstance(p, (Tensor, np.ndarray)):
            raise TypeError(
                f"batch_norm: {name} must be a Tensor or a float NumPy array (it is updated in "
                f"place), got {type(p).__name__}"
            )


def layer_norm(
    x: Tensor | ArrayLike,
    normalized_shape: int | tuple[int, ...],
    weight: Tensor | ArrayLike | None = None,
    bias: Tensor | ArrayLike | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Layer normalization over the trailing ``normalized_shape`` axes, as ``torch.nn.functional.layer_norm``.

    Each example is standardized with the mean and biased variance of its own features (no batch
    statistics, the same in training and evaluation), then y = weight * x_hat + bias with weight
    and bias of shape ``normalized_shape``.
    Backward of the standardization: :func:`mathdl.normalization.standardize_backward`.
    """
    x = _t(x)
    ns = (
        (normalized_shape,)
        if isinstance(normalized_shape, (int, np.integer))
        else tuple(normalized_shape)
    )
    k = len(ns)
    if k == 0 or x.ndim < k or tuple(x.shape[x.ndim - k :]) != ns:
        raise ValueError(
            f"layer_norm: input shape {x.shape} does not end with normalized_shape {ns}"
        )
    for name, p in (("weight", weight), ("bias", bias)):
        if p is None:
            continue
        p_shape = tuple(np.shape(p.data if isinstance(p, Tensor) else p))
        if p_shape != ns:
            raise ValueError(f"layer_norm: {name} must have shape {ns}, got {p_shape}")
    x_hat, _, _ = _standardize(x, tuple(range(x.ndim - k, x.ndim)), eps)
    return _affine(x_hat, weight, bias, ns)
