"""Sequential: Keras 3's fit/evaluate/predict semantics, checked against numbers from real Keras."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gdlib
from gdlib import losses, models, optimizers
from gdlib.callbacks import Callback
from gdlib.initializers import GlorotUniform
from gdlib.layers import Dense, Dropout, Input


def small_data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(12, 2)).astype(np.float32)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.int64)
    return x, y


INITIAL_WEIGHTS = [
    np.array([[0.5, -0.3, 0.8], [-0.6, 0.4, 0.2]], np.float32),
    np.array([0.1, 0.0, -0.1], np.float32),
    np.array([[0.7, -0.5], [-0.2, 0.9], [0.4, 0.3]], np.float32),
    np.array([0.05, -0.05], np.float32),
]

# Keras 3.15.1 (torch backend), same initial weights and data, shuffle=False,
# batch_size=5, epochs=3: the model Input(2) -> Dense(3, hidden) -> Dense(2, output).
GOLDEN = {
    "sgd": dict(
        optimizer=lambda: optimizers.SGD(0.1), hidden="relu", output="softmax",
        loss="sparse_categorical_crossentropy", metrics=["accuracy"], validation_split=0.25,
        history={
            "accuracy": [0.22222222, 0.44444445, 0.66666669],
            "loss": [0.80379188, 0.73061681, 0.68404704],
            "val_accuracy": [0.66666669, 1.0, 1.0],
            "val_loss": [0.63169879, 0.62724036, 0.62397963],
        },
        weights=[[0.374634, -0.098198101, 0.79563409, -0.67603087, 0.43272889, 0.19768333],
                 [0.059509814, -0.12114949, -0.10455491],
                 [0.68825865, -0.48825863, -0.17533538, 0.87533545, 0.34490448, 0.35509554],
                 [0.13957283, -0.13957281]],
    ),
    "adam": dict(
        optimizer=lambda: optimizers.Adam(0.01), hidden="relu", output="softmax",
        loss="sparse_categorical_crossentropy", metrics=["accuracy"], validation_split=0.25,
        history={
            "accuracy": [0.33333334, 0.33333334, 0.33333334],
            "loss": [0.79811406, 0.76682526, 0.74382663],
            "val_accuracy": [0.66666669, 0.66666669, 0.66666669],
            "val_loss": [0.63345242, 0.63125128, 0.63072723],
        },
        weights=[[0.44810876, -0.25257668, 0.75660068, -0.651335, 0.40983108, 0.15664203],
                 [0.067927584, -0.0513184, -0.14342618],
                 [0.6564607, -0.45646077, -0.14716665, 0.84716672, 0.35424921, 0.34575081],
                 [0.058642715, -0.058642715]],
    ),
    "mse_adam": dict(
        optimizer=lambda: optimizers.Adam(0.01), hidden="tanh", output=None,
        loss="mse", metrics=["mae"], validation_split=0.0,
        history={"loss": [1.7544774, 1.6037116, 1.470047], "mae": [1.0759125, 1.0140432, 0.95566052]},
        weights=[[0.57859474, -0.25811341, 0.88724208, -0.51515287, 0.41267082, 0.25759411],
                 [0.13826239, -0.086947307, -0.18810734],
                 [0.76793242, -0.46948856, -0.23746152, 0.86342984, 0.47965583, 0.37802318],
                 [0.011417864, -0.13696131]],
    ),
    "categorical_sgd": dict(
        optimizer=lambda: optimizers.SGD(0.1), hidden="relu", output="softmax",
        loss="categorical_crossentropy", metrics=["accuracy"], validation_split=0.0,
        history={"accuracy": [0.33333334, 0.5, 0.75], "loss": [0.75655323, 0.696971, 0.65491086]},
        weights=[[0.38245696, -0.067758411, 0.79621017, -0.67196745, 0.51414901, 0.19684802],
                 [0.051288094, -0.094009899, -0.10481866],
                 [0.68840474, -0.48840469, -0.20710827, 0.90710825, 0.33177096, 0.36822906],
                 [0.10635786, -0.10635787]],
    ),
}


@pytest.mark.parametrize("case", sorted(GOLDEN))
def test_fit_matches_keras_golden_values(case):
    spec = GOLDEN[case]
    x, labels = small_data()
    if spec["loss"] == "mse":
        y = np.stack([x[:, 0] * 2, x[:, 1] - 1], axis=1)
    elif spec["loss"] == "categorical_crossentropy":
        y = np.eye(2, dtype=np.float32)[labels]
    else:
        y = labels
    model = models.Sequential(
        [Input(shape=(2,)), Dense(3, activation=spec["hidden"]), Dense(2, activation=spec["output"])]
    )
    model.set_weights(INITIAL_WEIGHTS)
    model.compile(optimizer=spec["optimizer"](), loss=spec["loss"], metrics=spec["metrics"])
    history = model.fit(x, y, batch_size=5, epochs=3, shuffle=False, verbose=0,
                        validation_split=spec["validation_split"])
    assert list(history.history) == list(spec["history"])  # Keras's key order too
    for key, expected in spec["history"].items():
        np.testing.assert_allclose(history.history[key], expected, rtol=1e-6, atol=2e-7)
    for got, expected in zip(model.get_weights(), spec["weights"]):
        np.testing.assert_allclose(got.ravel(), expected, rtol=1e-6, atol=2e-7)


def test_one_training_step_worked_by_hand():
    # One linear unit, y_pred = x @ W + b, mean squared error, SGD with learning rate 0.1.
    model = models.Sequential([Dense(1, input_shape=(2,))])
    model.set_weights([np.array([[0.5], [-0.5]]), np.array([0.0])])
    model.compile(optimizer=optimizers.SGD(learning_rate=0.1), loss="mse")
    x = np.array([[1.0, 2.0]])
    y = np.array([[1.0]])
    history = model.fit(x, y, epochs=1, verbose=0)
    # Forward: y_pred = 1*0.5 + 2*(-0.5) + 0 = -0.5; error = y_pred - y = -1.5
    # Loss (before the update): (-1.5)^2 = 2.25
    assert history.history["loss"] == [pytest.approx(2.25)]
    # dL/dy_pred = 2 * (-1.5) / 1 = -3
    # dL/dW = x^T (-3) = [[-3], [-6]];  dL/db = -3
    # W <- W - 0.1 * dW = [[0.5 + 0.3], [-0.5 + 0.6]] = [[0.8], [0.1]];  b <- 0 + 0.3
    kernel, bias = model.get_weights()
    np.testing.assert_allclose(kernel, [[0.8], [0.1]], rtol=1e-6)
    np.testing.assert_allclose(bias, [0.3], rtol=1e-6)


def digits_like(n=50, features=6, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype(np.float32)
    y = rng.integers(0, classes, size=n)
    return x, y


def classifier(features=6, classes=3, seed=0):
    return models.Sequential([
        Dense(8, activation="relu", input_shape=(features,), kernel_initializer=GlorotUniform(seed)),
        Dense(classes, activation="softmax", kernel_initializer=GlorotUniform(seed + 1)),
    ])


class BatchRecorder(Callback):
    """Records, before each batch, a copy of the weights; after it, the batch logs."""

    def __init__(self):
        super().__init__()
        self.weights, self.logs = [], []

    def on_train_batch_begin(self, batch, logs=None):
        self.weights.append(self.model.get_weights())

    def on_train_batch_end(self, batch, logs=None):
        self.logs.append(dict(logs))


def test_history_loss_is_batch_size_weighted_mean_before_each_update():
    x, y = digits_like(n=10)
    model = classifier()
    model.compile(optimizer=optimizers.SGD(0.5), loss="sparse_categorical_crossentropy")
    recorder = BatchRecorder()
    history = model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0, callbacks=[recorder])
    # Batches of 4, 4 and 2 (the last, partial batch is kept).
    assert len(recorder.weights) == 3
    probe = classifier()
    probe.compile(loss="sparse_categorical_crossentropy")
    batch_losses = []
    for weights, (start, stop) in zip(recorder.weights, [(0, 4), (4, 8), (8, 10)]):
        probe.set_weights(weights)
        batch_losses.append(probe.evaluate(x[start:stop], y[start:stop], verbose=0))
    expected = (4 * batch_losses[0] + 4 * batch_losses[1] + 2 * batch_losses[2]) / 10
    assert history.history["loss"][0] == pytest.approx(expected, rel=1e-6)
    # The batch logs are running means of the epoch so far.
    assert recorder.logs[0]["loss"] == pytest.approx(batch_losses[0], rel=1e-6)


def test_validation_split_takes_the_last_samples_before_shuffling():
    x, y = digits_like(n=20)
    model = classifier()
    model.compile(optimizer=optimizers.SGD(1e-30), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    before = model.evaluate(x[15:], y[15:], verbose=0, return_dict=True)
    history = model.fit(x, y, epochs=1, validation_split=0.25, shuffle=True, seed=0, verbose=0)
    assert history.history["val_loss"][0] == pytest.approx(before["loss"], rel=1e-6)
    assert history.history["val_accuracy"][0] == pytest.approx(before["accuracy"])
    assert history.params == {"verbose": 0, "epochs": 1, "steps": 1}  # 15 training samples


def test_shuffle_changes_the_order_and_a_seed_repeats_it():
    x, y = digits_like(n=40)

    def run(shuffle, seed):
        model = classifier()
        model.compile(optimizer=optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
        return model.fit(x, y, batch_size=8, epochs=2, shuffle=shuffle, seed=seed, verbose=0).history["loss"]

    assert run(True, 3) == run(True, 3)
    assert run(True, 3) != run(False, None)


@pytest.mark.parametrize("units, y, expected_name", [
    (1, np.array([0, 1, 1, 0]), "binary_accuracy"),
    (3, np.array([0, 2, 1, 0]), "sparse_categorical_accuracy"),
    (3, np.eye(3)[[0, 2, 1, 0]], "categorical_accuracy"),
])
def test_accuracy_resolves_as_keras_3(units, y, expected_name):
    model = models.Sequential([Dense(units, activation="sigmoid" if units == 1 else "softmax", input_shape=(2,))])
    by_targets = "categorical_crossentropy" if y.ndim == 2 else "sparse_categorical_crossentropy"
    loss = {1: "binary_crossentropy"}.get(units, by_targets)
    model.compile(optimizer="sgd", loss=loss, metrics=["accuracy"])
    x = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [-1.0, 0.5]])
    history = model.fit(x, y, epochs=1, verbose=0, shuffle=False)
    assert "accuracy" in history.history
    resolved = model._make_metrics(np.asarray(y))[0]
    assert resolved.__name__ == "accuracy"
    assert getattr(resolved, "__wrapped__", resolved).__name__ in (expected_name, "accuracy")


def test_evaluate_returns_scalar_or_list_in_compile_order():
    x, y = digits_like()
    model = classifier()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    assert isinstance(model.evaluate(x, y, verbose=0), float)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy", "sparse_categorical_crossentropy"])
    loss, accuracy, crossentropy = model.evaluate(x, y, verbose=0)
    assert crossentropy == pytest.approx(loss, rel=1e-5)
    predictions = model.predict(x, verbose=0)
    assert accuracy == pytest.approx(np.mean(predictions.argmax(axis=1) == y))
    assert loss == pytest.approx(float(losses.SparseCategoricalCrossentropy()(y, predictions)), rel=1e-5)


def test_fast_sparse_path_equals_the_loss_module_bit_for_bit():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(32, 10)).astype(np.float32) * 5
    p = gdlib.activations.softmax(logits)
    labels = rng.integers(0, 10, size=32)
    # The loss takes the log of each label's probability alone: as Keras's, which takes every log.
    eps = gdlib.backend.epsilon()
    every_log = np.log(np.clip(p / np.sum(p, axis=-1, keepdims=True), eps, 1 - eps))
    values = -every_log[np.arange(32), labels]
    assert np.sum(values) / np.float32(32) == losses.SparseCategoricalCrossentropy()(labels, p)
    fused = losses.SoftmaxCrossentropy(losses.SparseCategoricalCrossentropy())
    assert fused(labels, p) == losses.SparseCategoricalCrossentropy()(labels, p)
    np.testing.assert_array_equal(
        fused.gradient(labels, p),
        losses.softmax_crossentropy_gradient(labels, p, sparse=True),
    )


@settings(max_examples=20, deadline=None, derandomize=True)
@given(batch_size=st.integers(1, 40), n=st.integers(1, 40))
def test_predict_does_not_depend_on_batch_size(batch_size, n):
    model = classifier(seed=3)
    x, _ = digits_like(n=n, seed=2)
    np.testing.assert_allclose(model.predict(x, batch_size=batch_size, verbose=0),
                               model.predict(x, batch_size=n, verbose=0), rtol=1e-5, atol=1e-6)


def test_call_predict_and_dropout_inference():
    # Seeded, with a positive bias, so the ReLU units are alive and dropout has something to drop.
    first = Dense(4, activation="relu", input_shape=(3,), kernel_initializer=GlorotUniform(seed=1),
                  bias_initializer="ones")
    model = models.Sequential([first, Dropout(0.5, seed=0), Dense(2, kernel_initializer=GlorotUniform(seed=2))])
    x = np.ones((5, 3), np.float32)
    assert (model.layers[0](x) > 0).any()
    np.testing.assert_array_equal(model(x), model.predict(x, verbose=0))
    assert not np.array_equal(model(x, training=True), model(x))
    assert model.predict(x, verbose=0).dtype == np.float32


def test_train_on_batch_reports_the_loss_before_its_update():
    x, y = digits_like(n=8)
    model = classifier()
    model.compile(optimizer=optimizers.SGD(0.5), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    before = model.test_on_batch(x, y)
    loss, accuracy = model.train_on_batch(x, y)
    assert loss == pytest.approx(before[0]) and accuracy == pytest.approx(before[1])
    assert model.test_on_batch(x, y)[0] < loss


def test_weights_order_save_and_load(tmp_path):
    model = classifier()
    kernel_0, bias_0, kernel_1, bias_1 = model.get_weights()
    assert kernel_0.shape == (6, 8) and bias_0.shape == (8,) and kernel_1.shape == (8, 3) and bias_1.shape == (3,)
    assert model.trainable_variables[0] is model.layers[0].kernel
    assert model.count_params() == 6 * 8 + 8 + 8 * 3 + 3
    path = tmp_path / "w.npz"
    model.save_weights(path)
    other = classifier(seed=10)
    other.load_weights(path)
    for a, b in zip(model.get_weights(), other.get_weights()):
        np.testing.assert_array_equal(a, b)
    other.set_weights([w + 1 for w in other.get_weights()])
    np.testing.assert_array_equal(other.layers[1].bias, bias_1 + 1)


def test_model_builds_from_data_and_names_are_unique():
    gdlib.clear_session()
    model = models.Sequential([Dense(4), Dense(2)])
    assert model.name == "sequential" and [layer.name for layer in model.layers] == ["dense", "dense_1"]
    assert not model.built
    model.predict(np.zeros((3, 5)), verbose=0)
    assert model.built and model.layers[0].kernel.shape == (5, 4)
    gdlib.clear_session()
    assert Dense(1).name == "dense"


def test_compute_gradients_is_fits_backward_pass():
    # One SGD(1.0) step by hand from compute_gradients gives fit's weights, bit for bit.
    x, y = digits_like(n=8)
    by_fit, by_hand = classifier(), classifier()
    by_fit.compile(optimizer=optimizers.SGD(1.0), loss="sparse_categorical_crossentropy")
    by_hand.compile(optimizer=optimizers.SGD(1.0), loss="sparse_categorical_crossentropy")
    by_fit.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    y_pred = by_hand.forward(x, training=True)
    loss = by_hand.compute_loss(x, y, y_pred)
    gradients, variables = by_hand.compute_gradients(y, y_pred)
    assert variables == by_hand.trainable_variables
    assert loss == by_fit.history.history["loss"][0]
    for gradient, variable in zip(gradients, variables):
        variable -= gradient
    for a, b in zip(by_fit.get_weights(), by_hand.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_compute_gradients_needs_the_latest_output():
    x, y = digits_like(n=8)
    model = classifier()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    first = model.forward(x[:4], training=True)
    model.forward(x[4:], training=True)
    with pytest.raises(ValueError, match="called again after the call whose output the loss used"):
        model.compute_gradients(y[:4], first)


def test_first_layer_skips_the_input_gradient():
    x, y = digits_like(n=4)
    model = classifier()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    model.fit(x, y, verbose=0)
    assert model.layers[0].need_input_gradient is False
    assert model.layers[1].need_input_gradient is True


def test_digits_reach_high_accuracy():
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    from sklearn.model_selection import train_test_split

    x, y = sklearn_datasets.load_digits(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split((x / 16).astype(np.float32), y,
                                                        test_size=0.2, random_state=0)
    model = models.Sequential([
        Dense(64, activation="relu", input_shape=(64,), kernel_initializer=GlorotUniform(0)),
        Dense(10, activation="softmax", kernel_initializer=GlorotUniform(1)),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=10, verbose=0, seed=0)
    assert model.evaluate(x_test, y_test, verbose=0)[1] > 0.93
