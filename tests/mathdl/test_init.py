"""mathdl.init: the statistics of each scheme, reproducibility, shapes, validation, and the
30-layer ReLU experiment of He et al. (2015).

Statistical tolerances are 6 standard errors of the estimator for the sample size used
(10^6 weights), so a correct implementation fails with probability ~1e-9 per check while a
wrong fan (e.g. fan_out instead of fan_in) or a wrong constant is off by far more.
"""

import numpy as np
import pytest
import torch

import mathdl
from mathdl import init
from tests.helpers import refs as _refs  # noqa: F401  (one torch thread)

FAN_IN, FAN_OUT = 400, 2500  # unequal, so using the wrong fan changes the variance 6-fold
N = FAN_IN * FAN_OUT  # 10^6 samples
Z = 6.0  # standard errors allowed

# scheme -> (function, kwargs, expected variance, distribution)
SCHEMES = {
    "xavier_uniform": (init.xavier_uniform, {}, 2.0 / (FAN_IN + FAN_OUT), "uniform"),
    "xavier_uniform_gain": (
        init.xavier_uniform,
        {"gain": 5.0 / 3},
        (5.0 / 3) ** 2 * 2.0 / (FAN_IN + FAN_OUT),
        "uniform",
    ),
    "xavier_normal": (init.xavier_normal, {}, 2.0 / (FAN_IN + FAN_OUT), "normal"),
    "xavier_normal_gain": (
        init.xavier_normal,
        {"gain": 2.0},
        4.0 * 2.0 / (FAN_IN + FAN_OUT),
        "normal",
    ),
    "he_uniform": (init.he_uniform, {}, 2.0 / FAN_IN, "uniform"),
    "he_normal": (init.he_normal, {}, 2.0 / FAN_IN, "normal"),
}


@pytest.mark.parametrize("name", sorted(SCHEMES))
def test_mean_variance_and_shape(name):
    fn, kwargs, var, dist = SCHEMES[name]
    W = fn(FAN_IN, FAN_OUT, rng=np.random.default_rng(0), **kwargs)
    assert W.shape == (FAN_IN, FAN_OUT)
    assert W.dtype == np.float64
    sigma = np.sqrt(var)
    # mean: standard error sigma / sqrt(N)
    assert abs(W.mean()) < Z * sigma / np.sqrt(N)
    # variance: the sample variance has relative standard error sqrt((kurtosis - 1) / N),
    # kurtosis 3 for a normal and 9/5 for a uniform
    kurt = 3.0 if dist == "normal" else 1.8
    rel_se = np.sqrt((kurt - 1.0) / N)
    assert W.var() / var == pytest.approx(1.0, abs=Z * rel_se)


@pytest.mark.parametrize("name", [n for n in sorted(SCHEMES) if SCHEMES[n][3] == "uniform"])
def test_uniform_bounds(name):
    fn, kwargs, var, _ = SCHEMES[name]
    W = fn(FAN_IN, FAN_OUT, rng=np.random.default_rng(1), **kwargs)
    a = np.sqrt(3.0 * var)  # U(-a, a) has variance a^2 / 3
    assert np.all(np.abs(W) <= a)
    # with 10^6 draws, the chance that none comes within a*1e-4 of a bound is (1 - 1e-4)^(10^6/2) ~ e^-50
    assert W.max() > a * (1 - 1e-4) and W.min() < -a * (1 - 1e-4)
    # uniform: a fraction p of the entries lie in the inner half of the range, p = 1/2
    frac = np.mean(np.abs(W) < a / 2)
    assert frac == pytest.approx(0.5, abs=Z * np.sqrt(0.25 / N))


@pytest.mark.parametrize("name", [n for n in sorted(SCHEMES) if SCHEMES[n][3] == "normal"])
def test_normal_shape_of_distribution(name):
    fn, kwargs, var, _ = SCHEMES[name]
    W = fn(FAN_IN, FAN_OUT, rng=np.random.default_rng(2), **kwargs)
    sigma = np.sqrt(var)
    p = 0.6826894921370859  # P(|X| < sigma) for a normal (a uniform of the same variance gives 0.577)
    assert np.mean(np.abs(W) < sigma) == pytest.approx(p, abs=Z * np.sqrt(p * (1 - p) / N))
    assert (
        np.abs(W).max() > 4 * sigma
    )  # tails beyond any uniform of this variance (bound 1.73 sigma)


@pytest.mark.parametrize(
    "ours, theirs",
    [
        (lambda fi, fo: init.xavier_uniform(fi, fo, rng=3), torch.nn.init.xavier_uniform_),
        (
            lambda fi, fo: init.he_uniform(fi, fo, rng=3),
            lambda w: torch.nn.init.kaiming_uniform_(w, nonlinearity="relu"),
        ),
    ],
    ids=["xavier_uniform", "he_uniform"],
)
def test_bounds_agree_with_torch_init_on_the_transposed_layout(ours, theirs):
    # torch's weight is (fan_out, fan_in); ours is (fan_in, fan_out): both must use the same fans
    W = ours(FAN_IN, FAN_OUT)
    w_t = torch.empty(FAN_OUT, FAN_IN, dtype=torch.float64)
    torch.manual_seed(0)
    theirs(w_t)
    assert np.abs(W).max() == pytest.approx(w_t.abs().max().item(), rel=2e-4)


@pytest.mark.parametrize(
    "fn", [init.xavier_uniform, init.xavier_normal, init.he_uniform, init.he_normal]
)
def test_reproducible_with_seed_or_generator(fn):
    a = fn(30, 20, rng=123)
    b = fn(30, 20, rng=123)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, fn(30, 20, rng=np.random.default_rng(123)))
    np.testing.assert_array_equal(a, fn(np.int64(30), np.int64(20), rng=np.int64(123)))
    assert not np.array_equal(a, fn(30, 20, rng=124))
    g = np.random.default_rng(5)
    first, second = fn(30, 20, rng=g), fn(30, 20, rng=g)  # a Generator advances between calls
    assert not np.array_equal(first, second)
    assert not np.array_equal(fn(30, 20), fn(30, 20))  # no rng: fresh randomness each call


@pytest.mark.parametrize(
    "fn", [init.xavier_uniform, init.xavier_normal, init.he_uniform, init.he_normal]
)
@pytest.mark.parametrize("fan_in, fan_out", [(1, 1), (1, 7), (7, 1)])
def test_small_shapes(fn, fan_in, fan_out):
    assert fn(fan_in, fan_out, rng=0).shape == (fan_in, fan_out)


@pytest.mark.parametrize(
    "fn", [init.xavier_uniform, init.xavier_normal, init.he_uniform, init.he_normal]
)
@pytest.mark.parametrize("bad", [0, -3, 2.5, "4", None, True])
def test_bad_fans_raise(fn, bad):
    with pytest.raises(ValueError, match="fan_in"):
        fn(bad, 4)
    with pytest.raises(ValueError, match="fan_out"):
        fn(4, bad)


def test_bad_rng_and_unknown_scheme_raise():
    with pytest.raises(TypeError, match="rng"):
        init.he_normal(3, 4, rng="seed")
    with pytest.raises(ValueError, match="unknown initialization"):
        mathdl.nn.Linear(3, 4, init="kaiming-ish")


# ----- He et al. (2015), Section 2.2: 30 ReLU layers -------------------------------------------------

DEPTH, WIDTH, BATCH = 30, 256, 512


def _relu_stack_rms(weight_fn, seed):
    """RMS of the activations after each of DEPTH ReLU layers, relative to the input's RMS."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((BATCH, WIDTH))
    h, ratios = x, []
    rms_in = np.sqrt(np.mean(x * x))
    for _ in range(DEPTH):
        h = np.maximum(h @ weight_fn(WIDTH, WIDTH, rng=rng), 0.0)
        ratios.append(np.sqrt(np.mean(h * h)) / rms_in)
    return np.array(ratios)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("he", [init.he_normal, init.he_uniform], ids=["he_normal", "he_uniform"])
def test_he_init_keeps_activation_scale_through_30_relu_layers(he, seed):
    # Var(W) = 2/fan_in exactly undoes ReLU halving the second moment: E[h_l^2] = E[x^2].
    # With width 256 the per-layer fluctuation is a few percent, so the scale wanders but
    # stays within a factor of 3 at every layer.
    ratios = _relu_stack_rms(he, seed)
    assert np.all(ratios > 1 / 3) and np.all(ratios < 3), ratios


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(
    "xavier", [init.xavier_normal, init.xavier_uniform], ids=["xavier_normal", "xavier_uniform"]
)
def test_xavier_init_shrinks_activations_through_30_relu_layers(xavier, seed):
    # Equal fans: Var(W) = 1/n, so each ReLU layer halves the second moment: after 30 layers
    # E[h^2] = 2^-30 E[x^2], i.e. the RMS shrinks by (1/2)^15 ~ 3e-5.
    ratios = _relu_stack_rms(xavier, seed)
    assert ratios[-1] < 1e-3  # orders of magnitude
    assert 2.0**-15 / 3 < ratios[-1] < 3 * 2.0**-15, ratios[-1]
    # layer by layer: the RMS follows (1/2)^(l/2) within the same factor of 3
    expected = 2.0 ** (-np.arange(1, DEPTH + 1) / 2)
    assert np.all(ratios / expected > 1 / 3) and np.all(ratios / expected < 3)


def test_mlp_init_names_reproduce_the_experiment():
    # the same experiment through mathdl.nn.MLP: 30 Linear layers with ReLU between them
    x = np.random.default_rng(7).standard_normal((BATCH, WIDTH))
    rms_in = np.sqrt(np.mean(x * x))
    out_rms = {}
    for scheme in ("he", "xavier"):
        model = mathdl.nn.MLP([WIDTH] * (DEPTH + 1), activation="relu", init=scheme, rng=8)
        with mathdl.no_grad():
            out = model(mathdl.Tensor(x)).data
        out_rms[scheme] = np.sqrt(np.mean(out * out)) / rms_in
    # the output is the 30th pre-activation: He gives second moment 2 E[x^2] (RMS ratio sqrt 2),
    # Xavier 2^-29 E[x^2]
    assert 1 / 3 < out_rms["he"] / np.sqrt(2) < 3
    assert 1 / 3 < out_rms["xavier"] / 2.0**-14.5 < 3
