"""What a grading run changed: ``nbgrader_work/<assignment>/regrade.md`` and ``regrade.csv``.

:func:`snapshot` reads, before and after a run, every student's score per graded part from the
gradebook (the score nbgrader counts: the manual grade where there is one, else the autograded
one), the late penalty, and the checks that failed in each test cell of the autograded notebook
(the failures the scorer records in the cell's ``metadata.mathdl.failures`` where it does, else
its ``CheckFailed`` and other error outputs). :func:`write` lists every student and part whose
score changed, old and new, and why: the checks that now fail or now pass, a change of the
part's points, a new submission. Grading keeps manual grades and comments (nbgrader's
``SaveAutoGrades`` writes only the autograded score; :mod:`.parallel` does the same), so a part
graded by hand keeps its score and shows up here only if its grade was changed by hand.
"""

import csv
import io
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook, MissingEntry

LATE = "late penalty"
FIELDS = ["student", "part", "old_score", "new_score", "max_score", "change", "reason"]


def failed_checks(notebook: Path) -> dict[str, dict[str, str]]:
    """``{grade_id: {check or error name: why}}`` of the graded cells of an autograded notebook."""
    try:
        nb = nbformat.read(str(notebook), as_version=4)
    except Exception:
        return {}
    out = {}
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type != "code" or not meta.get("grade"):
            continue
        recorded = cell.get("metadata", {}).get("mathdl", {}).get("failures")
        if isinstance(recorded, list):  # the scorer's own record (check, kind, mistake, message)
            found = [f for f in recorded if isinstance(f, dict) and "check" in f]
            out[meta.get("grade_id")] = {
                str(f["check"]): str(f.get("message", "")).partition(": ")[2] for f in found
            }
            continue
        failed = {}
        for o in cell.get("outputs", []):
            if o.get("output_type") != "error":
                continue
            if o.get("ename") == "CheckFailed":
                for item in str(o.get("evalue", "")).split("; "):
                    name, _, why = item.partition(": ")
                    failed[name] = why
            else:
                failed[str(o.get("ename"))] = str(o.get("evalue", ""))[:200]
        out[meta.get("grade_id")] = failed
    return out


def snapshot(root: Path, assignment: str) -> dict:
    """``{student: {"parts": {part: (score, max)}, "checks": {part: {...}}}}`` now."""
    db = Path(root) / "gradebook.db"
    if not db.is_file():
        return {}
    out = {}
    with Gradebook(f"sqlite:///{db}") as gb:
        try:
            subs = gb.find_assignment(assignment).submissions
        except MissingEntry:
            return {}
        for sub in subs:
            many = len(sub.notebooks) > 1
            parts, checks = {}, {}
            for nb in sub.notebooks:
                path = Path(root) / "autograded" / sub.student_id / assignment / f"{nb.name}.ipynb"
                found = failed_checks(path) if path.is_file() else {}
                for g in nb.grades:
                    part = f"{nb.name}/{g.name}" if many else g.name
                    parts[part] = (g.score, g.max_score)
                    checks[part] = found.get(g.name, {})
            parts[LATE] = (sub.late_submission_penalty or 0.0, None)
            out[sub.student_id] = {"parts": parts, "checks": checks}
    return out


def reason(old: dict | None, new: dict, part: str) -> str:
    if old is None or part not in old["parts"]:
        return "new submission" if old is None else "new part"
    if part == LATE:
        return "the late-day policy or the submission time changed"
    why = []
    if old["parts"][part][1] != new["parts"][part][1]:
        why.append(f"points of the part {old['parts'][part][1]:g} -> {new['parts'][part][1]:g}")
    was, now = old["checks"].get(part, {}), new["checks"].get(part, {})
    why += [
        f"now fails: {n} ({w})" if w else f"now fails: {n}" for n, w in now.items() if n not in was
    ]
    why += [f"now passes: {n}" for n in was if n not in now]
    why += [f"fails differently: {n} ({now[n]})" for n in now if n in was and was[n] != now[n]]
    return "; ".join(why) or "no check changed (a grade changed by hand, or the test's code)"


def changes(before: dict, after: dict) -> list[dict]:
    """One row per (student, part) whose score differs, sorted by student and part."""
    rows = []
    for student in sorted(set(before) | set(after)):
        old, new = before.get(student), after.get(student)
        if new is None:
            continue  # removed from the gradebook (missing now): listed by the grading report
        for part, (score, top) in sorted(new["parts"].items()):
            was = old["parts"].get(part, (None, None))[0] if old else None
            if was is not None and abs(was - score) <= 1e-9:
                continue
            if was is None and part == LATE and not score:
                continue
            change = "" if was is None else f"{score - was:+g}"
            row = dict(student=student, part=part, old_score=was, new_score=score)
            row.update(max_score=top, change=change, reason=reason(old, new, part))
            rows.append(row)
    return rows


def to_csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return buf.getvalue()


def to_markdown(assignment: str, rows: list[dict], first: bool) -> str:
    lines = [f"# Regrading report: {assignment}", ""]
    if first:
        lines.append("First grading of this assignment: no earlier scores to compare with.")
        return "\n".join(lines) + "\n"
    students = sorted({r["student"] for r in rows})
    lines.append(f"{len(students)} student(s), {len(rows)} part(s) with a different score.")
    if rows:
        lines += ["", "| student | part | old | new | change | why |", "|---|---|---|---|---|---|"]

    def fmt(v: float | None) -> str:
        return "-" if v is None else f"{v:g}"

    for r in rows:
        why = " ".join(r["reason"].split()).replace("|", "/")[:300]  # one table row
        cells = [r["student"], r["part"], fmt(r["old_score"]), fmt(r["new_score"])]
        lines.append("| " + " | ".join([*cells, r["change"] or "new", why]) + " |")
    return "\n".join(lines) + "\n"


def write(work: Path, before: dict, after: dict) -> list[dict]:
    """regrade.md and regrade.csv in ``work``; returns the rows."""
    rows = changes(before, after) if before else []
    work.mkdir(parents=True, exist_ok=True)
    (work / "regrade.csv").write_text(to_csv(rows))
    (work / "regrade.md").write_text(to_markdown(work.name, rows, first=not before))
    return rows
