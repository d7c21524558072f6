"""Layers and initializers: shapes, Keras names, forward/backward by hand."""

import numpy as np
import pytest

import gdlib
from gdlib import backend, initializers
from gdlib.layers import Activation, Dense, Dropout


def test_dense_shapes_and_keras_layout():
    layer = Dense(5, input_shape=(3,))
    y = layer(np.ones((4, 3)))
    assert layer.kernel.shape == (3, 5) and layer.bias.shape == (5,)
    assert y.shape == (4, 5) and y.dtype == np.float32
    assert layer.count_params() == 20
    assert layer.compute_output_shape((None, 3)) == (None, 5)
    assert [w.shape for w in layer.get_weights()] == [(3, 5), (5,)]
    np.testing.assert_array_equal(layer.bias, 0)


def test_dense_forward_and_backward_by_hand():
    layer = Dense(2, activation="relu")
    layer.build((None, 2))
    layer.set_weights([np.array([[1.0, -1.0], [2.0, 1.0]]), np.array([0.5, -0.5])])
    x = np.array([[1.0, 1.0]], np.float32)
    # z = [1 + 2 + 0.5, -1 + 1 - 0.5] = [3.5, -0.5]; relu -> [3.5, 0]
    np.testing.assert_allclose(layer.forward(x), [[3.5, 0.0]])
    grad_x = layer.backward(np.array([[1.0, 1.0]], np.float32))
    # dL/dz = [1, 0] (the second unit is off); dW = x^T dz; db = dz; dx = dz W^T = [1, 2]
    np.testing.assert_allclose(layer.gradients[0], [[1.0, 0.0], [1.0, 0.0]])
    np.testing.assert_allclose(layer.gradients[1], [1.0, 0.0])
    np.testing.assert_allclose(grad_x, [[1.0, 2.0]])


def test_backward_does_not_modify_the_incoming_gradient():
    layer = Dense(3, activation="tanh", input_shape=(2,))
    layer(np.ones((4, 2), np.float32))
    g = np.ones((4, 3), np.float32)
    layer.backward(g)
    np.testing.assert_array_equal(g, 1)


def test_need_input_gradient_false_returns_none_but_keeps_parameter_gradients():
    layer = Dense(3, input_shape=(2,))
    layer.need_input_gradient = False
    layer(np.ones((4, 2), np.float32))
    assert layer.backward(np.ones((4, 3), np.float32)) is None
    np.testing.assert_allclose(layer.gradients[0], 4.0)


def test_no_bias():
    layer = Dense(3, use_bias=False, input_shape=(2,))
    layer(np.ones((1, 2)))
    assert len(layer.weights) == 1 and layer.count_params() == 6


def test_automatic_names_and_clear_session():
    backend.clear_session()
    assert [Dense(1).name, Dense(1).name, Activation("relu").name, Dropout(0.1).name] == [
        "dense", "dense_1", "activation", "dropout"]
    backend.clear_session()
    assert Dense(1).name == "dense"
    assert Dense(1, name="output").name == "output"


def test_backend_constants():
    assert backend.epsilon() == 1e-7 and backend.floatx() == "float32"


def test_glorot_uniform_limits_and_seed():
    values = initializers.GlorotUniform(seed=1)((64, 512))
    limit = np.sqrt(6 / (64 + 512))
    assert values.dtype == np.float32 and np.abs(values).max() <= limit
    assert np.abs(values).max() > 0.95 * limit
    np.testing.assert_array_equal(values, initializers.GlorotUniform(seed=1)((64, 512)))
    assert not np.array_equal(values, initializers.GlorotUniform(seed=2)((64, 512)))
    assert not np.array_equal(initializers.GlorotUniform()((3, 3)), initializers.GlorotUniform()((3, 3)))


@pytest.mark.parametrize("name, std", [
    ("he_normal", np.sqrt(2 / 400)), ("glorot_normal", np.sqrt(2 / 800)), ("lecun_normal", np.sqrt(1 / 400)),
    ("he_uniform", np.sqrt(2 / 400)), ("lecun_uniform", np.sqrt(1 / 400)), ("glorot_uniform", np.sqrt(2 / 800)),
])
def test_variance_scaling_family_has_the_keras_standard_deviation(name, std):
    initializer = initializers.get(name)
    initializer.__init__(seed=0)
    values = initializer((400, 400))
    assert values.std() == pytest.approx(std, rel=0.03)


def test_dense_seeded_initializer_repeats():
    a = Dense(4, kernel_initializer=initializers.GlorotUniform(seed=7), input_shape=(3,))
    b = Dense(4, kernel_initializer=initializers.GlorotUniform(seed=7), input_shape=(3,))
    a.build((None, 3)), b.build((None, 3))
    np.testing.assert_array_equal(a.kernel, b.kernel)


@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh", "softmax", "linear", "gelu"])
def test_activation_layer_applies_the_function(name):
    x = np.linspace(-3, 3, 12, dtype=np.float32).reshape(3, 4)
    np.testing.assert_allclose(Activation(name)(x), gdlib.activations.get(name)(x))


def test_dropout_is_inverted_and_only_active_in_training():
    x = np.ones((200, 50), np.float32)
    layer = Dropout(0.25, seed=0)
    np.testing.assert_array_equal(layer(x), x)
    y = layer(x, training=True)
    kept = y != 0
    assert kept.mean() == pytest.approx(0.75, abs=0.02)
    np.testing.assert_allclose(y[kept], 1 / 0.75)
    # backward uses the same mask
    np.testing.assert_array_equal(layer.backward(np.ones_like(x)), y)
    np.testing.assert_array_equal(Dropout(0.25, seed=0)(x, training=True), y)


def test_set_weights_checks_shapes_and_copies_in_place():
    layer = Dense(2, input_shape=(3,))
    layer.build((None, 3))
    kernel = layer.kernel
    layer.set_weights([np.ones((3, 2)), np.zeros(2)])
    assert layer.kernel is kernel and kernel.dtype == np.float32
    with pytest.raises(ValueError, match=r"shape \(3, 2\).*\(2, 3\)"):
        layer.set_weights([np.ones((2, 3)), np.zeros(2)])
    with pytest.raises(ValueError, match="expects 2 weight arrays"):
        layer.set_weights([np.ones((3, 2))])


def test_get_config():
    config = Dense(3, activation="relu", name="d").get_config()
    assert config["units"] == 3 and config["activation"] == "relu" and config["name"] == "d"
    assert Dropout(0.3, seed=1).get_config()["rate"] == 0.3


def test_non_trainable_layer():
    layer = Dense(2, input_shape=(3,), trainable=False)
    layer.build((None, 3))
    assert layer.trainable_variables == [] and len(layer.non_trainable_variables) == 2
