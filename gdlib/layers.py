r"""Layers: forward/backward pairs with Keras's names.

A layer's ``forward(x, training=False)`` computes its output and caches what
its backward pass needs; ``backward(grad_output)`` receives
:math:`\partial L/\partial y` and returns :math:`\partial L/\partial x`, the
gradient with respect to its input, after storing the gradients of its own
parameters in ``self.gradients`` (aligned with ``trainable_variables``).
Backpropagation is written out by hand here: there is no autodiff engine.

Parameters are plain float32 NumPy arrays. Code that trains a layer updates them
in place (``kernel -= lr * grad``), so an optimizer keeps pointing at the same
arrays for the whole of training.
"""

import numpy as np

from gdlib import activations, backend, initializers


class Layer:
    """The base class: naming, building on first use, weights and shapes.

    Parameters
    ----------
    trainable : bool
        Whether an optimizer may change this layer's parameters.
    name : str, optional
        Defaults to the snake-case class name made unique: ``dense``, ``dense_1``, ...
    input_shape : tuple, optional
        Shape of one sample, e.g. ``(64,)``. Lets the first layer of a
        ``Sequential`` build before it sees data.
    input_dim : int, optional
        Shorthand for ``input_shape=(input_dim,)``.
    """

    def __init__(self, trainable=True, name=None, input_shape=None, input_dim=None):
        if name is not None and not isinstance(name, str):
            raise TypeError(f"`name` must be a string. Received: name={name!r}")
        self.name = name or backend.unique_name(backend.to_snake_case(type(self).__name__))
        self.trainable = bool(trainable)
        self.built = False
        self.gradients = []
        # The first layer of a model does not need dL/dx; the model turns this off.
        self.need_input_gradient = True
        if input_dim is not None:
            input_shape = (input_dim,)
        if input_shape is not None:
            if isinstance(input_shape, (int, np.integer)):
                input_shape = (int(input_shape),)
            input_shape = tuple(input_shape)
            if not all(isinstance(s, (int, np.integer)) and s > 0 for s in input_shape):
                raise ValueError(
                    "`input_shape` must be a tuple of positive integers (the shape of one "
                    f"sample, without the batch size). Received: input_shape={input_shape!r}"
                )
        # (None, *input_shape): the batch size is left open, as in Keras.
        self.batch_input_shape = None if input_shape is None else (None,) + input_shape
        self.input_shape = None
        self.output_shape = None

    # ----------------------------------------------------------------- weights
    def _variables(self):
        """All parameters of this layer, in Keras's order (kernel, bias)."""
        return []

    @property
    def weights(self):
        return self._variables()

    @property
    def trainable_variables(self):
        return self._variables() if self.trainable else []

    @property
    def non_trainable_variables(self):
        return [] if self.trainable else self._variables()

    trainable_weights = trainable_variables
    non_trainable_weights = non_trainable_variables

    def get_weights(self):
        """Return copies of the parameters, in Keras's order."""
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        """Copy ``weights`` (a list of arrays, in Keras's order) into the parameters, in place."""
        own = self.weights
        weights = list(weights)
        if len(weights) != len(own):
            raise ValueError(
                f"Layer {self.name!r} expects {len(own)} weight arrays, but "
                f"`weights` has {len(weights)}."
            )
        for i, (current, new) in enumerate(zip(own, weights)):
            new = np.asarray(new)
            if new.shape != current.shape:
                raise ValueError(
                    f"Layer {self.name!r} weight {i} has shape {current.shape}, but the "
                    f"value given has shape {new.shape}."
                )
            current[...] = new

    def count_params(self):
        """Number of scalar parameters (0 before the layer is built)."""
        return int(sum(w.size for w in self.weights))

    # ------------------------------------------------------------------ shapes
    def build(self, input_shape):
        """Create the parameters for inputs of ``input_shape`` (batch first)."""
        self.input_shape = tuple(input_shape)
        self.output_shape = self.compute_output_shape(self.input_shape)
        self.built = True

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    # --------------------------------------------------------------- the maths
    def forward(self, x, training=False):
        raise NotImplementedError

    def backward(self, grad_output):
        raise NotImplementedError

    def __call__(self, x, training=False):
        x = np.asarray(x, dtype=backend.floatx())  # as Keras, inputs are cast to float32
        if not self.built:
            self.build((None,) + x.shape[1:])
        return self.forward(x, training=training)

    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable}
        if self.batch_input_shape is not None:
            config["input_shape"] = self.batch_input_shape[1:]
        return config

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


class InputLayer(Layer):
    """Declares the shape of one sample; ``Sequential`` takes it as its input shape."""

    def __init__(self, shape, name=None):
        super().__init__(name=name, input_shape=shape)
        self.build(self.batch_input_shape)

    def forward(self, x, training=False):
        return x

    def backward(self, grad_output):
        return grad_output


def Input(shape, name=None):
    """Keras 3's way to start a model: ``Sequential([Input(shape=(64,)), Dense(10)])``."""
    return InputLayer(shape, name=name)


class Dense(Layer):
    r"""A fully connected layer: ``y = activation(x @ kernel + bias)``.

    Parameters
    ----------
    units : int
        Number of outputs.
    activation : str or callable, optional
        A name from ``gdlib.activations`` (``'relu'``, ``'softmax'``, ...); None is linear.
    use_bias : bool
        Whether to add ``bias``.
    input_dim, input_shape : optional
        The size or shape of one input sample, for the first layer of a model.
    kernel_initializer, bias_initializer : str or callable
        Keras names or initializer objects, e.g. ``GlorotUniform(seed=0)``.
    name : str, optional
        Defaults to ``dense``, ``dense_1``, ...
    trainable : bool

    Notes
    -----
    Shapes: ``x: (batch, in)``, ``kernel: (in, units)``, ``bias: (units,)``,
    ``z, y: (batch, units)``. With :math:`z = xW + b` and :math:`y = f(z)`:

    .. math::

        \frac{\partial L}{\partial z} = \frac{\partial L}{\partial y} \odot f'(z), \qquad
        \frac{\partial L}{\partial W} = x^\top \frac{\partial L}{\partial z}, \qquad
        \frac{\partial L}{\partial b} = \sum_{\text{batch}} \frac{\partial L}{\partial z}, \qquad
        \frac{\partial L}{\partial x} = \frac{\partial L}{\partial z} W^\top
    """

    def __init__(
        self,
        units,
        activation=None,
        use_bias=True,
        input_dim=None,
        input_shape=None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        name=None,
        trainable=True,
    ):
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units <= 0:
            raise ValueError(
                "Received an invalid value for `units`, expected a positive integer. "
                f"Received: units={units!r}"
            )
        super().__init__(trainable=trainable, name=name, input_shape=input_shape, input_dim=input_dim)
        self.units = int(units)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel = None
        self.bias = None

    def build(self, input_shape):
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(f"The last dimension of the input to {self.name!r} must be known.")
        self.kernel = np.asarray(self.kernel_initializer((input_dim, self.units)), dtype=backend.floatx())
        if self.use_bias:
            self.bias = np.asarray(self.bias_initializer((self.units,)), dtype=backend.floatx())
        self.gradients = [np.zeros_like(w) for w in self._variables()]
        super().build(input_shape)

    def _variables(self):
        if self.kernel is None:
            return []
        return [self.kernel, self.bias] if self.use_bias else [self.kernel]

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def forward(self, x, training=False):
        """``x: (batch, in)`` -> ``y: (batch, units)``; caches x, z and y."""
        if x.ndim < 2 or x.shape[-1] != self.kernel.shape[0]:
            raise ValueError(
                f'Input 0 of layer "{self.name}" is incompatible with the layer: expected '
                f"axis -1 of input shape to have value {self.kernel.shape[0]}, but received "
                f"input with shape {x.shape}"
            )
        z = x @ self.kernel
        if self.use_bias:
            z += self.bias
        y = self.activation(z)
        self._x, self._z, self._y = x, z, y
        return y

    def backward(self, grad_output):
        """``grad_output: (batch, units)`` -> ``dL/dx: (batch, in)`` (None when not needed)."""
        # f'(z), using the cached z and y = f(z).
        if self.activation is activations.linear:
            grad_z = grad_output
        else:
            grad_z = activations.backward(self.activation, self._z, self._y, grad_output)
        return self.backward_from_preactivation(grad_z)

    def backward_from_preactivation(self, grad_z):
        r"""The linear part of ``backward``, given :math:`\partial L/\partial z`: ``(batch, units)``.

        Models call it directly when the gradient with respect to ``z`` is known in
        closed form (softmax followed by crossentropy: ``(p - y) / N``).
        """
        x = self._x
        grad_kernel = self.gradients[0]
        if grad_kernel.dtype == grad_z.dtype and x.dtype == grad_z.dtype:
            np.matmul(x.T, grad_z, out=grad_kernel)  # dL/dW = x^T dL/dz, written in place
        else:
            self.gradients[0] = x.T @ grad_z
        if self.use_bias:
            if self.gradients[1].dtype == grad_z.dtype:
                grad_z.sum(axis=0, out=self.gradients[1])  # dL/db = sum over the batch
            else:
                self.gradients[1] = grad_z.sum(axis=0)
        if not self.need_input_gradient:
            return None
        return grad_z @ self.kernel.T  # dL/dx = dL/dz W^T

    def get_config(self):
        config = super().get_config()
        config.update(
            units=self.units,
            activation=activations.serialize(self.activation),
            use_bias=self.use_bias,
            kernel_initializer=type(self.kernel_initializer).__name__,
            bias_initializer=type(self.bias_initializer).__name__,
        )
        return config


class Activation(Layer):
    """Applies an activation function: ``y = activation(x)``, any shape.

    Parameters
    ----------
    activation : str or callable
        A name from ``gdlib.activations`` or a function.
    """

    def __init__(self, activation, name=None, input_shape=None, trainable=True):
        super().__init__(trainable=trainable, name=name, input_shape=input_shape)
        self.activation = activations.get(activation)

    def forward(self, x, training=False):
        y = self.activation(x)
        self._x, self._y = x, y
        return y

    def backward(self, grad_output):
        """dL/dx = dL/dy * f'(x), from the cached x and y."""
        return activations.backward(self.activation, self._x, self._y, grad_output)

    def get_config(self):
        config = super().get_config()
        config["activation"] = activations.serialize(self.activation)
        return config


class Dropout(Layer):
    r"""Inverted dropout: in training, zero each input with probability ``rate``
    and scale the rest by :math:`1/(1-\text{rate})`; outside training, do nothing.

    Parameters
    ----------
    rate : float
        Fraction of the inputs to drop, in [0, 1].
    seed : int, optional
        Seed of this layer's own random generator.

    Notes
    -----
    With a mask :math:`m_i \sim \text{Bernoulli}(1-\text{rate})`:

    .. math::

        y = \frac{m \odot x}{1 - \text{rate}}, \qquad
        \frac{\partial L}{\partial x} = \frac{m \odot \partial L/\partial y}{1 - \text{rate}}

    so the expected value of every output equals its input and nothing needs
    rescaling at prediction time.
    """

    def __init__(self, rate, seed=None, name=None, input_shape=None, trainable=True):
        if isinstance(rate, bool) or not isinstance(rate, (int, float, np.floating)) or not 0 <= rate <= 1:
            raise ValueError(
                "Invalid value received for argument `rate`. Expected a float value "
                f"between 0 and 1. Received: rate={rate!r}"
            )
        super().__init__(trainable=trainable, name=name, input_shape=input_shape)
        self.rate = float(rate)
        self.seed = seed
        self._rng = np.random.default_rng(seed)
        self._mask = None

    def forward(self, x, training=False):
        if not training or self.rate == 0:
            self._mask = None
            return x
        keep = self._rng.random(x.shape) >= self.rate
        scale = 0.0 if self.rate == 1 else 1.0 / (1.0 - self.rate)
        self._mask = keep.astype(x.dtype) * x.dtype.type(scale)
        return x * self._mask

    def backward(self, grad_output):
        if self._mask is None:
            return grad_output
        return grad_output * self._mask

    def get_config(self):
        config = super().get_config()
        config.update(rate=self.rate, seed=self.seed)
        return config
