"""mathdl.optim must follow torch.optim's update rules and defaults exactly.

Each test runs mathdl and torch side by side from the same starting point; at every step
each library computes its own gradient of the same loss at its own current parameters, and
the parameters must agree after every one of 60 steps to ~1e-10 relative. A divergence
anywhere in the update rule feeds back into later gradients, so it cannot hide.
"""

import inspect
import textwrap

import numpy as np
import pytest
import torch

import mathdl
import mathdl.functional as F
from mathdl import Tensor, optim
from tests.helpers import refs as _refs  # noqa: F401  (one torch thread: the tensors are tiny)

STEPS = 60
RTOL, ATOL = 1e-10, 1e-13

TORCH = {
    "SGD": torch.optim.SGD,
    "RMSprop": torch.optim.RMSprop,
    "Adam": torch.optim.Adam,
    "AdamW": torch.optim.AdamW,
}
OURS = {"SGD": optim.SGD, "RMSprop": optim.RMSprop, "Adam": optim.Adam, "AdamW": optim.AdamW}

CONFIGS = [
    ("SGD", {}),  # torch's defaults (lr=1e-3)
    ("SGD", dict(lr=0.05)),
    ("SGD", dict(lr=0.02, momentum=0.9)),
    ("SGD", dict(lr=0.02, momentum=0.9, dampening=0.5)),
    ("SGD", dict(lr=0.02, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.05, weight_decay=0.1)),
    ("SGD", dict(lr=0.02, momentum=0.8, weight_decay=0.05, nesterov=True)),
    ("SGD", dict(lr=0.02, momentum=0.7, dampening=0.3, weight_decay=0.01)),
    ("RMSprop", {}),
    ("RMSprop", dict(lr=0.005, alpha=0.9)),
    ("RMSprop", dict(lr=0.005, centered=True)),
    ("RMSprop", dict(lr=0.002, momentum=0.9)),
    ("RMSprop", dict(lr=0.002, momentum=0.5, centered=True, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, eps=1e-3, weight_decay=0.05)),
    ("Adam", {}),
    ("Adam", dict(lr=0.05)),
    ("Adam", dict(lr=0.05, betas=(0.8, 0.99))),
    ("Adam", dict(lr=0.05, weight_decay=0.1)),
    ("Adam", dict(lr=0.05, amsgrad=True)),
    ("Adam", dict(lr=0.05, amsgrad=True, weight_decay=0.05, eps=1e-4)),
    ("Adam", dict(lr=0.05, weight_decay=0.3, decoupled_weight_decay=True)),
    ("AdamW", {}),
    ("AdamW", dict(lr=0.05)),
    ("AdamW", dict(lr=0.05, weight_decay=0.3)),
    ("AdamW", dict(lr=0.05, weight_decay=0.1, amsgrad=True, betas=(0.7, 0.9))),
]
CONFIG_IDS = [
    f"{name}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'defaults'}" for name, kw in CONFIGS
]

# A fixed, ill-conditioned, non-quadratic loss of two parameters of different shapes:
#   L = 1/2 sum h1 (a - c1)^2 + 1/2 sum h2 (B - c2)^2 + 0.05 sum a^4 + 0.1 (sum a)(sum B)
H1, C1 = np.array([1.0, 10.0, 0.1]), np.array([1.0, -2.0, 0.5])
H2, C2 = np.array([[3.0, 0.5], [20.0, 1.0]]), np.array([[0.0, 1.0], [-1.0, 2.0]])
A0, B0 = np.array([0.3, 0.8, -1.2]), np.array([[1.5, -0.4], [0.2, 0.9]])


def _loss(a, b):
    # the same expression for mathdl Tensors and torch tensors
    return (
        0.5 * (H1 * (a - C1) ** 2).sum()
        + 0.5 * (H2 * (b - C2) ** 2).sum()
        + 0.05 * (a**4).sum()
        + 0.1 * a.sum() * b.sum()
    )


def _torch_loss(a, b):
    as_t = lambda v: torch.tensor(v, dtype=torch.float64)  # noqa: E731
    return (
        0.5 * (as_t(H1) * (a - as_t(C1)) ** 2).sum()
        + 0.5 * (as_t(H2) * (b - as_t(C2)) ** 2).sum()
        + 0.05 * (a**4).sum()
        + 0.1 * a.sum() * b.sum()
    )


def _parameters():
    """A0 and B0 as mathdl parameters and as torch ones."""
    ours = [Tensor(A0, requires_grad=True), Tensor(B0, requires_grad=True)]
    theirs = [torch.tensor(A0, requires_grad=True), torch.tensor(B0, requires_grad=True)]
    return ours, theirs


def _step_both_and_compare(opt_m, opt_t, ours, theirs, step):
    """One step of each optimizer on its own library's loss; then the parameters must agree."""
    for opt, params, loss in ((opt_m, ours, _loss), (opt_t, theirs, _torch_loss)):
        opt.zero_grad()
        loss(*params).backward()
        opt.step()
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(
            p.data, q.detach().numpy(), rtol=RTOL, atol=ATOL, err_msg=f"step {step + 1}"
        )


@pytest.mark.parametrize("name, kwargs", CONFIGS, ids=CONFIG_IDS)
def test_trajectory_matches_torch_on_a_fixed_loss(name, kwargs):
    ours, theirs = _parameters()
    opt_m = OURS[name](ours, **kwargs)
    opt_t = TORCH[name](theirs, **kwargs)
    moved = 0.0
    for step in range(STEPS):
        opt_m.zero_grad()
        _loss(*ours).backward()
        opt_t.zero_grad()
        _torch_loss(*theirs).backward()
        # the gradients each side computed itself agree (so the inputs to step() are the same)
        for p, q in zip(ours, theirs):
            np.testing.assert_allclose(
                p.grad, q.grad.numpy(), rtol=RTOL, atol=1e-12, err_msg=f"grad, step {step}"
            )
        opt_m.step()
        opt_t.step()
        for p, q in zip(ours, theirs):
            np.testing.assert_allclose(
                p.data,
                q.detach().numpy(),
                rtol=RTOL,
                atol=ATOL,
                err_msg=f"{name}{kwargs}: parameters differ after step {step + 1}",
            )
        moved = max(moved, np.abs(ours[0].data - A0).max())
    assert moved > 1e-3, "the optimizer barely moved: the comparison would be vacuous"


def _mlp_pair(seed):
    md = mathdl.nn.MLP([2, 16, 16, 3], activation="tanh", rng=seed)
    tm = torch.nn.Sequential(
        torch.nn.Linear(2, 16),
        torch.nn.Tanh(),
        torch.nn.Linear(16, 16),
        torch.nn.Tanh(),
        torch.nn.Linear(16, 3),
    ).double()
    md_linears = [m for m in md.layers if isinstance(m, mathdl.nn.Linear)]
    t_linears = [m for m in tm if isinstance(m, torch.nn.Linear)]
    rng = np.random.default_rng(seed + 1)
    with torch.no_grad():
        for lm, lt in zip(md_linears, t_linears):
            lm.bias.data[...] = 0.1 * rng.standard_normal(lm.bias.shape)  # non-zero biases
            lt.weight.copy_(torch.tensor(lm.weight.data.T))  # torch stores (out, in)
            lt.bias.copy_(torch.tensor(lm.bias.data))
    pairs = [(lm.weight, lt.weight.T) for lm, lt in zip(md_linears, t_linears)]
    pairs += [(lm.bias, lt.bias) for lm, lt in zip(md_linears, t_linears)]
    return md, tm, pairs


MLP_CONFIGS = [
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.1)),
    ("RMSprop", dict(lr=0.003, momentum=0.5, centered=True)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("AdamW", dict(lr=0.01, weight_decay=0.05)),
]


@pytest.mark.parametrize(
    "name, kwargs", MLP_CONFIGS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(MLP_CONFIGS)]
)
def test_trajectory_matches_torch_training_a_small_mlp(name, kwargs):
    X, y = mathdl.data.blobs(n=60, centers=3, seed=3)
    md, tm, pairs = _mlp_pair(seed=4)
    opt_m = OURS[name](md.parameters(), **kwargs)
    opt_t = TORCH[name](tm.parameters(), **kwargs)
    Xt, yt = torch.tensor(X), torch.tensor(y)
    losses = []
    for _step in range(STEPS):
        opt_m.zero_grad()
        loss_m = F.cross_entropy(md(Tensor(X)), y)
        loss_m.backward()
        opt_t.zero_grad()
        loss_t = torch.nn.functional.cross_entropy(tm(Xt), yt)
        loss_t.backward()
        assert loss_m.item() == pytest.approx(loss_t.item(), rel=1e-9)
        opt_m.step()
        opt_t.step()
        losses.append(loss_m.item())
    for p, q in pairs:
        np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=1e-9, atol=1e-12)
    assert losses[-1] < losses[0]  # it trained


@pytest.mark.parametrize("name", sorted(OURS))
def test_parameters_without_gradient_are_skipped_like_torch(name):
    # the second parameter takes part only on even steps: on odd steps its .grad is None and
    # neither the parameter nor its optimizer state may change (torch skips it too)
    kwargs = {
        "SGD": dict(lr=0.05, momentum=0.9),
        "RMSprop": dict(lr=0.01, momentum=0.5),
        "Adam": dict(lr=0.05),
        "AdamW": dict(lr=0.05),
    }[name]
    ours, theirs = _parameters()
    opt_m, opt_t = OURS[name](ours, **kwargs), TORCH[name](theirs, **kwargs)
    for step in range(20):
        opt_m.zero_grad()
        opt_t.zero_grad()
        if step % 2 == 0:
            _loss(*ours).backward()
            _torch_loss(*theirs).backward()
        else:
            (ours[0] ** 2).sum().backward()
            (theirs[0] ** 2).sum().backward()
            assert ours[1].grad is None and theirs[1].grad is None
        before = ours[1].data.copy()
        opt_m.step()
        opt_t.step()
        if step % 2:
            np.testing.assert_array_equal(ours[1].data, before)
        for p, q in zip(ours, theirs):
            np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=RTOL, atol=ATOL)


def test_zero_grad_sets_gradients_to_none_and_step_updates_in_place():
    p = Tensor(np.ones(3), requires_grad=True)
    data_before = p.data
    opt = optim.SGD([p], lr=0.5)
    (p * p).sum().backward()
    opt.step()
    assert p.data is data_before  # in place, so references held elsewhere (a model) see it
    np.testing.assert_allclose(p.data, 1 - 0.5 * 2)
    opt.zero_grad()
    assert p.grad is None


# ----- defaults and validation: compare with torch.optim's own signatures ------------------------

# torch's implementation switches, not part of the update rule
_TORCH_ONLY = {
    "maximize",
    "foreach",
    "capturable",
    "differentiable",
    "fused",
}


def _defaults(fn):
    return {
        k: p.default
        for k, p in inspect.signature(fn).parameters.items()
        if k not in ("self", "params") and p.default is not inspect.Parameter.empty
    }


@pytest.mark.parametrize("name", sorted(OURS))
def test_defaults_equal_torchs(name):
    ours, theirs = _defaults(OURS[name].__init__), _defaults(TORCH[name].__init__)
    theirs = {k: v for k, v in theirs.items() if k not in _TORCH_ONLY}
    assert set(ours) == set(theirs)
    for k in ours:
        assert ours[k] == theirs[k], f"{name}({k}=...) default {ours[k]!r}, torch has {theirs[k]!r}"
    # and the constructed optimizer really uses them, in defaults and in its parameter group
    opt = OURS[name]([Tensor(np.zeros(2), requires_grad=True)])
    torch_opt = TORCH[name]([torch.zeros(2, requires_grad=True)])
    # the hyper-parameters torch keeps in defaults (AdamW's decoupled_weight_decay=True too)
    kept = set(torch_opt.defaults) - _TORCH_ONLY
    assert set(opt.defaults) == kept, "defaults hold exactly the hyper-parameters"
    for k in kept:
        expected = tuple(np.atleast_1d(torch_opt.defaults[k]))
        assert tuple(np.atleast_1d(opt.defaults[k])) == expected, k
        assert tuple(np.atleast_1d(opt.param_groups[0][k])) == expected, k


INVALID = [
    ("SGD", dict(lr=-0.1)),
    ("SGD", dict(lr=0.1, nesterov=True)),  # nesterov needs momentum
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.5, nesterov=True)),  # ... and zero dampening
    ("SGD", dict(lr=0.1, momentum=-0.5)),
    ("SGD", dict(lr=0.1, weight_decay=-1.0)),
    ("RMSprop", dict(lr=-1.0)),
    ("RMSprop", dict(alpha=-0.5)),
    ("RMSprop", dict(eps=-1e-8)),
    ("RMSprop", dict(momentum=-0.1)),
    ("Adam", dict(lr=-1.0)),
    ("Adam", dict(betas=(1.0, 0.999))),
    ("Adam", dict(betas=(0.9, -0.1))),
    ("Adam", dict(eps=-1.0)),
    ("Adam", dict(weight_decay=-0.1)),
    ("AdamW", dict(betas=(0.9, 1.5))),
    ("AdamW", dict(weight_decay=-0.1)),
]


@pytest.mark.parametrize("name, kwargs", INVALID, ids=[f"{n}-{kw}" for n, kw in INVALID])
def test_invalid_hyperparameters_raise_value_error_like_torch(name, kwargs):
    with pytest.raises(ValueError):
        TORCH[name]([torch.zeros(2, requires_grad=True)], **kwargs)
    with pytest.raises(ValueError):
        OURS[name]([Tensor(np.zeros(2), requires_grad=True)], **kwargs)


def test_empty_or_foreign_parameter_lists_are_rejected():
    with pytest.raises(ValueError, match="empty"):
        optim.Adam([])
    with pytest.raises(TypeError, match="Tensor"):
        optim.SGD([np.zeros(3)], lr=0.1)


# ----- torch.optim's contract: param_groups, state, add_param_group, zero_grad ---------------

# a learning-rate schedule written for torch: set every group's lr before some steps
SCHEDULE = {0: 0.05, 10: 0.01, 20: 0.1, 35: 0.002}
SCHEDULE_CONFIGS = [
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("RMSprop", dict(lr=0.05, momentum=0.5, centered=True)),
    ("Adam", dict(lr=0.05, amsgrad=True, weight_decay=0.05)),
    ("AdamW", dict(lr=0.05, weight_decay=0.1)),
]


@pytest.mark.parametrize("name, kwargs", SCHEDULE_CONFIGS, ids=[c[0] for c in SCHEDULE_CONFIGS])
def test_changing_lr_in_param_groups_mid_run_matches_torch(name, kwargs):
    ours, theirs = _parameters()
    opt_m, opt_t = OURS[name](ours, **kwargs), TORCH[name](theirs, **kwargs)
    baseline = [Tensor(A0, requires_grad=True), Tensor(B0, requires_grad=True)]
    opt_b = OURS[name](baseline, **kwargs)  # the same run without the schedule
    for step in range(45):
        if step in SCHEDULE:
            for opt in (opt_m, opt_t):
                for group in opt.param_groups:
                    group["lr"] = SCHEDULE[step]
            assert f"lr: {SCHEDULE[step]}" in repr(opt_m)  # repr shows the current setting
        _step_both_and_compare(opt_m, opt_t, ours, theirs, step)
        opt_b.zero_grad()
        _loss(*baseline).backward()
        opt_b.step()
    # the schedule changed the trajectory (so the comparison above exercised it)
    assert not np.allclose(ours[0].data, baseline[0].data)


@pytest.mark.parametrize("name", sorted(OURS))
def test_parameter_groups_with_their_own_settings_match_torch(name):
    kwargs = {
        "SGD": (dict(lr=0.02, momentum=0.9), dict(lr=0.1, momentum=0.5, dampening=0.2)),
        "RMSprop": (dict(lr=0.01), dict(lr=0.003, alpha=0.9, centered=True)),
        "Adam": (dict(lr=0.05), dict(lr=0.01, betas=(0.8, 0.99), amsgrad=True)),
        "AdamW": (dict(lr=0.05), dict(lr=0.02, weight_decay=0.3)),
    }[name]
    base, override = kwargs
    ours, theirs = _parameters()
    opt_m = OURS[name]([{"params": [ours[0]]}, {"params": [ours[1]], **override}], **base)
    opt_t = TORCH[name]([{"params": [theirs[0]]}, {"params": [theirs[1]], **override}], **base)
    assert len(opt_m.param_groups) == 2
    assert opt_m.param_groups[0]["lr"] == base["lr"]
    assert opt_m.param_groups[1]["lr"] == override["lr"]
    for step in range(30):
        _step_both_and_compare(opt_m, opt_t, ours, theirs, step)


def test_add_param_group_mid_run_matches_torch():
    ours, theirs = _parameters()
    opt_m = optim.Adam([ours[0]], lr=0.05)
    opt_t = torch.optim.Adam([theirs[0]], lr=0.05)
    for step in range(20):
        if step == 5:  # from now on B trains too, with its own learning rate
            opt_m.add_param_group({"params": ours[1], "lr": 0.01})
            opt_t.add_param_group({"params": theirs[1], "lr": 0.01})
            assert opt_m.param_groups[1]["betas"] == (0.9, 0.999)  # filled from the defaults
        _step_both_and_compare(opt_m, opt_t, ours, theirs, step)
    assert not np.array_equal(ours[1].data, B0)
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt_m.add_param_group({"params": [ours[0]]})
    with pytest.raises(ValueError, match="'params'"):
        opt_m.add_param_group({"lr": 0.1})
    with pytest.raises(ValueError, match="betas"):
        opt_m.add_param_group({"params": [Tensor(np.zeros(2))], "betas": (0.9, 1.0)})


def test_state_is_keyed_by_parameter_with_torchs_names():
    p, q = Tensor(A0, requires_grad=True), Tensor(B0, requires_grad=True)
    pt = torch.tensor(A0, requires_grad=True)
    opt, opt_t = optim.Adam([p, q], lr=0.1), torch.optim.Adam([pt], lr=0.1)
    for _ in range(3):
        for o in (opt, opt_t):
            o.zero_grad()
        (p * p).sum().backward()
        (pt * pt).sum().backward()
        opt.step()
        opt_t.step()
    assert set(opt.state) == {p}  # q never had a gradient: no state, as torch
    assert set(opt.state[p]) == set(opt_t.state[pt]) == {"step", "exp_avg", "exp_avg_sq"}
    assert opt.state[p]["step"] == int(opt_t.state[pt]["step"]) == 3
    np.testing.assert_allclose(opt.state[p]["exp_avg"], opt_t.state[pt]["exp_avg"].numpy())
    sgd = optim.SGD([p], lr=0.1, momentum=0.9)
    (p * p).sum().backward()
    sgd.step()
    assert set(sgd.state[p]) == {"momentum_buffer"}


def test_zero_grad_set_to_none_false_fills_zeros_like_torch():
    p, pt = Tensor(A0, requires_grad=True), torch.tensor(A0, requires_grad=True)
    opt, opt_t = optim.SGD([p], lr=0.1), torch.optim.SGD([pt], lr=0.1)
    (p * p).sum().backward()
    (pt * pt).sum().backward()
    opt.zero_grad(set_to_none=False)
    opt_t.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(p.grad, pt.grad.numpy())
    assert p.grad.shape == A0.shape and not p.grad.any()


def test_hyperparameters_are_not_attributes_and_repr_shows_the_groups():
    p = Tensor(np.zeros(2), requires_grad=True)
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    with pytest.raises(AttributeError, match=r"param_groups\[0\]\['lr'\]"):
        opt.lr = 0.5  # would silently do nothing: step() reads param_groups
    with pytest.raises(AttributeError, match="param_groups"):
        _ = opt.lr
    opt.param_groups[0]["lr"] = 0.5
    text = repr(opt)
    assert text.startswith("SGD (") and "Parameter Group 0" in text
    assert "    lr: 0.5" in text and "    momentum: 0.9" in text and "lr: 0.1" not in text
    with pytest.raises(TypeError, match="single Tensor"):
        optim.SGD(p, lr=0.1)
    with pytest.raises(ValueError, match="twice"):
        optim.SGD([p, p], lr=0.1)


def _docstring_example(module):
    """The code block of ``module``'s docstring (the lines after ``::``, dedented)."""
    text = module.__doc__.split("::\n", 1)[1]
    block = []
    for line in text.splitlines()[1:]:
        if line and not line.startswith("    "):
            break
        block.append(line)
    return textwrap.dedent("\n".join(block))


def test_a_subclass_written_as_the_docstring_says_trains_and_matches_a_hand_computation():
    namespace = {"np": np, "Optimizer": optim.Optimizer}
    exec(_docstring_example(optim), namespace)  # the docstring's own SignSGD, as a reader copies it
    SignSGD = namespace["SignSGD"]
    p = Tensor(A0, requires_grad=True)
    opt = SignSGD([p], lr=0.1)
    theta = A0.copy()
    for _ in range(5):
        opt.zero_grad()
        (p * p).sum().backward()
        opt.step()
        theta -= 0.1 * np.sign(2 * theta)
    np.testing.assert_allclose(p.data, theta, rtol=0, atol=1e-15)
    assert opt.state[p]["step"] == 5
    assert "lr: 0.1" in repr(opt)
    with pytest.raises(NotImplementedError, match="step"):
        optim.Optimizer([p], {"lr": 0.1}).step()
