r"""Adagrad: a per-parameter step size that shrinks with every gradient seen."""

import numpy as np

from .base import Optimizer, _Default, _check_number

# Keras's defaults, written once for adagrad_update and Adagrad.
INITIAL_ACCUMULATOR_VALUE, EPSILON = 0.1, 1e-7


def adagrad_update(variable, gradient, accumulator, learning_rate, epsilon=EPSILON):
    r"""One Adagrad step on ``variable``, in place (Keras 3's rule).

    Parameters
    ----------
    variable : ndarray
        The parameter :math:`w`, updated in place.
    gradient : ndarray
        :math:`g`, same shape; not modified.
    accumulator : ndarray
        :math:`a`, the running sum of squared gradients, updated in place.
        Keras starts it at ``initial_accumulator_value`` (0.1), not 0.
    learning_rate : float
        :math:`\eta`.
    epsilon : float
        :math:`\epsilon`.

    Returns
    -------
    ndarray
        ``variable``, after the step.

    Notes
    -----
    .. math::

        a &\leftarrow a + g^2 \\
        w &\leftarrow w - \frac{\eta\, g}{\sqrt{a + \epsilon}}

    Keras puts :math:`\epsilon` *inside* the square root (Duchi et al., 2011
    write :math:`\sqrt{a} + \epsilon` in later presentations, or leave it
    out), and starts :math:`a` at 0.1, which also bounds the first steps.
    """
    w, g, a = variable, gradient, accumulator
    a += np.square(g)  # a <- a + g^2
    w -= np.float32(learning_rate) * g / np.sqrt(a + np.float32(epsilon))
    return w


class Adagrad(Optimizer):
    r"""Adagrad, as ``keras.optimizers.Adagrad``.

    Parameters
    ----------
    learning_rate : float, LearningRateSchedule or callable
        Defaults to 0.001 (Adagrad usually wants more; the paper's form is 1.0).
    initial_accumulator_value : float
        Starting value of the accumulators, >= 0. Defaults to 0.1.
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
    The rule is :func:`adagrad_update`. State per parameter: 1 number.
    """

    state_values_per_parameter = 1

    def __init__(
        self,
        learning_rate=_Default(0.001),
        initial_accumulator_value=INITIAL_ACCUMULATOR_VALUE,
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
        self.initial_accumulator_value = _check_number(
            "initial_accumulator_value", initial_accumulator_value, low=0
        )
        self.epsilon = _check_number("epsilon", epsilon, low=0)

    def build(self, variables):
        super().build(variables)
        self._accumulators = self._add_slots(variables, self.initial_accumulator_value)

    def update_step(self, gradient, variable, learning_rate):
        accumulator = self._accumulators[self._get_variable_index(variable)]
        adagrad_update(variable, gradient, accumulator, learning_rate, self.epsilon)

    def get_config(self):
        config = super().get_config()
        config.update(
            {"initial_accumulator_value": self.initial_accumulator_value, "epsilon": self.epsilon}
        )
        return config
