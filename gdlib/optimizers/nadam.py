r"""Nadam: Adam with Nesterov momentum, in Keras's form (Dozat, 2016)."""

import numpy as np

from .base import Optimizer, _Default, _check_number

# Keras's defaults, written once for nadam_update and Nadam.
BETA_1, BETA_2, EPSILON = 0.9, 0.999, 1e-7


def nadam_momentum(beta_1, step):
    r"""Keras's momentum schedule :math:`\mu_t = \beta_1 (1 - \tfrac12 \cdot 0.96^{\,t})`, in float32."""
    return np.float32(beta_1) * (1 - 0.5 * np.float32(0.96) ** np.float32(step))


def nadam_update(variable, gradient, m, v, learning_rate, iteration, u_product, beta_1=BETA_1,
                 beta_2=BETA_2, epsilon=EPSILON):
    r"""One Nadam step on ``variable``, in place (Keras 3's rule).

    Parameters
    ----------
    variable : ndarray
        The parameter :math:`w`, updated in place.
    gradient : ndarray
        :math:`g`, same shape; not modified.
    m, v : ndarray
        First and second moments, updated in place.
    learning_rate : float
        :math:`\eta`.
    iteration : int
        Updates already made; this is step :math:`t` = ``iteration + 1``.
    u_product : float
        :math:`\Pi_t = \prod_{i=1}^{t} \mu_i`, the product of the momentum
        schedule up to *and including* this step. It is one number shared by
        all variables: the :class:`Nadam` class multiplies it by
        :math:`\mu_t` once per ``apply_gradients``, before any variable is
        updated.
    beta_1, beta_2 : float
        :math:`\beta_1, \beta_2`.
    epsilon : float
        :math:`\hat\epsilon`.

    Returns
    -------
    ndarray
        ``variable``, after the step.

    Notes
    -----
    With the momentum schedule :math:`\mu_t = \beta_1(1 - \tfrac12 \cdot 0.96^{\,t})`
    (:func:`nadam_momentum`):

    .. math::

        m &\leftarrow m + (1 - \beta_1)(g - m) \\
        v &\leftarrow v + (1 - \beta_2)(g^2 - v) \\
        \hat m &= \frac{\mu_{t+1}\, m}{1 - \Pi_t\, \mu_{t+1}}
                 + \frac{(1 - \mu_t)\, g}{1 - \Pi_t} \\
        \hat v &= \frac{v}{1 - \beta_2^{\,t}} \\
        w &\leftarrow w - \frac{\eta\, \hat m}{\sqrt{\hat v} + \hat\epsilon}

    This is Dozat's Nadam with the 0.96 "momentum decay" schedule of his
    report (taken from Sutskever et al.); the moving average of :math:`m`
    itself still uses the constant :math:`\beta_1`, as in Keras. The
    :math:`\hat\epsilon` is added after the square root, as in Adam.
    """
    w, g = variable, gradient
    t = np.float32(iteration + 1)
    beta_1, beta_2 = np.float32(beta_1), np.float32(beta_2)
    mu_t, mu_next = nadam_momentum(beta_1, t), nadam_momentum(beta_1, t + 1)
    pi_t = np.float32(u_product)
    m += (1 - beta_1) * (g - m)
    v += (1 - beta_2) * (np.square(g) - v)
    m_hat = mu_next * m / (1 - pi_t * mu_next) + (1 - mu_t) * g / (1 - pi_t)
    v_hat = v / (1 - beta_2 ** t)
    w -= np.float32(learning_rate) * m_hat / (np.sqrt(v_hat) + np.float32(epsilon))
    return w


class Nadam(Optimizer):
    r"""Nadam, as ``keras.optimizers.Nadam``.

    Parameters
    ----------
    learning_rate : float, LearningRateSchedule or callable
        Defaults to 0.001.
    beta_1 : float
        In [0, 1). Defaults to 0.9.
    beta_2 : float
        In [0, 1). Defaults to 0.999.
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
    The rule is :func:`nadam_update`. State per parameter: 2 numbers (plus
    one scalar, ``u_product``, for the whole optimizer).
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
        self._momentums = self._add_slots(variables)
        self._velocities = self._add_slots(variables)
        self.u_product = np.float32(1.0)

    def _update_step_all(self, grads, variables, learning_rate):
        # Once per step, before the variables: Pi_t = Pi_{t-1} mu_t (Keras's order).
        self.u_product = self.u_product * nadam_momentum(self.beta_1, self.iterations + 1)
        super()._update_step_all(grads, variables, learning_rate)

    def update_step(self, gradient, variable, learning_rate):
        i = self._get_variable_index(variable)
        nadam_update(variable, gradient, self._momentums[i], self._velocities[i], learning_rate,
                     self.iterations, self.u_product, self.beta_1, self.beta_2, self.epsilon)

    def get_config(self):
        config = super().get_config()
        config.update({"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon})
        return config
