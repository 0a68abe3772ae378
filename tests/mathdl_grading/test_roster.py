"""roster.submissions: every folder under submitted/ is a student, with the right status."""

import os

import nbformat

from mathdl_grading.roster import submissions

A = "04_gradients"


def notebook(path, text="x = 1"):
    path.parent.mkdir(parents=True, exist_ok=True)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(text)])
    nbformat.write(nb, str(path))


def test_each_folder_gets_its_status(tmp_path):
    sub = tmp_path / "submitted"
    notebook(sub / "ann" / A / f"{A}.ipynb")
    (sub / "bob" / A).mkdir(parents=True)
    (sub / "bob" / A / "answers.ipynb").write_text("{}")  # the wrong name
    (sub / "cy" / A).mkdir(parents=True)
    (sub / "cy" / A / f"{A}.ipynb").write_text("not json")
    (sub / "dee").mkdir()  # no assignment folder at all
    (sub / ".hidden").mkdir()
    (sub / "stray-file").write_text("not a student")
    got = submissions(tmp_path, A)
    assert set(got) == {"ann", "bob", "cy", "dee"}
    assert got["ann"] == ("graded", "")
    assert got["bob"][0] == "missing" and "answers.ipynb" in got["bob"][1]
    assert got["cy"][0] == "unreadable" and "cannot be read" in got["cy"][1]
    assert got["dee"] == ("missing", f"no {A}.ipynb")


def test_only_the_named_students(tmp_path):
    for name in ("ann", "bob"):
        notebook(tmp_path / "submitted" / name / A / f"{A}.ipynb")
    assert set(submissions(tmp_path, A, only=["bob"])) == {"bob"}


def test_a_linked_notebook_is_refused_and_never_read(tmp_path):
    secret = tmp_path / "solution.ipynb"
    notebook(secret, "ANSWER = 42")
    folder = tmp_path / "submitted" / "eve" / A
    folder.mkdir(parents=True)
    os.symlink(secret, folder / f"{A}.ipynb")
    status, note = submissions(tmp_path, A)["eve"]
    assert status == "refused" and note.startswith("not graded"), note
    assert "ANSWER" not in note


def test_a_refused_extra_file_is_named_and_the_notebook_graded(tmp_path):
    folder = tmp_path / "submitted" / "fay" / A
    notebook(folder / f"{A}.ipynb")
    os.symlink("/etc/passwd", folder / "data.csv")
    status, note = submissions(tmp_path, A)["fay"]
    assert status == "graded" and "data.csv" in note and "refused" in note, note


def test_a_folder_name_with_control_characters_is_reported_escaped(tmp_path):
    name = "mal\nlory"
    notebook(tmp_path / "submitted" / name / A / f"{A}.ipynb")
    got = submissions(tmp_path, A)
    assert name not in got and "mal\\nlory" in got
    assert got["mal\\nlory"][0] == "refused"
