"""mathdl.views.parabola: the playground of gradient descent on a parabola (lesson 00).

The experiment is checked against an independent reference, the playground is swept through every
control (``drive``, the sweep the exercise playgrounds use), and what the picture shows is read back
from its artists.
"""

import matplotlib
import numpy as np
import pytest

from mathdl.views.parabola import noise_floor, parabola_playground, parabola_run
from tests.helpers.playgrounds import drive

matplotlib.use("Agg")


# --- lesson 00: gradient descent on a parabola ----------------------------------------------------
def descend(lr, x0, a=1.0, c=1.0, steps=40, noise=0.0, seed=0):
    """The lesson's gradient_descent, written again (the playground takes any such function)."""
    rng = np.random.default_rng(seed)
    xs = [x0]
    for _ in range(steps):
        xs.append(xs[-1] - lr * (a * (xs[-1] - c) + noise * rng.standard_normal()))
    return np.array(xs)


@pytest.mark.parametrize("lr, a", [(0.3, 1.0), (1.7, 1.0), (0.9, 2.0)])
def test_parabola_run_is_the_closed_form_without_noise(lr, a):
    run = parabola_run(descend, lr, -3.0, a, center=1.0, steps=30)
    q = 1 - a * lr
    expected = 1.0 + (-4.0) * q ** np.arange(31)
    np.testing.assert_allclose(run.xs, expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(run.losses, 0.5 * a * (expected - 1.0) ** 2, rtol=1e-9, atol=1e-20)
    assert run.q == pytest.approx(q) and run.floor is None and not run.diverged


def test_parabola_divergence_needs_something_to_amplify():
    assert parabola_run(descend, 2.5, -3.0, 1.0).diverged
    assert not parabola_run(descend, 2.5, 1.0, 1.0).diverged  # at the minimum: nothing moves
    assert parabola_run(descend, 2.5, 1.0, 1.0, noise=0.5).diverged  # noise gets amplified


@pytest.mark.parametrize("lr, a, sigma", [(0.3, 1.0, 1.0), (0.8, 2.0, 0.5), (1.5, 1.0, 2.0)])
def test_noise_floor_is_the_mean_loss_of_a_long_run(lr, a, sigma):
    # 4000 independent chains, 400 steps each (far past the transient): the mean loss at the end
    rng = np.random.default_rng(1)
    e = np.zeros(4000)
    for _ in range(400):
        e = (1 - a * lr) * e - lr * sigma * rng.standard_normal(4000)
    measured = np.mean(0.5 * a * e**2)
    assert noise_floor(lr, a, sigma) == pytest.approx(measured, rel=0.06)


def test_parabola_bad_inputs_are_named():
    with pytest.raises(ValueError, match="converge"):
        noise_floor(2.5, 1.0, 1.0)
    with pytest.raises(ValueError, match="a > 0"):
        parabola_run(descend, 0.1, 0.0, -1.0)
    with pytest.raises(ValueError, match="iterates"):
        parabola_run(lambda *a, **k: np.zeros(3), 0.1, 0.0, 1.0, steps=40)


def test_parabola_playground_draws_the_run_and_survives_every_control():
    pg = parabola_playground(descend, center=1.0, steps=40)
    pg.set(lr=0.5, noise=1.0, seed=3, a=2.0)
    run = parabola_run(descend, 0.5, -3.0, 2.0, 1.0, 3)
    loss_line = pg.view.loss.lines["loss"]
    np.testing.assert_allclose(loss_line.get_ydata(), np.maximum(run.losses, 1e-12))
    floor = pg.view.loss.lines["floor"].get_ydata()
    assert np.allclose(floor, 0.5 * 1.0**2 / (2 * (2 - 2.0 * 0.5)))
    pg.set(noise=0.0)
    assert len(pg.view.loss.lines["floor"].get_ydata()) == 0  # no noise, no floor
    pg.set(lr=1.5)  # 1.5 > 2/a = 1
    assert pg.diverged
    pg.set(lr=0.3, a=1.0, noise=0.0, seed=0)
    assert not pg.diverged
    assert drive(pg) == []
