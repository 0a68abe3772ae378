"""mathdl_grading.scratch: the kernel's scratch copy of a submission."""

from mathdl_grading import scratch
from tests.helpers.submissions import make_submission_folder

MIB = 1024 * 1024


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
