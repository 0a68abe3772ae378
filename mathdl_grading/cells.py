"""The test cells of a graded notebook, as text: what is visible, hidden, and reference code.

A test cell (nbgrader: graded, not a solution) holds a visible part, optional
``### BEGIN HIDDEN TESTS`` ... ``### END HIDDEN TESTS`` blocks, and inside either optional
``### BEGIN REFERENCE`` ... ``### END REFERENCE`` blocks plus ``expected`` arguments of
``check()`` that only the solution's run may evaluate.
"""

import ast
import itertools
import re

from nbformat.notebooknode import NotebookNode
from nbgrader import utils

HIDDEN = re.compile(
    r"^[ \t]*### BEGIN HIDDEN TESTS.*?^[ \t]*### END HIDDEN TESTS[^\n]*\n?", re.M | re.S
)
REFERENCE = re.compile(
    r"^[ \t]*### BEGIN REFERENCE.*?^[ \t]*### END REFERENCE[^\n]*\n?", re.M | re.S
)
HIDDEN_NOTE = "# (hidden tests ran here; their code is not shown)\n"
#: The first line of every test cell (more names may be imported: ``check, raised``).
FIRST_LINE = (
    "from mathdl_grading.checks import check  # graded outside your kernel: leave this line first"
)
FIRST_LINE_PATTERN = re.compile(
    r"from mathdl_grading\.checks import check(, \w+)*  # graded outside your kernel: leave this line first"
)
#: Calls whose argument holds a value only the solution may compute: check(name, answer,
#: expected) and shared(name, value).
SECRET_ARGUMENT = {"check": (2, "expected"), "shared": (1, "value")}


def is_test(cell: NotebookNode) -> bool:
    """A graded code cell that is not a solution: nbgrader's autograder tests."""
    return cell.cell_type == "code" and utils.is_grade(cell) and not utils.is_solution(cell)


def error(ename: str, evalue: str) -> NotebookNode:
    """An error output with a one-line traceback (what nbgrader counts as a failed cell)."""
    return NotebookNode(
        output_type="error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"]
    )


def split_test(source: str) -> tuple[str, str]:
    """``(visible part, hidden part)`` of a test cell: the hidden blocks' inner lines, joined."""
    hidden = []
    for block in HIDDEN.findall(source):
        hidden += block.splitlines(keepends=True)[1:-1]
    return HIDDEN.sub("", source), "".join(hidden)


def end_of(node: ast.AST) -> tuple[int, int]:
    """``(line, column)`` where a parsed node ends (``ast.parse`` always sets both)."""
    line, col = getattr(node, "end_lineno", None), getattr(node, "end_col_offset", None)
    if line is None or col is None:
        raise ValueError(f"{type(node).__name__} node without an end position")
    return line, col


def strip_references(source: str) -> str:
    """The code as a submission's kernel runs it: no ``### BEGIN REFERENCE`` blocks, no
    ``expected`` argument of ``check`` and no ``value`` argument of ``shared``."""
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
        if not isinstance(node, ast.Call) or name not in SECRET_ARGUMENT:
            continue
        position, keyword = SECRET_ARGUMENT[name]
        parts: list[ast.expr | ast.keyword] = [*node.args, *node.keywords]
        parts.sort(key=lambda n: (n.lineno, n.col_offset))
        for before, part in itertools.pairwise(parts):
            if part in node.args[position : position + 1] or getattr(part, "arg", 0) == keyword:
                (line, col), (end_line, end_col) = end_of(before), end_of(part)
                start, end = offset[line - 1] + col, offset[end_line - 1] + end_col
                while data[start:end].count(b"(") > data[start:end].count(b")"):
                    end = data.index(b")", end) + 1  # an argument wrapped in parentheses
                cuts.append((start, end))
    for start, end in sorted(cuts, reverse=True):  # nested ones vanish with their outer span
        if not any(s <= start and end <= e and (s, e) != (start, end) for s, e in cuts):
            data = data[:start] + data[end:]
    return data.decode()
