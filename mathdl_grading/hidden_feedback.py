"""The feedback without the hidden tests: :class:`HideHiddenTests` (nbgrader's generate_feedback).

nbgrader's feedback shows every test cell's code, hidden tests included (jupyter/nbgrader#917).
This preprocessor puts "hidden tests ran here" in place of each hidden block and removes any line
of a hidden test that a student's output printed, so the feedback never shows hidden code.
"""

from typing import Any

from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Bool

from .cells import HIDDEN, HIDDEN_NOTE, is_test


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
