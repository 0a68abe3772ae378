"""mathdl.grad_mode: no_grad records nothing and restores the state, as torch.no_grad."""

import numpy as np
import pytest

import mathdl
import mathdl.functional as F
from mathdl import Tensor


def test_no_grad_records_nothing_and_restores_state():
    x = Tensor(np.ones(3), requires_grad=True)
    with mathdl.no_grad():
        assert not mathdl.is_grad_enabled()
        y = (x * 2 + 1).exp().sum()
        z = F.relu(x) @ x
    assert mathdl.is_grad_enabled()
    assert y.requires_grad is False and z.requires_grad is False
    assert y.is_leaf
    with pytest.raises(RuntimeError):
        y.backward()
    # the same expression outside the block does record
    assert (x * 2).requires_grad is True

    @mathdl.no_grad()
    def evaluate(t):
        return t * t

    assert evaluate(x).requires_grad is False
    assert mathdl.is_grad_enabled()


def test_no_grad_state_is_restored_after_an_exception():
    with pytest.raises(ZeroDivisionError):
        with mathdl.no_grad():
            _ = 1 / 0
    assert mathdl.is_grad_enabled()
