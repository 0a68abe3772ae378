"""Grades per part for the LMS: ``mathdl-export [assignment ...]`` (``make export``).

From the gradebook (nbgrader's, so manual grades count), into ``nbgrader_work/export/``:

* ``<assignment>.csv``: one row per student in the gradebook: every autograded part, every part
  graded by hand, their totals, the total and its maximum, whether a part still needs manual
  grading, days late, free late days used, the late penalty and the final score (total less
  penalty, at least 0: nbgrader's ``score`` in grades.csv, whose ``raw_score`` is our total);
* ``canvas.csv``: Canvas's gradebook import (Student, ID, SIS User ID, SIS Login ID, Section, then
  one column per part and per late penalty, with a "Points Possible" row);
* ``moodle.csv``: Moodle's "Import grades from CSV" (Username, ID number, Email address, First
  name, Last name, then one column per part and per late penalty).

The columns each LMS expects, and how students are matched, are in docs/instructors.md. The
penalty is nbgrader's ``late_submission_penalty`` as grading stored it (:mod:`.late`); days are
recomputed from the policy, and a penalty the policy would now set differently is reported.
"""

import argparse
import csv
import sys
import warnings
from pathlib import Path
from typing import Any

import nbformat
from nbgrader.api import Gradebook, MissingEntry

from . import late

AUTO_TOTAL, MANUAL_TOTAL = "auto_total", "manual_total"


def parts_of(gb: Gradebook, root: Path, assignment: str) -> list[dict]:
    """The graded parts of ``assignment``, in notebook order: name, points, graded by hand."""
    out = []
    a = gb.find_assignment(assignment)
    for nb in a.notebooks:
        manual = {c.name for c in nb.solution_cells} | {c.name for c in nb.task_cells}
        source = Path(root) / "solutions" / assignment / f"{nb.name}.ipynb"
        order = []
        if source.is_file():
            cells = nbformat.read(str(source), as_version=4).cells
            order = [c.metadata.get("nbgrader", {}).get("grade_id") for c in cells]
        position = {name: i for i, name in enumerate(order)}
        cells = sorted(nb.grade_cells, key=lambda c: (position.get(c.name, len(order)), c.name))
        prefix = f"{nb.name}/" if len(a.notebooks) > 1 else ""
        for c in cells:
            key = (nb.name, c.name)
            out.append(
                dict(key=key, name=prefix + c.name, points=c.max_score, manual=c.name in manual)
            )
    return out


def student_row(
    gb: Gradebook,
    assignment: str,
    student: Any,
    parts: list[dict],
    late_entry: late.Late | None,
) -> dict:
    row = {"student": student.id}
    try:
        sub = gb.find_submission(assignment, student.id)
    except MissingEntry:
        sub = None
    scores = {}
    if sub is not None:
        for nb in sub.notebooks:
            for g in nb.grades:
                scores[nb.name, g.name] = g.score
    for p in parts:
        row[p["name"]] = scores.get(p["key"], 0.0)
    auto = sum(row[p["name"]] for p in parts if not p["manual"])
    manual = sum(row[p["name"]] for p in parts if p["manual"])
    penalty = (sub.late_submission_penalty or 0.0) if sub else 0.0
    row.update({AUTO_TOTAL: auto, MANUAL_TOTAL: manual, "total": auto + manual})
    row["max_score"] = sum(p["points"] for p in parts)
    row["submitted"] = "yes" if sub is not None else "no"
    row["needs_manual_grade"] = "yes" if sub is not None and sub.needs_manual_grade else "no"
    row["days_late"] = late_entry.days_late if late_entry else 0
    row["late_days_used"] = late_entry.free_days_used if late_entry else 0
    row["late_penalty"] = penalty
    row["final_score"] = max(0.0, auto + manual - penalty)  # as nbgrader's grades.csv
    return row


def assignment_table(
    gb: Gradebook, root: Path, assignment: str, book: dict
) -> tuple[list[str], list[dict]]:
    """Columns and rows of ``<assignment>.csv``."""
    parts = parts_of(gb, root, assignment)
    auto = [p["name"] for p in parts if not p["manual"]]
    manual = [p["name"] for p in parts if p["manual"]]
    columns = ["student", "submitted", *auto, *manual, AUTO_TOTAL, MANUAL_TOTAL, "total"]
    columns += ["max_score", "needs_manual_grade", "days_late", "late_days_used"]
    columns += ["late_penalty", "final_score"]
    rows = [
        student_row(gb, assignment, s, parts, book.get((s.id, assignment)))
        for s in sorted(gb.students, key=lambda s: s.id)
    ]
    return columns, rows


def write_csv(path: Path, columns: list[str], rows: list[dict]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, columns, lineterminator="\n", extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def lms_columns(
    tables: dict, gb: Gradebook, root: Path
) -> tuple[list[tuple[str, str, float]], dict]:
    """``[(column, source field, points)]`` for the LMS files, and {student: {column: value}}."""
    cols: list[tuple[str, str, float]] = []
    values: dict[str, dict[str, Any]] = {}
    for assignment, (_columns, rows) in tables.items():
        parts = parts_of(gb, root, assignment)
        for p in parts:
            cols.append((f"{assignment}: {p['name']}", p["name"], p["points"]))
        cols.append((f"{assignment}: late penalty", "late_penalty", 0.0))
        for row in rows:
            mine = values.setdefault(row["student"], {})
            for p in parts:
                mine[f"{assignment}: {p['name']}"] = row[p["name"]]
            mine[f"{assignment}: late penalty"] = -row["late_penalty"]
    return cols, values


def canvas(gb: Gradebook, cols: list, values: dict) -> tuple[list[str], list[dict]]:
    head = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    columns = head + [c for c, _f, _p in cols]
    rows = [{"Student": "Points Possible", **{c: p for c, _f, p in cols}}]
    for s in sorted(gb.students, key=lambda s: s.id):
        name = f"{s.last_name}, {s.first_name}" if s.last_name and s.first_name else s.id
        row = {"Student": name, "ID": s.lms_user_id or "", "SIS Login ID": s.id}
        rows.append(row | values.get(s.id, {}))
    return columns, rows


def moodle(gb: Gradebook, cols: list, values: dict) -> tuple[list[str], list[dict]]:
    head = ["Username", "ID number", "Email address", "First name", "Last name"]
    columns = head + [c for c, _f, _p in cols]
    rows = []
    for s in sorted(gb.students, key=lambda s: s.id):
        row = {"Username": s.id, "ID number": s.lms_user_id or "", "Email address": s.email or ""}
        row |= {"First name": s.first_name or "", "Last name": s.last_name or ""}
        rows.append(row | values.get(s.id, {}))
    return columns, rows


def stale_penalties(gb: Gradebook, book: dict, tables: dict) -> list[str]:
    """Penalties in the gradebook that the policy would now set differently (regrade them)."""
    notes = []
    for assignment, (_columns, rows) in tables.items():
        for row in rows:
            entry = book.get((row["student"], assignment))
            if entry is None or row["submitted"] != "yes":
                continue
            want = min(row["total"], entry.percent / 100 * row["max_score"])
            if abs(want - row["late_penalty"]) > 1e-9:
                notes.append(
                    f"{row['student']}, {assignment}: penalty {row['late_penalty']:g} in the "
                    f"gradebook, {want:g} by the policy now (grade {assignment} again)"
                )
    return notes


def export(root: Path, assignments: list[str] | None = None, out: Path | None = None) -> dict:
    """Write the files; returns ``{"files": [...], "notes": [...]}``."""
    root = Path(root).resolve()
    out = Path(out or root / "nbgrader_work" / "export")
    db = root / "gradebook.db"
    if not db.is_file():
        raise SystemExit(f"mathdl-export: no gradebook at {db}: grade an assignment first")
    out.mkdir(parents=True, exist_ok=True)
    policy = late.find(root)
    with Gradebook(f"sqlite:///{db}") as gb:
        known = [a.name for a in gb.assignments]
        wanted = assignments or known
        missing = [a for a in wanted if a not in known]
        if missing:
            raise SystemExit(f"mathdl-export: not in the gradebook: {missing}; known: {known}")
        book = late.ledger(policy, late.submitted_times(gb)) if policy else {}
        tables = {a: assignment_table(gb, root, a, book) for a in wanted}
        files = []
        for a, (columns, rows) in tables.items():
            write_csv(out / f"{a}.csv", columns, rows)
            files.append(out / f"{a}.csv")
        cols, values = lms_columns(tables, gb, root)
        for name, fmt in (("canvas.csv", canvas), ("moodle.csv", moodle)):
            write_csv(out / name, *fmt(gb, cols, values))
            files.append(out / name)
        notes = stale_penalties(gb, book, tables)
    return {"files": files, "notes": notes}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="mathdl-export", description=__doc__.split("\n\n")[0])
    ap.add_argument("assignment", nargs="*", help="assignments (default: all in the gradebook)")
    ap.add_argument("--root", default=".", help="course root (default: the current directory)")
    ap.add_argument("--out", help="folder (default: nbgrader_work/export)")
    args = ap.parse_args(argv)

    warnings.simplefilter("ignore")  # SQLAlchemy's warnings from nbgrader
    result = export(Path(args.root), args.assignment or None, args.out and Path(args.out))
    for path in result["files"]:
        print(f"wrote {path}")
    for note in result["notes"]:
        print(f"note: {note}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
