"""mathdl_grading.cells: hidden blocks and references taken out of a test cell."""

from mathdl_grading.cells import split_test, strip_references


def test_split_test_separates_the_hidden_blocks():
    src = "a = 1\n### BEGIN HIDDEN TESTS\nb = 2\n### END HIDDEN TESTS\nc = 3\n"
    visible, hidden = split_test(src)
    assert visible == "a = 1\nc = 3\n" and hidden == "b = 2\n"
    assert split_test("x = 1\n") == ("x = 1\n", "")


def test_strip_references_removes_expected_and_shared_values():
    src = (
        "### BEGIN REFERENCE\n_y = secret()\n### END REFERENCE\n"
        '_X = shared("points", _X)\n'
        'check("n", f(_X), expected=_y, rtol=1e-3)\n'
        'check("m", g(_X), _y)\n'
    )
    out = strip_references(src)
    assert "secret" not in out and "_y" not in out
    assert '_X = shared("points")' in out and 'check("n", f(_X), rtol=1e-3)' in out
    assert 'check("m", g(_X))' in out
    wrapped = strip_references('check("w", f(x), (x * (y + 1)), rtol=1e-3)\n')
    assert wrapped == 'check("w", f(x), rtol=1e-3)\n'
