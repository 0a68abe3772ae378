"""Test-suite configuration: where a test goes, and the `slow` marker.

Unit tests mirror the packages: ``tests/<package>/test_<module>.py`` (tests/mathdl/,
tests/mathdl/views/, tests/mathdl_grading/); fast checks of the course's other folders go in
``tests/<folder>/`` (book, binder, deploy, exercises, notebooks); shared helpers in
tests/helpers/. Everything end to end (lessons executed in a kernel, grading, the real browser,
the website and the hub) goes in tests/e2e/, whose conftest.py marks all of it slow: `make test`
runs everything, `make test-fast` everything but tests/e2e/. A test marked slow by hand outside
tests/e2e/ is refused, so the folder stays the one place that decides.

`make test` runs in two processes (pytest-xdist, ``--dist loadfile``): each test file whole in
one, so its module-scoped fixtures (a graded class, a built course) are made once; the website
fixture (tests/e2e/test_site.py) takes a file lock, so only one process builds build/site.
"""

from pathlib import Path

import pytest

E2E = Path(__file__).resolve().parent / "e2e"


def pytest_collection_modifyitems(config, items):
    misplaced = [
        item.nodeid
        for item in items
        if E2E not in item.path.parents and item.get_closest_marker("slow") is not None
    ]
    if misplaced:
        raise pytest.UsageError(
            "tests marked slow outside tests/e2e/ (move them there; the folder marks them): "
            + ", ".join(misplaced)
        )


@pytest.fixture(scope="module")
def browser():
    """A headless Chromium under Playwright (tests/e2e/test_browser.py, test_grading_browser.py)."""
    from mathdl_harness import jlab

    with jlab.chromium() as b:
        yield b
