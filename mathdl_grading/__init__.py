"""Robust autograding for the mathdl course, on top of nbgrader 0.9.

* :mod:`.cli`: ``python tools/grade.py <assignment>`` (``make grade ASSIGNMENT=...``):
  prepares every submission, autogrades each one in its own process under a watchdog,
  zeroes tampered notebooks, writes feedback, exports grades.csv and a report.
* :mod:`.kernel`: the kernel launcher used while grading (memory / CPU / file-size limits,
  arms :mod:`mathdl_grading.guard` before any student code runs).
* :mod:`.preprocessors`: nbgrader preprocessors that keep grading going when a kernel dies
  or hangs, cap output, inject the guard into every test cell and ignore stderr in test cells.
* :mod:`.scan`: the static (out-of-process) scan of the students' cells for tampering.
* :mod:`.prepare`: reading, validating and repairing a submitted notebook.

Imports nothing from mathdl (the guard itself lives in mathdl, where the kernel imports it).
"""
