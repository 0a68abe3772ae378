"""A Content-Security-Policy for the pages nbconvert renders from a submission.

The feedback HTML and formgrader's submission page carry a ``<meta http-equiv=
"Content-Security-Policy">`` (emitted by this package's ``mathjax.html.j2`` templates, early in
``<head>``, before any content from the submission). Scripts run only if their text hashes to
one the page lists: the MathJax configuration and engine inlined by the template and, on
formgrader's page, the inline scripts and ``onclick`` handlers of nbgrader's own formgrade
template (read from the installed nbgrader, so an nbgrader upgrade keeps working). No
``'unsafe-inline'``, no ``'self'`` for scripts (the Jupyter server's ``/files/`` would serve a
script a student submitted), no ``javascript:`` URL, plugin, frame, ``<base>`` or form
elsewhere. Formgrader's scripts in ``<head>`` come before the policy and are not governed by it.
"""

import base64
import hashlib
import re
from functools import lru_cache
from pathlib import Path

import nbgrader
from markupsafe import Markup, escape

from .feedback import mathjax_dir, mathjax_script

COMMON = {
    "default-src": "'none'",
    "object-src": "'none'",
    "frame-src": "'none'",
    "worker-src": "'none'",
    "base-uri": "'none'",
    "style-src": "'unsafe-inline'",  # MathJax inserts <style>; student CSS is cleaned and boxed
    "img-src": "data:",
    "font-src": "data:",
    "form-action": "'none'",
}
FORMGRADE = {  # formgrader's own stylesheets, fonts, images and API calls (same origin)
    "style-src": "'self' 'unsafe-inline'",
    "img-src": "'self' data:",
    "font-src": "'self' data:",
    "connect-src": "'self'",
    "form-action": "'self'",
}


def sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


@lru_cache(maxsize=1)
def formgrade_inline() -> tuple[list[str], list[str]]:
    """The static inline scripts and event handlers of nbgrader's formgrade template."""
    folder = Path(nbgrader.__file__).resolve().parent / "server_extensions/formgrader/templates"
    text = (folder / "formgrade" / "formgrade_macros.html.j2").read_text(encoding="utf-8")
    scripts = [s for s in re.findall(r"<script[^>]*>(.*?)</script>", text, re.S) if s.strip()]
    handlers = re.findall(r"""\son[a-z]+="([^"]*)\"""", text)
    static = [s for s in scripts if "{{" not in s and "{%" not in s]
    return static, [h for h in handlers if "{{" not in h]


def policy(scripts: list[str], page: str = "feedback") -> str:
    """The policy text: ``scripts`` (inline script texts) allowed by hash, for ``page``."""
    if page not in ("feedback", "formgrade"):
        raise ValueError(f"unknown page kind {page!r}: feedback or formgrade")
    rules = dict(COMMON)
    hashes = [sha256(s) for s in scripts if s]
    if page == "formgrade":
        rules.update(FORMGRADE)
        static, handlers = formgrade_inline()
        hashes += [sha256(s) for s in static]
        if handlers:
            hashes += ["'unsafe-hashes'", *(sha256(h) for h in handlers)]
    rules["script-src"] = " ".join(dict.fromkeys(hashes)) or "'none'"
    return "; ".join(f"{k} {v}" for k, v in rules.items())


def csp_meta(scripts: list[str], page: str = "feedback") -> Markup:
    """Jinja filter: the ``<meta>`` element carrying :func:`policy`."""
    text = escape(policy([str(s) for s in scripts], page))
    return Markup(f'<meta http-equiv="Content-Security-Policy" content="{text}">')


MATHJAX_CONFIG = """
window.MathJax = {
  tex: {inlineMath: [['$', '$'], ['\\\\(', '\\\\)']], displayMath: [['$$', '$$'], ['\\\\[', '\\\\]']],
        processEscapes: true, processEnvironments: true, tags: 'ams',
        packages: {'[-]': ['require', 'autoload']}, macros: {href: ['{#2}', 2]}},
  svg: {fontCache: 'global'}
};
"""
# Nothing a student's HTML or Markdown draws can cover the page around it.
BOXED = ".output_subarea, .text_cell_render, .rendered_html { contain: paint; }"


def head(page: str) -> Markup:
    """Jinja filter (``"feedback" | mathdl_head``): the policy, the boxing CSS, MathJax.

    MathJax loads nothing (``require``/``autoload`` off) and ``\\href`` shows only its text.
    Without the ``mathjax`` package the formulas stay as TeX source; the policy is the same.
    """
    scripts = [MATHJAX_CONFIG] + ([mathjax_script("tex-svg.js")] if mathjax_dir() else [])
    parts = [csp_meta(scripts, page), f"<style>{BOXED}</style>"]
    parts += [f"<script>{s}</script>" for s in scripts]
    return Markup("\n".join(parts))
