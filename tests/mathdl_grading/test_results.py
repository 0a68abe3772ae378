"""results.render: the instructor's table says what each student got and what to look at."""

from mathdl_grading.results import render


def entry(status="graded", score=3.0, note="", **extra):
    return dict(status=status, score=score, max_score=5.0, note=note, **extra)


def test_one_row_per_student_sorted_with_score_and_status():
    report = {
        "assignment": "04_gradients",
        "students": {"bob": entry(score=5.0), "ann": entry("missing", 0.0, "no 04.ipynb")},
    }
    lines = render(report).splitlines()
    assert lines[0] == "# Grading report: 04_gradients"
    assert lines[4:] == ["| ann | missing | 0 / 5 | no 04.ipynb |", "| bob | graded | 5 / 5 |  |"]


def test_a_grading_error_stands_out_and_a_long_note_keeps_its_first_and_last_line():
    note = "kernel died\n" + "\n".join(f"line {i}" for i in range(50)) + "\nMemoryError"
    report = {"assignment": "a", "students": {"cy": entry("error", 0.0, note)}}
    row = render(report).splitlines()[-1]
    assert "**GRADING ERROR**" in row
    assert "kernel died; MemoryError" in row and "line 7" not in row


def test_notes_cannot_break_the_table_and_flags_and_manual_grading_are_named():
    flags = [{"cell": "grad_test", "what": "sys.settrace", "why": "hooks into the tests"}]
    students = {"dee": entry(note="a | b", needs_manual=True, flags=flags)}
    row = render({"assignment": "a", "students": students}).splitlines()[-1]
    assert row.count("|") == 5  # the note's pipe is replaced
    assert "needs manual grading" in row
    assert "REVIEW: cell grad_test uses sys.settrace (hooks into the tests)" in row
