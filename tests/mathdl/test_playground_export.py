"""mathdl.playground_export: the site's grid of settings and its pictures (fast, no kernel).

The pictures the site shows are checked against a fresh Playground drawing the same setting
the notebook's way (its own PNG), not against the exporter's own numbers.
"""

import json
import math

import ipywidgets as widgets
import numpy as np
import pytest

from mathdl.playground import (
    Diverged,
    Playground,
    choice_slider,
    float_slider,
    init_dropdown,
    lr_slider,
    seed_slider,
)
from mathdl.playground_export import (
    compose,
    control_values,
    export_playground,
    overlay,
    pixels_digest,
    site_controls,
    site_settings,
)


def test_star_grid_every_learning_rate_with_one_other_control_moved():
    sizes = [(5, 2), (3, 0), (4, 1)]  # lr (index 0), a menu, a slider
    got = site_settings(sizes, lr_index=0)
    assert len(got) == len(set(got)) == 5 * (1 + 2 + 3)
    start = (2, 0, 1)
    assert got[0][1:] == start[1:]
    for s in got:
        assert sum(a != b for a, b in zip(s[1:], start[1:])) <= 1, s
    # every learning rate with every value of every other control, the rest at their start
    for c, (n, _) in enumerate(sizes[1:], 1):
        for v in range(n):
            for lr in range(5):
                key = list(start)
                key[0], key[c] = lr, v
                assert tuple(key) in got
    assert site_settings([(2, 0), (3, 1)]) == [(0, 1), (1, 1), (0, 0), (0, 2)]


def test_learning_rate_values_are_the_notebook_sliders_stops_and_its_start():
    w = lr_slider(0.079, min=1e-4, max=10.0)
    stops = [10 ** (-4 + 0.1 * k) for k in range(51)]
    pairs, start = control_values("lr", w, lr_points=26)
    values = [v for _, v in pairs]
    assert values[start] == 0.079 and pairs[start][0] == "0.079"
    others = [v for v in values if v != 0.079]
    assert len(others) == 26 and all(any(math.isclose(v, s) for s in stops) for v in others)
    assert (
        values == sorted(values) and math.isclose(values[0], 1e-4) and math.isclose(values[-1], 10)
    )


def test_other_controls_ends_and_start_menus_every_option():
    pairs, start = control_values("seed", seed_slider(3))
    assert [v for _, v in pairs] == [0, 3, 20] and start == 1
    pairs, start = control_values("x", float_slider(-3.0, -4.0, 4.0, step=0.1))
    assert [v for _, v in pairs] == [-4.0, -3.0, 4.0] and start == 1
    pairs, start = control_values("init", init_dropdown("xavier"))
    assert [v for _, v in pairs] == ["zeros", "small normal", "xavier", "he"] and start == 2
    pairs, start = control_values("b", choice_slider([1, 2, 4, 8], value=4))
    assert pairs == [("1", 1), ("2", 2), ("4", 4), ("8", 8)] and start == 2
    with pytest.raises(TypeError, match=r"'name'.*Text"):
        control_values("name", widgets.Text("x"))


def test_overlay_over_its_base_gives_the_picture_exactly():
    rng = np.random.default_rng(1)
    base = rng.integers(0, 256, (30, 41, 4), dtype=np.uint8)
    base[..., 3] = 255
    assert overlay(base.copy(), base) is None
    pic = base.copy()
    pic[7, 9, 0] ^= 1  # one channel of one pixel
    pic[21, 30:33, :3] = 0
    x, y, crop = overlay(pic, base)
    assert x % 2 == 0 and y % 2 == 0 and crop.shape[2] == 4
    rebuilt = base.copy()
    box = rebuilt[y : y + crop.shape[0], x : x + crop.shape[1]]
    box[...] = np.where(crop[..., 3:] == 255, crop, box)
    assert np.array_equal(rebuilt, pic)
    assert set(np.unique(crop[..., 3])) <= {0, 255}


def test_pixels_digest_sees_pixels_not_encoding_and_refuses_other_shapes():
    from mathdl.playground import encode_png

    rgb = np.random.default_rng(2).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    rgba = np.concatenate([rgb, np.full((5, 7, 1), 255, np.uint8)], axis=2)
    assert pixels_digest(encode_png(rgb)) == pixels_digest(rgba)
    rgba2 = rgba.copy()
    rgba2[0, 0, 0] ^= 1
    assert pixels_digest(rgba2) != pixels_digest(rgba)
    with pytest.raises(ValueError, match="H, W, 4"):
        pixels_digest(rgb)


def make(slope=1.0):
    """A small playground: a line whose slope depends on lr and a menu; diverges for lr > 3."""
    art = {}

    def setup(ax):
        ax.set_xlim(0, 10)
        ax.set_ylim(-5, 40)
        (art["line"],) = ax.plot([], [], lw=2, animated=True)

    def draw(ax, lr, kind, seed, go):
        x = np.arange(11)
        y = slope * lr * x + (3 if kind == "b" else 0) + np.random.default_rng(seed).normal(size=11)
        art["line"].set_data(x, y)
        if lr > 3:
            raise Diverged("lr > 3")

    return Playground(
        draw,
        setup=setup,
        figsize=(2.4, 1.6),
        blit=True,
        lr=lr_slider(0.5, min=0.1, max=10.0),
        kind=widgets.Dropdown(options=["a", "b"], value="a"),
        seed=seed_slider(0, max=4),
        go=widgets.Button(description="go"),
    )


def notebook_digest(pg, values):
    pg.image.device_pixel_ratio = 2.0
    pg.set(**values)
    return pixels_digest(pg.image.value)


def test_exported_pictures_are_what_a_fresh_playground_shows(tmp_path):
    m = export_playground(make(), tmp_path, max_settings=40)
    json.dumps(m)  # the manifest travels as JSON
    names = [c["name"] for c in m["controls"]]
    assert names == ["lr", "kind", "seed"], "the button is left out"
    assert len(m["settings"]) <= 40 and 2 <= m["lr_points"] < 21
    assert m["pixels"] == [2 * m["css_width"], 2 * 160]
    fresh, other = make(), make(slope=1.5)
    keys = list(m["settings"])
    for key in [*keys[::3], keys[-1]]:
        entry = m["settings"][key]
        values = {c["name"]: c["values"][int(i)] for c, i in zip(m["controls"], key.split(","))}
        shown = compose(tmp_path, m, key)
        assert pixels_digest(shown) == entry["sha256"]
        assert notebook_digest(fresh, values) == entry["sha256"], key
        assert entry["diverged"] == (values["lr"] > 3)
        if values["lr"] > 0.2:  # a changed playground draws other pictures: the check can fail
            assert notebook_digest(other, values) != entry["sha256"], key
    assert len({e["sha256"] for e in m["settings"].values()}) > len(m["settings"]) // 2


def test_too_many_settings_thin_the_learning_rate_or_fail_clearly():
    controls, keys, points = site_controls(make(), max_settings=12)
    assert len(keys) <= 12 and points == 3 and len(controls[0]["values"]) == 4
    pg = Playground(
        lambda ax, a, b: None,
        a=float_slider(0.0, 0.0, 1.0),
        b=float_slider(0.0, 0.0, 1.0),
    )
    with pytest.raises(ValueError, match="too many settings"):
        site_controls(pg, max_settings=2)
