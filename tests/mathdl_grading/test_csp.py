"""mathdl_grading.csp: the Content-Security-Policy of a rendered feedback page and of formgrader,
computed here with hashlib from the page itself.
"""

import base64
import hashlib
import re

import nbformat
import pytest
from traitlets.config import Config

from mathdl_grading import csp, feedback, sanitize
from tests.helpers import grading_fixtures as gf


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
