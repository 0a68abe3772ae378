"""Submission folders holding what a copy must leave out, and readers of what a copy holds.

Shared by the unit tests of mathdl_grading.intake and .scratch and by the end-to-end grading
tests (not a test module).
"""

import os
from pathlib import Path

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


SECRET = b"SECRET-OF-THE-COURSE 4b1d\n"


def tree(root: Path) -> dict:
    """``{relative path: kind}`` of everything under ``root``, links not followed."""
    return {
        str(p.relative_to(root)): "link" if p.is_symlink() else "dir" if p.is_dir() else "file"
        for p in sorted(root.rglob("*"))
    }


def contains(root: Path, needle: bytes) -> list:
    """Files under ``root`` (links not followed) whose bytes contain ``needle``."""
    return [
        str(p)
        for p in root.rglob("*")
        if p.is_file() and not p.is_symlink() and needle in p.read_bytes()
    ]
