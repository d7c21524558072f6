r"""Check hand-written gradients against central differences, in float64.

Backpropagation in gdlib is written out by hand, so every derivative can be
wrong in a way the forward pass never shows. A central difference needs only
the forward pass:

.. math::

    \frac{\partial f}{\partial w_i} \approx \frac{f(w + h e_i) - f(w - h e_i)}{2h}

with an error of order :math:`h^2`. In float64 with :math:`h = 10^{-5}` a
correct gradient agrees to about :math:`10^{-9}`; a wrong one is off by far more.

Each ``check_*`` function returns the largest relative error over the arrays it
compares, each measured as :math:`\lVert a - n\rVert / (\lVert a\rVert + \lVert n\rVert)`
(``a`` analytic, ``n`` numerical), which stays meaningful where single entries are
close to zero. Below ``1e-6`` means the gradient is right.
"""

import contextlib

import numpy as np

from gdlib import activations, losses


def relative_error(analytic, numerical):
    r"""``||a - n|| / max(||a|| + ||n||, 1e-12)``, the size of the disagreement relative to the gradients."""
    analytic = np.asarray(analytic, dtype=np.float64)
    numerical = np.asarray(numerical, dtype=np.float64)
    scale = max(np.linalg.norm(analytic) + np.linalg.norm(numerical), 1e-12)
    return float(np.linalg.norm(analytic - numerical) / scale)


def numerical_gradient(f, x, h=1e-5):
    r"""Central-difference gradient of the scalar function ``f()`` with respect to the array ``x``.

    ``x`` is changed in place, one entry at a time, and restored; ``f`` takes no
    argument and reads ``x`` itself.
    """
    grad = np.zeros(x.shape, dtype=np.float64)
    flat_x, flat_grad = x.reshape(-1), grad.reshape(-1)
    if not np.shares_memory(flat_x, x):
        raise ValueError("`x` must be a contiguous array so that it can be changed in place.")
    for i in range(flat_x.size):
        original = flat_x[i]
        flat_x[i] = original + h
        f_plus = float(f())
        flat_x[i] = original - h
        f_minus = float(f())
        flat_x[i] = original
        flat_grad[i] = (f_plus - f_minus) / (2 * h)
    return grad


def _random(shape, seed, low=-2.0, high=2.0):
    return np.random.default_rng(seed).uniform(low, high, size=shape)


def check_activation(activation, x=None, seed=0):
    """Check ``activations.backward`` for ``activation`` (a name or function) at ``x``.

    The scalar checked is ``sum(g * f(x))`` for a random ``g``, whose gradient
    with respect to ``x`` is exactly what ``backward(f, x, f(x), g)`` returns.
    """
    fn = activations.get(activation)
    x = _random((4, 5), seed) if x is None else np.array(x, dtype=np.float64)
    g = _random(x.shape, seed + 1)
    analytic = activations.backward(fn, x, fn(x), g)
    numerical = numerical_gradient(lambda: np.sum(g * fn(x)), x)
    return relative_error(analytic, numerical)


def check_loss(loss, y_true, y_pred):
    """Check ``loss.gradient(y_true, y_pred)`` (a ``Loss`` or a name) against central differences."""
    loss = losses.get(loss)
    y_pred = np.array(y_pred, dtype=np.float64)
    y_true = np.asarray(y_true)
    if np.issubdtype(y_true.dtype, np.floating):
        y_true = y_true.astype(np.float64)
    analytic = loss.gradient(y_true, y_pred)
    numerical = numerical_gradient(lambda: loss(y_true, y_pred), y_pred)
    return relative_error(analytic, numerical)


@contextlib.contextmanager
def _float64(layers):
    """Temporarily give every layer float64 copies of its weights (restored on exit, with its gradients and flags)."""
    saved = []
    for layer in layers:
        own = {id(w) for w in layer.weights}
        for attribute, value in list(vars(layer).items()):
            if isinstance(value, np.ndarray) and id(value) in own:
                saved.append((layer, attribute, value))
                setattr(layer, attribute, value.astype(np.float64))
        saved.append((layer, "gradients", layer.gradients))
        layer.gradients = [np.zeros(w.shape, dtype=np.float64) for w in layer.weights]
        saved.append((layer, "need_input_gradient", layer.need_input_gradient))
    try:
        yield
    finally:
        for layer, attribute, value in reversed(saved):
            setattr(layer, attribute, value)


def check_layer(layer, x, seed=0):
    """Check a layer's ``backward``: the gradient for its input and for each of its weights.

    The scalar checked is ``sum(g * layer.forward(x))`` for a random ``g`` of the
    output's shape. ``x`` is a ``(batch, features)`` array; the layer is built on
    it if needed. Layers with randomness (Dropout) are checked in inference mode.
    """
    x = np.array(x, dtype=np.float64)
    if not layer.built:
        layer.build((None,) + x.shape[1:])
    with _float64([layer]):
        layer.need_input_gradient = True  # the input's gradient is checked too (restored on exit)
        g = _random(layer.forward(x).shape, seed + 1)
        layer.forward(x)
        grad_x = layer.backward(g)
        analytic = [grad_x] + [np.array(gw) for gw in layer.gradients]

        def f():
            return np.sum(g * layer.forward(x))

        numerical = [numerical_gradient(f, x)] + [numerical_gradient(f, w) for w in layer.weights]
    return max(relative_error(a, n) for a, n in zip(analytic, numerical))


def check_model(model, x, y, loss=None):
    """Check the gradients of a whole model's loss with respect to every trainable weight.

    Uses the same backward pass as ``fit`` (including the fused softmax and
    crossentropy gradient). ``loss`` defaults to the compiled loss.
    """
    loss_fn = losses.get(loss if loss is not None else model.loss)
    if loss_fn is None:
        raise ValueError("`check_model` needs a loss: pass `loss=` or compile the model first.")
    x = np.array(x, dtype=np.float64)
    y = np.asarray(y)
    if np.issubdtype(y.dtype, np.floating):
        y = y.astype(np.float64)
    if not model.built:
        model.build((None,) + x.shape[1:])
    with _float64(model.layers):
        model.compute_gradients(y, model.forward(x, training=False), loss=loss_fn)
        analytic = [np.array(g) for layer in model.layers for g in layer.gradients]

        def f():
            return loss_fn(y, model.forward(x, training=False))

        numerical = [numerical_gradient(f, w) for layer in model.layers for w in layer.weights]
    return max(relative_error(a, n) for a, n in zip(analytic, numerical))
