"""Per-layer statistics of a deep MLP: how big the activations and the gradients are at each depth.

The computation runs on mathdl's engine (an :class:`mathdl.nn.Sequential` of ``Linear`` layers
and activation layers, the engine's own for the names it has and :class:`mathdl.nn.Activation`
``(f, df)`` for yours, softmax cross-entropy, ``backward()``, :class:`mathdl.optim.SGD`), so that
any activation and any initializer can be plugged in:

* ``activation``: a name from :data:`ACTIVATIONS` (``"relu"``, ``"leaky relu"``, ``"tanh"``,
  ``"sigmoid"``, ``"gelu"``, ``"linear"``) or a pair ``(f, df)`` of NumPy functions, the activation
  and its derivative, both taking the pre-activation array ``z``;
* ``init``: a scheme name from :data:`mathdl.init.SCHEMES` (``"he"``, ``"xavier"``, ``"zeros"``,
  ``"small normal"``, ...) or a function ``init(fan_in, fan_out, rng) -> W`` returning an array
  of shape (fan_in, fan_out) (the course's Z = XW + b layout).

Main entry points: :func:`make_mlp`, :func:`forward_backward` (loss, per-layer activations and
gradients), :func:`layer_statistics` (their standard deviations and the fraction of dead units),
:func:`train_momentum`, the :class:`LayerStatsView` drawing and :func:`layer_stats_playground`.
"""

import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from .. import activations as A
from .. import functional as F
from .. import init as _init
from .. import nn, optim
from ..tensor import Tensor
from .build import Memo, view_playground

__all__ = [
    "ACTIVATIONS",
    "LayerStatsView",
    "forward_backward",
    "layer_statistics",
    "layer_stats_playground",
    "make_mlp",
    "resolve_activation",
    "resolve_init",
    "train_momentum",
]

#: Activation names and their (function, derivative) pairs.
ACTIVATIONS = {
    "relu": (A.relu, A.relu_derivative),
    "leaky relu": (A.leaky_relu, A.leaky_relu_derivative),
    "tanh": (A.tanh, A.tanh_derivative),
    "sigmoid": (A.sigmoid, A.sigmoid_derivative),
    "gelu": (A.gelu, A.gelu_derivative),
    "linear": (lambda z: z, np.ones_like),
}


#: An activation: a name from ACTIVATIONS or a pair (f, df) of NumPy functions.
ActivationSpec = str | tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]
#: The weights (or the biases) of a network, one array per layer.
Arrays = list[np.ndarray]
#: An initializer: a scheme name or a function init(fan_in, fan_out, rng) -> W.
InitSpec = str | Callable[[int, int, np.random.Generator], np.ndarray]


def resolve_activation(
    activation: ActivationSpec,
) -> tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]:
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
        return tuple(activation)
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


def _network(
    Ws: list[np.ndarray], bs: list[np.ndarray], activation: ActivationSpec
) -> nn.Sequential:
    """Linear layers with weights ``Ws`` and biases ``bs`` (copied), the activation between them."""
    layers: list[nn.Module] = []
    for i, (W, b) in enumerate(zip(Ws, bs, strict=True)):
        linear = nn.Linear(*np.shape(W), init="zeros")
        linear.weight.data[...], linear.bias.data[...] = W, b
        layers += [linear] if i == len(Ws) - 1 else [linear, _activation_layer(activation)]
    return nn.Sequential(*layers)


def _run(
    net: nn.Sequential, X: np.ndarray, y: np.ndarray, keep: bool = True
) -> tuple[Tensor, list, list]:
    """The mean softmax cross-entropy of ``net`` on (X, y), and (``keep``) per hidden layer its
    pre-activation z and its activation h, which keeps its gradient dL/dh after backward."""
    x, zs, hs = Tensor(np.asarray(X, dtype=float)), [], []
    for layer in net.layers:
        if isinstance(layer, nn.Linear) or not keep:
            x = layer(x)
        else:
            zs.append(x)
            x = layer(x).retain_grad()
            hs.append(x)
    return F.cross_entropy(x, np.asarray(y)), zs, hs


def forward_backward(
    Ws: Arrays, bs: Arrays, X: np.ndarray, y: np.ndarray, activation: ActivationSpec = "relu"
) -> tuple[float, list, list, list, list, list]:
    """Loss, pre-activations z^(l), activations h^(l), dL/dh^(l) and the parameter gradients.

    Hidden layer l computes z = h W + b, h' = f(z); the last layer gives the logits, and the loss
    is the mean softmax cross-entropy (one forward and one ``backward()`` on the engine). Returns
    ``(loss, zs, hs, ghs, gWs, gbs)`` as NumPy arrays, one entry of ``zs``/``hs``/``ghs`` per
    hidden layer.
    """
    net = _network(Ws, bs, activation)
    loss, zs, hs = _run(net, X, y)
    loss.backward()
    linears = [layer for layer in net.layers if isinstance(layer, nn.Linear)]
    return (
        loss.item(),
        [z.data for z in zs],
        [h.data for h in hs],
        [h.grad for h in hs],
        [lin.weight.grad for lin in linears],
        [lin.bias.grad for lin in linears],
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
    loss, zs, hs, ghs, _, _ = forward_backward(Ws, bs, X, y, (f, df))
    n = len(X)
    return {
        "forward": np.array([h.std() for h in hs]),
        "backward": np.array([g.std() for g in ghs]) * n,
        "dead": np.array([np.mean(np.all(df(z) == 0, axis=0)) for z in zs]),
        "loss": loss,
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
        loss, _, _ = _run(net, X, y, keep=False)
        losses.append(loss.item())
        if not np.isfinite(losses[-1]):
            break
        loss.backward()
        opt.step()
    linears = [layer for layer in net.layers if isinstance(layer, nn.Linear)]
    for W, b, lin in zip(Ws, bs, linears, strict=True):
        W[...], b[...] = lin.weight.data, lin.bias.data
    return np.array(losses)


def _power_label(t):
    e = round(float(np.log10(t)))
    return "1" if e == 0 else f"1e{e}"


class LayerStatsView:
    """Left: std of activations and of per-example gradients per hidden layer (log scale, the
    range [floor, ceil] shown, values outside drawn at the edge and counted in the title).
    Right: the training loss per step on a log scale wide enough for a diverging run
    (1e-3 to 1e3; nothing is clipped inside that range).

    The two statistics curves, the loss curve and both titles are ``animated``, so that
    ``Playground(..., blit=True)`` redraws only them over the kept axes, ticks and legends;
    ``animated=False`` gives ordinary artists (a saved figure).
    """

    def __init__(
        self,
        ax: Any,
        ax_loss: Any,
        depth: int,
        steps: int,
        floor: float = 1e-10,
        ceil: float = 1e10,
        fontsize: float = 8,
        animated: bool = True,
    ):
        from matplotlib.ticker import FixedFormatter, FixedLocator, NullLocator

        anim = dict(animated=animated)
        self.ax, self.ax_loss, self.depth, self.floor, self.ceil = ax, ax_loss, depth, floor, ceil
        layers = np.arange(1, depth + 1)
        ax.set_yscale("log")
        ax.set_ylim(floor / 3, ceil * 3)
        ax.set_xlim(0.5, depth + 0.5)
        ax.set_xticks(sorted({1, (depth + 1) // 2, depth}))  # few labels: text is slow to draw
        ticks = np.logspace(np.log10(floor), np.log10(ceil), 5)
        ax.yaxis.set_major_locator(FixedLocator(ticks))
        ax.yaxis.set_major_formatter(FixedFormatter([_power_label(t) for t in ticks]))
        ax.yaxis.set_minor_locator(NullLocator())
        ax.axhline(1.0, color="gray", lw=0.8, ls=":")
        (self.fw,) = ax.plot(layers, np.ones(depth), "o-", ms=3, label="std of activations", **anim)
        (self.bw,) = ax.plot(
            layers, np.ones(depth), "s-", ms=3, label="std of gradients (per example)", **anim
        )
        ax.set_xlabel("hidden layer", fontsize=fontsize)
        ax.tick_params(labelsize=fontsize)
        ax.legend(fontsize=fontsize, loc="lower left")
        self.title = ax.set_title(" ", fontsize=fontsize + 1, **anim)
        ax_loss.set_yscale("log")
        ax_loss.set_xlim(0, max(steps - 1, 1))
        ax_loss.set_xticks(sorted({0, (steps - 1) // 2, max(steps - 1, 1)}))
        ax_loss.set_ylim(1e-3, 1e3)
        ax_loss.yaxis.set_major_locator(FixedLocator([1e-3, 0.1, 10, 1000]))
        ax_loss.yaxis.set_major_formatter(FixedFormatter(["0.001", "0.1", "10", "1000"]))
        ax_loss.yaxis.set_minor_locator(NullLocator())
        ax_loss.tick_params(labelsize=fontsize)
        (self.ln3,) = ax_loss.plot(
            [0, steps], [np.log(3)] * 2, color="gray", lw=0.8, ls=":", label="ln 3 (uniform guess)"
        )
        (self.loss,) = ax_loss.plot([], [], "o-", ms=3, color="C2", label="training loss", **anim)
        ax_loss.set_xlabel("SGD step", fontsize=fontsize)
        ax_loss.set_ylabel("training loss", fontsize=fontsize)
        ax_loss.legend(fontsize=fontsize, loc="upper right")
        self.loss_title = ax_loss.set_title(" ", fontsize=fontsize + 1, **anim)

    def _shown(self, values):
        raw = np.asarray(values, dtype=float)
        with np.errstate(invalid="ignore"):
            outside = int(np.sum(~np.isfinite(raw) | (raw < self.floor) | (raw > self.ceil)))
        v = np.nan_to_num(raw, nan=self.ceil, posinf=self.ceil)
        return np.clip(v, self.floor, self.ceil), outside

    def show(self, stats: Mapping[str, Any], losses: Sequence[float] | np.ndarray) -> None:
        """Draw ``stats`` (from :func:`layer_statistics`) and the ``losses`` array."""
        fw, out_f = self._shown(stats["forward"])
        bw, out_b = self._shown(stats["backward"])
        self.fw.set_ydata(fw)
        self.bw.set_ydata(bw)
        dead = stats["dead"]
        extra = f"; {out_f + out_b} points off the scale" if out_f + out_b else ""
        self.title.set_text(
            f"std of h: layer 1 {stats['forward'][0]:.2g}, layer {self.depth} "
            f"{stats['forward'][-1]:.2g}; dead units {dead.mean():.0%}{extra}"
        )
        losses = np.asarray(losses, dtype=float)
        self.loss.set_data(
            np.arange(len(losses)), np.clip(np.nan_to_num(losses, nan=1e3), 1e-3, 1e3)
        )
        self.loss_title.set_text(
            f"loss: step 0 {losses[0]:.3g}, step {len(losses) - 1} {losses[-1]:.3g}"
        )


def layer_stats_playground(
    X: np.ndarray,
    y: np.ndarray,
    depth: int = 20,
    width: int = 32,
    steps: int = 15,
    activations: Sequence[ActivationSpec] | Mapping[str, ActivationSpec] = ("relu", "tanh"),
    inits: Sequence[InitSpec] | Mapping[str, InitSpec] | None = None,
    figsize: tuple[float, float] = (9.6, 3.8),
    dpi: float = 100,
) -> Any:
    """The lesson 09 playground: per-layer statistics at initialization and the first training steps.

    ``activations``: names or ``(f, df)`` pairs, or a dict ``{label: name or pair}`` to offer your
    own; ``inits``: likewise for initializers (default: the course's four schemes), e.g.
    ``{"he": "he", "mine": lambda fan_in, fan_out, rng: ...}``. Controls: initialization, init
    scale, activation, learning rate, seed. Returns the :class:`mathdl.playground.Playground`.
    """
    from ..playground import INIT_CHOICES, Diverged, dropdown, lr_slider, scale_slider, seed_slider

    acts, inits = _choices(activations), _choices(inits or INIT_CHOICES)
    for a in acts.values():
        resolve_activation(a)
    for i in inits.values():
        resolve_init(i)
    # The statistics at initialization do not depend on the learning rate.
    memo = Memo(1000)

    def draw(view, init, scale, activation, lr, seed):
        def start():
            return make_mlp(inits[init], depth, width, X.shape[1], int(y.max()) + 1, scale, seed)

        stats = memo(
            ("stats", init, scale, activation, seed),
            lambda: layer_statistics(*start(), X, y, acts[activation]),
        )
        losses = memo(
            ("losses", init, scale, activation, seed, lr),
            lambda: train_momentum(*start(), X, y, lr, steps, activation=acts[activation]),
        )
        view.show(stats, losses)
        if not np.all(np.isfinite(losses)) or losses.max() > 1e3:
            finite = np.where(np.isfinite(losses), losses, np.inf)
            raise Diverged(f"loss reached {np.nanmax(finite):.2g}")

    return view_playground(
        lambda axes: LayerStatsView(axes[0], axes[1], depth, steps), draw,
        figsize=figsize, dpi=dpi,
        init=dropdown(inits, list(inits)[-1], "initialization"),
        scale=scale_slider(1.0, min=0.1, max=10.0, description="init scale"),
        activation=dropdown(acts, description="activation"),
        lr=lr_slider(0.03, min=1e-4, max=10.0),
        seed=seed_slider(0),
    )  # fmt: skip


def _choices(choices: Sequence[Any] | Mapping[str, Any]) -> dict[str, Any]:
    """``{label: choice}``: a dict as given, or names and pairs labelled by their name."""
    if isinstance(choices, dict):
        return dict(choices)
    return {c if isinstance(c, str) else getattr(c[0], "__name__", "yours"): c for c in choices}
