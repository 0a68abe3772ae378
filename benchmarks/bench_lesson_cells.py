"""CPU seconds of a lesson's code cells, run in this process: compare two versions of a lesson.

    .venv/bin/python benchmarks/bench_lesson_cells.py notebooks/09_initialization.ipynb [more.ipynb ...]
    git show main:notebooks/09_initialization.ipynb > /tmp/old09.ipynb   # the version to compare with

Each notebook runs in a fresh Python process (imports are paid by every version alike); its code
cells run top to bottom in one namespace (magics dropped, matplotlib's Agg
backend, working directory notebooks/) and each cell's CPU time (time.process_time) is recorded:
unlike wall time, it hardly moves when other programs load the machine, so two versions measured
one after the other on a shared machine can be compared. Widgets are created but not driven (that
is benchmarks/bench_notebooks.py). Prints the total and the slowest cells.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def cell_seconds(path: Path) -> dict[int, float]:
    """CPU seconds per code cell (index among all cells) of the notebook at ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    cells = json.loads(Path(path).read_text())["cells"]
    namespace: dict = {"__name__": "__main__"}
    seconds = {}
    here = os.getcwd()
    os.chdir(NOTEBOOKS)
    try:
        for i, cell in enumerate(cells):
            if cell["cell_type"] != "code":
                continue
            source = "".join(cell["source"])
            source = "\n".join(ln for ln in source.splitlines() if not ln.lstrip().startswith("%"))
            t0 = time.process_time()
            exec(compile(source, f"{Path(path).stem} c{i}", "exec"), namespace)
            seconds[i] = time.process_time() - t0
    finally:
        os.chdir(here)
    return seconds


def report(path: str) -> None:
    s = cell_seconds(Path(path).resolve())
    slowest = sorted(s.items(), key=lambda kv: -kv[1])[:6]
    print(
        f"{path}: {sum(s.values()):.2f} CPU s in {len(s)} code cells; slowest: "
        + ", ".join(f"c{i} {t:.2f}" for i, t in slowest),
        flush=True,
    )


def main(paths: list[str]) -> None:
    for path in paths:  # one process per notebook: no import paid by an earlier one
        subprocess.run([sys.executable, __file__, "--one", path], check=True)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    if sys.argv[1] == "--one":
        report(sys.argv[2])
    else:
        main(sys.argv[1:])
