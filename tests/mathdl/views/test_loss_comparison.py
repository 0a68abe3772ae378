"""mathdl.views.loss_comparison: the loss-comparison playground draws what its training returns."""

import matplotlib

matplotlib.use("Agg")

import numpy as np


# --- two losses side by side (lesson 07) ---------------------------------------------------------
def test_loss_comparison_playground_draws_what_train_returns():
    from mathdl import data
    from mathdl.views.loss_comparison import loss_comparison_playground

    datasets = {s: data.blobs(60, centers=2, std=1.0, spread=1.5, seed=s) for s in range(21)}
    calls = []

    def train(X, t, loss, lr, scheme, scale, seed):
        calls.append((loss, lr, scheme, scale, seed))
        w = np.array([1.0, 2.0]) * (1 if loss == "mse" else -1)
        acc = np.linspace(0, 1, 40)
        return w, 0.5, acc, (np.inf if lr > 50 else 0.1)

    pg = loss_comparison_playground(
        train, datasets, lambda s, k, seed: np.array([0.0, 1.0]), steps=40
    )
    assert ("mse", 1.0, "he", 10.0, 1) in calls and ("ce", 1.0, "he", 10.0, 1) in calls
    for name, values in {
        "lr": [1e-3, 100.0, 1.0],
        "init": ["zeros", "he"],
        "scale": [0.1, 30.0],
        "seed": [20, 0],
    }.items():
        for v in values:
            pg.controls[name].value = v
    assert pg.errors == []  # lr 100 gives an infinite loss: shown as "diverged", not an error
    # the boundary drawn for "mse" is the line x . w + b = 0 of the w, b that train returned
    ax, ax_acc = pg.axes
    mse_line = next(line for line in ax.get_lines() if line.get_label() == "MSE")
    pts = np.column_stack(mse_line.get_data())
    assert len(pts) == 2 and np.allclose(pts @ [1.0, 2.0] + 0.5, 0)
    acc_line = next(line for line in ax_acc.get_lines() if line.get_label() == "cross-entropy")
    np.testing.assert_allclose(acc_line.get_ydata(), np.linspace(0, 1, 40))
