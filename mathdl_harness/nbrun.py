"""Execute a lesson notebook headless, then drive every widget it created, in the same kernel.

Used by tests/e2e/test_notebooks.py (fails on any error) and benchmarks/bench_notebooks.py
(reports time, peak memory and widget latency). No browser is involved.
"""

import json
import time
from typing import Any

import nbformat
from nbclient import NotebookClient
from nbformat.notebooknode import NotebookNode

from mathdl_harness.course import NOTEBOOKS

_MARK = "@@WIDGET-REPORT@@"

# Runs inside the kernel after the notebook: every widget alive to its extremes and options.
DRIVE_CODE = r"""
def _mathdl_drive():
    import json, resource, statistics
    import ipywidgets as W
    from ipywidgets.widgets.widget import _instances
    from mathdl.playground import instances

    report = {"playgrounds": [], "widget_errors": [], "driven": 0}
    owned = set()
    for pg in instances():
        owned.update(id(w) for w in pg.controls.values())

    def targets(w):
        if isinstance(w, W.Button):
            return ["click", "click"]
        if isinstance(w, W.FloatLogSlider):
            return [w.base ** w.min, w.base ** w.max]
        if hasattr(w, "options") and hasattr(w, "index"):
            return [o[1] if isinstance(o, tuple) else o for o in w.options]
        if isinstance(w, (W.IntSlider, W.FloatSlider, W.BoundedIntText, W.BoundedFloatText,
                          W.IntRangeSlider, W.FloatRangeSlider)):
            if isinstance(w.value, tuple):
                return [(w.min, w.min), (w.max, w.max)]
            return [w.min, w.max]
        if isinstance(w, (W.Checkbox, W.ToggleButton)):
            return [not w.value, w.value]
        return []

    widgets = [w for w in list(_instances.values()) if isinstance(w, W.DOMWidget)]
    for w in widgets:
        tg = targets(w)
        if not tg:
            continue
        original = None if isinstance(w, W.Button) else w.value
        for v in tg:
            try:
                if v == "click":
                    w.click()
                else:
                    w.value = v
                report["driven"] += 1
            except Exception as exc:
                report["widget_errors"].append(f"{type(w).__name__} {getattr(w, 'description', '')!r} = {v!r}: {type(exc).__name__}: {exc}")
        if original is not None:
            try:
                w.value = original
            except Exception as exc:
                report["widget_errors"].append(f"restoring {getattr(w, 'description', '')!r}: {exc}")

    for pg in instances():
        lat = sorted(pg.latencies[1:]) or sorted(pg.latencies)
        report["playgrounds"].append({
            "controls": {n: [type(w).__name__, getattr(w, "description", "")] for n, w in pg.controls.items()},
            "errors": [f"{type(e).__name__}: {e}" for e in pg.errors],
            "n_redraws": len(pg.latencies),
            "latency_median_ms": 1000 * statistics.median(lat),
            "latency_p95_ms": 1000 * lat[min(len(lat) - 1, int(round(0.95 * (len(lat) - 1))))],
            "phases_median_ms": {k: 1000 * statistics.median(t[k] for t in pg.timings[1:] or pg.timings)
                                 for k in (pg.timings[0] if getattr(pg, "timings", None) else {})},
        })
    report["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("@@WIDGET-REPORT@@" + json.dumps(report))

_mathdl_drive()
"""


def load(name: str) -> NotebookNode:
    return nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)


def run_notebook(name: str, timeout: float = 120, drive: bool = True) -> dict[str, Any]:
    """Execute notebooks/<name>.ipynb top to bottom (cwd notebooks/); optionally drive its widgets.

    Returns a dict: ``errors`` (one line per cell that raised), ``seconds`` (the notebook's own
    cells, kernel start excluded), ``startup_seconds``, and with ``drive`` the widget report
    (``playgrounds``, ``widget_errors``, ``driven``, ``peak_rss_mb``).
    """
    nb = load(name)
    n_cells = len(nb.cells)
    if drive:
        nb.cells.append(nbformat.v4.new_code_cell(DRIVE_CODE))
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    result: dict[str, Any] = {"name": name, "errors": []}
    t0 = time.perf_counter()
    with client.setup_kernel():
        t1 = time.perf_counter()
        for index, cell in enumerate(nb.cells):
            client.execute_cell(cell, index)
            if index == n_cells - 1:
                t2 = time.perf_counter()
    result["startup_seconds"] = t1 - t0
    result["seconds"] = t2 - t1
    for index, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                where = "widget driver" if index >= n_cells else f"cell {index}"
                result["errors"].append(f"{where}: {out.get('ename')}: {out.get('evalue')}")
            text = out.get("text", "") if out.get("output_type") == "stream" else ""
            if index >= n_cells and _MARK in text:
                result.update(json.loads(text.split(_MARK, 1)[1].strip().splitlines()[0]))
    return result
