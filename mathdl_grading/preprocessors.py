"""nbgrader preprocessors that make autograding robust to hostile or broken notebooks.

Configured in nbgrader_config.py (so a plain ``nbgrader autograde`` uses them too)::

    c.Autograde.autograde_preprocessors = [InjectGuard, RobustExecute, ..., NeutralizeGradeOutputs,
                                           SaveAutoGrades, ...]

* :class:`InjectGuard` puts ``mathdl_grading.guard.check()`` at the start and the end of every
  autograded test cell, whoever wrote the test (the end check catches a student function
  that patches a testing tool while the test runs).
* :class:`RobustExecute` is nbgrader's Execute that never aborts the notebook: a dead kernel
  (``os._exit``, a segfault, the memory or CPU cap) or a kernel that stays busy after a
  timeout interrupt marks the remaining cells "not run" (no points for their tests) and the
  notebook is still written and graded. Output beyond ``max_output_chars`` per cell is dropped
  while it arrives, so a print loop cannot fill the grader's memory.
* :class:`HideHiddenTests` (feedback) keeps the hidden tests' code out of the students' HTML.
* :class:`NeutralizeGradeOutputs` makes a test cell's score depend on errors only: stderr
  (warnings) no longer costs the points, and an ``execute_result`` emitted from inside a test
  (nbgrader would read it as partial credit) is turned into plain display output.
"""

import re

import nbformat
from nbclient.exceptions import CellControlSignal, CellTimeoutError, DeadKernelError
from nbformat.notebooknode import NotebookNode
from nbgrader import utils
from nbgrader.preprocessors import Execute, NbGraderPreprocessor
from traitlets import Bool, Integer, Unicode

GUARD_LINE = '__import__("mathdl_grading.guard", fromlist=["check"]).check()  # added by the grader'


def _error_output(ename, evalue):
    return NotebookNode(
        output_type="error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"]
    )


class InjectGuard(NbGraderPreprocessor):
    """Add the tamper-guard call at the start and the end of every autograded test cell."""

    guard_line = Unicode(GUARD_LINE).tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code" and utils.is_grade(cell) and not utils.is_solution(cell):
            source = cell.source.rstrip("\n")
            cell.source = f"{self.guard_line}\n{source}\n{self.guard_line}\n"
        return cell, resources


class RobustExecute(Execute):
    """nbgrader's Execute preprocessor, hardened: it always returns a notebook."""

    max_output_chars = Integer(
        200_000, help="Output kept per cell while it arrives; the rest is dropped with a note."
    ).tag(config=True)

    def preprocess(self, nb, resources=None, km=None):
        self._stop_reason = None
        self._chars = {}
        self._truncated = set()
        self._started = False
        try:
            return super().preprocess(nb, resources, km)
        except Exception as exc:  # the kernel did not start, or something outside a cell failed
            if not self._started:
                # the grader's failure, not the student's: never a silent 0 (issue 14)
                raise RuntimeError(f"the grading kernel did not start: {exc}") from exc
            reason = f"the notebook could not be executed ({type(exc).__name__}: {exc})"
            self.log.error("Execution stopped: %s", reason)
            for cell in nb.cells:
                if cell.cell_type == "code" and not cell.get("outputs") and cell.source.strip():
                    cell.outputs = [_error_output("NotRunByGrader", reason)]
            return nb, resources

    def preprocess_cell(self, cell, resources, index):
        if self._stop_reason is not None:
            if cell.cell_type == "code" and cell.source.strip():
                cell.outputs = [_error_output("NotRunByGrader", self._stop_reason)]
            return cell, resources
        self._started = True
        try:
            return super().preprocess_cell(cell, resources, index)
        except DeadKernelError:
            self._stop_reason = (
                "the kernel died in an earlier cell (a crash, os._exit, exit(), "
                "or the grader's memory/CPU limit), so this cell was not run"
            )
            cell.outputs.append(
                _error_output(
                    "DeadKernelError",
                    "the kernel died while running this cell (a crash, os._exit, "
                    "exit(), or the grader's memory/CPU limit)",
                )
            )
        except CellTimeoutError as exc:
            self._stop_reason = (
                "the kernel stayed busy after a timeout in an earlier cell, "
                "so this cell was not run"
            )
            cell.outputs.append(_error_output("CellTimeoutError", f"{exc}".splitlines()[0][:300]))
        except CellControlSignal:
            raise
        except Exception as exc:  # anything else from the client: stop cleanly, keep grading
            self._stop_reason = f"execution stopped in an earlier cell ({type(exc).__name__})"
            cell.outputs.append(_error_output(type(exc).__name__, str(exc)[:300]))
        if cell.cell_type == "code":
            cell.execution_count = None
        return cell, self.resources

    def output(self, outs, msg, display_id, cell_index):
        content = msg.get("content", {})
        size = (
            len(content.get("text", ""))
            if msg["msg_type"] == "stream"
            else sum(len(str(v)) for v in content.get("data", {}).values())
        )
        used = self._chars.get(cell_index, 0)
        if used + size > self.max_output_chars:
            self._chars[cell_index] = used + size
            if cell_index not in self._truncated:
                self._truncated.add(cell_index)
                outs.append(
                    nbformat.v4.new_output(
                        "stream",
                        name="stdout",
                        text=f"\n... output truncated by the grader (more than {self.max_output_chars} "
                        "characters) ...\n",
                    )
                )
            return None
        self._chars[cell_index] = used + size
        return super().output(outs, msg, display_id, cell_index)


class NeutralizeGradeOutputs(NbGraderPreprocessor):
    """In test cells, only errors decide the score (stderr warnings and stray results do not)."""

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code" or not utils.is_grade(cell) or utils.is_solution(cell):
            return cell, resources
        outputs = []
        for out in cell.get("outputs", []):
            if out.output_type == "stream" and out.get("name") == "stderr":
                out = nbformat.v4.new_output("stream", name="stdout", text=out.text)
            elif out.output_type == "execute_result":
                out = nbformat.v4.new_output(
                    "display_data", data=out.get("data", {}), metadata=out.get("metadata", {})
                )
            outputs.append(out)
        # errors first, so nbgrader's "first error or result decides" rule sees them
        cell.outputs = [o for o in outputs if o.output_type == "error"] + [
            o for o in outputs if o.output_type != "error"
        ]
        return cell, resources


def autograde_preprocessors():
    """nbgrader's autograde list with the robust preprocessors (see nbgrader_config.py)."""
    from nbconvert.preprocessors import ClearMetadataPreprocessor
    from nbgrader.preprocessors import (
        AssignLatePenalties,
        CheckCellMetadata,
        IgnorePattern,
        LimitOutput,
        SaveAutoGrades,
    )

    return [
        InjectGuard,
        RobustExecute,
        IgnorePattern,
        ClearMetadataPreprocessor,
        LimitOutput,
        NeutralizeGradeOutputs,
        SaveAutoGrades,
        AssignLatePenalties,
        CheckCellMetadata,
    ]


class HideHiddenTests(NbGraderPreprocessor):
    """In the HTML feedback, show that hidden tests ran and what failed, not their code.

    nbgrader 0.9 puts the hidden tests back for grading and then shows them in the feedback
    (jupyter/nbgrader#917), which would publish the tests, and often the answers, to every
    student. This replaces each hidden block by a one-line note and shortens tracebacks of
    test cells to their last line (e.g. ``AssertionError: dW1 disagrees with finite
    differences``). Set ``c.HideHiddenTests.enabled = False`` to show everything.
    """

    enabled = Bool(True, help="Hide hidden tests and test tracebacks in the feedback").tag(
        config=True
    )
    begin = Unicode("### BEGIN HIDDEN TESTS").tag(config=True)
    end = Unicode("### END HIDDEN TESTS").tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        if not self.enabled or cell.cell_type != "code":
            return cell, resources
        pattern = re.compile(
            r"^[ \t]*" + re.escape(self.begin) + r".*?^[ \t]*" + re.escape(self.end) + r"[^\n]*\n?",
            re.M | re.S,
        )
        # any code cell: a copy of a test cell pasted elsewhere must not show them either
        cell.source = pattern.sub(
            "# (hidden tests ran here; their code is not shown)\n", cell.source
        )
        if not utils.is_grade(cell) or utils.is_solution(cell):
            return cell, resources
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                out["traceback"] = [f"{out.get('ename', 'Error')}: {out.get('evalue', '')}"]
        return cell, resources


def feedback_preprocessors():
    """nbgrader's feedback list with :class:`HideHiddenTests`."""
    from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
    from nbgrader.preprocessors import GetGrades

    return [GetGrades, HideHiddenTests, CSSHTMLHeaderPreprocessor]
