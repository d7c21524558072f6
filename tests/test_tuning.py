"""gdlib.tuning: the hp space, grid/random/Bayesian tuners, the Gaussian process, parallel trials."""

import math
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import numpy as np
import pytest

import gdlib
from gdlib import tuning
from gdlib.tuning import HyperParameters

BRANIN_MINIMUM = 0.397887357729738


def branin(x, y):
    """Branin-Hoo: three global minima of value 0.397887 on [-5, 10] x [0, 15]."""
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (y - b * x**2 + c * x - 6) ** 2 + 10 * (1 - t) * math.cos(x) + 10


# Module-level objectives, so that a process pool can pickle them.
def branin_objective(hp):
    return branin(hp.Float("x", -5.0, 10.0), hp.Float("y", 0.0, 15.0))


def mixed_objective(hp):
    x = hp.Float("x", -2.0, 2.0)
    rate = hp.Float("rate", 1e-4, 1e-1, sampling="log")
    width = hp.Int("width", 1, 8)
    act = hp.Choice("act", ["relu", "tanh"])
    bonus = 0.5 if hp.Boolean("bonus") else 0.0
    return (x - 1.0) ** 2 + (math.log10(rate) + 2.0) ** 2 + 0.1 * width + (act == "tanh") - bonus


# ---------------------------------------------------------------- HyperParameters


def test_first_call_registers_and_returns_the_default_later_calls_the_current_value():
    hp = HyperParameters()
    assert hp.Choice("act", ["relu", "tanh"]) == "relu"           # Keras Tuner: values[0]
    assert hp.Int("units", 8, 64, step=8) == 8                     # min_value
    assert hp.Float("lr", 1e-4, 1e-1, sampling="log", default=1e-3) == 1e-3
    assert hp.Boolean("dropout") is False
    assert hp.values == {"act": "relu", "units": 8, "lr": 1e-3, "dropout": False}
    hp.values["units"] = 32
    assert hp.Int("units", 8, 64, step=8) == 32 and hp.get("units") == 32
    assert [p.name for p in hp.space] == ["act", "units", "lr", "dropout"]
    with pytest.raises(KeyError, match="'nope' does not exist"):
        hp.get("nope")
    with pytest.raises(ValueError, match="already defined"):
        hp.Int("units", 8, 128, step=8)


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda hp: hp.Choice("a", []), ValueError, "non-empty"),
        (lambda hp: hp.Choice("a", [1, "x"]), TypeError, "must all be int"),
        (lambda hp: hp.Choice("a", ["x"], default="y"), ValueError, "must be one of"),
        (lambda hp: hp.Int("n", 5, 1), ValueError, r"min_value.*<=.*max_value.*min_value=5, max_value=1"),
        (lambda hp: hp.Float("x", 2.0, -2.0), ValueError, "min_value=2.0, max_value=-2.0"),
        (lambda hp: hp.Float("lr", 0.0, 1.0, sampling="log"), ValueError, r"min_value` > 0.*min_value=0.0"),
        (lambda hp: hp.Int("n", -1, 8, sampling="log"), ValueError, "min_value=-1"),
        (lambda hp: hp.Float("x", 0.0, 1.0, sampling="cubic"), ValueError, "sampling='cubic'"),
        (lambda hp: hp.Float("lr", 1e-4, 1.0, step=0.5, sampling="log"), ValueError, "must be > 1"),
        (lambda hp: hp.Int("n", 1.5, 4), ValueError, "must be an integer"),
        (lambda hp: hp.Float("x", 0.0, 1.0, default=2.0), ValueError, r"in \[0.0, 1.0\]"),
        (lambda hp: hp.Boolean("b", default=1), TypeError, "must be a bool"),
        (lambda hp: hp.Float(3, 0.0, 1.0), TypeError, "name"),
    ],
)
def test_bad_hyperparameters_raise_clear_errors(make, error, message):
    with pytest.raises(error, match=message):
        make(HyperParameters())


def test_unit_interval_maps_follow_keras_tuner():
    # log sampling: u = 0.5 is the geometric middle, 1e-4 * (1e-1 / 1e-4) ** 0.5 = 10 ** -2.5.
    lr = tuning.Float("lr", 1e-4, 1e-1, sampling="log")
    assert lr.from_unit(0.5) == pytest.approx(10**-2.5)
    assert lr.to_unit(1e-2) == pytest.approx(2 / 3)
    # Int: max included; each of the 3 values owns a third of [0, 1).
    n = tuning.Int("n", 1, 3)
    assert n.values == [1, 2, 3]
    assert [n.from_unit(u) for u in (0.0, 0.34, 0.67, 0.9999)] == [1, 2, 3, 3]
    assert n.to_unit(2) == pytest.approx(0.5)
    # Steps: additive for linear, multiplicative for log (Keras Tuner's docstring examples).
    assert tuning.Int("layers", 6, 13, step=3).values == [6, 9, 12]
    assert tuning.Int("batch", 2, 32, step=2, sampling="log").values == [2, 4, 8, 16, 32]
    np.testing.assert_allclose(tuning.Float("lr", 0.001, 10, step=10, sampling="log").values,
                               [0.001, 0.01, 0.1, 1, 10])
    # Without a step a grid takes the 10 bucket centres.
    np.testing.assert_allclose(tuning.Float("x", 0, 1).values, np.arange(0.05, 1, 0.1))
    # The Gaussian process sees ordered choices as a number, unordered ones one-hot.
    assert tuning.Choice("units", [16, 32, 64]).encode(64) == [pytest.approx(5 / 6)]
    assert tuning.Choice("act", ["relu", "tanh", "elu"]).encode("tanh") == [0.0, 1.0, 0.0]
    assert tuning.Boolean("b").encode(True) == [0.75]


@pytest.mark.parametrize(
    "hyperparameter",
    [tuning.Float("x", -1, 3), tuning.Float("x", 0.5, 2.0, step=0.5), tuning.Int("n", 1, 9),
     tuning.Int("n", 2, 64, step=2, sampling="log"), tuning.Int("n", 1, 100, sampling="log"),
     tuning.Choice("c", [1, 5, 7]), tuning.Choice("c", ["a", "b"]), tuning.Boolean("b")],
    ids=repr,
)
def test_vectorised_features_equal_encode_of_from_unit(hyperparameter):
    u = np.random.default_rng(0).random(50)
    expected = np.array([hyperparameter.encode(hyperparameter.from_unit(v)) for v in u])
    np.testing.assert_allclose(hyperparameter.features_from_unit(u), expected)


# ---------------------------------------------------------------- objectives


def test_objective_directions_are_inferred_as_keras_tuner():
    assert tuning.infer_direction("val_loss") == "min"
    assert tuning.infer_direction("val_accuracy") == "max"
    assert tuning.infer_direction("val_mae") == "min"
    assert tuning.infer_direction("weighted_binary_accuracy") == "max"
    assert tuning.infer_direction("val_f_one") is None
    with pytest.raises(ValueError, match="Objective\\('val_f_one', direction='min' or 'max'\\)"):
        tuning.RandomSearch(objective_fn=branin_objective, objective="val_f_one")
    with pytest.raises(TypeError, match="objective"):
        tuning.RandomSearch(objective_fn=branin_objective, objective=3)
    with pytest.raises(ValueError, match="direction"):
        tuning.Objective("f1", "up")


def test_a_dict_result_uses_the_named_objective_and_its_direction():
    def f(hp):
        x = hp.Choice("x", [1.0, 2.0, 3.0])
        return {"accuracy": x, "loss": -x}

    tuner = tuning.GridSearch(objective_fn=f, objective="accuracy")
    tuner.search()
    assert [t["score"] for t in tuner.trials] == [1.0, 2.0, 3.0]
    assert tuner.get_best_hyperparameters()[0].get("x") == 3.0   # maximised
    with pytest.raises(ValueError, match=r"'score' is not among the results.*\['accuracy', 'loss'\]"):
        tuning.GridSearch(objective_fn=f).search()


def test_a_callable_objective_is_applied_to_the_result_and_minimised():
    def f(hp):
        return {"a": hp.Choice("x", [1.0, 2.0, 3.0]), "b": 10.0}

    tuner = tuning.GridSearch(objective_fn=f, objective=lambda result: abs(result["a"] - 2.0))
    tuner.search()
    assert [t["score"] for t in tuner.trials] == [1.0, 0.0, 1.0]
    assert tuner.get_best_hyperparameters()[0].values == {"x": 2.0}


# ---------------------------------------------------------------- grid and random search


def test_grid_search_walks_the_grid_defaults_first_last_hyperparameter_fastest():
    def f(hp):
        return hp.Choice("a", [1, 2, 3], default=2) * 10 + hp.Boolean("b")

    tuner = tuning.GridSearch(objective_fn=f)
    tuner.search()
    assert [t["hyperparameters"] for t in tuner.trials] == [
        {"a": 2, "b": False}, {"a": 2, "b": True}, {"a": 1, "b": False},
        {"a": 1, "b": True}, {"a": 3, "b": False}, {"a": 3, "b": True},
    ]
    assert [t["score"] for t in tuner.trials] == [20, 21, 10, 11, 30, 31]
    assert [t["trial_id"] for t in tuner.trials] == list(range(6))
    tuner.search()                                  # the grid is exhausted: nothing more
    assert len(tuner.trials) == 6
    assert tuning.GridSearch(objective_fn=f, max_trials=4).search()[-1]["trial_id"] == 3


def test_random_search_is_seeded_and_stays_in_range():
    def run(seed):
        tuner = tuning.RandomSearch(objective_fn=mixed_objective, max_trials=15, seed=seed)
        tuner.search()
        return tuner

    a, b, c = run(1), run(1), run(2)

    def strip(tuner):
        return [{k: v for k, v in t.items() if k != "seconds"} for t in tuner.trials]

    assert strip(a) == strip(b)
    assert strip(a) != strip(c)
    for trial in a.trials:
        values = trial["hyperparameters"]
        assert set(trial) == {"trial_id", "hyperparameters", "score", "seconds", "status"}
        assert trial["status"] == "COMPLETED" and trial["seconds"] >= 0
        assert -2 <= values["x"] <= 2 and 1e-4 <= values["rate"] <= 1e-1
        assert values["width"] in range(1, 9) and values["act"] in ("relu", "tanh")
        assert trial["score"] == pytest.approx(mixed_objective(HyperParameters().copy(values)))
    # Log sampling: about as many draws per decade.
    rates = np.log10([t["hyperparameters"]["rate"] for t in run(3).trials + run(4).trials])
    assert np.all(np.histogram(rates, bins=3, range=(-4, -1))[0] >= 3)


def test_random_search_stops_when_a_small_space_is_exhausted():
    tuner = tuning.RandomSearch(objective_fn=lambda hp: hp.Int("n", 1, 3), max_trials=10, seed=0)
    tuner.search()
    assert sorted(t["hyperparameters"]["n"] for t in tuner.trials) == [1, 2, 3]


def test_best_hyperparameters_results_summary_and_failed_trials():
    def f(hp):
        x = hp.Choice("x", [3.0, 1.0, 2.0, -1.0])
        return math.nan if x < 0 else x

    tuner = tuning.GridSearch(objective_fn=f)
    tuner.search()
    assert [t["status"] for t in tuner.trials] == ["COMPLETED"] * 3 + ["FAILED"]
    best = tuner.get_best_hyperparameters(num_trials=2)
    assert [hp.get("x") for hp in best] == [1.0, 2.0]
    lines = []
    tuner.results_summary(num_trials=2, print_fn=lines.append)
    assert "2 best of 4 trials" in lines[0]
    assert lines[2].split() == ["trial", "score", "seconds", "x"]
    assert lines[4].split()[:2] == ["01", "1"] and lines[5].split()[:2] == ["02", "2"]
    # Seconds carry their unit, so a notebook's output sanitiser can mask them.
    assert lines[4].split()[3] == "s"
    with pytest.raises(TypeError, match="get_best_hyperparameters"):
        tuner.get_best_models()


def test_executions_per_trial_are_averaged():
    calls = []

    def noisy(hp):
        hp.Fixed("k", 1)
        calls.append(1)
        return 1.0 if len(calls) % 2 else 3.0       # 1, 3, 1, 3, ... (call 1 learns the space)

    tuner = tuning.RandomSearch(objective_fn=noisy, max_trials=1, executions_per_trial=2, seed=0)
    tuner.search()
    assert tuner.trials[0]["score"] == 2.0
    assert len(calls) == 3


def test_tuner_argument_errors():
    with pytest.raises(ValueError, match="exactly one of `hypermodel`"):
        tuning.RandomSearch()
    with pytest.raises(ValueError, match="max_trials"):
        tuning.RandomSearch(objective_fn=branin_objective, max_trials=0)
    with pytest.raises(ValueError, match="executions_per_trial"):
        tuning.RandomSearch(objective_fn=branin_objective, executions_per_trial=0)
    with pytest.raises(TypeError, match="executor"):
        tuning.RandomSearch(objective_fn=branin_objective, executor="pool")
    with pytest.raises(TypeError, match="takes no data"):
        tuning.RandomSearch(objective_fn=branin_objective).search(np.zeros(3))
    with pytest.raises(ValueError, match="num_initial_points"):
        tuning.BayesianOptimization(objective_fn=branin_objective, num_initial_points=0)
    with pytest.raises(TypeError, match="a number or a dict"):
        tuning.RandomSearch(objective_fn=lambda hp: "good").search()


# ---------------------------------------------------------------- Gaussian process and EI


def test_expected_improvement_by_hand():
    # sigma = 0: EI = max(best - mu - xi, 0).
    np.testing.assert_allclose(tuning.expected_improvement([0.5, 2.0], [0.0, 0.0], best=1.0, xi=0.1),
                               [0.4, 0.0])
    # mu = best, xi = 0: z = 0, EI = sigma * phi(0) = sigma / sqrt(2 pi).
    assert tuning.expected_improvement(1.0, 2.0, best=1.0, xi=0.0) == pytest.approx(2 / math.sqrt(2 * math.pi))
    # mu = 0, sigma = 1, best = 1, xi = 0: z = 1, EI = Phi(1) + phi(1) = 0.841345 + 0.241971.
    assert tuning.expected_improvement(0.0, 1.0, best=1.0, xi=0.0) == pytest.approx(1.083315, abs=1e-6)
    with pytest.raises(ValueError, match="xi"):
        tuning.expected_improvement(0.0, 1.0, best=1.0, xi=-1)


def test_gp_likelihood_gradient_matches_central_differences():
    rng = np.random.default_rng(0)
    X, y = rng.random((12, 3)), rng.standard_normal(12)
    gp = tuning.GaussianProcess()
    theta = np.array([-1.0, -0.5, 0.3, 0.2, -3.0])
    _, gradient = gp.negative_log_marginal_likelihood(theta, X, y)
    h = 1e-6
    numeric = [(gp.negative_log_marginal_likelihood(theta + h * e, X, y)[0]
                - gp.negative_log_marginal_likelihood(theta - h * e, X, y)[0]) / (2 * h) for e in np.eye(5)]
    np.testing.assert_allclose(gradient, numeric, rtol=1e-5, atol=1e-6)


def test_gp_posterior_interpolates_and_fitting_raises_the_likelihood():
    X = np.array([[0.05], [0.3], [0.5], [0.8], [0.95]])
    y = np.sin(6 * X[:, 0])
    gp = tuning.GaussianProcess(seed=0)
    gp.fit(X, y, optimize=False)                    # default kernel: l = 0.3
    before = gp.log_marginal_likelihood()
    gp.fit(X, y)
    assert gp.log_marginal_likelihood() > before
    mean, std = gp.predict(X, return_std=True)
    np.testing.assert_allclose(mean, y, atol=1e-2)
    assert np.all(std < 0.05)
    _, std_between = gp.predict([[0.65]], return_std=True)
    assert std_between[0] > 5 * std.max()
    # The kernel itself: k(x, x) = s, and Matern 5/2 at r = 1: s (1 + sqrt5 + 5/3) e^-sqrt5.
    k = tuning.matern52(np.array([[0.0], [1.0]]), np.array([[0.0]]), np.array([1.0]), 2.0)
    np.testing.assert_allclose(k[:, 0], [2.0, 2.0 * (1 + math.sqrt(5) + 5 / 3) * math.exp(-math.sqrt(5))])


def test_bayesian_optimization_beats_random_search_on_branin():
    gaps = {}
    for name, tuner_class in (("random", tuning.RandomSearch), ("bayesian", tuning.BayesianOptimization)):
        gaps[name] = []
        for seed in range(10):
            tuner = tuner_class(objective_fn=branin_objective, max_trials=20, seed=seed)
            tuner.search()
            gaps[name].append(min(t["score"] for t in tuner.trials) - BRANIN_MINIMUM)
    # Same budget of 20 trials, 10 seeds each: the surrogate finds a lower point on average.
    assert np.mean(gaps["bayesian"]) < np.mean(gaps["random"])
    assert np.mean(gaps["bayesian"]) < 0.5 * np.mean(gaps["random"])


def test_bayesian_optimization_posterior_is_exposed_after_search():
    def f(hp):
        x = hp.Float("x", 0.0, 1.0)
        return (x - 0.3) ** 2

    tuner = tuning.BayesianOptimization(objective_fn=f, max_trials=8, num_initial_points=3, seed=0)
    tuner.search()
    oracle = tuner.oracle
    assert len(oracle.gp.X_) == 8                        # refitted on every trial
    xs = [{"x": float(v)} for v in np.linspace(0, 1, 11)]
    mean, std = oracle.gp.predict(oracle.encode(xs), return_std=True)
    assert mean.shape == std.shape == (11,)
    assert int(np.argmin(mean)) == 3                     # x = 0.3
    assert oracle.acquisition_values(oracle.encode(xs)).shape == (11,)
    assert min(t["score"] for t in tuner.trials) < 1e-3


def test_bayesian_optimization_maximises_and_handles_categorical_dimensions():
    def f(hp):
        return {"accuracy": -mixed_objective(hp)}

    tuner = tuning.BayesianOptimization(objective_fn=f, objective="accuracy", max_trials=14,
                                        num_initial_points=6, seed=0)
    tuner.search()
    keys = [tuple(sorted(t["hyperparameters"].items())) for t in tuner.trials]
    assert len(set(keys)) == len(keys)                   # never the same point twice
    # x, rate, width, act (one-hot: 2), bonus
    assert tuner.oracle.encode(tuner.trials[0]["hyperparameters"]).shape == (6,)
    best_score = max(t["score"] for t in tuner.trials)
    best_trial = next(t for t in tuner.trials if t["score"] == best_score)
    assert tuner.get_best_hyperparameters()[0].values == best_trial["hyperparameters"]


# ---------------------------------------------------------------- parallel trials


def test_process_pool_gives_the_same_trials_as_a_serial_search():
    serial = tuning.RandomSearch(objective_fn=mixed_objective, max_trials=6, seed=5)
    serial.search()
    with ProcessPoolExecutor(2) as pool:
        parallel = tuning.RandomSearch(objective_fn=mixed_objective, max_trials=6, seed=5, executor=pool)
        parallel.search()

    def strip(tuner):
        return [(t["trial_id"], t["hyperparameters"], t["score"], t["status"]) for t in tuner.trials]

    assert strip(parallel) == strip(serial)


def test_thread_pool_grid_search_and_bayesian_batches():
    with ThreadPoolExecutor(3) as pool:
        grid = tuning.GridSearch(objective_fn=mixed_objective, max_trials=7, executor=pool)
        grid.search()
        bayes = [tuning.BayesianOptimization(objective_fn=branin_objective, max_trials=9, num_initial_points=3,
                                             seed=0, executor=pool) for _ in range(2)]
        for tuner in bayes:
            tuner.search()
    serial_grid = tuning.GridSearch(objective_fn=mixed_objective, max_trials=7)
    serial_grid.search()
    assert [t["hyperparameters"] for t in grid.trials] == [t["hyperparameters"] for t in serial_grid.trials]
    # Batches of 3 proposed by the kriging believer: deterministic, and 3 distinct points each.
    first, second = ([t["hyperparameters"] for t in tuner.trials] for tuner in bayes)
    assert first == second
    for batch in (first[3:6], first[6:9]):
        assert len({(v["x"], v["y"]) for v in batch}) == 3


def test_a_lambda_is_refused_by_a_process_pool_with_a_clear_message():
    with ProcessPoolExecutor(1) as pool:
        tuner = tuning.RandomSearch(objective_fn=lambda hp: hp.Float("x", 0, 1), max_trials=2, executor=pool)
        with pytest.raises(TypeError, match="must be picklable.*top level of a module"):
            tuner.search()


# ---------------------------------------------------------------- searching models


def make_data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((120, 3)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5]) + 0.1 * rng.standard_normal(120)).astype(np.float32)[:, None]
    return x[:90], y[:90], x[90:], y[90:]


def build_regressor(hp):
    model = gdlib.Sequential([
        gdlib.layers.Dense(hp.Choice("units", [4, 16]), activation="tanh", input_shape=(3,),
                           kernel_initializer=gdlib.initializers.GlorotUniform(seed=0)),
        gdlib.layers.Dense(1, kernel_initializer=gdlib.initializers.GlorotUniform(seed=1)),
    ])
    model.compile(optimizer=gdlib.optimizers.SGD(hp.Float("learning_rate", 1e-3, 1e-1, sampling="log")),
                  loss="mse", metrics=["mae"])
    return model


def test_model_search_scores_best_epoch_and_best_model_has_those_weights():
    x, y, x_val, y_val = make_data()
    tuner = tuning.RandomSearch(build_regressor, objective="val_mae", max_trials=3, seed=0)
    tuner.search(x, y, epochs=6, batch_size=30, validation_data=(x_val, y_val), shuffle=False)
    assert tuner.objective == tuning.Objective("val_mae", "min")
    assert all(t["status"] == "COMPLETED" for t in tuner.trials)
    best_trial = min(tuner.trials, key=lambda t: t["score"])
    # The score is the best epoch's val_mae (Keras Tuner): refit the same trial and compare.
    hp = tuner.get_best_hyperparameters()[0]
    assert hp.values == best_trial["hyperparameters"]
    history = build_regressor(hp).fit(x, y, epochs=6, batch_size=30, validation_data=(x_val, y_val),
                                      verbose=0, shuffle=False)
    assert best_trial["score"] == pytest.approx(min(history.history["val_mae"]), rel=1e-6)
    # The best model carries the weights of that epoch.
    (model,) = tuner.get_best_models()
    logs = model.evaluate(x_val, y_val, verbose=0, return_dict=True)
    assert logs["mae"] == pytest.approx(best_trial["score"], rel=1e-5)


def test_model_search_with_validation_split_and_a_diverging_trial():
    x, y, _, _ = make_data()

    def build(hp):
        model = gdlib.Sequential([gdlib.layers.Dense(1, input_shape=(3,))])
        model.compile(optimizer=gdlib.optimizers.SGD(hp.Choice("learning_rate", [0.01, 100.0])), loss="mse")
        return model

    tuner = tuning.GridSearch(build)
    tuner.search(x, y, epochs=5, validation_split=0.25)
    assert [t["status"] for t in tuner.trials] == ["COMPLETED", "FAILED"]   # lr=100 diverges
    assert tuner.get_best_hyperparameters()[0].get("learning_rate") == 0.01


def test_model_search_errors():
    x, y, x_val, y_val = make_data()

    def not_compiled(hp):
        return gdlib.Sequential([gdlib.layers.Dense(hp.Int("units", 1, 4), input_shape=(3,))])

    with pytest.raises(TypeError, match="not compiled"):
        tuning.RandomSearch(not_compiled, max_trials=1).search(x, y, validation_data=(x_val, y_val))
    with pytest.raises(TypeError, match="pass it as `objective_fn=`"):
        tuning.RandomSearch(lambda hp: hp.Float("x", 0, 1), max_trials=1).search(
            x, y, validation_data=(x_val, y_val))
    with pytest.raises(ValueError, match="needs validation data"):
        tuning.RandomSearch(build_regressor, objective="val_accuracy", max_trials=1).search(x, y)


def test_hypermodel_subclass_tunes_fit_arguments():
    from gdlib import layers, models

    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3)).astype("float32")
    y = (x @ np.array([1.0, -2.0, 0.5], dtype="float32"))[:, None]
    seen = []

    class Regression(tuning.HyperModel):
        def build(self, hp):
            model = models.Sequential([layers.Dense(1, input_shape=(3,))])
            model.compile(optimizer="sgd", loss="mse")
            return model

        def fit(self, hp, model, *args, **kwargs):
            batch_size = hp.Choice("batch_size", [8, 40])
            seen.append(batch_size)
            return model.fit(*args, batch_size=batch_size, **kwargs)

    tuner = tuning.GridSearch(Regression(), objective="val_loss")
    tuner.search(x, y, epochs=2, validation_split=0.25, verbose=0)
    # Both batch sizes were tried by fit, and the space knows the fit-time hyperparameter.
    assert sorted(set(seen)) == [8, 40]
    assert sorted(t["hyperparameters"].get("batch_size") for t in tuner.trials) == [8, 40]
    assert tuner.get_best_models()[0].count_params() == 4
