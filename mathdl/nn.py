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

__all__ = ["GELU", "MLP", "LeakyReLU", "Linear", "Module", "ReLU", "Sequential", "Sigmoid", "Tanh"]


class Module:
    """Base class: subclasses set Tensor attributes (parameters) and Module attributes (children)."""

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

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
