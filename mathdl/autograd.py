"""Your own differentiable operation: a forward pass and its derivative, as ``torch.autograd.Function``.

Subclass :class:`Function` and write two static methods:

* ``forward(ctx, *inputs)`` computes the output from the inputs (Tensors, numbers, ...) and
  saves what the derivative will need with ``ctx.save_for_backward(...)`` or as attributes
  of ``ctx``;
* ``backward(ctx, grad_output)`` receives dL/d(output) and returns dL/d(input), one per
  input of ``forward`` (``None`` for an input that is not a Tensor or needs no gradient).

Then call ``YourFunction.apply(*inputs)``. Example, the Swish activation x sigma(x), whose
derivative is sigma(x) + x sigma(x) (1 - sigma(x)):

>>> from mathdl import Function, Tensor
>>> class Swish(Function):
...     @staticmethod
...     def forward(ctx, x):
...         s = x.sigmoid()
...         ctx.save_for_backward(x, s)
...         return x * s
...
...     @staticmethod
...     def backward(ctx, grad_output):
...         x, s = ctx.saved_tensors
...         return grad_output * (s + x * s * (1 - s))
>>> x = Tensor([-1.0, 0.0, 2.0], requires_grad=True)
>>> y = Swish.apply(x)  # a graph node: backward() calls Swish.backward
>>> y.sum().backward()
>>> x.grad.round(4).tolist()
[0.0723, 0.5, 1.0908]

Both methods run without recording a graph (inside :class:`~mathdl.tensor.no_grad`), as in torch:
the derivative is yours, not the engine's. Check it with :func:`mathdl.gradcheck`. Tensors
reach ``backward`` as Tensors (``grad_output`` too); it may return Tensors, arrays or numbers.
A gradient whose shape differs from its input's is summed down to it when the input was
broadcast (torch does the same), and refused with a clear error otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .tensor import Tensor, no_grad, unbroadcast

__all__ = ["Function", "FunctionCtx", "elementwise"]


class FunctionCtx:
    """The ``ctx`` of a :class:`Function`: what ``forward`` keeps for ``backward``.

    ``save_for_backward(*tensors)`` stores tensors, read back as ``saved_tensors``;
    ``needs_input_grad`` tells, per input of ``forward``, whether it needs a gradient.
    Any other attribute may be set freely (``ctx.alpha = alpha``).
    """

    saved_tensors: tuple[Any, ...] = ()
    needs_input_grad: tuple[bool, ...] = ()

    def save_for_backward(self, *tensors: Any) -> None:
        self.saved_tensors = tensors


class Function:
    """Base class of an operation with a hand-written derivative (see the module's docstring)."""

    @staticmethod
    def forward(ctx: FunctionCtx, *args: Any) -> Any:
        raise NotImplementedError("a Function needs forward(ctx, *inputs) returning the output")

    @staticmethod
    def backward(ctx: FunctionCtx, grad_output: Tensor) -> Any:
        raise NotImplementedError(
            "a Function needs backward(ctx, grad_output) returning one gradient per input"
        )

    @classmethod
    def apply(cls, *args: Any) -> Tensor:
        """Run ``forward`` on ``args`` and record one graph node whose derivative is ``backward``."""
        ctx = FunctionCtx()
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        with no_grad():
            out = cls.forward(ctx, *args)
        data = np.asarray(out.data if isinstance(out, Tensor) else out, dtype=np.float64)
        positions = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        parents = tuple(args[i] for i in positions)

        def backward(g: np.ndarray) -> list[np.ndarray | None]:
            with no_grad():
                grads = cls.backward(ctx, Tensor._wrap(g))
            grads = grads if isinstance(grads, tuple) else (grads,)
            if len(grads) != len(args):
                raise RuntimeError(
                    f"{cls.__name__}.backward returned {len(grads)} gradient(s) but forward "
                    f"took {len(args)} input(s): return one per input (None where there is none)"
                )
            return [_input_grad(cls.__name__, i, grads[i], args[i]) for i in positions]

        return Tensor._make(data, parents, backward, cls.__name__)


def elementwise(
    f: Callable[[np.ndarray], np.ndarray],
    df: Callable[[np.ndarray], np.ndarray],
    name: str = "Elementwise",
) -> type[Function]:
    """A :class:`Function` for y = f(x) element-wise, from NumPy functions f and its derivative:
    backward is dL/dx = dL/dy * f'(x). ``elementwise(np.sin, np.cos).apply(x)`` is sin(x)."""

    def forward(ctx: FunctionCtx, x: Tensor) -> np.ndarray:
        ctx.save_for_backward(x.data)
        return f(x.data)

    def backward(ctx: FunctionCtx, grad_output: Tensor) -> np.ndarray:
        (x,) = ctx.saved_tensors
        return grad_output.data * df(x)

    methods = {"forward": staticmethod(forward), "backward": staticmethod(backward)}
    return type(name, (Function,), methods)


def _input_grad(name: str, i: int, grad: Any, x: Tensor) -> np.ndarray | None:
    """The gradient ``backward`` returned for input ``i`` as an array of x's shape."""
    if grad is None or not x.requires_grad:
        return None
    g = np.asarray(grad.data if isinstance(grad, Tensor) else grad, dtype=np.float64)
    if g.shape == x.shape:
        return g
    try:  # x was broadcast to g's shape in forward: sum the copies back (as torch)
        expandable = np.broadcast_shapes(g.shape, x.shape) == g.shape
    except ValueError:
        expandable = False
    if not expandable:
        raise RuntimeError(
            f"{name}.backward returned a gradient of shape {g.shape} for input {i}, which has "
            f"shape {x.shape}: the gradient must have the input's shape"
        )
    return unbroadcast(g, x.shape)
