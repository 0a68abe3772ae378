"""`import mathdl` loads NumPy only: torch, matplotlib and ipywidgets stay out of sys.modules
until a module that needs them (mathdl.device, mathdl.plots, mathdl.playground) is used.

Each check runs in a fresh interpreter, since this test process has torch loaded already.
"""

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "matplotlib", "ipywidgets")


def _run(code):
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


_LOADED = f"""
import json, sys
heavy = {HEAVY!r}
loaded = sorted(h for h in heavy if any(m == h or m.startswith(h + '.') for m in sys.modules))
print(json.dumps(loaded))
"""


def test_import_mathdl_leaves_torch_matplotlib_ipywidgets_unloaded():
    loaded = _run("import mathdl" + _LOADED)
    assert loaded == [], f"import mathdl loaded {loaded}"


def test_star_import_binds_the_public_names_and_loads_nothing_heavy():
    code = (
        """
from mathdl import *
import mathdl
missing = [n for n in mathdl.__all__ if n not in globals()]
assert not missing, missing
assert Tensor is mathdl.Tensor and nn is mathdl.nn and optim is mathdl.optim
"""
        + _LOADED
    )
    loaded = _run(code)
    assert loaded == [], f"from mathdl import * loaded {loaded}"


def test_using_the_numpy_parts_loads_nothing_heavy():
    # a whole training loop with the eager modules, plus the lazy attribute mathdl.device
    code = (
        """
import numpy as np
import mathdl
from mathdl import activations, losses, functional as F, nn, optim, init, data, gradcheck, numerical_grad
X, y = data.spirals(n_per_class=20, seed=0)
model = nn.MLP([2, 8, 3], rng=0)
opt = optim.Adam(model.parameters(), lr=0.01)
for _ in range(3):
    opt.zero_grad()
    F.cross_entropy(model(mathdl.Tensor(X)), y).backward()
    opt.step()
gradcheck(lambda t: (t * t).sum(), mathdl.Tensor(np.ones(2), requires_grad=True))
dev = mathdl.device  # the module itself is lazy and light: torch loads only in get_device()
"""
        + _LOADED
    )
    loaded = _run(code)
    assert loaded == [], f"using mathdl's NumPy parts loaded {loaded}"


def test_import_mathdl_loads_no_third_party_package_but_numpy():
    code = """
import json, sys
before = {m.split('.')[0] for m in sys.modules}
import mathdl
after = {m.split('.')[0] for m in sys.modules}
new = sorted(m for m in after - before
             if m not in sys.stdlib_module_names and m not in ('numpy', 'mathdl') and not m.startswith('_'))
print(json.dumps(new))
"""
    assert _run(code) == []


def test_get_device_imports_torch_only_when_called():
    code = """
import json, sys
import mathdl
from mathdl import device
before = 'torch' in sys.modules
d = device.get_device()
after = 'torch' in sys.modules
import torch
print(json.dumps([before, after, isinstance(d, torch.device), d.type, device.describe_device()]))
"""
    before, after, is_device, kind, sentence = _run(code)
    assert before is False and after is True
    assert is_device and kind in ("cpu", "cuda", "mps")
    assert isinstance(sentence, str) and sentence
    if kind == "cpu":
        assert "CPU" in sentence
