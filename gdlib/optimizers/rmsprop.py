r"""RMSprop: divide the gradient by a running root-mean-square of recent gradients."""

import numpy as np

from .base import Optimizer, _Default, _check_bool, _check_number

# Keras's defaults, written once for rmsprop_update and RMSprop.
RHO, MOMENTUM, EPSILON = 0.9, 0.0, 1e-7


def rmsprop_update(variable, gradient, v, learning_rate, rho=RHO, momentum=MOMENTUM, epsilon=EPSILON,
                   m=None, g_avg=None):
    r"""One RMSprop step on ``variable``, in place (Keras 3's rule).

    Parameters
    ----------
    variable : ndarray
        The parameter :math:`w`, updated in place.
    gradient : ndarray
        :math:`g`, same shape; not modified.
    v : ndarray
        :math:`v`, the moving average of :math:`g^2` (Keras's "velocity"),
        updated in place.
    learning_rate : float
        :math:`\eta`.
    rho : float
        :math:`\rho`, the decay of the moving averages.
    momentum : float
        :math:`\mu`; 0 for none.
    epsilon : float
        :math:`\epsilon`.
    m : ndarray or None
        :math:`m`, the momentum buffer; needed when ``momentum > 0``.
    g_avg : ndarray or None
        :math:`\bar g`, the moving average of :math:`g`; given only for the
        centered variant.

    Returns
    -------
    ndarray
        ``variable``, after the step.

    Notes
    -----
    .. math::

        v &\leftarrow \rho v + (1 - \rho) g^2 \\
        \Delta &= \frac{\eta\, g}{\sqrt{v + \epsilon}} \\
        \bar g &\leftarrow \rho \bar g + (1 - \rho) g,\quad
            \Delta = \frac{\eta\, g}{\sqrt{v - \bar g^2 + \epsilon}}
            \quad \text{(instead, if centered)} \\
        w &\leftarrow w - \Delta \\
        m &\leftarrow \mu m + \Delta,\quad w \leftarrow w - m
            \quad \text{(instead, if } \mu > 0\text{)}

    Keras puts :math:`\epsilon` *inside* the square root (Hinton's lecture
    notes leave the constant out; PyTorch adds it outside), and its momentum
    accumulates steps, with the learning rate already applied.
    """
    w, g = variable, gradient
    eta, epsilon = np.float32(learning_rate), np.float32(epsilon)
    v *= rho  # v <- rho v + (1 - rho) g^2
    v += (1 - rho) * np.square(g)
    if g_avg is None:
        delta = eta * g / np.sqrt(v + epsilon)
    else:
        g_avg *= rho  # g_avg <- rho g_avg + (1 - rho) g
        g_avg += (1 - rho) * g
        delta = eta * g / np.sqrt(v - np.square(g_avg) + epsilon)
    if momentum > 0:
        m *= momentum  # m <- mu m + Delta
        m += delta
        w -= m
    else:
        w -= delta
    return w


class RMSprop(Optimizer):
    r"""RMSprop, as ``keras.optimizers.RMSprop``.

    Parameters
    ----------
    learning_rate : float, LearningRateSchedule or callable
        Defaults to 0.001.
    rho : float
        Discounting factor for the old gradients, in [0, 1). Defaults to 0.9.
    momentum : float
        In [0, 1]. Defaults to 0.0.
    epsilon : float
        Defaults to 1e-7.
    centered : bool
        Normalise by the estimated variance of the gradient instead of its
        uncentered second moment. Defaults to False.
    weight_decay, clipnorm, clipvalue, global_clipnorm, name
        See :class:`~gdlib.optimizers.base.Optimizer`.
    lr, decay
        Keras 2's legacy keywords, accepted with a ``DeprecationWarning``
        (Keras 3 rejects ``lr`` and ignores ``decay``); see
        :class:`~gdlib.optimizers.base.Optimizer`.

    Notes
    -----
    The rule is :func:`rmsprop_update`. State per parameter: 1 number, plus 1
    with momentum, plus 1 if centered.
    """

    def __init__(
        self,
        learning_rate=_Default(0.001),
        rho=RHO,
        momentum=MOMENTUM,
        epsilon=EPSILON,
        centered=False,
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
        self.momentum = _check_number("momentum", momentum, low=0, high=1)
        self.epsilon = _check_number("epsilon", epsilon, low=0)
        self.centered = _check_bool("centered", centered)

    @property
    def state_values_per_parameter(self):
        return 1 + (self.momentum > 0) + self.centered

    def build(self, variables):
        super().build(variables)
        self._velocities = self._add_slots(variables)
        self._momentums = self._add_slots(variables) if self.momentum > 0 else []
        self._average_gradients = self._add_slots(variables) if self.centered else []

    def update_step(self, gradient, variable, learning_rate):
        i = self._get_variable_index(variable)
        rmsprop_update(
            variable,
            gradient,
            self._velocities[i],
            learning_rate,
            self.rho,
            self.momentum,
            self.epsilon,
            m=self._momentums[i] if self.momentum > 0 else None,
            g_avg=self._average_gradients[i] if self.centered else None,
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "rho": self.rho,
                "momentum": self.momentum,
                "epsilon": self.epsilon,
                "centered": self.centered,
            }
        )
        return config
