"""Read, validate and repair a submitted notebook before nbgrader sees it.

nbgrader stops a whole ``autograde`` run on some broken inputs (corrupted nbgrader metadata
raises a schema error for the batch) and silently mis-grades others (a deleted test cell is
simply not graded). So every submission goes through :func:`prepare` first:

* unreadable or invalid JSON, not a notebook, too large -> ``None`` and a note (score 0);
* each cell is rebuilt from its type, source and nbgrader metadata only (outputs from the
  student's own run are dropped, so a notebook full of output costs nothing);
* nbgrader metadata is reset from the source notebook for every known grade id; unknown or
  malformed nbgrader metadata is removed; a duplicated grade id keeps its last occurrence
  (like nbgrader) and the earlier copies become ordinary cells;
* cells the student deleted are put back (the released version: instructions, the test
  cell, or the empty solution stub) after the cell that precedes them in the source, so the
  tests run and a deleted solution cell scores 0 instead of breaking the grading.
"""

import copy
import json

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_raw_cell

MAX_NOTEBOOK_BYTES = 100 * 1024 * 1024


class Unreadable(Exception):
    """The submission cannot be graded at all (the message says why, for the report)."""


def nbgrader_meta(cell):
    meta = cell.get("metadata", {}).get("nbgrader")
    return meta if isinstance(meta, dict) else None


def grade_id(cell):
    meta = nbgrader_meta(cell)
    gid = meta.get("grade_id") if meta else None
    return gid if isinstance(gid, str) and gid else None


def is_test_cell(cell):
    meta = nbgrader_meta(cell) or {}
    return cell.get("cell_type") == "code" and bool(meta.get("grade")) and not meta.get("solution")


def is_locked_cell(cell):
    meta = nbgrader_meta(cell) or {}
    return bool(meta.get("locked")) or is_test_cell(cell)


def _text(source):
    if isinstance(source, str):
        return source
    if isinstance(source, list) and all(isinstance(s, str) for s in source):
        return "".join(source)
    return None


def read_notebook_file(path, max_bytes=MAX_NOTEBOOK_BYTES):
    """Parse a submitted file into a clean nbformat v4 notebook, or raise :class:`Unreadable`."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise Unreadable(f"cannot read the notebook ({exc.strerror})") from None
    if size > max_bytes:
        raise Unreadable(
            f"the notebook is {size / 1e6:.0f} MB, more than the {max_bytes / 1e6:.0f} MB limit"
        )
    try:
        raw = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError:
        raise Unreadable("the notebook is not UTF-8 text (is it really a .ipynb file?)") from None
    except json.JSONDecodeError as exc:
        raise Unreadable(
            f"the notebook is not valid JSON (line {exc.lineno}, column {exc.colno}: "
            f"{exc.msg}); was it truncated or edited by hand?"
        ) from None
    except RecursionError:
        raise Unreadable("the notebook's JSON is nested too deeply") from None
    return rebuild(raw)


def rebuild(raw):
    """A valid v4 notebook with the raw notebook's cells (type, source, nbgrader metadata)."""
    if not isinstance(raw, dict) or not isinstance(raw.get("cells"), list):
        if isinstance(raw, dict) and isinstance(raw.get("worksheets"), list):
            raise Unreadable(
                "this is an nbformat v3 notebook; save it again with Jupyter 4 or later"
            )
        raise Unreadable("the file is JSON but not a Jupyter notebook (no list of cells)")
    nb = new_notebook()
    dropped = 0
    for cell in raw["cells"]:
        if not isinstance(cell, dict):
            dropped += 1
            continue
        source = _text(cell.get("source", ""))
        kind = cell.get("cell_type")
        if source is None or kind not in ("code", "markdown", "raw"):
            dropped += 1
            continue
        make = {"code": new_code_cell, "markdown": new_markdown_cell, "raw": new_raw_cell}[kind]
        new = make(source=source)
        meta = cell.get("metadata")
        if isinstance(meta, dict) and isinstance(meta.get("nbgrader"), dict):
            new.metadata["nbgrader"] = copy.deepcopy(meta["nbgrader"])
        nb.cells.append(new)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    nb["_dropped_cells"] = dropped
    return nb


def align(nb, source_nb, release_nb):
    """Make the submission's nbgrader structure match the source. Returns notes for the report."""
    notes = []
    dropped = nb.pop("_dropped_cells", 0)
    if dropped:
        notes.append(f"{dropped} malformed cell(s) were ignored")
    source_meta = {}
    for cell in source_nb.cells:
        gid = grade_id(cell)
        if gid:
            source_meta[gid] = (cell.cell_type, copy.deepcopy(nbgrader_meta(cell)))

    # 1. unknown / malformed nbgrader metadata -> plain cell
    for i, cell in enumerate(nb.cells):
        if "nbgrader" not in cell.metadata:
            continue
        gid = grade_id(cell)
        if gid not in source_meta:
            del cell.metadata["nbgrader"]
            notes.append(
                f"cell {i}: nbgrader metadata with an unknown or missing grade id was removed"
            )

    # 2. duplicated grade ids: keep the last occurrence
    last = {}
    for i, cell in enumerate(nb.cells):
        gid = grade_id(cell)
        if gid:
            last[gid] = i
    for i, cell in enumerate(nb.cells):
        gid = grade_id(cell)
        if gid and last[gid] != i:
            del cell.metadata["nbgrader"]
            notes.append(f"cell {i}: duplicate of '{gid}'; only the last copy counts")

    # 3. reset metadata from the source (cell type too)
    for i, cell in enumerate(nb.cells):
        gid = grade_id(cell)
        if not gid:
            continue
        kind, meta = source_meta[gid]
        if cell.cell_type != kind:
            notes.append(f"cell '{gid}' was changed from {kind} to {cell.cell_type}; changed back")
            replacement = (new_code_cell if kind == "code" else new_markdown_cell)(
                source=cell.source
            )
            nb.cells[i] = cell = replacement
        if nbgrader_meta(cell) != meta:
            changed = sorted(
                k
                for k in set(meta) | set(nbgrader_meta(cell) or {})
                if k not in ("checksum", "cell_type")
                and (nbgrader_meta(cell) or {}).get(k) != meta.get(k)
            )
            if changed:
                notes.append(f"cell '{gid}': nbgrader metadata ({', '.join(changed)}) restored")
        cell.metadata["nbgrader"] = meta
        if meta.get("locked"):
            cell.metadata["editable"] = False
            cell.metadata["deletable"] = False

    # 4. put back deleted cells (released version), after their predecessor in the source
    present = {grade_id(c): i for i, c in enumerate(nb.cells) if grade_id(c)}
    insert_at = 0
    restored = []
    for cell in release_nb.cells:
        gid = grade_id(cell)
        if not gid:
            continue
        if gid in present:
            insert_at = nb.cells.index(next(c for c in nb.cells if grade_id(c) == gid)) + 1
            continue
        new = copy.deepcopy(cell)
        if new.cell_type == "code":
            new.outputs = []
            new.execution_count = None
        new.metadata["nbgrader"] = (
            copy.deepcopy(source_meta[gid][1]) if gid in source_meta else new.metadata["nbgrader"]
        )
        nb.cells.insert(insert_at, new)
        insert_at += 1
        restored.append(gid)
    if restored:
        notes.append("deleted cell(s) put back: " + ", ".join(restored))
    return notes


def student_code(nb, source_nb, release_nb=None):
    """(index, source) of the code cells whose content the student controls when graded.

    Locked cells are skipped (nbgrader restores their source before running them), and so are
    exact copies of the instructor's cells (a duplicated test cell is the instructor's code).
    """
    locked_ids = {grade_id(c) for c in source_nb.cells if grade_id(c) and is_locked_cell(c)}
    known = {c.source.strip() for c in source_nb.cells if c.cell_type == "code"}
    if release_nb is not None:
        known |= {
            c.source.strip()
            for c in release_nb.cells
            if c.cell_type == "code" and is_locked_cell(c)
        }
    out = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if grade_id(cell) in locked_ids or cell.source.strip() in known:
            continue
        out.append((i, cell.source))
    return out


def write_notebook(nb, path):
    nbformat.validate(nb)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
