r"""Activation functions, each followed by its derivative, as in Keras 3.

Every function has Keras's name, signature and default arguments
(``keras.activations.relu``, ``leaky_relu(x, negative_slope=0.2)``, ...), and
right below it stands ``<name>_derivative``: the elementwise derivative
:math:`f'(x)` that backpropagation multiplies into the incoming gradient.

Arrays are computed in float32, Keras's default float type. A float64 array is
kept in float64, so that a central-difference gradient check can run at full
precision.

Every function is written so that inputs of :math:`\pm 1000` neither overflow
nor produce NaN: an exponential is only ever taken of a non-positive number,
except in ``exponential`` itself, whose true value does not fit in float32.

A layer calls ``y = activation(x)`` in its forward pass, keeps ``x`` and ``y``,
and in its backward pass calls ``backward(activation, x, y, grad_output)``.
"""

import math

import numpy as np

from gdlib.backend import as_float

__all__ = [
    "relu", "sigmoid", "tanh", "softmax", "linear", "elu", "selu", "softplus",
    "softsign", "leaky_relu", "gelu", "silu", "swish", "exponential",
    "relu_derivative", "sigmoid_derivative", "tanh_derivative", "linear_derivative",
    "elu_derivative", "selu_derivative", "softplus_derivative", "softsign_derivative",
    "leaky_relu_derivative", "gelu_derivative", "silu_derivative", "exponential_derivative",
    "softmax_backward", "backward", "erf", "get", "serialize",
]


def _stable_sigmoid(x):
    """Sigmoid that only exponentiates ``-|x|``, so it never overflows."""
    e = np.exp(-np.abs(x))  # in (0, 1]
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


# --------------------------------------------------------------------------- relu
def relu(x):
    r"""Rectified linear unit: :math:`\max(x, 0)`.

    Parameters
    ----------
    x : array_like
        Input of any shape.

    Returns
    -------
    ndarray
        Same shape as ``x``.
    """
    x = as_float(x)
    return np.maximum(x, 0).astype(x.dtype, copy=False)


def relu_derivative(x, y=None):
    r"""Derivative of relu: 1 where :math:`x > 0`, else 0 (0 at the kink, as Keras/TensorFlow)."""
    x = as_float(x)
    return (x > 0).astype(x.dtype)


# ------------------------------------------------------------------------ sigmoid
def sigmoid(x):
    r"""Logistic sigmoid.

    Parameters
    ----------
    x : array_like
        Input of any shape.

    Returns
    -------
    ndarray
        Values in :math:`[0, 1]`, same shape as ``x``.

    Notes
    -----
    .. math:: \sigma(x) = \frac{1}{1 + e^{-x}} = \frac{e^{x}}{1 + e^{x}}

    The first form is used for :math:`x \ge 0`, the second for :math:`x < 0`,
    so the exponential never overflows.
    """
    return _stable_sigmoid(as_float(x))


def sigmoid_derivative(x, y=None):
    r""":math:`\sigma'(x) = \sigma(x)(1 - \sigma(x))`; pass ``y = sigmoid(x)`` to reuse it."""
    s = sigmoid(x) if y is None else as_float(y)
    return s * (1 - s)


# --------------------------------------------------------------------------- tanh
def tanh(x):
    r"""Hyperbolic tangent, :math:`\tanh(x) = (e^x - e^{-x}) / (e^x + e^{-x})`.

    Parameters
    ----------
    x : array_like
        Input of any shape.

    Returns
    -------
    ndarray
        Values in :math:`[-1, 1]`, same shape as ``x``.
    """
    return np.tanh(as_float(x))


def tanh_derivative(x, y=None):
    r""":math:`\tanh'(x) = 1 - \tanh^2(x)`; pass ``y = tanh(x)`` to reuse it."""
    t = tanh(x) if y is None else as_float(y)
    return 1 - t * t


# ------------------------------------------------------------------------ softmax
def softmax(x, axis=-1):
    r"""Softmax: turns each vector along ``axis`` into a probability distribution.

    Parameters
    ----------
    x : array_like
        Logits, e.g. of shape ``(batch, classes)``.
    axis : int, default -1
        The axis that sums to one.

    Returns
    -------
    ndarray
        Same shape as ``x``; non-negative, summing to 1 along ``axis``.

    Notes
    -----
    .. math:: \operatorname{softmax}(x)_i = \frac{e^{x_i - m}}{\sum_j e^{x_j - m}},
              \qquad m = \max_j x_j

    Subtracting the maximum :math:`m` changes nothing mathematically and keeps
    every exponent :math:`\le 0`, so nothing overflows.
    """
    x = as_float(x)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def softmax_backward(y, grad_output, axis=-1):
    r"""Vector-Jacobian product of softmax.

    Parameters
    ----------
    y : ndarray
        ``softmax(x, axis)``, as cached by the forward pass.
    grad_output : ndarray
        Gradient of the loss with respect to ``y``, same shape.
    axis : int, default -1

    Returns
    -------
    ndarray
        Gradient with respect to ``x``.

    Notes
    -----
    The Jacobian is :math:`\partial y_i / \partial x_j = y_i(\delta_{ij} - y_j)`, so

    .. math:: \frac{\partial L}{\partial x_j} = y_j \Big(g_j - \sum_i g_i y_i\Big)
    """
    g = np.asarray(grad_output)
    return y * (g - np.sum(g * y, axis=axis, keepdims=True))


# ------------------------------------------------------------------------- linear
def linear(x):
    """Identity (Keras's "linear" activation): returns ``x`` unchanged."""
    return as_float(x)


def linear_derivative(x, y=None):
    """Derivative of the identity: ones."""
    return np.ones_like(as_float(x))


# ---------------------------------------------------------------------------- elu
def elu(x, alpha=1.0):
    r"""Exponential linear unit.

    Parameters
    ----------
    x : array_like
        Input of any shape.
    alpha : float, default 1.0
        Value that the negative part saturates to is :math:`-\alpha`.

    Returns
    -------
    ndarray
        Same shape as ``x``.

    Notes
    -----
    .. math:: \operatorname{elu}(x) = \begin{cases} x & x \ge 0 \\
              \alpha (e^{x} - 1) & x < 0 \end{cases}
    """
    x = as_float(x)
    negative = alpha * np.expm1(np.minimum(x, 0))  # exp of x <= 0 only
    return np.where(x >= 0, x, negative).astype(x.dtype, copy=False)


def elu_derivative(x, y=None, alpha=1.0):
    r""":math:`\operatorname{elu}'(x) = 1` for :math:`x \ge 0`, :math:`\alpha e^{x}` for :math:`x < 0`."""
    x = as_float(x)
    return np.where(x >= 0, 1, alpha * np.exp(np.minimum(x, 0))).astype(x.dtype, copy=False)


# --------------------------------------------------------------------------- selu
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def selu(x):
    r"""Scaled exponential linear unit (Klambauer et al., 2017).

    Parameters
    ----------
    x : array_like
        Input of any shape.

    Returns
    -------
    ndarray
        Same shape as ``x``.

    Notes
    -----
    .. math:: \operatorname{selu}(x) = \lambda\,\operatorname{elu}(x, \alpha),
              \quad \alpha \approx 1.6733,\ \lambda \approx 1.0507
    """
    x = as_float(x)
    return (SELU_SCALE * elu(x, SELU_ALPHA)).astype(x.dtype, copy=False)


def selu_derivative(x, y=None):
    r""":math:`\operatorname{selu}'(x) = \lambda` for :math:`x \ge 0`, :math:`\lambda\alpha e^{x}` for :math:`x < 0`."""
    x = as_float(x)
    return (SELU_SCALE * elu_derivative(x, alpha=SELU_ALPHA)).astype(x.dtype, copy=False)


# ----------------------------------------------------------------------- softplus
def softplus(x):
    r"""Softplus, a smooth relu: :math:`\log(1 + e^{x})`.

    Parameters
    ----------
    x : array_like
        Input of any shape.

    Returns
    -------
    ndarray
        Positive values, same shape as ``x``.

    Notes
    -----
    Computed as ``logaddexp(x, 0)``
    :math:`= \max(x, 0) + \log(1 + e^{-|x|})`, which never overflows.
    """
    x = as_float(x)
    return np.logaddexp(x, x.dtype.type(0))


def softplus_derivative(x, y=None):
    r""":math:`\operatorname{softplus}'(x) = \sigma(x)`."""
    return sigmoid(x)


# ----------------------------------------------------------------------- softsign
def softsign(x):
    r"""Softsign: :math:`x / (1 + |x|)`.

    Parameters
    ----------
    x : array_like
        Input of any shape.

    Returns
    -------
    ndarray
        Values in :math:`(-1, 1)`, same shape as ``x``.
    """
    x = as_float(x)
    return x / (1 + np.abs(x))


def softsign_derivative(x, y=None):
    r""":math:`\operatorname{softsign}'(x) = 1 / (1 + |x|)^2`."""
    x = as_float(x)
    d = 1 + np.abs(x)
    return 1 / (d * d)


# --------------------------------------------------------------------- leaky_relu
def leaky_relu(x, negative_slope=0.2):
    r"""Leaky relu: :math:`x` for :math:`x \ge 0`, ``negative_slope`` :math:`\cdot x` otherwise.

    Parameters
    ----------
    x : array_like
        Input of any shape.
    negative_slope : float, default 0.2
        Slope for negative inputs (Keras 3's default; Keras 2's ``LeakyReLU`` used 0.3).

    Returns
    -------
    ndarray
        Same shape as ``x``.
    """
    x = as_float(x)
    return np.where(x >= 0, x, negative_slope * x).astype(x.dtype, copy=False)


def leaky_relu_derivative(x, y=None, negative_slope=0.2):
    r"""1 for :math:`x > 0`, ``negative_slope`` for :math:`x < 0` (and at the kink)."""
    x = as_float(x)
    return np.where(x > 0, 1, negative_slope).astype(x.dtype)


# --------------------------------------------------------------------------- gelu
_SQRT_PI = math.sqrt(math.pi)


def erf(x):
    r"""The error function :math:`\operatorname{erf}(x) = \frac{2}{\sqrt\pi}\int_0^x e^{-t^2}dt`, in float64.

    NumPy has no ``erf``, and ``math.erf`` works on one number at a time, so
    this evaluates two classical expansions on whole arrays, accurate to about
    :math:`10^{-15}`.

    Parameters
    ----------
    x : array_like
        Input of any shape.

    Returns
    -------
    ndarray
        float64, same shape as ``x``.

    Notes
    -----
    For :math:`|x| < 2.5`, a series whose terms are all positive (no cancellation):

    .. math:: \operatorname{erf}(x) = \frac{2}{\sqrt\pi} e^{-x^2}
              \sum_{n \ge 0} \frac{2^n x^{2n+1}}{1 \cdot 3 \cdots (2n+1)}

    For :math:`|x| \ge 2.5`, the continued fraction of the complement,
    evaluated from the bottom up:

    .. math:: \operatorname{erfc}(x) = \frac{e^{-x^2}}{\sqrt\pi}\,
              \cfrac{1}{x + \cfrac{1/2}{x + \cfrac{1}{x + \cfrac{3/2}{x + \cdots}}}}

    and :math:`\operatorname{erf}(-x) = -\operatorname{erf}(x)`.
    """
    x = np.asarray(x, dtype=np.float64)
    a = np.abs(x)
    out = np.empty_like(a)

    near = a < 2.5
    s = a[near]
    two_s2 = 2 * s * s
    term = s.copy()
    total = s.copy()
    for n in range(1, 48):  # term_n = term_{n-1} * 2 s^2 / (2n + 1)
        term *= two_s2 / (2 * n + 1)
        total += term
        if n % 8 == 0 and np.all(term <= 1e-17 * total):
            break  # every remaining term is below float64 resolution
    out[near] = 2 / _SQRT_PI * np.exp(-s * s) * total

    b = a[~near]
    f = b.copy()
    for k in range(60, 0, -1):  # the fraction's k-th numerator is k/2
        f = b + (k / 2) / f
    out[~near] = 1 - np.exp(-b * b) / (_SQRT_PI * f)
    return np.copysign(out, x)


_GELU_C = math.sqrt(2 / math.pi)
_GELU_K = 0.044715


def gelu(x, approximate=False):
    r"""Gaussian error linear unit (Hendrycks & Gimpel, 2016).

    Parameters
    ----------
    x : array_like
        Input of any shape.
    approximate : bool, default False
        False (Keras's default): the exact form with :math:`\operatorname{erf}`.
        True: the tanh approximation.

    Returns
    -------
    ndarray
        Same shape as ``x``.

    Notes
    -----
    Exact, with :math:`\Phi` the standard normal CDF:

    .. math:: \operatorname{gelu}(x) = x\,\Phi(x)
              = \tfrac12 x \big(1 + \operatorname{erf}(x/\sqrt2)\big)

    Approximate:

    .. math:: \operatorname{gelu}(x) \approx \tfrac12 x \big(1 + \tanh u\big),
              \quad u = \sqrt{2/\pi}\,(x + 0.044715\,x^3)

    Both are evaluated in float64 and rounded to float32: in float32,
    :math:`1 + \operatorname{erf}` (or :math:`1 + \tanh`) cancels for
    :math:`x < -3`, where Keras's own float32 result is off by up to about
    :math:`10^{-4}` relative.
    """
    x = as_float(x)
    x64 = x.astype(np.float64)  # in float32, 1 + erf(...) loses digits for x < -3
    if approximate:
        cdf = 0.5 * (1 + np.tanh(_GELU_C * (x64 + _GELU_K * x64**3)))
    else:
        cdf = 0.5 * (1 + erf(x64 / math.sqrt(2)))
    return (x64 * cdf).astype(x.dtype)


def gelu_derivative(x, y=None, approximate=False):
    r"""Derivative of gelu.

    Notes
    -----
    Exact: :math:`\operatorname{gelu}'(x) = \Phi(x) + x\,\varphi(x)`, with
    :math:`\varphi(x) = e^{-x^2/2}/\sqrt{2\pi}`.

    Approximate: :math:`\tfrac12(1 + \tanh u) + \tfrac12 x (1 - \tanh^2 u)
    \sqrt{2/\pi}\,(1 + 3 \cdot 0.044715\,x^2)`.
    """
    x = as_float(x)
    x64 = x.astype(np.float64)
    if approximate:
        t = np.tanh(_GELU_C * (x64 + _GELU_K * x64**3))
        du = _GELU_C * (1 + 3 * _GELU_K * x64 * x64)
        return (0.5 * (1 + t) + 0.5 * x64 * (1 - t * t) * du).astype(x.dtype)
    cdf = 0.5 * (1 + erf(x64 / math.sqrt(2)))
    pdf = np.exp(-0.5 * x64 * x64) / math.sqrt(2 * math.pi)
    return (cdf + x64 * pdf).astype(x.dtype)


# --------------------------------------------------------------------- silu/swish
def silu(x):
    r"""Sigmoid linear unit, also called swish: :math:`x\,\sigma(x)`.

    Parameters
    ----------
    x : array_like
        Input of any shape.

    Returns
    -------
    ndarray
        Same shape as ``x``.
    """
    x = as_float(x)
    return x * _stable_sigmoid(x)


def silu_derivative(x, y=None):
    r""":math:`\operatorname{silu}'(x) = \sigma(x)\,\big(1 + x(1 - \sigma(x))\big)`."""
    x = as_float(x)
    s = _stable_sigmoid(x)
    return s * (1 + x * (1 - s))


swish = silu
swish_derivative = silu_derivative


# -------------------------------------------------------------------- exponential
def exponential(x):
    r"""Exponential activation :math:`e^{x}`.

    Parameters
    ----------
    x : array_like
        Input of any shape.

    Returns
    -------
    ndarray
        Same shape as ``x``. Above about 88.7 the true value exceeds float32's
        largest number and the result is ``inf``, as in Keras, without a warning.
    """
    x = as_float(x)
    with np.errstate(over="ignore"):
        return np.exp(x)


def exponential_derivative(x, y=None):
    r""":math:`\frac{d}{dx} e^{x} = e^{x}`; pass ``y = exponential(x)`` to reuse it."""
    return exponential(x) if y is None else as_float(y)


# ---------------------------------------------------------------- name lookup
ALL_ACTIVATIONS = {
    "relu": relu,
    "sigmoid": sigmoid,
    "tanh": tanh,
    "softmax": softmax,
    "linear": linear,
    "elu": elu,
    "selu": selu,
    "softplus": softplus,
    "softsign": softsign,
    "leaky_relu": leaky_relu,
    "gelu": gelu,
    "silu": silu,
    "swish": silu,
    "exponential": exponential,
}

# f -> f_derivative(x, y), for every elementwise activation.
DERIVATIVES = {
    relu: relu_derivative,
    sigmoid: sigmoid_derivative,
    tanh: tanh_derivative,
    linear: linear_derivative,
    elu: elu_derivative,
    selu: selu_derivative,
    softplus: softplus_derivative,
    softsign: softsign_derivative,
    leaky_relu: leaky_relu_derivative,
    gelu: gelu_derivative,
    silu: silu_derivative,
    exponential: exponential_derivative,
}


def get(identifier):
    """Return the activation function named by ``identifier``.

    Parameters
    ----------
    identifier : str, callable or None
        A Keras name (``'relu'``, ``'swish'``, ...), a function (returned as
        is), or None (meaning ``linear``, as in Keras).

    Returns
    -------
    callable

    Raises
    ------
    ValueError
        For an unknown name; the message lists the valid ones.
    """
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        if identifier in ALL_ACTIVATIONS:
            return ALL_ACTIVATIONS[identifier]
        raise ValueError(
            f"Unknown activation: '{identifier}'. Valid names are: "
            f"{', '.join(sorted(ALL_ACTIVATIONS))}."
        )
    if callable(identifier):
        return identifier
    raise TypeError(
        "`activation` must be a string, a callable or None. "
        f"Received: activation={identifier!r} of type {type(identifier).__name__}"
    )


def serialize(activation):
    """Return the Keras name of a built-in activation, e.g. ``serialize(silu) == 'silu'``."""
    for name, fn in ALL_ACTIVATIONS.items():
        if fn is activation:
            return name
    raise ValueError(
        f"Unknown activation function {activation!r} cannot be serialized: "
        f"it is not one of {', '.join(sorted(ALL_ACTIVATIONS))}."
    )


def backward(activation, x, y, grad_output):
    r"""Gradient of the loss with respect to the activation's input.

    Parameters
    ----------
    activation : str or callable
        The activation used in the forward pass (a name or a function of this module).
    x : ndarray
        Its input, cached in the forward pass, e.g. ``(batch, units)``.
    y : ndarray
        Its output ``activation(x)``, cached in the forward pass; same shape.
    grad_output : ndarray
        :math:`\partial L / \partial y`, same shape. Not modified.

    Returns
    -------
    ndarray
        :math:`\partial L / \partial x`, same shape as ``x``.

    Notes
    -----
    Elementwise activations: :math:`\partial L/\partial x = \partial L/\partial y \odot f'(x)`.
    Softmax (along the last axis): the full vector-Jacobian product, see
    :func:`softmax_backward`.
    """
    fn = get(activation)
    if fn is softmax:
        return softmax_backward(y, grad_output)
    if fn is linear:
        return np.asarray(grad_output)
    if fn not in DERIVATIVES:
        raise ValueError(
            f"No derivative is known for activation {fn!r}: backpropagation "
            f"needs one of {', '.join(sorted(ALL_ACTIVATIONS))}."
        )
    return grad_output * DERIVATIVES[fn](x, y)
