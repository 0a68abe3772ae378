"""JupyterLab on localhost driven by the system Chromium through Playwright.

Shared by tests/e2e/test_browser.py and benchmarks/bench_browser.py. The server serves a temporary
copy of the course (running cells must not write outputs into the committed notebooks), every
wait is bounded, and the server is stopped whatever happens. Nothing is downloaded: Playwright
drives /usr/bin/chromium (Debian's package).
"""

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-sync",
    "--disable-background-networking",
    "--disable-component-update",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def lab_settings(tmp: Path) -> None:
    """Jupyter's folders under ``tmp``/jupyter, and JupyterLab's settings: every cell rendered
    (no virtual scrolling: Run All then runs every cell, as in a classic notebook), no news."""
    for sub in ("config", "data", "runtime", "settings", "workspaces"):
        (tmp / "jupyter" / sub).mkdir(parents=True, exist_ok=True)
    settings = {
        "notebook-extension/tracker": {"windowingMode": "none"},
        "apputils-extension/notification": {"fetchNews": "false"},
    }
    for name, values in settings.items():
        f = tmp / "jupyter/settings/@jupyterlab" / f"{name}.jupyterlab-settings"
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(json.dumps(values))


def lab_command(tmp: Path, port: int, token: str) -> list[str]:
    """The command line of a JupyterLab server on ``port`` serving ``tmp``."""
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={tmp}",
        "--ServerApp.port_retries=0",
        "--LabApp.news_url=",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    return [*cmd, "--allow-root"] if os.geteuid() == 0 else cmd


def wait_until_up(proc: subprocess.Popen, url: str, log: Path, seconds: float = 60) -> None:
    """Return once ``url`` answers; raise with the server's log if it stops or takes too long."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    "JupyterLab did not start:\n" + log.read_text()[-3000:]
                ) from None
            time.sleep(0.3)


def stop_group(proc: subprocess.Popen) -> None:
    """Stop the server's process group: SIGTERM, then SIGKILL after 15 s."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


@contextlib.contextmanager
def jupyterlab(tmp: Path | str, env: dict[str, str] | None = None) -> Iterator[dict]:
    """A JupyterLab server on a free port serving ``tmp`` (a folder holding a course copy).

    ``env``: extra environment variables for the server and its kernels (e.g. PYTHONPATH).
    Yields ``dict(base=..., token=..., root=tmp)``.
    """
    tmp = Path(tmp)
    lab_settings(tmp)
    port, token = free_port(), secrets.token_hex(16)
    env = dict(
        os.environ,
        JUPYTER_CONFIG_DIR=str(tmp / "jupyter/config"),
        JUPYTER_RUNTIME_DIR=str(tmp / "jupyter/runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(tmp / "jupyter/settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(tmp / "jupyter/workspaces"),
        **(env or {}),
    )
    base = f"http://127.0.0.1:{port}"
    with open(tmp / "server.log", "w") as log:
        proc = subprocess.Popen(
            lab_command(tmp, port, token),
            cwd=tmp,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_until_up(proc, f"{base}/api/status?token={token}", tmp / "server.log")
            yield dict(base=base, token=token, root=tmp)
        finally:
            stop_group(proc)


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium (the system one) under Playwright."""
    from playwright.sync_api import sync_playwright  # lazy: a test-only dependency

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM, headless=True, timeout=60_000, args=CHROMIUM_ARGS
        )
        try:
            yield b
        finally:
            b.close()


def open_notebook(
    browser: Any, lab: dict[str, Any], path: str, device_scale_factor: float = 1
) -> Any:
    """Open ``path`` (relative to the server root) in a fresh page; wait for an idle kernel."""
    page = browser.new_page(
        viewport={"width": 1400, "height": 1000}, device_scale_factor=device_scale_factor
    )
    page.set_default_timeout(60_000)
    # A fresh workspace per page (?reset), so no tab from an earlier page is restored beside it.
    page.goto(
        f"{lab['base']}/lab/tree/{path}?reset&token={lab['token']}", wait_until="domcontentloaded"
    )
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=60_000)
    # On a loaded machine JupyterLab may ask which kernel to start: accept its choice (Python 3).
    deadline = time.monotonic() + 90
    ready = ".jp-NotebookPanel-toolbar .jp-Notebook-ExecutionIndicator[data-status='idle']"
    while time.monotonic() < deadline:
        dialog = page.locator(".jp-Dialog", has_text="Select Kernel")
        if dialog.count():
            dialog.get_by_role("button", name="Select", exact=True).click(timeout=5_000)
        status = page.locator(".jp-StatusBar-TextItem", has_text="Python 3").all_text_contents()
        if page.locator(ready).count() and any("Idle" in t for t in status):
            break
        page.wait_for_timeout(300)
    else:
        raise AssertionError("the kernel did not become idle within 90 s")
    no_news = page.get_by_role("button", name="No", exact=True)  # the "Jupyter news?" toast
    if no_news.count() and no_news.first.is_visible():
        no_news.first.click(timeout=5_000)
    return page


def shut_down_kernels(lab: dict[str, Any]) -> None:
    """End every session the server holds, so one page's kernel cannot disturb the next."""
    api = f"{lab['base']}/api/sessions"
    with urllib.request.urlopen(f"{api}?token={lab['token']}", timeout=10) as r:
        sessions = json.load(r)
    for s in sessions:
        req = urllib.request.Request(f"{api}/{s['id']}?token={lab['token']}", method="DELETE")
        urllib.request.urlopen(req, timeout=10).close()


def run_all(page: Any, timeout_s: float = 120, artifacts: Path | None = None) -> None:
    """Run > Run All Cells, then wait until every code cell shows an execution count.

    Right after a notebook opens (and on a loaded machine for a while after), JupyterLab can
    drop a command issued too early, or run only its first cells. So the menu command is issued
    again (at most three more times) whenever nothing is running, some cells have not run, and
    nothing has changed for 10 s.
    """
    prompts = page.locator(".jp-CodeCell .jp-InputArea-prompt")

    def counts() -> list[str]:
        # Off-screen cells may not be rendered: read text content, not inner text.
        return [t.strip().strip("[]:").strip() for t in prompts.all_text_contents()]

    def issue() -> None:
        dialog = page.locator(".jp-Dialog")
        if dialog.count():
            raise AssertionError(f"a dialog is open: {dialog.first.inner_text()!r}")
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-item[data-command='runmenu:run-all']").click()

    issue()
    retries, last, since = 3, None, time.monotonic()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        c = counts()
        if c and all(x.isdigit() for x in c):
            return
        if c != last:
            last, since = c, time.monotonic()
        elif retries and "*" not in c and time.monotonic() - since > 10:
            retries -= 1
            issue()
            since = time.monotonic()
        time.sleep(0.5)
    if artifacts is not None:
        Path(artifacts).mkdir(exist_ok=True)
        page.screenshot(path=str(Path(artifacts) / "browser-run-all-timeout.png"))
    raise AssertionError(
        f"cells still not run after {timeout_s} s: prompts {prompts.all_text_contents()}"
    )


def saved_outputs(page: Any, lab: dict[str, Any], path: str) -> list[dict[str, Any]]:
    """Save the notebook from the browser, then read the code cells the server stored."""
    page.keyboard.press("Control+s")
    page.wait_for_timeout(1500)
    with urllib.request.urlopen(
        f"{lab['base']}/api/contents/{path}?token={lab['token']}", timeout=10
    ) as r:
        nb = json.load(r)["content"]
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def copy_course(tmp: Path | str, lessons: list[str] | None = None) -> Path:
    """Copy notebooks/ (or only the named lessons) into ``tmp``/notebooks."""
    dst = Path(tmp) / "notebooks"
    if lessons is None:
        shutil.copytree(ROOT / "notebooks", dst)
    else:
        dst.mkdir(parents=True)
        for name in lessons:
            shutil.copy(ROOT / "notebooks" / f"{name}.ipynb", dst)
    return dst
