"""Late days: the course's policy file, read by grading, shown in the report and the export.

``late_policy.toml`` in the course root (docs/instructors.md)::

    free_late_days = 3             # per student, for the whole term
    penalty_percent_per_day = 10   # of the assignment's points, per late day beyond the free ones
    grace_minutes = 0              # optional: this much late is on time

    [due]                          # with a time zone
    04_gradients = 2026-10-05T23:59:00+02:00

    [free_late_days_for]           # optional: a student's own number of free days
    alice = 5

    [extensions.bob]               # optional: days added to bob's due date
    04_gradients = 2

A day late is any part of 24 hours after the due date (plus extension and grace). Free days are
spent in the order of the due dates, as many as a submission needs, until none is left; every
further day costs ``penalty_percent_per_day`` of the assignment's points, at most all of them,
never more than the score (:func:`ledger`). It uses nbgrader's own machinery: grading writes
the due date into the gradebook's assignment and the extension into the student's submission
(:func:`prepare`; nbgrader's ``total_seconds_late`` counts both), and nbgrader's
``AssignLatePenalties`` asks :class:`PolicyLatePenalty` (its ``LateSubmissionPlugin`` hook)
for the penalty, which it stores as the notebook's ``late_submission_penalty``.
"""

import datetime as dt
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path

from nbgrader.api import Gradebook
from nbgrader.coursedir import CourseDirectory
from nbgrader.plugins import LateSubmissionPlugin
from traitlets import Unicode
from traitlets.config import Config

POLICY_FILE = "late_policy.toml"
KEYS = {
    "free_late_days",
    "penalty_percent_per_day",
    "grace_minutes",
    "due",
    "free_late_days_for",
    "extensions",
}
DAY = 86400.0


class PolicyError(ValueError):
    """The policy file says something that cannot be applied (the message names it)."""


@dataclass(frozen=True)
class Policy:
    due: dict[str, dt.datetime]  # naive UTC, as nbgrader stores times
    free_days: int
    percent_per_day: float
    grace_minutes: float
    free_days_for: dict[str, int]
    extensions: dict[str, dict[str, float]]  # student -> assignment -> days

    def budget(self, student: str) -> int:
        return self.free_days_for.get(student, self.free_days)

    def extension(self, student: str, assignment: str) -> float:
        return self.extensions.get(student, {}).get(assignment, 0.0)


@dataclass(frozen=True)
class Late:
    days_late: int
    free_days_used: int
    free_days_left: int
    days_charged: int
    percent: float  # of the assignment's points


def _number(raw: dict, key: str, default: float, kind: type = float) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise PolicyError(f"{key} must be a number >= 0, not {value!r}")
    if kind is int and value != int(value):
        raise PolicyError(f"{key} must be a whole number of days, not {value!r}")
    return kind(value)


def _utc(assignment: str, when: object) -> dt.datetime:
    if isinstance(when, str):
        try:
            when = dt.datetime.fromisoformat(when)
        except ValueError as exc:
            raise PolicyError(f"due date of {assignment}: {exc}") from None
    if not isinstance(when, dt.datetime):
        raise PolicyError(f"due date of {assignment} must be a date and time, not {when!r}")
    if when.tzinfo is None:
        raise PolicyError(f"due date of {assignment} has no time zone (write e.g. {when}+00:00)")
    return when.astimezone(dt.UTC).replace(tzinfo=None)


def parse(raw: dict) -> Policy:
    """The policy from the parsed TOML; :class:`PolicyError` names any problem."""
    unknown = set(raw) - KEYS
    if unknown:
        raise PolicyError(f"unknown key(s) {sorted(unknown)}; known: {sorted(KEYS)}")
    due = {a: _utc(a, when) for a, when in raw.get("due", {}).items()}
    for_student = {
        s: int(_number(raw["free_late_days_for"], s, 0, int))
        for s in raw.get("free_late_days_for", {})
    }
    extensions = {}
    for student, table in raw.get("extensions", {}).items():
        if not isinstance(table, dict):
            raise PolicyError(f"extensions.{student} must be a table of assignment = days")
        for a in table:
            if a not in due:
                raise PolicyError(f"extensions.{student}.{a}: {a} has no due date in [due]")
        extensions[student] = {a: _number(table, a, 0) for a in table}
    return Policy(
        due=due,
        free_days=int(_number(raw, "free_late_days", 0, int)),
        percent_per_day=_number(raw, "penalty_percent_per_day", 0),
        grace_minutes=_number(raw, "grace_minutes", 0),
        free_days_for=for_student,
        extensions=extensions,
    )


def load(path: Path) -> Policy:
    try:
        return parse(tomllib.loads(Path(path).read_text()))
    except (tomllib.TOMLDecodeError, PolicyError) as exc:
        raise PolicyError(f"{path}: {exc}") from None


def find(root: Path) -> Policy | None:
    path = Path(root) / POLICY_FILE
    return load(path) if path.is_file() else None


def days_late(policy: Policy, student: str, assignment: str, submitted: dt.datetime) -> int:
    due = policy.due[assignment] + dt.timedelta(days=policy.extension(student, assignment))
    seconds = (submitted - due).total_seconds() - 60 * policy.grace_minutes
    return math.ceil(seconds / DAY) if seconds > 0 else 0


def ledger(policy: Policy, submitted: dict[tuple[str, str], dt.datetime]) -> dict:
    """``{(student, assignment): Late}`` for every submission time of an assignment with a due
    date; free days go to the earliest due dates first."""
    out = {}
    order = sorted(policy.due, key=lambda a: (policy.due[a], a))
    for student in sorted({s for s, _ in submitted}):
        left = policy.budget(student)
        for a in order:
            when = submitted.get((student, a))
            if when is None:
                continue
            late = days_late(policy, student, a, when)
            used = min(late, left)
            left -= used
            percent = min(100.0, (late - used) * policy.percent_per_day)
            out[student, a] = Late(late, used, left, late - used, percent)
    return out


def submitted_times(gb: Gradebook) -> dict[tuple[str, str], dt.datetime]:
    """Every submission time in a gradebook (naive UTC, nbgrader's)."""
    out = {}
    for assignment in gb.assignments:
        for sub in assignment.submissions:
            if sub.timestamp is not None:
                out[sub.student_id, assignment.name] = sub.timestamp
    return out


class PolicyLatePenalty(LateSubmissionPlugin):
    """nbgrader's late-penalty hook with the course's policy (see the module docstring)."""

    policy_file = Unicode("", help="the late-day policy (TOML)").tag(config=True)

    def late_submission_penalty(
        self, student_id: str, score: float, total_seconds_late: float
    ) -> float | None:
        pre = self.parent  # nbgrader's AssignLatePenalties, with its gradebook open
        policy = load(Path(self.policy_file))
        if pre.assignment_id not in policy.due:
            return None
        gb = pre.gradebook
        entry = ledger(policy, submitted_times(gb)).get((student_id, pre.assignment_id))
        if entry is None:
            return None
        points = gb.find_notebook(pre.notebook_id, pre.assignment_id).max_score
        return min(score, entry.percent / 100 * points)  # nbgrader caps it at the score too


def configure(cfg: Config, root: Path) -> Policy | None:
    """Use the course's policy in ``cfg`` (nbgrader's AssignLatePenalties), if there is one."""
    policy = find(root)
    if policy is not None:
        cfg.AssignLatePenalties.plugin_class = PolicyLatePenalty
        cfg.PolicyLatePenalty.policy_file = str(Path(root) / POLICY_FILE)
    return policy


def prepare(root: Path, cfg: Config, assignment: str, students: list[str]) -> None:
    """The policy's due date and extensions into the gradebook, before autograde reads them."""
    policy = find(root)
    if policy is None or assignment not in policy.due:
        return
    with Gradebook(CourseDirectory(config=cfg).db_url) as gb:
        gb.update_or_create_assignment(assignment, duedate=policy.due[assignment])
        for student in students:
            days = policy.extension(student, assignment)
            if days:
                gb.update_or_create_student(student)
                gb.update_or_create_submission(assignment, student)
            try:
                sub = gb.find_submission(assignment, student)
            except Exception:
                continue
            sub.extension = dt.timedelta(days=days) if days else None
        gb.db.commit()


def section(root: Path, assignment: str) -> str:
    """The late submissions of ``assignment``, for the grading report (markdown)."""
    policy = find(root)
    if policy is None or assignment not in policy.due:
        return ""
    with Gradebook(f"sqlite:///{Path(root) / 'gradebook.db'}") as gb:
        book = ledger(policy, submitted_times(gb))
        penalty = {
            s.student_id: s.late_submission_penalty for s in gb.assignment_submissions(assignment)
        }
    lines = ["", f"## Late submissions (due {policy.due[assignment]:%Y-%m-%d %H:%M} UTC)", ""]
    lines += ["| student | days late | free days used | free days left | days charged | penalty |"]
    lines += ["|---|---|---|---|---|---|"]
    for (student, a), e in sorted(book.items()):
        if a == assignment and e.days_late:
            got = penalty.get(student) or 0.0
            lines.append(
                f"| {student} | {e.days_late} | {e.free_days_used} | {e.free_days_left} "
                f"| {e.days_charged} | {got:g} points ({e.percent:g} %) |"
            )
    if len(lines) == 5:
        lines.append("| (none) | | | | | |")
    return "\n".join(lines) + "\n"
