"""Grading tools of the mathdl course, on top of nbgrader (docs/instructors.md).

* :mod:`.checks`: ``check()``, what the exercises' test cells call (also in students' Jupyter);
* :mod:`.sandbox` and :mod:`.kernel`: the grading kernel in a bubblewrap sandbox, with limits;
* :mod:`.preprocessors`: the lists of nbgrader preprocessors that nbgrader_config.py configures:
  :mod:`.execute` (pass A, sandboxed), :mod:`.hidden_tests` (pass B), :mod:`.scoring` (scores
  decided outside the kernel), :mod:`.hidden_feedback` (feedback without the hidden tests),
  :mod:`.sanitize` (inert outputs), :mod:`.bake` (expected values written into the student's
  notebook as data);
* :mod:`.reference`: the solution's answers the submissions are compared with;
* :mod:`.feedback`: offline MathJax for the feedback HTML;
* :mod:`.apps`: nbgrader's apps run in this process with the course's configuration, used by
  :mod:`.cli` (``mathdl-grade``) and :mod:`.release` (``mathdl-make-exercises``);
* :mod:`.roster`: which submitted folders are graded (and why the others are not);
  :mod:`.results`: the scores into the report, grades.csv and report.md.

Importing this package imports nothing (students' kernels import only :mod:`.checks`).
"""
