"""Plain answers and how two of them compare: the one comparison of the student's Jupyter and the grader.

:func:`plain` turns an answer into tagged JSON data (what a check records); :func:`compare` says
whether two plain answers agree (shapes exactly, values within a tolerance) and if not, why. Both
:mod:`.checks` (in the student's kernel) and the grader (:mod:`.scoring`, :mod:`.bake`,
:mod:`.sealed`) use these, so a visible check and the grade give one verdict.
"""

import math
from typing import Any

import numpy as np

MAX_ITEMS = 1_000_000


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


def as_array(data: list[Any]) -> Any:
    if data[0] == "array":
        return np.array([float(x) for x in data[2]], dtype=np.float64).reshape(data[1])
    if data[0] in ("int", "float"):
        return np.array(float(data[1]))
    if data[0] == "seq":  # nested lists of numbers, e.g. [[1, 2, 3], [1, 2, 3]]
        parts = [as_array(d) for d in data[1]]
        if any(p is None for p in parts) or len({p.shape for p in parts}) > 1:
            return None
        return np.array(parts, dtype=np.float64)
    return None


def shown(data: list[Any], limit: int = 100) -> str:
    """A short text of a plain answer, for the messages of the student's own (visible) checks."""
    if data[0] == "dict":
        return "a dict with keys " + repr(sorted(data[1]))
    if data[0] in ("none", "bool", "str"):
        return repr(data[1]) if data[0] != "none" else "None"
    if data[0] == "seq" and data[1] and all(d[0] == "int" for d in data[1]):  # a shape
        return repr(tuple(d[1] for d in data[1]))
    arr = as_array(data)
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
    values: bool = True,
) -> str | None:
    """``None`` when the plain answers agree, else a short reason.

    ``broadcast``: a scalar ``want`` may stand for every entry of the answer (as in
    ``np.allclose(x, 0.0)``); arrays are always compared shape for shape.
    ``min_accuracy``: ``want`` holds labels and the answer predicted labels; it passes when at
    least that fraction agree (the accuracy is computed here, never taken from the answer).
    ``chain``: the answer is a dict of intermediate results in the order of computation (a
    forward or backward pass); the reason names the first one that differs.
    ``values=False``: compare the form only (type, shape, length, keys), not the values; a
    sealed check (:mod:`.sealed`) decides the values by their digest.
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
        if not values:
            return None if got[0] == kind else f"wrong type of answer (expected {_kind_name(kind)})"
        return None if got == want else "wrong value"
    if kind in ("seq", "dict") and got[0] == kind:
        return _compare_items(got, want, rtol, atol, broadcast, values)
    g, w = as_array(got), as_array(want)
    if w is None or g is None:
        return "wrong type of answer"
    if broadcast and w.ndim == 0:
        w = np.broadcast_to(w, g.shape)
    if g.shape != w.shape:
        return f"wrong shape {g.shape}, expected {w.shape}"
    if not values:
        return None
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


def _kind_name(kind: str) -> str:
    return {"none": "None", "bool": "True or False", "str": "a str", "int": "an int"}[kind]


def _compare_items(
    got: list[Any], want: list[Any], rtol: float, atol: float, broadcast: bool, values: bool = True
) -> str | None:
    kind = want[0]
    if kind == "dict" and sorted(got[1]) != sorted(want[1]):
        return f"wrong keys: {sorted(got[1])}, expected {sorted(want[1])}"
    if kind == "seq" and len(got[1]) != len(want[1]):
        return f"wrong length {len(got[1])}, expected {len(want[1])}"
    keys = range(len(want[1])) if kind == "seq" else want[1]  # a dict in the solution's order
    for key in keys:
        why = compare(got[1][key], want[1][key], rtol, atol, broadcast, values=values)
        if why:
            return why if kind == "seq" else f"[{key!r}] {why}"
    return None


def _accuracy(got: list[Any], want: list[Any], bar: float) -> str | None:
    g, w = as_array(got), as_array(want)
    if g is None or w is None:
        return "wrong type of answer (expected one predicted label per example)"
    if g.shape != w.shape:
        return f"wrong shape {g.shape}, expected {w.shape} (one predicted label per example)"
    acc = float(np.mean(g == w)) if w.size else 0.0
    return None if acc >= bar else f"accuracy {acc:.3f}, below {bar:.2f}"
