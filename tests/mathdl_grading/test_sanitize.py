"""The sanitizer without a browser (mathdl_grading.sanitize; the page's policy: test_csp.py).

The browser checks are tests/e2e/test_grading_browser.py (slow); these are quick: what cleaning
leaves of every hostile payload and of honest content, and what happens to each output type.
"""

import re
from html.parser import HTMLParser

import nbformat
import pytest

from mathdl_grading import sanitize
from mathdl_grading.sanitize import clean_html, sanitize_output
from tests.helpers import grading_fixtures as gf
from tests.helpers.payloads import html_payloads, js, tiny_png

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
