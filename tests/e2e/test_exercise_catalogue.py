"""Every part of every assignment has a catalogue of known mistakes (issue 19), and each
catalogued mistake is real: it plants (its text is in the solution), and it fails a visible
check of its part, so the student's own Jupyter can name it. Each mutant runs once in the
sandbox (cached in nbgrader_work/references)."""

from pathlib import Path

import pytest

from mathdl_grading.apps import load_config
from mathdl_grading.mistakes import answers_for, catalogue, mistake_records
from mathdl_grading.reference import references
from mathdl_grading.sandbox import bwrap_problem
from mathdl_grading.scoring import assess, cell_agreement, hidden_assess
from mathdl_harness.course import ASSIGNMENTS

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.skipif(bool(bwrap_problem()), reason=f"no sandbox: {bwrap_problem()}"),
]


@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_every_part_has_catalogued_mistakes_that_a_visible_check_names(a):
    source = ROOT / "solutions" / a / f"{a}.ipynb"
    assert catalogue(source), f"{a}: no solutions/{a}/mistakes.toml"
    config, cache = load_config(ROOT), ROOT / "nbgrader_work" / "references"
    refs = references(source, config, cache)["cells"]
    found = mistake_records(source, config, cache)
    named = set()
    for mid, item in found.items():
        mine = {gid: item["cells"].get(gid, {}) for gid in refs}
        visible = {g for g, r in refs.items() if assess(mine[g].get("visible", []), r["visible"])}
        hidden = {
            g for g, r in refs.items() if assess(mine[g].get("hidden", []), r["hidden"], True)
        }
        # a derived constant is checked by value only in the hidden part: named in the feedback
        assert visible | hidden, (
            f"{a}: the mistake {mid} fails no check (not told from the solution)"
        )
        named |= visible
    assert named == set(refs), (
        f"{a}: parts without a catalogued mistake: {sorted(set(refs) - named)}"
    )


@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_a_student_who_makes_one_catalogued_slip_is_named_by_that_slip_alone(a):
    source = ROOT / "solutions" / a / f"{a}.ipynb"
    config, cache = load_config(ROOT), ROOT / "nbgrader_work" / "references"
    refs = references(source, config, cache)["cells"]
    found = mistake_records(source, config, cache)
    for mid, item in found.items():  # the mutant's answers are that student's answers
        knowns, agree, named = {}, {}, set()
        for gid, ref in refs.items():

            def known(part, gid=gid):
                return lambda name, i: answers_for(found, gid, part, name, i)

            got = item["cells"].get(gid, {})
            parts = [(got.get(p, []), ref[p], p) for p in ("visible", "hidden")]
            knowns[gid] = (known, parts)
            for m, n in cell_agreement(parts, known).items():
                agree[m] = agree.get(m, 0) + n
        for gid, ref in refs.items():
            known, parts = knowns[gid]
            named |= {
                f["mistake"]
                for f in assess(parts[0][0], ref["visible"], False, known("visible"), agree)
            }
            hidden = {"records": parts[1][0], "error": None}
            named |= {
                f["mistake"] for f in hidden_assess(hidden, ref["hidden"], known("hidden"), agree)
            }
        assert named - {None} == {mid}, f"{a}: a student with the slip {mid} is named {named}"
