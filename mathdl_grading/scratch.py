"""What of a submission's folder the grading kernel gets: :func:`stage` (used by :mod:`.sandbox`).

nbgrader grades from ``autograded/<student>/<assignment>/``, a folder it writes itself: next to
the student's data files it holds the notebook being graded *with every hidden test restored*,
and nbgrader's own files (``timestamp.txt``, ``submission_secret.txt``). The kernel needs none of
them: nbgrader sends the notebook cell by cell. So only regular files that are not notebooks and
not nbgrader's are copied, never a link (symbolic or hard), device, FIFO or socket (``lstat``, then opened with
``O_NOFOLLOW`` and checked again, so a file swapped for a link in between is refused too), and at
most ``cap_bytes`` in all (each file at most ``file_cap``). What was left out is returned as
notes for the grader's log.
"""

import os
import stat

from . import intake

NBGRADER_FILES = frozenset({"timestamp.txt", "submission_secret.txt", "feedback.html"})
MAX_FILES, MAX_DEPTH = intake.MAX_ENTRIES, intake.MAX_DEPTH  # as much as a submission may hold


def _skip_reason(name: str, st: os.stat_result) -> str | None:
    if stat.S_ISLNK(st.st_mode):
        return "a link"
    if stat.S_ISDIR(st.st_mode):
        return "a notebook folder" if name == ".ipynb_checkpoints" else None
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file"
    if st.st_nlink > 1:  # a hard link may name a file the student could not read
        return "a hard link"
    if name.lower().endswith(".ipynb") or name in NBGRADER_FILES or name.startswith(".nbgrader"):
        return "a notebook or nbgrader's own file"
    return None


def _copy_file(src: str, dest: str, st: os.stat_result, budget: int) -> int | str:
    """Copy one regular file (no link followed); returns the bytes copied or a reason not to."""
    try:
        fd = os.open(src, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        return f"cannot be opened ({exc.strerror})"
    try:
        now = os.fstat(fd)
        if not stat.S_ISREG(now.st_mode) or (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
            return "changed while being copied"
        if now.st_size > budget:
            return f"over the size cap ({now.st_size} bytes, {budget} left)"
        out = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        copied = 0
        with os.fdopen(out, "wb") as fh:
            while copied <= budget and (chunk := os.read(fd, 1 << 20)):
                fh.write(chunk)
                copied += len(chunk)
        if copied > budget:
            os.unlink(dest)
            return "grew over the size cap while being copied"
        return copied
    finally:
        os.close(fd)


def stage(src: str, dest: str, cap_bytes: int, file_cap: int) -> list[str]:
    """Copy the submission's data files from ``src`` into ``dest`` (which must exist).

    Returns notes (``"path: why"``) on everything left out."""
    notes, left, count = [], cap_bytes, 0
    todo = [("", 0)]
    while todo:
        rel, depth = todo.pop()
        try:
            entries = sorted(os.scandir(os.path.join(src, rel)), key=lambda e: e.name)
        except OSError as exc:
            notes.append(f"{rel or '.'}: cannot be listed ({exc.strerror})")
            continue
        for entry in entries:
            path = os.path.join(rel, entry.name)
            st = entry.stat(follow_symlinks=False)
            why = _skip_reason(entry.name, st)
            if why is None and stat.S_ISDIR(st.st_mode):
                why = "too deep" if depth >= MAX_DEPTH else None
                if why is None:
                    os.mkdir(os.path.join(dest, path), 0o755)
                    todo.append((path, depth + 1))
                    continue
            if why is None:
                count += 1
                why = "too many files" if count > MAX_FILES else None
            if why is None:
                got = _copy_file(entry.path, os.path.join(dest, path), st, min(left, file_cap))
                why, left = (got, left) if isinstance(got, str) else (None, left - got)
            if why and not why.startswith("a notebook"):  # notebooks are left out silently
                notes.append(f"{path}: {why}, not copied")
    return notes
