"""Grading tools of the mathdl course, on top of nbgrader (docs/instructors.md).

* :mod:`.checks`: ``check()``, what the exercises' test cells call (also in students' Jupyter);
* :mod:`.sandbox` and :mod:`.kernel`: the grading kernel in a bubblewrap sandbox, with limits;
* :mod:`.preprocessors`: the nbgrader preprocessors that nbgrader_config.py configures
  (sandboxed execution, scoring outside the kernel, feedback without the hidden tests);
* :mod:`.reference`: the solution's answers the submissions are compared with;
* :mod:`.feedback`: offline MathJax for the feedback HTML;
* :mod:`.cli` (``mathdl-grade``), :mod:`.release` (``mathdl-make-exercises``) and
  :mod:`.bake` (expected values written into the student's notebook as data).

Importing this package imports nothing (students' kernels import only :mod:`.checks`).
"""
