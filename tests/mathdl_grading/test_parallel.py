"""mathdl_grading.parallel: the worker pool and its progress line (no kernel)."""

import io
import subprocess
import sys
import time
from pathlib import Path

from mathdl_grading import parallel

BIN = Path(sys.executable).parent


def test_a_dead_worker_fails_only_its_own_students_and_the_pool_ends(tmp_path):
    pool = parallel.Pool(2, {"not": "a config"}, "a1", tmp_path, deadline=60)  # no snapshot.db
    got = {}
    start = time.monotonic()
    parallel.run_pool(pool, ["s1", "s2", "s3"], lambda s, e: got.setdefault(s, e))
    pool.close()
    assert sorted(got) == ["s1", "s2", "s3"] and time.monotonic() - start < 60
    assert all(e["status"] == "error" and "worker died" in e["note"] for e in got.values())


def test_progress_shows_count_rate_and_time_left():
    out = io.StringIO()
    progress = parallel.Progress(4, stream=out, every=0)
    progress.update("graded")
    progress.update("error")
    line = out.getvalue().splitlines()[-1]
    assert line.startswith("graded 2/4 (1 error)") and "notebooks/s" in line and "s left" in line


def test_jobs_must_be_positive(tmp_path):
    proc = subprocess.run(
        [str(BIN / "mathdl-grade"), "x", "--root", str(tmp_path), "--jobs", "0", "--unsafe"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and "--jobs must be at least 1" in proc.stderr
