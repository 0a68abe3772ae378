"""The grading kernel runs in a bubblewrap sandbox: :class:`SandboxKernelManager`.

nbgrader_config.py makes nbgrader's Execute use this kernel manager, so ``make grade``,
``nbgrader autograde`` and formgrader's Autograde button all start the same sandboxed kernel.

What the kernel can see: the Python installation and the installed packages (read-only, only
their own folders), the mathdl and mathdl_grading sources (read-only), a private /tmp, and its
own scratch copy of the submission's folder. Not the gradebook, not solutions/ or any other
course file, not other submissions, not the network (own network namespace; the kernel talks to
the grader over Unix sockets in its scratch folder), not other processes (own PID namespace).
Limits (set by :mod:`.kernel` inside): address space, CPU time, file size, processes; the wall
time is capped by ``timeout`` around the sandbox. When the grader runs as root, the kernel
drops to the ``nobody`` user. The kernel's own stdout/stderr go to a pipe that the grader
drains (kept for error messages), never to a file under the file-size cap.
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

from jupyter_client.manager import AsyncKernelManager
from traitlets import Bool, Integer, Unicode

NOBODY = 65534


@functools.cache
def bwrap_problem():
    """``None`` when bubblewrap works here, else why not (a sentence for the instructor)."""
    exe = shutil.which("bwrap")
    if not exe:
        return (
            "bubblewrap is not installed (Debian/Ubuntu: apt-get install bubblewrap; or grade "
            "inside a container that has it, see docs/instructors.md)"
        )
    probe = [exe, "--ro-bind", "/", "/", *_unshare_flags(), "--proc", "/proc", "true"]
    try:
        out = subprocess.run(probe, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bubblewrap does not run here ({exc})"
    if out.returncode:
        return f"bubblewrap cannot create a sandbox here: {out.stderr.strip()[:300]}"
    return None


def _unshare_flags():
    flags = ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts"]
    flags += ["--unshare-cgroup-try", "--die-with-parent", "--new-session"]
    # as root no user namespace: the kernel drops to `nobody` itself (see .kernel)
    return flags if os.geteuid() == 0 else ["--unshare-user", *flags]


def _package_dirs():
    """Folders the kernel must read: Python, the installed packages, the course's own sources."""
    dirs = {sys.prefix, sys.base_prefix, sys.exec_prefix, sysconfig.get_paths()["stdlib"]}
    for name in ("numpy", "mathdl", "mathdl_grading", "ipykernel"):
        spec = importlib.util.find_spec(name)
        for loc in (spec.submodule_search_locations or []) if spec else []:
            # the course's own packages: only their folder (an editable install lives in the
            # repository, next to solutions/); others: their site-packages
            own = name in ("mathdl", "mathdl_grading")
            dirs.add(os.path.realpath(loc) if own else os.path.dirname(os.path.realpath(loc)))
    dirs = sorted(d for d in dirs if os.path.isdir(d) and not d.startswith("/usr/"))
    return [d for d in dirs if not any(d.startswith(o + "/") for o in dirs)]


def _parents(path, made):
    """bwrap arguments creating ``path``'s parents readable by all (bwrap makes them 0700)."""
    out, parts = [], path.strip("/").split("/")[:-1]
    for i in range(1, len(parts) + 1):
        anc = "/" + "/".join(parts[:i])
        if anc not in made:
            made.add(anc)
            out += ["--perms", "0755", "--dir", anc]
    return out


def bwrap_argv(kdir, env):
    """The bubblewrap command line around the kernel; ``kdir`` is the kernel's scratch folder."""
    argv = [shutil.which("bwrap") or "bwrap", *_unshare_flags()]
    for top in ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin"):
        if os.path.islink(top):
            argv += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            argv += ["--ro-bind", top, top]
    for etc in ("/etc/ld.so.cache", "/etc/localtime", "/etc/passwd", "/etc/group"):
        argv += ["--ro-bind-try", etc, etc]
    # the private /tmp first: a course checked out under /tmp (as CI may do) is bound over it
    argv += ["--proc", "/proc", "--dev", "/dev", "--perms", "01777", "--tmpfs", "/tmp"]
    made = {"/tmp"}
    for d in _package_dirs():
        argv += [*_parents(d, made), "--ro-bind", d, d]
    argv += [*_parents(kdir, made), "--bind", kdir, kdir]
    argv += ["--chdir", os.path.join(kdir, "work"), "--clearenv"]
    for key, value in env.items():
        argv += ["--setenv", key, value]
    return argv


def tasks_of(uid):
    """Processes and threads that ``uid`` runs now (RLIMIT_NPROC counts them all)."""
    count = 0
    for pid in os.listdir("/proc"):
        try:
            if pid.isdigit() and os.stat(f"/proc/{pid}").st_uid == uid:
                count += len(os.listdir(f"/proc/{pid}/task"))
        except OSError:
            continue
    return count


class SandboxKernelManager(AsyncKernelManager):
    """An IPython kernel inside bubblewrap, with resource limits (see the module docstring)."""

    mode = Unicode("student", help="MATHDL_GRADING in the kernel: student or reference").tag(
        config=True
    )
    memory_mb = Integer(2048, help="address-space cap of the kernel (MiB)").tag(config=True)
    cpu_seconds = Integer(600, help="CPU-time cap of the kernel (s)").tag(config=True)
    wall_seconds = Integer(1800, help="wall-time cap of the whole kernel (s)").tag(config=True)
    file_mb = Integer(64, help="largest file the kernel may write (MiB)").tag(config=True)
    processes = Integer(64, help="processes and threads the kernel may add").tag(config=True)
    unsafe = Bool(False, help="run without a sandbox (trusted notebooks only)").tag(config=True)

    def _as_nobody(self):
        return os.geteuid() == 0 and not self.unsafe

    def _kernel_env(self):
        env = dict(PATH=f"{os.path.dirname(sys.executable)}:/usr/bin:/bin", LANG="C.UTF-8")
        env.update(HOME=os.path.join(self._kdir, "work"), MATHDL_GRADING=self.mode)
        env.update(IPYTHONDIR=os.path.join(self._kdir, "ipython"), MPLCONFIGDIR="/tmp")
        env.update(PYTHONUNBUFFERED="1", PYTHONDONTWRITEBYTECODE="1", MPLBACKEND="agg")
        return env | {f"{lib}_NUM_THREADS": "1" for lib in ("OPENBLAS", "OMP", "MKL")}

    async def _async_pre_start_kernel(self, **kw):
        if not self.unsafe and bwrap_problem():
            raise RuntimeError(f"no sandbox for the grading kernel: {bwrap_problem()}")
        self._kdir = tempfile.mkdtemp(prefix="mathdl-kernel-")
        os.chmod(self._kdir, 0o755)
        work = os.path.join(self._kdir, "work")
        # a scratch copy of the submission's folder (links stay links, resolved inside the sandbox)
        shutil.copytree(kw["cwd"], work, symlinks=True) if kw.get("cwd") else os.mkdir(work)
        os.mkdir(os.path.join(self._kdir, "ipython"))
        self.transport = "ipc"  # Unix sockets in the scratch folder: no network needed
        self.connection_file = os.path.join(self._kdir, "kernel.json")
        self.ip = os.path.join(self._kdir, "k")
        kw.update(cwd=work, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        kw.update(stdin=subprocess.DEVNULL, env=self._kernel_env())
        cmd, kw = await super()._async_pre_start_kernel(**kw)
        if self._as_nobody():  # the kernel writes its sockets and files here as `nobody`
            for here, dirs, files in os.walk(self._kdir):
                for name in [here] + [os.path.join(here, n) for n in dirs + files]:
                    os.chown(name, NOBODY, NOBODY)
        return cmd, kw

    def format_kernel_cmd(self, extra_arguments=None):
        uid = NOBODY if self._as_nobody() else os.getuid()
        limits = [f"--memory-mb={self.memory_mb}", f"--cpu-seconds={self.cpu_seconds}"]
        limits += [f"--file-mb={self.file_mb}", f"--processes={self.processes + tasks_of(uid)}"]
        limits += [f"--uid={uid}"]
        # -I: nothing in the submission's folder can shadow this launcher or a package
        kernel = [sys.executable, "-I", "-u", "-m", "mathdl_grading.kernel", *limits]
        kernel += ["-f", self.connection_file, *(extra_arguments or [])]
        wall = [shutil.which("timeout") or "timeout", "-s", "KILL", str(self.wall_seconds)]
        if self.unsafe:
            return wall + kernel
        return wall + bwrap_argv(self._kdir, self._kernel_env()) + kernel

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        await super()._async_launch_kernel(kernel_cmd, **kw)
        self.kernel_log = collections.deque(maxlen=200)
        pipe = self.provisioner.process.stdout
        threading.Thread(target=self._drain, args=(pipe, self.kernel_log), daemon=True).start()

    @staticmethod
    def _drain(pipe, log):
        for line in iter(pipe.readline, b""):
            log.append(line.decode("utf-8", "replace")[:500])
        pipe.close()

    def log_tail(self):
        """The last lines the kernel process printed (for a grading error message)."""
        return "".join(getattr(self, "kernel_log", []))[-3000:]

    async def interrupt_kernel(self):
        """Ask the kernel itself (control channel): a signal would stop at the sandbox's edge."""
        msg = self.session.msg("interrupt_request", content={})
        self._connect_control_socket()
        self.session.send(self._control_socket, msg)

    async def _async_cleanup_resources(self, restart=False):
        await super()._async_cleanup_resources(restart=restart)
        if not restart and getattr(self, "_kdir", None):
            await asyncio.to_thread(shutil.rmtree, self._kdir, True)
