"""Functions on :class:`~mathdl.tensor.Tensor`, mirroring ``torch.nn.functional``.

Each function records one graph node whose backward pass calls the by-hand derivative
from :mod:`mathdl.activations` or :mod:`mathdl.losses`, so the math lives in one place.
"""

import numpy as np

from . import activations as _act
from . import losses as _loss
from .tensor import Tensor

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "gelu",
    "leaky_relu",
    "linear",
    "log_softmax",
    "mse_loss",
    "relu",
    "sigmoid",
    "softmax",
    "tanh",
]


def _t(x):
    return x if isinstance(x, Tensor) else Tensor(x)


def relu(x):
    """max(x, 0) element-wise; derivative :func:`mathdl.activations.relu_derivative`."""
    return _t(x).relu()


def leaky_relu(x, negative_slope=0.01):
    return _t(x).leaky_relu(negative_slope)


def sigmoid(x):
    return _t(x).sigmoid()


def tanh(x):
    return _t(x).tanh()


def gelu(x):
    """GELU, tanh approximation (``torch.nn.functional.gelu(x, approximate='tanh')``)."""
    return _t(x).gelu()


def softmax(x, dim=-1):
    """softmax along ``dim`` (numerically stable); backward: :func:`mathdl.activations.softmax_backward`."""
    x = _t(x)
    s = _act.softmax(x.data, axis=dim)
    return Tensor._make(s, (x,), lambda g: (_act.softmax_backward(s, g, axis=dim),), "Softmax")


def log_softmax(x, dim=-1):
    """log softmax along ``dim``; backward: :func:`mathdl.activations.log_softmax_backward`."""
    x = _t(x)
    ls = _act.log_softmax(x.data, axis=dim)
    return Tensor._make(
        ls, (x,), lambda g: (_act.log_softmax_backward(ls, g, axis=dim),), "LogSoftmax"
    )


def linear(x, W, b=None):
    """Dense layer Z = x W + b, as one graph node.

    Shapes: x (N, in) or (in,), W (in, out), b (out,) -> Z (N, out) or (out,).
    (``torch.nn.functional.linear`` takes the transpose, weight (out, in), and computes x W^T + b.)
    Backward: dx = G W^T, dW = x^T G, db = sum of G over the batch.
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
    if b is not None:
        b = _t(b)
        if b.data.shape != (Wd.shape[1],):
            raise ValueError(
                f"linear: bias shape {b.data.shape} does not match weight shape {Wd.shape} "
                f"(expected ({Wd.shape[1]},))"
            )
    z = xd @ Wd
    if b is not None:
        z += b.data  # in place: one array for the output, not two

    def backward(g):
        gx = g @ Wd.T if x.requires_grad else None
        gW = None
        if W.requires_grad:
            gW = np.outer(xd, g) if xd.ndim == 1 else xd.T @ g
        gb = None
        if b is not None and b.requires_grad:
            gb = g if g.ndim == 1 else g.sum(axis=0)
        return gx, gW, gb

    parents = (x, W) if b is None else (x, W, b)
    return Tensor._make(z, parents, backward, "Linear")


def mse_loss(pred, target):
    """Mean squared error (mean over all entries); backward: :func:`mathdl.losses.mse_gradient`."""
    pred, target = _t(pred), _t(target)
    if pred.shape != target.shape:
        raise ValueError(
            f"mse_loss: prediction shape {pred.shape} and target shape {target.shape} differ"
        )
    value = np.array(_loss.mse(pred.data, target.data))

    def backward(g):
        gp = g * _loss.mse_gradient(pred.data, target.data)
        return gp, (-gp if target.requires_grad else None)

    return Tensor._make(value, (pred, target), backward, "MSELoss")


def cross_entropy(logits, targets):
    """Softmax cross-entropy of (N, C) logits against (N,) integer targets, mean over N.

    Backward: :func:`mathdl.losses.cross_entropy_gradient`, i.e. (softmax - onehot) / N.
    """
    logits = _t(logits)
    t = targets.data if isinstance(targets, Tensor) else np.asarray(targets)
    if isinstance(targets, Tensor):  # a Tensor is float64: accept it only if it holds whole numbers
        if not np.array_equal(t, np.trunc(t)):
            raise TypeError(
                f"cross_entropy: targets must be integer class indices, got non-integer values {t}"
            )
        t = t.astype(np.int64)
    # Check the targets and compute log softmax(z) once; the loss and its gradient share both.
    z, t = _loss.check_class_targets(logits.data, t, "cross_entropy")
    log_p = _act.log_softmax(z, axis=1)
    value = np.array(_loss.cross_entropy(z, t, check=False, log_probs=log_p))
    return Tensor._make(
        value,
        (logits,),
        lambda g: (g * _loss.cross_entropy_gradient(z, t, check=False, log_probs=log_p),),
        "CrossEntropyLoss",
    )


def binary_cross_entropy(probs, target):
    """BCE on probabilities in [0, 1]; backward: :func:`mathdl.losses.binary_cross_entropy_gradient`."""
    probs = _t(probs)
    y = target.data if isinstance(target, Tensor) else np.asarray(target, dtype=np.float64)
    value = np.array(_loss.binary_cross_entropy(probs.data, y))
    return Tensor._make(
        value,
        (probs,),
        lambda g: (g * _loss.binary_cross_entropy_gradient(probs.data, y),),
        "BCELoss",
    )


def binary_cross_entropy_with_logits(logits, target):
    """BCE on raw scores (stable); backward: (sigmoid(z) - y) / N."""
    logits = _t(logits)
    y = target.data if isinstance(target, Tensor) else np.asarray(target, dtype=np.float64)
    value = np.array(_loss.binary_cross_entropy_with_logits(logits.data, y))
    return Tensor._make(
        value,
        (logits,),
        lambda g: (g * _loss.binary_cross_entropy_with_logits_gradient(logits.data, y),),
        "BCEWithLogitsLoss",
    )
