"""mathdl.data: the seeded synthetic data sets."""

import numpy as np
import pytest

from mathdl import data

GENERATORS = {
    "spirals": (lambda seed: data.spirals(n_per_class=50, n_classes=4, seed=seed), 200, 4),
    "moons": (lambda seed: data.moons(n=101, seed=seed), 101, 2),
    "blobs": (lambda seed: data.blobs(n=90, centers=3, seed=seed), 90, 3),
}


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_classification_sets_shapes_dtypes_and_labels(name):
    make, n, k = GENERATORS[name]
    X, y = make(0)
    assert X.shape == (n, 2) and X.dtype == np.float64
    assert y.shape == (n,) and y.dtype == np.int64
    assert np.all(np.isfinite(X))
    counts = np.bincount(y, minlength=k)
    assert len(counts) == k and counts.max() - counts.min() <= 1  # balanced classes 0..k-1


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_classification_sets_reproducible_from_seed(name):
    make = GENERATORS[name][0]
    X1, y1 = make(7)
    X2, y2 = make(7)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    X3, _ = make(8)
    assert not np.array_equal(X1, X3)
    # a numpy Generator works as a seed too: a fresh default_rng(7) gives the seed-7 set, and a
    # Generator that has already been used gives another one
    X4, y4 = make(np.random.default_rng(7))
    np.testing.assert_array_equal(X4, X1)
    np.testing.assert_array_equal(y4, y1)
    g = np.random.default_rng(7)
    g.standard_normal(3)
    assert not np.array_equal(make(g)[0], X1)


def test_default_set_sizes():
    assert data.spirals()[0].shape == (300, 2)  # 3 classes x 100
    assert data.moons()[0].shape == (200, 2)
    assert data.blobs()[0].shape == (300, 2)
    x, y = data.regression_1d()
    assert x.shape == (100, 1) and y.shape == (100, 1)


def test_regression_1d_shapes_and_signal():
    x, y = data.regression_1d(n=500, noise=0.1, seed=3)
    assert x.shape == (500, 1) and y.shape == (500, 1)
    assert x.dtype == np.float64 and y.dtype == np.float64
    assert np.all((x >= 0) & (x <= 1)) and np.all(np.diff(x[:, 0]) >= 0)  # sorted inputs in [0, 1]
    resid = y - np.sin(2 * np.pi * x)
    # the noise has standard deviation 0.1: 500 samples estimate it within ~3% (6 standard errors ~ 19%)
    assert resid.std() == pytest.approx(0.1, rel=0.2)
    x2, y2 = data.regression_1d(n=500, noise=0.1, seed=3)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    x0, y0 = data.regression_1d(n=50, noise=0.0, seed=0)
    np.testing.assert_allclose(y0, np.sin(2 * np.pi * x0), atol=1e-15)


def test_noise_free_sets_have_their_shape():
    X, y = data.moons(n=100, noise=0.0)
    upper = X[y == 0]
    np.testing.assert_allclose(
        np.hypot(upper[:, 0], upper[:, 1]), 1.0, atol=1e-12
    )  # a unit half circle
    X, y = data.spirals(n_per_class=30, n_classes=3, noise=0.0)
    r = np.hypot(X[:, 0], X[:, 1])
    np.testing.assert_allclose(
        r[:30], np.linspace(0, 1, 30), atol=1e-12
    )  # radius runs 0 -> 1 along an arm


def test_train_test_split():
    X, y = data.blobs(n=100, seed=0)
    X_tr, X_te, y_tr, y_te = data.train_test_split(X, y, test_fraction=0.2, seed=1)
    assert (
        X_tr.shape == (80, 2)
        and X_te.shape == (20, 2)
        and y_tr.shape == (80,)
        and y_te.shape == (20,)
    )
    # a partition of the rows: together they are the original rows, once each
    both = np.vstack([X_tr, X_te])
    assert sorted(map(tuple, both)) == sorted(map(tuple, X))
    again = data.train_test_split(X, y, test_fraction=0.2, seed=1)
    np.testing.assert_array_equal(again[1], X_te)
    with pytest.raises(ValueError, match="test_fraction"):
        data.train_test_split(X, y, test_fraction=1.5)
    with pytest.raises(ValueError, match=r"100 rows.*99"):
        data.train_test_split(X, y[:99])
