"""The playgrounds live on the course website (issue 22, docs/site.md), offline, no kernel.

The site build precomputes every Playground's pictures over its site grid
(mathdl/playground_export.py) and the page swaps them (book/_assets/mathdl-playgrounds.js).

* In Chromium with every request off 127.0.0.1 aborted, on every lesson page: the live
  playground replaced the saved widget, pressing the arrow keys on the learning-rate slider
  shows the precomputed picture of each new setting (the right files, in place), nothing
  requested from outside, no local request failed; the key-press-to-picture time is printed
  (its figures: benchmarks/bench_site_playgrounds.py, docs/performance.md).
* Against the notebook: each lesson runs in a fresh kernel, its playgrounds are set to a
  sample of the site's settings (in another order than the build's) and the digest of the
  pixels the notebook shows (its own PNG, at pixel ratio 2) must equal the site's; the site's
  files (row picture + overlay) composed in Python must give exactly those pixels. So a change
  to a playground that the site does not follow fails here (the site fixture rebuilds a stale
  site first, like test_site.py).
"""

import base64
import io
import json
import random
import statistics

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient
from PIL import Image

from mathdl.playground_export import compose, pixels_digest
from mathdl_harness.course import LESSONS, NOTEBOOKS
from tests.e2e.test_site import ARTIFACTS, browser, open_offline, server, site  # noqa: F401 (fixtures)

PRESSES = 16
MARK = "@@SITE-SAMPLES@@"


def manifests(root, lesson):
    path = root / "playgrounds" / lesson / "playgrounds.js"
    assert path.exists(), f"{lesson}: the site has no live playground ({path} is missing)"
    text = path.read_text()
    data = json.loads(text[text.index("push(") + 5 : text.rindex(")")])
    return data["manifests"]


def composed(root, lesson, m, key):
    """The picture the page shows for setting ``key``: its row picture with its overlay."""
    return compose(root / "playgrounds" / lesson / m["folder"], m, key)


# --- the page, in Chromium, offline -----------------------------------------------------------

INSTRUMENT = """(root) => {
  const rec = {presses: [], shown: []};
  root.__rec = rec;
  document.addEventListener('keydown', (e) => {
    if (e.key.startsWith('Arrow')) rec.presses.push(performance.now()); }, true);
  new MutationObserver(() => rec.shown.push({t: performance.now(), key: root.dataset.shown}))
    .observe(root, {attributes: true, attributeFilter: ['data-shown']});
}"""

SHOWN = """(root) => {
  const canvas = root.querySelector('.mathdl-live-frame canvas');
  return {layers: root.dataset.layers.split(' '), png: canvas.toDataURL('image/png'),
          width: canvas.width, css: canvas.getBoundingClientRect().width};
}"""


def press_lr(page, root, lr, n):
    """Arrow keys on the learning-rate slider, back and forth; the settings it went through."""
    slider = root.locator(f'input[data-control="{lr["name"]}"]')
    slider.focus()
    keys, position = [], lr["start"]
    direction = "ArrowRight" if position < len(lr["values"]) - 1 else "ArrowLeft"
    for _ in range(n):
        if position == len(lr["values"]) - 1:
            direction = "ArrowLeft"
        elif position == 0:
            direction = "ArrowRight"
        page.keyboard.press(direction)
        position += 1 if direction == "ArrowRight" else -1
        key = root.get_attribute("data-key")
        page.wait_for_function(
            "([root, key]) => root.dataset.shown === key", arg=[root.element_handle(), key]
        )
        keys.append(key)
        page.wait_for_timeout(40)
    return keys


@pytest.mark.parametrize("lesson", LESSONS)
def test_learning_rate_moves_the_picture_offline(browser, server, site, lesson):  # noqa: F811
    ms = manifests(site, lesson)
    context, page, log = open_offline(browser, server, f"notebooks/{lesson}.html")
    try:
        roots = page.locator(".mathdl-live-playground")
        page.wait_for_function(
            f"() => document.querySelectorAll('.mathdl-live-playground').length == {len(ms)}"
        )
        assert page.locator(".mathdl-replaced-widget").count() == len(ms)
        # the lesson's first playground with a learning rate (lesson 10's depth playground has none)
        k = next(i for i, m in enumerate(ms) if any(c["name"] == "lr" for c in m["controls"]))
        root, m = roots.nth(k), ms[k]
        lr = next(c for c in m["controls"] if c["name"] == "lr")
        assert lr["description"] == "learning rate"
        root.scroll_into_view_if_needed()
        page.wait_for_function(
            "r => r.dataset.shown && r.dataset.shown === r.dataset.key", arg=root.element_handle()
        )
        root.evaluate(INSTRUMENT)
        keys = press_lr(page, root, lr, PRESSES)
        rec = root.evaluate("r => r.__rec")
        shown = root.evaluate(SHOWN)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"site-live-{lesson}.png"))
    finally:
        context.close()
    assert log["outside"] == [], f"requests left the machine: {log['outside']}"
    assert log["failed"] == [], f"local requests failed: {log['failed']}"
    assert log["errors"] == [], f"JavaScript errors: {log['errors']}"

    # Every press showed a new setting, the one the slider reached, as the build drew it.
    assert [s["key"] for s in rec["shown"]] == keys
    assert len(set(keys)) > 1 and all(k in m["settings"] for k in keys)
    digests = [m["settings"][k]["sha256"] for k in keys]
    assert len(set(digests)) > 1, "moving the learning rate never changed the picture"
    # The page composed base.png, the row's layer and the setting's layer on a canvas at 2x:
    # its pixels, read back from the browser, are the pixels the build drew for that setting.
    entry = m["settings"][keys[-1]]
    layers = [m["rows"][entry["row"]], entry]
    assert shown["layers"] == ["base.png"] + [x["file"] for x in layers if "file" in x], shown
    assert shown["width"] == m["pixels"][0] == 2 * m["css_width"], "the picture is not at 2x"
    png = base64.b64decode(shown["png"].split(",", 1)[1])
    assert pixels_digest(png) == entry["sha256"], "the page's picture is not the build's"
    assert np.array_equal(
        np.asarray(Image.open(io.BytesIO(png)).convert("RGBA")), composed(site, lesson, m, keys[-1])
    )

    latency = [s["t"] - p for p, s in zip(rec["presses"], rec["shown"])]
    p50 = statistics.median(latency)
    p95 = sorted(latency)[round(0.95 * (len(latency) - 1))]
    # printed, not asserted: the figure is benchmarks/bench_site_playgrounds.py's (a shared,
    # noisy machine must not fail a test on timing)
    print(
        f"{lesson}: key press -> picture p50 {p50:.1f} ms, p95 {p95:.1f} ms ({len(latency)} presses)"
    )


# --- the site's pictures are the notebook's ---------------------------------------------------

SAMPLE_CODE = """
import json as _json
from mathdl.playground import instances as _instances
from mathdl.playground_export import compose, pixels_digest as _digest
_samples, _out = _json.loads({samples!r}), []
for _pg, _settings in zip(_instances(), _samples):
    _pg.image.device_pixel_ratio = 2.0
    _digests = []
    for _before, _values in _settings:
        if _before is not None:
            _pg.set(**_before)
        _pg.set(**_values)
        _digests.append(_digest(_pg.image.value))
    _out.append(dict(digests=_digests, css_width=_pg.image.css_width,
                     controls=[[n, getattr(w, "description", n)] for n, w in _pg.controls.items()]))
print({mark!r} + _json.dumps(dict(n=len(_instances()), playgrounds=_out)))
"""


def sample_keys(m, rng, n=6):
    """The starting setting, the learning rate's ends, a setting per other control, random."""
    keys = list(m["settings"])
    start = ",".join(str(c["start"]) for c in m["controls"])
    picked = [start, keys[0], keys[-1], *rng.sample(keys, min(n, len(keys)))]
    return list(dict.fromkeys(picked))


def values(m, key):
    return {c["name"]: c["values"][int(i)] for c, i in zip(m["controls"], key.split(","))}


def before(m, key):
    """A diverged setting is drawn right after its row's start (the build does the same): a
    draw that raises may leave artists as the previous setting drew them (05's bars)."""
    if not m["settings"][key]["diverged"]:
        return None
    lr = [c["name"] for c in m["controls"]].index("lr")
    start = key.split(",")
    start[lr] = str(m["controls"][lr]["start"])
    return values(m, ",".join(start))


def run_in_notebook(lesson, samples):
    nb = nbformat.read(NOTEBOOKS / f"{lesson}.ipynb", as_version=4)
    nb.cells.append(
        nbformat.v4.new_code_cell(SAMPLE_CODE.format(samples=json.dumps(samples), mark=MARK))
    )
    NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
    ).execute()
    text = "".join(
        o.get("text", "") for o in nb.cells[-1].outputs if o.get("output_type") == "stream"
    )
    return json.loads(text.split(MARK, 1)[1].strip().splitlines()[0])


@pytest.mark.parametrize("lesson", LESSONS)
def test_site_pictures_are_the_notebooks_pixels(site, lesson):  # noqa: F811
    ms = manifests(site, lesson)
    rng = random.Random(lesson)
    keys = [sample_keys(m, rng) for m in ms]
    samples = [[(before(m, k), values(m, k)) for k in ks] for m, ks in zip(ms, keys)]
    for m, ks in zip(ms, keys):  # the files the page shows are the pixels the digest names
        for k in ks:
            assert pixels_digest(composed(site, lesson, m, k)) == m["settings"][k]["sha256"], k
    got = run_in_notebook(lesson, samples)
    assert got["n"] == len(ms), (
        f"{lesson}: {got['n']} playgrounds in the notebook, {len(ms)} on the site"
    )
    for m, ks, nb in zip(ms, keys, got["playgrounds"]):
        site_controls = [[c["name"], c["description"]] for c in m["controls"]]
        assert [c for c in nb["controls"] if c in site_controls] == site_controls
        assert nb["css_width"] == m["css_width"]
        differ = [k for k, d in zip(ks, nb["digests"]) if d != m["settings"][k]["sha256"]]
        assert differ == [], f"{lesson}: the site's pictures differ from the notebook's at {differ}"
