"""Pass B of grading a submission: :class:`RunHiddenTests`, right after :class:`.execute.SandboxExecute`.

Pass A (:class:`.execute.SandboxExecute`) ran the notebook with every test cell reduced to its
visible part. When some test cell has hidden tests, this preprocessor runs the same cells again
in a fresh sandboxed kernel, each hidden part right after its test cell, with the solution's
shared values (:mod:`.reference`), and keeps only the ``check()`` records of the hidden parts
and the name of any error they raised, in ``resources["mathdl"]["hidden"]`` (never in the
notebook), where :class:`.scoring.ScoreChecks` reads them.
"""

import copy

from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor

from .cells import is_test, split_test, strip_references
from .execute import SandboxExecute, visible_part
from .reference import records_for


def hidden_parts(nb: NotebookNode) -> dict[int, str]:
    """``{cell index: the hidden tests' code, without reference code}`` of the test cells."""
    hidden = {}
    for i, cell in enumerate(nb.cells):
        if is_test(cell):
            secret = split_test(cell.source)[1]
            if secret.strip():
                hidden[i] = strip_references(secret)
    return hidden


class RunHiddenTests(NbGraderPreprocessor):
    """Pass B: the hidden parts' records and errors into ``resources`` (module docstring)."""

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        hidden = hidden_parts(nb)
        if not hidden:
            return nb, resources
        shared = records_for(self.config, resources).get("shared", {})
        visible_nb = copy.deepcopy(nb)  # the notebook as pass A ran it
        for cell in visible_nb.cells:
            if is_test(cell):
                cell.source = visible_part(cell.source)
        runner = SandboxExecute(config=self.config, mode="hidden")
        found = runner.run_hidden(visible_nb, hidden, shared, resources)
        resources.setdefault("mathdl", {})["hidden"] = found
        return nb, resources
