"""Files and links from students (issue 17, breaks 3 and 4 of shared/reviews/grading-redteam.md),
end to end (the piece, intake.copy_tree: tests/mathdl_grading/test_intake.py).

* ``submitted/`` filled by other means (git, tar): every link attack of the review and variants,
  through ``mathdl-grade`` and plain ``nbgrader autograde``; the honest student keeps full marks
  and their data files;
* nbgrader's exchange as real unix users (``mdlx_*``): forged names, linked notebooks and folders,
  ``/etc/shadow``, ``/dev/zero`` and variants, then ``nbgrader collect`` and ``mathdl-grade``.

The attacks import :mod:`mathdl_grading` only inside the tests, so this file also runs against a
checkout without the fix (that is how the "before" figures in the report were taken).
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest

from tests.helpers import grading_fixtures as gf
from tests.helpers.submissions import contains, tree

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
A = gf.ASSIGNMENT


# ----------------------------------------------------------------------------- submitted/ (break 4)

READ = """
import hashlib
for _f in ["notes.db", "answers.txt", "sub/dir/x.txt", "data.bin", "notes.txt"]:
    try:
        with open(_f, "rb") as _fh:
            _b = _fh.read(1 << 20)
        print("READ", _f, _b[:16], hashlib.sha256(_b).hexdigest())
    except OSError as _e:
        print("CANNOT READ", _f, type(_e).__name__)
"""
HONEST_READ = """
with open("data/points.csv") as _fh:
    print("POINTS", _fh.read().replace(chr(10), " "))
"""


def break4_batch(root: Path) -> dict:
    """The review's links in submitted/ and variants; returns ``{student: (status, points)}``."""
    solution_nb = root / "solutions" / A / f"{A}.ipynb"
    want = {}

    def case(student, status, points, extra=None, nb=None):
        nb = nb or gf.solution()
        folder = gf.save(gf.with_cell(nb, extra) if extra else nb, root, student)
        want[student] = (status, float(points))
        return folder

    f = case("honest", "graded", gf.AUTO_MAX, HONEST_READ)
    (f / "data").mkdir()
    (f / "data" / "points.csv").write_text("x,y\n1,2\n")
    (f / "figure.png").write_bytes(b"\x89PNG\r\n" + bytes(range(256)))
    f = case("linked", "refused", 0, nb=gf.exercise())  # the review: 12/12 from the solution
    (f / f"{A}.ipynb").unlink()
    os.symlink(f"../../../solutions/{A}/{A}.ipynb", f / f"{A}.ipynb")
    os.symlink(root / "submitted" / "honest", root / "submitted" / "linkdir")  # variant
    want["linkdir"] = ("refused", 0.0)
    f = case("linkread", "graded", gf.AUTO_MAX, READ)  # the review: reads gradebook.db
    os.symlink("../../../gradebook.db", f / "notes.db")
    f = case("hardread", "graded", gf.AUTO_MAX, READ)  # variant: a hard link to the solution
    os.link(solution_nb, f / "answers.txt")
    f = case("nested", "graded", gf.AUTO_MAX, READ)  # variant: a link inside a subfolder
    (f / "sub" / "dir").mkdir(parents=True)
    os.symlink(f"../../../../../solutions/{A}/{A}.ipynb", f / "sub" / "dir" / "x.txt")
    f = case("zero", "graded", gf.AUTO_MAX, READ)  # the review: fills the disk
    os.symlink("/dev/zero", f / "data.bin")
    f = case("fifo", "graded", gf.AUTO_MAX)  # variant: a FIFO
    os.mkfifo(f / "pipe")
    f = case("sparse", "graded", gf.AUTO_MAX)  # variant: 1 TB sparse
    with open(f / "big.bin", "wb") as fh:
        fh.truncate(1 << 40)
    f = case("stamp", "refused", 0)  # variant: nbgrader reads timestamp.txt itself
    os.symlink("/dev/zero", f / "timestamp.txt")
    gf.save(gf.solution(), root, "odd\nname")  # variant: a newline in a student's folder
    want["odd\\nname"] = ("refused", 0.0)
    return want


def secrets_of(root: Path) -> list:
    """What no graded notebook or feedback page may contain: bytes of the gradebook and the
    sha256 the READ cell prints for the solution notebook."""
    solution_nb = root / "solutions" / A / f"{A}.ipynb"
    return [b"SQLite format 3", hashlib.sha256(solution_nb.read_bytes()).hexdigest().encode()]


@pytest.fixture(scope="module")
def break4(tmp_path_factory):
    """The batch graded by mathdl-grade, and a copy graded by plain nbgrader autograde. As root,
    autograded/ is a 256 MB tmpfs, so that a regression cannot fill the machine's disk."""
    from tests.e2e.test_grading import clean_env, mathdl_grade, run

    base = tmp_path_factory.mktemp("break4")
    root = gf.make_course(base / "course")
    want = break4_batch(root)
    copy = gf.make_course(base / "copy")  # written anew: copying would fill the sparse file
    assert break4_batch(copy) == want
    mounts = []
    if os.geteuid() == 0:
        for course in (root, copy):
            (course / "autograded").mkdir()
            subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256m", "tmpfs",
                            str(course / "autograded")], check=True)  # fmt: skip
            mounts.append(course / "autograded")
    try:
        proc, report = mathdl_grade(root, A, "--timeout", "10")
        env = clean_env(copy, [str(BIN)])
        gen = run(["nbgrader", "generate_assignment", A, "--force"], copy, env)
        auto = run(["nbgrader", "autograde", A, "--force"], copy, env, timeout=600)
        yield root, copy, want, proc, report, gen, auto
    finally:
        for mount in mounts:
            subprocess.run(["umount", "-l", str(mount)])


def test_break4_mathdl_grade_refuses_links_and_grades_the_rest(break4):
    root, _copy, want, proc, report, _gen, _auto = break4
    assert report is not None, proc.stdout[-3000:] + proc.stderr[-3000:]
    got = {s: (e["status"], e["score"]) for s, e in report["students"].items()}
    assert got == want, proc.stdout[-3000:]
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    notes = {s: e["note"] for s, e in report["students"].items()}
    assert "fixture.ipynb: a symbolic link" in notes["linked"]
    assert "not a real folder" in notes["linkdir"] and "timestamp.txt" in notes["stamp"]
    for student, name, why in [
        ("linkread", "notes.db", "a symbolic link"),
        ("hardread", "answers.txt", "a hard link"),
        ("nested", "sub/dir/x.txt", "a symbolic link"),
        ("zero", "data.bin", "a symbolic link"),
        ("fifo", "pipe", "a FIFO"),
        ("sparse", "big.bin", f"{1 << 40} bytes"),
    ]:
        assert f"{name}: {why}" in notes[student], notes[student]
    md = (root / "nbgrader_work" / A / "report.md").read_text()
    assert "notes.db: a symbolic link" in md and "| linked | refused | 0 / 9 |" in md
    assert "| odd\\nname | refused | 0 / 9 |" in md


def test_break4_nothing_refused_reached_the_kernel_and_honest_files_did(break4):
    root = break4[0]
    out = root / "autograded"
    assert set(tree(out / "honest" / A)) == {f"{A}.ipynb", "data", "data/points.csv", "figure.png"}
    for student in ("linkread", "hardread", "nested", "zero", "fifo", "sparse"):
        assert set(tree(out / student / A)) <= {f"{A}.ipynb", "sub", "sub/dir"}, student
    graded = nbformat.read(str(out / "honest" / A / f"{A}.ipynb"), as_version=4)
    assert "POINTS x,y 1,2" in json.dumps(graded), "the honest data file must reach the kernel"
    zero = json.dumps(nbformat.read(str(out / "zero" / A / f"{A}.ipynb"), as_version=4))
    assert "CANNOT READ data.bin FileNotFoundError" in zero
    for needle in secrets_of(root):
        assert contains(out, needle) == [] and contains(root / "feedback", needle) == []


def test_break4_plain_nbgrader_autograde_refuses_the_same(break4):
    root, copy, want, _proc, _report, gen, auto = break4
    assert gen.returncode == 0, gen.stderr[-3000:]
    from nbgrader.api import Gradebook, MissingEntry

    scores = {}
    with Gradebook(f"sqlite:///{copy / 'gradebook.db'}", "mathdl") as gb:
        for student in want:
            try:
                scores[student] = gb.find_submission(A, student).score
            except MissingEntry:
                scores[student] = 0.0
    assert scores == {s: points for s, (_status, points) in want.items()}, auto.stderr[-4000:]
    assert auto.returncode != 0, "refused submissions are errors in nbgrader's log"
    log = auto.stdout + auto.stderr
    for line in [
        "REFUSED in linkread's submission: notes.db: a symbolic link",
        "REFUSED in hardread's submission: answers.txt: a hard link",
        "REFUSED in zero's submission: data.bin: a symbolic link",
        "REFUSED in linked's submission: fixture.ipynb: a symbolic link",
        "submitted/linkdir is a symbolic link, not a real folder",
        "timestamp.txt is not a plain file",
        "odd\\nname/fixture: its name holds control characters or undecodable bytes (not",
    ]:
        assert line in log, line
    for needle in secrets_of(root):
        assert contains(copy / "autograded", needle) == []
    assert not (copy / "autograded" / "odd\nname").exists()
    assert (copy / "autograded" / "honest" / A / "data" / "points.csv").is_file()


# ----------------------------------------------------------------------------- the exchange (break 3)

FUTURE = "2099-01-01 00:00:00.000000 UTC"


@pytest.fixture(scope="module")
def exchange(tmp_path_factory):
    """Release, honest submissions with ``nbgrader submit``, a first collect, then every attack
    as the unix user who makes it, ``nbgrader collect --update`` and ``mathdl-grade``, all as
    real users (``mdlx_*``). As root, submitted/ is a 256 MB tmpfs."""
    if os.geteuid() != 0 or not shutil.which("useradd"):
        pytest.skip("needs root and useradd to create the exchange's unix users")
    from tests.e2e.test_grading import Users, clean_env, run

    tag = str(os.getpid())[-5:]
    work = Path(tempfile.mkdtemp(prefix="mdlx-", dir="/tmp"))
    roles = ("v", "h", "g", "n", "m", "u", "w")  # victim, honest, forger, folder link, ...
    names = {r: f"mdlx_{r}{tag}" for r in roles}
    users = Users(list(names.values()), [Path(os.path.realpath(sys.executable)).parent, ROOT, work])
    mounted = []
    try:
        for name in users:
            subprocess.run(["useradd", "-m", name], check=True, capture_output=True)
        os.chmod(work, 0o755)
        yield _exchange_round(work, names, users, clean_env, run, mounted)
    finally:
        for mount in mounted:
            subprocess.run(["umount", "-l", str(mount)])
        for parent, mode in users.opened.items():
            os.chmod(parent, mode & 0o7777)
        for name in users:
            subprocess.run(["userdel", "-r", name], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


def _exchange_course(work, mounted):
    """The exchange (1777), the instructor's private course on it, and the notebooks the
    attackers copy (a world-readable stage)."""
    ex, root, stage = work / "exchange", work / "course", work / "stage"
    ex.mkdir(mode=0o777)
    os.chmod(ex, 0o1777)  # as docs/hub.md sets it up
    gf.make_course(root)
    os.chmod(root, 0o700)  # the instructor's course is private
    with open(root / "nbgrader_config.py", "a") as fh:
        fh.write(f"\nc.Exchange.root = {str(ex)!r}\n")
    (root / "submitted").mkdir(exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256m", "tmpfs",
                    str(root / "submitted")], check=True)  # fmt: skip
    mounted.append(root / "submitted")
    stage.mkdir(mode=0o755)
    nbformat.write(gf.exercise(), str(stage / "blank.ipynb"))
    nbformat.write(gf.with_cell(gf.solution(), READ), str(stage / "read.ipynb"))
    nbformat.write(gf.solution(), str(stage / "solution.ipynb"))
    for p in stage.iterdir():
        os.chmod(p, 0o644)
    return ex, root, stage


def _exchange_round(work, names, users, clean_env, run, mounted):
    import pwd

    ex, root, stage = _exchange_course(work, mounted)
    home = {r: Path(pwd.getpwnam(n).pw_dir) for r, n in names.items()}
    log = {}

    def instructor(*cmd):
        proc = run([str(BIN / cmd[0]), *cmd[1:]], root, clean_env(root, [str(BIN)]))
        log.setdefault(cmd[1] if cmd[0] == "nbgrader" else cmd[0], []).append(proc)
        return proc

    def student(role, *cmd, shell=None):
        users.reach()
        cmd = ["sh", "-c", shell] if shell else [str(BIN / cmd[0]), *cmd[1:]]
        proc = run(cmd, home[role], clean_env(home[role], [str(BIN)]), names[role])
        assert proc.returncode == 0, f"{cmd} as {role}: {proc.stdout[-2000:]}{proc.stderr[-2000:]}"
        return proc

    assert instructor("nbgrader", "generate_assignment", A, "--force").returncode == 0
    assert instructor("nbgrader", "release_assignment", A, "--force").returncode == 0
    inbound = ex / "mathdl" / "inbound"
    config = f"c.Exchange.root = {str(ex)!r}\nc.CourseDirectory.course_id = 'mathdl'\n"

    def honest(role):  # through nbgrader itself, with a data file beside the notebook
        (home[role] / "nbgrader_config.py").write_text(config)
        student(role, "nbgrader", "fetch_assignment", A)
        fetched = home[role] / A / f"{A}.ipynb"
        nbformat.write(gf.with_cell(gf.solution(), HONEST_READ), str(fetched))
        (home[role] / A / "data").mkdir()
        (home[role] / A / "data" / "points.csv").write_text("x,y\n1,2\n")
        for path in [home[role] / A, *(home[role] / A).rglob("*")]:
            shutil.chown(path, names[role], names[role])
        student(role, "nbgrader", "submit", A)

    honest("v")
    assert instructor("nbgrader", "collect", A).returncode == 0  # round 1: the victim's work
    victim_nb = (root / "submitted" / names["v"] / A / f"{A}.ipynb").read_bytes()
    honest("h")  # collected in round 2, with the attacks: they must not stop it

    _attack(student, names, inbound, stage, root)
    instructor("nbgrader", "collect", "--update", A)
    instructor("mathdl-grade", A, "--root", str(root))
    report = json.loads((root / "nbgrader_work" / A / "report.json").read_text())
    return root, names, log, report, victim_nb


def _attack(student, names, inbound, stage, root):
    """Every attack of break 3 and the variants, each by the student who makes it."""
    v, g, n, m, u, w = (names[r] for r in "vgnmuw")
    solutions = root / "solutions" / A / f"{A}.ipynb"

    def folder(user, stamp="2026-12-07 08:00:00.000000 UTC", rand="r4nd0m"):
        return f"'{inbound}/{user}+{A}+{stamp}+{rand}'"

    # the review: impersonation with a future timestamp, and a notebook linked to the solution
    student("g", shell=f"mkdir {folder(v, FUTURE, 'forged')} && cp {stage}/blank.ipynb "
            f"{folder(v, FUTURE, 'forged')}/{A}.ipynb && mkdir {folder(g)} && "
            f"ln -s {solutions} {folder(g)}/{A}.ipynb")  # fmt: skip
    # the review: a folder linked to another student's collected submission
    student("n", shell=f"ln -s {root}/submitted/{v}/{A} {folder(n, FUTURE)}")
    # the review: /etc/shadow read inside the kernel
    student("m", shell=f"mkdir {folder(m)} && cp {stage}/read.ipynb {folder(m)}/{A}.ipynb && "
            f"ln -s /etc/shadow {folder(m)}/notes.txt")  # fmt: skip
    # the review: /dev/zero fills the disk and stops collect for everyone
    student("u", shell=f"mkdir {folder(u)} && cp {stage}/read.ipynb {folder(u)}/{A}.ipynb && "
            f"ln -s /dev/zero {folder(u)}/data.bin")  # fmt: skip
    # variants: a FIFO, a 1 TB sparse file, a link inside a subfolder, timestamp.txt a link,
    # a hard link the student could not make (root makes it: protected_hardlinks off)
    mine = folder(w)
    student("w", shell=f"mkdir -p {mine}/sub/dir && cp {stage}/solution.ipynb {mine}/{A}.ipynb"
            f" && mkfifo {mine}/pipe && truncate -s 1T {mine}/big.bin && "
            f"ln -s {solutions} {mine}/sub/dir/x.txt && ln -s /dev/zero {mine}/timestamp.txt")  # fmt: skip
    os.link(solutions, f"{inbound}/{w}+{A}+2026-12-07 08:00:00.000000 UTC+r4nd0m/hard.txt")
    # variants: names nbgrader would misread, a victim's name on a folder made by root
    for bad in (f"{w}+{A}+not a time+x", f"{w}\n+{A}+{FUTURE}+x", f"..+{A}+{FUTURE}+x",
                f"{v}+x+{A}+{FUTURE}+x"):  # fmt: skip
        student("w", shell=f"mkdir '{inbound}/{bad}' && cp {stage}/blank.ipynb '{inbound}/{bad}/'")
    os.mkdir(f"{inbound}/{v}+{A}+{FUTURE}+root")
    shutil.copy(stage / "blank.ipynb", f"{inbound}/{v}+{A}+{FUTURE}+root/{A}.ipynb")


def test_break3_collect_refuses_every_attack_and_goes_on(exchange):
    root, names, log, _report, victim_nb = exchange
    collect = log["collect"][1]
    out = collect.stdout + collect.stderr
    assert collect.returncode == 0, out[-4000:]
    v, g, n, m, u, w = (names[r] for r in "vgnmuw")
    for needle in [
        f"REFUSED {v}+{A}+{FUTURE}+forged: claims to be {v}'s but belongs to uid",
        f"REFUSED {v}+{A}+{FUTURE}+root: claims to be {v}'s but belongs to uid 0",
        f"REFUSED {n}+{A}+{FUTURE}+r4nd0m: a symbolic link, not a folder",
        f"/{A}.ipynb: a symbolic link",  # g's notebook linked to the solution
        "/notes.txt: a symbolic link",  # m's /etc/shadow
        "/data.bin: a symbolic link",  # u's /dev/zero
        "/pipe: a FIFO",
        f"/big.bin: {1 << 40} bytes",
        "/sub/dir/x.txt: a symbolic link",
        "/timestamp.txt: a symbolic link",
        "/hard.txt: belongs to uid 0",
        f"REFUSED {w}+{A}+not a time+x: its timestamp cannot be read",
        f"REFUSED {w}\\n+{A}+{FUTURE}+x: not a valid student id",
        f"REFUSED ..+{A}+{FUTURE}+x: not a valid student id",
        f"REFUSED {v}+x+{A}+{FUTURE}+x: not a valid student id",
    ]:
        assert needle in out, needle
    sub = root / "submitted"
    assert (sub / v / A / f"{A}.ipynb").read_bytes() == victim_nb, "the forged folder won"
    assert sorted(os.listdir(sub)) == sorted([v, names["h"], g, m, u, w]), "n was collected"
    assert set(tree(sub / w / A)) == {f"{A}.ipynb", "sub", "sub/dir"}
    assert set(tree(sub / u / A)) == {f"{A}.ipynb"} and set(tree(sub / g / A)) == set()
    assert set(tree(sub / names["h"] / A)) == {
        f"{A}.ipynb",
        "data",
        "data/points.csv",
        "timestamp.txt",
        "submission_secret.txt",
    }


def test_break3_honest_students_keep_full_marks_and_no_secret_leaks(exchange):
    root, names, log, report, _victim_nb = exchange
    grade = log["mathdl-grade"][0]
    assert grade.returncode == 0, grade.stdout[-3000:] + grade.stderr[-3000:]
    got = {s: (e["status"], e["score"]) for s, e in report["students"].items()}
    full = ("graded", float(gf.AUTO_MAX))
    v, h, g, m, u, w = (names[r] for r in "vhgmuw")
    assert got == {v: full, h: full, m: full, u: full, w: full, g: ("missing", 0.0)}
    for student in (v, h):
        nb = root / "autograded" / student / A / f"{A}.ipynb"
        assert "POINTS x,y 1,2" in nb.read_text(), "the honest data file must reach the kernel"
    shadow = hashlib.sha256(Path("/etc/shadow").read_bytes()).hexdigest().encode()
    for needle in [shadow, *secrets_of(root)]:
        assert contains(root / "autograded", needle) == []
        assert (
            contains(root / "feedback", needle) == [] and contains(root / "submitted", needle) == []
        )
