"""mathdl_grading.export (mathdl-export) without a gradebook."""

import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def test_export_without_a_gradebook_says_so(tmp_path):
    proc = subprocess.run(
        [str(BIN / "mathdl-export"), "--root", str(tmp_path)], capture_output=True, text=True
    )
    assert (
        proc.returncode != 0
        and "no gradebook" in proc.stderr
        and "grade an assignment" in proc.stderr
    )
