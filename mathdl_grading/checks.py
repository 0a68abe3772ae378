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
import os
import sys
import zlib
from collections.abc import Callable
from typing import Any

from .answers import as_array, compare, plain, shown
from .sealed import verify

__all__ = ["MIME", "check", "compare", "plain", "raised", "receive_shared", "shared"]

MIME = "application/vnd.mathdl.check+json"
MODE_ENV = "MATHDL_GRADING"
#: Where records go when grading: IPython's display channel, unless a harness that runs test
#: cells in its own process (benchmarks/mutation_exercises.py) sets a function here.
sink: Callable[[dict[str, Any]], None] | None = None


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
    reveal: bool = True,
    sealed: str | None = None,
) -> None:
    """Check (locally) or record (when grading) one answer; see the module docstring.

    ``mistakes``: the catalogued wrong answers of this call, as data (:func:`pack`, written by
    ``make exercises``): a failed answer that matches one is named with its next step.
    ``chain``: a dict of intermediate results in the order of computation; a failure names the
    first wrong one. ``graph`` (``{node: [its inputs]}``): the computational graph the grader
    draws in the feedback with that node marked.
    ``reveal=False`` (in solutions/): the expected value is a constant the student derives;
    ``make exercises`` writes a seal of it (``sealed=``, :mod:`.sealed`) instead of its literal,
    and the grader's feedback on it names the kind of mistake, never a difference.
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
        _check_expected(name, data, want, opts, mistakes, hint)
        if mode == "reference":
            data = want  # what the solution expects is the reference (a population value, labels)
    elif not mode and sealed is not None:
        _check_sealed(name, data, sealed, hint)
    if mode:
        record = {"name": str(name), "answer": data, **opts}
        if hint:
            record["hint"] = str(hint)
        if not reveal:
            record["reveal"] = False
        if mode == "reference":
            record["line"] = _caller_line()
            if graph:
                record["graph"] = {str(k): [str(v) for v in vs] for k, vs in dict(graph).items()}
        _publish(record, f"check: {name}")


def _check_expected(
    name: str,
    data: list[Any],
    want: list[Any],
    opts: dict[str, Any],
    mistakes: str | None,
    hint: str | None,
) -> None:
    """Raise AssertionError naming the check when ``data`` differs from ``want``."""
    why = compare(data, want, **opts)
    if not why:
        return
    # Only visible tests reach a student with `expected` (the grader strips it from hidden
    # ones), so showing it gives nothing away.
    known = _matching_mistake(data, want, opts, mistakes)
    if known:
        raise AssertionError(f"{name}: this looks like {known[0]}. Next step: {known[1]}")
    labels = "min_accuracy" in opts
    values = "" if labels else f"; expected {shown(want)}, got {shown(data)}"
    tip = f". Hint: {hint}" if hint else ""
    raise AssertionError(f"{name}: {why}{values}{tip}")


def _check_sealed(name: str, data: list[Any], token: str, hint: str | None) -> None:
    """The student's own Jupyter: compare with a sealed expected value (:mod:`.sealed`)."""
    failed = verify(data, token)
    if failed is None:
        return
    why, known = failed
    if known:
        raise AssertionError(f"{name}: this looks like {known[0]}. Next step: {known[1]}")
    tip = f". Hint: {hint}" if hint else ""
    raise AssertionError(
        f"{name}: {why}, got {shown(data)} (this check does not show the expected value){tip}"
    )


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
    if kind == "array" or (kind == "seq" and as_array(data) is not None):
        return as_array(data)
    if kind in ("int", "float", "str", "bool"):
        return data[1] if not (kind == "float" and isinstance(data[1], str)) else float(data[1])
    if kind == "none":
        return None
    if kind == "seq":
        return [from_plain(d) for d in data[1]]
    return {k: from_plain(v) for k, v in data[1].items()}
