"""The shape of the grading and harness packages, read from their source (no import needed).

* the modules of mathdl_grading import each other without a cycle, and only at module top
  (an import inside a function is how a cycle hides);
* no function is over 60 lines in mathdl_grading or mathdl_harness (and its hub package).

Each rule is also run on a small package written here that breaks it, so a checker that finds
nothing cannot pass.
"""

import ast
from pathlib import Path

import pytest

from mathdl_grading import preprocessors
from mathdl_grading.execute import SandboxExecute
from mathdl_grading.hidden_tests import RunHiddenTests
from mathdl_grading.scoring import ScoreChecks

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("mathdl_grading", "mathdl_harness", "mathdl_harness/hub")
MAX_FUNCTION_LINES = 60


def sibling_imports(folder: Path) -> list[tuple[str, str, bool]]:
    """``(module, imported sibling, at module top)`` for every import of a sibling module."""
    package, names = folder.name, {p.stem for p in folder.glob("*.py")}
    found = []
    for path in sorted(folder.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top = set(tree.body)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.level == 1 or node.module == package):
                targets = [node.module] if node.level and node.module else []
                targets += [a.name for a in node.names if not node.module or node.level == 0]
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(package + "."):
                targets = [node.module.split(".")[1]]
            elif isinstance(node, ast.Import):
                targets = [
                    a.name.split(".")[1] for a in node.names if a.name.startswith(package + ".")
                ]
            else:
                continue
            for target in targets:
                if target in names and target != path.stem:
                    found.append((path.stem, target, node in top))
    return found


def cycle(edges: list[tuple[str, str, bool]]) -> list[str]:
    """One import cycle (``[a, b, ..., a]``), or ``[]``."""
    graph: dict[str, set[str]] = {}
    for a, b, _ in edges:
        graph.setdefault(a, set()).add(b)
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> list[str]:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], node, nxt] if nxt in path else [node, nxt]
            if nxt not in state and (found := visit(nxt, [*path, node])):
                return found
        state[node] = 2
        return []

    for start in sorted(graph):
        if start not in state and (found := visit(start, [])):
            return found
    return []


def long_functions(folder: Path) -> list[str]:
    out = []
    for path in sorted(folder.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    out.append(f"{path.name}:{node.lineno} {node.name} ({lines} lines)")
    return out


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_cycle(package):
    edges = sibling_imports(REPO / package)
    assert edges or package == "mathdl_harness", "the checker found no import at all"
    assert cycle(edges) == [], f"{package} imports in a circle: {' -> '.join(cycle(edges))}"


@pytest.mark.parametrize("package", PACKAGES)
def test_sibling_imports_at_module_top(package):
    inside = [f"{a} imports {b}" for a, b, top in sibling_imports(REPO / package) if not top]
    assert inside == [], f"imports of a sibling module inside a function: {inside}"


@pytest.mark.parametrize("package", PACKAGES)
def test_no_function_over_60_lines(package):
    assert long_functions(REPO / package) == []


def test_the_checkers_find_what_they_look_for(tmp_path):
    """A package with a cycle hidden in a function, and a 61-line function."""
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .b import x\n")
    (pkg / "b.py").write_text("import os\n\ndef x():\n    from . import c\n")
    body = "".join(f"    y = {i}\n" for i in range(60))
    (pkg / "c.py").write_text(f"from pkg.a import x\n\ndef long():\n{body}")
    edges = sibling_imports(pkg)
    assert sorted(edges) == [("a", "b", True), ("b", "c", False), ("c", "a", True)]
    assert cycle(edges) == ["a", "b", "c", "a"]
    assert long_functions(pkg) == ["c.py:3 long (61 lines)"]
    assert cycle([("a", "b", True), ("b", "c", True)]) == []


def test_pass_b_runs_right_after_pass_a_and_before_scoring():
    """The hidden tests are a preprocessor of their own (no cycle execute <-> reference): it
    must follow the sandboxed pass A and come before the scoring that reads its records."""
    names = [pp.__name__ for pp in preprocessors.autograde_preprocessors()]
    at = names.index(SandboxExecute.__name__)
    assert names[at + 1] == RunHiddenTests.__name__, names
    assert names.index(ScoreChecks.__name__) > at + 1, names
    assert "Execute" not in names, names  # nbgrader's unsandboxed one is replaced
