"""Tests for gdlib.metrics: per-sample accuracies (hand values and Keras golden
values), Keras 3's resolution of 'accuracy', and loss names used as metrics."""

import numpy as np
import pytest

from gdlib import losses, metrics

# Inputs of the Keras golden values below (float32).
BIN_TRUE = [[0, 1, 1, 0], [1, 0, 1, 1], [0, 0, 1, 0]]
BIN_PRED = [[0.1, 0.8, 1.0, 0.0], [0.99999, 1e-9, 0.5, 0.7], [0.3, 0.6, 0.9999999, 0.2]]
CAT_TRUE = [[0, 1, 0, 0, 0], [0, 0, 0, 0, 1], [1, 0, 0, 0, 0]]
CAT_PRED = [[0.1, 0.6, 0.1, 0.1, 0.1], [0.2, 0.5, 0.0, 0.4, 0.3], [1.0, 0.0, 0.0, 0.0, 0.0]]
SPARSE_TRUE = [1, 4, 0]
SPARSE_PRED = [[1.0, 2.0, -1.0, 0.5, 0.0], [1000.0, -1000.0, 0.0, 3.0, 2.0], [-3.0, 7.0, 0.25, -0.5, 1.5]]

# Recorded with Keras 3.15.1 (KERAS_BACKEND=torch): keras.metrics.<name>(y_true, y_pred).
GOLDEN = {
    "binary_accuracy": (BIN_TRUE, BIN_PRED, [[1, 1, 1, 1], [1, 1, 0, 1], [1, 0, 1, 1]]),
    "categorical_accuracy": (CAT_TRUE, CAT_PRED, [1, 0, 1]),
    "sparse_categorical_accuracy": (SPARSE_TRUE, SPARSE_PRED, [1, 0, 0]),
}


@pytest.mark.parametrize("name", list(GOLDEN))
def test_matches_keras(name):
    y_true, y_pred, expected = GOLDEN[name]
    result = getattr(metrics, name)(np.array(y_true, np.float32), np.array(y_pred, np.float32))
    assert result.dtype == np.float32
    np.testing.assert_array_equal(result, expected)


def test_binary_accuracy_by_hand():
    # 0.5 is not above the threshold 0.5, so it counts as class 0.
    np.testing.assert_array_equal(metrics.binary_accuracy([[1], [0], [0], [1]], [[0.7], [0.5], [0.6], [0.2]]),
                                  [[1], [1], [0], [0]])
    np.testing.assert_array_equal(metrics.binary_accuracy([1, 0], [0.7, 0.6], threshold=0.65), [1, 1])
    # (N,) labels against (N, 1) predictions compare row by row, not N x N
    assert metrics.binary_accuracy([1, 0, 1], [[0.9], [0.1], [0.2]]).shape == (3, 1)


def test_categorical_and_sparse_accuracy_by_hand():
    y_pred = [[0.1, 0.7, 0.2], [0.5, 0.3, 0.2]]
    np.testing.assert_array_equal(metrics.categorical_accuracy([[0, 1, 0], [0, 0, 1]], y_pred), [1, 0])
    np.testing.assert_array_equal(metrics.sparse_categorical_accuracy([1, 0], y_pred), [1, 1])
    np.testing.assert_array_equal(metrics.sparse_categorical_accuracy([[1], [2]], y_pred), [1, 0])


@pytest.mark.parametrize("y_true_shape, y_pred_shape, expected", [
    ((32,), (None, 1), "binary_accuracy"),
    ((32, 1), (None, 1), "binary_accuracy"),
    ((32,), (None, 10), "sparse_categorical_accuracy"),
    ((32, 1), (None, 10), "sparse_categorical_accuracy"),
    ((32, 10), (None, 10), "categorical_accuracy"),
])
def test_accuracy_resolves_as_keras(y_true_shape, y_pred_shape, expected):
    for name in ("accuracy", "acc"):
        metric = metrics.get(name, y_true=np.zeros(y_true_shape), y_pred_shape=y_pred_shape)
        assert metric.__name__ == name  # the history key stays what the user wrote
        y_pred = np.random.default_rng(0).uniform(size=(32, y_pred_shape[-1]))
        y_true = np.zeros(y_true_shape)
        np.testing.assert_array_equal(metric(y_true, y_pred), getattr(metrics, expected)(y_true, y_pred))
    assert metrics.resolve_accuracy(y_true_shape, y_pred_shape) is getattr(metrics, expected)


def test_accuracy_needs_shapes():
    with pytest.raises(ValueError, match="pass `y_true` and `y_pred_shape`"):
        metrics.get("accuracy")


@pytest.mark.parametrize("name, fn", [
    ("mse", losses.mean_squared_error), ("mae", losses.mean_absolute_error),
    ("mean_squared_error", losses.mean_squared_error), ("binary_crossentropy", losses.binary_crossentropy),
    ("kld", losses.kl_divergence),
])
def test_loss_names_are_metrics(name, fn):
    metric = metrics.get(name)
    assert metric.__name__ == name
    y_true, y_pred = np.array([[0.2, 0.8], [1.0, 0.0]]), np.array([[0.3, 0.6], [0.9, 0.2]])
    np.testing.assert_array_equal(metric(y_true, y_pred), fn(y_true, y_pred))


def test_named_accuracy_metrics_and_callables():
    assert metrics.get("binary_accuracy") is metrics.binary_accuracy
    assert metrics.get("SparseCategoricalAccuracy").__name__ == "SparseCategoricalAccuracy"

    def my_metric(y_true, y_pred):
        return np.zeros(len(y_true))

    assert metrics.get(my_metric) is my_metric


def test_unknown_metric_lists_valid_names():
    with pytest.raises(ValueError, match=r"Unknown metric: 'accuracyy'.*binary_accuracy.*mse"):
        metrics.get("accuracyy")
    with pytest.raises(TypeError, match="metric=5"):
        metrics.get(5)
