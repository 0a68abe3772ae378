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
    copies = {w["db"] for w in pool.workers}
    got, asked = {}, []

    def finish(worker):  # one feedback task, to the first worker that asks, then none
        asked.append(worker["db"])
        return ("feedback", ("s1",)) if len(asked) == 1 else None

    start = time.monotonic()
    parallel.run_pool(pool, ["s1", "s2", "s3"], lambda s, e: got.setdefault(s, e), finish)
    pool.close()
    assert sorted(got, key=str) == [("feedback", ("s1",)), "s1", "s2", "s3"]
    assert time.monotonic() - start < 60
    assert all(e["status"] == "error" and "worker died" in e["note"] for e in got.values())
    # each new worker took over its predecessor's gradebook copy (for its students' feedback)
    assert {w["db"] for w in pool.workers} == copies and set(asked) == copies


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


def test_closing_the_pool_stops_a_run_in_another_thread_and_leaves_no_worker(tmp_path):
    """As when preparing fails while Prefetch's thread still hands out reference runs."""
    import threading

    pool = parallel.Pool(2, {"not": "a config"}, "a1", tmp_path, deadline=60)
    tasks = [f"s{i}" for i in range(50)]
    run = threading.Thread(target=parallel.run_pool, args=(pool, tasks, lambda s, e: None))
    run.start()
    time.sleep(1)
    pool.close()
    run.join(15)
    assert not run.is_alive()
    assert all(w["proc"].poll() is not None for w in pool.workers)
