"""Files that come from students, read without ever following a link (issue 17, breaks 3 and 4).

A submission folder (``submitted/<student>/<assignment>/``, or a folder in the exchange's
``inbound/``) is untrusted: it may hold symbolic links (to ``solutions/``, ``gradebook.db``,
another student's work, ``/etc/shadow``), special files (``/dev/zero``, a FIFO, a socket), hard
links to files the grader may read, sparse files of terabytes, or a million tiny files.
:func:`copy_tree` walks such a folder through file descriptors only (``O_NOFOLLOW`` at every
step, ``fstat`` of what was opened), so nothing can be swapped for a link between the check and
the copy. It copies regular files and folders, refuses everything else with a reason, and stops
at the size and count limits of :class:`Limits`. With ``dest=None`` it only vets.
"""

import errno
import fnmatch
import os
import stat
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from nbgrader.coursedir import CourseDirectory

CHUNK = 1 << 20
_OPEN_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_OPEN_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


#: Files and folders one submission may hold, and how deep its folders may nest (the sizes are
#: nbgrader's own settings: ``CourseDirectory.max_file_size`` and ``max_dir_size``).
MAX_ENTRIES = 1000
MAX_DEPTH = 16
KB = 1000  # nbgrader's sizes are in kilobytes


@dataclass(frozen=True)
class Limits:
    """How much one submission may hold (bytes, entries, folder depth). The byte limits default
    to nbgrader's own defaults; the course's are in nbgrader_config.py (:meth:`of`)."""

    file_bytes: int = KB * CourseDirectory.max_file_size.default_value
    total_bytes: int = KB * CourseDirectory.max_dir_size.default_value
    entries: int = MAX_ENTRIES
    depth: int = MAX_DEPTH

    @classmethod
    def of(cls, coursedir: Any) -> "Limits":
        """nbgrader's own ``CourseDirectory.max_file_size`` / ``max_dir_size`` (kilobytes)."""
        return cls(KB * coursedir.max_file_size, KB * coursedir.max_dir_size)


class Refusal(NamedTuple):
    """One entry of a submission that was not copied, and why."""

    path: str  # relative to the submission folder
    reason: str

    def __str__(self) -> str:
        return f"{shown(self.path)}: {self.reason}"


class SubmissionRefused(Exception):
    """The whole submission is refused (the folder itself is a link, wrong owner, too big)."""


def kind(st: os.stat_result) -> str:
    """What a file is, in words."""
    for test, name in (
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISREG, "a regular file"),
    ):
        if test(st.st_mode):
            return name
    return "a special file"


def shown(name: str) -> str:
    """A name from a submission as it may appear in a log or report (one line, ASCII)."""
    return ascii(name)[1:-1]


def bad_name(name: str) -> str | None:
    """Why a file name from a submission is refused, or None."""
    if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in name):
        return "its name holds control characters or undecodable bytes"
    return None


@dataclass
class _Walk:
    limits: Limits
    owner: int | None  # uid every entry must belong to (the exchange); None: no owner check
    ignore: tuple = ()  # nbgrader's CourseDirectory.ignore: skipped silently
    skip_copy: tuple = ()  # globs vetted but not copied (the notebooks, which nbgrader reads)
    refused: list = field(default_factory=list)
    total: int = 0
    entries: int = 0

    def refuse(self, rel: str, reason: str) -> None:
        self.refused.append(Refusal(rel, reason))

    def check_owner(self, st: os.stat_result, rel: str) -> bool:
        if self.owner is None or st.st_uid == self.owner:
            return True
        self.refuse(rel, f"belongs to uid {st.st_uid}, not to the student (uid {self.owner})")
        return False

    def folder(self, fd: int, rel: str, dest: str | None, depth: int) -> None:
        """Copy the folder open as ``fd`` into ``dest`` (None: only vet)."""
        with os.scandir(fd) as listing:  # one entry at a time: the count cap holds
            names = []
            for entry in listing:
                names.append(entry.name)
                if len(names) + self.entries > self.limits.entries:
                    raise SubmissionRefused(f"more than {self.limits.entries} files and folders")
        for name in sorted(names):
            self.entries += 1
            if self.entries > self.limits.entries:
                raise SubmissionRefused(f"more than {self.limits.entries} files and folders")
            path = os.path.join(rel, name) if rel else name
            if any(fnmatch.fnmatch(name, pat) for pat in self.ignore):
                continue
            why = bad_name(name)
            if why:
                self.refuse(path, why)
                continue
            st = os.stat(name, dir_fd=fd, follow_symlinks=False)
            target = os.path.join(dest, name) if dest else None
            if stat.S_ISDIR(st.st_mode):
                self.subfolder(fd, name, st, path, target, depth + 1)
            elif stat.S_ISREG(st.st_mode):
                if any(fnmatch.fnmatch(name, pat) for pat in self.skip_copy):
                    target = None
                self.file(fd, name, st, path, target)
            else:
                self.refuse(path, kind(st))

    def subfolder(
        self, parent: int, name: str, st: os.stat_result, rel: str, dest: str | None, depth: int
    ) -> None:
        if depth > self.limits.depth:
            raise SubmissionRefused(f"folders nested deeper than {self.limits.depth}")
        if not self.check_owner(st, rel):
            return
        fd = _open_same(parent, name, st, _OPEN_DIR)
        if fd is None:
            return self.refuse(rel, "it changed while it was read")
        try:
            if dest:
                _make_folder(dest)
            self.folder(fd, rel, dest, depth)
        finally:
            os.close(fd)

    def file(self, parent: int, name: str, st: os.stat_result, rel: str, dest: str | None) -> None:
        if not self.check_owner(st, rel):
            return
        if self.owner is None and st.st_nlink > 1:  # a hard link may be any file of the course
            return self.refuse(rel, f"a hard link ({st.st_nlink} names; copy it as a plain file)")
        if st.st_size > self.limits.file_bytes:
            return self.refuse(rel, f"{st.st_size} bytes, over {self.limits.file_bytes}")
        self.add(st.st_size)
        fd = _open_same(parent, name, st, _OPEN_FILE)
        if fd is None:
            return self.refuse(rel, "it changed while it was read")
        try:
            copied = _copy_bounded(fd, dest, self.limits.file_bytes)
        finally:
            os.close(fd)
        if copied is None:
            self.refuse(rel, f"it grew past {self.limits.file_bytes} bytes while it was read")
        else:
            self.add(copied - st.st_size)

    def add(self, size: int) -> None:
        self.total += size
        if self.total > self.limits.total_bytes:
            raise SubmissionRefused(f"more than {self.limits.total_bytes} bytes in all")


def _open_same(parent: int, name: str, st: os.stat_result, flags: int) -> int | None:
    """Open ``name`` without following a link; None unless it is still the file ``st`` saw."""
    try:
        fd = os.open(name, flags, dir_fd=parent)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOENT, errno.ENOTDIR, errno.ENXIO, errno.EACCES):
            return None
        raise
    now = os.fstat(fd)
    if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino) or (
        stat.S_IFMT(now.st_mode) != stat.S_IFMT(st.st_mode)
    ):
        os.close(fd)
        return None
    return fd


def _copy_bounded(src: int, dest: str | None, cap: int) -> int | None:
    """Copy at most ``cap`` bytes from ``src`` to a new file ``dest``; None if there were more."""
    if dest:
        try:  # a file of an earlier run (nbgrader regrading one notebook into autograded/)
            os.unlink(dest)
        except FileNotFoundError:
            pass
    out = os.open(dest, _CREATE, 0o644) if dest else None
    copied = 0
    try:
        while chunk := os.read(src, min(CHUNK, cap + 1 - copied)):
            copied += len(chunk)
            if copied > cap:
                break
            if out is not None:
                os.write(out, chunk)
    finally:
        if out is not None:
            os.close(out)
    if copied > cap:
        if dest:
            os.unlink(dest)
        return None
    return copied


def _make_folder(path: str) -> None:
    """mkdir, or keep a real folder already there (never a link to elsewhere)."""
    try:
        os.mkdir(path, 0o755)
    except FileExistsError:
        if not stat.S_ISDIR(os.lstat(path).st_mode):
            raise


def copy_tree(
    src: str,
    dest: str | None,
    limits: Limits = Limits(),
    *,
    owner: int | None = None,
    ignore: Iterable[str] = (),
    skip_copy: Iterable[str] = (),
) -> list[Refusal]:
    """Copy the submission folder ``src`` into the folder ``dest`` (None: only vet) without following any link; returns what was refused. Raises :class:`SubmissionRefused`
    when ``src`` itself is not a real folder (of ``owner``, when given) or a limit is passed."""
    try:
        fd = os.open(src, _OPEN_DIR)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise SubmissionRefused(f"{shown(src)} is not a real folder (a link?)") from None
        raise
    try:
        st = os.fstat(fd)
        if owner is not None and st.st_uid != owner:
            raise SubmissionRefused(f"the folder belongs to uid {st.st_uid}, not {owner}")
        walk = _Walk(limits, owner, tuple(ignore), tuple(skip_copy))
        if dest:
            _make_folder(dest)
        walk.folder(fd, "", dest, 0)
        return walk.refused
    finally:
        os.close(fd)


def real_folders(top: str, path: str) -> None:
    """Raise :class:`SubmissionRefused` unless every folder from ``top`` (exclusive) down to
    ``path`` is a real folder, not a link (``submitted/alice -> submitted/bob`` is refused)."""
    rel = os.path.relpath(path, top)
    if rel.startswith(os.pardir):
        raise SubmissionRefused(f"{shown(path)} is outside {shown(top)}")
    here = top
    for part in [] if rel == os.curdir else rel.split(os.sep):
        here = os.path.join(here, part)
        st = os.lstat(here)
        if not stat.S_ISDIR(st.st_mode):
            raise SubmissionRefused(f"{shown(here)} is {kind(st)}, not a real folder")


def vet_submission(
    top: str, folder: str, limits: Limits = Limits(), ignore: Iterable[str] = ()
) -> list[Refusal]:
    """Vet ``folder`` (``submitted/<student>/<assignment>``, below ``top`` = ``submitted/``)
    before anything reads it: what is refused in it, or :class:`SubmissionRefused` when the whole
    submission is (a link on the way, a ``timestamp.txt`` that is not a plain file, a limit)."""
    real_folders(os.path.normpath(top), os.path.normpath(folder))
    refused = copy_tree(folder, None, limits, ignore=ignore)
    if any(item.path == "timestamp.txt" for item in refused):
        raise SubmissionRefused("timestamp.txt is not a plain file")
    return refused


def summary(refused: list[Refusal]) -> str:
    """One line for a report: what was refused and why."""
    return "refused (never followed, read or copied): " + "; ".join(map(str, refused))
