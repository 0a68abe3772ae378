"""Numerical stability for logits up to +-1e4 (compared with torch in float64), and the error
messages a student meets: they must name what is wrong, e.g. both shapes of a mismatch."""

import re
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import mathdl
import mathdl.functional as F
from mathdl import Tensor
from mathdl import activations as A
from mathdl import losses as L
from tests.helpers.refs import ATOL, RTOL, mathdl_vjp, random_upstream, torch_vjp

# ----- stability --------------------------------------------------------------------------------

BIG_LOGITS = np.array(
    [
        [1e4, -1e4, 0.0, 5.0],
        [1e4, 1e4 - 1.0, -1e4, 1e4],
        [-1e4, -1e4, -1e4 + 5.0, -1e4],
        [-1e4, 1e4, 800.0, -800.0],
        [3.0, -2.0, 0.5, 1.0],  # an ordinary row alongside
    ]
)
BIG_TARGETS = np.array([1, 2, 0, 3, 2])  # includes targets whose probability underflows to 0
ELEMENTWISE_BIG = np.array(
    [-1e4, -1e3, -800.0, -710.0, -40.0, -1.0, 0.0, 1.0, 40.0, 710.0, 800.0, 1e3, 1e4]
)


@pytest.fixture
def no_numpy_warnings():
    """Overflow, divide-by-zero and invalid-value RuntimeWarnings become errors."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        yield


def _check(ours, theirs, what):
    ours = np.asarray(ours)
    assert np.all(np.isfinite(ours)), f"{what}: not finite: {ours}"
    np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=ATOL, err_msg=what)


@pytest.mark.parametrize("axis", [-1, 0])
def test_softmax_and_log_softmax_by_hand_with_huge_logits(axis, no_numpy_warnings):
    up = random_upstream(np.random.default_rng(0), BIG_LOGITS.shape)
    s_t, (gs_t,) = torch_vjp(lambda t: torch.softmax(t, dim=axis), [BIG_LOGITS], up)
    ls_t, (gls_t,) = torch_vjp(lambda t: torch.log_softmax(t, dim=axis), [BIG_LOGITS], up)
    s = A.softmax(BIG_LOGITS, axis=axis)
    ls = A.log_softmax(BIG_LOGITS, axis=axis)
    _check(s, s_t, "softmax")
    np.testing.assert_allclose(s.sum(axis=axis), 1.0, atol=1e-15)
    _check(ls, ls_t, "log_softmax")  # e.g. -2e4 where the probability underflows, not -inf
    _check(A.softmax_backward(s, up, axis=axis), gs_t, "softmax_backward")
    _check(A.log_softmax_backward(ls, up, axis=axis), gls_t, "log_softmax_backward")


def test_cross_entropy_by_hand_with_huge_logits(no_numpy_warnings):
    val_t, (g_t,) = torch_vjp(
        lambda t: TF.cross_entropy(t, torch.tensor(BIG_TARGETS)), [BIG_LOGITS], np.array(1.0)
    )
    loss = L.cross_entropy(BIG_LOGITS, BIG_TARGETS)
    assert np.isfinite(loss) and loss == pytest.approx(float(val_t), rel=1e-12)
    _check(L.cross_entropy_gradient(BIG_LOGITS, BIG_TARGETS), g_t, "cross_entropy_gradient")


def test_sigmoid_family_by_hand_with_huge_inputs(no_numpy_warnings):
    x = ELEMENTWISE_BIG
    up = random_upstream(np.random.default_rng(1), x.shape)
    for name, f, df, tf in [
        ("sigmoid", A.sigmoid, A.sigmoid_derivative, torch.sigmoid),
        ("tanh", A.tanh, A.tanh_derivative, torch.tanh),
        ("gelu", A.gelu, A.gelu_derivative, lambda t: TF.gelu(t, approximate="tanh")),
    ]:
        out_t, (g_t,) = torch_vjp(tf, [x], up)
        _check(f(x), out_t, name)
        _check(up * df(x), g_t, f"{name} derivative")
    s = A.sigmoid(x)
    assert s[0] == 0.0 or s[0] < 1e-300
    assert s[-1] == 1.0


def test_binary_cross_entropy_with_logits_with_huge_logits(no_numpy_warnings):
    z = ELEMENTWISE_BIG
    y = (np.arange(z.size) % 2).astype(float)
    val_t, (g_t,) = torch_vjp(
        lambda t: TF.binary_cross_entropy_with_logits(t, torch.tensor(y)), [z], np.array(1.0)
    )
    loss = L.binary_cross_entropy_with_logits(z, y)
    assert np.isfinite(loss) and loss == pytest.approx(float(val_t), rel=1e-12)
    _check(L.binary_cross_entropy_with_logits_gradient(z, y), g_t, "bce_with_logits gradient")


AUTOGRAD_HUGE = [
    ("F.softmax", lambda t: F.softmax(t, dim=1), lambda t: torch.softmax(t, dim=1), BIG_LOGITS),
    (
        "F.softmax_dim0",
        lambda t: F.softmax(t, dim=0),
        lambda t: torch.softmax(t, dim=0),
        BIG_LOGITS,
    ),
    (
        "F.log_softmax",
        lambda t: F.log_softmax(t, dim=1),
        lambda t: torch.log_softmax(t, dim=1),
        BIG_LOGITS,
    ),
    (
        "F.cross_entropy",
        lambda t: F.cross_entropy(t, BIG_TARGETS),
        lambda t: TF.cross_entropy(t, torch.tensor(BIG_TARGETS)),
        BIG_LOGITS,
    ),
    ("F.sigmoid", F.sigmoid, torch.sigmoid, ELEMENTWISE_BIG),
    ("Tensor.sigmoid", lambda t: t.sigmoid(), torch.sigmoid, ELEMENTWISE_BIG),
    ("F.tanh", F.tanh, torch.tanh, ELEMENTWISE_BIG),
    ("F.gelu", F.gelu, lambda t: TF.gelu(t, approximate="tanh"), ELEMENTWISE_BIG),
    (
        "F.bce_with_logits",
        lambda t: F.binary_cross_entropy_with_logits(t, np.arange(13) % 2 * 1.0),
        lambda t: TF.binary_cross_entropy_with_logits(t, torch.tensor(np.arange(13) % 2 * 1.0)),
        ELEMENTWISE_BIG,
    ),
    # a network's last step: cross-entropy of softmax-classifier logits scaled up to 1e4
    (
        "linear+cross_entropy",
        lambda t: F.cross_entropy(t @ np.eye(4) * 1.0, BIG_TARGETS),
        lambda t: TF.cross_entropy(
            t @ torch.eye(4, dtype=torch.float64), torch.tensor(BIG_TARGETS)
        ),
        BIG_LOGITS,
    ),
]


@pytest.mark.parametrize("name, md, tt, x", AUTOGRAD_HUGE, ids=[c[0] for c in AUTOGRAD_HUGE])
def test_autograd_with_huge_logits_matches_torch(name, md, tt, x, no_numpy_warnings):
    out_shape = np.shape(md(Tensor(x)).data)
    up = random_upstream(np.random.default_rng(2), out_shape)
    out_m, (g_m,) = mathdl_vjp(md, [x], up)
    out_t, (g_t,) = torch_vjp(tt, [x], up)
    _check(out_m, out_t, f"{name} value")
    _check(g_m, g_t, f"{name} gradient")


def test_training_step_on_saturated_logits_stays_finite(no_numpy_warnings):
    # one SGD step from logits of 1e4 still gives finite parameters and a finite loss
    W = Tensor(np.eye(4) * 1e4, requires_grad=True)
    x = np.array([[1.0, 0, 0, 0], [0, 1.0, 0, 0]])
    opt = mathdl.optim.SGD([W], lr=0.1)
    loss = F.cross_entropy(Tensor(x) @ W, np.array([1, 0]))  # confidently wrong: loss ~1e4
    assert loss.item() == pytest.approx(1e4, rel=1e-12)
    loss.backward()
    opt.step()
    assert np.all(np.isfinite(W.data)) and np.isfinite(
        F.cross_entropy(Tensor(x) @ W, np.array([1, 0])).item()
    )


# ----- error messages -----------------------------------------------------------------------------


def _names_both(*shapes):
    """A regex matching a message that mentions every shape (in any order)."""
    return "".join(f"(?=.*{re.escape(str(s))})" for s in shapes)


@pytest.mark.parametrize(
    "left, right",
    [
        (lambda: Tensor(np.ones((2, 3))), lambda: Tensor(np.ones((2, 3)))),
        (lambda: Tensor(np.ones((2, 3))), lambda: np.ones((2, 3))),
        (lambda: np.ones((2, 3)), lambda: Tensor(np.ones((2, 3)))),
    ],
    ids=["T@T", "T@array", "array@T"],
)
def test_matmul_shape_mismatch_names_both_shapes(left, right):
    with pytest.raises(ValueError, match=_names_both((2, 3), (2, 3)) + "matmul"):
        left() @ right()


@pytest.mark.parametrize(
    "a, b", [((2, 3), (4, 5)), ((3,), (4,)), ((2, 3), (2,)), ((5,), (3, 2)), ((2, 2, 3), (4, 5))]
)
def test_other_matmul_mismatches_name_both_shapes(a, b):
    with pytest.raises(ValueError, match=_names_both(a, b)):
        Tensor(np.ones(a)) @ Tensor(np.ones(b))


def test_matmul_with_a_scalar_is_refused_with_both_shapes():
    with pytest.raises(ValueError, match=_names_both((), (2, 3))):
        Tensor(2.0) @ Tensor(np.ones((2, 3)))


@pytest.mark.parametrize("op", ["+", "-", "*", "/", "**"])
@pytest.mark.parametrize(
    "a, b", [((2, 3), (4,)), ((3, 2), (3,)), ((2, 3, 4), (2, 4)), ((5, 2), (2, 5, 3))]
)
def test_broadcasting_failures_name_both_shapes(op, a, b):
    x, y = Tensor(np.ones(a)), Tensor(np.ones(b))
    with pytest.raises(ValueError, match=_names_both(a, b) + ".*broadcast"):
        eval(f"x {op} y", {"x": x, "y": y})
    with pytest.raises(ValueError, match=_names_both(a, b)):
        eval(f"x {op} np.ones(b)")  # a plain array on the right
    with pytest.raises(ValueError, match=_names_both(a, b)):
        eval(f"np.ones(a) {op} y")  # ... and on the left


def test_cross_entropy_rows_and_targets_mismatch_names_both():
    logits, targets = np.zeros((4, 3)), np.array([0, 1, 2, 0, 1])
    for fn in (
        L.cross_entropy,
        L.cross_entropy_gradient,
        lambda z, t: F.cross_entropy(Tensor(z), t),
    ):
        with pytest.raises(ValueError, match=_names_both((4, 3), (5,))):
            fn(logits, targets)


@pytest.mark.parametrize("bad, shown", [(3, "3"), (-1, "-1"), (7, "7")])
def test_class_targets_out_of_range(bad, shown):
    logits, targets = np.zeros((4, 3)), np.array([0, 1, bad, 2])
    msg = rf"class target {shown}\b.*out of range.*3 classes"
    for fn in (
        L.cross_entropy,
        L.cross_entropy_gradient,
        lambda z, t: F.cross_entropy(Tensor(z), t),
        lambda z, t: F.cross_entropy(Tensor(z), Tensor(t)),
    ):
        with pytest.raises(ValueError, match=msg):
            fn(logits, targets)


@pytest.mark.parametrize(
    "targets",
    [
        np.array([0.0, 1.0, 2.0, 1.0]),  # float dtype, even with whole values
        [0.0, 1.0, 2.0, 1.0],  # a list of floats
        np.array([0.5, 1.0, 2.0, 1.0]),
        np.array([True, False, True, True]),  # booleans are not class indices
    ],
    ids=["float-array", "float-list", "fractional", "bool"],
)
def test_float_class_targets_are_refused(targets):
    logits = np.zeros((4, 3))
    for fn in (
        L.cross_entropy,
        L.cross_entropy_gradient,
        lambda z, t: F.cross_entropy(Tensor(z), t),
    ):
        with pytest.raises(TypeError, match="integer class indices"):
            fn(logits, targets)


def test_float_tensor_targets_must_hold_whole_numbers():
    # a mathdl Tensor is always float64: whole numbers are class indices, fractions are refused
    logits = Tensor(np.random.default_rng(3).standard_normal((4, 3)), requires_grad=True)
    ok = F.cross_entropy(logits, Tensor([0.0, 2.0, 1.0, 1.0]))
    assert ok.item() == pytest.approx(
        TF.cross_entropy(torch.tensor(logits.data), torch.tensor([0, 2, 1, 1])).item(), rel=1e-12
    )
    with pytest.raises(TypeError, match="integer class indices"):
        F.cross_entropy(logits, Tensor([0.5, 2.0, 1.0, 1.7]))


def test_cross_entropy_wrong_ranks():
    with pytest.raises(ValueError, match=r"\(N, C\).*\(6,\)"):
        L.cross_entropy(np.zeros(6), np.array([0, 1, 0, 1, 0, 1]))
    with pytest.raises(ValueError, match=r"\(N,\).*\(4, 1\)"):
        L.cross_entropy(np.zeros((4, 3)), np.zeros((4, 1), dtype=int))


def test_backward_on_a_non_scalar_needs_a_gradient():
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match=r"scalar.*\(2, 3\)"):
        y.backward()
    # a one-element tensor of any rank is fine, as in torch
    (x.sum(1, keepdim=True)[0:1] * 1.0).backward()
    np.testing.assert_array_equal(x.grad, [[1, 1, 1], [0, 0, 0]])
    # a gradient of the wrong shape names both shapes
    with pytest.raises(ValueError, match=_names_both((3, 2), (2, 3))):
        y.backward(np.ones((3, 2)))


def test_backward_without_a_graph_explains_requires_grad():
    with pytest.raises(RuntimeError, match="requires_grad"):
        (Tensor([1.0, 2.0]) * 3).sum().backward()


def test_mse_refuses_to_broadcast_and_names_both_shapes():
    # documented design (torch would broadcast (4, 1) against (4,) with only a warning)
    for fn in (L.mse, L.mse_gradient, lambda p, t: F.mse_loss(Tensor(p), Tensor(t))):
        with pytest.raises(ValueError, match=_names_both((4, 1), (4,))):
            fn(np.ones((4, 1)), np.ones(4))


def test_binary_cross_entropy_range_errors():
    with pytest.raises(ValueError, match="targets must lie in"):
        L.binary_cross_entropy(np.full(3, 0.5), np.array([0.0, 2.0, 1.0]))
    with pytest.raises(ValueError, match=r"probabilities must lie in.*with_logits"):
        L.binary_cross_entropy(np.array([0.5, 1.5, 0.2]), np.array([0.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match=_names_both((3,), (2,))):
        F.binary_cross_entropy_with_logits(Tensor(np.zeros(3)), np.zeros(2))


def test_linear_and_layer_shape_errors_name_the_shapes():
    W, b = Tensor(np.ones((3, 4))), Tensor(np.ones(4))
    with pytest.raises(ValueError, match=_names_both((5, 2), (3, 4))):
        F.linear(Tensor(np.ones((5, 2))), W, b)
    with pytest.raises(ValueError, match=_names_both((3,), (3, 4))):
        F.linear(Tensor(np.ones((5, 3))), W, Tensor(np.ones(3)))
    layer = mathdl.nn.Linear(3, 4, rng=0)
    with pytest.raises(ValueError, match=_names_both((2, 5), (3, 4))):
        layer(Tensor(np.ones((2, 5))))


def test_shape_and_dim_errors():
    x = Tensor(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(4, 2\)"):
        x.reshape(4, 2)
    with pytest.raises(ValueError, match="dim 2 is out of range"):
        x.sum(2)
    with pytest.raises(ValueError, match="dim -3 is out of range"):
        x.mean(-3)
    with pytest.raises(ValueError, match=r"one element.*\(2, 3\)"):
        x.item()


def test_model_construction_errors():
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        mathdl.nn.MLP([2, 3], activation="swish")
    with pytest.raises(ValueError, match="at least"):
        mathdl.nn.MLP([2])
