"""The instructor's term (issue 23): parallel grading, regrading with a report, the LMS export,
late days. Throw-away courses only (tests/helpers/grading_fixtures.py's assignment).

* ``--jobs 2`` gives the same scores and the same gradebook rows as ``--jobs 1`` on a mixed
  batch (correct, blank, hostile, hanging, dying kernel, malformed, missing), read back with
  plain SQL rather than nbgrader's API; a worker that dies costs only its own student;
* a regrade after a test's tolerance was loosened lists exactly the student it helps, with the
  check that made the difference, and keeps a manual grade and comment;
* a late submission gets the policy's penalty (worked out by hand here) and no more, through
  nbgrader's own late-penalty hook, in parallel grading too;
* the per-assignment, Canvas and Moodle files match the gradebook and nbgrader's own grades.csv.
"""

import csv
import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from mathdl_grading import late
from mathdl_grading.sandbox import bwrap_problem
from tests.helpers import grading_fixtures as gf

BIN = Path(sys.executable).parent


def sandboxed(test):
    """Skipped (with the reason) where there is no sandbox."""
    test = pytest.mark.skipif(bool(bwrap_problem()), reason=f"no sandbox: {bwrap_problem()}")(test)
    linux = sys.platform.startswith("linux")
    return pytest.mark.skipif(not linux, reason="the sandbox is Linux's")(test)


MAX = gf.AUTO_MAX + gf.MANUAL  # 9 points in the fixture assignment


def mathdl_grade(root, *args):
    env = {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(root), "LANG": "C.UTF-8"}
    cmd = [str(BIN / "mathdl-grade"), gf.ASSIGNMENT, "--root", str(root), *args]
    proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=900)
    report = root / "nbgrader_work" / gf.ASSIGNMENT / "report.json"
    return proc, json.loads(report.read_text()) if report.is_file() else None


def rows_sql(root):
    """Every grade row of the gradebook, by plain SQL: {(student, cell): (auto, manual)}."""
    query = """
        select s.student_id, b.name, g.auto_score, g.manual_score from grade g
        join submitted_notebook n on g.notebook_id = n.id
        join submitted_assignment s on n.assignment_id = s.id
        join base_cell b on b.id = g.cell_id"""
    with sqlite3.connect(root / "gradebook.db") as db:
        rows = db.execute(query).fetchall()
        counts = {
            t: db.execute(f"select count(*) from {t}").fetchone()[0]
            for t in ("student", "submitted_assignment", "submitted_notebook", "grade", "comment")
        }
    out = {(s, c): (a, m) for s, c, a, m in rows}
    assert len(out) == len(rows), "two grade rows for one student and cell"
    return out, counts


# ----------------------------------------------------------------------------- late days (no kernel)


# ----------------------------------------------------------------------------- regrade report and pool (no kernel)


# ----------------------------------------------------------------------------- parallel equals serial


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    """The same mixed batch graded with --jobs 1 and --jobs 2 (two courses)."""
    keep = ["good", "blank", "patch_numpy", "vandal", "infinite_loop", "kernel_dies"]
    keep += ["wrong_part", "malformed", "missing"]
    out = {}
    for jobs in (1, 2):
        root = gf.make_course(tmp_path_factory.mktemp(f"jobs{jobs}") / "course")
        expected = gf.hostile_batch(root)
        for student in set(expected) - set(keep):
            shutil.rmtree(root / "submitted" / student)
            del expected[student]
        proc, report = mathdl_grade(root, "--jobs", str(jobs), "--timeout", "3")
        out[jobs] = root, proc, report
    return out, expected


@sandboxed
def test_two_jobs_give_the_scores_and_rows_of_one(both):
    out, expected = both
    (r1, p1, rep1), (r2, p2, rep2) = out[1], out[2]
    assert p1.returncode == 0 and p2.returncode == 0, p2.stdout[-2000:] + p2.stderr[-3000:]
    scores = {
        j: {s: (e["status"], e["score"]) for s, e in rep["students"].items()}
        for j, rep in ((1, rep1), (2, rep2))
    }
    assert (
        scores[2] == scores[1] == {s: (e["status"], float(e["auto"])) for s, e in expected.items()}
    )
    (rows1, counts1), (rows2, counts2) = rows_sql(r1), rows_sql(r2)
    assert rows2 == rows1 and counts2 == counts1
    graded = [s for s, e in expected.items() if e["status"] == "graded"]
    assert counts2["submitted_assignment"] == len(graded)  # missing, malformed: no submission
    for s in graded:
        assert (r2 / "feedback" / s / gf.ASSIGNMENT / f"{gf.ASSIGNMENT}.html").is_file(), s
    assert f"graded {len(graded)}/{len(graded)}" in p2.stderr
    assert not list((r2 / "nbgrader_work" / gf.ASSIGNMENT).glob("workers*"))  # removed


# ----------------------------------------------------------------------------- late days, regrade, export

DUE = "2026-10-01T12:00:00+00:00"

POLICY = f"""
free_late_days = 1
penalty_percent_per_day = 10

[due]
{gf.ASSIGNMENT} = {DUE}

[extensions.ext]
{gf.ASSIGNMENT} = 3
"""
SUBMITTED = {  # nbgrader's timestamp.txt
    "good": "2026-10-01 11:00:00.000000 UTC",
    "late3": "2026-10-03 13:00:00.000000 UTC",  # 2 days 1 h late: 3 days, 1 free, 2 charged
    "ext": "2026-10-03 13:00:00.000000 UTC",  # within its 3-day extension
    "fd_chain": "2026-10-01 10:00:00.000000 UTC",
    "blank": "2026-10-01 10:00:00.000000 UTC",
}
FD_CHAIN = """def dloss_dw(w, x, t):
    loss = lambda v: (np.tanh(v * x) - t) ** 2
    return (loss(w + 1e-4) - loss(w - 1e-4)) / 2e-4"""


@pytest.fixture(scope="module")
def term(tmp_path_factory):
    root = gf.make_course(tmp_path_factory.mktemp("term") / "course")
    (root / late.POLICY_FILE).write_text(POLICY)
    fd = gf.solution()
    gf.cell(fd, "chain_sol").source = FD_CHAIN
    for student, nb in (("good", gf.solution()), ("late3", gf.solution()), ("ext", gf.solution())):
        gf.save(nb, root, student)
    gf.save(fd, root, "fd_chain")
    gf.save(gf.exercise(), root, "blank")
    for student, when in SUBMITTED.items():
        (root / "submitted" / student / gf.ASSIGNMENT / "timestamp.txt").write_text(when)
    first = mathdl_grade(root, "--jobs", "2")
    first_md = (root / "nbgrader_work" / gf.ASSIGNMENT / "regrade.md").read_text()
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:  # the instructor grades by hand
        gb.find_grade("why", gf.ASSIGNMENT, gf.ASSIGNMENT, "good").manual_score = 1.5
        gb.find_comment("why", gf.ASSIGNMENT, gf.ASSIGNMENT, "good").manual_comment = "Nice."
        gb.db.commit()
    source = root / "solutions" / gf.ASSIGNMENT / f"{gf.ASSIGNMENT}.ipynb"
    nb = nbformat.read(str(source), as_version=4)  # the instructor loosens a tolerance
    gf.replace(nb, "chain_test", "rtol=1e-11, atol=1e-14", "rtol=1e-6, atol=1e-9")
    nbformat.write(nb, str(source))
    second = mathdl_grade(root, "--jobs", "1")
    return root, first, first_md, second


@sandboxed
def test_a_late_submission_gets_the_policy_penalty_and_no_more(term):
    root, (proc, report), _md, _second = term
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert {s: e["score"] for s, e in report["students"].items()} == {
        "good": 7.0,
        "late3": 7.0,
        "ext": 7.0,
        "fd_chain": 5.0,
        "blank": 0.0,
    }
    grades = {r["student_id"]: r for r in csv.DictReader(open(root / "grades.csv"))}  # nbgrader's
    penalty = {s: float(r["late_submission_penalty"]) for s, r in grades.items()}
    # late3: 3 days late, 1 free, 2 charged at 10 % of 9 points: 1.8; nobody else pays anything
    assert penalty == {
        "good": 0.0,
        "late3": pytest.approx(1.8),
        "ext": 0.0,
        "fd_chain": 0.0,
        "blank": 0.0,
    }
    md = (root / "nbgrader_work" / gf.ASSIGNMENT / "report.md").read_text()
    assert "| late3 | 3 | 1 | 0 | 2 | 1.8 points (20 %) |" in md
    assert "| ext |" not in md.split("## Late submissions")[1]


@sandboxed
def test_a_regrade_lists_exactly_the_students_a_changed_test_affects(term):
    root, _first, first_md, (proc, report) = term
    assert "First grading" in first_md
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert report["students"]["fd_chain"]["score"] == 7.0
    work = root / "nbgrader_work" / gf.ASSIGNMENT
    rows = list(csv.DictReader(open(work / "regrade.csv")))
    assert [(r["student"], r["part"], r["old_score"], r["new_score"]) for r in rows] == [
        ("fd_chain", "chain_test", "0.0", "2.0")
    ]
    assert rows[0]["reason"] == "now passes: dL/dw at random points"
    assert "1 student(s), 1 part(s)" in (work / "regrade.md").read_text()
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:  # the manual grade survived
        assert gb.find_grade("why", gf.ASSIGNMENT, gf.ASSIGNMENT, "good").manual_score == 1.5
        assert (
            gb.find_comment("why", gf.ASSIGNMENT, gf.ASSIGNMENT, "good").manual_comment == "Nice."
        )
        assert gb.find_submission(gf.ASSIGNMENT, "good").score == 8.5


@sandboxed
def test_the_export_columns_and_totals_match_the_gradebook(term):
    root, *_ = term
    proc = subprocess.run(
        [str(BIN / "mathdl-export"), "--root", str(root)], capture_output=True, text=True
    )
    assert proc.returncode == 0 and not proc.stderr.strip(), proc.stderr
    out = root / "nbgrader_work" / "export"
    table = list(csv.DictReader(open(out / f"{gf.ASSIGNMENT}.csv")))
    tests, manual = list(gf.POINTS), ["why"]
    assert list(table[0]) == [
        "student",
        "submitted",
        *tests,
        *manual,
        "auto_total",
        "manual_total",
        "total",
        "max_score",
        "needs_manual_grade",
        "days_late",
        "late_days_used",
        "late_penalty",
        "final_score",
    ]
    sql, _counts = rows_sql(root)
    nbgrader_csv = {r["student_id"]: r for r in csv.DictReader(open(root / "grades.csv"))}
    for row in table:
        s = row["student"]
        for part in tests + manual:
            auto, by_hand = sql[s, part]
            want = by_hand if by_hand is not None else auto  # None: not graded yet, counts 0
            assert float(row[part]) == (want or 0.0), (s, part)
        assert float(row["total"]) == pytest.approx(sum(float(row[p]) for p in tests + manual))
        assert float(row["total"]) == pytest.approx(float(nbgrader_csv[s]["raw_score"]))
        assert float(row["final_score"]) == pytest.approx(float(nbgrader_csv[s]["score"]))
        assert float(row["late_penalty"]) == pytest.approx(
            float(nbgrader_csv[s]["late_submission_penalty"])
        )
        assert float(row["final_score"]) == pytest.approx(
            max(0.0, float(row["total"]) - float(row["late_penalty"]))
        )
        assert float(row["max_score"]) == MAX
    by = {r["student"]: r for r in table}
    assert (by["late3"]["days_late"], by["late3"]["late_days_used"]) == ("3", "1")
    assert by["good"]["total"] == "8.5" and by["good"]["needs_manual_grade"] == "yes"
    canvas = list(csv.reader(open(out / "canvas.csv")))
    assert canvas[0][:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    assert canvas[1][0] == "Points Possible"
    points = dict(zip(canvas[0][5:], canvas[1][5:]))
    assert points == {
        **{
            f"{gf.ASSIGNMENT}: {p}": f"{float(v)}"
            for p, v in {**gf.POINTS, "why": gf.MANUAL}.items()
        },
        f"{gf.ASSIGNMENT}: late penalty": "0.0",
    }
    canvas_rows = {
        r["SIS Login ID"]: r for r in csv.DictReader(open(out / "canvas.csv")) if r["SIS Login ID"]
    }
    moodle_rows = {r["Username"]: r for r in csv.DictReader(open(out / "moodle.csv"))}
    assert sorted(canvas_rows) == sorted(moodle_rows) == sorted(by)
    for s, row in by.items():
        for lms in (canvas_rows[s], moodle_rows[s]):
            parts = [float(lms[f"{gf.ASSIGNMENT}: {p}"]) for p in tests + manual]
            final = sum(parts) + float(lms[f"{gf.ASSIGNMENT}: late penalty"])
            assert final == pytest.approx(float(row["final_score"])), s
