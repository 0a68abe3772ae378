"""End to end: the course on a real JupyterHub, driven as its users (`make hub-test`).

deploy/install.sh builds the class environment (from the system Python, world-readable) and
configurable-http-proxy (npm ci); an instructor and two students get unix accounts; JupyterHub
runs from deploy/jupyterhub_config.py on 127.0.0.1. Then, each step as the person who does it,
through the hub's REST API and that person's own server:

release (formgrader) -> fetch (each student) -> one student answers everything, one submits the
blank notebook -> submit -> collect (formgrader) -> `make grade` (the course's command, in a
kernel on the instructor's server) -> release feedback (formgrader) -> fetch feedback.

Checked: the marks (against the points in the solution notebook's metadata), that each student
received their feedback, that a student can open neither another student's server nor their
files nor the instructor's course, that students have no formgrader, and that afterwards every
process has ended and the users and groups are gone, whatever happened.

Needs root (useradd, PAM). Figures (start-up, spawn and grading times, kernel memory) are
written to test-artifacts/hub/figures.json for docs/hub.md.
"""

import grp
import json
import os
import pwd
import secrets
import shutil
import stat
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from mathdl_harness.hub import (
    REPO,
    Hub,
    HubUser,
    UnixAccounts,
    copy_course,
    fill_in,
    grade_points,
    pids_of_uids,
)

ASSIGNMENT = os.environ.get("MATHDL_HUB_TEST_ASSIGNMENT", "03_probability")
PREFIX = Path(os.environ.get("MATHDL_HUB_TEST_PREFIX", "/opt/mathdl-hub-test"))
COURSE_ID = "mathdl"  # the course repository's nbgrader_config.py
ARTIFACTS = REPO / "test-artifacts" / "hub"


def _require_tools():
    if os.geteuid() != 0:
        pytest.skip("the hub test creates unix users and authenticates with PAM: run it as root")
    tools = ("useradd", "userdel", "groupadd", "groupdel", "chpasswd", "npm", "make")
    missing = [t for t in tools if shutil.which(t) is None]
    assert not missing, f"the hub test needs {', '.join(missing)} on PATH"


def _install():
    t0 = time.monotonic()
    r = subprocess.run(
        ["bash", str(REPO / "deploy/install.sh"), "--prefix", str(PREFIX)],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, f"deploy/install.sh failed:\n{r.stdout[-3000:]}\n{r.stderr[-5000:]}"
    return time.monotonic() - t0


def test_hub_round_trip():
    _require_tools()
    figures = {"install_s": round(_install(), 1)}
    solution = json.loads((REPO / f"solutions/{ASSIGNMENT}/{ASSIGNMENT}.ipynb").read_text())
    auto_points, manual_points = grade_points(solution)
    assert auto_points > 0, f"{ASSIGNMENT} has no autograded tests"

    tag = secrets.token_hex(3)
    accounts = UnixAccounts()
    work = Path(tempfile.mkdtemp(prefix="mdlh_hub_"))
    os.chmod(work, 0o755)  # users must reach the exchange inside it
    exchange = work / "exchange"
    exchange.mkdir()
    os.chmod(exchange, 0o1777)
    names = {k: f"mdlh_{k}_{tag}" for k in ("inst", "ann", "bob")}
    hub, survivors, users_procs = None, [], []
    try:
        teachers, learners = f"mdlh_formgrade_{tag}", f"mdlh_nbgrader_{tag}"
        pw = _make_class(accounts, names, teachers, learners, work)
        course = Path(pwd.getpwnam(names["inst"]).pw_dir) / "mathdl-course"
        copy_course(course, names["inst"])

        hub = Hub(PREFIX, work, COURSE_ID, teachers, learners, exchange)
        _leave_state_open(hub.state)
        figures["hub_start_s"] = round(hub.start(), 2)
        inst, ann, bob = (HubUser(hub, names[k], pw[k]) for k in ("inst", "ann", "bob"))
        figures["spawn_s"] = {}
        for person in (inst, ann, bob):
            person.login()
            if person is inst:
                # JupyterHub 6 refuses a cookie-authenticated API call without X-XSRFToken.
                r = person.hub_api("POST", f"/users/{person.name}/server", xsrf=False)
                assert r.status_code == 403, r.status_code
            figures["spawn_s"][person.name] = round(person.start_server(), 2)
            person.make_token()

        # A stranger's password does not log in; a student cannot use another's server.
        intruder = HubUser(hub, names["bob"], "not-" + pw["bob"])
        with pytest.raises(AssertionError, match="login of"):
            intruder.login()
        for path in ("api/contents", "lab", f"api/contents/{ASSIGNMENT}"):
            r = ann.server("GET", path, owner=bob.name)
            assert r.status_code in (403, 404), (path, r.status_code)
            r = ann.web.get(f"{hub.url}/user/{bob.name}/{path}", timeout=60)
            assert r.status_code in (403, 404) or f"/user/{ann.name}/" in r.url, (path, r.url)
        # Formgrader only for instructors: not served to students, nor shown in their JupyterLab.
        assert ann.server("GET", "formgrader").status_code == 404
        page = ann.ok("GET", "lab").text
        config = json.loads(
            page.split('id="jupyter-config-data"')[1].split(">", 1)[1].split("</script>")[0]
        )
        assert "@jupyter/nbgrader:formgrader" in config["disabledExtensions"], config[
            "disabledExtensions"
        ]
        assert inst.ok("GET", "formgrader/api/status").json()["status"] is True

        # Release; each student fetches it. The first release makes inbound/ and outbound/;
        # feedback/ comes with the first release_feedback (docs/hub.md, section 1, step 2).
        inst.formgrader("release", ASSIGNMENT)
        assert sorted(os.listdir(exchange / COURSE_ID)) == ["inbound", "outbound"]
        for student in (ann, bob):
            listing = student.assignment_action("fetch", COURSE_ID, ASSIGNMENT)["value"]
            assert any(
                a["assignment_id"] == ASSIGNMENT and a["status"] == "fetched" for a in listing
            ), listing
        nb_path = f"api/contents/{ASSIGNMENT}/{ASSIGNMENT}.ipynb"
        model = ann.ok("GET", nb_path).json()
        assert fill_in(model["content"], solution) > 0
        ann.ok("PUT", nb_path, json={"type": "notebook", "content": model["content"]})

        # Files of other users are out of reach from a student's own kernel: another student's
        # home, the instructor's course (solutions, gradebook), the exchange's submissions.
        inbound = exchange / COURSE_ID / "inbound"
        private = [str(Path(pwd.getpwnam(bob.name).pw_dir)), str(course), str(inbound)]
        probe = (
            f"import os\nfor p in {private!r}:\n"
            "    try:\n        os.listdir(p); print('READABLE', p)\n"
            "    except PermissionError:\n        print('DENIED', p)\n"
        )
        # One kernel of the student's for the probes and the memory figure (a kernel start is
        # seconds on a loaded machine).
        kid = ann.ok("POST", "api/kernels", json={"name": "python3"}).json()["id"]
        try:
            status, out = ann.execute(kid, probe, timeout=120)
            assert status == "ok" and "READABLE" not in out and out.count("DENIED") == 3, out
            _check_hub_state_private(hub.state, ann, kid, work)

            # Memory of a student's kernel with the course's libraries loaded (for docs/hub.md).
            status, out = ann.execute(
                kid,
                "import resource, numpy, matplotlib.pyplot, torch, mathdl, ipywidgets\n"
                "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)",
                timeout=300,
            )
            assert status == "ok", out
            figures["kernel_rss_mb_after_imports"] = round(int(out.split()[-1]) / 1024, 1)
        finally:
            ann.server("DELETE", f"api/kernels/{kid}")

        for student in (ann, bob):
            student.assignment_action("submit", COURSE_ID, ASSIGNMENT)
        inst.formgrader("collect", ASSIGNMENT)

        # Grade with the course's own command, in a kernel on the instructor's server.
        grade_cmd = [
            "make",
            "-o",
            f"{PREFIX}/env/.installed",
            "grade",
            f"ASSIGNMENT={ASSIGNMENT}",
            f"VENV={PREFIX}/env",
        ]
        t0 = time.monotonic()
        status, out = inst.run_in_kernel(
            "import subprocess\n"
            f"r = subprocess.run({grade_cmd!r}, cwd={str(course)!r}, capture_output=True, text=True)\n"
            "print(r.stdout[-20000:]); print(r.stderr[-20000:])\n"
            f"for log in __import__('glob').glob({str(course)!r} + '/nbgrader_work/*/*/*.log'):\n"
            "    print('==', log); print(open(log).read()[-3000:])\n"
            "print('EXIT', r.returncode)",
            timeout=600,
        )
        figures["grade_2_submissions_s"] = round(time.monotonic() - t0, 1)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / "make-grade.txt").write_text(out)
        assert status == "ok" and out.rstrip().endswith("EXIT 0"), out

        scores = {
            s["student"]: s
            for s in inst.ok("GET", f"formgrader/api/submissions/{ASSIGNMENT}").json()
        }
        marks = {k: (v["score"], v["max_score"]) for k, v in scores.items()}
        report = "\n".join(line for line in out.splitlines() if line.startswith("|"))
        why = f"marks {marks}; make grade's report (test-artifacts/hub/make-grade.txt):\n{report}"
        assert set(scores) == {ann.name, bob.name}, why
        assert scores[ann.name]["score"] == pytest.approx(auto_points), why
        assert scores[bob.name]["score"] == 0, why
        for s in scores.values():
            assert s["max_score"] == pytest.approx(auto_points + manual_points), s

        assert "feedback" not in os.listdir(exchange / COURSE_ID)
        inst.formgrader("release_feedback", ASSIGNMENT)
        assert (exchange / COURSE_ID / "feedback").is_dir()
        for student in (ann, bob):
            student.assignment_action("fetch_feedback", COURSE_ID, ASSIGNMENT)
            listing = student.ok("GET", f"api/contents/{ASSIGNMENT}/feedback").json()["content"]
            assert len(listing) == 1, listing  # one submission -> one feedback folder
            files = student.ok("GET", f"api/contents/{listing[0]['path']}")
            html = [f for f in files.json()["content"] if f["name"] == f"{ASSIGNMENT}.html"]
            assert html, files.json()
            page = student.ok("GET", f"files/{html[0]['path']}").text
            assert "<html" in page.lower() and ASSIGNMENT in page

        # Each user stops their own server; the hub then reports none running.
        hub.remember_processes()
        for person in (inst, ann, bob):
            person.stop_server()
        for person in (inst, ann, bob):
            person.wait_stopped()
    finally:
        if hub is not None:
            figures["hub_stop_s"] = round(hub.stop(), 2)
            survivors = hub.surviving()
            hub.kill_survivors()
        users_procs = pids_of_uids(accounts.uids())
        errors = accounts.remove()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / "figures.json").write_text(json.dumps(figures, indent=2) + "\n")
        if hub is not None and hub.log_path.exists():
            shutil.copy(hub.log_path, ARTIFACTS / "jupyterhub.log")
        shutil.rmtree(work, ignore_errors=True)
    print("hub figures:", json.dumps(figures))
    assert not survivors, f"processes left running after the hub stopped: {survivors}"
    # The hub was started with SIGINT ignored (as from a script's background); before the fix in
    # jupyterhub_config.py its idle culler then ignored the hub's SIGINT and stopping took 30 s
    # more (LocalProcessSpawner.interrupt_timeout). 2 s on a quiet machine: 15 s is slack for load.
    assert figures.get("hub_stop_s", 0) < 15, f"stopping the hub took {figures['hub_stop_s']} s"
    assert not users_procs, f"processes of the test users left running: {users_procs}"
    assert not errors, errors
    for name in names.values():
        with pytest.raises(KeyError):
            pwd.getpwnam(name)


def _make_class(accounts, names, teachers, learners, work):
    """The accounts, as docs/hub.md makes them: deploy/add-class.sh over a CSV roster. The
    instructor's password is in the roster, the students' are made by the script. Checked from
    the system's own databases: shell bash, home mode 700, in the course's group."""
    roster = {names["inst"]: ("instructor", secrets.token_urlsafe(16))}
    roster.update({names[k]: ("student", "") for k in ("ann", "bob")})
    by_name = accounts.add_class(roster, teachers, learners, work)
    for name, (role, _) in roster.items():
        entry = pwd.getpwnam(name)
        assert entry.pw_shell == "/bin/bash", (name, entry.pw_shell)
        mode = stat.S_IMODE(os.stat(entry.pw_dir).st_mode)
        assert mode == 0o700, (name, oct(mode))
        group = teachers if role == "instructor" else learners
        assert name in grp.getgrnam(group).gr_mem, (name, group)
    return {k: by_name[names[k]] for k in names}


def _leave_state_open(state):
    """The hub's state folder as `mkdir -p` and an earlier, unfixed hub left it: mode 755, a
    database and a cookie secret at 644. jupyterhub_config.py must close all of it on start."""
    state.mkdir(mode=0o755)
    os.chmod(state, 0o755)
    (state / "jupyterhub.sqlite").touch(mode=0o644)
    secret = state / "jupyterhub_cookie_secret"
    secret.write_text(secrets.token_hex(32) + "\n")
    for path in (state / "jupyterhub.sqlite", secret):
        os.chmod(path, 0o644)


def _check_hub_state_private(state, student, kid, work):
    """A student (a real unix user, from a kernel on their own server) can open neither the
    hub's database nor its secrets, nor list the folder; and each file is closed on its own
    (0600): a hard link to it in a folder the student can enter does not open either."""
    files = sorted(p for p in state.iterdir() if p.is_file())
    names = {p.name for p in files}
    assert {"jupyterhub.sqlite", "jupyterhub_cookie_secret"} <= names, names
    secret_files = [p for p in files if not p.name.endswith(".pid")]
    links = work / "state-links"
    links.mkdir(mode=0o755)
    os.chmod(links, 0o755)
    targets = [str(p) for p in files]
    for path in secret_files:
        os.link(path, links / path.name)
        targets.append(str(links / path.name))
    probe = (
        f"import os\nfor p in {targets!r}:\n"
        "    try:\n        open(p, 'rb').read(1); print('READABLE', p)\n"
        "    except PermissionError:\n        print('DENIED', p)\n"
        "    except OSError as e:\n        print('OTHER', p, e)\n"
        f"try:\n    os.listdir({str(state)!r}); print('READABLE', 'listing')\n"
        "except PermissionError:\n    print('DENIED', 'listing')\n"
    )
    try:
        status, out = student.execute(kid, probe, timeout=120)
    finally:
        shutil.rmtree(links)
    assert status == "ok", out
    assert out.count("DENIED") == len(targets) + 1 and "READABLE" not in out, out
    # and the modes the config sets (docs/hub.md, section 1, step 5)
    assert stat.S_IMODE(state.stat().st_mode) == 0o700, oct(state.stat().st_mode)
    for path in secret_files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, (path.name, oct(path.stat().st_mode))


def _shadow_hash(name):
    for line in Path("/etc/shadow").read_text().splitlines():
        if line.split(":", 1)[0] == name:
            return line.split(":")[1]
    raise KeyError(name)


def test_add_class_again_with_a_longer_roster():
    """Re-running deploy/add-class.sh (late arrivals): new names are created, an existing account
    is only put in the group (its password and shell kept, its home made private), and a roster
    with an error creates nobody, not even the names before the error."""
    _require_tools()
    tag = secrets.token_hex(3)
    accounts = UnixAccounts()
    work = Path(tempfile.mkdtemp(prefix="mdlh_class_"))
    teachers, learners = f"mdlh_formgrade_{tag}", f"mdlh_nbgrader_{tag}"
    ann, bob, old, nobody = (f"mdlh_{k}_{tag}" for k in ("ann", "bob", "old", "nobody"))
    try:
        accounts.add_class({ann: ("student", "")}, teachers, learners, work)
        ann_hash = _shadow_hash(ann)
        accounts.users.append(old)  # an account made before, by hand: /bin/sh, home 755
        subprocess.run(["useradd", "--create-home", "-K", "HOME_MODE=0755", old], check=True)
        roster = work / "again.csv"
        roster.write_text(
            f"username,role,password\n{ann},student,\n{bob},student,\n{old},student,\n"
        )
        accounts.users.append(bob)
        script = ["bash", str(REPO / "deploy/add-class.sh"), "--instructor-group", teachers]
        r = subprocess.run(
            [*script, "--student-group", learners, str(roster)], capture_output=True, text=True
        )
        assert r.returncode == 0, r.stderr
        assert _shadow_hash(ann) == ann_hash  # not given a password: kept
        assert {ann, bob, old} <= set(grp.getgrnam(learners).gr_mem)
        assert pwd.getpwnam(bob).pw_shell == "/bin/bash"
        assert pwd.getpwnam(old).pw_shell == "/bin/sh"  # someone's own choice stays
        assert stat.S_IMODE(os.stat(pwd.getpwnam(old).pw_dir).st_mode) == 0o700
        made = (work / "again.passwords.csv").read_text().splitlines()
        assert made[0] == "username,password" and [m.split(",")[0] for m in made[1:]] == [bob]

        bad = work / "bad.csv"
        bad.write_text(f"username,role\n{nobody},student\nx y,student\n")
        r = subprocess.run(
            [*script, "--student-group", learners, str(bad)], capture_output=True, text=True
        )
        accounts.users.append(nobody)
        assert r.returncode == 1 and "line 3" in r.stderr, r.stderr
        with pytest.raises(KeyError):
            pwd.getpwnam(nobody)
    finally:
        errors = accounts.remove()
        shutil.rmtree(work, ignore_errors=True)
    assert not errors, errors
