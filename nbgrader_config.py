"""nbgrader configuration for the mathdl course (read from the repository root).

solutions/<assignment>/<assignment>.ipynb is the instructor's source;
exercises/<assignment>/<assignment>.ipynb the generated student version.
"""

import os

c = get_config()  # noqa: F821  (provided by nbgrader/traitlets when this file is loaded)

HERE = os.path.dirname(os.path.abspath(__file__))

c.CourseDirectory.course_id = "mathdl"
c.CourseDirectory.root = HERE
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(HERE, "gradebook.db")

# The catalogue of known mistakes (solutions/<a>/mistakes.toml: the solution with one slip,
# mathdl_grading.mistakes) is the instructor's: never released, never copied into a grading kernel.
c.CourseDirectory.ignore = [
    ".ipynb_checkpoints",
    "*.pyc",
    "__pycache__",
    "feedback",
    "mistakes.toml",
]

c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# --- Collecting an LMS download (`nbgrader zip_collect <assignment>`) ---------------------
# Put the LMS's zip of submissions in downloaded/<assignment>/archive/. The expression is
# matched against each extracted file's full path; this one expects files named
# <student>_<anything>.ipynb (e.g. alice_04_gradients.ipynb -> submitted/alice/04_gradients/).
# Adapt it to your LMS's naming (docs/instructors.md).
c.FileNameCollectorPlugin.named_regexp = r".*/(?P<student_id>[^/_]+)_(?P<file_id>[^/]+)$"

# --- Execution and autograding (docs/instructors.md) -------------------------------------
# Every way of grading (`make grade`, `nbgrader autograde`, formgrader's Autograde button) uses
# what follows: each notebook runs in a bubblewrap sandbox (mathdl_grading.sandbox) and each test
# cell is scored in nbgrader's own process from the answers its check() calls publish
# (mathdl_grading.scoring.ScoreChecks). Without bubblewrap, autograding stops with an
# error unless c.SandboxKernelManager.unsafe = True (trusted notebooks only).
# Per-cell time limit; a cell that runs longer is interrupted and its tests score 0.
c.Execute.timeout = 30
c.Execute.interrupt_on_timeout = True
# The sandbox's limits (memory_mb, folder_mb, file_mb, processes, open_files, cpu_seconds,
# wall_seconds) are written in one place, the traits of SandboxKernelManager in
# mathdl_grading/sandbox.py (docs/instructors.md, section 7, tabulates what each stops). Override
# one here if you must, e.g.
# c.SandboxKernelManager.wall_seconds = <seconds>
# Deleted test cells are put back (nbgrader's own OverwriteCells), so their points are at stake.
c.OverwriteCells.add_missing_cells = True
# At most this many lines of output per cell are kept in the graded notebook and feedback.
c.LimitOutput.max_lines = 1000
c.LimitOutput.max_traceback = 100

# --- Files from students (mathdl_grading.intake; docs/instructors.md, "Files from students") --
# Nothing in a submission is followed or read unless it is a plain file or folder: links and
# special files are refused, in nbgrader's exchange (`nbgrader collect`, checked for owner and
# name too) and in submitted/ (`make grade`, `nbgrader autograde`, formgrader). Limits per file
# and per submission, in kB (nbgrader's own settings; `nbgrader submit` also applies them where
# students load this file):
c.CourseDirectory.max_file_size = 20_000
c.CourseDirectory.max_dir_size = 50_000
# c.ExchangeFactory.collect is set below: SafeExchangeCollect with the course package, and a
# collect that refuses without it (a student's copy never collects).
try:
    from mathdl_grading.safe_autograde import install as _vet_submissions
except Exception:  # no (or a broken) package: autograding refuses below, nothing is graded
    _vet_submissions = None
if _vet_submissions is not None:
    _vet_submissions()  # nbgrader autograde and formgrader's Autograde use SafeAutograde

# The preprocessors live in the mathdl_grading package (`pip install -e .`, done by `make setup`).
# Where it is not installed (a student's copy), `nbgrader validate` still works with nbgrader's
# own defaults, but autograding REFUSES to run (it would run students' code unsandboxed, as
# whoever grades): install the course package, or set MATHDL_UNSAFE_GRADING=1 in the
# environment to grade with nbgrader's plain Execute (trusted notebooks only).
# Any error counts, not only ImportError: traitlets ignores a config file that raises, which would
# leave nbgrader's unsandboxed defaults in force.
try:
    from mathdl_grading import feedback, preprocessors, sanitize

    c.Autograde.autograde_preprocessors = preprocessors.autograde_preprocessors()
    # The student version's visible checks get the solution's answers as data (and the known
    # mistakes' answers), written by generate_assignment: `make exercises` and mathdl-grade alike.
    c.GenerateAssignment.preprocessors = preprocessors.generate_preprocessors()
    # Feedback shows "hidden tests ran here" and the failure message, never the hidden code
    # (nbgrader shows it by default, jupyter/nbgrader#917), with MathJax inlined (no CDN).
    c.GenerateFeedback.preprocessors = preprocessors.feedback_preprocessors()
    feedback.configure(c)
    # What a browser renders from a submission (feedback, formgrader) is inert: docs/instructors.md.
    sanitize.configure(c)
    _missing = None
except Exception as exc:
    _missing = f"{type(exc).__name__}: {exc}"
if _missing and os.environ.get("MATHDL_UNSAFE_GRADING") != "1":
    from nbgrader.preprocessors import NbGraderPreprocessor

    class NoSandbox(NbGraderPreprocessor):
        """Autograding without the course package: refuse before any student code runs."""

        def preprocess(self, nb, resources):
            raise RuntimeError(
                "refusing to autograde: the course package mathdl_grading cannot be imported "
                f"({_missing}), so there is no sandbox. Install it (`make setup`, or "
                "`pip install -e .` in the course), or set MATHDL_UNSAFE_GRADING=1 to run "
                "students' code unsandboxed (trusted notebooks only)."
            )

    c.Autograde.autograde_preprocessors = [NoSandbox]

    from nbgrader.exchange.default.collect import ExchangeCollect

    class NoSafeCollect(ExchangeCollect):
        """Collecting without the course package would follow students' links: refuse."""

        def start(self):
            raise RuntimeError(
                f"refusing to collect: mathdl_grading cannot be imported ({_missing})"
            )

    c.ExchangeFactory.collect = NoSafeCollect
elif not _missing:
    c.ExchangeFactory.collect = "mathdl_grading.exchange.SafeExchangeCollect"
