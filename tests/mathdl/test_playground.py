"""Playground rendering: the fast paths (fixed layout, blitting) show the same picture as a full draw."""

import io

import numpy as np
import pytest
from PIL import Image

from mathdl.playground import (
    Diverged,
    Playground,
    choice_slider,
    encode_png,
    float_slider,
    lr_slider,
)


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


def test_fast_png_is_lossless_against_pil():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, size=(37, 53, 3), dtype=np.uint8)
    rgb[5:20] = 255  # runs of white, as in a plot
    assert np.array_equal(pixels(encode_png(rgb)), rgb.astype(int))
    rgba = rng.integers(0, 256, size=(11, 7, 4), dtype=np.uint8)  # the site's overlays
    rgba[2:5, :, 3] = 0
    for level in (1, 6):
        with Image.open(io.BytesIO(encode_png(rgba, level))) as im:
            assert im.mode == "RGBA"
            assert np.array_equal(np.asarray(im), rgba)
    for bad in (rgb.astype(float), rgb[..., :2], rgb[0]):
        with pytest.raises(ValueError, match=r"\(H, W, 3\) or \(H, W, 4\) uint8"):
            encode_png(bad)


def size(pg):
    return Image.open(io.BytesIO(pg.image.value)).size


@pytest.mark.parametrize("blit", [False, True])
def test_picture_follows_the_screens_device_pixel_ratio(blit):
    pg = Playground(
        lambda ax, lr: None, figsize=(5, 2), blit=blit, fixed_layout=True, lr=lr_slider(0.1)
    )
    assert pg.image.css_width == 500  # 5 in x 100 CSS px per inch, shown at that width
    assert size(pg) == (500, 200)  # no browser has reported: 1 image pixel per CSS pixel
    pg.image.device_pixel_ratio = 2.0  # what the widget's JavaScript sends on a HiDPI screen
    assert size(pg) == (1000, 400)
    pg.set(lr=0.2)
    assert size(pg) == (1000, 400)
    pg.image.device_pixel_ratio = 1.0
    assert size(pg) == (500, 200)
    fixed = Playground(lambda ax, lr: None, figsize=(5, 2), pixel_ratio=2, lr=lr_slider(0.1))
    fixed.image.device_pixel_ratio = 1.0
    assert size(fixed) == (1000, 400)


def test_text_scales_with_the_pixel_ratio():
    """At 2x the same picture is drawn with twice the pixels: text keeps its size in points."""
    one = Playground(lambda ax, lr: ax.set_title("x"), figsize=(3, 2), lr=lr_slider(0.1))
    two = Playground(
        lambda ax, lr: ax.set_title("x"), figsize=(3, 2), pixel_ratio=2, lr=lr_slider(0.1)
    )
    a = Image.open(io.BytesIO(one.image.value)).convert("RGB").resize((600, 400))
    b = Image.open(io.BytesIO(two.image.value)).convert("RGB")
    # the 1x picture upscaled and the 2x picture agree up to antialiasing
    assert np.abs(np.asarray(a, int) - np.asarray(b, int)).mean() < 8


@pytest.mark.parametrize(
    "kwargs, message",
    [(dict(dpi=72), "dpi must be at least 100"), (dict(pixel_ratio=0.5), "pixel_ratio")],
)
def test_bad_resolution_is_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Playground(lambda ax, lr: None, lr=lr_slider(0.1), **kwargs)


def test_every_control_helper_has_the_one_course_style():
    from mathdl.playground import WIDGET_STYLE, dropdown, init_dropdown, scale_slider, seed_slider

    controls = [
        lr_slider(),
        scale_slider(),
        seed_slider(),
        float_slider(0.0, -1.0, 1.0),
        choice_slider([1, 2]),
        dropdown(["a", "b"], "b", "pick"),
        init_dropdown(),
    ]
    for w in controls:
        assert w.layout.width == WIDGET_STYLE["layout"]["width"] == "420px"
        assert w.style.description_width == WIDGET_STYLE["style"]["description_width"] == "110px"
    assert (controls[5].value, controls[5].options) == ("b", ("a", "b"))


def test_memo_computes_once_per_key_and_drops_the_oldest():
    from mathdl.views.build import Memo

    calls = []
    memo = Memo(size=2)
    for key in ["a", "b", "a", "c", "a"]:
        assert memo(key, lambda key=key: calls.append(key) or key.upper()) == key.upper()
    # "a" computed, "b" computed, "a" reused, "c" evicts "a" (the oldest), "a" computed again
    assert calls == ["a", "b", "c", "a"] and len(memo) == 2
    with pytest.raises(ValueError, match="at least one"):
        Memo(size=0)


def test_a_background_key_change_redraws_the_blitting_background():
    """Two pictures with equal limits but other static artists: blitting must not keep the old."""
    state = {}

    def setup(ax):
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        state["a"] = ax.axvline(0.3, color="tab:red", lw=8)
        state["b"] = ax.axvline(0.7, color="tab:green", lw=8)

    def draw(ax, which):
        state["a"].set_visible(which == "a")
        state["b"].set_visible(which == "b")

    def differs(pg):  # fraction of pixels where the shown picture differs from a full draw
        shown = pixels(pg.image.value)
        pg.figure.canvas.draw()
        full = np.asarray(pg.figure.canvas.buffer_rgba())[..., :3].astype(int)
        return np.mean(np.abs(shown - full).max(axis=-1) > 60)

    from mathdl.playground import dropdown

    kw = dict(setup=setup, blit=True, which=dropdown(["a", "b"]))
    keyed = Playground(draw, background_key=lambda: state["a"].get_visible(), **kw)
    keyed.set(which="b")
    assert differs(keyed) < 0.001
    stale = Playground(draw, **kw | dict(which=dropdown(["a", "b"])))
    stale.set(which="b")  # without the key the old background stays: the test can fail
    assert differs(stale) > 0.01
