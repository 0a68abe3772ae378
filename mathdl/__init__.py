"""mathdl: the helper package of the mathdl course on the mathematics of deep learning.

Two layers, one source of truth per derivative:

* by hand, in NumPy: :mod:`mathdl.activations`, :mod:`mathdl.losses`,
  :mod:`mathdl.normalization`, :mod:`mathdl.init`;
* a tiny autograd engine with PyTorch's API: :class:`Tensor`, :mod:`mathdl.functional`,
  :mod:`mathdl.nn`, :mod:`mathdl.optim`, and :class:`Function` (:mod:`mathdl.autograd`) for an
  operation of your own with its derivative.

``import mathdl`` loads NumPy only. torch (:mod:`mathdl.device`), matplotlib
(:mod:`mathdl.plots`) and ipywidgets (:mod:`mathdl.playground`) load when those modules
are used.
"""

from types import ModuleType

from . import activations, autograd, data, functional, init, losses, nn, normalization, optim
from .autograd import Function
from .gradcheck import gradcheck, numerical_grad
from .tensor import Tensor, enable_grad, is_grad_enabled, no_grad, tensor

__version__ = "0.1.0"

__all__ = [
    "Function",
    "Tensor",
    "activations",
    "autograd",
    "data",
    "device",
    "enable_grad",
    "functional",
    "gradcheck",
    "init",
    "is_grad_enabled",
    "losses",
    "nn",
    "no_grad",
    "normalization",
    "numerical_grad",
    "optim",
    "tensor",
]
# Not in __all__, so that ``from mathdl import *`` stays as light as ``import mathdl``: the
# UI modules mathdl.plots, mathdl.playground and mathdl.surfaces (matplotlib, ipywidgets), which
# load on first use as attributes or with ``from mathdl import plots``.

_LAZY = {"device", "plots", "playground", "surfaces"}


def __getattr__(name: str) -> ModuleType:
    # mathdl.device / mathdl.plots / mathdl.playground import heavy libraries: load on first use.
    if name in _LAZY:
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'mathdl' has no attribute {name!r}")
