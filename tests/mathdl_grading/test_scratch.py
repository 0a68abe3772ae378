"""mathdl_grading.scratch: the kernel's scratch copy of a submission."""

import os

from mathdl_grading import scratch

MIB = 1024 * 1024


def make_submission_folder(tmp_path):
    """A submission's folder with everything the scratch copy must leave out, and a secret."""
    src, secret = tmp_path / "sub", tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-REFERENCE")
    (src / "nested" / "deeper").mkdir(parents=True)
    (src / "data.csv").write_text("1,2\n")
    (src / "nested" / "deeper" / "more.txt").write_text("ok")
    (src / "fixture.ipynb").write_text('{"hidden": "check(expected=42)"}')
    (src / "COPY.IPYNB").write_text("{}")
    (src / ".ipynb_checkpoints").mkdir()
    (src / ".ipynb_checkpoints" / "fixture-checkpoint.ipynb").write_text("{}")
    for name in ("timestamp.txt", "submission_secret.txt"):
        (src / name).write_text("nbgrader's")
    os.symlink(secret, src / "link.txt")
    os.symlink(tmp_path, src / "linkdir")
    os.symlink("/etc/shadow", src / "nested" / "shadow")
    os.mkfifo(src / "fifo")
    os.link(secret, src / "hardlink.txt")
    with open(src / "sparse.bin", "wb") as fh:  # 10 GB that take no space: over the cap
        fh.truncate(10 * 1024 * MIB)
    return src


def test_the_scratch_copy_takes_only_the_students_regular_data_files(tmp_path):
    src, dest = make_submission_folder(tmp_path), tmp_path / "dest"
    dest.mkdir()
    notes = scratch.stage(str(src), str(dest), 64 * MIB, 16 * MIB)
    got = sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file())
    assert got == ["data.csv", "nested/deeper/more.txt"], got
    assert not [p for p in dest.rglob("*") if p.is_symlink()]
    why = " | ".join(notes)
    for name in ("link.txt", "linkdir", "nested/shadow", "fifo", "hardlink.txt", "sparse.bin"):
        assert f"{name}:" in why, (name, notes)
    assert "ipynb" not in why, "notebooks are left out silently (they are expected)"
