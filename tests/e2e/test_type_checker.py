"""The type checker runs over the whole mathdl package (the configuration of `make lint`).

mypy checks every annotation of mathdl against its use (calls, returns, attributes), which a
test that only looks for annotations cannot; this runs it as `make lint` does, so `make test`
fails on a type error too.
"""

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_type_checker_covers_the_whole_mathdl_package():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
    assert "mathdl" in config["files"], "mypy must check the package, not a list of its modules"
    assert config["disallow_untyped_defs"] and config["disallow_untyped_calls"]


def test_mypy_finds_no_type_error():
    result = subprocess.run(
        [sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, result.stdout + result.stderr
