"""The grading kernel runs in a bubblewrap sandbox: :class:`SandboxKernelManager`.

nbgrader_config.py makes nbgrader's Execute use this kernel manager, so ``make grade``,
``nbgrader autograde`` and formgrader's Autograde button all start the same sandboxed kernel.

What the kernel can see: the Python installation and the installed packages (read-only, only
their own folders), the mathdl and mathdl_grading sources (read-only), and its own private
folders, all in memory and each of a fixed size (``disk_mb``): the working folder (a copy of the
submission's data files, :mod:`.scratch`: never a notebook, nbgrader's files or a link),
``/tmp`` and ``/dev/shm``. Not the gradebook, not solutions/ or any other course file, not the
notebook nbgrader is grading (it arrives cell by cell), not other submissions, not the network
(own network namespace; the kernel talks to the grader over Unix sockets in a folder that
becomes read-only inside the sandbox once they exist, see :mod:`.kernel`), not other processes
(own PID namespace).

Limits, each set once, here (the traits below; nbgrader_config.py may override them): the
memory of the whole sandbox and the number of its tasks (a cgroup, :mod:`.cage`: every process,
memory file and tmpfs page counts), per process the address space, CPU time, file size, open
files and processes (:mod:`.kernel`), and the wall time of the whole notebook (``timeout``
around the sandbox). When the grader runs as root, the kernel drops to the ``nobody`` user;
otherwise it runs as the grader's user inside a user namespace, with no capabilities left. The
kernel's own stdout/stderr go to a pipe that the grader drains: a kernel that cannot start says
why (:class:`SandboxKernelClient`).
"""

import asyncio
import collections
import functools
import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from collections import deque
from typing import IO, Any, ClassVar

from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager
from traitlets import Bool, DottedObjectName, Integer, Type, Unicode

from . import scratch
from .cage import Cage

NOBODY = 65534
MIB = 1024 * 1024
KERNEL_TASKS = 16  # the sandbox's own tasks (sh, timeout, bwrap, the kernel's threads)


@functools.cache
def bwrap_problem() -> str | None:
    """``None`` when bubblewrap works here, else why not (a sentence for the instructor)."""
    exe = shutil.which("bwrap")
    if not exe:
        return (
            "bubblewrap is not installed (Debian/Ubuntu: apt-get install bubblewrap; or grade "
            "inside a container that has it, see docs/instructors.md)"
        )
    probe = [exe, "--ro-bind", "/", "/", *_unshare_flags(), "--proc", "/proc"]
    probe += ["--size", str(MIB), "--tmpfs", "/tmp", "true"]
    try:
        out = subprocess.run(probe, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bubblewrap does not run here ({exc})"
    if out.returncode:
        why = out.stderr.strip()[:300]
        if "size" in why:
            why += " (bubblewrap 0.8 or newer is needed for sized tmpfs: --size)"
        return f"bubblewrap cannot create a sandbox here: {why}"
    return None


def _unshare_flags() -> list[str]:
    flags = ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts"]
    flags += ["--unshare-cgroup-try", "--die-with-parent", "--new-session"]
    # as root no user namespace: the kernel drops to `nobody` itself (see .kernel); otherwise
    # the kernel keeps CAP_SYS_ADMIN in its user namespace just long enough to make its socket
    # folder read-only, then drops every capability
    if os.geteuid() == 0:
        return flags
    return ["--unshare-user", *flags, "--cap-add", "CAP_SYS_ADMIN"]


def _package_dirs() -> list[str]:
    """Folders the kernel must read: Python, the installed packages, the course's own sources."""
    dirs = {sys.prefix, sys.base_prefix, sys.exec_prefix, sysconfig.get_paths()["stdlib"]}
    for name in ("numpy", "mathdl", "mathdl_grading", "ipykernel"):
        spec = importlib.util.find_spec(name)
        for loc in (spec.submodule_search_locations or []) if spec else []:
            # the course's own packages: only their folder (an editable install lives in the
            # repository, next to solutions/); others: their site-packages
            own = name in ("mathdl", "mathdl_grading")
            dirs.add(os.path.realpath(loc) if own else os.path.dirname(os.path.realpath(loc)))
    kept = sorted(d for d in dirs if os.path.isdir(d) and not d.startswith("/usr/"))
    return [d for d in kept if not any(d.startswith(o + "/") for o in kept)]


def _parents(path: str, made: set[str]) -> list[str]:
    """bwrap arguments creating ``path``'s parents readable by all (bwrap makes them 0700)."""
    out, parts = [], path.strip("/").split("/")[:-1]
    for i in range(1, len(parts) + 1):
        anc = "/" + "/".join(parts[:i])
        if anc not in made:
            made.add(anc)
            out += ["--perms", "0755", "--dir", anc]
    return out


def _dev() -> list[str]:
    """A minimal /dev. Not bwrap's ``--dev``: without root, that one puts the kernel in a second
    user namespace that cannot make its socket folder read-only (see :mod:`.kernel`)."""
    argv = ["--perms", "0755", "--tmpfs", "/dev"]
    for name in ("null", "zero", "full", "random", "urandom"):
        argv += ["--dev-bind", f"/dev/{name}", f"/dev/{name}"]
    for i, name in enumerate(("stdin", "stdout", "stderr")):
        argv += ["--symlink", f"/proc/self/fd/{i}", f"/dev/{name}"]
    return [*argv, "--symlink", "/proc/self/fd", "/dev/fd", "--dir", "/dev/shm"]


def bwrap_argv(kdir: str, env: dict[str, str], folder_bytes: int) -> list[str]:
    """The bubblewrap command line around the kernel; ``kdir`` is the kernel's scratch folder
    (connection file, sockets, ``in/``: the staged data files) and ``folder_bytes`` the size of
    each writable folder (its working folder ``kdir/work``, ``/tmp``, ``/dev/shm``)."""
    argv = [shutil.which("bwrap") or "bwrap", *_unshare_flags()]
    for top in ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin"):
        if os.path.islink(top):
            argv += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            argv += ["--ro-bind", top, top]
    for etc in ("/etc/ld.so.cache", "/etc/localtime", "/etc/passwd", "/etc/group"):
        argv += ["--ro-bind-try", etc, etc]
    size = ["--size", str(folder_bytes), "--perms", "01777", "--tmpfs"]
    # the private /tmp first: a course checked out under /tmp (as CI may do) is bound over it
    argv += ["--proc", "/proc", *_dev(), *size, "/dev/shm", *size, "/tmp"]
    made = {"/tmp"}
    for d in _package_dirs():
        argv += [*_parents(d, made), "--ro-bind", d, d]
    argv += [*_parents(kdir, made), "--bind", kdir, kdir, "--ro-bind", f"{kdir}/in", f"{kdir}/in"]
    argv += ["--size", str(folder_bytes), "--perms", "0700", "--tmpfs", f"{kdir}/work"]
    argv += ["--chdir", os.path.join(kdir, "work"), "--clearenv"]
    for key, value in env.items():
        argv += ["--setenv", key, value]
    return argv


def tasks_of(uid: int) -> int:
    """Processes and threads that ``uid`` runs now (RLIMIT_NPROC counts them all)."""
    count = 0
    for pid in os.listdir("/proc"):
        try:
            if pid.isdigit() and os.stat(f"/proc/{pid}").st_uid == uid:
                count += len(os.listdir(f"/proc/{pid}/task"))
        except OSError:
            continue
    return count


class SandboxKernelClient(AsyncKernelClient):
    """A client whose "the kernel died" error carries what the kernel printed before dying."""

    async def wait_for_ready(self, timeout: float | None = None) -> None:
        try:
            await super()._async_wait_for_ready(timeout=timeout)
        except RuntimeError as exc:
            log_tail = getattr(self.parent, "log_tail", None)
            tail = log_tail() if log_tail is not None else ""
            raise RuntimeError(f"{exc}; the kernel's own output:\n{tail or '(none)'}") from exc


class SandboxKernelManager(AsyncKernelManager):
    """An IPython kernel inside bubblewrap, with resource limits (see the module docstring).

    The traits below are the one place where the sandbox's limits are written."""

    client_class = DottedObjectName("mathdl_grading.sandbox.SandboxKernelClient")
    client_factory = Type(SandboxKernelClient, klass=AsyncKernelClient)
    mode = Unicode("student", help="MATHDL_GRADING in the kernel: student or reference").tag(
        config=True
    )
    memory_mb = Integer(
        2048,
        help="memory of the whole sandbox (MiB): every process, memory file and in-memory folder "
        "together (a cgroup); also each process's address-space cap",
    ).tag(config=True)
    folder_mb = Integer(
        512, help="size of each writable folder (working folder, /tmp, /dev/shm; in memory, MiB)"
    ).tag(config=True)
    file_mb = Integer(64, help="largest file the kernel may write (MiB)").tag(config=True)
    processes = Integer(64, help="processes and threads the kernel may add").tag(config=True)
    open_files = Integer(1024, help="open files per process").tag(config=True)
    cpu_seconds = Integer(600, help="CPU time of each process (s)").tag(config=True)
    wall_seconds = Integer(
        120, help="wall-time budget of one notebook (s), kernel start included"
    ).tag(config=True)
    cgroup_parent = Unicode(
        "", help="a cgroup folder delegated to this user, for a grader that is not root"
    ).tag(config=True)
    require_cgroup = Bool(
        False, help="refuse to grade where no cgroup can hold the whole sandbox's memory"
    ).tag(config=True)
    unsafe = Bool(False, help="run without a sandbox (trusted notebooks only)").tag(config=True)

    _cage = None
    _warned: ClassVar[set] = set()  # warn once per process about a missing cgroup

    def _as_nobody(self) -> bool:
        return os.geteuid() == 0 and not self.unsafe

    def _kernel_env(self, given: dict[str, str] | None = None) -> dict[str, str]:
        env = dict(PATH=f"{os.path.dirname(sys.executable)}:/usr/bin:/bin", LANG="C.UTF-8")
        env.update(HOME=os.path.join(self._kdir, "work"), MATHDL_GRADING=self.mode)
        env.update(IPYTHONDIR="/tmp/.ipython", MPLCONFIGDIR="/tmp/.matplotlib")
        env.update(PYTHONUNBUFFERED="1", PYTHONDONTWRITEBYTECODE="1", MPLBACKEND="agg")
        # nbgrader's documented guard (`if not os.environ.get("NBGRADER_EXECUTION")`) must see
        # that it is being graded: "autograde" unless nbgrader says otherwise ("validate")
        for key in ("NBGRADER_EXECUTION", "NBGRADER_VALIDATING"):
            value = (given or {}).get(key) or os.environ.get(key)
            if value:
                env[key] = value
        env.setdefault("NBGRADER_EXECUTION", "autograde")
        return env | {f"{lib}_NUM_THREADS": "1" for lib in ("OPENBLAS", "OMP", "MKL")}

    def _note(self, text: str) -> None:
        self.kernel_log.append(f"[grader] {text}\n")
        self.log.warning("mathdl sandbox: %s", text)

    def _make_cage(self) -> Cage | None:
        """The cgroup of this sandbox, or None (then the per-process caps are what holds)."""
        if self.unsafe:
            return None
        try:
            return Cage.create(
                self.memory_mb * MIB, self.processes + KERNEL_TASKS, self.cgroup_parent
            )
        except OSError as exc:
            why = (
                f"no cgroup for the sandbox ({exc}): each process is capped at {self.memory_mb} "
                f"MiB and each folder at {self.folder_mb} MiB, but not their sum"
            )
            if self.require_cgroup:
                raise RuntimeError(
                    f"refusing to grade: {why} (c.SandboxKernelManager.require_cgroup)"
                ) from exc
            if why not in self._warned:
                self._warned.add(why)
                self._note(why)
            return None

    async def _async_pre_start_kernel(self, **kw: Any) -> tuple[list[str], dict[str, Any]]:
        if not self.unsafe and bwrap_problem():
            raise RuntimeError(f"no sandbox for the grading kernel: {bwrap_problem()}")
        self.kernel_log: collections.deque[str] = collections.deque(maxlen=200)
        self._started = time.monotonic()
        self._kdir = tempfile.mkdtemp(prefix="mathdl-kernel-")
        os.chmod(self._kdir, 0o755)
        for sub in ("in", "work"):
            os.mkdir(os.path.join(self._kdir, sub), 0o755)
        if kw.get("cwd"):  # the submission's data files only (never a notebook or a link)
            notes = scratch.stage(
                kw["cwd"], os.path.join(self._kdir, "in"), self.folder_mb * MIB, self.file_mb * MIB
            )
            for note in notes:
                self._note(f"{kw['cwd']}/{note}")
        self._cage = self._make_cage()
        self.transport = "ipc"  # Unix sockets in the scratch folder: no network needed
        self.connection_file = os.path.join(self._kdir, "kernel.json")
        self.ip = os.path.join(self._kdir, "k")
        kw.update(
            cwd=os.path.join(self._kdir, "work"), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        self._env = self._kernel_env(kw.get("env"))
        kw.update(stdin=subprocess.DEVNULL, env=self._env)
        return await super()._async_pre_start_kernel(**kw)

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        uid = NOBODY if self._as_nobody() else os.getuid()
        nproc = self.processes + tasks_of(uid)
        limits = [f"--memory-mb={self.memory_mb}", f"--cpu-seconds={self.cpu_seconds}"]
        limits += [f"--file-mb={self.file_mb}", f"--processes={nproc}"]
        limits += [f"--open-files={self.open_files}", f"--uid={uid}"]
        limits += [f"--inputs={self._kdir}/in"] + ([] if self.unsafe else [f"--seal={self._kdir}"])
        # -I: nothing in the submission's folder can shadow this launcher or a package
        kernel = [sys.executable, "-I", "-u", "-m", "mathdl_grading.kernel", *limits]
        kernel += ["-f", self.connection_file, *(extra_arguments or [])]
        wall = [shutil.which("timeout") or "timeout", "-s", "KILL", str(self.wall_seconds)]
        cage = self._cage.enter_argv() if self._cage else []
        if self.unsafe:
            return wall + kernel
        return cage + wall + bwrap_argv(self._kdir, self._env, self.folder_mb * MIB) + kernel

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
        await super()._async_launch_kernel(kernel_cmd, **kw)
        pipe = self._process().stdout
        self._drainer = threading.Thread(target=self._drain, args=(pipe, self.kernel_log))
        self._drainer.daemon = True
        self._drainer.start()

    @staticmethod
    def _drain(pipe: IO[bytes], log: deque[str]) -> None:
        for line in iter(pipe.readline, b""):
            log.append(line.decode("utf-8", "replace")[:500])
        pipe.close()

    def _process(self) -> Any:
        """The kernel's process (``subprocess.Popen``, from jupyter_client's local provisioner)."""
        return getattr(self.provisioner, "process", None)

    def why_dead(self) -> str:
        """Which of the sandbox's limits stopped the kernel, if one did ("" if none is known)."""
        kills = self._cage.oom_kills() if self._cage else getattr(self, "oom_killed", 0)
        if kills:
            return f"the sandbox used up its memory ({self.memory_mb} MiB in all)"
        if time.monotonic() - getattr(self, "_started", time.monotonic()) >= self.wall_seconds - 1:
            return f"the notebook used up its time ({self.wall_seconds} s in all)"
        return ""

    def log_tail(self) -> str:
        """The last lines the kernel process printed and why it stopped (for error messages)."""
        drainer = getattr(self, "_drainer", None)
        process = self._process()
        if drainer is not None and process is not None:
            if process.poll() is not None:
                drainer.join(2)  # the kernel is gone: read what it said to the end
        why = self.why_dead()
        return "".join(getattr(self, "kernel_log", []))[-3000:] + (
            f"[grader] {why}\n" if why else ""
        )

    # jupyter_client types KernelManager.interrupt_kernel as synchronous; AsyncKernelManager's is
    # a coroutine, like this one
    async def interrupt_kernel(self) -> None:  # type: ignore[override]
        """Ask the kernel itself (control channel): a signal would stop at the sandbox's edge."""
        msg = self.session.msg("interrupt_request", content={})
        self._connect_control_socket()
        self.session.send(self._control_socket, msg)

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if not restart and self._cage is not None:
            cage, self._cage = self._cage, None
            self.peak_bytes, self.oom_killed = cage.peak_bytes(), cage.oom_kills()
            await asyncio.to_thread(cage.remove)
        if not restart and getattr(self, "_kdir", None):
            await asyncio.to_thread(shutil.rmtree, self._kdir, True)
