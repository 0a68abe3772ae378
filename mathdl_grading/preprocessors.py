"""The course's nbgrader preprocessors (listed in nbgrader_config.py, so every way of grading uses them).

Autograde: nbgrader's own list with :class:`.execute.SandboxExecute` and
:class:`.hidden_tests.RunHiddenTests` in place of ``Execute`` (two sandboxed passes: the visible
tests, then the hidden ones whose printing nobody sees) and
:class:`.scoring.ScoreChecks` before ``SaveAutoGrades`` (every decision in the grader's
process). Feedback: :class:`.hidden_feedback.HideHiddenTests` added. Generate:
:class:`.bake.BakeExpected` first. Autograde and feedback end with :class:`.sanitize.SanitizeOutputs`.
"""

from nbgrader.converters import Autograde, GenerateAssignment, GenerateFeedback
from nbgrader.preprocessors import Execute

from .bake import BakeExpected
from .execute import SandboxExecute
from .hidden_feedback import HideHiddenTests
from .hidden_tests import RunHiddenTests
from .sanitize import SanitizeOutputs
from .scoring import ScoreChecks


def autograde_preprocessors() -> list[type]:
    """nbgrader's autograde list with the sandboxed execution and the out-of-kernel scoring."""
    out = []
    for pp in Autograde.class_traits()["autograde_preprocessors"].default():
        if pp is Execute:  # pass A, then pass B (the hidden tests)
            out += [SandboxExecute, RunHiddenTests]
        elif pp.__name__ == "SaveAutoGrades":
            out += [ScoreChecks, pp]
        else:
            out.append(pp)
    return [*out, SanitizeOutputs]  # autograded/ keeps only inert outputs (.sanitize)


def feedback_preprocessors() -> list[type]:
    """nbgrader's feedback list with :class:`HideHiddenTests` before the HTML is written."""
    default = GenerateFeedback.class_traits()["preprocessors"].default()
    return [*default, HideHiddenTests, SanitizeOutputs]


def generate_preprocessors() -> list[type]:
    """nbgrader's generate_assignment list with :class:`.bake.BakeExpected` first (before the
    solutions are cleared and the checksums computed), so the gradebook's copy of each test
    cell is the baked one a student sees."""
    return [BakeExpected, *GenerateAssignment.class_traits()["preprocessors"].default()]
