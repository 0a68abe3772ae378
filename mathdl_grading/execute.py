"""Running a notebook in the sandboxed kernel (:mod:`.sandbox`), nbgrader's ``Execute`` made safe.

:class:`SandboxExecute` is what nbgrader_config.py gives nbgrader in place of ``Execute``, followed
by :class:`.hidden_tests.RunHiddenTests`. A submission is graded in two passes, each in its own
sandboxed kernel:

* **pass A** runs the notebook with every test cell reduced to its visible part, without any
  reference code (:func:`.cells.strip_references`). Its outputs are the graded notebook and
  the feedback, and its ``check()`` records are the visible answers.
* **pass B** (:mod:`.hidden_tests`, with :meth:`SandboxExecute.run_hidden`; only when some
  test cell has hidden tests) runs the same cells again, each hidden part right after its test
  cell, and keeps nothing but the ``check()`` records of the hidden parts (in ``resources["mathdl"]["hidden"]``, never in the notebook) and the name of any error
  they raised. Whatever the hidden code shows the kernel can therefore never reach an output
  that anyone reads: the kernel sees the hidden tests' inputs, never a reference value, and
  its printing is thrown away.

The solution (``mode="reference"``) runs once, hidden parts in place; see :mod:`.reference`.

Everything a kernel sends is bounded: one ZeroMQ message (:data:`MAX_MESSAGE_BYTES`, so a
flood of large frames never reaches the grader's memory), the printing and pictures kept per
cell and per notebook (``update_display`` included), and ``check()`` records apart from them,
so printing never crowds out an answer. Widget messages are ignored.
"""

import copy
import json
from collections import defaultdict
from typing import Any

import zmq
from jupyter_client.connect import channel_socket_types as types
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat import v4
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import Execute
from traitlets import Integer, Unicode

from .cells import error, is_test, split_test, strip_references
from .checks import MIME
from .sandbox import SandboxKernelClient, SandboxKernelManager

#: The largest single message part the grader accepts from a kernel: ZeroMQ drops the
#: connection of a kernel that sends a larger one, so that submission's remaining cells time
#: out (its own loss) and the grader never holds the frame. 32 MiB is far more than any
#: answer or picture of the course needs.
MAX_MESSAGE_BYTES = 32 * 1024 * 1024
NOT_RUN = "NotRunByGrader"


class BoundedClient(SandboxKernelClient):
    """A kernel client whose sockets refuse messages over :data:`MAX_MESSAGE_BYTES`."""

    def _create_connected_socket(self, channel: str, identity: bytes | None = None) -> zmq.Socket:
        sock = self.context.socket(types[channel])
        sock.linger = 1000
        sock.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_BYTES)
        if identity:
            sock.identity = identity
        sock.connect(self._make_url(channel))
        return sock


def _size(content: dict[str, Any]) -> int:
    size = len(str(content.get("text", "")))
    return size + sum(len(str(v)) for v in (content.get("data") or {}).values())


def _is_record(msg: dict[str, Any]) -> bool:
    data = msg.get("content", {}).get("data") or {}
    return msg.get("msg_type") == "display_data" and MIME in data


class SandboxExecute(Execute):
    """nbgrader's Execute in the sandboxed kernel, in two passes (see the module docstring)."""

    mode = Unicode(
        "student",
        help="student (a submission), reference (the solution), mutant (a catalogued mistake: "
        "the solution with one slip, its answers recorded, never compared) or hidden (pass B)",
    ).tag(config=True)
    max_output_chars = Integer(200_000, help="printing and pictures kept per cell").tag(config=True)
    max_notebook_chars = Integer(2_000_000, help="printing and pictures kept per notebook").tag(
        config=True
    )
    max_record_chars = Integer(2_000_000, help="check() answers kept per cell").tag(config=True)

    def __init__(self, **kw: Any) -> None:
        kw.setdefault("kernel_manager_class", SandboxKernelManager)
        super().__init__(**kw)
        self.store_widget_state = False

    def create_kernel_manager(self) -> Any:
        km = super().create_kernel_manager()
        km.mode = "reference" if self.mode == "reference" else "student"
        km.client_factory = BoundedClient
        return km

    # ------------------------------------------------------------------ the passes

    def preprocess(
        self, nb: NotebookNode, resources: dict[str, Any] | None = None, km: Any = None
    ) -> tuple[NotebookNode, dict[str, Any]]:
        resources = resources if resources is not None else {}
        if self.mode == "student":
            return self._grade_submission(nb, resources, km)
        if self.mode in ("reference", "mutant"):
            return self._run_reference(nb, resources, km)
        return self._run(nb, resources, km)

    def _grade_submission(
        self, nb: NotebookNode, resources: dict[str, Any], km: Any
    ) -> tuple[NotebookNode, dict[str, Any]]:
        """Pass A: every test cell reduced to its visible part, without reference code."""
        originals = {}
        for i, cell in enumerate(nb.cells):
            if is_test(cell):
                originals[i], cell.source = cell.source, visible_part(cell.source)
        try:
            nb, resources = self._run(nb, resources, km)
        finally:
            for i, source in originals.items():
                nb.cells[i].source = source
        return nb, resources

    def _run_reference(
        self, nb: NotebookNode, resources: dict[str, Any], km: Any
    ) -> tuple[NotebookNode, dict[str, Any]]:
        """The solution: hidden parts run right after their cell; their records go to resources."""
        originals, hidden = {}, {}
        for i, cell in enumerate(nb.cells):
            if is_test(cell):
                visible, secret = split_test(cell.source)
                originals[i], cell.source = cell.source, visible
                if secret.strip():
                    hidden[i] = secret
        expanded, where = expand(nb, hidden, upto=len(nb.cells))
        try:
            expanded, resources = self._run(expanded, resources, km)
        finally:
            for i, source in originals.items():
                nb.cells[i].source = source
        for i, (j, k) in where.items():
            if nb.cells[i].cell_type == "code":
                nb.cells[i].outputs = expanded.cells[j].outputs
            if k is not None:
                gid = nb.cells[i].metadata.nbgrader["grade_id"]
                resources.setdefault("mathdl", {}).setdefault("hidden_outputs", {})[gid] = (
                    expanded.cells[k].outputs
                )
        return nb, resources

    def run_hidden(
        self,
        visible_nb: NotebookNode,
        hidden: dict[int, str],
        shared: dict[str, Any],
        resources: dict[str, Any],
    ) -> dict[str, dict[str, Any]]:
        """Pass B: ``{grade_id: {"records": [...], "error": name or None}}`` of the hidden parts."""
        last = max(hidden)
        expanded, where = expand(visible_nb, hidden, upto=last + 1)
        setup = "import json as _json\nfrom mathdl_grading.checks import receive_shared\n"
        setup += f"receive_shared(_json.loads({json.dumps(shared)!r}))\n"
        expanded.cells.insert(0, v4.new_code_cell(setup))
        self._run(expanded, {"metadata": resources.get("metadata", {})}, None)
        found = {}
        for i, (_j, k) in where.items():
            if k is None:
                continue
            outputs = expanded.cells[k + 1].outputs
            gid = visible_nb.cells[i].metadata.nbgrader["grade_id"]
            records = [o.data[MIME] for o in outputs if MIME in o.get("data", {})]
            errors = [o.ename for o in outputs if o.get("output_type") == "error"]
            found[gid] = {"records": records, "error": errors[0] if errors else None}
        return found

    # ------------------------------------------------------------------ one run of one kernel

    def _run(
        self, nb: NotebookNode, resources: dict[str, Any], km: Any
    ) -> tuple[NotebookNode, dict[str, Any]]:
        self._stop, self._ran, self._timeouts = None, 0, 0
        self._chars: defaultdict[int, int] = defaultdict(int)
        self._record_chars: defaultdict[int, int] = defaultdict(int)
        self._total = 0
        self._noted: set[tuple[int, bool]] = set()
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
                    cell.outputs = [error(NOT_RUN, self._stop)]
            return nb, resources

    def preprocess_cell(
        self, cell: NotebookNode, resources: dict[str, Any], index: int
    ) -> tuple[NotebookNode, dict[str, Any]]:
        self._ran = index + 1  # cells before this one are done
        if self._stop:
            if cell.cell_type == "code" and cell.source.strip():
                cell.outputs = [error(NOT_RUN, self._stop)]
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

    # ------------------------------------------------------------------ bounded outputs

    def _budget(self, msg: dict[str, Any], cell_index: int) -> bool:
        """True when this output may be kept (records and printing have separate budgets)."""
        size = _size(msg.get("content", {}))
        if _is_record(msg):
            self._record_chars[cell_index] += size
            return self._record_chars[cell_index] <= self.max_record_chars
        if self.mode == "hidden":
            return False  # pass B keeps only records
        self._chars[cell_index] += size
        self._total += size
        return (
            self._chars[cell_index] <= self.max_output_chars
            and self._total <= self.max_notebook_chars
        )

    def output(
        self, outs: list[NotebookNode], msg: dict[str, Any], display_id: str | None, cell_index: int
    ) -> NotebookNode | None:
        if self._budget(msg, cell_index):
            return super().output(outs, msg, display_id, cell_index)
        record = _is_record(msg)
        if (cell_index, record) not in self._noted and (record or self.mode != "hidden"):
            self._noted.add((cell_index, record))
            if record:
                outs.append(error("OutputLimit", "check() answers larger than the grader's limit"))
            else:
                note = "\n... further output dropped by the grader (output limit) ...\n"
                outs.append(v4.new_output("stream", name="stdout", text=note))
        return None

    def _update_display_id(self, display_id: str, msg: dict[str, Any]) -> None:
        """``update_display`` counts against the same budget as any other output."""
        cells = self._display_id_map.get(display_id, {})
        index = next(iter(cells), None)
        if index is not None and not _is_record(msg) and self._budget(msg, index):
            super()._update_display_id(display_id, msg)

    def handle_comm_msg(
        self, outs: list[NotebookNode], msg: dict[str, Any], cell_index: int
    ) -> None:
        """Widgets have no place in a graded notebook: their messages are ignored."""


def visible_part(source: str) -> str:
    """What pass A runs of a test cell: its visible part, without reference code."""
    return strip_references(split_test(source)[0])


def expand(
    nb: NotebookNode, hidden: dict[int, str], upto: int
) -> tuple[NotebookNode, dict[int, tuple[int, int | None]]]:
    """A copy of ``nb``'s first ``upto`` cells with each hidden part as a cell after its test.

    Returns ``(notebook, {original index: (its index, its hidden cell's index or None)})``.
    """
    out = copy.deepcopy(nb)
    out.cells = []
    where: dict[int, tuple[int, int | None]] = {}
    for i, cell in enumerate(nb.cells[:upto]):
        at = len(out.cells)
        out.cells.append(copy.deepcopy(cell))
        where[i] = (at, len(out.cells) if i in hidden else None)
        if i in hidden:
            out.cells.append(v4.new_code_cell(hidden[i], metadata={"mathdl": {"hidden_of": i}}))
    return out, where
