#!/usr/bin/env python3
"""The red team's memory attack (d_mem, break 5) against the grading sandbox, with figures.

    .venv/bin/python benchmarks/bench_sandbox.py                       # the review's sizes
    .venv/bin/python benchmarks/bench_sandbox.py --memory-mb 1024 --child-mb 400

One cell, in a sandboxed kernel with the course's limits: 3 child processes of ``--child-mb``
each (each under the per-process cap), 12 memory files (memfd) of 60 MiB, 6 x 60 MiB in /tmp,
25 x 60 MiB in the working folder and, our variant, 12 x 60 MiB of POSIX shared memory in
/dev/shm. Printed: how far the attack got, the cgroup's peak, the OOM kills, how far the host's
MemAvailable fell (sampled every 50 ms; other jobs on the machine move it too) and how much the
host's /tmp disk grew. ``tests/e2e/test_grading_sandbox.py`` runs the same attack with smaller sizes.
"""

import argparse
import asyncio
import json
import shutil
import sys
import textwrap
import threading
import time

from mathdl_grading.sandbox import SandboxKernelManager

MIB = 1024 * 1024


def run_cells(cells, cwd=None, timeout=60, **traits):
    """Run ``cells`` one by one in a sandboxed kernel; returns (texts per cell, the manager).

    A cell whose kernel died (or ran out of time) gets ``"<no reply>"``."""

    async def go():
        km = SandboxKernelManager(kernel_name="python3", **traits)
        await km.start_kernel(cwd=str(cwd) if cwd else None)
        kc = km.client()
        kc.start_channels()
        texts = []
        try:
            await kc.wait_for_ready(timeout=60)
            for code in cells:
                got = []
                if not await km.is_alive():
                    texts.append("<no reply>")
                    continue

                def hook(msg, got=got):
                    content = msg["content"]
                    got.append(content.get("text", "") or content.get("evalue", ""))

                code = textwrap.dedent(code)
                run = asyncio.ensure_future(
                    kc.execute_interactive(code, timeout=timeout, output_hook=hook)
                )
                while not run.done() and await km.is_alive():  # a dead kernel never replies
                    await asyncio.wait([run], timeout=0.2)
                if run.done() and run.exception() is None:
                    texts.append("".join(got))
                else:
                    run.cancel()
                    texts.append("".join(got) + "<no reply>")
            km.host_view = km._kdir  # for the checks below (the folder is gone afterwards)
        finally:
            kc.stop_channels()
            await km.shutdown_kernel(now=True)
        return texts, km

    return asyncio.run(go())


def last_json(text):
    return json.loads(text.strip().splitlines()[-1])


def mem_available_mib():
    for line in open("/proc/meminfo"):
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) // 1024
    return 0


D_MEM = """
    import json, os, subprocess, sys, time
    MB = {mb}
    res = {{}}
    kids = []
    for i in range(3):  # the review: 3 x 1.5 GB child processes (here 3 x MB), each under RLIMIT_AS
        try:
            kids.append(subprocess.Popen([sys.executable, "-c",
                f"import time; x = b'\\\\x01' * ({{MB}} << 20); time.sleep(120)"]))
        except OSError as exc:
            res["popen"] = str(exc)
    time.sleep({settle})
    res["children alive"] = sum(k.poll() is None for k in kids)

    def fill(what, make, n, size=60):
        done = 0
        for i in range(n):
            try:
                make(i, b"\\x02" * (size << 20))
                done += 1
            except (OSError, MemoryError) as exc:
                res[what + " stopped"] = type(exc).__name__ + ": " + str(exc)[:80]
                break
        res[what + " MiB"] = done * size
        print(json.dumps(res), flush=True)

    fds = []
    fill("memfd", lambda i, b: (fds.append(os.memfd_create(f"m{{i}}")), os.write(fds[-1], b)), 12)
    fill("/tmp", lambda i, b: open(f"/tmp/f{{i}}", "wb").write(b), 6)
    fill("workdir", lambda i, b: open(f"w{{i}}", "wb").write(b), 25)
    from multiprocessing import shared_memory  # our variant: POSIX shared memory in /dev/shm
    shms = []
    fill("/dev/shm", lambda i, b: shms.append(shared_memory.SharedMemory(create=True, size=len(b))) or shms[-1].buf.__setitem__(slice(None), b), 12)
    res["finished"] = True
    print(json.dumps(res))
"""


def d_mem(memory_mb=None, folder_mb=None, child_mb=1500, settle=8, **traits):
    """The review's d_mem attack (and a /dev/shm variant) in a sandbox of ``memory_mb``; returns
    a dict: how far the attack got (``attack``: its last report, with ``finished`` if it got to
    the end), ``peak_mib`` (the cgroup's), ``oom_kills``, ``mem_drop_mib`` (host MemAvailable
    before minus its lowest), ``disk_growth_mib`` (the host /tmp disk's largest growth)."""
    samples, stop = [], threading.Event()
    before = (mem_available_mib(), shutil.disk_usage("/tmp").used / MIB)

    def watch():
        while not stop.is_set():
            samples.append((mem_available_mib(), shutil.disk_usage("/tmp").used / MIB))
            time.sleep(0.05)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    limits = {"memory_mb": memory_mb, "folder_mb": folder_mb, **traits}
    start = time.monotonic()
    try:
        code = D_MEM.format(mb=child_mb, settle=settle)
        texts, km = run_cells(
            [code, "print('still here')"],
            timeout=120,
            **{k: v for k, v in limits.items() if v is not None},
        )
    finally:
        stop.set()
        thread.join()
    reports = [line for line in texts[0].splitlines() if line.startswith("{")]
    return {
        "limits": {"memory_mb": km.memory_mb, "folder_mb": getattr(km, "folder_mb", None)},
        "attack": json.loads(reports[-1]) if reports else None,
        "kernel survived": "still here" in texts[1],
        "peak_mib": round(getattr(km, "peak_bytes", 0) / MIB, 1),
        "oom_kills": getattr(km, "oom_killed", 0),
        "mem_drop_mib": before[0] - min(m for m, _ in [*samples, before]),
        "disk_growth_mib": round(max(d for _, d in [*samples, before]) - before[1], 1),
        "seconds": round(time.monotonic() - start, 1),
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--memory-mb", type=int, help="the sandbox's cap (default: the course's)")
    ap.add_argument("--folder-mb", type=int, help="each in-memory folder's size (default: idem)")
    ap.add_argument("--child-mb", type=int, default=1500, help="each child process (MiB)")
    args = ap.parse_args(argv)
    out = d_mem(args.memory_mb, args.folder_mb, args.child_mb)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    sys.exit(main())
