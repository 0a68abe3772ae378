"""A student's HTML and JavaScript stay inert in the instructor's browser (issue 17, break 1).

A course (tests/helpers/grading_fixtures.py) with two submissions is graded by ``mathdl-grade``:
``honest`` (a matplotlib PNG, an HTML table, printed text, a written answer with LaTeX and a
Markdown table) and ``xss``: the red team's payloads (shared/reviews/grading-redteam.md, break 1:
``display(HTML('<script>...'))`` in an answer cell, ``<img src=x onerror=...>`` in the written
answer) and variants of ours (svg onload, ``<details ontoggle>``, ``javascript:`` links the
instructor clicks, iframes/object/embed/forms/meta refresh/base, an application/javascript
output, an execute_result's text/html, a widget view and widget state, image metadata that
breaks out of the ``<img>`` tag, an "isolated" output, MathJax's ``\\href``, CSS overlays).
Every payload, if it ran, would PUT ``PWNED_<tag>.txt`` through the server's API (reading the
``_xsrf`` cookie as the red team's did), retitle the page and open a dialog.

The instructor's Jupyter server (JupyterLab with nbgrader's formgrader, as the course runs it)
is opened in the system Chromium, logged in through /login; then the feedback HTML from
file:// and over http. Asserted: no file written, no request to the server's API or to any
other host from the page, no dialog, the gradebook unchanged, and the honest work visible (the
image decoded, the formula typeset by MathJax, the text and tables); manual grading still saves
a score and a comment. Screenshots go to test-artifacts/. Slow (tests/e2e/).
"""

import contextlib
import http.server
import json
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import quote

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell

from mathdl_grading.sandbox import bwrap_problem
from mathdl_harness import jlab
from tests.helpers import grading_fixtures as gf
from tests.helpers.payloads import ev, html_payloads, js, tiny_png

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ARTIFACTS = ROOT / "test-artifacts"
A = gf.ASSIGNMENT

pytestmark = [
    pytest.mark.skipif(not Path(jlab.CHROMIUM).exists(), reason="Chromium is not installed"),
    pytest.mark.skipif(bool(bwrap_problem()), reason=f"no sandbox: {bwrap_problem()}"),
]


XSS_CELL = """
from IPython.display import display, HTML, Javascript, Markdown
from IPython.display import publish_display_data
P = {html}
for tag, h in P.items():
    display(HTML(h))
display(Javascript({js_js}))
display(Markdown({md}))
publish_display_data({{"text/html": {iso}, "text/plain": "iso"}},
                     metadata={{"text/html": {{"isolated": True}}}})
publish_display_data({{"application/vnd.jupyter.widget-view+json":
                      {{"model_id": "pwn", "version_major": 2, "version_minor": 0}},
                      "text/plain": "a widget"}})
publish_display_data({{"image/png": {png}, "text/plain": "img"}},
                     metadata={{"image/png": {{"width": {width}, "height": "1"}}}})
publish_display_data({{"image/png": {png_break}, "text/plain": "img2"}})
publish_display_data({{"image/svg+xml": {svg}, "text/plain": "svg"}})
publish_display_data({{"text/latex": {latex}}})

class Shiny:
    def _repr_html_(self):
        return {repr_html}

Shiny()
"""

WRITTEN = """Because <img src=x onerror="{img}"> the steepest direction overshoots.

<svg><animate onbegin="{anim}" attributeName="x" dur="1s"/></svg>
<details open ontoggle="{details}"><summary>more</summary>hidden</details>

[a link to my derivation](javascript:{mdlink})
<a class="pwn-link" href="javascript:{alink}">click for the proof</a>
<iframe src="javascript:{iframe}"></iframe>
<div class="navbar-fixed-top" style="height:100vh;background:red">MD OVERLAY</div>

$\\href{{javascript:{href}}}{{\\text{{the formula link}}}}$
"""


def xss_notebook():
    nb = gf.exercise()
    code = XSS_CELL.format(
        html=repr(html_payloads()),
        js_js=repr(js("javascript_output")),
        md=repr(f'<img src=x onerror="{ev("markdown_output")}">'),
        iso=repr(f"<script>{js('isolated')}</script>"),
        png=repr(tiny_png()),
        width=repr(f"1 onload={ev('png_width')}"),
        png_break=repr(f'x" onerror="{ev("png_data")}'),
        svg=repr(f'<svg xmlns="http://www.w3.org/2000/svg" onload="{ev("svg_output")}"/>'),
        latex=repr(f'<img src=x onerror="{ev("latex")}">'),
        repr_html=repr(f'<img src=x onerror="{ev("execute_result")}">'),
    )
    gf.with_cell(nb, code)
    tags = ("img", "anim", "details", "mdlink", "alink", "iframe", "href")
    gf.cell(nb, "why").source = WRITTEN.format(**{t: ev("md_" + t) for t in tags})
    nb.cells.append(new_markdown_cell(f'Extra cell <img src=x onerror="{ev("md_extra")}">'))
    state = {"state": {"pwn": {"model_name": "HTMLModel", "model_module": "@jupyter-widgets/controls",
             "model_module_version": "2.0.0", "state": {"value": f'<img src=x onerror="{ev("widget_state")}">'}}},
             "version_major": 2, "version_minor": 0}  # fmt: skip
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": state}
    return nb


HONEST_CELL = """
import io
import matplotlib.pyplot as plt
from IPython.display import display, HTML, Image
fig, ax = plt.subplots(figsize=(3, 2))
ax.plot([0, 1, 2, 3], [0, 1, 4, 9])
png = io.BytesIO()
fig.savefig(png, format="png")
display(Image(png.getvalue()))
display(HTML("<table class='dataframe'><thead><tr><th>step</th><th>loss</th></tr></thead>"
             "<tbody><tr><td>1</td><td>0.50</td></tr><tr><td>2</td><td>0.25</td></tr></tbody></table>"))
print("honest printed text")
"""
HONEST_WRITTEN = (
    "Because the steepest direction overshoots when $\\eta L > 2$: **the step is too long**.\n\n"
    "| step | loss |\n|---|---|\n| 1 | 0.5 |\n"
)


def honest_notebook():
    nb = gf.solution()
    gf.with_cell(nb, HONEST_CELL)
    gf.cell(nb, "why").source = HONEST_WRITTEN
    return nb


# ----------------------------------------------------------------------------- the graded course


def gradebook_rows(root):
    """Every grade and comment in the gradebook (what a payload would rewrite)."""
    with contextlib.closing(sqlite3.connect(root / "gradebook.db")) as db:
        grades = db.execute(
            "SELECT id, auto_score, manual_score, extra_credit FROM grade ORDER BY id"
        ).fetchall()
        comments = db.execute("SELECT id, manual_comment FROM comment ORDER BY id").fetchall()
    return grades, comments


def submission_id(root, student):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        return gb.find_submission_notebook(A, A, student).id


def pwned(root):
    return sorted(p.name for p in Path(root).rglob("PWNED*"))


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = gf.make_course(tmp_path_factory.mktemp("formgrader") / "course")
    gf.save(honest_notebook(), root, "honest")
    gf.save(xss_notebook(), root, "xss")
    env = {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(root), "LANG": "C.UTF-8"}
    proc = subprocess.run(
        [str(BIN / "mathdl-grade"), A, "--root", str(root)],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return root


class Watch:
    """What a page did: requests, dialogs, console messages."""

    def __init__(self, page):
        self.requests, self.dialogs, self.console = [], [], []
        page.on("request", lambda r: self.requests.append((r.method, r.url)))
        page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        page.on("console", lambda m: self.console.append(m.text))

    def foreign(self, allowed):
        """Requests whose URL does not start with one of ``allowed`` (data: URLs are fine)."""
        return [(m, u) for m, u in self.requests if not u.startswith(("data:", *allowed))]


def click_links(page):
    """Click what a curious instructor would: every link a student put in the page."""
    for link in page.locator(
        "a.pwn-link, a:has-text('my derivation'), a:has-text('formula link')"
    ).all():
        with contextlib.suppress(Exception):
            link.click(timeout=2_000, force=True)
            page.wait_for_timeout(300)
    for button in page.locator("#pwn-form").all():
        with contextlib.suppress(Exception):
            button.click(timeout=2_000, force=True)


@pytest.fixture(scope="module")
def server(course):
    """The instructor's Jupyter server over the course, with nbgrader's formgrader and the
    course's guard (as deploy/jupyter/instructor/ and `make setup` enable it)."""
    conf = course / "jupyter" / "config" / "jupyter_server_config.d"
    conf.mkdir(parents=True, exist_ok=True)
    guard = {"ServerApp": {"jpserver_extensions": {"mathdl_grading.formgrader_guard": True}}}
    (conf / "mathdl_grading.json").write_text(json.dumps(guard))
    with jlab.jupyterlab(course) as lab:
        yield lab


def open_submission(browser, server, student):
    """The submission in formgrader, logged in through /login as the instructor (the token)."""
    page = browser.new_page(viewport={"width": 1300, "height": 1000})
    page.set_default_timeout(30_000)
    path = f"/formgrader/submissions/{submission_id(server['root'], student)}/"
    page.goto(f"{server['base']}/login?next={path}", wait_until="domcontentloaded")
    page.fill("input[type=password]", server["token"])
    watch = Watch(page)
    page.locator("button[type=submit], input[type=submit]").first.click()
    page.wait_for_url(f"**{path}")
    page.wait_for_selector("input.score", state="attached")
    page.wait_for_timeout(2_500)  # MathJax, formgrader's scripts, any payload
    return page, watch


def formgrader_own(server):
    base = server["base"]
    return (f"{base}/formgrader/", f"{base}/static/", f"{base}/login")


def assert_nothing_ran(root, page, watch, allowed):
    assert pwned(root) == [], f"a student's script wrote through the API: {pwned(root)}"
    assert watch.dialogs == [], f"a student's script opened dialogs: {watch.dialogs}"
    assert not page.title().startswith("PWNED"), page.title()
    assert watch.foreign(allowed) == [], (
        f"requests the page must not make: {watch.foreign(allowed)}"
    )


def test_formgrader_runs_nothing_from_a_hostile_submission(course, server, browser):
    before = gradebook_rows(course)
    page, watch = open_submission(browser, server, "xss")
    click_links(page)
    page.wait_for_timeout(1_500)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "formgrader-xss.png"), full_page=False)
    assert_nothing_ran(course, page, watch, formgrader_own(server))
    assert gradebook_rows(course) == before
    # No CSS trick covers the grading controls: the score box is what a click there reaches.
    box = page.locator("input.score").first
    box.scroll_into_view_if_needed()
    hit = box.evaluate(
        "e => { const r = e.getBoundingClientRect();"
        " return document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2) === e; }"
    )
    assert hit, "something the student wrote covers the score box"
    assert page.locator("textarea.comment").first.is_visible()
    page.close()


def assert_honest_work_shows(page, formula_cell):
    """The PNG decoded, the formula typeset by MathJax, the table and the printed text shown."""
    png = page.locator(".output_png img").first
    assert png.evaluate("i => i.complete && i.naturalWidth > 100"), "the matplotlib PNG is missing"
    page.wait_for_selector(f"{formula_cell} mjx-container svg", state="attached", timeout=20_000)
    assert page.get_by_text("honest printed text").first.is_visible()
    assert page.locator(".output_html table th", has_text="step").first.is_visible()
    assert page.locator(f"{formula_cell} table td", has_text="0.5").first.is_visible()
    assert page.locator(
        f"{formula_cell} strong", has_text="the step is too long"
    ).first.is_visible()


def csp_violations(watch):
    """Scripts the page's policy blocked (its icon font, absent from the feedback, may be too)."""
    return [m for m in watch.console if "Content Security Policy" in m and "script" in m.lower()]


def test_formgrader_shows_honest_work_and_saves_a_manual_grade(course, server, browser):
    page, watch = open_submission(browser, server, "honest")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "formgrader-honest.png"), full_page=True)
    assert_honest_work_shows(page, ".nbgrader_cell .text_cell_render")
    assert csp_violations(watch) == [], "formgrader's own scripts were blocked"
    score, comment = page.locator("input.score#why"), page.locator("textarea#why-comment")
    score.fill("1.5")
    score.press("Tab")
    comment.fill("Right idea; say why eta*L > 2 diverges.")
    comment.press("Tab")
    page.wait_for_timeout(2_000)
    with contextlib.closing(sqlite3.connect(course / "gradebook.db")) as db:
        scores = db.execute(
            "SELECT manual_score FROM grade WHERE manual_score IS NOT NULL"
        ).fetchall()
        notes = db.execute("SELECT manual_comment FROM comment WHERE manual_comment LIKE 'Right idea%'").fetchall()  # fmt: skip
    assert scores == [(1.5,)] and len(notes) == 1, (scores, notes)
    assert_nothing_ran(course, page, watch, formgrader_own(server))
    page.close()


def test_formgrader_cleans_an_autograded_notebook_made_without_the_sanitizer(
    course, server, browser
):
    """An autograded/ notebook written by another tool or before this fix: raw outputs."""
    path = course / "autograded" / "xss" / A / f"{A}.ipynb"
    nb = nbformat.read(path, as_version=4)
    raw = [
        {"output_type": "display_data", "metadata": {}, "data": {"text/html": h}}
        for h in html_payloads().values()
    ]
    raw.append({"output_type": "display_data", "metadata": {},
                "data": {"application/javascript": js("raw_js")}})  # fmt: skip
    nb.cells.append(nbformat.from_dict({**new_code_cell("raw"), "outputs": raw}))
    original = path.read_bytes()
    nbformat.write(nb, path)
    try:
        before = gradebook_rows(course)
        page, watch = open_submission(browser, server, "xss")
        click_links(page)
        page.wait_for_timeout(1_000)
        assert_nothing_ran(course, page, watch, formgrader_own(server))
        assert gradebook_rows(course) == before
        page.close()
    finally:
        path.write_bytes(original)


# ----------------------------------------------------------------------------- the feedback HTML


@contextlib.contextmanager
def http_server(folder):
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=str(folder), **k)  # noqa: E731
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.RequestHandlerClass.log_message = lambda *a: None
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def open_feedback(browser, url):
    page = browser.new_page(viewport={"width": 1300, "height": 1000})
    watch = Watch(page)
    page.goto(url, wait_until="load")
    page.wait_for_timeout(2_500)
    return page, watch


@pytest.mark.parametrize("how", ["file", "http"])
def test_feedback_runs_nothing_and_shows_honest_work(course, browser, how):
    folder = course / "feedback"
    with http_server(folder) as base:
        root = folder.as_uri() if how == "file" else base
        for student in ("xss", "honest"):
            url = f"{root}/{student}/{A}/{A}.html"
            page, watch = open_feedback(browser, url)
            click_links(page)
            page.wait_for_timeout(500)
            page.screenshot(path=str(ARTIFACTS / f"feedback-{student}-{how}.png"), full_page=True)
            assert watch.dialogs == [] and not page.title().startswith("PWNED"), watch.dialogs
            # the feedback's own stylesheet may look up its icon font next to the page
            own = (url, url.rsplit("/", 2)[0] + "/fonts/glyphicons-halflings-regular.")
            assert watch.foreign(own) == [], watch.foreign(own)
            if student == "honest":
                assert_honest_work_shows(page, ".text_cell_render")
                assert csp_violations(watch) == [], "the feedback's own scripts were blocked"
            page.close()


def test_the_feedback_policy_alone_stops_scripts(course, browser, tmp_path):
    """Defence in depth: payloads put into the feedback page after sanitizing never run."""
    page_html = (course / "feedback" / "honest" / A / f"{A}.html").read_text()
    injected = "".join(html_payloads().values()) + f'<img src=x onerror="{ev("csp_img")}">'
    (tmp_path / "f.html").write_text(page_html.replace("</body>", injected + "</body>"))
    page, watch = open_feedback(browser, (tmp_path / "f.html").as_uri())
    page.wait_for_selector(".text_cell_render mjx-container svg", state="attached")
    click_links(page)
    page.wait_for_timeout(500)
    assert watch.dialogs == [] and not page.title().startswith("PWNED")
    sent = [u for _, u in watch.requests if "PWNED" in u or "/api/" in u]
    assert sent == [], sent
    assert csp_violations(watch), "the policy reported nothing it blocked"
    page.close()


def test_a_crafted_formgrader_link_runs_nothing(course, server, browser):
    """nbgrader's formgrader writes the student id from the URL into an inline script unescaped
    (manage_students_assignments.tpl): a link a student plants, once clicked, would run code.
    mathdl_grading.formgrader_guard refuses such paths."""
    page, watch = open_submission(browser, server, "honest")
    for path in (
        f"/formgrader/manage_students/%22%3B{quote(js('reflected'), safe='')}%2F%2F",
        f"/formgrader/manage_students/x%3C%2Fscript%3E%3Cscript%3E{quote(js('reflected2'), safe='')}%3C%2Fscript%3E/fixture",
    ):
        response = page.goto(server["base"] + path, wait_until="load")
        page.wait_for_timeout(1_500)
        assert response.status == 400, response.status
    assert_nothing_ran(course, page, watch, formgrader_own(server))
    response = page.goto(server["base"] + "/formgrader/manage_students/honest", wait_until="load")
    assert response.status == 200 and page.get_by_text("honest").first.is_visible()
    page.close()
