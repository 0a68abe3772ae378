"""Weight initialisers that keep signal variance steady through depth.

Every function returns a float64 array of shape ``(fan_in, fan_out)``, the layout of
``Z = X W + b`` used throughout the course (PyTorch stores the transpose).

* Xavier/Glorot (Glorot & Bengio, 2010): Var(W) = gain^2 * 2 / (fan_in + fan_out),
  a compromise between keeping forward activations and backward gradients steady,
  derived for symmetric activations such as tanh.
* He/Kaiming (He et al., 2015): Var(W) = 2 / fan_in. ReLU zeroes half of its input,
  halving the second moment, and the factor 2 puts it back.

A uniform distribution U(-a, a) has variance a^2 / 3, which gives the bounds below.
"""

import numpy as np

from ._rng import RNGLike, as_generator

__all__ = ["SCHEMES", "he_normal", "he_uniform", "initialize", "xavier_normal", "xavier_uniform"]


def _check_fans(fan_in: int, fan_out: int) -> None:
    for name, v in (("fan_in", fan_in), ("fan_out", fan_out)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")


def xavier_uniform(
    fan_in: int, fan_out: int, *, gain: float = 1.0, rng: RNGLike = None
) -> np.ndarray:
    """W ~ U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)); Var = gain^2 * 2 / (fan_in + fan_out)."""
    _check_fans(fan_in, fan_out)
    a = gain * np.sqrt(6.0 / (fan_in + fan_out))
    return as_generator(rng).uniform(-a, a, size=(fan_in, fan_out))


def xavier_normal(
    fan_in: int, fan_out: int, *, gain: float = 1.0, rng: RNGLike = None
) -> np.ndarray:
    """W ~ N(0, sigma^2) with sigma = gain * sqrt(2 / (fan_in + fan_out))."""
    _check_fans(fan_in, fan_out)
    std = gain * np.sqrt(2.0 / (fan_in + fan_out))
    return as_generator(rng).normal(0.0, std, size=(fan_in, fan_out))


def he_uniform(fan_in: int, fan_out: int, *, rng: RNGLike = None) -> np.ndarray:
    """W ~ U(-a, a) with a = sqrt(6 / fan_in); Var = 2 / fan_in."""
    _check_fans(fan_in, fan_out)
    a = np.sqrt(6.0 / fan_in)
    return as_generator(rng).uniform(-a, a, size=(fan_in, fan_out))


def he_normal(fan_in: int, fan_out: int, *, rng: RNGLike = None) -> np.ndarray:
    """W ~ N(0, sigma^2) with sigma = sqrt(2 / fan_in)."""
    _check_fans(fan_in, fan_out)
    return as_generator(rng).normal(0.0, np.sqrt(2.0 / fan_in), size=(fan_in, fan_out))


def _zeros(fan_in: int, fan_out: int, *, rng: RNGLike = None) -> np.ndarray:
    _check_fans(fan_in, fan_out)
    return np.zeros((fan_in, fan_out))


def _small_normal(fan_in: int, fan_out: int, *, rng: RNGLike = None) -> np.ndarray:
    _check_fans(fan_in, fan_out)
    return as_generator(rng).normal(0.0, 0.01, size=(fan_in, fan_out))


#: Initialisation schemes by name, as offered in the lessons' widgets.
SCHEMES = {
    "zeros": _zeros,
    "small normal": _small_normal,  # N(0, 0.01^2): the classic "small random numbers"
    "xavier": xavier_normal,
    "xavier_normal": xavier_normal,
    "xavier_uniform": xavier_uniform,
    "he": he_normal,
    "he_normal": he_normal,
    "he_uniform": he_uniform,
}


def initialize(
    scheme: str, fan_in: int, fan_out: int, *, scale: float = 1.0, rng: RNGLike = None
) -> np.ndarray:
    """Weights of shape (fan_in, fan_out) from a named scheme (see ``SCHEMES``), times ``scale``."""
    try:
        fn = SCHEMES[scheme]
    except KeyError:
        raise ValueError(
            f"unknown initialization {scheme!r}; choose one of {sorted(SCHEMES)}"
        ) from None
    return scale * fn(fan_in, fan_out, rng=rng)
