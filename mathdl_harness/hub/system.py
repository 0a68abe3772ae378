"""What the other modules share: the checkout, commands, processes (psutil) (and jlab's
:func:`~mathdl_harness.jlab.free_port`)."""

import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import psutil

from ..jlab import free_port

REPO = Path(__file__).resolve().parents[2]
PREFIX_ENV = "MATHDL_HUB_TEST_PREFIX"
USER_PREFIX = "mdlh_"

__all__ = ["PREFIX_ENV", "REPO", "USER_PREFIX", "descendants", "free_port", "pids_of_uids", "sh"]


def sh(*cmd: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(cmd), check=True, capture_output=True, text=True, **kw)


def pids_of_uids(uids: Iterable[int]) -> list[int]:
    """Processes (by pid) whose real uid is one of `uids`."""
    wanted = set(uids)
    return [
        p.info["pid"]
        for p in psutil.process_iter(["pid", "uids"])
        if p.info["uids"] is not None and p.info["uids"].real in wanted
    ]


def descendants(pid: int) -> list[int]:
    """All live descendants of `pid` (pids); none once `pid` is gone."""
    try:
        return [child.pid for child in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []
