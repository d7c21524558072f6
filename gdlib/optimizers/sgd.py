r"""Stochastic gradient descent, with optional (Nesterov) momentum: Keras's ``SGD``."""

import numpy as np

from .base import Optimizer, _Default, _check_bool, _check_number

# Keras's defaults, written once for sgd_update and SGD.
MOMENTUM, NESTEROV = 0.0, False


def sgd_update(variable, gradient, m, learning_rate, momentum=MOMENTUM, nesterov=NESTEROV):
    r"""One SGD step on ``variable``, in place (Keras 3's rule).

    Parameters
    ----------
    variable : ndarray
        The parameter :math:`w`, updated in place.
    gradient : ndarray
        :math:`g = \partial L / \partial w`, same shape; not modified.
    m : ndarray or None
        The velocity :math:`m` (zeros at the start), updated in place. Unused,
        and may be None, when ``momentum`` is 0.
    learning_rate : float
        :math:`\eta`.
    momentum : float
        :math:`\mu \in [0, 1]`.
    nesterov : bool
        Use Nesterov's look-ahead form.

    Returns
    -------
    ndarray
        ``variable``, after the step.

    Notes
    -----
    Without momentum, :math:`w \leftarrow w - \eta g`. With momentum:

    .. math::

        m &\leftarrow \mu m - \eta g \\
        w &\leftarrow w + m \\
        w &\leftarrow w + \mu m - \eta g \quad \text{(instead, if nesterov)}

    Keras keeps the learning rate *inside* the velocity (Sutskever et al.,
    2013), so :math:`m` is a step, not an average gradient; PyTorch's form
    :math:`m \leftarrow \mu m + g,\; w \leftarrow w - \eta m` is the same
    method only while :math:`\eta` is constant. The Nesterov line is the
    reformulation of Bengio et al. (2013), which evaluates no gradient at a
    look-ahead point.
    """
    w, g = variable, gradient
    eta = np.float32(learning_rate)
    if momentum == 0:
        w -= eta * g  # w <- w - eta g
        return w
    mu = np.float32(momentum)
    m *= mu  # m <- mu m - eta g
    m -= eta * g
    if nesterov:
        w += mu * m - eta * g  # w <- w + mu m - eta g
    else:
        w += m  # w <- w + m
    return w


class SGD(Optimizer):
    r"""Gradient descent (with momentum) optimizer, as ``keras.optimizers.SGD``.

    Parameters
    ----------
    learning_rate : float, LearningRateSchedule or callable
        Defaults to 0.01.
    momentum : float
        :math:`\mu \in [0, 1]`; 0 is plain gradient descent. Defaults to 0.0.
    nesterov : bool
        Whether to apply Nesterov momentum. Defaults to False.
    weight_decay, clipnorm, clipvalue, global_clipnorm, name
        See :class:`~gdlib.optimizers.base.Optimizer`.
    lr, decay
        Keras 2's legacy keywords, accepted with a ``DeprecationWarning``:
        ``lr`` is ``learning_rate``, and ``decay`` divides the rate of update
        :math:`t` by :math:`1 + \text{decay} \cdot t` as Keras 2 did. Keras 3
        rejects ``lr`` and ignores ``decay``. See
        :class:`~gdlib.optimizers.base.Optimizer`.

    Notes
    -----
    The rule is :func:`sgd_update`. State per parameter: 1 number (the
    velocity) with momentum, none without.
    """

    def __init__(
        self,
        learning_rate=_Default(0.01),
        momentum=MOMENTUM,
        nesterov=NESTEROV,
        weight_decay=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        name=None,
        *,
        lr=None,
        decay=None,
    ):
        super().__init__(
            learning_rate=learning_rate,
            weight_decay=weight_decay,
            clipnorm=clipnorm,
            clipvalue=clipvalue,
            global_clipnorm=global_clipnorm,
            name=name,
            lr=lr,
            decay=decay,
        )
        self.momentum = _check_number("momentum", momentum, low=0, high=1)
        self.nesterov = _check_bool("nesterov", nesterov)

    @property
    def state_values_per_parameter(self):
        return 1 if self.momentum != 0 else 0

    def build(self, variables):
        super().build(variables)
        self.momentums = self._add_slots(variables) if self.momentum != 0 else []

    def update_step(self, gradient, variable, learning_rate):
        m = self.momentums[self._get_variable_index(variable)] if self.momentum != 0 else None
        sgd_update(variable, gradient, m, learning_rate, self.momentum, self.nesterov)

    def get_config(self):
        config = super().get_config()
        config.update({"momentum": self.momentum, "nesterov": self.nesterov})
        return config
