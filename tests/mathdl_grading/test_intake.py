"""mathdl_grading.intake.copy_tree: plain files and folders are copied; links, special files, hard
links, oversized and sparse files, odd names, and a file swapped for a link between the check
and the copy are refused.
"""

import os
import socket
import time

import pytest

from tests.helpers.submissions import SECRET, contains, tree


@pytest.fixture
def sub(tmp_path):
    """A submission folder with honest files, and a secret beside it (the course's)."""
    (tmp_path / "secret.txt").write_bytes(SECRET)
    folder = tmp_path / "sub"
    (folder / "data" / "deep").mkdir(parents=True)
    (folder / "answer.ipynb").write_text("{}")
    (folder / "data" / "points.csv").write_text("x,y\n1,2\n")
    (folder / "data" / "deep" / "plot.png").write_bytes(b"\x89PNG\r\n" + bytes(range(256)))
    return folder


def test_plain_files_and_folders_are_copied_unchanged(sub, tmp_path):
    from mathdl_grading import intake

    refused = intake.copy_tree(str(sub), str(tmp_path / "out"))
    assert refused == []
    assert tree(tmp_path / "out") == tree(sub)
    for p in sub.rglob("*"):
        if p.is_file():
            assert (tmp_path / "out" / p.relative_to(sub)).read_bytes() == p.read_bytes()


def test_links_and_special_files_are_refused_and_never_read(sub, tmp_path):
    from mathdl_grading import intake

    secret = tmp_path / "secret.txt"
    os.symlink(secret, sub / "notes.txt")  # the review's /etc/shadow, here a course file
    os.symlink("/dev/zero", sub / "data.bin")  # the review's disk fill
    os.symlink("../../secret.txt", sub / "data" / "inner.txt")  # variant: inside a subfolder
    os.symlink(tmp_path, sub / "data" / "course")  # variant: a link to a folder
    os.symlink("nowhere", sub / "dangling")
    os.link(secret, sub / "hard.txt")  # variant: a hard link to a course file
    os.mkfifo(sub / "pipe")  # variant: a FIFO (opening it would block)
    unix = socket.socket(socket.AF_UNIX)
    unix.bind(str(sub / "data" / "sock"))  # variant: a socket
    start = time.monotonic()
    refused = intake.copy_tree(str(sub), str(tmp_path / "out"))
    unix.close()
    assert time.monotonic() - start < 5
    why = {r.path: r.reason for r in refused}
    assert why == {
        "notes.txt": "a symbolic link",
        "data.bin": "a symbolic link",
        "data/inner.txt": "a symbolic link",
        "data/course": "a symbolic link",
        "dangling": "a symbolic link",
        "hard.txt": "a hard link (2 names; copy it as a plain file)",
        "pipe": "a FIFO",
        "data/sock": "a socket",
    }
    assert contains(tmp_path / "out", SECRET[:20]) == []
    kept = {"answer.ipynb", "data", "data/points.csv", "data/deep", "data/deep/plot.png"}
    assert set(tree(tmp_path / "out")) == kept


@pytest.mark.parametrize("name", ["a\nb.txt", "tab\there", "esc\x1b[2J", "bad\udcff"])
def test_names_with_control_characters_are_refused(tmp_path, name):
    from mathdl_grading import intake

    folder = tmp_path / "sub"
    folder.mkdir()
    with open(os.path.join(os.fsencode(folder), os.fsencode(name)), "wb") as fh:
        fh.write(b"x")
    (folder / "ok+..name.txt").write_text("kept")  # `+` and `..` inside a name are fine
    refused = intake.copy_tree(str(folder), str(tmp_path / "out"))
    assert [r.path for r in refused] == [name]
    assert "\n" not in str(refused[0]) and "\x1b" not in str(refused[0])
    assert os.listdir(tmp_path / "out") == ["ok+..name.txt"]


def test_sizes_and_counts_are_capped_before_reading(tmp_path):
    from mathdl_grading import intake

    folder = tmp_path / "sub"
    folder.mkdir()
    with open(folder / "sparse.bin", "wb") as fh:  # variant: 1 TB that takes no disk
        fh.truncate(1 << 40)
    (folder / "small.txt").write_bytes(b"y" * 1000)
    limits = intake.Limits(file_bytes=4000, total_bytes=10_000, entries=50, depth=3)
    start = time.monotonic()
    refused = intake.copy_tree(str(folder), str(tmp_path / "out"), limits)
    assert time.monotonic() - start < 2
    assert [(r.path, r.reason.split(",")[0]) for r in refused] == [
        ("sparse.bin", f"{1 << 40} bytes")
    ]
    assert os.listdir(tmp_path / "out") == ["small.txt"]
    for i in range(11):  # 11 kB of files of 1 kB: over the submission's total
        (folder / f"f{i}").write_bytes(b"z" * 1000)
    with pytest.raises(intake.SubmissionRefused, match="bytes in all"):
        intake.copy_tree(str(folder), None, limits)
    many = tmp_path / "many"
    many.mkdir()
    for i in range(51):
        (many / str(i)).touch()
    with pytest.raises(intake.SubmissionRefused, match="more than 50 files"):
        intake.copy_tree(str(many), None, limits)
    deep = tmp_path / "deep" / "a" / "b" / "c" / "d"
    deep.mkdir(parents=True)
    with pytest.raises(intake.SubmissionRefused, match="deeper than 3"):
        intake.copy_tree(str(tmp_path / "deep"), None, limits)


def test_a_submission_folder_that_is_a_link_is_refused(sub, tmp_path):
    from mathdl_grading import intake

    os.symlink(sub, tmp_path / "alias")
    with pytest.raises(intake.SubmissionRefused, match="not a real folder"):
        intake.copy_tree(str(tmp_path / "alias"), str(tmp_path / "out"))
    top = tmp_path / "submitted"
    (top / "bob").mkdir(parents=True)
    os.symlink(sub, top / "bob" / "fixture")
    os.symlink(top / "bob", top / "mallory")  # variant: the student's own folder is the link
    (top / "mallory2").mkdir()
    for folder in (top / "bob" / "fixture", top / "mallory" / "fixture"):
        with pytest.raises(intake.SubmissionRefused, match="not a real folder"):
            intake.vet_submission(str(top), str(folder))
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("swap", ["symlink", "hardlink", "fifo"])
def test_a_file_swapped_between_the_check_and_the_open_is_refused(sub, tmp_path, monkeypatch, swap):
    """The race of the review's variants, forced: the student replaces ``points.csv`` after it
    was checked (stat) and before it is opened. The copy must notice, not follow."""
    from mathdl_grading import intake

    real_open, secret = os.open, tmp_path / "secret.txt"

    def racing_open(path, flags, mode=0o777, *, dir_fd=None):
        if path == "points.csv" and dir_fd is not None and not flags & os.O_WRONLY:
            os.unlink(sub / "data" / "points.csv")
            if swap == "symlink":
                os.symlink(secret, sub / "data" / "points.csv")
            elif swap == "hardlink":
                os.link(secret, sub / "data" / "points.csv")
            else:  # opening a FIFO would block without O_NONBLOCK
                os.mkfifo(sub / "data" / "points.csv")
        return real_open(path, flags, mode, dir_fd=dir_fd)

    monkeypatch.setattr(os, "open", racing_open)
    refused = intake.copy_tree(str(sub), str(tmp_path / "out"))
    monkeypatch.undo()
    assert [(r.path, r.reason) for r in refused] == [
        ("data/points.csv", "it changed while it was read")
    ]
    assert contains(tmp_path / "out", SECRET[:20]) == []


def test_a_file_that_grows_while_it_is_read_is_cut_and_refused(tmp_path, monkeypatch):
    from mathdl_grading import intake

    folder = tmp_path / "sub"
    folder.mkdir()
    (folder / "log.txt").write_bytes(b"a" * 100)
    real_open = os.open

    def growing_open(path, flags, mode=0o777, *, dir_fd=None):
        fd = real_open(path, flags, mode, dir_fd=dir_fd)
        if path == "log.txt" and dir_fd is not None:
            with open(folder / "log.txt", "ab") as fh:
                fh.write(b"b" * 10_000)
        return fd

    monkeypatch.setattr(os, "open", growing_open)
    refused = intake.copy_tree(str(folder), str(tmp_path / "out"), intake.Limits(file_bytes=1000))
    monkeypatch.undo()
    assert [r.reason for r in refused] == ["it grew past 1000 bytes while it was read"]
    assert os.listdir(tmp_path / "out") == []


@pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")
def test_files_of_another_owner_are_refused_when_the_owner_is_known(sub, tmp_path):
    from mathdl_grading import intake

    os.chown(sub / "data" / "points.csv", 4242, 4242)
    os.chown(sub / "data" / "deep", 4242, 4242)
    refused = intake.copy_tree(str(sub), str(tmp_path / "out"), owner=os.geteuid())
    assert sorted(r.path for r in refused) == ["data/deep", "data/points.csv"]
    assert all("uid 4242" in r.reason for r in refused)
    with pytest.raises(intake.SubmissionRefused, match="belongs to uid"):
        intake.copy_tree(str(sub), None, owner=4242)
