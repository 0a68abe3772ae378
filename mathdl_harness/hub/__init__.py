"""Helpers for tests/e2e/test_hub.py and deploy/bench_hub.py: unix users, a real JupyterHub, and clients that act as a user.

Everything here acts through what a person has: a unix account and password, the hub's login
page and REST API (with the `_xsrf` cookie echoed in `X-XSRFToken`, which JupyterHub 6 requires
for cookie-authenticated API calls), an API token the user made for themselves, and that user's
own Jupyter server (its contents API, nbgrader's assignment-list and formgrader handlers, and a
kernel that runs shell commands as the user).

Modules: :mod:`.accounts` (unix users and groups), :mod:`.process` (the hub), :mod:`.client`
(a user's browser-like client), :mod:`.notebooks` (assignments filled in and scored),
:mod:`.system` (ports, commands, processes).
"""

from .accounts import UnixAccounts
from .client import HubUser
from .notebooks import copy_course, fill_in, grade_points
from .process import Hub
from .system import PREFIX_ENV, REPO, USER_PREFIX, descendants, free_port, pids_of_uids, sh

__all__ = [
    "PREFIX_ENV",
    "REPO",
    "USER_PREFIX",
    "Hub",
    "HubUser",
    "UnixAccounts",
    "copy_course",
    "descendants",
    "fill_in",
    "free_port",
    "grade_points",
    "pids_of_uids",
    "sh",
]
