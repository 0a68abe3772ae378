"""Start the grading kernel inside the sandbox (the last command of :mod:`.sandbox`'s bwrap line).

    python -m mathdl_grading.kernel --memory-mb=M --cpu-seconds=S --file-mb=F --processes=P \\
        --open-files=N --uid=U --inputs=<scratch>/in --seal=<scratch> -f <connection file>

Every value comes from :class:`.sandbox.SandboxKernelManager` (the one place they are written);
none has a default here. In order:

1. before the kernel, so before any notebook code: caps on the address space, CPU time, file
   size, open files, core dumps and processes (soft = hard, so they cannot be raised again);
2. the kernel binds its sockets in the scratch folder (``--seal``), then, before it runs any
   code, that folder becomes read-only inside the sandbox (a read-only remount), so the kernel
   cannot write to the host's disk at all: it writes only to its in-memory folders;
3. it gives up its privileges for good: as root it becomes ``nobody``; in a user namespace it
   drops every capability;
4. it copies the staged data files (``--inputs``, see :mod:`.scratch`) into its working folder.

The kernel's own output goes to a pipe (see :mod:`.sandbox`), so the file-size cap never
touches it, and a kernel that cannot start says why there.
"""

import ctypes
import os
import resource
import shutil
import sys
import time
from typing import Any

OPTIONS = ("memory-mb", "cpu-seconds", "file-mb", "processes", "open-files", "uid")
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND = 1, 2, 4, 8, 32, 4096
MS_NOATIME, MS_NODIRATIME, MS_RELATIME = 1024, 2048, 1 << 21
ST_RELATIME = 4096


def set_limits(
    memory_mb: int, cpu_seconds: int, file_mb: int, processes: int, open_files: int
) -> None:
    mib = 1024 * 1024
    caps = {
        resource.RLIMIT_AS: memory_mb * mib,
        resource.RLIMIT_CPU: cpu_seconds,
        resource.RLIMIT_FSIZE: file_mb * mib,
        resource.RLIMIT_CORE: 0,
        resource.RLIMIT_NPROC: processes,
        resource.RLIMIT_NOFILE: open_files,
    }
    for which, value in caps.items():
        _soft, hard = resource.getrlimit(which)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(which, (value, value))


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def seal(folder: str) -> None:
    """Make ``folder`` (a bind mount of the sandbox) read-only; its locked flags are kept."""
    flag = os.statvfs(folder).f_flag
    keep = flag & (MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME)
    flags = MS_REMOUNT | MS_BIND | MS_RDONLY | keep | (MS_RELATIME if flag & ST_RELATIME else 0)
    if _libc().mount(None, folder.encode(), None, flags, None) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"cannot make {folder} read-only: {os.strerror(err)}")


def drop_capabilities() -> None:
    """No capability left, in any set (effective, permitted, inheritable, ambient)."""

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [(n, ctypes.c_uint32) for n in ("effective", "permitted", "inheritable")]

    libc = _libc()
    libc.prctl(47, 4, 0, 0, 0)  # PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL
    header, data = Header(0x20080522, 0), (Data * 2)()  # _LINUX_CAPABILITY_VERSION_3
    if libc.capset(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "cannot drop the kernel's capabilities")


def become(uid: int) -> None:
    """Give up every privilege for good: as root become ``uid`` (``nobody``), else drop caps."""
    if os.geteuid() == 0 and uid != 0:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    else:
        drop_capabilities()


def hand_over(uid: int) -> None:
    """As root: the working folder (made by bubblewrap) and IPython's folder (made while the
    kernel started) become ``uid``'s."""
    if os.geteuid() != 0 or uid == 0:
        return
    os.chown(".", uid, uid)
    for here, dirs, files in os.walk(os.environ.get("IPYTHONDIR") or os.devnull):
        for name in [here] + [os.path.join(here, n) for n in dirs + files]:
            os.chown(name, uid, uid, follow_symlinks=False)


def wait_for(path: str, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.005)


def parse(argv: list[str]) -> tuple[dict[str, Any], list[str]]:
    opts: dict[str, Any] = {}
    rest: list[str] = []
    for arg in argv:
        key, _, value = arg.removeprefix("--").partition("=")
        if key in OPTIONS and value:
            opts[key] = int(value)
        elif key in ("inputs", "seal") and value:
            opts[key] = value
        else:
            rest.append(arg)
    missing = [k for k in OPTIONS if k not in opts]
    if missing:
        raise SystemExit(f"mathdl_grading.kernel: missing --{', --'.join(missing)}")
    return opts, rest


def main(argv: list[str] | None = None) -> None:
    opts, rest = parse(list(sys.argv[1:] if argv is None else argv))
    limits = ("memory-mb", "cpu-seconds", "file-mb", "processes", "open-files")
    set_limits(*(opts[k] for k in limits))
    # as ipykernel_launcher does: nothing next to the notebook can shadow an installed module
    sys.path[:] = [p for p in sys.path if p not in ("", ".", os.getcwd())]
    from ipykernel.kernelapp import IPKernelApp  # after the limits and the path cleanse

    class SealedKernelApp(IPKernelApp):
        def init_io(self) -> None:  # after the sockets and the heartbeat, before any code runs
            if opts.get("seal"):
                if self.transport == "ipc":
                    wait_for(f"{self.ip}-{self.hb_port}")  # the heartbeat binds in a thread
                seal(opts["seal"])
                hand_over(opts["uid"])
                become(opts["uid"])
            if opts.get("inputs"):
                shutil.copytree(opts["inputs"], ".", dirs_exist_ok=True)
            super().init_io()  # type: ignore[no-untyped-call]

    SealedKernelApp.launch_instance(argv=rest)


if __name__ == "__main__":
    main()
