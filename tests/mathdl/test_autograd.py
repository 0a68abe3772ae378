"""mathdl.autograd.Function: an operation of your own with its derivative, as torch.autograd.Function.

Checked with mathdl's gradcheck, with our own central differences, and against the same
Function written for torch (and torch's built-in SiLU, which is the Swish below).
"""

import doctest

import numpy as np
import pytest
import torch

import mathdl
import mathdl.functional as F
from mathdl import Function, Tensor, nn, optim
from tests.helpers import refs as _refs


def _documented_swish():
    """Run the example of mathdl.autograd's docstring (it must pass) and return its Swish."""
    example = doctest.DocTestParser().get_doctest(mathdl.autograd.__doc__, {}, "doc", None, 0)
    runner = doctest.DocTestRunner()
    runner.run(example, clear_globs=False)
    assert runner.tries > 5 and runner.failures == 0
    return example.globs["Swish"]


Swish = _documented_swish()


class TorchSwish(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        s = torch.sigmoid(x)
        ctx.save_for_backward(x, s)
        return x * s

    @staticmethod
    def backward(ctx, grad_output):
        x, s = ctx.saved_tensors
        return grad_output * (s + x * s * (1 - s))


class ScaledShift(Function):
    """a * x + b with a number a (no gradient) and a tensor b that may be broadcast."""

    @staticmethod
    def forward(ctx, x, a, b):
        ctx.a = a
        return a * x + b

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output * ctx.a, None, grad_output  # b's gradient is summed down by apply


def test_a_users_activation_matches_torchs_function_and_silu():
    rng = np.random.default_rng(0)
    x = 4 * rng.standard_normal((5, 3))
    up = _refs.random_upstream(rng, x.shape)
    out, (grad,) = _refs.mathdl_vjp(Swish.apply, [x], up)
    for torch_fn in (TorchSwish.apply, torch.nn.functional.silu):
        t_out, (t_grad,) = _refs.torch_vjp(torch_fn, [x], up)
        np.testing.assert_allclose(out, t_out, rtol=_refs.RTOL)
        np.testing.assert_allclose(grad, t_grad, rtol=_refs.RTOL)
    np.testing.assert_allclose(
        grad,
        up * _refs.central_difference(lambda v: (v / (1 + np.exp(-v)) * up).sum(), x) / up,
        rtol=1e-6,
    )
    assert mathdl.gradcheck(Swish.apply, Tensor(x, requires_grad=True))
    y = Swish.apply(Tensor(x, requires_grad=True))
    assert y.requires_grad and not y.is_leaf and "Swish" in repr(y)


def test_gradcheck_catches_a_wrong_backward():
    class BadSwish(Swish):
        @staticmethod
        def backward(ctx, grad_output):
            _, s = ctx.saved_tensors
            return grad_output * s  # forgets the x sigma (1 - sigma) term

    x = Tensor(np.random.default_rng(1).standard_normal(6), requires_grad=True)
    assert not mathdl.gradcheck(BadSwish.apply, x, raise_exception=False)


def test_inputs_that_are_numbers_or_broadcast_get_the_right_gradients_like_torch():
    rng = np.random.default_rng(2)
    x, b = rng.standard_normal((4, 3)), rng.standard_normal(3)
    up = _refs.random_upstream(rng, (4, 3))
    out, grads = _refs.mathdl_vjp(lambda x, b: ScaledShift.apply(x, 2.5, b), [x, b], up)
    t_out, t_grads = _refs.torch_vjp(lambda x, b: 2.5 * x + b, [x, b], up)
    np.testing.assert_allclose(out, t_out, rtol=_refs.RTOL)
    for g, tg in zip(grads, t_grads):
        np.testing.assert_allclose(g, tg, rtol=_refs.RTOL)


def test_forward_and_backward_record_no_graph_and_ctx_says_what_needs_a_gradient():
    seen = {}

    class Probe(Function):
        @staticmethod
        def forward(ctx, x, y):
            seen["forward"] = (x * y).requires_grad
            seen["needs"] = ctx.needs_input_grad
            return x * y

        @staticmethod
        def backward(ctx, g):
            seen["backward"] = mathdl.is_grad_enabled()
            return g, None

    x = Tensor([1.0, 2.0], requires_grad=True)
    Probe.apply(x, Tensor([3.0, 4.0])).sum().backward()
    assert seen == {"forward": False, "needs": (True, False), "backward": False}
    np.testing.assert_array_equal(x.grad, [1.0, 1.0])
    with mathdl.no_grad():
        assert not Probe.apply(x, Tensor([3.0, 4.0])).requires_grad


def test_a_backward_with_the_wrong_number_or_shape_of_gradients_is_named():
    class TooFew(Function):
        @staticmethod
        def forward(ctx, x, y):
            return x + y

        @staticmethod
        def backward(ctx, g):
            return g

    class WrongShape(Function):
        @staticmethod
        def forward(ctx, x):
            return x.sum()

        @staticmethod
        def backward(ctx, g):
            return np.ones(5)

    x = Tensor(np.ones(3), requires_grad=True)
    with pytest.raises(
        RuntimeError, match=r"TooFew.backward returned 1 gradient\(s\) but forward took 2"
    ):
        TooFew.apply(x, x).sum().backward()
    with pytest.raises(
        RuntimeError,
        match=r"WrongShape.backward returned a gradient of shape \(5,\) for input 0, which has shape \(3,\)",
    ):
        WrongShape.apply(x).backward()


def _train_side_by_side(activation, torch_activation, optimizer, lr, seed):
    """An MLP 2-8-3 with ``activation`` and torch's with ``torch_activation`` and mathdl's
    weights, both trained 20 steps by ``optimizer`` (a class name both libraries have) on
    spirals; every weight compared. Returns mathdl's model."""
    model = nn.MLP([2, 8, 3], activation=activation, rng=0)
    tmodel = torch.nn.Sequential(
        torch.nn.Linear(2, 8), torch_activation, torch.nn.Linear(8, 3)
    ).double()
    tmodel.load_state_dict(
        {
            k: torch.tensor(v.data.T.copy() if v.ndim == 2 else v.data)
            for k, v in model.state_dict().items()
        }
    )
    opt = getattr(optim, optimizer)(model.parameters(), lr=lr)
    topt = getattr(torch.optim, optimizer)(tmodel.parameters(), lr=lr)
    X, y = mathdl.data.spirals(n_per_class=20, seed=seed)
    for _ in range(20):
        opt.zero_grad(), topt.zero_grad()
        F.cross_entropy(model(Tensor(X)), y).backward()
        torch.nn.functional.cross_entropy(tmodel(torch.tensor(X)), torch.tensor(y)).backward()
        opt.step(), topt.step()
    for k, v in tmodel.state_dict().items():
        ours = model.state_dict()[k].data
        np.testing.assert_allclose(
            ours.T if ours.ndim == 2 else ours, v.numpy(), rtol=1e-8, atol=1e-12, err_msg=k
        )
    return model


def test_a_function_as_the_activation_of_an_mlp_trains_like_torch():
    class SwishLayer(nn.Module):
        def forward(self, x):
            return Swish.apply(x)

    class TorchSwishLayer(torch.nn.Module):
        def forward(self, x):
            return TorchSwish.apply(x)

    _train_side_by_side(SwishLayer, TorchSwishLayer(), "SGD", lr=0.3, seed=0)


def test_an_activation_from_a_numpy_pair_trains_like_torchs_built_in():
    sine = mathdl.autograd.elementwise(np.sin, np.cos, "Sine")
    x = Tensor(np.random.default_rng(3).standard_normal((4, 3)), requires_grad=True)
    assert mathdl.gradcheck(sine.apply, x)
    assert not mathdl.gradcheck(
        mathdl.autograd.elementwise(np.sin, np.sin).apply, x, raise_exception=False
    )  # a wrong derivative is caught
    tanh = lambda: nn.Activation(np.tanh, lambda v: 1 - np.tanh(v) ** 2, "MyTanh")  # noqa: E731
    model = _train_side_by_side(tanh, torch.nn.Tanh(), "Adam", lr=0.05, seed=1)
    assert repr(model.layers[1]) == "MyTanh()"
