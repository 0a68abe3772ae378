"""The course's nbgrader preprocessors (listed in nbgrader_config.py, so every way of grading uses them).

Autograde: nbgrader's own list with :class:`SandboxExecute` in place of ``Execute`` and
:class:`ScoreChecks` before ``SaveAutoGrades``. Feedback: :class:`HideHiddenTests` added.

* :class:`SandboxExecute` runs the notebook in the sandboxed kernel (:mod:`.sandbox`). When it
  grades a submission it first removes the reference code from the test cells
  (:func:`strip_references`) and puts the cells back afterwards, so the graded notebook shows
  the tests unchanged (no checksum warnings). Test cells run without entering the kernel's
  input history. A kernel that never starts is the grader's error and stops this notebook
  loudly; a kernel that dies during the student's code (a crash, ``os._exit``, the memory or CPU
  cap) leaves the remaining cells "not run" and the notebook is still graded.
* :class:`ScoreChecks` decides each test cell in the grader's process: the cell passes when
  every ``check()`` answer the student's kernel published matches the solution's answer
  (:mod:`.reference`) and the cell raised no error. Warnings on stderr no longer cost points.
* :class:`HideHiddenTests` shows "hidden tests ran here" instead of their code in the feedback,
  and removes any line of a hidden test that a student's output printed.
"""

import ast
import itertools
import re
from collections import defaultdict

from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat import v4
from nbformat.notebooknode import NotebookNode
from nbgrader import utils
from nbgrader.preprocessors import Execute, NbGraderPreprocessor
from traitlets import Bool, Integer, Unicode

from .checks import MIME, compare
from .sandbox import SandboxKernelManager

HIDDEN = re.compile(
    r"^[ \t]*### BEGIN HIDDEN TESTS.*?^[ \t]*### END HIDDEN TESTS[^\n]*\n?", re.M | re.S
)
REFERENCE = re.compile(
    r"^[ \t]*### BEGIN REFERENCE.*?^[ \t]*### END REFERENCE[^\n]*\n?", re.M | re.S
)
HIDDEN_NOTE = "# (hidden tests ran here; their code is not shown)\n"


def is_test(cell):
    return cell.cell_type == "code" and utils.is_grade(cell) and not utils.is_solution(cell)


def error(ename, evalue):
    return NotebookNode(
        output_type="error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"]
    )


def strip_references(source):
    """The test cell as a submission's kernel runs it: no ``expected`` arguments of ``check``
    and no ``### BEGIN REFERENCE`` ... ``### END REFERENCE`` blocks."""
    source = REFERENCE.sub("", source)
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source
    data = source.encode()  # ast's columns count UTF-8 bytes
    offset = [0, *itertools.accumulate(map(len, data.splitlines(keepends=True)))]
    cuts = []
    for node in ast.walk(tree):
        name = getattr(getattr(node, "func", None), "id", None)
        if not isinstance(node, ast.Call) or name != "check":
            continue
        parts = sorted(node.args + node.keywords, key=lambda n: (n.lineno, n.col_offset))
        for before, part in itertools.pairwise(parts):
            if part in node.args[2:3] or getattr(part, "arg", None) == "expected":
                start = offset[before.end_lineno - 1] + before.end_col_offset
                cuts.append((start, offset[part.end_lineno - 1] + part.end_col_offset))
    for start, end in sorted(cuts, reverse=True):  # nested ones vanish with their outer span
        if not any(s <= start and end <= e and (s, e) != (start, end) for s, e in cuts):
            data = data[:start] + data[end:]
    return data.decode()


class SandboxExecute(Execute):
    """nbgrader's Execute in the sandboxed kernel (see the module docstring)."""

    mode = Unicode("student", help="student (a submission) or reference (the solution)").tag(
        config=True
    )
    max_output_chars = Integer(200_000, help="output kept per cell; the rest is dropped").tag(
        config=True
    )

    def __init__(self, **kw):
        kw.setdefault("kernel_manager_class", SandboxKernelManager)
        super().__init__(**kw)

    def create_kernel_manager(self):
        km = super().create_kernel_manager()
        km.mode = self.mode
        return km

    def preprocess(self, nb, resources=None, km=None):
        self._stop, self._ran, self._chars, self._timeouts = None, 0, defaultdict(int), 0
        originals = {}
        if self.mode == "student":
            for i, cell in enumerate(nb.cells):
                if is_test(cell):
                    originals[i], cell.source = cell.source, strip_references(cell.source)
        try:
            return super().preprocess(nb, resources, km)
        except Exception as exc:
            if not self._ran:  # the grader's failure, never a silent 0 for the student
                tail = self.km.log_tail() if hasattr(self.km, "log_tail") else ""
                raise RuntimeError(
                    f"the grading kernel did not start ({type(exc).__name__}: {exc})\n{tail}"
                ) from exc
            self._stop = f"execution stopped ({type(exc).__name__}: {str(exc)[:200]})"
            for cell in nb.cells[self._ran :]:
                if cell.cell_type == "code" and cell.source.strip():
                    cell.outputs = [error("NotRunByGrader", self._stop)]
            return nb, resources
        finally:
            for i, source in originals.items():
                nb.cells[i].source = source

    def preprocess_cell(self, cell, resources, index):
        self._ran = index + 1  # cells before this one are done
        if self._stop:
            if cell.cell_type == "code" and cell.source.strip():
                cell.outputs = [error("NotRunByGrader", self._stop)]
            return cell, resources
        try:
            cell = self.execute_cell(cell, index, store_history=not is_test(cell))
            self._timeouts = 0
        except CellTimeoutError:  # interrupted: the next cells still run, unless it stays busy
            cell.outputs.append(error("CellTimeoutError", f"longer than {self.timeout} s"))
            self._timeouts += 1
            if self._timeouts >= 2:
                self._stop = "the kernel stayed busy after an interrupt, so this cell was not run"
        except DeadKernelError:
            self._stop = "the kernel died in an earlier cell, so this cell was not run"
            why = getattr(self.km, "why_dead", str)() or (
                "a crash, os._exit, exit(), or the grader's memory/CPU/time limit"
            )
            cell.outputs.append(error("DeadKernelError", f"the kernel died here ({why})"))
        return cell, self.resources

    def output(self, outs, msg, display_id, cell_index):
        content = msg.get("content", {})
        size = len(content.get("text", ""))
        size += sum(len(str(v)) for v in content.get("data", {}).values())
        self._chars[cell_index] += size
        if self._chars[cell_index] > self.max_output_chars:
            if self._chars[cell_index] - size <= self.max_output_chars:
                note = f"\n... output truncated by the grader ({self.max_output_chars} characters) ...\n"
                outs.append(v4.new_output("stream", name="stdout", text=note))
            return None
        return super().output(outs, msg, display_id, cell_index)


def verdict(got, want):
    """Problems (strings) of a cell's published answers ``got`` against the solution's ``want``."""
    mine, theirs = defaultdict(list), defaultdict(list)
    for rec in got:
        if isinstance(rec, dict) and isinstance(rec.get("name"), str):
            mine[rec["name"]].append(rec.get("answer"))
    for rec in want:
        theirs[rec["name"]].append(rec)
    problems = [f"{n}: not a check of this test" for n in mine if n not in theirs]
    for name, refs in theirs.items():
        answers = mine.get(name, [])
        if len(answers) != len(refs):
            problems.append(f"{name}: ran {len(answers)} time(s), expected {len(refs)}")
            continue
        for answer, ref in zip(answers, refs):
            try:
                why = compare(answer, ref["answer"], ref["rtol"], ref["atol"])
            except Exception:
                why = "the answer could not be read"
            if why:
                problems.append(f"{name}: {why}")
                break
    return problems


class ScoreChecks(NbGraderPreprocessor):
    """Score each test cell from its published answers, in the grader's process."""

    def preprocess(self, nb, resources):
        from .reference import records_for

        refs = records_for(self.config, resources)
        for cell in nb.cells:
            if is_test(cell):
                self.score(cell, refs.get(cell.metadata.nbgrader["grade_id"], []))
        return nb, resources

    def score(self, cell, refs):
        got, outputs = [], []
        for out in cell.get("outputs", []):
            if MIME in out.get("data", {}):
                got.append(out["data"][MIME])
            elif out.output_type == "stream" and out.get("name") == "stderr":
                outputs.append(v4.new_output("stream", name="stdout", text=out.text))
            elif out.output_type == "execute_result":  # nbgrader would read it as partial credit
                outputs.append(v4.new_output("display_data", data=out.data))
            else:
                outputs.append(out)
        problems = verdict(got, refs) if refs else []
        if problems:
            shown = "; ".join(problems[:5]) + ("; ..." if len(problems) > 5 else "")
            outputs.insert(0, error("CheckFailed", shown))
        cell.outputs = outputs


class HideHiddenTests(NbGraderPreprocessor):
    """Feedback: hidden tests become a note; their lines never appear in any output."""

    enabled = Bool(True, help="hide the hidden tests' code in the feedback").tag(config=True)

    def preprocess(self, nb, resources):
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
    def clean(out, hidden, test):
        def scrub(text):
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


def autograde_preprocessors():
    """nbgrader's autograde list with the sandboxed execution and the out-of-kernel scoring."""
    from nbgrader.converters import Autograde

    out = []
    for pp in Autograde.class_traits()["autograde_preprocessors"].default():
        if pp is Execute:
            out.append(SandboxExecute)
        elif pp.__name__ == "SaveAutoGrades":
            out += [ScoreChecks, pp]
        else:
            out.append(pp)
    return out


def feedback_preprocessors():
    """nbgrader's feedback list with :class:`HideHiddenTests` before the HTML is written."""
    from nbgrader.converters import GenerateFeedback

    return [*GenerateFeedback.class_traits()["preprocessors"].default(), HideHiddenTests]
