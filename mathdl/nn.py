"""Layers built on :class:`~mathdl.tensor.Tensor`, mirroring ``torch.nn``.

Convention of this course: a dense layer computes Z = X W + b with X of shape
(batch, in_features) and W of shape (in_features, out_features). ``torch.nn.Linear``
stores the transpose, weight (out_features, in_features), and computes X W^T + b.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from . import functional as F
from ._rng import RNGLike, as_generator
from .autograd import elementwise
from .init import initialize
from .losses import REDUCTIONS
from .tensor import Tensor

__all__ = [
    "GELU",
    "MLP",
    "Activation",
    "BCELoss",
    "BCEWithLogitsLoss",
    "BatchNorm1d",
    "CrossEntropyLoss",
    "IncompatibleKeys",
    "LayerNorm",
    "LeakyReLU",
    "Linear",
    "MSELoss",
    "Module",
    "Parameter",
    "ReLU",
    "Residual",
    "Sequential",
    "Sigmoid",
    "Tanh",
]


class Parameter(Tensor):
    """A tensor that is a module's parameter, as ``torch.nn.Parameter``: listed by
    :meth:`Module.parameters` (even when frozen with ``requires_grad_(False)``) and saved by
    :meth:`Module.state_dict`. ``requires_grad`` is True by default."""

    __slots__ = ()

    def __init__(self, data: ArrayLike | Tensor, requires_grad: bool = True) -> None:
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class IncompatibleKeys(NamedTuple):
    """What :meth:`Module.load_state_dict` returns (torch's ``_IncompatibleKeys``)."""

    missing_keys: list[str]
    unexpected_keys: list[str]


class Module:
    """Base class: subclasses set Tensor attributes (parameters) and Module attributes (children).

    A parameter is a :class:`Parameter` attribute, or a plain Tensor attribute that requires a
    gradient; a buffer is a tensor registered with :meth:`register_buffer` (batch norm's running
    statistics): saved by :meth:`state_dict`, never handed to an optimizer. ``training`` is True
    until :meth:`eval` is called; layers whose forward pass differs between training and
    evaluation (:class:`BatchNorm1d`) read it, as in torch.
    """

    training: bool = True

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    def train(self, mode: bool = True) -> Module:
        """Set training mode (``mode=True``) or evaluation mode on this module and every child."""
        if not isinstance(mode, bool):
            raise TypeError(f"train(mode): mode must be a bool, got {type(mode).__name__}")
        for m in self.modules():
            m.training = mode
        return self

    def eval(self) -> Module:
        """Evaluation mode, the same as ``train(False)``: batch norm uses its running statistics."""
        return self.train(False)

    def forward(self, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:  # a layer without settings prints as ReLU(), as torch
        return f"{type(self).__name__}()"

    # ----- the module tree -----------------------------------------------------------------
    def named_children(self) -> Iterator[tuple[str, Module]]:
        """Direct sub-modules with their attribute names (``name.i`` inside a list)."""
        for name, v in vars(self).items():
            if isinstance(v, Module):
                yield name, v
            elif isinstance(v, (list, tuple)):
                yield from ((f"{name}.{i}", m) for i, m in enumerate(v) if isinstance(m, Module))

    def children(self) -> Iterator[Module]:
        return (m for _, m in self.named_children())

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module and every descendant, each once, depth first (torch's order)."""
        seen: set[int] = set()
        stack = [(prefix, self)]
        while stack:
            name, m = stack.pop()
            if id(m) in seen:
                continue
            seen.add(id(m))
            yield name, m
            kids = [(f"{name}.{n}" if name else n, c) for n, c in m.named_children()]
            stack.extend(reversed(kids))

    def modules(self) -> Iterator[Module]:
        return (m for _, m in self.named_modules())

    # ----- parameters and buffers ----------------------------------------------------------
    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """A tensor of the module's state that no optimizer updates (e.g. running statistics);
        saved by :meth:`state_dict` unless ``persistent=False``."""
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: {name!r} must be a Tensor or None")
        self.__dict__.setdefault("_buffers", {})[name] = persistent
        setattr(self, name, tensor)

    def _own_parameters(self) -> Iterator[tuple[str, Tensor]]:
        buffers = vars(self).get("_buffers", {})
        for name, v in vars(self).items():
            if isinstance(v, Parameter) or (
                isinstance(v, Tensor) and v.requires_grad and name not in buffers
            ):
                yield name, v

    def _own_buffers(self, persistent_only: bool = False) -> Iterator[tuple[str, Tensor]]:
        for name, persistent in vars(self).get("_buffers", {}).items():
            v = getattr(self, name)
            if isinstance(v, Tensor) and (persistent or not persistent_only):
                yield name, v

    def _named(
        self, own: Callable[[Module], Iterator[tuple[str, Tensor]]]
    ) -> Iterator[tuple[str, Tensor]]:
        seen: set[int] = set()
        for prefix, m in self.named_modules():
            for name, t in own(m):
                if id(t) not in seen:
                    seen.add(id(t))
                    yield (f"{prefix}.{name}" if prefix else name), t

    def named_parameters(self) -> Iterator[tuple[str, Tensor]]:
        """(name, parameter) pairs, e.g. ("0.weight", W), each parameter once, torch's order."""
        return self._named(Module._own_parameters)

    def parameters(self) -> list[Tensor]:
        """All parameters of this module and its children, each once, in definition order.

        Frozen ones (``requires_grad_(False)``) too, as torch: an optimizer skips a parameter
        whose ``.grad`` is None.
        """
        return [p for _, p in self.named_parameters()]

    def named_buffers(self) -> Iterator[tuple[str, Tensor]]:
        return self._named(Module._own_buffers)

    def buffers(self) -> list[Tensor]:
        return [b for _, b in self.named_buffers()]

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Freeze (False) or unfreeze every parameter of this module."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = None

    # ----- saving and loading ----------------------------------------------------------------
    def state_dict(self) -> dict[str, Tensor]:
        """Parameters and persistent buffers by name, as ``torch.nn.Module.state_dict``.

        The values share memory with the module (detached tensors, as torch): training goes on
        changing them. To keep a snapshot, ``copy.deepcopy`` it or save it with ``pickle``.
        """
        out: dict[str, Tensor] = {}
        stack: list[tuple[str, Module]] = [("", self)]
        while stack:  # every path to a module, as torch (a layer used twice is saved twice)
            prefix, m = stack.pop()
            for name, t in itertools.chain(m._own_parameters(), m._own_buffers(True)):
                out[prefix + name] = t.detach()
            stack.extend(reversed([(f"{prefix}{n}.", c) for n, c in m.named_children()]))
        return out

    def load_state_dict(
        self, state_dict: Mapping[str, Any], strict: bool = True
    ) -> IncompatibleKeys:
        """Copy the values of ``state_dict`` into this module's parameters and buffers, in place.

        With ``strict=True`` (torch's default) the keys must match exactly; shapes must always.
        Returns the missing and unexpected keys.
        """
        own = self.state_dict()
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        if strict and (missing or unexpected):
            raise RuntimeError(
                f"Error(s) in loading state_dict for {type(self).__name__}: missing keys "
                f"{missing}, unexpected keys {unexpected}"
            )
        for key, target in own.items():
            if key in state_dict:
                target.data[...] = _checked_value(key, state_dict[key], target.shape)
        return IncompatibleKeys(missing, unexpected)


def _checked_value(key: str, value: Any, shape: tuple[int, ...]) -> np.ndarray:
    """A state_dict entry as an array of the model's shape, or an error naming both shapes."""
    arr = np.asarray(value.data if isinstance(value, Tensor) else value)
    if arr.shape != shape:
        hint = (
            " (mathdl's Linear weight is (in_features, out_features), the transpose of torch's)"
            if arr.shape == shape[::-1]
            else ""
        )
        raise RuntimeError(
            f"size mismatch for {key}: the state_dict has shape {arr.shape}, the model {shape}{hint}"
        )
    return arr


class Linear(Module):
    """Z = X W + b with W of shape (in_features, out_features) and b of shape (out_features,).

    The signature is torch's, ``Linear(in_features, out_features, bias=True)``; the keywords
    ``init`` (the weight scheme: "he", the default, for ReLU; "xavier", "he_uniform",
    "xavier_uniform", "small normal" or "zeros", see :mod:`mathdl.init`), ``rng`` (a seed or
    ``np.random.Generator`` for reproducible weights) and ``scale`` (a factor on the weights)
    are mathdl's. The bias starts at zero.
    Note: torch.nn.Linear.weight is the transpose of this weight, shape (out, in).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        *,
        init: str = "he",
        rng: RNGLike = None,
        scale: float = 1.0,
    ) -> None:
        if not isinstance(bias, (bool, np.bool_)):
            raise TypeError(
                f"Linear: bias must be True or False, got {bias!r} (the weight scheme is a "
                f"keyword: Linear({in_features}, {out_features}, init={bias!r}))"
            )
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(initialize(init, in_features, out_features, scale=scale, rng=rng))
        self.bias = Parameter(np.zeros(out_features)) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight, self.bias)

    def __repr__(self) -> str:
        return (
            f"Linear(in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None})"
        )


class Sequential(Module):
    """Apply modules (or plain callables) one after another."""

    def __init__(self, *layers: Module | Callable[[Tensor], Tensor]) -> None:
        self.layers = list(layers)

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """The layers named by position, "0", "1", ... (so state_dict keys match torch's)."""
        return ((str(i), m) for i, m in enumerate(self.layers) if isinstance(m, Module))

    def forward(self, x: Tensor) -> Tensor:
        for layer in self.layers:
            x = layer(x)
        return x

    def __getitem__(self, i: int) -> Module | Callable[[Tensor], Tensor]:
        return self.layers[i]

    def __len__(self) -> int:
        return len(self.layers)

    def __repr__(self) -> str:
        inner = "\n".join(f"  ({i}): {layer!r}" for i, layer in enumerate(self.layers))
        return f"Sequential(\n{inner}\n)"


class ReLU(Module):
    def forward(self, x: Tensor) -> Tensor:
        return F.relu(x)


class LeakyReLU(Module):
    def __init__(self, negative_slope: float = 0.01):
        self.negative_slope = negative_slope

    def forward(self, x: Tensor) -> Tensor:
        return F.leaky_relu(x, self.negative_slope)

    def __repr__(self) -> str:
        return f"LeakyReLU(negative_slope={self.negative_slope})"


class Sigmoid(Module):
    def forward(self, x: Tensor) -> Tensor:
        return F.sigmoid(x)


class Tanh(Module):
    def forward(self, x: Tensor) -> Tensor:
        return F.tanh(x)


class GELU(Module):
    def forward(self, x: Tensor) -> Tensor:
        return F.gelu(x)


class Activation(Module):
    """An element-wise activation of your own from a pair of NumPy functions, f and its derivative.

    ``Activation(f, df)`` computes y = f(x) and, in the backward pass, dL/dx = dL/dy * f'(x)
    (one :class:`mathdl.autograd.Function`); e.g. ``nn.MLP([2, 16, 3], activation=lambda:
    nn.Activation(np.sin, np.cos, "Sine"))``. Check ``df`` with :func:`mathdl.gradcheck`.
    """

    def __init__(
        self,
        f: Callable[[np.ndarray], np.ndarray],
        df: Callable[[np.ndarray], np.ndarray],
        name: str = "Activation",
    ) -> None:
        self.f, self.df, self.name = f, df, name
        self._function = elementwise(f, df, name)

    def forward(self, x: Tensor) -> Tensor:
        return self._function.apply(x)

    def __repr__(self) -> str:
        return f"{self.name}()"


_ACTIVATIONS = {
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
    "sigmoid": Sigmoid,
    "tanh": Tanh,
    "gelu": GELU,
}


class MLP(Sequential):
    """Linear layers of the given sizes with an activation between them (none after the last).

    ``MLP([2, 64, 64, 3])`` is Linear(2, 64), ReLU, Linear(64, 64), ReLU, Linear(64, 3).
    ``activation`` is a name ("relu", "leaky_relu", "sigmoid", "tanh", "gelu"), a Module class or
    a function returning a new Module (e.g. ``lambda: nn.Activation(f, df)``);
    ``init`` is passed to every Linear; ``rng`` (seed or Generator) makes the weights reproducible.
    """

    def __init__(
        self,
        sizes: Iterable[int],
        activation: str | Callable[[], Module] = "relu",
        init: str = "he",
        rng: RNGLike = None,
        scale: float = 1.0,
    ):
        sizes = list(sizes)
        if len(sizes) < 2:
            raise ValueError(f"MLP needs at least an input and an output size, got {sizes}")
        if isinstance(activation, str):
            try:
                activation = _ACTIVATIONS[activation]
            except KeyError:
                raise ValueError(
                    f"unknown activation {activation!r}; choose one of {sorted(_ACTIVATIONS)}"
                ) from None
        rng = as_generator(rng)
        layers: list[Module] = []
        for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
            layers.append(Linear(n_in, n_out, init=init, rng=rng, scale=scale))
            if i < len(sizes) - 2:
                layers.append(activation())
        super().__init__(*layers)
        self.sizes = sizes


def _check_positive_int(what: str, name: str, v: object) -> None:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
        raise ValueError(f"{what}: {name} must be a positive integer, got {v!r}")


class BatchNorm1d(Module):
    """Batch normalization (Ioffe & Szegedy, 2015) of (N, C) or (N, C, L) inputs, as ``torch.nn.BatchNorm1d``.

    In training mode each of the C features is standardized over the batch (mean and biased
    variance of its N or N*L values), then scaled and shifted, y = weight x_hat + bias, and the
    running statistics move towards the batch's:
    running <- (1 - momentum) running + momentum batch_stat (the variance unbiased, times
    m/(m-1)); ``momentum=None`` keeps a plain average over all batches seen
    (``num_batches_tracked``). In evaluation mode (:meth:`eval`) the running statistics are used
    instead. ``affine=False`` leaves out weight (starts at 1) and bias (starts at 0),
    ``bias=False`` the bias only; ``track_running_stats=False`` keeps no running statistics and
    uses the batch's in both modes.
    """

    running_mean: Tensor | None  # buffers (register_buffer)
    running_var: Tensor | None
    num_batches_tracked: Tensor | None

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        *,
        bias: bool = True,
    ):
        _check_positive_int("BatchNorm1d", "num_features", num_features)
        if eps < 0:
            raise ValueError(f"BatchNorm1d: eps must be >= 0, got {eps}")
        if momentum is not None and not 0 <= momentum <= 1:
            raise ValueError(f"BatchNorm1d: momentum must lie in [0, 1] or be None, got {momentum}")
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        self.weight = Parameter(np.ones(num_features)) if affine else None
        self.bias = Parameter(np.zeros(num_features)) if affine and bias else None
        track = track_running_stats  # buffers: updated by forward, not by an optimizer
        self.register_buffer("running_mean", Tensor(np.zeros(num_features)) if track else None)
        self.register_buffer("running_var", Tensor(np.ones(num_features)) if track else None)
        count = Tensor._wrap(np.zeros((), dtype=np.int64)) if track else None  # an int, as torch
        self.register_buffer("num_batches_tracked", count)

    def forward(self, x: Tensor) -> Tensor:
        factor = 0.0 if self.momentum is None else self.momentum
        count = self.num_batches_tracked
        if self.training and count is not None:  # None unless track_running_stats
            count.data += 1  # in place, so a state_dict taken earlier sees it (as torch)
            if self.momentum is None:  # cumulative moving average
                factor = 1.0 / int(count)
        use_batch_stats = self.training or self.running_mean is None
        track = not self.training or self.track_running_stats
        return F.batch_norm(
            x,
            self.running_mean if track else None,
            self.running_var if track else None,
            self.weight,
            self.bias,
            training=use_batch_stats,
            momentum=factor,
            eps=self.eps,
        )

    def __repr__(self) -> str:
        return (
            f"BatchNorm1d({self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={self.affine}, bias={self.bias is not None}, "
            f"track_running_stats={self.track_running_stats})"
        )


class LayerNorm(Module):
    """Layer normalization (Ba, Kiros & Hinton, 2016), as ``torch.nn.LayerNorm``.

    Each example is standardized over its trailing ``normalized_shape`` axes (mean and biased
    variance of its own features), then y = weight * x_hat + bias, weight (starts at 1) and bias
    (starts at 0) of shape ``normalized_shape``. No batch statistics: training and evaluation
    modes compute the same thing, and a batch of one works.
    """

    def __init__(
        self,
        normalized_shape: int | tuple[int, ...],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
    ):
        ns = (
            (normalized_shape,)
            if isinstance(normalized_shape, (int, np.integer))
            else tuple(normalized_shape)
        )
        if not ns:
            raise ValueError("LayerNorm: normalized_shape must name at least one dimension")
        for n in ns:
            _check_positive_int("LayerNorm", "normalized_shape", n)
        if eps < 0:
            raise ValueError(f"LayerNorm: eps must be >= 0, got {eps}")
        self.normalized_shape, self.eps, self.elementwise_affine = ns, eps, elementwise_affine
        self.weight = Parameter(np.ones(ns)) if elementwise_affine else None
        self.bias = Parameter(np.zeros(ns)) if elementwise_affine and bias else None

    def forward(self, x: Tensor) -> Tensor:
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def __repr__(self) -> str:
        return (
            f"LayerNorm({self.normalized_shape}, eps={self.eps}, "
            f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None})"
        )


class Residual(Module):
    """A residual block (He et al., 2016): y = x + f(x), f the given layers applied in order.

    ``Residual(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 64))`` adds a two-layer branch to
    the identity. The identity path carries the gradient unchanged, dL/dx = dL/dy + (df/dx)^T
    dL/dy, so a deep stack of blocks does not vanish the way a plain stack can. f must keep the
    shape of x. The other way round, each block adds f(x) to what comes in, so with a branch that
    keeps the variance of its input (He or Xavier weights) the activations grow with depth: start
    the branch small (``scale=`` on its last Linear) or normalize inside it.
    """

    def __init__(self, *layers: Module | Callable[[Tensor], Tensor]):
        if not layers:
            raise ValueError("Residual needs at least one layer for its branch f")
        self.branch = layers[0] if len(layers) == 1 else Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        fx = self.branch(x)
        if fx.shape != x.shape:
            raise ValueError(
                f"Residual: the branch maps shape {x.shape} to {fx.shape}; y = x + f(x) needs "
                "f to keep the shape"
            )
        return x + fx

    def __repr__(self) -> str:
        inner = repr(self.branch).replace("\n", "\n  ")
        return f"Residual(\n  (branch): {inner}\n)"


class _Loss(Module):
    """A loss as a module, as torch's: ``loss_fn = nn.MSELoss(); loss = loss_fn(pred, target)``."""

    _function: Callable[..., Tensor]

    def __init__(self, reduction: str = "mean") -> None:
        if reduction not in REDUCTIONS:
            raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
        self.reduction = reduction

    def forward(self, input: Tensor | ArrayLike, target: Tensor | ArrayLike) -> Tensor:
        return type(self)._function(input, target, reduction=self.reduction)


class MSELoss(_Loss):
    """Squared error, :func:`mathdl.functional.mse_loss` (``torch.nn.MSELoss``)."""

    _function = staticmethod(F.mse_loss)


class CrossEntropyLoss(_Loss):
    """Softmax cross-entropy of logits and class indices, :func:`mathdl.functional.cross_entropy`."""

    _function = staticmethod(F.cross_entropy)


class BCELoss(_Loss):
    """Binary cross-entropy of probabilities, :func:`mathdl.functional.binary_cross_entropy`."""

    _function = staticmethod(F.binary_cross_entropy)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy of raw scores, :func:`mathdl.functional.binary_cross_entropy_with_logits`."""

    _function = staticmethod(F.binary_cross_entropy_with_logits)
