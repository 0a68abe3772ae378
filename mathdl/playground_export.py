"""The playgrounds on the static course website: every Playground's pictures, precomputed.

The site build (book/build.py, docs/site.md) runs this in each lesson's kernel after the lesson:
for every :class:`~mathdl.playground.Playground` it sets the controls to each setting of a grid
(:func:`site_settings`), lets the playground draw exactly as in the notebook, and stores the
picture it shows (WebP at 2x and 1x) with a digest of its pixels. The page's controls then swap
pictures without a kernel. One source of truth: the pictures are the playground's own output,
and tests/e2e/test_site_playgrounds.py checks the digests against a fresh run of the notebook.

The grid (a "star" around the notebook's starting values):

* the learning rate (the control named ``lr``) over its slider's stops (as many as the budget
  allows, evenly spread, both ends included) plus the starting value;
* every other control over a few values (a menu: every option; a slider: its two ends, plus its
  starting value), the others at their starting values;
* the learning rate crossed with each of those settings. Moving one control while another
  (other than the learning rate) is off its starting value resets that other one.

Buttons (e.g. "train 100 more steps") are left out: a click changes the playground's state,
which a table of pictures cannot hold.
"""

import hashlib
import io
import json
import math
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import numpy as np
from matplotlib.colors import to_rgba
from PIL import Image

from .playground import Playground, encode_png, instances

__all__ = [
    "compose",
    "control_values",
    "export_all",
    "export_playground",
    "overlay",
    "pixels_digest",
    "site_controls",
    "site_settings",
]

#: A control's values on the site: (label, value) pairs.
Choices = list[tuple[str, Any]]
#: A setting of a playground's controls: one value index per control.
Key = tuple[int, ...]

SLIDER_POINTS = 2  # values per slider other than the learning rate (its two ends)
MAX_SETTINGS = 56  # per playground: the site's size and build time (docs/site.md)


def _stops(w: Any) -> list[Any]:
    """The values a slider can take in the notebook, in order (the log slider: base ** stop)."""
    n = round((w.max - w.min) / w.step)
    exps = [w.min + k * w.step for k in range(n + 1)]
    if isinstance(w, widgets.FloatLogSlider):
        return [float(w.base**e) for e in exps]
    if isinstance(w, widgets.IntSlider):
        return [int(e) for e in exps]
    return [round(float(e), 10) for e in exps]


def _spread(stops: Sequence[Any], n: int) -> list[Any]:
    """``n`` of the ``stops``, evenly spread over them, both ends included."""
    n = min(n, len(stops))
    return sorted({stops[round(i * (len(stops) - 1) / (n - 1))] for i in range(n)})


def control_values(name: str, w: Any, lr_points: int | None = None) -> tuple[Choices, int]:
    """The values the site offers for control ``w``: a list of (label, value), and the index of
    the control's starting value in it. The learning rate: ``lr_points`` of its slider's stops
    (None: all), evenly spread, both ends included, plus its starting value."""
    if isinstance(w, (widgets.Dropdown, widgets.SelectionSlider, widgets.RadioButtons)):
        pairs = list(zip(w._options_labels, w._options_values))
        return pairs, list(w._options_values).index(w.value)
    if not isinstance(w, (widgets.FloatLogSlider, widgets.FloatSlider, widgets.IntSlider)):
        raise TypeError(f"control {name!r}: a {type(w).__name__} cannot be shown on the site")
    stops = _stops(w)
    picked = _spread(stops, (lr_points or len(stops)) if name == "lr" else SLIDER_POINTS)
    default = w.value
    values = [v for v in picked if not math.isclose(v, default, rel_tol=1e-9)]
    values = sorted([*values, default])  # the notebook's exact starting value, in its place
    index = values.index(default)
    fmt = (
        ".2g"
        if isinstance(w, widgets.FloatLogSlider)
        else (".3g" if isinstance(w, widgets.FloatSlider) else "d")
    )
    return [(format(v, fmt), v) for v in values], index


def site_settings(sizes: Sequence[tuple[int, int]], lr_index: int | None = None) -> list[Key]:
    """The star grid as tuples of value indices; ``sizes[i]`` = (number of values, start).

    Every learning rate with the other controls at their start, then with one other control
    moved to each of its other values."""
    start = tuple(d for _, d in sizes)
    rows = [start] + [
        (*start[:c], v, *start[c + 1 :])
        for c, (n, d) in enumerate(sizes)
        if c != lr_index
        for v in range(n)
        if v != d
    ]
    if lr_index is None:
        return list(dict.fromkeys(rows))
    lrs = range(sizes[lr_index][0])
    found = [(*row[:lr_index], lr, *row[lr_index + 1 :]) for row in rows for lr in lrs]
    return list(dict.fromkeys(found))


def pixels_digest(picture: bytes | np.ndarray) -> str:
    """sha256 of an opaque picture's pixels: an (H, W, 4) uint8 RGBA array, or a PNG's bytes
    (decoded to RGBA). The same pixels give the same digest, whatever their encoding."""
    if isinstance(picture, bytes):
        with Image.open(io.BytesIO(picture)) as im:
            picture = np.asarray(im.convert("RGBA"))
    if picture.dtype != np.uint8 or picture.ndim != 3 or picture.shape[2] != 4:
        raise ValueError(f"expected an (H, W, 4) uint8 array, got {picture.dtype} {picture.shape}")
    digest = hashlib.sha256(repr(picture.shape).encode())
    digest.update(np.ascontiguousarray(picture).data)
    return digest.hexdigest()


def overlay(rgba: np.ndarray, base: np.ndarray) -> tuple[int, int, np.ndarray] | None:
    """The pixels of ``rgba`` that differ from ``base`` (both (H, W, 4) uint8, opaque): (x, y,
    RGBA crop) with alpha 255 on them and 0 elsewhere, cropped to their box (even coordinates:
    whole CSS pixels at 2x); None when nothing differs. Laid over ``base`` at (x, y), it gives
    ``rgba`` exactly."""
    diff = rgba.view(np.uint32)[..., 0] != base.view(np.uint32)[..., 0]
    rows, cols = np.flatnonzero(diff.any(axis=1)), np.flatnonzero(diff.any(axis=0))
    if not len(rows):
        return None
    y0, x0 = rows[0] // 2 * 2, cols[0] // 2 * 2
    y1, x1 = min(rows[-1] // 2 * 2 + 2, rgba.shape[0]), min(cols[-1] // 2 * 2 + 2, rgba.shape[1])
    d = diff[y0:y1, x0:x1, None]
    return int(x0), int(y0), np.where(d, rgba[y0:y1, x0:x1], 0).astype(np.uint8)


def _lay(rgba: np.ndarray, folder: Path, layer: dict[str, Any] | None) -> None:
    if layer and "file" in layer:
        with Image.open(folder / layer["file"]) as im:
            over = np.asarray(im.convert("RGBA"))
        box = rgba[layer["y"] : layer["y"] + layer["h"], layer["x"] : layer["x"] + layer["w"]]
        box[...] = np.where(over[..., 3:] == 255, over, box)


def compose(folder: str | Path, manifest: dict[str, Any], key: str) -> np.ndarray:
    """The picture a site page shows for setting ``key`` of a playground's ``manifest``:
    base.png, its row's layer over it, then the setting's layer (what
    mathdl-playgrounds.js does with stacked <img>), as RGBA."""
    folder = Path(folder)
    entry = manifest["settings"][key]
    with Image.open(folder / "base.png") as im:
        rgba = np.array(im.convert("RGBA"))
    _lay(rgba, folder, manifest["rows"].get(entry["row"]))
    _lay(rgba, folder, entry)
    return rgba


class _Writer:
    """Encodes and writes the layers in one thread; ``close`` raises a write's error."""

    def __init__(self) -> None:
        self.pool = ThreadPoolExecutor(max_workers=1)
        self.futures: list[Future[Any]] = []

    def submit(self, fn: Callable[[], Any]) -> None:
        self.futures.append(self.pool.submit(fn))

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        for f in self.futures:
            f.result()


def _write_layer(
    out: Path, name: str, rgba: np.ndarray, under: np.ndarray, writer: _Writer
) -> dict[str, Any]:
    """The layer of ``rgba`` over ``under`` as ``name`` (PNG, encoded and written by the
    ``writer`` thread while the next setting draws: zlib releases the GIL); {} when nothing
    differs."""
    layer = overlay(rgba, under)
    if layer is None:
        return {}
    x, y, crop = layer
    writer.submit(lambda: (out / name).write_bytes(encode_png(crop, level=6)))
    return dict(file=name, x=x, y=y, w=int(crop.shape[1]), h=int(crop.shape[0]))


def _canvas_rgba(pg: Playground) -> np.ndarray:
    """The playground's picture as drawn (a copy of its canvas), opaque."""
    rgba = np.array(pg.canvas.buffer_rgba(), dtype=np.uint8)
    if to_rgba(pg.figure.get_facecolor())[3] != 1.0 or (rgba[..., 3] != 255).any():
        raise ValueError("the site shows opaque playground figures only (facecolor alpha 1)")
    return rgba


def _describe(name: str, w: Any, lr_points: int) -> dict[str, Any]:
    pairs, start = control_values(name, w, lr_points if name == "lr" else None)
    try:
        json.dumps([v for _, v in pairs])
    except TypeError as exc:
        raise TypeError(
            f"control {name!r}: its values cannot be written for the site: {exc}"
        ) from exc
    return dict(
        name=name,
        description=getattr(w, "description", name),
        labels=[lab for lab, _ in pairs],
        values=[v for _, v in pairs],
        start=start,
        menu=isinstance(w, (widgets.Dropdown, widgets.RadioButtons)),
    )


def site_controls(
    pg: Playground, max_settings: int = MAX_SETTINGS
) -> tuple[list[dict[str, Any]], list[Key], int]:
    """The site's controls of ``pg``, its settings (tuples of value indices) and the number of
    learning rates: the most (of the slider's stops, evenly spread) that keep at most
    ``max_settings`` settings."""
    names = [n for n, w in pg.controls.items() if not isinstance(w, widgets.Button)]
    lr_index = names.index("lr") if "lr" in names else None
    n_stops = len(_stops(pg.controls["lr"])) if lr_index is not None else 2
    for points in range(n_stops, 1, -1):
        controls = [_describe(n, pg.controls[n], points) for n in names]
        sizes = [(len(c["values"]), c["start"]) for c in controls]
        settings = site_settings(sizes, lr_index)
        if len(settings) <= max_settings:
            return controls, settings, points
        if lr_index is None:
            break
    raise ValueError(f"a playground with controls {names} has too many settings for the site")


def _by_rows(keys: Iterable[Key], lr_index: int | None, start: int | None) -> list[tuple[Key, Key]]:
    """``keys`` grouped by row (the same values but for the learning rate), the row's starting
    learning rate first: its picture is the base the row's other settings are laid over."""
    if lr_index is None:
        return [(key, ()) for key in keys]
    rows: dict[Key, list[Key]] = {}
    for key in keys:
        row = key[:lr_index] + key[lr_index + 1 :]
        rows.setdefault(row, []).append(key)
    return [
        (key, row)
        for row, members in rows.items()
        for key in sorted(members, key=lambda k: k[lr_index] != start)
    ]


def export_playground(
    pg: Playground, out: str | Path, max_settings: int = MAX_SETTINGS
) -> dict[str, Any]:
    """Draw every site setting of ``pg`` at pixel ratio 2 and write its pictures under ``out``:
    ``base.png`` (the starting setting); per row of settings (all but the learning rate fixed)
    the pixels of its picture at the starting learning rate that differ from base.png
    (:func:`overlay`, ``rNNN.png``); per setting the pixels that differ from its row's picture
    (``sNNNN.png``). Returns the manifest: controls, rows and settings (key "i,j,...": its
    row, its layer and position, the digest of the picture's pixels), the picture's CSS width
    and pixel size."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    controls, keys, lr_points = site_controls(pg, max_settings)
    names = [c["name"] for c in controls]
    lr_index = names.index("lr") if "lr" in names else None
    pg.image.device_pixel_ratio = 2.0  # as a HiDPI screen reports it: the figure at 2x
    pg.set(**{c["name"]: c["values"][c["start"]] for c in controls})
    base = _canvas_rgba(pg)
    if pixels_digest(pg.image.value) != pixels_digest(base):
        raise RuntimeError("the playground's PNG is not its canvas: cannot export it")
    (out / "base.png").write_bytes(encode_png(base[..., :3], level=6))
    start_row = tuple(c["start"] for c in controls if c["name"] != "lr")
    rows: dict[Key, tuple[str, np.ndarray]] = {start_row: ("r000", base)}  # row -> (name, picture)
    row_layers: dict[str, dict[str, Any]] = {"r000": {}}
    lr_start: int | None = controls[lr_index]["start"] if lr_index is not None else None
    settings = {}
    pg.encoding = False  # the canvas is read directly (checked just above)
    writer = _Writer()
    try:
        for number, (key, row) in enumerate(_by_rows(keys, lr_index, lr_start)):
            pg.set(**{c["name"]: c["values"][i] for c, i in zip(controls, key)})
            if pg.diverged and lr_index is not None and lr_start not in (None, key[lr_index]):
                # A draw that raises may leave artists as the previous setting drew them
                # (05's bars): draw it again right after its row's start, so that its picture
                # depends on the setting only (the test does the same in the notebook).
                pg.set(**_values(controls, _row_start(key, lr_index, lr_start)))
                pg.set(**_values(controls, key))
            rgba = _canvas_rgba(pg)
            if row not in rows:
                name = f"r{len(rows):03d}"
                rows[row] = (name, rgba)
                row_layers[name] = _write_layer(out, name + ".png", rgba, base, writer)
            entry = dict(sha256=pixels_digest(rgba), diverged=pg.diverged, row=rows[row][0])
            entry.update(_write_layer(out, f"s{number:04d}.png", rgba, rows[row][1], writer))
            settings[",".join(map(str, key))] = entry
    finally:
        pg.encoding = True
        writer.close()
    pg.set(**{c["name"]: c["values"][c["start"]] for c in controls})
    pg.refresh()
    return dict(
        controls=controls,
        settings=settings,
        rows=row_layers,
        css_width=pg.image.css_width,
        pixels=[int(base.shape[1]), int(base.shape[0])],
        model_id=pg.widget.model_id,
        lr_points=lr_points,
    )


def _values(controls: list[dict[str, Any]], key: Key) -> dict[str, Any]:
    return {c["name"]: c["values"][i] for c, i in zip(controls, key)}


def _row_start(key: Key, lr_index: int, lr_start: int) -> Key:
    """The setting of ``key``'s row at the starting learning rate."""
    return (*key[:lr_index], lr_start, *key[lr_index + 1 :])


def export_all(out: str | Path, max_settings: int = MAX_SETTINGS) -> list[dict[str, Any]]:
    """Export every Playground of this kernel into ``out``/<n>/; write ``out``/manifest.json."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    manifests = []
    for n, pg in enumerate(instances()):
        m = export_playground(pg, out / str(n), max_settings)
        m["folder"] = str(n)
        manifests.append(m)
    (out / "manifest.json").write_text(json.dumps(manifests))
    return manifests
