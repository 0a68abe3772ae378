"""Build the course website: `make site` (see docs/site.md).

1. Stage a source tree in build/book/src/: book/_config.yml, the extension and styles of book/,
   every lesson notebooks/NN_*.ipynb (outputs cleared), every student exercise
   exercises/<a>/<a>.ipynb (never solutions/), the course's requirements.txt (00_welcome reads
   it), and a _toc.yml and home page (intro.md) generated from the lessons on disk.
2. Vendor the browser assets from book/node_modules/ (installed by `npm ci` from the committed
   package-lock.json) into _static/vendor/: RequireJS, @jupyter-widgets/html-manager and
   anywidget's front end for the widgets, MathJax 3 for the formulas. The theme's own assets
   come from its PyPI package.
3. Execute every lesson in a fresh kernel, in its folder (nbclient, several lessons at once:
   --jobs), keeping the widgets' state; a lesson that raises stops the build, and so does a
   saved widget whose module the pages could only get from a CDN. In the same kernel, every
   Playground draws each setting of its site grid (mathdl/playground_export.py). Then
   Jupyter Book 1 renders the executed notebooks, and each lesson page gets its live
   playgrounds (playgrounds/<lesson>/ and _static/mathdl-playgrounds.js).
4. Refuse to publish a page that loads anything from another host (script, style sheet, font,
   image, frame), or an exercise page that holds solution or hidden-test text.

The site lands in build/site/ (open build/site/index.html). Nothing is downloaded here.
`python book/build.py --if-stale` builds only when an input is newer than the built site.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
NODE = BOOK / "node_modules"
WORK = ROOT / "build" / "book"  # staged sources and Jupyter Book's own output
SITE = ROOT / "build" / "site"  # the website
PLAYGROUNDS = WORK / "playgrounds"  # the playgrounds' precomputed pictures, per lesson
STAMP = SITE / "build-info.json"

LESSON_GLOB = "notebooks/[0-9][0-9]_*.ipynb"
# Text that must never reach a page: nbgrader's solution and hidden-test markers.
FORBIDDEN_MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")

# Binder's address for a path in the repository (the same as the widgets' "run it live" links).
BINDER = yaml.safe_load((BOOK / "_config.yml").read_text())["sphinx"]["config"]["mathdl_binder_url"]


class BuildError(RuntimeError):
    pass


def lessons(root=ROOT):
    return sorted(root.glob(LESSON_GLOB))


def exercises(root=ROOT):
    return sorted(p for p in root.glob("exercises/*/*.ipynb") if p.stem == p.parent.name)


def inputs():
    """Every file the site is built from (for --if-stale)."""
    files = [*lessons(), *exercises(), ROOT / "README.md", *ROOT.glob("requirements*.txt")]
    files += [p for p in (ROOT / "mathdl").rglob("*.py")]  # playground_export.py among them
    files += [
        p
        for p in BOOK.rglob("*")
        if p.is_file() and not {"node_modules", "__pycache__"} & set(p.parts)
    ]
    return files


def is_stale():
    if not STAMP.exists():
        return True
    if json.loads(STAMP.read_text()).get("lessons") != [p.stem for p in lessons()]:
        return True  # a partial build (--only), or lessons added or removed since
    built = STAMP.stat().st_mtime
    return any(p.stat().st_mtime > built for p in inputs())


def title(nb):
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    raise BuildError("a notebook has no '# title' line in a markdown cell")


# --- vendoring ------------------------------------------------------------------------------

VENDOR = {
    # destination under _static/vendor/: (npm package, files or directories inside it)
    "requirejs": ("requirejs", ["require.js"]),
    "html-manager": (
        "@jupyter-widgets/html-manager",
        [
            "dist/embed-amd.js",
            "dist/*.woff2",
            "dist/*.woff",
            "dist/*.ttf",
            "dist/*.eot",
            "dist/*.svg",
        ],
    ),
    # The front end of anywidget (mathdl.playground.Picture is one): its AMD build, which
    # RequireJS loads as the widget module "anywidget" (book/_assets/mathdl-widgets.js).
    "anywidget": ("anywidget", ["dist/index.js", "LICENSE"]),
    "mathjax": ("mathjax", ["es5", "LICENSE"]),
}


def vendor(static):
    if not NODE.is_dir():
        raise BuildError(
            f"{NODE.relative_to(ROOT)} is missing: `make site` installs it with npm ci "
            "(book/package-lock.json)"
        )
    notes = ["Browser assets vendored from npm by `make site` (book/package-lock.json):", ""]
    for dest, (package, patterns) in VENDOR.items():
        pkg = NODE / package
        meta_file = pkg / "package.json"
        if not meta_file.exists():
            raise BuildError(f"npm package {package} is not installed in {NODE}: run `make site`")
        meta = json.loads(meta_file.read_text())
        notes.append(f"- {dest}/: {package} {meta['version']} (license {meta.get('license')})")
        for pattern in patterns:
            matches = sorted(pkg.glob(pattern))
            if not matches:
                raise BuildError(f"{package} has no {pattern}: is book/package-lock.json current?")
            for src in matches:
                out = static / "vendor" / dest / src.name
                out.parent.mkdir(parents=True, exist_ok=True)
                if src.is_dir():
                    shutil.copytree(src, out)
                else:
                    shutil.copy2(src, out)
    notes.append(
        "- fontawesome/ (if present): the theme's own copy, from pydata-sphinx-theme (PyPI)"
    )
    (static / "vendor" / "README.md").write_text("\n".join(notes) + "\n")


# --- staging --------------------------------------------------------------------------------


def readme_course_rows():
    """The course table of README.md ('## The course'), as {lesson name: table row}."""
    text = (ROOT / "README.md").read_text()
    section = re.search(r"^## The course\n(.*?)(?=^## )", text, re.S | re.M)
    rows, header = {}, []
    if section:
        for line in section.group(1).splitlines():
            m = re.match(r"\| `(\d\d_\w+)` \|", line)
            if m:
                rows[m.group(1)] = line
            elif line.startswith("|") and not rows:
                header.append(line)
    return header, rows


def intro(lesson_titles, exercise_titles):
    header, rows = readme_course_rows()
    if len(header) != 2:
        header = ["| lesson | what you learn |", "|---|---|"]
    ncols = header[0].count("|") - 1
    table = list(header)
    for name, text in lesson_titles.items():
        link = f"[{name}](notebooks/{name}.ipynb)"
        if name in rows:
            table.append(rows[name].replace(f"`{name}`", link, 1))
        else:
            table.append("| " + " | ".join([link, text] + [""] * (ncols - 2)) + " |")
    ex_list = [
        f"- [{text}](exercises/{name}/{name}.ipynb)" for name, text in exercise_titles.items()
    ]
    return "\n".join(
        [
            "# mathdl: the mathematics of deep learning",
            "",
            "An interactive course: tensors, GPUs and batching, probability, gradients, the chain",
            "rule and backpropagation, activations, losses, optimizers, initialization, and a",
            "network built from scratch. Every lesson below was **executed when this site was",
            "built**, so its printouts, figures and formulas are the current code's.",
            "",
            ":::{note}",
            "The playgrounds on these pages are **live without a kernel**: their pictures were",
            "drawn by the lessons' own code when this site was built, for every learning rate",
            "with one other control at a time, and a slider swaps them in the page. For every",
            "combination of the controls (and your own code), run the course live",
            f"[on Binder]({BINDER}notebooks/00_welcome.ipynb), or locally: clone the repository",
            "and run `make lab`.",
            ":::",
            "",
            "## The lessons",
            "",
            *table,
            "",
            "## The exercises",
            "",
            "One graded exercise per lesson, shown here as students receive it (the answers are",
            "not part of this site). Work on it in JupyterLab: `make lab`, or on",
            f"[Binder]({BINDER}exercises).",
            "",
            *ex_list,
            "",
        ]
    )


def check_student_version(path):
    """The exercise's text, if it holds no nbgrader solution or hidden-test marker."""
    text = path.read_text()
    leaked = [m for m in FORBIDDEN_MARKERS if m in text]
    if leaked:
        raise BuildError(
            f"{path.name} contains {', '.join(leaked)}: it is not a student version "
            "(regenerate the exercises with `make exercises`)"
        )
    return text


def stage(only=None):
    src = WORK / "src"
    if WORK.exists():
        shutil.rmtree(WORK)
    src.mkdir(parents=True)
    for name in ("_config.yml", "_ext", "_assets"):
        p = BOOK / name
        (shutil.copytree if p.is_dir() else shutil.copy2)(p, src / name)
    vendor(src / "_assets")
    shutil.copy2(ROOT / "requirements.txt", src / "requirements.txt")

    lesson_titles = {}
    for path in lessons():
        if only and path.stem not in only:
            continue
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        lesson_titles[path.stem] = title(nb)
        out = src / "notebooks" / path.name
        out.parent.mkdir(exist_ok=True)
        nbformat.write(nb, out)
    if not lesson_titles:
        raise BuildError(f"no lessons matched {LESSON_GLOB}")

    exercise_titles = {}
    for path in exercises():
        text = check_student_version(path)
        exercise_titles[path.stem] = title(nbformat.reads(text, as_version=4))
        out = src / "exercises" / path.stem / path.name
        out.parent.mkdir(parents=True)
        shutil.copy2(path, out)

    (src / "intro.md").write_text(intro(lesson_titles, exercise_titles))
    toc = ["format: jb-book", "root: intro", "parts:", "  - caption: Lessons", "    chapters:"]
    toc += [f"      - file: notebooks/{name}" for name in lesson_titles]
    if exercise_titles:
        toc += ["  - caption: Exercises", "    chapters:"]
        toc += [f"      - file: exercises/{name}/{name}" for name in exercise_titles]
    (src / "_toc.yml").write_text("\n".join(toc) + "\n")
    return src, list(lesson_titles), list(exercise_titles)


# --- execution ----------------------------------------------------------------------------


def execute_one(path, timeout=300):
    """Run one staged lesson top to bottom in a fresh kernel, in its folder; save it with its
    outputs and the widgets' state (nbclient stores it in the notebook's metadata)."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    n_cells = len(nb.cells)
    nb.cells.append(nbformat.v4.new_code_cell(EXPORT_CELL.format(out=str(PLAYGROUNDS / path.stem))))
    t0 = time.monotonic()
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        allow_errors=False,
        store_widget_state=True,
        resources={"metadata": {"path": str(path.parent)}},
    )
    try:
        client.execute()
    except CellExecutionError as e:
        return path.stem, None, str(e)
    del nb.cells[n_cells:]  # the export cell is the build's, not the lesson's
    nbformat.write(nb, path)
    return path.stem, time.monotonic() - t0, None


# Run in each lesson's kernel after its last cell: every Playground over its site grid, the
# pictures written for the live playgrounds on the page (mathdl/playground_export.py), then the
# picture back at pixel ratio 1 for the saved widget state.
EXPORT_CELL = """\
from mathdl.playground_export import export_all as _mathdl_export_all
from mathdl.playground import instances as _mathdl_instances
_mathdl_export_all({out!r})
for _pg in _mathdl_instances():
    _pg.image.device_pixel_ratio = 1.0
"""


def execute(paths, jobs):
    """Execute the lessons, `jobs` at a time; raise BuildError naming every lesson that failed."""
    times, failures = {}, []
    with ProcessPoolExecutor(max_workers=max(1, jobs)) as pool:
        for name, seconds, error in pool.map(execute_one, paths):
            if error is None:
                times[name] = round(seconds, 1)
                print(f"site: executed {name} in {seconds:.1f} s", flush=True)
            else:
                failures.append(f"{name}:\n{error}")
    if failures:
        raise BuildError("a lesson raised while executing:\n" + "\n".join(failures))
    return times


# --- offline check --------------------------------------------------------------------------

EXTERNAL = re.compile(r"^\s*(?:[a-zA-Z][a-zA-Z0-9+.-]*:)?//", re.I)
CSS_URL = re.compile(r"""url\(\s*['"]?([^'")\s]+)|@import\s+['"]([^'"]+)""", re.I)
CSS_COMMENT = re.compile(r"/\*.*?\*/", re.S)
# Attributes through which a page loads something (links in <a href> are navigation, not loads).
LOADING = {
    "script": ("src",),
    "link": ("href",),
    "img": ("src", "srcset"),
    "iframe": ("src",),
    "frame": ("src",),
    "embed": ("src",),
    "object": ("data",),
    "source": ("src", "srcset"),
    "video": ("src", "poster"),
    "audio": ("src",),
    "track": ("src",),
    "input": ("src",),
}
# <link rel=...> values that name a page rather than load a resource.
LINK_NAVIGATION = {"canonical", "alternate", "author", "license", "help", "next", "prev", "search"}


class _Loads(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.urls, self._style = [], False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        rels = set((a.get("rel") or "").lower().split())
        if tag == "link" and rels and rels <= LINK_NAVIGATION:
            return
        for name in LOADING.get(tag, ()):
            value = a.get(name) or ""
            self.urls += [u.split()[0] for u in value.split(",") if u.strip()]
        if a.get("style"):
            self.urls += [m.group(1) or m.group(2) for m in CSS_URL.finditer(a["style"])]
        self._style = tag == "style"

    def handle_endtag(self, tag):
        self._style = False

    def handle_data(self, data):
        if self._style:
            self.urls += css_urls(data)


def css_urls(text):
    return [m.group(1) or m.group(2) for m in CSS_URL.finditer(CSS_COMMENT.sub("", text))]


def external_loads(site):
    """[(file, url)] for every script, style sheet, font, image or frame from another host."""
    found = []
    for path in sorted(site.rglob("*")):
        if path.suffix == ".html":
            parser = _Loads()
            parser.feed(path.read_text(errors="replace"))
            urls = parser.urls
        elif path.suffix == ".css":
            urls = css_urls(path.read_text(errors="replace"))
        else:
            continue
        found += [(str(path.relative_to(site)), u) for u in urls if EXTERNAL.match(u)]
    return found


# --- widget modules -------------------------------------------------------------------------

# Widget modules the pages can load, every one from _static/vendor/: ipywidgets' own are part of
# @jupyter-widgets/html-manager; the others are vendored npm packages (VENDOR) that
# book/_assets/mathdl-widgets.js maps for RequireJS. Any other module would make the widget
# manager fetch it from a CDN (offline: the widget stays empty).
BUILTIN_WIDGET_MODULES = {
    "@jupyter-widgets/base",
    "@jupyter-widgets/controls",
    "@jupyter-widgets/output",
}
VENDORED_WIDGET_MODULES = {"anywidget": "anywidget"}  # module name: npm package


def version_matches(spec, version):
    """Does an npm-style version spec of a widget module ("0.11.0", "~0.11.*", "^1.2.0", "*")
    accept `version`? "~": same major.minor; "^": same leftmost non-zero part; "*" any part."""
    spec = spec.strip()
    if spec in ("", "*"):
        return True
    kind = spec[0] if spec[0] in "~^" else ""
    want = spec.lstrip("~^").split(".")
    have = version.split(".")
    if kind == "~":
        want = want[:2]
    elif kind == "^":
        first = next((i for i, w in enumerate(want) if w not in ("0", "*")), len(want) - 1)
        want = want[: first + 1]
    return len(have) >= len(want) and all(w in ("*", "x", h) for w, h in zip(want, have))


def widget_problems(nb, vendored):
    """Why the saved widgets of an executed notebook would not render offline: [message].

    `vendored` maps a vendored widget module to its npm version. A model or view from another
    module, a vendored module whose version does not satisfy the state's, or an anywidget whose
    code or style is a URL (it would be imported from there) is a problem."""
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    problems = []
    for model_id, model in state.get("state", {}).items():
        attrs = model.get("state", {})
        pairs = {
            (model.get("model_module"), model.get("model_module_version", "")),
            (attrs.get("_view_module"), attrs.get("_view_module_version", "")),
        }
        for module, spec in sorted(pairs, key=str):
            if module is None or module in BUILTIN_WIDGET_MODULES:
                continue
            if module not in vendored:
                problems.append(
                    f"widget {model_id[:8]}: module {module!r} is not vendored "
                    f"(add it to book/package.json, VENDOR and mathdl-widgets.js)"
                )
            elif not version_matches(spec, vendored[module]):
                problems.append(
                    f"widget {model_id[:8]}: {module} {spec} is saved, but npm's "
                    f"{vendored[module]} is vendored (update book/package.json)"
                )
        for key in ("_esm", "_css"):
            if isinstance(attrs.get(key), str) and EXTERNAL.match(attrs[key]):
                problems.append(f"widget {model_id[:8]}: {key} loads from {attrs[key]}")
    return problems


def vendored_widget_versions():
    return {
        module: json.loads((NODE / package / "package.json").read_text())["version"]
        for module, package in VENDORED_WIDGET_MODULES.items()
    }


def check_widgets(paths, vendored=None):
    """Raise BuildError naming every executed lesson whose widgets would not render offline."""
    vendored = vendored_widget_versions() if vendored is None else vendored
    problems = [
        f"{Path(path).stem}: {p}"
        for path in paths
        for p in widget_problems(nbformat.read(path, as_version=4), vendored)
    ]
    if problems:
        raise BuildError(
            "saved widgets that would not render offline:\n  " + "\n  ".join(problems[:30])
        )


# --- live playgrounds -----------------------------------------------------------------------

PLAYGROUND_SCRIPTS = (
    '<script src="../playgrounds/{name}/playgrounds.js"></script>\n'
    '<script src="../_static/mathdl-playgrounds.js"></script>\n'
)


def publish_playgrounds(html, lesson_names):
    """Copy each lesson's precomputed pictures to playgrounds/<lesson>/ and load them (with
    mathdl-playgrounds.js) on its page; return {lesson: number of settings}."""
    counts = {}
    for name in lesson_names:
        src = PLAYGROUNDS / name
        manifests = json.loads((src / "manifest.json").read_text())
        if not manifests:
            continue
        dest = html / "playgrounds" / name
        shutil.copytree(src, dest, ignore=shutil.ignore_patterns("manifest.json"))
        data = json.dumps({"base": f"../playgrounds/{name}", "manifests": manifests})
        (dest / "playgrounds.js").write_text(
            f"(window.mathdlPlaygrounds = window.mathdlPlaygrounds || []).push({data});\n"
        )
        page = html / "notebooks" / f"{name}.html"
        text = page.read_text()
        if "</body>" not in text:
            raise BuildError(f"{page.name} has no </body>: cannot add its playgrounds")
        text = text.replace("</body>", PLAYGROUND_SCRIPTS.format(name=name) + "</body>", 1)
        page.write_text(text)
        counts[name] = sum(len(m["settings"]) for m in manifests)
    return counts


# --- build ----------------------------------------------------------------------------------


def build(only=None, jobs=2):
    t0 = time.monotonic()
    src, lesson_names, exercise_names = stage(only)
    t_stage = time.monotonic() - t0
    t1 = time.monotonic()
    executed = [src / "notebooks" / f"{n}.ipynb" for n in lesson_names]
    times = execute(executed, jobs)
    t_exec = time.monotonic() - t1
    check_widgets(executed)
    jb = Path(sys.executable).parent / "jupyter-book"
    cmd = [str(jb), "build", str(src), "--path-output", str(WORK), "--builder", "html"]
    print("+", " ".join(cmd), flush=True)
    t2 = time.monotonic()
    proc = subprocess.run(cmd, cwd=src)
    t_book = time.monotonic() - t2
    html = WORK / "_build" / "html"
    if proc.returncode != 0 or not (html / "index.html").exists():
        raise BuildError(f"jupyter-book build failed (exit {proc.returncode}); see above")

    missing = [
        page
        for page in [f"notebooks/{n}.html" for n in lesson_names]
        + [f"exercises/{n}/{n}.html" for n in exercise_names]
        if not (html / page).exists()
    ]
    if missing:
        raise BuildError(f"pages missing from the build: {missing}")
    settings = publish_playgrounds(html, lesson_names)
    loads = external_loads(html)
    if loads:
        listing = "\n".join(f"  {f}: {u}" for f, u in loads[:30])
        raise BuildError(f"{len(loads)} load(s) from another host in the built pages:\n{listing}")
    # The pages, their downloadable sources (_sources/) and the search index.
    for page in [*html.rglob("*.html"), *(html / "_sources").rglob("*"), html / "searchindex.js"]:
        if not page.is_file():
            continue
        text = page.read_text(errors="replace")
        leaked = [m for m in FORBIDDEN_MARKERS if m in text]
        if leaked:
            raise BuildError(f"{page.relative_to(html)} contains {leaked}")

    if SITE.exists():
        shutil.rmtree(SITE)
    SITE.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(html), str(SITE))
    total = time.monotonic() - t0
    info = {
        "lessons": lesson_names,
        "exercises": exercise_names,
        "jobs": jobs,
        "seconds": {
            "stage": round(t_stage, 1),
            "execute": round(t_exec, 1),
            "jupyter_book": round(t_book, 1),
            "total": round(total, 1),
            "per_lesson": times,
        },
        "playground_settings": settings,
    }
    STAMP.write_text(json.dumps(info, indent=1) + "\n")
    print(
        f"site: {len(lesson_names)} lessons executed and {len(exercise_names)} exercises in "
        f"{total:.1f} s (staging and vendoring {t_stage:.1f} s, executing {t_exec:.1f} s with "
        f"{jobs} jobs, Jupyter Book {t_book:.1f} s); "
        f"open {SITE.relative_to(ROOT)}/index.html"
    )


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--if-stale", action="store_true", help="build only if an input changed")
    ap.add_argument(
        "--only", nargs="+", metavar="LESSON", help="build these lessons only (a quick preview)"
    )
    ap.add_argument(
        "--jobs",
        type=int,
        default=min(4, os.cpu_count() or 1),
        help="lessons executed at once (default: the CPU count, at most 4)",
    )
    args = ap.parse_args(argv)
    if args.jobs < 1:
        ap.error(f"--jobs must be at least 1, not {args.jobs}")
    names = {p.stem for p in lessons()}
    unknown = sorted(set(args.only or ()) - names)
    if unknown:
        ap.error(f"no such lesson: {', '.join(unknown)} (lessons: {', '.join(sorted(names))})")
    if args.if_stale and not is_stale():
        print(f"site: {SITE.relative_to(ROOT)} is up to date")
        return 0
    try:
        build(args.only, args.jobs)
    except BuildError as e:
        print(f"site: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
