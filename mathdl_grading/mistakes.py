"""The catalogue of known mistakes: feedback that names the mistake and the next step.

``solutions/<assignment>/mistakes.toml`` (never released: nbgrader_config.py lists it in
``CourseDirectory.ignore``, so it is neither copied to the student version nor into a grading
kernel) lists the typical wrong answers of each part as the solution with one slip::

    [[mistake]]
    id = "bias-grad-not-summed"
    cell = "net_sol"                  # the solution cell the slip is made in
    replace = ["db2 = dP.sum(axis=0)", "db2 = dP"]
    label = "bias gradient not summed over the batch"
    next = "b was added to every row, so its gradient collects from every row"

The grader runs each such mutant once in the sandbox (mode ``mutant``: its answers recorded,
never compared), cached like the references. A failed check whose answer matches a mistake's
answer to the same call, within the check's tolerance (and the mistake is distinguishable from
the right answer there), is reported with the mistake's label and next step; visible checks
carry the mistakes' answers as data (:mod:`.bake`), so the student's own Jupyter names them too.
"""

import json
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat
from nbformat.notebooknode import NotebookNode
from traitlets.config import Config

from .cells import is_test
from .checks import MIME
from .execute import SandboxExecute
from .reference import cached, references, source_of, stored

FILE = "mistakes.toml"
VERSION = "1"


class CatalogueError(ValueError):
    """A mistake that cannot be planted (the message names it)."""


def catalogue(source: Path | str) -> list[dict[str, Any]]:
    """The mistakes of the solution notebook ``source`` (a list of dicts; [] without a file)."""
    path = Path(source).parent / FILE
    if not path.is_file():
        return []
    items = tomllib.loads(path.read_text(encoding="utf-8")).get("mistake", [])
    for item in items:
        missing = {"id", "cell", "replace", "label", "next"} - set(item)
        if missing:
            raise CatalogueError(f"{path}: mistake {item.get('id', '?')} lacks {sorted(missing)}")
    return items


def plant(nb: NotebookNode, mistake: dict[str, Any]) -> NotebookNode:
    """A copy of the solution notebook with the mistake's slip made in its cell."""
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    old, new = mistake["replace"]
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == mistake["cell"]:
            if old not in cell.source:
                raise CatalogueError(
                    f"mistake {mistake['id']}: {old!r} is not in the cell {mistake['cell']}"
                )
            cell.source = cell.source.replace(old, new, 1)
            return nb
    raise CatalogueError(f"mistake {mistake['id']}: no cell {mistake['cell']}")


def mistake_records(
    source: Path | str,
    config: Config,
    cache: Path | str | None = None,
    cells_of: Callable[[int], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """``{mistake id: {"label", "next", "cells": {grade_id: {"visible": [...], "hidden": [...]}}}}``.

    ``cells_of(i)`` gives the ``i``-th mistake's cells where they are not cached (default:
    :func:`mutant_cells`, run here; :mod:`.parallel` hands in its workers' results)."""
    items = catalogue(source)
    if not items:
        return {}

    def run_all() -> dict[str, Any]:
        run = cells_of or (lambda i: mutant_cells(source, config, i))
        out: dict[str, Any] = {}
        for i, item in enumerate(items):
            out[item["id"]] = {"label": item["label"], "next": item["next"], "cells": run(i)}
        return out

    return cached(_key_data(source), f"{Path(source).stem}-mistakes", cache, run_all)


def mistakes_stored(source: Path | str, cache: Path | str | None) -> bool:
    """Whether :func:`mistake_records` of ``source`` would be read from the cache (or there is
    no catalogue): nothing to run."""
    if not catalogue(source):
        return True
    return stored(_key_data(source), f"{Path(source).stem}-mistakes", cache)


def _key_data(source: Path | str) -> bytes:
    return Path(source).read_bytes() + (Path(source).parent / FILE).read_bytes() + VERSION.encode()


def mutant_cells(source: Path | str, config: Config, index: int) -> dict[str, Any]:
    """The records of the ``index``-th catalogued mistake of ``source``, run in the sandbox."""
    nb = nbformat.read(str(source), as_version=4)
    return _run_mutant(plant(nb, catalogue(source)[index]), Path(source).parent, config)


def _run_mutant(nb: NotebookNode, folder: Path, config: Config) -> dict[str, dict[str, list[Any]]]:
    resources: dict[str, Any] = {"metadata": {"path": str(folder)}}
    SandboxExecute(config=config, mode="mutant").preprocess(nb, resources)
    hidden = resources.get("mathdl", {}).get("hidden_outputs", {})
    cells: dict[str, dict[str, list[Any]]] = {}
    for cell in nb.cells:
        if is_test(cell):
            gid = cell.metadata.nbgrader["grade_id"]
            parts = {"visible": cell.outputs, "hidden": hidden.get(gid, [])}
            cells[gid] = {
                part: [o.data[MIME] for o in outs if "name" in o.get("data", {}).get(MIME, {})]
                for part, outs in parts.items()
            }
    return cells


def answers_for(
    mistakes: dict[str, Any], gid: str, part: str, name: str, index: int
) -> list[tuple[str, str, str, Any]]:
    """``[(id, label, next, answer)]``: each mistake's answer to the ``index``-th call ``name``."""
    out = []
    for mid, item in mistakes.items():
        recs = item["cells"].get(gid, {}).get(part, [])
        same = [r for r in recs if r.get("name") == name]
        if index < len(same):
            out.append((mid, item["label"], item["next"], same[index].get("answer")))
    return out


def for_notebook(
    config: Config, resources: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(the solution's records per test cell, the catalogued mistakes' records)`` of the
    notebook nbgrader is processing (both cached: :mod:`.reference`)."""
    source, cache = source_of(config, resources)
    return references(source, config, cache)["cells"], mistake_records(source, config, cache)
