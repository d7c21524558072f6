"""gdlib.functions: test surfaces (values, gradients, minima) and the optimizer driver."""

import numpy as np
import pytest

from gdlib import functions, optimizers

SURFACES = [
    functions.IllConditionedQuadratic(condition_number=10),
    functions.IllConditionedQuadratic(condition_number=25, angle=30),
    functions.Rosenbrock(),
    functions.Rosenbrock(a=2.0, b=10.0),
    functions.Beale(),
    functions.Himmelblau(),
    functions.Saddle(),
    functions.Saddle("monkey"),
    functions.Branin(),
]
IDS = [repr(s) for s in SURFACES]


@pytest.mark.parametrize("surface", SURFACES, ids=IDS)
def test_gradient_matches_central_differences(surface):
    rng = np.random.default_rng(0)
    (x_min, x_max), (y_min, y_max) = surface.bounds
    points = np.column_stack([rng.uniform(x_min, x_max, 20), rng.uniform(y_min, y_max, 20)])
    h = 1e-6
    numeric = np.stack(
        [(surface(points + h * e) - surface(points - h * e)) / (2 * h) for e in np.eye(2)], axis=-1
    )
    scale = np.maximum(1.0, np.abs(numeric))
    np.testing.assert_allclose(surface.gradient(points) / scale, numeric / scale, atol=1e-5)


@pytest.mark.parametrize("surface", SURFACES, ids=IDS)
def test_minima_have_zero_gradient_and_the_stated_value(surface):
    for point in surface.minima:
        np.testing.assert_allclose(surface.gradient(point), [0.0, 0.0], atol=1e-9)
        assert surface(point) == pytest.approx(surface.minimum_value, abs=1e-12)
        # A minimum: every small step goes up.
        for direction in [(1, 0), (0, 1), (1, 1), (1, -1), (-1, 0.3)]:
            assert surface(point + 1e-3 * np.array(direction)) > surface(point)


def test_known_values_by_hand():
    # Rosenbrock at the origin: (1 - 0)^2 + 100 (0 - 0)^2 = 1, gradient (-2, 0).
    assert functions.Rosenbrock()((0.0, 0.0)) == 1.0
    np.testing.assert_allclose(functions.Rosenbrock().gradient((0.0, 0.0)), [-2.0, 0.0])
    # Himmelblau at the origin: 11^2 + 7^2 = 170; gradient (2 * -7, 2 * -11) = (-14, -22).
    assert functions.Himmelblau()((0.0, 0.0)) == 170.0
    np.testing.assert_allclose(functions.Himmelblau().gradient((0.0, 0.0)), [-14.0, -22.0])
    # Beale at (1, 1): 1.5^2 + 2.25^2 + 2.625^2.
    assert functions.Beale()((1.0, 1.0)) == pytest.approx(1.5**2 + 2.25**2 + 2.625**2)
    # Quadratic, kappa = 10: f(1, 1) = (1 + 10) / 2; rotated by 90 degrees the axes swap.
    assert functions.IllConditionedQuadratic(10)((1.0, 1.0)) == pytest.approx(5.5)
    assert functions.IllConditionedQuadratic(10, angle=90)((1.0, 0.0)) == pytest.approx(5.0)
    assert functions.IllConditionedQuadratic(10, angle=90)((0.0, 1.0)) == pytest.approx(0.5)


def test_branin_minimum_value_by_hand():
    # At x = pi the squared term vanishes for y = 2.275 and cos(pi) = -1, leaving
    # s (1 - t)(-1) + s = s t = 10 / (8 pi) = 0.397887...
    branin = functions.Branin()
    assert branin((np.pi, 2.275)) == pytest.approx(0.3978873577, abs=1e-9)
    assert branin.minimum_value == pytest.approx(0.3978873577, abs=1e-9)
    # At the origin: (0 - 0 + 0 - 6)^2 + 10 (1 - t) + 10 = 36 + 20 - 10 t.
    assert branin((0.0, 0.0)) == pytest.approx(56.0 - 10.0 / (8 * np.pi))
    assert functions.get("branin").name == "Branin"


def test_himmelblau_has_four_distinct_minima():
    minima = np.array(functions.Himmelblau.minima)
    assert minima.shape == (4, 2)
    distances = np.linalg.norm(minima[:, None] - minima[None], axis=-1)
    assert np.all(distances[~np.eye(4, dtype=bool)] > 1.0)


@pytest.mark.parametrize("kind", ["simple", "monkey"])
def test_saddle_has_no_minimum_and_a_stationary_saddle_point(kind):
    saddle = functions.Saddle(kind)
    assert saddle.minima == []
    (point,) = saddle.saddle_points
    np.testing.assert_array_equal(saddle.gradient(point), [0.0, 0.0])
    # Lower than the saddle point somewhere nearby, higher somewhere else: not a minimum or maximum.
    nearby = point + 1e-2 * np.array([[1, 0], [0, 1], [-1, 0], [0, -1], [1, 1], [-1, 1]])
    values = saddle(nearby)
    assert values.min() < saddle(point) < values.max()


def test_vectorised_evaluation_and_grid():
    surface = functions.Himmelblau()
    X, Y, Z = surface.grid(num=7)
    assert X.shape == Y.shape == Z.shape == (7, 7)
    assert X[0, 0] == surface.bounds[0][0] and Y[-1, -1] == surface.bounds[1][1]
    np.testing.assert_allclose(Z, [[surface((x, y)) for x, y in zip(xr, yr)] for xr, yr in zip(X, Y)])
    points = np.stack([X, Y], axis=-1)
    assert surface(points).shape == (7, 7)
    assert surface.gradient(points).shape == (7, 7, 2)


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match="condition_number"):
        functions.IllConditionedQuadratic(condition_number=0.5)
    with pytest.raises(ValueError, match="kind"):
        functions.Saddle("horse")
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        functions.Rosenbrock()(np.zeros(3))
    with pytest.raises(ValueError, match="Valid names"):
        functions.get("sphere")
    assert isinstance(functions.get("rosenbrock"), functions.Rosenbrock)


# ---------------------------------------------------------------- run_optimizer


@pytest.mark.parametrize("learning_rate", [0.05, 0.15])
def test_sgd_on_the_quadratic_matches_the_closed_form(learning_rate):
    # f = (x^2 + kappa y^2) / 2, so w_k = (1 - lr * lambda)^k w_0 on each axis, lambda = (1, kappa).
    surface = functions.IllConditionedQuadratic(condition_number=10)
    start = np.array([1.5, -1.0])
    path, losses = functions.run_optimizer(optimizers.SGD(learning_rate), surface, start, steps=25)
    k = np.arange(26)[:, None]
    expected = (1.0 - learning_rate * np.array([1.0, 10.0])) ** k * start
    np.testing.assert_allclose(path, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(losses, surface(path))
    assert path.shape == (26, 2) and losses.shape == (26,)


def test_sgd_diverges_above_two_over_kappa_and_the_path_records_it():
    # lr = 0.25 > 2 / 10: the steep axis is multiplied by (1 - 2.5) = -1.5 each step.
    path, losses = functions.run_optimizer(optimizers.SGD(0.25), functions.IllConditionedQuadratic(10),
                                           (0.0, 1.0), steps=10)
    np.testing.assert_allclose(path[:, 1], (-1.5) ** np.arange(11), rtol=1e-5)
    assert losses[-1] > 100 * losses[0]


def test_momentum_step_by_hand_on_rosenbrock():
    # Keras SGD with momentum: v = m v - lr g; w = w + v. From (0, 0), g = (-2, 0):
    # step 1: v = -0.01 * (-2, 0) = (0.02, 0); w = (0.02, 0).
    # step 2: g(0.02, 0) = (-2 * 0.98 - 400 * 0.02 * (0 - 0.0004), 200 * (0 - 0.0004))
    #                    = (-1.9568, -0.08); v = 0.9 * (0.02, 0) + 0.01 * (1.9568, 0.08).
    path, _ = functions.run_optimizer(optimizers.SGD(0.01, momentum=0.9), functions.Rosenbrock(),
                                      (0.0, 0.0), steps=2)
    np.testing.assert_allclose(path[1], [0.02, 0.0], rtol=1e-6)
    np.testing.assert_allclose(path[2], [0.02 + 0.018 + 0.019568, 0.0008], rtol=1e-5)


def test_float64_path_and_float32_path_agree_to_float32_precision():
    surface = functions.Rosenbrock()
    path32, _ = functions.run_optimizer(optimizers.Adam(0.02), surface, (-1.5, 2.0), 200)
    path64, _ = functions.run_optimizer(optimizers.Adam(0.02), surface, (-1.5, 2.0), 200, dtype="float64")
    np.testing.assert_allclose(path32, path64, atol=1e-3)
    assert not np.array_equal(path32, path64)  # float32 round-off is really there


def test_gradient_noise_is_seeded():
    surface = functions.Saddle()

    def run(seed):
        return functions.run_optimizer(optimizers.SGD(0.1), surface, (1.0, 0.0), 30, noise_std=0.01, seed=seed)[0]

    np.testing.assert_array_equal(run(1), run(1))
    assert not np.array_equal(run(1), run(2))
    # Without noise, started on the x axis, descent walks into the saddle point and stays on the axis.
    clean, _ = functions.run_optimizer(optimizers.SGD(0.1), surface, (1.0, 0.0), 30)
    assert np.all(clean[:, 1] == 0.0) and abs(clean[-1, 0]) < 1e-2
    # With noise it escapes along y, where the surface goes down.
    assert abs(run(1)[-1, 1]) > 0.1


def test_optimizer_by_name_and_refusal_of_a_used_optimizer():
    path, _ = functions.run_optimizer("sgd", functions.IllConditionedQuadratic(10), (1.0, 1.0), 3)
    np.testing.assert_allclose(path[:, 0], 0.99 ** np.arange(4), rtol=1e-6)  # Keras SGD default lr 0.01
    optimizer = optimizers.Adam(0.1)
    functions.run_optimizer(optimizer, functions.Beale(), (1.0, 1.0), 2)
    with pytest.raises(ValueError, match="already taken 2 steps"):
        functions.run_optimizer(optimizer, functions.Beale(), (1.0, 1.0), 2)
    with pytest.raises(ValueError, match="start"):
        functions.run_optimizer("sgd", functions.Beale(), (1.0, 1.0, 1.0), 2)
    with pytest.raises(ValueError, match="steps"):
        functions.run_optimizer("sgd", functions.Beale(), (1.0, 1.0), -1)
