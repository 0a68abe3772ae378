"""Static scan of a student's cells for tampering, run out of process by the grader.

The runtime guard (:mod:`mathdl_grading.guard`) sees what changed; this scan sees what the
code *tries* to do, including the things a guard inside the same process cannot see
(replacing the guard module itself, IPython input transformers that rewrite the test cells,
writing into the test cell's variables from a student function).

Findings have a severity:

* ``"tamper"``: the notebook's autograded points are set to 0 and the report says why
  (the instructor can restore points by hand in formgrader after reading the code);
* ``"review"``: listed in the report for the instructor; the points stand.

Rules (all on the AST, after IPython's own translation of ``%magics`` and ``!shell``):

tamper
  assigning to / deleting an attribute or item of an imported module, of ``builtins`` /
  ``__builtins__``, of ``sys.modules`` or of any ``__dict__``; ``setattr``/``delattr`` on them;
  mutating methods (``update``, ``pop``, ``__setattr__`` ...) called on them; ``exec``,
  ``eval``, ``compile``, ``__import__``, ``globals()``, ``vars()``; importing ``importlib``,
  ``builtins``, ``ctypes``, ``gc``, ``inspect``, ``sys``-level hooks (``sys.modules``,
  ``sys.settrace``, ``sys._getframe`` ...), ``subprocess``, ``signal``, ``sqlite3`` and other
  process/OS-level modules, ``mathdl_grading.guard``, IPython/ipykernel/nbgrader;
  frame and function internals (``__code__``, ``__globals__``, ``f_back`` ...);
  ``get_ipython()`` beyond the timing/plotting magics; shell commands (``!ls``, ``%%bash``);
  OS calls that touch other processes or files (``os.kill``, ``os.system``, ``os.remove``...);
  ``global`` declarations of names that the tests define; classes that define comparison,
  truth-value, conversion or NumPy-protocol methods (``__eq__``, ``__bool__``, ``__float__``,
  ``__array_function__`` ...), which can make an assertion pass without a correct answer.
review
  other imports outside the course's usual set (``os``, ``sys``, ``json`` ...), file writes,
  star imports, cells that do not parse.
"""

import ast
from dataclasses import asdict, dataclass

TAMPER = "tamper"
REVIEW = "review"

#: Imports that never need a note.
ALLOWED_IMPORTS = {
    "numpy",
    "math",
    "cmath",
    "mathdl",
    "random",
    "itertools",
    "functools",
    "collections",
    "statistics",
    "fractions",
    "decimal",
    "operator",
    "typing",
    "dataclasses",
    "time",
    "timeit",
    "warnings",
    "copy",
    "string",
    "re",
    "pprint",
    "numbers",
    "abc",
    "enum",
    "textwrap",
    "heapq",
    "bisect",
    "matplotlib",
    "torch",
    "scipy",
    "ipywidgets",
    "IPython.display",
    "__future__",
}

#: Imports that are tampering in a graded notebook.
FORBIDDEN_IMPORTS = {
    "importlib",
    "imp",
    "builtins",
    "__builtin__",
    "ctypes",
    "cffi",
    "gc",
    "inspect",
    "subprocess",
    "signal",
    "sqlite3",
    "socket",
    "multiprocessing",
    "threading",
    "_thread",
    "pty",
    "resource",
    "runpy",
    "code",
    "codeop",
    "marshal",
    "dis",
    "pickle",
    "dill",
    "cloudpickle",
    "shutil",
    "sysconfig",
    "site",
    "atexit",
    "faulthandler",
    "tracemalloc",
    "unittest",
    "pytest",
    "IPython",
    "ipykernel",
    "jupyter_client",
    "nbgrader",
    "nbformat",
    "nbclient",
    "zmq",
    "mathdl_grading.guard",
    "mathdl_grading",
    "numpy._core",
    "numpy.core",
}

#: Names that are always treated as protected roots (modules the tests use).
ALWAYS_PROTECTED = {"np", "numpy", "math", "mathdl", "builtins", "__builtins__", "sys", "os"}

FORBIDDEN_NAMES = {"__builtins__", "__import__", "__loader__", "__spec__"}
FORBIDDEN_CALLS = {"exec", "eval", "compile", "__import__", "globals", "vars", "breakpoint"}
INTERNAL_ATTRS = {
    "__code__",
    "__globals__",
    "__closure__",
    "__defaults__",
    "__kwdefaults__",
    "__dict__",
    "__subclasses__",
    "__bases__",
    "__mro__",
    "__class__",
    "__builtins__",
    "__wrapped__",
    "_implementation",
    "f_back",
    "f_globals",
    "f_locals",
    "f_builtins",
    "f_code",
    "f_trace",
    "gi_frame",
    "cr_frame",
    "ag_frame",
    "tb_frame",
    "tb_next",
    "co_code",
    "co_consts",
    "__setattr__",
    "__delattr__",
    "__setitem__",
    "__delitem__",
    "__getattribute__",
}
SYS_FORBIDDEN = {
    "modules",
    "meta_path",
    "path_hooks",
    "path_importer_cache",
    "settrace",
    "setprofile",
    "_getframe",
    "addaudithook",
    "monitoring",
    "_current_frames",
    "set_asyncgen_hooks",
    "builtin_module_names",
}
OS_FORBIDDEN = {
    "kill",
    "killpg",
    "system",
    "popen",
    "fork",
    "forkpty",
    "setsid",
    "remove",
    "unlink",
    "rmdir",
    "removedirs",
    "rename",
    "renames",
    "replace",
    "truncate",
    "ftruncate",
    "chmod",
    "chown",
    "symlink",
    "link",
    "putenv",
    "unsetenv",
    "environ",
    "write",
    "open",
    "dup2",
    "execv",
    "execve",
    "execl",
    "execlp",
    "execvp",
    "execvpe",
    "spawnl",
    "spawnv",
    "spawnve",
    "posix_spawn",
    "posix_spawnp",
    "chdir",
    "makedirs",
    "mkdir",
    "utime",
    "setpgid",
    "nice",
    "sched_setaffinity",
    "register_at_fork",
}
MUTATORS = {
    "update",
    "pop",
    "popitem",
    "setdefault",
    "clear",
    "append",
    "insert",
    "extend",
    "remove",
    "__setitem__",
    "__delitem__",
    "__setattr__",
    "__delattr__",
    "__init__",
}
ALLOWED_MAGICS = {"timeit", "time", "matplotlib", "precision", "who", "whos", "capture", "pprint"}
SUSPICIOUS_DUNDERS = {
    "__eq__",
    "__ne__",
    "__lt__",
    "__le__",
    "__gt__",
    "__ge__",
    "__bool__",
    "__len__",
    "__float__",
    "__int__",
    "__index__",
    "__complex__",
    "__abs__",
    "__round__",
    "__array__",
    "__array_function__",
    "__array_ufunc__",
    "__array_priority__",
    "__array_interface__",
    "__array_struct__",
    "__array_wrap__",
    "__array_finalize__",
    "__instancecheck__",
    "__subclasscheck__",
    "__getattribute__",
    "__getattr__",
    "__hash__",
    "__contains__",
    "__iter__",
    "__getitem__",
    "__del__",
    "__init_subclass__",
    "__set_name__",
}


@dataclass
class Finding:
    severity: str
    cell: int  # index of the cell in the submitted notebook
    line: int  # line in the (translated) cell source, 1-based
    rule: str
    detail: str

    def to_dict(self):
        return asdict(self)

    def __str__(self):
        return f"cell {self.cell}, line {self.line}: {self.detail}"


def translate(source):
    """IPython cell source -> plain Python (magics become get_ipython() calls)."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        return TransformerManager().transform_cell(source)
    except Exception:
        return source


def _root(node):
    """Name at the bottom of an attribute/subscript chain (through getattr()/vars() calls)."""
    while True:
        if isinstance(node, (ast.Attribute, ast.Subscript, ast.Starred)):
            node = node.value
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "vars", "type")
            and node.args
        ):
            node = node.args[0]
        elif isinstance(node, ast.Name):
            return node.id
        else:
            return None


def _chain(node):
    """Attribute names along a chain, outermost last: np.testing.x -> ['np', 'testing', 'x']."""
    parts = []
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        if isinstance(node, ast.Attribute):
            parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    elif isinstance(node, ast.Call):
        parts.append("()")
    return parts[::-1]


def _import_names(tree):
    """Names bound by import statements, and the modules they came from."""
    bound = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                bound[alias.asname or alias.name.split(".")[0]] = alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                if alias.name != "*":
                    bound[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return bound


def _bound_names(tree):
    """Every name a piece of code binds at any level (assignments, defs, imports, loops)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                names.add(alias.asname or alias.name.split(".")[0])
    return names


def _parse(source):
    try:
        return ast.parse(translate(source))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _module_allowed(name, table):
    parts = name.split(".")
    return any(".".join(parts[:i]) in table for i in range(1, len(parts) + 1))


class _CellScanner(ast.NodeVisitor):
    def __init__(self, cell_index, protected, test_names):
        self.cell = cell_index
        self.protected = protected
        self.test_names = test_names
        self.findings = []

    def add(self, severity, node, rule, detail):
        self.findings.append(Finding(severity, self.cell, getattr(node, "lineno", 0), rule, detail))

    def _is_protected(self, node):
        root = _root(node)
        chain = _chain(node)
        return (
            root in self.protected
            or "__dict__" in chain
            or root == "__import__"
            or (chain[:2] == ["sys", "modules"])
        )

    # -- imports
    def visit_Import(self, node):
        for alias in node.names:
            self._check_module(node, alias.name)
        self.generic_visit(node)

    def visit_ImportFrom(self, node):
        if node.level:
            self.add(
                TAMPER, node, "relative-import", "relative import (nothing to import from here)"
            )
        elif node.module:
            self._check_module(node, node.module)
            for alias in node.names:
                if alias.name == "*":
                    self.add(
                        REVIEW,
                        node,
                        "star-import",
                        f"`from {node.module} import *` can shadow built-ins the tests use",
                    )
                else:
                    self._check_module(node, f"{node.module}.{alias.name}", member=True)
        self.generic_visit(node)

    def _check_module(self, node, name, member=False):
        if _module_allowed(name, FORBIDDEN_IMPORTS):
            self.add(TAMPER, node, "forbidden-import", f"imports {name}")
        elif not member and not _module_allowed(name, ALLOWED_IMPORTS):
            self.add(REVIEW, node, "unusual-import", f"imports {name}")

    # -- stores and deletes
    def _check_store(self, target, node, verb):
        if isinstance(target, (ast.Tuple, ast.List)):
            for elt in target.elts:
                self._check_store(elt, node, verb)
        elif isinstance(target, ast.Starred):
            self._check_store(target.value, node, verb)
        elif isinstance(target, (ast.Attribute, ast.Subscript)):
            if self._is_protected(target):
                self.add(
                    TAMPER,
                    node,
                    "module-patch",
                    f"{verb} {ast.unparse(target)} (a module, built-in or import-system object)",
                )
            elif isinstance(target, ast.Attribute) and target.attr in INTERNAL_ATTRS:
                self.add(TAMPER, node, "internals", f"{verb} {ast.unparse(target)}")

    def visit_Assign(self, node):
        for t in node.targets:
            self._check_store(t, node, "assigns to")
        self.generic_visit(node)

    def visit_AugAssign(self, node):
        self._check_store(node.target, node, "modifies")
        self.generic_visit(node)

    def visit_AnnAssign(self, node):
        self._check_store(node.target, node, "assigns to")
        self.generic_visit(node)

    def visit_Delete(self, node):
        for t in node.targets:
            self._check_store(t, node, "deletes")
        self.generic_visit(node)

    def visit_For(self, node):
        self._check_store(node.target, node, "assigns (loop variable) to")
        self.generic_visit(node)

    visit_AsyncFor = visit_For

    def visit_With(self, node):
        for item in node.items:
            if item.optional_vars is not None:
                self._check_store(item.optional_vars, node, "assigns (with ... as) to")
        self.generic_visit(node)

    visit_AsyncWith = visit_With

    def visit_comprehension(self, node):
        self._check_store(node.target, node.target, "assigns (comprehension variable) to")
        self.generic_visit(node)

    # -- names, attributes, calls
    def visit_Name(self, node):
        if node.id in FORBIDDEN_NAMES:
            self.add(TAMPER, node, "forbidden-name", f"uses {node.id}")
        elif node.id == "get_ipython":
            # the magics translate to get_ipython().run_line_magic(...), judged in visit_Call;
            # any other use reaches IPython's hooks (input transformers, events, user_ns ...)
            self.add(TAMPER, node, "ipython-hook", "uses get_ipython() (IPython's hooks)")
        self.generic_visit(node)

    def visit_Attribute(self, node):
        chain = _chain(node)
        root = chain[0] if chain else None
        if node.attr in INTERNAL_ATTRS:
            self.add(TAMPER, node, "internals", f"uses {ast.unparse(node)}")
        elif root == "sys" and len(chain) >= 2 and chain[1] in SYS_FORBIDDEN:
            self.add(TAMPER, node, "sys-hook", f"uses sys.{chain[1]}")
        elif root == "os" and len(chain) >= 2 and chain[1] in OS_FORBIDDEN:
            self.add(TAMPER, node, "os-call", f"uses os.{chain[1]}")
        self.generic_visit(node)

    def visit_Call(self, node):
        func = node.func
        if isinstance(func, ast.Name):
            if func.id in FORBIDDEN_CALLS:
                self.add(TAMPER, node, "dynamic-code", f"calls {func.id}()")
            elif func.id in ("setattr", "delattr") and node.args:
                target = node.args[0]
                if self._is_protected(target) or not isinstance(target, ast.Name):
                    self.add(
                        TAMPER, node, "module-patch", f"calls {func.id}() on {ast.unparse(target)}"
                    )
                else:
                    self.add(REVIEW, node, "setattr", f"calls {func.id}() on {ast.unparse(target)}")
            elif func.id == "get_ipython":
                pass  # judged at the attribute call below (magics) or as a bare use
            elif func.id == "open":
                mode = (
                    node.args[1]
                    if len(node.args) > 1
                    else next((k.value for k in node.keywords if k.arg == "mode"), None)
                )
                text = (
                    mode.value
                    if isinstance(mode, ast.Constant) and isinstance(mode.value, str)
                    else "?"
                )
                if text == "?" or any(c in text for c in "wax+"):
                    self.add(
                        REVIEW,
                        node,
                        "file-write",
                        f"opens a file for writing ({ast.unparse(node)[:80]})",
                    )
        elif isinstance(func, ast.Attribute):
            if func.attr in MUTATORS and self._is_protected(func.value):
                self.add(TAMPER, node, "module-patch", f"calls {ast.unparse(func)}()")
            if (
                isinstance(func.value, ast.Call)
                and isinstance(func.value.func, ast.Name)
                and func.value.func.id == "get_ipython"
            ):
                self._check_ipython(node, func.attr)
                for arg in node.args[1:]:
                    self.visit(arg)
                for kw in node.keywords:
                    self.visit(kw.value)
                return
        self.generic_visit(node)

    def _check_ipython(self, node, method):
        if (
            method in ("run_line_magic", "run_cell_magic")
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            name = str(node.args[0].value)
            if name not in ALLOWED_MAGICS:
                self.add(TAMPER, node, "magic", f"uses the %{name} magic")
            elif (
                method == "run_cell_magic"
                and len(node.args) >= 3
                and isinstance(node.args[2], ast.Constant)
                and isinstance(node.args[2].value, str)
            ):
                inner = _parse(node.args[2].value)
                if inner is not None:
                    self.visit(inner)
        elif method in ("system", "getoutput"):
            self.add(TAMPER, node, "shell", "runs a shell command (!...)")
        else:
            self.add(TAMPER, node, "ipython-hook", f"uses get_ipython().{method}")

    def visit_Global(self, node):
        hit = sorted(set(node.names) & self.test_names)
        if hit:
            self.add(
                TAMPER,
                node,
                "global-test-name",
                f"declares `global {', '.join(hit)}`, names the tests define",
            )
        self.generic_visit(node)

    visit_Nonlocal = visit_Global

    def visit_ClassDef(self, node):
        for item in node.body:
            names = []
            if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                names = [item.name]
            elif isinstance(item, (ast.Assign, ast.AnnAssign)):
                targets = item.targets if isinstance(item, ast.Assign) else [item.target]
                names = [t.id for t in targets if isinstance(t, ast.Name)]
            for name in names:
                if name in SUSPICIOUS_DUNDERS:
                    self.add(
                        TAMPER,
                        item,
                        "dunder",
                        f"class {node.name} defines {name} (can fake a comparison or an array)",
                    )
        for kw in node.keywords:
            if kw.arg == "metaclass":
                self.add(TAMPER, node, "metaclass", f"class {node.name} uses a metaclass")
        self.generic_visit(node)


def scan_cells(student_cells, context_cells=(), test_cells=()):
    """Scan the student's code.

    ``student_cells``: (index, source) of the code the student controls (solution cells and
    cells they added). ``context_cells``: sources of the locked cells that will also run (to
    learn which names are imported modules). ``test_cells``: sources of the test cells,
    hidden tests included (to learn which names the tests define).
    Returns a list of :class:`Finding`.
    """
    protected = set(ALWAYS_PROTECTED)
    trees = []
    for index, source in student_cells:
        tree = _parse(source)
        trees.append((index, source, tree))
        if tree is not None:
            protected |= set(_import_names(tree))
    for source in context_cells:
        tree = _parse(source)
        if tree is not None:
            protected |= set(_import_names(tree))
    # names assigned from a protected chain (t = np.testing) are protected too
    changed = True
    while changed:
        changed = False
        for _, _, tree in trees:
            if tree is None:
                continue
            for node in ast.walk(tree):
                if (
                    isinstance(node, ast.Assign)
                    and _root(node.value) in protected
                    and isinstance(node.value, (ast.Attribute, ast.Name, ast.Subscript))
                ):
                    for t in node.targets:
                        if isinstance(t, ast.Name) and t.id not in protected:
                            protected.add(t.id)
                            changed = True
    test_names = set()
    for source in test_cells:
        tree = _parse(source)
        if tree is not None:
            test_names |= _bound_names(tree)
    test_names -= {"_"}

    findings = []
    for index, _source, tree in trees:
        if tree is None:
            findings.append(
                Finding(REVIEW, index, 0, "syntax", "the cell does not parse (it fails when run)")
            )
            continue
        scanner = _CellScanner(index, protected, test_names)
        scanner.visit(tree)
        findings.extend(scanner.findings)
    # one finding per (cell, line, rule) is enough
    seen, unique = set(), []
    for f in findings:
        key = (f.cell, f.line, f.rule, f.detail)
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique
