"""Gradients of every Tensor op and every functional, checked three independent ways.

(a) finite differences in float64: an independent central difference written in the test
    (tests/helpers/refs.py); mathdl's own ``gradcheck`` and ``numerical_grad`` are tested as
    tools in test_gradcheck.py, not used to check mathdl against itself;
(b) torch autograd in float64 with a random upstream gradient (never all ones);
(c) hypothesis properties over shapes with size-1 and broadcast dimensions and scalars.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

import mathdl
import mathdl.functional as F
from mathdl import Tensor
from tests.helpers.refs import (
    ATOL,
    RTOL,
    central_difference,
    mathdl_vjp,
    random_upstream,
    torch_vjp,
)

# --------------------------------------------------------------------------------------------
# The table of operations. Each case: (id, mathdl fn, torch fn, make(rng) -> input arrays).
# Inputs are kept away from kinks and outside the domain edges so that finite differences
# are valid; the kink conventions are tested separately against torch.
# --------------------------------------------------------------------------------------------


def _normal(*shape):
    return lambda rng: rng.standard_normal(shape)


def _positive(*shape, low=0.5, high=2.0):
    return lambda rng: rng.uniform(low, high, size=shape)


def _away_from_zero(*shape):
    # |x| in [0.1, 2], random sign: no entry near the kink of relu / abs / leaky_relu.
    return lambda rng: rng.choice([-1.0, 1.0], size=shape) * rng.uniform(0.1, 2.0, size=shape)


def _inputs(*makers):
    return lambda rng: [m(rng) for m in makers]


SAME = object()  # the torch function is the same Python expression

TENSOR_OPS = [
    # binary arithmetic, including broadcasting
    ("add", lambda a, b: a + b, SAME, _inputs(_normal(3, 4), _normal(3, 4))),
    ("add_broadcast_col_row", lambda a, b: a + b, SAME, _inputs(_normal(3, 1), _normal(1, 4))),
    ("add_broadcast_vector", lambda a, b: a + b, SAME, _inputs(_normal(2, 3), _normal(3))),
    ("add_broadcast_scalar", lambda a, b: a + b, SAME, _inputs(_normal(2, 3), _normal())),
    ("sub", lambda a, b: a - b, SAME, _inputs(_normal(3, 4), _normal(3, 4))),
    ("sub_broadcast", lambda a, b: a - b, SAME, _inputs(_normal(1), _normal(2, 3))),
    ("mul", lambda a, b: a * b, SAME, _inputs(_normal(3, 4), _normal(3, 4))),
    ("mul_broadcast", lambda a, b: a * b, SAME, _inputs(_normal(3, 1), _normal(1, 4))),
    ("mul_broadcast_3d", lambda a, b: a * b, SAME, _inputs(_normal(2, 1, 4), _normal(3, 1))),
    ("div", lambda a, b: a / b, SAME, _inputs(_normal(3, 4), _away_from_zero(3, 4))),
    ("div_broadcast", lambda a, b: a / b, SAME, _inputs(_normal(2, 3), _away_from_zero(1, 3))),
    ("neg", lambda a: -a, SAME, _inputs(_normal(3, 4))),
    ("pow_int", lambda a: a**3, SAME, _inputs(_normal(3, 4))),
    ("pow_half", lambda a: a**0.5, SAME, _inputs(_positive(3, 4))),
    ("pow_negative", lambda a: a**-1.5, SAME, _inputs(_positive(3, 4))),
    ("pow_tensor", lambda a, b: a**b, SAME, _inputs(_positive(3, 4), _normal(3, 4))),
    ("pow_tensor_broadcast", lambda a, b: a**b, SAME, _inputs(_positive(3, 1), _normal(4))),
    ("rpow_number", lambda a: 2.5**a, SAME, _inputs(_normal(3, 4))),
    # matrix products in every rank combination
    ("matmul_2d_2d", lambda a, b: a @ b, SAME, _inputs(_normal(3, 4), _normal(4, 5))),
    ("matmul_1d_2d", lambda a, b: a @ b, SAME, _inputs(_normal(4), _normal(4, 5))),
    ("matmul_2d_1d", lambda a, b: a @ b, SAME, _inputs(_normal(3, 4), _normal(4))),
    ("matmul_1d_1d", lambda a, b: a @ b, SAME, _inputs(_normal(4), _normal(4))),
    ("matmul_batched", lambda a, b: a @ b, SAME, _inputs(_normal(2, 3, 4), _normal(2, 4, 5))),
    (
        "matmul_batch_broadcast",
        lambda a, b: a @ b,
        SAME,
        _inputs(_normal(2, 1, 3, 4), _normal(5, 4, 2)),
    ),
    (
        "matmul_batched_by_matrix",
        lambda a, b: a @ b,
        SAME,
        _inputs(_normal(2, 3, 4), _normal(4, 5)),
    ),
    ("matmul_vector_by_batch", lambda a, b: a @ b, SAME, _inputs(_normal(4), _normal(2, 4, 3))),
    ("matmul_batch_by_vector", lambda a, b: a @ b, SAME, _inputs(_normal(2, 3, 4), _normal(4))),
    # reductions
    ("sum_all", lambda a: a.sum(), SAME, _inputs(_normal(3, 4))),
    ("sum_dim0", lambda a: a.sum(0), SAME, _inputs(_normal(3, 4))),
    ("sum_dim_neg1_keepdim", lambda a: a.sum(-1, keepdim=True), SAME, _inputs(_normal(3, 4))),
    ("sum_dims_tuple", lambda a: a.sum((0, 2)), SAME, _inputs(_normal(2, 3, 4))),
    (
        "sum_dims_tuple_keepdim",
        lambda a: a.sum(dim=(0, -1), keepdim=True),
        SAME,
        _inputs(_normal(2, 3, 4)),
    ),
    ("mean_all", lambda a: a.mean(), SAME, _inputs(_normal(3, 4))),
    ("mean_dim1", lambda a: a.mean(1), SAME, _inputs(_normal(3, 4))),
    ("mean_dim0_keepdim", lambda a: a.mean(0, keepdim=True), SAME, _inputs(_normal(3, 4))),
    ("mean_dims_tuple", lambda a: a.mean(dim=(1, 2)), SAME, _inputs(_normal(2, 3, 4))),
    # shape
    ("reshape", lambda a: a.reshape(4, 3), SAME, _inputs(_normal(3, 4))),
    ("reshape_minus_one", lambda a: a.reshape(2, -1), SAME, _inputs(_normal(3, 4))),
    ("reshape_tuple", lambda a: a.reshape((12,)), SAME, _inputs(_normal(3, 4))),
    ("transpose_T", lambda a: a.T, SAME, _inputs(_normal(3, 4))),
    ("T_then_matmul", lambda a, b: a.T @ b, SAME, _inputs(_normal(4, 3), _normal(4, 2))),
    # element-wise
    ("exp", lambda a: a.exp(), SAME, _inputs(_normal(3, 4))),
    ("log", lambda a: a.log(), SAME, _inputs(_positive(3, 4))),
    ("relu", lambda a: a.relu(), SAME, _inputs(_away_from_zero(3, 4))),
    ("sigmoid", lambda a: a.sigmoid(), SAME, _inputs(_normal(3, 4))),
    ("tanh", lambda a: a.tanh(), SAME, _inputs(_normal(3, 4))),
    # the further methods the engine offers
    ("sqrt", lambda a: a.sqrt(), SAME, _inputs(_positive(3, 4))),
    ("abs", lambda a: a.abs(), SAME, _inputs(_away_from_zero(3, 4))),
    (
        "leaky_relu_method",
        lambda a: a.leaky_relu(0.1),
        lambda a: TF.leaky_relu(a, 0.1),
        _inputs(_away_from_zero(3, 4)),
    ),
    (
        "gelu_method",
        lambda a: a.gelu(),
        lambda a: TF.gelu(a, approximate="tanh"),
        _inputs(_normal(3, 4)),
    ),
    ("transpose_dims", lambda a: a.transpose(0, 2), SAME, _inputs(_normal(2, 3, 4))),
    ("getitem_slice", lambda a: a[1:, ::2], SAME, _inputs(_normal(3, 4))),
    (
        "getitem_repeated_rows",
        lambda a: a[np.array([0, 2, 0, 0])],
        lambda a: a[torch.tensor([0, 2, 0, 0])],
        _inputs(_normal(3, 4)),
    ),
    # a composite expression reusing an input (gradients add up over both uses)
    (
        "composite_reuse",
        lambda a, b: ((a * b).exp() + a / (1 + b * b)).sum(1).mean(),
        SAME,
        _inputs(_normal(3, 4), _normal(3, 4)),
    ),
]

FUNCTIONAL_OPS = [
    ("F.relu", F.relu, TF.relu, _inputs(_away_from_zero(3, 4))),
    ("F.leaky_relu", F.leaky_relu, TF.leaky_relu, _inputs(_away_from_zero(3, 4))),
    (
        "F.leaky_relu_0.2",
        lambda a: F.leaky_relu(a, 0.2),
        lambda a: TF.leaky_relu(a, 0.2),
        _inputs(_away_from_zero(3, 4)),
    ),
    ("F.sigmoid", F.sigmoid, torch.sigmoid, _inputs(_normal(3, 4))),
    ("F.tanh", F.tanh, torch.tanh, _inputs(_normal(3, 4))),
    ("F.gelu", F.gelu, lambda a: TF.gelu(a, approximate="tanh"), _inputs(_normal(3, 4))),
    ("F.softmax_last", F.softmax, lambda a: torch.softmax(a, dim=-1), _inputs(_normal(3, 4))),
    (
        "F.softmax_dim0",
        lambda a: F.softmax(a, dim=0),
        lambda a: torch.softmax(a, dim=0),
        _inputs(_normal(3, 4)),
    ),
    (
        "F.softmax_3d_dim1",
        lambda a: F.softmax(a, dim=1),
        lambda a: torch.softmax(a, dim=1),
        _inputs(_normal(2, 3, 4)),
    ),
    (
        "F.log_softmax_last",
        F.log_softmax,
        lambda a: torch.log_softmax(a, dim=-1),
        _inputs(_normal(3, 4)),
    ),
    (
        "F.log_softmax_dim0",
        lambda a: F.log_softmax(a, dim=0),
        lambda a: torch.log_softmax(a, dim=0),
        _inputs(_normal(3, 4)),
    ),
    # our weight is (in, out); torch.nn.functional.linear takes (out, in)
    (
        "F.linear",
        F.linear,
        lambda x, W, b: TF.linear(x, W.T, b),
        _inputs(_normal(5, 3), _normal(3, 4), _normal(4)),
    ),
    (
        "F.linear_no_bias",
        F.linear,
        lambda x, W: TF.linear(x, W.T),
        _inputs(_normal(5, 3), _normal(3, 4)),
    ),
    (
        "F.linear_1d_input",
        F.linear,
        lambda x, W, b: TF.linear(x, W.T, b),
        _inputs(_normal(3), _normal(3, 4), _normal(4)),
    ),
    ("F.mse_loss", F.mse_loss, TF.mse_loss, _inputs(_normal(5, 3), _normal(5, 3))),
    (
        "F.cross_entropy",
        lambda z: F.cross_entropy(z, np.array([0, 3, 1, 1, 2])),
        lambda z: TF.cross_entropy(z, torch.tensor([0, 3, 1, 1, 2])),
        _inputs(_normal(5, 4)),
    ),
    (
        "F.binary_cross_entropy",
        lambda p: F.binary_cross_entropy(p, np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 0.3]])),
        lambda p: TF.binary_cross_entropy(
            p, torch.tensor([[0.0, 1.0, 1.0], [1.0, 0.0, 0.3]], dtype=torch.float64)
        ),
        _inputs(_positive(2, 3, low=0.05, high=0.95)),
    ),
    (
        "F.bce_with_logits",
        lambda z: F.binary_cross_entropy_with_logits(
            z, np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 0.3]])
        ),
        lambda z: TF.binary_cross_entropy_with_logits(
            z, torch.tensor([[0.0, 1.0, 1.0], [1.0, 0.0, 0.3]], dtype=torch.float64)
        ),
        _inputs(_normal(2, 3)),
    ),
]

ALL_OPS = TENSOR_OPS + FUNCTIONAL_OPS
IDS = [case[0] for case in ALL_OPS]


def _torch_fn(case):
    return case[1] if case[2] is SAME else case[2]


def _case_inputs(case, seed):
    return case[3](np.random.default_rng(seed))


def _output_shape(case, arrays):
    return np.shape(case[1](*[Tensor(a) for a in arrays]).data)


@pytest.mark.parametrize("case", ALL_OPS, ids=IDS)
def test_forward_and_gradients_match_torch_with_random_upstream(case):
    arrays = _case_inputs(case, seed=1)
    rng = np.random.default_rng(2)
    upstream = random_upstream(rng, _output_shape(case, arrays))
    out_md, grads_md = mathdl_vjp(case[1], arrays, upstream)
    out_t, grads_t = torch_vjp(_torch_fn(case), arrays, upstream)
    assert out_md.shape == out_t.shape
    np.testing.assert_allclose(out_md, out_t, rtol=RTOL, atol=ATOL)
    for a, g_md, g_t in zip(arrays, grads_md, grads_t):
        assert g_md is not None, "an input that requires grad got no gradient"
        assert g_md.shape == np.shape(a)
        np.testing.assert_allclose(g_md, g_t, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("case", ALL_OPS, ids=IDS)
def test_gradients_match_independent_central_differences(case):
    arrays = _case_inputs(case, seed=3)
    upstream = random_upstream(np.random.default_rng(4), _output_shape(case, arrays))
    _, grads_md = mathdl_vjp(case[1], arrays, upstream)

    for k, a in enumerate(arrays):

        def scalar_of(x, k=k):
            args = [Tensor(x) if i == k else Tensor(arr) for i, arr in enumerate(arrays)]
            return float(np.sum(case[1](*args).data * upstream))

        numeric = central_difference(scalar_of, a)
        # central differences in float64 with eps=1e-6: error ~1e-9 for these smooth functions
        np.testing.assert_allclose(grads_md[k], numeric, rtol=1e-6, atol=1e-7)


# ----- kink conventions (no finite difference exists there): must agree with torch -------------


@pytest.mark.parametrize(
    "name, md, tt",
    [
        ("relu", lambda a: a.relu(), lambda a: a.relu()),
        ("F.relu", F.relu, TF.relu),
        ("F.leaky_relu", lambda a: F.leaky_relu(a, 0.1), lambda a: TF.leaky_relu(a, 0.1)),
    ],
)
def test_kink_conventions_match_torch(name, md, tt):
    x = np.array([-1.0, -0.0, 0.0, 2.0])
    up = np.array([0.3, -1.7, 0.9, 1.1])
    out_md, (g_md,) = mathdl_vjp(md, [x], up)
    out_t, (g_t,) = torch_vjp(tt, [x], up)
    np.testing.assert_array_equal(out_md, out_t)
    np.testing.assert_array_equal(g_md, g_t)


# ----- numbers and arrays on either side of an operator ----------------------------------------

MIXED = [
    ("number + T", lambda t, c: 2.5 + t),
    ("T + number", lambda t, c: t + 2.5),
    ("array + T", lambda t, c: c + t),
    ("T + array", lambda t, c: t + c),
    ("number - T", lambda t, c: 2.5 - t),
    ("array - T", lambda t, c: c - t),
    ("T - array", lambda t, c: t - c),
    ("number * T", lambda t, c: 3.0 * t),
    ("array * T", lambda t, c: c * t),
    ("T * array", lambda t, c: t * c),
    ("number / T", lambda t, c: 2.0 / t),
    ("array / T", lambda t, c: c / t),
    ("T / array", lambda t, c: t / c),
    ("T / number", lambda t, c: t / 4.0),
    ("array @ T", lambda t, c: c.T @ t),
    ("T @ array", lambda t, c: t @ c.T),
    ("number ** T", lambda t, c: 3.0**t),
    ("T ** number", lambda t, c: t**1.5),
    ("array ** T", lambda t, c: c**t),
    ("T ** array", lambda t, c: t**c),
    ("T ** broadcast array", lambda t, c: t ** c[0]),
    ("broadcast array + T", lambda t, c: c[:, :1] + t),
]


@pytest.mark.parametrize("name, fn", MIXED, ids=[m[0] for m in MIXED])
def test_numbers_and_arrays_on_either_side(name, fn):
    rng = np.random.default_rng(7)
    x = rng.uniform(0.5, 2.0, size=(3, 4))  # positive: safe for division and powers
    c = rng.uniform(0.5, 2.0, size=(3, 4))  # a plain constant (ndarray / torch tensor)
    t_md = Tensor(x, requires_grad=True)
    out_md = fn(t_md, c)
    assert isinstance(out_md, Tensor), f"{name} returned {type(out_md).__name__}, not a Tensor"
    up = random_upstream(rng, out_md.shape)
    out_md.backward(up)

    t_t = torch.tensor(x, requires_grad=True)
    out_t = fn(t_t, torch.tensor(c))
    out_t.backward(torch.tensor(up))
    np.testing.assert_allclose(out_md.data, out_t.detach().numpy(), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(t_md.grad, t_t.grad.numpy(), rtol=RTOL, atol=ATOL)


# ----- (c) properties over shapes with hypothesis -----------------------------------------------

BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow": lambda a, b: a**b,
}


@settings(max_examples=40, deadline=None)
@given(
    shapes=mutually_broadcastable_shapes(
        num_shapes=2, min_dims=0, max_dims=3, min_side=1, max_side=4
    ).map(lambda bs: bs.input_shapes),
    op=st.sampled_from(sorted(BINARY)),
    seed=st.integers(0, 2**32 - 1),
)
@example(shapes=((3, 1), (1, 4)), op="add", seed=0)
@example(shapes=((3, 1), (1, 4)), op="mul", seed=0)
@example(shapes=((1,), (2, 3)), op="mul", seed=1)
@example(shapes=((), (2, 3)), op="div", seed=2)
@example(shapes=((2, 3), ()), op="sub", seed=3)
@example(shapes=((), ()), op="pow", seed=4)
def test_broadcast_binary_gradients_have_input_shapes_and_match_torch(shapes, op, seed):
    shape_a, shape_b = shapes[0], shapes[1]
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.5, 2.0, size=shape_a)  # positive and away from 0: valid for / and **
    b = rng.uniform(0.5, 2.0, size=shape_b) * rng.choice([-1.0, 1.0], size=shape_b)
    out_shape = np.broadcast_shapes(shape_a, shape_b)
    up = random_upstream(rng, out_shape)
    out_md, (ga, gb) = mathdl_vjp(BINARY[op], [a, b], up)
    out_t, (ta, tb) = torch_vjp(BINARY[op], [a, b], up)
    assert out_md.shape == out_shape
    assert ga.shape == shape_a and gb.shape == shape_b
    np.testing.assert_allclose(out_md, out_t, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(ga, ta, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(gb, tb, rtol=RTOL, atol=ATOL)


@st.composite
def _shape_and_dims(draw):
    shape = draw(st.lists(st.integers(1, 4), min_size=0, max_size=3).map(tuple))
    ndim = max(len(shape), 1)  # a 0-d tensor takes dim 0 or -1, as in torch
    dims = draw(
        st.none()
        | st.integers(-ndim, ndim - 1)
        | st.sets(st.integers(0, ndim - 1), min_size=1).map(lambda s: tuple(sorted(s)))
    )
    return shape, dims


@settings(max_examples=40, deadline=None)
@given(
    shape_dims=_shape_and_dims(),
    keepdim=st.booleans(),
    reduction=st.sampled_from(["sum", "mean"]),
    seed=st.integers(0, 2**32 - 1),
)
@example(shape_dims=((), 0), keepdim=False, reduction="sum", seed=0)
@example(shape_dims=((), -1), keepdim=True, reduction="mean", seed=0)
@example(shape_dims=((3, 1), 1), keepdim=False, reduction="mean", seed=0)
@example(shape_dims=((1,), (0,)), keepdim=True, reduction="sum", seed=0)
def test_reduction_gradients_match_torch(shape_dims, keepdim, reduction, seed):
    shape, dims = shape_dims
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)

    if dims is None:

        def fn(t):
            return getattr(t, reduction)()
    else:

        def fn(t):
            return getattr(t, reduction)(dims, keepdim=keepdim)

    out_shape = np.shape(fn(torch.tensor(x)).numpy())
    up = random_upstream(rng, out_shape)
    out_md, (g_md,) = mathdl_vjp(fn, [x], up)
    out_t, (g_t,) = torch_vjp(fn, [x], up)
    assert out_md.shape == out_t.shape
    assert g_md.shape == shape
    np.testing.assert_allclose(out_md, out_t, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(g_md, g_t, rtol=RTOL, atol=ATOL)


@st.composite
def _matmul_shapes(draw):
    n, k, m = draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    batch = draw(
        mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=2, min_side=1, max_side=3)
    )
    kind = draw(st.sampled_from(["mm", "vm", "mv", "vv"]))
    a = (k,) if kind in ("vm", "vv") else batch.input_shapes[0] + (n, k)
    b = (k,) if kind in ("mv", "vv") else batch.input_shapes[1] + (k, m)
    return a, b


@settings(max_examples=40, deadline=None)
@given(shapes=_matmul_shapes(), seed=st.integers(0, 2**32 - 1))
@example(shapes=((1, 1), (1, 1)), seed=0)
@example(shapes=((3, 1), (1, 4)), seed=0)
def test_matmul_gradients_have_input_shapes_and_match_torch(shapes, seed):
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal(shapes[0]), rng.standard_normal(shapes[1])
    out_shape = np.shape(a @ b)
    up = random_upstream(rng, out_shape)
    out_md, (ga, gb) = mathdl_vjp(lambda p, q: p @ q, [a, b], up)
    out_t, (ta, tb) = torch_vjp(lambda p, q: p @ q, [a, b], up)
    assert out_md.shape == out_shape
    assert ga.shape == a.shape and gb.shape == b.shape
    np.testing.assert_allclose(out_md, out_t, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(ga, ta, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(gb, tb, rtol=RTOL, atol=ATOL)


@settings(max_examples=40, deadline=None)
@given(
    shape=st.lists(st.integers(1, 5), min_size=1, max_size=3).map(tuple),
    data=st.data(),
    scale=st.sampled_from([1e-3, 1.0, 30.0, 1e3]),
    seed=st.integers(0, 2**32 - 1),
)
def test_softmax_properties(shape, data, scale, seed):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1), label="dim")
    rng = np.random.default_rng(seed)
    z = scale * rng.standard_normal(shape)
    x = Tensor(z, requires_grad=True)
    s = F.softmax(x, dim=dim)
    assert s.shape == shape
    assert np.all(s.data >= 0) and np.all(np.isfinite(s.data))
    np.testing.assert_allclose(s.data.sum(axis=dim), 1.0, rtol=0, atol=1e-12)
    # softmax is invariant to adding a constant along dim
    shifted = F.softmax(Tensor(z + 5.0), dim=dim).data
    np.testing.assert_allclose(shifted, s.data, rtol=1e-9, atol=1e-12)
    # log_softmax exponentiates to the same distribution
    np.testing.assert_allclose(
        np.exp(F.log_softmax(Tensor(z), dim=dim).data), s.data, rtol=1e-9, atol=1e-12
    )
    # the entries sum to 1 whatever z is, so any vector-Jacobian product sums to 0 along dim
    up = rng.standard_normal(shape)
    s.backward(up)
    np.testing.assert_allclose(
        x.grad.sum(axis=dim), 0.0, rtol=0, atol=1e-9 * max(1.0, np.abs(up).max())
    )
    _, (g_t,) = torch_vjp(lambda t: torch.softmax(t, dim=dim), [z], up)
    np.testing.assert_allclose(x.grad, g_t, rtol=1e-9, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(
    shape=st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple),
    seed=st.integers(0, 2**32 - 1),
)
def test_reshape_and_transpose_gradients_keep_input_shape(shape, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    up = random_upstream(rng, (x.size,))
    _, (g,) = mathdl_vjp(lambda t: t.reshape(-1), [x], up)
    assert g.shape == shape
    np.testing.assert_array_equal(g, up.reshape(shape))
    if len(shape) == 2:
        up2 = random_upstream(rng, shape[::-1])
        _, (g2,) = mathdl_vjp(lambda t: t.T, [x], up2)
        np.testing.assert_array_equal(g2, up2.T)


# ----- accumulation, no_grad, deep graphs ---------------------------------------------------------


def test_gradients_accumulate_across_backward_calls_like_torch():
    rng = np.random.default_rng(21)
    x, w = rng.standard_normal((4, 3)), rng.standard_normal(3)
    up1, up2 = rng.standard_normal(4), rng.standard_normal(4)

    xm, wm = Tensor(x, requires_grad=True), Tensor(w, requires_grad=True)
    (xm @ wm).tanh().backward(up1)
    first = wm.grad.copy()
    (xm @ wm).sigmoid().backward(up2)

    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    (xt @ wt).tanh().backward(torch.tensor(up1))
    np.testing.assert_allclose(first, wt.grad.numpy(), rtol=RTOL, atol=ATOL)
    (xt @ wt).sigmoid().backward(torch.tensor(up2))
    np.testing.assert_allclose(wm.grad, wt.grad.numpy(), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(xm.grad, xt.grad.numpy(), rtol=RTOL, atol=ATOL)
    # the second call added to the first rather than replacing it
    assert not np.allclose(wm.grad, first)


def test_same_loss_backward_twice_doubles_the_gradient():
    x = Tensor([1.0, -2.0, 3.0], requires_grad=True)
    loss = (x * x).sum()
    loss.backward()
    loss.backward()
    np.testing.assert_allclose(x.grad, 2 * 2 * np.array([1.0, -2.0, 3.0]))


def test_ten_thousand_op_chain_backward_has_no_recursion_error():
    n = 10_000
    x = Tensor(0.5, requires_grad=True)
    y = x
    for _ in range(n):
        y = y * 1.0001 + 0.0  # two ops per step: 20,000 nodes
    y.backward()
    np.testing.assert_allclose(x.grad, 1.0001**n, rtol=1e-9)

    x2 = Tensor(np.array([0.1, -0.2]), requires_grad=True)
    h = x2
    for _ in range(n):
        h = h.tanh()
    h.sum().backward()
    # d tanh^n(x)/dx = prod_k (1 - tanh^k(x)^2): an independent product along the chain
    expected = np.ones(2)
    v = np.array([0.1, -0.2])
    for _ in range(n):
        v = np.tanh(v)
        expected *= 1 - v * v
    np.testing.assert_allclose(x2.grad, expected, rtol=1e-9)


# ----- the Tensor itself ------------------------------------------------------------------------


def test_tensor_construction_is_a_float64_copy():
    src = np.array([[1, 2, 3]], dtype=np.int32)
    t = Tensor(src)
    assert t.data.dtype == np.float64 and t.shape == (1, 3) and t.ndim == 2
    assert t.requires_grad is False and t.grad is None
    src[0, 0] = 100
    assert t.data[0, 0] == 1.0  # copied, as torch.tensor copies
    assert Tensor(np.float32(2.5)).data.dtype == np.float64 and Tensor(2.5).shape == ()
    assert Tensor([[1.0, 2.0]], requires_grad=True).requires_grad is True
    u = mathdl.tensor([1, 2], requires_grad=True)
    assert isinstance(u, Tensor) and u.requires_grad and u.data.dtype == np.float64


def test_only_leaves_keep_grad_like_torch():
    x = Tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True)
    y = x * 3.0
    kept = (x * 2.0).retain_grad()
    loss = (y * y).sum() + kept.sum()
    loss.backward()
    assert x.is_leaf and not y.is_leaf
    assert y.grad is None  # torch also leaves a non-leaf's .grad unset
    np.testing.assert_allclose(kept.grad, np.ones(3))
    np.testing.assert_allclose(x.grad, 2 * 9.0 * np.array([1.0, -2.0, 3.0]) + 2.0)
    c = Tensor([1.0, 2.0])  # a constant in the graph gets no gradient
    (x[:2] * c).sum().backward()
    assert c.grad is None


def test_detach_cuts_the_graph():
    x = Tensor(np.array([2.0]), requires_grad=True)
    d = x.detach()
    assert d.requires_grad is False and d.is_leaf
    (x * d).sum().backward()  # d is a constant: d/dx (x * d) = d = 2
    np.testing.assert_allclose(x.grad, [2.0])


MULTI_INPUT = [case for case in ALL_OPS if len(_case_inputs(case, seed=0)) > 1]


@pytest.mark.parametrize("case", MULTI_INPUT, ids=[c[0] for c in MULTI_INPUT])
def test_gradient_of_one_input_when_the_others_are_constants(case):
    # ops skip the gradients nobody needs: the one that is needed must still be right
    arrays = _case_inputs(case, seed=8)
    up = random_upstream(np.random.default_rng(9), _output_shape(case, arrays))
    for k in range(len(arrays)):
        flags = [i == k for i in range(len(arrays))]
        _, g_md = mathdl_vjp(case[1], arrays, up, requires_grad=flags)
        _, g_t = torch_vjp(_torch_fn(case), arrays, up, requires_grad=flags)
        for i in range(len(arrays)):
            if i == k:
                np.testing.assert_allclose(g_md[i], g_t[i], rtol=RTOL, atol=ATOL)
            else:
                assert g_md[i] is None


@pytest.mark.filterwarnings(
    "ignore:divide by zero encountered:RuntimeWarning"
)  # 0 ** -0.5 = inf, as torch
@pytest.mark.parametrize("p", [0.0, 0.5, 1.0, 2.0, 3.0])
def test_pow_at_base_zero_follows_torch(p):
    # where the formulas would multiply 0 by inf, torch defines the gradient as 0
    x = np.array([0.0, 0.0, 1.5, 2.0])
    up = np.array([0.7, -1.3, 0.4, 2.0])
    for md, tt in [(lambda a: a**p, lambda a: a**p), (lambda a, e: a**e, lambda a, e: a**e)]:
        arrays = [x] if md.__code__.co_argcount == 1 else [x, np.full(4, p)]
        out_m, g_m = mathdl_vjp(md, arrays, up)
        out_t, g_t = torch_vjp(tt, arrays, up)
        np.testing.assert_allclose(out_m, out_t, rtol=RTOL, atol=ATOL)
        for a, b in zip(g_m, g_t):
            np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL)  # equal infinities compare equal
    # a scalar exponent tensor broadcast over the base collects 0 from the base-0 entries
    _, (_, ge) = mathdl_vjp(lambda a, e: a**e, [x, np.array(p)], up)
    _, (_, ge_t) = torch_vjp(lambda a, e: a**e, [x, np.array(p)], up)
    np.testing.assert_allclose(ge, ge_t, rtol=RTOL, atol=ATOL)
