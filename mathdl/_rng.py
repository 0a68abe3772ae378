"""Turn an ``rng`` argument (None, a seed, or a Generator) into a ``np.random.Generator``."""

from __future__ import annotations

from typing import TypeAlias

import numpy as np

#: A reproducibility argument: None (fresh randomness), an int seed, or a numpy Generator.
#: (A string, so that ``import mathdl`` does not load numpy.random, which NumPy loads lazily.)
RNGLike: TypeAlias = "int | np.integer | np.random.Generator | None"


def as_generator(rng: RNGLike) -> np.random.Generator:
    """None -> a fresh unseeded Generator; int -> ``default_rng(seed)``; a Generator is used as is."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (int, np.integer)):
        return np.random.default_rng(rng)
    raise TypeError(f"rng must be None, an int seed or a numpy Generator, got {type(rng).__name__}")
