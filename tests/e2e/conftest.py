"""Everything in tests/e2e/ is end to end and slow: kernels, grading, browsers, servers, the hub.

`make test-fast` (``-m "not slow"``) leaves this folder out; no decorator is needed here.
"""

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config, items):
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.slow)
