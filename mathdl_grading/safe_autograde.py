"""nbgrader's Autograde, reading a submission without following links (issue 17, break 4).

``submitted/`` may be filled by other means than nbgrader's exchange (a git or tar collection, a
checkout), so it may hold links and special files. nbgrader's ``BaseConverter.init_assignment``
copies every file of a submission with ``shutil.copy``, which follows links, as the grader;
``CourseDirectory.get_existing_timestamp`` reads ``timestamp.txt`` the same way. Here, before
anything reads the submission, :class:`SafeAutograde` vets it with :mod:`.intake`:

* ``submitted/<student>`` or ``submitted/<student>/<assignment>`` that is not a real folder,
  a ``timestamp.txt`` that is not a plain file, or a submission over the size or count limits
  (``CourseDirectory.max_file_size``, ``max_dir_size``): the submission is refused (not graded,
  an error in nbgrader's log);
* a link, special file, hard link or file over the size limit inside it: that file is refused
  (logged, not copied, never read); a refused notebook is not graded;
* everything else (the notebook, a data file, an image) is copied as nbgrader would.

``mathdl-grade`` uses this class; :func:`install` (called by nbgrader_config.py) makes plain
``nbgrader autograde`` and formgrader's Autograde button use it too.
"""

import os

import nbgrader.apps.api
import nbgrader.apps.autogradeapp
from nbgrader.converters import Autograde, BaseConverter

from . import intake


class _CopyWithoutLinks(BaseConverter):
    """Replaces BaseConverter.init_assignment's ``shutil.copy`` loop (see the module docstring)."""

    def init_assignment(self, assignment_id: str, student_id: str) -> None:
        source = self._format_source(assignment_id, student_id)
        dest = self._format_dest(assignment_id, student_id)
        ignore = [*self.coursedir.ignore]
        os.makedirs(os.path.dirname(dest), exist_ok=True)  # autograded/<student>: the grader's
        intake.copy_tree(
            source, dest, intake.Limits.of(self.coursedir), ignore=ignore, skip_copy=["*.ipynb"]
        )


class SafeAutograde(Autograde, _CopyWithoutLinks):
    """Autograde that vets each submission first (see the module docstring)."""

    def init_notebooks(self) -> None:
        """nbgrader's list of submissions, less those whose path holds a control character (a
        newline in a student's folder stops nbgrader's whole run, for every student after it)."""
        super().init_notebooks()
        top = os.path.normpath(
            self.coursedir.format_path(self.coursedir.submitted_directory, ".", ".")
        )
        for path in list(self.assignments):
            why = intake.bad_name(os.path.relpath(path, top))
            if why:
                self.log.error("REFUSED %s: %s (not graded)", intake.shown(path), why)
                del self.assignments[path]

    def init_destination(self, assignment_id: str, student_id: str) -> bool:
        self.vet(assignment_id, student_id)
        return super().init_destination(assignment_id, student_id)

    def vet(self, assignment_id: str, student_id: str) -> list:
        """Refuse the submission or some of its files; returns the refused files."""
        if intake.bad_name(student_id):
            raise intake.SubmissionRefused(
                f"the student id {student_id!a}: {intake.bad_name(student_id)}"
            )
        source = self._format_source(assignment_id, student_id)
        top = self.coursedir.format_path(self.coursedir.submitted_directory, ".", ".")
        limits = intake.Limits.of(self.coursedir)
        refused = intake.vet_submission(top, source, limits, self.coursedir.ignore)
        for item in refused:
            self.log.error("REFUSED in %s's submission: %s", student_id, item)
        names = {item.path for item in refused}
        kept = [nb for nb in self.notebooks if os.path.relpath(nb, source) not in names]
        if self.notebooks and not kept:
            raise intake.SubmissionRefused(f"every notebook of {student_id} was refused")
        self.notebooks[:] = kept
        return refused


def install() -> None:
    """Plain ``nbgrader autograde`` and formgrader's Autograde button build their converter from
    the name ``Autograde`` in these two modules (no setting chooses the class): point it here."""
    nbgrader.apps.autogradeapp.Autograde = SafeAutograde
    nbgrader.apps.api.Autograde = SafeAutograde
