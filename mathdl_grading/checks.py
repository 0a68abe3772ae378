"""``check()``: what every test cell of the graded exercises calls (docs/instructors.md, "Writing tests").

    from mathdl_grading.checks import check  # graded outside your kernel: leave this line first
    check("grad_f at (1, 0)", grad_f(np.array([1.0, 0.0])), [0.0, 1.0])

``check(name, answer, expected=None, rtol=..., atol=...)`` first turns ``answer`` into plain
data (:func:`plain`: numbers, strings, nested lists, float arrays), then:

* in a student's own Jupyter (no ``MATHDL_GRADING`` in the environment) it compares the answer
  with ``expected`` right there and raises ``AssertionError`` naming the check;
* when grading (``MATHDL_GRADING`` is ``reference`` for the instructor's solution, ``student``
  for a submission; set by the grading kernel) it publishes the plain answer as a display
  output of type :data:`MIME`. The grader's own process compares each student's answers with
  the solution's answers to the same calls (:func:`compare`), with the solution's tolerances
  (where the solution gives an expected value, that value: a population mean, labels).
  When a submission is graded, the grader has removed ``expected`` from the cell before the
  kernel saw it, so no reference value is ever computed in a student's kernel.

The comparison is the same function in both places (:func:`compare`, shapes compared exactly;
a scalar expected value broadcasts only where the check says ``broadcast=True``, and the grader
then takes that setting from the solution's record, never from the submission's), so a visible
check says in the student's Jupyter exactly what the grader will decide.

Helpers for test cells: :func:`raised` turns "this call must raise ValueError" into data that
the grader compares (test cells hold no ``assert``/``raise``); :func:`shared` hands a value that
the solution computes (in a REFERENCE block) to a submission's hidden tests as data, so neither
its code nor anything it was derived from reaches the submission's kernel.

Only the standard library and NumPy, so it works in any kernel that can import mathdl.
"""

import base64
import builtins
import json
import math
import os
import sys
import zlib
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["MIME", "check", "compare", "plain", "raised", "receive_shared", "shared"]

MIME = "application/vnd.mathdl.check+json"
MODE_ENV = "MATHDL_GRADING"
MAX_ITEMS = 1_000_000
#: Where records go when grading: IPython's display channel, unless a harness that runs test
#: cells in its own process (benchmarks/mutation_exercises.py) sets a function here.
sink: Callable[[dict[str, Any]], None] | None = None


def _number(x: Any) -> float | str:
    x = float(x)
    return x if math.isfinite(x) else repr(x)  # JSON has no nan/inf: "nan", "inf", "-inf"


def plain(value: Any, _depth: int = 0) -> list[Any]:
    """``value`` as tagged JSON data; anything array-like becomes ``["array", shape, floats]``."""
    if _depth > 20:
        raise ValueError("the answer is nested more than 20 levels deep")
    if value is None or isinstance(value, bool | np.bool_):
        return ["bool", bool(value)] if value is not None else ["none"]
    if isinstance(value, int | np.integer):
        return ["int", int(value)]
    if isinstance(value, float | np.floating):
        return ["float", _number(value)]
    if isinstance(value, str):
        return ["str", str(value)]
    if isinstance(value, dict):
        return ["dict", {str(k): plain(v, _depth + 1) for k, v in value.items()}]
    if isinstance(value, tuple | list):
        numbers = all(isinstance(v, int | float | np.number) for v in value)
        if not numbers or not any(isinstance(v, float | np.floating) for v in value):
            return ["seq", [plain(v, _depth + 1) for v in value]]  # e.g. a shape: exact ints
    arr = np.asarray(value, dtype=np.float64)  # a plain float array, whatever the object was
    if arr.size > MAX_ITEMS:
        raise ValueError(f"the answer has {arr.size} entries (at most {MAX_ITEMS})")
    return ["array", [int(n) for n in arr.shape], [_number(x) for x in arr.ravel().tolist()]]


def _as_array(data: list[Any]) -> Any:
    if data[0] == "array":
        return np.array([float(x) for x in data[2]], dtype=np.float64).reshape(data[1])
    if data[0] in ("int", "float"):
        return np.array(float(data[1]))
    if data[0] == "seq":  # nested lists of numbers, e.g. [[1, 2, 3], [1, 2, 3]]
        parts = [_as_array(d) for d in data[1]]
        if any(p is None for p in parts) or len({p.shape for p in parts}) > 1:
            return None
        return np.array(parts, dtype=np.float64)
    return None


def _shown(data: list[Any], limit: int = 100) -> str:
    """A short text of a plain answer, for the messages of the student's own (visible) checks."""
    if data[0] == "dict":
        return "a dict with keys " + repr(sorted(data[1]))
    if data[0] in ("none", "bool", "str"):
        return repr(data[1]) if data[0] != "none" else "None"
    arr = _as_array(data)
    if arr is None:
        return "a sequence of " + str(len(data[1])) + " items"
    if arr.size > 12:
        return f"an array of shape {arr.shape}"
    text = " ".join(np.array2string(arr, precision=6).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def compare(
    got: list[Any],
    want: list[Any],
    rtol: float,
    atol: float,
    broadcast: bool = False,
    min_accuracy: float | None = None,
    chain: bool = False,
) -> str | None:
    """``None`` when the plain answers agree, else a short reason.

    ``broadcast``: a scalar ``want`` may stand for every entry of the answer (as in
    ``np.allclose(x, 0.0)``); arrays are always compared shape for shape.
    ``min_accuracy``: ``want`` holds labels and the answer predicted labels; it passes when at
    least that fraction agree (the accuracy is computed here, never taken from the answer).
    ``chain``: the answer is a dict of intermediate results in the order of computation (a
    forward or backward pass); the reason names the first one that differs.
    """
    if min_accuracy is not None:
        return _accuracy(got, want, float(min_accuracy))
    if chain and want[0] == "dict" and got[0] == "dict":
        step = first_wrong_step(got, want, rtol, atol, broadcast)
        if step is None:
            return None
        why = compare(got[1].get(step, ["none"]), want[1][step], rtol, atol, broadcast)
        return f"first wrong step {step}: {why or 'missing'} (the steps after it inherit its error)"
    kind = want[0]
    if kind in ("none", "bool", "str") or (kind == "int" and got[0] == "int"):
        return None if got == want else "wrong value"
    if kind in ("seq", "dict") and got[0] == kind:
        return _compare_items(got, want, rtol, atol, broadcast)
    g, w = _as_array(got), _as_array(want)
    if w is None or g is None:
        return "wrong type of answer"
    if broadcast and w.ndim == 0:
        w = np.broadcast_to(w, g.shape)
    if g.shape != w.shape:
        return f"wrong shape {g.shape}, expected {w.shape}"
    if not np.allclose(g, w, rtol=rtol, atol=atol, equal_nan=True):
        err = np.abs(g - w)
        largest = np.nanmax(err) if np.any(np.isfinite(err)) else float("nan")
        return f"wrong values (largest difference {largest:.3g})"
    return None


def first_wrong_step(
    got: list[Any], want: list[Any], rtol: float, atol: float, broadcast: bool = False
) -> str | None:
    """The first key of ``want`` (in its order) whose value in ``got`` differs, or ``None``."""
    for key in want[1]:
        if key not in got[1] or compare(got[1][key], want[1][key], rtol, atol, broadcast):
            return key
    return None


def _compare_items(
    got: list[Any], want: list[Any], rtol: float, atol: float, broadcast: bool
) -> str | None:
    kind = want[0]
    if kind == "dict" and sorted(got[1]) != sorted(want[1]):
        return f"wrong keys: {sorted(got[1])}, expected {sorted(want[1])}"
    if kind == "seq" and len(got[1]) != len(want[1]):
        return f"wrong length {len(got[1])}, expected {len(want[1])}"
    keys = range(len(want[1])) if kind == "seq" else want[1]  # a dict in the solution's order
    for key in keys:
        why = compare(got[1][key], want[1][key], rtol, atol, broadcast)
        if why:
            return why if kind == "seq" else f"[{key!r}] {why}"
    return None


def _accuracy(got: list[Any], want: list[Any], bar: float) -> str | None:
    g, w = _as_array(got), _as_array(want)
    if g is None or w is None:
        return "wrong type of answer (expected one predicted label per example)"
    if g.shape != w.shape:
        return f"wrong shape {g.shape}, expected {w.shape} (one predicted label per example)"
    acc = float(np.mean(g == w)) if w.size else 0.0
    return None if acc >= bar else f"accuracy {acc:.3f}, below {bar:.2f}"


def check(
    name: str,
    answer: Any,
    expected: Any = None,
    *,
    rtol: float = 1e-7,
    atol: float = 1e-12,
    hint: str | None = None,
    broadcast: bool = False,
    min_accuracy: float | None = None,
    mistakes: str | None = None,
    chain: bool = False,
    graph: Any = None,
) -> None:
    """Check (locally) or record (when grading) one answer; see the module docstring.

    ``mistakes``: the catalogued wrong answers of this call, as data (:func:`pack`, written by
    ``make exercises``): a failed answer that matches one is named with its next step.
    ``chain``: a dict of intermediate results in the order of computation; a failure names the
    first wrong one. ``graph`` (``{node: [its inputs]}``): the computational graph the grader
    draws in the feedback with that node marked.
    """
    data = plain(answer)  # before anything else runs: the answer is fixed now
    mode = os.environ.get(MODE_ENV, "")
    opts: dict[str, Any] = dict(rtol=float(rtol), atol=float(atol), broadcast=bool(broadcast))
    if min_accuracy is not None:
        opts["min_accuracy"] = float(min_accuracy)
    if chain:
        opts["chain"] = True
    if mode != "student" and expected is not None:
        want = plain(expected)
        why = compare(data, want, **opts)
        if why:
            # Only visible tests reach a student with `expected` (the grader strips it from
            # hidden ones), so showing it gives nothing away.
            known = _matching_mistake(data, want, opts, mistakes)
            if known:
                raise AssertionError(f"{name}: this looks like {known[0]}. Next step: {known[1]}")
            shown = (
                "" if min_accuracy is not None else f"; expected {_shown(want)}, got {_shown(data)}"
            )
            tip = f". Hint: {hint}" if hint else ""
            raise AssertionError(f"{name}: {why}{shown}{tip}")
        if mode == "reference":
            data = want  # what the solution expects is the reference (a population value, labels)
    if mode:
        record = {"name": str(name), "answer": data, **opts}
        if hint:
            record["hint"] = str(hint)
        if mode == "reference":
            record["line"] = _caller_line()
            if graph:
                record["graph"] = {str(k): [str(v) for v in vs] for k, vs in dict(graph).items()}
        _publish(record, f"check: {name}")


def pack(mistakes: list[tuple[str, str, Any]]) -> str:
    """``[(label, next step, plain answer)]`` as a short opaque string for a visible check."""
    text = json.dumps([list(m) for m in mistakes], separators=(",", ":"))
    return base64.b64encode(zlib.compress(text.encode(), 9)).decode()


def _matching_mistake(
    data: list[Any], want: list[Any], opts: dict[str, Any], packed: str | None
) -> tuple[str, str] | None:
    if not packed:
        return None

    for label, step, wrong in json.loads(zlib.decompress(base64.b64decode(packed))):
        if compare(data, wrong, **opts) is None and compare(wrong, want, **opts):
            return label, step
    return None


def _publish(record: dict[str, Any], text: str) -> None:
    if sink is not None:
        sink(record)
        return
    # lazy: the grader imports this module for compare() and never publishes
    from IPython.display import publish_display_data

    publish_display_data({MIME: record, "text/plain": text})


def _caller_line() -> int:
    """The line of the test cell that called check() (the reference run's records name it)."""
    frame = sys._getframe(2)
    return int(frame.f_lineno) if frame is not None else 0


def raised(fn: Callable[..., object], *args: object, **kwargs: object) -> str:
    """The built-in exception class ``fn(*args, **kwargs)`` raises, as a name, or ``"no error"``.

    A test cell writes ``check("dense rejects W (2, 2)", raised(dense, X, W, b), "ValueError")``
    instead of a try/except with ``raise``: the grader compares the name like any answer. A
    subclass reports its first built-in base (a custom ``ShapeError(ValueError)`` is a
    ``ValueError``).
    """
    try:
        fn(*args, **kwargs)
    except Exception as exc:
        for cls in type(exc).__mro__:
            if getattr(builtins, cls.__name__, None) is cls:
                return cls.__name__
        return "Exception"
    return "no error"


_SHARED: dict[str, Any] = {}


def shared(name: str, value: Any = None) -> Any:
    """A value the solution hands to the hidden tests as data (see the module docstring).

    In a solution's hidden test: ``_X = shared("held-out points", _X)`` after a REFERENCE
    block computed ``_X``. The reference run publishes the value; the grader removes the second
    argument (and the REFERENCE block) before a submission's kernel sees the cell, and gives the
    kernel the published value instead.
    """
    mode = os.environ.get(MODE_ENV, "")
    if value is not None:  # the instructor's own code: the solution, or a catalogued mistake
        if mode == "reference":
            _publish({"shared": str(name), "value": plain(value)}, f"shared: {name}")
        return value
    if name not in _SHARED:
        raise KeyError(f"shared({name!r}): the grader gave this kernel no such value")
    return from_plain(_SHARED[name])


def receive_shared(values: dict[str, Any]) -> None:
    """The grader's first call in a hidden-test kernel: ``{name: plain data}`` for :func:`shared`."""
    _SHARED.clear()
    _SHARED.update(values)


def from_plain(data: list[Any]) -> Any:
    """The Python value of plain data (arrays become float arrays)."""
    kind = data[0]
    if kind == "array" or (kind == "seq" and _as_array(data) is not None):
        return _as_array(data)
    if kind in ("int", "float", "str", "bool"):
        return data[1] if not (kind == "float" and isinstance(data[1], str)) else float(data[1])
    if kind == "none":
        return None
    if kind == "seq":
        return [from_plain(d) for d in data[1]]
    return {k: from_plain(v) for k, v in data[1].items()}
