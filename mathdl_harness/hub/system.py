"""What the other modules share: the checkout, commands, processes from /proc (and jlab's
:func:`~mathdl_harness.jlab.free_port`)."""

import os
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..jlab import free_port

REPO = Path(__file__).resolve().parents[2]
PREFIX_ENV = "MATHDL_HUB_TEST_PREFIX"
USER_PREFIX = "mdlh_"

__all__ = ["PREFIX_ENV", "REPO", "USER_PREFIX", "descendants", "free_port", "pids_of_uids", "sh"]


def sh(*cmd: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(cmd), check=True, capture_output=True, text=True, **kw)


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
