"""One memory and task limit for a whole sandbox: a cgroup (:class:`Cage`, used by :mod:`.sandbox`).

Per-process limits (``RLIMIT_AS``) do not add up: three child processes of 1.5 GB each, memory
files (``memfd``) and files in a RAM filesystem all escape them. A cgroup counts everything the
sandbox's processes use (their memory, ``memfd``, tmpfs pages they wrote, page cache) against
one ``memory`` limit and caps their number (``pids``); when the memory is used up the kernel's
OOM killer acts inside the cgroup only.

Where it works (see :func:`problem` for why not, elsewhere):

* cgroup v2 (``/sys/fs/cgroup`` is ``cgroup2``, with the memory and pids controllers): as root,
  ``/sys/fs/cgroup/mathdl-grading/<kernel>``;
* cgroup v1 (a ``memory`` and a ``pids`` hierarchy): as root, ``<hierarchy>/mathdl-grading/<kernel>``;
* as any user, under a folder an administrator delegated (``chown``) to that user:
  ``c.SandboxKernelManager.cgroup_parent`` (v2: a cgroup folder; v1: the memory hierarchy's
  folder, with a pids folder of the same name).

The process enters its cgroup before it executes anything else (:meth:`Cage.enter_argv`), so
every process of the sandbox is inside from its first instruction.
"""

import contextlib
import os
import shlex
import signal
import time
import uuid

CGROUP = "/sys/fs/cgroup"
BASE = "mathdl-grading"


def _write(path: str, value: object) -> None:
    with open(path, "w") as fh:
        fh.write(str(value))


def _own_v1(controller: str) -> str:
    """This process's cgroup folder in the v1 hierarchy of ``controller``."""
    with open("/proc/self/cgroup") as fh:
        for line in fh:
            _id, names, path = line.rstrip("\n").split(":", 2)
            if controller in names.split(","):
                return os.path.join(CGROUP, controller, path.lstrip("/"))
    raise OSError(f"no cgroup v1 {controller} hierarchy")


def _layout(parent: str | None = None) -> tuple[int, dict[str, str]]:
    """``(version, {controller: parent folder})`` of the cgroups this process may create.

    v1: under this process's own cgroups (so the sandbox stays inside the grader's own limits);
    v2: at the top (a cgroup with processes, like the grader's, cannot hold limited children)."""
    if os.path.isfile(os.path.join(CGROUP, "cgroup.controllers")):
        return 2, {"memory": parent or os.path.join(CGROUP, BASE)}
    memory, pids = os.path.join(CGROUP, "memory"), os.path.join(CGROUP, "pids")
    if parent:
        return 1, {"memory": parent, "pids": parent.replace(memory, pids, 1)}
    return 1, {c: os.path.join(_own_v1(c), BASE) for c in ("memory", "pids")}


class Cage:
    """A cgroup for one sandbox; :meth:`create` makes it, :meth:`remove` kills and deletes it."""

    def __init__(self, version: int, folders: dict[str, str], memory_bytes: int) -> None:
        self.version, self.folders, self.memory_bytes = version, folders, memory_bytes

    @classmethod
    def create(cls, memory_bytes: int, tasks: int, parent: str | None = None) -> "Cage":
        """A new cgroup with these limits; raises OSError where cgroups cannot be made."""
        version, parents = _layout(parent)
        name = uuid.uuid4().hex[:16]
        cage = cls(version, {}, memory_bytes)
        try:
            for controller, top in parents.items():
                cage._prepare(top)
                cage.folders[controller] = os.path.join(top, name)
                os.mkdir(cage.folders[controller])
            cage._limit(memory_bytes, tasks)
        except OSError:
            cage.remove()
            raise
        return cage

    def _prepare(self, top: str) -> None:
        if self.version == 2:
            os.makedirs(top, exist_ok=True)
            wanted = {"memory", "pids"}
            with open(os.path.join(top, "cgroup.subtree_control")) as fh:
                if not wanted <= set(fh.read().split()):
                    _write(os.path.join(top, "cgroup.subtree_control"), "+memory +pids")
        else:
            os.makedirs(top, exist_ok=True)

    def _limit(self, memory_bytes: int, tasks: int) -> None:
        if self.version == 2:
            folder = self.folders["memory"]
            _write(os.path.join(folder, "memory.max"), memory_bytes)
            with contextlib.suppress(OSError):  # absent where the kernel has no swap support
                _write(os.path.join(folder, "memory.swap.max"), 0)
            _write(os.path.join(folder, "memory.oom.group"), 1)
            _write(os.path.join(folder, "pids.max"), tasks)
            return
        memory, pids = self.folders["memory"], self.folders["pids"]
        _write(os.path.join(memory, "memory.limit_in_bytes"), memory_bytes)
        with contextlib.suppress(OSError):  # memsw exists only with swap accounting
            _write(os.path.join(memory, "memory.memsw.limit_in_bytes"), memory_bytes)
        _write(os.path.join(pids, "pids.max"), tasks)

    def enter_argv(self) -> list[str]:
        """A prefix for a command line: the command runs inside this cgroup, or not at all."""
        procs = [os.path.join(f, "cgroup.procs") for f in self.folders.values()]
        script = " && ".join(f"echo $$ > {shlex.quote(p)}" for p in procs) + ' && exec "$@"'
        return ["/bin/sh", "-c", script, "sh"]

    def _read(self, name: str) -> str:
        try:
            with open(os.path.join(self.folders["memory"], name)) as fh:
                return fh.read()
        except (OSError, KeyError):
            return ""

    def peak_bytes(self) -> int:
        """The most memory the sandbox used at once (0 when unknown)."""
        name = "memory.peak" if self.version == 2 else "memory.max_usage_in_bytes"
        return int(self._read(name).strip() or 0)

    def oom_kills(self) -> int:
        """How many processes the memory limit killed."""
        name = "memory.events" if self.version == 2 else "memory.oom_control"
        for line in self._read(name).splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
        return 0

    def pids(self) -> set[int]:
        out = set()
        for folder in self.folders.values():
            with contextlib.suppress(OSError), open(os.path.join(folder, "cgroup.procs")) as fh:
                out |= {int(p) for p in fh.read().split()}
        return out

    def remove(self, wait: float = 5.0) -> None:
        """Kill every process left in the cgroup, then delete it."""
        deadline = time.monotonic() + wait
        for folder in reversed(list(self.folders.values())):
            while os.path.isdir(folder):
                for pid in self.pids():
                    with contextlib.suppress(OSError):
                        os.kill(pid, signal.SIGKILL)
                try:
                    os.rmdir(folder)
                except OSError:
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.02)
