"""Batch norm, layer norm and the residual block against torch (float64) and finite differences."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import mathdl.functional as F
from mathdl import Tensor, data, nn, normalization, optim
from tests.helpers.refs import ATOL, RTOL, central_difference, random_upstream

# ----- the by-hand layer: standardize and its derivative -------------------------------------


@pytest.mark.parametrize(
    ("shape", "axes"),
    [((5, 3), (0,)), ((4, 3, 2), (0, 2)), ((3, 6), (-1,)), ((2, 3, 4), (1, 2)), ((7,), 0)],
)
def test_standardize_backward_equals_central_differences(shape, axes):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape)
    up = random_upstream(rng, shape)
    x_hat, mean, var, inv_std = normalization.standardize(x, axes, eps=1e-5)
    ax = (axes,) if isinstance(axes, int) else axes
    # the forward values, from NumPy's own mean and var (ddof=0)
    np.testing.assert_allclose(mean, x.mean(axis=ax, keepdims=True), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(var, x.var(axis=ax, keepdims=True), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(
        x_hat, (x - x.mean(axis=ax, keepdims=True)) / np.sqrt(x.var(axis=ax, keepdims=True) + 1e-5)
    )
    analytic = normalization.standardize_backward(x_hat, inv_std, up, axes)
    numeric = central_difference(
        lambda z: float((normalization.standardize(z, axes, eps=1e-5)[0] * up).sum()), x
    )
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-7)


def test_standardize_rejects_bad_axes_and_eps():
    with pytest.raises(ValueError, match="axis 2 is out of range"):
        normalization.standardize(np.zeros((2, 2)), (2,))
    with pytest.raises(ValueError, match="at least one axis"):
        normalization.standardize(np.zeros((2, 2)), ())
    with pytest.raises(ValueError, match="eps must be >= 0"):
        normalization.standardize(np.zeros((2, 2)), 0, eps=-1.0)


# ----- functional: batch_norm and layer_norm vs torch.nn.functional -------------------------


def _to_torch(a, grad=True):
    return torch.tensor(a, requires_grad=grad)


def _inputs(x, w, b, affine=True):
    """(x, weight, bias) as mathdl and as torch tensors that require grad; weight and bias
    None when not ``affine``."""
    ours = [Tensor(a, requires_grad=True) for a in (x, w, b)]
    theirs = [_to_torch(a) for a in (x, w, b)]
    if not affine:
        ours[1:], theirs[1:] = (None, None), (None, None)
    return ours, theirs


def _forward_backward(layer, x, up):
    """``layer(x)``, back-propagated from the upstream gradient ``up`` (mathdl or torch)."""
    out = layer(x)
    out.backward(up if isinstance(x, Tensor) else torch.tensor(up))
    return out


def _assert_equal_to_torch(out_m, out_t, ours, theirs, x_tol=(1e-9, 1e-11)):
    """The outputs and the gradients of every input (``x_tol``: rtol, atol for the input's)."""
    np.testing.assert_allclose(out_m.data, out_t.detach().numpy(), rtol=RTOL, atol=ATOL)
    for i, (m, t) in enumerate(zip(ours, theirs)):
        if m is not None:
            rtol, atol = x_tol if i == 0 else (RTOL, ATOL)
            np.testing.assert_allclose(m.grad, t.grad.numpy(), rtol=rtol, atol=atol)


@pytest.mark.parametrize("shape", [(6, 4), (5, 3, 4), (2, 3)])
@pytest.mark.parametrize("affine", [True, False])
def test_functional_batch_norm_training_equals_torch(shape, affine):
    rng = np.random.default_rng(1)
    c = shape[1]
    x = rng.standard_normal(shape) * 3.0 + 1.0
    w, b = rng.standard_normal(c), rng.standard_normal(c)
    rm, rv = rng.standard_normal(c), rng.uniform(0.5, 2.0, c)
    up = random_upstream(rng, shape)

    ours, theirs = _inputs(x, w, b, affine)
    rm_m, rv_m = Tensor(rm), Tensor(rv)
    out_m = F.batch_norm(ours[0], rm_m, rv_m, *ours[1:], training=True, momentum=0.3, eps=1e-3)
    out_m.backward(up)
    rm_t, rv_t = torch.tensor(rm), torch.tensor(rv)
    out_t = TF.batch_norm(theirs[0], rm_t, rv_t, *theirs[1:], training=True, momentum=0.3, eps=1e-3)
    out_t.backward(torch.tensor(up))
    _assert_equal_to_torch(out_m, out_t, ours, theirs)
    # running statistics updated in place, the variance unbiased, exactly as torch
    np.testing.assert_allclose(rm_m.data, rm_t.numpy(), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(rv_m.data, rv_t.numpy(), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("shape", [(6, 4), (5, 3, 4), (1, 4)])
def test_functional_batch_norm_eval_equals_torch(shape):
    rng = np.random.default_rng(2)
    c = shape[1]
    x, w, b = rng.standard_normal(shape), rng.standard_normal(c), rng.standard_normal(c)
    rm, rv = rng.standard_normal(c), rng.uniform(0.5, 2.0, c)
    up = random_upstream(rng, shape)
    ours, theirs = _inputs(x, w, b)
    out_m = F.batch_norm(ours[0], Tensor(rm), Tensor(rv), *ours[1:], training=False)
    out_m.backward(up)
    out_t = TF.batch_norm(
        theirs[0], torch.tensor(rm), torch.tensor(rv), *theirs[1:], training=False
    )
    out_t.backward(torch.tensor(up))
    _assert_equal_to_torch(out_m, out_t, ours, theirs, x_tol=(RTOL, ATOL))


@pytest.mark.parametrize(
    ("shape", "normalized_shape"), [((4, 5), 5), ((3, 4, 5), (4, 5)), ((2, 3, 4), (4,)), ((6,), 6)]
)
@pytest.mark.parametrize("affine", [True, False])
def test_functional_layer_norm_equals_torch(shape, normalized_shape, affine):
    rng = np.random.default_rng(3)
    ns = (normalized_shape,) if isinstance(normalized_shape, int) else normalized_shape
    x = rng.standard_normal(shape) * 2.0 - 0.5
    w, b = rng.standard_normal(ns), rng.standard_normal(ns)
    up = random_upstream(rng, shape)
    ours, theirs = _inputs(x, w, b, affine)
    out_m = F.layer_norm(ours[0], normalized_shape, *ours[1:], eps=1e-4)
    out_m.backward(up)
    out_t = TF.layer_norm(theirs[0], ns, *theirs[1:], eps=1e-4)
    out_t.backward(torch.tensor(up))
    _assert_equal_to_torch(out_m, out_t, ours, theirs)


def test_batch_and_layer_norm_gradients_equal_central_differences():
    """The whole layer (standardize, then * weight + bias), input and parameters, by FD."""
    rng = np.random.default_rng(4)
    x, w, b = rng.standard_normal((5, 3)), rng.standard_normal(3), rng.standard_normal(3)
    up = random_upstream(rng, (5, 3))

    def bn(xa, wa, ba):
        return F.batch_norm(xa, None, None, wa, ba, training=True)

    def ln(xa, wa, ba):
        return F.layer_norm(xa, 3, wa, ba)

    for fn in (bn, ln):
        leaves = [Tensor(a, requires_grad=True) for a in (x, w, b)]
        fn(*leaves).backward(up)
        for k, leaf in enumerate(leaves):
            args = [x, w, b]

            def f(z, k=k, args=args, fn=fn):
                a = list(args)
                a[k] = z
                return float((fn(*(Tensor(v) for v in a)).data * up).sum())

            np.testing.assert_allclose(
                leaf.grad, central_difference(f, args[k]), rtol=1e-6, atol=1e-7
            )


def test_normalization_errors_name_the_problem():
    x = Tensor(np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"more than 1 value per feature"):
        F.batch_norm(Tensor(np.zeros((1, 3))), None, None, training=True)
    with pytest.raises(ValueError, match=r"\(N, C\) or \(N, C, L\)"):
        F.batch_norm(Tensor(np.zeros(3)), None, None, training=True)
    with pytest.raises(ValueError, match=r"weight must have shape \(3,\), got \(4,\)"):
        F.batch_norm(x, None, None, Tensor(np.ones(4)), training=True)
    with pytest.raises(TypeError, match="running_mean must be a Tensor or a float NumPy array"):
        F.batch_norm(x, [0.0, 0.0, 0.0], None, training=True)
    with pytest.raises(ValueError, match="needs running_mean and running_var"):
        F.batch_norm(x, None, None, training=False)
    with pytest.raises(ValueError, match=r"does not end with normalized_shape \(4,\)"):
        F.layer_norm(x, 4)
    with pytest.raises(ValueError, match=r"weight must have shape \(3,\)"):
        F.layer_norm(x, 3, Tensor(np.ones(2)))
    with pytest.raises(ValueError, match="num_features must be a positive integer"):
        nn.BatchNorm1d(0)
    with pytest.raises(ValueError, match="momentum"):
        nn.BatchNorm1d(3, momentum=1.5)
    with pytest.raises(ValueError, match="normalized_shape must be a positive integer"):
        nn.LayerNorm((3, -1))


# ----- the modules vs torch.nn, over several steps, in train and eval mode ------------------


def _torch_bn_like(bn):
    return torch.nn.BatchNorm1d(
        bn.num_features,
        eps=bn.eps,
        momentum=bn.momentum,
        affine=bn.affine,
        track_running_stats=bn.track_running_stats,
        bias=bn.bias is not None or not bn.affine,
    ).double()


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"momentum": None},
        {"momentum": 0.5, "eps": 1e-3},
        {"affine": False},
        {"bias": False},
        {"track_running_stats": False},
    ],
)
@pytest.mark.parametrize("shape", [(8, 3), (4, 3, 5)])
def test_batchnorm1d_module_matches_torch_in_train_then_eval(kwargs, shape):
    rng = np.random.default_rng(5)
    bn = nn.BatchNorm1d(3, **kwargs)
    bt = _torch_bn_like(bn)
    if bn.affine:  # start from generic parameters, not ones and zeros
        w, b = rng.standard_normal(3), rng.standard_normal(3)
        bn.weight.data[...] = w
        with torch.no_grad():
            bt.weight.copy_(torch.tensor(w))
        if bn.bias is None:
            assert bt.bias is None and bn.parameters() == [bn.weight]
        else:
            bn.bias.data[...] = b
            with torch.no_grad():
                bt.bias.copy_(torch.tensor(b))
            assert bn.parameters() == [bn.weight, bn.bias]  # running statistics are not parameters
    else:
        assert bn.weight is None and bn.parameters() == []
    assert bn.training and bt.training

    for step in range(4):  # the running statistics evolve over batches of different scale
        x = rng.standard_normal(shape) * (1 + step) + step
        up = random_upstream(rng, shape)
        xm, xt = Tensor(x, requires_grad=True), _to_torch(x)
        out_m, out_t = _forward_backward(bn, xm, up), _forward_backward(bt, xt, up)
        _assert_equal_to_torch(out_m, out_t, [xm, bn.weight, bn.bias], [xt, bt.weight, bt.bias])
        bn.zero_grad()
        bt.zero_grad()
        if bn.track_running_stats:
            np.testing.assert_allclose(bn.running_mean.data, bt.running_mean.numpy(), rtol=RTOL)
            np.testing.assert_allclose(bn.running_var.data, bt.running_var.numpy(), rtol=RTOL)
            assert bn.num_batches_tracked == int(bt.num_batches_tracked) == step + 1

    assert bn.eval() is bn and not bn.training
    bt.eval()
    x = rng.standard_normal((1, *shape[1:]))  # eval works on a single example
    if not bn.track_running_stats:
        x = rng.standard_normal(shape)  # ... unless there are no running statistics to use
    up = random_upstream(rng, x.shape)
    xm, xt = Tensor(x, requires_grad=True), _to_torch(x)
    out_m, out_t = _forward_backward(bn, xm, up), _forward_backward(bt, xt, up)
    _assert_equal_to_torch(out_m, out_t, [xm], [xt])
    if bn.track_running_stats:  # evaluation leaves the running statistics alone
        np.testing.assert_allclose(bn.running_mean.data, bt.running_mean.numpy(), rtol=RTOL)
        assert bn.num_batches_tracked == 4
    assert repr(bn) == repr(bt)


def test_layernorm_module_matches_torch_and_ignores_mode():
    rng = np.random.default_rng(6)
    ln, lt = nn.LayerNorm((3, 4)), torch.nn.LayerNorm((3, 4)).double()
    w, b = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    ln.weight.data[...], ln.bias.data[...] = w, b
    with torch.no_grad():
        lt.weight.copy_(torch.tensor(w))
        lt.bias.copy_(torch.tensor(b))
    x = rng.standard_normal((2, 3, 4))
    up = random_upstream(rng, x.shape)
    out_train = ln(Tensor(x)).data
    xm, xt = Tensor(x, requires_grad=True), _to_torch(x)
    ln.eval()
    out_m, out_t = ln(xm), lt(xt)
    np.testing.assert_array_equal(out_m.data, out_train)  # no batch statistics: same in eval
    out_m.backward(up)
    out_t.backward(torch.tensor(up))
    np.testing.assert_allclose(out_m.data, out_t.detach().numpy(), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(xm.grad, xt.grad.numpy(), rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(ln.weight.grad, lt.weight.grad.numpy(), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(ln.bias.grad, lt.bias.grad.numpy(), rtol=RTOL, atol=ATOL)
    assert nn.LayerNorm(5, bias=False).bias is None
    assert nn.LayerNorm(5, elementwise_affine=False).parameters() == []
    for kw in ({}, {"bias": False}, {"elementwise_affine": False}):
        assert repr(nn.LayerNorm(5, **kw)) == repr(torch.nn.LayerNorm(5, **kw))


def test_residual_block_equals_torch_identity_plus_branch():
    rng = np.random.default_rng(7)
    l1, l2 = nn.Linear(4, 6, rng=0), nn.Linear(6, 4, rng=1)
    block = nn.Residual(l1, nn.LayerNorm(6), nn.ReLU(), l2)
    assert block.parameters()[:2] == [l1.weight, l1.bias] and len(block.parameters()) == 6
    t1, t2 = torch.nn.Linear(4, 6).double(), torch.nn.Linear(6, 4).double()
    with torch.no_grad():
        for lm, lt in ((l1, t1), (l2, t2)):
            lm.bias.data[...] = rng.standard_normal(lm.bias.shape)
            lt.weight.copy_(torch.tensor(lm.weight.data.T))
            lt.bias.copy_(torch.tensor(lm.bias.data))
    branch_t = torch.nn.Sequential(t1, torch.nn.LayerNorm(6).double(), torch.nn.ReLU(), t2)
    x = rng.standard_normal((5, 4))
    up = random_upstream(rng, x.shape)
    xm, xt = Tensor(x, requires_grad=True), _to_torch(x)
    out_m, out_t = block(xm), xt + branch_t(xt)
    out_m.backward(up)
    out_t.backward(torch.tensor(up))
    np.testing.assert_allclose(out_m.data, out_t.detach().numpy(), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(xm.grad, xt.grad.numpy(), rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(l1.weight.grad, t1.weight.grad.numpy().T, rtol=1e-9, atol=1e-11)
    with pytest.raises(ValueError, match=r"maps shape \(5, 4\) to \(5, 6\)"):
        nn.Residual(nn.Linear(4, 6, rng=0))(Tensor(x))
    with pytest.raises(ValueError, match="at least one layer"):
        nn.Residual()


def test_train_and_eval_reach_every_nested_module():
    bn1, bn2 = nn.BatchNorm1d(4), nn.BatchNorm1d(4)
    model = nn.Sequential(
        nn.Linear(3, 4, rng=0), bn1, nn.Residual(nn.Linear(4, 4, rng=1), bn2), nn.ReLU()
    )
    assert model.eval() is model
    assert not model.training and not bn1.training and not bn2.training
    assert not model[2].training and not model[2].branch.training
    model.train()
    assert bn1.training and bn2.training and model[2].branch.training
    with pytest.raises(TypeError, match="mode must be a bool"):
        model.train("no")


def test_training_a_network_with_every_new_layer_matches_torch_step_by_step():
    """Linear -> BatchNorm1d -> ReLU -> Residual(Linear, LayerNorm, Tanh) -> Linear, 25 steps of
    SGD with momentum on spirals, then evaluation mode: the losses and the eval outputs agree."""
    rng = np.random.default_rng(8)
    X, y = data.spirals(n_per_class=20, seed=3)
    l1, l2, l3 = nn.Linear(2, 8, rng=rng), nn.Linear(8, 8, rng=rng), nn.Linear(8, 3, rng=rng)
    model = nn.Sequential(
        l1, nn.BatchNorm1d(8), nn.ReLU(), nn.Residual(l2, nn.LayerNorm(8), nn.Tanh()), l3
    )
    t1, t2, t3 = (torch.nn.Linear(a, b).double() for a, b in ((2, 8), (8, 8), (8, 3)))
    with torch.no_grad():
        for lm, lt in ((l1, t1), (l2, t2), (l3, t3)):
            lt.weight.copy_(torch.tensor(lm.weight.data.T))
            lt.bias.zero_()
    t_branch = torch.nn.Sequential(t2, torch.nn.LayerNorm(8).double(), torch.nn.Tanh())
    t_head = torch.nn.Sequential(t1, torch.nn.BatchNorm1d(8).double(), torch.nn.ReLU())
    t_params = [*t_head.parameters(), *t_branch.parameters(), *t3.parameters()]

    def torch_model(x):
        h = t_head(x)
        return t3(h + t_branch(h))

    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    opt_t = torch.optim.SGD(t_params, lr=0.1, momentum=0.9)
    assert len(model.parameters()) == len(t_params) == 10
    Xm, Xt, yt = Tensor(X), torch.tensor(X), torch.tensor(y)
    losses = []
    for step in range(25):
        opt.zero_grad()
        loss = F.cross_entropy(model(Xm), y)
        loss.backward()
        opt.step()
        opt_t.zero_grad()
        loss_t = TF.cross_entropy(torch_model(Xt), yt)
        loss_t.backward()
        opt_t.step()
        assert loss.item() == pytest.approx(loss_t.item(), rel=1e-9), f"step {step}"
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0]  # it trained
    model.eval()
    t_head.eval()
    with torch.no_grad():
        expected = torch_model(Xt).numpy()
    np.testing.assert_allclose(model(Xm).data, expected, rtol=1e-8, atol=1e-10)
