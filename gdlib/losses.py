r"""Loss functions and their gradients, with Keras 3's names and numerics.

Each loss is one section of this file, three pieces one beside the other:

* ``mean_squared_error(y_true, y_pred)``: the snake_case function returns one
  value per sample, exactly as ``keras.losses.mean_squared_error`` does;
* ``mean_squared_error_gradient(y_true, y_pred)``: the gradient of the batch
  mean of those values with respect to ``y_pred`` (same shape as ``y_pred``);
* ``MeanSquaredError()``: the CamelCase class; calling it returns the batch
  mean (Keras's ``reduction="sum_over_batch_size"``), and its ``gradient``
  method returns the gradient of exactly that number. The class declares its
  function, its gradient, its other names and the kind of targets it takes;
  :func:`get`, :func:`check_targets` and ``metrics.get`` are built from those
  declarations, so a new loss is a new section and nothing else.

Every gradient is the derivative of what the forward pass computes, including
Keras's clipping of probabilities to :math:`[\epsilon, 1 - \epsilon]`: where a
prediction is clipped, the loss does not depend on it and its gradient is 0.

Arrays are computed in float32 (Keras's default). Float64 predictions stay in
float64, so a central-difference gradient check can run at full precision.
"""

import math

import numpy as np

from gdlib import activations
from gdlib import tape as _tape
from gdlib.backend import as_float, epsilon

__all__ = [
    "mean_squared_error", "mean_absolute_error", "binary_crossentropy",
    "categorical_crossentropy", "sparse_categorical_crossentropy", "huber",
    "hinge", "kl_divergence", "log_cosh",
    "Loss", "LossFunctionWrapper", "MeanSquaredError", "MeanAbsoluteError",
    "BinaryCrossentropy", "CategoricalCrossentropy", "SparseCategoricalCrossentropy",
    "Huber", "Hinge", "KLDivergence", "LogCosh",
    "softmax_crossentropy_gradient", "SoftmaxCrossentropy", "check_targets", "get",
]


# ------------------------------------------------------------------ helpers
def _prepare(y_true, y_pred):
    """Convert to float arrays and match ranks as Keras's ``squeeze_or_expand_to_same_rank``.

    Targets of shape ``(N,)`` against predictions of shape ``(N, 1)`` become
    ``(N, 1)`` (and the other way round), so nothing broadcasts to ``(N, N)``.
    """
    y_pred = as_float(y_pred)
    y_true = np.asarray(y_true, dtype=y_pred.dtype)
    if y_true.ndim == y_pred.ndim + 1 and y_true.shape[-1] == 1:
        if y_pred.ndim == 1:
            y_pred = y_pred[:, None]
        else:
            y_true = y_true[..., 0]
    elif y_pred.ndim == y_true.ndim + 1 and y_pred.shape[-1] == 1:
        if y_true.ndim == 1:
            y_true = y_true[:, None]
        else:
            y_pred = y_pred[..., 0]
    if y_true.shape != y_pred.shape:
        raise ValueError(
            "`y_true` and `y_pred` must have the same shape. "
            f"Received: y_true.shape={y_true.shape}, y_pred.shape={y_pred.shape}"
        )
    return y_true, y_pred


def _n_values(y_pred):
    """How many per-sample loss values a prediction array gives (1 for a 1-D array)."""
    return y_pred.size // y_pred.shape[-1] if y_pred.ndim > 0 else 1


def _check_unit_interval(name, value):
    if not 0 <= value <= 1:
        raise ValueError(f"`{name}` must be in [0, 1]. Received: {name}={value}")


def _log_softmax(z):
    """:math:`z - \\max z - \\log\\sum e^{z - \\max z}` along the last axis (never overflows)."""
    shifted = z - np.max(z, axis=-1, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))


# ================================================================ the base class
REDUCTIONS = ("sum_over_batch_size", "mean", "mean_with_sample_weight", "sum", "none", None)

# gdlib's own loss classes, in the order they are defined (see Loss.__init_subclass__).
_LOSS_CLASSES = []


class Loss:
    r"""Base class: a per-sample loss function, reduced to one number, with its gradient.

    Parameters
    ----------
    reduction : str or None, default "sum_over_batch_size"
        ``"sum_over_batch_size"`` (also ``"mean"``) divides the sum of the
        per-sample values by their number; ``"sum"`` sums them; ``None`` or
        ``"none"`` returns them unreduced.
    name : str or None
        Defaults to the class's Keras name.

    Notes
    -----
    With per-sample values :math:`\ell_i`, :math:`i = 1 \dots N`:

    .. math:: L = \frac1N \sum_{i=1}^{N} \ell_i \quad \text{(sum_over_batch_size)}

    A loss class declares what it is in five class attributes:

    ``function``, ``gradient_function``
        The per-sample function and the gradient of its batch mean, each called
        as ``f(y_true, y_pred, **loss.options())`` (``staticmethod``: plain functions).
    ``default_name``
        Keras's name for an instance, ``loss.name`` unless another is given.
    ``aliases``
        Names :func:`get` knows besides the class's and the function's own (``"mse"``).
    ``targets``
        What :func:`check_targets` expects: ``"labels"`` (one integer class per
        sample), ``"one_hot"`` (one row per sample, as wide as the output),
        ``"binary"`` (values in [0, 1]) or ``"values"`` (shaped as the output);
        None checks nothing.
    """

    default_name = "loss"
    function = None
    gradient_function = None
    aliases = ()
    targets = "values"

    def __init_subclass__(cls, **kwargs):
        """Each loss class of this file that declares a function joins ``_LOSS_CLASSES``."""
        super().__init_subclass__(**kwargs)
        if cls.__module__ == __name__ and cls.function is not None:
            _LOSS_CLASSES.append(cls)

    def __init__(self, reduction="sum_over_batch_size", name=None):
        if reduction not in REDUCTIONS:
            raise ValueError(
                f"`reduction` must be one of {list(REDUCTIONS)}. Received: reduction={reduction!r}"
            )
        self.reduction = "none" if reduction is None else reduction
        self.name = name or self.default_name

    def options(self):
        """The keyword arguments ``function`` and ``gradient_function`` take (``{"delta": 1.0}``)."""
        return {}

    def call(self, y_true, y_pred):
        """Per-sample loss values."""
        return self.function(y_true, y_pred, **self.options())

    def _mean_gradient(self, y_true, y_pred):
        """Gradient of the mean of ``call``'s values with respect to ``y_pred``."""
        if self.gradient_function is None:
            raise NotImplementedError(
                f"Loss '{self.name}' has no gradient: gdlib can only train with its own losses, "
                "or with a Loss subclass that implements `_mean_gradient(y_true, y_pred)`."
            )
        return self.gradient_function(y_true, y_pred, **self.options())

    def __call__(self, y_true, y_pred):
        """Reduced loss (a float32 scalar for the default reduction)."""
        values = np.asarray(self.call(y_true, y_pred), dtype=as_float(y_pred).dtype)
        result = self.reduce(values)
        if _tape.recording():  # inside `with gdlib.GradientTape()`: the tape records this call
            _tape.record_loss_call(self, y_true, y_pred, result)
        return result

    def reduce(self, values):
        """Per-sample ``values`` reduced as ``reduction`` says: their mean, their sum, or themselves."""
        if self.reduction == "none" or values.ndim == 0:
            return values[()]
        if self.reduction == "sum":
            return values.sum()
        return values.sum() / values.dtype.type(values.size)

    def gradient(self, y_true, y_pred):
        r"""Gradient of the reduced loss with respect to ``y_pred`` (the logits when ``from_logits=True``).

        Parameters
        ----------
        y_true : array_like
            Targets.
        y_pred : array_like
            Predictions, shape ``(batch, ...)``.

        Returns
        -------
        ndarray
            Same shape as ``y_pred``; float32 (float64 for float64 ``y_pred``).
        """
        grad = self._mean_gradient(y_true, y_pred)
        if self.reduction == "sum":
            return grad * _n_values(as_float(y_pred))
        if self.reduction == "none":
            raise ValueError(
                "The gradient of an unreduced loss is not a single array: use "
                "reduction='sum_over_batch_size' or 'sum'. Received: reduction='none'"
            )
        return grad

    def get_config(self):
        """The constructor arguments, as Keras's ``get_config``."""
        return {"name": self.name, "reduction": self.reduction, **self.options()}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.get_config().items())})"


class LossFunctionWrapper(Loss):
    """A loss made from a plain function ``fn(y_true, y_pred)`` returning per-sample values.

    It can be evaluated but not trained with: gdlib does not differentiate
    arbitrary code, so ``gradient`` raises ``NotImplementedError``. Its
    targets are not checked: gdlib cannot know what shapes it expects.
    """

    targets = None

    def __init__(self, fn, reduction="sum_over_batch_size", name=None):
        super().__init__(reduction=reduction, name=name or getattr(fn, "__name__", "loss"))
        self.fn = fn

    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred)


# ------------------------------------------------------- mean squared error
def mean_squared_error(y_true, y_pred):
    r"""Mean squared error of each sample.

    Parameters
    ----------
    y_true : array_like
        Targets, shape ``(batch, d)`` (``(batch,)`` is accepted against ``(batch, 1)``).
    y_pred : array_like
        Predictions, shape ``(batch, d)``.

    Returns
    -------
    ndarray
        Shape ``(batch,)``.

    Notes
    -----
    .. math:: \ell = \frac{1}{d} \sum_{j=1}^{d} (y_j - \hat y_j)^2
    """
    y_true, y_pred = _prepare(y_true, y_pred)
    return np.mean(np.square(y_true - y_pred), axis=-1)


def mean_squared_error_gradient(y_true, y_pred):
    r"""Gradient of the batch mean: :math:`2(\hat y - y) / (N d)`, shape of ``y_pred``."""
    shape = np.shape(y_pred)
    y_true, y_pred = _prepare(y_true, y_pred)
    return (2 * (y_pred - y_true) / y_pred.size).reshape(shape)


class MeanSquaredError(Loss):
    """Mean of squared errors; see :func:`mean_squared_error`."""

    default_name = "mean_squared_error"
    function = staticmethod(mean_squared_error)
    gradient_function = staticmethod(mean_squared_error_gradient)
    aliases = ("mse", "MSE")


# ------------------------------------------------------ mean absolute error
def mean_absolute_error(y_true, y_pred):
    r"""Mean absolute error of each sample.

    Parameters
    ----------
    y_true, y_pred : array_like
        Shape ``(batch, d)``.

    Returns
    -------
    ndarray
        Shape ``(batch,)``.

    Notes
    -----
    .. math:: \ell = \frac{1}{d} \sum_{j=1}^{d} |y_j - \hat y_j|
    """
    y_true, y_pred = _prepare(y_true, y_pred)
    return np.mean(np.abs(y_true - y_pred), axis=-1)


def mean_absolute_error_gradient(y_true, y_pred):
    r"""Gradient of the batch mean: :math:`\operatorname{sign}(\hat y - y) / (N d)` (0 where equal)."""
    shape = np.shape(y_pred)
    y_true, y_pred = _prepare(y_true, y_pred)
    return (np.sign(y_pred - y_true) / y_pred.size).reshape(shape)


class MeanAbsoluteError(Loss):
    """Mean of absolute errors; see :func:`mean_absolute_error`."""

    default_name = "mean_absolute_error"
    function = staticmethod(mean_absolute_error)
    gradient_function = staticmethod(mean_absolute_error_gradient)
    aliases = ("mae", "MAE")


# ------------------------------------------------------------------- huber
def huber(y_true, y_pred, delta=1.0):
    r"""Huber loss of each sample: quadratic near zero, linear beyond ``delta``.

    Parameters
    ----------
    y_true, y_pred : array_like
        Shape ``(batch, d)``.
    delta : float, default 1.0
        Where the loss changes from quadratic to linear.

    Returns
    -------
    ndarray
        Shape ``(batch,)``.

    Notes
    -----
    With the error :math:`e = \hat y - y`:

    .. math:: \ell = \frac1d \sum_j \begin{cases} \tfrac12 e_j^2 & |e_j| \le \delta \\
              \delta |e_j| - \tfrac12 \delta^2 & |e_j| > \delta \end{cases}
    """
    y_true, y_pred = _prepare(y_true, y_pred)
    delta = y_pred.dtype.type(delta)
    e = y_pred - y_true
    abs_e = np.abs(e)
    half = y_pred.dtype.type(0.5)
    return np.mean(np.where(abs_e <= delta, half * e * e, delta * abs_e - half * delta * delta), axis=-1)


def huber_gradient(y_true, y_pred, delta=1.0):
    r"""Gradient of the batch mean, over :math:`N d`: :math:`e` where :math:`|e| \le \delta`,
    else :math:`\delta\,\operatorname{sign}(e)`."""
    shape = np.shape(y_pred)
    y_true, y_pred = _prepare(y_true, y_pred)
    delta = y_pred.dtype.type(delta)
    e = y_pred - y_true
    return (np.where(np.abs(e) <= delta, e, delta * np.sign(e)) / y_pred.size).reshape(shape)


class Huber(Loss):
    """Huber loss with threshold ``delta``; see :func:`huber`."""

    default_name = "huber_loss"
    function = staticmethod(huber)
    gradient_function = staticmethod(huber_gradient)

    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name=None):
        if not delta > 0:
            raise ValueError(f"`delta` must be > 0. Received: delta={delta}")
        super().__init__(reduction=reduction, name=name)
        self.delta = delta

    def options(self):
        return {"delta": self.delta}


# ---------------------------------------------------------------- log_cosh
_LOG2 = math.log(2.0)


def log_cosh(y_true, y_pred):
    r"""Logarithm of the hyperbolic cosine of the error, per sample.

    Parameters
    ----------
    y_true, y_pred : array_like
        Shape ``(batch, d)``.

    Returns
    -------
    ndarray
        Shape ``(batch,)``.

    Notes
    -----
    With :math:`e = \hat y - y`, computed in Keras's overflow-free form

    .. math:: \log\cosh e = e + \operatorname{softplus}(-2e) - \log 2,

    which behaves like :math:`e^2/2` for small errors and :math:`|e| - \log 2` for large ones.
    """
    y_true, y_pred = _prepare(y_true, y_pred)
    e = y_pred - y_true
    log2 = y_pred.dtype.type(_LOG2)
    return np.mean(e + np.logaddexp(-2 * e, y_pred.dtype.type(0)) - log2, axis=-1)


def log_cosh_gradient(y_true, y_pred):
    r"""Gradient of the batch mean: :math:`\tanh(\hat y - y) / (N d)`."""
    shape = np.shape(y_pred)
    y_true, y_pred = _prepare(y_true, y_pred)
    return (np.tanh(y_pred - y_true) / y_pred.size).reshape(shape)


class LogCosh(Loss):
    """Log-cosh of the error; see :func:`log_cosh`."""

    default_name = "log_cosh"
    function = staticmethod(log_cosh)
    gradient_function = staticmethod(log_cosh_gradient)


# ------------------------------------------------------------------- hinge
def _hinge_labels(y_true):
    """Keras converts labels that are all 0 or 1 to -1 or 1; other labels are used as given."""
    if np.all((y_true == 0) | (y_true == 1)):
        return 2 * y_true - 1
    return y_true


def hinge(y_true, y_pred):
    r"""Hinge loss of each sample (labels -1/1, or 0/1 which are converted).

    Parameters
    ----------
    y_true : array_like
        Labels in {-1, 1} or {0, 1}, shape ``(batch, d)``.
    y_pred : array_like
        Scores, shape ``(batch, d)``.

    Returns
    -------
    ndarray
        Shape ``(batch,)``.

    Notes
    -----
    .. math:: \ell = \frac1d \sum_j \max(1 - y_j \hat y_j, 0)
    """
    y_true, y_pred = _prepare(y_true, y_pred)
    y = _hinge_labels(y_true)
    return np.mean(np.maximum(1 - y * y_pred, 0), axis=-1)


def hinge_gradient(y_true, y_pred):
    r"""Gradient of the batch mean: :math:`-y` where the margin :math:`1 - y\hat y > 0`, else 0; over :math:`N d`."""
    shape = np.shape(y_pred)
    y_true, y_pred = _prepare(y_true, y_pred)
    y = _hinge_labels(y_true)
    return (np.where(1 - y * y_pred > 0, -y, 0) / y_pred.size).astype(y_pred.dtype).reshape(shape)


class Hinge(Loss):
    """Hinge loss; see :func:`hinge`."""

    default_name = "hinge"
    function = staticmethod(hinge)
    gradient_function = staticmethod(hinge_gradient)


# ----------------------------------------------------------- kl_divergence
def kl_divergence(y_true, y_pred):
    r"""Kullback-Leibler divergence of each sample's distributions.

    Parameters
    ----------
    y_true, y_pred : array_like
        Probability distributions, shape ``(batch, classes)``.

    Returns
    -------
    ndarray
        Shape ``(batch,)``.

    Notes
    -----
    Both arguments are first clipped to :math:`[\epsilon, 1]`:

    .. math:: \ell = \sum_j y_j \log\frac{y_j}{\hat y_j}

    Note the sum (not the mean) over the last axis, as in Keras.
    """
    y_true, y_pred = _prepare(y_true, y_pred)
    y = np.clip(y_true, epsilon(), 1)
    p = np.clip(y_pred, epsilon(), 1)
    return np.sum(y * np.log(y / p), axis=-1)


def kl_divergence_gradient(y_true, y_pred):
    r"""Gradient of the batch mean, over :math:`N`: :math:`-y/\hat y` where
    :math:`\epsilon \le \hat y \le 1`, else 0."""
    shape = np.shape(y_pred)
    y_true, y_pred = _prepare(y_true, y_pred)
    y = np.clip(y_true, epsilon(), 1)
    inside = (y_pred >= epsilon()) & (y_pred <= 1)
    p = np.where(inside, y_pred, 1)  # avoids dividing by a clipped (maybe 0) value
    return (np.where(inside, -y / p, 0) / _n_values(y_pred)).astype(y_pred.dtype).reshape(shape)


class KLDivergence(Loss):
    """Kullback-Leibler divergence; see :func:`kl_divergence`."""

    default_name = "kl_divergence"
    function = staticmethod(kl_divergence)
    gradient_function = staticmethod(kl_divergence_gradient)
    aliases = ("kld", "KLD")
    targets = "one_hot"


# ---------------------------------------------------- binary crossentropy
def _smooth_binary(y_true, label_smoothing):
    """Squeeze labels towards 0.5: :math:`y(1 - s) + s/2`."""
    if label_smoothing:
        return y_true * (1 - label_smoothing) + 0.5 * label_smoothing
    return y_true


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0):
    r"""Binary crossentropy of each sample, averaged over its last axis.

    Parameters
    ----------
    y_true : array_like
        Labels in [0, 1], shape ``(batch, d)`` (``(batch,)`` against ``(batch, 1)`` is fine).
    y_pred : array_like
        Probabilities, or logits when ``from_logits=True``; shape ``(batch, d)``.
    from_logits : bool, default False
    label_smoothing : float in [0, 1], default 0
        Labels become :math:`y(1 - s) + s/2`.

    Returns
    -------
    ndarray
        Shape ``(batch,)``.

    Notes
    -----
    Probabilities are clipped, :math:`p = \operatorname{clip}(\hat y, \epsilon, 1 - \epsilon)`:

    .. math:: \ell = -\frac1d \sum_j \big(y_j \log p_j + (1 - y_j)\log(1 - p_j)\big)

    Logits :math:`z` use the overflow-free form of the same quantity for
    :math:`p = \sigma(z)` (as Keras's TensorFlow, JAX and PyTorch backends; its
    NumPy backend instead applies the sigmoid and then clips):

    .. math:: \ell = \frac1d \sum_j \big(\max(z_j, 0) - z_j y_j + \log(1 + e^{-|z_j|})\big)
    """
    _check_unit_interval("label_smoothing", label_smoothing)
    y_true, y_pred = _prepare(y_true, y_pred)
    y = _smooth_binary(y_true, label_smoothing)
    if from_logits:
        z = y_pred
        bce = np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))
    else:
        p = np.clip(y_pred, epsilon(), 1 - epsilon())
        bce = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    return np.mean(bce, axis=-1)


def binary_crossentropy_gradient(y_true, y_pred, from_logits=False, label_smoothing=0.0):
    r"""Gradient of the batch mean with respect to ``y_pred`` (the logits when ``from_logits``).

    Notes
    -----
    Logits: :math:`(\sigma(z) - y)/(N d)`. Probabilities:
    :math:`\big(-y/p + (1 - y)/(1 - p)\big)/(N d)` where :math:`\epsilon \le \hat y \le 1 - \epsilon`,
    0 where the prediction was clipped.
    """
    shape = np.shape(y_pred)
    y_true, y_pred = _prepare(y_true, y_pred)
    y = _smooth_binary(y_true, label_smoothing)
    if from_logits:
        grad = activations.sigmoid(y_pred) - y
    else:
        eps = epsilon()
        lo, hi = y_pred.dtype.type(eps), y_pred.dtype.type(1 - eps)
        inside = (y_pred >= lo) & (y_pred <= hi)
        p = np.where(inside, y_pred, 0.5)  # keep clipped entries away from 0 and 1
        grad = np.where(inside, -y / p + (1 - y) / (1 - p), 0)
    return (grad / y_pred.size).astype(y_pred.dtype).reshape(shape)


class BinaryCrossentropy(Loss):
    """Binary crossentropy; see :func:`binary_crossentropy`."""

    default_name = "binary_crossentropy"
    function = staticmethod(binary_crossentropy)
    gradient_function = staticmethod(binary_crossentropy_gradient)
    aliases = ("bce", "BCE")
    targets = "binary"

    def __init__(self, from_logits=False, label_smoothing=0.0, reduction="sum_over_batch_size", name=None):
        _check_unit_interval("label_smoothing", label_smoothing)
        super().__init__(reduction=reduction, name=name)
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing

    def options(self):
        return {"from_logits": self.from_logits, "label_smoothing": self.label_smoothing}


# ----------------------------------------------- categorical crossentropy
def _smooth_categorical(y_true, label_smoothing):
    """Mix labels with the uniform distribution: :math:`y(1 - s) + s/K`."""
    if label_smoothing:
        k = y_true.shape[-1]
        return y_true * (1 - label_smoothing) + label_smoothing / k
    return y_true


def _prepare_categorical(y_true, y_pred):
    y_pred = as_float(y_pred)
    y_true = np.asarray(y_true, dtype=y_pred.dtype)
    if y_true.shape != y_pred.shape:
        hint = ""
        if y_true.ndim == y_pred.ndim - 1:
            hint = " For integer class labels use sparse_categorical_crossentropy."
        raise ValueError(
            "categorical_crossentropy expects one-hot `y_true` of the same shape as `y_pred`. "
            f"Received: y_true.shape={y_true.shape}, y_pred.shape={y_pred.shape}.{hint}"
        )
    return y_true, y_pred


def _normalised_clipped_log(y_pred):
    """Keras's probability path: rescale each row to sum to 1, clip to [eps, 1 - eps], take the log."""
    q = y_pred / np.sum(y_pred, axis=-1, keepdims=True)
    return np.log(np.clip(q, epsilon(), 1 - epsilon()))


def _normalised_clipped_log_vjp(y, y_pred):
    r"""Gradient of :math:`-\sum_j y_j \log \operatorname{clip}(q_j)`, with :math:`q = \hat y / S`
    and :math:`S = \sum_k \hat y_k`.

    With :math:`g_j = -y_j/q_j` where :math:`q_j` is not clipped (else 0), the
    chain rule through the normalisation gives
    :math:`\partial\ell/\partial\hat y_k = (g_k - \sum_j g_j q_j)/S`.
    """
    s = np.sum(y_pred, axis=-1, keepdims=True)
    q = y_pred / s
    inside = (q >= q.dtype.type(epsilon())) & (q <= q.dtype.type(1 - epsilon()))
    g = np.where(inside, -y / np.where(inside, q, 1), 0)
    return (g - np.sum(g * q, axis=-1, keepdims=True)) / s


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0):
    r"""Categorical crossentropy of each sample.

    Parameters
    ----------
    y_true : array_like
        One-hot targets (or distributions), shape ``(batch, classes)``.
    y_pred : array_like
        Probabilities, or logits when ``from_logits=True``; shape ``(batch, classes)``.
    from_logits : bool, default False
    label_smoothing : float in [0, 1], default 0
        Targets become :math:`y(1 - s) + s/K` for :math:`K` classes.

    Returns
    -------
    ndarray
        Shape ``(batch,)``.

    Notes
    -----
    .. math:: \ell = -\sum_j y_j \log p_j

    Probabilities: Keras first rescales each row to sum to 1, then clips,
    :math:`p = \operatorname{clip}(\hat y / \sum_k \hat y_k, \epsilon, 1 - \epsilon)`.
    Logits: :math:`\log p = z - \log\sum_k e^{z_k}` (log-softmax), no clipping.
    """
    _check_unit_interval("label_smoothing", label_smoothing)
    y_true, y_pred = _prepare_categorical(y_true, y_pred)
    y = _smooth_categorical(y_true, label_smoothing)
    log_p = _log_softmax(y_pred) if from_logits else _normalised_clipped_log(y_pred)
    return -np.sum(y * log_p, axis=-1)


def categorical_crossentropy_gradient(y_true, y_pred, from_logits=False, label_smoothing=0.0):
    r"""Gradient of the batch mean with respect to ``y_pred`` (the logits when ``from_logits``).

    Notes
    -----
    Logits: :math:`\big(\operatorname{softmax}(z)\sum_j y_j - y\big)/N`, which is
    :math:`(p - y)/N` for one-hot targets. Probabilities: the chain rule through
    Keras's normalisation and clipping (see ``_normalised_clipped_log_vjp``), over :math:`N`.
    """
    y_true, y_pred = _prepare_categorical(y_true, y_pred)
    y = _smooth_categorical(y_true, label_smoothing)
    if from_logits:
        grad = activations.softmax(y_pred) * np.sum(y, axis=-1, keepdims=True) - y
    else:
        grad = _normalised_clipped_log_vjp(y, y_pred)
    return (grad / _n_values(y_pred)).astype(y_pred.dtype)


class CategoricalCrossentropy(Loss):
    """Categorical crossentropy with one-hot targets; see :func:`categorical_crossentropy`."""

    default_name = "categorical_crossentropy"
    function = staticmethod(categorical_crossentropy)
    gradient_function = staticmethod(categorical_crossentropy_gradient)
    targets = "one_hot"

    def __init__(self, from_logits=False, label_smoothing=0.0, reduction="sum_over_batch_size", name=None):
        _check_unit_interval("label_smoothing", label_smoothing)
        super().__init__(reduction=reduction, name=name)
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing

    def options(self):
        return {"from_logits": self.from_logits, "label_smoothing": self.label_smoothing}


# ---------------------------------------- sparse categorical crossentropy
def _prepare_sparse(y_true, y_pred):
    """Labels as int array of shape ``y_pred.shape[:-1]`` (a trailing 1 is squeezed, as Keras)."""
    y_pred = as_float(y_pred)
    labels = np.asarray(y_true)
    if labels.ndim == y_pred.ndim and labels.ndim > 0 and labels.shape[-1] == 1:
        labels = labels[..., 0]
    if labels.shape != y_pred.shape[:-1]:
        raise ValueError(
            "sparse_categorical_crossentropy expects one integer label per sample: `y_true` of shape "
            f"{y_pred.shape[:-1]} for `y_pred` of shape {y_pred.shape}. Received: y_true.shape={np.shape(y_true)}"
        )
    labels = labels.astype(np.int64, copy=False)  # Keras casts to int (truncating a float label)
    _check_label_range(labels, y_pred.shape[-1])
    return labels, y_pred


def _check_label_range(labels, k):
    """Raise a ValueError naming the first label outside ``[0, k)``."""
    if labels.size and (labels.min() < 0 or labels.max() >= k):
        bad = np.flatnonzero((labels < 0) | (labels >= k))[0]
        raise ValueError(
            f"labels must be integers in [0, {k}); received label {labels.flat[bad]} at index {bad}"
        )


def _crossentropy_of_labels(labels, probabilities):
    r"""Keras's :math:`-\log \operatorname{clip}(p_c / \sum_k p_k, \epsilon, 1 - \epsilon)`, each row's label :math:`c`.

    ``labels``: checked class indices, shape ``(N,)``; ``probabilities``: ``(N, K)``.
    The same numbers as ``_normalised_clipped_log`` at the labels, without the other entries.
    """
    p_label = probabilities[np.arange(len(labels)), labels] / probabilities.sum(axis=-1)
    return -np.log(p_label.clip(epsilon(), 1 - epsilon()))


def _one_hot(labels, k, dtype):
    out = np.zeros(labels.shape + (k,), dtype=dtype)
    np.put_along_axis(out, labels[..., None], 1, axis=-1)
    return out


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False):
    r"""Categorical crossentropy of each sample, with integer labels instead of one-hot vectors.

    Parameters
    ----------
    y_true : array_like
        Class indices in ``[0, classes)``, shape ``(batch,)`` or ``(batch, 1)``.
    y_pred : array_like
        Probabilities, or logits when ``from_logits=True``; shape ``(batch, classes)``.
    from_logits : bool, default False

    Returns
    -------
    ndarray
        Shape ``(batch,)``.

    Notes
    -----
    .. math:: \ell = -\log p_{c}, \quad c = \text{the sample's label}

    with :math:`p` computed as in :func:`categorical_crossentropy` (rescaled
    and clipped probabilities, or log-softmax of logits). Keras has no label
    smoothing for the sparse form.
    """
    labels, y_pred = _prepare_sparse(y_true, y_pred)
    if from_logits:
        return -np.take_along_axis(_log_softmax(y_pred), labels[..., None], axis=-1)[..., 0]
    rows = y_pred.reshape(-1, y_pred.shape[-1])
    return _crossentropy_of_labels(labels.reshape(-1), rows).reshape(labels.shape)


def sparse_categorical_crossentropy_gradient(y_true, y_pred, from_logits=False):
    r"""Gradient of the batch mean with respect to ``y_pred``: as the categorical one with one-hot targets."""
    labels, y_pred = _prepare_sparse(y_true, y_pred)
    y = _one_hot(labels, y_pred.shape[-1], y_pred.dtype)
    if from_logits:
        grad = activations.softmax(y_pred) - y
    else:
        grad = _normalised_clipped_log_vjp(y, y_pred)
    return (grad / _n_values(y_pred)).astype(y_pred.dtype)


class SparseCategoricalCrossentropy(Loss):
    """Categorical crossentropy with integer labels; see :func:`sparse_categorical_crossentropy`."""

    default_name = "sparse_categorical_crossentropy"
    function = staticmethod(sparse_categorical_crossentropy)
    gradient_function = staticmethod(sparse_categorical_crossentropy_gradient)
    targets = "labels"

    def __init__(self, from_logits=False, reduction="sum_over_batch_size", name=None):
        super().__init__(reduction=reduction, name=name)
        self.from_logits = from_logits

    def options(self):
        return {"from_logits": self.from_logits}


# ----------------------------------------- fused softmax + crossentropy
def softmax_crossentropy_gradient(y_true, probabilities, sparse, label_smoothing=0.0):
    r"""Gradient of the batch-mean crossentropy with respect to the logits of a softmax output layer.

    For a model ending in ``Dense(K, activation="softmax")`` trained with
    (sparse) categorical crossentropy, backpropagating through the loss and
    then through softmax's Jacobian collapses to one subtraction, which is
    both faster and more accurate than the two steps.

    Parameters
    ----------
    y_true : array_like
        Integer labels ``(batch,)`` or ``(batch, 1)`` when ``sparse``; else
        one-hot targets ``(batch, K)``.
    probabilities : ndarray
        The softmax output ``(batch, K)`` cached by the forward pass.
    sparse : bool
        Whether ``y_true`` holds integer labels.
    label_smoothing : float, default 0
        As in :func:`categorical_crossentropy` (one-hot targets only).

    Returns
    -------
    ndarray
        :math:`\partial L / \partial z`, shape ``(batch, K)``.

    Notes
    -----
    .. math:: \frac{\partial L}{\partial z} = \frac{p - y}{N}

    This is the gradient of the unclipped loss, as Keras's TensorFlow backend
    computes it (it recovers the logits of a softmax output and uses
    ``from_logits=True``). It differs from the clipped-probability gradient
    only where a probability exceeds :math:`1 - \epsilon` or falls below
    :math:`\epsilon`.
    """
    p = as_float(probabilities)
    k = p.shape[-1]
    if sparse:
        labels = np.asarray(y_true).reshape(-1).astype(np.intp)
        if labels.size != p.size // k:
            raise ValueError(
                f"Expected one label per sample ({p.size // k}) for probabilities of shape {p.shape}. "
                f"Received: y_true.shape={np.shape(y_true)}"
            )
        _check_label_range(labels, k)
        return _softmax_crossentropy_gradient_of_labels(labels, p.reshape(-1, k)).reshape(p.shape)
    y_true, p = _prepare_categorical(y_true, p)
    grad = p - _smooth_categorical(y_true, label_smoothing)
    grad /= p.size // k
    return grad


def _softmax_crossentropy_gradient_of_labels(labels, probabilities):
    """:math:`(p - \text{onehot}(c))/N` for checked labels ``(N,)`` and probabilities ``(N, K)``."""
    grad = probabilities.copy()
    grad[np.arange(len(labels)), labels] -= 1  # p - onehot, without building the one-hot matrix
    grad /= len(labels)
    return grad

class SoftmaxCrossentropy:
    r"""A softmax output layer and a crossentropy loss, as one step: the loss and its gradient.

    A model whose last layer applies softmax (``Dense(K, activation="softmax")``
    or a final ``Activation("softmax")``), trained with
    :class:`CategoricalCrossentropy` or :class:`SparseCategoricalCrossentropy`
    on probabilities and averaged over the batch, needs no Jacobian of softmax:
    the gradient with respect to the softmax's input is :math:`(p - y)/N`
    (:func:`softmax_crossentropy_gradient`). ``Sequential`` uses this class
    whenever :meth:`fuses` says so.

    The targets are taken as ``fit`` leaves them after checking them all once:
    integer labels as an int64 array of class indices, one per sample. Labels
    in any other form are checked with :func:`check_targets` first.

    Parameters
    ----------
    loss : CategoricalCrossentropy or SparseCategoricalCrossentropy
        One for which :meth:`fuses` is True.
    """

    def __init__(self, loss):
        if not self.fuses(loss):
            raise ValueError(
                "SoftmaxCrossentropy needs a (sparse) categorical crossentropy of probabilities "
                f"averaged over the batch. Received: loss={loss!r}"
            )
        self.loss = loss
        self.sparse = loss.targets == "labels"

    @staticmethod
    def fuses(loss):
        """Whether ``loss`` is a crossentropy of probabilities averaged over the batch."""
        return (
            isinstance(loss, (CategoricalCrossentropy, SparseCategoricalCrossentropy))
            and not loss.from_logits
            and loss.reduction in ("sum_over_batch_size", "mean")
        )

    def __call__(self, y_true, probabilities):
        """The loss: the same number as ``loss(y_true, probabilities)``."""
        if not self.sparse:
            return self.loss(y_true, probabilities)
        labels = self._labels(y_true, probabilities)
        return self.loss.reduce(_crossentropy_of_labels(labels, probabilities))

    def gradient(self, y_true, probabilities):
        r""":math:`\partial L / \partial z = (p - y)/N`, for ``z`` the softmax's input; ``probabilities: (N, K)``."""
        if not self.sparse:
            return softmax_crossentropy_gradient(y_true, probabilities, False, self.loss.label_smoothing)
        labels = self._labels(y_true, probabilities)
        return _softmax_crossentropy_gradient_of_labels(labels, probabilities)

    def _labels(self, y_true, probabilities):
        """``y_true`` as int64 class indices ``(N,)``, checked unless they are already."""
        labels = np.asarray(y_true)
        if labels.dtype != np.int64 or labels.shape != probabilities.shape[:1]:
            units = probabilities.shape[-1]
            labels = check_targets(self.loss, labels, units).reshape(len(probabilities)).astype(np.int64)
        return labels


# =============================================================== name lookup
# Every name keras.losses.get resolves (for the losses gdlib has) -> class: the function's
# name, the class's name and the class's aliases, as each class declares them.
ALL_LOSSES = {
    name: cls
    for cls in _LOSS_CLASSES
    for name in (cls.function.__name__, cls.__name__, *cls.aliases)
}

# The snake_case functions, so that get(mean_squared_error) can still train.
_FUNCTION_TO_CLASS = {cls.function: cls for cls in _LOSS_CLASSES}


def get(identifier):
    """Return a :class:`Loss` instance for ``identifier``.

    Parameters
    ----------
    identifier : str, Loss, callable or None
        A Keras name or alias (``'mse'``, ``'sparse_categorical_crossentropy'``,
        ``'BinaryCrossentropy'``, ...), a ``Loss`` instance (returned as is),
        one of this module's functions (its class is returned), any other
        function ``f(y_true, y_pred)`` (wrapped: it can be evaluated but has no
        gradient), or None (returned as None).

    Returns
    -------
    Loss or None

    Raises
    ------
    ValueError
        For an unknown name; the message lists the valid ones.
    """
    if identifier is None or isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        if identifier in ALL_LOSSES:
            return ALL_LOSSES[identifier]()
        raise ValueError(
            f"Unknown loss: '{identifier}'. Valid names are: {', '.join(sorted(ALL_LOSSES))}."
        )
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if identifier in _FUNCTION_TO_CLASS:
        return _FUNCTION_TO_CLASS[identifier]()
    if callable(identifier):
        return LossFunctionWrapper(identifier)
    raise TypeError(
        "`loss` must be a string, a Loss, a function or None. "
        f"Received: loss={identifier!r} of type {type(identifier).__name__}"
    )


# ============================================================ target checks
def _index(y, flat_position):
    """Readable position of a flat index: ``3`` for 1-D arrays, ``(3, 0)`` otherwise."""
    idx = np.unravel_index(flat_position, y.shape)
    return int(idx[0]) if len(idx) == 1 else tuple(int(i) for i in idx)


def check_targets(loss, y, output_units):
    """Validate a whole target array against a loss and the model's output width, once, before training.

    Parameters
    ----------
    loss : str, Loss or callable
        The compiled loss (anything :func:`get` accepts).
    y : array_like
        All targets, shape ``(samples,)`` or ``(samples, units)``.
    output_units : int
        Width of the model's last layer.

    Returns
    -------
    ndarray
        ``y`` as a float32 array (its shape unchanged).

    Raises
    ------
    ValueError
        NaN or inf targets; sparse labels that are not integers or not in
        ``[0, output_units)``; one-hot targets whose width differs from
        ``output_units``; binary targets outside [0, 1] or of the wrong shape;
        regression targets whose width differs from ``output_units``.
    """
    loss = get(loss)
    y = np.asarray(y)
    if y.dtype.kind not in "biuf":
        raise ValueError(f"`y` must be numeric. Received: y of dtype {y.dtype}")
    y = y.astype(np.float32)
    if y.ndim == 0:
        raise ValueError(f"`y` must have one entry per sample. Received: a scalar y={y}")
    if not np.all(np.isfinite(y)):
        bad = np.flatnonzero(~np.isfinite(y))[0]
        raise ValueError(f"`y` must not contain NaN or inf; received {y.flat[bad]} at index {_index(y, bad)}")

    if loss.targets is not None:  # None: a custom function, whose shapes gdlib cannot know
        _TARGET_CHECKS[loss.targets](loss.name, y, output_units)
    return y


def _check_labels(name, y, output_units):
    """One integer class index in ``[0, output_units)`` per sample."""
    if not (y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1)):
        raise ValueError(
            f"{name} expects one integer label per sample, shape ({len(y)},) or ({len(y)}, 1); "
            f"received y of shape {y.shape}. For one-hot targets use loss='categorical_crossentropy'."
        )
    not_integer = y != np.round(y)
    if np.any(not_integer):
        bad = np.flatnonzero(not_integer)[0]
        raise ValueError(
            f"{name}: labels must be integers in [0, {output_units}); "
            f"received label {y.flat[bad]:g} at index {_index(y, bad)}"
        )
    out_of_range = (y < 0) | (y >= output_units)
    if np.any(out_of_range):
        bad = np.flatnonzero(out_of_range)[0]
        raise ValueError(
            f"{name}: labels must be integers in [0, {output_units}) for a model with "
            f"{output_units} output units; received label {y.flat[bad]:g} at index {_index(y, bad)}"
        )


def _check_one_hot(name, y, output_units):
    """One row per sample, as wide as the output."""
    if y.ndim != 2 or y.shape[1] != output_units:
        hint = ""
        if y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1):
            hint = " For integer class labels use loss='sparse_categorical_crossentropy'."
        raise ValueError(
            f"{name} expects one-hot targets of shape ({len(y)}, {output_units}) to match "
            f"the {output_units} output units; received y of shape {y.shape}.{hint}"
        )


def _check_values(name, y, output_units):
    """Shaped as the output (``(samples,)`` too for a single output unit)."""
    expected = [(len(y), output_units)] + ([(len(y),)] if output_units == 1 else [])
    if y.shape not in expected:
        raise ValueError(
            f"{name} expects targets of shape {' or '.join(map(str, expected))} to match "
            f"the {output_units} output unit{'s' if output_units != 1 else ''}; received y of shape {y.shape}."
        )


def _check_binary(name, y, output_units):
    """Shaped as the output, each in [0, 1]."""
    _check_values(name, y, output_units)
    outside = (y < 0) | (y > 1)
    if np.any(outside):
        bad = np.flatnonzero(outside)[0]
        raise ValueError(f"{name} expects targets in [0, 1]; received {y.flat[bad]:g} at index {_index(y, bad)}")


# A loss's ``targets`` -> the check of its targets.
_TARGET_CHECKS = {
    "labels": _check_labels,
    "one_hot": _check_one_hot,
    "values": _check_values,
    "binary": _check_binary,
}
