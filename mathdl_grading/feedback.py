"""Feedback HTML that renders formulas offline.

nbgrader's feedback and formgrade templates load MathJax from a CDN. :func:`configure` (called by
nbgrader_config.py) puts this package's ``templates/`` first on the template path: their
``mathjax.html.j2`` emit the page's Content-Security-Policy and inline MathJax 3 (``tex-svg.js``,
SVG output, so no web fonts are needed) from the ``mathjax`` Python package (PyPI:
django-static-mathjax, installed by ``make setup``); see :mod:`.csp`. Without that package the
formulas stay as TeX source (nothing is loaded from the network).
"""

from pathlib import Path

import nbgrader
from traitlets.config import Config

TEMPLATES = Path(__file__).resolve().parent / "templates"


def mathjax_dir() -> Path | None:
    try:
        import mathjax  # optional: without it the formulas stay as TeX
    except ImportError:
        return None
    folder = Path(mathjax.__file__).resolve().parent / "static" / "mathjax" / "es5"
    return folder if (folder / "tex-svg.js").is_file() else None


def mathjax_script(name: str) -> str:
    """Jinja filter: the MathJax component ``name``, safe inside an inline <script>."""
    folder = mathjax_dir()
    if folder is None:
        raise FileNotFoundError("MathJax is not installed (the mathjax package)")
    return (folder / name).read_text(encoding="utf-8").replace("</script", "<\\/script")


def configure(c: Config) -> None:
    theirs = Path(nbgrader.__file__).resolve().parent / "server_extensions/formgrader/templates"
    c.HTMLExporter.extra_template_basedirs = [str(TEMPLATES), str(theirs)]
    c.HTMLExporter.filters = {"mathdl_head": "mathdl_grading.csp.head"}
