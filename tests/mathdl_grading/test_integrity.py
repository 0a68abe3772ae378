"""mathdl_grading.integrity: hooks into the grader are flagged, honest code is left alone."""


def test_integrity_flags_point_at_hooks_and_leave_honest_code_alone():
    from mathdl_grading.integrity import flags

    hostile = [
        (1, "ip = get_ipython()\nip.input_transformers_cleanup.append(f)"),
        (2, "import mathdl_grading.checks as c\nc.check = lambda *a, **k: None"),
        (3, "import sys\ng = sys._getframe(1).f_globals"),
        (4, "__builtins__['abs'] = None"),
        (5, "from builtins import print as p"),
    ]
    found = {c for c, *_ in flags(hostile)}
    assert found == {1, 2, 3, 4, 5}
    honest = [
        (
            1,
            "%matplotlib inline\nimport numpy as np\nimport os, sys, time\nprint(sys.version, os.getcwd())",
        ),
        (2, "from multiprocessing import Pool\nwith Pool(2) as p:\n    print(p.map(abs, [-1, 2]))"),
    ]
    assert flags(honest) == []
