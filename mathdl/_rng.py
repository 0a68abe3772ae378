"""Turn an ``rng`` argument (None, a seed, or a Generator) into a ``np.random.Generator``."""

import numpy as np


def as_generator(rng):
    """None -> a fresh unseeded Generator; int -> ``default_rng(seed)``; a Generator is used as is."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (int, np.integer)):
        return np.random.default_rng(rng)
    raise TypeError(f"rng must be None, an int seed or a numpy Generator, got {type(rng).__name__}")
