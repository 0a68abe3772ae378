"""nbgrader's apps run in this process with the course's configuration.

:func:`load_config` reads the course's nbgrader_config.py (with the command line's settings on
top) and :func:`run_app` runs one of nbgrader's converters (``generate_assignment``,
``autograde``, ``generate_feedback``) with it; :mod:`.cli`, :mod:`.parallel`, :mod:`.release`,
:mod:`.bake` and :mod:`.report` all start nbgrader through these two.
"""

from pathlib import Path
from typing import Any

from nbgrader.coursedir import CourseDirectory
from nbgrader.utils import capture_log
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader


def load_config(
    root: Path, timeout: int | None = None, memory_mb: int | None = None, unsafe: bool = False
) -> Config:
    """nbgrader_config.py of the course at ``root``, with the command line's settings."""
    cfg = Config()
    if (root / "nbgrader_config.py").is_file():
        cfg.merge(PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config())
    cfg.CourseDirectory.root = str(root)
    if timeout:  # the command line (or GRADE_TIMEOUT / GRADE_MEMORY_MB) over nbgrader_config.py
        cfg.Execute.timeout = int(timeout)
    if memory_mb:
        cfg.SandboxKernelManager.memory_mb = int(memory_mb)
    cfg.SandboxKernelManager.unsafe = bool(unsafe)
    return cfg


def run_app(
    cls: type, cfg: Config, assignment: str, student: str = "*", **flags: Any
) -> dict[str, Any]:
    """Run an nbgrader converter in this process; returns nbgrader's capture_log dict."""
    coursedir = CourseDirectory(config=cfg)
    coursedir.assignment_id, coursedir.student_id = assignment, student
    app = cls(coursedir=coursedir, config=cfg)
    app.force = True
    for key, value in flags.items():
        setattr(app, key, value)
    result: dict[str, Any] = capture_log(app)
    return result
