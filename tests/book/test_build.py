"""book/build.py's own checks, without building the site (fast; the site itself:
tests/e2e/test_site.py, a lesson that raises: tests/e2e/test_book_build.py)."""

import importlib.metadata
import importlib.util
import json
import re
from pathlib import Path

import nbformat
import pytest

from tests.helpers.book import load_build

ROOT = Path(__file__).resolve().parents[2]
build = load_build()


def test_external_loads_finds_every_kind_of_remote_load_and_ignores_links(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "page.html").write_text(
        """<html><head>
        <script src="https://cdn.example.org/a.js"></script>
        <script src="../_static/local.js"></script>
        <link rel="stylesheet" href="//cdn.example.org/b.css">
        <link rel="preconnect" href="https://fonts.example.org">
        <link rel="canonical" href="https://example.org/page.html">
        <link rel="next" title="n" href="https://example.org/next.html">
        <style>@import "https://fonts.example.org/c.css"; .x { color: red }</style>
        </head><body>
        <a href="https://mybinder.org/v2/gh/x">a link is not a load</a>
        <img src="data:image/png;base64,AAAA"><img src="HTTPS://img.example.org/d.png">
        <div style="background: url('http://img.example.org/e.png')"></div>
        <iframe src="https://frame.example.org/f"></iframe>
        </body></html>"""
    )
    (tmp_path / "style.css").write_text(
        "/* url(https://in.a.comment/x.woff) */\n"
        "@font-face { src: url(fonts/local.woff2), url('https://fonts.example.org/g.woff2'); }"
    )
    found = sorted(u for _, u in build.external_loads(tmp_path))
    assert found == sorted(
        [
            "https://cdn.example.org/a.js",
            "//cdn.example.org/b.css",
            "https://fonts.example.org",
            "https://fonts.example.org/c.css",
            "HTTPS://img.example.org/d.png",
            "http://img.example.org/e.png",
            "https://frame.example.org/f",
            "https://fonts.example.org/g.woff2",
        ]
    )


def test_an_exercise_with_solution_or_hidden_tests_is_refused(tmp_path):
    good = tmp_path / "good.ipynb"
    good.write_text(json.dumps({"cells": [{"source": "raise NotImplementedError()"}]}))
    assert "NotImplementedError" in build.check_student_version(good)
    for marker in ("### BEGIN SOLUTION", "### BEGIN HIDDEN TESTS"):
        bad = tmp_path / "bad.ipynb"
        bad.write_text(json.dumps({"cells": [{"source": f"{marker}\nx = 1"}]}))
        with pytest.raises(build.BuildError, match=marker.removeprefix("### ")):
            build.check_student_version(bad)


def test_every_committed_exercise_is_a_student_version():
    paths = build.exercises()
    assert paths, "no exercises found"
    for path in paths:
        build.check_student_version(path)


def test_the_build_refuses_a_bad_lesson_name(capsys):
    with pytest.raises(SystemExit):
        build.main(["--only", "99_no_such_lesson"])
    assert "no such lesson: 99_no_such_lesson" in capsys.readouterr().err


def pins(name):
    out = {}
    for line in (ROOT / name).read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.-]+)==(\S+)", line)
        if m:
            out[re.sub(r"[-_.]+", "-", m.group(1)).lower()] = m.group(2)
    return out


def test_site_requirements_are_pinned_and_agree_with_the_course_pins():
    site = pins("requirements-site.txt")
    assert "jupyter-book" in site and site["jupyter-book"] == "1.0.4.post1"
    lines = [
        line
        for line in (ROOT / "requirements-site.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert len(lines) == len(site), "every requirement in requirements-site.txt is pinned with =="
    for other in ("requirements.txt", "requirements-dev.txt"):
        both = set(site) & set(pins(other))
        assert [p for p in both if site[p] != pins(other)[p]] == [], f"pins differ from {other}"
    # Where the site's packages are installed (make site), they are the pinned versions.
    try:
        importlib.metadata.version("jupyter-book")
    except importlib.metadata.PackageNotFoundError:
        return
    installed = {p: importlib.metadata.version(p) for p in site}
    assert installed == site


def lesson_with_widgets(models):
    nb = nbformat.v4.new_notebook()
    nb.metadata["widgets"] = {
        "application/vnd.jupyter.widget-state+json": {
            "version_major": 2,
            "version_minor": 0,
            "state": {
                f"{i:032x}": {
                    "model_module": module,
                    "model_module_version": version,
                    "model_name": "SomeModel",
                    "state": {"_view_module": module, "_view_module_version": version, **attrs},
                }
                for i, (module, version, attrs) in enumerate(models)
            },
        }
    }
    return nb


def test_saved_widgets_that_would_need_a_cdn_stop_the_build(tmp_path):
    vendored = {"anywidget": "0.11.0"}
    fine = lesson_with_widgets(
        [
            ("@jupyter-widgets/controls", "2.0.0", {}),
            ("@jupyter-widgets/base", "2.0.0", {}),
            ("anywidget", "~0.11.*", {"_esm": "export default { render() {} }"}),
        ]
    )
    assert build.widget_problems(fine, vendored) == []
    assert build.widget_problems(nbformat.v4.new_notebook(), vendored) == []
    bad = lesson_with_widgets(
        [
            ("jupyter-leaflet", "^0.19.0", {}),
            ("anywidget", "~0.12.*", {"_esm": "export default {}"}),
            ("anywidget", "~0.11.*", {"_esm": "https://esm.example.org/widget.js"}),
            ("anywidget", "~0.11.*", {"_esm": "", "_css": "//cdn.example.org/w.css"}),
        ]
    )
    problems = build.widget_problems(bad, vendored)
    assert len(problems) == 4, problems
    assert "'jupyter-leaflet' is not vendored" in problems[0]
    assert "anywidget ~0.12.* is saved, but npm's 0.11.0 is vendored" in problems[1]
    assert "_esm loads from https://esm.example.org/widget.js" in problems[2]
    assert "_css loads from //cdn.example.org/w.css" in problems[3]
    # Without the vendored copy, an anywidget is a CDN load too.
    assert "'anywidget' is not vendored" in build.widget_problems(fine, {})[0]

    nbformat.write(fine, tmp_path / "00_fine.ipynb")
    nbformat.write(bad, tmp_path / "07_bad.ipynb")
    build.check_widgets([tmp_path / "00_fine.ipynb"], vendored)
    with pytest.raises(build.BuildError, match=r"07_bad: widget \w+: module 'jupyter-leaflet'"):
        build.check_widgets([tmp_path / "00_fine.ipynb", tmp_path / "07_bad.ipynb"], vendored)


@pytest.mark.parametrize(
    "spec, version, ok",
    [
        ("~0.11.*", "0.11.0", True),
        ("~0.11.*", "0.11.7", True),
        ("~0.11.*", "0.12.0", False),
        ("0.11.0", "0.11.0", True),
        ("0.11.0", "0.11.1", False),
        ("^2.0.0", "2.3.1", True),
        ("^2.0.0", "3.0.0", False),
        ("^0.3.1", "0.3.9", True),
        ("^0.3.1", "0.4.0", False),
        ("*", "9.9.9", True),
    ],
)
def test_widget_module_version_specs(spec, version, ok):
    assert build.version_matches(spec, version) is ok


def test_the_vendored_anywidget_front_end_is_the_course_pin():
    # The saved state names the PyPI package's version ("~0.11.*"); the page loads npm's
    # front end of the same release, pinned in book/package.json and its lock file.
    course = pins("requirements.txt")["anywidget"]
    package = json.loads((ROOT / "book" / "package.json").read_text())["dependencies"]
    lock = json.loads((ROOT / "book" / "package-lock.json").read_text())["packages"]
    assert package["anywidget"] == course
    assert lock["node_modules/anywidget"]["version"] == course
    assert build.VENDOR["anywidget"] == ("anywidget", ["dist/index.js", "LICENSE"])
    mapping = (ROOT / "book" / "_assets" / "mathdl-widgets.js").read_text()
    assert 'anywidget: staticDir + "vendor/anywidget/index"' in mapping
