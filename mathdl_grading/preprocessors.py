"""The course's nbgrader preprocessors (listed in nbgrader_config.py, so every way of grading uses them).

Autograde: nbgrader's own list with :class:`.execute.SandboxExecute` and
:class:`.hidden_tests.RunHiddenTests` in place of ``Execute`` (two sandboxed passes: the visible
tests, then the hidden ones whose printing nobody sees) and
:class:`.scoring.ScoreChecks` before ``SaveAutoGrades`` (every decision in the grader's
process). Feedback: :class:`HideHiddenTests` added.

* :class:`HideHiddenTests` shows "hidden tests ran here" instead of their code in the feedback,
  and removes any line of a hidden test that a student's output printed.
"""

from typing import Any

from nbformat.notebooknode import NotebookNode
from nbgrader.converters import Autograde, GenerateAssignment, GenerateFeedback
from nbgrader.preprocessors import Execute, NbGraderPreprocessor
from traitlets import Bool

from .bake import BakeExpected
from .cells import HIDDEN, HIDDEN_NOTE, is_test, strip_references
from .execute import SandboxExecute
from .hidden_tests import RunHiddenTests
from .sanitize import SanitizeOutputs
from .scoring import ScoreChecks, verdict

__all__ = [
    "HideHiddenTests",
    "RunHiddenTests",
    "SandboxExecute",
    "ScoreChecks",
    "autograde_preprocessors",
    "feedback_preprocessors",
    "is_test",
    "strip_references",
    "verdict",
]


class HideHiddenTests(NbGraderPreprocessor):
    """Feedback: hidden tests become a note; their lines never appear in any output."""

    enabled = Bool(True, help="hide the hidden tests' code in the feedback").tag(config=True)

    def preprocess(
        self, nb: NotebookNode, resources: dict[str, Any]
    ) -> tuple[NotebookNode, dict[str, Any]]:
        if not self.enabled:
            return nb, resources
        hidden = set()
        for cell in nb.cells:
            for block in HIDDEN.findall(cell.source) if cell.cell_type == "code" else []:
                hidden |= {ln.strip() for ln in block.splitlines()[1:-1] if len(ln.strip()) >= 12}
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.source = HIDDEN.sub(HIDDEN_NOTE, cell.source)
                cell.outputs = [self.clean(o, hidden, is_test(cell)) for o in cell.outputs]
        return nb, resources

    @staticmethod
    def clean(out: NotebookNode, hidden: set[str], test: bool) -> NotebookNode:
        def scrub(text: str) -> str:
            for line in sorted(hidden, key=len, reverse=True):
                text = text.replace(line, "[hidden test code]")
            return text

        if out.output_type == "stream":
            out.text = scrub(out.text)
        elif out.output_type == "error":
            out.traceback = [f"{out.ename}: {out.evalue}"] if test else out.traceback
            out.traceback = [scrub(t) for t in out.traceback]
        elif "data" in out:
            out.data = {k: scrub(v) if isinstance(v, str) else v for k, v in out.data.items()}
        return out


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
