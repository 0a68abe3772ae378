"""The solution's answers: what :class:`.scoring.ScoreChecks` compares submissions with.

The source notebook (solutions/<assignment>/<notebook>.ipynb) runs once in the same sandboxed
kernel with ``MATHDL_GRADING=reference``: every ``check()`` evaluates its ``expected`` value
there, so a solution that fails its own tests stops grading with an error naming the cell. The
answers it publishes, with their tolerances, are kept per test cell in memory and in
``nbgrader_work/references/`` (keyed by the notebook's SHA-256), written by the grader's own
process; no kernel can reach that folder.
"""

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat
from nbformat.notebooknode import NotebookNode
from nbgrader.coursedir import CourseDirectory
from traitlets.config import Config

from .cells import is_test
from .checks import MIME
from .execute import SandboxExecute

VERSION = "3"  # visible/hidden records, shared values; an expected value is the reference
_MEMORY: dict[str, dict[str, Any]] = {}


def records_for(config: Config, resources: dict[str, Any]) -> dict[str, Any]:
    """The solution's records for the notebook being graded::

    {"cells": {grade_id: {"visible": [record, ...], "hidden": [record, ...]}},
     "shared": {name: plain value}}
    """
    source, cache = source_of(config, resources)
    return references(source, config, cache)


def source_of(config: Config, resources: dict[str, Any]) -> tuple[Path, Path]:
    """``(the solution notebook being graded, the folder of cached records)``."""
    info = resources["nbgrader"]
    coursedir = CourseDirectory(config=config)
    folder = coursedir.format_path(coursedir.source_directory, ".", info["assignment"])
    source = Path(folder) / f"{info['notebook']}.ipynb"
    return source, Path(coursedir.root) / "nbgrader_work" / "references"


def references(
    source: Path | str,
    config: Config,
    cache: Path | str | None = None,
    compute: Callable[[], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The solution's records, cached; ``compute()`` gives them where they are not cached
    (default: run the solution here; :mod:`.parallel` hands in a worker's result)."""
    data = Path(source).read_bytes() + VERSION.encode()
    return cached(data, Path(source).stem, cache, compute or (lambda: run_solution(source, config)))


def references_stored(source: Path | str, cache: Path | str | None) -> bool:
    """Whether :func:`references` of ``source`` would be read from the cache (nothing runs)."""
    return stored(Path(source).read_bytes() + VERSION.encode(), Path(source).stem, cache)


def _cache_file(key: str, stem: str, cache: Path | str | None) -> Path | None:
    return Path(cache) / f"{stem}-{key[:20]}.json" if cache else None


def stored(data: bytes, stem: str, cache: Path | str | None) -> bool:
    """Whether :func:`cached` has a result for ``data`` (in memory or in ``cache``)."""
    key = hashlib.sha256(data).hexdigest()
    path = _cache_file(key, stem, cache)
    return key in _MEMORY or (path is not None and path.is_file())


def cached(
    data: bytes, stem: str, cache: Path | str | None, compute: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    """``compute()``, kept in memory and in ``cache``/<stem>-<sha256 of data>.json (written by
    the grader's process only, atomically); the same ``data`` gives the stored result. A result
    found in memory is written to ``cache`` too where it is not there yet (so that grading
    workers, which start with an empty memory, read it rather than run it again)."""
    key = hashlib.sha256(data).hexdigest()
    path = _cache_file(key, stem, cache)
    if key in _MEMORY:
        if path is not None and not path.is_file():
            _write(path, _MEMORY[key])
        return _MEMORY[key]
    if path is not None and path.is_file():
        _MEMORY[key] = json.loads(path.read_text())
        return _MEMORY[key]
    result = compute()
    if path is not None:
        _write(path, result)
    _MEMORY[key] = result
    return result


def _write(path: Path, result: dict[str, Any]) -> None:
    """``result`` as JSON at ``path``, atomically (a unique temporary file, then a rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.stem, suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "w") as fh:
        fh.write(json.dumps(result))
    os.replace(tmp, path)


def run_solution(source: Path | str, config: Config) -> dict[str, Any]:
    nb = nbformat.read(str(source), as_version=4)
    executor = SandboxExecute(config=config, mode="reference")
    resources: dict[str, Any] = {"metadata": {"path": str(Path(source).parent)}}
    executor.preprocess(nb, resources)
    hidden_outputs = resources.get("mathdl", {}).get("hidden_outputs", {})
    cells: dict[str, dict[str, list[dict[str, Any]]]] = {}
    shared: dict[str, Any] = {}
    for cell in nb.cells:
        if not is_test(cell):
            continue
        gid = cell.metadata.nbgrader["grade_id"]
        parts = {"visible": cell.outputs, "hidden": hidden_outputs.get(gid, [])}
        for part, outputs in parts.items():
            errors = [o for o in outputs if o.output_type == "error"]
            if errors:
                raise RuntimeError(
                    f"the solution {source} fails its own test cell '{gid}' ({part} part): "
                    f"{errors[0].ename}: {errors[0].evalue}"
                )
        cells[gid] = {part: _records(outputs, shared) for part, outputs in parts.items()}
    return {"cells": cells, "shared": shared}


def _records(outputs: list[NotebookNode], shared: dict[str, Any]) -> list[dict[str, Any]]:
    records = []
    for out in outputs:
        record = out.get("data", {}).get(MIME)
        if record is None:
            continue
        if "shared" in record:
            shared[record["shared"]] = record["value"]
        else:
            records.append(record)
    return records
