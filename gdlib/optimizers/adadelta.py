r"""Adadelta: step sizes from running averages of squared gradients and squared updates."""

import numpy as np

from .base import Optimizer, _Default, _check_number

# Keras's defaults, written once for adadelta_update and Adadelta.
RHO, EPSILON = 0.95, 1e-7


def adadelta_update(variable, gradient, acc_grad, acc_delta, learning_rate, rho=RHO,
                    epsilon=EPSILON):
    r"""One Adadelta step on ``variable``, in place (Keras 3's rule).

    Parameters
    ----------
    variable : ndarray
        The parameter :math:`w`, updated in place.
    gradient : ndarray
        :math:`g`, same shape; not modified.
    acc_grad : ndarray
        :math:`E[g^2]`, the running average of squared gradients, in place.
    acc_delta : ndarray
        :math:`E[\Delta^2]`, the running average of squared updates, in place.
    learning_rate : float
        :math:`\eta`.
    rho : float
        :math:`\rho`.
    epsilon : float
        :math:`\epsilon`.

    Returns
    -------
    ndarray
        ``variable``, after the step.

    Notes
    -----
    .. math::

        E[g^2] &\leftarrow \rho\, E[g^2] + (1 - \rho)\, g^2 \\
        \Delta &= -\frac{\sqrt{E[\Delta^2] + \epsilon}\; g}{\sqrt{E[g^2] + \epsilon}} \\
        E[\Delta^2] &\leftarrow \rho\, E[\Delta^2] + (1 - \rho)\, \Delta^2 \\
        w &\leftarrow w + \eta\, \Delta

    Zeiler (2012) has no learning rate (:math:`\eta = 1`); Keras keeps one,
    with default 0.001, so Keras's Adadelta moves 1000 times more slowly than
    the paper's unless you pass ``learning_rate=1.0``.
    """
    w, g = variable, gradient
    epsilon = np.float32(epsilon)
    acc_grad *= rho  # E[g^2] <- rho E[g^2] + (1 - rho) g^2
    acc_grad += (1 - rho) * np.square(g)
    delta = -np.sqrt(acc_delta + epsilon) * g / np.sqrt(acc_grad + epsilon)
    acc_delta *= rho  # E[Delta^2] <- rho E[Delta^2] + (1 - rho) Delta^2
    acc_delta += (1 - rho) * np.square(delta)
    w += np.float32(learning_rate) * delta
    return w


class Adadelta(Optimizer):
    r"""Adadelta, as ``keras.optimizers.Adadelta``.

    Parameters
    ----------
    learning_rate : float, LearningRateSchedule or callable
        Defaults to 0.001 (the paper's form is 1.0).
    rho : float
        The decay rate, in [0, 1). Defaults to 0.95.
    epsilon : float
        Defaults to 1e-7.
    weight_decay, clipnorm, clipvalue, global_clipnorm, name
        See :class:`~gdlib.optimizers.base.Optimizer`.
    lr, decay
        Keras 2's legacy keywords, accepted with a ``DeprecationWarning``
        (Keras 3 rejects ``lr`` and ignores ``decay``); see
        :class:`~gdlib.optimizers.base.Optimizer`.

    Notes
    -----
    The rule is :func:`adadelta_update`. State per parameter: 2 numbers.
    """

    state_values_per_parameter = 2

    def __init__(
        self,
        learning_rate=_Default(0.001),
        rho=RHO,
        epsilon=EPSILON,
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
        self.rho = _check_number("rho", rho, low=0, high=1, high_open=True)
        self.epsilon = _check_number("epsilon", epsilon, low=0)

    def build(self, variables):
        super().build(variables)
        self._accumulated_grads = self._add_slots(variables)
        self._accumulated_delta_vars = self._add_slots(variables)

    def update_step(self, gradient, variable, learning_rate):
        i = self._get_variable_index(variable)
        adadelta_update(variable, gradient, self._accumulated_grads[i],
                        self._accumulated_delta_vars[i], learning_rate, self.rho, self.epsilon)

    def get_config(self):
        config = super().get_config()
        config.update({"rho": self.rho, "epsilon": self.epsilon})
        return config
