"""Sealed checks (issue 18): a visible check of a derived constant that says right or wrong, and
a wrong type or shape, in the student's Jupyter without the value reaching the notebook; the
grader's verdict is the same, and its message names no difference either."""

import base64
import json
import re
import zlib

import numpy as np
import pytest

from mathdl_grading import checks, sealed
from mathdl_grading.bake import BakeError, bake_cell
from mathdl_grading.scoring import assess

CELL = """from mathdl_grading.checks import check  # graded outside your kernel: leave this line first
check("n_numbers", n_numbers, 64 * 3 * 32 * 32, hint="every axis multiplies the count", reveal=False)
check("p_after", p_after, reveal=False, rtol=1e-10, hint="the posterior becomes the prior")
### BEGIN HIDDEN TESTS
check("n_numbers", int(n_numbers), 64 * 3 * 32 * 32)
### END HIDDEN TESTS
"""
P_AFTER = 0.01 * 0.99**2 / (0.01 * 0.99**2 + 0.99 * 0.05**2)


@pytest.fixture(autouse=True)
def _local(monkeypatch):
    monkeypatch.delenv(checks.MODE_ENV, raising=False)


def _record(name, answer, line, **opts):
    return {"name": name, "answer": checks.plain(answer), "line": line, "reveal": False} | {
        "rtol": opts.get("rtol", 1e-7),
        "atol": opts.get("atol", 1e-12),
        "broadcast": False,
    }


def _records():
    return [_record("n_numbers", 196608, 2), _record("p_after", P_AFTER, 3, rtol=1e-10)]


def _seal_of(cell, name):
    return re.search(rf'check\("{name}", \w+, sealed=\'([^\']+)\'', cell).group(1)


def _local_verdict(name, answer, token, hint=None):
    try:
        checks.check(name, answer, sealed=token, hint=hint)
    except AssertionError as exc:
        return str(exc)
    return None


def _graded_verdict(record, answer):
    problems = assess([{"name": record["name"], "answer": checks.plain(answer)}], [record])
    return problems[0]["message"] if problems else None


def test_bake_writes_a_seal_and_no_value():
    out = bake_cell(CELL, _records(), "fixture/x")
    visible = out.split("### BEGIN HIDDEN TESTS")[0]
    assert "196608" not in visible and "64 * 3 * 32 * 32" not in visible
    assert "0.15966" not in visible and "expected" not in visible
    assert visible.count("sealed='seal1:") == 2 and "reveal=False" in visible
    for token in re.findall(r"sealed='(seal1:[^']+)'", visible):  # not even inside the seal
        body = zlib.decompress(base64.b64decode(token[len("seal1:") :])).decode()
        assert "196608" not in body and "1596" not in body
        assert set(json.loads(body)) == {"form", "digits", "zero", "salt", "digest", "mistakes"}
    hidden = out.split("### BEGIN HIDDEN TESTS")[1]
    assert 'check("n_numbers", int(n_numbers), 64 * 3 * 32 * 32)' in hidden  # never baked


def test_right_answers_and_honest_float_noise_pass_locally_and_at_grading():
    out = bake_cell(CELL, _records(), "fixture/x")
    n_seal, p_seal = _seal_of(out, "n_numbers"), _seal_of(out, "p_after")
    n_rec, p_rec = _records()
    p_first = 0.99 * 0.01 / (0.99 * 0.01 + 0.05 * 0.99)  # the student's own route: Bayes twice
    p_twice = 0.99 * p_first / (0.99 * p_first + 0.05 * (1 - p_first))
    assert p_twice != P_AFTER  # a different rounding, the same answer
    for answer in (P_AFTER, p_twice, np.float64(p_twice), np.array(p_twice), P_AFTER * (1 + 3e-11)):
        assert _local_verdict("p_after", answer, p_seal) is None, answer
        assert _graded_verdict(p_rec, answer) is None, answer
    for answer in (196608, np.int64(196608), 196608.0, np.array(196608.0)):
        assert _local_verdict("n_numbers", answer, n_seal) is None, answer
        assert _graded_verdict(n_rec, answer) is None, answer


@pytest.mark.parametrize("rtol", [1e-7, 1e-9, 1e-12])
def test_every_answer_the_grader_accepts_passes_locally(rtol, monkeypatch):
    monkeypatch.setattr(sealed, "ITERATIONS", 1)  # the rounding is under test, not the hash
    rng = np.random.default_rng(0)
    for exponent in rng.integers(-8, 9, size=60):
        w = float(rng.uniform(-10, 10) * 10.0**exponent)
        rec = _record("w", w, 1, rtol=rtol)
        token = sealed.seal(rec["answer"], rtol, 1e-12, "salt")
        tol = 1e-12 + rtol * abs(w)
        for y in (w + 0.999 * tol, w - 0.999 * tol, np.nextafter(w, np.inf), np.float32(w)):
            graded = _graded_verdict(rec, y) is None
            if graded:
                assert _local_verdict("w", y, token) is None, (w, y, rtol)


def test_a_wrong_value_fails_in_both_places_without_showing_the_value():
    out = bake_cell(CELL, _records(), "fixture/x")
    n_rec, p_rec = _records()
    local = _local_verdict("n_numbers", 196609, _seal_of(out, "n_numbers"), "every axis counts")
    assert local.startswith("n_numbers: wrong value") and "every axis counts" in local
    assert "196608" not in local
    graded = _graded_verdict(n_rec, 196609)
    assert graded and "196608" not in graded
    local = _local_verdict("p_after", 0.16, _seal_of(out, "p_after"))
    graded = _graded_verdict(p_rec, 0.16)
    assert local and graded and "difference" not in graded and "1596" not in local + graded
    assert _graded_verdict(p_rec, P_AFTER * (1 + 1e-6)) is not None
    assert _local_verdict("p_after", P_AFTER * (1 + 1e-6), _seal_of(out, "p_after")) is not None


@pytest.mark.parametrize(
    ("expected", "answer", "reason"),
    [
        ((64, 3, 32, 32), (3, 32, 32), "wrong length 3, expected 4"),
        ((64, 3, 32, 32), 196608, "wrong shape (), expected (4,)"),
        (np.ones(3) / 3, np.ones((3, 1)) / 3, "wrong shape (3, 1), expected (3,)"),
        (np.ones(3) / 3, np.ones((1, 3)) / 3, "wrong shape (1, 3), expected (3,)"),
        (196608, "196608", "wrong type of answer"),
        ([True, False], [1, 0], "wrong type of answer"),
        ({"w": 0.5, "b": 2}, {"w": 0.5}, "wrong keys"),
    ],
)
def test_a_wrong_form_is_named_locally_and_fails_at_grading(expected, answer, reason):
    rec = _record("x", expected, 1)
    token = sealed.seal(rec["answer"], 1e-7, 1e-12, "salt")
    local = _local_verdict("x", answer, token)
    assert local is not None and reason in local, local
    assert _graded_verdict(rec, answer) is not None


def test_identical_answers_have_different_seals_in_different_checks():
    data = checks.plain((64, 3, 32, 32))
    a = sealed.unseal(sealed.seal(data, 1e-7, 1e-12, sealed.salt_for("01_tensors/a", "x", 0)))
    b = sealed.unseal(sealed.seal(data, 1e-7, 1e-12, sealed.salt_for("02_gpu/a", "x", 0)))
    assert a["digest"] != b["digest"] and a["salt"] != b["salt"]
    token = sealed.seal(data, 1e-7, 1e-12, "one")
    other = sealed.seal(data, 1e-7, 1e-12, "two")
    assert _local_verdict("x", (64, 3, 32, 32), token) is None
    assert _local_verdict("x", (64, 3, 32, 32), other) is None
    swapped = (
        sealed.PREFIX
        + base64.b64encode(
            zlib.compress(json.dumps(sealed.unseal(token) | {"salt": "two"}).encode())
        ).decode()
    )
    assert _local_verdict("x", (64, 3, 32, 32), swapped) is not None  # a digest needs its salt


def test_each_guess_costs_a_stretched_hash():
    assert sealed.ITERATIONS >= 50_000  # PBKDF2 rounds: a table or a fast brute force is out


def test_the_precision_steps_back_from_a_rounding_boundary():
    w = 0.123456749999  # 7 digits would put a rounding boundary within rtol of it
    digits = sealed.choose_digits([w], 1e-7, 1e-12)
    tol = 1e-12 + 1e-7 * w
    token = f"{w:.{digits - 1}e}"
    assert f"{w - tol:.{digits - 1}e}" == token == f"{w + tol:.{digits - 1}e}"
    assert digits < 7
    with pytest.raises(sealed.SealError, match="within atol"):
        sealed.choose_digits([5e-13], 1e-7, 1e-12)
    assert sealed.choose_digits([0.0, 2.0], 1e-12, 0.0) >= 10


def test_a_known_mistake_is_named_through_its_seal():
    data = checks.plain((3, 32, 32))
    slip = ("an integer index taken to keep its axis", "an integer index removes that axis")
    token = sealed.seal(data, 1e-7, 1e-12, "s", [(*slip, checks.plain((1, 3, 32, 32)))])
    local = _local_verdict("one_image_shape", (1, 3, 32, 32), token)
    assert local == f"one_image_shape: this looks like {slip[0]}. Next step: {slip[1]}"
    assert "(1, 3, 32, 32)" not in json.dumps(sealed.unseal(token))


@pytest.mark.parametrize("option", ["broadcast=True", "chain=True", "min_accuracy=0.9"])
def test_bake_refuses_a_seal_it_cannot_honour(option):
    records = _records()
    records[0][option.split("=")[0]] = True if "accuracy" not in option else 0.9
    with pytest.raises(BakeError, match="reveal=False does not combine"):
        bake_cell(CELL, records, "fixture/x")


def test_at_grading_nothing_is_compared_in_the_kernel(monkeypatch):
    got = []
    monkeypatch.setattr(checks, "sink", got.append)
    monkeypatch.setenv(checks.MODE_ENV, "student")
    token = sealed.seal(checks.plain(5), 1e-7, 1e-12, "s")
    checks.check("x", 6, sealed=token)  # no verdict in the submission's kernel: data only
    assert got == [
        {"name": "x", "answer": ["int", 6], "rtol": 1e-7, "atol": 1e-12, "broadcast": False}
    ]
    monkeypatch.setenv(checks.MODE_ENV, "reference")
    checks.check("x", 5, 5, reveal=False)
    assert got[-1]["reveal"] is False and got[-1]["answer"] == ["int", 5]
