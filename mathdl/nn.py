"""Layers built on :class:`~mathdl.tensor.Tensor`, mirroring ``torch.nn``.

Convention of this course: a dense layer computes Z = X W + b with X of shape
(batch, in_features) and W of shape (in_features, out_features). ``torch.nn.Linear``
stores the transpose, weight (out_features, in_features), and computes X W^T + b.
"""

import itertools

import numpy as np

from . import functional as F
from ._rng import as_generator
from .init import initialize
from .tensor import Tensor

__all__ = [
    "GELU",
    "MLP",
    "BatchNorm1d",
    "LayerNorm",
    "LeakyReLU",
    "Linear",
    "Module",
    "ReLU",
    "Residual",
    "Sequential",
    "Sigmoid",
    "Tanh",
]


class Module:
    """Base class: subclasses set Tensor attributes (parameters) and Module attributes (children).

    ``training`` is True until :meth:`eval` is called; layers whose forward pass differs between
    training and evaluation (:class:`BatchNorm1d`) read it, as in torch.
    """

    training: bool = True

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def train(self, mode: bool = True) -> "Module":
        """Set training mode (``mode=True``) or evaluation mode on this module and every child."""
        if not isinstance(mode, bool):
            raise TypeError(f"train(mode): mode must be a bool, got {type(mode).__name__}")
        stack = [self]
        while stack:
            m = stack.pop()
            m.training = mode
            stack.extend(m.children())
        return self

    def eval(self) -> "Module":
        """Evaluation mode, the same as ``train(False)``: batch norm uses its running statistics."""
        return self.train(False)

    def forward(self, *args, **kwargs):  # pragma: no cover - abstract
        raise NotImplementedError

    def children(self):
        for v in vars(self).values():
            if isinstance(v, Module):
                yield v
            elif isinstance(v, (list, tuple)):
                yield from (m for m in v if isinstance(m, Module))

    def parameters(self):
        """All trainable tensors of this module and its children, each once, in definition order."""
        seen, out = set(), []
        stack = [self]
        while stack:
            m = stack.pop(0)
            for v in vars(m).values():
                if isinstance(v, Tensor) and v.requires_grad and id(v) not in seen:
                    seen.add(id(v))
                    out.append(v)
            stack[0:0] = list(m.children())
        return out

    def zero_grad(self):
        for p in self.parameters():
            p.grad = None


class Linear(Module):
    """Z = X W + b with W of shape (in_features, out_features) and b of shape (out_features,).

    ``init`` names the weight scheme: "he" (default, for ReLU), "xavier", "he_uniform",
    "xavier_uniform", "small normal" or "zeros" (see :mod:`mathdl.init`). The bias starts
    at zero. ``rng`` is a seed or ``np.random.Generator`` for reproducible weights.
    Note: torch.nn.Linear.weight is the transpose of this weight, shape (out, in).
    """

    def __init__(self, in_features, out_features, init="he", rng=None, bias=True, scale=1.0):
        self.in_features, self.out_features = in_features, out_features
        self.weight = Tensor(
            initialize(init, in_features, out_features, scale=scale, rng=rng), requires_grad=True
        )
        self.bias = Tensor(np.zeros(out_features), requires_grad=True) if bias else None

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)

    def __repr__(self):
        return f"Linear(in_features={self.in_features}, out_features={self.out_features})"


class Sequential(Module):
    """Apply modules (or plain callables) one after another."""

    def __init__(self, *layers):
        self.layers = list(layers)

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def __getitem__(self, i):
        return self.layers[i]

    def __len__(self):
        return len(self.layers)

    def __repr__(self):
        inner = "\n".join(f"  ({i}): {layer!r}" for i, layer in enumerate(self.layers))
        return f"Sequential(\n{inner}\n)"


class ReLU(Module):
    def forward(self, x):
        return F.relu(x)

    def __repr__(self):
        return "ReLU()"


class LeakyReLU(Module):
    def __init__(self, negative_slope=0.01):
        self.negative_slope = negative_slope

    def forward(self, x):
        return F.leaky_relu(x, self.negative_slope)

    def __repr__(self):
        return f"LeakyReLU(negative_slope={self.negative_slope})"


class Sigmoid(Module):
    def forward(self, x):
        return F.sigmoid(x)

    def __repr__(self):
        return "Sigmoid()"


class Tanh(Module):
    def forward(self, x):
        return F.tanh(x)

    def __repr__(self):
        return "Tanh()"


class GELU(Module):
    def forward(self, x):
        return F.gelu(x)

    def __repr__(self):
        return "GELU()"


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
    ``activation`` is a name ("relu", "leaky_relu", "sigmoid", "tanh", "gelu") or a Module class;
    ``init`` is passed to every Linear; ``rng`` (seed or Generator) makes the weights reproducible.
    """

    def __init__(self, sizes, activation="relu", init="he", rng=None, scale=1.0):
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
        layers = []
        for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
            layers.append(Linear(n_in, n_out, init=init, rng=rng, scale=scale))
            if i < len(sizes) - 2:
                layers.append(activation())
        super().__init__(*layers)
        self.sizes = sizes


def _check_positive_int(what, name, v):
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
    ``bias=False`` the bias only; ``track_running_stats=False`` keeps no running statistics and uses the batch's in both modes.
    """

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
        self.weight = Tensor(np.ones(num_features), requires_grad=True) if affine else None
        self.bias = Tensor(np.zeros(num_features), requires_grad=True) if affine and bias else None
        if track_running_stats:  # buffers: updated by forward, not by an optimizer
            self.running_mean = Tensor(np.zeros(num_features))
            self.running_var = Tensor(np.ones(num_features))
            self.num_batches_tracked = 0
        else:
            self.running_mean = self.running_var = self.num_batches_tracked = None

    def forward(self, x: Tensor) -> Tensor:
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked += 1
            if self.momentum is None:  # cumulative moving average
                factor = 1.0 / self.num_batches_tracked
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

    def __repr__(self):
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
        self.weight = Tensor(np.ones(ns), requires_grad=True) if elementwise_affine else None
        self.bias = (
            Tensor(np.zeros(ns), requires_grad=True) if elementwise_affine and bias else None
        )

    def forward(self, x: Tensor) -> Tensor:
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def __repr__(self):
        return (
            f"LayerNorm({self.normalized_shape}, eps={self.eps}, "
            f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None})"
        )


class Residual(Module):
    """A residual block (He et al., 2016): y = x + f(x), f the given layers applied in order.

    ``Residual(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 64))`` adds a two-layer branch to
    the identity. The identity path carries the gradient unchanged, dL/dx = dL/dy + (df/dx)^T
    dL/dy, so a deep stack of blocks does not vanish the way a plain stack can. f must keep the
    shape of x.
    """

    def __init__(self, *layers):
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

    def __repr__(self):
        inner = repr(self.branch).replace("\n", "\n  ")
        return f"Residual(\n  (branch): {inner}\n)"
