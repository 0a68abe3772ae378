"""Start the grading kernel inside the sandbox (the last command of :mod:`.sandbox`'s bwrap line).

    python -m mathdl_grading.kernel --memory-mb=2048 --cpu-seconds=600 --file-mb=64 \\
        --processes=200 -f <connection file>

Before the kernel (so before any notebook code) it caps the address space, CPU time, the size
of files it writes, core dumps and the number of processes of its user; as root it becomes
``nobody``, so the student's code cannot raise the caps again. The kernel's own output goes to
a pipe (see :mod:`.sandbox`), so the file-size cap never touches it.
"""

import os
import resource
import sys


def set_limits(memory_mb, cpu_seconds, file_mb, processes):
    mib = 1024 * 1024
    caps = {
        resource.RLIMIT_AS: memory_mb * mib,
        resource.RLIMIT_CPU: cpu_seconds,
        resource.RLIMIT_FSIZE: file_mb * mib,
        resource.RLIMIT_CORE: 0,
        resource.RLIMIT_NPROC: processes,
    }
    for which, value in caps.items():
        _soft, hard = resource.getrlimit(which)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(which, (value, value))


def become(uid):
    """As root in the sandbox: become ``uid`` (``nobody``) for good."""
    if os.geteuid() == 0 and uid != 0:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    opts = {"memory-mb": 2048, "cpu-seconds": 600, "file-mb": 64, "processes": 200, "uid": -1}
    rest = []
    for arg in argv:
        key, _, value = arg.removeprefix("--").partition("=")
        if key in opts and value:
            opts[key] = int(value)
        else:
            rest.append(arg)
    become(opts["uid"] if opts["uid"] >= 0 else os.getuid())
    set_limits(opts["memory-mb"], opts["cpu-seconds"], opts["file-mb"], opts["processes"])
    # as ipykernel_launcher does: nothing next to the notebook can shadow an installed module
    sys.path[:] = [p for p in sys.path if p not in ("", ".", os.getcwd())]
    from ipykernel import kernelapp

    kernelapp.launch_new_instance(argv=rest)


if __name__ == "__main__":
    main()
