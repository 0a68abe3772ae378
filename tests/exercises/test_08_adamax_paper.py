"""08's Part 6 (AdaMax, Kingma and Ba 2015, Section 7.1, Algorithm 2): the solution checked against an
independent implementation, ``torch.optim.Adamax`` with ``eps=0`` (torch adds eps inside the maximum;
with eps = 0 its rule is the paper's). The hidden tests compare submissions with the solution's answers
and the solution's self-test with the hidden REFERENCE block; this closes the loop with torch.
"""

from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch

from mathdl import Tensor

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "solutions" / "08_optimizers" / "08_optimizers.ipynb"


def solution_adamax() -> type:
    """The Adamax class of the solution notebook (its setup and adamax_sol cells, run in-process)."""
    cells = {
        c.metadata.get("nbgrader", {}).get("grade_id"): c.source
        for c in nbformat.read(str(NOTEBOOK), 4).cells
    }
    ns: dict = {}
    exec(cells["setup"], ns)
    exec(cells["adamax_sol"], ns)
    return ns["Adamax"]


@pytest.mark.parametrize(
    "lr, betas", [(2e-3, (0.9, 0.999)), (0.05, (0.5, 0.95)), (0.3, (0.0, 0.5))]
)
def test_solution_adamax_matches_torch_with_eps_zero(lr, betas):
    rng = np.random.default_rng(1412)
    start = rng.standard_normal((3, 4))
    grads = rng.standard_normal((60, 3, 4)) * rng.uniform(0.01, 10.0, (60, 1, 1))
    mine = Tensor(start.copy(), requires_grad=True)
    theirs = torch.tensor(start.copy(), dtype=torch.float64, requires_grad=True)
    opt_mine = solution_adamax()([mine], lr=lr, betas=betas)
    opt_torch = torch.optim.Adamax([theirs], lr=lr, betas=betas, eps=0.0)
    for g in grads:
        mine.grad = g.copy()
        theirs.grad = torch.tensor(g)
        opt_mine.step()
        opt_torch.step()
        np.testing.assert_allclose(mine.data, theirs.detach().numpy(), rtol=1e-12, atol=1e-14)
    state = opt_torch.state[theirs]
    np.testing.assert_allclose(
        opt_mine.state[mine]["exp_avg"], state["exp_avg"].numpy(), rtol=1e-12
    )
    np.testing.assert_allclose(
        opt_mine.state[mine]["exp_inf"], state["exp_inf"].numpy(), rtol=1e-12
    )
    assert opt_mine.state[mine]["step"] == int(state["step"]) == len(grads)
