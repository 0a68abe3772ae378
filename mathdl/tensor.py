"""A tiny reverse-mode autograd engine over NumPy arrays, with PyTorch's API.

A :class:`Tensor` holds a float64 array ``data``. When it is produced by an operation on
tensors that require gradients, it remembers its ``_parents`` and a ``_backward``
function. ``_backward(g)`` receives dL/d(output) and returns one gradient per parent
(``None`` for a parent that needs none). :meth:`Tensor.backward` visits the graph in
reverse topological order and adds up the gradients, like ``torch.Tensor.backward``.

Each operation is written as its forward computation next to its derivative, with the formula
in a comment. Activation and loss derivatives are not rewritten here: they come from
:mod:`mathdl.activations` and :mod:`mathdl.losses`. Out of the way of the chain rule, the shape
checks live in :mod:`mathdl._checks`, graph recording on/off in :mod:`mathdl.grad_mode`, and
PyTorch's corner cases in helpers at the bottom of this file. To add an operation of your own,
subclass :class:`mathdl.autograd.Function`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeAlias

import numpy as np
from numpy.typing import ArrayLike

from . import activations as _act
from ._checks import check_broadcast, check_matmul, checked, normalize_dims, reshaped
from .grad_mode import _GRAD_ENABLED, enable_grad, is_grad_enabled, no_grad

__all__ = [
    "Tensor",
    "TensorLike",
    "enable_grad",
    "is_grad_enabled",
    "matmul_vjp",
    "no_grad",
    "tensor",
    "unbroadcast",
]

#: What the operators accept on either side: a Tensor, a number or an array.
TensorLike: TypeAlias = "Tensor | ArrayLike"
#: A derivative rule of a binary op: (upstream g, a, b) -> g times d(out)/d(operand).
_Rule: TypeAlias = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def _reflected(
    op: Callable[[Tensor, TensorLike], Tensor],
) -> Callable[[Tensor, TensorLike], Tensor]:
    """The reflected operator of ``op`` (``x.__rsub__(y)`` computes ``y - x``): ``y`` is not a
    Tensor (Python tried ``y.__sub__(x)`` first), so lift it to one and apply ``op``."""

    def reflected(self: Tensor, other: TensorLike) -> Tensor:
        return op(Tensor._lift(other), self)

    return reflected


class Tensor:
    """An n-dimensional float64 array that can record operations for autograd.

    Parameters
    ----------
    data : array_like
        Converted to a float64 ``np.ndarray`` (copied, as ``torch.tensor`` does).
    requires_grad : bool
        If True, ``backward()`` fills ``.grad`` (same shape as ``data``) for this tensor.

    Comparisons (``<``, ``==``, ...) give bool tensors without a gradient, as in torch; a tensor
    is hashed by identity, so it can still key a dict (an optimizer's per-parameter state).
    """

    __slots__ = ("_backward", "_op", "_parents", "_retain", "data", "grad", "requires_grad")
    __array_priority__ = 1000  # so ndarray + Tensor calls Tensor.__radd__

    data: np.ndarray
    grad: np.ndarray | None
    requires_grad: bool
    _parents: tuple[Tensor, ...]
    _backward: Callable[[np.ndarray], Sequence[np.ndarray | None]] | None
    _op: str
    _retain: bool

    def __init__(self, data: ArrayLike | Tensor, requires_grad: bool = False) -> None:
        if isinstance(data, Tensor):
            data = data.data
        self.data = np.array(data, dtype=np.float64)
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self._parents, self._backward, self._op, self._retain = (), None, "", False

    # ----- graph construction -------------------------------------------------------------
    @classmethod
    def _wrap(cls, data: np.ndarray) -> Tensor:
        """A tensor around ``data`` as it is (no copy, no conversion) with no history."""
        t = cls.__new__(cls)
        t.data, t.grad, t.requires_grad = data, None, False
        t._parents, t._backward, t._op, t._retain = (), None, "", False
        return t

    @classmethod
    def _make(
        cls,
        data: np.ndarray,
        parents: tuple[Tensor, ...],
        backward: Callable[[np.ndarray], Sequence[np.ndarray | None]] | None,
        op: str,
    ) -> Tensor:
        """Result of an operation; records the graph only when a gradient is needed.

        The engine's own way to add an op (the public one is :class:`mathdl.autograd.Function`):
        ``backward(g)`` returns one gradient per parent, or None for a parent that needs none.
        """
        out = Tensor._wrap(data)
        out._op = op
        if _GRAD_ENABLED[0] and backward is not None:
            for p in parents:
                if p.requires_grad:
                    out.requires_grad, out._parents, out._backward = True, parents, backward
                    break
        return out

    @staticmethod
    def _lift(x: TensorLike) -> Tensor:
        return x if isinstance(x, Tensor) else Tensor(x)

    def _unary(
        self, op: str, f: Callable[[np.ndarray], np.ndarray], df: Callable[[np.ndarray], np.ndarray]
    ) -> Tensor:
        """y = f(x) element-wise; backward: g * f'(x)."""
        x = self.data
        return Tensor._make(f(x), (self,), lambda g: (g * df(x),), op)

    # ----- basic properties ---------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def dtype(self) -> np.dtype[Any]:
        """float64, or bool for the result of a comparison."""
        return self.data.dtype

    @property
    def is_leaf(self) -> bool:
        """True for tensors created by the user rather than by an operation."""
        return self._backward is None

    def numel(self) -> int:
        return self.data.size

    def item(self) -> float:
        if self.data.size != 1:
            raise ValueError(f"item() needs a tensor with one element, got shape {self.shape}")
        return self.data.reshape(()).item()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise RuntimeError(
                f"Boolean value of Tensor with more than one value is ambiguous (shape "
                f"{self.shape}): use .any() or .all()"
            )
        return bool(self.data.reshape(()))

    def numpy(self) -> np.ndarray:
        return self.data

    def tolist(self) -> Any:
        return self.data.tolist()

    def detach(self) -> Tensor:
        """The same values, cut off from the graph (shares memory, like torch)."""
        return Tensor._wrap(self.data)

    def requires_grad_(self, flag: bool = True) -> Tensor:
        self.requires_grad = bool(flag)
        return self

    def retain_grad(self) -> Tensor:
        """Keep ``.grad`` on this non-leaf tensor after backward (as ``torch.Tensor.retain_grad``)."""
        self._retain = True
        return self

    def zero_(self) -> Tensor:
        self.data[...] = 0.0
        return self

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        body = np.array2string(self.data, precision=4, separator=", ", prefix="Tensor(")
        extra = (
            f", grad_fn=<{self._op}>"
            if self._backward is not None
            else (", requires_grad=True" if self.requires_grad else "")
        )
        return f"Tensor({body}{extra})"

    # ----- arithmetic: forward, then each operand's derivative --------------------------------
    def __add__(self, other: TensorLike) -> Tensor:  # d(a+b)/da = 1, d(a+b)/db = 1
        return _binary("Add", np.add, self, other, lambda g, a, b: g, lambda g, a, b: g)

    def __sub__(self, other: TensorLike) -> Tensor:  # d(a-b)/da = 1, d(a-b)/db = -1
        return _binary("Sub", np.subtract, self, other, lambda g, a, b: g, lambda g, a, b: -g)

    def __mul__(self, other: TensorLike) -> Tensor:  # d(ab)/da = b, d(ab)/db = a
        return _binary(
            "Mul", np.multiply, self, other, lambda g, a, b: g * b, lambda g, a, b: g * a
        )

    def __truediv__(self, other: TensorLike) -> Tensor:  # d(a/b)/da = 1/b, d(a/b)/db = -a/b^2
        return _binary(
            "Div",
            np.true_divide,
            self,
            other,
            lambda g, a, b: g / b,
            lambda g, a, b: -g * a / (b * b),
        )

    def __pow__(self, exponent: TensorLike) -> Tensor:  # d(a^b)/da = b a^(b-1), d/db = a^b ln a
        if isinstance(exponent, Tensor) or np.ndim(exponent) != 0:  # exponents that are tensors
            return _binary(
                "Pow",
                np.power,
                self,
                exponent,
                lambda g, a, b: g * _dpow_dbase(a, b),
                lambda g, a, b: g * _dpow_dexponent(a, b),
            )
        p, x = float(np.asarray(exponent)), self.data  # a constant exponent: one parent
        return Tensor._make(x**p, (self,), lambda g: (g * _dpow_dbase(x, p),), "Pow")

    def __neg__(self) -> Tensor:  # d(-x)/dx = -1
        return Tensor._make(-self.data, (self,), lambda g: (-g,), "Neg")

    def __matmul__(self, other: TensorLike) -> Tensor:  # dL/dA = G B^T, dL/dB = A^T G
        a, b = self, self._lift(other)
        return Tensor._make(
            checked("matmul", np.matmul, a.data, b.data, check_matmul),
            (a, b),
            lambda g: matmul_vjp(a.data, b.data, g, a.requires_grad, b.requires_grad),
            "MatMul",
        )

    # y + x, y - x, ... with a number or an array y on the left: lift y to a Tensor, then the op.
    __radd__ = _reflected(__add__)
    __rsub__ = _reflected(__sub__)
    __rmul__ = _reflected(__mul__)
    __rtruediv__ = _reflected(__truediv__)
    __rpow__ = _reflected(__pow__)
    __rmatmul__ = _reflected(__matmul__)

    # ----- comparisons: element-wise bool tensors, no gradient (as torch) ---------------------
    def _compare(self, op: str, fn: Callable[..., np.ndarray], other: object) -> Tensor:
        if not isinstance(other, (Tensor, np.ndarray, np.generic, int, float, list, tuple)):
            return NotImplemented  # e.g. t == None: Python's identity fallback, as torch
        return Tensor._wrap(checked(op, fn, self.data, self._lift(other).data, check_broadcast))

    def __lt__(self, other: TensorLike) -> Tensor:
        return self._compare("lt", np.less, other)

    def __le__(self, other: TensorLike) -> Tensor:
        return self._compare("le", np.less_equal, other)

    def __gt__(self, other: TensorLike) -> Tensor:
        return self._compare("gt", np.greater, other)

    def __ge__(self, other: TensorLike) -> Tensor:
        return self._compare("ge", np.greater_equal, other)

    def __eq__(self, other: object) -> Tensor:  # type: ignore[override]
        return self._compare("eq", np.equal, other)

    def __ne__(self, other: object) -> Tensor:  # type: ignore[override]
        return self._compare("ne", np.not_equal, other)

    def __hash__(self) -> int:  # by identity, as torch: == is element-wise, not identity
        return id(self)

    def any(self) -> Tensor:
        return Tensor._wrap(np.asarray(np.any(self.data)))

    def all(self) -> Tensor:
        return Tensor._wrap(np.asarray(np.all(self.data)))

    # ----- reductions and shape -----------------------------------------------------------
    def sum(self, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
        """Sum over ``dim`` (int, tuple, or None for all); gradient: copy g back over the summed axes."""
        dims, shape = normalize_dims(dim, self.ndim), self.data.shape

        def backward(g: np.ndarray) -> tuple[np.ndarray]:  # d(sum x)/dx_i = 1
            return (np.broadcast_to(_keep_dims(g, dims, keepdim), shape),)

        return Tensor._make(
            np.sum(self.data, axis=dims, keepdims=keepdim), (self,), backward, "Sum"
        )

    def mean(self, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
        """Mean over ``dim``; gradient: g / n copied over the n averaged entries."""
        dims, shape = normalize_dims(dim, self.ndim), self.data.shape
        n = self.data.size if dims is None else int(np.prod([shape[d] for d in dims]))

        def backward(g: np.ndarray) -> tuple[np.ndarray]:  # d(mean x)/dx_i = 1/n
            return (np.broadcast_to(_keep_dims(g, dims, keepdim) / n, shape),)

        return Tensor._make(
            np.mean(self.data, axis=dims, keepdims=keepdim), (self,), backward, "Mean"
        )

    def reshape(self, *shape: int | Sequence[int]) -> Tensor:
        """Same entries, new shape (one entry may be -1); gradient reshaped back."""
        new = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        old = self.data.shape
        return Tensor._make(
            reshaped(self.data, new), (self,), lambda g: (g.reshape(old),), "Reshape"
        )

    def view(self, *shape: int | Sequence[int]) -> Tensor:
        return self.reshape(*shape)

    def flatten(self, start_dim: int = 0) -> Tensor:
        return self.reshape(*self.shape[:start_dim], -1)

    @property
    def T(self) -> Tensor:
        """Reverse the axes (the transpose for a matrix); gradient transposed back."""
        return Tensor._make(self.data.T, (self,), lambda g: (g.T,), "Transpose")

    def transpose(self, dim0: int, dim1: int) -> Tensor:
        return Tensor._make(
            np.swapaxes(self.data, dim0, dim1),
            (self,),
            lambda g: (np.swapaxes(g, dim0, dim1),),
            "Transpose",
        )

    def __getitem__(self, index: Any) -> Tensor:
        """Indexing and slicing; gradient scattered back (repeated indices add up)."""
        if isinstance(index, Tensor):  # a bool mask stays a mask, other values are positions
            index = index.data if index.dtype == np.bool_ else index.data.astype(np.int64)
        shape = self.data.shape

        def backward(g: np.ndarray) -> tuple[np.ndarray]:
            full = np.zeros(shape)
            np.add.at(full, index, g)
            return (full,)

        return Tensor._make(self.data[index], (self,), backward, "Index")

    # ----- element-wise functions ---------------------------------------------------------
    def exp(self) -> Tensor:  # (e^x)' = e^x
        y = np.exp(self.data)
        return Tensor._make(y, (self,), lambda g: (g * y,), "Exp")

    def log(self) -> Tensor:  # (ln x)' = 1/x
        x = self.data
        return Tensor._make(np.log(x), (self,), lambda g: (g / x,), "Log")

    def sqrt(self) -> Tensor:  # (sqrt x)' = 1 / (2 sqrt x)
        y = np.sqrt(self.data)
        return Tensor._make(y, (self,), lambda g: (g / (2.0 * y),), "Sqrt")

    def abs(self) -> Tensor:  # |x|' = sign(x), 0 at 0 (as torch)
        return self._unary("Abs", np.abs, np.sign)

    def relu(self) -> Tensor:  # ReLU'(x) = 1 if x > 0 else 0
        return self._unary("ReLU", _act.relu, _act.relu_derivative)

    def leaky_relu(self, negative_slope: float = 0.01) -> Tensor:  # 1 if x > 0 else slope
        x, s = self.data, negative_slope
        return Tensor._make(
            _act.leaky_relu(x, s),
            (self,),
            lambda g: (g * _act.leaky_relu_derivative(x, s),),
            "LeakyReLU",
        )

    def sigmoid(self) -> Tensor:  # σ'(x) = σ(x) (1 − σ(x))
        return self._unary("Sigmoid", _act.sigmoid, _act.sigmoid_derivative)

    def tanh(self) -> Tensor:  # tanh'(x) = 1 − tanh(x)²
        return self._unary("Tanh", _act.tanh, _act.tanh_derivative)

    def gelu(self) -> Tensor:  # GELU'(x): see mathdl.activations.gelu_derivative
        return self._unary("GELU", _act.gelu, _act.gelu_derivative)

    # ----- backpropagation ----------------------------------------------------------------
    def backward(self, grad: ArrayLike | Tensor | None = None) -> None:
        """Accumulate dself/dleaf into ``leaf.grad`` for every leaf that requires grad.

        ``grad`` is dL/dself; it may be left out only when self is a scalar (then it is 1).
        The graph is walked iteratively (no recursion), so chains of any length work.
        Gradients add up across calls, as in PyTorch: call ``zero_grad()`` between steps.
        """
        grads = {id(self): _initial_grad(self, grad)}
        for node in reversed(self._topological_order()):
            g = grads.pop(id(node), None)
            if g is None:
                continue
            if node._backward is None or node._retain:  # a leaf (or retain_grad): keep g
                node.grad = g.copy() if node.grad is None else node.grad + g
                if node._backward is None:
                    continue
            for parent, pg in zip(node._parents, node._backward(g)):  # the chain rule
                if pg is None or not parent.requires_grad:
                    continue
                prev = grads.get(id(parent))
                grads[id(parent)] = pg if prev is None else prev + pg

    def _topological_order(self) -> list[Tensor]:
        """Nodes that need a gradient, each after all of its parents (iterative DFS)."""
        order: list[Tensor] = []
        visited: set[int] = set()
        stack = [(self, False)]
        while stack:
            node, done = stack.pop()
            if done:
                order.append(node)
                continue
            if id(node) in visited:
                continue
            visited.add(id(node))
            stack.append((node, True))
            for p in node._parents:
                if p.requires_grad and id(p) not in visited:
                    stack.append((p, False))
        return order


def tensor(data: ArrayLike | Tensor, requires_grad: bool = False) -> Tensor:
    """Shorthand for ``Tensor(data, requires_grad)``, like ``torch.tensor``."""
    return Tensor(data, requires_grad=requires_grad)


# ----- the vector-Jacobian products shared with mathdl.functional -------------------------------


def unbroadcast(g: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum a broadcast gradient ``g`` back down to ``shape`` (the input's own shape).

    Broadcasting copied the input along new leading axes and along axes of size 1; the
    derivative of a copy is the sum of the copies' gradients. This is the VJP of broadcasting,
    used by every element-wise binary op (and the bias of :func:`mathdl.functional.linear`).
    """
    if g.shape == shape:
        return g
    extra = g.ndim - len(shape)
    if extra:
        g = g.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g


def matmul_vjp(
    a: np.ndarray, b: np.ndarray, g: np.ndarray, need_a: bool = True, need_b: bool = True
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Vector-Jacobian product of C = A @ B: given dL/dC = G, return (dL/dA, dL/dB).

    dL/dA = G B^T and dL/dB = A^T G, summed over broadcast batch dimensions; a 1-D operand is
    treated as a row (first) or a column (second) vector, as in ``np.matmul``. ``need_a`` /
    ``need_b`` False skips that product (returns None). Shared by ``Tensor.__matmul__`` and
    :func:`mathdl.functional.linear`, so the derivative of a matrix product is written once.
    """
    if a.ndim == 2 and b.ndim == 2:  # the common case, without the promotions below
        return (g @ b.T if need_a else None), (a.T @ g if need_b else None)
    A = a[None, :] if a.ndim == 1 else a
    B = b[:, None] if b.ndim == 1 else b
    G = g
    if b.ndim == 1:  # first: for vector @ vector, g is 0-d and becomes (1,) then (1, 1)
        G = np.expand_dims(G, -1)
    if a.ndim == 1:
        G = np.expand_dims(G, -2)
    ga = gb = None
    if need_a:
        ga = unbroadcast(G @ np.swapaxes(B, -1, -2), A.shape).reshape(a.shape)
    if need_b:
        gb = unbroadcast(np.swapaxes(A, -1, -2) @ G, B.shape).reshape(b.shape)
    return ga, gb


# ----- the skeleton of a binary op -----------------------------------------------------------


def _binary(
    op: str, forward: Callable[..., np.ndarray], a: Tensor, other: TensorLike, da: _Rule, db: _Rule
) -> Tensor:
    """out = forward(a, b) with broadcasting; backward: each rule gives g * d(out)/d(operand),
    summed back to the operand's shape (:func:`unbroadcast`), only for operands that need it."""
    b = other if isinstance(other, Tensor) else Tensor(other)

    def backward(g: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
        x, y = a.data, b.data
        ga = unbroadcast(da(g, x, y), x.shape) if a.requires_grad else None
        gb = unbroadcast(db(g, x, y), y.shape) if b.requires_grad else None
        return ga, gb

    return Tensor._make(checked(op, forward, a.data, b.data, check_broadcast), (a, b), backward, op)


# ----- PyTorch's corner cases, out of the way of the ops above ---------------------------------


def _dpow_dbase(a: np.ndarray, b: np.ndarray | float) -> np.ndarray:
    """d(a^b)/da = b a^(b-1), exactly 0 where b = 0 (not 0 * inf at a = 0), as torch."""
    if np.ndim(b) == 0:
        return np.zeros_like(a) if b == 0 else b * a ** (b - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b == 0, 0.0, b * a ** (np.asarray(b) - 1))


def _dpow_dexponent(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """d(a^b)/db = a^b ln a: nan for a < 0, and 0 where a = 0 <= b (not 0 * -inf), as torch."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((a == 0) & (b >= 0), 0.0, a**b * np.log(a))


def _keep_dims(g: np.ndarray, dims: tuple[int, ...] | None, keepdim: bool) -> np.ndarray:
    """Put back the reduced axes (size 1) that sum/mean dropped, so g broadcasts to the input."""
    return g if dims is None or keepdim else np.expand_dims(g, dims)


def _initial_grad(t: Tensor, grad: ArrayLike | Tensor | None) -> np.ndarray:
    """dL/dt for :meth:`Tensor.backward`: 1 for a scalar, else ``grad`` checked against t."""
    if not t.requires_grad:
        raise RuntimeError(
            "backward(): this tensor does not require grad and has no graph "
            "(create the inputs with requires_grad=True)"
        )
    if grad is None:
        if t.data.size != 1:
            raise RuntimeError(
                f"backward() without a gradient needs a scalar output, got shape {t.shape}; "
                "reduce it first (e.g. .sum() or .mean()) or pass grad= of the same shape"
            )
        return np.ones_like(t.data)
    g = np.asarray(grad.data if isinstance(grad, Tensor) else grad, dtype=np.float64)
    if g.shape != t.shape:
        raise ValueError(f"backward(): grad has shape {g.shape} but the tensor has shape {t.shape}")
    return g
