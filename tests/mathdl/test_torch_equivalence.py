"""Lesson 08's table of mathdl.optim against torch.optim (mathdl.torch_equivalence)."""

import numpy as np
import pytest

from mathdl import surfaces, torch_equivalence
from mathdl.torch_equivalence import CONFIGS, MINIBATCH_CONFIGS, compare_with_torch


def line_fit(n=50):
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, n)
    y = 2 * x - 1 + 0.5 * rng.standard_normal(n)

    def grad(theta, idx):
        r = theta[0] * x[idx] + theta[1] - y[idx]
        return np.array([2 * (r * x[idx]).mean(), 2 * r.mean()])

    return grad, np.array([-1.0, 1.0]), n


def test_every_configuration_follows_torch_on_the_surface_and_on_minibatches(capsys):
    rows = compare_with_torch(surfaces.rosenbrock(), steps=60, minibatch=line_fit())
    assert [r[0] for r in rows] == [c[0] for c in CONFIGS + MINIBATCH_CONFIGS]
    assert max(r[2] for r in rows) < 1e-12
    printed = capsys.readouterr().out
    assert printed.count("max |mathdl - torch|") == len(rows)


def test_a_different_rule_on_our_side_shows_in_the_table(monkeypatch):
    # "momentum" is SGD with momentum 0.9 by default: no longer the rule torch runs
    monkeypatch.setattr(torch_equivalence, "CONFIGS", [("SGD", "SGD", dict(lr=1e-3))])
    monkeypatch.setitem(torch_equivalence._OURS, "SGD", "momentum")
    (row,) = compare_with_torch(surfaces.rosenbrock(), steps=60)
    assert row[2] > 1e-3


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="steps"):
        compare_with_torch(surfaces.rosenbrock(), steps=0)
    with pytest.raises(ValueError, match="batch"):
        compare_with_torch(surfaces.rosenbrock(), steps=5, minibatch=line_fit(10), batch=11)
