"""The site's live playgrounds: key press -> new picture in Chromium, offline (docs/site.md).

    .venv/bin/python benchmarks/bench_site_playgrounds.py [--presses 40] [--dpr 2] [lessons...]

Serves build/site/ (build it first: `make site`) on 127.0.0.1, opens each lesson page in the
system Chromium (Playwright) with every other request aborted, focuses the first playground's
learning-rate slider and presses the arrow keys (back and forth over the slider's range),
waiting for each new picture. A capture-phase keydown listener and a MutationObserver on the
playground's ``data-shown`` (set by mathdl-playgrounds.js in the frame after the new layers are
decoded and in place) time each press. Prints per lesson p50 / p95 in ms, the pictures' bytes
and settings, then the whole site's size and build time (build/site/build-info.json).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from mathdl_harness import jlab
from mathdl_harness.course import LESSONS

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "build" / "site"

INSTRUMENT = """(root) => {
  const rec = {presses: [], shown: []};
  root.__rec = rec;
  document.addEventListener('keydown', (e) => {
    if (e.key.startsWith('Arrow')) rec.presses.push(performance.now()); }, true);
  new MutationObserver(() => rec.shown.push(performance.now()))
    .observe(root, {attributes: true, attributeFilter: ['data-shown']});
}"""


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def measure(browser, base, lesson, presses, dpr):
    context = browser.new_context(
        viewport={"width": 1400, "height": 1000}, device_scale_factor=dpr, service_workers="block"
    )
    outside = []
    context.route(
        "**/*",
        lambda r: (
            r.continue_()
            if r.request.url.startswith(base)
            else (outside.append(r.request.url), r.abort())
        ),
    )
    page = context.new_page()
    page.goto(f"{base}/notebooks/{lesson}.html", wait_until="load")
    root = page.locator(".mathdl-live-playground").first
    root.wait_for()
    root.scroll_into_view_if_needed()
    slider = root.locator('input[data-control="lr"]')
    n = int(slider.get_attribute("max")) + 1
    position = int(slider.input_value())
    root.evaluate(INSTRUMENT)
    slider.focus()
    direction = 1
    for _ in range(presses):
        if not 0 <= position + direction < n:
            direction = -direction
        page.keyboard.press("ArrowRight" if direction > 0 else "ArrowLeft")
        position += direction
        key = root.get_attribute("data-key")
        page.wait_for_function(
            "([r, k]) => r.dataset.shown === k", arg=[root.element_handle(), key]
        )
        page.wait_for_timeout(40)
    rec = root.evaluate("r => r.__rec")
    context.close()
    ms = [s - p for p, s in zip(rec["presses"], rec["shown"])]
    return ms, outside


def du(path):
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presses", type=int, default=40)
    ap.add_argument("--dpr", type=float, default=1.0, help="devicePixelRatio (2: HiDPI)")
    ap.add_argument("lessons", nargs="*", default=LESSONS)
    args = ap.parse_args(argv)
    if not (SITE / "build-info.json").exists():
        sys.exit("build the site first: make site")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(SITE)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    print(f"load average {os.getloadavg()[0]:.1f}; devicePixelRatio {args.dpr}")
    print(f"{'lesson':24s} {'p50 ms':>7s} {'p95 ms':>7s} {'max ms':>7s} {'MB':>6s} settings")
    info = json.loads((SITE / "build-info.json").read_text())
    with jlab.chromium() as browser:
        for lesson in args.lessons:
            ms, outside = measure(browser, base, lesson, args.presses, args.dpr)
            p95 = sorted(ms)[round(0.95 * (len(ms) - 1))]
            size = du(SITE / "playgrounds" / lesson) / 1e6
            print(
                f"{lesson:24s} {statistics.median(ms):7.1f} {p95:7.1f} {max(ms):7.1f} "
                f"{size:6.2f} {info.get('playground_settings', {}).get(lesson)}"
                + (f"  OUTSIDE REQUESTS: {outside}" if outside else "")
            )
    httpd.shutdown()
    total = subprocess.run(["du", "-sb", str(SITE)], capture_output=True, text=True).stdout
    print(
        f"site: {int(total.split()[0]) / 1e6:.1f} MB; playgrounds {du(SITE / 'playgrounds') / 1e6:.1f} MB"
    )
    print(f"build: {info['seconds']}")
    print(f"load average now {os.getloadavg()}")


if __name__ == "__main__":
    main()
