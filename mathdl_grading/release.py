"""Generate the student versions: solutions/<a>/<a>.ipynb -> exercises/<a>/<a>.ipynb.

``python tools/make_exercises.py`` (``make exercises``) runs nbgrader's ``generate_assignment``
for every assignment found under solutions/ (any folder ``solutions/<a>/<a>.ipynb``), with a
throw-away gradebook, so the course's gradebook.db is neither needed nor touched. The output
is deterministic, so exercises/ is committed and a test checks it matches solutions/.
"""

import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path.cwd()


def assignments(root=ROOT):
    """Every assignment under solutions/: folders holding a notebook of the same name."""
    src = Path(root) / "solutions"
    if not src.is_dir():
        return []
    return sorted(p.name for p in src.iterdir() if (p / f"{p.name}.ipynb").is_file())


def generate(root=ROOT, dest=None, names=None, quiet=True):
    """Write the released notebooks of ``names`` (default: all) under ``dest`` (default exercises/).

    Returns ``{assignment: path of the generated notebook}``; raises RuntimeError on failure.
    """
    from nbgrader.converters import GenerateAssignment
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.utils import capture_log
    from traitlets.config import Config

    root = Path(root).resolve()
    dest = Path(dest).resolve() if dest else root / "exercises"
    names = list(names) if names else assignments(root)
    # nbgrader calls `alembic` (installed next to this Python) when it creates a gradebook
    bindir = str(Path(sys.executable).parent)
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
    out = {}
    with tempfile.TemporaryDirectory(prefix="mathdl-release-") as tmp:
        staging = Path(tmp) / "release"
        for name in names:
            cfg = Config()
            cfg.CourseDirectory.root = str(root)
            cfg.CourseDirectory.source_directory = "solutions"
            cfg.CourseDirectory.release_directory = str(staging)
            cfg.CourseDirectory.db_url = "sqlite:///" + str(Path(tmp) / "gradebook.db")
            cfg.CourseDirectory.course_id = "mathdl"
            cfg.ClearSolutions.code_stub = {
                "python": "# YOUR CODE HERE\nraise NotImplementedError()"
            }
            cfg.ClearSolutions.text_stub = "YOUR ANSWER HERE"
            coursedir = CourseDirectory(config=cfg)
            coursedir.assignment_id = name
            app = GenerateAssignment(coursedir=coursedir, config=cfg)
            app.force = True
            app.create_assignment = True
            if quiet:
                app.log_level = "ERROR"
            result = capture_log(app)
            if not result["success"]:
                raise RuntimeError(
                    f"generate_assignment failed for {name}:\n{result.get('log', '')}\n"
                    f"{result.get('error', '')}"
                )
            target = dest / name
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(staging / name, target)
            for path in target.rglob("*"):
                if path.is_file():
                    os.chmod(path, 0o644)
            out[name] = target / f"{name}.ipynb"
    return out


def main(argv=None):
    import argparse

    ap = argparse.ArgumentParser(prog="mathdl-make-exercises", description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "assignment", nargs="*", help="assignments to generate (default: all under solutions/)"
    )
    args = ap.parse_args(argv)
    for _name, path in generate(names=args.assignment or None).items():
        print(f"exercises: {path}")
    return 0
