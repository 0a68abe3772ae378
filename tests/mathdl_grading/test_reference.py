"""mathdl_grading.reference (and the mistakes' cache): runs handed in by grading workers."""

import shutil
from pathlib import Path

import nbformat

from mathdl_grading import parallel


def test_reference_runs_handed_in_are_cached_and_not_run_again(tmp_path):
    """What the workers' reference runs hand in (parallel.Prefetch) is what grading reads, from
    memory or the course's cache folder; nothing is run again (no kernel here)."""
    from mathdl_grading import mistakes, reference

    course = Path(__file__).parents[2] / "solutions" / "04_gradients"
    source = tmp_path / "a1" / "a1.ipynb"
    source.parent.mkdir()
    nb = nbformat.read(str(course / "04_gradients.ipynb"), as_version=4)
    nb.metadata["this_test"] = str(tmp_path)  # a notebook no other test has cached in memory
    nbformat.write(nb, str(source))
    shutil.copy(course / mistakes.FILE, source.parent)
    ids = [m["id"] for m in mistakes.catalogue(source)]
    cache, elsewhere = tmp_path / "cache", tmp_path / "another_course_cache"
    expected = [("solution", str(source))] + [("mistake", str(source), i) for i in range(len(ids))]
    assert len(ids) > 1 and parallel.reference_tasks(source, cache) == expected

    def never():
        raise AssertionError("ran again")

    records = {"cells": {"t": {"visible": [{"name": "x"}], "hidden": []}}, "shared": {}}
    assert reference.references(source, None, cache, compute=lambda: records) == records
    assert reference.references(source, None, cache, compute=never) == records
    found = mistakes.mistake_records(source, None, cache, cells_of=lambda i: {"cell": i})
    assert list(found) == ids and [found[m]["cells"] for m in ids] == [
        {"cell": i} for i in range(len(ids))
    ]
    assert parallel.reference_tasks(source, cache) == []
    # a result found in memory is written to another course's cache too (workers read it there)
    assert not list(elsewhere.glob("*.json"))
    assert reference.references(source, None, elsewhere, compute=never) == records
    reference._MEMORY.clear()
    assert reference.references(source, None, elsewhere, compute=never) == records
    assert mistakes.mistake_records(source, None, cache, cells_of=never) == found
