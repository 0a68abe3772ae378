"""The course's lessons and assignments, read from the files on disk, and nbgrader's markers.

The one place for these lists (tests/ and benchmarks/ import them): a lesson is a notebook
``notebooks/NN_name.ipynb`` and the course order is the order of the names; an assignment is a
folder ``solutions/<a>/`` holding ``<a>.ipynb`` (``mathdl_grading.release.assignments``, as
``mathdl-make-exercises`` finds them).
"""

import re
from pathlib import Path

from mathdl_grading.release import assignments

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"

#: How a lesson's file is named: a two-digit number, then words in snake case.
LESSON_NAME = re.compile(r"\d\d_[a-z0-9]+(_[a-z0-9]+)*")

#: The nbgrader markers that must never reach a student's notebook or the website.
NBGRADER_MARKERS = (
    "BEGIN SOLUTION",
    "END SOLUTION",
    "BEGIN HIDDEN TESTS",
    "END HIDDEN TESTS",
    "BEGIN MARK SCHEME",
    "END MARK SCHEME",
)


def lessons(root: Path = ROOT) -> list[str]:
    """The lesson notebooks under ``root/notebooks``, by name, in course order."""
    return sorted(p.stem for p in (root / "notebooks").glob("*.ipynb"))


LESSONS = lessons()
ASSIGNMENTS = assignments(ROOT)


def lessons_from(first: str) -> list[str]:
    """The lessons from ``first`` on, in course order; a name that is not a lesson is refused."""
    if first not in LESSONS:
        raise ValueError(f"{first!r} is not a lesson; the lessons are {LESSONS}")
    return LESSONS[LESSONS.index(first) :]


def lessons_before(first: str) -> list[str]:
    """The lessons before ``first``, in course order; a name that is not a lesson is refused."""
    if first not in LESSONS:
        raise ValueError(f"{first!r} is not a lesson; the lessons are {LESSONS}")
    return LESSONS[: LESSONS.index(first)]
