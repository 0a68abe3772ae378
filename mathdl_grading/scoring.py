"""Scoring in the grader's own process: :class:`ScoreChecks` (before nbgrader's SaveAutoGrades).

A test cell passes when every ``check()`` answer the submission published matches the
solution's answer to the same call (:mod:`.reference`), with the solution's tolerances and
options (never the submission's), and the cell raised no error. Visible answers come from the
graded notebook's outputs (pass A of :mod:`.execute`); hidden answers only from pass B, kept in
``resources`` by the grader, so nothing a submission prints can pose as one. A failure of a
hidden check names the check and the kind of mistake, never a number computed from the hidden
inputs or the reference.
"""

import re
from collections import defaultdict

from nbformat import v4
from nbgrader.preprocessors import NbGraderPreprocessor

from .cells import error, is_test
from .checks import MIME, compare

#: Errors of a hidden part that mean it never finished rather than that the code raised.
STOPPED = ("NotRunByGrader", "CellTimeoutError", "DeadKernelError")


def _options(ref):
    opts = {"rtol": float(ref.get("rtol", 1e-7)), "atol": float(ref.get("atol", 1e-12))}
    opts["broadcast"] = bool(ref.get("broadcast", False))
    if ref.get("min_accuracy") is not None:
        opts["min_accuracy"] = float(ref["min_accuracy"])
    return opts


def coarse(why: str) -> str:
    """The kind of a failure without its numbers: "wrong shape (3, 1), expected ..." -> "wrong shape"."""
    kind = re.split(r"[\d(\[,;:]", why, maxsplit=1)[0].strip()
    return kind or "wrong answer"


def verdict(got, want, hidden=False):
    """Problems (strings) of a cell's published answers ``got`` against the solution's ``want``."""
    mine, theirs = defaultdict(list), defaultdict(list)
    for rec in got:
        if isinstance(rec, dict) and isinstance(rec.get("name"), str):
            mine[rec["name"]].append(rec.get("answer"))
    for rec in want:
        theirs[rec["name"]].append(rec)
    problems = [f"{n}: not a check of this test" for n in mine if n not in theirs]
    for name, refs in theirs.items():
        answers = mine.get(name, [])
        if len(answers) != len(refs):
            problems.append(f"{name}: ran {len(answers)} time(s), expected {len(refs)}")
            continue
        for answer, ref in zip(answers, refs, strict=True):
            try:
                why = compare(answer, ref["answer"], **_options(ref))
            except Exception:
                why = "the answer could not be read"
            if why:
                why = coarse(why) if hidden else why
                tip = f". Hint: {ref['hint']}" if ref.get("hint") else ""
                problems.append(f"{name}: {why}{tip}")
                break
    return problems


def hidden_verdict(found, want):
    """Problems of a cell's hidden part: its pass-B records, or the error it raised."""
    if found is None:
        return ["hidden tests: did not run (the kernel stopped earlier)"] if want else []
    if found.get("error") in STOPPED:
        return ["hidden tests: did not finish (the time limit, or the kernel stopped)"]
    if found.get("error"):
        return [f"hidden tests: your code raised {found['error']}"]
    return [f"hidden test {p}" for p in verdict(found.get("records", []), want, hidden=True)]


class ScoreChecks(NbGraderPreprocessor):
    """Score each test cell from its published answers, in the grader's process."""

    def preprocess(self, nb, resources):
        from .reference import records_for

        refs = records_for(self.config, resources)["cells"]
        hidden = resources.get("mathdl", {}).get("hidden", {})
        for cell in nb.cells:
            if is_test(cell):
                gid = cell.metadata.nbgrader["grade_id"]
                self.score(cell, refs.get(gid, {}), hidden.get(gid))
        return nb, resources

    def score(self, cell, refs, hidden_found):
        got, outputs = [], []
        for out in cell.get("outputs", []):
            if MIME in out.get("data", {}):
                got.append(out["data"][MIME])
            elif out.output_type == "stream" and out.get("name") == "stderr":
                outputs.append(v4.new_output("stream", name="stdout", text=out.text))
            elif out.output_type == "execute_result":  # nbgrader would read it as partial credit
                outputs.append(v4.new_output("display_data", data=out.data))
            else:
                outputs.append(out)
        problems = verdict(got, refs.get("visible", [])) if refs else []
        if refs.get("hidden") or hidden_found is not None:
            problems += hidden_verdict(hidden_found, refs.get("hidden", []))
        if problems:
            shown = "; ".join(problems[:5]) + ("; ..." if len(problems) > 5 else "")
            outputs.insert(0, error("CheckFailed", shown))
        cell.outputs = outputs
