r"""``Sequential``: a stack of layers trained with ``compile`` and ``fit``, as in Keras.

One training step on a batch ``(x, y)``, the heart of ``fit``::

    y_pred = model.forward(x, training=True)           # each layer caches what it needs
    loss = model.compute_loss(x, y, y_pred)            # the batch mean, reported in history
    grads, variables = model.compute_gradients(y, y_pred)  # backpropagation, last layer to first
    optimizer.apply(grads, variables)                  # updates the weights in place

``compute_gradients`` is gdlib's one backward pass: ``fit``, ``GradientTape`` and
``gradcheck.check_model`` all call it. With a softmax output and a (sparse)
categorical crossentropy, it takes the last two derivatives together: the
gradient with respect to the softmax's input is simply :math:`(p - y)/N`
(``losses.SoftmaxCrossentropy``).

``fit`` follows Keras 3 exactly where a learner can see it: ``validation_split``
takes the *last* fraction of the data, before any shuffling; the training data
is shuffled at every epoch; the last, smaller batch is kept; ``history['loss']``
is the mean of the batch losses weighted by batch size, each computed in the
forward pass *before* that batch's update, and metrics are accumulated over the
epoch the same way.
"""

import math

import numpy as np

from gdlib import activations, backend
from gdlib import callbacks as callbacks_module
from gdlib import layers as layers_module
from gdlib import losses as losses_module
from gdlib import metrics as metrics_module
from gdlib import optimizers as optimizers_module
from gdlib import summary as summary_module
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


def _batches(batch_size, *arrays):
    """Consecutive slices of ``batch_size`` samples of each array; the last batch may be smaller."""
    for start in range(0, len(arrays[0]), batch_size):
        yield tuple(array[start : start + batch_size] for array in arrays)


def _metric_name(fn):
    return getattr(fn, "name", None) or fn.__name__


class _RunningMeans:
    """The loss and each metric, averaged over the samples of the batches seen so far.

    A batch of ``n`` samples adds ``n`` times its mean loss and the sum of each
    metric's per-sample values, so the means are weighted by batch size, as Keras's.
    """

    def __init__(self, metric_fns):
        self.metric_fns = metric_fns
        self.names = ["loss"] + [_metric_name(fn) for fn in metric_fns]
        self.totals = [0.0] * len(self.names)
        self.seen = 0

    def add(self, loss, y, y_pred):
        """One batch: its mean ``loss``, its targets ``y`` and the predictions ``y_pred``."""
        count = len(y)
        self.seen += count
        self.totals[0] += float(loss) * count
        for i, fn in enumerate(self.metric_fns, start=1):
            self.totals[i] += float(np.sum(fn(y, y_pred)))

    def logs(self):
        """``{'loss': ..., 'accuracy': ...}``, as plain floats sorted by name."""
        return callbacks_module.make_logs(
            {name: total / self.seen for name, total in zip(self.names, self.totals)}
        )


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
        self._latest_output = None  # what backward would backpropagate from (see compute_gradients)
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
        for layer in self.layers:
            x = layer.forward(x, training=training)
        self._latest_output = x
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
        if tape_module.recording():
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

    def compute_loss(self, x=None, y=None, y_pred=None):
        """The compiled loss of ``y_pred`` against the targets ``y``: what ``fit`` minimises and reports.

        As Keras's ``Model.compute_loss``; ``x`` is accepted for its signature and not used.
        """
        return self._loss_fn(y, y_pred)

    def compute_gradients(self, y, y_pred, loss=None):
        r"""Backpropagate a loss from ``y_pred``, this model's latest output, through every layer.

        gdlib's one backward pass: ``fit``, ``GradientTape.gradient`` and
        ``gradcheck.check_model`` all call it. With a softmax output and a
        (sparse) categorical crossentropy it starts from
        :math:`\partial L / \partial z = (p - y)/N` (``losses.SoftmaxCrossentropy``);
        otherwise from ``loss.gradient(y, y_pred)``. The first layer with weights
        does not compute the gradient for its input: nothing needs it.

        Parameters
        ----------
        y : array_like
            The targets ``y_pred`` is compared with.
        y_pred : ndarray
            The very array this model's latest forward pass returned: the
            layers' caches, which backward uses, are of that pass.
        loss : str, Loss or losses.SoftmaxCrossentropy, optional
            Defaults to the compiled loss.

        Returns
        -------
        gradients, variables : list of ndarray
            :math:`\partial L / \partial w` and :math:`w` for each trainable
            variable, in ``trainable_variables`` order, ready for
            ``optimizer.apply(gradients, variables)``. The gradients are the
            layers' own arrays, overwritten by the next backward pass: copy
            them to keep them.
        """
        if not isinstance(loss, losses_module.SoftmaxCrossentropy):
            loss = self._output_loss(self._loss_fn if loss is None else losses_module.get(loss))
        if loss is None:
            raise ValueError("`compute_gradients` needs a loss: pass `loss=` or compile the model first.")
        if y_pred is not self._latest_output:
            raise ValueError(
                f"Model {self.name!r} was called again after the call whose output the loss used, "
                "which overwrote the activations its backward pass needs. Compute the loss from the "
                "model's last call, e.g. one `predictions = model(x, training=True)` per tape."
            )
        needs = False
        for layer in self.layers:  # the first layer with weights needs no dL/dx
            layer.need_input_gradient = needs
            needs = needs or bool(layer.trainable_variables)
        grad = loss.gradient(y, y_pred)
        layers = self.layers
        if isinstance(loss, losses_module.SoftmaxCrossentropy):  # grad is dL/dz, z the softmax's input
            if isinstance(layers[-1], layers_module.Dense):
                grad = layers[-1].backward_from_preactivation(grad)
            layers = layers[:-1]  # (a final Activation layer is skipped)
        for layer in reversed(layers):
            grad = layer.backward(grad)
        gradients, variables = [], []
        for layer in self.layers:
            if layer.trainable:
                gradients.extend(layer.gradients)
                variables.extend(layer.trainable_variables)
        return gradients, variables

    def _output_loss(self, loss):
        """``loss``, or ``losses.SoftmaxCrossentropy(loss)`` when the last layer applies softmax and they fuse."""
        if loss is not None and getattr(self.layers[-1], "activation", None) is activations.softmax:
            if losses_module.SoftmaxCrossentropy.fuses(loss):
                return losses_module.SoftmaxCrossentropy(loss)
        return loss

    def _train_step(self, x, y, loss_fn=None):
        """One step of ``fit``: forward, loss, backward, one update. Returns ``(loss, y_pred)``.

        ``loss_fn`` is ``self._output_loss(self._loss_fn)``, which ``fit`` works out once.
        """
        y_pred = self.forward(x, training=True)
        loss_fn = loss_fn or self._output_loss(self._loss_fn)
        loss = loss_fn(y, y_pred)  # = compute_loss(x, y, y_pred), on targets fit has checked
        if not math.isfinite(loss):
            return loss, y_pred  # the caller stops; the weights are left untouched
        gradients, variables = self.compute_gradients(y, y_pred, loss_fn)
        self.optimizer.apply(gradients, variables)
        return loss, y_pred

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
        if self._loss_fn.targets == "labels":
            y = y.reshape(len(y)).astype(np.int64)  # integer class indices
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

    def _run_test(self, x, y, batch_size, metric_fns, callbacks=None):
        """Loss and metrics over ``(x, y)``, batch by batch, without training."""
        means = _RunningMeans(metric_fns)
        for step, (xb, yb) in enumerate(_batches(batch_size, x, y)):
            if callbacks is not None:
                callbacks.on_test_batch_begin(step)
            y_pred = self.forward(xb, training=False)
            means.add(self.compute_loss(xb, yb, y_pred), yb, y_pred)
            if callbacks is not None:
                callbacks.on_test_batch_end(step, means.logs())
        return means.logs()

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
        verbose = _check_fit_arguments(epochs, verbose, validation_split)
        x, y = self._check_data(x, y)
        x, y, validation = self._validation_data(x, y, validation_split, validation_data)
        metric_fns = self._make_metrics(y)
        steps = math.ceil(len(x) / batch_size)
        callback_list = callbacks_module.CallbackList(
            callbacks, add_history=True, add_progbar=verbose != 0, model=self,
            verbose=verbose, epochs=epochs, steps=steps,
        )
        history = next(c for c in callback_list if isinstance(c, callbacks_module.History))
        batch_logs_needed = callback_list.needs_batch_logs
        nan_handled = any(getattr(c, "handles_nonfinite_loss", False) for c in callback_list)
        rng = np.random.default_rng(seed)
        loss_fn = self._output_loss(self._loss_fn)
        self.stop_training = False

        callback_list.on_train_begin()
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for epoch in range(initial_epoch, epochs):
                callback_list.on_epoch_begin(epoch)
                order = rng.permutation(len(x)) if shuffle else slice(None)
                means = _RunningMeans(metric_fns)
                for step, (xb, yb) in enumerate(_batches(batch_size, x[order], y[order])):
                    if batch_logs_needed:
                        callback_list.on_train_batch_begin(step)
                    loss, y_pred = self._train_step(xb, yb, loss_fn)
                    means.add(loss, yb, y_pred)
                    if not math.isfinite(loss) and not nan_handled:
                        self.history = history
                        raise _diverged(loss, f"epoch {epoch + 1}/{epochs}, batch {step + 1}/{steps}",
                                        self.optimizer, history)
                    if batch_logs_needed:
                        callback_list.on_train_batch_end(step, means.logs())
                    if self.stop_training:
                        break
                epoch_logs = means.logs()
                if validation is not None:
                    callback_list.on_test_begin()
                    val_logs = self._run_test(*validation, batch_size, metric_fns,
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

    def _validation_data(self, x, y, validation_split, validation_data):
        """``(x, y, (x_val, y_val))``: ``validation_data`` checked, or the last ``validation_split`` of ``x, y``."""
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
            return x, y, None

        return x, y, (x_val, y_val)

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
        return _results(logs, metric_fns, return_dict)

    def predict(self, x, batch_size=None, verbose="auto", callbacks=None):
        """The model's outputs for ``x``, computed ``batch_size`` samples at a time (default 32)."""
        batch_size = self._check_batch_size(batch_size)
        verbose = 1 if verbose == "auto" else verbose
        x = _as_input_array(x)
        self._build_for(x)
        steps = math.ceil(len(x) / batch_size)
        callback_list = callbacks_module.CallbackList(
            callbacks, add_progbar=verbose != 0, model=self, verbose=verbose, epochs=1, steps=steps
        )
        callback_list.on_predict_begin()
        outputs = None
        for step, (xb,) in enumerate(_batches(batch_size, x)):
            callback_list.on_predict_batch_begin(step)
            batch_output = self.forward(xb, training=False)
            if outputs is None:
                outputs = np.empty((len(x),) + batch_output.shape[1:], dtype=batch_output.dtype)
            outputs[step * batch_size : step * batch_size + len(xb)] = batch_output
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
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            loss, y_pred = self._train_step(x, y)
        means = _RunningMeans(metric_fns)
        means.add(loss, y, y_pred)
        return _results(means.logs(), metric_fns, return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """Loss (and metrics) on one batch, without training (``sample_weight`` must be None)."""
        self._require_compiled("test_on_batch")
        self._reject_weights("test_on_batch", sample_weight)
        x, y = self._check_data(x, y)
        metric_fns = self._make_metrics(y)
        logs = self._run_test(x, y, len(x), metric_fns)
        return _results(logs, metric_fns, return_dict)

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

        ``line_length`` (65), ``positions`` (the columns' right edges) and
        ``print_fn`` (``print``) are those of :func:`gdlib.summary.print_summary`.
        """
        self._require_built("summary")
        summary_module.print_summary(self, line_length, positions, print_fn)


def _results(logs, metric_fns, return_dict):
    """What evaluate and the ``*_on_batch`` methods return: the logs, or ``loss`` or ``[loss, *metrics]``."""
    if return_dict:
        return logs
    values = [logs["loss"]] + [logs[_metric_name(fn)] for fn in metric_fns]
    return values[0] if len(values) == 1 else values


def _diverged(loss, where, optimizer, history):
    """The error ``fit`` raises when the loss of a batch is NaN or infinite."""
    return NonFiniteLossError(
        f"The loss became {float(loss)} at {where}: training has diverged and was stopped "
        "(the weights are those from before this batch). The learning "
        f"rate ({optimizer.learning_rate:g}) is probably too large; "
        "try a smaller one, e.g. ten times smaller.",
        history=history,
    )


def _check_fit_arguments(epochs, verbose, validation_split):
    """Check ``fit``'s numbers before any data is touched; return ``verbose`` with 'auto' resolved."""
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
        raise ValueError(f"`epochs` must be a non-negative integer. Received: epochs={epochs!r}")
    if verbose not in (0, 1, 2, "auto"):
        raise ValueError(f"`verbose` must be 0, 1 or 2. Received: verbose={verbose!r}")
    if not 0 <= validation_split < 1:
        raise ValueError(
            "`validation_split` must be in [0, 1): the fraction of the data kept for "
            f"validation. Received: validation_split={validation_split!r}"
        )
    return 1 if verbose == "auto" else verbose
