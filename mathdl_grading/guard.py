"""Tamper guard for the autograded test cells of the graded exercises.

Every autograded test cell starts (and the grader makes it end) with::

    __import__("mathdl_grading.guard", fromlist=["check"]).check()

``check()`` raises :class:`TamperingDetected` when anything the tests rely on was changed
since the kernel started: NumPy's functions (``np.allclose``, ``np.isclose``,
``np.testing.*``, the reductions behind ``ndarray.all()`` ...), ``math``, ``operator``,
``functools``, the built-ins the tests use (``abs``, ``all``, ``len`` ...), ``mathdl``
itself, this module, and the ``sys.modules`` entries of all of them. It compares object
identities (and, for Python functions, their code, defaults and keyword defaults) with a
snapshot taken by :func:`arm`. It also raises :class:`TamperingDetected` when the notebook's
namespace binds ``np``, ``numpy``, ``math`` or ``mathdl`` to something other than the real
module, and :class:`ShadowedBuiltinError` (a milder error: only that test fails) when it
rebinds a built-in name that the calling test cell uses, e.g. ``max = 3`` or
``from numpy import *`` before a test that calls ``max``.

When grading, the kernel launcher (``tools/mathdl_grading/kernel.py``) calls :func:`arm`
before any notebook code runs. When a student runs the visible tests in Jupyter, the first
``check()`` arms the guard itself, so the tests work the same way.

Limits (stated plainly in docs/instructors.md): this is a tripwire inside the student's own
process, not a sandbox. Code in the same process can always reach and disable it (for
example by replacing this module in ``sys.modules`` before the tests import it). That is
why the grader also scans the students' cells statically, out of process, and zeroes a
notebook that patches modules, built-ins or the import system.

Imports only the standard library and NumPy.
"""

import builtins
import functools
import math
import operator
import os
import sys
import types

import numpy
import numpy.linalg
import numpy.testing

__all__ = ["ShadowedBuiltinError", "TamperingDetected", "arm", "check", "is_armed"]

#: Environment variable set by the grading kernel launcher: a missing snapshot is then tampering.
GRADING_ENV = "MATHDL_GRADING_KERNEL"

#: Built-in names the autograded tests typically use (documentation; the check looks at the
#: names each test cell really uses).
TEST_BUILTINS = (
    "abs",
    "all",
    "any",
    "bool",
    "callable",
    "dict",
    "enumerate",
    "float",
    "getattr",
    "hasattr",
    "int",
    "isinstance",
    "len",
    "list",
    "map",
    "max",
    "min",
    "print",
    "range",
    "repr",
    "round",
    "set",
    "sorted",
    "str",
    "sum",
    "tuple",
    "type",
    "zip",
    "AssertionError",
    "Exception",
    "TypeError",
    "ValueError",
    "ZeroDivisionError",
    "NotImplementedError",
)

#: Names that must refer to the real modules when the notebook binds them.
MODULE_ALIASES = {"np": "numpy", "numpy": "numpy", "math": "math", "mathdl": "mathdl"}

# Built-ins that IPython / ipykernel legitimately replace or add at run time.
_BUILTINS_SKIP = {
    "input",
    "exit",
    "quit",
    "help",
    "display",
    "get_ipython",
    "copyright",
    "credits",
    "license",
    "dreload",
    "breakpoint",
}
_BUILTINS_EXTRA = ("__import__", "__build_class__")

_STD_MODULES = ("math", "cmath", "operator", "functools", "itertools", "builtins")


class TamperingDetected(Exception):
    """Something the tests rely on was modified: the grader gives this notebook no points."""


class ShadowedBuiltinError(Exception):
    """The notebook rebinds a built-in name the tests need (only this test fails)."""


_SNAPSHOT = None


def _guarded_module_names():
    names = [
        n
        for n in list(sys.modules)
        if n == "numpy" or n.startswith("numpy.") or n == "mathdl" or n.startswith("mathdl.")
    ]
    names += [n for n in _STD_MODULES if n in sys.modules]
    return sorted(set(names))


def _function_state(fn):
    """Identity of what makes a Python function behave as it does (code, defaults, keyword defaults)."""
    kw = fn.__kwdefaults__
    return (
        id(fn.__code__),
        id(fn.__defaults__),
        id(kw),
        None if kw is None else tuple(map(id, kw.values())),
    )


def _function_of(value):
    """The Python function behind ``value`` (itself, or a NumPy dispatcher's implementation)."""
    if isinstance(value, types.FunctionType):
        return value
    if type(value).__name__ == "_ArrayFunctionDispatcher":
        impl = getattr(value, "_implementation", None)
        if isinstance(impl, types.FunctionType):
            return impl
    if isinstance(value, (staticmethod, classmethod)):
        return _function_of(value.__func__)
    return None


def _is_tracked(value):
    return callable(value) or isinstance(
        value, (types.ModuleType, int, float, complex, str, bytes, tuple)
    )


def _module_entries(mod, own_classes):
    """(namespace, key, label, value, function, function state) for each tracked attribute."""
    entries = []
    ns = vars(mod)
    for key, value in list(ns.items()):
        if key in ("__builtins__", "__loader__", "__spec__", "__cached__", "__warningregistry__"):
            continue
        if (
            mod.__name__.startswith("mathdl")
            and isinstance(value, (int, float, complex, str, bytes))
            and not key.isupper()
        ):
            continue  # mathdl may keep plain counters/flags; its constants are UPPER_CASE
        if not _is_tracked(value):
            continue
        fn = _function_of(value)
        entries.append(
            (
                ns,
                key,
                f"{mod.__name__}.{key}",
                value,
                fn,
                None if fn is None else _function_state(fn),
            )
        )
        if own_classes and isinstance(value, type) and value.__module__ == mod.__name__:
            cls_ns = vars(value)  # a mappingproxy: live view of the class dict
            for meth_name, meth in list(cls_ns.items()):
                if isinstance(meth, (types.FunctionType, staticmethod, classmethod, property)):
                    mfn = _function_of(meth)
                    entries.append(
                        (
                            cls_ns,
                            meth_name,
                            f"{mod.__name__}.{key}.{meth_name}",
                            meth,
                            mfn,
                            None if mfn is None else _function_state(mfn),
                        )
                    )
    return entries


def _builtins_state():
    names = [n for n in dir(builtins) if not n.startswith("_") and n not in _BUILTINS_SKIP]
    names += list(_BUILTINS_EXTRA)
    return {n: getattr(builtins, n) for n in names if hasattr(builtins, n)}


def _take_snapshot():
    snap = {"modules": {}, "entries": [], "builtins": _builtins_state(), "sys_modules": sys.modules}
    for name in _guarded_module_names():
        mod = sys.modules[name]
        if not isinstance(mod, types.ModuleType):
            continue
        snap["modules"][name] = mod
        if name != "builtins":
            snap["entries"] += _module_entries(mod, own_classes=name.startswith("mathdl"))
    return snap


def arm():
    """Take the snapshot of everything the tests rely on (the grader does this at kernel start)."""
    global _SNAPSHOT
    import mathdl  # noqa: F401  (the snapshot covers mathdl and its loaded submodules)

    _SNAPSHOT = _take_snapshot()
    return True


def is_armed():
    return _SNAPSHOT is not None


def _describe(value):
    name = getattr(value, "__qualname__", None) or getattr(value, "__name__", None)
    return f"{type(value).__name__} {name}" if name else type(value).__name__


def _compare(snap):
    """Return a list of human-readable differences between now and the snapshot."""
    problems = []
    if sys.modules is not snap["sys_modules"]:
        problems.append("sys.modules was replaced")
    for name, expected in snap["builtins"].items():
        current = getattr(builtins, name, None)
        if current is not expected:
            problems.append(f"builtins.{name} was replaced by {_describe(current)}")
    for mod_name, mod in snap["modules"].items():
        if sys.modules.get(mod_name) is not mod:
            problems.append(f"sys.modules[{mod_name!r}] was replaced")
    for ns, key, label, value, fn, fn_state in snap["entries"]:
        current = ns.get(key, _MISSING)
        if current is not value:
            if current is _MISSING:
                problems.append(f"{label} was deleted")
            else:
                problems.append(f"{label} was replaced by {_describe(current)}")
        elif fn is not None and _function_state(fn) != fn_state:
            problems.append(f"{label} was modified (its code or default arguments)")
    return problems


_MISSING = object()


def _caller_frame():
    return sys._getframe(2)


def _names_used(code, depth=0):
    """Global names a code object (and the functions/comprehensions inside it) refers to."""
    names = set(code.co_names)
    if depth < 20:
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                names |= _names_used(const, depth + 1)
    return names


def check():
    """Raise if the testing tools were tampered with; see the module docstring."""
    global _SNAPSHOT
    if _SNAPSHOT is None:
        if os.environ.get(GRADING_ENV):
            raise TamperingDetected("the grading guard was disarmed (its snapshot is gone)")
        arm()
    problems = _compare(_SNAPSHOT)
    frame = _caller_frame()
    ns = frame.f_globals
    for alias, mod_name in MODULE_ALIASES.items():
        if alias in ns:
            real = _SNAPSHOT["modules"].get(mod_name, sys.modules.get(mod_name))
            if real is not None and ns[alias] is not real:
                problems.append(
                    f"the name {alias!r} is bound to {_describe(ns[alias])}, "
                    f"not the {mod_name} module"
                )
    for value in list(ns.values()):
        if (
            isinstance(value, types.ModuleType)
            and value.__name__ in _SNAPSHOT["modules"]
            and value is not _SNAPSHOT["modules"][value.__name__]
        ):
            problems.append(f"a fake module named {value.__name__!r} is in the notebook")
    if problems:
        shown = "; ".join(problems[:5]) + (
            f"; and {len(problems) - 5} more" if len(problems) > 5 else ""
        )
        raise TamperingDetected(
            "the testing tools were modified, so this notebook cannot be graded automatically: "
            + shown
        )
    # only the built-ins this test cell actually uses: an innocent `sum = 0.5` elsewhere is fine
    used = _names_used(frame.f_code)
    shadowed = sorted(
        n
        for n in used
        if n in ns
        and hasattr(builtins, n)
        and not n.startswith("_")
        and n not in _BUILTINS_SKIP
        and ns[n] is not getattr(builtins, n)
    )
    if shadowed:
        raise ShadowedBuiltinError(
            "your notebook rebinds the built-in name(s) "
            + ", ".join(repr(n) for n in shadowed)
            + " (e.g. `max = ...` or `from numpy import *`), which this test needs: rename that "
            "variable, or `del` it, and run the notebook again"
        )


# Keep references to the standard modules the snapshot covers (imported above for that reason).
_KEEP = (functools, math, operator, numpy)
