"""``make report [ASSIGNMENT=<a>]`` (``mathdl-report``): which parts and mistakes a class struggled with.

After ``make grade``, for one assignment it writes ``nbgrader_work/<a>/class-report.json``
and ``class-report.html``::

    {"assignment": "05_chain_rule", "students": 42,
     "parts": [{"cell": "net_test", "points": 3, "mean": 2.1, "full_marks": 30,
                "mistakes": [{"id": "bias-grad-not-summed", "label": "...", "students": [...]},
                             {"id": "check:b2 (N=5):wrong shape", "label": "...", ...}]}]}

Each part lists the catalogued mistakes (:mod:`.mistakes`) that fired with the students who
made them, then the other failures grouped by check and kind of failure (the numbers in a
message never split a group). Scores come from the gradebook, failures from the graded
notebooks' test cells (``metadata.mathdl.failures``, written by :class:`.scoring.ScoreChecks`).
Without an assignment it writes ``nbgrader_work/class-report.html`` and ``.json``: every
assignment's parts side by side. The HTML has its pictures inline and loads nothing.
"""

import argparse
import base64
import html
import io
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import nbformat
from nbgrader.api import Gradebook

from .apps import load_config
from .mistakes import catalogue


def _parts(gb: Gradebook, assignment: str) -> list[tuple[str, str, float]]:
    """``[(notebook, grade_id, points)]`` of the assignment's graded cells, in notebook order."""
    out = []
    for notebook in gb.find_assignment(assignment).notebooks:
        for cell in sorted(notebook.grade_cells, key=lambda c: c.id):
            out.append((notebook.name, cell.name, float(cell.max_score)))
    return out


def _failures(
    root: Path, assignment: str, student: str, notebook: str
) -> dict[str, list[dict[str, Any]]]:
    path = Path(root) / "autograded" / student / assignment / f"{notebook}.ipynb"
    if not path.is_file():
        return {}
    nb = nbformat.read(str(path), as_version=4)
    out = {}
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid and "mathdl" in cell.metadata:
            out[gid] = cell.metadata["mathdl"].get("failures", [])
    return out


def _groups(
    failures_by_student: dict[str, list[dict[str, Any]]], labels: dict[str, str]
) -> list[dict[str, Any]]:
    """Catalogued mistakes first (catalogue order), then the other failures by check and kind."""
    known: defaultdict[str, list[str]] = defaultdict(list)
    other: defaultdict[str, list[str]] = defaultdict(list)
    for student, failures in sorted(failures_by_student.items()):
        seen = set()
        for f in failures:
            key = f["mistake"] or f"check:{f['check']}:{f['kind']}"
            if key in seen:
                continue
            seen.add(key)
            (known if f["mistake"] else other)[key].append(student)
    out = []
    for mid in sorted(known, key=lambda m: (list(labels).index(m) if m in labels else 99, m)):
        out.append({"id": mid, "label": labels.get(mid, mid), "students": known[mid]})
    for key in sorted(other, key=lambda k: (-len(other[k]), k)):
        _, check, kind = key.split(":", 2)
        out.append({"id": key, "label": f"{check}: {kind}", "students": other[key]})
    return out


def assignment_report(
    root: Path, assignment: str, gb: Gradebook, labels: dict[str, str] | None = None
) -> dict[str, Any]:
    """The report dict of one graded assignment (see the module docstring)."""
    students = sorted(s.student.id for s in gb.assignment_submissions(assignment))
    parts = []
    failures: dict[str, dict[str, list[dict[str, Any]]]] = {s: {} for s in students}
    for student in students:
        for notebook in {n for n, _, _ in _parts(gb, assignment)}:
            failures[student] |= _failures(root, assignment, student, notebook)
    for notebook, gid, points in _parts(gb, assignment):
        scores = [gb.find_grade(gid, notebook, assignment, s).score for s in students]
        by_student = {s: failures[s].get(gid, []) for s in students if failures[s].get(gid)}
        parts.append(
            {
                "cell": gid,
                "points": points,
                "mean": round(sum(scores) / len(scores), 3) if scores else 0.0,
                "full_marks": sum(1 for x in scores if x >= points),
                "scores": dict(zip(students, scores, strict=True)),
                "mistakes": _groups(by_student, labels or {}),
            }
        )
    return {"assignment": assignment, "students": len(students), "parts": parts}


def _labels(root: Path, assignment: str) -> dict[str, str]:
    source = Path(root) / "solutions" / assignment / f"{assignment}.ipynb"
    return {m["id"]: m["label"] for m in catalogue(source)}


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return f'<img alt="" src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}">'


def _part_picture(part: dict[str, Any]) -> str:
    from matplotlib.figure import Figure  # lazy: only the class report draws (slow import)

    fig = Figure(figsize=(7, 2.4), layout="constrained")
    left, right = fig.subplots(1, 2)
    left.hist(list(part["scores"].values()), bins=max(2, int(part["points"]) + 1))
    left.set(xlabel="score", ylabel="students", title=f"{part['cell']} ({part['points']:g} points)")
    names = [m["label"][:40] for m in part["mistakes"][:6]][::-1]
    right.barh(names or ["(none)"], [len(m["students"]) for m in part["mistakes"][:6]][::-1] or [0])
    right.set(xlabel="students", title="mistakes")
    return _png(fig)


def render_html(report: dict[str, Any]) -> str:
    esc = html.escape
    out = [
        f"<h1>Class report: {esc(report['assignment'])}</h1>",
        f"<p>{report['students']} students.</p>",
    ]
    for part in report["parts"]:
        out.append(
            f"<h2>{esc(part['cell'])}: mean {part['mean']:g} / {part['points']:g}, "
            f"full marks {part['full_marks']}</h2>"
        )
        out.append(_part_picture(part))
        rows = "".join(
            f"<tr><td>{esc(m['label'])}</td><td>{len(m['students'])}</td>"
            f"<td>{esc(', '.join(m['students']))}</td></tr>"
            for m in part["mistakes"]
        )
        if rows:
            out.append(
                f"<table><tr><th>mistake</th><th>students</th><th>who</th></tr>{rows}</table>"
            )
    return _page(f"Class report {report['assignment']}", "\n".join(out))


def _page(title: str, body: str) -> str:
    csp = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
    style = "body{font-family:sans-serif;max-width:60em;margin:auto}td,th{border:1px solid #ccc;padding:4px}"
    return (
        f'<!DOCTYPE html><html><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
        f"<title>{html.escape(title)}</title><style>{style}</style></head><body>{body}</body></html>"
    )


def course_html(reports: list[dict[str, Any]]) -> str:
    esc = html.escape
    rows = []
    for rep in reports:
        for part in rep["parts"]:
            frac = part["mean"] / part["points"] if part["points"] else 1.0
            top = part["mistakes"][0] if part["mistakes"] else None
            mistake = f"{esc(top['label'])} ({len(top['students'])})" if top else ""
            colour = f"hsl({int(120 * frac)}, 70%, 85%)"
            rows.append(
                f"<tr><td>{esc(rep['assignment'])}</td><td>{esc(part['cell'])}</td>"
                f'<td style="background:{colour}">{part["mean"]:g} / {part["points"]:g}</td>'
                f"<td>{part['full_marks']} / {rep['students']}</td><td>{mistake}</td></tr>"
            )
    table = (
        "<table><tr><th>assignment</th><th>part</th><th>mean</th><th>full marks</th>"
        f"<th>most frequent mistake</th></tr>{''.join(rows)}</table>"
    )
    return _page("Class report: the course", f"<h1>Class report: the course</h1>{table}")


def write(root: Path | str, assignment: str | None = None) -> list[Path]:
    """Write the report(s) of ``assignment`` (or of every graded assignment); return the paths."""
    root = Path(root).resolve()
    course = load_config(root).CourseDirectory.course_id
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}", course) as gb:
        names = [assignment] if assignment else sorted(a.name for a in gb.assignments)
        reports = [assignment_report(root, a, gb, _labels(root, a)) for a in names]
    paths = []
    for rep in reports:
        folder = root / "nbgrader_work" / rep["assignment"]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "class-report.json").write_text(json.dumps(rep, indent=1))
        (folder / "class-report.html").write_text(render_html(rep))
        paths.append(folder / "class-report.html")
    if not assignment:
        (root / "nbgrader_work" / "class-report.json").write_text(json.dumps(reports, indent=1))
        (root / "nbgrader_work" / "class-report.html").write_text(course_html(reports))
        paths.append(root / "nbgrader_work" / "class-report.html")
    return paths


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="mathdl-report", description=__doc__.split("\n\n")[0])
    ap.add_argument("assignment", nargs="?", help="default: every graded assignment")
    ap.add_argument("--root", default=".", help="course root (default: the current directory)")
    args = ap.parse_args(argv)
    for path in write(args.root, args.assignment):
        print(f"class report: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
