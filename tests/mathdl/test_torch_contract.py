"""Where mathdl mirrors torch, torch code carries over: each behaviour checked against torch itself.

The one deliberate difference, the course's Z = X W + b with a Linear weight of shape (in, out)
(torch stores the transpose), is transposed explicitly wherever weights cross over.
"""

import copy
import inspect
import operator
import pickle

import numpy as np
import pytest
import torch

import mathdl
import mathdl.functional as F
from mathdl import Tensor, nn, optim
from tests.helpers import refs as _refs

COMPARISONS = [operator.lt, operator.le, operator.gt, operator.ge, operator.eq, operator.ne]


# ----- Linear's signature ---------------------------------------------------------------------


def test_linear_takes_torchs_positional_arguments_and_prints_like_torch():
    ours_sig = list(inspect.signature(nn.Linear).parameters.values())[:3]
    torch_sig = list(inspect.signature(torch.nn.Linear).parameters.values())[:3]
    assert [(p.name, p.default) for p in ours_sig] == [(p.name, p.default) for p in torch_sig]
    for args in [(4, 2), (4, 2, False), (4, 2, True)]:
        ours, theirs = nn.Linear(*args), torch.nn.Linear(*args)
        assert repr(ours) == repr(theirs)
        assert (ours.bias is None) == (theirs.bias is None)
        assert ours.weight.shape == tuple(theirs.weight.shape)[::-1]  # the course's convention
    seeded = nn.Linear(4, 2, bias=False, init="xavier", rng=0, scale=0.5)
    np.testing.assert_array_equal(
        seeded.weight.data, 0.5 * mathdl.init.xavier_normal(4, 2, rng=np.random.default_rng(0))
    )


def test_linear_says_init_is_a_keyword_when_given_in_bias_place():
    with pytest.raises(TypeError, match=r"init='xavier'"):
        nn.Linear(4, 2, "xavier")


# ----- comparisons ----------------------------------------------------------------------------


@pytest.mark.parametrize("op", COMPARISONS, ids=lambda op: op.__name__)
@pytest.mark.parametrize(
    "a_shape, b_shape", [((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 1, 4), (3, 1)), ((5,), ())]
)
def test_comparisons_are_elementwise_bool_tensors_without_gradient_like_torch(op, a_shape, b_shape):
    rng = np.random.default_rng(0)
    a = rng.integers(-2, 3, a_shape).astype(float)  # small integers: many ties for == and <=
    b = rng.integers(-2, 3, b_shape).astype(float)
    ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b)
    expected = op(ta, tb)
    for left, right in [
        (Tensor(a, requires_grad=True), Tensor(b)),  # tensor with tensor
        (Tensor(a, requires_grad=True), b),  # tensor with an array
        (a, Tensor(b, requires_grad=True)),  # an array on the left (reflected)
    ]:
        got = op(left, right)
        assert isinstance(got, Tensor) and got.dtype == np.bool_
        assert not got.requires_grad and got.is_leaf
        np.testing.assert_array_equal(got.data, expected.numpy())
    scalar = float(b.reshape(-1)[0])
    np.testing.assert_array_equal(op(Tensor(a), scalar).data, op(ta, scalar).numpy())
    np.testing.assert_array_equal(op(scalar, Tensor(a)).data, op(scalar, ta).numpy())


def test_comparison_of_shapes_that_do_not_broadcast_names_them():
    with pytest.raises(RuntimeError):
        _ = torch.zeros(3) < torch.zeros(4)
    with pytest.raises(ValueError, match=r"lt: shapes \(3,\) and \(4,\) cannot be broadcast"):
        _ = Tensor(np.zeros(3)) < Tensor(np.zeros(4))


def test_truth_value_none_comparison_and_membership_follow_torch():
    one, many = Tensor([2.0]), Tensor([1.0, 2.0])
    t_one, t_many = torch.tensor([2.0]), torch.tensor([1.0, 2.0])
    assert bool(one > 1) is bool(t_one > 1) is True
    assert float(one) == float(t_one) and int(one) == int(t_one)
    for ours, theirs in [
        (Tensor([[0.0, 2.0], [0.0, 0.0]]), torch.tensor([[0.0, 2.0], [0.0, 0.0]]))
    ]:
        for fn in (lambda t: (t > 1).any(), lambda t: (t > 1).all(), lambda t: (t >= 0).all()):
            got = fn(ours)
            assert got.shape == () and got.dtype == np.bool_ and bool(got) is bool(fn(theirs))
    for ours, theirs in [(many, t_many), (Tensor(np.zeros(0)), torch.zeros(0))]:
        with pytest.raises(RuntimeError, match="ambiguous"):
            bool(theirs)
        with pytest.raises(RuntimeError, match="ambiguous"):
            bool(ours)
    assert (many == None) is (t_many == None) is False  # noqa: E711 (what a learner writes)
    assert (many != None) is (t_many != None) is True  # noqa: E711
    assert (many in [many]) and (t_many in [t_many])  # identity first, as Python's lists
    with pytest.raises(RuntimeError, match="ambiguous"):
        _ = t_many in [torch.tensor([1.0, 5.0])]
    with pytest.raises(RuntimeError, match="ambiguous"):
        _ = many in [Tensor([1.0, 5.0])]


def test_tensors_key_dicts_and_sets_by_identity_as_torch():
    a, b = Tensor([1.0, 2.0]), Tensor([1.0, 2.0])  # equal values, two tensors
    ta, tb = torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.0])
    assert len({a: 1, b: 2}) == len({ta: 1, tb: 2}) == 2
    assert {a: "a", b: "b"}[b] == "b" and {a, b, a} == {a, b}
    assert hash(a) != hash(b)


def test_a_mask_from_a_comparison_selects_and_gates_gradients_like_torch():
    rng = np.random.default_rng(1)
    x0 = rng.standard_normal((4, 5))
    up = _refs.random_upstream(rng, (int((x0 > 0).sum()),))

    def through(x):
        return x[x > 0] * 3.0

    out, (grad,) = _refs.mathdl_vjp(through, [x0], up)
    t_out, (t_grad,) = _refs.torch_vjp(through, [x0], up)
    np.testing.assert_allclose(out, t_out, rtol=_refs.RTOL)
    np.testing.assert_allclose(grad, t_grad, rtol=_refs.RTOL)
    up2 = _refs.random_upstream(rng, x0.shape)
    gated = lambda x: (x > 0) * x + (x <= 0) * 0.1 * x  # noqa: E731 (leaky ReLU from masks)
    np.testing.assert_allclose(
        _refs.mathdl_vjp(gated, [x0], up2)[1][0], _refs.torch_vjp(gated, [x0], up2)[1][0]
    )


# ----- parameters, names, buffers -------------------------------------------------------------


def _pair(batch_norm=True, momentum=0.1):
    """The same network in mathdl and torch: Linear, [BatchNorm1d,] ReLU, Linear, torch's weights.

    Before batch norm the Linear has no bias (batch norm would cancel it: its gradient is 0 up
    to rounding, which Adam's normalised step would amplify into noise)."""
    ours = [nn.Linear(3, 5, not batch_norm, rng=0)]
    theirs = [torch.nn.Linear(3, 5, not batch_norm).double()]
    if batch_norm:
        ours.append(nn.BatchNorm1d(5, momentum=momentum))
        theirs.append(torch.nn.BatchNorm1d(5, momentum=momentum).double())
    ours += [nn.ReLU(), nn.Linear(5, 2, rng=1)]
    theirs += [torch.nn.ReLU(), torch.nn.Linear(5, 2).double()]
    model, tmodel = nn.Sequential(*ours), torch.nn.Sequential(*theirs)
    tmodel.load_state_dict(_to_torch(model.state_dict()))
    return model, tmodel


def _to_torch(state):
    """A mathdl state_dict in torch's layout: Linear weights transposed."""
    out = {}
    for k, v in state.items():
        arr = np.asarray(v.data)
        out[k] = torch.tensor(arr.T.copy() if k.endswith("weight") and arr.ndim == 2 else arr)
    return out


def test_state_dict_and_named_members_have_torchs_names_order_and_shapes():
    model, tmodel = _pair()
    ours, theirs = model.state_dict(), tmodel.state_dict()
    assert list(ours) == list(theirs)
    for k in ours:
        shape = tuple(theirs[k].shape)
        assert ours[k].shape == (shape[::-1] if k.endswith("weight") and len(shape) == 2 else shape)
    assert ours["1.num_batches_tracked"].dtype == np.int64  # an integer, as torch's long
    assert [n for n, _ in model.named_parameters()] == [n for n, _ in tmodel.named_parameters()]
    assert [n for n, _ in model.named_buffers()] == [n for n, _ in tmodel.named_buffers()]
    assert len(model.parameters()) == len(list(tmodel.parameters())) == 5
    assert all(isinstance(p, nn.Parameter) for p in model.parameters())
    assert not any(b.requires_grad for b in model.buffers())


def test_a_layer_used_twice_is_one_parameter_set_but_two_state_dict_entries_as_in_torch():
    layer, t_layer = nn.Linear(3, 3, rng=0), torch.nn.Linear(3, 3).double()
    model = nn.Sequential(layer, nn.ReLU(), layer)
    tmodel = torch.nn.Sequential(t_layer, torch.nn.ReLU(), t_layer)
    assert list(model.state_dict()) == list(tmodel.state_dict())
    assert [n for n, _ in model.named_parameters()] == [n for n, _ in tmodel.named_parameters()]
    tmodel.load_state_dict(_to_torch(model.state_dict()))
    x = np.random.default_rng(5).standard_normal((4, 3))
    np.testing.assert_allclose(
        model(Tensor(x)).data, tmodel(torch.tensor(x)).detach().numpy(), rtol=1e-12
    )


def test_frozen_parameters_stay_listed_and_the_optimizer_skips_them_like_torch():
    model, tmodel = _pair(batch_norm=False)
    model.layers[0].weight.requires_grad_(False)
    tmodel[0].weight.requires_grad_(False)
    assert len(model.parameters()) == len(list(tmodel.parameters())) == 4
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    topt = torch.optim.SGD(tmodel.parameters(), lr=0.1, momentum=0.9)
    X, y = np.random.default_rng(2).standard_normal((8, 3)), np.arange(8) % 2
    for _ in range(5):
        _train_step(model, opt, X, y)
        _torch_train_step(tmodel, topt, X, y)
    frozen = model.layers[0].weight
    assert frozen.grad is None and frozen not in opt.state
    _assert_same_model(model, tmodel, rtol=1e-12)
    model.requires_grad_(False)
    assert not any(p.requires_grad for p in model.parameters())


def test_load_state_dict_reports_and_refuses_like_torch():
    model, tmodel = _pair()
    state, tstate = model.state_dict(), tmodel.state_dict()
    for d in (state, tstate):
        d.pop("1.bias")
        d["extra"] = d["0.weight"]
    with pytest.raises(RuntimeError, match="Missing key"):
        tmodel.load_state_dict(tstate)
    with pytest.raises(
        RuntimeError, match=r"missing keys \['1.bias'\], unexpected keys \['extra'\]"
    ):
        model.load_state_dict(state)
    got, expected = (
        model.load_state_dict(state, strict=False),
        tmodel.load_state_dict(tstate, strict=False),
    )
    assert got.missing_keys == expected.missing_keys == ["1.bias"]
    assert got.unexpected_keys == expected.unexpected_keys == ["extra"]
    with pytest.raises(RuntimeError, match=r"size mismatch for 0\.weight.*transpose of torch's"):
        model.load_state_dict({**model.state_dict(), "0.weight": np.zeros((5, 3))})


def test_a_torch_state_dict_loads_and_then_both_compute_the_same():
    model, tmodel = _pair()
    x = np.random.default_rng(3).standard_normal((6, 3))
    tmodel.train()
    tmodel(torch.tensor(x))  # moves torch's running statistics away from 0 and 1
    theirs = {k: v.numpy().copy() for k, v in tmodel.state_dict().items()}
    theirs = {k: (v.T if k.endswith("weight") and v.ndim == 2 else v) for k, v in theirs.items()}
    model.load_state_dict(theirs)
    model.eval(), tmodel.eval()
    np.testing.assert_allclose(
        model(Tensor(x)).data, tmodel(torch.tensor(x)).detach().numpy(), rtol=1e-12
    )


# ----- optimizers: state_dict, exact resumption, step(closure) ---------------------------------

OPTIMIZERS = [
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True)),
    ("Adam", dict(lr=0.02, amsgrad=True)),
    ("AdamW", dict(lr=0.02, weight_decay=0.1)),
]
TORCH = {n: getattr(torch.optim, n) for n, _ in OPTIMIZERS}


def _batch(step):
    rng = np.random.default_rng(100 + step)
    return rng.standard_normal((8, 3)), rng.integers(0, 2, 8)


def _train_step(model, opt, X, y):
    opt.zero_grad()
    loss = F.cross_entropy(model(Tensor(X)), y)
    loss.backward()
    opt.step()
    return loss.item()


def _torch_train_step(model, opt, X, y):
    opt.zero_grad()
    loss = torch.nn.functional.cross_entropy(model(torch.tensor(X)), torch.tensor(y))
    loss.backward()
    opt.step()
    return loss.item()


def _assert_same_model(model, tmodel, rtol):
    theirs = _to_torch(model.state_dict())
    for k, v in tmodel.state_dict().items():
        np.testing.assert_allclose(theirs[k].numpy(), v.numpy(), rtol=rtol, atol=1e-14, err_msg=k)


def _run(make, step, n, resume_at=None):
    """n training steps of a fresh (model, optimizer); with resume_at, save after that many
    steps (pickled), then go on with a new model and optimizer that load the saved state."""
    model, opt = make(seed=0)
    for i in range(n):
        if i == 2:
            for g in opt.param_groups:  # a schedule: the saved state must carry it
                g["lr"] *= 0.5
        if i == resume_at:
            saved = pickle.loads(pickle.dumps((model.state_dict(), opt.state_dict())))
            model, opt = make(seed=1)  # other weights, other lr: loading must overwrite both
            model.load_state_dict(saved[0])
            opt.load_state_dict(saved[1])
        step(model, opt, *_batch(i))
    return model


@pytest.mark.parametrize("name, kwargs", OPTIMIZERS, ids=[n for n, _ in OPTIMIZERS])
def test_training_resumed_from_a_saved_state_continues_exactly_as_in_torch(name, kwargs):
    def ours(seed):
        model = _pair(momentum=None)[0]  # momentum=None: batch norm's cumulative average
        if seed:
            model.load_state_dict({k: v.data * 0 + seed for k, v in model.state_dict().items()})
        return model, getattr(optim, name)(
            model.parameters(), **{**kwargs, "lr": kwargs["lr"] * (1 + seed)}
        )

    def theirs(seed):
        torch.manual_seed(seed)
        tmodel = _pair(momentum=None)[1]
        return tmodel, TORCH[name](
            tmodel.parameters(), **{**kwargs, "lr": kwargs["lr"] * (1 + seed)}
        )

    straight, resumed = _run(ours, _train_step, 9), _run(ours, _train_step, 9, resume_at=5)
    for k, v in straight.state_dict().items():
        np.testing.assert_array_equal(resumed.state_dict()[k].data, v.data, err_msg=k)
    t_straight = _run(theirs, _torch_train_step, 9)
    t_resumed = _run(theirs, _torch_train_step, 9, resume_at=5)
    for k, v in t_straight.state_dict().items():
        assert torch.equal(t_resumed.state_dict()[k], v), k
    _assert_same_model(straight, t_straight, rtol=1e-9)


@pytest.mark.parametrize("name, kwargs", OPTIMIZERS, ids=[n for n, _ in OPTIMIZERS])
def test_optimizer_state_dict_has_torchs_layout(name, kwargs):
    model, tmodel = _pair(batch_norm=False)
    model.layers[-1].bias.requires_grad_(False)  # no gradient, so no state: left out, as torch
    tmodel[-1].bias.requires_grad_(False)
    opt = getattr(optim, name)(
        [{"params": model.parameters()[:2]}, {"params": model.parameters()[2:], "lr": 0.5}],
        **kwargs,
    )
    topt = TORCH[name](
        [
            {"params": list(tmodel.parameters())[:2]},
            {"params": list(tmodel.parameters())[2:], "lr": 0.5},
        ],
        **kwargs,
    )
    for i in range(3):
        _train_step(model, opt, *_batch(i))
        _torch_train_step(tmodel, topt, *_batch(i))
    ours, theirs = opt.state_dict(), topt.state_dict()
    assert list(ours) == list(theirs) == ["state", "param_groups"]
    assert sorted(ours["state"]) == sorted(theirs["state"]) == [0, 1, 2]
    for i, state in ours["state"].items():
        assert set(state) == set(theirs["state"][i])
        for key, value in state.items():
            expected = theirs["state"][i][key].numpy()
            if (
                i in (0, 2) and np.ndim(value) == 2
            ):  # weights' state: mathdl's layout is the transpose
                expected = expected.T
            np.testing.assert_allclose(value, expected, rtol=1e-9, err_msg=f"{i} {key}")
    for group, tgroup in zip(ours["param_groups"], theirs["param_groups"]):
        assert set(group) <= set(tgroup)
        assert all(group[k] == tgroup[k] or list(group[k]) == list(tgroup[k]) for k in group)


def test_loading_an_optimizer_state_checks_the_groups_and_shapes():
    p, q = Tensor(np.ones((2, 3)), requires_grad=True), Tensor(np.ones(3), requires_grad=True)
    opt = optim.Adam([p], lr=0.1)
    (p * p).sum().backward()
    opt.step()
    with pytest.raises(ValueError, match="different number of parameter groups"):
        optim.Adam([p, q]).load_state_dict(opt.state_dict())
    with pytest.raises(
        ValueError, match=r"'exp_avg' has shape \(2, 3\) but its parameter has shape \(3,\)"
    ):
        optim.Adam([q]).load_state_dict(opt.state_dict())
    restored = optim.Adam([p], lr=0.5)
    restored.load_state_dict(opt.state_dict())
    assert restored.param_groups[0]["lr"] == 0.1 and restored.param_groups[0]["params"][0] is p
    opt.step()  # the loaded state is a copy: stepping the original leaves it alone
    assert restored.state[p]["step"] == 1 and opt.state[p]["step"] == 2


@pytest.mark.parametrize("name, kwargs", OPTIMIZERS, ids=[n for n, _ in OPTIMIZERS])
def test_step_with_a_closure_returns_its_loss_and_matches_torch(name, kwargs):
    model, tmodel = _pair(batch_norm=False)
    opt, topt = (
        getattr(optim, name)(model.parameters(), **kwargs),
        TORCH[name](tmodel.parameters(), **kwargs),
    )
    X, y = _batch(0)
    calls = []

    def closure():
        calls.append(1)
        opt.zero_grad()
        loss = F.cross_entropy(model(Tensor(X)), y)
        loss.backward()
        return loss

    def t_closure():
        topt.zero_grad()
        loss = torch.nn.functional.cross_entropy(tmodel(torch.tensor(X)), torch.tensor(y))
        loss.backward()
        return loss

    for _ in range(4):
        with mathdl.no_grad():  # the closure records its graph anyway, as torch's
            loss = opt.step(closure)
        with torch.no_grad():
            t_loss = topt.step(t_closure)
        assert isinstance(loss, Tensor)
        np.testing.assert_allclose(loss.item(), t_loss.item(), rtol=1e-10)
    assert len(calls) == 4
    _assert_same_model(model, tmodel, rtol=1e-10)
    assert opt.step() is None


# ----- losses: reduction= -------------------------------------------------------------------

LOSSES = [
    ("mse_loss", lambda r: r.standard_normal((4, 3)), lambda r: r.standard_normal((4, 3))),
    ("cross_entropy", lambda r: 3 * r.standard_normal((5, 4)), lambda r: r.integers(0, 4, 5)),
    ("binary_cross_entropy", lambda r: r.uniform(0.05, 0.95, (6,)), lambda r: r.uniform(0, 1, 6)),
    (
        "binary_cross_entropy_with_logits",
        lambda r: 2 * r.standard_normal((3, 2)),
        lambda r: r.uniform(0, 1, (3, 2)),
    ),
]
MODULES = {
    "mse_loss": (nn.MSELoss, torch.nn.MSELoss),
    "cross_entropy": (nn.CrossEntropyLoss, torch.nn.CrossEntropyLoss),
    "binary_cross_entropy": (nn.BCELoss, torch.nn.BCELoss),
    "binary_cross_entropy_with_logits": (nn.BCEWithLogitsLoss, torch.nn.BCEWithLogitsLoss),
}


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name, make_x, make_y", LOSSES, ids=[n for n, _, _ in LOSSES])
def test_losses_reduce_like_torch_with_the_same_gradients(name, make_x, make_y, reduction):
    rng = np.random.default_rng(4)
    x, y = make_x(rng), make_y(rng)
    ty = torch.tensor(y)
    torch_fn = getattr(torch.nn.functional, name)
    expected = torch_fn(torch.tensor(x), ty, reduction=reduction)
    up = _refs.random_upstream(rng, tuple(expected.shape))
    ours_fn, theirs_fn = (
        MODULES[name][0](reduction=reduction),
        MODULES[name][1](reduction=reduction),
    )
    for fn, t_fn in [
        (
            lambda a: getattr(F, name)(a, y, reduction=reduction),
            lambda a: torch_fn(a, ty, reduction=reduction),
        ),
        (lambda a: ours_fn(a, y), lambda a: theirs_fn(a, ty)),
    ]:
        out, (grad,) = _refs.mathdl_vjp(fn, [x], up)
        t_out, (t_grad,) = _refs.torch_vjp(t_fn, [x], up)
        assert out.shape == t_out.shape
        np.testing.assert_allclose(out, t_out, rtol=_refs.RTOL, atol=_refs.ATOL)
        np.testing.assert_allclose(grad, t_grad, rtol=1e-9, atol=_refs.ATOL)
    with mathdl.no_grad():  # the loss alone (cross-entropy's path without a gradient)
        np.testing.assert_allclose(
            getattr(F, name)(Tensor(x), y, reduction=reduction).data, t_out, rtol=_refs.RTOL
        )


def test_an_unknown_reduction_is_refused_by_name():
    with pytest.raises(ValueError, match="reduction must be 'mean', 'sum' or 'none', got 'avg'"):
        F.mse_loss(Tensor([1.0]), Tensor([0.0]), reduction="avg")
    with pytest.raises(ValueError, match="got 'avg'"):
        F.cross_entropy(Tensor(np.zeros((2, 3)), requires_grad=True), [0, 1], reduction="avg")
    with pytest.raises(ValueError, match="got 'total'"):
        nn.BCELoss(reduction="total")
    with pytest.raises(TypeError):
        F.mse_loss(
            Tensor([1.0]), Tensor([0.0]), "sum"
        )  # keyword only: torch's 3rd is not reduction


def test_a_model_deep_copied_or_pickled_is_independent():
    model = _pair()[0]
    twin = copy.deepcopy(model)
    twin.layers[0].weight.data += 1
    assert not np.array_equal(twin.layers[0].weight.data, model.layers[0].weight.data)
    clone = pickle.loads(pickle.dumps(model))
    assert list(clone.state_dict()) == list(model.state_dict())
