#!/usr/bin/env python3
"""Mutation test of the graded exercises: do the *visible* tests catch typical mistakes?

For every assignment in solutions/, each solution region (between ``### BEGIN SOLUTION`` and
``### END SOLUTION``) is mutated with typical single-point mistakes, one at a time:

* an operator swapped (``+``/``-``, ``*``/``/``, ``**``/``*``, ``@``/``*``, ``-=``/``+=``,
  ``>``/``<``, ...), a sign dropped, a term dropped (``a + b`` -> ``a``);
* a wrong axis (``axis=0``/``1``/``-1`` changed or dropped), a dropped ``keepdims=True``;
* ``sum`` for ``mean`` (and back), ``max``/``min``, ``maximum``/``minimum``;
* a changed constant (``c`` -> ``2c``, ``0`` -> ``1``), a dropped transpose (``.T``);
* a dropped ``.copy()``, ``x = x - y`` turned into ``x -= y`` (modifies the caller's array).

Each mutant notebook is run twice in a forked child (no Jupyter kernel; the ungraded
playgrounds skip themselves because NBGRADER_EXECUTION is set): once with the full test cells
(visible + hidden tests) and once with the visible tests only, as a student sees them. A mutant
is *killed* when a full test cell fails. Of the killed mutants the script reports the fraction
already *caught by a visible test*, and the fraction caught with a *message* (the first visible
failure carries text: an assertion message or the error raised in the student's code; a bare
``AssertionError`` does not count). Mutants that no test kills (often equivalent ones) are listed
with ``-v`` but not counted.

The planted mistakes of issue 10 (PLANTED below) are applied as written and must each fail a
visible test with a message.

Usage::

    .venv/bin/python benchmarks/mutation_exercises.py            # every assignment
    .venv/bin/python benchmarks/mutation_exercises.py 05 08 -v   # some, listing the misses
"""

import argparse
import ast
import copy
import io
import json
import os
import re
import signal
import sys
import time
import traceback
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
HIDDEN = re.compile(
    r"^[ \t]*### BEGIN HIDDEN TESTS[ \t]*$.*?^[ \t]*### END HIDDEN TESTS[ \t]*$\n?", re.M | re.S
)
TIMEOUT_S = 30

BINOP_SWAP = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Div,
    ast.Div: ast.Mult,
    ast.Pow: ast.Mult,
    ast.MatMult: ast.Mult,
}
CMP_SWAP = {
    ast.Gt: ast.Lt,
    ast.Lt: ast.Gt,
    ast.GtE: ast.LtE,
    ast.LtE: ast.GtE,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
}


def swapped(table, op, rebuild, label=""):
    """The mutant that puts ``op``'s partner in ``table`` in its place (none when it has none):
    ``(description, build)`` with ``build()`` returning ``rebuild(partner())``."""
    partner = table.get(type(op))
    if partner is None:
        return []
    return [(f"{label}{type(op).__name__} -> {partner.__name__}", lambda: rebuild(partner()))]


NAME_SWAP = {
    "sum": "mean",
    "mean": "sum",
    "max": "min",
    "min": "max",
    "maximum": "minimum",
    "minimum": "maximum",
    "argmax": "argmin",
}

# Planted mistakes (issue 10): (assignment, solution cell grade_id, text, replacement, what it is).
PLANTED = [
    (
        "03_probability",
        "moments_sol",
        "np.sum(probs * values)",
        "np.mean(values)",
        "unweighted mean",
    ),
    (
        "03_probability",
        "moments_sol",
        "np.sum(probs * (values - mean) ** 2)",
        "np.var(values)",
        "unweighted variance",
    ),
    (
        "03_probability",
        "softmax_sol",
        "z.max(axis=axis, keepdims=True)",
        "z.max(axis=axis)",
        "softmax max without keepdims",
    ),
    (
        "03_probability",
        "softmax_sol",
        "e.sum(axis=axis, keepdims=True)",
        "e.sum(axis=axis)",
        "softmax sum without keepdims",
    ),
    (
        "03_probability",
        "softmax_sol",
        "np.exp(z - z.max(axis=axis, keepdims=True))",
        "np.exp(z)",
        "softmax without the max-shift",
    ),
    (
        "03_probability",
        "ce_sol",
        "np.mean(logsumexp",
        "np.sum(logsumexp",
        "cross-entropy summed, not averaged",
    ),
    (
        "03_probability",
        "ce_sol",
        "return float(np.mean(logsumexp - z[np.arange(len(z)), y]))",
        "p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)\n    return float(-np.mean(np.log(p[np.arange(len(z)), y])))",
        "log(softmax) without log-sum-exp",
    ),
    (
        "05_chain_rule",
        "graph_sol",
        "dL_dx = -4 * -3 + 1",
        "dL_dx = -4 * -3",
        "dL/dx without the direct path",
    ),
    (
        "05_chain_rule",
        "comp_sol",
        "return 2 * s * np.cos(x) / (1 + s * s)",
        "return 2 * s / (1 + s * s)",
        "F' without its inner derivative",
    ),
    (
        "05_chain_rule",
        "engine_sol",
        "            self.grad += other.data * out.grad",
        "            self.grad = other.data * out.grad",
        "= instead of += in mul's backward (a value used twice)",
    ),
    (
        "05_chain_rule",
        "ops_sol",
        "    for node in reversed(order):",
        "    for node in order:",
        "backward in topological order instead of its reverse",
    ),
    (
        "05_chain_rule",
        "net_sol",
        "    loss = loss * (1.0 / len(xs))",
        "    loss = loss * 1.0",
        "the loss summed, not averaged",
    ),
    (
        "08_optimizers",
        "momentum_sol",
        'buf = g.copy()\n                else:\n                    buf = group["momentum"] * buf + g',
        'buf = g\n                else:\n                    buf *= group["momentum"]\n                    buf += g',
        "momentum buffer updated in place on the caller's gradient",
    ),
    (
        "08_optimizers",
        "rmsprop_sol",
        '(np.sqrt(v) + group["eps"])',
        'np.sqrt(v + group["eps"])',
        "RMSprop's eps inside the square root",
    ),
    (
        "08_optimizers",
        "stable_sol",
        "((1.0 + 2.0 * mu) * np.linalg.eigvalsh(H).max())",
        "((1.0 + 2.0 * mu) * np.linalg.eigvalsh(H).min())",
        "Nesterov's lr_max from lambda_min instead of lambda_max",
    ),
    (
        "07_losses",
        "focal_grad_sol",
        "coef = gamma * (1.0 - pt) ** (gamma - 1.0) * pt * log_pt - (1.0 - pt) ** gamma",
        "coef = -(1.0 - pt) ** gamma",
        "focal gradient with the modulating factor treated as a constant",
    ),
    (
        "07_losses",
        "focal_grad_sol",
        "return coef[:, None] * (onehot - softmax(Z)) / len(rows)",
        "return coef[:, None] * onehot * (1.0 - softmax(Z)) / len(rows)",
        "focal gradient for the true class only",
    ),
    (
        "09_initialization",
        "two_slope_sol",
        "keep = (pos_slope ** 2 + neg_slope ** 2) / 2.0",
        "keep = 1.0 / 2.0",
        "two-slope std with ReLU's factor (He) whatever the slopes",
    ),
    (
        "09_initialization",
        "two_slope_sol",
        "return float(np.sqrt(1.0 / (fan_in * keep)))",
        "return float(np.sqrt(1.0 / (fan_in * (keep - (pos_slope - neg_slope) ** 2 / (2.0 * np.pi)))))",
        "two-slope std from the variance instead of the second moment",
    ),
    (
        "09_initialization",
        "two_slope_sol",
        "return float(second_moment - mean ** 2)",
        "return float(second_moment)",
        "Var phi(z) without the squared mean",
    ),
    (
        "04_gradients",
        "gd_sol",
        "    x = np.array(x0, dtype=np.float64)\n    path = [x.copy()]\n    for _ in range(int(steps)):\n        x = x - lr",
        "    x = x0\n    path = [x.copy()]\n    for _ in range(int(steps)):\n        x -= lr",
        "x -= ... on the caller's x0",
    ),
]


def load(a):
    return nbformat.read(str(ROOT / "solutions" / a / f"{a}.ipynb"), as_version=4)


def load_graded(a):
    """``(the solution notebook with its test cells baked as a student sees them, its records)``."""
    nb = load(a)
    baked, refs = graded_sources(a)
    for c in nb.cells:
        if is_test(c) and meta(c).get("grade_id") in baked:
            c.source = baked[meta(c)["grade_id"]]
    return nb, refs


def meta(c):
    return c.metadata.get("nbgrader", {})


def is_test(c):
    m = meta(c)
    return c.cell_type == "code" and m.get("grade") and not m.get("solution")


def regions(src, begin="### BEGIN SOLUTION", end="### END SOLUTION"):
    """1-based line ranges strictly inside each begin/end marker pair."""
    out, start = [], None
    for i, line in enumerate(src.splitlines(), 1):
        if line.strip() == begin:
            start = i
        elif line.strip() == end and start is not None:
            out.append((start + 1, i - 1))
            start = None
    return out


class Mutator(ast.NodeTransformer):
    """Collects mutation sites (target=None) or applies the target-th one."""

    def __init__(self, lines, target=None):
        self.lines = lines
        self.target = target
        self.sites = []  # (description, line)
        self.applied = None

    def _in_region(self, node):
        ln = getattr(node, "lineno", None)
        return ln is not None and any(a <= ln <= b for a, b in self.lines)

    def _offer(self, node, variants):
        """variants: list of (description, builder) where builder() returns the new node."""
        if not self._in_region(node):
            return node
        for desc, build in variants:
            k = len(self.sites)
            self.sites.append((desc, node.lineno))
            if self.target == k:
                self.applied = desc
                new = build()
                return ast.copy_location(new, node) if isinstance(new, ast.AST) else new
        return node

    def generic_visit(self, node):
        node = super().generic_visit(node)
        variants = []
        if isinstance(node, ast.BinOp):
            variants += swapped(
                BINOP_SWAP, node.op, lambda op: ast.BinOp(node.left, op, node.right)
            )
            if isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.Div)):
                variants.append(("drop right operand", lambda n=node: n.left))
                variants.append(("drop left operand", lambda n=node: n.right))
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            variants.append(("drop unary minus", lambda n=node: n.operand))
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, (int, float))
            and not isinstance(node.value, bool)
        ):
            v = node.value
            new = (v * 2) if v else 1
            variants.append((f"constant {v!r} -> {new!r}", lambda nv=new: ast.Constant(nv)))
        elif isinstance(node, ast.Attribute) and node.attr == "T":
            variants.append(("drop transpose .T", lambda n=node: n.value))
        elif isinstance(node, ast.Compare) and len(node.ops) == 1:
            variants += swapped(
                CMP_SWAP, node.ops[0], lambda op: ast.Compare(node.left, [op], node.comparators)
            )
        elif isinstance(node, ast.AugAssign):
            variants += swapped(
                BINOP_SWAP,
                node.op,
                lambda op: ast.AugAssign(node.target, op, node.value),
                label="augmented ",
            )
        elif (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and isinstance(node.value, ast.BinOp)
            and isinstance(node.value.left, ast.Name)
            and node.value.left.id == node.targets[0].id
        ):
            variants.append(
                (
                    "x = x op y -> x op= y (in place)",
                    lambda n=node: ast.AugAssign(
                        ast.Name(n.targets[0].id, ast.Store()), n.value.op, n.value.right
                    ),
                )
            )
        elif isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else None
            if name in NAME_SWAP:
                variants.append(
                    (
                        f"{name} -> {NAME_SWAP[name]}",
                        lambda n=node, nm=NAME_SWAP[name]: ast.Call(
                            ast.Attribute(n.func.value, nm, ast.Load()), n.args, n.keywords
                        ),
                    )
                )
            if name == "copy" and not node.args and isinstance(f, ast.Attribute):
                variants.append(("drop .copy()", lambda n=node: n.func.value))
            for i, kw in enumerate(node.keywords):
                if kw.arg == "keepdims":
                    variants.append(("drop keepdims", lambda n=node, i=i: _drop_kw(n, i)))
                if kw.arg == "axis":
                    variants.append(("drop axis", lambda n=node, i=i: _drop_kw(n, i)))
                    if isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, int):
                        other = 1 if kw.value.value in (0, -2) else 0
                        variants.append(
                            (
                                f"axis {kw.value.value} -> {other}",
                                lambda n=node, i=i, o=other: _set_kw(n, i, ast.Constant(o)),
                            )
                        )
        if variants:
            return self._offer(node, variants)
        return node


def _drop_kw(call, i):
    return ast.Call(call.func, call.args, [k for j, k in enumerate(call.keywords) if j != i])


def _set_kw(call, i, value):
    kws = list(call.keywords)
    kws[i] = ast.keyword(kws[i].arg, value)
    return ast.Call(call.func, call.args, kws)


def mutants(nb):
    """Yield (cell index, description, line, mutated source) for every solution region."""
    for idx, c in enumerate(nb.cells):
        if c.cell_type != "code" or not meta(c).get("solution"):
            continue
        lines = regions(c.source)
        if not lines:
            continue
        tree = ast.parse(c.source)
        probe = Mutator(lines)
        probe.visit(copy.deepcopy(tree))
        for k, (desc, line) in enumerate(probe.sites):
            m = Mutator(lines, target=k)
            new = ast.fix_missing_locations(m.visit(copy.deepcopy(tree)))
            try:
                src = ast.unparse(new)
                compile(src, "<mutant>", "exec")
            except (SyntaxError, ValueError):
                continue
            yield idx, desc, line, src


def graded_sources(a):
    """``(test cell sources as the student's notebook has them, the solution's records)``.

    The visible checks' expected values are the baked literals (mathdl_grading.bake), and the
    full run is judged like the grader judges: each check's answer against the solution's
    answer to the same call. ``({}, None)`` for a notebook that does not bake yet.
    """
    from mathdl_grading.apps import load_config
    from mathdl_grading.bake import BakeError, bake_notebook
    from mathdl_grading.reference import references

    try:
        baked = bake_notebook(ROOT, a)
    except BakeError:
        return {}, None
    src = ROOT / "solutions" / a / f"{a}.ipynb"
    refs = references(src, load_config(ROOT), ROOT / "nbgrader_work" / "references")
    return baked, refs


def _graded_cell(src, ref, ns):
    """Run a test cell's visible and hidden parts as the grader's passes; return the problems."""
    from mathdl_grading import checks
    from mathdl_grading.cells import split_test
    from mathdl_grading.scoring import verdict

    visible, hidden = split_test(src)
    problems = []
    for part, code in (("visible", visible), ("hidden", hidden)):
        got = []
        checks.sink = got.append
        os.environ["MATHDL_GRADING"] = "student"
        try:
            exec(compile(code, "<test>", "exec"), ns)
        finally:
            checks.sink = None
            os.environ.pop("MATHDL_GRADING", None)
        problems += verdict(got, ref.get(part, []), hidden=part == "hidden")
    return problems


def run_cells(nb, sources, visible_only, refs=None):
    """Execute the notebook's code cells in order; return [(grade_id, is_test, exc type, msg)]."""
    os.environ["NBGRADER_EXECUTION"] = "autograde"
    os.environ.pop("MATHDL_GRADING", None)
    if refs is not None:
        from mathdl_grading import checks

        checks.receive_shared(refs.get("shared", {}))
    ns = {"__name__": "__main__"}
    failures = []
    for c, src in zip(nb.cells, sources):
        if c.cell_type != "code":
            continue
        test = bool(is_test(c))
        gid = meta(c).get("grade_id")
        try:
            if test and visible_only:
                exec(compile(HIDDEN.sub("", src), f"<{gid}>", "exec"), ns)
            elif test and refs is not None:
                problems = _graded_cell(src, refs["cells"].get(gid, {}), ns)
                if problems:
                    failures.append((gid, test, "CheckFailed", "; ".join(problems)))
            else:
                exec(compile(src, f"<{gid}>", "exec"), ns)
        except BaseException as e:
            msg = str(e).strip()
            failures.append((gid, test, type(e).__name__, msg))
    return failures


def _child(nb, sources, conn_w, refs=None):
    out = {}
    sys.stdout = sys.stderr = io.StringIO()
    import warnings

    warnings.simplefilter("ignore")
    for mode in ("full", "visible"):
        signal.alarm(TIMEOUT_S)
        try:
            out[mode] = run_cells(nb, sources, visible_only=(mode == "visible"), refs=refs)
        except BaseException as e:
            out[mode] = [("<timeout>", True, type(e).__name__, "timed out")]
        signal.alarm(0)
    os.write(conn_w, json.dumps(out).encode())
    os.close(conn_w)
    os._exit(0)


class Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise Timeout()


def run_forked(nb, sources, refs=None):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        signal.signal(signal.SIGALRM, _alarm)
        try:
            _child(nb, sources, w, refs)
        except BaseException:
            traceback.print_exc(file=sys.__stderr__)
            os._exit(1)
    os.close(w)
    data = b""
    while chunk := os.read(r, 1 << 16):
        data += chunk
    os.close(r)
    os.waitpid(pid, 0)
    return json.loads(data) if data else {"full": [("<crash>", True, "", "")], "visible": []}


def classify(result, mutated_gid):
    full_fail = [f for f in result["full"] if f[1] or f[0] == mutated_gid]
    killed = bool([f for f in result["full"] if f[1]])
    vis = [f for f in result["visible"] if f[1] or f[0] == mutated_gid]
    caught = bool(vis)
    message = caught and bool(vis[0][3]) and vis[0][2] != "Timeout"
    return killed or bool(full_fail), caught, message, vis[0] if vis else None


def evaluate(a, verbose=False):
    nb, refs = load_graded(a)
    base = [c.source for c in nb.cells]
    baseline = run_forked(nb, base, refs)
    if baseline["full"]:
        raise SystemExit(f"{a}: the solution itself fails: {baseline['full']}")
    stats = dict(mutants=0, killed=0, visible=0, message=0, misses=[])
    for idx, desc, line, src in mutants(nb):
        stats["mutants"] += 1
        sources = list(base)
        sources[idx] = src
        gid = meta(nb.cells[idx]).get("grade_id")
        killed, caught, message, first = classify(run_forked(nb, sources, refs), gid)
        if not killed:
            continue
        stats["killed"] += 1
        stats["visible"] += caught
        stats["message"] += message
        if not message:
            stats["misses"].append(
                f"{gid}:{line} {desc}: "
                + ("not caught visibly" if not caught else f"no message ({first[2]})")
            )
    return stats


def planted(verbose=False):
    rows = []
    for a, gid, old, new, what in PLANTED:
        nb, refs = load_graded(a)
        sources = [c.source for c in nb.cells]
        idx = next(i for i, c in enumerate(nb.cells) if meta(c).get("grade_id") == gid)
        if old not in sources[idx]:
            rows.append((a, what, "PLANT FAILED (text not found)", ""))
            continue
        sources[idx] = sources[idx].replace(old, new, 1)
        _killed, caught, message, first = classify(run_forked(nb, sources, refs), gid)
        verdict = (
            "visible + message"
            if message
            else "visible, NO message"
            if caught
            else "NOT caught visibly"
        )
        rows.append((a, what, verdict, (first[3].splitlines() or [""])[0][:110] if first else ""))
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("only", nargs="*", help="assignment name prefixes (default: all)")
    ap.add_argument(
        "-v", "--verbose", action="store_true", help="list mutants missed or without message"
    )
    ap.add_argument("--no-planted", action="store_true")
    args = ap.parse_args(argv)
    names = sorted(
        p.name for p in (ROOT / "solutions").iterdir() if (p / f"{p.name}.ipynb").is_file()
    )
    if args.only:
        names = [n for n in names if any(n.startswith(o) for o in args.only)]
    print(
        "| assignment | mutants | killed (hidden+visible) | caught visibly | with a message | s |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    worst_ok = True
    for a in names:
        t0 = time.perf_counter()
        s = evaluate(a, args.verbose)
        k = max(s["killed"], 1)
        vis, msg = s["visible"] / k, s["message"] / k
        worst_ok &= vis >= 0.8 and msg >= 0.7
        print(
            f"| {a} | {s['mutants']} | {s['killed']} | {s['visible']} ({vis:.0%}) "
            f"| {s['message']} ({msg:.0%}) | {time.perf_counter() - t0:.0f} |",
            flush=True,
        )
        if args.verbose:
            for line in s["misses"]:
                print(f"    {line}")
    if not args.no_planted:
        print("\nPlanted mistakes (issue 10):\n")
        print("| assignment | mistake | result | first message the student sees |")
        print("|---|---|---|---|")
        for a, what, verdict, msg in planted():
            if names and a not in names:
                continue
            worst_ok &= verdict == "visible + message"
            print(f"| {a} | {what} | {verdict} | {msg.replace('|', '/')} |")
    print(
        "\ntargets (>= 80% visible, >= 70% with message, every planted mistake visible with message):",
        "met" if worst_ok else "NOT met",
    )
    return 0 if worst_ok else 1


if __name__ == "__main__":
    sys.exit(main())
