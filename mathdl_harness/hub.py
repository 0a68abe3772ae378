"""Helpers for tests/e2e/test_hub.py: unix users, a real JupyterHub, and clients that act as a user.

Everything here acts through what a person has: a unix account and password, the hub's login
page and REST API (with the `_xsrf` cookie echoed in `X-XSRFToken`, which JupyterHub 6 requires
for cookie-authenticated API calls), an API token the user made for themselves, and that user's
own Jupyter server (its contents API, nbgrader's assignment-list and formgrader handlers, and a
kernel that runs shell commands as the user).
"""

import asyncio
import contextlib
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import requests
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

REPO = Path(__file__).resolve().parents[1]
PREFIX_ENV = "MATHDL_HUB_TEST_PREFIX"
USER_PREFIX = "mdlh_"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sh(*cmd: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(cmd), check=True, capture_output=True, text=True, **kw)


# ------------------------------------------------------------------------ users and groups


class UnixAccounts:
    """mdlh_* users and groups made by deploy/add-class.sh, the command docs/hub.md gives for a
    class list; `remove()` deletes them, their homes and processes."""

    def __init__(self) -> None:
        self.users: list[str] = []
        self.groups: list[str] = []

    def add_class(
        self,
        roster: dict[str, tuple[str, str]],
        instructor_group: str,
        student_group: str,
        workdir: Path,
    ) -> dict[str, str]:
        """Accounts for `roster` ({name: (role, password or "")}) through deploy/add-class.sh,
        as an administrator following docs/hub.md would; returns {name: password}, the
        passwords the script made where the roster gave none."""
        for name in [*roster, instructor_group, student_group]:
            assert name.startswith(USER_PREFIX), name
        self.groups += [instructor_group, student_group]
        self.users += list(roster)
        csv_path = workdir / "class.csv"
        lines = ["username,role,password"]
        lines += [f"{name},{role},{password}" for name, (role, password) in roster.items()]
        csv_path.touch(mode=0o600)  # it holds a password: the students must not read it
        csv_path.write_text("\n".join(lines) + "\n")
        made = workdir / "class.passwords.csv"
        sh(
            "bash",
            str(REPO / "deploy/add-class.sh"),
            "--instructor-group",
            instructor_group,
            "--student-group",
            student_group,
            str(csv_path),
        )
        passwords = {name: password for name, (_, password) in roster.items() if password}
        if made.exists():
            assert made.stat().st_mode & 0o077 == 0, oct(made.stat().st_mode)
            rows = made.read_text().splitlines()
            assert rows[0] == "username,password", rows[0]
            for row in rows[1:]:
                name, password = row.split(",", 1)
                passwords[name] = password
        assert set(passwords) == set(roster), (sorted(passwords), sorted(roster))
        return passwords

    def uids(self) -> list[int]:
        out = []
        for name in self.users:
            with contextlib.suppress(KeyError):
                out.append(pwd.getpwnam(name).pw_uid)
        return out

    def remove(self) -> list[str]:
        errors = []
        for pid in pids_of_uids(self.uids()):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for name in reversed(self.users):
            r = subprocess.run(["userdel", "--remove", name], capture_output=True, text=True)
            if r.returncode not in (0, 6):  # 6: no such user
                errors.append(f"userdel {name}: {r.stderr.strip()}")
        for name in reversed(self.groups):
            r = subprocess.run(["groupdel", name], capture_output=True, text=True)
            if r.returncode not in (0, 6):
                errors.append(f"groupdel {name}: {r.stderr.strip()}")
        return errors


def pids_of_uids(uids: Iterable[int]) -> list[int]:
    """Processes (by pid) whose real uid is one of `uids`, from /proc."""
    pids, uids = [], set(uids)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as fh:
                for line in fh:
                    if line.startswith("Uid:"):
                        if int(line.split()[1]) in uids:
                            pids.append(int(entry))
                        break
        except (OSError, ValueError):
            continue
    return pids


def descendants(pid: int) -> list[int]:
    """All live descendants of `pid` (pids), from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for kid in children.get(todo.pop(), []):
            out.append(kid)
            todo.append(kid)
    return out


# --------------------------------------------------------------------------------- the hub


class Hub:
    """A JupyterHub process started from deploy/jupyterhub_config.py on 127.0.0.1."""

    def __init__(
        self,
        prefix: str,
        workdir: Path,
        course_id: str,
        instructor_group: str,
        student_group: str,
        exchange: Path,
    ) -> None:
        self.prefix = prefix
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.state = workdir / "hub-state"
        self.log_path = workdir / "jupyterhub.log"
        self.env = {
            "PATH": f"{prefix}/env/bin:/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "MATHDL_HUB_PREFIX": str(prefix),
            "MATHDL_HUB_STATE": str(self.state),
            "MATHDL_HUB_IP": "127.0.0.1",
            "MATHDL_HUB_PORT": str(self.port),
            "MATHDL_HUB_API_PORT": str(free_port()),
            "MATHDL_PROXY_API_PORT": str(free_port()),
            "MATHDL_COURSE_ID": course_id,
            "MATHDL_INSTRUCTOR_GROUP": instructor_group,
            "MATHDL_STUDENT_GROUP": student_group,
            "MATHDL_EXCHANGE": str(exchange),
        }
        self.proc: subprocess.Popen[bytes] | None = None
        self.all_pids: set[int] = set()

    def start(self, timeout: float = 90, sigint_ignored: bool = True) -> float:
        """Starts the hub; returns the seconds until its API answered. With `sigint_ignored` it
        starts with SIGINT ignored, as a hub started in the background of a script (or by many
        CI runners) is: the case in which stopping it once took 36 s (jupyterhub_config.py)."""
        t0 = time.monotonic()
        self.log = open(self.log_path, "w")  # closed in stop()
        # A signal ignored in the parent stays ignored in the child (a handler would not).
        saved = signal.signal(signal.SIGINT, signal.SIG_IGN) if sigint_ignored else None
        try:
            self.proc = subprocess.Popen(
                [
                    f"{self.prefix}/env/bin/jupyterhub",
                    "-f",
                    str(REPO / "deploy/jupyterhub_config.py"),
                ],
                cwd=self.state.parent,
                env=self.env,
                stdout=self.log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            if sigint_ignored:
                signal.signal(signal.SIGINT, saved)
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyterhub exited with {self.proc.returncode}:\n{self.tail()}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{self.url}/hub/api/", timeout=5).status_code == 200:
                    return time.monotonic() - t0
            time.sleep(0.25)
        raise RuntimeError(f"jupyterhub did not answer within {timeout} s:\n{self.tail()}")

    def remember_processes(self) -> None:
        """Record the hub's process tree (proxy, servers, kernels) to check they all end."""
        if self.proc is not None:
            self.all_pids.update(descendants(self.proc.pid))

    def stop(self, timeout: float = 60) -> float | None:
        """SIGTERM (what `systemctl stop` sends); returns the seconds until the hub exited."""
        if self.proc is None:
            return None
        self.remember_processes()
        t0 = time.monotonic()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.log.close()
        return time.monotonic() - t0

    def surviving(self) -> list[int]:
        alive = []
        for pid in sorted(self.all_pids):
            try:
                with open(f"/proc/{pid}/stat") as fh:
                    state = fh.read().rsplit(")", 1)[1].split()[0]
                if state != "Z":
                    alive.append(pid)
            except OSError:
                pass
        return alive

    def kill_survivors(self) -> None:
        for pid in self.surviving():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def tail(self, n: int = 60) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        return ""


# ------------------------------------------------------------------------- a user's client


class HubUser:
    """One person: logs in with a password, starts their server, gets a token, uses the server."""

    def __init__(self, hub: Hub, name: str, password: str) -> None:
        self.hub, self.name, self.password = hub, name, password
        self.web = requests.Session()
        self.token = None

    # hub -------------------------------------------------------------------------------------
    def login(self) -> None:
        r = self.web.get(f"{self.hub.url}/hub/login", timeout=30)
        r.raise_for_status()
        xsrf = self.web.cookies.get("_xsrf", path="/hub/")
        # Not following the redirect: a browser would go on to /hub/spawn, which starts the
        # server; here the server is started (and timed) through the REST API instead.
        r = self.web.post(
            f"{self.hub.url}/hub/login",
            data={"username": self.name, "password": self.password, "_xsrf": xsrf},
            timeout=60,
            allow_redirects=False,
        )
        if r.status_code != 302 or not any(
            c.name.startswith("jupyterhub-session") for c in self.web.cookies
        ):
            raise AssertionError(f"login of {self.name} failed: {r.status_code} {r.url}")

    def hub_api(self, method: str, path: str, xsrf: bool = True, **kw: Any) -> requests.Response:
        headers = kw.pop("headers", {})
        if xsrf:
            headers["X-XSRFToken"] = self.web.cookies.get("_xsrf", path="/hub/")
        return self.web.request(
            method, f"{self.hub.url}/hub/api{path}", headers=headers, timeout=60, **kw
        )

    def start_server(self, timeout: float = 120) -> float:
        t0 = time.monotonic()
        r = self.hub_api("POST", f"/users/{self.name}/server")
        if r.status_code not in (201, 202):  # 400 if it was already running or pending
            raise AssertionError(f"starting {self.name}'s server: {r.status_code} {r.text}")
        while time.monotonic() - t0 < timeout:
            model = self.hub_api("GET", f"/users/{self.name}").json()
            server = model.get("servers", {}).get("")
            if server and server.get("ready"):
                return time.monotonic() - t0
            time.sleep(0.2)
        raise AssertionError(
            f"{self.name}'s server not ready after {timeout} s:\n{self.hub.tail()}"
        )

    def make_token(self) -> None:
        r = self.hub_api(
            "POST", f"/users/{self.name}/tokens", json={"note": "hub-test", "expires_in": 3600}
        )
        r.raise_for_status()
        self.token = r.json()["token"]

    def stop_server(self) -> None:
        r = self.hub_api("DELETE", f"/users/{self.name}/server")
        if r.status_code not in (202, 204):
            raise AssertionError(f"stopping {self.name}'s server: {r.status_code} {r.text}")

    def wait_stopped(self, timeout: float = 60) -> None:
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if not self.hub_api("GET", f"/users/{self.name}").json().get("servers"):
                return
            time.sleep(0.2)
        raise AssertionError(f"{self.name}'s server still listed {timeout} s after stopping")

    # a server (one's own, or an attempt at someone else's) ---------------------------------------
    def server(
        self, method: str, path: str, owner: str | None = None, **kw: Any
    ) -> requests.Response:
        owner = owner or self.name
        headers = {"Authorization": f"token {self.token}", **kw.pop("headers", {})}
        return requests.request(
            method,
            f"{self.hub.url}/user/{owner}/{path.lstrip('/')}",
            headers=headers,
            timeout=kw.pop("timeout", 120),
            allow_redirects=False,
            **kw,
        )

    def ok(self, method: str, path: str, **kw: Any) -> requests.Response:
        r = self.server(method, path, **kw)
        if r.status_code >= 400:
            raise AssertionError(
                f"{self.name}: {method} {path} -> {r.status_code}: {r.text[:2000]}"
            )
        return r

    def assignment_action(self, action: str, course_id: str, assignment: str) -> dict[str, Any]:
        r = self.ok(
            "POST",
            f"assignments/{action}",
            data={"course_id": course_id, "assignment_id": assignment},
        )
        out = r.json()
        if isinstance(out, dict) and not out.get("success", True):
            raise AssertionError(f"{self.name}: {action} failed: {out}")
        return out

    def formgrader(self, action: str, assignment: str) -> dict[str, Any]:
        out = self.ok("POST", f"formgrader/api/assignment/{assignment}/{action}").json()
        if not out.get("success"):
            raise AssertionError(f"formgrader {action} failed: {json.dumps(out)[:4000]}")
        return out

    def run_in_kernel(self, code: str, timeout: float = 600) -> tuple[str, str]:
        """Runs `code` in a new kernel on the user's own server; returns (status, output)."""
        kid = self.ok("POST", "api/kernels", json={"name": "python3"}).json()["id"]
        try:
            return self.execute(kid, code, timeout)
        finally:
            self.server("DELETE", f"api/kernels/{kid}")

    def execute(self, kid: str, code: str, timeout: float = 600) -> tuple[str, str]:
        """Runs `code` in the user's running kernel `kid`; returns (status, output)."""
        return asyncio.run(self._execute(kid, code, timeout))

    async def _execute(self, kid: str, code: str, timeout: float) -> tuple[str, str]:
        url = f"ws://127.0.0.1:{self.hub.port}/user/{self.name}/api/kernels/{kid}/channels"
        req = HTTPRequest(url, headers={"Authorization": f"token {self.token}"})
        ws = await websocket_connect(req)
        msg_id = uuid.uuid4().hex
        ws.write_message(
            json.dumps(
                {
                    "header": {
                        "msg_id": msg_id,
                        "username": self.name,
                        "session": uuid.uuid4().hex,
                        "msg_type": "execute_request",
                        "version": "5.3",
                    },
                    "parent_header": {},
                    "metadata": {},
                    "content": {
                        "code": code,
                        "silent": False,
                        "store_history": False,
                        "user_expressions": {},
                        "allow_stdin": False,
                        "stop_on_error": True,
                    },
                    "channel": "shell",
                    "buffers": [],
                }
            )
        )
        output: list[str] = []
        status, idle = None, False
        deadline = time.monotonic() + timeout
        while status is None or not idle:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"kernel of {self.name} timed out; output:\n{''.join(output)}")
            raw = await asyncio.wait_for(ws.read_message(), left)
            if raw is None:
                raise AssertionError(f"kernel websocket of {self.name} closed")
            msg = json.loads(raw)
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = msg["header"]["msg_type"], msg["content"]
            if kind == "stream":
                output.append(content["text"])
            elif kind == "error":
                output.append("\n".join(content["traceback"]))
            elif kind == "execute_reply":
                status = content["status"]
            elif kind == "status" and content["execution_state"] == "idle":
                idle = True
        ws.close()
        return status, "".join(output)


# ------------------------------------------------------------------------- notebooks


def grade_points(nb: dict[str, Any]) -> tuple[float, float]:
    """(autograded test points, manually graded points) from nbgrader's cell metadata."""
    auto = manual = 0.0
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if not meta.get("grade"):
            continue
        if meta.get("solution"):
            manual += float(meta.get("points", 0))
        else:
            auto += float(meta.get("points", 0))
    return auto, manual


def fill_in(student_nb: dict[str, Any], solution_nb: dict[str, Any]) -> int:
    """The student's notebook with every answer cell replaced by the instructor's answer
    (solution markers removed): what a student who solved everything would submit."""
    answers = {}
    for cell in solution_nb["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution"):
            src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            keep = [
                line
                for line in src.splitlines()
                if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION")
            ]
            answers[meta["grade_id"]] = "\n".join(keep)
    filled = 0
    for cell in student_nb["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution") and meta.get("grade_id") in answers:
            cell["source"] = answers[meta["grade_id"]]
            filled += 1
    return filled


def copy_course(dest: Path, owner: str) -> None:
    """The instructor's private course directory: this checkout's files (as `git clone` gives)."""
    files = sh(
        "git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"
    ).stdout.split("\0")
    for rel in filter(None, files):
        src = REPO / rel
        if src.is_file():
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)
    sh("chown", "-R", f"{owner}:{owner}", str(dest))
    os.chmod(dest, 0o700)
