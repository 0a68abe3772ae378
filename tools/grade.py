#!/usr/bin/env python3
"""Grade all submissions of one assignment (``make grade ASSIGNMENT=<name>``).

See docs/instructors.md and tools/mathdl_grading/cli.py.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mathdl_grading.cli import main

if __name__ == "__main__":
    sys.exit(main())
