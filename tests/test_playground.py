"""Playground rendering: the fast paths (fixed layout, blitting) show the same picture as a full draw."""

import io

import numpy as np
import pytest
from PIL import Image

from mathdl.playground import Diverged, Playground, choice_slider, float_slider, lr_slider


def pixels(png):
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)


def make(blit=False, fixed_layout=False, animated=True):
    lines = {}
    # start x also sets the y-limits, so blitting must redraw its background when it moves.

    def setup(ax):
        ax.set_xlim(0, 10)
        ax.set_ylim(-12, 12)
        # zorder 5: above the spines and ticks, where blitting draws it too
        (lines["line"],) = ax.plot([], [], lw=2, color="tab:blue", animated=animated, zorder=5)

    def draw(ax, lr, start):
        ax.set_ylim(-12, 12) if start > -4.5 else ax.set_ylim(-16, 16)
        x = np.arange(11)
        lines["line"].set_data(x, start * (1 - lr) ** x)
        if abs(1 - lr) > 1:
            raise Diverged("lr > 2")

    pg = Playground(
        draw,
        setup=setup,
        blit=blit,
        fixed_layout=fixed_layout,
        lr=lr_slider(0.5, max=10.0),
        start=float_slider(3.0, -5.0, 5.0, description="start x"),
    )
    return pg


@pytest.mark.parametrize("options", [dict(), dict(fixed_layout=True), dict(blit=True)])
def test_every_render_path_shows_the_same_picture(options):
    full = make(animated=False)
    fast = make(**options, animated=bool(options.get("blit")))
    for values in [
        dict(lr=0.1),
        dict(start=-4.0),
        dict(start=-5.0),
        dict(lr=0.3),
        dict(start=2.0),
        dict(lr=1.5),
    ]:
        full.set(**values)
        fast.set(**values)
        a, b = pixels(full.image.value), pixels(fast.image.value)
        assert np.array_equal(a, b), f"{options} differs from a full draw after {values}"


def test_blit_redraws_and_shows_divergence():
    pg = make(blit=True)
    before = pg.image.value
    pg.set(lr=0.2)
    assert pg.image.value != before
    pg.set(lr=2.5)
    assert pg.diverged
    diverged = pixels(pg.image.value)
    pg.set(lr=0.2)
    assert not pg.diverged
    fresh = make(blit=True)
    fresh.set(lr=0.2)
    assert np.array_equal(
        pixels(pg.image.value), pixels(fresh.image.value)
    )  # no banner left behind
    assert (
        np.abs(diverged - pixels(pg.image.value)).max(axis=-1) > 0
    ).mean() > 0.01  # the banner was drawn


def test_blit_background_never_contains_the_banner():
    pg = Playground(
        lambda ax, lr: (_ for _ in ()).throw(Diverged("at once")) if lr > 1 else None,
        blit=True,
        lr=lr_slider(5.0, max=10.0),
    )  # diverged at the very first render
    assert pg.diverged
    pg.set(lr=0.1)
    assert not pg.diverged
    clean = Playground(lambda ax, lr: None, blit=True, lr=lr_slider(0.1))
    assert np.array_equal(pixels(pg.image.value), pixels(clean.image.value))


def test_choice_slider_and_float_slider():
    s = choice_slider([1, 2, 4, 8], value=4, description="batch size")
    assert (s.value, s.index, s.description) == (4, 2, "batch size")
    f = float_slider(-3.0, -4.0, 4.0, description="start x")
    assert (f.value, f.min, f.max) == (-3.0, -4.0, 4.0)
