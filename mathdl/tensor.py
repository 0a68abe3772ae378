"""A tiny reverse-mode autograd engine over NumPy arrays, with PyTorch's API.

A :class:`Tensor` holds a float64 array ``data``. When it is produced by an operation on
tensors that require gradients, it remembers its ``_parents`` and a ``_backward``
function. ``_backward(g)`` receives dL/d(output) and returns one gradient per parent
(``None`` for a parent that needs none). :meth:`Tensor.backward` visits the graph in
reverse topological order and adds up the gradients, like ``torch.Tensor.backward``.

Each operation's derivative sits right next to its forward computation. Activation and
loss derivatives are not rewritten here: they come from :mod:`mathdl.activations` and
:mod:`mathdl.losses`.
"""

import numpy as np

from . import activations as _act

__all__ = [
    "Tensor",
    "enable_grad",
    "is_grad_enabled",
    "matmul_vjp",
    "no_grad",
    "tensor",
    "unbroadcast",
]

_GRAD_ENABLED = [True]


def is_grad_enabled():
    """True unless inside a :class:`no_grad` block."""
    return _GRAD_ENABLED[0]


class no_grad:
    """Context manager (and decorator) that stops graph recording, like ``torch.no_grad``.

    Inside it, operations give tensors with ``requires_grad=False`` and no history:
    use it for evaluation and for optimizer updates.
    """

    def __enter__(self):
        self._prev = _GRAD_ENABLED[0]
        _GRAD_ENABLED[0] = False
        return self

    def __exit__(self, *exc):
        _GRAD_ENABLED[0] = self._prev
        return False

    def __call__(self, func):
        def wrapper(*args, **kwargs):
            with self.__class__():
                return func(*args, **kwargs)

        wrapper.__name__ = getattr(func, "__name__", "wrapper")
        wrapper.__doc__ = func.__doc__
        return wrapper


class enable_grad(no_grad):
    """Turn graph recording back on inside a :class:`no_grad` block."""

    def __enter__(self):
        self._prev = _GRAD_ENABLED[0]
        _GRAD_ENABLED[0] = True
        return self


def unbroadcast(g, shape):
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


def matmul_vjp(a, b, g, need_a=True, need_b=True):
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


def _broadcast_shape(op, a, b):
    try:
        return np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ValueError(
            f"{op}: shapes {a.shape} and {b.shape} cannot be broadcast together "
            "(trailing dimensions must be equal or 1)"
        ) from None


def _elementwise(op, fn, a, b):
    """fn(a.data, b.data) for a binary element-wise op; a clear error if the shapes do not broadcast.

    NumPy checks the shapes anyway, so the check costs nothing unless it fails.
    """
    try:
        return fn(a.data, b.data)
    except ValueError:
        _broadcast_shape(op, a, b)  # raises the clear error when the shapes are the cause
        raise


def _normalize_dims(dim, ndim):
    if dim is None:
        return None
    dims = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
    out = []
    for d in dims:
        if not -max(ndim, 1) <= d < max(ndim, 1):
            raise ValueError(f"dim {d} is out of range for a tensor with {ndim} dimensions")
        out.append(int(d) % max(ndim, 1))
    return tuple(out) if ndim else ()  # a 0-d tensor accepts dim 0 or -1, as torch, and has no axis


class Tensor:
    """An n-dimensional float64 array that can record operations for autograd.

    Parameters
    ----------
    data : array_like
        Converted to a float64 ``np.ndarray`` (copied, as ``torch.tensor`` does).
    requires_grad : bool
        If True, ``backward()`` fills ``.grad`` (same shape as ``data``) for this tensor.
    """

    __slots__ = ("_backward", "_op", "_parents", "_retain", "data", "grad", "requires_grad")
    __array_priority__ = 1000  # so ndarray + Tensor calls Tensor.__radd__

    def __init__(self, data, requires_grad=False):
        if isinstance(data, Tensor):
            data = data.data
        arr = np.array(data, dtype=np.float64)
        self.data = arr
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self._parents = ()
        self._backward = None
        self._op = ""
        self._retain = False

    # ----- graph construction -------------------------------------------------------------
    @classmethod
    def _make(cls, data, parents, backward, op):
        """Result of an operation; records the graph only when a gradient is needed."""
        out = cls.__new__(cls)
        out.data = data
        out.grad = None
        out._retain = False
        out._op = op
        if _GRAD_ENABLED[0]:
            for p in parents:
                if p.requires_grad:
                    out.requires_grad = True
                    out._parents = parents
                    out._backward = backward
                    return out
        out.requires_grad = False
        out._parents = ()
        out._backward = None
        return out

    @staticmethod
    def _lift(x):
        return x if isinstance(x, Tensor) else Tensor(x)

    # ----- basic properties ---------------------------------------------------------------
    @property
    def shape(self):
        return self.data.shape

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def size(self):
        return self.data.size

    @property
    def is_leaf(self):
        """True for tensors created by the user rather than by an operation."""
        return self._backward is None

    def numel(self):
        return self.data.size

    def item(self):
        if self.data.size != 1:
            raise ValueError(f"item() needs a tensor with one element, got shape {self.shape}")
        return float(self.data.reshape(()))

    def numpy(self):
        return self.data

    def tolist(self):
        return self.data.tolist()

    def detach(self):
        """The same values, cut off from the graph (shares memory, like torch)."""
        t = Tensor.__new__(Tensor)
        t.data, t.grad, t.requires_grad = self.data, None, False
        t._parents, t._backward, t._op, t._retain = (), None, "", False
        return t

    def requires_grad_(self, flag=True):
        self.requires_grad = bool(flag)
        return self

    def retain_grad(self):
        """Keep ``.grad`` on this non-leaf tensor after backward (as ``torch.Tensor.retain_grad``)."""
        self._retain = True
        return self

    def zero_(self):
        self.data[...] = 0.0
        return self

    def __len__(self):
        return len(self.data)

    def __repr__(self):
        body = np.array2string(self.data, precision=4, separator=", ", prefix="Tensor(")
        extra = (
            f", grad_fn=<{self._op}>"
            if self._backward is not None
            else (", requires_grad=True" if self.requires_grad else "")
        )
        return f"Tensor({body}{extra})"

    def __hash__(self):
        return id(self)

    # ----- arithmetic ---------------------------------------------------------------------
    def __add__(self, other):
        other = self._lift(other)
        a, b = self, other
        out_data = _elementwise("add", np.add, a, b)

        def backward(g):  # d(a+b)/da = d(a+b)/db = 1; skip the side that needs no gradient
            ga = unbroadcast(g, a.data.shape) if a.requires_grad else None
            gb = unbroadcast(g, b.data.shape) if b.requires_grad else None
            return ga, gb

        return Tensor._make(out_data, (a, b), backward, "Add")

    def __radd__(self, other):
        return self._lift(other).__add__(self)

    def __sub__(self, other):
        other = self._lift(other)
        a, b = self, other
        out_data = _elementwise("sub", np.subtract, a, b)

        def backward(g):  # d(a-b)/da = 1, d(a-b)/db = -1
            ga = unbroadcast(g, a.data.shape) if a.requires_grad else None
            gb = unbroadcast(-g, b.data.shape) if b.requires_grad else None
            return ga, gb

        return Tensor._make(out_data, (a, b), backward, "Sub")

    def __rsub__(self, other):
        return self._lift(other).__sub__(self)

    def __mul__(self, other):
        other = self._lift(other)
        a, b = self, other
        out_data = _elementwise("mul", np.multiply, a, b)

        def backward(g):  # d(ab)/da = b, d(ab)/db = a
            ga = unbroadcast(g * b.data, a.data.shape) if a.requires_grad else None
            gb = unbroadcast(g * a.data, b.data.shape) if b.requires_grad else None
            return ga, gb

        return Tensor._make(out_data, (a, b), backward, "Mul")

    def __rmul__(self, other):
        return self._lift(other).__mul__(self)

    def __truediv__(self, other):
        other = self._lift(other)
        a, b = self, other
        out_data = _elementwise("div", np.true_divide, a, b)

        def backward(g):  # d(a/b)/da = 1/b, d(a/b)/db = -a/b^2
            ga = unbroadcast(g / b.data, a.data.shape) if a.requires_grad else None
            gb = (
                unbroadcast(-g * a.data / (b.data * b.data), b.data.shape)
                if b.requires_grad
                else None
            )
            return ga, gb

        return Tensor._make(out_data, (a, b), backward, "Div")

    def __rtruediv__(self, other):
        return self._lift(other).__truediv__(self)

    def __neg__(self):
        return Tensor._make(-self.data, (self,), lambda g: (-g,), "Neg")

    def __pow__(self, exponent):
        if (
            isinstance(exponent, Tensor) or np.ndim(exponent) != 0
        ):  # a Tensor or an array of exponents
            return self._pow_tensor(self._lift(exponent))
        p = float(exponent)
        x = self

        def backward(
            g,
        ):  # d(x^p)/dx = p x^(p-1); exactly 0 for p = 0 (not 0 * inf at x = 0), as torch
            return (np.zeros_like(g) if p == 0 else g * p * x.data ** (p - 1),)

        return Tensor._make(self.data**p, (self,), backward, "Pow")

    def _pow_tensor(self, other):
        a, b = self, other
        out_data = _elementwise("pow", np.power, a, b)

        def backward(g):  # d(a^b)/da = b a^(b-1); d(a^b)/db = a^b ln a (nan for a < 0, as torch)
            # torch's rules where 0 * inf would give nan: d/da is 0 where b = 0, d/db is 0 where a = 0 <= b
            ga = gb = None
            with np.errstate(divide="ignore", invalid="ignore"):
                if a.requires_grad:
                    ga = unbroadcast(
                        np.where(b.data == 0, 0.0, g * b.data * a.data ** (b.data - 1)),
                        a.data.shape,
                    )
                if b.requires_grad:
                    gb = unbroadcast(
                        np.where((a.data == 0) & (b.data >= 0), 0.0, g * out_data * np.log(a.data)),
                        b.data.shape,
                    )
            return ga, gb

        return Tensor._make(out_data, (a, b), backward, "Pow")

    def __rpow__(self, base):
        return self._lift(base)._pow_tensor(self)

    def __matmul__(self, other):
        other = self._lift(other)
        a, b = self, other
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError(
                f"matmul: both operands need at least 1 dimension, got shapes {a.shape} and {b.shape}"
            )
        k_a = a.shape[-1]
        k_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
        if k_a != k_b:
            raise ValueError(
                f"matmul: shapes {a.shape} and {b.shape} are not aligned: the last dimension of the first "
                f"({k_a}) must equal the {'only' if b.ndim == 1 else 'second-to-last'} dimension of the second ({k_b})"
            )
        if a.ndim > 2 or b.ndim > 2:
            try:
                np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
            except ValueError:
                raise ValueError(
                    f"matmul: batch dimensions of {a.shape} and {b.shape} cannot be broadcast"
                ) from None

        def backward(g):
            return matmul_vjp(a.data, b.data, g, a.requires_grad, b.requires_grad)

        return Tensor._make(a.data @ b.data, (a, b), backward, "MatMul")

    def __rmatmul__(self, other):
        return self._lift(other).__matmul__(self)

    # ----- reductions and shape -----------------------------------------------------------
    def sum(self, dim=None, keepdim=False):
        """Sum over ``dim`` (int, tuple, or None for all); gradient: copy g back over the summed axes."""
        dims = _normalize_dims(dim, self.ndim)
        shape = self.data.shape

        def backward(g):
            if dims is not None and not keepdim:
                g = np.expand_dims(g, dims)
            return (np.broadcast_to(g, shape),)

        return Tensor._make(
            np.sum(self.data, axis=dims, keepdims=keepdim), (self,), backward, "Sum"
        )

    def mean(self, dim=None, keepdim=False):
        """Mean over ``dim``; gradient: g / n copied over the n averaged entries."""
        dims = _normalize_dims(dim, self.ndim)
        shape = self.data.shape
        n = self.data.size if dims is None else int(np.prod([shape[d] for d in dims]))

        def backward(g):
            if dims is not None and not keepdim:
                g = np.expand_dims(g, dims)
            return (np.broadcast_to(g / n, shape),)

        return Tensor._make(
            np.mean(self.data, axis=dims, keepdims=keepdim), (self,), backward, "Mean"
        )

    def reshape(self, *shape):
        """Same entries, new shape (one entry may be -1); gradient reshaped back."""
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        old = self.data.shape
        try:
            data = self.data.reshape(shape)
        except ValueError:
            raise ValueError(
                f"reshape: cannot reshape a tensor of shape {old} ({self.size} entries) into {shape}"
            ) from None
        return Tensor._make(data, (self,), lambda g: (g.reshape(old),), "Reshape")

    def view(self, *shape):
        return self.reshape(*shape)

    def flatten(self, start_dim=0):
        return self.reshape(*self.shape[:start_dim], -1)

    @property
    def T(self):
        """Reverse the axes (the transpose for a matrix); gradient transposed back."""
        return Tensor._make(self.data.T, (self,), lambda g: (g.T,), "Transpose")

    def transpose(self, dim0, dim1):
        return Tensor._make(
            np.swapaxes(self.data, dim0, dim1),
            (self,),
            lambda g: (np.swapaxes(g, dim0, dim1),),
            "Transpose",
        )

    def __getitem__(self, index):
        """Indexing and slicing; gradient scattered back (repeated indices add up)."""
        if isinstance(index, Tensor):
            index = index.data.astype(np.int64)
        shape = self.data.shape

        def backward(g):
            full = np.zeros(shape)
            np.add.at(full, index, g)
            return (full,)

        return Tensor._make(self.data[index], (self,), backward, "Index")

    # ----- element-wise functions ---------------------------------------------------------
    def exp(self):
        out_data = np.exp(self.data)
        return Tensor._make(out_data, (self,), lambda g: (g * out_data,), "Exp")  # (e^x)' = e^x

    def log(self):
        x = self.data
        return Tensor._make(np.log(x), (self,), lambda g: (g / x,), "Log")  # (ln x)' = 1/x

    def sqrt(self):
        out_data = np.sqrt(self.data)
        return Tensor._make(out_data, (self,), lambda g: (g / (2.0 * out_data),), "Sqrt")

    def abs(self):
        x = self.data
        return Tensor._make(np.abs(x), (self,), lambda g: (g * np.sign(x),), "Abs")

    def relu(self):
        x = self.data
        return Tensor._make(_act.relu(x), (self,), lambda g: (g * _act.relu_derivative(x),), "ReLU")

    def leaky_relu(self, negative_slope=0.01):
        x = self.data
        return Tensor._make(
            _act.leaky_relu(x, negative_slope),
            (self,),
            lambda g: (g * _act.leaky_relu_derivative(x, negative_slope),),
            "LeakyReLU",
        )

    def sigmoid(self):
        x = self.data
        return Tensor._make(
            _act.sigmoid(x), (self,), lambda g: (g * _act.sigmoid_derivative(x),), "Sigmoid"
        )

    def tanh(self):
        x = self.data
        return Tensor._make(_act.tanh(x), (self,), lambda g: (g * _act.tanh_derivative(x),), "Tanh")

    def gelu(self):
        x = self.data
        return Tensor._make(_act.gelu(x), (self,), lambda g: (g * _act.gelu_derivative(x),), "GELU")

    # ----- backpropagation ----------------------------------------------------------------
    def backward(self, grad=None):
        """Accumulate dself/dleaf into ``leaf.grad`` for every leaf that requires grad.

        ``grad`` is dL/dself; it may be left out only when self is a scalar (then it is 1).
        The graph is walked iteratively (no recursion), so chains of any length work.
        Gradients add up across calls, as in PyTorch: call ``zero_grad()`` between steps.
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward(): this tensor does not require grad and has no graph "
                "(create the inputs with requires_grad=True)"
            )
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"backward() without a gradient needs a scalar output, got shape {self.shape}; "
                    "reduce it first (e.g. .sum() or .mean()) or pass grad= of the same shape"
                )
            grad = np.ones_like(self.data)
        else:
            grad = np.asarray(grad.data if isinstance(grad, Tensor) else grad, dtype=np.float64)
            if grad.shape != self.shape:
                raise ValueError(
                    f"backward(): grad has shape {grad.shape} but the tensor has shape {self.shape}"
                )

        order = self._topological_order()
        grads = {id(self): grad}
        for node in reversed(order):
            g = grads.pop(id(node), None)
            if g is None:
                continue
            if node._backward is None or node._retain:
                node.grad = g.copy() if node.grad is None else node.grad + g
                if node._backward is None:
                    continue
            for parent, pg in zip(node._parents, node._backward(g)):
                if pg is None or not parent.requires_grad:
                    continue
                key = id(parent)
                prev = grads.get(key)
                grads[key] = pg if prev is None else prev + pg

    def _topological_order(self):
        """Nodes that need a gradient, each after all of its parents (iterative DFS)."""
        order, visited = [], set()
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


def tensor(data, requires_grad=False):
    """Shorthand for ``Tensor(data, requires_grad)``, like ``torch.tensor``."""
    return Tensor(data, requires_grad=requires_grad)
