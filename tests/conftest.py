"""Test-suite configuration: the `slow` marker.

`make test` runs everything; `make test-fast` skips the tests marked slow (lessons executed in a
kernel, grading, the real browser, the website and the hub). Whole modules that start kernels,
browsers or servers are marked here, so a new test in them is slow without a decorator; a test
elsewhere is marked with ``@pytest.mark.slow``.
"""

import pytest

from mathdl_harness import jlab

SLOW_MODULES = {
    "test_notebooks",
    "test_grading",
    "test_exercises",
    "test_browser",
    "test_site",
    "test_hub",
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.module is not None and item.module.__name__.rsplit(".", 1)[-1] in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="module")
def browser():
    """A headless Chromium under Playwright (tests/test_browser.py, test_grading_browser.py)."""
    with jlab.chromium() as b:
        yield b
