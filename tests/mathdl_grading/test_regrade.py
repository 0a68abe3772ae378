"""mathdl_grading.regrade: the report lists exactly the changed scores with the check behind them
(no kernel).
"""

import csv
import io

import nbformat

from mathdl_grading import regrade


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
