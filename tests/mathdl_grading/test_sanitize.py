"""The sanitizer and the Content-Security-Policy without a browser (mathdl_grading.sanitize, .csp).

The browser checks are tests/test_grading_browser.py (slow); these are quick: what cleaning
leaves of every hostile payload and of honest content, what happens to each output type, and
that a rendered feedback page lists the hash of every script it contains, computed here with
hashlib from the page itself, and nothing else.
"""

import base64
import hashlib
import re
from html.parser import HTMLParser

import grading_fixtures as gf
import nbformat
import pytest
from test_grading_browser import html_payloads, js, tiny_png
from traitlets.config import Config

from mathdl_grading import csp, feedback, sanitize
from mathdl_grading.sanitize import clean_html, sanitize_output

DANGEROUS_TAGS = {"script", "style", "iframe", "object", "embed", "form", "meta", "base", "svg",
                  "math", "link", "input", "button", "textarea", "frame", "frameset"}  # fmt: skip


class Tags(HTMLParser):
    def __init__(self, text):
        super().__init__()
        self.found = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, dict(attrs)))


def dangers(text):
    """Everything in ``text`` (HTML) that could run script, load or navigate on its own."""
    out = []
    for tag, attrs in Tags(text).found:
        if tag in DANGEROUS_TAGS:
            out.append(tag)
        for name, value in attrs.items():
            plain = re.sub(r"\s", "", (value or "")).lower()
            if name.startswith("on") or name in ("id", "srcdoc", "formaction", "action"):
                out.append(f"{tag}[{name}]")
            if name in ("href", "src") and plain.startswith(("javascript:", "vbscript:")):
                out.append(f"{tag}[{name}={plain[:20]}]")
            if name == "href" and plain.startswith("data:"):
                out.append(f"{tag}[href=data:]")
            if name == "style" and re.search(r"position|z-index|url\(|transform|margin", plain):
                out.append(f"{tag}[style={plain}]")
    return out


MORE = [
    '<IMG SRC=x OnErRoR="alert(1)">',
    '<a href="jav&#x09;ascript:alert(1)">x</a>',
    '<a href="  JAVASCRIPT:alert(1)">x</a>',
    "<scr<script>ipt>alert(1)</script>",
    '<img src="data:image/svg+xml;base64,PHN2Zz4=">',
    '<div style="background:url(javascript:alert(1));position:absolute">x</div>',
    "<!--<img src=x onerror=alert(1)>-->",
    '<table><td background="javascript:alert(1)">x</td></table>',
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>',
    '<p id="notebook" data-link="x" class="navbar-fixed-top">clobber</p>',
]


@pytest.mark.parametrize("payload", [*html_payloads().values(), *MORE])
def test_cleaning_leaves_nothing_that_runs_or_moves(payload):
    cleaned = str(clean_html(payload))
    assert dangers(cleaned) == [], cleaned


def test_cleaning_keeps_honest_content():
    honest = (
        "<h2>Result</h2><p>The loss is <b>0.25</b>, <i>small</i>: "
        '<a href="https://pytorch.org/docs">docs</a>.</p><ul><li>one</li></ul>'
        "<table class='dataframe'><thead><tr><th>step</th></tr></thead>"
        "<tbody><tr><td>1</td></tr></tbody></table><pre><code>x = 1</code></pre>"
        f'<img src="data:image/png;base64,{tiny_png()}" width="30">'
        '<span style="color: red">$\\eta < 2/L$</span>'
    )
    cleaned = str(clean_html(honest))
    for kept in ("<h2>Result</h2>", "<b>0.25</b>", 'href="https://pytorch.org/docs"', "<li>one</li>",
                 '<table class="dataframe">', "<th>step</th>", "<code>x = 1</code>",
                 f'src="data:image/png;base64,{tiny_png()}"', 'width="30"',
                 'style="color: red;"', "$\\eta &lt; 2/L$"):  # fmt: skip
        assert kept in cleaned, (kept, cleaned)


def out(data, metadata=None):
    return nbformat.from_dict(
        {"output_type": "display_data", "data": data, "metadata": metadata or {}}
    )


def test_outputs_keep_only_inert_types():
    png = tiny_png()
    cases = [
        (out({"application/javascript": js("x"), "text/plain": "J"}), {"text/plain"}),
        (out({"application/vnd.jupyter.widget-view+json": {"model_id": "m"}}), {"text/plain"}),
        (out({"image/svg+xml": "<svg onload=alert(1)/>", "text/plain": "s"}), {"text/plain"}),
        (out({"image/png": 'x" onerror="alert(1)'}), {"text/plain"}),
        (out({"image/png": png, "text/plain": "p"}), {"image/png", "text/plain"}),
        (out({"text/markdown": "**b** <img src=x onerror=alert(1)>"}), {"text/html"}),
        (out({"text/html": "<script>alert(1)</script><b>ok</b>"}), {"text/html"}),
    ]
    for given, kinds in cases:
        got = sanitize_output(given)
        assert set(got.data) == kinds, (given, got)
        assert dangers(got.data.get("text/html", "")) == []
    md = sanitize_output(cases[5][0]).data["text/html"]
    assert "<strong>b</strong>" in md and "onerror" not in md
    assert "removed by the grader: application/javascript" in sanitize_output(cases[0][0]).data["text/plain"]  # fmt: skip


def test_image_metadata_are_numbers_or_nothing():
    png = tiny_png()
    bad = out({"image/png": png}, {"image/png": {"width": "1 onload=alert(1)", "height": 5}})
    assert sanitize_output(bad).metadata == {"image/png": {"height": 5}}
    iso = out({"text/html": "<b>x</b>"}, {"text/html": {"isolated": True}})
    assert sanitize_output(iso).metadata == {}


def test_notebook_widget_state_attachments_and_bad_grade_ids_are_dropped():
    nb = gf.exercise()
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    cell = nb.cells[0]
    cell.attachments = {"a.png": {"image/png": tiny_png(), "text/html": "<script>x</script>"}}
    nb.cells[1].metadata.nbgrader["grade_id"] = '"><img src=x onerror=alert(1)>'
    nb, _ = sanitize.SanitizeOutputs().preprocess(nb, {})
    assert "widgets" not in nb.metadata
    assert cell.attachments == {"a.png": {"image/png": tiny_png()}}
    assert "nbgrader" not in nb.cells[1].metadata


def rendered_feedback(tmp_path, notebook):
    """The feedback template with the course's settings (nbgrader_config.py's calls)."""
    import nbgrader
    from nbconvert.exporters import HTMLExporter

    c = Config()
    feedback.configure(c)
    sanitize.configure(c)
    theirs = (
        nbgrader.__file__.rsplit("/", 1)[0]
        + "/server_extensions/formgrader/static/node_modules/bootstrap/dist/css"
    )
    c.HTMLExporter.template_name = "feedback"
    c.HTMLExporter.extra_template_paths = [theirs]
    resources = {"nbgrader": {"notebook": "n", "score": 0, "max_score": 1, "late_penalty": 0}}
    return HTMLExporter(config=c).from_notebook_node(notebook, resources=resources)[0]


def policy_of(page):
    import html

    meta = re.search(r'<meta[^>]*http-equiv="Content-Security-Policy"[^>]*>', page)
    assert meta, "no policy in the page"
    content = re.search(r'content="([^"]*)"', meta.group(0)).group(1)
    rules = dict(r.strip().split(" ", 1) for r in html.unescape(content).split(";"))
    return meta.start(), rules


def test_feedback_policy_allows_exactly_the_pages_own_scripts(tmp_path):
    hostile = '<script>alert(1)</script><img src=x onerror="x()"> $x^2$'
    meta = gf._meta("w", grade=True, solution=True, locked=False, points=1, score=0, comment="ok")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(hostile, metadata=meta)])
    page = rendered_feedback(tmp_path, nb)
    where, rules = policy_of(page)
    scripts = re.findall(r"<script[^>]*>(.*?)</script>", page, re.S)
    digests = [base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() for s in scripts]
    hashes = {f"'sha256-{d}'" for d in digests}
    assert set(rules["script-src"].split()) == hashes
    assert len(scripts) == (2 if feedback.mathjax_dir() else 1)
    assert page.index("<script") > where and page.index("<body") > where
    for key in ("default-src", "object-src", "frame-src", "base-uri", "form-action"):
        assert rules[key] == "'none'", key
    assert "unsafe-inline" not in rules["script-src"] and "'self'" not in rules["script-src"]


def test_formgrade_policy_names_formgraders_own_inline_code():
    static, handlers = csp.formgrade_inline()
    assert any("toggle_name" in s for s in static) and "toggle_name(true);" in handlers
    rules = dict(r.split(" ", 1) for r in csp.policy([], "formgrade").split("; "))
    assert "'unsafe-inline'" not in rules["script-src"] and "'self'" not in rules["script-src"]
    assert csp.sha256("toggle_name(true);") in rules["script-src"]
    assert rules["connect-src"] == "'self'"
    with pytest.raises(ValueError, match="unknown page kind"):
        csp.policy([], "lab")


def test_formgrader_guard_refuses_markup_in_formgrader_paths_only():
    from mathdl_grading.formgrader_guard import is_unsafe

    assert is_unsafe("/formgrader/manage_students/%22%3Balert(1)%2F%2F")
    assert is_unsafe("/user/ann/formgrader/manage_students/x%3C%2Fscript%3E/ps1")
    assert is_unsafe("/services/formgrader-mathdl/formgrader/gradebook/a'b")
    assert not is_unsafe("/formgrader/manage_students/ann.lee-2/01_tensors")
    assert not is_unsafe("/formgrader/submissions/61b3378264ae47879d3d4434ff9f6d07/")
    assert not is_unsafe("/api/contents/a%22b.ipynb")  # not formgrader's


def test_markup_too_large_or_too_deep_becomes_plain_text():
    for hostile in ("<div>" * 5000, "<b>" * 100 + "x", "<td>1</td>" * 2000, "a" * 100_001):
        shown = str(clean_html(hostile))
        assert shown.startswith("<pre>") and Tags(shown).found == [("pre", {})], shown[:80]
    pandas = (
        "<table class='dataframe'><tbody>"
        + "<tr><th>1</th>" + "<td>0.5</td>" * 10 + "</tr>" * 60
        + "</tbody></table>"
    )  # fmt: skip
    assert str(clean_html(pandas)).startswith('<table class="dataframe">')


def test_a_notebook_has_a_budget_of_markup_the_rest_is_shown_as_text():
    big = ("<b>" * 50 + "x" + "</b>" * 50) * 25  # 2,500 tags: under the limit of one output
    outputs = [out({"text/html": big, "text/plain": f"plain {i}"}) for i in range(10)]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x", outputs=outputs)])
    nb.cells += [nbformat.v4.new_markdown_cell(big), nbformat.v4.new_markdown_cell("**ok**")]
    nb, _ = sanitize.SanitizeOutputs().preprocess(nb, {})
    kept = [o for o in nb.cells[0].outputs if "text/html" in o.data]
    assert len(kept) == sanitize.NOTEBOOK_TAGS // 2_500
    assert "too large" in nb.cells[0].outputs[-1].data["text/plain"]
    assert nb.cells[0].outputs[-1].data["text/plain"].endswith("plain 9")
    assert nb.cells[1].source.startswith("*(shown as plain text by the grader")
    assert nb.cells[2].source == "**ok**"
