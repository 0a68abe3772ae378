"""nbgrader configuration for the mathdl course (read from the repository root).

solutions/<assignment>/<assignment>.ipynb is the instructor's source;
exercises/<assignment>/<assignment>.ipynb the generated student version.
"""

import os

c = get_config()  # noqa: F821  (provided by nbgrader/traitlets when this file is loaded)

HERE = os.path.dirname(os.path.abspath(__file__))

c.CourseDirectory.course_id = "mathdl"
c.CourseDirectory.root = HERE
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(HERE, "gradebook.db")

c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
