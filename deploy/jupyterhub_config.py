"""JupyterHub for the mathdl course on one server (docs/hub.md).

Run as root from the class environment that deploy/install.sh builds:

    /opt/mathdl-hub/env/bin/jupyterhub -f deploy/jupyterhub_config.py

- Users log in with their unix account (PAM). Only members of the course's two nbgrader
  groups may log in: formgrade-<course> (instructors and graders) and nbgrader-<course>
  (students). For a university login replace the authenticator (docs/hub.md: OAuth/LTI).
- Each user's server is a local process running as that user, in the class environment, in
  their home directory. Students get their own copy of the lessons in ~/mathdl on first start.
- nbgrader's exchange is one shared directory (MATHDL_EXCHANGE); the formgrader runs in the
  instructors' servers only, over their private course directory (~/mathdl-course).

Every setting that differs between machines is an environment variable (defaults in brackets):
MATHDL_HUB_PREFIX [/opt/mathdl-hub], MATHDL_HUB_STATE [/srv/jupyterhub], MATHDL_HUB_IP
[127.0.0.1; put TLS in front before opening it to the network], MATHDL_HUB_PORT [8000],
MATHDL_HUB_API_PORT [8081], MATHDL_PROXY_API_PORT [8001], MATHDL_COURSE_ID [mathdl],
MATHDL_EXCHANGE [/srv/nbgrader/exchange], MATHDL_IDLE_TIMEOUT seconds [3600],
MATHDL_INSTRUCTOR_GROUP [formgrade-<course>], MATHDL_STUDENT_GROUP [nbgrader-<course>].
"""

import grp
import os
import pwd
import signal
import stat
import subprocess
import sys

c = get_config()  # noqa: F821  (provided by JupyterHub when this file is loaded)

PREFIX = os.environ.get("MATHDL_HUB_PREFIX", "/opt/mathdl-hub")
STATE = os.environ.get("MATHDL_HUB_STATE", "/srv/jupyterhub")
COURSE = os.environ.get("MATHDL_COURSE_ID", "mathdl")
EXCHANGE = os.environ.get("MATHDL_EXCHANGE", "/srv/nbgrader/exchange")
INSTRUCTORS = os.environ.get("MATHDL_INSTRUCTOR_GROUP", f"formgrade-{COURSE}")
STUDENTS = os.environ.get("MATHDL_STUDENT_GROUP", f"nbgrader-{COURSE}")
IDLE_TIMEOUT = int(os.environ.get("MATHDL_IDLE_TIMEOUT", "3600"))

for _path, _what in [
    (f"{PREFIX}/env/bin/jupyterhub-singleuser", "the class environment (run deploy/install.sh)"),
    (f"{PREFIX}/course/notebooks", "the lessons (run deploy/install.sh)"),
    (EXCHANGE, "nbgrader's exchange directory (docs/hub.md: mkdir, chmod 1777)"),
]:
    if not os.path.exists(_path):
        sys.exit(f"jupyterhub_config.py: {_path} is missing: {_what}")

# --- the hub and its proxy -----------------------------------------------------------------
c.JupyterHub.ip = os.environ.get("MATHDL_HUB_IP", "127.0.0.1")
c.JupyterHub.port = int(os.environ.get("MATHDL_HUB_PORT", "8000"))
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(os.environ.get("MATHDL_HUB_API_PORT", "8081"))
c.ConfigurableHTTPProxy.api_url = (
    f"http://127.0.0.1:{int(os.environ.get('MATHDL_PROXY_API_PORT', '8001'))}"
)
c.ConfigurableHTTPProxy.command = [f"{PREFIX}/proxy/node_modules/.bin/configurable-http-proxy"]


def private_state(path):
    """The hub's state folder, private to the hub's user whatever state it was found in.

    It holds the user list, activity times, hashed tokens and OAuth client secrets (the
    database) and the cookie secret. os.makedirs(mode=0o700) changes nothing about a folder that
    exists already (`mkdir -p` leaves it 755), so the modes are set here on every start: the
    folder 0700, every file in it 0600, and the database created 0600 before the hub opens it
    (SQLite gives its journal files the database's mode; JupyterHub writes its cookie secret
    0600 itself).
    """
    os.makedirs(path, mode=0o700, exist_ok=True)
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode):
        sys.exit(f"jupyterhub_config.py: MATHDL_HUB_STATE={path} is not a folder (a link?)")
    if st.st_uid != os.geteuid():
        sys.exit(
            f"jupyterhub_config.py: {path} belongs to uid {st.st_uid}, not to the hub's user "
            f"(uid {os.geteuid()}); its owner could read the hub's secrets: chown it"
        )
    os.chmod(path, 0o700)
    for entry in os.scandir(path):
        if entry.is_file(follow_symlinks=False):
            os.chmod(entry.path, 0o600)
    db = os.path.join(path, "jupyterhub.sqlite")
    if os.path.islink(db):
        sys.exit(f"jupyterhub_config.py: {db} is a link; the database must be a file in {path}")
    os.close(os.open(db, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o600))
    return db


c.JupyterHub.db_url = f"sqlite:///{private_state(STATE)}"
c.JupyterHub.cookie_secret_file = f"{STATE}/jupyterhub_cookie_secret"
c.ConfigurableHTTPProxy.pid_file = f"{STATE}/jupyterhub-proxy.pid"
# Stopping the hub stops every user's server (and so every kernel).
c.JupyterHub.cleanup_servers = True
c.JupyterHub.cleanup_proxy = True

# --- who may log in ----------------------------------------------------------------------------
c.JupyterHub.authenticator_class = "pam"
# The class list is the two groups (add a student: `usermod -aG nbgrader-mathdl NAME`). A fixed
# list works too: c.Authenticator.allowed_users = {...} (JupyterHub 6 has no `whitelist`).
c.PAMAuthenticator.allowed_groups = {INSTRUCTORS, STUDENTS}
# No PAM session per login: not needed for a local spawner, and fails in containers.
c.PAMAuthenticator.open_sessions = False
# Instructors are not hub admins: an admin may open every student's server.
c.Authenticator.admin_users = set()

# --- each user's server -------------------------------------------------------------------------
c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = [f"{PREFIX}/env/bin/jupyterhub-singleuser"]
c.Spawner.default_url = "/lab"
c.Spawner.notebook_dir = "~"
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 90
# Nothing from the hub's own environment (root's PATH, PYTHONPATH, ...) leaks into users'.
c.Spawner.env_keep = ["LANG", "LC_ALL"]
c.Spawner.environment = {
    "PATH": f"{PREFIX}/env/bin:/usr/local/bin:/usr/bin:/bin",
    "MATHDL_COURSE_ID": COURSE,
    "MATHDL_EXCHANGE": EXCHANGE,
}


def _groups_of(name):
    """Names of the unix groups `name` belongs to (primary and supplementary)."""
    pw = pwd.getpwnam(name)
    return {grp.getgrgid(gid).gr_name for gid in os.getgrouplist(name, pw.pw_gid)}


def course_role(name):
    """'instructor' for formgrade-<course>, 'student' for nbgrader-<course>, else an error."""
    groups = _groups_of(name)
    if INSTRUCTORS in groups:
        return "instructor"
    if STUDENTS in groups:
        return "student"
    raise ValueError(f"user {name!r} is in neither {INSTRUCTORS} nor {STUDENTS}")


def pre_spawn_hook(spawner):
    """Per-role configuration, and the user's own copy of the lessons on first start."""
    name = spawner.user.name
    role = course_role(name)
    pw = pwd.getpwnam(name)
    spawner.environment = {
        **spawner.environment,
        # deploy/jupyter/<role>: the formgrader for instructors only; students' servers have
        # neither the formgrader nor the create-assignment tools.
        "JUPYTER_CONFIG_PATH": f"{PREFIX}/etc/{role}",
        "MATHDL_ROLE": role,
    }
    lessons = os.path.join(pw.pw_dir, "mathdl")
    if not os.path.lexists(lessons):
        # Copied as the user (never as root into a directory the user controls).
        subprocess.run(
            ["cp", "-r", f"{PREFIX}/course", lessons],
            user=pw.pw_uid,
            group=pw.pw_gid,
            extra_groups=[],
            cwd=pw.pw_dir,
            check=True,
        )


c.Spawner.pre_spawn_hook = pre_spawn_hook

# --- services: stop servers idle for MATHDL_IDLE_TIMEOUT seconds -------------------------------
# JupyterHub starts its services before it installs its own signal handlers, so a service
# inherits the hub's SIGINT disposition as it was at start-up; a hub started in the background of
# a non-interactive shell (`jupyterhub ... &` in a script, many CI runners) has SIGINT ignored,
# and on shutdown the culler then ignores the hub's SIGINT and is killed only after
# LocalProcessSpawner's 30 s interrupt_timeout (stopping took 36 s). Python's own SIGINT handler
# here (the hub replaces it with its own moments later) lets the culler stop at once.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
c.JupyterHub.services = [
    {
        "name": "idle-culler",
        "command": [sys.executable, "-m", "jupyterhub_idle_culler", f"--timeout={IDLE_TIMEOUT}"],
    }
]
c.JupyterHub.load_roles = [
    {
        "name": "idle-culler",
        "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
        "services": ["idle-culler"],
    }
]
