#!/usr/bin/env python3
"""Regenerate exercises/ from solutions/ (``make exercises``); see tools/mathdl_grading/release.py."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mathdl_grading.release import main

if __name__ == "__main__":
    sys.exit(main())
