"""Which submissions are graded: every folder under submitted/ is a student, with a status.

``graded`` (its notebook is there and readable; a note names any file :mod:`.intake` refused
in it), ``missing`` (no notebook of that name: the files found are named), ``unreadable`` (not
a valid notebook) or ``refused`` (a link, a special file or a bad name where the notebook or the
student's folder should be: the grader reads nothing of it). Each student gets a row in
grades.csv whatever the status; a bad folder name is reported in its escaped form only.
"""

import os
from pathlib import Path

import nbformat

from . import intake

__all__ = ["submissions", "vetted"]


def submissions(
    root: Path, assignment: str, only: list[str] | None = None, limits: intake.Limits | None = None
) -> dict[str, tuple[str, str]]:
    """``{student: (status, note)}`` for every folder under submitted/: graded, missing,
    unreadable, refused (:func:`vetted`)."""
    out = {}
    folders = sorted(p for p in (root / "submitted").glob("*") if p.is_dir())
    for folder in folders:
        if folder.name.startswith(".") or (only and folder.name not in only):
            continue
        path = folder / assignment / f"{assignment}.ipynb"
        out[folder.name] = vetted(root, folder / assignment, path.name, limits)
        if out[folder.name][0] == "refused":
            if intake.bad_name(folder.name):  # one line in the report, never the raw name
                out[intake.shown(folder.name)] = out.pop(folder.name)
            continue
        if not path.is_file():
            found = (
                sorted(p.name for p in (folder / assignment).glob("*"))
                if path.parent.is_dir()
                else []
            )
            out[folder.name] = (
                "missing",
                f"no {assignment}.ipynb" + (f" (found: {', '.join(found[:5])})" if found else ""),
            )
            continue
        try:
            nbformat.validate(nbformat.read(str(path), as_version=4))
            out[folder.name] = ("graded", out[folder.name][1])
        except Exception as exc:
            out[folder.name] = ("unreadable", f"the notebook cannot be read: {str(exc)[:200]}")
    return out


def vetted(
    root: Path, folder: Path, notebook: str, limits: intake.Limits | None
) -> tuple[str, str]:
    """``("refused", why)`` for a submission the grader must not read (a link, a special file,
    over the limits: :mod:`.intake`), else ``("graded", note)`` naming the files refused in it."""
    if intake.bad_name(folder.parent.name):
        return (
            "refused",
            f"not graded: the student's folder: {intake.bad_name(folder.parent.name)}",
        )
    if not os.path.lexists(folder):
        return ("graded", "")
    try:
        submitted, limits = str(root / "submitted"), limits or intake.Limits()
        refused = intake.vet_submission(submitted, str(folder), limits)
    except intake.SubmissionRefused as exc:
        return ("refused", f"not graded: {exc}")
    if any(item.path == notebook for item in refused):
        return ("refused", f"not graded: {intake.summary(refused)}")
    return ("graded", intake.summary(refused) if refused else "")
