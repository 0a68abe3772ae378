"""Independent references shared by the mathdl tests (not a test module: no ``test_`` prefix).

Everything here is written without calling mathdl: a central-difference derivative of our
own, and helpers that run the same computation through torch autograd in float64. The
tests compare mathdl against these, never against values copied from mathdl itself.
"""

import numpy as np
import torch

# The tests' tensors are tiny: extra threads only contend for the shared cores (and make
# torch's autograd engine orders of magnitude slower under load). Results do not depend on it.
torch.set_num_threads(1)

# Tolerances for comparisons with torch in float64: both sides do the same math in a
# possibly different order, so they agree to a few ulps times the conditioning.
RTOL = 1e-10
ATOL = 1e-12


def central_difference(f, x, eps=1e-6):
    """d f / d x by central differences, written independently of mathdl.numerical_grad.

    ``f`` takes a float64 array shaped like ``x`` and returns a float. Each entry is perturbed
    in a fresh copy, so ``f`` may keep or modify its argument without harm.
    """
    x = np.asarray(x, dtype=np.float64)
    grad = np.empty_like(x)
    for idx in np.ndindex(*x.shape):
        up, down = x.copy(), x.copy()
        up[idx] += eps
        down[idx] -= eps
        grad[idx] = (float(f(up)) - float(f(down))) / (2.0 * eps)
    return grad


def torch_vjp(fn, arrays, upstream, requires_grad=None):
    """Run ``fn`` on float64 torch leaves made from ``arrays``; backprop ``upstream``.

    Returns (output as ndarray, list of gradients as ndarrays; None where not required).
    """
    if requires_grad is None:
        requires_grad = [True] * len(arrays)
    leaves = [
        torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=r)
        for a, r in zip(arrays, requires_grad)
    ]
    out = fn(*leaves)
    out.backward(torch.as_tensor(np.asarray(upstream, dtype=np.float64)))
    grads = [None if t.grad is None else t.grad.numpy().copy() for t in leaves]
    return out.detach().numpy().copy(), grads


def mathdl_vjp(fn, arrays, upstream, requires_grad=None):
    """The same as :func:`torch_vjp` for mathdl Tensors."""
    import mathdl

    if requires_grad is None:
        requires_grad = [True] * len(arrays)
    leaves = [mathdl.Tensor(a, requires_grad=r) for a, r in zip(arrays, requires_grad)]
    out = fn(*leaves)
    out.backward(np.asarray(upstream, dtype=np.float64))
    grads = [None if t.grad is None else np.asarray(t.grad).copy() for t in leaves]
    return np.asarray(out.data).copy(), grads


def random_upstream(rng, shape):
    """A random upstream gradient dL/d(output): generic, so no symmetry hides a bug (not ones)."""
    return rng.standard_normal(shape) if len(shape) else np.array(rng.standard_normal())
