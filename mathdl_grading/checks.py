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
  the solution's answers to the same calls (:func:`compare`), with the solution's tolerances.
  When a submission is graded, the grader has removed ``expected`` from the cell before the
  kernel saw it, so no reference value is ever computed in a student's kernel.

Only the standard library and NumPy, so it works in any kernel that can import mathdl.
"""

import math
import os

__all__ = ["MIME", "check", "compare", "plain"]

MIME = "application/vnd.mathdl.check+json"
MODE_ENV = "MATHDL_GRADING"
MAX_ITEMS = 1_000_000


def _number(x):
    x = float(x)
    return x if math.isfinite(x) else repr(x)  # JSON has no nan/inf: "nan", "inf", "-inf"


def plain(value, _depth=0):
    """``value`` as tagged JSON data; anything array-like becomes ``["array", shape, floats]``."""
    import numpy as np

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


def _as_array(data):
    import numpy as np

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


def _broadcasts_to(shape, target):
    import numpy as np

    try:
        return np.broadcast_shapes(shape, target) == target
    except ValueError:  # shapes that cannot broadcast: reported as a wrong shape
        return False


def _shown(data, limit=100):
    """A short text of a plain answer, for the messages of the student's own (visible) checks."""
    import numpy as np

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


def compare(got, want, rtol, atol, broadcast=False):
    """``None`` when the plain answers agree, else a short reason (never the expected values).

    ``broadcast``: ``want`` may broadcast to the answer's shape, as in ``np.allclose(x, 0.0)``
    (for ``expected`` values; the grader compares with the solution's answers shape for shape).
    """
    import numpy as np

    kind = want[0]
    if kind in ("none", "bool", "str") or (kind == "int" and got[0] == "int"):
        return None if got == want else "wrong value"
    if kind in ("seq", "dict") and got[0] == kind:
        if kind == "dict" and sorted(got[1]) != sorted(want[1]):
            return f"wrong keys: {sorted(got[1])}"
        pairs = (
            zip(got[1], want[1])
            if kind == "seq"
            else ((got[1][k], want[1][k]) for k in sorted(want[1]))
        )
        if kind == "seq" and len(got[1]) != len(want[1]):
            return f"wrong length {len(got[1])}"
        for g, w in pairs:
            why = compare(g, w, rtol, atol, broadcast)
            if why:
                return why
        return None
    g, w = _as_array(got), _as_array(want)
    if w is None or g is None:
        return "wrong type of answer"
    if broadcast and w.ndim <= g.ndim and _broadcasts_to(w.shape, g.shape):
        w = np.broadcast_to(w, g.shape)
    if g.shape != w.shape:
        return f"wrong shape {g.shape}"
    if not np.allclose(g, w, rtol=rtol, atol=atol, equal_nan=True):
        err = np.abs(g - w)
        return f"wrong values (largest difference {np.nanmax(err):.3g})"
    return None


def check(name, answer, expected=None, *, rtol=1e-7, atol=1e-12):
    """Check (locally) or record (when grading) one answer; see the module docstring."""
    data = plain(answer)  # before anything else runs: the answer is fixed now
    mode = os.environ.get(MODE_ENV, "")
    if mode != "student" and expected is not None:
        want = plain(expected)
        why = compare(data, want, rtol, atol, broadcast=True)
        if why:
            # Only visible tests reach a student with `expected` (the grader strips it from
            # hidden ones), so showing it gives nothing away.
            raise AssertionError(f"{name}: {why}; expected {_shown(want)}, got {_shown(data)}")
    if mode:
        from IPython.display import publish_display_data

        record = {"name": str(name), "answer": data, "rtol": float(rtol), "atol": float(atol)}
        publish_display_data({MIME: record, "text/plain": f"check: {name}"})
