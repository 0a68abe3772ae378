"""Key press -> new picture in a real browser: JupyterLab in the system Chromium (Playwright).

    .venv/bin/python benchmarks/bench_browser.py [--presses 40] [--dpr 1] [--before DIR] [names...]

Per lesson (default 00-05): a fresh JupyterLab page runs all cells, then for every playground
with a "learning rate" slider the benchmark focuses the slider's handle and presses the arrow
keys N times (a sweep of 5 right, 10 left, 5 right, repeated), waiting for each new picture.
In the page, a capture-phase keydown listener and a MutationObserver on the playground's <img>
record with performance.now():

* key -> src: the key press until the widget sets the new picture (the widget round trip: the
  browser sends the value, the kernel recomputes, renders and encodes, the picture comes back);
* src -> shown: until the browser has decoded the new picture and reached the next frame;
* key -> picture: the sum, what a student sees.

The kernel's own share (draw, render, encode per redraw, from ``Playground.timings``) is written
to a file after every redraw by one extra cell appended to the lesson's temporary copy. The picture's natural
pixel size is printed against its displayed CSS size x devicePixelRatio (upscaled when the
ratio is above 1). ``--dpr 2`` emulates a HiDPI screen. Exits 1 when a lesson's median exceeds
``--target`` ms or a picture is upscaled (so it can gate a change), 0 otherwise.
"""

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from mathdl_harness import jlab
from mathdl_harness.course import lessons_before

LESSONS = lessons_before("06_activations")  # the default set: 00-05
TIMINGS = "playground-timings.json"
# Appended to the lesson's temporary copy: after every redraw, write each playground's timings
# (Playground.timings: compute, render, encode, send) next to the notebook.
REPORT_CELL = f"""\
import json as _json
from mathdl.playground import instances as _instances

def _bench_dump(_change=None):
    with open({TIMINGS!r}, "w") as _f:
        _json.dump([dict(timings=getattr(p, "timings", [])[-200:]) for p in _instances()], _f)

for _p in _instances():
    _p.image.observe(_bench_dump, names="value")
"""

INSTRUMENT = """
(img) => {
  const rec = {presses: [], changes: []};
  img.__bench = rec;
  const onkey = (e) => { if (e.key.startsWith('Arrow')) rec.presses.push(performance.now()); };
  document.addEventListener('keydown', onkey, true);
  rec.stop = () => document.removeEventListener('keydown', onkey, true);
  new MutationObserver(() => {
    const c = {src: performance.now()};
    rec.changes.push(c);
    img.decode().then(
      () => { c.decoded = performance.now();
              requestAnimationFrame(() => { c.shown = performance.now(); }); },
      () => { c.decoded = c.shown = performance.now(); c.failed = true; });
  }).observe(img, {attributes: true, attributeFilter: ['src']});
}
"""

SIZE = """
(img) => { const r = img.getBoundingClientRect();
  return {natural: [img.naturalWidth, img.naturalHeight], css: [r.width, r.height],
          dpr: window.devicePixelRatio}; }
"""


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(q * (len(xs) - 1)))]


NEAREST_VBOX = "xpath=ancestor::div[contains(concat(' ', @class, ' '), ' widget-vbox ')][1]"


def sweep(n):
    one = ["ArrowRight"] * 5 + ["ArrowLeft"] * 10 + ["ArrowRight"] * 5
    return (one * (n // len(one) + 1))[:n]


def prepare_copy(tmp, name, root=jlab.ROOT):
    dst = Path(tmp) / "notebooks"
    dst.mkdir(parents=True, exist_ok=True)
    nb = nbformat.read(Path(root) / "notebooks" / f"{name}.ipynb", as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(REPORT_CELL))
    nbformat.write(nb, dst / f"{name}.ipynb")


def measure_playground(page, slider, image, presses):
    image.evaluate(INSTRUMENT)
    handle = slider.locator(".noUi-handle").first
    handle.focus()
    for key in sweep(presses):
        n = image.evaluate("img => img.__bench.changes.length")
        page.keyboard.press(key)
        page.wait_for_function(
            "([img, n]) => img.__bench.changes.length > n && img.__bench.changes[n].shown",
            arg=[image.element_handle(), n],
            timeout=30_000,
        )
        page.wait_for_timeout(60)  # let the page settle before the next key
    rec = image.evaluate(
        "img => { img.__bench.stop(); return {presses: img.__bench.presses,"
        " changes: img.__bench.changes}; }"
    )
    pairs = list(zip(rec["presses"], rec["changes"]))
    return dict(
        key_src=[c["src"] - k for k, c in pairs],
        src_shown=[c["shown"] - c["src"] for _, c in pairs],
        key_shown=[c["shown"] - k for k, c in pairs],
        extra_changes=len(rec["changes"]) - len(rec["presses"]),
        size=image.evaluate(SIZE),
    )


def kernel_timings(tmp):
    """Every playground's recent timings, as the appended cell last wrote them."""
    f = Path(tmp) / "notebooks" / TIMINGS
    return json.loads(f.read_text()) if f.exists() else None


def bench_lesson(browser, name, presses, dpr, root=None):
    with tempfile.TemporaryDirectory() as tmp:
        prepare_copy(tmp, name, root or jlab.ROOT)
        env = {"PYTHONPATH": str(root)} if root else {}
        with jlab.jupyterlab(tmp, env=env) as lab:
            path = f"notebooks/{name}.ipynb"
            page = jlab.open_notebook(browser, lab, path, device_scale_factor=dpr)
            try:
                t0 = time.perf_counter()
                jlab.run_all(page, timeout_s=180)
                run_s = time.perf_counter() - t0
                sliders = page.locator(
                    ".widget-slider", has=page.locator("label", has_text="learning rate")
                )
                results = []
                for i in range(sliders.count()):
                    slider = sliders.nth(i)
                    slider.scroll_into_view_if_needed()
                    # the picture of this slider's own playground: its nearest VBox ancestor
                    # (a `has=sliders.nth(i)` filter would ask for a box with i + 1 such sliders)
                    image = slider.locator(NEAREST_VBOX).locator("img").first
                    image.wait_for(state="visible", timeout=30_000)
                    image.scroll_into_view_if_needed()
                    page.wait_for_timeout(300)
                    results.append(measure_playground(page, slider, image, presses))
                kernel = kernel_timings(tmp)
            finally:
                page.close()
    return run_s, results, kernel


def summarize(name, run_s, results, kernel, presses):
    rows = []
    for i, r in enumerate(results):
        s = r["size"]
        upscale = s["css"][0] * s["dpr"] / max(s["natural"][0], 1)
        phases = ""
        if kernel and i < len(kernel) and kernel[i]["timings"]:
            t = kernel[i]["timings"][-presses:]
            med = {k: statistics.median(x[k] for x in t) for k in t[0]}
            phases = "  kernel " + " ".join(f"{k} {1000 * v:.1f}" for k, v in med.items())
        row = dict(
            lesson=name,
            playground=i,
            p50=statistics.median(r["key_shown"]),
            p95=pct(r["key_shown"], 0.95),
            key_src=statistics.median(r["key_src"]),
            src_shown=statistics.median(r["src_shown"]),
            natural=s["natural"],
            css=s["css"],
            dpr=s["dpr"],
            upscale=upscale,
            n=len(r["key_shown"]),
        )
        rows.append(row)
        print(
            f"{name:22s} #{i} key->picture p50 {row['p50']:6.1f} ms  p95 {row['p95']:6.1f} ms"
            f"  (key->src {row['key_src']:5.1f}, src->shown {row['src_shown']:5.1f}; n={row['n']})"
            f"  image {s['natural'][0]}x{s['natural'][1]} px shown {s['css'][0]:.0f}x{s['css'][1]:.0f}"
            f" css px x dpr {s['dpr']:g} -> upscale {upscale:.2f}{phases}  [run all {run_s:.1f} s]",
            flush=True,
        )
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", default=LESSONS)
    ap.add_argument("--presses", type=int, default=40)
    ap.add_argument("--dpr", type=float, default=1.0, help="devicePixelRatio to emulate")
    ap.add_argument("--target", type=float, default=100.0, help="p50 target in ms")
    ap.add_argument(
        "--before",
        metavar="DIR",
        help="also measure, interleaved lesson by lesson, the notebooks and mathdl of another "
        "checkout (e.g. `git archive <commit> | tar -x -C DIR`), labelled 'before'",
    )
    args = ap.parse_args(argv)
    rows = []
    roots = [(None, "")] + ([(Path(args.before).resolve(), " (before)")] if args.before else [])
    with jlab.chromium() as browser:
        for name in args.names:
            for root, label in roots:
                run_s, results, kernel = bench_lesson(browser, name, args.presses, args.dpr, root)
                if not results:
                    print(f"{name:22s} no learning-rate playground found", flush=True)
                rows += summarize(name + label, run_s, results, kernel, args.presses)
    print(
        "\n| lesson | key→picture p50 (ms) | p95 (ms) | key→src p50 | src→shown p50 |"
        " picture px | shown CSS px × dpr | upscale |"
    )
    print("|---|---:|---:|---:|---:|---|---|---:|")
    for r in rows:
        print(
            f"| {r['lesson']} | {r['p50']:.0f} | {r['p95']:.0f} | {r['key_src']:.0f} |"
            f" {r['src_shown']:.0f} | {r['natural'][0]}×{r['natural'][1]} |"
            f" {r['css'][0]:.0f}×{r['css'][1]:.0f} × {r['dpr']:g} | {r['upscale']:.2f} |"
        )
    bad = [r for r in rows if r["p50"] > args.target or r["upscale"] > 1.01]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
