"""Notebooks for the hub test: points of an assignment, a solved copy, the instructor's course copy."""

import os
import shutil
from pathlib import Path
from typing import Any

from .system import REPO, sh


def grade_points(nb: dict[str, Any]) -> tuple[float, float]:
    """(autograded test points, manually graded points) from nbgrader's cell metadata."""
    auto = manual = 0.0
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if not meta.get("grade"):
            continue
        if meta.get("solution"):
            manual += float(meta.get("points", 0))
        else:
            auto += float(meta.get("points", 0))
    return auto, manual


def fill_in(student_nb: dict[str, Any], solution_nb: dict[str, Any]) -> int:
    """The student's notebook with every answer cell replaced by the instructor's answer
    (solution markers removed): what a student who solved everything would submit."""
    answers = {}
    for cell in solution_nb["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution"):
            src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            keep = [
                line
                for line in src.splitlines()
                if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION")
            ]
            answers[meta["grade_id"]] = "\n".join(keep)
    filled = 0
    for cell in student_nb["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution") and meta.get("grade_id") in answers:
            cell["source"] = answers[meta["grade_id"]]
            filled += 1
    return filled


def copy_course(dest: Path, owner: str) -> None:
    """The instructor's private course directory: this checkout's files (as `git clone` gives)."""
    files = sh(
        "git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"
    ).stdout.split("\0")
    for rel in filter(None, files):
        src = REPO / rel
        if src.is_file():
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)
    sh("chown", "-R", f"{owner}:{owner}", str(dest))
    os.chmod(dest, 0o700)
