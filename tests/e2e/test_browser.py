"""A real browser: JupyterLab on localhost, driven through Debian's Chromium by Playwright.

The server serves a temporary copy of the course (running cells must not write outputs into
the committed notebooks). Every wait is bounded, and the server is stopped whatever happens
(mathdl_harness/jlab.py, shared with benchmarks/bench_browser.py). Where Chromium is missing the test is
skipped, except under CI (CI=true), where .ci/run installs it and a missing browser is a
failure. Screenshots go to test-artifacts/. Slow (tests/e2e/).
"""

import os
import time
from pathlib import Path

import nbformat
import pytest

from mathdl_harness import jlab

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
LESSON = "00_welcome"
EXERCISE = "01_tensors"


if not Path(jlab.CHROMIUM).exists():
    if os.environ.get("CI"):
        pytest.fail(
            "CI must run the browser test: Chromium is not installed (.ci/run installs it)",
            pytrace=False,
        )
    pytest.skip("Chromium is not installed (apt-get install chromium)", allow_module_level=True)


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
    jlab.copy_course(tmp)
    with jlab.jupyterlab(tmp) as server:
        yield server


def open_notebook(browser, lab, path):
    return jlab.open_notebook(browser, lab, path)


def run_all(page, timeout_s=120):
    jlab.run_all(page, timeout_s, artifacts=ARTIFACTS)


shut_down_kernels = jlab.shut_down_kernels
saved_outputs = jlab.saved_outputs


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
