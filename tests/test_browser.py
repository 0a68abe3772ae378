"""A real browser: JupyterLab on localhost, driven through Debian's Chromium by Playwright.

The server serves a temporary copy of the course (running cells must not write outputs into
the committed notebooks). Every wait is bounded, and the server is stopped whatever happens.
Where Chromium is missing the test is skipped, except under CI (CI=true), where .ci/run
installs it and a missing browser is a failure. Screenshots go to test-artifacts/.
"""

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
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
LESSON = "00_welcome"
EXERCISE = "01_tensors"

if not Path(CHROMIUM).exists():
    if os.environ.get("CI"):
        pytest.fail(
            "CI must run the browser test: Chromium is not installed (.ci/run installs it)",
            pytrace=False,
        )
    pytest.skip("Chromium is not installed (apt-get install chromium)", allow_module_level=True)

from playwright.sync_api import sync_playwright  # noqa: E402


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def exercise_with_solutions(tmp):
    """The student notebook with every answer cell filled in from the instructor's solution."""
    src = nbformat.read(ROOT / "solutions" / EXERCISE / f"{EXERCISE}.ipynb", as_version=4)
    answers = {
        c.metadata["nbgrader"]["grade_id"]: c.source
        for c in src.cells
        if c.metadata.get("nbgrader", {}).get("solution")
    }
    nb = nbformat.read(ROOT / "exercises" / EXERCISE / f"{EXERCISE}.ipynb", as_version=4)
    for c in nb.cells:
        gid = c.metadata.get("nbgrader", {}).get("grade_id")
        if c.metadata.get("nbgrader", {}).get("solution") and gid in answers:
            c.source = answers[gid]
    out = tmp / "exercises" / EXERCISE / f"{EXERCISE}.ipynb"
    out.parent.mkdir(parents=True)
    nbformat.write(nb, out)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("lab")
    shutil.copytree(ROOT / "notebooks", tmp / "notebooks")
    for sub in ("config", "data", "runtime", "settings", "workspaces"):
        (tmp / "jupyter" / sub).mkdir(parents=True)
    # Render every cell (no virtual scrolling: Run All then runs every cell, as in a classic notebook)
    # and do not ask about Jupyter news.
    settings = {
        "notebook-extension/tracker": {"windowingMode": "none"},
        "apputils-extension/notification": {"fetchNews": "false"},
    }
    for name, values in settings.items():
        f = tmp / "jupyter/settings/@jupyterlab" / f"{name}.jupyterlab-settings"
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(json.dumps(values))
    port, token = free_port(), secrets.token_hex(16)
    env = dict(
        os.environ,
        JUPYTER_CONFIG_DIR=str(tmp / "jupyter/config"),
        JUPYTER_RUNTIME_DIR=str(tmp / "jupyter/runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(tmp / "jupyter/settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(tmp / "jupyter/workspaces"),
    )
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
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    log = open(tmp / "server.log", "w")
    proc = subprocess.Popen(
        cmd, cwd=tmp, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        "JupyterLab did not start:\n" + (tmp / "server.log").read_text()[-3000:]
                    ) from None
                time.sleep(0.3)
        yield dict(base=base, token=token, root=tmp)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=5)
        log.close()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            timeout=60_000,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-sync",
                "--disable-background-networking",
                "--disable-component-update",
            ],
        )
        try:
            yield b
        finally:
            b.close()


def open_notebook(browser, lab, path):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(60_000)
    # A fresh workspace per test (?reset), so no tab from an earlier test is restored beside this one.
    page.goto(
        f"{lab['base']}/lab/tree/{path}?reset&token={lab['token']}", wait_until="domcontentloaded"
    )
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=60_000)
    # Wait for the kernel to be ready before running anything.
    page.wait_for_selector(
        ".jp-NotebookPanel-toolbar .jp-Notebook-ExecutionIndicator[data-status='idle']",
        timeout=60_000,
    )
    no_news = page.get_by_role("button", name="No", exact=True)  # the "Jupyter news?" toast
    if no_news.count() and no_news.first.is_visible():
        no_news.first.click(timeout=5_000)
    return page


def shut_down_kernels(lab):
    """End every session the server holds, so one test's kernel cannot disturb the next."""
    api = f"{lab['base']}/api/sessions"
    with urllib.request.urlopen(f"{api}?token={lab['token']}", timeout=10) as r:
        sessions = json.load(r)
    for s in sessions:
        req = urllib.request.Request(f"{api}/{s['id']}?token={lab['token']}", method="DELETE")
        urllib.request.urlopen(req, timeout=10).close()


def run_all(page, timeout_s=120):
    """Run > Run All Cells, then wait until every code cell shows an execution count.

    The menu command is tried again (at most three times) if no cell has started within
    15 s: right after a notebook opens, JupyterLab can drop a command issued too early.
    """
    prompts = page.locator(".jp-CodeCell .jp-InputArea-prompt")

    def counts():
        # Off-screen cells may not be rendered: read text content, not inner text.
        return [t.strip().strip("[]:").strip() for t in prompts.all_text_contents()]

    for _attempt in range(3):
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-item[data-command='runmenu:run-all']").click()
        started = time.monotonic() + 15
        while time.monotonic() < started and not any(c == "*" or c.isdigit() for c in counts()):
            time.sleep(0.3)
        if any(c == "*" or c.isdigit() for c in counts()):
            break
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        c = counts()
        if c and all(x.isdigit() for x in c):
            return
        time.sleep(0.5)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "browser-run-all-timeout.png"))
    raise AssertionError(
        f"cells still not run after {timeout_s} s: prompts {prompts.all_text_contents()}"
    )


def saved_outputs(page, lab, path):
    """Save the notebook from the browser, then read what the server stored."""
    page.keyboard.press("Control+s")
    page.wait_for_timeout(1500)
    with urllib.request.urlopen(
        f"{lab['base']}/api/contents/{path}?token={lab['token']}", timeout=10
    ) as r:
        nb = json.load(r)["content"]
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def assert_no_error(cells, path):
    errors = [
        f"{o.get('ename')}: {o.get('evalue')}"
        for c in cells
        for o in c.get("outputs", [])
        if o.get("output_type") == "error"
    ]
    assert errors == [], f"{path}: cells raised in the browser: {errors}"
    assert all(c.get("execution_count") for c in cells if c["source"].strip()), (
        f"{path}: some cells did not run"
    )


def test_lesson_runs_in_the_browser_and_the_learning_rate_slider_redraws(browser, lab):
    path = f"notebooks/{LESSON}.ipynb"
    page = open_notebook(browser, lab, path)
    try:
        run_all(page)
        slider = page.locator(
            ".widget-slider", has=page.locator("label", has_text="learning rate")
        ).first
        slider.wait_for(state="visible", timeout=30_000)
        slider.scroll_into_view_if_needed()
        # The playground's picture is the first image after the slider's control box.
        image = page.locator(".widget-vbox", has=slider).locator("img").first
        image.wait_for(state="visible", timeout=30_000)
        page.wait_for_timeout(500)
        ARTIFACTS.mkdir(exist_ok=True)
        before = image.screenshot(path=str(ARTIFACTS / f"browser-{LESSON}-before.png"))
        src_before = image.get_attribute("src")
        handle = slider.locator(".noUi-handle").first
        handle.focus()
        for _ in range(5):
            page.keyboard.press("ArrowRight")
            page.wait_for_timeout(150)
        deadline = time.monotonic() + 20
        while image.get_attribute("src") == src_before and time.monotonic() < deadline:
            page.wait_for_timeout(200)
        page.wait_for_timeout(500)
        after = image.screenshot(path=str(ARTIFACTS / f"browser-{LESSON}-after.png"))
        page.screenshot(path=str(ARTIFACTS / f"browser-{LESSON}.png"), full_page=False)
        assert image.get_attribute("src") != src_before, (
            "moving the learning-rate slider did not redraw"
        )
        assert after != before, "the picture did not change when the learning rate changed"
        assert_no_error(saved_outputs(page, lab, path), path)
    finally:
        page.close()
        shut_down_kernels(lab)


def test_exercise_visible_tests_pass_in_the_browser(browser, lab):
    path = f"exercises/{EXERCISE}/{EXERCISE}.ipynb"
    exercise_with_solutions(lab["root"])
    page = open_notebook(browser, lab, path)
    try:
        run_all(page)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"browser-{EXERCISE}.png"))
        cells = saved_outputs(page, lab, path)
        assert_no_error(cells, path)
        tests = [
            c
            for c in cells
            if c["metadata"].get("nbgrader", {}).get("grade")
            and c["metadata"]["nbgrader"].get("solution") is False
        ]
        assert tests and all(c.get("execution_count") for c in tests), (
            "the visible test cells did not run"
        )
    finally:
        page.close()
        shut_down_kernels(lab)
