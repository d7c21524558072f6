r"""Adamax: Adam with the infinity norm in place of the second moment."""

import numpy as np

from .base import Optimizer, _Default, _check_number

# Keras's defaults, written once for adamax_update and Adamax.
BETA_1, BETA_2, EPSILON = 0.9, 0.999, 1e-7


def adamax_update(variable, gradient, m, u, learning_rate, iteration, beta_1=BETA_1, beta_2=BETA_2,
                  epsilon=EPSILON):
    r"""One Adamax step on ``variable``, in place (Keras 3's rule).

    Parameters
    ----------
    variable : ndarray
        The parameter :math:`w`, updated in place.
    gradient : ndarray
        :math:`g`, same shape; not modified.
    m : ndarray
        :math:`m`, the first moment, updated in place.
    u : ndarray
        :math:`u`, the exponentially weighted infinity norm, updated in place.
    learning_rate : float
        :math:`\eta`.
    iteration : int
        Updates already made; this is step :math:`t` = ``iteration + 1``.
    beta_1, beta_2 : float
        :math:`\beta_1, \beta_2`.
    epsilon : float
        :math:`\epsilon`.

    Returns
    -------
    ndarray
        ``variable``, after the step.

    Notes
    -----
    .. math::

        m &\leftarrow m + (1 - \beta_1)(g - m) \\
        u &\leftarrow \max(\beta_2 u, |g|) \\
        w &\leftarrow w - \frac{\eta\, m}{(1 - \beta_1^{\,t})(u + \epsilon)}

    Kingma & Ba's Algorithm 2 has no :math:`\epsilon`; Keras adds one to
    :math:`u` so that a parameter whose gradients have all been 0 does not
    divide by 0.
    """
    w, g = variable, gradient
    t = np.float32(iteration + 1)
    m += (1 - beta_1) * (g - m)
    np.maximum(beta_2 * u, np.abs(g), out=u)
    w -= np.float32(learning_rate) * m / ((1 - np.float32(beta_1) ** t) * (u + np.float32(epsilon)))
    return w


class Adamax(Optimizer):
    r"""Adamax, as ``keras.optimizers.Adamax``.

    Parameters
    ----------
    learning_rate : float, LearningRateSchedule or callable
        Defaults to 0.001.
    beta_1 : float
        Decay of the first moment, in [0, 1). Defaults to 0.9.
    beta_2 : float
        Decay of the infinity norm, in [0, 1). Defaults to 0.999.
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
    The rule is :func:`adamax_update`. State per parameter: 2 numbers.
    """

    state_values_per_parameter = 2

    def __init__(
        self,
        learning_rate=_Default(0.001),
        beta_1=BETA_1,
        beta_2=BETA_2,
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
        self.beta_1 = _check_number("beta_1", beta_1, low=0, high=1, high_open=True)
        self.beta_2 = _check_number("beta_2", beta_2, low=0, high=1, high_open=True)
        self.epsilon = _check_number("epsilon", epsilon, low=0)

    def build(self, variables):
        super().build(variables)
        self._m = self._add_slots(variables)
        self._u = self._add_slots(variables)

    def update_step(self, gradient, variable, learning_rate):
        i = self._get_variable_index(variable)
        adamax_update(variable, gradient, self._m[i], self._u[i], learning_rate, self.iterations,
                      self.beta_1, self.beta_2, self.epsilon)

    def get_config(self):
        config = super().get_config()
        config.update({"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon})
        return config
