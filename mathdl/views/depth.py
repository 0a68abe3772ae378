"""Signals through depth, with and without normalization or skip connections (lesson 10).

A deep ReLU MLP built with :mod:`mathdl.nn` (He weights times a scale, so the scale alone decides
whether a plain stack vanishes or explodes), one forward and one backward pass with autograd, and per
hidden layer the standard deviation of the activations h^(l) and of the per-example gradient
N dL/dh^(l). Kinds: ``plain``, ``batch norm`` / ``layer norm`` (before each ReLU), ``residual``
(h + relu(h W + b), branch weights times 1/sqrt(depth)) and ``residual, unscaled``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import nn
from ..layer_stats import Arrays, linear_layer, make_mlp, run_recording, signal_sizes

if TYPE_CHECKING:  # matplotlib and ipywidgets are imported only where a picture is drawn
    from matplotlib.axes import Axes
    from matplotlib.lines import Line2D

    from ..playground import Playground

__all__ = ["KINDS", "DepthView", "deep_network", "depth_playground", "depth_statistics"]

KINDS = ("plain", "batch norm", "layer norm", "residual", "residual, unscaled")


def deep_network(kind: str, Ws: Arrays, bs: Arrays) -> nn.Sequential:
    """The ReLU network of the given kind with the weights ``Ws`` and biases ``bs`` (copied) of
    :func:`mathdl.layer_stats.make_mlp`: ``plain``; ``batch norm`` / ``layer norm`` before each
    hidden ReLU; ``residual`` (hidden-to-hidden layers as blocks h + relu(h W + b), W times
    1/sqrt(depth)) or ``residual, unscaled`` (W as given). E.g.
    ``deep_network("residual", *make_mlp("he", depth=30, width=32, scale=1.0, seed=0))``."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; choose one of {KINDS}")
    if len(Ws) < 3:
        raise ValueError(f"need depth >= 2 (at least 3 weight matrices), got {len(Ws)} of them")
    first, *hidden, last = (linear_layer(W, b) for W, b in zip(Ws, bs, strict=True))
    norm = {"batch norm": nn.BatchNorm1d, "layer norm": nn.LayerNorm}.get(kind)
    layers: list[nn.Module] = [first, nn.ReLU()]
    for linear in hidden:
        if kind == "residual":
            linear.weight.data *= 1 / np.sqrt(len(Ws) - 1)
        if kind.startswith("residual"):
            layers.append(nn.Residual(linear, nn.ReLU()))
        else:
            layers += [linear, *([norm(linear.out_features)] if norm else []), nn.ReLU()]
    return nn.Sequential(*layers, last)


def depth_statistics(model: nn.Sequential, X: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """Per hidden layer (after each ReLU or residual block): std of h and of N dL/dh; and the loss."""
    with np.errstate(all="ignore"):
        loss, _, hidden = run_recording(
            model, X, y, hidden=lambda layer: isinstance(layer, nn.ReLU | nn.Residual)
        )
        loss.backward()
        sizes = signal_sizes(hidden, len(X))
    return {**sizes, "loss": float(loss.item())}


class DepthView:
    """Two log-scale panels, forward and backward std per layer, lines updated in place."""

    def __init__(
        self, axes: Sequence[Axes], max_depth: int, ylim: tuple[float, float] = (1e-12, 1e12)
    ) -> None:
        self.lines: dict[str, Line2D] = {}
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

    def show(self, stats: dict[str, Any], label: str) -> None:
        """Draw ``stats`` (from :func:`depth_statistics`) and write ``label``."""
        for key, line in self.lines.items():
            values = np.where(np.isfinite(stats[key]) & (stats[key] > 0), stats[key], np.nan)
            line.set_data(np.arange(1, len(values) + 1), values)
        self.text.set_text(label)


def depth_playground(
    X: np.ndarray, y: np.ndarray, max_depth: int = 50, width: int = 32
) -> Playground:
    """Choose the kind of network, its depth, the weight scale (He x scale) and the seed; returns
    the :class:`mathdl.playground.Playground`."""
    from ..playground import Diverged, choice_slider, dropdown, lr_slider, seed_slider
    from .build import view_playground

    depths = [d for d in (2, 5, 10, 20, 30, 40, 50, 75, 100) if d <= max_depth]
    if len(depths) < 2:
        raise ValueError(f"max_depth must be at least 5, got {max_depth}")
    n_in, n_out = np.shape(X)[1], int(np.max(y)) + 1

    def draw(view: DepthView, kind: str, depth: int, scale: float, seed: int) -> None:
        Ws, bs = make_mlp("he", depth, width, n_in, n_out, scale, seed)
        stats = depth_statistics(deep_network(kind, Ws, bs), X, y)
        ratio = stats["backward"][0] / stats["backward"][-1]
        view.show(
            stats,
            f"{kind}, He x {scale:.2g}: loss {stats['loss']:.3g}; gradient layer 1 / layer {depth}: {ratio:.2g}",
        )
        if not np.isfinite(stats["loss"]):
            raise Diverged(f"the forward pass overflowed ({kind}, scale {scale:.2g})")

    return view_playground(
        lambda axes: DepthView(axes, max_depth),
        draw,
        figsize=(10, 3.6),
        kind=dropdown(KINDS, "plain", description="network"),
        depth=choice_slider(depths, depths[-1] if 30 not in depths else 30, description="depth"),
        scale=lr_slider(1.0, min=0.25, max=4.0, description="init scale (× He)"),
        seed=seed_slider(0, description="seed (init)"),
    )
