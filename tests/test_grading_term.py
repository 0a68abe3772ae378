"""The instructor's term (issue 23): parallel grading, regrading with a report, the LMS export,
late days. Throw-away courses only (tests/grading_fixtures.py's assignment).

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
import datetime as dt
import io
import json
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import grading_fixtures as gf
import nbformat
import pytest

from mathdl_grading import late, parallel, regrade
from mathdl_grading.sandbox import bwrap_problem

BIN = Path(sys.executable).parent


def sandboxed(test):
    """Slow, and skipped (with the reason) where there is no sandbox."""
    test = pytest.mark.skipif(bool(bwrap_problem()), reason=f"no sandbox: {bwrap_problem()}")(test)
    linux = sys.platform.startswith("linux")
    return pytest.mark.slow(pytest.mark.skipif(not linux, reason="the sandbox is Linux's")(test))


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

DUE = "2026-10-01T12:00:00+00:00"


def utc(text):
    return dt.datetime.fromisoformat(text).astimezone(dt.UTC).replace(tzinfo=None)


def test_free_days_go_to_the_earliest_due_date_then_each_day_costs_the_percentage():
    policy = late.parse(
        {
            "free_late_days": 2,
            "penalty_percent_per_day": 10,
            "due": {"a1": DUE, "a2": "2026-10-08T12:00:00+00:00", "a3": "2026-10-15T12:00:00Z"},
            "free_late_days_for": {"carol": 5},
            "extensions": {"bob": {"a2": 3}},
        }
    )
    times = {
        ("alice", "a1"): utc("2026-10-01T12:00:01+00:00"),  # 1 s late: 1 day, free
        ("alice", "a2"): utc("2026-10-11T11:00:00+00:00"),  # 2 days 23 h: 3 days, 1 free
        ("alice", "a3"): utc("2026-10-15T14:00:00+02:00"),  # 12:00 UTC: on time
        ("bob", "a2"): utc("2026-10-11T12:00:00+00:00"),  # exactly the extended due date
        ("carol", "a1"): utc("2026-10-20T12:00:00+00:00"),  # 19 days: 5 free, 14 charged
    }
    book = late.ledger(policy, times)
    assert book["alice", "a1"] == late.Late(1, 1, 1, 0, 0.0)
    assert book["alice", "a2"] == late.Late(3, 1, 0, 2, 20.0)
    assert book["alice", "a3"] == late.Late(0, 0, 0, 0, 0.0)
    assert book["bob", "a2"] == late.Late(0, 0, 2, 0, 0.0)
    assert book["carol", "a1"] == late.Late(19, 5, 0, 14, 100.0)  # at most all the points


def test_grace_minutes_and_time_zones():
    policy = late.parse({"grace_minutes": 10, "penalty_percent_per_day": 5, "due": {"a": DUE}})
    on_time = late.days_late(policy, "x", "a", utc("2026-10-01T14:09:59+02:00"))
    late_by_one = late.days_late(policy, "x", "a", utc("2026-10-01T12:10:01+00:00"))
    assert (on_time, late_by_one) == (0, 1)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"due": {"a": "2026-10-01T12:00:00"}}, "no time zone"),
        ({"due": {"a": "next friday"}}, "due date of a"),
        ({"free_days": 2}, "unknown key"),
        ({"penalty_percent_per_day": -5}, "penalty_percent_per_day must be a number >= 0"),
        ({"free_late_days": 1.5}, "whole number"),
        ({"due": {"a": DUE}, "extensions": {"bob": {"b": 2}}}, "b has no due date"),
    ],
)
def test_a_bad_policy_is_refused_with_the_reason(raw, message):
    with pytest.raises(late.PolicyError, match=message):
        late.parse(raw)


def test_a_policy_file_that_is_not_toml_names_the_file(tmp_path):
    (tmp_path / late.POLICY_FILE).write_text("free_late_days = [\n")
    with pytest.raises(late.PolicyError, match=late.POLICY_FILE):
        late.find(tmp_path)


# ----------------------------------------------------------------------------- regrade report and pool (no kernel)


def snap(parts, checks=None, penalty=0.0):
    return {
        "parts": {**{p: (s, m) for p, (s, m) in parts.items()}, regrade.LATE: (penalty, None)},
        "checks": checks or {},
    }


def test_the_regrade_report_lists_only_changed_scores_with_the_check_behind_them():
    before = {
        "ann": snap({"t1": (0.0, 2), "t2": (3.0, 3)}, {"t1": {"grad at 0": "values differ"}}),
        "ben": snap({"t1": (2.0, 2), "t2": (3.0, 3)}),
        "cid": snap({"t1": (2.0, 2), "t2": (3.0, 3)}),
    }
    after = {
        "ann": snap({"t1": (2.0, 2), "t2": (3.0, 3)}),
        "ben": snap({"t1": (0.0, 2), "t2": (3.0, 3)}, {"t1": {"grad at 1": "shape (2,) != (3,)"}}),
        "cid": snap({"t1": (2.0, 2), "t2": (4.0, 4)}, penalty=0.4),
        "dee": snap(
            {"t1": (2.0, 2), "t2": (0.0, 3)}
        ),  # a late submission, graded for the first time
    }
    rows = regrade.changes(before, after)
    got = [(r["student"], r["part"], r["old_score"], r["new_score"]) for r in rows]
    assert got == [
        ("ann", "t1", 0.0, 2.0),
        ("ben", "t1", 2.0, 0.0),
        ("cid", regrade.LATE, 0.0, 0.4),
        ("cid", "t2", 3.0, 4.0),
        ("dee", "t1", None, 2.0),
        ("dee", "t2", None, 0.0),
    ]
    why = {(r["student"], r["part"]): r["reason"] for r in rows}
    assert why["ann", "t1"] == "now passes: grad at 0"
    assert why["ben", "t1"] == "now fails: grad at 1 (shape (2,) != (3,))"
    assert why["cid", "t2"] == "points of the part 3 -> 4"
    assert why["dee", "t1"] == "new submission"
    table = list(csv.DictReader(io.StringIO(regrade.to_csv(rows))))
    assert [r["student"] for r in table] == ["ann", "ben", "cid", "cid", "dee", "dee"]
    assert table[0]["change"] == "+2" and table[4]["old_score"] == ""


def test_failed_checks_read_from_the_scorers_record_or_from_the_error(tmp_path):
    from nbformat.v4 import new_code_cell, new_notebook, new_output

    def test_cell(gid, **kw):
        meta = {"nbgrader": {"grade": True, "grade_id": gid, "solution": False}, **kw}
        return new_code_cell("check(...)", metadata=meta)

    recorded = test_cell(
        "t1",
        mathdl={"failures": [{"check": "b2", "kind": "shape", "message": "b2: wrong shape"}]},
    )
    shown = test_cell("t2")
    shown.outputs = [
        new_output("error", ename="CheckFailed", evalue="a: off; b: nan", traceback=[])
    ]
    nbformat.write(
        new_notebook(cells=[recorded, shown, test_cell("t3")]), str(tmp_path / "n.ipynb")
    )
    assert regrade.failed_checks(tmp_path / "n.ipynb") == {
        "t1": {"b2": "wrong shape"},
        "t2": {"a": "off", "b": "nan"},
        "t3": {},
    }


def test_a_check_message_cannot_break_the_markdown_table():
    """A student's code can raise an error whose text is anything: one row whatever it says."""
    before = {"eve": snap({"t1": (2.0, 2)})}
    after = {"eve": snap({"t1": (0.0, 2)}, {"t1": {"CheckFailed": "a\n| x | y |\n## owned"}})}
    md = regrade.to_markdown("a1", regrade.changes(before, after), first=False)
    rows = [line for line in md.splitlines() if line.startswith("| eve")]
    assert len(rows) == 1 and rows[0].count("|") == 7 and "\n## owned" not in md


def test_a_dead_worker_fails_only_its_own_students_and_the_pool_ends(tmp_path):
    pool = parallel.Pool(2, {"not": "a config"}, "a1", tmp_path, deadline=60)  # no snapshot.db
    copies = {w["db"] for w in pool.workers}
    got, asked = {}, []

    def finish(worker):  # one feedback task, to the first worker that asks, then none
        asked.append(worker["db"])
        return ("feedback", ("s1",)) if len(asked) == 1 else None

    start = time.monotonic()
    parallel.run_pool(pool, ["s1", "s2", "s3"], lambda s, e: got.setdefault(s, e), finish)
    pool.close()
    assert sorted(got, key=str) == [("feedback", ("s1",)), "s1", "s2", "s3"]
    assert time.monotonic() - start < 60
    assert all(e["status"] == "error" and "worker died" in e["note"] for e in got.values())
    # each new worker took over its predecessor's gradebook copy (for its students' feedback)
    assert {w["db"] for w in pool.workers} == copies and set(asked) == copies


def test_closing_the_pool_stops_a_run_in_another_thread_and_leaves_no_worker(tmp_path):
    """As when preparing fails while Prefetch's thread still hands out reference runs."""
    import threading

    pool = parallel.Pool(2, {"not": "a config"}, "a1", tmp_path, deadline=60)
    tasks = [f"s{i}" for i in range(50)]
    run = threading.Thread(target=parallel.run_pool, args=(pool, tasks, lambda s, e: None))
    run.start()
    time.sleep(1)
    pool.close()
    run.join(15)
    assert not run.is_alive()
    assert all(w["proc"].poll() is not None for w in pool.workers)


def test_reference_runs_handed_in_are_cached_and_not_run_again(tmp_path):
    """What the workers' reference runs hand in (parallel.Prefetch) is what grading reads, from
    memory or the course's cache folder; nothing is run again (no kernel here)."""
    from mathdl_grading import mistakes, reference

    course = Path(__file__).parents[1] / "solutions" / "04_gradients"
    source = tmp_path / "a1" / "a1.ipynb"
    source.parent.mkdir()
    nb = nbformat.read(str(course / "04_gradients.ipynb"), as_version=4)
    nb.metadata["this_test"] = str(tmp_path)  # a notebook no other test has cached in memory
    nbformat.write(nb, str(source))
    shutil.copy(course / mistakes.FILE, source.parent)
    ids = [m["id"] for m in mistakes.catalogue(source)]
    cache, elsewhere = tmp_path / "cache", tmp_path / "another_course_cache"
    expected = [("solution", str(source))] + [("mistake", str(source), i) for i in range(len(ids))]
    assert len(ids) > 1 and parallel.reference_tasks(source, cache) == expected

    def never():
        raise AssertionError("ran again")

    records = {"cells": {"t": {"visible": [{"name": "x"}], "hidden": []}}, "shared": {}}
    assert reference.references(source, None, cache, compute=lambda: records) == records
    assert reference.references(source, None, cache, compute=never) == records
    found = mistakes.mistake_records(source, None, cache, cells_of=lambda i: {"cell": i})
    assert list(found) == ids and [found[m]["cells"] for m in ids] == [
        {"cell": i} for i in range(len(ids))
    ]
    assert parallel.reference_tasks(source, cache) == []
    # a result found in memory is written to another course's cache too (workers read it there)
    assert not list(elsewhere.glob("*.json"))
    assert reference.references(source, None, elsewhere, compute=never) == records
    reference._MEMORY.clear()
    assert reference.references(source, None, elsewhere, compute=never) == records
    assert mistakes.mistake_records(source, None, cache, cells_of=never) == found


def test_the_metadata_check_with_its_schema_checked_once_gives_nbgraders_verdicts():
    import jsonschema
    from nbgrader.nbgraderformat import common
    from nbgrader.nbgraderformat.v3 import MetadataValidatorV3

    from mathdl_grading import schema_cache

    schema = MetadataValidatorV3().schema
    good = {"grade": True, "solution": False, "locked": True, "points": 2.0}
    good |= {"grade_id": "t1", "schema_version": 3, "task": False}
    bad = [good | {"points": "two"}, good | {"grade_id": 7}, {**good, "extra": 1}, {}]
    assert schema_cache.validate(good, schema) is None
    for metadata in bad:
        with pytest.raises(jsonschema.ValidationError) as theirs:
            jsonschema.validate(metadata, schema)
        with pytest.raises(jsonschema.ValidationError) as ours:
            schema_cache.validate(metadata, schema)
        assert (ours.value.message, list(ours.value.path)) == (
            theirs.value.message,
            list(theirs.value.path),
        )
    with pytest.raises(jsonschema.SchemaError):  # a broken schema is still refused
        schema_cache.validate({}, {"type": 12})
    schema_cache.install()
    assert common.jsonschema.validate is schema_cache.validate
    assert common.jsonschema.ValidationError is jsonschema.ValidationError


def test_progress_shows_count_rate_and_time_left():
    out = io.StringIO()
    progress = parallel.Progress(4, stream=out, every=0)
    progress.update("graded")
    progress.update("error")
    line = out.getvalue().splitlines()[-1]
    assert line.startswith("graded 2/4 (1 error)") and "notebooks/s" in line and "s left" in line


def test_jobs_must_be_positive(tmp_path):
    proc = subprocess.run(
        [str(BIN / "mathdl-grade"), "x", "--root", str(tmp_path), "--jobs", "0", "--unsafe"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and "--jobs must be at least 1" in proc.stderr


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


# ----------------------------------------------------------------------------- the Kubernetes Job


def test_the_kubernetes_grading_job_is_valid_yaml_and_fits_the_formgrader():
    import yaml

    k8s = Path(__file__).resolve().parents[1] / "deploy" / "k8s"
    (job,) = yaml.safe_load_all((k8s / "grade-job.yaml").read_text())
    docs = list(yaml.safe_load_all((k8s / "formgrader.yaml").read_text()))
    (deploy,) = [d for d in docs if d["kind"] == "Deployment"]
    claims = {d["metadata"]["name"] for d in docs if d["kind"] == "PersistentVolumeClaim"}
    assert (job["apiVersion"], job["kind"]) == ("batch/v1", "Job")
    pod, fg = job["spec"]["template"]["spec"], deploy["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never" and job["spec"]["backoffLimit"] == 0
    (box,) = pod["containers"]
    env = {e["name"]: e["value"] for e in box["env"]}
    assert box["command"][:4] == ["mathdl-grade", "$(ASSIGNMENT)", "--jobs", "$(JOBS)"]
    assert box["resources"]["requests"]["cpu"] == env["JOBS"]  # one core per worker
    memory = int(box["resources"]["requests"]["memory"].removesuffix("Gi"))
    assert memory >= 1 + int(env["JOBS"])
    root = box["command"][box["command"].index("--root") + 1]
    (vol,) = pod["volumes"]
    assert vol["persistentVolumeClaim"]["claimName"] in claims
    fg_mounts = {m["name"]: m["mountPath"] for m in fg["containers"][0]["volumeMounts"]}
    fg_vols = {v["name"]: v["persistentVolumeClaim"]["claimName"] for v in fg["volumes"]}
    (mount,) = box["volumeMounts"]
    same = [n for n, c in fg_vols.items() if c == vol["persistentVolumeClaim"]["claimName"]]
    assert same and fg_mounts[same[0]] == mount["mountPath"] and root.startswith(mount["mountPath"])
    assert pod["securityContext"]["runAsUser"] == fg["securityContext"]["runAsUser"]
    (term,) = pod["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert (
        term["labelSelector"]["matchLabels"].items()
        <= deploy["spec"]["template"]["metadata"]["labels"].items()
    )


def test_export_without_a_gradebook_says_so(tmp_path):
    proc = subprocess.run(
        [str(BIN / "mathdl-export"), "--root", str(tmp_path)], capture_output=True, text=True
    )
    assert (
        proc.returncode != 0
        and "no gradebook" in proc.stderr
        and "grade an assignment" in proc.stderr
    )
