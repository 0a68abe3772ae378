"""Per-layer statistics of a deep MLP on the engine: how big the activations and the gradients
are at each depth, and a few full-batch momentum steps (pure computation; the picture is
:mod:`mathdl.views.layers`).

* ``activation``: a name from :data:`ACTIVATIONS` (``"relu"``, ``"leaky relu"``, ``"tanh"``,
  ``"sigmoid"``, ``"gelu"``, ``"linear"``) or a pair ``(f, df)`` of NumPy functions, the activation
  and its derivative, both taking the pre-activation array ``z`` (run as
  :class:`mathdl.nn.Activation`; the names run as the engine's own layers);
* ``init``: a scheme name from :data:`mathdl.init.SCHEMES` (``"he"``, ``"xavier"``, ``"zeros"``,
  ``"small normal"``, ...) or a function ``init(fan_in, fan_out, rng) -> W`` returning an array
  of shape (fan_in, fan_out) (the course's Z = XW + b layout).

Main entry points: :func:`make_mlp`, :func:`forward_backward` (loss, per-layer activations and
gradients), :func:`layer_statistics` (their standard deviations and the fraction of dead units)
and :func:`train_momentum` (:class:`mathdl.optim.SGD`); :func:`run_recording` and
:func:`signal_sizes` measure any :class:`mathdl.nn.Sequential` (e.g. the deeper networks of
:mod:`mathdl.views.depth`).
"""

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np

from . import activations as A
from . import functional as F
from . import init as _init
from . import nn, optim
from .tensor import Tensor

__all__ = [
    "ACTIVATIONS",
    "ActivationSpec",
    "ArrayFn",
    "Arrays",
    "InitSpec",
    "forward_backward",
    "layer_statistics",
    "linear_layer",
    "make_mlp",
    "resolve_activation",
    "resolve_init",
    "run_recording",
    "signal_sizes",
    "train_momentum",
]

#: A function of a NumPy array, elementwise (an activation or its derivative).
ArrayFn = Callable[[np.ndarray], np.ndarray]

#: Activation names and their (function, derivative) pairs.
ACTIVATIONS: dict[str, tuple[ArrayFn, ArrayFn]] = {
    "relu": (A.relu, A.relu_derivative),
    "leaky relu": (A.leaky_relu, A.leaky_relu_derivative),
    "tanh": (A.tanh, A.tanh_derivative),
    "sigmoid": (A.sigmoid, A.sigmoid_derivative),
    "gelu": (A.gelu, A.gelu_derivative),
    "linear": (lambda z: z, np.ones_like),
}


#: An activation: a name from ACTIVATIONS or a pair (f, df) of NumPy functions.
ActivationSpec = str | tuple[ArrayFn, ArrayFn]
#: The weights (or the biases) of a network, one array per layer.
Arrays = list[np.ndarray]
#: An initializer: a scheme name or a function init(fan_in, fan_out, rng) -> W.
InitSpec = str | Callable[[int, int, np.random.Generator], np.ndarray]


def resolve_activation(
    activation: ActivationSpec,
) -> tuple[ArrayFn, ArrayFn]:
    """``(f, df)`` for a name in :data:`ACTIVATIONS` or a user pair ``(f, df)``."""
    if isinstance(activation, str):
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"unknown activation {activation!r}; choose one of {sorted(ACTIVATIONS)} "
                "or give a pair (f, df)"
            )
        return ACTIVATIONS[activation]
    if (
        isinstance(activation, tuple | list)
        and len(activation) == 2
        and all(callable(g) for g in activation)
    ):
        f, df = activation
        return f, df
    raise TypeError(
        "activation must be a name or a pair (f, df) of functions (the activation and its "
        f"derivative), got {activation!r}"
    )


def resolve_init(init: InitSpec) -> Callable[[int, int, np.random.Generator], np.ndarray]:
    """A function ``(fan_in, fan_out, rng) -> W`` for a scheme name or a user function."""
    if isinstance(init, str):
        if init not in _init.SCHEMES:
            raise ValueError(
                f"unknown initialization {init!r}; choose one of {sorted(_init.SCHEMES)} "
                "or give a function init(fan_in, fan_out, rng)"
            )
        return lambda fan_in, fan_out, rng: _init.initialize(init, fan_in, fan_out, rng=rng)
    if callable(init):
        return init
    raise TypeError(
        f"init must be a scheme name or a function init(fan_in, fan_out, rng), got {init!r}"
    )


def make_mlp(
    init: InitSpec,
    depth: int,
    width: int,
    n_in: int = 2,
    n_out: int = 3,
    scale: float = 1.0,
    seed: int = 0,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Weights and (zero) biases of an MLP n_in -> width (x depth) -> n_out; W has shape (in, out)."""
    if depth < 1 or width < 1:
        raise ValueError(f"depth and width must be >= 1, got depth={depth}, width={width}")
    make = resolve_init(init)
    rng = np.random.default_rng(seed)
    sizes = [n_in] + [width] * depth + [n_out]
    Ws = []
    for a, b in itertools.pairwise(sizes):
        W = np.asarray(make(a, b, rng), dtype=float)
        if W.shape != (a, b):
            raise ValueError(f"init returned shape {W.shape} for fan_in={a}, fan_out={b}")
        Ws.append(scale * W)
    return Ws, [np.zeros(b) for b in sizes[1:]]


#: The engine's own layers for the names it has (faster than an Activation(f, df) node).
_ENGINE_LAYERS = {
    "relu": nn.ReLU,
    "leaky relu": nn.LeakyReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "gelu": nn.GELU,
}


def _activation_layer(activation: ActivationSpec) -> nn.Module:
    """The engine's layer for a name it has, else :class:`mathdl.nn.Activation` ``(f, df)``."""
    if isinstance(activation, str) and activation in _ENGINE_LAYERS:
        return _ENGINE_LAYERS[activation]()
    f, df = resolve_activation(activation)
    return nn.Activation(f, df, activation if isinstance(activation, str) else "activation")


def linear_layer(W: np.ndarray, b: np.ndarray) -> nn.Linear:
    """A :class:`mathdl.nn.Linear` holding a copy of the weights ``W`` (in, out) and biases ``b``."""
    linear = nn.Linear(*np.shape(W), init="zeros")
    linear.weight.data[...] = W
    _bias(linear).data[...] = b
    return linear


def _bias(linear: nn.Linear) -> nn.Parameter:
    if linear.bias is None:
        raise ValueError(f"{linear} has no bias: the statistics need one per layer")
    return linear.bias


def _gradient(t: Tensor) -> np.ndarray:
    if t.grad is None:
        raise ValueError("no gradient recorded: call loss.backward() first")
    return t.grad


def _network(Ws: Arrays, bs: Arrays, activation: ActivationSpec) -> nn.Sequential:
    """Linear layers with weights ``Ws`` and biases ``bs`` (copied), the activation between them."""
    layers: list[nn.Module] = []
    for i, (W, b) in enumerate(zip(Ws, bs, strict=True)):
        layers.append(linear_layer(W, b))
        if i < len(Ws) - 1:
            layers.append(_activation_layer(activation))
    return nn.Sequential(*layers)


def _is_activation(layer: Any) -> bool:
    return not isinstance(layer, nn.Linear)


def run_recording(
    net: nn.Sequential,
    X: np.ndarray,
    y: np.ndarray,
    hidden: Callable[[Any], bool] | None = _is_activation,
) -> tuple[Tensor, list[Tensor], list[Tensor]]:
    """The mean softmax cross-entropy of ``net`` on (X, y) and, for each layer ``hidden`` picks
    (default: every layer but the Linear ones, the activations; None: none), its input z and its
    output h, which keeps its gradient dL/dh after ``loss.backward()``."""
    x, zs, hs = Tensor(np.asarray(X, dtype=float)), [], []
    for layer in net.layers:
        if hidden is None or not hidden(layer):
            x = layer(x)
        else:
            zs.append(x)
            x = layer(x).retain_grad()
            hs.append(x)
    return F.cross_entropy(x, np.asarray(y)), zs, hs


def signal_sizes(hs: list[Tensor], n: int) -> dict[str, np.ndarray]:
    """Per recorded layer (after ``backward``): the std of its output h (``forward``) and of the
    per-example gradient ``n`` dL/dh (``backward``; the loss is a mean over ``n`` examples)."""
    return {
        "forward": np.array([h.data.std() for h in hs]),
        "backward": np.array([_gradient(h).std() for h in hs]) * n,
    }


def forward_backward(
    Ws: Arrays, bs: Arrays, X: np.ndarray, y: np.ndarray, activation: ActivationSpec = "relu"
) -> tuple[float, Arrays, Arrays, Arrays, Arrays, Arrays]:
    """Loss, pre-activations z^(l), activations h^(l), dL/dh^(l) and the parameter gradients.

    Hidden layer l computes z = h W + b, h' = f(z); the last layer gives the logits, and the loss
    is the mean softmax cross-entropy (one forward and one ``backward()`` on the engine). Returns
    ``(loss, zs, hs, ghs, gWs, gbs)`` as NumPy arrays, one entry of ``zs``/``hs``/``ghs`` per
    hidden layer.
    """
    net = _network(Ws, bs, activation)
    loss, zs, hs = run_recording(net, X, y)
    loss.backward()
    linears = [layer for layer in net.layers if isinstance(layer, nn.Linear)]
    return (
        loss.item(),
        [z.data for z in zs],
        [h.data for h in hs],
        [_gradient(h) for h in hs],
        [_gradient(lin.weight) for lin in linears],
        [_gradient(_bias(lin)) for lin in linears],
    )


def layer_statistics(
    Ws: Arrays, bs: Arrays, X: np.ndarray, y: np.ndarray, activation: ActivationSpec = "relu"
) -> dict[str, Any]:
    """Per hidden layer: std of h, std of the per-example gradient N dL/dh, dead-unit fraction.

    A unit is *dead* when its derivative f'(z) is 0 for every example of the batch (for ReLU: its
    input is <= 0 everywhere), so no gradient reaches its incoming weights. Returns a dict with
    arrays ``forward``, ``backward``, ``dead`` (one entry per hidden layer) and the ``loss``.
    """
    f, df = resolve_activation(activation)
    loss, zs, hs = run_recording(_network(Ws, bs, (f, df)), X, y)
    loss.backward()
    return {
        **signal_sizes(hs, len(X)),
        "dead": np.array([np.mean(np.all(df(z.data) == 0, axis=0)) for z in zs]),
        "loss": loss.item(),
    }


def train_momentum(
    Ws: list[np.ndarray],
    bs: list[np.ndarray],
    X: np.ndarray,
    y: np.ndarray,
    lr: float,
    steps: int,
    momentum: float = 0.9,
    activation: ActivationSpec = "relu",
) -> np.ndarray:
    """Full-batch :class:`mathdl.optim.SGD` with momentum (torch's rule v = mu v + g,
    theta -= lr v) on the network ``Ws``, ``bs``, which it updates in place.

    Returns the loss before each step; stops early (shorter array) once the loss is not finite.
    """
    net = _network(Ws, bs, activation)
    opt = optim.SGD(net.parameters(), lr=lr, momentum=momentum)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss, _, _ = run_recording(net, X, y, hidden=None)
        losses.append(loss.item())
        if not np.isfinite(losses[-1]):
            break
        loss.backward()
        opt.step()
    linears = [layer for layer in net.layers if isinstance(layer, nn.Linear)]
    for W, b, lin in zip(Ws, bs, linears, strict=True):
        W[...], b[...] = lin.weight.data, _bias(lin).data
    return np.array(losses)
