"""Feedback HTML that renders formulas offline.

nbgrader's feedback template loads MathJax from a CDN. :func:`configure` (called by
nbgrader_config.py) puts this package's ``templates/feedback/mathjax.html.j2`` first on the
template path: it inlines MathJax 3 (``tex-svg.js``, SVG output, so no web fonts are needed)
from the ``mathjax`` Python package (PyPI: django-static-mathjax, installed by ``make setup``).
Without that package nbgrader's default (the CDN) stays.
"""

from pathlib import Path

TEMPLATES = Path(__file__).resolve().parent / "templates"


def mathjax_dir():
    try:
        import mathjax
    except ImportError:
        return None
    folder = Path(mathjax.__file__).resolve().parent / "static" / "mathjax" / "es5"
    return folder if (folder / "tex-svg.js").is_file() else None


def mathjax_script(name):
    """Jinja filter: the MathJax component ``name``, safe inside an inline <script>."""
    return (mathjax_dir() / name).read_text(encoding="utf-8").replace("</script", "<\\/script")


def configure(c):
    if mathjax_dir() is None:
        return
    import nbgrader

    theirs = Path(nbgrader.__file__).resolve().parent / "server_extensions/formgrader/templates"
    c.HTMLExporter.extra_template_basedirs = [str(TEMPLATES), str(theirs)]
    c.HTMLExporter.filters = {"mathdl_mathjax": "mathdl_grading.feedback.mathjax_script"}
