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


def numpy_mlp_backprop(Ws, bs, X, y, f, df):
    """An MLP's backprop written out in NumPy, apart from mathdl (the hand-written code views/layers.py
    had before it ran on the engine): integer labels ``y``, activation ``f`` with derivative ``df``;
    returns the mean softmax cross-entropy, the z's, h's, dL/dh's and parameter gradients."""
    hs, zs = [X], []
    for W, b in zip(Ws[:-1], bs[:-1]):
        zs.append(hs[-1] @ W + b)
        hs.append(f(zs[-1]))
    logits = hs[-1] @ Ws[-1] + bs[-1]
    shifted = logits - logits.max(axis=1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -logp[np.arange(len(y)), y].mean()
    g = np.exp(logp)
    g[np.arange(len(y)), y] -= 1
    g /= len(y)
    gWs, gbs, ghs = [None] * len(Ws), [None] * len(Ws), [None] * (len(Ws) - 1)
    for layer in range(len(Ws) - 1, -1, -1):
        gWs[layer], gbs[layer] = hs[layer].T @ g, g.sum(axis=0)
        if layer > 0:
            ghs[layer - 1] = g @ Ws[layer].T
            g = ghs[layer - 1] * df(zs[layer - 1])
    return loss, zs, hs[1:], ghs, gWs, gbs
