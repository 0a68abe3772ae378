"""Scoring in the grader's own process: :class:`ScoreChecks` (before nbgrader's SaveAutoGrades).

A test cell passes when every ``check()`` answer the submission published matches the
solution's answer to the same call (:mod:`.reference`), with the solution's tolerances and
options (never the submission's), and the cell raised no error. Visible answers come from the
graded notebook's outputs (pass A of :mod:`.execute`); hidden answers only from pass B, kept in
``resources`` by the grader, so nothing a submission prints can pose as one. A failure of a
hidden check names the check and the kind of mistake, never a number computed from the hidden
inputs or the reference; neither does a visible check whose value is sealed (``reveal=False``,
:mod:`.sealed`). A failed answer that matches a catalogued mistake (:mod:`.mistakes`)
is reported by that mistake's label and next step.
"""

import re
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from nbformat import v4
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor

from .answers import compare, first_wrong_step
from .cells import error, is_test
from .chain import picture
from .checks import MIME
from .integrity import flags
from .mistakes import answers_for, for_notebook

#: The catalogued mistakes' answers to a call: ``known(name, index)`` ->
#: ``[(mistake id, label, next step, answer)]`` (:func:`.mistakes.answers_for`).
Known = Callable[[str, int], list[tuple[str, str, str, Any]]]
#: What a test cell prints after its checks; dropped from a cell the grader failed.
PASSED = "visible tests passed\n"
#: Errors of a hidden part that mean it never finished rather than that the code raised.
STOPPED = ("NotRunByGrader", "CellTimeoutError", "DeadKernelError")


def _options(ref: dict[str, Any]) -> dict[str, Any]:
    opts = {"rtol": float(ref.get("rtol", 1e-7)), "atol": float(ref.get("atol", 1e-12))}
    opts["broadcast"] = bool(ref.get("broadcast", False))
    if ref.get("min_accuracy") is not None:
        opts["min_accuracy"] = float(ref["min_accuracy"])
    if ref.get("chain"):
        opts["chain"] = True
    return opts


def coarse(why: str) -> str:
    """The kind of a failure without its numbers: "wrong shape (3, 1), expected ..." -> "wrong shape"."""
    if why.startswith("first wrong step "):
        return why.split(":")[0]
    kind = re.split(r"[\d(\[,;:]", why, maxsplit=1)[0].strip()
    return kind or "wrong answer"


def _compare(answer: Any, want: Any, opts: dict[str, Any]) -> str | None:
    try:
        return compare(answer, want, **opts)
    except Exception:
        return "the answer could not be read"


def _chain_picture(name: str, answer: Any, ref: dict[str, Any]) -> NotebookNode | None:
    """The graph of a failed chain check with its first wrong step marked, or ``None``."""
    if not (ref.get("chain") and ref.get("graph") and ref["answer"][0] == "dict"):
        return None

    opts = _options(ref)
    try:
        step = first_wrong_step(answer, ref["answer"], opts["rtol"], opts["atol"])
    except Exception:
        return None
    order = list(ref["answer"][1])
    return picture(order, ref["graph"], step, name) if step is not None and step in order else None


def _no_mistakes(_name: str, _index: int) -> list[tuple[str, str, str, Any]]:
    return []


def _known_mistake(
    answer: Any,
    ref: dict[str, Any],
    candidates: list[tuple[str, str, str, Any]],
    agreement: dict[str, int] | None = None,
) -> tuple[str, str, str] | None:
    """The catalogued mistake whose answer this one matches (and the right one does not); when
    several do, the one that agrees with the most of the cell's answers (``agreement``)."""
    opts = _options(ref)
    found = [
        (mid, label, step)
        for mid, label, step, wrong in candidates
        if _compare(answer, wrong, opts) is None and _compare(wrong, ref["answer"], opts)
    ]
    return max(found, key=lambda m: (agreement or {}).get(m[0], 0), default=None)


def _agreement(
    mine: dict[str, list[Any]], theirs: dict[str, list[dict[str, Any]]], known: Known
) -> dict[str, int]:
    """``{mistake id: how many of the cell's answers equal that mistake's answers}``."""
    counts: defaultdict[str, int] = defaultdict(int)
    for name, refs in theirs.items():
        for index, (answer, ref) in enumerate(zip(mine.get(name, []), refs, strict=False)):
            for mid, _label, _step, wrong in known(name, index):
                counts[mid] += _compare(answer, wrong, _options(ref)) is None
    return counts


def _problem(
    name: str, why: str, ref: dict[str, Any] | None, found: tuple[str, str, str] | None = None
) -> dict[str, Any]:
    if found:
        mid, label, step = found
        where = f" ({coarse(why)})" if why.startswith("first wrong step") else ""
        message = f"{name}: this looks like {label}{where}. Next step: {step}"
        return {"check": name, "kind": coarse(why), "mistake": mid, "message": message}
    tip = f". Hint: {ref['hint']}" if ref and ref.get("hint") else ""
    return {"check": name, "kind": coarse(why), "mistake": None, "message": f"{name}: {why}{tip}"}


def _by_name(
    got: list[Any], want: list[dict[str, Any]]
) -> tuple[dict[str, list[Any]], dict[str, list[dict[str, Any]]]]:
    mine, theirs = defaultdict(list), defaultdict(list)
    for rec in got:
        if isinstance(rec, dict) and isinstance(rec.get("name"), str):
            mine[rec["name"]].append(rec.get("answer"))
    for rec in want:
        theirs[rec["name"]].append(rec)
    return mine, theirs


def cell_agreement(
    parts: list[tuple[list[Any], list[dict[str, Any]], str]], known: Callable[[str], Known]
) -> dict[str, int]:
    """:func:`_agreement` summed over a cell's parts: ``[(got, want, part name), ...]``."""
    total: defaultdict[str, int] = defaultdict(int)
    for got, want, part in parts:
        for mid, n in _agreement(*_by_name(got, want), known(part)).items():
            total[mid] += n
    return total


def assess(
    got: list[Any],
    want: list[dict[str, Any]],
    hidden: bool = False,
    known: Known | None = None,
    agreement: dict[str, int] | None = None,
) -> list[dict[str, Any]]:
    """Each failed check of a cell as ``{"check", "kind", "mistake", "message"}``.

    ``known(name, index)`` gives the catalogued mistakes' answers to that call
    (:func:`.mistakes.answers_for`); a failed answer that matches one is reported by its label.
    """
    mine, theirs = _by_name(got, want)
    out = [_problem(n, "not a check of this test", None) for n in mine if n not in theirs]
    if agreement is None:
        agreement = _agreement(mine, theirs, known) if known else {}
    for name, refs in theirs.items():
        answers = mine.get(name, [])
        if len(answers) != len(refs):
            out.append(_problem(name, f"ran {len(answers)} time(s), expected {len(refs)}", None))
            continue
        for index, (answer, ref) in enumerate(zip(answers, refs, strict=True)):
            why = _compare(answer, ref["answer"], _options(ref))
            if why:
                candidates = (known or _no_mistakes)(name, index)
                found = _known_mistake(answer, ref, candidates, agreement)
                sealed = hidden or ref.get("reveal") is False  # no difference to the value
                out.append(_problem(name, coarse(why) if sealed else why, ref, found))
                out[-1]["picture"] = _chain_picture(name, answer, ref)
                break
    return out


def verdict(
    got: list[Any], want: list[dict[str, Any]], hidden: bool = False, known: Known | None = None
) -> list[str]:
    """Problems (strings) of a cell's published answers ``got`` against the solution's ``want``."""
    return [p["message"] for p in assess(got, want, hidden, known)]


def hidden_assess(
    found: dict[str, Any] | None,
    want: list[dict[str, Any]],
    known: Known | None = None,
    agreement: dict[str, int] | None = None,
) -> list[dict[str, Any]]:
    """The failures of a cell's hidden part: its pass-B records, or the error it raised."""
    if found is None:
        stop = "did not run (the kernel stopped earlier)"
        return [_problem("hidden tests", stop, None)] if want else []
    if found.get("error") in STOPPED:
        why = "did not finish (the time limit, or the kernel stopped)"
        return [_problem("hidden tests", why, None)]
    if found.get("error"):
        return [_problem("hidden tests", f"your code raised {found['error']}", None)]
    out = assess(found.get("records", []), want, hidden=True, known=known, agreement=agreement)
    for p in out:
        p["message"] = "hidden test " + p["message"]
    return out


def hidden_verdict(
    found: dict[str, Any] | None, want: list[dict[str, Any]], known: Known | None = None
) -> list[str]:
    return [p["message"] for p in hidden_assess(found, want, known)]


def _flags(nb: NotebookNode) -> list[dict[str, Any]]:
    """Where the student's own cells reach into how tests run (:mod:`.integrity`)."""
    own = []
    for number, cell in enumerate(nb.cells):
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and (meta.get("solution") or not meta):
            own.append((number, cell.source))
    return [{"cell": c, "line": ln, "what": w, "why": y} for c, ln, w, y in flags(own)]


class ScoreChecks(NbGraderPreprocessor):
    """Score each test cell from its published answers, in the grader's process.

    Each test cell's failures (check, kind, catalogued mistake) are kept in its metadata under
    ``mathdl`` for the class report (:mod:`.report`).
    """

    def preprocess(
        self, nb: NotebookNode, resources: dict[str, Any]
    ) -> tuple[NotebookNode, dict[str, Any]]:
        refs, mistakes = for_notebook(self.config, resources)
        hidden = resources.get("mathdl", {}).get("hidden", {})
        nb.metadata["mathdl"] = {"flags": _flags(nb)}
        tests = [c for c in nb.cells if is_test(c)]
        # a slip is named by the whole notebook's answers
        knowns: dict[str, Callable[[str], Known]] = {}
        agree: defaultdict[str, int] = defaultdict(int)
        for cell in tests:
            gid = cell.metadata.nbgrader["grade_id"]

            def known(part: str, gid: str = gid) -> Known:
                return lambda name, i: answers_for(mistakes, gid, part, name, i)

            knowns[gid], ref = known, refs.get(gid, {})
            got = [o["data"][MIME] for o in cell.get("outputs", []) if MIME in o.get("data", {})]
            found = (hidden.get(gid) or {}).get("records", [])
            parts = [
                (got, ref.get("visible", []), "visible"),
                (found, ref.get("hidden", []), "hidden"),
            ]
            for mid, n in cell_agreement(parts, known).items():
                agree[mid] += n
        for cell in tests:
            gid = cell.metadata.nbgrader["grade_id"]
            self.score(cell, refs.get(gid, {}), hidden.get(gid), knowns[gid], agree)
        return nb, resources

    def score(
        self,
        cell: NotebookNode,
        refs: dict[str, Any],
        hidden_found: dict[str, Any] | None,
        known: Callable[[str], Known],
        agree: dict[str, int] | None = None,
    ) -> None:
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
        if agree is None:
            parts = [(got, refs.get("visible", []), "visible")]
            parts += [((hidden_found or {}).get("records", []), refs.get("hidden", []), "hidden")]
            agree = cell_agreement(parts, known)
        problems = (
            assess(got, refs.get("visible", []), False, known("visible"), agree) if refs else []
        )
        if refs.get("hidden") or hidden_found is not None:
            problems += hidden_assess(hidden_found, refs.get("hidden", []), known("hidden"), agree)
        errors = [o.ename for o in outputs if o.get("output_type") == "error"]
        if errors and not problems:
            problems.append(_problem("the test cell", f"raised {errors[0]}", None))
        pictures = [pic for p in problems if (pic := p.pop("picture", None))]
        cell.metadata["mathdl"] = {
            "failures": [p | {"message": p["message"][:300]} for p in problems]
        }

        if problems:  # the cell's own "visible tests passed" would contradict the grader
            outputs = [o for o in outputs if o.get("text") != PASSED]
            shown = "; ".join(p["message"] for p in problems[:5])
            outputs.insert(0, error("CheckFailed", shown + ("; ..." if len(problems) > 5 else "")))
            outputs[1:1] = pictures[:2]
        cell.outputs = outputs
