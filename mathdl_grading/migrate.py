"""Put the test cells of solutions/ on the course's test convention (re-runnable, idempotent).

    python -m mathdl_grading.migrate                 # every solutions/<a>/<a>.ipynb
    python -m mathdl_grading.migrate path.ipynb ...  # these notebooks

then ``make exercises``. For every autograded test cell:

* its first line becomes :data:`FIRST_LINE` (the old tamper-guard line is replaced);
* ``assert np.allclose(a, b, ...)`` / ``np.isclose`` (with numpy's default tolerances made
  explicit), ``assert np.array_equal(a, b)`` and ``assert a == b`` (one comparison) become
  ``check("<grade_id> #<k>", a, b, rtol=..., atol=...)``;
* every other ``assert`` stays as it is and is listed: it can only take points away (a cell
  scores when all its checks match *and* it raised nothing), but it is decided inside the
  student's kernel, so a rewrite as ``check(...)`` is needed for it to be trustworthy. Test
  cells without any check, and checks whose expected value is a variable computed earlier in
  the cell (a student's function could read it), are listed too.

See docs/instructors.md, "Writing tests".
"""

import ast
import sys
from pathlib import Path

import nbformat

FIRST_LINE = (
    "from mathdl_grading.checks import check  # graded outside your kernel: leave this line first"
)
OLD_FIRST = ("grading_guard", "mathdl_grading.guard", "mathdl_grading.checks import check")
NUMPY_DEFAULTS = {"allclose": (1e-05, 1e-08), "isclose": (1e-05, 1e-08), "array_equal": (0, 0)}


def _numpy_call(test):
    """(function name, call) when ``test`` is ``np.allclose(...)``-like, else None."""
    func = getattr(test, "func", None)
    if (
        isinstance(test, ast.Call)
        and isinstance(func, ast.Attribute)
        and getattr(func.value, "id", None) in ("np", "numpy")
        and func.attr in NUMPY_DEFAULTS
        and len(test.args) == 2
        and all(k.arg in ("rtol", "atol") for k in test.keywords)
    ):
        return func.attr, test
    return None


def as_check(node, source, name):
    """The ``check(...)`` text replacing the assert ``node``, or None if it is not convertible."""
    seg = lambda n: ast.get_source_segment(source, n)  # noqa: E731
    test = node.test
    found = _numpy_call(test)
    if found:
        fname, call = found
        tol = dict(zip(("rtol", "atol"), NUMPY_DEFAULTS[fname], strict=True))
        tol.update({k.arg: seg(k.value) for k in call.keywords})
        a, b = call.args
    elif isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq):
        tol, a, b = {"rtol": 0, "atol": 0}, test.left, test.comparators[0]
    else:
        return None
    if isinstance(node.msg, ast.Constant) and isinstance(node.msg.value, str):
        name += f": {node.msg.value}"
    return f"check({name!r}, {seg(a)}, {seg(b)}, rtol={tol['rtol']}, atol={tol['atol']})"


def migrate_cell(source, gid):
    """(new source, notes) for one test cell."""
    lines = source.split("\n")
    if any(mark in lines[0] for mark in OLD_FIRST):
        lines[0] = FIRST_LINE
    else:
        lines.insert(0, FIRST_LINE)
    source = "\n".join(lines)
    tree = ast.parse(source)
    k = sum(
        isinstance(n, ast.Call) and getattr(n.func, "id", None) == "check" for n in ast.walk(tree)
    )
    asserts = sorted(
        (n for n in ast.walk(tree) if isinstance(n, ast.Assert)), key=lambda n: n.lineno
    )
    edits, notes = [], []
    for node in asserts:
        text = as_check(node, source, f"{gid} #{k + 1}")
        if text is None:
            notes.append(
                f"{gid} line {node.lineno}: kept `{ast.get_source_segment(source, node)[:90]}`"
            )
            continue
        k += 1
        edits.append((node, text))
    rows = source.split("\n")
    for node, text in reversed(edits):  # bottom-up, so earlier positions stay valid
        first, last = rows[node.lineno - 1], rows[node.end_lineno - 1]
        rows[node.lineno - 1 : node.end_lineno] = [
            first.encode()[: node.col_offset].decode()
            + text
            + last.encode()[node.end_col_offset :].decode()
        ]
    source = "\n".join(rows)
    if k == 0:
        notes.append(f"{gid}: no check() at all (scored inside the student's kernel)")
    assigned = {
        t.id
        for n in ast.walk(ast.parse(source))
        if isinstance(n, ast.Assign)
        for t in n.targets
        if isinstance(t, ast.Name)
    }
    for n in ast.walk(ast.parse(source)):
        if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "check" and len(n.args) > 2:
            if isinstance(n.args[2], ast.Name) and n.args[2].id in assigned:
                notes.append(
                    f"{gid} line {n.lineno}: expected `{n.args[2].id}` is computed before the check"
                )
    return source, notes


def migrate(path):
    """Rewrite one notebook in place; returns the notes."""
    nb = nbformat.read(str(path), as_version=4)
    notes = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("grade") and not meta.get("solution"):
            cell.source, more = migrate_cell(cell.source, meta["grade_id"])
            notes += more
    nbformat.write(nb, str(path))
    return notes


def main(argv=None):
    paths = [Path(p) for p in (sys.argv[1:] if argv is None else argv)]
    paths = paths or sorted(
        p for p in Path("solutions").glob("*/*.ipynb") if p.stem == p.parent.name
    )
    for path in paths:
        for note in migrate(path):
            print(f"{path}: {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
