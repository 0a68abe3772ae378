"""Sealed expected values: a visible check that tells right from wrong without showing the value.

A constant the student derives (a shape, a parameter count, a FLOP count, a probability) cannot be
checked visibly with a baked literal: the literal is the answer. In solutions/ such a check says
``reveal=False``::

    check("n_numbers", n_numbers, 64 * 3 * 32 * 32, hint="...", reveal=False)

and ``make exercises`` (:mod:`.bake`) writes a **seal** of the solution's answer instead of its
literal, ``sealed="seal1:..."``: the answer's form (its type and shape, values blanked), a
precision, a salt and a digest of the canonical answer. In the student's Jupyter, ``check()``
compares the form exactly as the grader does (:func:`.answers.compare` with ``values=False``, so
a wrong shape or type is named) and the values by their digest; it never learns the value. At
grading nothing changes: the grader compares with the solution's answer in its own process.

Canonical answer: the plain answer traversed along the seal's form; numbers become tokens: an
int of the solution's answer compares exactly (a float student answer must be that whole
number), a float is written with ``digits`` significant digits, and any ``|x| <= zero`` (the
check's ``atol``) as ``0``. :func:`seal` picks the most digits for which every float of the
solution's answer lies more than its tolerance (``atol + rtol * |x|``, as the grader's
``np.allclose``) from a rounding boundary, so an answer the grader accepts always has the same
digest: an honest float answer never fails locally. (The converse has a narrow band: an answer
farther than the tolerance but inside the same rounding bucket passes locally and fails at
grading.)

Guessing: the digest is PBKDF2-SHA256 (:data:`ITERATIONS` rounds, a few milliseconds) over a salt
that differs per check and per notebook, so no table built in advance applies and identical
answers have different digests in different checks; each guess costs those milliseconds. A
small integer or a short shape is still found by trying candidates (it could also be guessed
against the grader); a float with six or more significant digits is not, within reason.

Only the standard library and NumPy (it runs in the student's kernel).
"""

import base64
import hashlib
import json
import math
import zlib
from collections.abc import Sequence
from typing import Any

from .answers import as_array, compare

PREFIX = "seal1:"
ITERATIONS = 50_000
MAX_DIGITS = 15
SLACK = 1.01  # the margin to a rounding boundary, in tolerances (numpy rounds its tolerance too)


class SealError(ValueError):
    """An answer that cannot be sealed (the message says why and what to change)."""


def form(data: list[Any]) -> list[Any]:
    """The plain answer with every value blanked: its type family and shape, never a value."""
    kind = data[0]
    blank = {"none": None, "bool": False, "str": "", "int": 0, "float": 0.0}
    if kind in blank:
        return [kind] if kind == "none" else [kind, blank[kind]]
    if kind == "dict":
        return ["dict", {k: form(v) for k, v in data[1].items()}]
    if kind == "seq":
        return ["seq", [form(v) for v in data[1]]]
    return ["array", list(data[1]), [0.0] * len(data[2])]


def _families(shape_of: list[Any]) -> str:
    """``"i"`` (compared exactly) or ``"f"`` for each number of an array-like form, in order."""
    kind = shape_of[0]
    if kind in ("int", "float"):
        return kind[0]
    if kind == "array":
        return "f" * len(shape_of[2])
    return "".join(_families(v) for v in shape_of[1])


def _token(x: float, family: str, digits: int, zero: float) -> str:
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if family == "i":
        return str(int(x)) if x == int(x) else "~" + repr(x)
    if abs(x) <= zero:
        return "0"
    return f"{x:.{digits - 1}e}"


def canonical(data: list[Any], shape_of: list[Any], digits: int, zero: float) -> list[Any]:
    """The answer as JSON-able tokens along ``shape_of`` (its form must match; see compare)."""
    kind = shape_of[0]
    if kind in ("none", "bool", "str"):
        return list(data)
    if kind == "dict":
        return ["d", [[k, canonical(data[1][k], f, digits, zero)] for k, f in shape_of[1].items()]]
    if kind == "int" and data[0] == "int":
        return ["a", [], [str(int(data[1]))]]  # exact, as the grader compares two ints
    if kind == "seq" and as_array(shape_of) is None:
        return ["s", [canonical(d, f, digits, zero) for d, f in zip(data[1], shape_of[1])]]
    arr = as_array(data)
    flat = arr.ravel().tolist()
    tokens = [_token(x, f, digits, zero) for x, f in zip(flat, _families(shape_of), strict=True)]
    return ["a", list(arr.shape), tokens]


def digest(data: list[Any], shape_of: list[Any], digits: int, zero: float, salt: str) -> str:
    """The salted, stretched digest of the canonical answer (hex)."""
    text = json.dumps(
        [digits, zero, canonical(data, shape_of, digits, zero)], separators=(",", ":")
    )
    key = hashlib.pbkdf2_hmac("sha256", text.encode(), (PREFIX + salt).encode(), ITERATIONS)
    return key.hex()[:32]


def _floats(data: list[Any], shape_of: list[Any]) -> list[float]:
    """The float numbers of the answer (those rounded to ``digits``)."""
    kind = shape_of[0]
    if kind in ("none", "bool", "str") or (kind == "int" and data[0] == "int"):
        return []
    if kind == "dict":
        return [x for k, f in shape_of[1].items() for x in _floats(data[1][k], f)]
    if kind == "seq" and as_array(shape_of) is None:
        return [x for d, f in zip(data[1], shape_of[1]) for x in _floats(d, f)]
    flat = as_array(data).ravel().tolist()
    return [x for x, f in zip(flat, _families(shape_of)) if f == "f" and math.isfinite(x)]


def choose_digits(floats: list[float], rtol: float, atol: float) -> int:
    """The most significant digits for which every accepted answer rounds like the solution's."""
    for x in floats:
        if x != 0 and abs(x) <= atol:
            raise SealError(
                f"{x!r} lies within atol={atol} of 0: seal it with atol=0 or a smaller atol"
            )
    for digits in range(MAX_DIGITS, 0, -1):
        if all(_holds(x, digits, rtol, atol) for x in floats):
            return digits
    raise SealError(f"no precision fits the tolerance rtol={rtol}, atol={atol}: tighten it")


def _holds(x: float, digits: int, rtol: float, atol: float) -> bool:
    if x == 0:
        return True  # accepted: |y| <= atol, exactly the answers that round to "0"
    tol = SLACK * (atol + rtol * abs(x))
    here = _token(x, "f", digits, atol)
    return _token(x - tol, "f", digits, atol) == here == _token(x + tol, "f", digits, atol)


def salt_for(*parts: object) -> str:
    """A salt per check and notebook (deterministic, so `make exercises` is reproducible)."""
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:16]


def seal(
    data: list[Any],
    rtol: float,
    atol: float,
    salt: str,
    mistakes: Sequence[tuple[str, str, Any]] = (),
) -> str:
    """The seal of the solution's plain answer: ``"seal1:<base64>"`` for ``check(sealed=...)``.

    ``mistakes``: ``[(label, next step, plain wrong answer)]`` of the catalogue, sealed alike, so
    the student's Jupyter names a known slip without learning its answer either.
    """
    shape_of = form(data)
    digits = choose_digits(_floats(data, shape_of), float(rtol), float(atol))
    zero = float(atol)
    known: list[list[Any]] = []
    for label, step, wrong in mistakes:
        wrong_form = form(wrong)
        known.append([label, step, wrong_form, digest(wrong, wrong_form, digits, zero, salt)])
    body = {
        "form": shape_of,
        "digits": digits,
        "zero": zero,
        "salt": salt,
        "digest": digest(data, shape_of, digits, zero, salt),
        "mistakes": known,
    }
    packed = zlib.compress(json.dumps(body, separators=(",", ":")).encode(), 9)
    return PREFIX + base64.b64encode(packed).decode()


def unseal(token: object) -> dict[str, Any]:
    """The seal's fields (form, digits, zero, salt, digest, mistakes); ValueError if not a seal."""
    if not (isinstance(token, str) and token.startswith(PREFIX)):
        raise ValueError("sealed= takes the seal `make exercises` wrote; leave it as it is")
    return json.loads(zlib.decompress(base64.b64decode(token[len(PREFIX) :])))


def verify(data: list[Any], token: str) -> tuple[str, tuple[str, str] | None] | None:
    """``None`` when the plain answer matches the seal, else ``(reason, known mistake or None)``.

    The reason names a wrong type, shape, length or keys (the form is no secret), else says
    "wrong value"; a known mistake is ``(label, next step)``.
    """
    body = unseal(token)
    digits, zero, salt = body["digits"], body["zero"], body["salt"]
    why = compare(data, body["form"], 0.0, 0.0, values=False)
    if why is None and digest(data, body["form"], digits, zero, salt) == body["digest"]:
        return None
    for label, step, wrong_form, wrong_digest in body["mistakes"]:
        if compare(data, wrong_form, 0.0, 0.0, values=False) is None:
            if digest(data, wrong_form, digits, zero, salt) == wrong_digest:
                return why or "wrong value", (label, step)
    return why or "wrong value", None
