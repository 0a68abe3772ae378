"""The JupyterHub process: started from deploy/jupyterhub_config.py, stopped, its processes tracked."""

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

import requests

from .system import REPO, descendants, free_port


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
