"""nbgrader settings for instructors' and graders' servers (on JUPYTER_CONFIG_PATH for the
formgrade-<course> group only; see deploy/jupyter_config.py).

The course directory is the instructor's private copy of the course repository,
~/mathdl-course by default (MATHDL_COURSE_DIR): its own nbgrader_config.py (solutions/,
exercises/, the gradebook) is loaded, so the formgrader, `nbgrader` commands and `make grade`
all see the same course.
"""

import os

c = get_config()  # noqa: F821  (provided by traitlets when this file is loaded)

_course = os.path.expanduser(os.environ.get("MATHDL_COURSE_DIR", "~/mathdl-course"))
if os.path.isfile(os.path.join(_course, "nbgrader_config.py")):
    load_subconfig(os.path.join(_course, "nbgrader_config.py"))  # noqa: F821
