"""nbgrader settings for everyone on the course hub (installed as <env>/etc/jupyter/).

The exchange is one shared directory (docs/hub.md): every user's server and every nbgrader
command run from the class environment finds it here. The hub passes MATHDL_EXCHANGE to each
server; the default is the path nbgrader's documentation uses.
"""

import os

c = get_config()  # noqa: F821  (provided by traitlets when this file is loaded)

c.CourseDirectory.course_id = os.environ.get("MATHDL_COURSE_ID", "mathdl")
c.Exchange.root = os.environ.get("MATHDL_EXCHANGE", "/srv/nbgrader/exchange")
