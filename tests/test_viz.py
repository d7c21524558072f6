"""Tests for gdlib.viz: what each figure contains (lines, labels, data, collections),
drawn with the Agg backend. The plotted data is compared with values computed here,
so a plot of the wrong quantity fails."""

import functools
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.animation import FuncAnimation  # noqa: E402
from matplotlib.collections import PathCollection  # noqa: E402
from matplotlib.contour import ContourSet  # noqa: E402

from gdlib import functions, layers, models, optimizers, schedules, tuning, viz  # noqa: E402
from gdlib.tuning import GaussianProcess, expected_improvement  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def no_show_and_close(monkeypatch):
    # Library plots must never call plt.show(); close every figure after each test.
    def show(*args, **kwargs):
        raise AssertionError("gdlib.viz must not call plt.show()")

    monkeypatch.setattr(plt, "show", show)
    yield
    plt.close("all")


def labelled_lines(ax):
    return {line.get_label(): line for line in ax.get_lines() if not line.get_label().startswith("_")}


def legend_texts(ax):
    return [text.get_text() for text in ax.get_legend().get_texts()]


# ---------------------------------------------------------------- fakes


class FakeHistory:
    """The shape of gdlib's History: a `history` dict and the `epoch` list."""

    def __init__(self, history):
        self.history = history
        self.epoch = list(range(len(next(iter(history.values())))))


HISTORY = {
    "loss": [1.0, 0.6, 0.4],
    "accuracy": [0.5, 0.7, 0.8],
    "val_loss": [1.1, 0.8, 0.7],
    "val_accuracy": [0.45, 0.6, 0.65],
    "learning_rate": [0.01, 0.01, 0.005],
}


class Bowl:
    """A quadratic surface f(x, y) = x^2 + 10 y^2 with the functions-module shape."""

    name = "bowl"
    bounds = ((-2.0, 2.0), (-1.0, 1.0))
    minima = np.array([[0.0, 0.0]])

    def __call__(self, xy):
        xy = np.asarray(xy, dtype=np.float64)
        return xy[..., 0] ** 2 + 10.0 * xy[..., 1] ** 2

    def gradient(self, xy):
        xy = np.asarray(xy, dtype=np.float64)
        return np.stack([2.0 * xy[..., 0], 20.0 * xy[..., 1]], axis=-1)


def gradient_descent_path(surface, start, learning_rate, steps):
    path = [np.asarray(start, dtype=np.float64)]
    for _ in range(steps):
        path.append(path[-1] - learning_rate * surface.gradient(path[-1]))
    return np.array(path)


class FakeGP:
    """predict(X, return_std=True) like gdlib.tuning's GP and scikit-learn's."""

    def predict(self, X, return_std=False):
        mean = np.sin(X[:, 0])
        std = 0.1 + 0.05 * np.abs(X[:, 0])
        return (mean, std) if return_std else mean


TRIALS = [
    {"trial_id": str(k), "hyperparameters": {"learning_rate": rate, "units": units, "optimizer": optimizer},
     "score": score, "seconds": 0.1}
    for k, (rate, units, optimizer, score) in enumerate([(1e-1, 32, "adam", 3.0), (1e-3, 64, "sgd", 1.0),
                                                         (1e-2, 16, "adam", 2.0), (1e-4, 8, "rmsprop", 0.5)])
]


# ---------------------------------------------------------------- plot_history


@pytest.mark.parametrize("as_object", [True, False])
def test_plot_history_draws_train_and_validation_per_metric(as_object):
    history = FakeHistory(HISTORY) if as_object else HISTORY
    fig = viz.plot_history(history)
    axes = fig.axes
    # loss and accuracy; the learning rate is left out by default.
    assert [ax.get_title() for ax in axes] == ["loss", "accuracy"]
    loss_lines = labelled_lines(axes[0])
    assert sorted(loss_lines) == ["loss", "val_loss"]
    assert legend_texts(axes[0]) == ["loss", "val_loss"]
    # Epochs are numbered from 1, values are the history's.
    np.testing.assert_array_equal(loss_lines["loss"].get_xdata(), [1, 2, 3])
    np.testing.assert_array_equal(loss_lines["val_loss"].get_ydata(), HISTORY["val_loss"])
    assert sorted(labelled_lines(axes[1])) == ["accuracy", "val_accuracy"]
    np.testing.assert_array_equal(labelled_lines(axes[1])["accuracy"].get_ydata(), HISTORY["accuracy"])


def test_plot_history_selected_metric_and_no_validation():
    fig = viz.plot_history({"loss": [3.0, 2.0]}, metrics="loss")
    assert len(fig.axes) == 1
    assert list(labelled_lines(fig.axes[0])) == ["loss"]
    fig = viz.plot_history(HISTORY, metrics=["learning_rate"])
    np.testing.assert_array_equal(fig.axes[0].get_lines()[0].get_ydata(), HISTORY["learning_rate"])


def test_plot_history_draws_into_given_axes_and_returns_their_figure():
    fig, axes = plt.subplots(1, 2)
    assert viz.plot_history(HISTORY, metrics=["loss", "accuracy"], ax=axes) is fig
    assert len(axes[0].get_lines()) == 2 and len(axes[1].get_lines()) == 2
    fig, ax = plt.subplots()
    assert viz.plot_history(HISTORY, metrics="loss", ax=ax) is fig
    with pytest.raises(ValueError, match="`ax` must hold 2 Axes"):
        viz.plot_history(HISTORY, ax=ax)


def test_plot_history_rejects_unknown_metrics_and_types():
    with pytest.raises(ValueError, match=r"`metrics`.*available.*Received: metrics=\['mae'\]"):
        viz.plot_history(HISTORY, metrics="mae")
    with pytest.raises(TypeError, match="`history`"):
        viz.plot_history([1.0, 2.0])


def test_plot_history_with_a_real_fit():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3)).astype(np.float32)
    y = (x.sum(axis=1) > 0).astype(np.float32)
    model = models.Sequential([layers.Dense(1, activation="sigmoid", input_shape=(3,))])
    model.compile(optimizer="sgd", loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=3, batch_size=16, validation_split=0.25, verbose=0)
    fig = viz.plot_history(history)
    loss_lines = labelled_lines(fig.axes[0])
    assert sorted(loss_lines) == ["loss", "val_loss"]
    np.testing.assert_allclose(loss_lines["loss"].get_ydata(), history.history["loss"])


# ---------------------------------------------------------------- plot_paths


def two_paths():
    bowl = Bowl()
    return bowl, {
        "lr 0.01": gradient_descent_path(bowl, [-1.5, 0.8], 0.01, 20),
        "lr 0.09": gradient_descent_path(bowl, [1.5, 0.8], 0.09, 20),
    }


def test_plot_paths_one_line_per_optimizer_over_contours():
    bowl, paths = two_paths()
    fig = viz.plot_paths(bowl, paths)
    (ax,) = fig.axes
    lines = labelled_lines(ax)
    assert sorted(lines) == ["lr 0.01", "lr 0.09"]
    for name, path in paths.items():
        np.testing.assert_allclose(lines[name].get_xdata(), path[:, 0])
        np.testing.assert_allclose(lines[name].get_ydata(), path[:, 1])
    assert sum(isinstance(c, ContourSet) for c in ax.collections) == 1
    scatters = {c.get_label(): c for c in ax.collections if isinstance(c, PathCollection)}
    np.testing.assert_allclose(scatters["start"].get_offsets(), [[-1.5, 0.8], [1.5, 0.8]])
    np.testing.assert_allclose(scatters["minimum"].get_offsets(), [[0.0, 0.0]])
    assert set(legend_texts(ax)) == {"lr 0.01", "lr 0.09", "start", "minimum"}
    assert ax.get_xlim() == (-2.0, 2.0) and ax.get_ylim() == (-1.0, 1.0)
    assert ax.get_title() == "bowl"


def test_plot_paths_log_levels_are_geometric_above_the_minimum():
    bowl, paths = two_paths()
    fig = viz.plot_paths(bowl, paths, levels=12, resolution=201)
    contour = next(c for c in fig.axes[0].collections if isinstance(c, ContourSet))
    # With 201 points per axis the minimum (0, 0) is on the grid: the lowest value
    # is 0, the highest 2^2 + 10 * 1^2 = 14.
    gaps = np.asarray(contour.levels)
    assert len(gaps) == 12
    np.testing.assert_allclose(gaps[-1], 14.0)
    np.testing.assert_allclose(gaps[1:] / gaps[:-1], (1e4) ** (1 / 11))
    plt.close("all")
    contour = next(
        c for c in viz.plot_paths(bowl, paths, levels=[1.0, 2.0, 5.0]).axes[0].collections if isinstance(c, ContourSet)
    )
    np.testing.assert_allclose(contour.levels, [1.0, 2.0, 5.0])


def test_plot_paths_linear_levels_are_evenly_spaced():
    bowl, paths = two_paths()
    contour = next(
        c for c in viz.plot_paths(bowl, paths, log_levels=False).axes[0].collections if isinstance(c, ContourSet)
    )
    steps = np.diff(contour.levels)
    np.testing.assert_allclose(steps, steps[0])


def test_plot_paths_accepts_a_single_path_and_run_optimizer_pairs():
    bowl, paths = two_paths()
    path = paths["lr 0.01"]
    fig = viz.plot_paths(bowl, path)
    assert list(labelled_lines(fig.axes[0])) == ["path"]
    losses = bowl(path)
    fig = viz.plot_paths(bowl, {"gd": (path, losses)})
    np.testing.assert_allclose(labelled_lines(fig.axes[0])["gd"].get_ydata(), path[:, 1])
    with pytest.raises(ValueError, match=r"shape \(steps \+ 1, 2\).*'bad'"):
        viz.plot_paths(bowl, {"bad": np.zeros((5, 3))})


def test_plot_paths_with_a_point_by_point_surface_and_no_bounds():
    def himmelblau(point):
        x, y = point  # only a single point of shape (2,)
        return (x * x + y - 11) ** 2 + (x + y * y - 7) ** 2

    path = np.array([[0.0, 0.0], [1.0, 1.0], [3.0, 2.0]])
    fig, ax = plt.subplots()
    assert viz.plot_paths(himmelblau, {"gd": path}, ax=ax, resolution=20) is fig
    # Bounds come from the path, with a 10% margin.
    np.testing.assert_allclose(ax.get_xlim(), (-0.3, 3.3))
    np.testing.assert_allclose(ax.get_ylim(), (-0.2, 2.2))
    assert ax.get_title() == "himmelblau"


def test_plot_paths_with_real_surfaces_and_optimizers():
    surface = functions.Rosenbrock()
    start = np.array([-1.5, 2.0])
    runs = {
        name: functions.run_optimizer(optimizer, surface, start, 30)
        for name, optimizer in [("sgd", optimizers.SGD(1e-4)), ("adam", optimizers.Adam(0.05))]
    }
    fig = viz.plot_paths("rosenbrock", runs)  # a name, and (path, losses) pairs
    ax = fig.axes[0]
    lines = labelled_lines(ax)
    assert sorted(lines) == ["adam", "sgd"]
    np.testing.assert_allclose(lines["adam"].get_xdata(), runs["adam"][0][:, 0])
    assert sum(isinstance(c, ContourSet) for c in ax.collections) == 1
    scatters = {c.get_label(): c for c in ax.collections if isinstance(c, PathCollection)}
    np.testing.assert_allclose(scatters["minimum"].get_offsets(), np.atleast_2d(surface.minima))
    assert ax.get_title() == "Rosenbrock"


@pytest.mark.parametrize("name", ["IllConditionedQuadratic", "Beale", "Himmelblau", "Saddle"])
def test_plot_paths_marks_each_surfaces_minima_and_saddle_points(name):
    surface = getattr(functions, name)()
    path = np.array([[0.5, 0.5], [0.4, 0.3]])
    ax = viz.plot_paths(surface, {"p": path}, resolution=60).axes[0]
    scatters = {c.get_label(): c for c in ax.collections if isinstance(c, PathCollection)}
    assert ax.get_xlim() == tuple(surface.bounds[0]) and ax.get_ylim() == tuple(surface.bounds[1])
    if len(surface.minima):
        np.testing.assert_allclose(scatters["minimum"].get_offsets(), np.atleast_2d(surface.minima))
    else:  # the saddle is unbounded below: no minimum to mark, but its saddle point is
        assert "minimum" not in scatters
        np.testing.assert_allclose(scatters["saddle point"].get_offsets(), [[0.0, 0.0]])
    with pytest.raises(TypeError, match="`surface`"):
        viz.plot_paths(42, {"p": path})


def test_animate_paths_builds_a_funcanimation_that_ends_on_the_full_paths():
    bowl, paths = two_paths()
    animation = viz.animate_paths(bowl, paths, resolution=30)
    assert isinstance(animation, FuncAnimation)
    animation.to_jshtml()  # renders every frame with the update function
    lines = labelled_lines(animation._fig.axes[0])
    for name, path in paths.items():
        np.testing.assert_allclose(lines[name].get_xdata(), path[:, 0])


# ---------------------------------------------------------------- plot_schedule


def test_plot_schedule_one_line_per_schedule_with_its_values():
    def halve_every_10(step):
        return 0.1 * 0.5 ** (step // 10)

    fig = viz.plot_schedule({"constant": lambda step: 0.05, "step decay": halve_every_10}, 30)
    ax = fig.axes[0]
    lines = labelled_lines(ax)
    assert sorted(lines) == ["constant", "step decay"]
    np.testing.assert_array_equal(lines["step decay"].get_xdata(), np.arange(30))
    np.testing.assert_allclose(lines["step decay"].get_ydata(), [halve_every_10(s) for s in range(30)])
    assert ax.get_xlabel() == "step" and ax.get_ylabel() == "learning rate"


def test_plot_schedule_with_a_real_schedule():
    schedule = schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    fig = viz.plot_schedule(schedule, [0, 10, 20])
    (line,) = fig.axes[0].get_lines()
    # lr * decay_rate ** (step / decay_steps)
    np.testing.assert_allclose(line.get_ydata(), [0.1, 0.05, 0.025], rtol=1e-6)
    name = getattr(schedule, "name", None)
    assert line.get_label() == (name if isinstance(name, str) else "ExponentialDecay")
    with pytest.raises(TypeError, match="callable"):
        viz.plot_schedule({"bad": 0.1}, 5)


# ---------------------------------------------------------------- search results


def test_plot_search_results_scores_and_running_best():
    fig = viz.plot_search_results(TRIALS)
    lines = labelled_lines(fig.axes[0])
    np.testing.assert_array_equal(lines["trial score"].get_xdata(), [1, 2, 3, 4])
    np.testing.assert_array_equal(lines["trial score"].get_ydata(), [3.0, 1.0, 2.0, 0.5])
    np.testing.assert_array_equal(lines["best so far"].get_ydata(), [3.0, 1.0, 1.0, 0.5])
    fig = viz.plot_search_results(TRIALS, direction="max")
    np.testing.assert_array_equal(labelled_lines(fig.axes[0])["best so far"].get_ydata(), [3.0] * 4)


def test_plot_search_results_skips_failed_trials_and_reads_a_tuners_direction():
    class Objective:
        direction = "max"

    class Tuner:
        objective = Objective()
        trials = TRIALS[:2] + [{"trial_id": "x", "hyperparameters": {}, "score": None}] + TRIALS[2:]

    fig = viz.plot_search_results(Tuner())
    best = labelled_lines(fig.axes[0])["best so far"].get_ydata()
    np.testing.assert_array_equal(best, [3.0, 3.0, 3.0, 3.0, 3.0])
    with pytest.raises(ValueError, match="`direction`"):
        viz.plot_search_results(TRIALS, direction="down")
    with pytest.raises(ValueError, match="at least one trial"):
        viz.plot_search_results([])


def test_plot_hyperparameter_scatter_colours_by_score():
    fig = viz.plot_hyperparameter_scatter(TRIALS, "learning_rate", "units")
    ax = fig.axes[0]
    (points,) = [c for c in ax.collections if isinstance(c, PathCollection)]
    np.testing.assert_allclose(points.get_offsets(), [[1e-1, 32], [1e-3, 64], [1e-2, 16], [1e-4, 8]])
    np.testing.assert_array_equal(points.get_array(), [3.0, 1.0, 2.0, 0.5])
    # Learning rates span 3 decades: log scale; units span 8..64: linear.
    assert ax.get_xscale() == "log" and ax.get_yscale() == "linear"
    assert ax.get_xlabel() == "learning_rate" and ax.get_ylabel() == "units"
    # A colour bar is a second Axes labelled 'score'.
    assert len(fig.axes) == 2 and fig.axes[1].get_ylabel() == "score"


def test_plot_hyperparameter_scatter_categorical_axis_and_errors():
    fig = viz.plot_hyperparameter_scatter(TRIALS, "optimizer", "score", xscale="linear")
    ax = fig.axes[0]
    (points,) = [c for c in ax.collections if isinstance(c, PathCollection)]
    # Categories in order of first appearance: adam=0, sgd=1, rmsprop=2.
    np.testing.assert_array_equal(points.get_offsets()[:, 0], [0, 1, 0, 2])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["adam", "sgd", "rmsprop"]
    with pytest.raises(ValueError, match="'dropout'"):
        viz.plot_hyperparameter_scatter(TRIALS, "dropout", "units")
    with pytest.raises(ValueError, match="`yscale`"):
        viz.plot_hyperparameter_scatter(TRIALS, "units", "score", yscale="symlog")


# ---------------------------------------------------------------- plot_gp_1d


def test_plot_gp_1d_posterior_band_observations_and_acquisition():
    x_grid = np.linspace(-3, 3, 61)
    observed_x, observed_y = np.array([-2.0, 0.5, 2.0]), np.sin([-2.0, 0.5, 2.0])
    ei = functools.partial(expected_improvement, xi=0.0)
    fig = viz.plot_gp_1d(FakeGP(), x_grid, observed_x, observed_y, acquisition=ei, true_function=np.sin)
    top, bottom = fig.axes
    lines = labelled_lines(top)
    assert sorted(lines) == ["objective", "posterior mean"]
    np.testing.assert_allclose(lines["posterior mean"].get_ydata(), np.sin(x_grid))
    # The band is mean +- 2 std: its vertices reach sin(x) + 2 (0.1 + 0.05|x|) at the ends.
    band = next(c for c in top.collections if c.get_label() == r"mean $\pm$ 2 std")
    vertices = band.get_paths()[0].vertices
    np.testing.assert_allclose(vertices[:, 1].max(), (np.sin(x_grid) + 2 * (0.1 + 0.05 * np.abs(x_grid))).max())
    observed = next(c for c in top.collections if c.get_label() == "observations")
    np.testing.assert_allclose(observed.get_offsets(), np.column_stack([observed_x, observed_y]))
    acquisition = labelled_lines(bottom)
    mean, std = FakeGP().predict(x_grid.reshape(-1, 1), return_std=True)
    expected = ei(mean, std, observed_y.min())
    np.testing.assert_allclose(acquisition["acquisition"].get_ydata(), expected)
    # The next point is the acquisition's argmax, near sin's minimum at -pi/2.
    np.testing.assert_allclose(acquisition["next point"].get_xdata()[0], x_grid[np.argmax(expected)])


def test_plot_gp_1d_without_acquisition_and_with_a_callable():
    x_grid = np.linspace(0, 1, 11)
    fig = viz.plot_gp_1d(lambda x: (x**2, np.full_like(x, 0.1)), x_grid, [0.5], [0.25])
    assert len(fig.axes) == 1
    np.testing.assert_allclose(labelled_lines(fig.axes[0])["posterior mean"].get_ydata(), x_grid**2)
    with pytest.raises(ValueError, match="`acquisition` must give one value per point"):
        viz.plot_gp_1d(FakeGP(), x_grid, [0.5], [0.25], acquisition=np.zeros(3))


def test_plot_gp_1d_with_the_real_gaussian_process():
    observed_x = np.array([0.1, 0.4, 0.9])
    gp = GaussianProcess().fit(observed_x.reshape(-1, 1), np.cos(3 * observed_x))
    x_grid = np.linspace(0, 1, 41)
    fig = viz.plot_gp_1d(gp, x_grid, observed_x, np.cos(3 * observed_x), acquisition=expected_improvement)
    mean = labelled_lines(fig.axes[0])["posterior mean"].get_ydata()
    np.testing.assert_allclose(mean, gp.predict(x_grid.reshape(-1, 1), return_std=True)[0])
    assert len(fig.axes) == 2


# ---------------------------------------------------------------- plot_loss


def test_plot_loss_mse_and_its_gradient():
    fig = viz.plot_loss("mse", 1.0, (-1.0, 3.0), num=41)
    ax = fig.axes[0]
    lines = labelled_lines(ax)
    assert legend_texts(ax) == ["mse", "mse gradient"]
    p = np.linspace(-1.0, 3.0, 41)
    # (p - 1)^2 and its derivative 2 (p - 1), one sample at a time.
    np.testing.assert_allclose(lines["mse"].get_ydata(), (p - 1) ** 2, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(lines["mse gradient"].get_ydata(), 2 * (p - 1), rtol=1e-5, atol=1e-6)
    assert lines["mse gradient"].get_linestyle() == "--"
    assert lines["mse gradient"].get_color() == lines["mse"].get_color()


def test_plot_loss_numeric_gradient_for_a_plain_function_and_several_losses():
    def absolute(y_true, y_pred):
        return np.mean(np.abs(y_true - y_pred), axis=-1)

    def squared(y_true, y_pred):
        return np.mean((y_true - y_pred) ** 2, axis=-1)

    fig = viz.plot_loss({"abs": absolute, "sq": squared}, 0.0, np.linspace(-2, 2, 81))
    lines = labelled_lines(fig.axes[0])
    assert sorted(lines) == ["abs", "abs gradient", "sq", "sq gradient"]
    p = np.linspace(-2, 2, 81)
    # Central differences of p^2 are exact inside; np.gradient is one-sided at the ends.
    np.testing.assert_allclose(lines["sq gradient"].get_ydata()[1:-1], 2 * p[1:-1], atol=1e-5)
    np.testing.assert_allclose(lines["abs gradient"].get_ydata()[:39], -1.0, rtol=1e-5)


def test_plot_loss_compares_named_losses():
    fig = viz.plot_loss(["mse", "mae", "huber"], 0.0, (-3.0, 3.0), num=7)
    lines = labelled_lines(fig.axes[0])
    assert len(lines) == 6
    # Huber (delta=1) at p=3: 3 - 0.5 = 2.5; its gradient is clipped at 1.
    np.testing.assert_allclose(lines["huber"].get_ydata()[-1], 2.5, rtol=1e-6)
    np.testing.assert_allclose(lines["huber gradient"].get_ydata()[[0, -1]], [-1.0, 1.0], rtol=1e-6)


# ---------------------------------------------------------------- plot_digits


def test_plot_digits_grid_titles_and_images():
    rng = np.random.default_rng(0)
    images = rng.random((12, 64))
    labels = np.arange(12) % 10
    predictions = labels.copy()
    predictions[3] = 7
    fig = viz.plot_digits(images, labels, predictions, n_cols=5)
    assert len(fig.axes) == 15  # 3 rows of 5
    shown = [ax for ax in fig.axes if ax.get_images()]
    assert len(shown) == 12
    np.testing.assert_array_equal(shown[0].get_images()[0].get_array(), images[0].reshape(8, 8))
    assert shown[3].get_title() == "3 → 7" and shown[3].title.get_color() == "red"
    assert shown[4].get_title() == "4 → 4" and shown[4].title.get_color() == "black"


def test_plot_digits_probabilities_and_bad_shapes():
    probabilities = np.eye(10)[[2, 5]]
    fig = viz.plot_digits(np.zeros((2, 8, 8)), predictions=probabilities)
    assert [ax.get_title() for ax in fig.axes] == ["pred 2", "pred 5"]
    with pytest.raises(ValueError, match="`images`"):
        viz.plot_digits(np.zeros((2, 10)))


# ---------------------------------------------------------------- import hygiene


def test_importing_gdlib_imports_neither_matplotlib_nor_sklearn():
    code = (
        "import sys, gdlib, gdlib.viz, gdlib.datasets\n"
        "heavy = [m for m in ('matplotlib', 'sklearn') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_search_plots_with_a_real_tuner():
    def objective(hp):
        x = hp.Float("x", -2.0, 2.0)
        learning_rate = hp.Float("learning_rate", 1e-4, 1e-1, sampling="log")
        return {"accuracy": 1.0 - (x - 1.0) ** 2 - 0.01 * np.log10(learning_rate) ** 2}

    tuner = tuning.RandomSearch(objective_fn=objective, objective=tuning.Objective("accuracy", "max"),
                                max_trials=6, seed=0)
    tuner.search()
    scores = [trial["score"] for trial in tuner.trials]
    # The tuner maximises, so the running best is the running maximum.
    fig = viz.plot_search_results(tuner)
    lines = labelled_lines(fig.axes[0])
    np.testing.assert_allclose(lines["trial score"].get_ydata(), scores)
    np.testing.assert_allclose(lines["best so far"].get_ydata(), np.maximum.accumulate(scores))
    fig = viz.plot_hyperparameter_scatter(tuner, "x", "learning_rate")
    (points,) = [c for c in fig.axes[0].collections if isinstance(c, PathCollection)]
    np.testing.assert_allclose(points.get_array(), scores)
    expected = [[t["hyperparameters"]["x"], t["hyperparameters"]["learning_rate"]] for t in tuner.trials]
    np.testing.assert_allclose(points.get_offsets(), expected)
