"""Bad input gets a clear, Keras-like error that names the argument and the value received."""

import numpy as np
import pytest

from gdlib import models, optimizers
from gdlib.layers import Dense, Dropout


def model(units=3, features=4, activation="softmax"):
    return models.Sequential([Dense(5, activation="relu", input_shape=(features,)),
                              Dense(units, activation=activation)])


def compiled(loss="sparse_categorical_crossentropy", **kwargs):
    m = model(**kwargs)
    m.compile(optimizer="sgd", loss=loss)
    return m


X = np.zeros((6, 4), np.float32)
Y = np.array([0, 1, 2, 0, 1, 2])


@pytest.mark.parametrize("method", ["fit", "evaluate", "train_on_batch", "test_on_batch"])
def test_training_and_evaluation_before_compile(method):
    with pytest.raises(ValueError, match=rf"You must call `compile\(\)` before calling `{method}\(\)`"):
        getattr(model(), method)(X, Y)


def test_compile_without_loss_then_fit():
    m = model()
    m.compile(optimizer="adam")
    with pytest.raises(ValueError, match="loss=None"):
        m.fit(X, Y, verbose=0)


@pytest.mark.parametrize("action", ["summary", "count_params", "get_weights"])
def test_before_the_input_shape_is_known(action):
    m = models.Sequential([Dense(3)])
    with pytest.raises(ValueError, match="not yet been built.*input_shape"):
        getattr(m, action)()


def test_predict_on_an_empty_model():
    with pytest.raises(ValueError, match="no layers"):
        models.Sequential().predict(X, verbose=0)


@pytest.mark.parametrize("method", ["fit", "evaluate", "predict"])
def test_input_width_mismatch(method):
    m = compiled()
    args = (np.zeros((6, 7)),) if method == "predict" else (np.zeros((6, 7)), Y)
    with pytest.raises(ValueError, match=r'layer "dense.*expected axis -1 of input shape to have value 4, '
                                          r"but received input with shape \(6, 7\)"):
        getattr(m, method)(*args, verbose=0)


def test_one_dimensional_x_suggests_reshape():
    with pytest.raises(ValueError, match=r"reshape\(-1, 1\)"):
        compiled().fit(np.zeros(6), Y, verbose=0)


def test_x_and_y_of_different_lengths():
    with pytest.raises(ValueError, match="x with 6 samples and y with 5 samples"):
        compiled().fit(X, Y[:5], verbose=0)


@pytest.mark.parametrize("labels, message", [
    (np.array([0, 1, 3, 0, 1, 2]), r"in \[0, 3\).*received label 3"),
    (np.array([0, 1, -1, 0, 1, 2]), r"received label -1"),
    (np.array([0, 1, 1.5, 0, 1, 2]), r"integers.*received label 1.5"),
])
def test_bad_sparse_labels(labels, message):
    with pytest.raises(ValueError, match=message):
        compiled().fit(X, labels, verbose=0)


def test_one_hot_targets_of_the_wrong_width():
    with pytest.raises(ValueError, match="4"):
        compiled("categorical_crossentropy").fit(X, np.eye(4)[[0, 1, 2, 3, 0, 1]], verbose=0)


@pytest.mark.parametrize("kwargs, message", [
    (dict(optimizer="adamm"), r"Unknown optimizer.*adam.*sgd"),
    (dict(loss="mean_squared_eror"), r"Unknown loss.*mean_squared_error"),
    (dict(loss="mse", metrics=["acuracy"]), r"Unknown metric.*accuracy"),
])
def test_unknown_names_list_the_valid_ones(kwargs, message):
    with pytest.raises(ValueError, match=message):
        model().compile(**kwargs)


@pytest.mark.parametrize("metrics", ["accuracy", {"dense": ["accuracy"]}])
def test_metrics_must_be_a_list(metrics):
    # A bare string is a common slip (Keras raises ValueError for it too).
    with pytest.raises(ValueError, match=r"`metrics` must be a list.*Received: metrics="):
        model().compile(loss="mse", metrics=metrics)


def test_unknown_activation():
    with pytest.raises(ValueError, match=r"Unknown activation.*relu.*sigmoid"):
        Dense(3, activation="relux")


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_inf_in_the_inputs(bad):
    x = X.copy()
    x[3, 1] = bad
    with pytest.raises(ValueError, match=r"`x` contains NaN or infinite values \(first in row 3"):
        compiled().fit(x, Y, verbose=0)
    with pytest.raises(ValueError, match="NaN or infinite"):
        compiled().predict(x, verbose=0)


@pytest.mark.parametrize("lr", [0, -0.1, 0.0])
def test_learning_rate_must_be_positive(lr):
    with pytest.raises(ValueError, match=rf"`learning_rate` must be > 0. Received: learning_rate={lr}"):
        optimizers.SGD(learning_rate=lr)


@pytest.mark.parametrize("momentum", [-0.1, 1.5])
def test_momentum_must_be_in_unit_interval(momentum):
    with pytest.raises(ValueError, match=rf"`momentum`.*\[0, 1\].*{momentum}"):
        optimizers.SGD(momentum=momentum)


def test_momentum_accepts_integer_zero_and_one():
    optimizers.SGD(momentum=0)
    optimizers.SGD(momentum=1)


def test_nan_loss_stops_training_with_epoch_batch_and_advice():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype(np.float32) * 100
    y = rng.normal(size=(64, 1)).astype(np.float32) * 100
    m = models.Sequential([Dense(16, activation="relu", input_shape=(4,)), Dense(1)])
    m.compile(optimizer=optimizers.SGD(learning_rate=10.0), loss="mse")
    with pytest.raises(ValueError, match=r"loss became (nan|inf) at epoch \d+/50, batch \d+/2.*smaller") as info:
        m.fit(x, y, epochs=50, batch_size=32, verbose=0)
    assert isinstance(info.value, models.NonFiniteLossError)
    assert all(np.isfinite(w).all() for w in m.get_weights())  # from before the bad batch
    assert info.value.history is m.history


@pytest.mark.parametrize("kwargs, message", [
    (dict(batch_size=0), r"`batch_size` must be a positive integer. Received: batch_size=0"),
    (dict(batch_size=2.5), r"batch_size=2.5"),
    (dict(validation_split=1.0), r"`validation_split` must be in \[0, 1\)"),
    (dict(epochs=-1), r"`epochs` must be a non-negative integer"),
    (dict(verbose=3), r"`verbose` must be 0, 1 or 2"),
    (dict(validation_data=X), r"`validation_data` must be a tuple"),
])
def test_fit_arguments(kwargs, message):
    kwargs.setdefault("verbose", 0)
    with pytest.raises(ValueError, match=message):
        compiled().fit(X, Y, **kwargs)


def test_layer_arguments():
    with pytest.raises(ValueError, match=r"`units`.*positive integer. Received: units=0"):
        Dense(0)
    with pytest.raises(ValueError, match=r"`rate`.*between 0 and 1. Received: rate=1.5"):
        Dropout(1.5)
    with pytest.raises(TypeError, match="Only instances of `gdlib.layers.Layer`"):
        models.Sequential(["dense"])
    with pytest.raises(ValueError, match="unique names"):
        models.Sequential([Dense(1, name="a"), Dense(1, name="a")])


def test_strings_as_inputs():
    with pytest.raises(TypeError, match="`x` must be an array of numbers"):
        compiled().fit([["a", "b", "c", "d"]] * 6, Y, verbose=0)
