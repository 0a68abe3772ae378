"""Loss functions and their gradients, written out by hand in NumPy.

Each loss is a sum of per-entry terms (per example for cross-entropy), reduced as PyTorch's
``reduction=``: ``"mean"`` (the default) averages them, ``"sum"`` adds them up, ``"none"``
returns them unreduced. Each ``*_gradient`` returns dLoss/dInput with the input's shape:
for ``"mean"`` the per-entry derivative divided by N, for ``"sum"`` the per-entry derivative,
and for ``"none"`` the derivative of each entry's own term (entries do not interact, so that
array is the whole Jacobian). The autograd engine calls these, so each gradient is written
exactly once.
"""

import numpy as np
from numpy.typing import ArrayLike

from .activations import log_softmax, sigmoid, softmax

__all__ = [
    "REDUCTIONS",
    "binary_cross_entropy",
    "binary_cross_entropy_gradient",
    "binary_cross_entropy_with_logits",
    "binary_cross_entropy_with_logits_gradient",
    "check_class_targets",
    "cross_entropy",
    "cross_entropy_and_gradient",
    "cross_entropy_gradient",
    "mse",
    "mse_gradient",
    "mse_target_gradient",
]

#: The values of ``reduction=``, as in torch.
REDUCTIONS = ("mean", "sum", "none")


def _reduce(terms: np.ndarray, reduction: str) -> float | np.ndarray:
    """The loss from its per-entry terms: their mean, their sum, or the terms themselves."""
    if reduction == "mean":
        return float(np.mean(terms))
    if reduction == "sum":
        return float(np.sum(terms))
    _check_reduction(reduction)
    return terms


def _divisor(reduction: str, n: int) -> float:
    """1 / d(reduced loss)/d(one term): N for the mean, 1 for the sum (or each term on its own)."""
    _check_reduction(reduction)
    return n if reduction == "mean" else 1.0


def _check_reduction(reduction: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _same_shape(name: str, pred: ArrayLike, target: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    pred = np.asarray(pred, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    if pred.shape != target.shape:
        raise ValueError(
            f"{name}: prediction shape {pred.shape} and target shape {target.shape} differ; "
            "reshape one so they match (no silent broadcasting)"
        )
    return pred, target


def mse(pred: ArrayLike, target: ArrayLike, reduction: str = "mean") -> float | np.ndarray:
    """Mean squared error: L = (1/N) sum_i (pred_i - target_i)^2 over all N entries."""
    pred, target = _same_shape("mse", pred, target)
    d = pred - target
    return _reduce(d * d, reduction)


def mse_gradient(pred: ArrayLike, target: ArrayLike, reduction: str = "mean") -> np.ndarray:
    """dL/dpred = 2 (pred - target) / N, same shape as pred."""
    pred, target = _same_shape("mse_gradient", pred, target)
    return 2.0 * (pred - target) / _divisor(reduction, pred.size)


def mse_target_gradient(pred: ArrayLike, target: ArrayLike, reduction: str = "mean") -> np.ndarray:
    """dL/dtarget = -2 (pred - target) / N = -dL/dpred (when the target is itself learned)."""
    pred, target = _same_shape("mse_target_gradient", pred, target)
    return 2.0 * (target - pred) / _divisor(reduction, pred.size)


def check_class_targets(
    logits: ArrayLike, targets: ArrayLike, name: str = "cross_entropy"
) -> tuple[np.ndarray, np.ndarray]:
    """Validate (N, C) logits against (N,) integer class targets; return them as arrays.

    Raises ValueError naming the shapes or the offending class, TypeError for non-integer
    targets.
    """
    logits = np.asarray(logits, dtype=np.float64)
    targets = np.asarray(targets)
    if logits.ndim != 2:
        raise ValueError(f"{name}: logits must have shape (N, C), got {logits.shape}")
    if targets.dtype.kind not in "iu":  # signed or unsigned integers only (bool is kind "b")
        raise TypeError(
            f"{name}: targets must be integer class indices, got dtype {targets.dtype}"
            " (use y.astype(int); one-hot or probability targets are not accepted)"
        )
    if targets.ndim != 1:
        raise ValueError(f"{name}: targets must have shape (N,), got {targets.shape}")
    n, c = logits.shape
    if targets.shape[0] != n:
        raise ValueError(
            f"{name}: {n} rows of logits {logits.shape} but {targets.shape[0]} targets {targets.shape}"
        )
    if n and (targets.min() < 0 or targets.max() >= c):
        bad = targets[(targets < 0) | (targets >= c)][0]
        raise ValueError(f"{name}: class target {bad} is out of range for {c} classes (0..{c - 1})")
    return logits, targets


def _nll(log_probs: np.ndarray, targets: np.ndarray, reduction: str) -> float | np.ndarray:
    # -log p_{n, y_n} per example, reduced: the cross-entropy from the log-probabilities
    return _reduce(-log_probs[np.arange(log_probs.shape[0]), targets], reduction)


def _softmax_minus_onehot(probs: np.ndarray, targets: np.ndarray, reduction: str) -> np.ndarray:
    # (p - onehot(y)) / N for the mean, in place on ``probs`` (a fresh array)
    n = probs.shape[0]
    probs[np.arange(n), targets] -= 1.0
    if reduction == "mean":
        probs /= n
    return probs


def cross_entropy(
    logits: ArrayLike, targets: ArrayLike, reduction: str = "mean"
) -> float | np.ndarray:
    """Softmax cross-entropy, mean over the batch.

    L = (1/N) sum_n [ logsumexp(z_n) - z_{n, y_n} ] = -(1/N) sum_n log softmax(z_n)_{y_n}.
    logits: (N, C) floats; targets: (N,) integers in [0, C). Stable for logits of any size.
    """
    logits, targets = check_class_targets(logits, targets, "cross_entropy")
    return _nll(log_softmax(logits, axis=1), targets, reduction)


def cross_entropy_gradient(
    logits: ArrayLike, targets: ArrayLike, reduction: str = "mean"
) -> np.ndarray:
    """dL/dlogits = (softmax(z) - onehot(y)) / N, shape (N, C)."""
    logits, targets = check_class_targets(logits, targets, "cross_entropy_gradient")
    _check_reduction(reduction)
    return _softmax_minus_onehot(softmax(logits, axis=1), targets, reduction)


def cross_entropy_and_gradient(
    logits: ArrayLike, targets: ArrayLike, reduction: str = "mean"
) -> tuple[float | np.ndarray, np.ndarray]:
    """The loss of :func:`cross_entropy` and the gradient of :func:`cross_entropy_gradient` together.

    What a training step needs: the targets are checked once and log softmax(z) is computed
    once for both (softmax(z) = exp(log softmax(z))). Returns ``(loss, dL/dlogits)``.
    """
    logits, targets = check_class_targets(logits, targets, "cross_entropy")
    log_p = log_softmax(logits, axis=1)
    loss = _nll(log_p, targets, reduction)
    return loss, _softmax_minus_onehot(np.exp(log_p), targets, reduction)


def _check_binary_targets(
    name: str, x: ArrayLike, target: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    x, target = _same_shape(name, x, target)
    if np.any((target < 0) | (target > 1)):
        raise ValueError(f"{name}: targets must lie in [0, 1]")
    return x, target


def binary_cross_entropy(
    probs: ArrayLike, target: ArrayLike, reduction: str = "mean"
) -> float | np.ndarray:
    """BCE on probabilities: L = -(1/N) sum [y log p + (1 - y) log(1 - p)].

    As in PyTorch, each log is clamped at -100 so p = 0 or 1 gives a large finite loss.
    """
    p, y = _check_binary_targets("binary_cross_entropy", probs, target)
    if np.any((p < 0) | (p > 1)):
        raise ValueError(
            "binary_cross_entropy: probabilities must lie in [0, 1]; for raw scores use "
            "binary_cross_entropy_with_logits"
        )
    with np.errstate(divide="ignore"):
        log_p = np.maximum(np.log(p), -100.0)
        log_1mp = np.maximum(np.log1p(-p), -100.0)
    return _reduce(-(y * log_p + (1 - y) * log_1mp), reduction)


def binary_cross_entropy_gradient(
    probs: ArrayLike, target: ArrayLike, reduction: str = "mean"
) -> np.ndarray:
    """dL/dp = (p - y) / (p (1 - p)) / N, with the denominator kept >= 1e-12 (as PyTorch)."""
    p, y = _check_binary_targets("binary_cross_entropy_gradient", probs, target)
    return (p - y) / np.maximum(p * (1 - p), 1e-12) / _divisor(reduction, p.size)


def binary_cross_entropy_with_logits(
    logits: ArrayLike, target: ArrayLike, reduction: str = "mean"
) -> float | np.ndarray:
    """BCE on raw scores z, p = sigma(z), computed stably:
    L = (1/N) sum [ max(z, 0) - z y + log(1 + e^{-|z|}) ]."""
    z, y = _check_binary_targets("binary_cross_entropy_with_logits", logits, target)
    return _reduce(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z))), reduction)


def binary_cross_entropy_with_logits_gradient(
    logits: ArrayLike, target: ArrayLike, reduction: str = "mean"
) -> np.ndarray:
    """dL/dz = (sigma(z) - y) / N."""
    z, y = _check_binary_targets("binary_cross_entropy_with_logits_gradient", logits, target)
    return (sigmoid(z) - y) / _divisor(reduction, z.size)
