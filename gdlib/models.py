r"""``Sequential``: a stack of layers trained with ``compile`` and ``fit``, as in Keras.

One training step on a batch ``(x, y)``, the heart of ``fit``::

    y_pred = model.forward(x, training=True)        # each layer caches what it needs
    loss = loss_fn(y, y_pred)                        # the batch mean, reported in history
    grad = loss_fn.gradient(y, y_pred)               # dL/dy_pred
    for layer in reversed(model.layers):             # backpropagation
        grad = layer.backward(grad)                  # stores dL/dW in layer.gradients
    optimizer.apply(gradients, trainable_variables)  # updates the weights in place

With a softmax output and a (sparse) categorical crossentropy, the last two
derivatives are taken together: the gradient with respect to the softmax's input
is simply :math:`(p - y)/N` (``losses.softmax_crossentropy_gradient``).

``fit`` follows Keras 3 exactly where a learner can see it: ``validation_split``
takes the *last* fraction of the data, before any shuffling; the training data
is shuffled at every epoch; the last, smaller batch is kept; ``history['loss']``
is the mean of the batch losses weighted by batch size, each computed in the
forward pass *before* that batch's update, and metrics are accumulated over the
epoch the same way.
"""

import math
import time

import numpy as np

from gdlib import backend
from gdlib import callbacks as callbacks_module
from gdlib import layers as layers_module
from gdlib import losses as losses_module
from gdlib import metrics as metrics_module
from gdlib import optimizers as optimizers_module
from gdlib import tape as tape_module


class NonFiniteLossError(ValueError):
    """Raised by ``fit`` when the loss becomes NaN or infinite.

    Attributes
    ----------
    history : callbacks.History
        What was recorded up to the last complete epoch.
    """

    def __init__(self, message, history=None):
        super().__init__(message)
        self.history = history


def _describe(value):
    return f"{type(value).__name__} of shape {value.shape}" if hasattr(value, "shape") else repr(value)


def _as_input_array(x, argument="x"):
    """``x`` as a float32 array of shape (samples, features...), checked once."""
    if x is None:
        raise ValueError(f"`{argument}` must be an array of samples. Received: {argument}=None")
    try:
        array = np.asarray(x, dtype=np.float32)
    except (TypeError, ValueError):
        raise TypeError(
            f"`{argument}` must be an array of numbers. Received: {argument} of type "
            f"{type(x).__name__}"
        ) from None
    if array.ndim < 2:
        raise ValueError(
            f"`{argument}` must have shape (samples, features), with one row per sample. "
            f"Received: {argument} with shape {array.shape}. A single feature per sample "
            f"is written `{argument}.reshape(-1, 1)`."
        )
    if len(array) == 0:
        raise ValueError(f"`{argument}` is empty. Received: {argument} with shape {array.shape}")
    if not np.isfinite(array).all():
        row = int(np.argmin(np.isfinite(array).reshape(len(array), -1).all(axis=1)))
        raise ValueError(
            f"`{argument}` contains NaN or infinite values (first in row {row}: "
            f"{array[row].ravel()[:8]}). Remove or impute them before training."
        )
    return array


# The two functions below are the hot path of classification with integer labels.
# They compute exactly what losses.SparseCategoricalCrossentropy()(labels, p) and
# losses.softmax_crossentropy_gradient(labels, p, sparse=True) return (the tests
# check that they agree bit for bit), without the generality those need.


def _sparse_crossentropy_mean(labels, p):
    r"""Keras's sparse categorical crossentropy of probabilities ``p: (N, K)``, averaged over the batch.

    :math:`\ell_i = -\log \operatorname{clip}(p_{i,c_i} / \sum_k p_{ik}, \epsilon, 1 - \epsilon)`,
    computed for each sample's label :math:`c_i` only.
    """
    eps = backend.epsilon()
    rows = np.arange(len(labels))
    q = p[rows, labels] / np.sum(p, axis=-1)
    values = -np.log(np.clip(q, eps, 1 - eps))
    return np.sum(values) / values.dtype.type(values.size)


def _sparse_softmax_crossentropy_gradient(labels, p):
    r""":math:`\partial L / \partial z = (p - \text{onehot}(c)) / N` for a softmax output ``p: (N, K)``."""
    grad = p.copy()
    grad[np.arange(len(labels)), labels] -= 1
    grad /= len(labels)
    return grad


class Sequential:
    """A linear stack of layers.

    Parameters
    ----------
    layers : list of Layer, optional
        Added in order, as with :meth:`add`.
    name : str, optional
        Defaults to ``sequential``, ``sequential_1``, ...

    Examples
    --------
    >>> model = Sequential([Dense(512, activation="relu", input_shape=(64,)),
    ...                     Dense(10, activation="softmax")])
    >>> model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
    ...               metrics=["accuracy"])
    >>> history = model.fit(x, y, epochs=20, batch_size=32, validation_split=0.2)
    """

    def __init__(self, layers=None, name=None):
        self.name = name or backend.unique_name("sequential")
        self.layers = []
        self._input_shape = None  # (None, features) once known
        self.built = False
        self.compiled = False
        self.optimizer = None
        self.loss = None
        self.stop_training = False
        self.history = None
        self._loss_fn = None
        self._metric_identifiers = []
        self._forward_count = 0  # lets a GradientTape notice that its recorded call's caches are gone
        for layer in layers or []:
            self.add(layer)

    # ================================================================ building
    def add(self, layer):
        """Append a layer. ``Input(shape=...)`` (or a first layer's ``input_shape``) sets the input shape."""
        if not isinstance(layer, layers_module.Layer):
            raise TypeError(
                "Only instances of `gdlib.layers.Layer` can be added to a Sequential model. "
                f"Received: {layer!r} (of type {type(layer).__name__})"
            )
        if isinstance(layer, layers_module.InputLayer):
            if self.layers:
                raise ValueError("An `Input` can only be the first element of a Sequential model.")
            self._input_shape = layer.batch_input_shape
            return
        if any(existing.name == layer.name for existing in self.layers):
            raise ValueError(
                "All layers added to a Sequential model should have unique names. Name "
                f"{layer.name!r} is already the name of a layer in this model."
            )
        if not self.layers and self._input_shape is None and layer.batch_input_shape is not None:
            self._input_shape = layer.batch_input_shape
        self.layers.append(layer)
        self.built = False
        if self._input_shape is not None:
            self.build(self._input_shape)

    def pop(self):
        """Remove the last layer."""
        if not self.layers:
            raise TypeError("There are no layers in the model.")
        layer = self.layers.pop()
        self.built = False
        return layer

    def build(self, input_shape=None):
        """Build every layer for inputs of ``input_shape`` = ``(None, features)``."""
        if input_shape is None:
            input_shape = self._input_shape
        if input_shape is None:
            raise ValueError(
                "The input shape of this model is not known yet. Give the first layer an "
                "`input_shape` (e.g. `Dense(10, input_shape=(64,))`), start the model with "
                "`Input(shape=(64,))`, or call `build((None, 64))`."
            )
        shape = (None,) + tuple(input_shape)[1:]
        self._input_shape = shape
        for layer in self.layers:
            if not layer.built:
                layer.build(shape)
            elif layer.input_shape is not None and tuple(layer.input_shape[1:]) != shape[1:]:
                raise ValueError(
                    f"Layer {layer.name!r} was built for inputs of shape {layer.input_shape}, "
                    f"but here it receives {shape}."
                )
            shape = layer.compute_output_shape(shape)
        self.built = True

    @property
    def input_shape(self):
        return self._input_shape

    @property
    def output_shape(self):
        if not self.built:
            raise ValueError(f"Model {self.name!r} has not been built yet.")
        return self.layers[-1].output_shape

    def _require_built(self, action):
        if not self.built:
            raise ValueError(
                f"This model has not yet been built, so `{action}` cannot run. Build the "
                "model first by giving the first layer an `input_shape`, by calling "
                "`build((None, features))`, or by calling `fit`/`predict` on data."
            )

    # ============================================================= compiling
    def compile(self, optimizer="rmsprop", loss=None, metrics=None):
        """Choose how to train: the optimizer, the loss and the metrics to report.

        Parameters
        ----------
        optimizer : str or Optimizer
            ``'rmsprop'`` (Keras's default), ``'adam'``, ``'sgd'``, ... or an instance.
        loss : str or Loss or callable
            ``'mse'``, ``'sparse_categorical_crossentropy'``, ... or an instance.
        metrics : list, optional
            e.g. ``['accuracy']``; ``'accuracy'`` becomes binary, sparse or
            categorical accuracy according to the targets and output, as in Keras.
        """
        self.optimizer = optimizers_module.get(optimizer)
        self.loss = loss
        self._loss_fn = None if loss is None else losses_module.get(loss)
        if metrics is None:
            metrics = []
        elif isinstance(metrics, (str, dict)) or callable(metrics):
            # Keras raises ValueError here too; a Sequential model has one output, so no dict.
            raise ValueError(
                "`metrics` must be a list (e.g. `metrics=['accuracy']`). "
                f"Received: metrics={metrics!r} of type {type(metrics).__name__}"
            )
        metrics = list(metrics)
        for identifier in metrics:
            # Unknown names fail now, not mid-fit; 'accuracy' is resolved in fit, from the targets.
            if not (isinstance(identifier, str) and identifier.lower() in ("accuracy", "acc")):
                metrics_module.get(identifier)
        self._metric_identifiers = metrics
        self.compiled = True

    def _require_compiled(self, method):
        if not self.compiled:
            raise ValueError(
                f"You must call `compile()` before calling `{method}()`, e.g. "
                "`model.compile(optimizer='adam', loss='mse')`."
            )
        if self._loss_fn is None and method not in ("predict",):
            raise ValueError(
                f"`{method}()` needs a loss, but `compile()` was called with loss=None. "
                "Pass one, e.g. `compile(optimizer='adam', loss='mse')`."
            )

    # ============================================================== the maths
    def forward(self, x, training=False):
        """Run ``x: (batch, features)`` through every layer; each layer caches its inputs."""
        self._forward_count += 1
        for layer in self.layers:
            x = layer.forward(x, training=training)
        return x

    def backward(self, grad_output):
        """Backpropagate ``dL/dy_pred`` through every layer, last to first.

        Each layer stores its parameter gradients in ``layer.gradients``;
        returns ``dL/dx`` (None if the first layer was told not to compute it).
        """
        grad = grad_output
        for layer in reversed(self.layers):
            grad = layer.backward(grad)
        return grad

    def __call__(self, x, training=False):
        """``model(x)``: the output for ``x``, in one batch.

        Inside a ``with gdlib.GradientTape()`` block the call is recorded, so that
        ``tape.gradient`` can run this model's backward pass from this output.
        """
        x = _as_input_array(x)
        self._build_for(x)
        output = self.forward(x, training=training)
        if tape_module._active_tapes:
            tape_module.record_model_call(self, output)
        return output

    def _build_for(self, x):
        if not self.layers:
            raise ValueError("This model has no layers yet: add some with `model.add(...)`.")
        if not self.built:
            self.build((None,) + x.shape[1:])
        expected = self._input_shape[1:]
        if x.shape[1:] != expected:
            first = self.layers[0]
            raise ValueError(
                f'Input 0 of layer "{first.name}" is incompatible with the layer: expected '
                f"axis -1 of input shape to have value {expected[-1]}, but received input "
                f"with shape {x.shape}. The model was built for samples of shape "
                f"{expected}."
            )

    def _fused_output(self, loss=None):
        """Whether the last layer's softmax and the crossentropy loss are differentiated together.

        True for a softmax output (a ``Dense`` with ``activation='softmax'`` or a final
        ``Activation('softmax')``) trained with categorical or sparse categorical
        crossentropy on probabilities (``from_logits=False``).
        ``loss`` defaults to the compiled one. Returns None, or ``sparse`` (bool).
        """
        if not self.layers:
            return None
        from gdlib import activations

        last = self.layers[-1]
        if getattr(last, "activation", None) is not activations.softmax:
            return None
        loss = self._loss_fn if loss is None else loss
        if getattr(loss, "from_logits", True):
            return None
        if getattr(loss, "reduction", None) not in ("sum_over_batch_size", "mean"):
            return None  # the fused gradient is that of the batch mean
        if isinstance(loss, losses_module.SparseCategoricalCrossentropy):
            return True
        if isinstance(loss, losses_module.CategoricalCrossentropy):
            return False
        return None

    def _train_step(self, x, y):
        """Forward, loss, backward and one optimizer update. Returns ``(loss, y_pred)``."""
        y_pred = self.forward(x, training=True)
        if self._fused is True:
            loss = _sparse_crossentropy_mean(y, y_pred)  # = self._loss_fn(y, y_pred), faster
        else:
            loss = self._loss_fn(y, y_pred)
        if not math.isfinite(loss):
            return loss, y_pred  # the caller stops; the weights are left untouched
        self._backward_loss(y, y_pred)
        gradients, variables = [], []
        for layer in self.layers:
            if layer.trainable:
                gradients.extend(layer.gradients)
                variables.extend(layer.trainable_variables)
        if variables:
            self.optimizer.apply(gradients, variables)
        return loss, y_pred

    def _backward_loss(self, y, y_pred, loss_fn=None, fused=None):
        """Backpropagate the loss from ``y_pred``; every layer stores its gradients.

        ``loss_fn`` and ``fused`` default to the compiled loss and ``self._fused``.
        """
        if loss_fn is None:
            loss_fn, fused = self._loss_fn, self._fused
        if fused is True:
            grad = _sparse_softmax_crossentropy_gradient(y, y_pred)
            last = self.layers[-1]
            if isinstance(last, layers_module.Dense):
                grad = last.backward_from_preactivation(grad)
            layers_before = self.layers[-2::-1]
        elif fused is False:
            # dL/dz for z = the softmax's input: (p - onehot(y)) / N, no Jacobian needed.
            grad = losses_module.softmax_crossentropy_gradient(
                y, y_pred, fused, getattr(loss_fn, "label_smoothing", 0.0)
            )
            last = self.layers[-1]
            if isinstance(last, layers_module.Dense):
                grad = last.backward_from_preactivation(grad)
            layers_before = self.layers[-2::-1]  # (a final Activation layer is skipped)
        else:
            grad = loss_fn.gradient(y, y_pred)
            layers_before = self.layers[::-1]
        for layer in layers_before:
            grad = layer.backward(grad)
        return grad

    def _tape_gradients(self, loss_fn, y_true, y_pred):
        """For ``GradientTape.gradient``: ``{id(variable): dL/dvariable}`` for ``loss_fn(y_true, y_pred)``.

        ``y_pred`` is this model's latest output, so every layer still caches that
        forward pass. The backward pass is the one ``fit`` runs (fused softmax and
        crossentropy included), so both give the same numbers. Layers overwrite
        their ``gradients`` at every backward pass: what is returned are copies.
        """
        fused = self._fused_output(loss_fn)
        if fused is True:
            units = y_pred.shape[-1]
            y_true = losses_module.check_targets(loss_fn, y_true, units).reshape(len(y_pred)).astype(np.int64)
        needs = False
        for layer in self.layers:  # the first layer with weights needs no dL/dx (as in fit)
            layer.need_input_gradient = needs
            needs = needs or bool(layer.trainable_variables)
        self._backward_loss(y_true, y_pred, loss_fn, fused)
        gradients = {}
        for layer in self.layers:
            for variable, gradient in zip(layer.trainable_variables, layer.gradients):
                gradients[id(variable)] = gradient.copy()
        return gradients

    def _prepare_training(self):
        """Once per fit: which layers need dL/dx, and whether the output gradient is fused."""
        needs = False
        for layer in self.layers:
            layer.need_input_gradient = needs
            needs = needs or bool(layer.trainable_variables)
        self._fused = self._fused_output()

    # ================================================================== data
    def _check_data(self, x, y, argument_prefix=""):
        """Validate and convert a whole ``(x, y)`` pair once, before any batch runs."""
        x = _as_input_array(x, argument_prefix + "x")
        self._build_for(x)
        if y is None:
            raise ValueError(f"`{argument_prefix}y` is required: the targets for `{argument_prefix}x`.")
        y = np.asarray(y)
        if y.dtype == object or not (np.issubdtype(y.dtype, np.number) or y.dtype == bool):
            raise TypeError(
                f"`{argument_prefix}y` must be an array of numbers. Received: dtype {y.dtype}"
            )
        if len(x) != len(y):
            raise ValueError(
                "Data cardinality is ambiguous: `x` and `y` must contain the same number of "
                f"samples. Received: {argument_prefix}x with {len(x)} samples and "
                f"{argument_prefix}y with {len(y)} samples."
            )
        if np.issubdtype(y.dtype, np.floating) and not np.isfinite(y).all():
            raise ValueError(f"`{argument_prefix}y` contains NaN or infinite values.")
        units = self.layers[-1].compute_output_shape(self._input_shape)[-1]
        losses_module.check_targets(self._loss_fn, y, units)
        if isinstance(self._loss_fn, losses_module.SparseCategoricalCrossentropy):
            y = y.reshape(len(y)).astype(np.int64)  # labels: integer class indices
        else:
            y = np.asarray(y, dtype=np.float32)
        return x, y

    def _make_metrics(self, y):
        """Resolve the compiled metric identifiers for these targets ('accuracy' as Keras 3)."""
        units_shape = self.layers[-1].compute_output_shape(self._input_shape)
        return [
            metrics_module.get(identifier, y_true=y, y_pred_shape=units_shape)
            for identifier in self._metric_identifiers
        ]

    @staticmethod
    def _metric_name(fn):
        return getattr(fn, "name", None) or fn.__name__

    def _run_test(self, x, y, batch_size, metric_fns, callbacks=None):
        """Loss and metrics over ``(x, y)``, batch by batch, without training."""
        n = len(x)
        loss_total = 0.0
        metric_totals = [0.0] * len(metric_fns)
        for step, start in enumerate(range(0, n, batch_size)):
            xb, yb = x[start : start + batch_size], y[start : start + batch_size]
            if callbacks is not None:
                callbacks.on_test_batch_begin(step)
            y_pred = self.forward(xb, training=False)
            loss_total += float(self._loss_fn(yb, y_pred)) * len(xb)
            for i, fn in enumerate(metric_fns):
                metric_totals[i] += float(np.sum(fn(yb, y_pred)))
            if callbacks is not None:
                seen = min(start + batch_size, n)
                logs = {"loss": loss_total / seen}
                logs.update({self._metric_name(f): t / seen for f, t in zip(metric_fns, metric_totals)})
                callbacks.on_test_batch_end(step, callbacks_module.make_logs(logs))
        logs = {"loss": loss_total / n}
        logs.update({self._metric_name(f): t / n for f, t in zip(metric_fns, metric_totals)})
        return callbacks_module.make_logs(logs)

    @staticmethod
    def _check_batch_size(batch_size):
        if batch_size is None:
            return 32
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(
                f"`batch_size` must be a positive integer. Received: batch_size={batch_size!r}"
            )
        return int(batch_size)

    # ============================================================== training
    def fit(
        self,
        x=None,
        y=None,
        batch_size=None,
        epochs=1,
        verbose=1,
        validation_split=0.0,
        validation_data=None,
        shuffle=True,
        callbacks=None,
        initial_epoch=0,
        seed=None,
    ):
        """Train the model for ``epochs`` passes over ``(x, y)``.

        Parameters
        ----------
        x : array, shape (samples, features)
        y : array
            Targets: class indices for sparse crossentropy, one-hot rows for
            categorical crossentropy, values otherwise.
        batch_size : int, optional
            Samples per update (default 32). ``len(x)`` is batch gradient descent,
            1 is stochastic gradient descent, anything between is mini-batch.
        epochs : int
            Passes over the training data (up to ``epochs``, from ``initial_epoch``).
        verbose : 0, 1 or 2
            Silent, a progress bar, or one line per epoch.
        validation_split : float in [0, 1)
            Fraction of the data, taken from the *end* before shuffling, used only
            to compute ``val_*`` values at the end of each epoch.
        validation_data : tuple (x_val, y_val), optional
            Used instead of ``validation_split``.
        shuffle : bool
            Shuffle the training samples before each epoch.
        callbacks : list of Callback, optional
        initial_epoch : int
            Epoch at which to start (to resume a previous run).
        seed : int, optional
            Seed of the shuffling (a gdlib extension; Keras uses its global seed).

        Returns
        -------
        callbacks.History
            ``history.history`` maps ``'loss'``, each metric and their ``val_``
            versions to one value per epoch.
        """
        self._require_compiled("fit")
        batch_size = self._check_batch_size(batch_size)
        if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
            raise ValueError(f"`epochs` must be a non-negative integer. Received: epochs={epochs!r}")
        if verbose not in (0, 1, 2, "auto"):
            raise ValueError(f"`verbose` must be 0, 1 or 2. Received: verbose={verbose!r}")
        verbose = 1 if verbose == "auto" else verbose
        if not 0 <= validation_split < 1:
            raise ValueError(
                "`validation_split` must be in [0, 1): the fraction of the data kept for "
                f"validation. Received: validation_split={validation_split!r}"
            )
        x, y = self._check_data(x, y)
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise ValueError(
                    "`validation_data` must be a tuple `(x_val, y_val)`. Received: "
                    f"{_describe(validation_data)}"
                )
            x_val, y_val = self._check_data(*validation_data, argument_prefix="validation_data ")
        elif validation_split:
            # Keras: the last fraction, before shuffling.
            split_at = int(math.floor(len(x) * (1.0 - validation_split)))
            if split_at == 0 or split_at == len(x):
                raise ValueError(
                    f"Training data contains {len(x)} samples, which is not sufficient to "
                    "split it into a validation and training set as specified by "
                    f"`validation_split={validation_split}`. Either provide more data, or a "
                    "different value for the `validation_split` argument."
                )
            x, x_val = x[:split_at], x[split_at:]
            y, y_val = y[:split_at], y[split_at:]
        else:
            x_val = y_val = None

        metric_fns = self._make_metrics(y)
        n = len(x)
        steps = math.ceil(n / batch_size)
        callback_list = callbacks_module.CallbackList(
            callbacks, add_history=True, add_progbar=verbose != 0, model=self,
            verbose=verbose, epochs=epochs, steps=steps,
        )
        history = next(c for c in callback_list if isinstance(c, callbacks_module.History))
        batch_logs_needed = callback_list.needs_batch_logs
        nan_handled = any(getattr(c, "handles_nonfinite_loss", False) for c in callback_list)
        self._prepare_training()
        rng = np.random.default_rng(seed)
        self.stop_training = False

        callback_list.on_train_begin()
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for epoch in range(initial_epoch, epochs):
                callback_list.on_epoch_begin(epoch)
                if shuffle:
                    order = rng.permutation(n)
                    x_epoch, y_epoch = x[order], y[order]
                else:
                    x_epoch, y_epoch = x, y
                loss_total = 0.0
                metric_totals = [0.0] * len(metric_fns)
                seen = 0
                for step in range(steps):
                    start = step * batch_size
                    xb = x_epoch[start : start + batch_size]
                    yb = y_epoch[start : start + batch_size]
                    if batch_logs_needed:
                        callback_list.on_train_batch_begin(step)
                    loss, y_pred = self._train_step(xb, yb)
                    count = len(xb)
                    seen += count
                    loss_total += float(loss) * count
                    for i, fn in enumerate(metric_fns):
                        metric_totals[i] += float(np.sum(fn(yb, y_pred)))
                    if not math.isfinite(loss) and not nan_handled:
                        self.history = history
                        raise NonFiniteLossError(
                            f"The loss became {float(loss)} at epoch {epoch + 1}/{epochs}, "
                            f"batch {step + 1}/{steps}: training has diverged and was stopped "
                            "(the weights are those from before this batch). The learning "
                            f"rate ({self.optimizer.learning_rate:g}) is probably too large; "
                            "try a smaller one, e.g. ten times smaller.",
                            history=history,
                        )
                    if batch_logs_needed:
                        logs = {"loss": loss_total / seen}
                        for fn, total in zip(metric_fns, metric_totals):
                            logs[self._metric_name(fn)] = total / seen
                        callback_list.on_train_batch_end(step, callbacks_module.make_logs(logs))
                    if self.stop_training:
                        break
                epoch_logs = {"loss": loss_total / seen}
                for fn, total in zip(metric_fns, metric_totals):
                    epoch_logs[self._metric_name(fn)] = total / seen
                epoch_logs = callbacks_module.make_logs(epoch_logs)
                if x_val is not None:
                    callback_list.on_test_begin()
                    val_logs = self._run_test(x_val, y_val, batch_size, metric_fns,
                                              callback_list if batch_logs_needed else None)
                    callback_list.on_test_end(val_logs)
                    epoch_logs.update({"val_" + k: v for k, v in val_logs.items()})
                    epoch_logs = callbacks_module.make_logs(epoch_logs)
                callback_list.on_epoch_end(epoch, epoch_logs)
                if self.stop_training:
                    break
        callback_list.on_train_end()
        self.history = history
        return history

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", callbacks=None, return_dict=False):
        """Loss (and metrics) on ``(x, y)``, without training.

        Returns
        -------
        float, list or dict
            The loss alone when no metrics were compiled, else ``[loss, *metrics]``
            in compile order; a dict with ``return_dict=True``.
        """
        self._require_compiled("evaluate")
        batch_size = self._check_batch_size(batch_size)
        verbose = 1 if verbose == "auto" else verbose
        x, y = self._check_data(x, y)
        metric_fns = self._make_metrics(y)
        steps = math.ceil(len(x) / batch_size)
        callback_list = callbacks_module.CallbackList(
            callbacks, add_progbar=verbose != 0, model=self, verbose=verbose, epochs=1, steps=steps
        )
        callback_list.on_test_begin()
        logs = self._run_test(x, y, batch_size, metric_fns, callback_list)
        callback_list.on_test_end(logs)
        if return_dict:
            return logs
        values = [logs["loss"]] + [logs[self._metric_name(fn)] for fn in metric_fns]
        return values[0] if len(values) == 1 else values

    def predict(self, x, batch_size=None, verbose="auto", callbacks=None):
        """The model's outputs for ``x``, computed ``batch_size`` samples at a time (default 32)."""
        batch_size = self._check_batch_size(batch_size)
        verbose = 1 if verbose == "auto" else verbose
        x = _as_input_array(x)
        self._build_for(x)
        n = len(x)
        steps = math.ceil(n / batch_size)
        callback_list = callbacks_module.CallbackList(
            callbacks, add_progbar=verbose != 0, model=self, verbose=verbose, epochs=1, steps=steps
        )
        callback_list.on_predict_begin()
        outputs = None
        for step, start in enumerate(range(0, n, batch_size)):
            callback_list.on_predict_batch_begin(step)
            batch_output = self.forward(x[start : start + batch_size], training=False)
            if outputs is None:
                outputs = np.empty((n,) + batch_output.shape[1:], dtype=batch_output.dtype)
            outputs[start : start + batch_size] = batch_output
            callback_list.on_predict_batch_end(step, {"outputs": batch_output})
        callback_list.on_predict_end()
        return outputs

    @staticmethod
    def _reject_weights(method, sample_weight=None, class_weight=None):
        for name, value in (("sample_weight", sample_weight), ("class_weight", class_weight)):
            if value is not None:
                raise ValueError(
                    f"gdlib does not support `{name}`: every sample counts equally. "
                    f"Received: {name} of type {type(value).__name__} in `{method}()`"
                )

    def _batch_results(self, logs, metric_fns, return_dict):
        if return_dict:
            return logs
        values = [logs["loss"]] + [logs[self._metric_name(fn)] for fn in metric_fns]
        return values[0] if len(values) == 1 else values

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One update on one batch, as one step of ``fit``.

        Parameters
        ----------
        x : array, shape (batch, features)
        y : array
            The batch's targets.
        sample_weight, class_weight : None
            Keras's arguments; gdlib supports only None.
        return_dict : bool
            Return ``{'loss': ..., 'accuracy': ...}`` instead of a list.

        Returns
        -------
        float, list or dict
            This batch's loss (and metrics), computed in the forward pass, before
            the update (as Keras 3 does, the metrics are reset at every call).
        """
        self._require_compiled("train_on_batch")
        self._reject_weights("train_on_batch", sample_weight, class_weight)
        x, y = self._check_data(x, y)
        metric_fns = self._make_metrics(y)
        self._prepare_training()
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            loss, y_pred = self._train_step(x, y)
        logs = {"loss": float(loss)}
        logs.update({self._metric_name(fn): float(np.mean(fn(y, y_pred))) for fn in metric_fns})
        return self._batch_results(callbacks_module.make_logs(logs), metric_fns, return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """Loss (and metrics) on one batch, without training (``sample_weight`` must be None)."""
        self._require_compiled("test_on_batch")
        self._reject_weights("test_on_batch", sample_weight)
        x, y = self._check_data(x, y)
        metric_fns = self._make_metrics(y)
        logs = self._run_test(x, y, len(x), metric_fns)
        return self._batch_results(logs, metric_fns, return_dict)

    def predict_on_batch(self, x):
        """The model's outputs for one batch ``x``, in inference mode (``training=False``)."""
        x = _as_input_array(x)
        self._build_for(x)
        return self.forward(x, training=False)

    # =============================================================== weights
    @property
    def weights(self):
        return [w for layer in self.layers for w in layer.weights]

    @property
    def trainable_variables(self):
        """The arrays an optimizer updates, in Keras's order (layer by layer, kernel then bias)."""
        return [w for layer in self.layers for w in layer.trainable_variables]

    @property
    def non_trainable_variables(self):
        return [w for layer in self.layers for w in layer.non_trainable_variables]

    trainable_weights = trainable_variables
    non_trainable_weights = non_trainable_variables

    def get_weights(self):
        """Copies of every weight, in Keras's order: ``[kernel_0, bias_0, kernel_1, bias_1, ...]``."""
        self._require_built("get_weights")
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        """Copy ``weights`` (Keras's order, as from ``get_weights``) into the model, in place."""
        self._require_built("set_weights")
        weights = list(weights)
        own = self.weights
        if len(weights) != len(own):
            raise ValueError(
                f"Model {self.name!r} has {len(own)} weight arrays, but `weights` has "
                f"{len(weights)}."
            )
        position = 0
        for layer in self.layers:
            count = len(layer.weights)
            layer.set_weights(weights[position : position + count])
            position += count

    def save_weights(self, filepath):
        """Save every weight to a NumPy ``.npz`` file."""
        self._require_built("save_weights")
        filepath = str(filepath)
        if not filepath.endswith(".npz"):
            raise ValueError(
                f"The filename must end in `.npz` (a NumPy archive). Received: filepath={filepath}"
            )
        np.savez(filepath, **{f"weight_{i}": w for i, w in enumerate(self.weights)})

    def load_weights(self, filepath):
        """Load weights saved by :meth:`save_weights` into this (built) model."""
        self._require_built("load_weights")
        with np.load(str(filepath)) as archive:
            count = len(archive.files)
            self.set_weights([archive[f"weight_{i}"] for i in range(count)])

    def count_params(self):
        """Total number of scalar weights."""
        self._require_built("count_params")
        return int(sum(w.size for w in self.weights))

    def get_config(self):
        return {"name": self.name, "layers": [
            {"class_name": type(layer).__name__, "config": layer.get_config()} for layer in self.layers
        ]}

    # =============================================================== summary
    def summary(self, line_length=None, positions=None, print_fn=None):
        """Print the classic Keras text summary: one row per layer, then the parameter counts.

        Parameters
        ----------
        line_length : int, optional
            Width of the table (65).
        positions : list, optional
            Right edges of the columns, as fractions of the width ([0.45, 0.85, 1.0]) or
            absolute positions.
        print_fn : callable, optional
            Called with each line (default ``print``); e.g. ``lines.append``.
        """
        self._require_built("summary")
        print_fn = print_fn or print
        line_length = line_length or 65
        positions = positions or [0.45, 0.85, 1.0]
        if positions[-1] <= 1:
            positions = [int(line_length * p) for p in positions]

        print_fn(f'Model: "{self.name}"')
        print_fn("_" * line_length)
        _print_row(["Layer (type)", "Output Shape", "Param #"], positions, print_fn)
        print_fn("=" * line_length)
        for layer in self.layers:
            fields = [f"{layer.name} ({type(layer).__name__})", layer.output_shape, layer.count_params()]
            _print_row(fields, positions, print_fn)
            print_fn(" " * line_length)
        print_fn("=" * line_length)
        trainable = self.trainable_variables
        non_trainable = self.non_trainable_variables
        trainable_count = sum(w.size for w in trainable)
        non_trainable_count = sum(w.size for w in non_trainable)
        trainable_bytes = sum(w.nbytes for w in trainable)
        non_trainable_bytes = sum(w.nbytes for w in non_trainable)
        print_fn(
            f"Total params: {trainable_count + non_trainable_count} "
            f"({_readable_memory_size(trainable_bytes + non_trainable_bytes)})"
        )
        print_fn(f"Trainable params: {trainable_count} ({_readable_memory_size(trainable_bytes)})")
        print_fn(
            f"Non-trainable params: {non_trainable_count} "
            f"({_readable_memory_size(non_trainable_bytes)})"
        )
        print_fn("_" * line_length)


def _readable_memory_size(size):
    """Bytes as Keras 2.13 prints them: ``'150.04 KB'``, ``'0.00 Byte'``."""
    for unit in ["Byte", "KB", "MB", "GB", "TB", "PB"]:
        if size / 1024 < 1:
            return f"{size:.2f} {unit}"
        size /= 1024
    return f"{size:.2f} PB"


def _print_row(fields, positions, print_fn):
    """One table row; a field too long for its column continues on the next line."""
    left_to_print = [str(field) for field in fields]
    while any(left_to_print):
        line = ""
        for col, text in enumerate(left_to_print):
            start = positions[col - 1] if col > 0 else 0
            last = col == len(positions) - 1
            space = 0 if last else 2
            # Two spaces separate columns; every column but the last also starts one in.
            cutoff = positions[col] - start - space - (0 if last else 1)
            piece = text[:cutoff]
            # Break long shapes after a "),", "]," ... for readability, as Keras does.
            breaks = [piece.find(s) + len(s) for s in ("),", "},", "],", "',") if piece.find(s) >= 0]
            if breaks:
                cutoff = min(breaks)
                piece = piece[:cutoff]
            if col == 0:
                line += " "
            line += piece + " " * space
            left_to_print[col] = text[cutoff:]
            line += " " * (positions[col] - len(line))
        print_fn(line)
