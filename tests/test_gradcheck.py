"""Central differences in float64 agree with every hand-written backward pass."""

import numpy as np
import pytest

from gdlib import gradcheck, models
from gdlib.initializers import GlorotUniform
from gdlib.layers import Activation, Dense, Dropout

ACTIVATIONS = ["relu", "sigmoid", "tanh", "softmax", "linear", "elu", "selu", "softplus",
               "softsign", "leaky_relu", "gelu", "silu", "exponential"]


def inputs(shape=(4, 5), seed=0):
    x = np.random.default_rng(seed).normal(size=shape)
    x[np.abs(x) < 1e-3] = 0.1  # keep clear of relu's kink
    return x


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_dense_with_every_activation(activation):
    layer = Dense(3, activation=activation, kernel_initializer=GlorotUniform(seed=0),
                  bias_initializer="random_normal")
    assert gradcheck.check_layer(layer, inputs()) < 1e-6
    assert layer.kernel.dtype == np.float32  # restored after the float64 check


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_activation_layer(activation):
    assert gradcheck.check_layer(Activation(activation), inputs()) < 1e-6


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_activation_functions(activation):
    assert gradcheck.check_activation(activation, inputs(seed=1)) < 1e-6


def test_dropout_layer():
    assert gradcheck.check_layer(Dropout(0.5, seed=0), inputs()) < 1e-6


@pytest.mark.parametrize("loss, output, targets", [
    ("sparse_categorical_crossentropy", "softmax", np.array([0, 2, 1, 1, 0])),
    ("categorical_crossentropy", "softmax", np.eye(3)[[0, 2, 1, 1, 0]]),
    ("mse", None, np.random.default_rng(3).normal(size=(5, 3))),
    ("mae", "tanh", np.random.default_rng(3).normal(size=(5, 3))),
    ("kl_divergence", "softmax", np.array([[0.2, 0.3, 0.5]] * 5)),
])
def test_whole_model(loss, output, targets):
    model = models.Sequential([
        Dense(6, activation="tanh", input_shape=(4,), kernel_initializer=GlorotUniform(1)),
        Dense(5, activation="relu", kernel_initializer=GlorotUniform(2), bias_initializer="ones"),
        Dense(3, activation=output, kernel_initializer=GlorotUniform(3)),
    ])
    model.compile(optimizer="sgd", loss=loss)
    assert gradcheck.check_model(model, inputs((5, 4), seed=4), targets) < 1e-6


def test_model_with_a_final_activation_layer_uses_the_fused_gradient():
    model = models.Sequential([Dense(3, input_shape=(4,)), Activation("softmax")])
    assert gradcheck.check_model(model, inputs((5, 4)), np.array([0, 1, 2, 0, 1]),
                                 loss="sparse_categorical_crossentropy") < 1e-6


@pytest.mark.parametrize("loss, y_true", [
    ("mse", np.random.default_rng(0).normal(size=(4, 3))),
    ("binary_crossentropy", np.array([[0.0], [1.0], [1.0], [0.0]])),
])
def test_losses(loss, y_true):
    y_pred = np.random.default_rng(1).uniform(0.1, 0.9, size=y_true.shape)
    assert gradcheck.check_loss(loss, y_true, y_pred) < 1e-6


class WrongDense(Dense):
    """A deliberately broken backward pass: the check must notice."""

    def backward_from_preactivation(self, grad_z):
        grad_x = super().backward_from_preactivation(grad_z)
        self.gradients[0] *= 1.01
        return grad_x


def test_a_wrong_gradient_is_detected():
    assert gradcheck.check_layer(WrongDense(3), inputs()) > 1e-3


def test_numerical_gradient_of_a_known_function():
    x = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(gradcheck.numerical_gradient(lambda: np.sum(x ** 3), x), 3 * x ** 2, rtol=1e-8)
    assert gradcheck.relative_error([1.0, 2.0], [1.0, 2.0]) == 0.0
