"""Expected values as data in the student's notebook: :class:`BakeExpected` (generate_assignment).

In solutions/, a visible check may be written without an expected value,
``check("dense(X (4, 3), ...)", dense(_X, _W, _b), hint="...")``, or with one computed by
code. Either way the student's notebook must hold data, not the code of an answer. When
nbgrader generates the student version (``make exercises``, and ``mathdl-grade``'s own
generate step, so the gradebook's copy of each test cell is the same), this preprocessor runs
the solution once in the sandbox (:mod:`.reference`, cached) and writes each visible check's
answer into its call as a literal: ``expected=[[0.5, 1.25], [-2.0, 3.0]]``. In the student's
Jupyter, ``check()`` then compares with that literal exactly as the grader compares with the
solution's answer (:func:`.checks.compare`), so both give one verdict.

It also enforces the conventions that keep a test cell honest: no ``assert``/``raise`` (a
requirement is a ``check()`` of data, e.g. with :func:`.checks.raised`), one record per
visible call (no visible check inside a loop), a literal short enough to read, and a name a
student understands (no "#N").

A visible check written ``check(name, answer, expected, reveal=False)`` (a constant the student
derives) gets no literal: its expected value is replaced by a seal, ``sealed="seal1:..."``
(:mod:`.sealed`), with which the student's Jupyter tells right from wrong, and the type or shape
of a wrong answer, without the value.
"""

import argparse
import ast
import itertools
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Integer

from .answers import compare
from .apps import load_config
from .cells import HIDDEN, end_of, is_test
from .checks import pack
from .mistakes import answers_for, for_notebook, mistake_records
from .reference import references
from .sealed import SealError, salt_for, seal

ACCURACY_OPTION = "min_accuracy"


class BakeError(ValueError):
    """A test cell that breaks the conventions (the message names the cell and the fix)."""


def literal(data: list[Any]) -> str:
    """Python source for the plain (tagged) data of a check's answer."""
    kind = data[0]
    if kind == "none":
        return "None"
    if kind in ("bool", "int", "str"):
        return repr(data[1])
    if kind == "float":
        return _float(data[1])
    if kind == "dict":
        return "{" + ", ".join(f"{k!r}: {literal(v)}" for k, v in data[1].items()) + "}"
    if kind == "seq":
        items = [literal(d) for d in data[1]]
        if all(d[0] == "int" for d in data[1]):  # a shape
            return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
        return "[" + ", ".join(items) + "]"
    shape, flat = data[1], [_float(x) for x in data[2]]
    return _nested(shape, flat) if shape else flat[0]  # a 0-d array: its number


def _float(x: float | str) -> str:
    if isinstance(x, str):
        return f'float("{x}")'  # nan, inf, -inf
    return repr(float(x)) if math.isfinite(float(x)) else f'float("{x}")'


def _nested(shape: list[int], flat: list[str]) -> str:
    if len(shape) == 1:
        return "[" + ", ".join(flat) + "]"
    step = math.prod(shape[1:])
    rows = [_nested(shape[1:], flat[i * step : (i + 1) * step]) for i in range(shape[0])]
    return "[" + ", ".join(rows) + "]"


def visible_line_map(source: str) -> dict[int, int]:
    """``{line in the full cell: line in the visible part}`` (hidden blocks removed), 1-based."""
    hidden = set()
    for match in HIDDEN.finditer(source):
        first = source.count("\n", 0, match.start()) + 1
        hidden |= set(range(first, first + match.group(0).count("\n") + 1))
    lines = source.count("\n") + 1
    visible = [n for n in range(1, lines + 1) if n not in hidden]
    return {n: i for i, n in enumerate(visible, start=1)}


def _in_loops(tree: ast.AST) -> set[int]:
    """The ids of the calls inside a loop or comprehension (a check there records many times)."""
    kinds = (ast.For, ast.While, ast.ListComp, ast.GeneratorExp, ast.DictComp, ast.SetComp)
    inside: set[int] = set()
    for loop in (n for n in ast.walk(tree) if isinstance(n, kinds)):
        inside |= {id(n) for n in ast.walk(loop) if isinstance(n, ast.Call)}
    return inside


def check_conventions(source: str, where: str) -> None:
    """Raise :class:`BakeError` for ``assert``/``raise`` in a test cell or "#N" check names."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Assert | ast.Raise):
            raise BakeError(
                f"{where}, line {node.lineno}: test cells hold no assert/raise (a kernel can "
                "remove them); check() the data instead, e.g. check(name, raised(f, x), "
                "'ValueError')"
            )
        name = _check_name(node)
        if name and re.search(r"#\s*\d+\s*$", name):
            raise BakeError(f"{where}: the check {name!r} needs a name a student understands")


def _check_name(node: ast.AST) -> Any:
    if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "check" and node.args:
        first = node.args[0]
        return first.value if isinstance(first, ast.Constant) else None
    return None


def bake_cell(
    source: str,
    records: list[dict[str, Any]],
    where: str,
    max_chars: int = 3000,
    mistakes: Callable[[str, int], list[Any]] | None = None,
) -> str:
    """``source`` with each visible check's expected value replaced by its literal.

    ``records``: the solution's visible records of this cell, each with the ``line`` of its
    call in the visible part. ``mistakes(name, index)``: the catalogued mistakes' answers to
    that call (:func:`.mistakes.answers_for`), written into the call as packed data.
    """
    check_conventions(source, where)
    tree = ast.parse(source)
    to_visible = visible_line_map(source)
    looped = _in_loops(tree)
    by_line: dict[int | None, list[dict[str, Any]]] = {}
    for rec in records:
        by_line.setdefault(rec.get("line"), []).append(rec)
    data = source.encode()
    offset = [0, *itertools.accumulate(map(len, data.splitlines(keepends=True)))]
    edits = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "check"):
            continue
        end_line, end_col = end_of(node)
        span = {to_visible.get(n) for n in range(node.lineno, end_line + 1)} - {None}
        found = [r for n in span for r in by_line.get(n, [])]
        if not span:
            continue  # a hidden check: never baked
        if id(node) in looped or len(found) != 1:
            raise BakeError(
                f"{where}, line {node.lineno}: a visible check must run exactly once (it ran "
                f"{len(found)} times): write one check per case, or move the loop into the "
                "hidden tests"
            )
        rec = found[0]
        if _keeps_secret(node):
            edits.append(_sealed_edit(node, rec, records, where, offset, mistakes))
            continue
        if ACCURACY_OPTION in rec:
            continue  # its expected value is the labels, data the cell already holds
        text = literal(rec["answer"])
        if len(text) > max_chars:
            raise BakeError(
                f"{where}, line {node.lineno}: the expected value of {rec['name']!r} is "
                f"{len(text)} characters: use a smaller visible case"
            )
        edits.append(_edit(node, text, offset))
        wrong = _wrong_answers(rec, records, mistakes)
        if wrong:
            at = offset[end_line - 1] + end_col - 1  # before the ")"
            edits.append((at, at, f", mistakes={pack(wrong)!r}"))
    for start, end, text in sorted(edits, reverse=True):
        data = data[:start] + text.encode() + data[end:]
    return data.decode()


def _keeps_secret(node: ast.Call) -> bool:
    """``check(..., reveal=False)``: a derived constant whose value must not be written out."""
    for k in node.keywords:
        if k.arg == "reveal":
            if not isinstance(k.value, ast.Constant) or not isinstance(k.value.value, bool):
                raise BakeError(f"line {node.lineno}: write reveal=False literally")
            return k.value.value is False
    return False


def _sealed_edit(
    node: ast.Call,
    rec: dict[str, Any],
    records: list[dict[str, Any]],
    where: str,
    offset: list[int],
    mistakes: Callable[[str, int], list[Any]] | None,
) -> tuple[int, int, str]:
    """The edit that puts a seal of the solution's answer (:mod:`.sealed`) in place of expected."""
    line = f"{where}, line {node.lineno}"
    unsupported = [k for k in (ACCURACY_OPTION, "chain") if rec.get(k)]
    if rec.get("broadcast"):
        unsupported.append("broadcast")
    if unsupported:
        raise BakeError(f"{line}: reveal=False does not combine with {', '.join(unsupported)}")
    index = [r for r in records if r["name"] == rec["name"]].index(rec)
    salt = salt_for(where, rec["name"], index)
    wrong = _wrong_answers(rec, records, mistakes)
    try:
        token = seal(rec["answer"], rec.get("rtol", 1e-7), rec.get("atol", 1e-12), salt, wrong)
    except SealError as exc:
        raise BakeError(f"{line}: {rec['name']!r} cannot be sealed: {exc}") from None
    start, end, _text = _edit(node, "", offset)
    if start != end:  # an expected argument, positional or keyword: the seal replaces it
        return start, end, f"sealed={token!r}"
    return start, end, f", sealed={token!r}"


def _wrong_answers(
    rec: dict[str, Any],
    records: list[dict[str, Any]],
    mistakes: Callable[[str, int], list[Any]] | None,
) -> list[tuple[str, str, Any]]:
    """The catalogued wrong answers of the call that made ``rec`` (distinct from the right one)."""
    if mistakes is None:
        return []
    index = [r for r in records if r["name"] == rec["name"]].index(rec)
    opts = {k: rec[k] for k in ("rtol", "atol", "broadcast", "chain") if k in rec}
    out = []
    for _mid, label, step, answer in mistakes(rec["name"], index):
        try:
            differs = compare(answer, rec["answer"], **opts) is not None
        except Exception:
            differs = False
        if differs:
            out.append((label, step, answer))
    return out


def _edit(node: ast.Call, text: str, offset: list[int]) -> tuple[int, int, str]:
    """The byte span to replace in a check call and its new text (``expected=<literal>``)."""

    def pos(line: int, col: int) -> int:
        return offset[line - 1] + col

    old: ast.expr | ast.keyword | None = node.args[2] if len(node.args) > 2 else None
    old = old or next((k for k in node.keywords if k.arg == "expected"), None)
    if old is not None:
        start = pos(old.lineno, old.col_offset)
        end = pos(*end_of(old))
        prefix = "expected=" if getattr(old, "arg", None) else ""
        return start, end, prefix + text
    at = pos(*end_of(node.args[1]))
    return at, at, f", expected={text}"


class BakeExpected(NbGraderPreprocessor):
    """generate_assignment: visible checks' expected values become literals (module docstring)."""

    max_chars = Integer(3000, help="longest literal written into a visible check").tag(config=True)

    def preprocess(
        self, nb: NotebookNode, resources: dict[str, Any]
    ) -> tuple[NotebookNode, dict[str, Any]]:
        cells, found = for_notebook(self.config, resources)
        name = resources.get("nbgrader", {}).get("notebook", "?")
        for cell in nb.cells:
            if is_test(cell):
                gid = cell.metadata.nbgrader["grade_id"]
                visible = cells.get(gid, {}).get("visible", [])

                def known(check: str, i: int, gid: str = gid) -> list[tuple[str, str, str, Any]]:
                    return answers_for(found, gid, "visible", check, i)

                where = f"{name}/{gid}"
                cell.source = bake_cell(cell.source, visible, where, self.max_chars, known)
        return nb, resources


def source_path(resources: dict[str, Any]) -> Path:
    """The solution notebook nbgrader is generating from (for messages)."""
    info = resources.get("nbgrader", {})
    return Path("solutions") / info.get("assignment", "?") / f"{info.get('notebook', '?')}.ipynb"


def bake_notebook(root: Path | str, assignment: str) -> dict[str, str]:
    """The baked test cells of solutions/<assignment>/<assignment>.ipynb: ``{grade_id: source}``.

    Raises :class:`BakeError` at the first cell that breaks the conventions.
    """
    root = Path(root).resolve()
    source = root / "solutions" / assignment / f"{assignment}.ipynb"
    config, cache = load_config(root), root / "nbgrader_work" / "references"
    cells = references(source, config, cache)["cells"]
    found = mistake_records(source, config, cache)
    out = {}
    for cell in nbformat.read(str(source), as_version=4).cells:
        if is_test(cell):
            gid = cell.metadata.nbgrader["grade_id"]
            visible = cells.get(gid, {}).get("visible", [])

            def known(check: str, i: int, gid: str = gid) -> list[tuple[str, str, str, Any]]:
                return answers_for(found, gid, "visible", check, i)

            out[gid] = bake_cell(cell.source, visible, f"{assignment}/{gid}", mistakes=known)
    return out


def main(argv: list[str] | None = None) -> int:
    """``python -m mathdl_grading.bake <assignment> ...``: print each baked test cell or the error."""
    ap = argparse.ArgumentParser(prog="python -m mathdl_grading.bake", description=main.__doc__)
    ap.add_argument("assignment", nargs="+")
    ap.add_argument("--root", default=".")
    args = ap.parse_args(argv)
    status = 0
    for assignment in args.assignment:
        try:
            for gid, source in bake_notebook(args.root, assignment).items():
                print(f"# ---- {assignment}/{gid}\n{source}\n")
        except BakeError as exc:
            print(f"BAKE ERROR: {exc}")
            status = 1
    return status


if __name__ == "__main__":
    raise SystemExit(main())
