"""Kernel launcher for grading: an IPython kernel under resource limits, guard armed.

Used as the ``argv`` of the ``mathdl-grading`` kernelspec that :mod:`.cli` writes::

    python -m mathdl_grading.kernel --memory-mb 2048 --cpu-seconds 600 -f {connection_file}

Before the kernel starts (so before any notebook code runs) it

* caps the address space (``RLIMIT_AS``): a memory grab raises ``MemoryError`` in the
  student's cell (or kills only this kernel) instead of exhausting the machine;
* caps CPU time (``RLIMIT_CPU``): a kernel that ignores interrupts is killed by SIGXCPU;
* forbids growing or creating non-empty files (``RLIMIT_FSIZE`` = 0, SIGXFSZ ignored, so a
  write fails with ``OSError: File too large``) and core dumps;
* limits BLAS/OpenMP to one thread (predictable timing and memory);
* removes the working directory from ``sys.path`` and imports NumPy and mathdl, so files
  next to the notebook cannot shadow them;
* arms :func:`mathdl_grading.guard.arm` (the snapshot the test cells compare against).

Hard limits are lowered too, so the student's code cannot raise them again (unless the
grader runs as root, see docs/instructors.md).
"""

import os
import sys


def _set_limits(memory_mb, cpu_seconds, file_size):
    import resource
    import signal

    def lower(which, value):
        _soft, hard = resource.getrlimit(which)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(which, (value, value))

    if memory_mb > 0:
        lower(resource.RLIMIT_AS, int(memory_mb) * 1024 * 1024)
    if cpu_seconds > 0:
        _soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
        cap = int(cpu_seconds)
        resource.setrlimit(
            resource.RLIMIT_CPU,
            (cap, cap + 5 if hard == resource.RLIM_INFINITY else min(cap + 5, hard)),
        )
    if file_size >= 0:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        lower(resource.RLIMIT_FSIZE, int(file_size))
    lower(resource.RLIMIT_CORE, 0)


def _route_own_output():
    """Point the kernel's own stdout/stderr away from regular files (issue 14).

    The file-size cap is meant for files the student's code writes; a log file inherited as
    stderr would make the kernel's first warning fail with "File too large" and kill it.
    """
    import stat

    for fd in (1, 2):
        try:
            if stat.S_ISREG(os.fstat(fd).st_mode):
                null = os.open(os.devnull, os.O_WRONLY)
                os.dup2(null, fd)
                os.close(null)
        except OSError:
            pass


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    opts = {"--memory-mb": 2048, "--cpu-seconds": 600, "--file-size": 0}
    rest = []
    i = 0
    while i < len(argv):
        if argv[i] in opts and i + 1 < len(argv):
            opts[argv[i]] = int(argv[i + 1])
            i += 2
        else:
            rest.append(argv[i])
            i += 1

    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"
    os.environ["MATHDL_GRADING_KERNEL"] = "1"
    os.environ.setdefault("MPLBACKEND", "agg")

    # As ipykernel_launcher does: do not import from the working directory.
    cwd = os.getcwd()
    sys.path[:] = [p for p in sys.path if p not in ("", ".", cwd)]

    # tempfile probes a directory by writing to it; do that once before files are capped
    import tempfile

    tempfile.gettempdir()

    _route_own_output()
    _set_limits(opts["--memory-mb"], opts["--cpu-seconds"], opts["--file-size"])

    import numpy  # noqa: F401  (loaded before the kernel: nothing next to the notebook can shadow it)

    import mathdl_grading.guard

    mathdl_grading.guard.arm()

    from ipykernel import kernelapp

    kernelapp.launch_new_instance(argv=rest)


if __name__ == "__main__":
    main()
