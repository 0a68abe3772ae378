"""A Jupyter server extension: formgrader answers 400 to paths that could inject markup or script.

nbgrader's formgrader (0.9.6) writes ids taken from the URL into its pages unescaped, inside
inline scripts (``var student_id = "{{ student_id }}";`` in manage_students_assignments.tpl) and
HTML. A link a student puts in a submission (or sends) to
``/formgrader/manage_students/%22%3B<code>%2F%2F`` runs ``<code>`` in the instructor's browser
once clicked, with the Jupyter server's API at hand. nbgrader's ids never contain quotes,
angle brackets, backslashes, backticks, ampersands or control characters, so a formgrader
request whose decoded path holds one is refused: its response becomes a plain-text 400, whatever
the handler wrote (a tornado output transform, so every formgrader page and API is covered).

Enabled for instructors' servers by deploy/jupyter/instructor/jupyter_server_config.json, and
for ``make lab`` in the course by ``make setup`` (``jupyter server extension enable --sys-prefix``).
"""

import re
from typing import Any
from urllib.parse import unquote

from tornado.web import OutputTransform

UNSAFE = re.compile(r"[\"'<>\\`&\x00-\x1f\x7f]")
REFUSAL = (
    b"400: this formgrader address holds characters no nbgrader id has (quotes, <, >, &, \\)\n"
)


def is_unsafe(path: str) -> bool:
    """Whether ``path`` (a request's raw path) is a formgrader path with markup characters."""
    plain = unquote(path)
    return "/formgrader" in plain and bool(UNSAFE.search(plain))


class RefuseUnsafeFormgraderPaths(OutputTransform):
    """Replace the response to an unsafe formgrader path by a plain-text 400."""

    def __init__(self, request: Any) -> None:
        super().__init__(request)
        self.refuse = is_unsafe(request.path)

    def transform_first_chunk(
        self, status_code: int, headers: Any, chunk: bytes, finishing: bool
    ) -> tuple[int, Any, bytes]:
        if not self.refuse:
            return status_code, headers, chunk
        for name in ("Content-Encoding", "Transfer-Encoding", "Etag", "Location"):
            headers.pop(name, None)
        headers["Content-Type"] = "text/plain; charset=UTF-8"
        headers["Content-Length"] = str(len(REFUSAL))
        return 400, headers, REFUSAL

    def transform_chunk(self, chunk: bytes, finishing: bool) -> bytes:
        return b"" if self.refuse else chunk


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "mathdl_grading.formgrader_guard"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    serverapp.web_app.add_transform(RefuseUnsafeFormgraderPaths)
    serverapp.log.info("mathdl: formgrader refuses paths with markup characters")
