r"""Metrics: per-sample scores that ``fit`` and ``evaluate`` average and report.

A metric here is a function ``metric(y_true, y_pred)`` returning one float32
value per sample, as ``keras.metrics.binary_accuracy`` does; the model averages
them over an epoch. Its ``__name__`` is the key in ``history.history``.

``get("accuracy", y_true, y_pred_shape)`` picks binary, sparse categorical or
categorical accuracy from the shapes of the targets and predictions, the way
Keras 3's ``compile`` does, and keeps the name ``'accuracy'``. Any loss name
(``'mse'``, ``'mae'``, ``'binary_crossentropy'``, ...) is also a metric.
"""

import numpy as np

from gdlib import losses

__all__ = [
    "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy", "get",
]


def binary_accuracy(y_true, y_pred, threshold=0.5):
    r"""1 where the thresholded prediction equals the label, else 0.

    Parameters
    ----------
    y_true : array_like
        Labels 0 or 1, shape ``(batch,)`` or ``(batch, d)``.
    y_pred : array_like
        Probabilities, same shape (``(batch,)`` against ``(batch, 1)`` is fine).
    threshold : float, default 0.5
        A prediction counts as 1 when it is strictly greater than this.

    Returns
    -------
    ndarray
        float32, same shape as the (rank-matched) inputs, e.g. ``(batch, 1)``.

    Notes
    -----
    .. math:: a = [\,y = [\hat y > t]\,]
    """
    y_true, y_pred = losses._prepare(y_true, y_pred)  # noqa: SLF001 (the losses' rank matching, as Keras)
    predicted = (y_pred > threshold).astype(y_true.dtype)
    return (y_true == predicted).astype(np.float32)


def categorical_accuracy(y_true, y_pred):
    r"""1 where the predicted class (argmax) equals the one-hot target's class.

    Parameters
    ----------
    y_true : array_like
        One-hot targets, shape ``(batch, classes)``.
    y_pred : array_like
        Scores or probabilities, shape ``(batch, classes)``.

    Returns
    -------
    ndarray
        float32, shape ``(batch,)``.

    Notes
    -----
    .. math:: a = [\,\arg\max_j y_j = \arg\max_j \hat y_j\,]
    """
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    return (np.argmax(y_true, axis=-1) == np.argmax(y_pred, axis=-1)).astype(np.float32)


def sparse_categorical_accuracy(y_true, y_pred):
    r"""1 where the predicted class (argmax) equals the integer label.

    Parameters
    ----------
    y_true : array_like
        Class indices, shape ``(batch,)`` or ``(batch, 1)``.
    y_pred : array_like
        Scores or probabilities, shape ``(batch, classes)``.

    Returns
    -------
    ndarray
        float32, shape ``(batch,)``.

    Notes
    -----
    .. math:: a = [\,c = \arg\max_j \hat y_j\,]
    """
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = y_true[..., 0]
    return (y_true == np.argmax(y_pred, axis=-1)).astype(np.float32)


ACCURACY_METRICS = {
    "binary_accuracy": binary_accuracy,
    "categorical_accuracy": categorical_accuracy,
    "sparse_categorical_accuracy": sparse_categorical_accuracy,
    "BinaryAccuracy": binary_accuracy,
    "CategoricalAccuracy": categorical_accuracy,
    "SparseCategoricalAccuracy": sparse_categorical_accuracy,
}

# Loss functions that Keras also accepts as metrics, by every name keras.losses.get knows.
LOSS_METRICS = {name: cls.function for name, cls in losses.ALL_LOSSES.items()}


def _named(fn, name):
    """The same metric under another name (the key it gets in the history)."""
    if fn.__name__ == name:
        return fn

    def metric(y_true, y_pred):
        return fn(y_true, y_pred)

    metric.__name__ = metric.__qualname__ = name
    metric.__doc__ = fn.__doc__
    return metric


def resolve_accuracy(y_true_shape, y_pred_shape):
    """Which accuracy Keras 3 means by ``'accuracy'`` for these shapes.

    Parameters
    ----------
    y_true_shape, y_pred_shape : tuple of int

    Returns
    -------
    callable
        ``binary_accuracy`` when the output has one unit; otherwise
        ``sparse_categorical_accuracy`` when the targets have lower rank than
        the predictions or a last dimension of 1; otherwise ``categorical_accuracy``.
    """
    if y_pred_shape[-1] == 1:
        return binary_accuracy
    if len(y_true_shape) < len(y_pred_shape) or y_true_shape[-1] == 1:
        return sparse_categorical_accuracy
    return categorical_accuracy


def get(identifier, y_true=None, y_pred_shape=None):
    """Return a metric function whose ``__name__`` is the history key.

    Parameters
    ----------
    identifier : str or callable
        ``'accuracy'``/``'acc'`` (resolved from the shapes), an accuracy name
        (``'binary_accuracy'``, ...), a loss name (``'mse'``, ...), or a
        function ``f(y_true, y_pred)`` returning per-sample values.
    y_true : array_like, optional
        The targets (only their shape is used); needed for ``'accuracy'``.
    y_pred_shape : tuple of int, optional
        Shape of the model's output, e.g. ``(None, 10)``; needed for ``'accuracy'``.

    Returns
    -------
    callable
        Named as requested: ``get('acc', ...)`` is called ``'acc'``,
        ``get('mse')`` is called ``'mse'``.

    Raises
    ------
    ValueError
        For an unknown name (the message lists the valid ones), or
        ``'accuracy'`` without the shapes it needs.
    """
    if isinstance(identifier, str):
        if identifier.lower() in ("accuracy", "acc"):
            if y_true is None or y_pred_shape is None:
                raise ValueError(
                    f"Metric '{identifier}' is resolved from the shapes of the targets and the "
                    "model's output: pass `y_true` and `y_pred_shape`. "
                    f"Received: y_true={'None' if y_true is None else 'an array'}, y_pred_shape={y_pred_shape}"
                )
            return _named(resolve_accuracy(np.shape(y_true), tuple(y_pred_shape)), identifier)
        if identifier in ACCURACY_METRICS:
            return _named(ACCURACY_METRICS[identifier], identifier)
        if identifier in LOSS_METRICS:
            return _named(LOSS_METRICS[identifier], identifier)
        valid = ["accuracy", "acc", *ACCURACY_METRICS, *LOSS_METRICS]
        raise ValueError(f"Unknown metric: '{identifier}'. Valid names are: {', '.join(sorted(valid))}.")
    if callable(identifier):
        return identifier
    raise TypeError(
        "A metric must be a string or a function. "
        f"Received: metric={identifier!r} of type {type(identifier).__name__}"
    )
