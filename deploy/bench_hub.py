"""Figures for sizing the course hub (docs/hub.md): start-up, spawn times, memory per user.

    .venv/bin/python deploy/bench_hub.py --students 8 [--prefix /opt/mathdl-hub-test]   # as root

As root: builds (or reuses) the class environment with deploy/install.sh, creates N student
accounts with deploy/add-class.sh (mdlh_*, removed afterwards whatever happens), starts the hub from
deploy/jupyterhub_config.py on 127.0.0.1, logs every student in, then

1. starts all N servers at once and reports each spawn time (request to ready) and the total;
2. measures the resident memory of each idle server, then opens one kernel per student that
   imports the course's libraries (numpy, matplotlib, torch, mathdl, ipywidgets) and measures
   each user's memory again (sum of RSS over the user's processes), plus the hub and proxy;
3. asks every server to stop and stops the hub (SIGTERM): hub_stop_s, until the hub exited.

Prints a JSON summary (medians and maxima). The machine's load is part of the result: say what
else ran.
"""

import argparse
import json
import os
import pwd
import secrets
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from mathdl_harness.hub import REPO, Hub, HubUser, UnixAccounts, descendants, pids_of_uids


def rss_mb(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return round(total / 1024, 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--students", type=int, default=8)
    ap.add_argument("--prefix", default="/opt/mathdl-hub-test")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench_hub.py creates unix users: run it as root")
    if args.students < 1:
        sys.exit("--students must be at least 1")
    t0 = time.monotonic()
    os.system(f"bash {REPO}/deploy/install.sh --prefix {args.prefix} >/dev/null")
    out = {"students": args.students, "install_s": round(time.monotonic() - t0, 1)}

    tag = secrets.token_hex(3)
    accounts = UnixAccounts()
    work = Path(tempfile.mkdtemp(prefix="mdlh_bench_"))
    os.chmod(work, 0o755)
    (work / "exchange").mkdir()
    os.chmod(work / "exchange", 0o1777)
    hub = None
    try:
        teachers, learners = f"mdlh_formgrade_{tag}", f"mdlh_nbgrader_{tag}"
        roster = {f"mdlh_s{i}_{tag}": ("student", "") for i in range(args.students)}
        users = list(accounts.add_class(roster, teachers, learners, work).items())
        hub = Hub(Path(args.prefix), work, "mathdl", teachers, learners, work / "exchange")
        out["hub_start_s"] = round(hub.start(), 2)
        people = [HubUser(hub, n, p) for n, p in users]
        for person in people:
            person.login()

        spawn, errors = {}, []

        def start(person):
            try:
                spawn[person.name] = person.start_server(timeout=300)
            except Exception as exc:  # reported below
                errors.append(f"{person.name}: {exc}")

        t0 = time.monotonic()
        threads = [threading.Thread(target=start, args=(p,)) for p in people]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        out["all_servers_ready_s"] = round(time.monotonic() - t0, 2)
        if errors:
            raise RuntimeError("; ".join(errors))
        times = sorted(spawn.values())
        out["spawn_s"] = {"median": round(statistics.median(times), 2), "max": round(times[-1], 2)}

        def per_user():
            return sorted(rss_mb(pids_of_uids([pwd.getpwnam(n).pw_uid])) for n, _ in users)

        idle = per_user()
        out["server_idle_rss_mb"] = {"median": statistics.median(idle), "max": idle[-1]}
        for person in people:
            person.make_token()
        code = "import numpy, matplotlib.pyplot, torch, mathdl, ipywidgets"
        for person in people:
            kid = person.ok("POST", "api/kernels", json={"name": "python3"}).json()["id"]
            status, text = person.execute(kid, code, timeout=300)
            if status != "ok":
                raise RuntimeError(text)
        busy = per_user()
        out["user_with_one_kernel_rss_mb"] = {"median": statistics.median(busy), "max": busy[-1]}
        hub_pids = [hub.proc.pid]
        proxy = [p for p in descendants(hub.proc.pid) if b"configurable-http-proxy" in _cmd(p)]
        out["hub_rss_mb"] = rss_mb(hub_pids)
        out["proxy_rss_mb"] = rss_mb(proxy)
        for person in people:
            person.stop_server()
    finally:
        if hub is not None:
            out["hub_stop_s"] = round(hub.stop(), 2)
            hub.kill_survivors()
        problems = accounts.remove()
        shutil.rmtree(work, ignore_errors=True)
    out["cleanup_problems"] = problems
    print(json.dumps(out, indent=2))


def _cmd(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read()
    except OSError:
        return b""


if __name__ == "__main__":
    main()
