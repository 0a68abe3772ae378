"""Everything a browser renders from a submission is inert (issue 17, break 1).

A student controls the outputs of their notebook (``display(HTML(...))``, ``Javascript``, widget
views, image metadata, notebook metadata) and the Markdown of their written answers. nbgrader's
formgrader and feedback render both with nbconvert, which by default passes HTML through and
runs JavaScript outputs: a student's script ran in the instructor's browser with the Jupyter
server's API at hand (shared/reviews/grading-redteam.md). Three layers, each enough alone for
scripts:

* :class:`SanitizeOutputs` (a preprocessor: the autograde and feedback lists and every
  ``HTMLExporter``, so formgrader renders an old or foreign ``autograded/`` notebook safely too)
  keeps only inert output types: text, PNG/JPEG/GIF images whose data is plain base64 and whose
  size metadata are numbers, and HTML cleaned by :func:`clean_html` (text/markdown becomes
  cleaned HTML). JavaScript, widget views, SVG and every other type are removed with a note; the
  notebook's widget state and any malformed nbgrader metadata are dropped.
* :func:`clean_html` (bleach, the sanitizer nbconvert itself uses) keeps an allowlist of tags,
  attributes, URL schemes and CSS properties: no script, style, event handler, ``javascript:``
  or ``data:`` link, iframe/object/embed/form/meta/base, SVG or MathML, ``id`` or ``data-*``
  attribute (nothing formgrader's own scripts look up), nor any CSS that positions or moves
  content. It replaces nbconvert's ``clean_html`` filter, and :func:`markdown2html` (Markdown
  cells, which nbgrader's formgrade template renders without nbconvert's sanitizing) cleans
  what Markdown produced.
* a Content-Security-Policy (:func:`csp_meta`) in each page that allows exactly the page's own
  scripts, by hash: no inline script, event handler or ``javascript:`` URL of a student runs even
  if the layers above missed one. Student content is also boxed (``contain: paint``), so nothing
  it draws can cover the grading controls.

:func:`configure` (called by nbgrader_config.py through :func:`mathdl_grading.feedback.configure`)
sets ``HTMLExporter.sanitize_html`` and installs the filters and the preprocessor.
"""

import base64
import binascii
import html
import re
from functools import lru_cache
from typing import Any

import bleach
from bleach.css_sanitizer import CSSSanitizer
from jinja2 import pass_context  # jinja2 3 (nbconvert 7 requires it)
from markupsafe import Markup
from nbconvert.exporters import HTMLExporter
from nbconvert.filters.markdown_mistune import markdown2html_mistune
from nbconvert.preprocessors import Preprocessor
from nbformat.notebooknode import NotebookNode, from_dict
from traitlets.config import Config

TAGS = frozenset(
    "a abbr b blockquote br caption code col colgroup dd del details div dl dt em figcaption "
    "figure h1 h2 h3 h4 h5 h6 hr i img ins kbd li mark ol p pre q s samp small span strong sub "
    "summary sup table tbody td tfoot th thead tr tt u ul var".split()
)
COMMON_ATTRIBUTES = frozenset({"class", "title", "lang", "dir", "style"})
TAG_ATTRIBUTES = {
    "a": {"href"},
    "img": {"src", "alt", "width", "height"},
    "td": {"colspan", "rowspan", "align"},
    "th": {"colspan", "rowspan", "align", "scope"},
    "col": {"span"},
    "colgroup": {"span"},
    "ol": {"start"},
}
# CSS that colours and aligns; nothing that positions, moves, resizes the page or loads a URL.
CSS_PROPERTIES = frozenset(
    "color background-color font-weight font-style font-family font-size text-align "
    "text-decoration vertical-align white-space border border-color border-style border-width "
    "border-collapse border-spacing border-top border-bottom border-left border-right padding "
    "padding-top padding-bottom padding-left padding-right".split()
)
# Elements removed with everything inside them (bleach alone would keep their text).
DROP_WITH_CONTENT = re.compile(
    r"<(script|style|template|noscript|noembed|noframes|xmp|iframe|object|title|textarea)\b"
    r".*?(</\1\s*>|\Z)",
    re.I | re.S,
)
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif")
DATA_IMAGE = re.compile(r"^data:image/(png|jpeg|gif);base64,[A-Za-z0-9+/=\s]*$", re.I)
SAFE_TYPES = ("text/plain", "text/latex", *IMAGE_TYPES)
GRADE_ID = re.compile(r"^[A-Za-z0-9_.\-]{1,100}$")
# Bounds on the HTML parsed per call and per notebook (tags counted as "<"): a pandas table of
# 60 rows by 10 columns has about 1,300.
MAX_TAGS, MAX_CHARS, MAX_DEPTH, NOTEBOOK_TAGS = 3_000, 100_000, 64, 12_000
# Characters of Markdown rendered as Markdown, per cell and per notebook (the course's own
# assignments have at most 8,000 in all).
MAX_MARKDOWN, NOTEBOOK_MARKDOWN = 20_000, 60_000


def _allowed_attribute(tag: str, name: str, value: str) -> bool:
    if name not in COMMON_ATTRIBUTES and name not in TAG_ATTRIBUTES.get(tag, ()):
        return False
    plain = re.sub(r"[\s\x00-\x1f]", "", html.unescape(value)).lower()
    if tag == "a" and name == "href":
        return not plain.startswith(("data:", "javascript:", "vbscript:"))
    if tag == "img" and name == "src":
        return bool(DATA_IMAGE.match(html.unescape(value).strip()))
    if name in ("width", "height"):
        return plain.isdigit() or (plain.endswith("%") and plain[:-1].isdigit())
    return True


@lru_cache(maxsize=1)
def _cleaner() -> bleach.sanitizer.Cleaner:
    return bleach.sanitizer.Cleaner(
        tags=TAGS,
        attributes=_allowed_attribute,
        protocols={"http", "https", "mailto", "data"},
        strip=True,
        strip_comments=True,
        css_sanitizer=CSSSanitizer(allowed_css_properties=CSS_PROPERTIES),
    )


TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)[^>]*?(/?)>")
VOID = frozenset("area base br col embed hr img input link meta source track wbr".split())


def nesting(text: str) -> int:
    """How deep ``text``'s elements nest, counting unclosed ones (an upper bound; linear time)."""
    depth = deepest = 0
    for closing, name, selfclosing in TAG.findall(text):
        if name.lower() in VOID or selfclosing:
            continue
        depth = max(depth - 1, 0) if closing else depth + 1
        deepest = max(deepest, depth)
    return deepest


def as_text(text: str) -> Markup:
    """``text`` with every tag removed and everything escaped: plain, preformatted text."""
    plain = html.unescape(re.sub(r"<[^>]*>?", "", text))
    return Markup(f"<pre>{html.escape(plain)}</pre>")


def clean_html(text: str | bytes) -> Markup:
    """``text`` (HTML from a submission) with only inert markup left (see the module docstring).

    HTML with more than :data:`MAX_TAGS` tags, :data:`MAX_CHARS` characters or elements nested
    deeper than :data:`MAX_DEPTH` becomes plain text (:func:`as_text`): the parser's time grows
    faster than the size (3,000 nested ``<div>``: 2.6 s), and this runs in the grader and on
    every formgrader page view.
    """
    text = text.decode() if isinstance(text, bytes) else str(text)
    if text.count("<") > MAX_TAGS or len(text) > MAX_CHARS or nesting(text) > MAX_DEPTH:
        return as_text(text)
    for _ in range(3):  # nested or unterminated dangerous elements
        text = DROP_WITH_CONTENT.sub("", text)
    return Markup(_cleaner().clean(text))


_EXPORTER = None


@pass_context
def markdown2html(context: Any, source: str) -> Markup:
    """nbconvert's Markdown filter (attachments, math, anchors), then :func:`clean_html`."""
    global _EXPORTER

    if _EXPORTER is None:
        _EXPORTER = HTMLExporter()
    return clean_html(HTMLExporter.markdown2html(_EXPORTER, context, source))


def _plain_base64(value: object) -> bool:
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9+/=\s]*", value):
        return False
    try:
        base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _size(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


class Budget:
    """What a notebook may still have parsed: HTML tags (counted as "<"), Markdown characters."""

    def __init__(self, tags: int = NOTEBOOK_TAGS, markdown: int = NOTEBOOK_MARKDOWN) -> None:
        self.left, self.markdown_left = tags, markdown

    def take(self, html_text: str) -> bool:
        """Whether ``html_text`` fits (then it is counted); never more than :data:`MAX_TAGS`."""
        cost = html_text.count("<")
        if cost > min(MAX_TAGS, self.left) or len(html_text) > MAX_CHARS:
            return False
        self.left -= cost
        return True

    def take_markdown(self, text: str) -> bool:
        """Whether Markdown ``text`` fits once rendered (too long or too many tags: not rendered)."""
        if len(text) > min(MAX_MARKDOWN, self.markdown_left):
            return False
        if text.count("<") > min(MAX_TAGS, self.left):
            return False
        self.markdown_left -= len(text)
        return self.take(_markdown_html(text))


def _markdown_html(text: str) -> str:

    return markdown2html_mistune(text)


def _inert_data(out: NotebookNode, budget: Budget) -> tuple[dict, list]:
    data, removed = {}, []
    for mime, value in dict(out.get("data", {})).items():
        if mime in IMAGE_TYPES and _plain_base64(value):
            data[mime] = value
        elif mime in ("text/plain", "text/latex") and isinstance(value, str):
            data[mime] = value
        elif mime == "text/html" and isinstance(value, str) and budget.take(value):
            data[mime] = str(clean_html(value))
        elif mime == "text/markdown" and isinstance(value, str) and "text/html" not in out["data"]:
            rendered = _markdown_html(value)
            if budget.take(rendered):
                data["text/html"] = str(clean_html(rendered))
            else:
                removed.append(f"{mime} (too large)")
        else:
            removed.append(mime if mime != "text/html" else "text/html (too large)")
    return data, removed


def sanitize_output(out: NotebookNode, budget: Budget | None = None) -> NotebookNode:
    """A copy of one code cell output with only inert content (stream and error are text)."""
    if out.get("output_type") not in ("display_data", "execute_result", "update_display_data"):
        return out
    data, removed = _inert_data(out, budget or Budget())
    if removed and not data.keys() - {"text/plain"}:
        note = f"[output removed by the grader: {', '.join(sorted(removed))}]"
        data["text/plain"] = "\n".join(filter(None, [note, data.get("text/plain")]))
    meta = {}
    for mime in IMAGE_TYPES:
        sizes = out.get("metadata", {}).get(mime)
        kept = (
            {k: _size(sizes.get(k)) for k in ("width", "height")} if isinstance(sizes, dict) else {}
        )
        if mime in data and any(kept.values()):
            meta[mime] = {k: v for k, v in kept.items() if v}
    return from_dict(dict(out, data=data, metadata=meta))


def as_code_block(text: str) -> str:
    """Markdown that shows ``text`` verbatim (an indented code block: no HTML is interpreted)."""
    note = "*(shown as plain text by the grader: too much markup to render)*\n\n"
    return note + "\n".join("    " + line for line in text.splitlines())


class SanitizeOutputs(Preprocessor):
    """Only inert outputs, attachments and metadata are left in the notebook (module docstring)."""

    def preprocess(
        self, nb: NotebookNode, resources: dict[str, Any]
    ) -> tuple[NotebookNode, dict[str, Any]]:
        nb.metadata.pop("widgets", None)
        budget = Budget()
        for cell in nb.cells:
            self.clean_cell(cell, budget)
        return nb, resources

    @staticmethod
    def clean_cell(cell: NotebookNode, budget: Budget) -> NotebookNode:
        grading = cell.get("metadata", {}).get("nbgrader")
        if isinstance(grading, dict) and not GRADE_ID.match(str(grading.get("grade_id", "x"))):
            del cell.metadata["nbgrader"]
        if cell.cell_type == "code":
            cell.outputs = [sanitize_output(o, budget) for o in cell.get("outputs", [])]
        if cell.cell_type in ("markdown", "raw") and not budget.take_markdown(cell.source):
            cell.source = as_code_block(cell.source)  # rendered (and cleaned) on every page view
        attachments = cell.get("attachments")
        if isinstance(attachments, dict):
            cell.attachments = {
                name: {m: v for m, v in files.items() if m in IMAGE_TYPES and _plain_base64(v)}
                for name, files in attachments.items()
                if isinstance(files, dict)
            }
        return cell


def configure(c: Config) -> None:
    """Every ``HTMLExporter`` nbgrader makes (feedback, formgrader) renders submissions inert.

    Call after :func:`mathdl_grading.feedback.configure` (it adds to its filters).
    """
    filters = dict(c.HTMLExporter.filters) if "filters" in c.HTMLExporter else {}
    filters["clean_html"] = "mathdl_grading.sanitize.clean_html"
    filters["markdown2html"] = "mathdl_grading.sanitize.markdown2html"
    c.HTMLExporter.filters = filters
    c.HTMLExporter.sanitize_html = True  # nbconvert then drops JavaScript and widget outputs
    c.HTMLExporter.preprocessors = ["mathdl_grading.sanitize.SanitizeOutputs"]
