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

c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# --- Collecting an LMS download (`nbgrader zip_collect <assignment>`) ---------------------
# Put the LMS's zip of submissions in downloaded/<assignment>/archive/. The expression is
# matched against each extracted file's full path; this one expects files named
# <student>_<anything>.ipynb (e.g. alice_04_gradients.ipynb -> submitted/alice/04_gradients/).
# Adapt it to your LMS's naming (docs/instructors.md).
c.FileNameCollectorPlugin.named_regexp = r".*/(?P<student_id>[^/_]+)_(?P<file_id>[^/]+)$"

# --- Execution and autograding (docs/instructors.md) -------------------------------------
# Per-cell time limit (nbgrader validate and autograde); a cell that runs longer is
# interrupted and its tests score 0. `make grade` can override it (GRADE_TIMEOUT / --timeout).
c.Execute.timeout = 30
c.Execute.interrupt_on_timeout = True
# At most this many lines of output per cell are kept in the graded notebook and feedback.
c.LimitOutput.max_lines = 1000
c.LimitOutput.max_traceback = 100

# The robust preprocessors live in the mathdl_grading package (`pip install -e .`, done by
# `make setup`); where it is not installed, nbgrader's defaults are used.
try:
    from mathdl_grading.preprocessors import autograde_preprocessors, feedback_preprocessors
except ImportError:
    autograde_preprocessors = None
if autograde_preprocessors is not None:
    # nbgrader's default list, plus: the guard call around every test cell (InjectGuard),
    # execution that survives dead or hung kernels and caps output (RobustExecute), and
    # test scores that depend on errors only, not on warnings (NeutralizeGradeOutputs).
    c.Autograde.autograde_preprocessors = autograde_preprocessors()
    # Feedback shows that hidden tests ran and what failed, not their code (nbgrader shows it
    # by default, jupyter/nbgrader#917). Set c.HideHiddenTests.enabled = False to show it.
    c.GenerateFeedback.preprocessors = feedback_preprocessors()
