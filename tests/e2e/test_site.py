"""The course website (`make site`) in a real browser, offline.

The test builds the site when it is missing or older than its sources (`make site`: installs
requirements-site.txt into .venv, vendors the browser assets with npm ci, executes every lesson;
about 2 minutes), serves build/site/ on 127.0.0.1 and opens two lesson pages in Debian's Chromium
through Playwright. Every request that leaves 127.0.0.1 is aborted and recorded. It checks that
none was made, that no local request failed, and that the pages show their figures, formulas
(typeset by MathJax) and widget controls. Separately, it reads every built page for solution or
hidden-test text taken from solutions/. Screenshots go to test-artifacts/.
"""

import fcntl
import html
import importlib.util
import json
import os
import re
import shutil
import subprocess
import threading
from functools import partial
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import nbformat
import pytest

from mathdl_harness import jlab
from mathdl_harness.course import NBGRADER_MARKERS

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = jlab.CHROMIUM
# 00 has two widgets (a slider check and the first playground); 04 has the most formulas.
LESSONS = ("00_welcome", "04_gradients")
MARKERS = NBGRADER_MARKERS


def load_build():
    spec = importlib.util.spec_from_file_location("mathdl_book_build", ROOT / "book" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def site():
    build = load_build()
    # `make test` runs test files in two processes: one builds, the other waits, then reads.
    (ROOT / "build").mkdir(exist_ok=True)
    with open(ROOT / "build" / ".site-test.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if build.is_stale():
            if not shutil.which("npm"):
                if os.environ.get("CI"):
                    pytest.fail(
                        "CI must build the site: npm is not installed (.ci/run installs it)"
                    )
                pytest.skip("the site needs building and npm is missing (apt-get install npm)")
            proc = subprocess.run(["make", "site"], cwd=ROOT, timeout=900)
            assert proc.returncode == 0, "make site failed (see the output above)"
        assert not build.is_stale(), "the site is still older than its sources after make site"
    return build.SITE


# --- no solution text on any page -------------------------------------------------------------


class _Text(HTMLParser):
    """Every character of text in a page, scripts included (the widget state is a script)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts = []

    def handle_data(self, data):
        self.parts.append(data)


def normalize(text):
    return re.sub(r"\s+", " ", text).strip()


def page_text(path):
    parser = _Text()
    parser.feed(path.read_text(errors="replace"))
    return normalize(html.unescape("".join(parser.parts)))


def hidden_lines():
    """Lines of the solutions and hidden tests in solutions/ that no student ever sees.

    A line counts only if it is at least 20 characters long and appears nowhere in the lessons
    or the student exercises, so finding it on a page means the answer leaked.
    """
    public = " ".join(
        normalize(c.source)
        for path in [*ROOT.glob("notebooks/*.ipynb"), *ROOT.glob("exercises/*/*.ipynb")]
        for c in nbformat.read(path, as_version=4).cells
    )
    found = set()
    for path in ROOT.glob("solutions/*/*.ipynb"):
        for cell in nbformat.read(path, as_version=4).cells:
            meta = cell.metadata.get("nbgrader", {})
            inside = cell.cell_type == "markdown" and meta.get("solution")
            for line in cell.source.splitlines():
                if re.search(r"### (BEGIN|END) (SOLUTION|HIDDEN TESTS)", line):
                    inside = "BEGIN" in line
                    continue
                text = normalize(line)
                if inside and len(text) >= 20 and text not in public:
                    found.add(text)
    return sorted(found)


def test_no_page_or_download_holds_solution_or_hidden_test_text(site):
    secret = hidden_lines()
    assert len(secret) >= 20, f"too few solution lines to check against: {len(secret)}"
    pages = sorted(site.rglob("*.html"))
    lessons = sorted(p.stem for p in ROOT.glob("notebooks/[0-9][0-9]_*.ipynb"))
    exercises = sorted(p.stem for p in ROOT.glob("exercises/*/*.ipynb"))
    for name in lessons:
        assert (site / "notebooks" / f"{name}.html").exists(), f"no page for lesson {name}"
    for name in exercises:
        page = site / "exercises" / name / f"{name}.html"
        assert page.exists(), f"no page for exercise {name}"
        # The student version: its answer cells are still to be written.
        assert "raise NotImplementedError()" in page_text(page), f"{name}: not the student version"
    # The extraction reads highlighted code as written: a lesson's code lines are found.
    lesson = nbformat.read(ROOT / "notebooks" / f"{LESSONS[1]}.ipynb", as_version=4)
    code = [
        normalize(line)
        for c in lesson.cells
        if c.cell_type == "code"
        for line in c.source.splitlines()
    ]
    probe = max(code, key=len)
    assert probe in page_text(site / "notebooks" / f"{LESSONS[1]}.html"), probe

    # Every page, the downloadable sources (_sources/: .ipynb and .md) and the search index.
    files = [*pages, *sorted((site / "_sources").rglob("*")), site / "searchindex.js"]
    files = [f for f in files if f.is_file()]
    assert len(files) > len(pages) + len(lessons), "no downloadable sources or search index"
    leaks = []
    for f in files:
        raw = f.read_text(errors="replace")
        if f.suffix == ".html":
            text = page_text(f)
        elif f.suffix == ".ipynb":
            nb = nbformat.reads(raw, as_version=4)
            text = normalize("\n".join(c.source for c in nb.cells))
        else:
            text = normalize(raw)
        name = str(f.relative_to(site))
        leaks += [(name, m) for m in MARKERS if m in raw or m in text]
        leaks += [(name, line) for line in secret if line in text]
    assert leaks == [], f"solution or hidden-test text on the site: {leaks[:10]}"


# --- two lesson pages in the browser, offline ----------------------------------------------------


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server(site):
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(site)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("CI must run the site's browser test: Chromium is not installed")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            timeout=60_000,
            args=jlab.CHROMIUM_ARGS,
        )
        try:
            yield b
        finally:
            b.close()


def open_offline(browser, base, path):
    """Open base/path with every request off 127.0.0.1 aborted; return page and its records."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, service_workers="block")
    log = {"outside": [], "failed": [], "errors": [], "cdn": []}

    def route(r):
        url = r.request.url
        if url == base or url.startswith(base + "/"):
            r.continue_()
        else:
            log["outside"].append(url)
            r.abort()

    def websocket(ws):
        log["outside"].append(ws.url)
        ws.close()

    context.route("**/*", route)
    context.route_web_socket(re.compile(".*"), websocket)
    page = context.new_page()
    page.set_default_timeout(60_000)

    def local(url):
        return url.startswith(base + "/")

    page.on(
        "requestfailed",
        lambda r: local(r.url) and log["failed"].append(f"{r.url}: {r.failure}"),
    )
    page.on(
        "response",
        lambda r: local(r.url) and r.status >= 400 and log["failed"].append(f"{r.url}: {r.status}"),
    )
    page.on("pageerror", lambda e: log["errors"].append(str(e)))
    # The widget manager says so when a widget module is not local and it turns to a CDN.
    page.on(
        "console",
        lambda m: "Falling back to" in m.text and log["cdn"].append(m.text),
    )
    page.goto(f"{base}/{path}", wait_until="load")
    return context, page, log


@pytest.mark.parametrize("lesson", LESSONS)
def test_lesson_page_renders_offline(browser, server, lesson):
    context, page, log = open_offline(browser, server, f"notebooks/{lesson}.html")
    try:
        # Formulas: MathJax has typeset every math element, without an error.
        page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise")
        page.evaluate("() => MathJax.startup.promise")
        math = page.evaluate(
            """() => {
                const els = [...document.querySelectorAll('main .math')];
                return {
                    total: els.length,
                    typeset: els.filter(e => e.querySelector('mjx-container')).length,
                    errors: document.querySelectorAll('mjx-merror').length,
                };
            }"""
        )
        assert math["total"] >= 10 and math["typeset"] == math["total"], math
        assert math["errors"] == 0, math

        # Widgets: every saved view rendered from its state, with controls.
        views = page.locator('script[type="application/vnd.jupyter.widget-view+json"]').count()
        assert views >= 1, "no widget on the page"
        page.wait_for_function(
            f"() => document.querySelectorAll('.jupyter-widgets.widget-slider, .widget-dropdown').length"
            f" && document.querySelectorAll('.cell_output .jupyter-widgets').length >= {views}",
            timeout=60_000,
        )
        # The playgrounds' saved widgets are replaced by their live version (precomputed
        # pictures, tests/e2e/test_site_playgrounds.py); other widgets show as saved.
        sliders = page.locator(".widget-slider:visible, .mathdl-live-control input:visible")
        assert sliders.count() >= 1 and sliders.first.is_visible()
        assert page.locator(".mathdl-live-playground").count() >= 1, "no live playground"
        outputs = " ".join(page.locator(".cell_output").all_text_contents())
        for failure in ("Error displaying widget", "Error creating widget"):
            assert failure not in outputs, failure
        notes = page.locator(".mathdl-static-widget")
        assert notes.count() == views, "every widget output carries the 'static' note"
        links = [a.get_attribute("href") for a in notes.first.locator("a").all()]
        assert any(
            h.startswith("https://mybinder.org/") and f"notebooks/{lesson}.ipynb" in h
            for h in links
        ), links
        assert any(h.startswith("http://localhost:8888/lab/tree/notebooks/") for h in links), links

        # Figures: every image on the page (the notebook's plots and the widgets' pictures) loaded.
        page.wait_for_function("() => [...document.images].every(i => i.complete)", timeout=60_000)
        images = page.evaluate(
            """() => [...document.querySelectorAll('main img')].map(i => ({
                src: i.src.slice(0, 60), w: i.naturalWidth, widget: !!i.closest('.jupyter-widgets')}))"""
        )
        assert [i for i in images if i["w"] == 0] == [], images
        assert sum(not i["widget"] for i in images) >= 1, "no figure among the cell outputs"
        # The playground's picture is an anywidget (mathdl.playground.Picture), drawn by the
        # vendored anywidget front end from the PNG saved in the widget state.
        assert sum(i["widget"] for i in images) >= 1, "the playground's picture is missing"

        # Navigation: the sidebar lists every lesson, and the page links to the next one.
        nav = page.locator("nav.bd-links a").evaluate_all("els => els.map(e => e.href)")
        for name in sorted(p.stem for p in ROOT.glob("notebooks/[0-9][0-9]_*.ipynb")):
            assert any(h.split("#")[0].endswith(f"notebooks/{name}.html") for h in nav), name
        assert page.locator(".prev-next-area a").count() >= 1

        content = page.content()
        for marker in MARKERS:
            assert marker not in content, marker
        page.wait_for_timeout(500)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"site-{lesson}.png"), full_page=False)
        sliders.first.scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / f"site-{lesson}-widget.png"), full_page=False)
    finally:
        context.close()
    assert log["outside"] == [], f"requests left the machine: {log['outside']}"
    assert log["failed"] == [], f"local requests failed: {log['failed']}"
    assert log["errors"] == [], f"JavaScript errors: {log['errors']}"
    assert log["cdn"] == [], f"widget modules looked up on a CDN: {log['cdn']}"


def test_build_info_names_every_lesson(site):
    info = json.loads((site / "build-info.json").read_text())
    assert info["lessons"] == sorted(p.stem for p in ROOT.glob("notebooks/[0-9][0-9]_*.ipynb"))
    assert info["exercises"] == sorted(p.stem for p in ROOT.glob("exercises/*/*.ipynb"))
