"""``nbgrader collect`` that trusts nothing a student put in the exchange (issue 17, break 3).

nbgrader's ExchangeCollect takes the newest ``inbound/<student>+<assignment>+<timestamp>+...``
folder of each student, only warns when the folder's owner is not the student it names, and copies
it with ``shutil.copytree``, which follows links (a notebook linked to ``solutions/``, a folder
linked to another student's submission, ``/etc/shadow``, ``/dev/zero``). One failed copy stops
the whole collect. :class:`SafeExchangeCollect` (nbgrader_config.py:
``c.ExchangeFactory.collect``) keeps nbgrader's behaviour for honest submissions and:

* refuses (skips, and logs as an error) a folder whose name is malformed or does not name an
  existing unix user, that is not a real folder, or that is not owned by the user it names: a
  forged ``inbound/<victim>+<assignment>+<future>`` never replaces the victim's submission;
* copies through :func:`.intake.copy_tree` as that student: no link is followed, special files
  and files of another owner (hard links) are refused, sizes and counts are capped
  (``CourseDirectory.max_file_size`` / ``max_dir_size``); a submission over a limit is not
  collected, and the previous one (if any) stays;
* copies into a temporary folder and swaps it in only when complete;
* goes on with the other students whatever one submission does, and lists every refusal at the
  end (``self.refused``).
"""

import fnmatch
import os
import pwd
import re
import shutil
import stat
import tempfile
from collections import defaultdict
from typing import Any

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.exchange.default.collect import ExchangeCollect
from nbgrader.utils import parse_utc

from . import intake

STUDENT_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@-]{0,63}")
TIMESTAMP_BYTES = 100


class SafeExchangeCollect(ExchangeCollect):
    """nbgrader's collect without trusting the inbound folder (see the module docstring)."""

    def init_src(self) -> None:
        if self.coursedir.course_id == "":
            self.fail("No course id specified. Re-run with --course flag.")
        self.course_path = os.path.join(self.root, self.coursedir.course_id)
        self.inbound_path = os.path.join(self.course_path, "inbound")
        for path in (self.course_path, self.inbound_path):
            self._check_exchange_folder(path)
        self.refused: list[intake.Refusal] = []
        records = []
        try:
            names = sorted(os.listdir(self.inbound_path))
        except PermissionError:
            self.fail(f"You don't have read permissions for the directory: {self.inbound_path}")
        for name in names:
            record = self._vetted_record(name)
            if record:
                records.append(record)
        self.src_records = self._chosen(records)

    def _check_exchange_folder(self, path: str) -> None:
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            self.fail(f"Course not found: {path}")
        if not stat.S_ISDIR(st.st_mode):
            self.fail(f"{path} is {intake.kind(st)}, not a folder: refusing to collect from it")
        me = os.geteuid()
        if me != 0 and st.st_uid not in (me, 0) and not self.coursedir.groupshared:
            self.fail(f"{path} belongs to uid {st.st_uid}, not to you: refusing to collect")

    def _refuse(self, name: str, reason: str) -> None:
        self.refused.append(intake.Refusal(name, reason))
        self.log.error("REFUSED %s: %s", intake.shown(name), reason)

    def _vetted_record(self, name: str) -> dict[str, Any] | None:
        """The record of the inbound folder ``name``, or None (not ours, or refused)."""
        parts = name.rsplit("+", 3)
        if len(parts) < 3 or parts[1] != self.coursedir.assignment_id:
            return None
        student = parts[0]
        wanted = self.coursedir.student_id
        if wanted and not fnmatch.fnmatchcase(student, wanted):  # nbgrader: a glob
            return None
        why = self._why_not(name, student, parts[2])
        if why:
            self._refuse(name, why)
            return None
        uid = pwd.getpwnam(student).pw_uid if self.check_owner else None
        return {"username": student, "filename": name, "timestamp": parse_utc(parts[2]), "uid": uid}

    def _why_not(self, name: str, student: str, timestamp: str) -> str | None:
        if not STUDENT_ID.fullmatch(student):
            return "not a valid student id"
        try:
            parse_utc(timestamp)
        except Exception:
            return "its timestamp cannot be read"
        try:
            st = os.lstat(os.path.join(self.inbound_path, name))
        except OSError as exc:  # removed by its owner meanwhile
            return f"cannot be read ({exc.strerror})"
        if not stat.S_ISDIR(st.st_mode):
            return f"{intake.kind(st)}, not a folder (never followed)"
        if not self.check_owner:
            return None
        try:
            uid = pwd.getpwnam(student).pw_uid
        except KeyError:
            return f"no unix user {student!r}"
        if st.st_uid != uid:
            return f"claims to be {student}'s but belongs to uid {st.st_uid}: impersonation"
        return None

    def _chosen(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """nbgrader's choice: each student's newest, or newest before the due date."""
        newest_first = defaultdict(list)
        for record in sorted(records, key=lambda r: r["timestamp"], reverse=True):
            newest_first[record["username"]].append(record)
        duedate = self._duedate() if self.before_duedate else None
        chosen = []
        for mine in newest_first.values():
            early = [r for r in mine if duedate and r["timestamp"] <= duedate]
            chosen.append((early or mine)[0])
        return chosen

    def _duedate(self) -> Any:

        with Gradebook(self.coursedir.db_url, self.coursedir.course_id) as gb:
            try:
                return gb.find_assignment(self.coursedir.assignment_id).duedate
            except MissingEntry:
                return None

    def copy_files(self) -> None:
        assignment = self.coursedir.assignment_id
        self.log.info("Processing %d submissions of %r", len(self.src_records), assignment)
        for record in self.src_records:
            try:  # one bad submission never stops the others
                self._collect(record)
            except Exception as exc:
                self._refuse(record["filename"], f"not collected: {exc}")
        if self.refused:
            self.log.error(
                "Collect refused %d folder(s) or file(s) of %r (see REFUSED above; "
                "docs/instructors.md, 'Files from students').",
                len(self.refused),
                assignment,
            )

    def _collect(self, record: dict[str, Any]) -> None:
        student, assignment = record["username"], self.coursedir.assignment_id
        dest = self.coursedir.format_path(self.coursedir.submitted_directory, student, assignment)
        if not self._newer(record, dest):
            self.log.info("Submission already collected (--update for newer): %s", student)
            return
        parent = os.path.dirname(dest)
        os.makedirs(parent, exist_ok=True)
        top = self.coursedir.format_path(self.coursedir.submitted_directory, ".", ".")
        intake.real_folders(os.path.normpath(top), os.path.normpath(parent))
        scratch = tempfile.mkdtemp(prefix=".collecting-", dir=parent)
        try:
            new = os.path.join(scratch, assignment)
            src = os.path.join(self.inbound_path, record["filename"])
            limits = intake.Limits.of(self.coursedir)
            refused = intake.copy_tree(
                src, new, limits, owner=record["uid"], ignore=self.coursedir.ignore
            )
            refused += self._check_timestamp(new)
            for item in refused:
                self._refuse(f"{record['filename']}/{item.path}", item.reason)
            if os.path.lexists(dest):
                shutil.rmtree(dest)
            os.rename(new, dest)
            self.log.info("Collected submission: %s %s", student, assignment)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def _newer(self, record: dict[str, Any], dest: str) -> bool:
        """nbgrader's rule: copy when nothing is there, or a newer one with --update."""
        if not os.path.lexists(dest):
            return True
        existing = _timestamp_in(dest)
        if self.update and (existing is None or record["timestamp"] > existing):
            return True
        return bool(self.before_duedate and existing != record["timestamp"])

    def _check_timestamp(self, folder: str) -> list[intake.Refusal]:
        """timestamp.txt is read by nbgrader autograde: a small plain file with a timestamp."""
        path = os.path.join(folder, "timestamp.txt")
        if os.path.lexists(path) and _timestamp_in(folder) is None:
            os.unlink(path)
            return [intake.Refusal("timestamp.txt", "not a readable timestamp (removed)")]
        return []


def _timestamp_in(folder: str) -> Any:
    """The timestamp in ``folder``/timestamp.txt, read without following a link; None if none."""
    path = os.path.join(folder, "timestamp.txt")
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):  # never open a device or a FIFO
            return None
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        text = os.read(fd, TIMESTAMP_BYTES + 1)
    finally:
        os.close(fd)
    try:
        return parse_utc(text.decode().strip()) if len(text) <= TIMESTAMP_BYTES else None
    except Exception:
        return None
