r"""``GradientTape``: the custom training loop of the TensorFlow tutorials, on gdlib.

::

    with gdlib.GradientTape() as tape:
        predictions = model(inputs, training=True)   # recorded: the model and its output
        loss = loss_fn(targets, predictions)         # recorded: the loss and its inputs
    gradients = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(gradients, model.trainable_variables))

gdlib has no automatic differentiation. The tape only *records* two kinds of
calls made inside the ``with`` block: a model called on inputs
(``model(x, training=...)``) and a gdlib loss called on that model's output
(``loss_fn(y_true, y_pred)`` with ``loss_fn`` a ``gdlib.losses.Loss``).
``tape.gradient`` then runs the hand-written backward pass ``fit`` runs,
``model.compute_gradients``: the loss's ``gradient`` (or the fused
softmax-crossentropy gradient :math:`(p - y)/N`), then each layer's
``backward``, last to first.

So the same batches give the same weights, bit for bit, whether trained with
this loop or with ``fit(..., shuffle=False)``.

What the tape cannot differentiate raises an error that says so: a loss value
computed by other NumPy code (a sum of two losses, a regularisation term, a
``np.mean``), a plain Python loss function, a variable the loss does not depend
on, a model called again after the call the loss used (its caches, and so the
first call's backward pass, are gone), or a second ``gradient`` call on a
non-persistent tape.
"""

import numpy as np

# The tapes whose ``with`` block is running, innermost last.
_active_tapes = []


def recording():
    """Whether a ``with GradientTape()`` block is running: models and losses then record their calls."""
    return bool(_active_tapes)

_SUPPORTED = (
    "gdlib's GradientTape differentiates one thing: a gdlib loss (an instance such as "
    "`gdlib.losses.SparseCategoricalCrossentropy()`, or `gdlib.losses.get('mse')`) "
    "called on the output of a gdlib model, both called inside the `with` block: "
    "`loss = loss_fn(y, model(x, training=True))`, then "
    "`tape.gradient(loss, model.trainable_variables)`."
)


class _ModelCall:
    """A model called under the tape, and its output."""

    def __init__(self, model, output):
        self.model = model
        self.output = output


class _LossCall:
    """A loss called under the tape on ``y_pred`` (hopefully a recorded model output)."""

    def __init__(self, loss, y_true, y_pred, value):
        self.loss = loss
        self.y_true = y_true
        self.y_pred = y_pred
        self.value = value


def record_model_call(model, output):
    """Called by ``Sequential.__call__``: tell every active tape about this call."""
    for tape in _active_tapes:
        tape._model_calls.append(_ModelCall(model, output))  # noqa: SLF001 (this module's own tapes)


def record_loss_call(loss, y_true, y_pred, value):
    """Called by ``Loss.__call__``: tell every active tape about this call."""
    for tape in _active_tapes:
        tape._loss_calls.append(_LossCall(loss, y_true, y_pred, value))  # noqa: SLF001 (this module's own tapes)


class GradientTape:
    """Record model and loss calls, then compute gradients by backpropagation.

    Parameters
    ----------
    persistent : bool
        False (the default, as in TensorFlow): ``gradient`` may be called once.
        True: it may be called several times, as long as the model has not been
        called again since (its cached activations are what backward uses).
    watch_accessed_variables : bool
        Accepted for TensorFlow compatibility; only True is supported: the
        variables a recorded model uses are the ones the tape can differentiate.

    Examples
    --------
    >>> loss_fn = gdlib.losses.SparseCategoricalCrossentropy()
    >>> optimizer = gdlib.optimizers.Adam(1e-3)
    >>> for x_batch, y_batch in batches:
    ...     with gdlib.GradientTape() as tape:
    ...         predictions = model(x_batch, training=True)
    ...         loss = loss_fn(y_batch, predictions)
    ...     gradients = tape.gradient(loss, model.trainable_variables)
    ...     optimizer.apply_gradients(zip(gradients, model.trainable_variables))
    """

    def __init__(self, persistent=False, watch_accessed_variables=True):
        if watch_accessed_variables is not True:
            raise ValueError(
                "gdlib's GradientTape always watches the variables of the models called "
                "under it and nothing else. Received: "
                f"watch_accessed_variables={watch_accessed_variables!r}"
            )
        self.persistent = bool(persistent)
        self._model_calls = []
        self._loss_calls = []
        self._used = False
        self._recording = False

    def __enter__(self):
        if self._recording:
            raise ValueError("This GradientTape is already recording: a tape cannot be nested in itself.")
        self._recording = True
        _active_tapes.append(self)
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        _active_tapes.remove(self)
        self._recording = False
        return False

    def watch(self, tensor):
        """Not supported: the tape watches the variables of the models called under it."""
        raise NotImplementedError(
            "gdlib's GradientTape cannot watch arbitrary arrays: it has no automatic "
            "differentiation. " + _SUPPORTED
        )

    def reset(self):
        """Forget everything recorded so far (the tape keeps recording if inside ``with``)."""
        self._model_calls = []
        self._loss_calls = []
        self._used = False

    def gradient(self, target, sources, output_gradients=None):
        """The gradient of ``target`` with respect to each array in ``sources``.

        Parameters
        ----------
        target : float32 scalar
            The very value returned by a gdlib loss called under this tape.
        sources : ndarray or list of ndarray
            Trainable variables of the model whose output the loss used, e.g.
            ``model.trainable_variables``, in any order.
        output_gradients : None
            Only None is supported.

        Returns
        -------
        ndarray or list of ndarray
            :math:`\\partial L / \\partial w` for each source, in the order requested,
            each a new array of the source's shape (a list when ``sources`` is a list).

        Raises
        ------
        RuntimeError
            A second call on a non-persistent tape.
        ValueError
            Anything the tape cannot differentiate; the message says what it supports.
        """
        if self._used and not self.persistent:
            raise RuntimeError(
                "A non-persistent GradientTape can only be used to compute one set of "
                "gradients. Use `GradientTape(persistent=True)` to call `gradient` more than "
                "once, or record a new tape for each step."
            )
        if output_gradients is not None:
            raise ValueError(
                "gdlib's GradientTape supports only `output_gradients=None`: the target is a "
                f"scalar loss. Received: output_gradients of type {type(output_gradients).__name__}"
            )
        single = isinstance(sources, np.ndarray)
        source_list = [sources] if single else list(sources)

        loss_call = self._find_loss_call(target)
        model_call = self._find_model_call(loss_call)
        model = model_call.model
        try:  # the backward pass fit runs (it checks that the model was not called again since)
            grads, variables = model.compute_gradients(loss_call.y_true, loss_call.y_pred, loss=loss_call.loss)
        except NotImplementedError as error:  # e.g. a plain function wrapped by losses.get
            raise ValueError(f"{error} " + _SUPPORTED) from None
        # Layers overwrite their gradients at every backward pass: the tape returns copies.
        by_variable = {id(variable): grad.copy() for grad, variable in zip(grads, variables)}
        gradients = []
        for i, source in enumerate(source_list):
            grad = by_variable.get(id(source))
            if grad is None:
                shape = getattr(source, "shape", None)
                raise ValueError(
                    f"Source {i} (an array of shape {shape}) is not a trainable variable of model "
                    f"{model.name!r}, whose output the loss used, so the loss does not depend on it "
                    "(gdlib's tape does not return None or zeros for unconnected sources). Pass "
                    "`model.trainable_variables` (or some of those exact arrays, not copies)."
                )
            gradients.append(grad)
        self._used = True
        return gradients[0] if single else gradients

    # ------------------------------------------------------------------ lookup
    def _find_loss_call(self, target):
        for call in reversed(self._loss_calls):
            if call.value is target:
                return call
        if not self._loss_calls:
            reason = "no gdlib loss was called under this tape"
            if isinstance(target, np.ndarray) and target.ndim > 0:
                reason += (
                    f" (the target is an array of shape {target.shape}: a per-sample function such "
                    "as `gdlib.losses.mean_squared_error`? Use its class, `MeanSquaredError()`)"
                )
        else:
            reason = (
                "the target is not the value a gdlib loss returned under this tape: it was computed "
                "by other code (a sum of losses, a regularisation term, np.mean, float(), a plain "
                "Python loss function...), which the tape cannot differentiate"
            )
        raise ValueError(f"Cannot compute the gradient: {reason}. " + _SUPPORTED)

    def _find_model_call(self, loss_call):
        for call in reversed(self._model_calls):
            if call.output is loss_call.y_pred:
                return call
        if not self._model_calls:
            reason = "no gdlib model was called under this tape"
        else:
            reason = (
                "the loss's `y_pred` is not the output of a model called under this tape (it "
                "was changed or copied after the call, e.g. sliced, scaled or converted)"
            )
        raise ValueError(f"Cannot compute the gradient of loss {loss_call.loss.name!r}: {reason}. " + _SUPPORTED)
