"""How fast is mathdl's autograd engine? One SGD training step, timed three ways.

    .venv/bin/python benchmarks/bench_engine.py            # full run (what docs/performance.md quotes)
    .venv/bin/python benchmarks/bench_engine.py --quick    # smoke run, a few seconds

The step: forward pass of an MLP with ReLU, softmax cross-entropy, backward pass, SGD
update (lr = 0.1), float64, on seeded spiral data. It is written three ways:

(a) mathdl   -- mathdl.nn.MLP + mathdl.functional.cross_entropy + mathdl.optim.SGD
               (zero_grad, forward, loss, backward, step), as the course writes it;
(b) torch    -- torch.nn + torch.optim.SGD on the CPU, float64;
(c) numpy    -- the same step written out by hand in NumPy: the floor that any engine
               built on NumPy can approach.

Two sizes: the course MLP, batch 256 x (2 -> 64 -> 64 -> 3), and a larger one,
batch 4096 x (2 -> 256 -> 256 -> 3). Before timing, the script checks that the three
ways compute the same loss, the same gradients on step one, and the same weights after
a few steps, so the comparison is honest. The three ways are then timed interleaved, in
a different order each round, and the medians are reported. Finally it times
``import mathdl`` against ``import numpy`` in fresh subprocesses (mathdl's figure
includes NumPy's import, since mathdl imports NumPy).

NumPy's BLAS and torch get the same number of threads: ``--threads N`` (default 1) sets
OMP_NUM_THREADS, OPENBLAS_NUM_THREADS and MKL_NUM_THREADS and ``torch.set_num_threads(N)``.
The BLAS reads its thread count when NumPy is first imported, so the environment variables
are set at the very top of this file, before anything imports NumPy (torch imports it too).
Why 1 by default: on a small machine shared with other work (2 cores here), multi-threaded
BLAS and OpenMP timings swing by 10x from run to run, and in an interleaved run the idle
worker threads of one library (OpenBLAS spins for a while after each call) steal the cores
of the next one, which penalises whichever runs second. One thread each compares the work
of one step on equal terms; ``--threads 2`` (torch's default here) is there for a quiet machine.

Before/after a change to the engine: ``--compare DIR`` loads a second copy of the package from
``DIR`` (e.g. ``git archive <commit> mathdl | tar -x -C /tmp/before``, then
``--compare /tmp/before/mathdl``) under the name ``mathdl_before`` and times its step as a fourth
way, interleaved with the others in the same process, so both copies see the same load.
"""

import os
import sys


def _threads_from_argv(argv):
    for i, a in enumerate(argv):
        if a == "--threads" and i + 1 < len(argv):
            return int(argv[i + 1])
        if a.startswith("--threads="):
            return int(a.split("=", 1)[1])
    return 1


THREADS = _threads_from_argv(sys.argv)
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
for _var in _THREAD_VARS:
    os.environ[_var] = str(THREADS)

# Only now may NumPy (and torch, which imports NumPy) be loaded.
import argparse  # noqa: E402
import gc  # noqa: E402
import itertools  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import mathdl  # noqa: E402
from mathdl.data import spirals  # noqa: E402

torch.set_num_threads(THREADS)
LR = 0.1


# --------------------------------------------------------------------------------------
# The data and the shared starting weights
# --------------------------------------------------------------------------------------
def make_data(batch, seed=0):
    """``batch`` seeded points of the 3-class spirals, classes shuffled together."""
    n_per_class = -(-batch // 3)
    X, y = spirals(n_per_class=n_per_class, n_classes=3, noise=0.2, seed=seed)
    idx = np.random.default_rng(seed).permutation(len(X))[:batch]
    return np.ascontiguousarray(X[idx]), y[idx]


def initial_weights(sizes, seed=0):
    """He-initialised weights W (in, out) and zero biases, from mathdl's own MLP."""
    model = mathdl.nn.MLP(sizes, rng=seed)
    return [p.data.copy() for p in model.parameters()]  # W1, b1, W2, b2, ...


# --------------------------------------------------------------------------------------
# (a) mathdl
# --------------------------------------------------------------------------------------
class MathdlStep:
    name = "mathdl"
    package = mathdl

    def __init__(self, sizes, weights, X, y):
        md = self.package
        self.model = md.nn.MLP(sizes)
        for p, w in zip(self.model.parameters(), weights):
            p.data[...] = w
        self.opt = md.optim.SGD(self.model.parameters(), lr=LR)
        self.X = md.Tensor(X)  # the input needs no gradient
        self.y = y
        self.cross_entropy = md.functional.cross_entropy

    def __call__(self):
        self.opt.zero_grad()
        loss = self.cross_entropy(self.model(self.X), self.y)
        loss.backward()
        self.opt.step()
        return loss

    def loss_and_grads(self):
        loss = self()  # the gradients stay on the parameters after the step
        return float(loss.item()), [p.grad.copy() for p in self.model.parameters()]

    def weights(self):
        return [p.data.copy() for p in self.model.parameters()]


# --------------------------------------------------------------------------------------
# (b) torch, CPU, float64
# --------------------------------------------------------------------------------------
class TorchStep:
    name = "torch"

    def __init__(self, sizes, weights, X, y):
        layers = []
        for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
            layers.append(torch.nn.Linear(n_in, n_out, dtype=torch.float64))
            if i < len(sizes) - 2:
                layers.append(torch.nn.ReLU())
        self.model = torch.nn.Sequential(*layers)
        linears = [m for m in self.model if isinstance(m, torch.nn.Linear)]
        with torch.no_grad():
            for lin, W, b in zip(linears, weights[0::2], weights[1::2]):
                lin.weight.copy_(torch.from_numpy(W.T.copy()))  # torch stores (out, in)
                lin.bias.copy_(torch.from_numpy(b))
        self.linears = linears
        self.opt = torch.optim.SGD(self.model.parameters(), lr=LR)
        self.X = torch.from_numpy(X.copy())
        self.y = torch.from_numpy(y.copy())

    def __call__(self):
        self.opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(self.model(self.X), self.y)
        loss.backward()
        self.opt.step()
        return loss

    def loss_and_grads(self):
        loss = self()
        grads = []
        for lin in self.linears:
            grads += [lin.weight.grad.numpy().T.copy(), lin.bias.grad.numpy().copy()]
        return float(loss.item()), grads

    def weights(self):
        out = []
        for lin in self.linears:
            out += [lin.weight.detach().numpy().T.copy(), lin.bias.detach().numpy().copy()]
        return out


# --------------------------------------------------------------------------------------
# (c) the same step by hand in NumPy, written plainly as the course does
# --------------------------------------------------------------------------------------
def numpy_train_step(params, X, y, lr):
    """One SGD step of the ReLU MLP with softmax cross-entropy; updates ``params`` in place.

    ``params`` = [W1, b1, W2, b2, ..., WL, bL] with W of shape (in, out).
    Returns the loss and the gradients (same order as ``params``).
    """
    Ws, bs = params[0::2], params[1::2]
    n = X.shape[0]
    # forward: keep every layer's input A and pre-activation Z for the backward pass
    A, As, Zs = X, [], []
    for layer, (W, b) in enumerate(zip(Ws, bs)):
        As.append(A)
        Z = A @ W + b
        Zs.append(Z)
        A = np.maximum(Z, 0.0) if layer < len(Ws) - 1 else Z
    logits = A
    # softmax cross-entropy, stable: L = mean(logsumexp(z) - z_y)
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    sum_exp = exp.sum(axis=1, keepdims=True)
    rows = np.arange(n)
    loss = np.mean(np.log(sum_exp[:, 0]) - shifted[rows, y])
    # dL/dlogits = (softmax - onehot) / n
    G = exp / sum_exp
    G[rows, y] -= 1.0
    G /= n
    # backward through the layers: dW = A^T G, db = sum G, dA = G W^T, dZ = dA * relu'(Z)
    grads = [None] * len(params)
    for layer in reversed(range(len(Ws))):
        grads[2 * layer] = As[layer].T @ G
        grads[2 * layer + 1] = G.sum(axis=0)
        if layer > 0:
            G = (G @ Ws[layer].T) * (Zs[layer - 1] > 0)
    # SGD update
    for p, g in zip(params, grads):
        p -= lr * g
    return loss, grads


class NumpyStep:
    name = "numpy"

    def __init__(self, sizes, weights, X, y):
        self.params = [w.copy() for w in weights]
        self.X, self.y = X, y

    def __call__(self):
        return numpy_train_step(self.params, self.X, self.y, LR)

    def loss_and_grads(self):
        loss, grads = self()
        return float(loss), [g.copy() for g in grads]

    def weights(self):
        return [p.copy() for p in self.params]


WAYS = [MathdlStep, TorchStep, NumpyStep]
REF = 2  # index of the reference way (NumPy by hand) in WAYS


def load_before(path):
    """A second copy of the mathdl package from ``path`` (a directory), as ``mathdl_before``."""
    import importlib.util

    path = Path(path).resolve()
    init = path / "__init__.py"
    if not init.is_file():
        raise SystemExit(f"--compare: {path} is not a package directory (no __init__.py)")
    spec = importlib.util.spec_from_file_location(
        "mathdl_before", init, submodule_search_locations=[str(path)]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["mathdl_before"] = module
    spec.loader.exec_module(module)

    class BeforeStep(MathdlStep):
        name = "before"
        package = module

    return BeforeStep


# --------------------------------------------------------------------------------------
# Honesty check and timing
# --------------------------------------------------------------------------------------
def check_same_computation(sizes, batch, n_steps=5):
    """Step one: same loss and gradients; after ``n_steps``: same weights. Raises otherwise."""
    X, y = make_data(batch)
    w0 = initial_weights(sizes)
    runs = [cls(sizes, w0, X, y) for cls in WAYS]
    first = [r.loss_and_grads() for r in runs]
    ref_loss, ref_grads = first[REF]  # the NumPy step is the reference
    for r, (loss, grads) in zip(runs, first):
        assert np.isclose(loss, ref_loss, rtol=1e-10, atol=0), (
            f"{r.name}: loss {loss} vs numpy {ref_loss}"
        )
        for k, (g, g_ref) in enumerate(zip(grads, ref_grads)):
            assert g.shape == g_ref.shape, (
                f"{r.name}: gradient {k} has shape {g.shape}, numpy {g_ref.shape}"
            )
            np.testing.assert_allclose(
                g,
                g_ref,
                rtol=1e-8,
                atol=1e-12,
                err_msg=f"{r.name}: gradient of parameter {k} differs from numpy",
            )
    for r in runs:
        for _ in range(n_steps - 1):
            r()
    ref_w = runs[REF].weights()
    for r in runs:
        for k, (w, w_ref) in enumerate(zip(r.weights(), ref_w)):
            np.testing.assert_allclose(
                w,
                w_ref,
                rtol=1e-8,
                atol=1e-12,
                err_msg=f"{r.name}: parameter {k} after {n_steps} steps differs",
            )
    return ref_loss


def time_steps(sizes, batch, rounds, inner, warmup):
    """Seconds per step, one sample per round for each way: a round times ``inner`` steps of
    each way, the three ways in a rotating order (the caller takes the medians)."""
    X, y = make_data(batch)
    w0 = initial_weights(sizes)
    runs = [cls(sizes, w0, X, y) for cls in WAYS]
    for r in runs:
        for _ in range(warmup):
            r()
    samples = {r.name: [] for r in runs}
    clock = time.perf_counter
    for i in range(rounds):
        k = i % len(runs)
        for r in runs[k:] + runs[:k]:
            t0 = clock()
            for _ in range(inner):
                r()
            samples[r.name].append((clock() - t0) / inner)
    return samples


def time_imports(reps):
    """Seconds to import a module in a fresh interpreter, interleaved, ``reps`` times each.

    Both imports read compiled bytecode, as a user's second import does: the subprocesses
    share a temporary bytecode cache (PYTHONPYCACHEPREFIX), filled by a warm-up import,
    even where PYTHONDONTWRITEBYTECODE is set (then mathdl, installed in editable mode,
    would be compiled from source on every import while NumPy ships its .pyc files).
    """
    code = "import time; t0 = time.perf_counter(); import {mod}; print(time.perf_counter() - t0)"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    samples = {"numpy": [], "mathdl": []}
    with tempfile.TemporaryDirectory(prefix="mathdl-bench-pycache-") as cache:
        env["PYTHONPYCACHEPREFIX"] = cache

        def run(mod):
            out = subprocess.run(
                [sys.executable, "-c", code.format(mod=mod)],
                env=env,
                cwd=str(ROOT),
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            return float(out.strip())

        for mod in ("numpy", "mathdl", "numpy", "mathdl"):  # warm-up: fill the bytecode cache
            run(mod)
        for i in range(reps):
            for mod in ("numpy", "mathdl") if i % 2 == 0 else ("mathdl", "numpy"):
                samples[mod].append(run(mod))
    return samples


def median(xs):
    return statistics.median(xs)


def paired_ratio(a, b):
    """Median over rounds of a[i] / b[i]: robust to load that drifts during the run."""
    return median([x / y for x, y in zip(a, b)])


# --------------------------------------------------------------------------------------
def main():
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="fast smoke run (few rounds)")
    ap.add_argument(
        "--threads",
        type=int,
        default=THREADS,
        help="threads for torch and for NumPy's BLAS (default 1, see the module docstring)",
    )
    ap.add_argument(
        "--rounds", type=int, default=None, help="rounds for the course MLP (default 300)"
    )
    ap.add_argument(
        "--compare",
        metavar="DIR",
        default=None,
        help="another copy of the mathdl package to time as a fourth way, 'before'",
    )
    args = ap.parse_args()
    if args.compare:
        WAYS.append(load_before(args.compare))

    cases = [  # (label, sizes, batch, rounds, steps per round, warm-up steps)
        ("course MLP", [2, 64, 64, 3], 256, args.rounds or 300, 10, 50),
        ("larger", [2, 256, 256, 3], 4096, max(1, (args.rounds or 300) // 5), 2, 5),
    ]
    import_reps = 40
    if args.quick:
        cases = [(lbl, s, b, max(3, r // 30), max(1, n // 2), 3) for lbl, s, b, r, n, _ in cases]
        import_reps = 4

    print(f"mathdl {mathdl.__version__} engine benchmark: one SGD training step, float64")
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, torch {torch.__version__}, "
        f"{platform.machine()}, {os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"threads: torch {torch.get_num_threads()}, numpy BLAS "
        + ", ".join(f"{v}={os.environ[v]}" for v in _THREAD_VARS)
        + ("   [--quick: few rounds, figures are rough]" if args.quick else "")
    )
    print()

    results = []
    for label, sizes, batch, rounds, inner, warmup in cases:
        loss = check_same_computation(sizes, batch)
        print(
            f"check {label} {batch} x {sizes}: loss {loss:.6f}, gradients and 5 steps agree "
            f"({', '.join(w.name for w in WAYS)})"
        )
        gc.collect()
        samples = time_steps(sizes, batch, rounds, inner, warmup)
        results.append((label, sizes, batch, rounds, inner, samples))

    print()
    head = (
        f"{'case':<30} {'mathdl ms':>10} {'torch ms':>10} {'numpy ms':>10} "
        f"{'mathdl/numpy':>13} {'mathdl/torch':>13}"
    )
    print(head)
    print("-" * len(head))
    for label, sizes, batch, rounds, inner, s in results:
        m, t, n = (median(s[k]) * 1e3 for k in ("mathdl", "torch", "numpy"))
        case = f"{label} {batch}x({'-'.join(map(str, sizes))})"
        print(f"{case:<30} {m:>10.3f} {t:>10.3f} {n:>10.3f} {m / n:>12.2f}x {m / t:>12.2f}x")
        print(
            f"{'  paired median of ratios':<30} {'':>10} {'':>10} {'':>10} "
            f"{paired_ratio(s['mathdl'], s['numpy']):>12.2f}x {paired_ratio(s['mathdl'], s['torch']):>12.2f}x"
        )
        print(f"{'  (' + str(rounds) + ' rounds x ' + str(inner) + ' steps)':<30}")
        if "before" in s:
            b = median(s["before"]) * 1e3
            print(
                f"{'  before (--compare)':<30} {b:>10.3f} ms;  mathdl/before: ratio of medians "
                f"{m / b:.3f}x, paired median of ratios "
                f"{paired_ratio(s['mathdl'], s['before']):.3f}x"
            )

    imp = time_imports(import_reps)
    i_np, i_md = median(imp["numpy"]) * 1e3, median(imp["mathdl"]) * 1e3
    print()
    print(
        f"import time, fresh interpreter, median of {import_reps}:  numpy {i_np:.1f} ms,  "
        f"mathdl {i_md:.1f} ms (includes numpy),  mathdl/numpy {i_md / i_np:.2f}x  "
        f"(paired {paired_ratio(imp['mathdl'], imp['numpy']):.2f}x)"
    )

    small, large = results[0][5], results[1][5]
    r_np = median(small["mathdl"]) / median(small["numpy"])
    r_t = median(small["mathdl"]) / median(small["torch"])
    r_large = median(large["mathdl"]) / median(large["torch"])
    print()
    print("targets:")
    print(
        f"  course MLP  mathdl/numpy <= 1.30x : {r_np:.2f}x  {'met' if r_np <= 1.30 else 'NOT met'}"
    )
    print(
        f"  course MLP  mathdl/torch ~  0.70x : {r_t:.2f}x  {'met' if r_t <= 0.70 else 'NOT met'}"
    )
    print(
        f"  larger      mathdl/torch <= 1.10x : {r_large:.2f}x  {'met' if r_large <= 1.10 else 'NOT met'}"
    )
    r_imp = i_md / i_np
    print(
        f"  import      mathdl/numpy <= 1.30x : {r_imp:.2f}x  {'met' if r_imp <= 1.30 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
