"""book/build.py (a script, not a package) loaded once as the module ``mathdl_book_build``.

Shared by tests/book/test_build.py and tests/e2e/test_book_build.py (not a test module): one
module object, registered in sys.modules, because the build's process pool pickles
``execute_one`` by its module's name.
"""

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
NAME = "mathdl_book_build"


def load_build() -> ModuleType:
    """The module of book/build.py, loaded on the first call."""
    if NAME not in sys.modules:
        spec = importlib.util.spec_from_file_location(NAME, ROOT / "book" / "build.py")
        build = importlib.util.module_from_spec(spec)
        sys.modules[NAME] = build
        spec.loader.exec_module(build)
    return sys.modules[NAME]
