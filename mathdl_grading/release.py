"""Generate the student versions: solutions/<a>/<a>.ipynb -> exercises/<a>/<a>.ipynb.

``mathdl-make-exercises`` (``make exercises``) runs nbgrader's ``generate_assignment`` with the
course's nbgrader_config.py for every assignment under solutions/ (any folder
``solutions/<a>/<a>.ipynb``), with a throw-away gradebook, so gradebook.db is neither needed nor
touched. The output is deterministic: exercises/ is committed and a test checks it matches.
"""

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from nbgrader.converters import GenerateAssignment

from .apps import load_config, run_app


def assignments(root: Path | str | None = None) -> list[str]:
    """Every assignment under solutions/: folders holding a notebook of the same name."""
    src = Path(root or Path.cwd()) / "solutions"
    found = src.iterdir() if src.is_dir() else []
    return sorted(p.name for p in found if (p / f"{p.name}.ipynb").is_file())


def generate(
    root: Path | str | None = None, dest: Path | str | None = None, names: list[str] | None = None
) -> dict[str, Path]:
    """Write the released notebooks of ``names`` (default: all) under ``dest`` (default exercises/).

    Returns ``{assignment: path of the generated notebook}``; raises RuntimeError on failure.
    """
    root = Path(root or Path.cwd()).resolve()
    dest = Path(dest).resolve() if dest else root / "exercises"
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    out = {}
    with tempfile.TemporaryDirectory(prefix="mathdl-release-") as tmp:
        cfg = load_config(root)
        cfg.CourseDirectory.release_directory = str(Path(tmp) / "release")
        cfg.CourseDirectory.db_url = f"sqlite:///{Path(tmp) / 'gradebook.db'}"
        for name in names or assignments(root):
            result = run_app(GenerateAssignment, cfg, name, create_assignment=True)
            if not result["success"]:
                raise RuntimeError(f"generate_assignment failed for {name}:\n{result['log']}")
            shutil.rmtree(dest / name, ignore_errors=True)
            shutil.copytree(Path(tmp) / "release" / name, dest / name)
            for path in (dest / name).rglob("*"):
                os.chmod(path, 0o755 if path.is_dir() else 0o644)
            out[name] = dest / name / f"{name}.ipynb"
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="mathdl-make-exercises", description=__doc__.split("\n\n")[0])
    ap.add_argument("assignment", nargs="*", help="default: every assignment under solutions/")
    args = ap.parse_args(argv)
    for path in generate(names=args.assignment or None).values():
        print(f"exercises: {path}")
    return 0
