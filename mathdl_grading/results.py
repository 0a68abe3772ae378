"""After grading: the scores from the gradebook into the report, grades.csv and report.md.

:func:`record_scores` gives every student a gradebook row (so everyone is in grades.csv),
clears the scores of a submission that is missing, unreadable or refused this time, and copies
each student's score and integrity flags (:mod:`.integrity`) into the report;
:func:`render` writes the report as the markdown table the instructor reads.
"""

from pathlib import Path
from typing import Any

import nbformat
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.plugins import CsvExportPlugin
from traitlets.config import Config

__all__ = ["flags_of", "record_scores", "render"]


def record_scores(
    root: Path, cfg: Config, assignment: str, students: dict[str, dict[str, Any]]
) -> None:
    """Every student in the gradebook (a row in grades.csv), their scores in the report, grades.csv."""
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}", cfg.CourseDirectory.course_id) as gb:
        for student, entry in students.items():
            gb.update_or_create_student(student)
            try:
                # no score from an earlier run
                if entry["status"] in ("missing", "unreadable", "refused"):
                    gb.remove_submission(assignment, student)
                sub = gb.find_submission(assignment, student)
                scores = (sub.score, sub.max_score, sub.needs_manual_grade)
            except MissingEntry:
                scores = (0.0, gb.find_assignment(assignment).max_score, False)
            entry.update(zip(("score", "max_score", "needs_manual"), scores, strict=True))
            entry["flags"] = flags_of(root, assignment, student)
        plugin = CsvExportPlugin()
        plugin.to = str(root / "grades.csv")
        plugin.export(gb)


def flags_of(root: Path, assignment: str, student: str) -> list[dict[str, Any]]:
    """The integrity flags ScoreChecks left in a graded notebook (see :mod:`.integrity`)."""
    path = root / "autograded" / student / assignment / f"{assignment}.ipynb"
    try:
        return nbformat.read(str(path), as_version=4).metadata.get("mathdl", {}).get("flags", [])
    except (OSError, ValueError):
        return []


def render(report: dict[str, Any]) -> str:
    """The report as a markdown table, a row per student (sorted): status (a grading error in
    bold), score, the note's first and last line, manual grading and the first integrity flag."""
    lines = [
        f"# Grading report: {report['assignment']}",
        "",
        "| student | status | score | notes |",
    ]
    lines.append("|---|---|---|---|")
    for student, s in sorted(report["students"].items()):
        lines_of_note = [ln.strip() for ln in s["note"].strip().splitlines() if ln.strip()]
        note = "; ".join(lines_of_note[:1] + lines_of_note[1:][-1:])[:300]  # first and last
        note += " needs manual grading" if s.get("needs_manual") else ""
        if s.get("flags"):
            f = s["flags"][0]
            note += f" REVIEW: cell {f['cell']} uses {f['what']} ({f['why']})"
        status = "**GRADING ERROR**" if s["status"] == "error" else s["status"]
        score = f"{s['score']:g} / {s['max_score']:g}"
        lines.append(f"| {student} | {status} | {score} | {note.strip().replace('|', '/')} |")
    return "\n".join(lines) + "\n"
