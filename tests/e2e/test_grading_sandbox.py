"""The grading kernel's sandbox against the red team's attacks (shared/reviews/grading-redteam.md,
breaks 2, 5, 9, 10, 11 and "a kernel that cannot start says why"), and variants of our own.

* memory: one limit for the whole sandbox (child processes, memfd, /tmp, /dev/shm, the working
  folder), sized in-memory folders, a read-only socket folder (nothing reaches the host's disk),
  1024 open files;
* the scratch copy: no notebook, no file of nbgrader's, no link, FIFO or hard link (the copy
  itself: tests/mathdl_grading/test_scratch.py);
* honest code: multiprocessing.Pool, nbgrader's NBGRADER_EXECUTION guard;
* a wall-time budget per notebook; nothing the student started survives the kernel;
* fail closed when mathdl_grading is missing; a kernel that cannot start says why.
"""

import contextlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import nbformat
import pytest

from mathdl_grading.sandbox import bwrap_problem
from tests.helpers import grading_fixtures as gf
from tests.helpers.submissions import make_submission_folder

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location(
    "bench_sandbox", ROOT / "benchmarks" / "bench_sandbox.py"
)
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)
run_cells, last_json = bench.run_cells, bench.last_json


BIN = Path(sys.executable).parent
MIB = 1024 * 1024


def sandboxed(test):
    """Only where the sandbox can run (Linux with bubblewrap)."""
    return pytest.mark.skipif(bool(bwrap_problem()), reason=f"no sandbox: {bwrap_problem()}")(test)


# ----------------------------------------------------------------------------- the scratch copy


@sandboxed
def test_a_kernel_sees_no_notebook_no_nbgrader_file_and_no_link_target(tmp_path):
    src = make_submission_folder(tmp_path)
    walk = """
        import json, os
        seen, texts = [], []
        for here, dirs, files in os.walk(os.path.expanduser("~")):
            for name in files + dirs:
                path = os.path.join(here, name)
                seen.append(os.path.relpath(path))
                if os.path.isfile(path):
                    texts.append(open(path, errors="replace").read(200))
        up = os.path.dirname(os.getcwd())
        print(json.dumps({"seen": sorted(seen), "texts": texts, "up": sorted(os.listdir(up))}))
    """
    texts, _km = run_cells([walk], cwd=src)
    out = last_json(texts[0])
    assert sorted(out["seen"]) == ["data.csv", "nested", "nested/deeper", "nested/deeper/more.txt"]
    assert not any("TOP-SECRET" in t or "expected=42" in t for t in out["texts"])
    assert not [n for n in out["up"] if n.endswith(".ipynb")], out["up"]


# ----------------------------------------------------------------------------- memory and disk


@sandboxed
def test_one_memory_limit_holds_the_whole_sandbox():
    if os.geteuid() != 0:
        pytest.skip("a cgroup needs root here (or c.SandboxKernelManager.cgroup_parent)")
    cap = 1024  # ipykernel itself needs about 600 MiB of address space to start
    got = bench.d_mem(cap, folder_mb=128, child_mb=400, settle=3)
    assert got["peak_mib"] > 0, "no cgroup: as root the sandbox must be in one"
    assert got["peak_mib"] <= cap + 1, got
    assert got["oom_kills"] >= 1, "3 x 400 MiB of child processes must not fit in 1024 MiB"
    # the attack writes up to 1.5 GB to its working folder (the review: +1500 MB on the host's
    # disk); the host's /tmp is shared with other jobs, so a loose bound
    assert got["disk_growth_mib"] < 500, got
    # other jobs on a shared machine move MemAvailable too: a loose bound; the cgroup is exact
    assert got["mem_drop_mib"] < cap + 1024, got
    attack = got["attack"] or {}
    assert not attack.get("finished"), got
    for where in ("/tmp", "workdir", "/dev/shm"):
        assert attack.get(f"{where} MiB", 0) <= 128, got


@sandboxed
def test_folders_are_sized_the_socket_folder_is_read_only_and_files_are_few():
    code = """
        import json, os, resource
        res = {"nofile": resource.getrlimit(resource.RLIMIT_NOFILE)}
        def fill(path, n=20):
            try:
                for i in range(n):
                    with open(f"{path}/f{i}", "wb") as fh:
                        fh.write(b"x" * (8 << 20))
                return "all written"
            except OSError as exc:
                return f"stopped at {i * 8} MiB: {exc.strerror}"
        kdir = os.path.dirname(os.getcwd())
        for name, path in (("work", "."), ("tmp", "/tmp"), ("shm", "/dev/shm"),
                           ("sockets", kdir), ("inputs", kdir + "/in")):
            res[name] = fill(path)
        fds = []
        try:
            while True:
                fds.append(os.open("/dev/null", os.O_RDONLY))
        except OSError as exc:
            res["opened"] = len(fds)
        print(json.dumps(res))
    """
    texts, _km = run_cells([code], folder_mb=64)
    out = last_json(texts[0])
    assert out["nofile"] == [1024, 1024] and 900 <= out["opened"] < 1024, out
    for name in ("work", "tmp", "shm"):
        assert out[name].startswith("stopped at") and "No space" in out[name], out
        assert int(out[name].split()[2]) <= 64, out
    for name in ("sockets", "inputs"):
        assert "Read-only" in out[name], out


@sandboxed
def test_nothing_the_student_started_survives_the_kernel():
    """Our variant: a daemon (double fork, new session) that would outlive the grading."""
    code = """
        import os, subprocess
        subprocess.Popen(["sh", "-c", "sleep 4242 & sleep 4243"], start_new_session=True)
        print("started")
    """
    texts, _km = run_cells([code])
    assert "started" in texts[0]
    time.sleep(0.5)
    left = subprocess.run(["pgrep", "-f", "sleep 424[23]"], capture_output=True, text=True)
    assert left.stdout.strip() == "", f"left behind: {left.stdout}"


# ----------------------------------------------------------------------------- honest code, time


@sandboxed
def test_multiprocessing_and_nbgrader_execution_work_inside():
    code = """
        import os
        from multiprocessing import Pool
        with Pool(4) as pool:
            print("pool", pool.map(abs, [-1, -2, -3, -4]))
        print("NBGRADER_EXECUTION", os.environ.get("NBGRADER_EXECUTION"))
    """
    texts, _km = run_cells([code])
    assert "pool [1, 2, 3, 4]" in texts[0], texts[0]
    assert "NBGRADER_EXECUTION autograde" in texts[0], texts[0]


@sandboxed
def test_the_notebook_has_a_wall_time_budget():
    cells = ["import time; time.sleep(2); print('one')"] * 6
    start = time.monotonic()
    texts, km = run_cells(cells, timeout=8, wall_seconds=7)
    took = time.monotonic() - start
    assert texts[0].strip() == "one" and "<no reply>" in texts[-1], texts
    assert took < 7 + 2 * 8 + 10, took
    assert "time" in km.why_dead(), km.why_dead()


# ----------------------------------------------------------------------------- fail closed

BLOCKED = "import sys; sys.modules['mathdl_grading'] = None; from nbgrader.apps.nbgraderapp import main; sys.argv[0] = 'nbgrader'; main()"
# our variant: a package that is there but broken (an error other than ImportError on import)
BROKEN = BLOCKED.replace(
    "sys.modules['mathdl_grading'] = None",
    "import types; B = type('B', (types.ModuleType,), {'__getattr__': lambda s, n: 1 / 0}); "
    "sys.modules['mathdl_grading'] = B('mathdl_grading')",
)


def nbgrader_without_the_package(args, cwd, env_extra=None, how=BLOCKED):
    """Plain nbgrader in a process where ``mathdl_grading`` cannot be imported (the review's
    simulation of an environment without the course package)."""
    env = {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(cwd), "LANG": "C.UTF-8", **(env_extra or {})}
    cmd = [sys.executable, "-c", how, *args]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


@sandboxed
def test_autograding_without_the_course_package_refuses_but_validate_works(tmp_path):
    root = gf.make_course(tmp_path / "course")
    marker = tmp_path / "student-code-ran"
    nb = gf.with_cell(gf.solution(), f"open({str(marker)!r}, 'w').write('unsandboxed')")
    gf.save(nb, root, "mallory")
    gen = nbgrader_without_the_package(["generate_assignment", gf.ASSIGNMENT, "--force"], root)
    assert gen.returncode == 0, gen.stderr[-2000:]
    auto = nbgrader_without_the_package(["autograde", gf.ASSIGNMENT, "--force"], root)
    assert auto.returncode != 0, auto.stderr[-2000:]
    assert "refusing to autograde" in auto.stderr and "MATHDL_UNSAFE_GRADING" in auto.stderr
    assert not marker.exists(), "a student's code ran without the sandbox"
    broken = nbgrader_without_the_package(["autograde", gf.ASSIGNMENT, "--force"], root, how=BROKEN)
    assert broken.returncode != 0 and "refusing to autograde" in broken.stderr, broken.stderr[
        -2000:
    ]
    assert "ZeroDivisionError" in broken.stderr and not marker.exists()
    # a student's own `nbgrader validate` (no course package) still runs the visible tests
    path = gf.save(gf.exercise(), root, "student") / f"{gf.ASSIGNMENT}.ipynb"
    val = nbgrader_without_the_package(["validate", str(path)], root)
    assert val.returncode == 0 and "NotImplementedError" in val.stdout, val.stdout[-2000:]
    # and the documented escape hatch does what it says
    unsafe = nbgrader_without_the_package(
        ["autograde", gf.ASSIGNMENT, "--force"], root, {"MATHDL_UNSAFE_GRADING": "1"}
    )
    assert unsafe.returncode == 0 and marker.read_text() == "unsandboxed", unsafe.stderr[-2000:]


# ----------------------------------------------------------------------------- start errors


@sandboxed
def test_a_kernel_that_cannot_start_says_why(tmp_path, monkeypatch):
    """The grading error carries the kernel's own error, not only "Kernel died before replying
    to kernel_info" (here: mathdl_grading not visible in the sandbox, as with a package
    installed from another checkout than the one whose folders are bound)."""
    from mathdl_grading import cli, sandbox

    root = gf.make_course(tmp_path / "course")
    gf.save(gf.solution(), root, "alice")
    report = cli.grade(gf.ASSIGNMENT, root)  # the solution's references get cached
    assert report["students"]["alice"]["score"] == gf.AUTO_MAX, report
    own = os.path.realpath(Path(sandbox.__file__).parent)
    dirs = sandbox._package_dirs
    monkeypatch.setattr(sandbox, "_package_dirs", lambda: [d for d in dirs() if d != own])
    report = cli.grade(gf.ASSIGNMENT, root)
    alice = report["students"]["alice"]
    assert alice["status"] == "error", alice
    assert "Kernel died" in alice["note"] and "No module named 'mathdl_grading" in alice["note"]


# ----------------------------------------------------------------------------- through mathdl-grade

POOL = """
    from multiprocessing import Pool
    with Pool(4) as pool:
        _squares = pool.map(abs, [-4, -3, -2, -1])
    assert _squares == [4, 3, 2, 1]
"""
GUARD = """
    import os, time
    if not os.environ.get("NBGRADER_EXECUTION"):  # nbgrader's documented guard
        time.sleep(60)
"""
LEAK = """
    import glob, os
    found = glob.glob("**/*.ipynb", recursive=True) + glob.glob("../**/*.ipynb", recursive=True)
    found += glob.glob(os.path.expanduser("~/**/*.ipynb"), recursive=True)
    print("NOTEBOOKS:", found)
    for path in found:
        print(open(path).read()[::-1])
"""


def before_solution(nb, code, grade_id="grad_sol"):
    """``code`` at the top of the solution cell ``grade_id``: if it fails, that answer is lost."""
    cell = gf.cell(nb, grade_id)
    cell.source = textwrap.dedent(code).strip() + "\n" + cell.source
    return nb


@sandboxed
def test_grading_keeps_honest_students_whole_and_bounds_a_slow_one(tmp_path):
    root = gf.make_course(tmp_path / "course")
    with open(root / "nbgrader_config.py", "a") as fh:
        fh.write("\nc.SandboxKernelManager.wall_seconds = 15\n")
    gf.save(gf.solution(), root, "good")
    gf.save(before_solution(gf.solution(), POOL), root, "pool")
    gf.save(before_solution(gf.solution(), GUARD), root, "guard")
    gf.save(gf.with_cell(gf.exercise(), LEAK), root, "leak")
    slow = gf.solution()
    for _ in range(8):  # 8 x 2.5 s: within the per-cell timeout, not the notebook's budget
        slow = gf.with_cell(slow, "import time\ntime.sleep(2.5)")
    gf.save(slow, root, "slow")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(root), "LANG": "C.UTF-8"}
    start = time.monotonic()
    proc = subprocess.run(
        [str(BIN / "mathdl-grade"), gf.ASSIGNMENT, "--root", str(root), "--timeout", "5"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    took = time.monotonic() - start
    report = json.loads((root / "nbgrader_work" / gf.ASSIGNMENT / "report.json").read_text())
    scores = {s: e["score"] for s, e in report["students"].items()}
    full = gf.AUTO_MAX
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert scores == {"good": full, "pool": full, "guard": full, "leak": 0, "slow": 0}, scores
    # two passes (mathdl_grading.execute), each a kernel with its own budget
    assert report["students"]["slow"]["seconds"] < 2 * 15 + 10, report["students"]["slow"]
    assert took < 300, took
    slow = root / "autograded" / "slow" / gf.ASSIGNMENT / f"{gf.ASSIGNMENT}.ipynb"
    assert "the notebook used up its time (15 s in all)" in slow.read_text()
    graded = root / "autograded" / "leak" / gf.ASSIGNMENT / f"{gf.ASSIGNMENT}.ipynb"
    cell = next(c for c in nbformat.read(str(graded), 4).cells if "NOTEBOOKS" in c.source)
    assert [o.get("text") for o in cell.outputs] == ["NOTEBOOKS: []\n"], cell.outputs


# ----------------------------------------------------------------------------- as an ordinary user

AS_USER = """
import json, sys
sys.path.insert(0, sys.argv[1])
import bench_sandbox as bench
code = '''
import json, os
status = dict(l.split(":\\\\t") for l in open("/proc/self/status").read().splitlines() if ":\\\\t" in l)
caps = {k: int(v, 16) for k, v in status.items() if k.startswith("Cap") and k != "CapBnd"}
try:
    open(os.path.dirname(os.getcwd()) + "/x", "w")
    sockets = "writable"
except OSError as exc:
    sockets = exc.strerror
print(json.dumps({"uid": os.getuid(), "caps": caps, "sockets": sockets}))
'''
texts, km = bench.run_cells([code])
caged = hasattr(km, "peak_bytes")
print(json.dumps({"kernel": bench.last_json(texts[0]), "log": km.log_tail(), "caged": caged}))
"""


def as_nobody(code, tmp_path):
    """Run ``code`` (Python; ``sys.argv[1]`` is benchmarks/) as ``nobody``; its last line, read
    as JSON. The folders the test's Python needs get search permission meanwhile."""
    if os.geteuid() != 0 or not shutil.which("runuser"):
        pytest.skip("needs root to become another user")
    opened = {}
    here = Path(os.path.realpath(sys.executable)).parent
    for folder in (here, ROOT, tmp_path):
        for parent in [*reversed(folder.parents), folder]:
            mode = parent.stat().st_mode
            if not mode & 0o001:
                opened.setdefault(parent, mode)
                os.chmod(parent, mode | 0o001)
    try:
        env = ["env", "-i", f"HOME={tmp_path}", "PATH=/usr/bin:/bin", "LANG=C.UTF-8"]
        cmd = ["runuser", "-u", "nobody", "--", *env, sys.executable, "-c", code]
        proc = subprocess.run(
            [*cmd, str(ROOT / "benchmarks")],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        for parent, mode in opened.items():
            os.chmod(parent, mode & 0o7777)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@sandboxed
def test_as_an_ordinary_user_the_kernel_has_no_capability_and_cannot_write_to_disk(tmp_path):
    """The user-namespace path (the hub's instructor is a normal unix user)."""
    out = as_nobody(AS_USER, tmp_path)
    assert out["kernel"]["caps"] == {"CapInh": 0, "CapPrm": 0, "CapEff": 0, "CapAmb": 0}, out
    assert out["kernel"]["sockets"] == "Read-only file system", out
    # without a delegated cgroup the grader says what holds instead (docs/instructors.md)
    assert out["caged"] or "no cgroup for the sandbox" in out["log"], out["log"]


HONEST = """
    import json, subprocess, tempfile
    from concurrent.futures import ThreadPoolExecutor
    import matplotlib.pyplot as plt
    import numpy as np
    import torch
    res = {}
    plt.plot([1, 2, 3])
    plt.savefig("plot.png")
    res["savefig"] = os.path.getsize("plot.png") > 1000
    with tempfile.NamedTemporaryFile("w", delete=False) as fh:
        fh.write("x" * 10**6)
    res["tempfile"] = os.path.getsize(fh.name)
    with ThreadPoolExecutor(32) as pool:
        res["threads"] = sum(pool.map(lambda i: i, range(100)))
    x = torch.tensor([3.0], requires_grad=True)
    (x**2).sum().backward()
    res["torch"] = x.grad.item()
    res["ls"] = subprocess.run(["ls"], capture_output=True, text=True).stdout.split()
    print(json.dumps(res))
"""


BIG = """
    import numpy as np
    big = np.ones(int(1.15e9) // 8)  # a 1.15 GB array (the review's honest case)
    print(float(big.sum()))
"""


@sandboxed
def test_honest_code_still_works_under_the_new_limits():
    texts, _km = run_cells(["import os", HONEST], timeout=120)
    out = last_json(texts[1])
    assert out["savefig"] and out["tempfile"] == 10**6 and out["threads"] == 4950, out
    assert out["torch"] == 6.0 and "plot.png" in out["ls"], out
    # in a kernel of its own: torch's address-space reservations count against RLIMIT_AS
    texts, _km = run_cells([BIG], timeout=120)
    assert texts[0].strip() == str(float(int(1.15e9) // 8)), texts


DELEGATED = """
import json, sys
sys.path.insert(0, sys.argv[1])
import bench_sandbox as bench
print(json.dumps(bench.d_mem(1024, 128, 400, 3, cgroup_parent=%r)))
"""


@sandboxed
def test_an_ordinary_user_with_a_delegated_cgroup_gets_the_whole_sandbox_limit(tmp_path):
    """cgroup v1 (this machine and CI): an administrator gives the instructor a memory and a
    pids folder (chown); c.SandboxKernelManager.cgroup_parent names the memory one."""
    from mathdl_grading import cage

    if os.path.isfile("/sys/fs/cgroup/cgroup.controllers"):
        pytest.skip("cgroup v2 here: delegation needs the v2 rules (docs/instructors.md)")
    if os.geteuid() != 0:
        pytest.skip("needs root to delegate a cgroup")
    memory = os.path.join(cage._own_v1("memory"), f"mdl-test-{os.getpid()}")
    pids = memory.replace("/sys/fs/cgroup/memory", "/sys/fs/cgroup/pids", 1)
    made = [p for p in Path(pids).parents if not p.exists()][::-1]
    try:
        for folder in (memory, *map(str, made), pids):
            os.makedirs(folder, exist_ok=True)
        for folder in (memory, pids):
            os.chown(folder, 65534, 65534)
        got = as_nobody(DELEGATED % memory, tmp_path)
    finally:
        for folder in (memory, pids, *map(str, reversed(made))):
            with contextlib.suppress(OSError):
                os.rmdir(folder)
    assert 0 < got["peak_mib"] <= 1024 + 1 and got["oom_kills"] >= 1, got
