"""Small synthetic data sets for the lessons, generated from a seed (nothing is downloaded).

Classification sets return ``X`` float64 (N, 2) and ``y`` int64 (N,); the regression set
returns ``x`` (N, 1) and ``y`` (N, 1).
"""

import numpy as np

from ._rng import RNGLike, as_generator

__all__ = ["blobs", "moons", "regression_1d", "spirals", "train_test_split"]


def spirals(
    n_per_class: int = 100, n_classes: int = 3, noise: float = 0.2, seed: RNGLike = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Interleaved spiral arms, one per class: the classic 'not linearly separable' set.

    Arm k: radius r in [0, 1], angle theta = 4 r + 2 pi k / K + noise * N(0, 1).
    """
    rng = as_generator(seed)
    r = np.tile(np.linspace(0.0, 1.0, n_per_class), n_classes)
    k = np.repeat(np.arange(n_classes), n_per_class)
    theta = 4.0 * r + 2 * np.pi * k / n_classes + noise * rng.standard_normal(r.size)
    X = np.column_stack([r * np.sin(theta), r * np.cos(theta)])
    return X, k.astype(np.int64)


def moons(n: int = 200, noise: float = 0.1, seed: RNGLike = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved half circles (class 0 on top, class 1 below), plus Gaussian noise."""
    rng = as_generator(seed)
    n0 = n // 2
    n1 = n - n0
    t0 = np.linspace(0, np.pi, n0)
    t1 = np.linspace(0, np.pi, n1)
    X = np.vstack(
        [
            np.column_stack([np.cos(t0), np.sin(t0)]),
            np.column_stack([1 - np.cos(t1), 0.5 - np.sin(t1)]),
        ]
    )
    X += noise * rng.standard_normal(X.shape)
    y = np.concatenate([np.zeros(n0), np.ones(n1)]).astype(np.int64)
    return X, y


def blobs(
    n: int = 300, centers: int = 3, std: float = 0.5, seed: RNGLike = 0, spread: float = 3.0
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian clusters around ``centers`` points spaced evenly on a circle of radius ``spread``."""
    rng = as_generator(seed)
    angles = 2 * np.pi * np.arange(centers) / centers
    means = spread * np.column_stack([np.cos(angles), np.sin(angles)])
    y = np.arange(n) % centers
    X = means[y] + std * rng.standard_normal((n, 2))
    return X, y.astype(np.int64)


def regression_1d(
    n: int = 100, noise: float = 0.1, seed: RNGLike = 0
) -> tuple[np.ndarray, np.ndarray]:
    """y = sin(2 pi x) + noise for x uniform in [0, 1]; returns column vectors (N, 1)."""
    rng = as_generator(seed)
    x = np.sort(rng.uniform(0.0, 1.0, n))
    y = np.sin(2 * np.pi * x) + noise * rng.standard_normal(n)
    return x[:, None], y[:, None]


def train_test_split(
    X: np.ndarray, y: np.ndarray, test_fraction: float = 0.25, seed: RNGLike = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shuffle with ``seed`` and split into (X_train, X_test, y_train, y_test)."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must lie in (0, 1), got {test_fraction}")
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} rows but y has {len(y)}")
    idx = as_generator(seed).permutation(len(X))
    n_test = round(test_fraction * len(X))
    test, train = idx[:n_test], idx[n_test:]
    return X[train], X[test], y[train], y[test]
