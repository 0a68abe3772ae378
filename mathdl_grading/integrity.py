"""Flags for the instructor: a submission whose code reaches into how tests run.

A kernel runs whatever a student wrote, so code can in principle rewrite the test cells it
receives (IPython's input or AST transformers), patch the checking functions, or read the
caller's frames. The grader never trusts a kernel's verdict and compares data only, so most
such tricks earn nothing; the rest (forging an answer whose value is easy to guess, such as
"ValueError") cannot be stopped from inside the same process. What can be done is to show the
instructor where it was tried: :func:`flags` lists the places in a submission's own cells that
use these hooks. A flag never changes a score (an honest student never loses a point to it);
it appears in the grading report for a human to look at.
"""

import ast

from IPython.core.inputtransformer2 import TransformerManager

#: Attribute and module names that honest answers to this course's exercises never need.
ATTRIBUTES = {
    "input_transformers_cleanup": "rewrites the code of later cells",
    "input_transformers_post": "rewrites the code of later cells",
    "ast_transformers": "rewrites the code of later cells",
    "set_custom_exc": "changes how errors are reported",
    "register_transformer": "rewrites the code of later cells",
    "settrace": "watches or changes running code",
    "setprofile": "watches or changes running code",
    "_getframe": "reads the caller's variables",
    "f_back": "reads the caller's variables",
    "f_globals": "reads the caller's variables",
    "f_locals": "reads the caller's variables",
    "get_referrers": "reaches other objects' internals",
    "sink": "replaces where answers go",
}
MODULES = {
    "mathdl_grading": "imports the grading package",
    "ctypes": "changes memory directly",
    "builtins": "changes the built-in functions",
    "inspect": "reads the caller's frames",
    "gc": "reaches other objects' internals",
}


def _parse(source: str) -> ast.Module | None:
    try:
        return ast.parse(TransformerManager().transform_cell(source))
    except (SyntaxError, ValueError):
        return None


def flags(cells: list[tuple[int, str]]) -> list[tuple[int, int, str, str]]:
    """``[(cell number, line, what, why)]`` for a list of the student's own code sources."""
    out = []
    for number, source in cells:
        tree = _parse(source)
        for node in ast.walk(tree) if tree else []:
            what = _attribute(node) or _module(node)
            if what:
                out.append((number, getattr(node, "lineno", 0), what, _why(what)))
    return out


def _attribute(node: ast.AST) -> str | None:
    if isinstance(node, ast.Attribute) and node.attr in ATTRIBUTES:
        return node.attr
    if isinstance(node, ast.Name) and node.id == "__builtins__":
        return "__builtins__"
    return None


def _module(node: ast.AST) -> str | None:
    names = []
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    elif isinstance(node, ast.ImportFrom):
        names = [node.module or ""]
    return next((n for n in names if n.split(".")[0] in MODULES), None)


def _why(what: str) -> str:
    return (
        ATTRIBUTES.get(what) or MODULES.get(what.split(".")[0]) or "changes the built-in functions"
    )
