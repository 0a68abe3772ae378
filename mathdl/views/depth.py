"""Signals through depth, with and without normalization or skip connections (lesson 10).

A deep ReLU MLP built with :mod:`mathdl.nn` (He weights times a scale, so the scale alone decides
whether a plain stack vanishes or explodes), one forward and one backward pass with autograd, and per
hidden layer the standard deviation of the activations h^(l) and of the per-example gradient
N dL/dh^(l). Kinds: ``plain``, ``batch norm`` / ``layer norm`` (before each ReLU), ``residual``
(h + relu(h W + b), branch weights times 1/sqrt(depth)) and ``residual, unscaled``.
"""

from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import functional as F
from .. import nn
from ..tensor import Tensor

__all__ = ["KINDS", "DepthView", "build_deep_mlp", "depth_playground", "depth_statistics"]

KINDS = ("plain", "batch norm", "layer norm", "residual", "residual, unscaled")


def build_deep_mlp(
    kind: str,
    depth: int,
    width: int = 32,
    scale: float = 1.0,
    seed: int = 0,
    n_in: int = 2,
    n_out: int = 3,
) -> nn.Sequential:
    """``depth`` hidden layers of ``width`` ReLU units (He weights times ``scale``) of the given kind."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; choose one of {KINDS}")
    if depth < 2 or width < 1 or not scale > 0:
        raise ValueError(
            f"need depth >= 2, width >= 1 and scale > 0, got {depth}, {width}, {scale}"
        )
    rng = np.random.default_rng(seed)
    norm = {"batch norm": nn.BatchNorm1d, "layer norm": nn.LayerNorm}.get(kind)
    branch = scale / np.sqrt(depth) if kind == "residual" else scale
    layers = [nn.Linear(n_in, width, rng=rng, scale=scale), nn.ReLU()]
    for _ in range(depth - 1):
        if kind.startswith("residual"):
            layers.append(nn.Residual(nn.Linear(width, width, rng=rng, scale=branch), nn.ReLU()))
        else:
            layers += [nn.Linear(width, width, rng=rng, scale=scale)]
            layers += [norm(width)] if norm else []
            layers.append(nn.ReLU())
    return nn.Sequential(*layers, nn.Linear(width, n_out, rng=rng, scale=scale))


def depth_statistics(model: nn.Sequential, X: np.ndarray, y: np.ndarray) -> dict:
    """Per hidden layer (after each ReLU or residual block): std of h and of N dL/dh; and the loss."""
    h, hidden = Tensor(np.asarray(X, dtype=float)), []
    with np.errstate(all="ignore"):
        for layer in model.layers:
            h = layer(h)
            if isinstance(layer, nn.ReLU | nn.Residual):
                h.retain_grad()
                hidden.append(h)
        loss = F.cross_entropy(h, y)
        loss.backward()
        forward = np.array([a.data.std() for a in hidden])
        backward = np.array([a.grad.std() for a in hidden]) * len(X)
    return {"forward": forward, "backward": backward, "loss": float(loss.item())}


class DepthView:
    """Two log-scale panels, forward and backward std per layer, lines updated in place."""

    def __init__(self, axes: Sequence, max_depth: int, ylim=(1e-12, 1e12)):
        self.lines = {}
        for ax, key, title in zip(
            axes,
            ("forward", "backward"),
            (r"forward: std of $h^{(l)}$", r"backward: std of $N\,\partial L/\partial h^{(l)}$"),
        ):
            ax.set_yscale("log")
            ax.set_xlim(0.5, max_depth + 0.5)
            ax.set_ylim(*ylim)
            ax.axhline(1.0, color="gray", lw=0.6, ls=":")
            ax.set_title(title, fontsize=10)
            ax.set_xlabel("hidden layer l")
            (self.lines[key],) = ax.plot([], [], "o-", ms=3, color="C0", animated=True)
        self.text = axes[0].text(
            0.02, 0.96, "", transform=axes[0].transAxes, va="top", fontsize=9, animated=True
        )

    def show(self, stats: dict, label: str) -> None:
        for key, line in self.lines.items():
            values = np.where(np.isfinite(stats[key]) & (stats[key] > 0), stats[key], np.nan)
            line.set_data(np.arange(1, len(values) + 1), values)
        self.text.set_text(label)


def depth_playground(X: np.ndarray, y: np.ndarray, max_depth: int = 50, width: int = 32) -> Any:
    """Choose the kind of network, its depth, the weight scale (He x scale) and the seed; returns
    the :class:`mathdl.playground.Playground`."""
    import ipywidgets as widgets  # here: importing this module needs NumPy only

    from ..playground import Diverged, Playground, choice_slider, lr_slider, seed_slider

    style = dict(layout=widgets.Layout(width="420px"), style={"description_width": "110px"})
    depths = [d for d in (2, 5, 10, 20, 30, 40, 50, 75, 100) if d <= max_depth]
    if len(depths) < 2:
        raise ValueError(f"max_depth must be at least 5, got {max_depth}")
    view = {}

    def setup(axes):
        view["v"] = DepthView(axes, max_depth)

    def draw(axes, kind, depth, scale, seed):
        model = build_deep_mlp(kind, depth, width, scale, seed)
        stats = depth_statistics(model, X, y)
        ratio = stats["backward"][0] / stats["backward"][-1]
        view["v"].show(
            stats,
            f"{kind}, He x {scale:.2g}: loss {stats['loss']:.3g}; gradient layer 1 / layer {depth}: {ratio:.2g}",
        )
        if not np.isfinite(stats["loss"]):
            raise Diverged(f"the forward pass overflowed ({kind}, scale {scale:.2g})")

    return Playground(
        draw,
        setup=setup,
        ncols=2,
        figsize=(10, 3.6),
        blit=True,
        kind=widgets.Dropdown(options=list(KINDS), value="plain", description="network", **style),
        depth=choice_slider(depths, depths[-1] if 30 not in depths else 30, description="depth"),
        scale=lr_slider(1.0, min=0.25, max=4.0, description="init scale (× He)"),
        seed=seed_slider(0, description="seed (init)"),
    )
